#!/usr/bin/env python3
"""Benchmark tables and the backends-and-peers chart, from criterion's and PyTorch's output.

Three uses (CPython 3 standard library only):

1. The full table of docs/performance.md, from criterion's results of the last `cargo bench`
   (target/criterion/<group>/<backend>/<size>/new/{estimates,benchmark}.json): per group and
   size, the median throughput of every backend (G elements/s), its ratio to the scalar
   backend and to the streaming floor (the share of memory speed it reaches).

       cargo bench --bench focal && python3 benches/table.py [CRITERION_DIR]

2. The compact comparison (the fused cases: the crate's backends and naive loop against
   PyTorch eager and torch.compile) as a CSV, from the same criterion results and the output
   of benches/torch_baseline.py, run on the same machine:

       /root/.venvs/torch/bin/python benches/torch_baseline.py | tee torch.txt
       cargo bench --bench focal -- '_fused/|_fused_gamma2/'
       python3 benches/table.py --torch torch.txt --measured 'MACHINE, DATE' \\
           --write-csv docs/performance.csv

3. From such a CSV (docs/performance.csv holds the figures the README shows), the README's
   compact table on stdout and, with --svg, the bar chart:

       python3 benches/table.py --csv docs/performance.csv --svg docs/performance.svg

The CSV has one figure per line: kernel, size, series, gelem_per_s (kept as printed, never
re-rounded), measured (the machine, the date and the run the figure comes from).
"""
import argparse
import csv
import json
import pathlib
import sys
from xml.sax.saxutils import escape

ORDER = ["scalar", "naive", "portable", "avx2", "avx512", "floor"]

# Series of the compact comparison, in the order of the table's columns and the chart's bars.
SERIES = {
    "naive": "naive loop",
    "scalar": "scalar",
    "portable": "portable",
    "avx2": "AVX2",
    "avx512": "AVX-512",
    "avx512_after_torch": "AVX-512, after torch",
    "torch_eager": "torch eager",
    "torch_compile": "torch.compile",
}
COLOURS = {
    "naive": "#9e9e9e",
    "scalar": "#c6dbef",
    "portable": "#9ecae1",
    "avx2": "#4292c6",
    "avx512": "#08519c",
    "avx512_after_torch": "#6a51a3",
    "torch_eager": "#fdae6b",
    "torch_compile": "#d94801",
}
COMPACT_CASES = {
    "sigmoid_fused_gamma2": {"65536", "16777216"},
    "sigmoid_fused_hard1pct": {"65536"},
    "softmax_fused": None,
}
TORCH_KERNEL = {
    "sigmoid": "sigmoid_fused_gamma2",
    "detection": "sigmoid_fused_hard1pct",
    "softmax": "softmax_fused",
}
CSV_FIELDS = ["kernel", "size", "series", "gelem_per_s", "measured"]
MARKS = "¹²³⁴⁵⁶⁷⁸⁹"


def size_key(s):
    """Sizes in numeric order ("1024" < "65536", "16384x80" by rows then C); labels that are
    not sizes ("gamma2_eps0.1", "cf/8x19x32768" of the parallel group) after them, by name."""
    try:
        return (0, tuple(int(v) for v in s.split("x")), s)
    except ValueError:
        return (1, (), s)


def read_criterion(root):
    rows = {}
    for est in root.glob("*/*/*/new/estimates.json"):
        bench = json.loads((est.parent / "benchmark.json").read_text())
        group, backend, size = bench["group_id"], bench["function_id"], bench["value_str"]
        if group == "sigmoid_fused_detection":
            # "<form>/<targets>/<backend>" or "naive/<targets>": modulated BCE (torchvision's
            # form) as a kernel of its own per target kind, the per-term form left out.
            parts = backend.split("/")
            if parts[0] == "naive":
                group, backend = f"sigmoid_fused_{parts[1]}", "naive"
            elif parts[0] == "modulated_bce":
                group, backend = f"sigmoid_fused_{parts[1]}", parts[2]
            else:
                continue
        elems = bench["throughput"]["Elements"]
        median_ns = json.loads(est.read_text())["median"]["point_estimate"]
        rows.setdefault((group, size), {})[backend] = elems / median_ns  # G elements/s
    return rows


def print_full_table(rows):
    print("| kernel | size | " + " | ".join(ORDER) + " | best / scalar | best / floor |")
    print("|---|---|" + "---:|" * (len(ORDER) + 2))
    for group, size in sorted(rows, key=lambda k: (k[0], size_key(k[1]))):
        r = rows[(group, size)]
        if not any(b in r for b in ORDER):
            continue  # groups whose series are not backends (threads, layouts)
        cells = [f"{r[b]:.3f}" if b in r else "" for b in ORDER]
        simd = [r[b] for b in ("avx512", "avx2", "portable") if b in r]
        best = max(simd) if simd else r.get("scalar", 0)
        vs_scalar = f"{best / r['scalar']:.1f}x" if "scalar" in r else ""
        vs_floor = f"{best / r['floor']:.2f}" if "floor" in r else ""
        print(f"| {group} | {size} | " + " | ".join(cells) + f" | {vs_scalar} | {vs_floor} |")


def read_torch(path):
    """(kernel, size) -> {"torch_eager": str, "torch_compile": str} from torch_baseline.py's
    markdown table, figures as printed."""
    out = {}
    header = None
    for line in pathlib.Path(path).read_text().splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[:2] == ["loss", "shape"]:
            header = cells
            continue
        if header is None or set(cells[0]) <= set("-: "):
            continue
        row = dict(zip(header, cells))
        kernel = TORCH_KERNEL.get(row["loss"])
        if kernel is None:
            continue
        size = row["shape"].removeprefix("N=")
        figures = out.setdefault((kernel, size), {})
        if row.get("eager Gelem/s"):
            figures["torch_eager"] = row["eager Gelem/s"]
        if row.get("compiled Gelem/s"):
            figures["torch_compile"] = row["compiled Gelem/s"]
    return out


def compact_from_runs(rows, torch, measured):
    records = []
    for group, size in sorted(rows, key=lambda k: (k[0], size_key(k[1]))):
        if group not in COMPACT_CASES:
            continue
        sizes = COMPACT_CASES[group]
        if sizes is not None and size not in sizes:
            continue
        r = rows[(group, size)]
        for series in ("naive", "scalar", "portable", "avx2", "avx512"):
            if series in r:
                records.append([group, size, series, f"{r[series]:.3f}", measured])
        for series, value in sorted(torch.get((group, size), {}).items()):
            records.append([group, size, series, value, measured])
    return records


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != CSV_FIELDS:
            sys.exit(f"{path}: expected the columns {','.join(CSV_FIELDS)}")
        records = list(reader)
    for r in records:
        if r["series"] not in SERIES:
            sys.exit(f"{path}: unknown series {r['series']!r} (known: {', '.join(SERIES)})")
        float(r["gelem_per_s"])  # a number, kept as written
    return records


def layout(records):
    """Cases in file order, series in SERIES order, the runs numbered by first appearance."""
    cases, values, runs, run_of = [], {}, [], {}
    for r in records:
        case = (r["kernel"], r["size"])
        if case not in cases:
            cases.append(case)
        values[(case, r["series"])] = r["gelem_per_s"]
        if r["measured"] not in runs:
            runs.append(r["measured"])
        run_of.setdefault(r["series"], set()).add(r["measured"])
    series = [s for s in SERIES if s in run_of]
    return cases, series, values, runs, run_of


def mark(s, runs, run_of):
    if len(runs) < 2:
        return ""
    return "".join(sorted(MARKS[runs.index(m)] for m in run_of[s]))


def case_label(kernel, size):
    size = f"N = {size}" if "x" not in size else size.replace("x", " × ")
    return kernel, size


def print_compact_table(records):
    cases, series, values, runs, run_of = layout(records)
    head = [f"{SERIES[s]}{mark(s, runs, run_of)}" for s in series]
    print("| kernel | size | " + " | ".join(head) + " |")
    print("|---|---|" + "---:|" * len(series))
    for case in cases:
        kernel, size = case_label(*case)
        cells = [values.get((case, s), "") for s in series]
        print(f"| {kernel} | {size} | " + " | ".join(cells) + " |")
    if len(runs) > 1:
        print()
        for i, m in enumerate(runs):
            print(f"* {MARKS[i]} {m}")


def nice_max(v):
    step = 0.25 if v <= 2.5 else 0.5 if v <= 5 else 1.0
    top = step
    while top < v:
        top += step
    return top, step


def write_svg(records, path, title):
    cases, series, values, runs, run_of = layout(records)
    bar, gap, group_pad = 12, 2, 16
    left, plot_w, right = 210, 560, 70
    width = left + plot_w + right
    caption = [f"{MARKS[i]} {m}" if len(runs) > 1 else m for i, m in enumerate(runs)]
    top = 52 + 16 * len(caption)
    group_h = len(series) * (bar + gap) - gap
    plot_h = len(cases) * (group_h + group_pad) + group_pad
    legend_rows = (len(series) + 3) // 4
    height = top + plot_h + 40 + 20 * legend_rows + 14
    vmax, step = nice_max(max(float(v) for v in values.values()))

    def x(v):
        return left + plot_w * v / vmax

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Helvetica, Arial, '
        f'sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{width / 2:.0f}" y="24" text-anchor="middle" font-size="15" '
        f'font-weight="bold">{escape(title)}</text>',
    ]
    for i, line in enumerate(caption):
        out.append(f'<text x="{width / 2:.0f}" y="{44 + 16 * i}" text-anchor="middle" '
                   f'font-size="11" fill="#444">{escape(line)}</text>')
    # Grid and axis.
    ticks = int(round(vmax / step))
    for k in range(ticks + 1):
        v = k * step
        xv = x(v)
        out.append(f'<line x1="{xv:.1f}" y1="{top}" x2="{xv:.1f}" y2="{top + plot_h}" '
                   f'stroke="{"#555" if k == 0 else "#e0e0e0"}" stroke-width="1"/>')
        out.append(f'<text x="{xv:.1f}" y="{top + plot_h + 15}" text-anchor="middle" '
                   f'font-size="11">{v:g}</text>')
    out.append(f'<text x="{left + plot_w / 2:.0f}" y="{top + plot_h + 31}" '
               f'text-anchor="middle">G elements/s (higher is better)</text>')
    # Bars.
    y = top + group_pad
    for case in cases:
        kernel, size = case_label(*case)
        mid = y + group_h / 2
        out.append(f'<text x="{left - 10}" y="{mid - 3:.1f}" text-anchor="end" '
                   f'font-weight="bold">{escape(kernel)}</text>')
        out.append(f'<text x="{left - 10}" y="{mid + 12:.1f}" text-anchor="end">'
                   f'{escape(size)}</text>')
        for s in series:
            v = values.get((case, s))
            if v is not None:
                w = x(float(v)) - left
                out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar}" '
                           f'fill="{COLOURS[s]}"><title>{escape(SERIES[s])}: {v} G elements/s'
                           f'</title></rect>')
                out.append(f'<text x="{left + w + 4:.1f}" y="{y + bar - 2}" '
                           f'font-size="10">{escape(v)}</text>')
            y += bar + gap
        y += group_pad - gap
    # Legend.
    ly = top + plot_h + 48
    col_w = (width - 40) / 4
    for i, s in enumerate(series):
        lx = 20 + col_w * (i % 4)
        yy = ly + 20 * (i // 4)
        out.append(f'<rect x="{lx:.1f}" y="{yy - 10}" width="12" height="12" '
                   f'fill="{COLOURS[s]}"/>')
        out.append(f'<text x="{lx + 18:.1f}" y="{yy}">'
                   f'{escape(SERIES[s] + mark(s, runs, run_of))}</text>')
    out.append("</svg>")
    pathlib.Path(path).write_text("\n".join(out) + "\n", encoding="utf-8")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("criterion", nargs="?", default="target/criterion",
                    help="criterion's output directory (default: target/criterion)")
    ap.add_argument("--csv", help="read the compact comparison from this CSV instead")
    ap.add_argument("--svg", help="with --csv: also draw the comparison as an SVG bar chart")
    ap.add_argument("--title", default="focal-loss backends and PyTorch: fused forward + backward",
                    help="the chart's title")
    ap.add_argument("--torch", help="benches/torch_baseline.py's output, for --write-csv")
    ap.add_argument("--measured", help="for --write-csv: the machine, date and run")
    ap.add_argument("--write-csv", help="write the compact comparison of the criterion "
                    "results (and --torch) to this CSV")
    args = ap.parse_args()

    if args.csv:
        records = read_csv(args.csv)
        print_compact_table(records)
        if args.svg:
            write_svg(records, args.svg, args.title)
        return
    if args.svg:
        sys.exit("--svg draws from a CSV: give --csv (or first --write-csv, then --csv)")
    rows = read_criterion(pathlib.Path(args.criterion))
    if args.write_csv:
        if not args.measured:
            sys.exit("--write-csv needs --measured 'machine, date, run'")
        torch = read_torch(args.torch) if args.torch else {}
        records = compact_from_runs(rows, torch, args.measured)
        if not records:
            sys.exit(f"no fused results under {args.criterion}")
        with open(args.write_csv, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(CSV_FIELDS)
            w.writerows(records)
        return
    print_full_table(rows)


if __name__ == "__main__":
    main()
