#!/usr/bin/env bash
# Benchmark of the lobby voice against the Python reference (issue 3):
# fetches the voice, sets up piper-tts + the same ONNX Runtime from PyPI in a
# venv under models/ (gitignored), builds voice-bench in release mode, runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch-voice.sh
models_dir="${SOS_MODELS_DIR:-$PWD/models}"
venv="$models_dir/.venv-bench"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import piper' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet piper-tts==1.8.0 onnxruntime==1.31.1
fi
cargo build --release -p sos-bench --bin voice-bench
SOS_LOG=warn ./target/release/voice-bench --models-dir "$models_dir" --python "$venv/bin/python" "$@"
