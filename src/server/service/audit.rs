//! The audit log as its readers see it: the chain's check, its head, and
//! the admins' filtered view. Entries are written by the store, in the
//! transaction of each change (`store/audit.rs`).

use super::people::Actor;
use super::{from_ms, Service, ServiceResult};
use crate::model::{AuditEntryView, AuditPage, AuditQuery};
use crate::server::domain::stats::StatsNames;
use crate::server::domain::{
    AuditFilter, ChainBreak, ChainHead, ChainWalk, StoredAuditEntry, AUDIT_KINDS,
};

/// Entries read per query while walking the chain.
const WALK_PAGE: i64 = 1_000;

/// Rounds of "entries were appended while we walked" before the check
/// stops chasing a busy server and compares with the head it last read.
const CATCH_UP_ROUNDS: usize = 5;

/// The outcome of a check of the whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainCheck {
    /// Every entry holds, up to this head.
    Holds { entries: i64, head: ChainHead },
    /// The first entry that does not, after `entries` that did.
    Broken { entries: i64, at: ChainBreak },
}

impl Service {
    /// The hash of the entry at position `seq`, if the chain has one (to
    /// compare with a head written down earlier).
    pub async fn audit_entry_hash(&self, seq: i64) -> ServiceResult<Option<String>> {
        let mut page = AuditFilter::whole_chain(1);
        page.after_seq = Some(seq - 1);
        let entries = self.store.audit_entries(&page).await?;
        Ok(entries
            .into_iter()
            .find(|entry| entry.seq == Some(seq))
            .and_then(|entry| entry.hash))
    }

    /// Walks the whole chain in order, a page at a time (memory stays flat
    /// whatever its length), and names the first entry that does not hold.
    #[tracing::instrument(name = "verify the audit chain", skip_all)]
    pub async fn verify_audit_chain(&self) -> ServiceResult<ChainCheck> {
        let mut walk = ChainWalk::default();
        let broken = |walk: &ChainWalk, at| ChainCheck::Broken {
            entries: walk.checked(),
            at,
        };
        let mut rounds = 0;
        let head = loop {
            loop {
                let mut page = AuditFilter::whole_chain(WALK_PAGE);
                page.after_seq = Some(walk.checked());
                let entries = self.store.audit_entries(&page).await?;
                for entry in &entries {
                    if let Err(at) = walk.check(entry) {
                        return Ok(broken(&walk, at));
                    }
                }
                if (entries.len() as i64) < WALK_PAGE {
                    break;
                }
            }
            // The head is read after the entries: a server still running
            // may have appended meanwhile, which the next round reads.
            let head = self.store.audit_head().await?;
            rounds += 1;
            if walk.checked() >= head.seq || rounds >= CATCH_UP_ROUNDS {
                break head;
            }
        };
        if let Some(row) = self.store.first_unchained_audit_row().await? {
            let at = ChainBreak::Unchained { row_id: row.row_id };
            return Ok(broken(&walk, at));
        }
        Ok(match walk.finish(&head) {
            Ok(()) => ChainCheck::Holds {
                entries: walk.checked(),
                head,
            },
            Err(at) => broken(&walk, at),
        })
    }

    /// The chain's last position and hash, to be written down elsewhere.
    pub async fn audit_head(&self, by: Actor<'_>) -> ServiceResult<ChainHead> {
        Self::authorize_admin(by)?;
        Ok(self.store.audit_head().await?)
    }

    /// The actors a person means by `words`: an email (that person), an
    /// agent's name (its keys), or an actor as stored (`user:ID`, `key:ID`,
    /// `system`, `cli`, `anonymous`).
    pub async fn audit_actors(&self, words: &str) -> ServiceResult<Vec<String>> {
        Ok(actors_meant(words, &self.store.stats_names().await?))
    }

    /// A page of the log as the Audit page shows it, newest first, with
    /// actors and subjects named, and the chain's head.
    pub async fn audit_page(
        &self,
        by: Actor<'_>,
        query: &AuditQuery,
        filter: AuditFilter,
    ) -> ServiceResult<AuditPage> {
        Self::authorize_admin(by)?;
        let names = self.store.stats_names().await?;
        let mut filter = filter;
        if let Some(words) = &query.actor {
            filter.actors = Some(actors_meant(words, &names));
        }
        let entries = self.store.audit_entries(&filter).await?;
        let head = self.store.audit_head().await?;
        let name_of = |reference: &str| -> Option<String> {
            let (kind, id) = reference.split_once(':')?;
            let list = match kind {
                "user" => &names.people,
                "group" => &names.groups,
                "key" => &names.keys,
                _ => return None,
            };
            list.iter()
                .find(|(known, _)| known == id)
                .map(|(_, name)| name.clone())
        };
        let older_than = (entries.len() as i64 == filter.limit)
            .then(|| entries.last().and_then(|e| e.seq))
            .flatten();
        let mut agents: Vec<String> = names.keys.iter().map(|(_, name)| name.clone()).collect();
        agents.sort();
        agents.dedup();
        Ok(AuditPage {
            entries: entries
                .into_iter()
                .map(|entry| AuditEntryView {
                    actor_name: name_of(&entry.actor).unwrap_or_else(|| entry.actor.clone()),
                    subject_name: entry.subject.as_deref().and_then(name_of),
                    seq: entry.seq.unwrap_or_default(),
                    at: from_ms(entry.at),
                    kind: entry.kind,
                    actor: entry.actor,
                    approval_id: entry.approval_id,
                    subject: entry.subject,
                    detail: entry.detail,
                    hash: entry.hash.unwrap_or_default(),
                })
                .collect(),
            older_than,
            head_seq: head.seq,
            head_hash: head.hash,
            kinds: AUDIT_KINDS.iter().map(|k| (*k).to_owned()).collect(),
            agents,
        })
    }

    /// A page of the audit log, for admins.
    pub async fn audit_log(
        &self,
        by: Actor<'_>,
        filter: &AuditFilter,
    ) -> ServiceResult<Vec<StoredAuditEntry>> {
        Self::authorize_admin(by)?;
        Ok(self.store.audit_entries(filter).await?)
    }
}

/// [`Service::audit_actors`] with the names at hand.
fn actors_meant(words: &str, names: &StatsNames) -> Vec<String> {
    let words = words.trim();
    if words.contains(':') || ["system", "cli", "setup", "anonymous"].contains(&words) {
        return vec![words.to_owned()];
    }
    if words.contains('@') {
        names
            .person_id(words)
            .map(|id| format!("user:{id}"))
            .into_iter()
            .collect()
    } else {
        names
            .key_ids(words)
            .into_iter()
            .map(|id| format!("key:{id}"))
            .collect()
    }
}
