-- Front-desk staff of a tenant, replicated to its boxes. Only an argon2id
-- hash of the PIN or password is kept.
CREATE TABLE staff (
    tenant_id   text NOT NULL REFERENCES tenants(tenant_id),
    staff_id    text NOT NULL,
    name        text NOT NULL,
    secret_hash text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, staff_id)
);
