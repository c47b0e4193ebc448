//! Approvals: created once, read and listed, moved to a terminal status
//! exactly once (its audit entry and outcome webhook in the same
//! transaction).

use super::{only_answer, StoreResult};
use crate::server::domain::{
    ApprovalFilter, ApprovalRecord, DecisionFilter, InsertOutcome, NewApproval, Transition,
    TransitionOutcome,
};
use async_trait::async_trait;

/// Approvals and their lifecycle.
#[async_trait]
pub trait ApprovalStore {
    /// Inserts approvals and their `created` audit events in one
    /// transaction (one commit for the batch), answering each on its own:
    /// when its idempotency key was seen for its API key, the first
    /// approval made with it; when the database refuses it, its error,
    /// the others still written. If the transaction fails, each gets
    /// [`StoreError::BatchFailed`](super::StoreError::BatchFailed) and nothing was written.
    async fn insert_approvals(&self, batch: Vec<NewApproval>) -> Vec<StoreResult<InsertOutcome>>;
    /// [`insert_approvals`](Self::insert_approvals) of one.
    async fn insert_approval(&self, approval: NewApproval) -> StoreResult<InsertOutcome> {
        only_answer(self.insert_approvals(vec![approval]).await)
    }
    async fn approval(&self, id: &str) -> StoreResult<Option<ApprovalRecord>>;
    async fn approvals(&self, filter: &ApprovalFilter) -> StoreResult<Vec<ApprovalRecord>>;
    /// Moves pending approvals to terminal statuses, in one transaction
    /// (one commit for the batch), answering each on its own: of many
    /// concurrent callers on one approval, in one batch or several, on any
    /// instance, exactly one gets `Applied`. If the batch fails, each is
    /// tried again alone, so one failure fails only its own request.
    async fn transitions(
        &self,
        batch: Vec<(String, Transition)>,
    ) -> Vec<StoreResult<TransitionOutcome>>;
    /// [`transitions`](Self::transitions) of one.
    async fn transition(
        &self,
        id: &str,
        transition: &Transition,
    ) -> StoreResult<TransitionOutcome> {
        only_answer(
            self.transitions(vec![(id.to_owned(), transition.clone())])
                .await,
        )
    }
    /// Expires up to `limit` pending approvals whose deadline is at or
    /// before `now`, earliest deadline first, in one transaction.
    async fn expire_due(&self, now: i64, limit: i64) -> StoreResult<Vec<ApprovalRecord>>;
    /// The earliest deadline among pending approvals.
    async fn next_expiry(&self) -> StoreResult<Option<i64>>;
    /// A page of approvals that left `pending`, in order of id.
    async fn decided_approvals(&self, filter: &DecisionFilter) -> StoreResult<Vec<ApprovalRecord>>;
}

/// Transitions per multi-row update (five parameters each, well within
/// SQLite's 32,766).
pub(super) const TRANSITIONS_PER_UPDATE: usize = 1_000;

macro_rules! approval_sql {
    ($store:ty, $db:ty, $row:ty, $conn:ty) => {
        fn approval_from_row(row: &$row) -> Result<ApprovalRecord, sqlx::Error> {
            ApprovalRow::from_row(row)?.try_into()
        }

        /// The event carried between instances (the id and the status).
        fn event_of(record: &ApprovalRecord) -> ApprovalEvent {
            ApprovalEvent {
                approval_id: record.id.clone(),
                status: record.status,
                committed: None,
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
            let terminal = [
                Status::Approved,
                Status::Denied,
                Status::Expired,
                Status::Cancelled,
            ];
            if terminal
                .iter()
                .all(|status| filter.statuses.contains(status))
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

        /// What became of one request of a batch before the records are
        /// read back.
        enum Written {
            Created,
            /// Its idempotency key was used before, by approval `id`.
            Replayed {
                id: String,
                request_hash: String,
            },
            Failed(StoreError),
        }

        /// Writes a batch of approvals in one transaction: see
        /// [`ApprovalStore::insert_approvals`].
        async fn write_approvals(
            store: &$store,
            batch: &[NewApproval],
        ) -> StoreResult<Vec<StoreResult<InsertOutcome>>> {
            let mut tx = store.writer.begin().await?;
            let mut written: Vec<Option<Written>> = batch.iter().map(|_| None).collect();
            // Each request's key is checked live here, in the transaction
            // that writes its approval: a key revoked by any process before
            // this commit writes nothing (the caller may have found it in a
            // cache of keys seen).
            let live = live_key_routes(&mut tx, batch).await?;
            let mut routes = Vec::with_capacity(batch.len());
            for (new, w) in batch.iter().zip(written.iter_mut()) {
                routes.push(match (&new.destination, live.get(&new.api_key_id)) {
                    (Destination::Named(route), Some(_)) => route.clone(),
                    (Destination::KeyDefault, Some(default)) => default.clone(),
                    (_, None) => {
                        *w = Some(Written::Failed(StoreError::KeyRevoked));
                        Route::default()
                    }
                });
            }
            // Requests that reuse an idempotency key of an earlier one in
            // the batch go in a later round, where they meet its row as a
            // retry across batches would.
            let mut remaining: Vec<usize> =
                (0..batch.len()).filter(|&i| written[i].is_none()).collect();
            while !remaining.is_empty() {
                let mut keys_in_round = std::collections::HashSet::new();
                let (round, later): (Vec<usize>, Vec<usize>) =
                    remaining
                        .into_iter()
                        .partition(|&i| match &batch[i].idempotency {
                            Some((key, _)) => keys_in_round.insert((&batch[i].api_key_id, key)),
                            None => true,
                        });
                insert_round(&mut tx, batch, &routes, &round, &mut written).await?;
                remaining = later;
            }

            let created: Vec<&NewApproval> = batch
                .iter()
                .zip(&written)
                .filter(|(_, w)| matches!(w, Some(Written::Created)))
                .map(|(new, _)| new)
                .collect();
            let entries: Vec<NewAuditEntry> = created
                .iter()
                .map(|new| NewAuditEntry {
                    at: new.created_at,
                    kind: "created".to_owned(),
                    actor: format!("key:{}", new.api_key_id),
                    approval_id: Some(new.id.clone()),
                    subject: None,
                    detail: new.policy_note.clone(),
                })
                .collect();
            insert_audit_entries(&mut tx, &entries).await?;
            // A policy's rulings go the way of a person's decisions, in
            // this transaction: nobody ever sees these approvals pending.
            let ruled: Vec<(String, Transition)> = created
                .iter()
                .filter_map(|new| Some((new.id.clone(), new.ruling.as_ref()?.transition.clone())))
                .collect();
            if !ruled.is_empty() {
                let ruled_refs: Vec<&(String, Transition)> = ruled.iter().collect();
                update_pending(&mut tx, &ruled_refs).await?;
                let ids: Vec<&str> = ruled.iter().map(|(id, _)| id.as_str()).collect();
                let records = approvals_by_ids(&mut tx, &ids).await?;
                let settled: Vec<(&ApprovalRecord, &Transition)> = ruled
                    .iter()
                    .filter_map(|(id, change)| Some((records.get(id)?, change)))
                    .collect();
                settle(store, &mut tx, &settled).await?;
                let sampled: Vec<(&NewApproval, &SampledBy)> = created
                    .iter()
                    .filter_map(|new| {
                        Some((*new, new.ruling.as_ref()?.sampled_for_review.as_ref()?))
                    })
                    .collect();
                insert_sampled_reviews(&mut tx, &sampled).await?;
            }

            let mut wanted: Vec<&str> = created.iter().map(|new| new.id.as_str()).collect();
            for w in written.iter().flatten() {
                if let Written::Replayed { id, .. } = w {
                    wanted.push(id);
                }
            }
            let records = approvals_by_ids(&mut tx, &wanted).await?;
            // Announced by `settle` when a policy ruled them.
            let events = created
                .iter()
                .filter(|new| new.ruling.is_none())
                .map(|new| records.get(&new.id).map(event_of))
                .collect::<Option<Vec<_>>>()
                .ok_or(sqlx::Error::RowNotFound)?;
            store.announce_in(&mut tx, &events).await?;
            tx.commit().await?;
            for new in &created {
                if let Some(record) = records.get(&new.id) {
                    store.announce_after(record);
                }
            }

            let mut outcomes = Vec::with_capacity(batch.len());
            for (new, w) in batch.iter().zip(written) {
                outcomes.push(match w.ok_or(sqlx::Error::RowNotFound)? {
                    // Cloned: a retry later in the batch may answer with it.
                    Written::Created => Ok(InsertOutcome::Created(
                        records
                            .get(&new.id)
                            .cloned()
                            .ok_or(sqlx::Error::RowNotFound)?,
                    )),
                    Written::Replayed { id, request_hash } => Ok(InsertOutcome::Replayed {
                        existing: records.get(&id).cloned().ok_or(sqlx::Error::RowNotFound)?,
                        request_hash,
                    }),
                    Written::Failed(error) => Err(error),
                });
            }
            Ok(outcomes)
        }

        /// Puts approvals a sampling policy picked in the review queue.
        async fn insert_sampled_reviews(
            conn: &mut $conn,
            sampled: &[(&NewApproval, &SampledBy)],
        ) -> StoreResult<()> {
            if sampled.is_empty() {
                return Ok(());
            }
            let mut query: QueryBuilder<$db> = QueryBuilder::new(
                "INSERT INTO sampled_reviews (approval_id, policy_id, policy_name, state,
                     approved_at) ",
            );
            query.push_values(sampled, |mut row, (new, by)| {
                row.push_bind(new.id.clone())
                    .push_bind(by.policy_id.clone())
                    .push_bind(by.policy_name.clone())
                    .push_bind("waiting")
                    .push_bind(new.created_at);
            });
            query.build().execute(&mut *conn).await?;
            Ok(())
        }

        /// Inserts one round of a batch (no two with the same idempotency
        /// key): all in one statement, or, if that fails, one by one, so
        /// that a request the database refuses fails alone.
        async fn insert_round(
            tx: &mut sqlx::Transaction<'_, $db>,
            batch: &[NewApproval],
            routes: &[Route],
            round: &[usize],
            written: &mut [Option<Written>],
        ) -> StoreResult<()> {
            let row = |i: usize| (&batch[i], &routes[i]);
            let together: Vec<(&NewApproval, &Route)> = round.iter().map(|&i| row(i)).collect();
            let mut savepoint = sqlx::Connection::begin(&mut **tx).await?;
            let inserted = match insert_rows(&mut savepoint, &together).await {
                Ok(ids) => {
                    savepoint.commit().await?;
                    ids
                }
                Err(_) => {
                    savepoint.rollback().await?;
                    let mut ids = std::collections::HashSet::new();
                    for &i in round {
                        let mut savepoint = sqlx::Connection::begin(&mut **tx).await?;
                        match insert_rows(&mut savepoint, &[row(i)]).await {
                            Ok(one) => {
                                savepoint.commit().await?;
                                ids.extend(one);
                            }
                            Err(error) => {
                                savepoint.rollback().await?;
                                written[i] = Some(Written::Failed(error));
                            }
                        }
                    }
                    ids
                }
            };
            for &i in round {
                let new = &batch[i];
                if written[i].is_some() {
                    continue;
                }
                written[i] = Some(if inserted.contains(&new.id) {
                    Written::Created
                } else {
                    // Only a used idempotency key makes the insert do
                    // nothing: the first approval made with it answers.
                    let key = new.idempotency.as_ref().map(|(key, _)| key.as_str());
                    let (id, request_hash): (String, Option<String>) = sqlx::query_as(
                        "SELECT id, request_hash FROM approvals
                         WHERE api_key_id = $1 AND idempotency_key = $2",
                    )
                    .bind(&new.api_key_id)
                    .bind(key)
                    .fetch_one(&mut **tx)
                    .await?;
                    Written::Replayed {
                        id,
                        request_hash: request_hash.unwrap_or_default(),
                    }
                });
            }
            Ok(())
        }

        /// One multi-row insert; the ids it inserted (a used idempotency
        /// key inserts nothing: the unique (api_key_id, idempotency_key)
        /// constraint also decides a race between two instances).
        async fn insert_rows(
            conn: &mut $conn,
            approvals: &[(&NewApproval, &Route)],
        ) -> StoreResult<std::collections::HashSet<String>> {
            let mut query: QueryBuilder<$db> = QueryBuilder::new(
                "INSERT INTO approvals (id, api_key_id, status, title, body_html, data_json,
                     action, approver_id, group_id, created_at, expires_at, idempotency_key,
                     request_hash, repeat_hash, repeat_of, policy_note) ",
            );
            query.push_values(approvals, |mut row, (new, route)| {
                let (key, hash) = new.idempotency.clone().unzip();
                row.push_bind(new.id.clone())
                    .push_bind(new.api_key_id.clone())
                    .push_bind("pending")
                    .push_bind(new.title.clone())
                    .push_bind(new.body_html.clone())
                    .push_bind(new.data_json.clone())
                    .push_bind(new.action.clone())
                    .push_bind(route.approver_id.clone())
                    .push_bind(route.group_id.clone())
                    .push_bind(new.created_at)
                    .push_bind(new.expires_at)
                    .push_bind(key)
                    .push_bind(hash)
                    .push_bind(new.repeat_hash.clone())
                    .push_bind(new.repeat_of.clone())
                    .push_bind(new.policy_note.clone());
            });
            query.push(" ON CONFLICT (api_key_id, idempotency_key) DO NOTHING RETURNING id");
            let ids: Vec<String> = query.build_query_scalar().fetch_all(&mut *conn).await?;
            Ok(ids.into_iter().collect())
        }

        /// The default routes of the batch's keys that are not revoked.
        async fn live_key_routes(
            conn: &mut $conn,
            batch: &[NewApproval],
        ) -> StoreResult<std::collections::HashMap<String, Route>> {
            let ids: std::collections::BTreeSet<&String> =
                batch.iter().map(|new| &new.api_key_id).collect();
            let ids: Vec<String> = ids.into_iter().cloned().collect();
            let mut query: QueryBuilder<$db> = QueryBuilder::new(
                "SELECT id, default_approver_id, default_group_id FROM api_keys
                 WHERE revoked_at IS NULL AND id IN ",
            );
            push_list(&mut query, &ids);
            let rows: Vec<(String, Option<String>, Option<String>)> =
                query.build_query_as().fetch_all(&mut *conn).await?;
            Ok(rows
                .into_iter()
                .map(|(id, approver_id, group_id)| {
                    (
                        id,
                        Route {
                            approver_id,
                            group_id,
                        },
                    )
                })
                .collect())
        }

        /// Approvals by id, read in the writer's transaction.
        async fn approvals_by_ids(
            conn: &mut $conn,
            ids: &[&str],
        ) -> StoreResult<std::collections::HashMap<String, ApprovalRecord>> {
            let mut records = std::collections::HashMap::new();
            for chunk in ids.chunks(500) {
                let mut query: QueryBuilder<$db> =
                    QueryBuilder::new(format!("{SELECT_APPROVAL} WHERE a.id IN ("));
                let mut list = query.separated(", ");
                for id in chunk {
                    list.push_bind(id.to_string());
                }
                query.push(")");
                for row in query.build().fetch_all(&mut *conn).await? {
                    let record = approval_from_row(&row)?;
                    records.insert(record.id.clone(), record);
                }
            }
            Ok(records)
        }

        /// Applies a batch of transitions in one transaction; the answers
        /// in the batch's order.
        async fn write_transitions(
            store: &$store,
            batch: &[(String, Transition)],
        ) -> StoreResult<Vec<TransitionOutcome>> {
            let mut tx = store.writer.begin().await?;
            // The first request for an approval in the batch is the one
            // tried; later ones find it decided.
            let mut seen = std::collections::HashSet::new();
            let firsts: Vec<&(String, Transition)> =
                batch.iter().filter(|(id, _)| seen.insert(id)).collect();
            let mut updated = std::collections::HashSet::new();
            for chunk in firsts.chunks(TRANSITIONS_PER_UPDATE) {
                updated.extend(update_pending(&mut tx, chunk).await?);
            }
            // Taken out as it is answered: only the first request for a
            // moved approval is told it applied.
            let applied: Vec<bool> = batch.iter().map(|(id, _)| updated.remove(id)).collect();
            let ids: Vec<&str> = batch.iter().map(|(id, _)| id.as_str()).collect();
            let records = approvals_by_ids(&mut tx, &ids).await?;
            let settled: Vec<(&ApprovalRecord, &Transition)> = batch
                .iter()
                .zip(&applied)
                .filter(|(_, applied)| **applied)
                .filter_map(|((id, change), _)| Some((records.get(id)?, change)))
                .collect();
            settle(store, &mut tx, &settled).await?;
            tx.commit().await?;
            for (record, _) in &settled {
                store.announce_after(record);
            }
            Ok(batch
                .iter()
                .zip(applied)
                .map(|((id, _), applied)| match records.get(id) {
                    None => TransitionOutcome::NotFound,
                    Some(record) if applied => TransitionOutcome::Applied(record.clone()),
                    Some(record) => TransitionOutcome::AlreadyDecided(record.clone()),
                })
                .collect())
        }

        /// Moves the approvals of `changes` (one each) that are still
        /// pending, in one statement; the ids it moved. The status condition
        /// makes it the arbiter between concurrent deciders on any instance:
        /// PostgreSQL re-checks it after waiting for a row lock, so only the
        /// first wins.
        async fn update_pending(
            conn: &mut $conn,
            changes: &[&(String, Transition)],
        ) -> StoreResult<Vec<String>> {
            let mut query: QueryBuilder<$db> = QueryBuilder::new(
                "WITH changes (target, status, reason, decided_by, decided_by_policy, decided_at) AS (",
            );
            query.push_values(changes, |mut row, (id, change)| {
                row.push_bind(id.clone())
                    .push_bind(change.status.as_str())
                    .push_bind(change.reason.clone())
                    .push_bind(change.decided_by.clone())
                    .push_bind(change.decided_by_policy.clone())
                    .push_bind(change.at);
            });
            // Not `UPDATE ... FROM changes`: SQLite (3.46 and later) plans
            // that join from the index of pending approvals, a scan of the
            // whole backlog for each batch (decisions fell from about
            // 1,700/s to 260/s in the harness). The approvals are found
            // by id instead.
            query.push(
                ") UPDATE approvals
                 SET (status, reason, decided_by, decided_by_policy, decided_at) = (
                     SELECT changes.status, changes.reason, changes.decided_by,
                         changes.decided_by_policy, changes.decided_at
                     FROM changes WHERE changes.target = approvals.id)
                 WHERE id IN (SELECT target FROM changes) AND status = 'pending'
                 RETURNING id",
            );
            Ok(query.build_query_scalar().fetch_all(&mut *conn).await?)
        }

        /// What approvals that just left `pending` bring along, in the
        /// transaction that moved them: their audit entries (chained in
        /// order), their counts in the rollups (summed over the batch),
        /// their outcome webhooks and their events.
        async fn settle(
            store: &$store,
            tx: &mut $conn,
            settled: &[(&ApprovalRecord, &Transition)],
        ) -> StoreResult<()> {
            let entries: Vec<NewAuditEntry> = settled
                .iter()
                .map(|(record, change)| NewAuditEntry {
                    at: change.at,
                    kind: change.status.as_str().to_owned(),
                    actor: change.actor.clone(),
                    approval_id: Some(record.id.clone()),
                    subject: None,
                    detail: change.reason.clone(),
                })
                .collect();
            insert_audit_entries(&mut *tx, &entries).await?;
            let mut counts = RollupCounts::default();
            for (record, change) in settled {
                counts.add(&decided_of(record, change.decided_by.as_deref(), change.at));
            }
            write_rollups(&mut *tx, &counts).await?;
            let records: Vec<&ApprovalRecord> = settled.iter().map(|(record, _)| *record).collect();
            enqueue_outcomes(&mut *tx, &records).await?;
            let events: Vec<_> = settled.iter().map(|(record, _)| event_of(record)).collect();
            store.announce_in(&mut *tx, &events).await
        }

        #[async_trait]
        impl ApprovalStore for $store {
            async fn insert_approvals(
                &self,
                batch: Vec<NewApproval>,
            ) -> Vec<StoreResult<InsertOutcome>> {
                write_approvals(self, &batch)
                    .await
                    .unwrap_or_else(|error| each_failed(batch.len(), &error))
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

            async fn transitions(
                &self,
                batch: Vec<(String, Transition)>,
            ) -> Vec<StoreResult<TransitionOutcome>> {
                match write_transitions(self, &batch).await {
                    Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
                    Err(error) if batch.len() == 1 => vec![Err(error)],
                    Err(_) => {
                        // Nothing was kept: each alone, so that the one the
                        // database refuses fails by itself.
                        let mut outcomes = Vec::with_capacity(batch.len());
                        for one in batch.chunks(1) {
                            // One answer per request, as for any batch.
                            match write_transitions(self, one).await {
                                Ok(answers) => outcomes.extend(answers.into_iter().map(Ok)),
                                Err(error) => outcomes.push(Err(error)),
                            }
                        }
                        outcomes
                    }
                }
            }

            async fn expire_due(&self, now: i64, limit: i64) -> StoreResult<Vec<ApprovalRecord>> {
                let mut tx = self.writer.begin().await?;
                // Every instance runs this. Rows another instance is expiring
                // right now are skipped rather than waited for, and the status
                // condition (re-checked under the row lock) lets each approval
                // expire, and get its audit event, exactly once.
                let ids: Vec<String> = sqlx::query_scalar(&format!(
                    // Chosen once (MATERIALIZED): as a plain subquery
                    // PostgreSQL may run it again for rows it rechecks, and
                    // expire more than the limit.
                    "WITH due AS MATERIALIZED (
                         SELECT id FROM approvals
                         WHERE status = 'pending' AND expires_at <= $1
                         ORDER BY expires_at, id LIMIT $2 {}
                     )
                     UPDATE approvals SET status = 'expired', decided_at = $1
                     WHERE status = 'pending' AND id IN (SELECT id FROM due)
                     RETURNING id",
                    <$store>::CLAIM_ROWS
                ))
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
                let expiry = Transition {
                    status: Status::Expired,
                    reason: None,
                    decided_by: None,
                    decided_by_policy: None,
                    actor: "system".to_owned(),
                    at: now,
                };
                let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                let mut records = approvals_by_ids(&mut tx, &ids).await?;
                let expired: Vec<ApprovalRecord> =
                    ids.iter().filter_map(|id| records.remove(*id)).collect();
                let settled: Vec<_> = expired.iter().map(|record| (record, &expiry)).collect();
                settle(self, &mut tx, &settled).await?;
                tx.commit().await?;
                for record in &expired {
                    self.announce_after(record);
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
