-- SOS cloud, schema version 1. Every tenant-owned row carries tenant_id and
-- every query names it. Box times are unix milliseconds.

CREATE TABLE tenants (
    tenant_id          text PRIMARY KEY,
    name               text NOT NULL,
    vertical           text NOT NULL,
    agent_name         text NOT NULL,
    agent_voice        text NOT NULL,
    plan               text NOT NULL DEFAULT 'starter',
    status             text NOT NULL DEFAULT 'trialing',
    branding           jsonb NOT NULL DEFAULT '{}',
    settings           jsonb NOT NULL DEFAULT '{}',
    stripe_customer_id text,
    -- Bumped (and NOTIFY sos_config) on every change of the tenant or its
    -- appointments, in the same transaction.
    config_version     bigint NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- One-time provisioning tokens; only their SHA-256 is kept.
CREATE TABLE provisioning_tokens (
    token_hash  text PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenants(tenant_id),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    device_id   text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE devices (
    device_id    text PRIMARY KEY,
    tenant_id    text NOT NULL REFERENCES tenants(tenant_id),
    public_key   bytea NOT NULL UNIQUE,
    name         text NOT NULL DEFAULT '',
    enrolled_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_seen_at timestamptz
);
CREATE INDEX devices_by_tenant ON devices(tenant_id);

-- Nonces seen in the timestamp window: a replayed request is refused.
CREATE TABLE device_nonces (
    device_id text NOT NULL REFERENCES devices(device_id),
    nonce     text NOT NULL,
    seen_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, nonce)
);
CREATE INDEX device_nonces_by_age ON device_nonces(seen_at);

CREATE TABLE appointments (
    tenant_id      text NOT NULL REFERENCES tenants(tenant_id),
    appointment_id text NOT NULL,
    patient_id     text NOT NULL,
    first_name     text NOT NULL,
    last_name      text NOT NULL,
    date_of_birth  date NOT NULL,
    provider_id    text NOT NULL,
    provider_name  text NOT NULL,
    local_date     date NOT NULL,
    starts_at      bigint NOT NULL,
    kind           text NOT NULL,
    notes          text NOT NULL DEFAULT '',
    cancelled      boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, appointment_id)
);
CREATE INDEX appointments_by_day ON appointments(tenant_id, local_date);

-- Every event from every box, exactly once per (tenant, event id).
CREATE TABLE events (
    tenant_id   text NOT NULL REFERENCES tenants(tenant_id),
    event_id    uuid NOT NULL,
    device_id   text NOT NULL REFERENCES devices(device_id),
    seq         bigint NOT NULL,
    kind        text NOT NULL,
    payload     jsonb NOT NULL,
    created_at  bigint NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX events_by_device ON events(device_id, seq);

-- Check-ins as the dashboard sees them (ids and times; no names, no dates
-- of birth).
CREATE TABLE checkins (
    tenant_id      text NOT NULL REFERENCES tenants(tenant_id),
    checkin_id     text NOT NULL,
    device_id      text NOT NULL REFERENCES devices(device_id),
    appointment_id text,
    patient_id     text,
    walk_in        boolean NOT NULL DEFAULT false,
    method         text,
    local_date     text,
    ticket         bigint,
    status         text NOT NULL DEFAULT 'waiting',
    room           text,
    arrived_at     bigint,
    called_at      bigint,
    seen_at        bigint,
    -- seq of the last status event applied: an older one never overwrites.
    status_seq     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, checkin_id)
);

CREATE TABLE billing_events (
    tenant_id  text NOT NULL REFERENCES tenants(tenant_id),
    event_id   uuid NOT NULL,
    device_id  text NOT NULL REFERENCES devices(device_id),
    kind       text NOT NULL,
    checkin_id text,
    quantity   double precision NOT NULL DEFAULT 1,
    at         bigint NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
);

CREATE TABLE audit_log (
    id        bigserial PRIMARY KEY,
    tenant_id text REFERENCES tenants(tenant_id),
    at        timestamptz NOT NULL DEFAULT now(),
    actor     text NOT NULL,
    action    text NOT NULL,
    subject   text NOT NULL,
    detail    jsonb NOT NULL DEFAULT '{}'
);
