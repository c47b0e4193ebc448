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
//! - `serialize_account_changes(tx)`: makes account changes that check
//!   other accounts (first-start setup, not deactivating the last admin)
//!   race-free (SQLite's single writer already is; PostgreSQL takes a lock);
//! - `push_text_matches(query, needle)`: a subquery of the ids of approvals
//!   whose title or reason holds the needle, through each backend's text
//!   index (FTS5 trigram on SQLite, pg_trgm on PostgreSQL);
//! - `CLAIM_ROWS`: the clause that lets one instance claim due rows without
//!   waiting on another (empty on SQLite, `FOR UPDATE SKIP LOCKED` on
//!   PostgreSQL);
//! - `listen()`: hears other instances' changes (PostgreSQL LISTEN; nothing
//!   to hear on SQLite);
//! - `STALE_CLAIMS_AT_START`: whether every webhook claim found at start was
//!   left by a dead run of this very process (SQLite: the only process).

/// Selects an approval with the names joined in; callers add the WHERE.
/// `$content` is the preview and data columns: the stored ones, or empty
/// stand-ins for lists that show neither (their sizes come either way).
macro_rules! select_approval {
    ($content:literal) => {
        concat!(
            "SELECT a.id, a.api_key_id, k.name AS agent_name, a.status, a.title, ",
            $content,
            ", CAST(octet_length(a.body_html) AS BIGINT) AS body_bytes,
            CAST(octet_length(a.data_json) AS BIGINT) AS data_bytes,
            a.action, a.approver_id, ap.email AS approver_email, a.reason,
            d.email AS decided_by_email, d.name AS decided_by_name, a.decided_at,
            a.created_at, a.expires_at
        FROM approvals a
        JOIN api_keys k ON k.id = a.api_key_id
        LEFT JOIN users ap ON ap.id = a.approver_id
        LEFT JOIN users d ON d.id = a.decided_by"
        )
    };
}

pub(super) const SELECT_APPROVAL: &str = select_approval!("a.body_html, a.data_json");
pub(super) const SELECT_APPROVAL_WITHOUT_CONTENT: &str =
    select_approval!("'' AS body_html, '{}' AS data_json");

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
        use crate::model::{DeliveryStatus, WebhookAttempt, WebhookEndpoint};
        use crate::server::domain::events::ApprovalEvent;
        use crate::server::domain::{ids, outcome, NextStep, Order, Role};
        use crate::server::store::portable::{
            like_pattern, SELECT_APPROVAL, SELECT_APPROVAL_WITHOUT_CONTENT,
        };
        use sqlx::{QueryBuilder, Row};

        fn user_from_row(row: &$row) -> Result<User, sqlx::Error> {
            Ok(User {
                id: row.try_get("id")?,
                email: row.try_get("email")?,
                name: row.try_get("name")?,
                role: {
                    let role: String = row.try_get("role")?;
                    Role::parse(&role)
                        .ok_or_else(|| sqlx::Error::Decode(format!("role {role:?}").into()))?
                },
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
                body_bytes: row.try_get("body_bytes")?,
                data_bytes: row.try_get("data_bytes")?,
                action: row.try_get("action")?,
                approver_id: row.try_get("approver_id")?,
                approver_email: row.try_get("approver_email")?,
                reason: row.try_get("reason")?,
                decided_by_email: row.try_get("decided_by_email")?,
                decided_by_name: row.try_get("decided_by_name")?,
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

        /// The unrevoked key whose `column` (a fixed name, never input)
        /// equals `value`.
        async fn live_api_key(
            pool: &sqlx::Pool<$db>,
            column: &'static str,
            value: &str,
        ) -> StoreResult<Option<ApiKey>> {
            let row = sqlx::query(&format!(
                "SELECT id, name, default_approver_id FROM api_keys
                 WHERE {column} = $1 AND revoked_at IS NULL"
            ))
            .bind(value)
            .fetch_optional(pool)
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

        /// The outbox: queues the webhook announcing `record`'s terminal
        /// status to its key's endpoint, in the caller's transaction, so the
        /// status change and its message commit (or vanish) together. A key
        /// without an endpoint gets nothing; a disabled endpoint's messages
        /// wait until it is enabled again.
        async fn enqueue_outcome(conn: &mut $conn, record: &ApprovalRecord) -> StoreResult<()> {
            let Some((event_type, payload)) = outcome::outcome(record)
            else {
                return Ok(());
            };
            let at = record.decided_at.unwrap_or(record.created_at);
            sqlx::query(
                "INSERT INTO webhook_messages (id, endpoint_id, approval_id, event_type, payload,
                     status, round_attempts, next_attempt_at, created_at)
                 SELECT $1, id, $2, $3, $4, 'pending', 0, $5, $5
                 FROM webhook_endpoints WHERE api_key_id = $6",
            )
            .bind(ids::new_id("msg", at))
            .bind(&record.id)
            .bind(event_type)
            .bind(payload)
            .bind(at)
            .bind(&record.api_key_id)
            .execute(conn)
            .await?;
            Ok(())
        }

        fn endpoint_from_row(row: &$row) -> Result<WebhookEndpoint, sqlx::Error> {
            let now = chrono::Utc::now().timestamp_millis();
            let previous_until: Option<i64> = row.try_get("previous_until")?;
            Ok(WebhookEndpoint {
                id: row.try_get("id")?,
                url: row.try_get("url")?,
                previous_secret_until: previous_until.filter(|until| *until > now),
                disabled_at: row.try_get("disabled_at")?,
                disabled_reason: row.try_get("disabled_reason")?,
                last_success_at: row.try_get("last_success_at")?,
                failure_streak: row.try_get("failure_streak")?,
                created_at: row.try_get("created_at")?,
            })
        }

        fn message_from_row(row: &$row, now: i64) -> Result<WebhookMessage, sqlx::Error> {
            let status: String = row.try_get("status")?;
            let lease_until: Option<i64> = row.try_get("lease_until")?;
            Ok(WebhookMessage {
                id: row.try_get("id")?,
                key_name: row.try_get("key_name")?,
                url: row.try_get("url")?,
                approval_id: row.try_get("approval_id")?,
                event_type: row.try_get("event_type")?,
                status: DeliveryStatus::parse(&status)
                    .ok_or_else(|| sqlx::Error::Decode(format!("status {status:?}").into()))?,
                next_attempt_at: row.try_get("next_attempt_at")?,
                in_flight: status == "pending" && lease_until.is_some_and(|until| until > now),
                created_at: row.try_get("created_at")?,
                delivered_at: row.try_get("delivered_at")?,
                attempts: Vec::new(),
            })
        }

        fn attempt_from_row(row: &$row) -> Result<(String, WebhookAttempt), sqlx::Error> {
            Ok((
                row.try_get("message_id")?,
                WebhookAttempt {
                    attempted_at: row.try_get("attempted_at")?,
                    status_code: row.try_get("status_code")?,
                    latency_ms: row.try_get("latency_ms")?,
                    error: row.try_get("error")?,
                    response_body: row.try_get("response_body")?,
                },
            ))
        }

        /// `values` as a parenthesised list of bind parameters.
        fn push_list(query: &mut QueryBuilder<'_, $db>, values: &[String]) {
            query.push("(");
            let mut list = query.separated(", ");
            for value in values {
                list.push_bind(value.clone());
            }
            query.push(")");
        }

        /// Deletes a person's sessions and notes when, for the instances
        /// that watch for it (their open inboxes close). Returns how many.
        async fn end_sessions_of(
            tx: &mut $conn,
            user_id: &str,
            at: i64,
        ) -> Result<u64, sqlx::Error> {
            let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            // Strictly after every earlier mark, whatever this machine's
            // clock says: the watchers ask for marks after the last they saw.
            sqlx::query(
                "UPDATE users SET sessions_ended_at =
                     (SELECT MAX(v) FROM (SELECT $1 AS v UNION ALL
                      SELECT MAX(sessions_ended_at) + 1 FROM users) AS marks)
                 WHERE id = $2",
            )
                .bind(at)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            Ok(ended)
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

            async fn create_setup_token(
                &self,
                token_hash: &str,
                expires_at: i64,
            ) -> StoreResult<bool> {
                let mut tx = self.writer.begin().await?;
                self.serialize_account_changes(&mut tx).await?;
                let inserted = sqlx::query(
                    "INSERT INTO setup_tokens (token_hash, expires_at)
                     SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM users)",
                )
                .bind(token_hash)
                .bind(expires_at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok(inserted == 1)
            }

            async fn setup_token_live(&self, token_hash: &str, now: i64) -> StoreResult<bool> {
                Ok(sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM setup_tokens
                                    WHERE token_hash = $1 AND expires_at > $2)",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_one(&self.reader)
                .await?)
            }

            async fn create_first_user(
                &self,
                user: NewUser,
                token_hash: &str,
                now: i64,
            ) -> StoreResult<FirstUser> {
                let mut tx = self.writer.begin().await?;
                self.serialize_account_changes(&mut tx).await?;
                let has_users: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users)")
                    .fetch_one(&mut *tx)
                    .await?;
                if has_users {
                    return Ok(FirstUser::AlreadySetUp);
                }
                let live: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM setup_tokens
                                    WHERE token_hash = $1 AND expires_at > $2)",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                if !live {
                    return Ok(FirstUser::InvalidToken);
                }
                insert_user(
                    "INSERT INTO users (id, email, name, password_hash, role, active, created_at)
                     VALUES ($1, $2, $3, $4, $5, TRUE, $6)",
                    &user,
                )
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM setup_tokens").execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(FirstUser::Created(user.into_user()))
            }

            async fn has_users(&self) -> StoreResult<bool> {
                Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users)")
                    .fetch_one(&self.reader)
                    .await?)
            }

            async fn user_by_email(&self, email: &str) -> StoreResult<Option<Account>> {
                let row = sqlx::query("SELECT * FROM users WHERE email = $1")
                    .bind(email)
                    .fetch_optional(&self.reader)
                    .await?;
                match row {
                    Some(row) => Ok(Some(Account {
                        user: user_from_row(&row)?,
                        password_hash: row.try_get("password_hash")?,
                    })),
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

            async fn set_user_active(
                &self,
                email: &str,
                active: bool,
                at: i64,
            ) -> StoreResult<Option<User>> {
                let mut tx = self.writer.begin().await?;
                self.serialize_account_changes(&mut tx).await?;
                let Some(row) = sqlx::query("SELECT * FROM users WHERE email = $1")
                    .bind(email)
                    .fetch_optional(&mut *tx)
                    .await?
                else {
                    return Ok(None);
                };
                let mut user = user_from_row(&row)?;
                if !active && user.active && user.role == Role::Admin {
                    let other_admins: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND active AND id <> $1",
                    )
                    .bind(&user.id)
                    .fetch_one(&mut *tx)
                    .await?;
                    if other_admins == 0 {
                        return Err(StoreError::Conflict(format!(
                            "{email} is the last active admin: make someone else an admin first"
                        )));
                    }
                }
                sqlx::query("UPDATE users SET active = $1 WHERE id = $2")
                    .bind(active)
                    .bind(&user.id)
                    .execute(&mut *tx)
                    .await?;
                if !active {
                    end_sessions_of(&mut tx, &user.id, at).await?;
                }
                tx.commit().await?;
                user.active = active;
                Ok(Some(user))
            }

            async fn end_sessions(&self, email: &str, at: i64) -> StoreResult<Option<u64>> {
                let mut tx = self.writer.begin().await?;
                let Some(user_id) = sqlx::query_scalar::<_, String>(
                    "SELECT id FROM users WHERE email = $1",
                )
                .bind(email)
                .fetch_optional(&mut *tx)
                .await?
                else {
                    return Ok(None);
                };
                let ended = end_sessions_of(&mut tx, &user_id, at).await?;
                tx.commit().await?;
                Ok(Some(ended))
            }

            async fn keys_revoked_since(&self, since: i64) -> StoreResult<Vec<(String, i64)>> {
                let rows = sqlx::query("SELECT id, revoked_at FROM api_keys WHERE revoked_at > $1")
                    .bind(since)
                    .fetch_all(&self.reader)
                    .await?;
                rows.iter()
                    .map(|row| Ok((row.try_get("id")?, row.try_get("revoked_at")?)))
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(Into::into)
            }

            async fn sessions_ended_since(&self, since: i64) -> StoreResult<Vec<(String, i64)>> {
                let rows = sqlx::query(
                    "SELECT id, sessions_ended_at FROM users WHERE sessions_ended_at > $1",
                )
                .bind(since)
                .fetch_all(&self.reader)
                .await?;
                rows.iter()
                    .map(|row| Ok((row.try_get("id")?, row.try_get("sessions_ended_at")?)))
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(Into::into)
            }

            async fn create_api_key(&self, key: NewApiKey) -> StoreResult<ApiKey> {
                let mut tx = self.writer.begin().await?;
                let result = sqlx::query(
                    "INSERT INTO api_keys (id, name, key_hash, default_approver_id, created_at)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&key.id)
                .bind(&key.name)
                .bind(&key.key_hash)
                .bind(&key.default_approver_id)
                .bind(key.created_at)
                .execute(&mut *tx)
                .await;
                match result {
                    Err(e) if is_unique_violation(&e) => {
                        return Err(StoreError::Conflict(format!("an API key named {}", key.name)))
                    }
                    Err(e) => return Err(e.into()),
                    Ok(_) => {}
                }
                if let Some(endpoint) = &key.webhook {
                    insert_endpoint(&mut tx, endpoint).await?;
                }
                tx.commit().await?;
                Ok(ApiKey {
                    id: key.id,
                    name: key.name,
                    default_approver_id: key.default_approver_id,
                })
            }

            async fn api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKey>> {
                live_api_key(&self.reader, "key_hash", key_hash).await
            }

            async fn revoke_api_key(&self, name: &str, at: i64) -> StoreResult<bool> {
                let result = sqlx::query(
                    // Strictly after every earlier revocation, whatever this
                    // machine's clock says: servers watch for later ones.
                    "UPDATE api_keys SET revoked_at =
                         (SELECT MAX(v) FROM (SELECT $1 AS v UNION ALL
                          SELECT MAX(revoked_at) + 1 FROM api_keys) AS marks)
                     WHERE name = $2 AND revoked_at IS NULL",
                )
                .bind(at)
                .bind(name)
                .execute(&self.writer)
                .await?;
                Ok(result.rows_affected() > 0)
            }

            async fn api_key_by_name(&self, name: &str) -> StoreResult<Option<ApiKey>> {
                live_api_key(&self.reader, "name", name).await
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

            async fn upsert_webhook_endpoint(&self, endpoint: NewEndpoint) -> StoreResult<bool> {
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
                tx.commit().await?;
                Ok(updated == 0)
            }

            async fn key_webhooks(&self) -> StoreResult<Vec<KeyWebhook>> {
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
                        endpoint: endpoint_id.map(|_| endpoint_from_row(row)).transpose()?,
                    });
                }
                Ok(keys)
            }

            async fn rotate_webhook_secret(
                &self,
                endpoint_id: &str,
                secret: &str,
                previous_until: i64,
            ) -> StoreResult<bool> {
                let updated = sqlx::query(
                    "UPDATE webhook_endpoints
                     SET previous_secret = secret, previous_until = $1, secret = $2
                     WHERE id = $3",
                )
                .bind(previous_until)
                .bind(secret)
                .bind(endpoint_id)
                .execute(&self.writer)
                .await?
                .rows_affected();
                Ok(updated == 1)
            }

            async fn enable_webhook_endpoint(&self, endpoint_id: &str, now: i64) -> StoreResult<bool> {
                let mut tx = self.writer.begin().await?;
                let updated = sqlx::query(
                    "UPDATE webhook_endpoints
                     SET disabled_at = NULL, disabled_reason = NULL, failure_streak = 0
                     WHERE id = $1",
                )
                .bind(endpoint_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
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

            async fn webhook_messages(&self, filter: &MessageFilter) -> StoreResult<Vec<WebhookMessage>> {
                let now = chrono::Utc::now().timestamp_millis();
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

            async fn record_webhook_attempt(&self, attempt: &AttemptRecord) -> StoreResult<()> {
                let mut tx = self.writer.begin().await?;
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
                .execute(&mut *tx)
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
                .execute(&mut *tx)
                .await?;
                match (&attempt.next, &attempt.disable_endpoint) {
                    (NextStep::Delivered, _) => {
                        sqlx::query(
                            "UPDATE webhook_endpoints SET last_success_at = $1, failure_streak = 0
                             WHERE id = $2",
                        )
                        .bind(attempt.attempted_at)
                        .bind(&attempt.endpoint_id)
                        .execute(&mut *tx)
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
                        .execute(&mut *tx)
                        .await?;
                    }
                    (_, None) => {
                        sqlx::query(
                            "UPDATE webhook_endpoints SET failure_streak = failure_streak + 1
                             WHERE id = $1",
                        )
                        .bind(&attempt.endpoint_id)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                tx.commit().await?;
                Ok(())
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

pub(super) use portable_store;
