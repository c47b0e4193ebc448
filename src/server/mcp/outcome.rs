//! What the MCP tools answer about an approval: the next step in words a
//! model cannot misread, and the approval as structured content.

use super::gate::GateError;
use crate::model::{Approval, Status};
use rmcp::model::{CallToolResult, ContentBlock};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An approval as the tools answer it, with what to do next in plain words.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ApprovalOutcome {
    /// `apr_...`
    pub id: String,
    /// `pending`, `approved`, `denied`, `expired` or `cancelled`.
    pub status: String,
    pub title: String,
    pub action: Option<String>,
    /// The data of the request: with `approved`, exactly what was approved.
    pub data: Value,
    /// With `denied`: why, in the person's words.
    pub reason: Option<String>,
    /// The email of the person who decided.
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub expires_at: String,
    /// Where a person sees and decides this request.
    pub review_url: String,
    /// What to do now.
    pub next_step: String,
}

impl ApprovalOutcome {
    pub fn of(approval: &Approval) -> Self {
        ApprovalOutcome {
            id: approval.id.clone(),
            status: approval.status.as_str().to_owned(),
            title: approval.title.clone(),
            action: approval.action.clone(),
            data: approval.data.clone(),
            reason: approval.reason.clone(),
            decided_by: approval.decided_by.clone(),
            decided_at: approval.decided_at.map(|at| at.to_rfc3339()),
            expires_at: approval.expires_at.to_rfc3339(),
            review_url: approval.url.clone(),
            next_step: next_step(approval),
        }
    }
}

/// What the model should do, said so that it cannot be misread.
pub fn next_step(approval: &Approval) -> String {
    let title = &approval.title;
    let who = approval.decided_by.as_deref().unwrap_or("a person");
    match approval.status {
        Status::Approved => format!(
            "APPROVED by {who}. Go ahead with \"{title}\", using exactly the approved data."
        ),
        Status::Denied => format!(
            "DENIED by {who}. Do not do \"{title}\": stop this action. Their reason: {}. \
             Asking again with the same request will not change the answer; tell the user.",
            approval.reason.as_deref().unwrap_or("none given")
        ),
        Status::Expired => format!(
            "EXPIRED: nobody decided in time. Do not do \"{title}\". Ask again only if it is still needed."
        ),
        Status::Cancelled => {
            format!("CANCELLED: the request was withdrawn. Do not do \"{title}\".")
        }
        Status::Pending => format!(
            "PENDING: still waiting for a person to decide (they can see it at {}). \
             Do not act yet. Call wait_for_approval with id \"{}\" again to keep waiting.",
            approval.url, approval.id
        ),
    }
}

/// A tool's answer for an approval: the next step as text, the approval as
/// structured content. A denial is a normal answer, not a tool error.
pub fn outcome_result(approval: &Approval) -> CallToolResult {
    let outcome = ApprovalOutcome::of(approval);
    let mut text = outcome.next_step.clone();
    if approval.status == Status::Approved {
        text.push_str(&format!("\nApproved data: {}", approval.data));
    }
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = serde_json::to_value(&outcome).ok();
    result
}

/// A tool's answer for what a gate did: the approval, or the refusal.
pub fn tool_answer(result: Result<Approval, GateError>) -> CallToolResult {
    match result {
        Ok(approval) => outcome_result(&approval),
        Err(error) => refusal(error),
    }
}

/// A refusal the model can act on (a bad title, an unknown approver) as a
/// tool error carrying the REST API's code.
pub fn refusal(error: GateError) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(format!(
        "{} ({}): {}",
        error.code, error.status, error.detail
    ))])
}

#[cfg(test)]
mod tests {
    use super::{next_step, outcome_result};
    use crate::model::Approval;
    use serde_json::json;

    fn approval(status: &str) -> Approval {
        serde_json::from_value(json!({
            "id": "apr_01", "status": status, "title": "Refund $240", "body": "",
            "data": {"order": 8821}, "action": null, "agent": "billing", "approver": null,
            "group": null, "reason": (status == "denied").then_some("Photos show no damage."),
            "decided_by": "ana@example.com", "decided_at": null,
            "created_at": "2026-11-30T10:00:00Z", "expires_at": "2026-12-01T10:00:00Z",
            "url": "http://127.0.0.1:3000/approvals/apr_01"
        }))
        .unwrap()
    }

    #[test]
    fn every_outcome_says_whether_to_act() {
        let approved = outcome_result(&approval("approved"));
        let text = &approved.content[0].as_text().unwrap().text;
        assert!(
            text.starts_with("APPROVED by ana@example.com. Go ahead"),
            "{text}"
        );
        assert!(text.ends_with(r#"Approved data: {"order":8821}"#), "{text}");
        let denied = next_step(&approval("denied"));
        assert!(denied.starts_with("DENIED by ana@example.com. Do not do \"Refund $240\""));
        assert!(denied.contains("Photos show no damage."));
        for stopped in ["expired", "cancelled"] {
            assert!(
                next_step(&approval(stopped)).contains("Do not do"),
                "{stopped}"
            );
        }
        let pending = next_step(&approval("pending"));
        assert!(
            pending.contains("Do not act yet")
                && pending.contains("wait_for_approval with id \"apr_01\"")
        );
        assert_eq!(outcome_result(&approval("denied")).is_error, Some(false));
    }
}
