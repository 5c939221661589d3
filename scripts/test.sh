#!/usr/bin/env bash
# Every test: the workspace's unit, integration, conformance and CLI tests, then each fuzz
# target for a bounded time. This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace
scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
