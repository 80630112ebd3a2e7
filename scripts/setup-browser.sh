#!/usr/bin/env bash
# Installs what the end-to-end browser test (tests/e2e.mjs) and the cloud's
# Stripe webhook test need on a fresh Debian machine: Debian's Chromium at
# /usr/bin/chromium and the pinned npm packages in tests/. Safe to run again: it skips what is already there.
# Works as root (no sudo needed); as another user it uses sudo for apt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TESTS="$ROOT/tests"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "setup-browser: need root (or sudo) to run: $*" >&2
    exit 1
  fi
}

if [ -x /usr/bin/chromium ]; then
  echo "setup-browser: chromium already installed"
else
  echo "setup-browser: installing chromium (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -o DPkg::Lock::Timeout=600
  as_root apt-get install -y -o DPkg::Lock::Timeout=600 --no-install-recommends chromium
  [ -x /usr/bin/chromium ] || { echo "setup-browser: chromium did not install to /usr/bin/chromium" >&2; exit 1; }
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "setup-browser: npm is missing (Node.js 20+ with npm is expected on this machine)" >&2
  exit 1
fi

cd "$TESTS"
# playwright-core never downloads a browser; say so anyway for any tool that asks.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
# Every package of the lock at its locked version, or a clean install:
# playwright-core for the browser test, stripe to sign the webhook
# deliveries the cloud's tests send.
if [ -f package-lock.json ] && node -e '
  const lock = require("./package-lock.json").packages;
  for (const [path, p] of Object.entries(lock)) {
    if (!path) continue;
    try {
      if (require("./" + path + "/package.json").version !== p.version) process.exit(1);
    } catch (e) { process.exit(1); }
  }'; then
  echo "setup-browser: npm packages already installed"
elif [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi
echo "setup-browser: ready"
