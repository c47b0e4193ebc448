//! The audit log, a hash chain (`domain::audit`). Every write goes through
//! `insert_audit_entry`, inside the transaction of the change it records:
//! it takes the next position from the one `audit_chain` row, whose update
//! holds that row until the commit, so appends are serialized across
//! instances on PostgreSQL (as SQLite's single writer already does) and the
//! chain stays one chain in commit order.

use super::StoreResult;
use crate::server::domain::{AuditFilter, ChainHead, NewAuditEntry, StoredAuditEntry};
use async_trait::async_trait;

/// Reading the audit log, and the entries no other change goes with.
#[async_trait]
pub trait AuditStore {
    /// Appends an entry on its own (a sign-in, a failed sign-in).
    async fn append_audit(&self, entry: &NewAuditEntry) -> StoreResult<()>;
    /// Entries as the filter says, at most `filter.limit`, chained ones only.
    async fn audit_entries(&self, filter: &AuditFilter) -> StoreResult<Vec<StoredAuditEntry>>;
    /// The first row without a position: one inserted around the writer.
    async fn first_unchained_audit_row(&self) -> StoreResult<Option<StoredAuditEntry>>;
    async fn audit_head(&self) -> StoreResult<ChainHead>;
    /// Chains, once, the entries written before the chain existed; returns
    /// how many it chained.
    async fn chain_earlier_audit_entries(&self) -> StoreResult<u64>;
}

/// Audit rows written per multi-row insert (nine values each).
pub(super) const AUDIT_ROWS_PER_INSERT: usize = 500;

pub(super) const SELECT_AUDIT: &str =
    "SELECT id, seq, at, kind, actor, approval_id, subject, detail, prev_hash, hash
     FROM audit_events";

macro_rules! audit_sql {
    ($store:ty, $db:ty, $row:ty, $conn:ty) => {
        /// An approval's event (created, decided, expired, cancelled).
        async fn insert_admin_audit(
            conn: &mut $conn,
            audit: &Audit,
            kind: &str,
            subject: &str,
            detail: Option<&str>,
        ) -> StoreResult<()> {
            let entry = NewAuditEntry {
                at: audit.at,
                kind: kind.to_owned(),
                actor: audit.actor.clone(),
                approval_id: None,
                subject: Some(subject.to_owned()),
                detail: detail.map(str::to_owned),
            };
            insert_audit_entry(conn, &entry).await
        }

        /// The one write of the audit log: the next link of the chain.
        async fn insert_audit_entry(conn: &mut $conn, entry: &NewAuditEntry) -> StoreResult<()> {
            insert_audit_entries(conn, std::slice::from_ref(entry)).await
        }

        /// Appends entries to the chain, in order: the head row is moved
        /// once for them all (held until the commit, so appends stay
        /// serialized), each hash computed from the one before, and the
        /// rows written in one statement.
        async fn insert_audit_entries(
            conn: &mut $conn,
            entries: &[NewAuditEntry],
        ) -> StoreResult<()> {
            if entries.is_empty() {
                return Ok(());
            }
            let (last_seq, mut prev_hash): (i64, String) = sqlx::query_as(
                "UPDATE audit_chain SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash",
            )
            .bind(entries.len() as i64)
            .fetch_one(&mut *conn)
            .await?;
            let first_seq = last_seq - entries.len() as i64 + 1;
            let mut rows = Vec::with_capacity(entries.len());
            for (seq, entry) in (first_seq..).zip(entries) {
                let hash = chain_hash(&prev_hash, seq, entry);
                rows.push((
                    seq,
                    std::mem::replace(&mut prev_hash, hash.clone()),
                    hash,
                    entry,
                ));
            }
            for chunk in rows.chunks(AUDIT_ROWS_PER_INSERT) {
                let mut query: QueryBuilder<$db> = QueryBuilder::new(
                    "INSERT INTO audit_events (approval_id, subject, kind, actor, detail, at, seq,
                         prev_hash, hash) ",
                );
                query.push_values(chunk, |mut row, (seq, prev, hash, entry)| {
                    row.push_bind(entry.approval_id.clone())
                        .push_bind(entry.subject.clone())
                        .push_bind(entry.kind.clone())
                        .push_bind(entry.actor.clone())
                        .push_bind(entry.detail.clone())
                        .push_bind(entry.at)
                        .push_bind(*seq)
                        .push_bind(prev.clone())
                        .push_bind(hash.clone());
                });
                query.build().execute(&mut *conn).await?;
            }
            sqlx::query("UPDATE audit_chain SET hash = $1 WHERE id = 1")
                .bind(&prev_hash)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }

        fn audit_query(filter: &AuditFilter) -> QueryBuilder<'_, $db> {
            let mut query: QueryBuilder<$db> =
                QueryBuilder::new(crate::server::store::audit::SELECT_AUDIT);
            query.push(" WHERE seq IS NOT NULL");
            if let Some(actors) = &filter.actors {
                // '' is no one: the list is never empty.
                query.push(" AND actor IN (''");
                for actor in actors {
                    query.push(", ").push_bind(actor.clone());
                }
                query.push(")");
            }
            if let Some(approval_id) = &filter.approval_id {
                query
                    .push(" AND approval_id = ")
                    .push_bind(approval_id.clone());
            }
            if let Some(kind) = &filter.kind {
                query.push(" AND kind = ").push_bind(kind.clone());
            }
            if let Some(since) = filter.since {
                query.push(" AND at >= ").push_bind(since);
            }
            if let Some(until) = filter.until {
                query.push(" AND at < ").push_bind(until);
            }
            let (comparison, direction) = match filter.order {
                Order::OldestFirst => (">", "ASC"),
                Order::NewestFirst => ("<", "DESC"),
            };
            if let Some(after) = filter.after_seq {
                query
                    .push(format!(" AND seq {comparison} "))
                    .push_bind(after);
            }
            query
                .push(format!(" ORDER BY seq {direction} LIMIT "))
                .push_bind(filter.limit);
            query
        }

        #[async_trait]
        impl AuditStore for $store {
            async fn append_audit(&self, entry: &NewAuditEntry) -> StoreResult<()> {
                let mut tx = self.writer.begin().await?;
                insert_audit_entry(&mut tx, entry).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn audit_entries(
                &self,
                filter: &AuditFilter,
            ) -> StoreResult<Vec<StoredAuditEntry>> {
                let rows: Vec<AuditRow> = audit_query(filter)
                    .build_query_as()
                    .fetch_all(&self.reader)
                    .await?;
                Ok(rows.into_iter().map(StoredAuditEntry::from).collect())
            }

            async fn first_unchained_audit_row(&self) -> StoreResult<Option<StoredAuditEntry>> {
                let row: Option<AuditRow> = sqlx::query_as(&format!(
                    "{} WHERE seq IS NULL ORDER BY id LIMIT 1",
                    crate::server::store::audit::SELECT_AUDIT
                ))
                .fetch_optional(&self.reader)
                .await?;
                Ok(row.map(StoredAuditEntry::from))
            }

            async fn audit_head(&self) -> StoreResult<ChainHead> {
                let (seq, hash): (i64, String) =
                    sqlx::query_as("SELECT seq, hash FROM audit_chain WHERE id = 1")
                        .fetch_one(&self.reader)
                        .await?;
                Ok(ChainHead { seq, hash })
            }

            async fn chain_earlier_audit_entries(&self) -> StoreResult<u64> {
                let mut tx = self.writer.begin().await?;
                // Locks the head first, so of instances starting together
                // one chains and the others find nothing left to do.
                let (mut seq, mut hash, until): (i64, String, Option<i64>) = sqlx::query_as(
                    "UPDATE audit_chain SET seq = seq WHERE id = 1
                     RETURNING seq, hash, unchained_until",
                )
                .fetch_one(&mut *tx)
                .await?;
                let Some(until) = until else {
                    return Ok(0);
                };
                let mut chained = 0;
                let mut after = 0_i64;
                loop {
                    let rows: Vec<StoredAuditEntry> = sqlx::query_as::<_, AuditRow>(&format!(
                        "{} WHERE seq IS NULL AND id > $1 AND id <= $2 ORDER BY id LIMIT 1000",
                        crate::server::store::audit::SELECT_AUDIT
                    ))
                    .bind(after)
                    .bind(until)
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .map(StoredAuditEntry::from)
                    .collect();
                    let Some(last) = rows.last() else { break };
                    after = last.row_id;
                    for row in rows {
                        let entry = row.content();
                        seq += 1;
                        let next = chain_hash(&hash, seq, &entry);
                        sqlx::query(
                            "UPDATE audit_events SET seq = $1, prev_hash = $2, hash = $3
                             WHERE id = $4",
                        )
                        .bind(seq)
                        .bind(&hash)
                        .bind(&next)
                        .bind(row.row_id)
                        .execute(&mut *tx)
                        .await?;
                        hash = next;
                        chained += 1;
                    }
                }
                sqlx::query(
                    "UPDATE audit_chain SET seq = $1, hash = $2, unchained_until = NULL
                     WHERE id = 1",
                )
                .bind(seq)
                .bind(&hash)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(chained)
            }
        }
    };
}

pub(crate) use audit_sql;
