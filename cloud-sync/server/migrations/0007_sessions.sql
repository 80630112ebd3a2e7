-- Signing in to the dashboard: sessions, failed sign-ins, a per-address
-- limit, and where an audited change came from.

-- A signed-in browser. Only the SHA-256 of the cookie's secret is kept;
-- `csrf` is the token every form of this session must carry. A session
-- ends when its owner signs out, when the password changes, when the
-- account is removed, after `idle` without a request, or at `expires_at`.
CREATE TABLE sessions (
    token_hash   text PRIMARY KEY,
    account_id   text NOT NULL REFERENCES accounts(account_id),
    csrf         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    idle         interval NOT NULL,
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz,
    ip           text,
    user_agent   text
);
CREATE INDEX sessions_by_account ON sessions (account_id) WHERE ended_at IS NULL;

-- Failed sign-ins per address typed (whether or not an account has it, so
-- the answer never tells which addresses exist); `locked_until` grows with
-- each failure past the fifth.
CREATE TABLE login_failures (
    email        text PRIMARY KEY,
    failures     integer NOT NULL,
    locked_until timestamptz,
    last_at      timestamptz NOT NULL DEFAULT now()
);

-- Sign-in attempts per client address in a fixed window.
CREATE TABLE login_throttle (
    ip           text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    attempts     integer NOT NULL
);

-- Staff an owner removed keep their rows (the audit log names them) but
-- can no longer sign in.
ALTER TABLE accounts ADD COLUMN removed_at timestamptz;

-- Where a change made from a browser came from.
ALTER TABLE audit_log ADD COLUMN ip text;
ALTER TABLE audit_log ADD COLUMN user_agent text;
CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, at DESC);
