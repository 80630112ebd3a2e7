#!/usr/bin/env bash
# Ensures a PostgreSQL server answers on 127.0.0.1:5432 and lets the user
# `postgres` in without a password over loopback (what the cloud-sync
# integration tests use). Idempotent; returns at once when one already does.
#   scripts/postgres.sh
#   PGPORT=5433 scripts/postgres.sh     # another port
set -euo pipefail

HOST=127.0.0.1
PORT="${PGPORT:-5432}"

usable() {
    if command -v psql >/dev/null 2>&1; then
        psql -h "$HOST" -p "$PORT" -U postgres -d postgres -Atqc 'SELECT 1' >/dev/null 2>&1
    else
        (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null
    fi
}

if usable; then
    echo "postgres: answering on $HOST:$PORT"
    exit 0
fi

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "postgres: installing the postgresql package"
    as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=600 install -y -qq postgresql >/dev/null
fi

# The cluster on this port (Debian's package creates "main" on 5432), or a
# new one.
read -r VERSION CLUSTER < <(pg_lsclusters -h 2>/dev/null | awk -v p="$PORT" '$3 == p {print $1, $2; exit}') || true
CONF=""
if [ -z "${CLUSTER:-}" ]; then
    VERSION="$(ls /usr/lib/postgresql | sort -V | tail -n1)"
    CLUSTER=sostest
    echo "postgres: creating cluster $VERSION/$CLUSTER on port $PORT"
    as_root pg_createcluster "$VERSION" "$CLUSTER" -p "$PORT" >/dev/null
    CONF="/etc/postgresql/$VERSION/$CLUSTER"
    as_root sed -i -E "s/^#?listen_addresses *=.*/listen_addresses = 'localhost'/" "$CONF/postgresql.conf"
fi
CONF="/etc/postgresql/$VERSION/$CLUSTER"
# Test machines: let `postgres` in over loopback without a password. The
# lines go first (the first match wins); the previous file is kept.
MARK="# sos-edge tests: trust on loopback"
if ! as_root grep -qF "$MARK" "$CONF/pg_hba.conf"; then
    echo "postgres: allowing password-less loopback access in $CONF/pg_hba.conf (backup: pg_hba.conf.sos-backup)"
    as_root cp "$CONF/pg_hba.conf" "$CONF/pg_hba.conf.sos-backup"
    as_root sh -c "{ printf '%s\n' '$MARK' 'host all postgres 127.0.0.1/32 trust' 'host all postgres ::1/128 trust'; cat '$CONF/pg_hba.conf.sos-backup'; } > '$CONF/pg_hba.conf'"
fi

if pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1 == v && $2 == c {print $4}' | grep -q online; then
    as_root pg_ctlcluster "$VERSION" "$CLUSTER" reload
else
    as_root pg_ctlcluster "$VERSION" "$CLUSTER" start
fi

for _ in $(seq 1 100); do
    if usable; then
        echo "postgres: answering on $HOST:$PORT ($VERSION/$CLUSTER)"
        exit 0
    fi
    sleep 0.2
done
echo "postgres: no usable server on $HOST:$PORT (see /var/log/postgresql/)" >&2
exit 1
