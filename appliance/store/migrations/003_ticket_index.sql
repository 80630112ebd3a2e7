-- Hot paths of a check-in, found by the benchmark: the day's next ticket
-- number (MAX(ticket)) and the walk-in look-up by name and date of birth
-- both scanned inside the single writer's transaction without these.
CREATE INDEX checkins_ticket ON checkins(tenant_id, local_date, ticket);
CREATE INDEX patients_by_name ON patients(tenant_id, name_key, dob_hash);
