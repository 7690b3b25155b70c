#!/usr/bin/env bash
# The C ABI, end to end (issue 13, item 3):
#   1. header check: cbindgen's header from src/capi.rs against include/focal_loss.h (functions,
#      parameter types, struct fields, constants), and the check must fail on planted mismatches;
#   2. libraries: capi/ as a host staticlib + cdylib and a thumbv7em-none-eabihf staticlib; their
#      exported symbols are exactly the header's functions (nm);
#   3. host C test (cc -std=c99 -Wall -Wextra -Werror, static library), scalar and auto backends,
#      its lines diffed with the Rust API's (capi/examples/reference.rs), and once against the
#      shared library;
#   4. the same test as Cortex-M4F firmware (arm-none-eabi-gcc, the thumb library) under QEMU
#      mps2-an386, its lines equal bit for bit to the host's scalar-backend lines;
#   5. the .text one sigmoid call and one softmax call add to an otherwise empty C firmware.
# Prints "capi: N passed, M failed" and exits non-zero on any failure.
# Needs: cargo, cc, python3, cbindgen, arm-none-eabi-gcc, qemu-system-arm, nm (.ci/run installs
# them).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/capi/target/c-tests
mkdir -p "$OUT"
export CARGO_TERM_COLOR=never

passed=0
failed=0
ok() { passed=$((passed + ${2:-1})); printf 'ok   %s\n' "$1"; }
bad() { failed=$((failed + 1)); printf 'FAIL %s\n' "$1"; }
die() { bad "$1"; printf '\ncapi: %d passed, %d failed\n' "$passed" "$failed"; exit 1; }
# Lines to compare: results and errors, without the C side's "# ..." check lines.
results() { tr -d '\r' < "$1" | grep -v '^#'; }
# The same without target-dependent lines, for host versus firmware.
portable() { results "$1" | grep -v '^platform\.'; }
# compare NAME A B: identical, counting one check per line compared.
compare() {
  local d
  d=$OUT/$(tr -c 'A-Za-z0-9_.\n-' _ <<< "$1").diff
  if diff -u "$2" "$3" > "$d"; then
    ok "$1 ($(wc -l < "$2") lines identical)" "$(wc -l < "$2")"
  else
    bad "$1 (first differences below; all in $d)"
    head -20 "$d"
  fi
}
# C checks made by a test run: "# checks: P passed, F failed" and its exit status.
c_checks() {
  local name=$1 log=$2 rc=$3 line p f
  line=$(grep '^# checks: ' "$log" | tail -1)
  p=$(sed -n 's/^# checks: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' <<< "$line")
  f=$(sed -n 's/^# checks: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' <<< "$line")
  if [[ $rc -eq 0 && -n $p && $f -eq 0 ]]; then
    ok "$name: $p C checks" "$p"
  else
    bad "$name: exit status $rc, ${line:-no summary line}"
    grep '^# FAIL' "$log" | head -20
  fi
}

echo "== 1. header check (cbindgen from src/capi.rs versus include/focal_loss.h)"
cbindgen --quiet --config capi/cbindgen.toml --crate focal-loss --output "$OUT/generated.h" . \
  || die "cbindgen"
if python3 tests/c/check_header.py include/focal_loss.h "$OUT/generated.h"; then
  ok "header matches the Rust definitions"
else
  bad "header matches the Rust definitions"
fi
# The check must catch each of these mismatches, planted in a copy of the header.
plant() {
  local what=$1 expr=$2
  sed -E "$expr" include/focal_loss.h > "$OUT/planted.h"
  if cmp -s include/focal_loss.h "$OUT/planted.h"; then
    bad "planted mismatch '$what': the edit did not apply"
  elif python3 tests/c/check_header.py "$OUT/planted.h" "$OUT/generated.h" > "$OUT/planted.log"; then
    bad "planted mismatch '$what' was not detected"
  else
    ok "planted mismatch detected: $what ($(grep -m1 -v FAILED "$OUT/planted.log" | cut -c1-90)...)"
  fi
}
plant "parameter type" '/^int32_t focal_sigmoid_loss\(/,/;/ s/const float \*targets, size_t targets_len/const float *targets, uint32_t targets_len/'
plant "struct field order" '/int32_t code;/{h;d};/float value;/{G}'
plant "struct field type" 's/^    int64_t label; /    int32_t label; /'
plant "array length" 's/^    uint32_t words\[13\];/    uint32_t words[12];/'
plant "constant value" 's/FOCAL_OVERLAP = 15/FOCAL_OVERLAP = 17/'
plant "missing function" '/^int32_t focal_backend_available\(int32_t backend\);/d'
plant "return type" 's/^int32_t focal_backend_detect\(void\);/int64_t focal_backend_detect(void);/'

echo "== 2. libraries"
# 16 codegen units for the host build: a minute less on two cores; floating-point results do not
# depend on it (no fast-math, no FMA contraction in Rust).
(cd capi && cargo build --release --lib --example reference --config profile.release.codegen-units=16) \
  || die "host build of capi/"
(cd capi && cargo rustc --release --lib --target thumbv7em-none-eabihf --crate-type staticlib) \
  || die "thumbv7em-none-eabihf build of capi/"
HOST_A=$ROOT/capi/target/release/libfocal_loss_capi.a
HOST_SO=$ROOT/capi/target/release/libfocal_loss_capi.so
ARM_A=$ROOT/capi/target/thumbv7em-none-eabihf/release/libfocal_loss_capi.a
REFERENCE=$ROOT/capi/target/release/examples/reference
python3 - include/focal_loss.h > "$OUT/header.syms" <<'EOF'
import re, sys
text = re.sub(r"/\*.*?\*/", " ", open(sys.argv[1]).read(), flags=re.S)
print("\n".join(sorted(set(re.findall(r"\b(focal_\w+)\s*\(", text)))))
EOF
# .so: its dynamic symbol table exports exactly the header's functions.
nm -D --defined-only "$HOST_SO" | awk '{print $3}' | sort -u > "$OUT/so.syms"
compare "cdylib exports = header functions" "$OUT/header.syms" "$OUT/so.syms"
# .a: the global focal_* text symbols are exactly the header's functions (a Rust staticlib also
# carries Rust-mangled and compiler-builtins symbols; none is named focal_*).
for lib in "$HOST_A" "$ARM_A"; do
  nm --defined-only "$lib" 2>/dev/null | awk '$2 == "T" && $3 ~ /^focal_/ {print $3}' | sort -u \
    > "$OUT/a.syms"
  compare "staticlib $(basename "$(dirname "$(dirname "$lib")")")/$(basename "$lib") focal_* = header functions" \
    "$OUT/header.syms" "$OUT/a.syms"
done

echo "== 3. host C test"
CFLAGS=(-std=c99 -Wall -Wextra -Werror -pedantic -O2 -Iinclude -Itests/c)
cc "${CFLAGS[@]}" tests/c/test_capi.c tests/c/host_main.c "$HOST_A" -lm -lpthread -ldl \
  -o "$OUT/test_capi" || die "compile and link the host C test (static)"
cc "${CFLAGS[@]}" tests/c/test_capi.c tests/c/host_main.c -L"$(dirname "$HOST_SO")" \
  -lfocal_loss_capi -Wl,-rpath,"$(dirname "$HOST_SO")" -o "$OUT/test_capi_shared" \
  || die "compile and link the host C test (shared)"
for mode in scalar auto; do
  "$OUT/test_capi" $mode > "$OUT/c_$mode.txt"
  c_checks "host C test, $mode backend (static library)" "$OUT/c_$mode.txt" $?
  "$REFERENCE" $mode > "$OUT/rust_$mode.txt" || bad "Rust reference $mode"
  results "$OUT/c_$mode.txt" > "$OUT/c_$mode.results"
  compare "host C ($mode) = Rust API ($mode)" "$OUT/rust_$mode.txt" "$OUT/c_$mode.results"
done
ldd "$OUT/test_capi_shared" > "$OUT/ldd.txt" 2>&1
if grep -qF "$HOST_SO" "$OUT/ldd.txt"; then
  "$OUT/test_capi_shared" scalar > "$OUT/c_shared.txt"
  c_checks "host C test linked with the cdylib" "$OUT/c_shared.txt" $?
  compare "cdylib run = static run" "$OUT/c_scalar.txt" "$OUT/c_shared.txt"
else
  bad "test_capi_shared does not load $HOST_SO"
fi

echo "== 4. Cortex-M4F firmware under QEMU (mps2-an386)"
ARM=(-mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard -mthumb)
# firmware ELF ARGS...: compiles ARGS (C sources and flags) with the startup code and links
# them with the thumb library, unused sections dropped.
firmware() {
  local elf=$1
  shift
  arm-none-eabi-gcc "${ARM[@]}" "${CFLAGS[@]}" -ffreestanding -ffunction-sections \
    -fdata-sections "$@" tests/c/firmware/startup.c "$ARM_A" -nostdlib -nostartfiles -lgcc \
    -T tests/c/firmware/mps2_an386.ld -Wl,--gc-sections -Wl,--no-warn-rwx-segments \
    -Wl,-z,noexecstack -o "$elf"
}
# text_of ELF: its .text in bytes.
text_of() { arm-none-eabi-size "$1" | awk 'NR == 2 {print $1}'; }
firmware "$OUT/fw.elf" tests/c/test_capi.c || die "compile and link the firmware"
arm-none-eabi-size "$OUT/fw.elf"
# Semihosting output goes to QEMU's stderr.
timeout 60 qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic \
  -semihosting-config enable=on,target=native -kernel "$OUT/fw.elf" \
  < /dev/null > "$OUT/fw.txt" 2>&1
c_checks "Cortex-M4F C test under QEMU" "$OUT/fw.txt" $?
portable "$OUT/c_scalar.txt" > "$OUT/host_scalar.portable"
portable "$OUT/fw.txt" > "$OUT/fw.portable"
compare "Cortex-M4F = host scalar backend, bit for bit" "$OUT/host_scalar.portable" "$OUT/fw.portable"

echo "== 5. flash of one call (Cortex-M4F firmware, --gc-sections)"
# The same startup, flags and library, with tests/c/firmware/one_call.c in place of the test:
# no call, one focal_sigmoid_loss_and_grad, one focal_softmax_loss_and_grad_u8. Each must
# link; the .text a call adds over the empty program is printed (information, no budget).
one_text() {
  firmware "$OUT/one_$1.elf" -DONE_CALL="$1" tests/c/firmware/one_call.c &&
    text_of "$OUT/one_$1.elf"
}
if base=$(one_text 0) && sig=$(one_text 1) && smax=$(one_text 2); then
  ok "one-call firmware links"
  echo "C firmware, .text added by one focal_sigmoid_loss_and_grad: $((sig - base)) bytes;" \
    "by one focal_softmax_loss_and_grad_u8: $((smax - base)) bytes"
else
  bad "one-call firmware (compile or link)"
fi

echo
echo "thumbv7em-none-eabihf libfocal_loss_capi.a: $(stat -c %s "$ARM_A") bytes;" \
  "its code: $(arm-none-eabi-size -t "$ARM_A" 2>/dev/null | awk 'END {print $1}') bytes of text"
echo "firmware (test + library + startup): $(text_of "$OUT/fw.elf") bytes of .text"
printf '\ncapi: %d passed, %d failed\n' "$passed" "$failed"
[[ $failed -eq 0 ]]
