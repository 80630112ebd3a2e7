#!/usr/bin/env bash
# One command for a newcomer: set up, build, and run a demo clinic on the
# embedded SQLite. Open the printed URLs in a browser (phone, TV, desk).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/fetch-voice.sh
cargo build --release -p sos-appliance
# The speech model is converted by the box's own binary (listen-model).
SOS_APPLIANCE_BIN="$PWD/target/release/sos-appliance" bash scripts/fetch-whisper.sh
exec target/release/sos-appliance demo --data-dir "${SOS_DATA_DIR:-demo-data}" --listen "${SOS_LISTEN:-0.0.0.0:8080}" "$@"
