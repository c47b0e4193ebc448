//! The Audit page's server function (admins): a page of the log, newest
//! first, filtered, with the chain's head. Its exports are streamed by
//! `server::exports` at `/exports/`.

#[cfg(feature = "ssr")]
use super::ssr;
use crate::model::AuditPage;
use leptos::prelude::*;

/// Entries per page.
pub const AUDIT_PAGE: i64 = 50;

/// `actor`: an email, an agent's name, or `system`, `cli`, `anonymous`;
/// `since`/`until`: a UTC date or an RFC 3339 time; `older_than`: the
/// cursor of the page before.
#[server(prefix = "/rpc", endpoint = "audit_log")]
pub async fn audit_log(
    actor: Option<String>,
    approval: Option<String>,
    kind: Option<String>,
    since: Option<String>,
    until: Option<String>,
    older_than: Option<i64>,
) -> Result<AuditPage, ServerFnError> {
    use crate::model::AuditQuery;
    use crate::server::domain::{AuditFilter, Order};
    use crate::server::exports::parse_time;
    use crate::server::service::Actor;
    use axum::http::StatusCode;

    let service = ssr::service()?;
    let user = ssr::require_user(&service).await?;
    let given = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    let query = AuditQuery {
        actor: given(actor),
        approval: given(approval),
        kind: given(kind),
        since: given(since),
        until: given(until),
    };
    let time = |name: &str, raw: &Option<String>| {
        raw.as_deref()
            .map(|raw| parse_time(name, raw))
            .transpose()
            .map_err(|detail| ssr::fail(StatusCode::UNPROCESSABLE_ENTITY, detail))
    };
    let filter = AuditFilter {
        actors: None,
        approval_id: query.approval.clone(),
        kind: query.kind.clone(),
        since: time("since", &query.since)?,
        until: time("until", &query.until)?,
        order: Order::NewestFirst,
        after_seq: older_than,
        limit: AUDIT_PAGE,
    };
    service
        .audit_page(Actor::Person(&user), &query, filter)
        .await
        .map_err(ssr::to_fn_error)
}
