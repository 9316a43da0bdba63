#!/usr/bin/env bash
# Runs one fuzz target for a while: ./run.sh TARGET [SECONDS] [extra libFuzzer flags...]
# New inputs go to work/TARGET (not committed); the committed seeds in corpus/TARGET are read
# only. Crashes land in artifacts/TARGET/. Uses the nightly toolchain when installed, else
# stable with RUSTC_BOOTSTRAP=1 (cargo-fuzz passes nightly-only -Z flags). No sanitizer: the
# crate is forbid(unsafe_code), and ASan made the targets 10-30x slower.
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?usage: ./run.sh TARGET [SECONDS] [libFuzzer flags...]}
secs=${2:-600}
shift $(( $# >= 2 ? 2 : 1 ))
mkdir -p "work/$target"
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  cargo=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  cargo=(cargo fuzz)
fi
exec "${cargo[@]}" run -O -s none "$target" "work/$target" "corpus/$target" -- \
  -dict=smtp.dict -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
  -print_final_stats=1 "$@"
