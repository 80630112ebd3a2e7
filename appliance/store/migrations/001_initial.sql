-- SOS Edge local replica, schema version 1.
-- Every row carries tenant_id. Times are unix milliseconds (UTC).
-- Dates of birth are never stored: only a keyed hash (see docs/data.md).

CREATE TABLE tenant (
    tenant_id      TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    vertical       TEXT NOT NULL,
    agent_name     TEXT NOT NULL,
    agent_voice    TEXT NOT NULL,
    plan           TEXT NOT NULL,
    status         TEXT NOT NULL,
    branding       TEXT NOT NULL,  -- JSON
    settings       TEXT NOT NULL,  -- JSON
    config_version INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE providers (
    tenant_id    TEXT NOT NULL REFERENCES tenant(tenant_id),
    provider_id  TEXT NOT NULL,
    display_name TEXT NOT NULL,
    PRIMARY KEY (tenant_id, provider_id)
) STRICT;

CREATE TABLE patients (
    tenant_id   TEXT NOT NULL REFERENCES tenant(tenant_id),
    patient_id  TEXT NOT NULL,
    first_name  TEXT NOT NULL,
    last_name   TEXT NOT NULL,
    name_key    TEXT NOT NULL,  -- normalised "first last" for matching
    dob_hash    TEXT NOT NULL,  -- HMAC of the date of birth, never the date itself
    PRIMARY KEY (tenant_id, patient_id)
) STRICT;
CREATE INDEX patients_by_dob ON patients(tenant_id, dob_hash);

CREATE TABLE appointments (
    tenant_id      TEXT NOT NULL REFERENCES tenant(tenant_id),
    appointment_id TEXT NOT NULL,
    patient_id     TEXT NOT NULL,
    provider_id    TEXT NOT NULL,
    local_date     TEXT NOT NULL,  -- YYYY-MM-DD in the practice's time zone
    starts_at      INTEGER NOT NULL,
    kind           TEXT NOT NULL,  -- e.g. "Cleaning"
    notes          TEXT NOT NULL DEFAULT '',
    cancelled      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, appointment_id),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients(tenant_id, patient_id),
    FOREIGN KEY (tenant_id, provider_id) REFERENCES providers(tenant_id, provider_id)
) STRICT;
CREATE INDEX appointments_by_day ON appointments(tenant_id, local_date, starts_at);

CREATE TABLE checkins (
    tenant_id      TEXT NOT NULL REFERENCES tenant(tenant_id),
    checkin_id     TEXT PRIMARY KEY,          -- UUIDv7
    appointment_id TEXT,                      -- NULL for walk-ins
    patient_id     TEXT NOT NULL,
    local_date     TEXT NOT NULL,
    ticket         INTEGER NOT NULL,          -- per-day number for "ticket" display mode
    method         TEXT NOT NULL CHECK (method IN ('qr', 'voice', 'desk')),
    status         TEXT NOT NULL CHECK (status IN ('waiting', 'called', 'seen', 'no_show')),
    room           TEXT,
    arrived_at     INTEGER NOT NULL,
    called_at      INTEGER,
    seen_at        INTEGER,
    status_token_hash TEXT NOT NULL,          -- the patient's phone holds the token
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients(tenant_id, patient_id)
) STRICT;
-- One check-in per patient per day: a double-tapped submit is never applied twice.
CREATE UNIQUE INDEX checkins_once_per_day ON checkins(tenant_id, patient_id, local_date);
CREATE INDEX checkins_by_day ON checkins(tenant_id, local_date, status);
CREATE UNIQUE INDEX checkins_by_token ON checkins(status_token_hash);

CREATE TABLE displays (
    tenant_id    TEXT NOT NULL REFERENCES tenant(tenant_id),
    display_id   TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,  -- SHA-256 of the TV's bearer token
    paired_at    INTEGER NOT NULL,
    paired_by    TEXT NOT NULL,
    revoked_at   INTEGER,
    last_seen_at INTEGER
) STRICT;

CREATE TABLE staff (
    tenant_id       TEXT NOT NULL REFERENCES tenant(tenant_id),
    staff_id        TEXT NOT NULL,
    name            TEXT NOT NULL,
    secret_hash     TEXT NOT NULL,  -- argon2id PHC string
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until    INTEGER,
    PRIMARY KEY (tenant_id, staff_id)
) STRICT;

-- Events waiting for the cloud, in order. Rows are marked sent, not deleted,
-- so a crash between send and acknowledge never loses an event.
CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  TEXT NOT NULL REFERENCES tenant(tenant_id),
    event_id   TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL,  -- JSON
    created_at INTEGER NOT NULL,
    sent_at    INTEGER
) STRICT;
CREATE INDEX outbox_pending ON outbox(sent_at, seq);

-- Append-only: who did what, when. Triggers refuse edits and deletions.
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL REFERENCES tenant(tenant_id),
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    detail    TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
