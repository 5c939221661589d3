#!/usr/bin/env bash
# Every check: formatting, clippy with warnings as errors (which also enforces the core's clock
# ban and the panic-free input paths), no module cycles, the workspace's unit, integration,
# conformance, CLI, browser and C-program tests (installing Chromium, a C compiler and
# valgrind when missing), the optional
# aws-default-chain feature, the no_std build of the split-mode link, then each fuzz target
# for a bounded time. This is what CI runs
# (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
if ! command -v python3 >/dev/null; then
    apt-get update && apt-get install -y python3
fi
python3 scripts/module-graph.py -q # fails on a module cycle in any crate
# The web console's tests drive a real headless Chromium (Debian's package), and trust the
# service's CA through NSS's certutil.
if [ ! -x /usr/bin/chromium ] || ! command -v certutil >/dev/null; then
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium libnss3-tools
fi
# The C API's tests compile C programs with cc against the static library and run one under
# valgrind (Debian's packages).
if ! command -v cc >/dev/null || ! command -v valgrind >/dev/null; then
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y gcc libc6-dev valgrind
fi
cargo test --workspace
# The split-mode link must build for a microcontroller: no_std, with and without alloc, for
# a Cortex-M4F (prebuilt targets cannot be downloaded here, so core and alloc are built from
# rust-src). This fails, never skips, when it cannot.
if ! rustup component list --installed | grep -q '^rust-src'; then
    rustup component add rust-src
fi
RUSTC_BOOTSTRAP=1 cargo build -p kvs-link --release -Zbuild-std=core,alloc --target thumbv7em-none-eabihf
RUSTC_BOOTSTRAP=1 cargo build -p kvs-link --release --no-default-features -Zbuild-std=core --target thumbv7em-none-eabihf
# The optional feature with the rest of the AWS SDK's credentials chain, built, linted and
# tested once.
cargo clippy -p kvs-client --features aws-default-chain --all-targets -- -D warnings
cargo test -p kvs-client --features aws-default-chain --test sdk_default_chain
scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
