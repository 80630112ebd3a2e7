-- Each check-in takes the next ticket number of the day (MAX(ticket)); without
-- this index the single writer scanned the whole day inside its transaction.
CREATE INDEX checkins_ticket ON checkins(tenant_id, local_date, ticket);
