//! Events up: a batch from one box, recorded once per event id and applied
//! in outbox order, in one transaction.
//!
//! The steps: [`record`] every event (the idempotency key is the tenant and
//! the event id: a retried batch records nothing twice), sort the new ones
//! by what they change ([`Applied::sort`]), then apply arrivals, usage and
//! status changes. Payloads arrive already read as
//! [`cloud_sync::events::BoxEvent`]s by `wire::validate_batch`.

use std::collections::{HashMap, HashSet};

use cloud_sync::events::{AuditEntry, BoxEvent, CheckinArrived, CheckinStatusChanged, Usage};
use cloud_sync::wire;
use deadpool_postgres::{Pool, Transaction};

use crate::db::DbError;

/// How a batch went: events seen for the first time, and events already
/// recorded by an earlier delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ingested {
    pub applied: usize,
    pub duplicates: usize,
}

/// Records and applies `events` (with `parsed[i]` read from `events[i]`)
/// for the device `device` of `tenant`.
pub async fn ingest(
    pool: &Pool,
    tenant: &str,
    device: &str,
    events: &[wire::Event],
    parsed: &[Option<BoxEvent>],
) -> Result<Ingested, DbError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let new = record(&tx, tenant, device, events).await?;
    let fresh = events
        .iter()
        .zip(parsed)
        .filter(|(e, _)| new.contains(&e.event_id.to_ascii_lowercase()));
    let applied = Applied::sort(fresh);
    let at = (tenant, device);
    apply_arrivals(&tx, at, &applied.arrivals).await?;
    apply_usage(&tx, at, &applied.usage).await?;
    apply_statuses(&tx, at, &applied.statuses).await?;
    apply_audit(&tx, at, &applied.audit).await?;
    tx.commit().await?;
    Ok(Ingested {
        applied: new.len(),
        duplicates: events.len() - new.len(),
    })
}

/// Stores every event of the batch as sent (known kinds and unknown ones)
/// and returns the ids (lower case) that were not stored before.
async fn record(
    tx: &Transaction<'_>,
    tenant: &str,
    device: &str,
    events: &[wire::Event],
) -> Result<HashSet<String>, DbError> {
    let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    let payloads: Vec<String> = events.iter().map(|e| e.payload.to_string()).collect();
    let created: Vec<i64> = events.iter().map(|e| e.created_at).collect();
    let insert = tx
        .prepare_cached(
            "INSERT INTO events (tenant_id, event_id, device_id, seq, kind, payload, created_at)
             SELECT $1, e.id::uuid, $2, e.seq, e.kind, e.payload::jsonb, e.created
             FROM unnest($3::text[], $4::bigint[], $5::text[], $6::text[], $7::bigint[])
                  AS e(id, seq, kind, payload, created)
             ON CONFLICT (tenant_id, event_id) DO NOTHING
             RETURNING event_id::text",
        )
        .await?;
    let rows = tx
        .query(
            &insert,
            &[&tenant, &device, &ids, &seqs, &kinds, &payloads, &created],
        )
        .await?;
    rows.iter()
        .map(|r| r.try_get::<_, String>(0).map_err(DbError::from))
        .collect()
}

/// The new events of a batch, by what they change.
#[derive(Default)]
struct Applied<'a> {
    arrivals: Vec<&'a CheckinArrived>,
    /// With the outbox seq, which orders status changes across batches.
    statuses: Vec<(&'a CheckinStatusChanged, i64)>,
    /// With the event id and kind.
    usage: Vec<(&'a str, &'a str, Usage<'a>)>,
    audit: Vec<&'a AuditEntry>,
}

impl<'a> Applied<'a> {
    fn sort(fresh: impl Iterator<Item = (&'a wire::Event, &'a Option<BoxEvent>)>) -> Self {
        let mut out = Applied::default();
        for (e, parsed) in fresh {
            let Some(event) = parsed else { continue };
            if let Some(usage) = event.usage() {
                out.usage.push((&e.event_id, &e.kind, usage));
            }
            match event {
                BoxEvent::CheckinArrived(a) => out.arrivals.push(a),
                BoxEvent::CheckinStatus(s) => out.statuses.push((s, e.seq)),
                BoxEvent::Audit(a) => out.audit.push(a),
                _ => {}
            }
        }
        out
    }
}

/// One row per check-in (the last arrival of the batch wins: a single
/// INSERT … ON CONFLICT DO UPDATE may not touch a row twice).
async fn apply_arrivals(
    tx: &Transaction<'_>,
    (tenant, device): (&str, &str),
    arrivals: &[&CheckinArrived],
) -> Result<(), DbError> {
    if arrivals.is_empty() {
        return Ok(());
    }
    let last: HashMap<&str, usize> = arrivals
        .iter()
        .enumerate()
        .map(|(i, a)| (a.checkin_id.as_str(), i))
        .collect();
    let kept: Vec<&CheckinArrived> = arrivals
        .iter()
        .enumerate()
        .filter(|(i, a)| last.get(a.checkin_id.as_str()) == Some(i))
        .map(|(_, a)| *a)
        .collect();
    let ids: Vec<&str> = kept.iter().map(|a| a.checkin_id.as_str()).collect();
    let appointments: Vec<Option<&str>> =
        kept.iter().map(|a| a.appointment_id.as_deref()).collect();
    let patients: Vec<Option<&str>> = kept.iter().map(|a| a.patient_id.as_deref()).collect();
    let walk_ins: Vec<bool> = kept.iter().map(|a| a.walk_in).collect();
    let methods: Vec<&str> = kept.iter().map(|a| a.method.as_str()).collect();
    let days: Vec<&str> = kept.iter().map(|a| a.local_date.as_str()).collect();
    let tickets: Vec<i64> = kept.iter().map(|a| a.ticket).collect();
    let ats: Vec<i64> = kept.iter().map(|a| a.arrived_at).collect();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO checkins (tenant_id, checkin_id, device_id, appointment_id, patient_id,
                                   walk_in, method, local_date, ticket, arrived_at)
             SELECT $1, a.id, $2, a.appt, a.patient, a.walk_in, a.method, a.day, a.ticket, a.at
             FROM unnest($3::text[], $4::text[], $5::text[], $6::bool[], $7::text[], $8::text[],
                         $9::bigint[], $10::bigint[])
                  AS a(id, appt, patient, walk_in, method, day, ticket, at)
             ON CONFLICT (tenant_id, checkin_id) DO UPDATE SET
                 appointment_id = excluded.appointment_id, patient_id = excluded.patient_id,
                 walk_in = excluded.walk_in, method = excluded.method,
                 local_date = excluded.local_date, ticket = excluded.ticket,
                 arrived_at = excluded.arrived_at",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &tenant,
            &device,
            &ids,
            &appointments,
            &patients,
            &walk_ins,
            &methods,
            &days,
            &tickets,
            &ats,
        ],
    )
    .await?;
    Ok(())
}

/// What the plan counts: one row per billing event.
async fn apply_usage(
    tx: &Transaction<'_>,
    (tenant, device): (&str, &str),
    usage: &[(&str, &str, Usage<'_>)],
) -> Result<(), DbError> {
    if usage.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = usage.iter().map(|(id, _, _)| *id).collect();
    let kinds: Vec<&str> = usage.iter().map(|(_, kind, _)| *kind).collect();
    let checkins: Vec<Option<&str>> = usage.iter().map(|(_, _, u)| u.checkin_id).collect();
    let quantities: Vec<f64> = usage.iter().map(|(_, _, u)| u.quantity).collect();
    let ats: Vec<i64> = usage.iter().map(|(_, _, u)| u.at).collect();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO billing_events (tenant_id, event_id, device_id, kind, checkin_id, quantity, at)
             SELECT $1, b.id::uuid, $2, b.kind, b.checkin, b.qty, b.at
             FROM unnest($3::text[], $4::text[], $5::text[], $6::float8[], $7::bigint[])
                  AS b(id, kind, checkin, qty, at)
             ON CONFLICT DO NOTHING",
        )
        .await?;
    tx.execute(
        &stmt,
        &[&tenant, &device, &ids, &kinds, &checkins, &quantities, &ats],
    )
    .await?;
    Ok(())
}

/// Status changes after the arrivals (which never touch the status columns),
/// one statement each, pipelined on this connection in outbox order: the
/// same result as applying every event strictly in order. A change older
/// than the one stored (by outbox seq) changes nothing.
async fn apply_statuses(
    tx: &Transaction<'_>,
    (tenant, device): (&str, &str),
    statuses: &[(&CheckinStatusChanged, i64)],
) -> Result<(), DbError> {
    if statuses.is_empty() {
        return Ok(());
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO checkins (tenant_id, checkin_id, device_id, status, room, called_at,
                                   seen_at, status_seq)
             VALUES ($1, $2, $3, $4, $5,
                     CASE WHEN $4 = 'called' THEN $6::bigint END,
                     CASE WHEN $4 = 'seen' THEN $6::bigint END, $7)
             ON CONFLICT (tenant_id, checkin_id) DO UPDATE SET
                 status = excluded.status,
                 room = COALESCE(excluded.room, checkins.room),
                 called_at = COALESCE(excluded.called_at, checkins.called_at),
                 seen_at = COALESCE(excluded.seen_at, checkins.seen_at),
                 status_seq = excluded.status_seq
             WHERE checkins.status_seq < excluded.status_seq",
        )
        .await?;
    let stmt = &stmt;
    let work = statuses.iter().map(|(s, seq)| async move {
        let status = s.status.as_str();
        tx.execute(
            stmt,
            &[
                &tenant,
                &s.checkin_id,
                &device,
                &status,
                &s.room,
                &s.at,
                seq,
            ],
        )
        .await
    });
    futures_util::future::try_join_all(work).await?;
    Ok(())
}

/// The boxes' audit entries, into the practice's audit log beside the
/// cloud's own, marked with the box they came from.
async fn apply_audit(
    tx: &Transaction<'_>,
    (tenant, device): (&str, &str),
    entries: &[&AuditEntry],
) -> Result<(), DbError> {
    if entries.is_empty() {
        return Ok(());
    }
    let actors: Vec<&str> = entries.iter().map(|a| a.actor.as_str()).collect();
    let actions: Vec<&str> = entries.iter().map(|a| a.action.as_str()).collect();
    let subjects: Vec<&str> = entries.iter().map(|a| a.subject.as_str()).collect();
    let ats: Vec<i64> = entries.iter().map(|a| a.at).collect();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO audit_log (tenant_id, at, actor, action, subject, detail)
             SELECT $1, to_timestamp(e.at / 1000.0), e.actor, e.action, e.subject,
                    jsonb_build_object('box', $2::text)
             FROM unnest($3::text[], $4::text[], $5::text[], $6::bigint[])
                  AS e(actor, action, subject, at)",
        )
        .await?;
    tx.execute(
        &stmt,
        &[&tenant, &device, &actors, &actions, &subjects, &ats],
    )
    .await?;
    Ok(())
}
