-- The config version each box holds: the version it asks to be told
-- about changes after (`GET /v1/config?since=`), so the owner's page can
-- say when a box has taken a change.
ALTER TABLE devices ADD COLUMN config_version bigint;
