//! The approval as agents (REST) and people (the inbox) see it.

use super::{EarlierDenial, ExpectedDecision};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Lifecycle: `Pending`, then exactly one terminal status, never changed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Approved,
    Denied,
    Expired,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Pending,
        Status::Approved,
        Status::Denied,
        Status::Expired,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Denied => "denied",
            Status::Expired => "expired",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn is_terminal(self) -> bool {
        self != Status::Pending
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| {
                format!("unknown status {s:?}: use pending, approved, denied, expired or cancelled")
            })
    }
}

/// A person's decision on a pending approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Approve,
    Deny(super::Reason),
}

impl Verdict {
    pub fn status(&self) -> Status {
        match self {
            Verdict::Approve => Status::Approved,
            Verdict::Deny(_) => Status::Denied,
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Verdict::Approve => None,
            Verdict::Deny(reason) => Some(reason.as_str()),
        }
    }
}

/// One approval request. This is the JSON of the REST API as well as what the
/// inbox renders, so both always agree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Approval {
    /// `apr_` and 26 letters and digits.
    pub id: String,
    pub status: Status,
    /// One line, 1-200 characters.
    pub title: String,
    /// The preview, already sanitized when it was stored.
    pub body: String,
    /// The request's `data` object, as sent.
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub data: serde_json::Value,
    /// The action kind, e.g. `billing.refund`.
    pub action: Option<String>,
    /// The name of the API key that asked.
    pub agent: String,
    /// The named approver it is routed to, if any.
    pub approver: Option<String>,
    /// The group it is routed to, if any. With neither, anyone who may
    /// decide may decide it.
    pub group: Option<String>,
    /// The denial's reason, in the approver's words.
    pub reason: Option<String>,
    /// Email of the person who approved or denied.
    pub decided_by: Option<String>,
    /// When it left `pending` (decided, expired or cancelled).
    pub decided_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// When a still-pending approval becomes `expired`.
    pub expires_at: DateTime<Utc>,
    /// Where a person sees this approval in the web inbox.
    pub url: String,
    /// While pending: how long people usually take on approvals like this
    /// one (same route and action kind), or null without enough history.
    #[serde(default)]
    pub expected_decision: Option<ExpectedDecision>,
    /// A recent denial this request repeats (same agent, action kind and
    /// data), or null: the re-raise guard.
    #[serde(default)]
    pub repeats_denial: Option<EarlierDenial>,
    /// Why a gate or deny policy applied although its condition could not
    /// be evaluated on this request (a missing field, `null`, a wrong
    /// type): a policy that holds requests back never fails open. Null
    /// otherwise.
    #[serde(default)]
    pub policy_note: Option<String>,
}

/// An approval without its preview and data, as lists show it (the inbox,
/// live inboxes' events, the history); the card on screen loads the rest. Each may be 256 KiB; an inbox of 500 such requests, sent to
/// every open inbox on every (re)connection, would be a quarter of a
/// gigabyte, where this is well under a megabyte.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalSummary {
    pub id: String,
    pub status: Status,
    pub title: String,
    pub action: Option<String>,
    /// The name of the API key that asked.
    pub agent: String,
    pub approver: Option<String>,
    pub group: Option<String>,
    pub reason: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Sizes of the preview and the data, in bytes.
    pub body_bytes: u64,
    pub data_bytes: u64,
}

impl ApprovalSummary {
    /// "12 KB of preview and data", for a tooltip; None when small.
    pub fn size_note(&self) -> Option<String> {
        let total = self.body_bytes + self.data_bytes;
        (total >= 10 * 1024).then(|| format!("{} KB of preview and data", total / 1024))
    }
}

/// One page of a cursor-paginated list, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApprovalPage {
    pub items: Vec<Approval>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// One page of the history: summaries, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub items: Vec<ApprovalSummary>,
    pub next_cursor: Option<String>,
}
