//! Approvals as stored, and the changes the store makes to them.

use super::account::Route;
use crate::model::Status;

/// An approval as stored, with the names joined in. Times are Unix
/// milliseconds, which both backends store as a 64-bit integer.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRecord {
    pub id: String,
    pub api_key_id: String,
    pub agent_name: String,
    pub status: Status,
    pub title: String,
    /// Empty when read by a filter without content.
    pub body_html: String,
    /// `{}` when read by a filter without content.
    pub data_json: String,
    /// The stored sizes, in bytes, with or without the content.
    pub body_bytes: i64,
    pub data_bytes: i64,
    pub action: Option<String>,
    pub route: Route,
    pub approver_email: Option<String>,
    pub group_name: Option<String>,
    pub reason: Option<String>,
    pub decided_by_email: Option<String>,
    pub decided_by_name: Option<String>,
    pub decided_at: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
    /// The recent denial this request repeats (the re-raise guard).
    pub repeats: Option<RepeatedDenial>,
    /// Why a gate or deny policy applied although its condition could not
    /// be evaluated on this request.
    pub policy_note: Option<String>,
}

/// A denied approval that a newer request repeats: same key, action kind
/// and canonical data.
#[derive(Debug, Clone, PartialEq)]
pub struct RepeatedDenial {
    pub id: String,
    pub denied_at: i64,
    /// The person's name, or `policy:<name>`.
    pub denied_by: Option<String>,
    pub reason: Option<String>,
}

#[cfg(test)]
impl ApprovalRecord {
    /// A denied refund, for unit tests.
    pub fn denied_example() -> Self {
        ApprovalRecord {
            id: "apr_1".into(),
            api_key_id: "key_1".into(),
            agent_name: "billing-agent".into(),
            status: Status::Denied,
            title: "Refund $120".into(),
            body_html: String::new(),
            data_json: r#"{"amount":120}"#.into(),
            body_bytes: 0,
            data_bytes: 14,
            action: Some("stripe.refund".into()),
            route: Default::default(),
            approver_email: None,
            group_name: None,
            reason: Some("Duplicate request".into()),
            decided_by_email: Some("ana@example.com".into()),
            decided_by_name: Some("Ana".into()),
            decided_at: Some(1_700_000_000_500),
            created_at: 1_700_000_000_000,
            expires_at: 1_700_086_400_000,
            repeats: None,
            policy_note: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewApproval {
    pub id: String,
    pub api_key_id: String,
    pub title: String,
    pub body_html: String,
    pub data_json: String,
    pub action: Option<String>,
    pub destination: Destination,
    pub created_at: i64,
    pub expires_at: i64,
    /// The agent's Idempotency-Key and a hash of the request it came with.
    pub idempotency: Option<(String, String)>,
    /// SHA-256 of the action kind and the canonical data (the re-raise
    /// guard's key, with the API key).
    pub repeat_hash: String,
    /// The recent denial of the same key and hash, if any.
    pub repeat_of: Option<String>,
    /// A policy's ruling, applied in the transaction that writes the
    /// approval; None leaves it pending for a person.
    pub ruling: Option<Ruling>,
    /// Why a gate or deny policy applied although its condition could not
    /// be evaluated (it failed closed).
    pub policy_note: Option<String>,
}

/// What a policy decided at once: the transition (the same one a person's
/// decision makes), and whether the approval is sampled for review.
#[derive(Debug, Clone)]
pub struct Ruling {
    pub transition: Transition,
    pub sampled_for_review: Option<SampledBy>,
}

/// The sampling policy that picked an approval for review.
#[derive(Debug, Clone)]
pub struct SampledBy {
    pub policy_id: String,
    pub policy_name: String,
}

/// Where a new approval goes.
#[derive(Debug, Clone)]
pub enum Destination {
    /// The approver or group the agent named.
    Named(Route),
    /// The default route of the agent's key, read in the transaction that
    /// writes the approval (where the key is also found still live).
    KeyDefault,
}

#[derive(Debug)]
pub enum InsertOutcome {
    Created(ApprovalRecord),
    /// The key was used before: the first approval and its request hash.
    Replayed {
        existing: ApprovalRecord,
        request_hash: String,
    },
}

/// A terminal transition of a pending approval.
#[derive(Debug, Clone)]
pub struct Transition {
    pub status: Status,
    pub reason: Option<String>,
    /// The person who decided (approve / deny), if any.
    pub decided_by: Option<String>,
    /// The policy that decided at once, by name, if any.
    pub decided_by_policy: Option<String>,
    /// Who caused it, for the audit log (`user:ID`, `key:ID`, `system`).
    pub actor: String,
    pub at: i64,
}

#[derive(Debug)]
pub enum TransitionOutcome {
    Applied(ApprovalRecord),
    /// Someone else got there first: the approval as it now is.
    AlreadyDecided(ApprovalRecord),
    NotFound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    OldestFirst,
    NewestFirst,
}

/// An approver's view: what is routed to them, to their groups, or to
/// nobody in particular.
#[derive(Debug, Clone)]
pub struct Visibility {
    pub user_id: String,
    pub group_ids: Vec<String>,
}

/// Which approvals to list. `after` is an exclusive ID bound in the
/// direction of `order` (the pagination cursor).
#[derive(Debug, Clone)]
pub struct ApprovalFilter {
    pub api_key_id: Option<String>,
    pub statuses: Vec<Status>,
    /// Only approvals this approver may see (`User::may_see`); None for
    /// everything.
    pub visible_to: Option<Visibility>,
    /// Case-insensitive (ASCII) substring of the title, reason or agent name.
    pub text_contains: Option<String>,
    pub after: Option<String>,
    pub order: Order,
    pub limit: i64,
    /// Whether to read the preview and the data (lists that show neither
    /// read only their sizes).
    pub with_content: bool,
}

impl ApprovalFilter {
    pub fn new(order: Order, limit: i64) -> Self {
        Self {
            api_key_id: None,
            statuses: Vec::new(),
            visible_to: None,
            text_contains: None,
            after: None,
            order,
            limit,
            with_content: true,
        }
    }
}

/// Which decided approvals (any terminal status) to export, in order of id,
/// a page at a time.
#[derive(Debug, Clone, Default)]
pub struct DecisionFilter {
    /// An action kind ("" for approvals without one).
    pub kind: Option<String>,
    /// The keys of one agent; empty matches nothing.
    pub api_key_ids: Option<Vec<String>>,
    /// Empty: every terminal status.
    pub outcomes: Vec<Status>,
    /// Decided at or after, Unix ms.
    pub since: Option<i64>,
    /// Decided before, Unix ms.
    pub until: Option<i64>,
    /// Continue after this id.
    pub after: Option<String>,
    pub limit: i64,
}
