//! The Stats page's server function: every signed-in person may read how
//! long decisions take.

#[cfg(feature = "ssr")]
use super::ssr;
use crate::model::StatsView;
#[cfg(feature = "ssr")]
use crate::model::{StatsQuery, StatsWindow};
use leptos::prelude::*;

/// The figures for a window (`24h`, `7d`, `30d`, `90d`, `all`; 7 days when
/// absent), narrowed by action kind (`none` for approvals without one),
/// agent name, approver email and group name.
#[server(prefix = "/rpc", endpoint = "stats")]
pub async fn stats(
    window: Option<String>,
    kind: Option<String>,
    agent: Option<String>,
    approver: Option<String>,
    group: Option<String>,
) -> Result<StatsView, ServerFnError> {
    let service = ssr::service()?;
    let user = ssr::require_user(&service).await?;
    let window = match window.as_deref().filter(|w| !w.is_empty()) {
        None => StatsWindow::default(),
        Some(raw) => StatsWindow::parse(raw).ok_or_else(|| {
            ssr::fail(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                format!("Unknown window {raw:?}: choose 24h, 7d, 30d, 90d or all."),
            )
        })?,
    };
    let given = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    let query = StatsQuery {
        window,
        kind: given(kind),
        agent: given(agent),
        approver: given(approver),
        group: given(group),
    };
    service.stats(&user, &query).await.map_err(ssr::to_fn_error)
}
