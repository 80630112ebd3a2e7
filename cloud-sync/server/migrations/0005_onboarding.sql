-- Self-serve onboarding: what a paid Stripe Checkout creates, and what the
-- subscription's state decides.

-- Stripe's side of a tenant. A Checkout Session and a subscription each
-- provision at most one tenant, whichever event (or process) gets there
-- first.
ALTER TABLE tenants ADD COLUMN stripe_subscription_id text UNIQUE;
ALTER TABLE tenants ADD COLUMN stripe_checkout_session_id text UNIQUE;
-- When the subscription was first seen past due: the grace period runs
-- from here; cleared when it is paid again.
ALTER TABLE tenants ADD COLUMN past_due_since timestamptz;
-- One customer may buy for several clinics (one subscription each).
CREATE INDEX tenants_by_stripe_customer ON tenants (stripe_customer_id);

-- What applying an event did ("provisioned t-…", "status active", or why it
-- could not be applied: an operator reads these).
ALTER TABLE stripe_events ADD COLUMN outcome text;

-- People who sign in to the dashboard. An owner's account is created
-- without a password; the welcome email's link sets it. Operators have no
-- tenant.
CREATE TABLE accounts (
    account_id    text PRIMARY KEY,
    tenant_id     text REFERENCES tenants(tenant_id),
    email         text NOT NULL,
    role          text NOT NULL CHECK (role IN ('owner', 'staff', 'operator')),
    password_hash text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'operator') = (tenant_id IS NULL))
);
CREATE UNIQUE INDEX accounts_by_email ON accounts (tenant_id, lower(email));
CREATE UNIQUE INDEX operators_by_email ON accounts (lower(email)) WHERE tenant_id IS NULL;

-- Single-use links that set a password (welcome, reset); only their
-- SHA-256 is kept.
CREATE TABLE password_links (
    token_hash  text PRIMARY KEY,
    account_id  text NOT NULL REFERENCES accounts(account_id),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Emails to send, written in the transaction that decided them; a worker
-- sends each once. `dedupe` makes "one welcome email per tenant" a
-- constraint, not a hope. The links an email carries are minted when it is
-- sent, so no secret is ever stored here.
CREATE TABLE email_outbox (
    email_id        bigserial PRIMARY KEY,
    tenant_id       text REFERENCES tenants(tenant_id),
    account_id      text REFERENCES accounts(account_id),
    kind            text NOT NULL,
    dedupe          text NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- A worker holds the row while it sends (lease); sent_at when done.
    claimed_until   timestamptz,
    sent_at         timestamptz,
    last_error      text
);
CREATE INDEX email_outbox_due ON email_outbox (next_attempt_at) WHERE sent_at IS NULL;
