#!/usr/bin/env python3
"""JAX baseline for the focal-loss crate: softmax losses, forward+backward, on one CPU thread.

Measures `jax.jit(jax.value_and_grad(loss))(z, labels)` (blocking on the result) for

  plain:   log_softmax over classes, gather of the label's column, mean (cross-entropy, not a
           focal loss): the floor a framework's own softmax loss sets;
  softmax: mmcv's softmax focal loss (alpha 0.25, gamma 2, mean over rows),

at the shapes (rows, C) of benches/focal.rs, {(65536, 4), (16384, 10), (16384, 80),
(1024, 1000), (32, 32000)}, logits ~ N(0, 2^2), labels (r * 7919) % C, and reports the median in
G elements/s (elements = rows * C, the crate's unit).

One thread: XLA's CPU thread pools are limited by XLA_FLAGS (set below, before jax is
imported) and the process should also be pinned (`taskset -c 1 python benches/jax_baseline.py`).

Usage
  python benches/jax_baseline.py           # >= 20 samples and >= 2 s per case
  python benches/jax_baseline.py --quick   # >= 5 samples and >= 0.3 s per case
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault(
    "XLA_FLAGS",
    "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1 "
    "inter_op_parallelism_threads=1",
)
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

ALPHA, GAMMA = 0.25, 2.0


def plain(z, labels):
    logp = jax.nn.log_softmax(z, axis=1)
    return -jnp.take_along_axis(logp, labels[:, None], axis=1).mean()


def focal(z, labels):
    logp = jax.nn.log_softmax(z, axis=1)
    logp_k = jnp.take_along_axis(logp, labels[:, None], axis=1)[:, 0]
    p_k = jnp.exp(logp_k)
    return (-ALPHA * (1 - p_k) ** GAMMA * logp_k).mean()


def measure(f, z, labels, min_runs, min_time, sample_target):
    jax.block_until_ready(f(z, labels))
    t0 = time.perf_counter()
    jax.block_until_ready(f(z, labels))
    once = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, int(sample_target / once))
    samples, start = [], time.perf_counter()
    while len(samples) < min_runs or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        for _ in range(inner):
            out = f(z, labels)
        jax.block_until_ready(out)
        samples.append((time.perf_counter() - t0) / inner)
    return samples, inner


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    min_runs, min_time, sample_target = (5, 0.3, 0.005) if args.quick else (20, 2.0, 0.01)
    print(f"jax {jax.__version__}, devices {jax.devices()}, XLA_FLAGS={os.environ['XLA_FLAGS']!r}, "
          f"affinity {sorted(os.sched_getaffinity(0))}")
    key = jax.random.PRNGKey(0)
    rows_out = []
    for rows, c in [(65536, 4), (16384, 10), (16384, 80), (1024, 1000), (32, 32000)]:
        key, sub = jax.random.split(key)
        z = jax.random.normal(sub, (rows, c), dtype=jnp.float32) * 2.0
        labels = (jnp.arange(rows, dtype=jnp.int32) * 7919) % c
        for name, loss in [("plain", plain), ("softmax", focal)]:
            f = jax.jit(jax.value_and_grad(loss))
            samples, inner = measure(f, z, labels, min_runs, min_time, sample_target)
            med = statistics.median(samples)
            g = rows * c / med / 1e9
            rows_out.append((name, f"{rows}x{c}", med, g, len(samples), inner))
            print(f"[{name} {rows}x{c}] {med * 1e3:.3f} ms ({g:.4f} Gelem/s, {len(samples)} x {inner})",
                  flush=True)
    print()
    print("| loss | shape | ms | Gelem/s | samples |")
    print("|---|---|---:|---:|---:|")
    for name, shape, med, g, n, inner in rows_out:
        print(f"| {name} | {shape} | {med * 1e3:.3f} | {g:.4f} | {n} x {inner} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
