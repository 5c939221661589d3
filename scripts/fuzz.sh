#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time (default 30 s each), installing cargo-fuzz
# from crates.io first if it is missing. The stable toolchain acts as nightly for this
# (RUSTC_BOOTSTRAP=1), since libFuzzer's instrumentation needs unstable flags.
# Each run starts from the committed seed corpus fuzz/seeds/<target> (valid inputs, so the
# fuzzer begins past the first checks); what it finds goes to fuzz/corpus/<target>.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-30}"
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O
for target in $(cargo fuzz list); do
    echo "fuzzing $target for ${seconds}s"
    # -rss_limit_mb bounds memory; any crash fails the script and leaves the input in artifacts/.
    log="$(mktemp)"
    mkdir -p "corpus/$target"
    if [ ! -d "seeds/$target" ]; then
        echo "fuzz target $target has no seed corpus in fuzz/seeds/$target" >&2
        exit 1
    fi
    if ! cargo fuzz run -O "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz target $target failed; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    grep -E "^stat::(number_of_executed_units|peak_rss_mb)" "$log" || true
    rm -f "$log"
done
