//! The lobby TVs: pairing, naming, revocation and the plan's TV limit here;
//! the TV page and its WebSocket in [`http`].
//!
//! A TV connects to `/tv/ws` and says hello with its token (or none). A TV
//! without a valid token is shown a pairing code and nothing about anyone;
//! once staff approve the code it receives a token and, on the same socket,
//! a full snapshot of the lobby followed by every change in sequence.

pub mod clips;
pub mod http;
pub mod hub;
pub mod pairing;
pub mod speaker;

use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use crate::core::Core;
use crate::secrets::{random_token, token_hash};
use crate::store::{self, DisplayRow, StoreError, now_ms};
use pairing::{Grant, Pairings};

/// A TV silent this long is considered gone.
pub(crate) const DEAD_AFTER: Duration = Duration::from_secs(35);

#[derive(Debug, thiserror::Error)]
pub enum DisplayError {
    #[error("No TV is showing the code \"{0}\" right now. Check the code on the TV screen.")]
    NoSuchCode(String),
    #[error("The TV stopped waiting before it could be paired. Refresh the TV and try again.")]
    TvGone,
    #[error(
        "Your plan allows {0} TV(s) and that many are paired. Remove one, or upgrade the plan."
    )]
    PlanLimit(usize),
    #[error("Please give the TV a name of at most 40 characters.")]
    BadName,
    #[error("No such TV.")]
    UnknownDisplay,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Staff approve the code a TV is showing.
pub async fn approve(
    core: &Core,
    pairings: &Pairings,
    code: &str,
    name: &str,
    actor: String,
) -> Result<DisplayRow, DisplayError> {
    let name = clean_name(name)?;
    let code = pairing::normalise_code(code);
    let tenant = core.tenant_id();
    check_plan_limit(core).await?;
    let grant_tx = pairings
        .claim(&code)
        .ok_or_else(|| DisplayError::NoSuchCode(code.clone()))?;
    let (row, token) = insert_display(core, name.clone(), actor).await?;
    let grant = Grant {
        display_id: row.display_id.clone(),
        name,
        token,
    };
    if grant_tx.send(grant).is_err() {
        // The TV left between claim and now: its token was never seen, so
        // make sure it can never be used.
        let (t, id) = (tenant, row.display_id.clone());
        core.store
            .write(move |txn| store::revoke_display(txn, &t, &id, now_ms()))
            .await?;
        return Err(DisplayError::TvGone);
    }
    Ok(row)
}

fn clean_name(name: &str) -> Result<String, DisplayError> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let name = if name.is_empty() {
        "Lobby TV".to_string()
    } else {
        name
    };
    if name.chars().count() > 40 || name.chars().any(char::is_control) {
        return Err(DisplayError::BadName);
    }
    Ok(name)
}

async fn check_plan_limit(core: &Core) -> Result<(), DisplayError> {
    let practice = core.practice();
    let tenant = practice.tenant_id().to_string();
    let max = practice.max_displays();
    let active = core
        .store
        .read(move |c| store::list_displays(c, &tenant))
        .await?
        .iter()
        .filter(|d| d.revoked_at.is_none())
        .count();
    if active >= max {
        return Err(DisplayError::PlanLimit(max));
    }
    Ok(())
}

async fn insert_display(
    core: &Core,
    name: String,
    actor: String,
) -> Result<(DisplayRow, String), DisplayError> {
    let token = random_token();
    let row = DisplayRow {
        display_id: uuid::Uuid::now_v7().to_string(),
        name,
        paired_at: now_ms(),
        paired_by: actor.clone(),
        revoked_at: None,
        last_seen_at: None,
    };
    let (r, h, t) = (row.clone(), token_hash(&token), core.tenant_id());
    core.store
        .write(move |txn| {
            store::insert_display(txn, &t, &r, &h)?;
            store::append_audit(
                txn,
                &t,
                &actor,
                "display.paired",
                &r.display_id,
                &json!({"name": r.name}),
            )
        })
        .await?;
    Ok((row, token))
}

/// Pairs a TV without a code (a Cast receiver that presented a one-time
/// grant): the same checks and records as [`approve`].
pub async fn create_display(
    core: &Core,
    name: &str,
    actor: String,
) -> Result<(DisplayRow, String), DisplayError> {
    let name = clean_name(name)?;
    check_plan_limit(core).await?;
    insert_display(core, name, actor).await
}

pub async fn revoke(core: &Core, display_id: &str, actor: String) -> Result<(), DisplayError> {
    let tenant = core.tenant_id();
    let id = display_id.to_string();
    let revoked = core
        .store
        .write(move |txn| {
            let ok = store::revoke_display(txn, &tenant, &id, now_ms())?;
            if ok {
                store::append_audit(txn, &tenant, &actor, "display.revoked", &id, &json!({}))?;
            }
            Ok(ok)
        })
        .await?;
    if !revoked {
        return Err(DisplayError::UnknownDisplay);
    }
    core.hub.revoke(display_id);
    Ok(())
}

/// A paired TV as staff see it.
#[derive(Debug, Serialize)]
pub struct DisplayStatus {
    #[serde(flatten)]
    pub row: DisplayRow,
    pub online: bool,
    pub last_seen_ms: Option<i64>,
}

pub async fn statuses(core: &Core, pairings: &Pairings) -> Result<Vec<DisplayStatus>, StoreError> {
    let tenant = core.tenant_id();
    let rows = core
        .store
        .read(move |c| store::list_displays(c, &tenant))
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let live = pairings.live(&row.display_id);
            let online = row.revoked_at.is_none()
                && live.as_ref().is_some_and(|l| {
                    l.connections > 0 && now_ms() - l.last_seen_ms < DEAD_AFTER.as_millis() as i64
                });
            let last_seen_ms = live.map(|l| l.last_seen_ms).or(row.last_seen_at);
            DisplayStatus {
                row,
                online,
                last_seen_ms,
            }
        })
        .collect())
}
