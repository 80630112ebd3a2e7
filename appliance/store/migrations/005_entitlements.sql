-- What the practice's plan in its status allows, as the cloud decided it
-- (JSON, cloud_sync::plans::Entitlements). NULL on a box without a cloud:
-- it then works it out from plan and status.
ALTER TABLE tenant ADD COLUMN entitlements TEXT;
