-- The owner's check-ins page and its 30-day charts read one practice's
-- days: by (tenant, day), not by scanning the practice's every check-in.
CREATE INDEX checkins_by_day ON checkins (tenant_id, local_date);
