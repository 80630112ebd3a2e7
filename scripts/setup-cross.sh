#!/usr/bin/env bash
# Installs what cross-building the box for a Raspberry Pi (arm64) needs on a
# Debian x86_64 machine, without Docker: Rust's std for
# aarch64-unknown-linux-gnu (rustup), Debian's cross toolchain
# (gcc/g++-aarch64-linux-gnu), the target's libraries through multiarch
# (libasound2-dev:arm64 for ALSA; libsonic-dev:arm64, or eSpeak NG's CMake
# tries to git-clone sonic; libstdc++6:arm64 to run the result), cmake and
# clang for whisper.cpp and eSpeak NG, and qemu-user to run the arm64 binary
# here. `cross.toml` says the same for `cross` where a Docker engine runs.
# Idempotent. docs/installers.md.
set -euo pipefail

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "setup-cross: need root (or sudo) to run: $*" >&2; exit 1
  fi
}

target=aarch64-unknown-linux-gnu
if ! rustup target list --installed | grep -qx "$target"; then
  echo "setup-cross: adding Rust's std for $target (rustup)"
  rustup target add "$target"
fi

need_apt=()
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || need_apt+=(gcc-aarch64-linux-gnu)
command -v aarch64-linux-gnu-g++ >/dev/null 2>&1 || need_apt+=(g++-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null 2>&1 || need_apt+=(qemu-user)
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
command -v clang >/dev/null 2>&1 || need_apt+=(clang)
for pkg in libasound2-dev:arm64 libsonic-dev:arm64 libstdc++6:arm64; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    echo "setup-cross: enabling Debian's arm64 architecture (multiarch)"
    as_root dpkg --add-architecture arm64
  fi
  echo "setup-cross: installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -o DPkg::Lock::Timeout=600 -qq
  as_root apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${need_apt[@]}"
fi
echo "setup-cross: ready"
