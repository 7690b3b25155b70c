#!/usr/bin/env bash
# Builds every fuzz target (cargo-fuzz, nightly, AddressSanitizer) and runs each for the given
# number of seconds (default 60), two at a time, each with one job, starting from the seed
# corpus in fuzz/corpus/<target>/ (new inputs go to fuzz/target/corpus/<target>/, not into
# the committed seeds). Fails on any finding: a crash, a failed check, a leak or a timeout;
# the input is then in fuzz/artifacts/<target>/.
#
#   bash fuzz/run.sh            # 60 s per target (what .ci/run does)
#   bash fuzz/run.sh 1200       # 20 minutes per target
#   FUZZ_TARGETS="sigmoid api" bash fuzz/run.sh 300
#   FUZZ_RUNS=15000 bash fuzz/run.sh 60   # also stop after 15000 inputs (CI: with the fixed
#                                         # default seed, the same inputs as a local check)
#   FUZZ_SEED=7 bash fuzz/run.sh 1200     # another seed (default 1)
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
targets=${FUZZ_TARGETS:-sigmoid softmax api math}
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cargo +nightly fuzz build
bin=target/x86_64-unknown-linux-gnu/release
mkdir -p target/corpus target/logs
run() {
  local t=$1 dir
  dir=$(mktemp -d "target/logs/$t.XXXX")
  mkdir -p "target/corpus/$t" "artifacts/$t"
  # `-jobs=1` writes the fuzzer's log to fuzz-0.log in the working directory: one per target.
  (cd "$dir" && nice -n 10 "../../../$bin/$t" "../../corpus/$t" "../../../corpus/$t" \
      -max_total_time="$secs" -seed="${FUZZ_SEED:-1}" ${FUZZ_RUNS:+-runs="$FUZZ_RUNS"} \
      -jobs=1 -timeout=30 -rss_limit_mb=4096 \
      -artifact_prefix="../../../artifacts/$t/" >stdout.log 2>&1) && status=0 || status=$?
  grep -E '^(#[0-9]+ +DONE|Done [0-9]+ runs)' "$dir/fuzz-0.log" | sed "s/^/$t: /" || true
  if [ "$status" -ne 0 ] || grep -qE 'panicked|ERROR: libFuzzer|ERROR: AddressSanitizer|SUMMARY:' "$dir/fuzz-0.log"; then
    echo "$t: FINDING (exit $status); log $PWD/$dir/fuzz-0.log, input in fuzz/artifacts/$t/" >&2
    grep -E -A3 'panicked|ERROR:' "$dir/fuzz-0.log" | head -20 >&2
    return 1
  fi
}
fail=0
set -- $targets
while [ $# -gt 0 ]; do
  pids=()
  for t in "$1" "${2:-}"; do
    [ -n "$t" ] || continue
    run "$t" & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || fail=1; done
  shift; [ $# -gt 0 ] && shift
done
exit $fail
