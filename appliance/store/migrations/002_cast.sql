-- Chromecast / Google TV devices staff chose to show the lobby display on
-- (issue 5). Remembered so the box re-casts to them after a restart. Only
-- device names and network addresses: no patient data.
CREATE TABLE cast_targets (
    tenant_id     TEXT NOT NULL,
    device_id     TEXT NOT NULL,
    friendly_name TEXT NOT NULL,
    model         TEXT NOT NULL DEFAULT '',
    host          TEXT NOT NULL,
    port          INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    app_id        TEXT NOT NULL,
    display_id    TEXT,
    chosen_by     TEXT NOT NULL,
    chosen_at     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, device_id)
) STRICT;
