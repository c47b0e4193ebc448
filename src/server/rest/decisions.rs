//! `GET /api/v1/decisions`: decided approvals as JSONL (title, kind, agent,
//! data, outcome, reason, who, when, how long), streamed, for API keys an
//! admin has allowed to read them: the denial reasons as data.

use super::extract::Agent;
use crate::server::exports::{decision_query, decisions_response, params, DecisionAsker, Params};
use crate::server::http::problem::Problem;
use crate::server::state::AppState;
use axum::extract::State;
use axum::response::Response;

pub async fn list(
    State(state): State<AppState>,
    Agent(key): Agent,
    query: Params,
) -> Result<Response, Problem> {
    let query = decision_query(&params(query)?)?;
    decisions_response(state.service, DecisionAsker::Key(key), query).await
}
