//! Webhook endpoints and the outbox: messages queued in the transaction
//! of the change they announce, claimed by one worker at a time, and every
//! attempt logged.

use super::{only_answer, StoreResult};
use crate::model::{KeyWebhook, WebhookMessage};
use crate::server::domain::{
    AttemptRecord, Audit, ClaimedMessage, MessageFilter, NewEndpoint, NewMessage,
};
use async_trait::async_trait;

/// Outbox messages written per multi-row insert (six values each).
pub(super) const OUTBOX_ROWS_PER_INSERT: usize = 500;

/// Endpoints, queued messages, claims and attempts.
#[async_trait]
pub trait WebhookStore {
    /// Points the key's endpoint at `endpoint.url`, or creates the endpoint
    /// (with `endpoint.secret`) when it has none; true when created.
    async fn upsert_webhook_endpoint(
        &self,
        endpoint: NewEndpoint,
        audit: &Audit,
    ) -> StoreResult<bool>;
    /// Every live key with its endpoint, by key name.
    async fn key_webhooks(&self, now: i64) -> StoreResult<Vec<KeyWebhook>>;
    /// Signs with `secret` from now on, and with the current one as well
    /// until `previous_until`; false when there is no such endpoint.
    async fn rotate_webhook_secret(
        &self,
        endpoint_id: &str,
        secret: &str,
        previous_until: i64,
        audit: &Audit,
    ) -> StoreResult<bool>;
    /// Re-enables a disabled endpoint; its held messages are due at once.
    async fn enable_webhook_endpoint(&self, endpoint_id: &str, audit: &Audit) -> StoreResult<bool>;
    async fn enqueue_webhook(&self, message: NewMessage) -> StoreResult<()>;
    /// Queues a message for delivery again now (unless an attempt is under
    /// way); false when there is no such message.
    async fn redeliver_webhook(&self, message_id: &str, now: i64) -> StoreResult<bool>;
    /// Messages as of `now` (in flight while a claim's lease runs).
    async fn webhook_messages(
        &self,
        filter: &MessageFilter,
        now: i64,
    ) -> StoreResult<Vec<WebhookMessage>>;
    /// Claims up to `limit` due messages until `lease_until`, skipping the
    /// endpoints in `busy_endpoints` and rows other instances hold.
    async fn claim_webhooks(
        &self,
        now: i64,
        lease_until: i64,
        claim_token: &str,
        limit: i64,
        busy_endpoints: &[String],
    ) -> StoreResult<Vec<ClaimedMessage>>;
    /// Logs attempts, each moving its message and endpoint on atomically,
    /// in one transaction (one commit for the batch), answering each on its
    /// own: one that fails (its message is gone) fails alone. If the
    /// transaction fails, each gets [`StoreError::BatchFailed`](super::StoreError::BatchFailed).
    async fn record_webhook_attempts(&self, batch: Vec<AttemptRecord>) -> Vec<StoreResult<()>>;
    /// [`record_webhook_attempts`](Self::record_webhook_attempts) of one.
    async fn record_webhook_attempt(&self, attempt: &AttemptRecord) -> StoreResult<()> {
        only_answer(self.record_webhook_attempts(vec![attempt.clone()]).await)
    }
    /// When the next pending message is due (None when nothing waits).
    async fn next_webhook_due(&self) -> StoreResult<Option<i64>>;
    /// At start: releases claims a previous run of this process left behind
    /// (SQLite: the only process, so every claim is stale; PostgreSQL:
    /// nothing, other instances' claims expire with their lease).
    async fn recover_webhook_claims(&self) -> StoreResult<()>;
}

macro_rules! webhook_sql {
    ($store:ty, $db:ty, $row:ty, $conn:ty) => {
        async fn insert_endpoint(conn: &mut $conn, endpoint: &NewEndpoint) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO webhook_endpoints (id, api_key_id, url, secret, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&endpoint.id)
            .bind(&endpoint.api_key_id)
            .bind(&endpoint.url)
            .bind(&endpoint.secret)
            .bind(endpoint.created_at)
            .execute(conn)
            .await?;
            Ok(())
        }

        /// The outbox: queues the webhooks announcing these records'
        /// terminal statuses to their keys' endpoints, in the caller's
        /// transaction (one statement for them all), so each status change
        /// and its message commit (or vanish) together. A key without an
        /// endpoint gets nothing; a disabled endpoint's messages wait until
        /// it is enabled again.
        async fn enqueue_outcomes(conn: &mut $conn, records: &[&ApprovalRecord]) -> StoreResult<()> {
            let messages: Vec<_> = records
                .iter()
                .filter_map(|record| {
                    let (event_type, payload) = outcome::outcome(record)?;
                    let at = record.decided_at.unwrap_or(record.created_at);
                    Some((ids::new_id("msg", at), *record, event_type, payload, at))
                })
                .collect();
            for chunk in messages.chunks(OUTBOX_ROWS_PER_INSERT) {
                let mut query: QueryBuilder<$db> = QueryBuilder::new(
                    "WITH decided (id, approval_id, event_type, payload, at, api_key_id) AS (",
                );
                query.push_values(chunk, |mut row, (id, record, event_type, payload, at)| {
                    row.push_bind(id.clone())
                        .push_bind(record.id.clone())
                        .push_bind(*event_type)
                        .push_bind(payload.clone())
                        .push_bind(*at)
                        .push_bind(record.api_key_id.clone());
                });
                query.push(
                    ") INSERT INTO webhook_messages (id, endpoint_id, approval_id, event_type,
                         payload, status, round_attempts, next_attempt_at, created_at)
                     SELECT d.id, e.id, d.approval_id, d.event_type, d.payload, 'pending', 0,
                         d.at, d.at
                     FROM decided d JOIN webhook_endpoints e ON e.api_key_id = d.api_key_id",
                );
                query.build().execute(&mut *conn).await?;
            }
            Ok(())
        }

        fn endpoint_from_row(row: &$row, now: i64) -> Result<WebhookEndpoint, sqlx::Error> {
            Ok(EndpointRow::from_row(row)?.at(now))
        }

        fn message_from_row(row: &$row, now: i64) -> Result<WebhookMessage, sqlx::Error> {
            MessageRow::from_row(row)?.at(now)
        }

        fn attempt_from_row(row: &$row) -> Result<(String, WebhookAttempt), sqlx::Error> {
            let row = AttemptRow::from_row(row)?;
            Ok((row.message_id.clone(), row.into()))
        }

        /// Logs one attempt and moves its message and endpoint on.
        async fn record_attempt(conn: &mut $conn, attempt: &AttemptRecord) -> StoreResult<()> {
            // What the statistics and the audit log need, read before
            // this attempt changes it.
            let (approval_id, created_at, delivered_before, attempts_before): (
                Option<String>,
                i64,
                Option<i64>,
                i64,
            ) = sqlx::query_as(
                "SELECT approval_id, created_at, delivered_at,
                     (SELECT COUNT(*) FROM webhook_attempts WHERE message_id = $1)
                 FROM webhook_messages WHERE id = $1",
            )
            .bind(&attempt.message_id)
            .fetch_one(&mut *conn)
            .await?;
            let first_success_after = (matches!(attempt.next, NextStep::Delivered)
                && delivered_before.is_none())
            .then(|| attempt.attempted_at - created_at);
            count_attempt_in_rollups(&mut *conn, attempt, attempts_before == 0, first_success_after)
                .await?;
            sqlx::query(
                "INSERT INTO webhook_attempts (message_id, attempted_at, status_code, latency_ms,
                     error, response_body)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&attempt.message_id)
            .bind(attempt.attempted_at)
            .bind(attempt.status_code)
            .bind(attempt.latency_ms)
            .bind(&attempt.error)
            .bind(&attempt.response_body)
            .execute(&mut *conn)
            .await?;
            let (status, next_attempt_at, delivered_at) = match attempt.next {
                NextStep::Delivered => ("delivered", None, Some(attempt.attempted_at)),
                NextStep::RetryAt(at) => ("pending", Some(at), None),
                NextStep::GiveUp => ("failed", None, None),
            };
            // Only under the claim the attempt was made with: if it lapsed
            // and another worker took the message over, that one decides.
            sqlx::query(
                "UPDATE webhook_messages
                 SET status = $1, round_attempts = round_attempts + 1,
                     next_attempt_at = COALESCE($2, next_attempt_at),
                     delivered_at = COALESCE($3, delivered_at),
                     lease_until = NULL, claim_token = NULL
                 WHERE id = $4 AND claim_token = $5",
            )
            .bind(status)
            .bind(next_attempt_at)
            .bind(delivered_at)
            .bind(&attempt.message_id)
            .bind(&attempt.claim_token)
            .execute(&mut *conn)
            .await?;
            match (&attempt.next, &attempt.disable_endpoint) {
                (NextStep::Delivered, _) => {
                    sqlx::query(
                        "UPDATE webhook_endpoints SET last_success_at = $1, failure_streak = 0
                         WHERE id = $2",
                    )
                    .bind(attempt.attempted_at)
                    .bind(&attempt.endpoint_id)
                    .execute(&mut *conn)
                    .await?;
                }
                (_, Some(reason)) => {
                    sqlx::query(
                        "UPDATE webhook_endpoints SET failure_streak = failure_streak + 1,
                             disabled_at = $1, disabled_reason = $2
                         WHERE id = $3",
                    )
                    .bind(attempt.attempted_at)
                    .bind(reason)
                    .bind(&attempt.endpoint_id)
                    .execute(&mut *conn)
                    .await?;
                }
                (_, None) => {
                    sqlx::query(
                        "UPDATE webhook_endpoints SET failure_streak = failure_streak + 1
                         WHERE id = $1",
                    )
                    .bind(&attempt.endpoint_id)
                    .execute(&mut *conn)
                    .await?;
                }
            }
            let entry = NewAuditEntry {
                at: attempt.attempted_at,
                kind: "webhook_attempted".to_owned(),
                actor: "system".to_owned(),
                approval_id,
                subject: Some(format!("endpoint:{}", attempt.endpoint_id)),
                detail: Some(attempt.audit_detail()),
            };
            insert_audit_entry(&mut *conn, &entry).await?;
            Ok(())
        }

        /// Logs a batch of attempts in one transaction, each in a savepoint
        /// of its own so that one failing fails alone.
        async fn write_attempts(
            store: &$store,
            batch: &[AttemptRecord],
        ) -> StoreResult<Vec<StoreResult<()>>> {
            let mut tx = store.writer.begin().await?;
            let mut answers = Vec::with_capacity(batch.len());
            for attempt in batch {
                let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
                match record_attempt(&mut savepoint, attempt).await {
                    Ok(()) => {
                        savepoint.commit().await?;
                        answers.push(Ok(()));
                    }
                    Err(error) => {
                        savepoint.rollback().await?;
                        answers.push(Err(error));
                    }
                }
            }
            tx.commit().await?;
            Ok(answers)
        }

        #[async_trait]
        impl WebhookStore for $store {
            async fn upsert_webhook_endpoint(
                &self,
                endpoint: NewEndpoint,
                audit: &Audit,
            ) -> StoreResult<bool> {
                let mut tx = self.writer.begin().await?;
                let updated = sqlx::query("UPDATE webhook_endpoints SET url = $1 WHERE api_key_id = $2")
                    .bind(&endpoint.url)
                    .bind(&endpoint.api_key_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if updated == 0 {
                    insert_endpoint(&mut tx, &endpoint).await?;
                }
                let subject = format!("key:{}", endpoint.api_key_id);
                insert_admin_audit(&mut tx, audit, "webhook_url_set", &subject, Some(&endpoint.url))
                    .await?;
                tx.commit().await?;
                Ok(updated == 0)
            }

            async fn key_webhooks(&self, now: i64) -> StoreResult<Vec<KeyWebhook>> {
                let rows = sqlx::query(
                    "SELECT k.id AS key_id, k.name AS key_name, k.revoked_at, e.id, e.url,
                         e.previous_until, e.disabled_at, e.disabled_reason, e.last_success_at,
                         e.failure_streak, e.created_at
                     FROM api_keys k LEFT JOIN webhook_endpoints e ON e.api_key_id = k.id
                     WHERE k.revoked_at IS NULL OR e.id IS NOT NULL
                     ORDER BY k.revoked_at IS NOT NULL, k.name, k.id",
                )
                .fetch_all(&self.reader)
                .await?;
                let mut keys = Vec::with_capacity(rows.len());
                for row in &rows {
                    let endpoint_id: Option<String> = row.try_get("id")?;
                    keys.push(KeyWebhook {
                        key_id: row.try_get("key_id")?,
                        key_name: row.try_get("key_name")?,
                        revoked_at: row.try_get("revoked_at")?,
                        endpoint: endpoint_id.map(|_| endpoint_from_row(row, now)).transpose()?,
                    });
                }
                Ok(keys)
            }

            async fn rotate_webhook_secret(
                &self,
                endpoint_id: &str,
                secret: &str,
                previous_until: i64,
                audit: &Audit,
            ) -> StoreResult<bool> {
                let mut tx = self.writer.begin().await?;
                let key_id: Option<String> = sqlx::query_scalar(
                    "UPDATE webhook_endpoints
                     SET previous_secret = secret, previous_until = $1, secret = $2
                     WHERE id = $3
                     RETURNING api_key_id",
                )
                .bind(previous_until)
                .bind(secret)
                .bind(endpoint_id)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(key_id) = &key_id {
                    let subject = format!("key:{key_id}");
                    insert_admin_audit(&mut tx, audit, "webhook_secret_rotated", &subject, None)
                        .await?;
                }
                tx.commit().await?;
                Ok(key_id.is_some())
            }

            async fn enable_webhook_endpoint(
                &self,
                endpoint_id: &str,
                audit: &Audit,
            ) -> StoreResult<bool> {
                let now = audit.at;
                let mut tx = self.writer.begin().await?;
                let key_id: Option<String> = sqlx::query_scalar(
                    "UPDATE webhook_endpoints
                     SET disabled_at = NULL, disabled_reason = NULL, failure_streak = 0
                     WHERE id = $1
                     RETURNING api_key_id",
                )
                .bind(endpoint_id)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(key_id) = &key_id {
                    let subject = format!("key:{key_id}");
                    insert_admin_audit(&mut tx, audit, "webhook_enabled", &subject, None).await?;
                }
                let updated = u64::from(key_id.is_some());
                sqlx::query(
                    "UPDATE webhook_messages SET next_attempt_at = $1
                     WHERE endpoint_id = $2 AND status = 'pending'",
                )
                .bind(now)
                .bind(endpoint_id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(updated == 1)
            }

            async fn enqueue_webhook(&self, message: NewMessage) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO webhook_messages (id, endpoint_id, approval_id, event_type, payload,
                         status, round_attempts, next_attempt_at, created_at)
                     VALUES ($1, $2, NULL, $3, $4, 'pending', 0, $5, $5)",
                )
                .bind(&message.id)
                .bind(&message.endpoint_id)
                .bind(&message.event_type)
                .bind(&message.payload)
                .bind(message.at)
                .execute(&self.writer)
                .await?;
                Ok(())
            }

            async fn redeliver_webhook(&self, message_id: &str, now: i64) -> StoreResult<bool> {
                let mut tx = self.writer.begin().await?;
                let exists: bool =
                    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM webhook_messages WHERE id = $1)")
                        .bind(message_id)
                        .fetch_one(&mut *tx)
                        .await?;
                // An attempt under way is left to finish: it is the redelivery.
                sqlx::query(
                    "UPDATE webhook_messages
                     SET status = 'pending', round_attempts = 0, next_attempt_at = $1
                     WHERE id = $2
                       AND NOT (status = 'pending' AND lease_until IS NOT NULL AND lease_until > $1)",
                )
                .bind(now)
                .bind(message_id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(exists)
            }

            async fn webhook_messages(
                &self,
                filter: &MessageFilter,
                now: i64,
            ) -> StoreResult<Vec<WebhookMessage>> {
                let mut query: QueryBuilder<$db> = QueryBuilder::new(
                    "SELECT m.id, k.name AS key_name, e.url, m.approval_id, m.event_type, m.status,
                         m.next_attempt_at, m.lease_until, m.created_at, m.delivered_at
                     FROM webhook_messages m
                     JOIN webhook_endpoints e ON e.id = m.endpoint_id
                     JOIN api_keys k ON k.id = e.api_key_id
                     WHERE 1 = 1",
                );
                if let Some(approval) = &filter.approval_id {
                    query.push(" AND m.approval_id = ").push_bind(approval.clone());
                }
                if let Some(endpoint) = &filter.endpoint_id {
                    query.push(" AND m.endpoint_id = ").push_bind(endpoint.clone());
                }
                query.push(" ORDER BY m.id DESC LIMIT ").push_bind(filter.limit);
                let rows = query.build().fetch_all(&self.reader).await?;
                let mut messages = rows
                    .iter()
                    .map(|row| message_from_row(row, now))
                    .collect::<Result<Vec<_>, _>>()?;
                if messages.is_empty() {
                    return Ok(messages);
                }
                let ids: Vec<String> = messages.iter().map(|m| m.id.clone()).collect();
                let mut query: QueryBuilder<$db> = QueryBuilder::new(
                    "SELECT message_id, attempted_at, status_code, latency_ms, error, response_body
                     FROM webhook_attempts WHERE message_id IN ",
                );
                push_list(&mut query, &ids);
                query.push(" ORDER BY id");
                for row in query.build().fetch_all(&self.reader).await? {
                    let (message_id, attempt) = attempt_from_row(&row)?;
                    if let Some(message) = messages.iter_mut().find(|m| m.id == message_id) {
                        message.attempts.push(attempt);
                    }
                }
                Ok(messages)
            }

            async fn claim_webhooks(
                &self,
                now: i64,
                lease_until: i64,
                claim_token: &str,
                limit: i64,
                busy_endpoints: &[String],
            ) -> StoreResult<Vec<ClaimedMessage>> {
                let mut tx = self.writer.begin().await?;
                // Due, unclaimed (or whose claim lapsed: its instance died),
                // for an enabled endpoint. Rows another instance is claiming
                // right now are skipped, and the conditions are re-checked on
                // the outer UPDATE, so each claim goes to exactly one worker.
                //
                // The LIMIT sits in a materialized CTE: PostgreSQL may
                // evaluate an `IN (SELECT ... LIMIT n)` subquery more than
                // once, and with SKIP LOCKED each pass can pick other rows.
                let mut query: QueryBuilder<$db> = QueryBuilder::new(
                    "WITH due AS MATERIALIZED (SELECT m.id FROM webhook_messages m
                     WHERE m.status = 'pending' AND m.next_attempt_at <= ",
                );
                query
                    .push_bind(now)
                    .push(" AND (m.lease_until IS NULL OR m.lease_until <= ")
                    .push_bind(now)
                    .push(
                        ") AND EXISTS (SELECT 1 FROM webhook_endpoints e
                         WHERE e.id = m.endpoint_id AND e.disabled_at IS NULL)",
                    );
                if !busy_endpoints.is_empty() {
                    query.push(" AND m.endpoint_id NOT IN ");
                    push_list(&mut query, busy_endpoints);
                }
                query
                    .push(" ORDER BY m.next_attempt_at LIMIT ")
                    .push_bind(limit)
                    .push(format!(" {})", <$store>::CLAIM_ROWS))
                    .push(" UPDATE webhook_messages SET lease_until = ")
                    .push_bind(lease_until)
                    .push(", claim_token = ")
                    .push_bind(claim_token.to_owned())
                    .push(
                        " WHERE id IN (SELECT id FROM due) AND status = 'pending'
                         AND (lease_until IS NULL OR lease_until <= ",
                    )
                    .push_bind(now)
                    .push(") RETURNING id, endpoint_id, payload, round_attempts");
                let claimed = query.build().fetch_all(&mut *tx).await?;
                let mut messages = Vec::with_capacity(claimed.len());
                if !claimed.is_empty() {
                    let mut endpoint_ids: Vec<String> = claimed
                        .iter()
                        .map(|row| row.try_get("endpoint_id"))
                        .collect::<Result<_, _>>()?;
                    endpoint_ids.sort();
                    endpoint_ids.dedup();
                    let mut query: QueryBuilder<$db> = QueryBuilder::new(
                        "SELECT id, url, secret, previous_secret, previous_until
                         FROM webhook_endpoints WHERE id IN ",
                    );
                    push_list(&mut query, &endpoint_ids);
                    let mut endpoints = std::collections::HashMap::new();
                    for row in query.build().fetch_all(&mut *tx).await? {
                        let mut secrets = vec![row.try_get::<String, _>("secret")?];
                        let previous: Option<String> = row.try_get("previous_secret")?;
                        let previous_until: Option<i64> = row.try_get("previous_until")?;
                        if let (Some(previous), Some(until)) = (previous, previous_until) {
                            if until > now {
                                secrets.push(previous);
                            }
                        }
                        let id: String = row.try_get("id")?;
                        endpoints.insert(id, (row.try_get::<String, _>("url")?, secrets));
                    }
                    for row in &claimed {
                        let endpoint_id: String = row.try_get("endpoint_id")?;
                        let Some((url, secrets)) = endpoints.get(&endpoint_id) else {
                            continue;
                        };
                        messages.push(ClaimedMessage {
                            id: row.try_get("id")?,
                            url: url.clone(),
                            secrets: secrets.clone(),
                            endpoint_id,
                            payload: row.try_get("payload")?,
                            round_attempts: row.try_get("round_attempts")?,
                        });
                    }
                }
                tx.commit().await?;
                Ok(messages)
            }

            async fn record_webhook_attempts(
                &self,
                batch: Vec<AttemptRecord>,
            ) -> Vec<StoreResult<()>> {
                write_attempts(self, &batch)
                    .await
                    .unwrap_or_else(|error| each_failed(batch.len(), &error))
            }

            async fn next_webhook_due(&self) -> StoreResult<Option<i64>> {
                // A claimed message is due again only if its claim lapses.
                Ok(sqlx::query_scalar(
                    "SELECT MIN(CASE WHEN m.lease_until IS NOT NULL
                                          AND m.lease_until > m.next_attempt_at
                                     THEN m.lease_until ELSE m.next_attempt_at END)
                     FROM webhook_messages m
                     WHERE m.status = 'pending' AND EXISTS (SELECT 1 FROM webhook_endpoints e
                         WHERE e.id = m.endpoint_id AND e.disabled_at IS NULL)",
                )
                .fetch_one(&self.reader)
                .await?)
            }

            async fn recover_webhook_claims(&self) -> StoreResult<()> {
                if <$store>::STALE_CLAIMS_AT_START {
                    sqlx::query(
                        "UPDATE webhook_messages SET lease_until = NULL, claim_token = NULL
                         WHERE lease_until IS NOT NULL",
                    )
                    .execute(&self.writer)
                    .await?;
                }
                Ok(())
            }
        }
    };
}

pub(crate) use webhook_sql;
