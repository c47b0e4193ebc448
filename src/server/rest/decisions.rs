//! `GET /api/v1/decisions`: decided approvals as JSONL (title, kind, agent,
//! data, outcome, reason, who, when, how long), streamed, for API keys an
//! admin has allowed to read them: the denial reasons as data.

use super::extract::Agent;
use crate::server::exports::{decision_query, decisions_response, params, DecisionAsker, Params};
use crate::server::http::problem::Problem;
use crate::server::service::DecisionLine;
use crate::server::state::AppState;
use axum::extract::State;
use axum::response::Response;

/// Decided approvals as JSON lines (one `DecisionLine` per line), streamed,
/// oldest first; for keys an admin has allowed to read decisions.
#[utoipa::path(
    get,
    path = "/api/v1/decisions",
    operation_id = "listDecisions",
    tag = "decisions",
    params(
        ("kind" = Option<String>, Query, description = "Only this action kind."),
        ("agent" = Option<String>, Query, description = "Only approvals asked by the key of this name."),
        ("outcome" = Option<String>, Query, description = "`approved`, `denied`, `expired` or `cancelled`, or several separated by commas."),
        ("since" = Option<String>, Query, description = "From this date (`2026-11-29`) or RFC 3339 time."),
        ("until" = Option<String>, Query, description = "Before this date or RFC 3339 time."),
    ),
    responses((status = 200, description = "One JSON object per line.",
               content_type = "application/x-ndjson", body = DecisionLine)),
)]
pub async fn list(
    State(state): State<AppState>,
    Agent(key): Agent,
    query: Params,
) -> Result<Response, Problem> {
    let query = decision_query(&params(query)?)?;
    decisions_response(state.service, DecisionAsker::Key(key), query).await
}
