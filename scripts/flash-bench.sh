#!/usr/bin/env bash
# Installers' figures (docs/installers.md, README): how long `sos-flash
# provision` takes on the 2 GiB base image, beside the references measured
# in the same run (a sparse copy and a SHA-256 of the same image: the
# work's floor), and how long a flashed box takes from `qemu` start to
# enrolled and /healthz ready under TCG (the boot test's own timing).
#   scripts/flash-bench.sh            both
#   scripts/flash-bench.sh --no-boot  provisioning only
set -euo pipefail
cd "$(dirname "$0")/.."

boot=yes
[ "${1:-}" = "--no-boot" ] && boot=no

base_dir="$(bash scripts/build-base-image.sh)"
base="$base_dir/base.img"
cargo build --release -p sos-flash >&2
deb="$(bash scripts/build-deb.sh --dev)"
work="$(mktemp -d "${TMPDIR:-/tmp}/sos-flash-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cat > "$work/bundle.toml" <<TOML
cloud_url = "https://cloud.sos-edge.example"
token = "sos_prov_benchbenchbenchbench"
hostname = "bench-box"
timezone = "Europe/London"
TOML

# Seconds, with milliseconds, that a command took.
secs() {
    local s e ms
    s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N)
    ms=$(( (e - s) / 1000000 ))
    printf '%d.%03d' $((ms / 1000)) $((ms % 1000))
}
sync
echo "== provisioning $(du -h --apparent-size "$base" | cut -f1) ($(du -h "$base" | cut -f1) allocated), package $(du -h "$deb" | cut -f1)"
ref_cp=$(secs cp --sparse=always "$base" "$work/copy.img"); rm -f "$work/copy.img"
ref_sha=$(secs sha256sum "$base")
runs=()
for i in 1 2 3; do
    runs+=("$(secs target/release/sos-flash provision --image "$base" --bundle "$work/bundle.toml" --deb "$deb" -o "$work/box.img")")
    rm -f "$work/box.img"
done
echo "reference: cp --sparse=always ${ref_cp} s; sha256sum ${ref_sha} s"
echo "sos-flash provision (write + read-back verify), 3 runs: ${runs[0]} s, ${runs[1]} s, ${runs[2]} s (target <= 5 s)"

if [ "$boot" = yes ]; then
    echo "== booting a flashed box under QEMU (TCG, 2 vCPUs): the boot test"
    bash scripts/postgres.sh >/dev/null
    cargo test -p sos-cloud --test first_boot -- --nocapture 2>&1 | grep -E "^(provisioned|first boot|test result)"
fi
