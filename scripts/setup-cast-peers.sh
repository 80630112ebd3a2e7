#!/usr/bin/env bash
# Installs the independent peers the Chromecast / mDNS tests use
# (appliance/tests/cast.rs): a Cast receiver on npm `castv2`, the TV page in
# headless Chromium (npm `playwright-core` + Debian chromium), and an mDNS
# responder on PyPI `zeroconf` in the project venv `.venv/`. Also `unshare`
# and `ip`, because those tests run in a private network namespace so mDNS
# never reaches a real interface. Idempotent: skips what is already there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ZEROCONF_VERSION="0.154.0"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "setup-cast-peers: need root (or sudo) to run: $*" >&2; exit 1
  fi
}

need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v unshare >/dev/null 2>&1 || need_apt+=(util-linux)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup-cast-peers: installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -o DPkg::Lock::Timeout=600 -qq
  as_root apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${need_apt[@]}"
fi

# npm: castv2 (the receiver) and playwright-core, pinned by the lock file.
cd "$ROOT/tests/cast"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
installed() {
  node -e '
    const lock = require("./package-lock.json").packages;
    for (const dep of ["castv2", "playwright-core"]) {
      const want = lock["node_modules/" + dep].version;
      let have = "";
      try { have = require("./node_modules/" + dep + "/package.json").version; } catch (e) {}
      if (want !== have) process.exit(1);
    }' >/dev/null 2>&1
}
if installed; then
  echo "setup-cast-peers: npm packages already installed"
else
  npm ci --no-audit --no-fund
fi

# PyPI: zeroconf in the project venv.
cd "$ROOT"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if .venv/bin/python -c "import zeroconf, sys; sys.exit(zeroconf.__version__ != '$ZEROCONF_VERSION')" >/dev/null 2>&1; then
  echo "setup-cast-peers: zeroconf $ZEROCONF_VERSION already installed"
else
  .venv/bin/pip install -q "zeroconf==$ZEROCONF_VERSION"
fi
echo "setup-cast-peers: ready"
