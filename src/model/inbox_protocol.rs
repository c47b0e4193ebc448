//! What a live inbox hears from the server over its WebSocket (`/ws`): JSON
//! text messages tagged by `type`.
//!
//! The first message of every connection is a `snapshot` of everything
//! pending for this person; after it, one message per change, in the order
//! the server saw them (`seq` increases). A connection that falls behind is
//! sent `resync` and a fresh `snapshot`, so a client never has to guess what
//! it missed: a reconnect, too, starts with a snapshot.

use super::{Approval, ApprovalSummary, ReviewItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The inbox as it is at one moment: pending approvals, oldest first, and
/// the server's clock so that "waiting 4 min" is rendered the same on the
/// server and in the browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboxData {
    pub approvals: Vec<ApprovalSummary>,
    /// When this person's most recent visible decision was made (for the
    /// empty state: "Nothing waiting; last decision 4 min ago").
    pub last_decided_at: Option<DateTime<Utc>>,
    /// Who is looking: their own decisions, heard back from another tab or
    /// from the server, are confirmed rather than reported as news.
    pub viewer_email: String,
    /// Whether this person decides at all (a viewer only looks).
    pub may_decide: bool,
    /// An admin's inbox showing every pending approval, not only theirs.
    pub everything: bool,
    /// Whether this person may switch to everything (admins).
    pub may_show_everything: bool,
    pub now_ms: i64,
    /// The card to show first, in full (preview and data), when the page is
    /// rendered; live snapshots carry none.
    #[serde(default)]
    pub shown: Option<Box<Approval>>,
    /// For admins, when the page is rendered: flags in sampled review no
    /// admin has put away (live snapshots carry none).
    #[serde(default)]
    pub flag_notices: Vec<ReviewItem>,
}

/// One approval that changed, as it is after the change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalChange {
    /// Numbers this server's announcements, 1, 2, 3, ...: a connection gets
    /// the changes it may see in increasing order.
    pub seq: i64,
    pub approval: ApprovalSummary,
    /// The display name of whoever approved or denied ("approved by Ana").
    pub decided_by_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InboxEvent {
    /// Everything pending for this person now; replaces what the client had.
    Snapshot(InboxData),
    /// A new approval is waiting.
    Created(ApprovalChange),
    /// Someone approved or denied it.
    Decided(ApprovalChange),
    /// Nobody decided in time.
    Expired(ApprovalChange),
    /// The agent withdrew it.
    Cancelled(ApprovalChange),
    /// This connection fell behind and changes were dropped: a snapshot
    /// follows.
    Resync,
    /// Sent every [`HEARTBEAT_SECS`] so that a client notices a dead
    /// connection (browsers do not expose WebSocket pings).
    Heartbeat { now_ms: i64 },
}

/// How often the server sends a heartbeat.
pub const HEARTBEAT_SECS: u64 = 20;

impl InboxEvent {
    /// The event announcing `change`, named after the approval's status.
    pub fn for_change(change: ApprovalChange) -> Self {
        use super::Status;
        match change.approval.status {
            Status::Pending => InboxEvent::Created(change),
            Status::Approved | Status::Denied => InboxEvent::Decided(change),
            Status::Expired => InboxEvent::Expired(change),
            Status::Cancelled => InboxEvent::Cancelled(change),
        }
    }

    /// The change this event carries, if it is one.
    pub fn change(&self) -> Option<&ApprovalChange> {
        match self {
            InboxEvent::Created(change)
            | InboxEvent::Decided(change)
            | InboxEvent::Expired(change)
            | InboxEvent::Cancelled(change) => Some(change),
            _ => None,
        }
    }
}
