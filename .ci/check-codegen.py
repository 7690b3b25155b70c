#!/usr/bin/env python3
"""Fails if a hot SIMD kernel entry point was not compiled as intended.

Disassembles a release binary (default: the quickstart example) and, for every
`backend::{avx512,avx2}::{sigmoid_g,softmax_short_g,softmax_rows,softmax_cf_g,softmax_smoothed,
first_outside_unit}` instance (and each `Lanes::outline` copy of the vector backends),
requires that
  * it uses the backend's registers (zmm for AVX-512, ymm for AVX2), and
  * no out-of-line copy of the crate's math, lane methods or kernels exists anywhere in the
    binary: each must be inlined into its #[target_feature] entry, or it would run without
    the features (LLVM calls such copies through registers, so the check looks for the
    copies themselves rather than for call instructions).
Usage: python3 .ci/check-codegen.py [binary]
"""
import re
import subprocess
import sys

binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/examples/quickstart"
asm = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "-C", binary],
                     check=True, capture_output=True, text=True).stdout
head = re.compile(r"^[0-9a-f]+ <(.*)>:$")
want = {"avx512": "zmm", "avx2": "ymm"}
entry = re.compile(
    r"focal_loss::backend::(avx512|avx2)::"
    r"(sigmoid_g|softmax_short_g|softmax_rows|softmax_cf_g|softmax_smoothed|first_outside_unit)\b"
)
# Scalar code, out of line on purpose (no target features, no vector code): the per-group
# constant fills of the label work, and the scalar backend's loops, one copy each for every
# gamma (the microcontroller policy: flash over specialisation).
SCALAR_HELPERS = {
    "focal_loss::kernel::softmax::fill_with",
    "focal_loss::kernel::softmax::run_scalar",
    "focal_loss::kernel::sigmoid::run_scalar_a",
    "focal_loss::kernel::sigmoid::run_scalar_per_term",
    "focal_loss::kernel::sigmoid::eval_guarded",
    # The scalar backend's one `ln` for form (A)'s rare paths (soft targets at huge logits).
    "<focal_loss::simd::scalar::Scalar as focal_loss::simd::Lanes>::ln_rare",
    # One copy per vector backend of form (A)'s rescue where u^γ underflows (Lanes::pow_rescue):
    # inlined into every instantiation it cost a quarter of the library's build time.
    "focal_loss::simd::avx512::pow_rescue_avx512",
    "focal_loss::simd::avx2::pow_rescue_avx2",
    "focal_loss::simd::portable::pow_rescue_portable",
}
outlined = re.compile(r"^(focal_loss::(math|simd|kernel)::|<focal_loss::simd::)")
# Out of line on purpose, with the backend's features (`Lanes::outline`: the per-group label
# work, one copy per backend for every gamma): each must use its backend's registers.
FEATURED_HELPERS = {
    "<focal_loss::simd::avx512::Avx512 as focal_loss::simd::Lanes>::outline": "zmm",
    "<focal_loss::simd::avx2::Avx2 as focal_loss::simd::Lanes>::outline": "ymm",
}

functions, name, body = [], None, []
for line in asm.splitlines():
    m = head.match(line)
    if m:
        if name:
            functions.append((name, body))
        name, body = m.group(1), []
    elif name:
        body.append(line)
if name:
    functions.append((name, body))

checked, failures = 0, []
for name, body in functions:
    if name in FEATURED_HELPERS:
        reg = FEATURED_HELPERS[name]
        if reg not in "\n".join(body):
            failures.append(f"{name}: no {reg} register used")
    elif outlined.match(name) and name not in SCALAR_HELPERS:
        failures.append(f"out-of-line copy of {name}")
    m = entry.search(name)
    if not m:
        continue
    checked += 1
    text = "\n".join(body)
    if want[m.group(1)] not in text:
        failures.append(f"{name}: no {want[m.group(1)]} register used")
print(f"checked {checked} SIMD entry points in {binary}")
if checked == 0:
    failures.append("no SIMD entry point found (symbols changed?)")
for f in failures:
    print("FAIL", f)
sys.exit(1 if failures else 0)
