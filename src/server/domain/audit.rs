//! The audit log: who did what and when, as a hash chain.
//!
//! Every entry has a position (`seq`: 1, 2, 3, ... without gaps) and a
//! `hash`: SHA-256, in lowercase hex, over the previous entry's hash, a
//! newline, and the entry's canonical content, a JSON object with exactly
//! these keys in this order:
//! `{"seq":..,"at":..,"kind":..,"actor":..,"approval_id":..,"subject":..,"detail":..}`
//! (absent values are `null`). The entry before the first has the hash
//! [`GENESIS_HASH`]. Editing, inserting or deleting a row breaks the chain
//! at that row, which [`ChainWalk`] finds; `docs/audit.md` tells how to
//! check it with other tools.

use super::ids::sha256_hex;
use super::Order;
use serde::Serialize;

/// The hash "before" the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Every kind of entry, for the Audit page's filter (docs/audit.md says
/// what each records).
pub const AUDIT_KINDS: [&str; 37] = [
    "created",
    "approved",
    "denied",
    "expired",
    "cancelled",
    "webhook_attempted",
    "signed_in",
    "sign_in_failed",
    "password_changed",
    "account_link_used",
    "user_created",
    "user_invited",
    "invitation_renewed",
    "password_link_issued",
    "role_changed",
    "user_deactivated",
    "user_reactivated",
    "sessions_ended",
    "group_created",
    "group_member_added",
    "group_member_removed",
    "key_created",
    "key_rotated",
    "key_route_changed",
    "key_revoked",
    "key_decisions_allowed",
    "key_decisions_refused",
    "webhook_url_set",
    "webhook_secret_rotated",
    "webhook_enabled",
    "policy_created",
    "policy_changed",
    "policy_deleted",
    "policy_reverted",
    "sample_confirmed",
    "sample_flagged",
    "flag_acknowledged",
];

/// The actor and time of an admin action: `user:ID` for a person, `cli`
/// for `holdpoint admin` at the server's shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    pub actor: String,
    pub at: i64,
}

/// What an entry records, before the chain gives it a position.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewAuditEntry {
    pub at: i64,
    /// `created`, `approved`, `signed_in`, `key_revoked`, ...
    pub kind: String,
    /// `user:ID`, `key:ID`, `system`, `cli`, `anonymous`.
    pub actor: String,
    pub approval_id: Option<String>,
    /// What an action was about when it was not an approval: `user:ID`,
    /// `group:ID`, `key:ID`, `endpoint:ID`.
    pub subject: Option<String>,
    pub detail: Option<String>,
}

/// The canonical content that is hashed, in its fixed key order.
#[derive(Serialize)]
struct Canonical<'a> {
    seq: i64,
    at: i64,
    kind: &'a str,
    actor: &'a str,
    approval_id: Option<&'a str>,
    subject: Option<&'a str>,
    detail: Option<&'a str>,
}

/// The hash of an entry at `seq` whose predecessor's hash is `prev_hash`.
pub fn chain_hash(prev_hash: &str, seq: i64, entry: &NewAuditEntry) -> String {
    let canonical = Canonical {
        seq,
        at: entry.at,
        kind: &entry.kind,
        actor: &entry.actor,
        approval_id: entry.approval_id.as_deref(),
        subject: entry.subject.as_deref(),
        detail: entry.detail.as_deref(),
    };
    let content = serde_json::to_string(&canonical).expect("plain strings and numbers serialize");
    sha256_hex(format!("{prev_hash}\n{content}").as_bytes())
}

/// An entry as stored: a row that was never chained (inserted around the
/// writer) has no position or hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredAuditEntry {
    /// The row's own id, which names it when it has no position.
    #[serde(skip)]
    pub row_id: i64,
    pub seq: Option<i64>,
    pub at: i64,
    pub kind: String,
    pub actor: String,
    pub approval_id: Option<String>,
    pub subject: Option<String>,
    pub detail: Option<String>,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

impl StoredAuditEntry {
    /// What the entry records, as it was hashed.
    pub fn content(&self) -> NewAuditEntry {
        NewAuditEntry {
            at: self.at,
            kind: self.kind.clone(),
            actor: self.actor.clone(),
            approval_id: self.approval_id.clone(),
            subject: self.subject.clone(),
            detail: self.detail.clone(),
        }
    }
}

/// The last position of the chain and its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainHead {
    pub seq: i64,
    pub hash: String,
}

/// Where the chain is broken, naming the first entry that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("entry {seq} is missing: the chain goes from {before} to {seq_found}")]
    Missing {
        seq: i64,
        before: i64,
        seq_found: i64,
    },
    #[error(
        "entry {seq} does not follow entry {before}: its previous hash is not {before}'s hash"
    )]
    NotLinked { seq: i64, before: i64 },
    #[error("entry {seq} was changed: its content does not give its hash")]
    Altered { seq: i64 },
    #[error("row {row_id} is not in the chain: it has no position (inserted around the writer)")]
    Unchained { row_id: i64 },
    #[error(
        "the chain ends at entry {last}, but its head says {head}: entries after {last} are missing"
    )]
    Truncated { last: i64, head: i64 },
    #[error("the chain goes past its head ({head}) to entry {seq}: entry {seq} was inserted")]
    BeyondHead { seq: i64, head: i64 },
    #[error("entry {seq}'s hash is not the head's hash: the head or the last entry was changed")]
    HeadMismatch { seq: i64 },
}

/// Which entries to read: all of them in order of position (`verify`,
/// exports), or a filtered page (the Audit page).
#[derive(Debug, Clone)]
pub struct AuditFilter {
    /// Any of these actors (`user:ID`, `key:ID`, `system`, ...).
    pub actors: Option<Vec<String>>,
    pub approval_id: Option<String>,
    pub kind: Option<String>,
    /// From this time (inclusive), Unix ms.
    pub since: Option<i64>,
    /// Before this time (exclusive), Unix ms.
    pub until: Option<i64>,
    pub order: Order,
    /// Continue after this position (keyset paging).
    pub after_seq: Option<i64>,
    pub limit: i64,
}

impl AuditFilter {
    /// Every entry, in order of position, `limit` at a time.
    pub fn whole_chain(limit: i64) -> Self {
        Self {
            actors: None,
            approval_id: None,
            kind: None,
            since: None,
            until: None,
            order: Order::OldestFirst,
            after_seq: None,
            limit,
        }
    }
}

/// Walks the chain in order of position, one entry at a time, holding only
/// the last hash: constant memory whatever the length.
#[derive(Debug)]
pub struct ChainWalk {
    last_seq: i64,
    last_hash: String,
}

impl Default for ChainWalk {
    fn default() -> Self {
        Self {
            last_seq: 0,
            last_hash: GENESIS_HASH.to_owned(),
        }
    }
}

impl ChainWalk {
    /// How many entries held so far.
    pub fn checked(&self) -> i64 {
        self.last_seq
    }

    /// Checks the next entry (in order of position).
    pub fn check(&mut self, entry: &StoredAuditEntry) -> Result<(), ChainBreak> {
        let Some(seq) = entry.seq else {
            return Err(ChainBreak::Unchained {
                row_id: entry.row_id,
            });
        };
        let expected = self.last_seq + 1;
        if seq != expected {
            return Err(ChainBreak::Missing {
                seq: expected,
                before: self.last_seq,
                seq_found: seq,
            });
        }
        if entry.prev_hash.as_deref() != Some(self.last_hash.as_str()) {
            return Err(ChainBreak::NotLinked {
                seq,
                before: self.last_seq,
            });
        }
        let hash = chain_hash(&self.last_hash, seq, &entry.content());
        if entry.hash.as_deref() != Some(hash.as_str()) {
            return Err(ChainBreak::Altered { seq });
        }
        self.last_seq = seq;
        self.last_hash = hash;
        Ok(())
    }

    /// Checks that the walk ended where the stored head says.
    pub fn finish(&self, head: &ChainHead) -> Result<(), ChainBreak> {
        if self.last_seq < head.seq {
            return Err(ChainBreak::Truncated {
                last: self.last_seq,
                head: head.seq,
            });
        }
        if self.last_seq > head.seq {
            return Err(ChainBreak::BeyondHead {
                seq: self.last_seq,
                head: head.seq,
            });
        }
        if self.last_hash != head.hash {
            return Err(ChainBreak::HeadMismatch { seq: self.last_seq });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<StoredAuditEntry> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let content = NewAuditEntry {
                    at: 1_000 * seq,
                    kind: "approved".into(),
                    actor: format!("user:{seq}"),
                    approval_id: Some(format!("apr_{seq}")),
                    subject: None,
                    detail: (seq % 2 == 0).then(|| "fine".to_owned()),
                };
                let hash = chain_hash(&prev, seq, &content);
                let entry = StoredAuditEntry {
                    row_id: seq + 100,
                    seq: Some(seq),
                    at: content.at,
                    kind: content.kind,
                    actor: content.actor,
                    approval_id: content.approval_id,
                    subject: content.subject,
                    detail: content.detail,
                    prev_hash: Some(prev.clone()),
                    hash: Some(hash.clone()),
                };
                prev = hash;
                entry
            })
            .collect()
    }

    fn walk(entries: &[StoredAuditEntry]) -> Result<ChainWalk, ChainBreak> {
        let mut walk = ChainWalk::default();
        for entry in entries {
            walk.check(entry)?;
        }
        Ok(walk)
    }

    fn head_of(entries: &[StoredAuditEntry]) -> ChainHead {
        let last = entries.last().unwrap();
        ChainHead {
            seq: last.seq.unwrap(),
            hash: last.hash.clone().unwrap(),
        }
    }

    #[test]
    fn the_hash_is_sha256_over_the_previous_hash_and_the_canonical_json() {
        let entry = NewAuditEntry {
            at: 5,
            kind: "created".into(),
            actor: "key:k1".into(),
            approval_id: Some("apr_1".into()),
            subject: None,
            detail: None,
        };
        let expected = sha256_hex(
            format!(
                "{GENESIS_HASH}\n{}",
                r#"{"seq":1,"at":5,"kind":"created","actor":"key:k1","approval_id":"apr_1","subject":null,"detail":null}"#
            )
            .as_bytes(),
        );
        assert_eq!(chain_hash(GENESIS_HASH, 1, &entry), expected);
    }

    #[test]
    fn an_untouched_chain_holds_to_its_head() {
        let entries = chain(5);
        let walk = walk(&entries).unwrap();
        assert_eq!(walk.checked(), 5);
        walk.finish(&head_of(&entries)).unwrap();
    }

    #[test]
    fn an_edit_names_the_edited_entry() {
        let mut entries = chain(5);
        entries[2].detail = Some("edited".into());
        assert_eq!(walk(&entries).unwrap_err(), ChainBreak::Altered { seq: 3 });
    }

    #[test]
    fn an_edit_with_a_recomputed_hash_breaks_the_next_link() {
        let mut entries = chain(5);
        entries[2].detail = Some("edited".into());
        let prev = entries[1].hash.clone().unwrap();
        entries[2].hash = Some(chain_hash(&prev, 3, &entries[2].content()));
        assert_eq!(
            walk(&entries).unwrap_err(),
            ChainBreak::NotLinked { seq: 4, before: 3 }
        );
    }

    #[test]
    fn a_deleted_entry_is_named() {
        let mut entries = chain(5);
        entries.remove(1);
        assert_eq!(
            walk(&entries).unwrap_err(),
            ChainBreak::Missing {
                seq: 2,
                before: 1,
                seq_found: 3
            }
        );
    }

    #[test]
    fn a_deleted_last_entry_is_found_against_the_head() {
        let entries = chain(5);
        let head = head_of(&entries);
        let walk = walk(&entries[..4]).unwrap();
        assert_eq!(
            walk.finish(&head).unwrap_err(),
            ChainBreak::Truncated { last: 4, head: 5 }
        );
    }

    #[test]
    fn an_inserted_row_is_named() {
        let mut entries = chain(3);
        let mut extra = entries[1].clone();
        extra.seq = None;
        extra.row_id = 999;
        entries.insert(2, extra);
        assert_eq!(
            walk(&entries).unwrap_err(),
            ChainBreak::Unchained { row_id: 999 }
        );
    }
}
