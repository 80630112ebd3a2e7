-- Each box's latest HTTPS certificate (publicly trusted, obtained by the
-- cloud through ACME DNS-01 for the box's key) and the cloud's ACME
-- account per directory. No patient data.
CREATE TABLE device_certificates (
    device_id   text PRIMARY KEY REFERENCES devices (device_id),
    name        text NOT NULL,
    -- The box's public key (DER SubjectPublicKeyInfo): a request for the
    -- same key while the certificate is young is answered with it.
    public_key  bytea NOT NULL,
    chain_pem   text NOT NULL,
    not_before  timestamptz NOT NULL,
    not_after   timestamptz NOT NULL,
    issued_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE acme_accounts (
    directory   text PRIMARY KEY,
    credentials text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
