#!/usr/bin/env python3
"""The crate against its peers in one process, in alternating rounds: robust ratios.

`benches/torch_baseline.py`, `benches/jax_baseline.py` and `cargo bench` run one after the
other, minutes apart, and on a shared VM each of them can move by 1.3-1.5x between such runs,
so a ratio of two of their figures can be off by as much. Here every contender runs in the
same process on the same data, one after the other within each round, for several rounds
(the order rotated from round to round); each round gives each contender's per-step time
(the best of two samples of about `--sample-ms`), and a ratio is computed per round. The
report gives each ratio's median with its quartiles over the rounds: drift that moves every
contender together cancels.

Contenders
  crate      the crate's C library (`src/capi.rs`), built by this script as a shared library
             (`cargo rustc --release --lib --features capi,parallel --crate-type cdylib`) and
             called through ctypes with the best backend (FOCAL_BACKEND_AUTO); one thread
             unless --all-cores (rayon's pool, `RAYON_NUM_THREADS`). Its time includes the
             ctypes call, measured and printed (about a microsecond).
  torch      eager PyTorch, and `torch.compile` of the same function (inductor, C++ backend).
  jax        `jax.jit(jax.value_and_grad(...))` (softmax cases only; skipped if JAX is absent).
  floor      the streaming floor of the benches (`benches/common/floor.rs`, built by this
             script with rustc as `benches/common/floor_lib.rs`) on as many threads as the
             crate: the sigmoid's `x - t` into a gradient buffer, the softmax's logits copied
             into one (and the labelled logits summed). The traffic of a fused call with no
             arithmetic; the last table gives floor / peer, the most a call moving that
             memory reaches against the peer once out of cache.

Cases (issue 16's goals; the losses are those of benches/torch_baseline.py)
  sigmoid   torchvision.ops.sigmoid_focal_loss (alpha 0.25, gamma 2, mean), forward+backward,
            against the crate's `SigmoidFocal::torchvision()` `loss_and_grad` (Mean): N = 64 Ki
            with 1 % and 10 % positives (hard targets), and with --all-cores also 1 Mi.
  softmax   mmcv's softmax focal loss (alpha 0.25, gamma 2, mean over rows) in torch, and the
            plain cross-entropy (log_softmax, gather, mean) in torch and JAX, against the
            crate's `SoftmaxFocal::mmcv()` `loss_and_grad` (Mean, i64 labels), at the shapes
            of benches/focal.rs.
Inputs as in the other scripts: logits ~ N(0, 2^2), targets Bernoulli(p) as f32, labels
(r * 7919) % C; one set of arrays per case, shared by every contender (numpy, torch.from_numpy;
JAX gets a device copy). The crate's loss is checked against torch's focal loss.

Goals printed at the end (ratios of G elements/s, medians over the rounds):
  one thread  sigmoid 64 Ki, 1 % positives: crate / torch.compile >= 10;
              softmax, every shape: crate / the fastest plain cross-entropy >= 3;
  all cores   crate / the faster of torch eager and torch.compile, the same loss, >= 10.

Usage (pin to cores yourself; the one-thread run to one core):
  taskset -c 1 python benches/side_by_side.py              # 11 rounds, ~10 ms samples
  taskset -c 1 python benches/side_by_side.py --quick      # 5 rounds
  python benches/side_by_side.py --all-cores               # every core, each contender
  python benches/side_by_side.py --lib path/to/libfocal_loss.so   # skip the build
Needs numpy and torch (torchvision optional: else its transcription); JAX optional.
"""

from __future__ import annotations

import argparse
import ctypes as C
import gc
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ALL_CORES = "--all-cores" in sys.argv[1:]
THREADS = os.cpu_count() if ALL_CORES else 1
# Thread pools are sized when the libraries load: set before importing them.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS"):
    os.environ[_var] = str(THREADS)
if not ALL_CORES:
    os.environ.setdefault(
        "XLA_FLAGS",
        "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1 "
        "inter_op_parallelism_threads=1",
    )
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(THREADS)
try:
    torch.set_num_interop_threads(THREADS)
except RuntimeError:
    pass
try:
    import jax  # noqa: E402
    import jax.numpy as jnp  # noqa: E402
except Exception as e:  # pragma: no cover - depends on the environment
    jax = None
    JAX_MISSING = repr(e)

ROOT = Path(__file__).resolve().parent.parent
ALPHA, GAMMA = 0.25, 2.0

try:
    from torchvision.ops import sigmoid_focal_loss as _tv

    def sigmoid_focal(x, t):
        return _tv(x, t, alpha=ALPHA, gamma=GAMMA, reduction="mean")

    SIGMOID_SOURCE = "torchvision.ops.sigmoid_focal_loss"
except Exception:  # pragma: no cover

    def sigmoid_focal(x, t):
        p = torch.sigmoid(x)
        ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
        p_t = p * t + (1 - p) * (1 - t)
        loss = ce * ((1 - p_t) ** GAMMA)
        return ((ALPHA * t + (1 - ALPHA) * (1 - t)) * loss).mean()

    SIGMOID_SOURCE = "a transcription of torchvision.ops.sigmoid_focal_loss"


def softmax_focal(z, labels):
    logp = F.log_softmax(z, dim=1)
    logp_k = logp.gather(1, labels.unsqueeze(1)).squeeze(1)
    return (-ALPHA * (1 - logp_k.exp()) ** GAMMA * logp_k).mean()


def softmax_plain(z, labels):
    return -F.log_softmax(z, dim=1).gather(1, labels.unsqueeze(1)).mean()


def jax_plain(z, labels):
    logp = jax.nn.log_softmax(z, axis=1)
    return -jnp.take_along_axis(logp, labels[:, None], axis=1).mean()


# ---- the crate's C library --------------------------------------------------------------

sys.path.insert(0, str(ROOT / "capi"))
from focal_loss_capi import AUTO, BACKENDS, MEAN, PF, Error, SigmoidParams, SoftmaxParams  # noqa: E402
from focal_loss_capi import fp, i64p, load as load_library  # noqa: E402


def build_library() -> Path:
    """The crate as a shared library with its C API and `parallel`, optimised as the benches
    are (the release profile); its own target directory."""
    target = ROOT / "target" / "side-by-side"
    cmd = ["cargo", "rustc", "--release", "--lib", "--features", "capi,parallel",
           "--crate-type", "cdylib", "--target-dir", str(target)]
    print("building:", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)
    return target / "release" / "libfocal_loss.so"


def crate_call(lib, f, args, out, err):
    """A closure running k calls of `f(*args)`, returning the last one's loss (`out[0]`)."""

    def run(k):
        for _ in range(k):
            if f(*args) != 0:
                raise RuntimeError(lib.focal_status_name(err.status).decode())
        return float(out[0])

    return run


def crate_sigmoid(lib, x: np.ndarray, t: np.ndarray):
    p = SigmoidParams(ALPHA, 1, GAMMA, 0, AUTO)  # torchvision: MODULATED_BCE
    g, out, err = np.empty_like(x), (C.c_float * 1)(), Error()
    n = x.size
    args = (C.byref(p), fp(x), n, fp(t), n, 0, MEAN, 1.0, fp(g), n, C.cast(out, PF),
            C.byref(err))
    return crate_call(lib, lib.focal_sigmoid_loss_and_grad, args, out, err)


def crate_softmax(lib, z: np.ndarray, labels: np.ndarray):
    p = SoftmaxParams(1, ALPHA, None, 0, GAMMA, 0, -100, AUTO)  # mmcv: ALPHA_SCALAR
    g, out, err = np.empty_like(z), (C.c_float * 1)(), Error()
    args = (C.byref(p), fp(z), z.size, z.shape[1], i64p(labels), labels.size, MEAN, 1.0,
            fp(g), g.size, C.cast(out, PF), C.byref(err))
    return crate_call(lib, lib.focal_softmax_loss_and_grad_i64, args, out, err)


def call_overhead(lib) -> float:
    """Seconds of one ctypes call of the library that does no work (an empty input)."""
    p, out, err = SigmoidParams(ALPHA, 1, GAMMA, 0, AUTO), (C.c_float * 1)(), Error()
    f = lib.focal_sigmoid_loss_and_grad
    args = (C.byref(p), None, 0, None, 0, 0, MEAN, 1.0, None, 0, C.cast(out, PF), C.byref(err))
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(10000):
            f(*args)
        best = min(best, (time.perf_counter() - t0) / 10000)
    return best


# ---- the peers ------------------------------------------------------------------------

def torch_step(fn, x, target):
    def run(k):
        for _ in range(k):
            x.grad = None
            loss = fn(x, target)
            loss.backward()
        return float(loss.detach())

    return run


def compiled(fn, x, target):
    """torch.compile of `fn`, compiled and warmed up; None (and a message) if it fails."""
    try:
        torch._dynamo.reset()
        cfn = torch.compile(fn, dynamic=False)
        run = torch_step(cfn, x, target)
        run(5)
        return run
    except Exception as e:  # pragma: no cover - depends on the environment
        print(f"torch.compile failed: {type(e).__name__}: {str(e).splitlines()[0]}",
              file=sys.stderr)
        return None


def torch_peers(losses: dict, x: np.ndarray, target) -> dict:
    """Eager and compiled steps of each loss (`{suffix: function}`) on a copy of `x`."""
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    peers = {}
    for suffix, fn in losses.items():
        peers[f"torch eager{suffix}"] = torch_step(fn, xt, target)
        cf = compiled(fn, xt, target)
        if cf:
            peers[f"torch.compile{suffix}"] = cf
    return peers


def jax_step(z: np.ndarray, labels: np.ndarray):
    f = jax.jit(jax.value_and_grad(jax_plain))
    zj, lj = jnp.asarray(z), jnp.asarray(labels.astype(np.int32))
    jax.block_until_ready(f(zj, lj))

    def run(k):
        for _ in range(k):
            out = f(zj, lj)
        jax.block_until_ready(out)
        return float(out[0])

    return run


def load_floor() -> C.CDLL:
    """`benches/common/floor_lib.rs`, compiled with rustc (a few seconds, no dependencies)."""
    src = ROOT / "benches" / "common" / "floor_lib.rs"
    out = ROOT / "target" / "side-by-side" / "libfloor.so"
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["rustc", "-C", "opt-level=3", "--edition", "2021", "--crate-type", "cdylib",
                    str(src), "-o", str(out)], check=True)
    lib = C.CDLL(str(out))
    for f in (lib.floor_sigmoid, lib.floor_softmax):
        f.restype = C.c_float
    return lib


def floor_step(lib, x: np.ndarray, other: np.ndarray, softmax: bool):
    """The streaming floor (`benches/common/floor.rs`, as the benches run it) on as many
    threads as the crate: the memory traffic of a fused call with no arithmetic. Sigmoid:
    `grad = x - t` and the sum of `t`; softmax: the logits copied to the gradient buffer
    and the labelled logits summed."""
    g = np.empty_like(x)
    n, threads = C.c_size_t(x.size), C.c_size_t(THREADS)
    if softmax:
        f = lib.floor_softmax
        args = (fp(x), i64p(other), fp(g), C.c_size_t(x.shape[0]), C.c_size_t(x.shape[1]),
                threads)
    else:
        f = lib.floor_sigmoid
        args = (fp(x), fp(other), fp(g), n, threads)

    def run(k):
        for _ in range(k):
            s = f(*args)
        return float(s)

    return run


# ---- timing ---------------------------------------------------------------------------

def calibrate(run, target_s: float) -> int:
    k = 1
    while True:
        t0 = time.perf_counter()
        run(k)
        dt = time.perf_counter() - t0
        if dt >= target_s or k >= 1 << 16:
            return k
        k = max(2 * k, int(k * target_s / max(dt, 1e-9)))


def sample(run, k: int) -> float:
    """Best of two samples of k steps: seconds per step."""
    best = float("inf")
    for _ in range(2):
        t0 = time.perf_counter()
        run(k)
        best = min(best, (time.perf_counter() - t0) / k)
    return best


def rounds(contenders: dict, n_rounds: int, target_s: float) -> dict:
    """Per contender, its per-step seconds in each round (contenders rotated per round)."""
    inner = {name: calibrate(run, target_s) for name, run in contenders.items()}
    times = {name: [] for name in contenders}
    names = list(contenders)
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for r in range(n_rounds):
            for name in names[r % len(names):] + names[: r % len(names)]:
                times[name].append(sample(contenders[name], inner[name]))
    finally:
        if gc_was:
            gc.enable()
    return times


def quartiles(v):
    if len(v) < 2:
        return v[0], v[0], v[0]
    q = statistics.quantiles(v, n=4)
    return q[0], statistics.median(v), q[2]


# ---- main -----------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--all-cores", action="store_true", help="every core for every contender")
    ap.add_argument("--quick", action="store_true", help="5 rounds instead of 11")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--sample-ms", type=float, default=10.0)
    ap.add_argument("--lib", type=Path, default=None, help="a built libfocal_loss.so")
    ap.add_argument("--cases", default="", help="only the cases whose name holds this")
    args = ap.parse_args()
    n_rounds = args.rounds or (5 if args.quick else 11)

    lib = load_library(args.lib or build_library())
    floor_lib = load_floor()
    backend = BACKENDS.get(lib.focal_backend_detect(), "?")
    overhead = call_overhead(lib)
    threads = f"{THREADS} thread{'s' if THREADS > 1 else ''}"
    print(f"crate: backend {backend}, {threads}; ctypes call overhead {overhead * 1e6:.2f} µs")
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), sigmoid: {SIGMOID_SOURCE}")
    print(f"jax: {jax.__version__ if jax else 'absent: ' + JAX_MISSING}")
    print(f"CPU affinity {sorted(os.sched_getaffinity(0))}, load average "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}; {n_rounds} rounds, "
          f"~{args.sample_ms:.0f} ms samples, best of 2", flush=True)

    rng = np.random.default_rng(0)
    cases = [("sigmoid 1%", 65536, None, 0.01), ("sigmoid 10%", 65536, None, 0.1)]
    if ALL_CORES:
        cases.append(("sigmoid 10%", 1 << 20, None, 0.1))
    for rows, c in [(65536, 4), (16384, 10), (16384, 80), (1024, 1000), (32, 32000)]:
        if not ALL_CORES or c >= 80:
            cases.append(("softmax", rows, c, None))

    results = []
    for name, a, c, positives in cases:
        label = f"{name} {a}" if c is None else f"{name} {a}x{c}"
        if args.cases and args.cases not in label:
            continue
        if c is None:
            x = (rng.standard_normal(a, dtype=np.float32) * 2.0)
            t = (rng.random(a) < positives).astype(np.float32)
            crate = crate_sigmoid(lib, x, t)
            peers = torch_peers({"": sigmoid_focal}, x, torch.from_numpy(t))
            peers["floor"] = floor_step(floor_lib, x, t, softmax=False)
            elements = a
        else:
            z = (rng.standard_normal((a, c), dtype=np.float32) * 2.0)
            labels = (np.arange(a, dtype=np.int64) * 7919) % c
            crate = crate_softmax(lib, z, labels)
            peers = torch_peers({"": softmax_focal, " plain": softmax_plain}, z,
                                torch.from_numpy(labels))
            if jax is not None and not ALL_CORES:
                peers["jax plain"] = jax_step(z, labels)
            peers["floor"] = floor_step(floor_lib, z, labels, softmax=True)
            elements = a * c
        reference = peers["torch eager"](1)
        got = crate(1)
        rel = abs(got - reference) / max(abs(reference), 1e-30)
        times = rounds({"crate": crate, **peers}, n_rounds, args.sample_ms / 1e3)
        gs = {k: [elements / s / 1e9 for s in v] for k, v in times.items()}
        print(f"\n[{label}] loss: crate {got:.7g}, torch {reference:.7g} (rel. diff {rel:.1e})")
        print("| contender | G elements/s (median, q1-q3) | crate / contender (median, q1-q3) |")
        print("|---|---:|---:|")
        for k, v in gs.items():
            q1, med, q3 = quartiles(v)
            if k == "crate":
                print(f"| crate ({backend}) | {med:.4f} ({q1:.4f}-{q3:.4f}) | |")
                continue
            r1, rm, r3 = quartiles([a_ / b_ for a_, b_ in zip(gs["crate"], v)])
            print(f"| {k} | {med:.4f} ({q1:.4f}-{q3:.4f}) | {rm:.2f}x ({r1:.2f}-{r3:.2f}) |")
        results.append((label, c, gs))
        del peers, crate
        gc.collect()

    bounds = []
    print(f"\nGoals (issue 16), {threads}, ratios of the per-round figures:")
    print("| goal | ratio (median, q1-q3) | met |")
    print("|---|---:|---|")
    for label, c, gs in results:
        if ALL_CORES:
            keys = ["torch eager", "torch.compile"]
            what, need = "crate / the faster of torch eager and torch.compile", 10.0
        elif c is None:
            if "1%" not in label:
                continue
            keys, what, need = ["torch.compile"], "crate / torch.compile", 10.0
        else:
            keys = [k for k in gs if k.endswith("plain")]
            what, need = "crate / the fastest plain cross-entropy", 3.0
        keys = [k for k in keys if k in gs]
        if not keys:
            continue
        best = [max(gs[k][i] for k in keys) for i in range(len(gs["crate"]))]
        r1, rm, r3 = quartiles([a_ / b_ for a_, b_ in zip(gs["crate"], best)])
        met = "yes" if r1 >= need else ("in most rounds" if rm >= need else "no")
        print(f"| {label}: {what} >= {need:g} | {rm:.2f}x ({r1:.2f}-{r3:.2f}) | {met} |")
        bounds.append((label, need, [f / b for f, b in zip(gs["floor"], best)]))

    # A goal above what the floor itself reaches against the same peer needs a call that
    # moves less memory than the floor: out of cache, none does.
    print(f"\nThe streaming floor (`floor`, {threads}) against the same peers:")
    print("| case | floor / peer (median, q1-q3) | the goal's ratio |")
    print("|---|---:|---|")
    for label, need, v in bounds:
        r1, rm, r3 = quartiles(v)
        verdict = "above the floor" if r3 < need else "below the floor"
        print(f"| {label} | {rm:.2f}x ({r1:.2f}-{r3:.2f}) | {need:g}x: {verdict} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
