-- Which welcome email minted a password link or a box token: a new attempt
-- to send it revokes what an earlier, failed attempt minted.
ALTER TABLE password_links ADD COLUMN email_id bigint REFERENCES email_outbox(email_id);
ALTER TABLE provisioning_tokens ADD COLUMN email_id bigint REFERENCES email_outbox(email_id);
CREATE INDEX password_links_by_account ON password_links (account_id);
