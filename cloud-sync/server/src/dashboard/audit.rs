//! `/audit`: the practice's audit log, every change made in the cloud and
//! every entry its boxes send, with who, when and from where; filtered by
//! action, person and days; `/audit.csv` downloads the same selection,
//! streamed in pages so a long log never sits in memory. Owner only: it
//! holds the staff's addresses.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use deadpool_postgres::Pool;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::routes::{Access, Routes};
use super::session::{Refused, SignedIn, busy};
use super::{message, page};
use crate::api::AppState;

/// Entries on one page; older ones are a link away.
pub const PAGE: i64 = 100;
/// Entries read per round trip while streaming the CSV.
const CSV_BATCH: i64 = 2000;

pub fn routes(r: Routes) -> Routes {
    r.get("/audit", Access::Owner, show)
        .get("/audit.csv", Access::Owner, csv)
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
struct Filter {
    /// Actions starting with this ("staff.", "checkin.").
    action: String,
    /// Actors containing this (an email, "operator", a box's staff name).
    actor: String,
    from: String,
    to: String,
    /// Entries older than this id (the next page).
    before: Option<i64>,
}

/// The filter as SQL parameters: (action prefix, actor part, from, to) as
/// the practice's days, checked.
struct Selection {
    action: Option<String>,
    actor: Option<String>,
    from: Option<Date>,
    to: Option<Date>,
    zone: String,
}

fn day(field: &str, text: &str) -> Result<Option<Date>, String> {
    match text.trim() {
        "" => Ok(None),
        t => t
            .parse::<Date>()
            .map(Some)
            .map_err(|_| format!("{field}: \"{t}\" is not a date like 2026-12-07")),
    }
}

impl Filter {
    fn select(&self, zone: String) -> Result<Selection, String> {
        let text = |s: &str, what: &str| -> Result<Option<String>, String> {
            let s = s.trim();
            if s.chars().count() > 100 {
                return Err(format!("{what}: at most 100 characters"));
            }
            Ok(Some(s.to_string()).filter(|s| !s.is_empty()))
        };
        let (from, to) = (day("From", &self.from)?, day("To", &self.to)?);
        if let (Some(a), Some(b)) = (from, to)
            && a > b
        {
            return Err("From: the first day comes after the last".into());
        }
        Ok(Selection {
            action: text(&self.action, "Action")?,
            actor: text(&self.actor, "Who")?,
            from,
            to,
            zone,
        })
    }
}

const SELECT: &str = "SELECT id, (extract(epoch FROM at) * 1000)::bigint, actor, action, subject,
            coalesce(ip, (SELECT 'box: ' || CASE WHEN d.name = '' THEN d.device_id ELSE d.name END
                          FROM devices d WHERE d.device_id = audit_log.detail->>'box'), ''),
            coalesce(user_agent, '')
     FROM audit_log
     WHERE tenant_id = $1
       AND ($2::text IS NULL OR action LIKE replace(replace($2, '%', '\\%'), '_', '\\_') || '%')
       AND ($3::text IS NULL OR strpos(lower(actor), lower($3)) > 0)
       AND ($4::text IS NULL OR at >= ($4::date::timestamp AT TIME ZONE $6))
       AND ($5::text IS NULL OR at < (($5::date + 1)::timestamp AT TIME ZONE $6))
       AND ($7::bigint IS NULL OR id < $7)
     ORDER BY id DESC
     LIMIT $8";

#[derive(Serialize)]
struct Entry {
    id: i64,
    at: String,
    actor: String,
    action: String,
    subject: String,
    ip: String,
    user_agent: String,
    /// The user agent cut for the table (the CSV has it whole).
    agent_short: String,
}

async fn entries(
    pool: &Pool,
    tenant: &str,
    s: &Selection,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Entry>, Refused> {
    let client = pool.get().await.map_err(busy)?;
    let tz = TimeZone::get(&s.zone).unwrap_or(TimeZone::UTC);
    let (from, to) = (s.from.map(|d| d.to_string()), s.to.map(|d| d.to_string()));
    let rows = client
        .query(
            SELECT,
            &[
                &tenant, &s.action, &s.actor, &from, &to, &s.zone, &before, &limit,
            ],
        )
        .await
        .map_err(busy)?;
    rows.iter()
        .map(|r| {
            let ms: i64 = r.try_get(1)?;
            Ok(Entry {
                id: r.try_get(0)?,
                at: jiff::Timestamp::from_millisecond(ms)
                    .map(|t| {
                        t.to_zoned(tz.clone())
                            .strftime("%Y-%m-%d %H:%M:%S")
                            .to_string()
                    })
                    .unwrap_or_default(),
                actor: r.try_get(2)?,
                action: r.try_get(3)?,
                subject: r.try_get(4)?,
                ip: r.try_get(5)?,
                agent_short: {
                    let ua: String = r.try_get(6)?;
                    if ua.chars().count() > 40 {
                        format!("{}…", ua.chars().take(39).collect::<String>())
                    } else {
                        ua
                    }
                },
                user_agent: r.try_get(6)?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(busy)
}

/// The practice's time zone (the days of the filter are its days).
async fn zone(pool: &Pool, tenant: &str) -> Result<String, Refused> {
    let client = pool.get().await.map_err(busy)?;
    Ok(super::practice_zone(&**client, tenant).await?.0)
}

fn refused(why: &str) -> Response {
    message(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Those entries cannot be shown",
        &format!("{why}."),
    )
}

async fn show(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    Query(filter): Query<Filter>,
) -> Response {
    let result = async {
        let tenant = who.owner_page()?;
        let selection = match filter.select(zone(&state.pool, tenant).await?) {
            Ok(s) => s,
            Err(why) => return Ok(refused(&why)),
        };
        let list = entries(&state.pool, tenant, &selection, filter.before, PAGE + 1).await?;
        let more = list.len() as i64 > PAGE;
        let list: Vec<Entry> = list.into_iter().take(PAGE as usize).collect();
        let older = more.then(|| list.last().map(|e| e.id)).flatten();
        let query = serde_urlencoded::to_string([
            ("action", filter.action.trim()),
            ("actor", filter.actor.trim()),
            ("from", filter.from.trim()),
            ("to", filter.to.trim()),
        ])
        .unwrap_or_default();
        Ok(page(
            StatusCode::OK,
            "audit.html",
            minijinja::context! {
                who => super::who(&who, "/audit"),
                entries => list,
                older,
                query,
                f => minijinja::context! {
                    action => filter.action.trim(),
                    actor => filter.actor.trim(),
                    from => filter.from.trim(),
                    to => filter.to.trim(),
                },
                zone => selection.zone,
            },
        ))
    }
    .await;
    result.unwrap_or_else(|r: Refused| r.into_response())
}

/// A spreadsheet must not run what the log holds: a cell that would start
/// a formula is quoted as text.
fn cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

fn csv_rows(list: &[Entry], header: bool) -> Result<Bytes, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(list.len() * 128));
    if header {
        w.write_record(["id", "at", "who", "action", "subject", "ip", "user_agent"])?;
    }
    for e in list {
        w.write_record([
            e.id.to_string(),
            e.at.clone(),
            cell(&e.actor),
            cell(&e.action),
            cell(&e.subject),
            cell(&e.ip),
            cell(&e.user_agent),
        ])?;
    }
    w.into_inner()
        .map(Bytes::from)
        .map_err(|e| csv::Error::from(e.into_error()))
}

async fn csv(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    Query(filter): Query<Filter>,
) -> Response {
    let start = async {
        let tenant = who.owner_page().map_err(IntoResponse::into_response)?;
        let zone = zone(&state.pool, tenant)
            .await
            .map_err(IntoResponse::into_response)?;
        let selection = filter.select(zone).map_err(|why| refused(&why))?;
        Ok::<_, Response>((tenant.to_string(), selection))
    }
    .await;
    let (tenant, selection) = match start {
        Ok(s) => s,
        Err(response) => return response,
    };
    let pool = state.pool.clone();
    // (next page's `before`, first page?, done?)
    let pages = futures_util::stream::unfold(
        (filter.before, true, false),
        move |(before, first, done)| {
            let (pool, tenant) = (pool.clone(), tenant.clone());
            let selection = Selection {
                action: selection.action.clone(),
                actor: selection.actor.clone(),
                from: selection.from,
                to: selection.to,
                zone: selection.zone.clone(),
            };
            async move {
                if done {
                    return None;
                }
                let list = match entries(&pool, &tenant, &selection, before, CSV_BATCH).await {
                    Ok(list) => list,
                    Err(_) => {
                        return Some((
                            Err(std::io::Error::other("the audit log could not be read")),
                            (None, false, true),
                        ));
                    }
                };
                let last = (list.len() as i64 == CSV_BATCH)
                    .then(|| list.last().map(|e| e.id))
                    .flatten();
                let bytes = csv_rows(&list, first).map_err(std::io::Error::other);
                Some((bytes, (last, false, last.is_none())))
            }
        },
    );
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit-log.csv\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(pages),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_quoted_as_text() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("owner@clinic.example"), "owner@clinic.example");
        let rows = csv_rows(
            &[Entry {
                id: 1,
                at: "2026-12-07 10:00:00".into(),
                actor: "a, \"b\"".into(),
                action: "staff.removed".into(),
                subject: "-1".into(),
                ip: String::new(),
                user_agent: String::new(),
                agent_short: String::new(),
            }],
            true,
        )
        .unwrap();
        let text = String::from_utf8(rows.to_vec()).unwrap();
        assert_eq!(
            text,
            "id,at,who,action,subject,ip,user_agent\n1,2026-12-07 10:00:00,\"a, \"\"b\"\"\",staff.removed,'-1,,\n"
        );
    }

    #[test]
    fn filters_are_checked() {
        let f = |from: &str, to: &str| Filter {
            from: from.into(),
            to: to.into(),
            ..Filter::default()
        };
        assert!(f("", "").select("UTC".into()).is_ok());
        assert!(f("2026-12-08", "2026-12-01").select("UTC".into()).is_err());
        let e = f("yesterday", "").select("UTC".into()).err().unwrap();
        assert!(e.starts_with("From:"), "{e}");
    }
}
