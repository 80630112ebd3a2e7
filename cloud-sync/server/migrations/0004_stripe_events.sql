-- Stripe webhook deliveries, one row per Stripe event id: the guard that
-- applies each event at most once, whichever sos-cloud process receives it
-- and however often Stripe retries. The payload is kept for the handler
-- that applies it (it holds the customer's email: never logged).
CREATE TABLE stripe_events (
    event_id     text PRIMARY KEY,
    event_type   text NOT NULL,
    -- Stripe's own time of the event (unix seconds).
    created      bigint NOT NULL,
    livemode     boolean NOT NULL,
    payload      jsonb NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    -- Set once the event has been applied (a later slice applies them).
    applied_at   timestamptz
);
CREATE INDEX stripe_events_unapplied ON stripe_events (received_at) WHERE applied_at IS NULL;
