//! The one implementation of [`Store`](super::Store), written once in SQL that
//! SQLite and PostgreSQL both accept (`$N` parameters, `ON CONFLICT`,
//! `RETURNING`, `TRUE`, `lower()`), and instantiated for each driver by
//! [`portable_store!`]. A macro rather than generic code: sqlx's generic
//! executor bounds are higher-ranked and make async trait methods fight the
//! `Send` checker, while the macro expands to plain code for each concrete
//! driver that the compiler checks like hand-written code.
//!
//! Each backend's module supplies the connection pools (`writer`, `reader`)
//! and the hooks where the backends really differ:
//! - `announce_in(tx, event)`: inside the transaction of a change
//!   (PostgreSQL sends NOTIFY there, delivered to every instance at commit);
//! - `announce_after(event)`: after the commit (SQLite publishes in-process);
//! - `serialize_first_user(tx)`: makes first-start setup race-free
//!   (SQLite's single writer already is; PostgreSQL takes a lock);
//! - `CLAIM_ROWS`: the clause that lets one instance claim due rows without
//!   waiting on another (empty on SQLite, `FOR UPDATE SKIP LOCKED` on
//!   PostgreSQL);
//! - `listen()`: hears other instances' changes (PostgreSQL LISTEN; nothing
//!   to hear on SQLite).

/// Selects an approval with the names joined in; callers add the WHERE.
pub(super) const SELECT_APPROVAL: &str = "SELECT a.id, a.api_key_id, k.name AS agent_name,
        a.status, a.title, a.body_html, a.data_json, a.action, a.approver_id,
        ap.email AS approver_email, a.reason, d.email AS decided_by_email, a.decided_at,
        a.created_at, a.expires_at
    FROM approvals a
    JOIN api_keys k ON k.id = a.api_key_id
    LEFT JOIN users ap ON ap.id = a.approver_id
    LEFT JOIN users d ON d.id = a.decided_by";

/// `%needle%` for LIKE with `\` as the escape character, lowercased to be
/// compared against `lower(column)`.
pub(super) fn like_pattern(needle: &str) -> String {
    let escaped = needle
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

macro_rules! portable_store {
    ($store:ty, $db:ty, $row:ty, $conn:ty) => {
        use crate::server::live::ApprovalEvent;
        use crate::server::store::portable::{like_pattern, SELECT_APPROVAL};
        use sqlx::{QueryBuilder, Row};

        fn user_from_row(row: &$row) -> Result<User, sqlx::Error> {
            Ok(User {
                id: row.try_get("id")?,
                email: row.try_get("email")?,
                name: row.try_get("name")?,
                role: Role::parse(row.try_get("role")?),
                active: row.try_get("active")?,
            })
        }

        fn approval_from_row(row: &$row) -> Result<ApprovalRecord, sqlx::Error> {
            let status: String = row.try_get("status")?;
            Ok(ApprovalRecord {
                id: row.try_get("id")?,
                api_key_id: row.try_get("api_key_id")?,
                agent_name: row.try_get("agent_name")?,
                status: status
                    .parse()
                    .map_err(|e: String| sqlx::Error::Decode(e.into()))?,
                title: row.try_get("title")?,
                body_html: row.try_get("body_html")?,
                data_json: row.try_get("data_json")?,
                action: row.try_get("action")?,
                approver_id: row.try_get("approver_id")?,
                approver_email: row.try_get("approver_email")?,
                reason: row.try_get("reason")?,
                decided_by_email: row.try_get("decided_by_email")?,
                decided_at: row.try_get("decided_at")?,
                created_at: row.try_get("created_at")?,
                expires_at: row.try_get("expires_at")?,
            })
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

        async fn insert_audit(
            conn: &mut $conn,
            approval_id: &str,
            kind: &str,
            actor: &str,
            detail: Option<&str>,
            at: i64,
        ) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO audit_events (approval_id, kind, actor, detail, at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(approval_id)
            .bind(kind)
            .bind(actor)
            .bind(detail)
            .bind(at)
            .execute(conn)
            .await?;
            Ok(())
        }

        /// `sql` with a new user's six values bound in column order (id,
        /// email, name, password_hash, role, created_at).
        fn insert_user<'q>(
            sql: &'q str,
            user: &'q NewUser,
        ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>> {
            sqlx::query(sql)
                .bind(&user.id)
                .bind(&user.email)
                .bind(&user.name)
                .bind(&user.password_hash)
                .bind(user.role.as_str())
                .bind(user.created_at)
        }

        fn is_unique_violation(error: &sqlx::Error) -> bool {
            matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
        }

        #[async_trait]
        impl Store for $store {
            async fn create_user(&self, user: NewUser) -> StoreResult<User> {
                let result = insert_user(
                    "INSERT INTO users (id, email, name, password_hash, role, active, created_at)
                     VALUES ($1, $2, $3, $4, $5, TRUE, $6)",
                    &user,
                )
                .execute(&self.writer)
                .await;
                match result {
                    Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
                        "a user with email {}",
                        user.email
                    ))),
                    Err(e) => Err(e.into()),
                    Ok(_) => Ok(user.into_user()),
                }
            }

            async fn create_first_user(&self, user: NewUser) -> StoreResult<Option<User>> {
                let mut tx = self.writer.begin().await?;
                self.serialize_first_user(&mut tx).await?;
                let inserted = insert_user(
                    "INSERT INTO users (id, email, name, password_hash, role, active, created_at)
                     SELECT $1, $2, $3, $4, $5, TRUE, $6
                     WHERE NOT EXISTS (SELECT 1 FROM users)",
                    &user,
                )
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok((inserted == 1).then(|| user.into_user()))
            }

            async fn has_users(&self) -> StoreResult<bool> {
                Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users)")
                    .fetch_one(&self.reader)
                    .await?)
            }

            async fn user_by_email(&self, email: &str) -> StoreResult<Option<(User, String)>> {
                let row = sqlx::query("SELECT * FROM users WHERE email = $1")
                    .bind(email)
                    .fetch_optional(&self.reader)
                    .await?;
                match row {
                    Some(row) => Ok(Some((user_from_row(&row)?, row.try_get("password_hash")?))),
                    None => Ok(None),
                }
            }

            async fn create_session(
                &self,
                token_hash: &str,
                user_id: &str,
                expires_at: i64,
            ) -> StoreResult<()> {
                let now = chrono::Utc::now().timestamp_millis();
                let mut tx = self.writer.begin().await?;
                // Sweep expired sessions while we are writing anyway.
                sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(token_hash)
                .bind(user_id)
                .bind(now)
                .bind(expires_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn session_user(&self, token_hash: &str, now: i64) -> StoreResult<Option<User>> {
                let row = sqlx::query(
                    "SELECT u.* FROM sessions s JOIN users u ON u.id = s.user_id
                     WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.active",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.reader)
                .await?;
                Ok(row.as_ref().map(user_from_row).transpose()?)
            }

            async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }

            async fn create_api_key(&self, key: NewApiKey) -> StoreResult<ApiKey> {
                let result = sqlx::query(
                    "INSERT INTO api_keys (id, name, key_hash, default_approver_id, created_at)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&key.id)
                .bind(&key.name)
                .bind(&key.key_hash)
                .bind(&key.default_approver_id)
                .bind(key.created_at)
                .execute(&self.writer)
                .await;
                match result {
                    Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
                        "an API key named {}",
                        key.name
                    ))),
                    Err(e) => Err(e.into()),
                    Ok(_) => Ok(ApiKey {
                        id: key.id,
                        name: key.name,
                        default_approver_id: key.default_approver_id,
                    }),
                }
            }

            async fn api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKey>> {
                let row = sqlx::query(
                    "SELECT id, name, default_approver_id FROM api_keys
                     WHERE key_hash = $1 AND revoked_at IS NULL",
                )
                .bind(key_hash)
                .fetch_optional(&self.reader)
                .await?;
                match row {
                    Some(row) => Ok(Some(ApiKey {
                        id: row.try_get("id")?,
                        name: row.try_get("name")?,
                        default_approver_id: row.try_get("default_approver_id")?,
                    })),
                    None => Ok(None),
                }
            }

            async fn revoke_api_key(&self, name: &str, at: i64) -> StoreResult<bool> {
                let result = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL",
                )
                .bind(at)
                .bind(name)
                .execute(&self.writer)
                .await?;
                Ok(result.rows_affected() > 0)
            }

            async fn insert_approval(&self, new: NewApproval) -> StoreResult<InsertOutcome> {
                let mut tx = self.writer.begin().await?;
                let (idempotency_key, request_hash) = new.idempotency.clone().unzip();
                // The unique (api_key_id, idempotency_key) constraint decides a
                // race between two instances: the loser inserts nothing and
                // reads the winner's row once it has committed.
                let inserted = sqlx::query(
                    "INSERT INTO approvals (id, api_key_id, status, title, body_html, data_json,
                         action, approver_id, created_at, expires_at, idempotency_key, request_hash)
                     VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8, $9, $10, $11)
                     ON CONFLICT (api_key_id, idempotency_key) DO NOTHING",
                )
                .bind(&new.id)
                .bind(&new.api_key_id)
                .bind(&new.title)
                .bind(&new.body_html)
                .bind(&new.data_json)
                .bind(&new.action)
                .bind(&new.approver_id)
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
                let mut query: QueryBuilder<$db> = QueryBuilder::new(SELECT_APPROVAL);
                query.push(" WHERE 1 = 1");
                if let Some(key) = &filter.api_key_id {
                    query.push(" AND a.api_key_id = ").push_bind(key.clone());
                }
                if !filter.statuses.is_empty() {
                    query.push(" AND a.status IN (");
                    let mut list = query.separated(", ");
                    for status in &filter.statuses {
                        list.push_bind(status.as_str());
                    }
                    query.push(")");
                }
                if let Some(user) = &filter.visible_to {
                    query
                        .push(" AND (a.approver_id IS NULL OR a.approver_id = ")
                        .push_bind(user.clone())
                        .push(")");
                }
                if let Some(needle) = &filter.text_contains {
                    let pattern = like_pattern(needle);
                    query.push(" AND (");
                    let mut any = query.separated(" OR ");
                    for column in ["a.title", "a.reason", "k.name"] {
                        any.push(format!("lower({column}) LIKE "))
                            .push_bind_unseparated(pattern.clone())
                            .push_unseparated(" ESCAPE '\\'");
                    }
                    query.push(")");
                }
                let (comparison, direction) = match filter.order {
                    Order::OldestFirst => (">", "ASC"),
                    Order::NewestFirst => ("<", "DESC"),
                };
                if let Some(after) = &filter.after {
                    query
                        .push(format!(" AND a.id {comparison} "))
                        .push_bind(after.clone());
                }
                query
                    .push(format!(" ORDER BY a.id {direction} LIMIT "))
                    .push_bind(filter.limit);
                let rows = query.build().fetch_all(&self.reader).await?;
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

            async fn next_expiry(&self) -> StoreResult<Option<i64>> {
                Ok(sqlx::query_scalar(
                    "SELECT MIN(expires_at) FROM approvals WHERE status = 'pending'",
                )
                .fetch_one(&self.reader)
                .await?)
            }

            async fn start_listening(&self) -> StoreResult<()> {
                self.listen().await
            }
        }
    };
}

pub(super) use portable_store;
