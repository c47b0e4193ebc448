//! Approvals: created once, read and listed, moved to a terminal status
//! exactly once (its audit entry and outcome webhook in the same
//! transaction).

use super::StoreResult;
use crate::server::domain::{
    ApprovalFilter, ApprovalRecord, DecisionFilter, InsertOutcome, NewApproval, Transition,
    TransitionOutcome,
};
use async_trait::async_trait;

/// Approvals and their lifecycle.
#[async_trait]
pub trait ApprovalStore {
    /// Inserts an approval and its `created` audit event, or, when the
    /// idempotency key was seen for this API key, returns the first one.
    async fn insert_approval(&self, approval: NewApproval) -> StoreResult<InsertOutcome>;
    async fn approval(&self, id: &str) -> StoreResult<Option<ApprovalRecord>>;
    async fn approvals(&self, filter: &ApprovalFilter) -> StoreResult<Vec<ApprovalRecord>>;
    /// Moves a pending approval to a terminal status, atomically: of many
    /// concurrent callers exactly one gets `Applied`.
    async fn transition(&self, id: &str, transition: &Transition)
        -> StoreResult<TransitionOutcome>;
    /// Expires every pending approval whose deadline is at or before `now`.
    async fn expire_due(&self, now: i64) -> StoreResult<Vec<ApprovalRecord>>;
    /// The earliest deadline among pending approvals.
    async fn next_expiry(&self) -> StoreResult<Option<i64>>;
    /// A page of approvals that left `pending`, in order of id.
    async fn decided_approvals(&self, filter: &DecisionFilter) -> StoreResult<Vec<ApprovalRecord>>;
}

macro_rules! approval_sql {
    ($store:ty, $db:ty, $row:ty, $conn:ty) => {
        fn approval_from_row(row: &$row) -> Result<ApprovalRecord, sqlx::Error> {
            ApprovalRow::from_row(row)?.try_into()
        }

        fn event_of(record: &ApprovalRecord) -> ApprovalEvent {
            ApprovalEvent {
                approval_id: record.id.clone(),
                status: record.status,
            }
        }

        async fn approval_by_id(conn: &mut $conn, id: &str) -> StoreResult<Option<ApprovalRecord>> {
            let row = sqlx::query(&format!("{SELECT_APPROVAL} WHERE a.id = $1"))
                .bind(id)
                .fetch_optional(conn)
                .await?;
            Ok(row.as_ref().map(approval_from_row).transpose()?)
        }

        /// How a text search finds its rows.
        #[derive(Clone, Copy)]
        enum TextSearch {
            /// A scan of the newest `SEARCH_WINDOW` rows (below the cursor).
            NewestWindow,
            /// Each backend's text index.
            Index,
        }

        /// Rows a newest-first text search scans before it asks the index.
        const SEARCH_WINDOW: i64 = 5_000;

        fn approvals_query(filter: &ApprovalFilter, search: TextSearch) -> QueryBuilder<'_, $db> {
            let mut query: QueryBuilder<$db> = QueryBuilder::new(if filter.with_content {
                SELECT_APPROVAL
            } else {
                SELECT_APPROVAL_WITHOUT_CONTENT
            });
            query.push(" WHERE 1 = 1");
            if let Some(key) = &filter.api_key_id {
                query.push(" AND a.api_key_id = ").push_bind(key.clone());
            }
            let terminal = [Status::Approved, Status::Denied, Status::Expired, Status::Cancelled];
            if terminal.iter().all(|status| filter.statuses.contains(status))
                && !filter.statuses.contains(&Status::Pending)
            {
                // Every decided one: through the partial index on decided
                // approvals' ids, newest first without a sort.
                query.push(" AND a.status <> 'pending'");
            } else if !filter.statuses.is_empty() {
                query.push(" AND a.status IN (");
                let mut list = query.separated(", ");
                for status in &filter.statuses {
                    list.push_bind(status.as_str());
                }
                query.push(")");
            }
            // The same rule as `User::may_see` for an approver.
            if let Some(visibility) = &filter.visible_to {
                query
                    .push(" AND (a.approver_id = ")
                    .push_bind(visibility.user_id.clone())
                    .push(" OR (a.approver_id IS NULL AND (a.group_id IS NULL");
                if !visibility.group_ids.is_empty() {
                    query.push(" OR a.group_id IN (");
                    let mut list = query.separated(", ");
                    for group in &visibility.group_ids {
                        list.push_bind(group.clone());
                    }
                    query.push(")");
                }
                query.push(")))");
            }
            let (comparison, direction) = match filter.order {
                Order::OldestFirst => (">", "ASC"),
                Order::NewestFirst => ("<", "DESC"),
            };
            if let Some(needle) = &filter.text_contains {
                let pattern = like_pattern(needle);
                match search {
                    TextSearch::NewestWindow => {
                        query.push(" AND (");
                        let mut any = query.separated(" OR ");
                        for column in ["a.title", "a.reason", "k.name"] {
                            any.push(format!("lower({column}) LIKE "))
                                .push_bind_unseparated(pattern.clone())
                                .push_unseparated(" ESCAPE '\\'");
                        }
                        query.push(") AND a.id IN (SELECT id FROM approvals WHERE 1 = 1");
                        if let Some(after) = &filter.after {
                            query.push(" AND id < ").push_bind(after.clone());
                        }
                        query
                            .push(" ORDER BY id DESC LIMIT ")
                            .push_bind(SEARCH_WINDOW)
                            .push(")");
                    }
                    TextSearch::Index => {
                        // The ids whose title or reason holds the needle (each
                        // backend's own index), and those of agents whose name
                        // does: an index drives the search, not a scan.
                        query.push(" AND a.id IN (");
                        <$store>::push_text_matches(&mut query, needle);
                        query
                            .push(
                                " UNION ALL SELECT id FROM approvals WHERE api_key_id IN \
                                 (SELECT id FROM api_keys WHERE lower(name) LIKE ",
                            )
                            .push_bind(pattern)
                            .push(" ESCAPE '\\'))");
                    }
                }
            }
            if let Some(after) = &filter.after {
                query
                    .push(format!(" AND a.id {comparison} "))
                    .push_bind(after.clone());
            }
            query
                .push(format!(" ORDER BY a.id {direction} LIMIT "))
                .push_bind(filter.limit);
            query
        }


        #[async_trait]
        impl ApprovalStore for $store {
            async fn insert_approval(&self, new: NewApproval) -> StoreResult<InsertOutcome> {
                let mut tx = self.writer.begin().await?;
                let (idempotency_key, request_hash) = new.idempotency.clone().unzip();
                // The unique (api_key_id, idempotency_key) constraint decides a
                // race between two instances: the loser inserts nothing and
                // reads the winner's row once it has committed.
                let inserted = sqlx::query(
                    "INSERT INTO approvals (id, api_key_id, status, title, body_html, data_json,
                         action, approver_id, group_id, created_at, expires_at, idempotency_key,
                         request_hash)
                     VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                     ON CONFLICT (api_key_id, idempotency_key) DO NOTHING",
                )
                .bind(&new.id)
                .bind(&new.api_key_id)
                .bind(&new.title)
                .bind(&new.body_html)
                .bind(&new.data_json)
                .bind(&new.action)
                .bind(&new.route.approver_id)
                .bind(&new.route.group_id)
                .bind(new.created_at)
                .bind(new.expires_at)
                .bind(&idempotency_key)
                .bind(&request_hash)
                .execute(&mut *tx)
                .await?
                .rows_affected();

                if inserted == 0 {
                    let (id, request_hash): (String, Option<String>) = sqlx::query_as(
                        "SELECT id, request_hash FROM approvals
                         WHERE api_key_id = $1 AND idempotency_key = $2",
                    )
                    .bind(&new.api_key_id)
                    .bind(&idempotency_key)
                    .fetch_one(&mut *tx)
                    .await?;
                    let existing = approval_by_id(&mut tx, &id)
                        .await?
                        .ok_or(sqlx::Error::RowNotFound)?;
                    tx.commit().await?;
                    return Ok(InsertOutcome::Replayed {
                        existing,
                        request_hash: request_hash.unwrap_or_default(),
                    });
                }

                insert_audit(
                    &mut tx,
                    &new.id,
                    "created",
                    &format!("key:{}", new.api_key_id),
                    None,
                    new.created_at,
                )
                .await?;
                let record = approval_by_id(&mut tx, &new.id)
                    .await?
                    .ok_or(sqlx::Error::RowNotFound)?;
                let event = event_of(&record);
                self.announce_in(&mut tx, &event).await?;
                tx.commit().await?;
                self.announce_after(event);
                Ok(InsertOutcome::Created(record))
            }

            async fn approval(&self, id: &str) -> StoreResult<Option<ApprovalRecord>> {
                let mut conn = self.reader.acquire().await?;
                approval_by_id(&mut conn, id).await
            }

            async fn approvals(&self, filter: &ApprovalFilter) -> StoreResult<Vec<ApprovalRecord>> {
                // A text search, newest first, looks in the newest rows by a
                // plain scan first: a needle found in many rows fills its page
                // there at once, where the index would hand back every match
                // before the newest could be picked. Any match newer than the
                // page's oldest lies in that window, so a full page from it is
                // the right page; a short one says the index must answer.
                if filter.text_contains.is_some() && filter.order == Order::NewestFirst {
                    let rows = approvals_query(filter, TextSearch::NewestWindow)
                        .build()
                        .fetch_all(&self.reader)
                        .await?;
                    if rows.len() as i64 >= filter.limit {
                        return Ok(rows
                            .iter()
                            .map(approval_from_row)
                            .collect::<Result<_, _>>()?);
                    }
                }
                let rows = approvals_query(filter, TextSearch::Index)
                    .build()
                    .fetch_all(&self.reader)
                    .await?;
                Ok(rows
                    .iter()
                    .map(approval_from_row)
                    .collect::<Result<_, _>>()?)
            }

            async fn transition(
                &self,
                id: &str,
                change: &Transition,
            ) -> StoreResult<TransitionOutcome> {
                let mut tx = self.writer.begin().await?;
                // The status condition makes this the arbiter between
                // concurrent deciders, on any instance: PostgreSQL re-checks it
                // after waiting for the row lock, so only the first wins.
                let updated = sqlx::query(
                    "UPDATE approvals SET status = $1, reason = $2, decided_by = $3, decided_at = $4
                     WHERE id = $5 AND status = 'pending'",
                )
                .bind(change.status.as_str())
                .bind(&change.reason)
                .bind(&change.decided_by)
                .bind(change.at)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if updated == 1 {
                    insert_audit(
                        &mut tx,
                        id,
                        change.status.as_str(),
                        &change.actor,
                        change.reason.as_deref(),
                        change.at,
                    )
                    .await?;
                }
                let record = approval_by_id(&mut tx, id).await?;
                let applied = match &record {
                    Some(record) if updated == 1 => {
                        count_in_rollups(&mut tx, record, change.decided_by.as_deref(), change.at)
                            .await?;
                        enqueue_outcome(&mut tx, record).await?;
                        let event = event_of(record);
                        self.announce_in(&mut tx, &event).await?;
                        Some(event)
                    }
                    _ => None,
                };
                tx.commit().await?;
                Ok(match (record, applied) {
                    (None, _) => TransitionOutcome::NotFound,
                    (Some(record), Some(event)) => {
                        self.announce_after(event);
                        TransitionOutcome::Applied(record)
                    }
                    (Some(record), None) => TransitionOutcome::AlreadyDecided(record),
                })
            }

            async fn expire_due(&self, now: i64) -> StoreResult<Vec<ApprovalRecord>> {
                let mut tx = self.writer.begin().await?;
                // Every instance runs this. Rows another instance is expiring
                // right now are skipped rather than waited for, and the status
                // condition (re-checked under the row lock) lets each approval
                // expire, and get its audit event, exactly once.
                let ids: Vec<String> = sqlx::query_scalar(&format!(
                    "UPDATE approvals SET status = 'expired', decided_at = $1
                     WHERE status = 'pending' AND id IN (
                         SELECT id FROM approvals
                         WHERE status = 'pending' AND expires_at <= $1
                         ORDER BY id {}
                     )
                     RETURNING id",
                    <$store>::CLAIM_ROWS
                ))
                .bind(now)
                .fetch_all(&mut *tx)
                .await?;
                let mut expired = Vec::with_capacity(ids.len());
                for id in &ids {
                    insert_audit(&mut tx, id, "expired", "system", None, now).await?;
                    if let Some(record) = approval_by_id(&mut tx, id).await? {
                        count_in_rollups(&mut tx, &record, None, now).await?;
                        enqueue_outcome(&mut tx, &record).await?;
                        self.announce_in(&mut tx, &event_of(&record)).await?;
                        expired.push(record);
                    }
                }
                tx.commit().await?;
                for record in &expired {
                    self.announce_after(event_of(record));
                }
                Ok(expired)
            }

            async fn decided_approvals(
                &self,
                filter: &DecisionFilter,
            ) -> StoreResult<Vec<ApprovalRecord>> {
                let mut query: QueryBuilder<$db> = QueryBuilder::new(SELECT_APPROVAL);
                query.push(" WHERE a.status <> 'pending'");
                match filter.kind.as_deref() {
                    Some("") => {
                        query.push(" AND a.action IS NULL");
                    }
                    Some(kind) => {
                        query.push(" AND a.action = ").push_bind(kind.to_owned());
                    }
                    None => {}
                }
                if let Some(keys) = &filter.api_key_ids {
                    // '' is no key's id: the list is never empty.
                    query.push(" AND a.api_key_id IN (''");
                    for key in keys {
                        query.push(", ").push_bind(key.clone());
                    }
                    query.push(")");
                }
                if !filter.outcomes.is_empty() {
                    query.push(" AND a.status IN (");
                    let mut list = query.separated(", ");
                    for status in &filter.outcomes {
                        list.push_bind(status.as_str());
                    }
                    query.push(")");
                }
                if let Some(since) = filter.since {
                    query.push(" AND a.decided_at >= ").push_bind(since);
                }
                if let Some(until) = filter.until {
                    query.push(" AND a.decided_at < ").push_bind(until);
                }
                if let Some(after) = &filter.after {
                    query.push(" AND a.id > ").push_bind(after.clone());
                }
                query.push(" ORDER BY a.id LIMIT ").push_bind(filter.limit);
                let rows = query.build().fetch_all(&self.reader).await?;
                Ok(rows
                    .iter()
                    .map(approval_from_row)
                    .collect::<Result<_, _>>()?)
            }

            async fn next_expiry(&self) -> StoreResult<Option<i64>> {
                Ok(sqlx::query_scalar(
                    "SELECT MIN(expires_at) FROM approvals WHERE status = 'pending'",
                )
                .fetch_one(&self.reader)
                .await?)
            }

        }
    };
}

pub(crate) use approval_sql;
