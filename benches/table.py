#!/usr/bin/env python3
"""Prints the README's benchmark table from criterion's results of the last `cargo bench`.

Reads target/criterion/<group>/<backend>/<size>/new/{estimates,benchmark}.json and prints,
per group and size, the median throughput of every backend (G elements/s), its ratio to the
scalar backend and to the streaming floor (the share of memory speed it reaches).

    cargo bench --bench focal && python3 benches/table.py
"""
import json
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
order = ["scalar", "naive", "portable", "avx2", "avx512", "floor"]
rows = {}
for est in root.glob("*/*/*/new/estimates.json"):
    bench = json.loads((est.parent / "benchmark.json").read_text())
    group, backend, size = bench["group_id"], bench["function_id"], bench["value_str"]
    elems = bench["throughput"]["Elements"]
    median_ns = json.loads(est.read_text())["median"]["point_estimate"]
    rows.setdefault((group, size), {})[backend] = elems / median_ns  # G elements/s


def size_key(s):
    a = s.split("x")
    return tuple(int(v) for v in a)


print("| kernel | size | " + " | ".join(order) + " | best / scalar | best / floor |")
print("|---|---|" + "---:|" * (len(order) + 2))
for (group, size) in sorted(rows, key=lambda k: (k[0], size_key(k[1]))):
    r = rows[(group, size)]
    cells = [f"{r[b]:.3f}" if b in r else "" for b in order]
    simd = [r[b] for b in ("avx512", "avx2", "portable") if b in r]
    best = max(simd) if simd else r.get("scalar", 0)
    vs_scalar = f"{best / r['scalar']:.1f}x" if "scalar" in r else ""
    vs_floor = f"{best / r['floor']:.2f}" if "floor" in r else ""
    print(f"| {group} | {size} | " + " | ".join(cells) + f" | {vs_scalar} | {vs_floor} |")
