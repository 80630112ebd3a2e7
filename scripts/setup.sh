#!/usr/bin/env bash
# Installs what building SOS Edge needs on a fresh Debian machine.
# Idempotent and quiet when everything is already there.
set -euo pipefail

need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v git >/dev/null 2>&1 || need_apt+=(git)

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
