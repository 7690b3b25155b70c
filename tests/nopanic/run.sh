#!/usr/bin/env bash
# Link-time proof that no panic path survives in any public method on x86_64: builds the
# probe `cdylib` (every method, every backend forced, every label type, the TorchBlocks
# modules; `panic = "abort"`, fat LTO) whose `#[panic_handler]` calls an undefined symbol,
# linked with `--no-undefined`, so the link fails if any panic remains reachable. Then shows
# that the check works: with `--features planted-panic` (a reachable `panic!` in the probe)
# the link must fail, naming that symbol.
set -euo pipefail
cd "$(dirname "$0")"
# libc provides memcpy and memset (a no_std cdylib links no default libraries).
export RUSTFLAGS="-C link-arg=-Wl,--no-undefined -C link-arg=-lc"
cargo build --release --quiet
lib=target/release/libfocal_loss_nopanic.so
if nm -D "$lib" | grep -q focal_loss_panic_reachable; then
  echo "nopanic: the panic symbol survived in $lib" >&2
  exit 1
fi
echo "nopanic: $lib linked with --no-undefined: no reachable panic"
log=target/planted.log
# The same target directory: only the probe is rebuilt (the library's build is reused), and
# its LTO link fails before it could overwrite the library checked above.
if cargo build --release --quiet --features planted-panic >"$log" 2>&1; then
  echo "nopanic: the planted panic linked: the check cannot detect a panic" >&2
  exit 1
fi
# GNU ld says "undefined reference to", lld (Rust's default here) "undefined symbol:".
pat='undefined (reference to .|symbol: )focal_loss_panic_reachable'
if ! grep -qE "$pat" "$log"; then
  echo "nopanic: the planted-panic build failed for another reason:" >&2
  tail -20 "$log" >&2
  exit 1
fi
echo "nopanic: with the planted panic the link fails as it must: $(grep -oE "$pat" "$log" | head -1)"
