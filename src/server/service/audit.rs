//! The audit log as its readers see it: the chain's check, its head, and
//! the admins' filtered view. Entries are written by the store, in the
//! transaction of each change (`store/audit.rs`).

use super::people::Actor;
use super::{Service, ServiceResult};
use crate::server::domain::{AuditFilter, ChainBreak, ChainHead, ChainWalk, StoredAuditEntry};

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
