-- An operator "logged in as" a practice: the operator's own session, for a
-- while about that practice. Everything they change there is audited in
-- the practice's log under the operator's name; `acting_until` ends it by
-- itself (the next request after it clears these and audits the end).
ALTER TABLE sessions ADD COLUMN acting_tenant text REFERENCES tenants(tenant_id);
ALTER TABLE sessions ADD COLUMN acting_until timestamptz;
