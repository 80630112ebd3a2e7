//! `/checkins`: a day's check-ins (today by default, or any past day),
//! filtered by provider and status, with the waits (arrival → called →
//! seen) as median and 90th percentile, the day's no-shows, and two charts
//! of the 30 days up to that day: check-ins per day and the median wait.
//!
//! Names: the boxes send ids only; the cloud holds the schedule it sent
//! down, and this page shows a first name and last initial from it
//! (`docs/data.md`). Walk-ins have no name in the cloud.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::charts::{self, Series};
use super::routes::{Access, Routes};
use super::session::{Refused, SignedIn, busy};
use super::{message, page};
use crate::api::AppState;

/// Days the charts cover, up to and including the day shown.
pub const CHART_DAYS: i64 = 30;
/// Most rows one day's table shows (a very busy day says so).
pub const MAX_ROWS: i64 = 1000;

pub fn routes(r: Routes) -> Routes {
    r.get("/checkins", Access::Member, show)
}

pub const STATUSES: &[(&str, &str)] = &[
    ("waiting", "Waiting"),
    ("called", "Called"),
    ("seen", "Seen"),
    ("no_show", "No-show"),
];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Filter {
    day: String,
    provider: String,
    status: String,
}

#[derive(Serialize)]
struct Row {
    arrived: String,
    name: String,
    provider: String,
    method: String,
    status: &'static str,
    room: String,
    /// Minutes from arrival to being called, and from called to seen.
    waited: Option<i64>,
    with_provider: Option<i64>,
}

#[derive(Serialize)]
struct NoShow {
    time: String,
    name: String,
    provider: String,
}

#[derive(Serialize, Default)]
struct Waits {
    median: Option<i64>,
    p90: Option<i64>,
    n: usize,
}

/// Median and 90th percentile (nearest rank) of minutes.
fn waits(mut minutes: Vec<i64>) -> Waits {
    if minutes.is_empty() {
        return Waits::default();
    }
    minutes.sort_unstable();
    let rank = |p: f64| {
        let i = ((p * minutes.len() as f64).ceil() as usize).clamp(1, minutes.len());
        minutes[i - 1]
    };
    Waits {
        median: Some(rank(0.5)),
        p90: Some(rank(0.9)),
        n: minutes.len(),
    }
}

fn status_words(s: &str) -> &'static str {
    STATUSES
        .iter()
        .find(|(id, _)| *id == s)
        .map_or("Unknown", |(_, words)| words)
}

/// "Sarah J." from the schedule's names.
fn short_name(first: &str, last: &str) -> String {
    match last.trim().chars().next() {
        Some(l) => format!("{} {}.", first.trim(), l.to_uppercase()),
        None => first.trim().to_string(),
    }
}

fn clock(ms: Option<i64>, tz: &TimeZone) -> String {
    ms.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map(|t| t.to_zoned(tz.clone()).strftime("%H:%M").to_string())
        .unwrap_or_default()
}

fn minutes_between(from: Option<i64>, to: Option<i64>) -> Option<i64> {
    match (from, to) {
        (Some(a), Some(b)) if b >= a => Some((b - a) / 60_000),
        _ => None,
    }
}

/// The page's query, checked: (day, provider, status).
fn read(f: &Filter, today: Date) -> Result<(Date, Option<String>, Option<&'static str>), String> {
    let day = match f.day.trim() {
        "" => today,
        d => d
            .parse::<Date>()
            .map_err(|_| format!("\"{d}\" is not a date; use one like {today}"))?,
    };
    if day > today {
        return Err(format!(
            "{day} has not happened yet; pick today ({today}) or an earlier day"
        ));
    }
    let status = match f.status.trim() {
        "" => None,
        s => Some(
            STATUSES
                .iter()
                .find(|(id, _)| *id == s)
                .map(|(id, _)| *id)
                .ok_or_else(|| format!("\"{s}\" is not a status"))?,
        ),
    };
    let provider = Some(f.provider.trim().to_string()).filter(|p| !p.is_empty());
    Ok((day, provider, status))
}

async fn show(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    Query(filter): Query<Filter>,
) -> Response {
    let result = async {
        let tenant = who.tenant()?;
        let client = state.pool.get().await.map_err(busy)?;
        let (_, tz) = super::practice_zone(&**client, tenant).await?;
        let now = jiff::Timestamp::now();
        let today = now.to_zoned(tz.clone()).date();
        let (day, provider, status) = match read(&filter, today) {
            Ok(q) => q,
            Err(why) => {
                return Ok(message(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "That day cannot be shown",
                    &format!("{why}."),
                ));
            }
        };
        let day_text = day.to_string();
        let from = day
            .checked_sub(jiff::Span::new().days(CHART_DAYS - 1))
            .map_err(busy)?;
        let from_text = from.to_string();

        let rows = client
            .query(
                "SELECT c.arrived_at, c.called_at, c.seen_at, c.status, coalesce(c.room, ''),
                        c.walk_in, coalesce(c.method, ''), c.ticket,
                        a.first_name, a.last_name, a.provider_name
                 FROM checkins c
                 LEFT JOIN appointments a
                   ON a.tenant_id = c.tenant_id AND a.appointment_id = c.appointment_id
                 WHERE c.tenant_id = $1 AND c.local_date = $2
                   AND ($3::text IS NULL OR a.provider_id = $3)
                   AND ($4::text IS NULL OR c.status = $4)
                 ORDER BY c.arrived_at NULLS LAST, c.checkin_id
                 LIMIT $5",
                &[&tenant, &day_text, &provider, &status, &MAX_ROWS],
            )
            .await
            .map_err(busy)?;
        let mut table = Vec::with_capacity(rows.len());
        let (mut waited, mut with_provider) = (Vec::new(), Vec::new());
        for r in &rows {
            let read = || -> Result<Row, tokio_postgres::Error> {
                let arrived: Option<i64> = r.try_get(0)?;
                let called: Option<i64> = r.try_get(1)?;
                let seen: Option<i64> = r.try_get(2)?;
                let walk_in: bool = r.try_get(5)?;
                let ticket: Option<i64> = r.try_get(7)?;
                let first: Option<String> = r.try_get(8)?;
                let last: Option<String> = r.try_get(9)?;
                let name = match (first, walk_in) {
                    (Some(f), _) => short_name(&f, last.as_deref().unwrap_or("")),
                    (None, true) => match ticket {
                        Some(t) => format!("Walk-in (ticket {t})"),
                        None => "Walk-in".into(),
                    },
                    (None, false) => "Not on the schedule".into(),
                };
                Ok(Row {
                    arrived: clock(arrived, &tz),
                    name,
                    provider: r.try_get::<_, Option<String>>(10)?.unwrap_or_default(),
                    method: r.try_get(6)?,
                    status: status_words(&r.try_get::<_, String>(3)?),
                    room: r.try_get(4)?,
                    waited: minutes_between(arrived, called),
                    with_provider: minutes_between(called, seen),
                })
            };
            let row = read().map_err(busy)?;
            waited.extend(row.waited);
            with_provider.extend(row.with_provider);
            table.push(row);
        }

        // Scheduled, not cancelled, their time passed, and no check-in.
        let no_shows = client
            .query(
                "SELECT a.starts_at, a.first_name, a.last_name, a.provider_name
                 FROM appointments a
                 WHERE a.tenant_id = $1 AND a.local_date = $2::text::date AND NOT a.cancelled
                   AND a.starts_at < $3
                   AND ($4::text IS NULL OR a.provider_id = $4)
                   AND a.appointment_id NOT IN (
                       SELECT c.appointment_id FROM checkins c
                       WHERE c.tenant_id = $1 AND c.local_date = $2 AND c.appointment_id IS NOT NULL)
                 ORDER BY a.starts_at",
                &[&tenant, &day_text, &now.as_millisecond(), &provider],
            )
            .await
            .map_err(busy)?
            .iter()
            .map(|r| {
                Ok(NoShow {
                    time: clock(r.try_get(0)?, &tz),
                    name: short_name(&r.try_get::<_, String>(1)?, &r.try_get::<_, String>(2)?),
                    provider: r.try_get(3)?,
                })
            })
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            .map_err(busy)?;

        let providers = client
            .query(
                "SELECT DISTINCT provider_id, provider_name FROM appointments
                 WHERE tenant_id = $1 AND local_date BETWEEN $2::text::date AND $3::text::date
                 ORDER BY provider_name",
                &[&tenant, &from_text, &day_text],
            )
            .await
            .map_err(busy)?
            .iter()
            .map(|r| {
                let id: String = r.try_get(0)?;
                let name: String = r.try_get(1)?;
                Ok(minijinja::context! { selected => provider.as_deref() == Some(id.as_str()), id, name })
            })
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            .map_err(busy)?;

        let per_day = client
            .query(
                "SELECT local_date, count(*)::bigint,
                        -- The same median as the day's figure: nearest rank, whole minutes.
                        floor((percentile_disc(0.5) WITHIN GROUP (ORDER BY (called_at - arrived_at))
                           FILTER (WHERE called_at >= arrived_at))::float8 / 60000.0)
                 FROM checkins
                 WHERE tenant_id = $1 AND local_date BETWEEN $2 AND $3
                 GROUP BY local_date",
                &[&tenant, &from_text, &day_text],
            )
            .await
            .map_err(busy)?;
        drop(client);
        let (charts, total_30) = chart_images(from, &per_day).map_err(busy)?;
        Ok(page(
            StatusCode::OK,
            "checkins.html",
            minijinja::context! {
                who => super::who(&who, "/checkins"),
                day => day_text,
                today => today.to_string(),
                is_today => day == today,
                previous => day.yesterday().map(|d| d.to_string()).ok(),
                next => day.tomorrow().ok().filter(|d| *d <= today).map(|d| d.to_string()),
                status => status.unwrap_or(""),
                statuses => STATUSES.iter().map(|(id, label)| minijinja::context! { id, label }).collect::<Vec<_>>(),
                providers,
                rows => table,
                truncated => rows.len() as i64 == MAX_ROWS,
                waited => waits(waited),
                with_provider => waits(with_provider),
                no_shows,
                charts,
                total_30,
                chart_days => CHART_DAYS,
            },
        ))
    }
    .await;
    result.unwrap_or_else(|r: Refused| r.into_response())
}

/// A day of the charts, as the table behind them shows it.
#[derive(Serialize)]
struct TrendDay {
    day: String,
    checkins: i64,
    median: Option<i64>,
}

/// The two 30-day charts as images with the figures behind them, and the
/// check-ins they count.
fn chart_images(
    from: Date,
    per_day: &[tokio_postgres::Row],
) -> Result<(minijinja::Value, i64), String> {
    let mut labels = Vec::with_capacity(CHART_DAYS as usize);
    let mut counts = vec![None; CHART_DAYS as usize];
    let mut medians = vec![None; CHART_DAYS as usize];
    let mut index = std::collections::HashMap::new();
    let mut d = from;
    for i in 0..CHART_DAYS as usize {
        labels.push(d.strftime("%-d %b").to_string());
        index.insert(d.to_string(), i);
        d = d.tomorrow().map_err(|e| e.to_string())?;
    }
    let mut total = 0;
    for r in per_day {
        let day: String = r.try_get(0).map_err(|e| e.to_string())?;
        let n: i64 = r.try_get(1).map_err(|e| e.to_string())?;
        let median: Option<f64> = r.try_get(2).map_err(|e| e.to_string())?;
        if let Some(i) = index.get(&day) {
            counts[*i] = Some(n as f64);
            medians[*i] = median;
            total += n;
        }
    }
    let checkins = charts::bars(&Series {
        title: "Check-ins per day",
        days: &labels,
        values: &counts,
        unit: "check-ins",
    })?;
    let waits = charts::line(&Series {
        title: "Median wait to be called",
        days: &labels,
        values: &medians,
        unit: "minutes",
    })?;
    let figures: Vec<TrendDay> = labels
        .iter()
        .zip(counts.iter().zip(&medians))
        .filter(|(_, (n, _))| n.is_some())
        .map(|(day, (n, m))| TrendDay {
            day: day.clone(),
            checkins: n.unwrap_or(0.0) as i64,
            median: m.map(|m| m as i64),
        })
        .collect();
    Ok((
        minijinja::context! {
            checkins => super::svg_data_uri(&checkins),
            waits => super::svg_data_uri(&waits),
            figures,
        },
        total,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p90_by_nearest_rank() {
        let w = waits((1..=10).collect());
        assert_eq!((w.median, w.p90, w.n), (Some(5), Some(9), 10));
        let one = waits(vec![7]);
        assert_eq!((one.median, one.p90), (Some(7), Some(7)));
        assert!(waits(Vec::new()).median.is_none());
    }

    #[test]
    fn the_query_is_checked_in_plain_words() {
        let today: Date = "2026-12-07".parse().unwrap();
        let q = |day: &str, status: &str| {
            read(
                &Filter {
                    day: day.into(),
                    provider: String::new(),
                    status: status.into(),
                },
                today,
            )
        };
        assert_eq!(q("", "").unwrap().0, today);
        assert!(q("2026-13-01", "").unwrap_err().contains("not a date"));
        assert!(q("2026-12-08", "").unwrap_err().contains("not happened"));
        assert!(q("", "lost").unwrap_err().contains("not a status"));
        assert_eq!(q("2026-11-30", "seen").unwrap().2, Some("seen"));
    }

    #[test]
    fn names_and_waits() {
        assert_eq!(short_name("Sarah", "jones"), "Sarah J.");
        assert_eq!(minutes_between(Some(0), Some(600_000)), Some(10));
        assert_eq!(minutes_between(Some(600_000), Some(0)), None);
    }
}
