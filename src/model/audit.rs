//! The Audit page's data: a page of the log, newest first, and the chain's
//! head to write down elsewhere.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One entry as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntryView {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub kind: String,
    /// `user:ID`, `key:ID`, `system`, `cli`, `anonymous`.
    pub actor: String,
    /// The actor in words: an email, an agent's name, or as stored.
    pub actor_name: String,
    pub approval_id: Option<String>,
    pub subject: Option<String>,
    /// The subject in words, when it names a person, group or key.
    pub subject_name: Option<String>,
    pub detail: Option<String>,
    pub hash: String,
}

/// The filters of the Audit page (each also in the address).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    /// An email, an agent's name, or `system`, `cli`, `anonymous`.
    pub actor: Option<String>,
    pub approval: Option<String>,
    pub kind: Option<String>,
    /// `YYYY-MM-DD` (UTC) or RFC 3339.
    pub since: Option<String>,
    pub until: Option<String>,
}

/// A page of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntryView>,
    /// The cursor of the next (older) page, if there is one.
    pub older_than: Option<i64>,
    pub head_seq: i64,
    pub head_hash: String,
    /// The kinds the filter offers.
    pub kinds: Vec<String>,
    /// Agents' names, for the decisions export's filter.
    pub agents: Vec<String>,
}
