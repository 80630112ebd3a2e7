#!/usr/bin/env bash
# Installs the peers the cloud's onboarding tests talk to, in the project
# venv `.venv/` (PyPI, pinned): `localstripe`, a stateful fake of Stripe's
# API that sends its own signed webhooks, and `aiosmtpd`, an SMTP sink the
# tests read delivered emails from. Both run on loopback only. Idempotent.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
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
