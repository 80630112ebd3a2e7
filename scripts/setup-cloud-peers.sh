#!/usr/bin/env bash
# Installs the peers the cloud's onboarding tests talk to, in the project
# venv `.venv/` (PyPI, pinned): `localstripe`, a stateful fake of Stripe's
# API that sends its own signed webhooks, and `aiosmtpd`, an SMTP sink the
# tests read delivered emails from; and from Debian, `pebble` (Let's
# Encrypt's ACME test server, with `pebble-challtestsrv` as the DNS it
# validates in), `dig` and `certutil`, for the boxes' certificates. All run on loopback
# only. Idempotent.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "setup-cloud-peers: need root (or sudo) to run: $*" >&2; exit 1
  fi
}
need_apt=()
command -v pebble >/dev/null 2>&1 || need_apt+=(pebble)
command -v dig >/dev/null 2>&1 || need_apt+=(bind9-dnsutils)
# certutil: the browser test trusts Pebble's root in Chromium's NSS store.
command -v certutil >/dev/null 2>&1 || need_apt+=(libnss3-tools)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup-cloud-peers: installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -o DPkg::Lock::Timeout=600 -qq
  as_root apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${need_apt[@]}"
fi
LOCALSTRIPE_VERSION="1.15.10"
AIOSMTPD_VERSION="1.4.6"

cd "$ROOT"
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "setup-cloud-peers: python3-venv is needed (scripts/setup-cast-peers.sh installs it)" >&2
  exit 1
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
have() { # module version
  .venv/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('$1') != '$2')" >/dev/null 2>&1
}
if have localstripe "$LOCALSTRIPE_VERSION" && have aiosmtpd "$AIOSMTPD_VERSION"; then
  echo "setup-cloud-peers: localstripe $LOCALSTRIPE_VERSION and aiosmtpd $AIOSMTPD_VERSION already installed"
else
  .venv/bin/pip install -q "localstripe==$LOCALSTRIPE_VERSION" "aiosmtpd==$AIOSMTPD_VERSION"
fi
.venv/bin/localstripe --help >/dev/null
echo "setup-cloud-peers: ready"
