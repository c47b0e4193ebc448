//! The approver's server functions: the inbox, one approval, history, and
//! deciding, one at a time or in a batch.

#[cfg(feature = "ssr")]
use super::ssr;
use crate::model::{Approval, DeliverySummary, HistoryPage, InboxData, WebhookMessage};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalData {
    pub approval: Approval,
    /// Its outcome webhook(s), with every attempt: for admins only (empty
    /// for others).
    pub deliveries: Vec<WebhookMessage>,
    /// Each outcome webhook's status and attempt count, for everyone.
    pub delivery_summary: Vec<DeliverySummary>,
    /// Whether the person looking may decide it (else no buttons).
    pub may_decide: bool,
    pub now_ms: i64,
}

/// The inbox (an admin's, with `everything`, shows every pending
/// approval), and in full the card it shows first: `selected` if it is
/// pending for this person, else the oldest.
#[server(prefix = "/rpc", endpoint = "inbox")]
pub async fn inbox(
    selected: Option<String>,
    everything: Option<bool>,
) -> Result<InboxData, ServerFnError> {
    let service = ssr::service()?;
    let user = ssr::require_user(&service).await?;
    let mut data = service
        .inbox_data(&user, everything.unwrap_or(false))
        .await
        .map_err(ssr::to_fn_error)?;
    let first = selected
        .filter(|id| data.approvals.iter().any(|a| &a.id == id))
        .or_else(|| data.approvals.first().map(|a| a.id.clone()));
    if let Some(id) = first {
        data.shown = service
            .approval_for_user(&user, &id)
            .await
            .ok()
            .map(Box::new);
    }
    data.flag_notices = service
        .flag_notices(crate::server::service::Actor::Person(&user))
        .await
        .map_err(ssr::to_fn_error)?;
    Ok(data)
}

#[server(prefix = "/rpc", endpoint = "approval_detail")]
pub async fn approval_detail(id: String) -> Result<ApprovalData, ServerFnError> {
    let service = ssr::service()?;
    let user = ssr::require_user(&service).await?;
    let approval = service
        .approval_for_user(&user, &id)
        .await
        .map_err(ssr::to_fn_error)?;
    let deliveries = service
        .approval_deliveries(&user, &id)
        .await
        .map_err(ssr::to_fn_error)?;
    let may_decide = service
        .may_decide(&user, &id)
        .await
        .map_err(ssr::to_fn_error)?;
    Ok(ApprovalData {
        may_decide,
        approval,
        deliveries: deliveries.messages,
        delivery_summary: deliveries.summary,
        now_ms: service.now_ms(),
    })
}

/// One approval in full (preview and data included), for the card on
/// screen in the inbox: the inbox's list carries neither.
#[server(prefix = "/rpc", endpoint = "approval_card")]
pub async fn approval_card(id: String) -> Result<Approval, ServerFnError> {
    let service = ssr::service()?;
    let user = ssr::require_user(&service).await?;
    service
        .approval_for_user(&user, &id)
        .await
        .map_err(ssr::to_fn_error)
}

/// The longest history search.
pub const MAX_SEARCH_CHARS: usize = 200;

#[server(prefix = "/rpc", endpoint = "history")]
pub async fn history(
    q: Option<String>,
    cursor: Option<String>,
) -> Result<HistoryPage, ServerFnError> {
    let service = ssr::service()?;
    let user = ssr::require_user(&service).await?;
    let q = q.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty());
    if let Some(q) = &q {
        let chars = q.chars().count();
        if chars > MAX_SEARCH_CHARS || q.chars().any(char::is_control) {
            return Err(ssr::fail(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "Search for at most {MAX_SEARCH_CHARS} characters on one line \
                     (this is {chars})."
                ),
            ));
        }
    }
    let cursor = cursor.filter(|c| crate::server::domain::ids::is_id("apr", c));
    service
        .history(&user, q, cursor, 50)
        .await
        .map_err(ssr::to_fn_error)
}

/// Approve (`verdict = "approve"`) or deny (`verdict = "deny"`, with a
/// reason) a pending approval.
#[server(prefix = "/rpc", endpoint = "decide")]
pub async fn decide(
    id: String,
    verdict: String,
    reason: Option<String>,
) -> Result<Approval, ServerFnError> {
    let service = ssr::service()?;
    let user = ssr::require_user(&service).await?;
    let verdict = ssr::parse_verdict(&verdict, reason.as_deref())?;
    service
        .decide(&user, &id, verdict)
        .await
        .map_err(ssr::to_fn_error)
}

/// The most approvals one batch decision may name.
pub const MAX_BATCH: usize = 100;

/// What became of one approval in a batch decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchOutcome {
    pub id: String,
    /// The decided approval, or why this one could not be decided (it was
    /// decided elsewhere meanwhile, say).
    pub result: Result<Approval, String>,
}

/// Approves, or denies with one reason, several approvals. Each is decided
/// on its own, atomically, exactly as `decide` would: one that was decided
/// elsewhere meanwhile fails alone and says why.
#[server(prefix = "/rpc", endpoint = "decide_many", input = leptos::server_fn::codec::Json)]
pub async fn decide_many(
    ids: Vec<String>,
    verdict: String,
    reason: Option<String>,
) -> Result<Vec<BatchOutcome>, ServerFnError> {
    use axum::http::StatusCode;
    let service = ssr::service()?;
    let user = ssr::require_user(&service).await?;
    if ids.is_empty() || ids.len() > MAX_BATCH {
        return Err(ssr::fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Select between 1 and {MAX_BATCH} approvals."),
        ));
    }
    let verdict = ssr::parse_verdict(&verdict, reason.as_deref())?;
    // All at once: the decisions queue together for the writer, which
    // commits them in one transaction (each still stands or fails alone).
    let decisions = ids
        .iter()
        .map(|id| service.decide(&user, id, verdict.clone()));
    let results = futures_util::future::join_all(decisions).await;
    Ok(ids
        .into_iter()
        .zip(results)
        .map(|(id, result)| BatchOutcome {
            id,
            // One failure in a batch does not fail the batch.
            result: result.map_err(|error| ssr::status_and_message(error).1),
        })
        .collect())
}
