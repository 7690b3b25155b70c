#!/usr/bin/env python3
"""PyTorch baseline for the focal-loss crate: fused forward+backward throughput on one CPU thread
(or, with --all-cores, on every core).

Measures, single-threaded, the time of one training-style step

    x.grad = None; loss = focal(x, target); loss.backward()

for logits `x` (f32, requires_grad) and reports the median in G elements/s, where the element
count is N for the sigmoid loss and rows*C for the softmax loss, the same unit as the crate's
criterion benchmarks (benches/focal.rs).

Cases
  sigmoid: torchvision.ops.sigmoid_focal_loss (alpha 0.25, gamma 2, reduction "mean"),
           N in {65536, 1048576, 16777216}, logits ~ N(0, 2^2) (std 2), targets
           Bernoulli(0.1) as f32.
  detection: the same loss at N = 65536 with targets Bernoulli(0.01): dense detection's hard
           targets, beside the crate's `sigmoid_fused_detection` (hard1pct).
  softmax: mmcv's softmax focal loss (log_softmax over classes, p_k = exp(logp_k),
           loss = -0.25 * (1 - p_k)^2 * logp_k, mean over rows), shapes (rows, C) in
           {(16384, 80), (65536, 4), (16384, 10), (1024, 1000), (32, 32000)}, logits ~ N(0, 2^2), labels
           (r * 7919) % C as in benches/focal.rs.
  plain:   not a focal loss: log_softmax, gather of the label's column, mean (cross-entropy),
           at the softmax shapes: the floor a framework's own softmax loss sets.
Each case runs eager and under torch.compile (inductor, C++ backend, dynamic=False), the
compiled function being warmed up (compile + several iterations) before timing.

Usage
  python benches/torch_baseline.py            # >= 20 samples and >= 2 s per case
  python benches/torch_baseline.py --quick    # >= 5 samples and >= 0.3 s per case
  python benches/torch_baseline.py --eager-only
  python benches/torch_baseline.py --all-cores  # torch.set_num_threads(os.cpu_count())

If torchvision is missing, a transcription of torchvision's sigmoid_focal_loss is used (and
said so in the output). If torch.compile fails, the error is printed and the compiled column
says why; the eager figures are still reported.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback

# One thread everywhere (intra-op pool, OpenMP in inductor's generated C++, MKL/OpenBLAS), or
# with --all-cores every logical CPU, to compare with the crate's `parallel` feature. Read from
# argv before torch is imported: the thread pools are sized when it loads.
THREADS = os.cpu_count() if "--all-cores" in sys.argv[1:] else 1
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = str(THREADS)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(THREADS)
try:  # only allowed before any inter-op parallel work has started
    torch.set_num_interop_threads(THREADS)
except RuntimeError:
    pass

ALPHA = 0.25
GAMMA = 2.0

try:
    import torchvision
    from torchvision.ops import sigmoid_focal_loss as _tv_sigmoid_focal_loss

    SIGMOID_SOURCE = f"torchvision {torchvision.__version__} torchvision.ops.sigmoid_focal_loss"
except Exception as e:  # pragma: no cover - depends on the environment
    _tv_sigmoid_focal_loss = None
    SIGMOID_SOURCE = f"transcription of torchvision.ops.sigmoid_focal_loss (torchvision: {e!r})"


def sigmoid_focal_transcribed(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """torchvision.ops.sigmoid_focal_loss, alpha 0.25, gamma 2, reduction 'mean'."""
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * ((1 - p_t) ** GAMMA)
    alpha_t = ALPHA * t + (1 - ALPHA) * (1 - t)
    loss = alpha_t * loss
    return loss.mean()


def sigmoid_focal(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    if _tv_sigmoid_focal_loss is None:
        return sigmoid_focal_transcribed(x, t)
    return _tv_sigmoid_focal_loss(x, t, alpha=ALPHA, gamma=GAMMA, reduction="mean")


def softmax_plain(z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Plain log_softmax + gather + mean: cross-entropy, not a focal loss."""
    logp = F.log_softmax(z, dim=1)
    return -logp.gather(1, labels.unsqueeze(1)).mean()


def softmax_focal_mmcv(z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """mmcv softmax focal loss: alpha 0.25 for every class, gamma 2, mean over rows."""
    logp = F.log_softmax(z, dim=1)
    logp_k = logp.gather(1, labels.unsqueeze(1)).squeeze(1)
    p_k = logp_k.exp()
    loss = -ALPHA * (1 - p_k) ** GAMMA * logp_k
    return loss.mean()


# ---------------------------------------------------------------------------------------------
# inputs

def sigmoid_inputs(n: int, gen: torch.Generator, positives: float = 0.1):
    x = (torch.randn(n, generator=gen, dtype=torch.float32) * 2.0).requires_grad_(True)
    t = (torch.rand(n, generator=gen) < positives).to(torch.float32)
    return x, t


def softmax_inputs(rows: int, c: int, gen: torch.Generator):
    z = (torch.randn(rows, c, generator=gen, dtype=torch.float32) * 2.0).requires_grad_(True)
    labels = (torch.arange(rows, dtype=torch.int64) * 7919) % c
    return z, labels


# ---------------------------------------------------------------------------------------------
# timing

def step(fn, x, target):
    x.grad = None
    loss = fn(x, target)
    loss.backward()
    return loss


def measure(fn, x, target, min_runs: int, min_time: float, sample_target: float):
    """timeit-style: each sample runs `inner` steps back to back, with `inner` chosen so a
    sample lasts about `sample_target` seconds; samples continue until both `min_runs` samples
    and `min_time` seconds. Returns per-step seconds for each sample."""
    # calibrate
    inner = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(inner):
            step(fn, x, target)
        dt = time.perf_counter() - t0
        if dt >= sample_target or inner >= 1 << 16:
            break
        inner = max(inner * 2, int(inner * sample_target / max(dt, 1e-9)))
    samples = []
    gc_was = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        while len(samples) < min_runs or time.perf_counter() - start < min_time:
            t0 = time.perf_counter()
            for _ in range(inner):
                step(fn, x, target)
            samples.append((time.perf_counter() - t0) / inner)
    finally:
        if gc_was:
            gc.enable()
    return samples, inner


def summarize(samples, elements):
    med = statistics.median(samples)
    q = statistics.quantiles(samples, n=4) if len(samples) >= 2 else [med, med, med]
    return {
        "median_s": med,
        "gelem_s": elements / med / 1e9,
        "iqr_pct": 100.0 * (q[2] - q[0]) / med,
        "runs": len(samples),
    }


def check_same(eager_fn, comp_fn, x, target):
    """Loss and gradient of the compiled function against eager, as a sanity check."""
    le = step(eager_fn, x, target).detach().clone()
    ge = x.grad.detach().clone()
    lc = step(comp_fn, x, target).detach().clone()
    gc_ = x.grad.detach().clone()
    x.grad = None
    return float((le - lc).abs()), float((ge - gc_).abs().max() / ge.abs().max().clamp_min(1e-30))


# ---------------------------------------------------------------------------------------------
# environment

def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cxx_version() -> str:
    try:
        from torch._inductor import config as ind_config

        cxx = ind_config.cpp.cxx[-1] if isinstance(ind_config.cpp.cxx, tuple) else ind_config.cpp.cxx
    except Exception:
        cxx = "g++"
    cxx = cxx or "g++"
    try:
        out = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.splitlines()[0]
    except Exception as e:
        return f"{cxx}: {e!r}"


def loadavg() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


# ---------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (>= 5 samples, >= 0.3 s)")
    ap.add_argument("--eager-only", action="store_true", help="skip torch.compile")
    ap.add_argument("--all-cores", action="store_true",
                    help="torch.set_num_threads(os.cpu_count()) instead of one thread")
    args = ap.parse_args()

    if args.quick:
        min_runs, min_time, sample_target, warm_iters = 5, 0.3, 0.005, 3
    else:
        min_runs, min_time, sample_target, warm_iters = 20, 2.0, 0.01, 10

    cases = [
        ("sigmoid", "N=65536", 65536, None),
        ("sigmoid", "N=1048576", 1048576, None),
        ("sigmoid", "N=16777216", 16777216, None),
        # Dense detection: hard targets, 1 % positives (the crate's `sigmoid_fused_detection`).
        ("detection", "N=65536", 65536, None),
        ("softmax", "16384x80", 16384, 80),
        ("softmax", "65536x4", 65536, 4),
        ("softmax", "16384x10", 16384, 10),
        ("softmax", "1024x1000", 1024, 1000),
        ("softmax", "32x32000", 32, 32000),
        ("plain", "16384x80", 16384, 80),
        ("plain", "65536x4", 65536, 4),
        ("plain", "16384x10", 16384, 10),
        ("plain", "1024x1000", 1024, 1000),
        ("plain", "32x32000", 32, 32000),
    ]

    print(f"torch {torch.__version__} (threads {torch.get_num_threads()}, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()})", flush=True)
    print(f"python {platform.python_version()}, C++ compiler: {cxx_version()}")
    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs)")
    alloc_env = {k: os.environ[k] for k in ("GLIBC_TUNABLES", "LD_PRELOAD") if os.environ.get(k)}
    print(f"allocator environment: {alloc_env or 'default (glibc malloc, stock settings)'}")
    print(f"sigmoid: {SIGMOID_SOURCE}")
    print(f"softmax: mmcv definition (log_softmax, gather, -0.25*(1-p)^2*logp, mean)")
    print(f"plain: log_softmax, gather, mean (cross-entropy, not a focal loss)")
    print(f"mode: {'quick' if args.quick else 'full'}: >= {min_runs} samples and >= {min_time} s "
          f"per case, ~{sample_target * 1e3:.0f} ms per sample; load average at start {loadavg()}")
    print(flush=True)

    compile_error = "not run (--eager-only)" if args.eager_only else None
    rows_out = []
    gen = torch.Generator().manual_seed(0)
    for kind, label, a, b in cases:
        if kind in ("sigmoid", "detection"):
            x, target = sigmoid_inputs(a, gen, 0.1 if kind == "sigmoid" else 0.01)
            fn, elements = sigmoid_focal, a
        else:
            x, target = softmax_inputs(a, b, gen)
            fn = softmax_focal_mmcv if kind == "softmax" else softmax_plain
            elements = a * b

        for _ in range(warm_iters):
            step(fn, x, target)
        samples, inner = measure(fn, x, target, min_runs, min_time, sample_target)
        eager = summarize(samples, elements)
        print(f"[{kind} {label}] eager: {eager['median_s'] * 1e3:.3f} ms "
              f"({eager['gelem_s']:.4f} Gelem/s, {eager['runs']} x {inner})", flush=True)

        comp = None
        note = ""
        if compile_error is None:
            try:
                torch._dynamo.reset()
                cfn = torch.compile(fn, dynamic=False)
                t0 = time.perf_counter()
                step(cfn, x, target)
                compile_s = time.perf_counter() - t0
                for _ in range(warm_iters):
                    step(cfn, x, target)
                dloss, dgrad = check_same(fn, cfn, x, target)
                samples, inner = measure(cfn, x, target, min_runs, min_time, sample_target)
                comp = summarize(samples, elements)
                note = f"compile {compile_s:.1f} s; |Δloss| {dloss:.1e}, max|Δgrad|/max|grad| {dgrad:.1e}"
                print(f"[{kind} {label}] compiled: {comp['median_s'] * 1e3:.3f} ms "
                      f"({comp['gelem_s']:.4f} Gelem/s, {comp['runs']} x {inner}); {note}", flush=True)
            except Exception as e:
                compile_error = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                print(f"[{kind} {label}] torch.compile FAILED, reporting eager only from here:",
                      file=sys.stderr)
                traceback.print_exc()
        rows_out.append((kind, label, elements, eager, comp, note))
        del x, target
        gc.collect()

    print()
    threads = f"{THREADS} thread{'s' if THREADS > 1 else ''}"
    print(f"Median fused forward+backward throughput, {threads}, torch {torch.__version__}, "
          f"{cpu_model()}; load average at end {loadavg()}")
    print()
    print("| loss | shape | elements | eager ms | eager Gelem/s | compiled ms | compiled Gelem/s "
          "| compiled / eager | IQR eager / compiled | samples eager / compiled |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for kind, label, elements, eager, comp, _ in rows_out:
        if comp is None:
            c_ms = c_g = ratio = "n/a"
            iqr = f"{eager['iqr_pct']:.1f}% / n/a"
            runs = f"{eager['runs']} / n/a"
        else:
            c_ms = f"{comp['median_s'] * 1e3:.3f}"
            c_g = f"{comp['gelem_s']:.4f}"
            ratio = f"{eager['median_s'] / comp['median_s']:.2f}x"
            iqr = f"{eager['iqr_pct']:.1f}% / {comp['iqr_pct']:.1f}%"
            runs = f"{eager['runs']} / {comp['runs']}"
        print(f"| {kind} | {label} | {elements} | {eager['median_s'] * 1e3:.3f} | "
              f"{eager['gelem_s']:.4f} | {c_ms} | {c_g} | {ratio} | {iqr} | {runs} |")
    if compile_error is not None:
        print()
        print(f"torch.compile: {compile_error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
