#!/usr/bin/env bash
# One command for a newcomer (and CI): set up everything the tests need on a
# fresh Debian machine, then run every test: Rust unit and integration tests
# against the real daemon (and the real cloud on PostgreSQL), then the
# end-to-end browser test in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -f scripts/postgres.sh ] && bash scripts/postgres.sh
bash scripts/setup-browser.sh

cargo build --workspace --all-targets
cargo test --workspace

echo "== end-to-end browser test (headless Chromium)"
SOS_APPLIANCE_BIN="$PWD/target/debug/sos-appliance" node tests/e2e.mjs
