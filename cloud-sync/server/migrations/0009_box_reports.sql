-- What each box last reported about itself (`POST /v1/report`): software
-- version, events waiting, its TVs, speaker and microphone. The latest
-- report only; no patient data.
ALTER TABLE devices ADD COLUMN report jsonb;
ALTER TABLE devices ADD COLUMN reported_at timestamptz;
