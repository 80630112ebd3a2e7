-- Staff the cloud sent: when the cloud stops sending one (the owner removed
-- them), the box removes it too. Staff set on the box itself (the CLI, the
-- demo) are the box's own and stay.
ALTER TABLE staff ADD COLUMN from_cloud INTEGER NOT NULL DEFAULT 0;
