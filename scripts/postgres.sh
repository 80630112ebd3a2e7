#!/usr/bin/env bash
# Ensures a PostgreSQL server answers on 127.0.0.1:5432 with trust auth for
# the user `postgres` (what the cloud-sync integration tests use).
# Idempotent; returns at once when one is already answering.
#   scripts/postgres.sh            # ensure
#   PGPORT=5433 scripts/postgres.sh
set -euo pipefail

HOST=127.0.0.1
PORT="${PGPORT:-5432}"

answering() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$HOST" -p "$PORT" -U postgres
    else
        (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null
    fi
}

if answering; then
    echo "postgres: answering on $HOST:$PORT"
    exit 0
fi

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "postgres: installing the postgresql package"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
    as_root apt-get -o DPkg::Lock::Timeout=600 install -y -qq postgresql >/dev/null
fi

# Newest installed major version.
VERSION="$(ls /usr/lib/postgresql | sort -V | tail -n1)"
CLUSTER=sostest
if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$VERSION $CLUSTER"; then
    echo "postgres: creating cluster $VERSION/$CLUSTER on port $PORT"
    as_root pg_createcluster "$VERSION" "$CLUSTER" -p "$PORT" -- --auth=trust >/dev/null
fi
CONF="/etc/postgresql/$VERSION/$CLUSTER"
# Trust on loopback only (tests), listening on loopback only.
as_root sh -c "cat > '$CONF/pg_hba.conf'" <<HBA
local   all all                 trust
host    all all 127.0.0.1/32    trust
host    all all ::1/128         trust
HBA
as_root sed -i "s/^#\?listen_addresses.*/listen_addresses = 'localhost'/" "$CONF/postgresql.conf"
as_root sed -i "s/^#\?port = .*/port = $PORT/" "$CONF/postgresql.conf"

if pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1==v && $2==c {print $4}' | grep -q online; then
    as_root pg_ctlcluster "$VERSION" "$CLUSTER" reload
else
    as_root pg_ctlcluster "$VERSION" "$CLUSTER" start
fi

for _ in $(seq 1 50); do
    if answering; then
        echo "postgres: answering on $HOST:$PORT"
        exit 0
    fi
    sleep 0.2
done
echo "postgres: the server did not come up on $HOST:$PORT" >&2
exit 1
