//! People, their sessions and setup tokens, and agents' API keys.

use super::StoreResult;
use crate::server::domain::{
    Account, AccountLink, ApiKey, Audit, FirstUser, Group, KeyOverview, LinkPurpose, NewApiKey,
    NewUser, Person, Role, Route, SessionInfo, User,
};
use async_trait::async_trait;

/// Accounts: who may sign in, for how long, and which keys are live.
#[async_trait]
pub trait AccountStore {
    /// Creates a person (by `holdpoint admin create-user`), audited.
    async fn create_user(&self, user: NewUser, audit: &Audit) -> StoreResult<User>;
    /// Keeps a one-time setup token (its hash) until `expires_at`; false,
    /// keeping nothing, when an account already exists.
    async fn create_setup_token(&self, token_hash: &str, expires_at: i64) -> StoreResult<bool>;
    /// Whether a live (unspent, unexpired) setup token has this hash.
    async fn setup_token_live(&self, token_hash: &str, now: i64) -> StoreResult<bool>;
    /// Creates the first user with a live setup token, atomically: the
    /// token is spent, and every other one with it.
    async fn create_first_user(
        &self,
        user: NewUser,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<FirstUser>;
    async fn has_users(&self) -> StoreResult<bool>;
    /// The account with this (normalized) email, password hash included.
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<Account>>;

    /// Keeps a new session until `expires_at`, sweeping those expired by
    /// `now` while writing anyway.
    async fn create_session(
        &self,
        token_hash: &str,
        user_id: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<()>;
    /// Notes when a session was last seen, and (once) its device.
    async fn touch_session(
        &self,
        token_hash: &str,
        device: Option<&str>,
        at: i64,
    ) -> StoreResult<()>;
    /// A person's unexpired sessions, newest first.
    async fn sessions_of(&self, user_id: &str, now: i64) -> StoreResult<Vec<SessionInfo>>;
    /// Ends one session of this person (its open inboxes close); false
    /// when they have no such one.
    async fn end_session_of(&self, user_id: &str, token_hash: &str, at: i64) -> StoreResult<bool>;
    /// Replaces a person's password and ends every session of theirs,
    /// audited (`password_changed`).
    async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        audit: &Audit,
    ) -> StoreResult<()>;
    /// The active user behind an unexpired session.
    async fn session_user(&self, token_hash: &str, now: i64) -> StoreResult<Option<User>>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
    /// Switches the person with this email on or off; switching off ends
    /// every session of theirs in the same transaction. None when there is
    /// no such person; `Conflict` when it would leave no active admin.
    async fn set_user_active(
        &self,
        email: &str,
        active: bool,
        audit: &Audit,
    ) -> StoreResult<Option<User>>;
    /// Ends every session of the person with this email; how many there
    /// were, or None when there is no such person.
    async fn end_sessions(&self, email: &str, audit: &Audit) -> StoreResult<Option<u64>>;
    /// People whose sessions ended, role or groups changed after `since`:
    /// (user id, when).
    async fn access_changed_since(&self, since: i64) -> StoreResult<Vec<(String, i64)>>;
    /// Gives the person with this email `role`. None when there is no such
    /// person; `Conflict` when it would leave no active admin.
    async fn set_role(&self, email: &str, role: Role, audit: &Audit) -> StoreResult<Option<User>>;

    /// Creates an invited person (no password yet) and their invitation
    /// link, atomically; `Conflict` when the email is taken.
    async fn invite_user(
        &self,
        user: NewUser,
        token_hash: &str,
        expires_at: i64,
        audit: &Audit,
    ) -> StoreResult<User>;
    /// Replaces this person's links with a new one.
    async fn create_account_link(
        &self,
        user_id: &str,
        token_hash: &str,
        purpose: LinkPurpose,
        expires_at: i64,
        audit: &Audit,
    ) -> StoreResult<()>;
    /// The live link with this hash, if any.
    async fn account_link(&self, token_hash: &str, now: i64) -> StoreResult<Option<AccountLink>>;
    /// Sets the password (and, when given, the name) of the person behind
    /// a live link, spends every link of theirs, ends their sessions and
    /// audits it (`account_link_used`, by the person), atomically. None
    /// when the link is not live, or taken by a use at the same time.
    async fn use_account_link(
        &self,
        token_hash: &str,
        password_hash: &str,
        name: Option<&str>,
        now: i64,
    ) -> StoreResult<Option<User>>;
    /// Everyone, by email, with their groups and pending invitations.
    async fn people(&self, now: i64) -> StoreResult<Vec<Person>>;

    /// Creates an empty group; `Conflict` when the name is taken.
    async fn create_group(&self, id: &str, name: &str, audit: &Audit) -> StoreResult<Group>;
    /// Every group with its members, by name.
    async fn groups(&self) -> StoreResult<Vec<Group>>;
    async fn group_by_name(&self, name: &str) -> StoreResult<Option<Group>>;
    /// Adds (`member`) or removes a person; false when nothing changed.
    async fn set_group_member(
        &self,
        group_id: &str,
        user_id: &str,
        member: bool,
        audit: &Audit,
    ) -> StoreResult<bool>;

    async fn create_api_key(&self, key: NewApiKey, audit: &Audit) -> StoreResult<ApiKey>;
    /// An unrevoked key by the SHA-256 of its secret.
    async fn api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKey>>;
    /// Revokes the unrevoked key with this name; false when there is none.
    async fn revoke_api_key(&self, name: &str, audit: &Audit) -> StoreResult<bool>;
    /// Revokes the live key with this id; false when there is none.
    async fn revoke_api_key_by_id(&self, id: &str, audit: &Audit) -> StoreResult<bool>;
    /// Makes `key` beside the live key `old_key_id` (a rotation): the same
    /// agent name and route, and a copy of its webhook endpoint (same URL
    /// and signing secret), so the receiver notices nothing.
    async fn rotate_api_key(
        &self,
        key: NewApiKey,
        old_key_id: &str,
        audit: &Audit,
    ) -> StoreResult<ApiKey>;
    /// Sets the default route of the live key with this name; false when
    /// there is none.
    async fn set_key_route(&self, name: &str, route: &Route, audit: &Audit) -> StoreResult<bool>;
    /// Allows (or stops) the live keys with this name reading the export of
    /// decisions; false when there is none.
    async fn set_key_reads_decisions(
        &self,
        name: &str,
        allowed: bool,
        audit: &Audit,
    ) -> StoreResult<bool>;
    async fn api_key_by_name(&self, name: &str) -> StoreResult<Option<ApiKey>>;
    /// Every key, live ones first, by name, for the Keys page.
    async fn key_overviews(&self) -> StoreResult<Vec<KeyOverview>>;
    /// Notes that a key was used at `at`.
    async fn touch_api_key(&self, id: &str, at: i64) -> StoreResult<()>;
    /// Keys revoked after `since`: (key id, when).
    async fn keys_revoked_since(&self, since: i64) -> StoreResult<Vec<(String, i64)>>;
}

macro_rules! account_sql {
    ($store:ty, $db:ty, $row:ty, $conn:ty) => {
        fn user_from_row(row: &$row) -> Result<User, sqlx::Error> {
            UserRow::from_row(row)?.try_into()
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
                "SELECT id, name, default_approver_id, default_group_id, reads_decisions
                 FROM api_keys WHERE {column} = $1 AND revoked_at IS NULL
                 ORDER BY created_at DESC, id DESC LIMIT 1"
            ))
            .bind(value)
            .fetch_optional(pool)
            .await?;
            Ok(row
                .map(|row| ApiKeyRow::from_row(&row))
                .transpose()?
                .map(ApiKey::from))
        }

        /// The person with this email, read inside the caller's transaction.
        async fn user_by_email_in(tx: &mut $conn, email: &str) -> StoreResult<Option<User>> {
            let row = sqlx::query("SELECT * FROM users WHERE email = $1")
                .bind(email)
                .fetch_optional(&mut *tx)
                .await?;
            Ok(row.as_ref().map(user_from_row).transpose()?)
        }

        /// Refuses a change that would take `user` out of the active admins
        /// when they are the last one. Only an admin who can sign in counts:
        /// one invited who has not yet chosen a password (an empty hash)
        /// cannot take over.
        async fn keep_an_active_admin(tx: &mut $conn, user: &User) -> StoreResult<()> {
            if user.role != Role::Admin || !user.active {
                return Ok(());
            }
            let other_admins: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM users
                 WHERE role = 'admin' AND active AND password_hash <> '' AND id <> $1",
            )
            .bind(&user.id)
            .fetch_one(&mut *tx)
            .await?;
            if other_admins == 0 {
                return Err(StoreError::Conflict(format!(
                    "{} is the last active admin: make someone else an admin first",
                    user.email
                )));
            }
            Ok(())
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
            mark_access_changed(tx, user_id, at).await?;
            Ok(ended)
        }

        /// Notes that what a person may do changed, for the instances that
        /// watch for it: their open inboxes re-check (and close, or show
        /// what the person may now see).
        async fn mark_access_changed(
            tx: &mut $conn,
            user_id: &str,
            at: i64,
        ) -> Result<(), sqlx::Error> {
            // Strictly after every earlier mark, whatever this machine's
            // clock says: the watchers ask for marks after the last they saw.
            sqlx::query(
                "UPDATE users SET access_changed_at =
                     (SELECT MAX(v) FROM (SELECT $1 AS v UNION ALL
                      SELECT MAX(access_changed_at) + 1 FROM users) AS marks)
                 WHERE id = $2",
            )
            .bind(at)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
            Ok(())
        }

        async fn insert_account_link(
            tx: &mut $conn,
            user_id: &str,
            token_hash: &str,
            purpose: LinkPurpose,
            now: i64,
            expires_at: i64,
        ) -> Result<(), sqlx::Error> {
            sqlx::query(
                "INSERT INTO account_links (token_hash, user_id, purpose, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(token_hash)
            .bind(user_id)
            .bind(purpose.as_str())
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
            Ok(())
        }

        async fn insert_api_key(tx: &mut $conn, key: &NewApiKey) -> Result<(), sqlx::Error> {
            sqlx::query(
                "INSERT INTO api_keys (id, name, key_hash, default_approver_id,
                                       default_group_id, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&key.id)
            .bind(&key.name)
            .bind(&key.key_hash)
            .bind(&key.default_route.approver_id)
            .bind(&key.default_route.group_id)
            .bind(key.created_at)
            .execute(&mut *tx)
            .await?;
            Ok(())
        }

        /// Revokes the live keys whose `column` (a fixed name, never input)
        /// equals `value`, each with its audit entry; returns their ids.
        async fn revoke_keys_where(
            tx: &mut $conn,
            column: &'static str,
            value: &str,
            audit: &Audit,
        ) -> StoreResult<Vec<String>> {
            let revoked: Vec<(String, String)> = sqlx::query_as(&format!(
                // Strictly after every earlier revocation, whatever this
                // machine's clock says: servers watch for later ones.
                "UPDATE api_keys SET revoked_at =
                     (SELECT MAX(v) FROM (SELECT $1 AS v UNION ALL
                      SELECT MAX(revoked_at) + 1 FROM api_keys) AS marks)
                 WHERE {column} = $2 AND revoked_at IS NULL
                 RETURNING id, name"
            ))
            .bind(audit.at)
            .bind(value)
            .fetch_all(&mut *tx)
            .await?;
            for (id, name) in &revoked {
                let subject = format!("key:{id}");
                insert_admin_audit(&mut *tx, audit, "key_revoked", &subject, Some(name)).await?;
            }
            Ok(revoked.into_iter().map(|(id, _)| id).collect())
        }

        /// The ids of the groups this person belongs to.
        async fn group_ids_of(
            pool: &sqlx::Pool<$db>,
            user_id: &str,
        ) -> Result<Vec<String>, sqlx::Error> {
            sqlx::query_scalar(
                "SELECT group_id FROM group_members WHERE user_id = $1 ORDER BY group_id",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await
        }

        /// Groups read by `sql` (id, name, created_at), each with its
        /// members' emails.
        async fn groups_with_members(
            pool: &sqlx::Pool<$db>,
            sql: &str,
            bind: Option<&str>,
        ) -> StoreResult<Vec<Group>> {
            let mut query = sqlx::query_as::<_, (String, String, i64)>(sql);
            if let Some(value) = bind {
                query = query.bind(value);
            }
            let rows = query.fetch_all(pool).await?;
            let mut groups = Vec::with_capacity(rows.len());
            for (id, name, created_at) in rows {
                let members = sqlx::query_scalar(
                    "SELECT u.email FROM group_members m JOIN users u ON u.id = m.user_id
                     WHERE m.group_id = $1 ORDER BY u.email",
                )
                .bind(&id)
                .fetch_all(pool)
                .await?;
                groups.push(Group {
                    id,
                    name,
                    created_at,
                    members,
                });
            }
            Ok(groups)
        }

        #[async_trait]
        impl AccountStore for $store {
            async fn create_user(&self, user: NewUser, audit: &Audit) -> StoreResult<User> {
                let mut tx = self.writer.begin().await?;
                let result = insert_user(
                    "INSERT INTO users (id, email, name, password_hash, role, active, created_at)
                     VALUES ($1, $2, $3, $4, $5, TRUE, $6)",
                    &user,
                )
                .execute(&mut *tx)
                .await;
                match result {
                    Err(e) if is_unique_violation(&e) => {
                        return Err(StoreError::Conflict(format!(
                            "a user with email {}",
                            user.email
                        )))
                    }
                    Err(e) => return Err(e.into()),
                    Ok(_) => {}
                }
                let user = user.into_user();
                let subject = format!("user:{}", user.id);
                insert_admin_audit(&mut tx, audit, "user_created", &subject, Some(user.role.as_str()))
                    .await?;
                tx.commit().await?;
                Ok(user)
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
                sqlx::query("DELETE FROM setup_tokens")
                    .execute(&mut *tx)
                    .await?;
                let user = user.into_user();
                let subject = format!("user:{}", user.id);
                let by = Audit {
                    actor: "setup".to_owned(),
                    at: now,
                };
                insert_admin_audit(&mut tx, &by, "user_created", &subject, Some("admin, by the setup link"))
                    .await?;
                tx.commit().await?;
                Ok(FirstUser::Created(user))
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
                    Some(row) => {
                        let mut user = user_from_row(&row)?;
                        user.group_ids = group_ids_of(&self.reader, &user.id).await?;
                        Ok(Some(Account {
                            user,
                            password_hash: row.try_get("password_hash")?,
                        }))
                    }
                    None => Ok(None),
                }
            }

            async fn create_session(
                &self,
                token_hash: &str,
                user_id: &str,
                expires_at: i64,
                now: i64,
            ) -> StoreResult<()> {
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
                let Some(row) = row else { return Ok(None) };
                let mut user = user_from_row(&row)?;
                user.group_ids = group_ids_of(&self.reader, &user.id).await?;
                Ok(Some(user))
            }

            async fn touch_session(
                &self,
                token_hash: &str,
                device: Option<&str>,
                at: i64,
            ) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE sessions SET last_seen_at = $1, device = COALESCE(device, $2)
                     WHERE token_hash = $3",
                )
                .bind(at)
                .bind(device)
                .bind(token_hash)
                .execute(&self.writer)
                .await?;
                Ok(())
            }

            async fn sessions_of(&self, user_id: &str, now: i64) -> StoreResult<Vec<SessionInfo>> {
                let rows: Vec<(String, i64, Option<i64>, Option<String>)> = sqlx::query_as(
                    "SELECT token_hash, created_at, last_seen_at, device FROM sessions
                     WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC",
                )
                .bind(user_id)
                .bind(now)
                .fetch_all(&self.reader)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, created_at, last_seen_at, device)| SessionInfo {
                        id,
                        created_at,
                        last_seen_at,
                        device,
                    })
                    .collect())
            }

            async fn end_session_of(
                &self,
                user_id: &str,
                token_hash: &str,
                at: i64,
            ) -> StoreResult<bool> {
                let mut tx = self.writer.begin().await?;
                let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash = $2")
                    .bind(user_id)
                    .bind(token_hash)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if ended > 0 {
                    mark_access_changed(&mut tx, user_id, at).await?;
                }
                tx.commit().await?;
                Ok(ended > 0)
            }

            async fn set_password(
                &self,
                user_id: &str,
                password_hash: &str,
                audit: &Audit,
            ) -> StoreResult<()> {
                let mut tx = self.writer.begin().await?;
                sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                    .bind(password_hash)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                end_sessions_of(&mut tx, user_id, audit.at).await?;
                let subject = format!("user:{user_id}");
                insert_admin_audit(
                    &mut *tx,
                    audit,
                    "password_changed",
                    &subject,
                    Some("every session ended"),
                )
                .await?;
                tx.commit().await?;
                Ok(())
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
                audit: &Audit,
            ) -> StoreResult<Option<User>> {
                let mut tx = self.writer.begin().await?;
                self.serialize_account_changes(&mut tx).await?;
                let Some(mut user) = user_by_email_in(&mut tx, email).await? else {
                    return Ok(None);
                };
                if !active {
                    keep_an_active_admin(&mut tx, &user).await?;
                }
                sqlx::query("UPDATE users SET active = $1 WHERE id = $2")
                    .bind(active)
                    .bind(&user.id)
                    .execute(&mut *tx)
                    .await?;
                if !active {
                    end_sessions_of(&mut tx, &user.id, audit.at).await?;
                }
                let kind = if active { "user_reactivated" } else { "user_deactivated" };
                insert_admin_audit(&mut tx, audit, kind, &format!("user:{}", user.id), None).await?;
                tx.commit().await?;
                user.active = active;
                Ok(Some(user))
            }

            async fn end_sessions(&self, email: &str, audit: &Audit) -> StoreResult<Option<u64>> {
                let mut tx = self.writer.begin().await?;
                let Some(user_id) =
                    sqlx::query_scalar::<_, String>("SELECT id FROM users WHERE email = $1")
                        .bind(email)
                        .fetch_optional(&mut *tx)
                        .await?
                else {
                    return Ok(None);
                };
                let ended = end_sessions_of(&mut tx, &user_id, audit.at).await?;
                let subject = format!("user:{user_id}");
                insert_admin_audit(&mut tx, audit, "sessions_ended", &subject, None).await?;
                tx.commit().await?;
                Ok(Some(ended))
            }

            async fn set_role(
                &self,
                email: &str,
                role: Role,
                audit: &Audit,
            ) -> StoreResult<Option<User>> {
                let mut tx = self.writer.begin().await?;
                self.serialize_account_changes(&mut tx).await?;
                let Some(mut user) = user_by_email_in(&mut tx, email).await? else {
                    return Ok(None);
                };
                if role != Role::Admin {
                    keep_an_active_admin(&mut tx, &user).await?;
                }
                sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
                    .bind(role.as_str())
                    .bind(&user.id)
                    .execute(&mut *tx)
                    .await?;
                mark_access_changed(&mut tx, &user.id, audit.at).await?;
                let subject = format!("user:{}", user.id);
                insert_admin_audit(&mut tx, audit, "role_changed", &subject, Some(role.as_str()))
                    .await?;
                tx.commit().await?;
                user.role = role;
                user.group_ids = group_ids_of(&self.reader, &user.id).await?;
                Ok(Some(user))
            }

            async fn invite_user(
                &self,
                user: NewUser,
                token_hash: &str,
                expires_at: i64,
                audit: &Audit,
            ) -> StoreResult<User> {
                let mut tx = self.writer.begin().await?;
                let inserted = insert_user(
                    "INSERT INTO users (id, email, name, password_hash, role, active, created_at)
                     VALUES ($1, $2, $3, $4, $5, TRUE, $6)",
                    &user,
                )
                .execute(&mut *tx)
                .await;
                match inserted {
                    Err(e) if is_unique_violation(&e) => {
                        return Err(StoreError::Conflict(format!(
                            "a user with email {}",
                            user.email
                        )))
                    }
                    Err(e) => return Err(e.into()),
                    Ok(_) => {}
                }
                insert_account_link(
                    &mut tx,
                    &user.id,
                    token_hash,
                    LinkPurpose::Invite,
                    user.created_at,
                    expires_at,
                )
                .await?;
                let subject = format!("user:{}", user.id);
                insert_admin_audit(&mut tx, audit, "user_invited", &subject, Some(user.role.as_str()))
                    .await?;
                tx.commit().await?;
                Ok(user.into_user())
            }

            async fn create_account_link(
                &self,
                user_id: &str,
                token_hash: &str,
                purpose: LinkPurpose,
                expires_at: i64,
                audit: &Audit,
            ) -> StoreResult<()> {
                let mut tx = self.writer.begin().await?;
                sqlx::query("DELETE FROM account_links WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                insert_account_link(&mut tx, user_id, token_hash, purpose, audit.at, expires_at)
                    .await?;
                let subject = format!("user:{user_id}");
                let kind = match purpose {
                    LinkPurpose::Invite => "invitation_renewed",
                    LinkPurpose::Reset => "password_link_issued",
                };
                insert_admin_audit(&mut tx, audit, kind, &subject, None).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn account_link(
                &self,
                token_hash: &str,
                now: i64,
            ) -> StoreResult<Option<AccountLink>> {
                let row: Option<(String, String, i64)> = sqlx::query_as(
                    "SELECT u.email, l.purpose, l.expires_at
                     FROM account_links l JOIN users u ON u.id = l.user_id
                     WHERE l.token_hash = $1 AND l.expires_at > $2 AND u.active",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.reader)
                .await?;
                row.map(|(email, purpose, expires_at)| {
                    Ok(AccountLink {
                        email,
                        purpose: LinkPurpose::parse(&purpose).ok_or_else(|| {
                            sqlx::Error::Decode(format!("unknown link purpose {purpose:?}").into())
                        })?,
                        expires_at,
                    })
                })
                .transpose()
            }

            async fn use_account_link(
                &self,
                token_hash: &str,
                password_hash: &str,
                name: Option<&str>,
                now: i64,
            ) -> StoreResult<Option<User>> {
                let mut tx = self.writer.begin().await?;
                // Taking the link is the transaction's first write, and
                // conditional: of two uses at once, PostgreSQL makes the
                // second wait for the first's commit and then find nothing
                // to take (a read first would let both see the link).
                let taken: Option<(String, String)> = sqlx::query_as(
                    "DELETE FROM account_links WHERE token_hash = $1 AND expires_at > $2
                     RETURNING user_id, purpose",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((user_id, purpose)) = taken else {
                    return Ok(None);
                };
                // Switched off meanwhile: dropping the transaction keeps the
                // link for when they are switched on again.
                let Some(row) = sqlx::query("SELECT * FROM users WHERE id = $1 AND active")
                    .bind(&user_id)
                    .fetch_optional(&mut *tx)
                    .await?
                else {
                    return Ok(None);
                };
                let mut user = user_from_row(&row)?;
                sqlx::query(
                    "UPDATE users SET password_hash = $1, name = COALESCE($2, name) WHERE id = $3",
                )
                .bind(password_hash)
                .bind(name)
                .bind(&user.id)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM account_links WHERE user_id = $1")
                    .bind(&user.id)
                    .execute(&mut *tx)
                    .await?;
                end_sessions_of(&mut tx, &user.id, now).await?;
                let by_them = Audit {
                    actor: format!("user:{}", user.id),
                    at: now,
                };
                let subject = by_them.actor.clone();
                let what = format!("{purpose} link: password chosen, every session ended");
                insert_admin_audit(&mut *tx, &by_them, "account_link_used", &subject, Some(&what))
                    .await?;
                tx.commit().await?;
                if let Some(name) = name {
                    user.name = name.to_owned();
                }
                user.group_ids = group_ids_of(&self.reader, &user.id).await?;
                Ok(Some(user))
            }

            async fn people(&self, now: i64) -> StoreResult<Vec<Person>> {
                let rows = sqlx::query(
                    "SELECT u.*, u.password_hash <> '' AS has_password FROM users u ORDER BY u.email",
                )
                .fetch_all(&self.reader)
                .await?;
                let memberships: Vec<(String, String, String)> = sqlx::query_as(
                    "SELECT m.user_id, g.id, g.name FROM group_members m
                     JOIN approver_groups g ON g.id = m.group_id ORDER BY g.name",
                )
                .fetch_all(&self.reader)
                .await?;
                let invitations: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT user_id, MAX(expires_at) FROM account_links
                     WHERE purpose = 'invite' AND expires_at > $1 GROUP BY user_id",
                )
                .bind(now)
                .fetch_all(&self.reader)
                .await?;
                let mut people = Vec::with_capacity(rows.len());
                for row in rows {
                    let mut user = user_from_row(&row)?;
                    let mut group_names = Vec::new();
                    for (user_id, group_id, name) in &memberships {
                        if *user_id == user.id {
                            user.group_ids.push(group_id.clone());
                            group_names.push(name.clone());
                        }
                    }
                    people.push(Person {
                        invited_until: invitations
                            .iter()
                            .find(|(user_id, _)| *user_id == user.id)
                            .map(|(_, until)| *until),
                        has_password: row.try_get("has_password")?,
                        created_at: row.try_get("created_at")?,
                        group_names,
                        user,
                    });
                }
                Ok(people)
            }

            async fn create_group(
                &self,
                id: &str,
                name: &str,
                audit: &Audit,
            ) -> StoreResult<Group> {
                let mut tx = self.writer.begin().await?;
                let result = sqlx::query(
                    "INSERT INTO approver_groups (id, name, created_at) VALUES ($1, $2, $3)",
                )
                .bind(id)
                .bind(name)
                .bind(audit.at)
                .execute(&mut *tx)
                .await;
                match result {
                    Err(e) if is_unique_violation(&e) => {
                        return Err(StoreError::Conflict(format!("a group named {name}")))
                    }
                    Err(e) => return Err(e.into()),
                    Ok(_) => {}
                }
                let subject = format!("group:{id}");
                insert_admin_audit(&mut tx, audit, "group_created", &subject, Some(name)).await?;
                tx.commit().await?;
                Ok(Group {
                    id: id.to_owned(),
                    name: name.to_owned(),
                    created_at: audit.at,
                    members: Vec::new(),
                })
            }

            async fn groups(&self) -> StoreResult<Vec<Group>> {
                groups_with_members(
                    &self.reader,
                    "SELECT id, name, created_at FROM approver_groups ORDER BY name",
                    None,
                )
                .await
            }

            async fn group_by_name(&self, name: &str) -> StoreResult<Option<Group>> {
                Ok(groups_with_members(
                    &self.reader,
                    "SELECT id, name, created_at FROM approver_groups WHERE name = $1",
                    Some(name),
                )
                .await?
                .pop())
            }

            async fn set_group_member(
                &self,
                group_id: &str,
                user_id: &str,
                member: bool,
                audit: &Audit,
            ) -> StoreResult<bool> {
                let mut tx = self.writer.begin().await?;
                let changed = if member {
                    sqlx::query(
                        "INSERT INTO group_members (group_id, user_id) VALUES ($1, $2)
                         ON CONFLICT (group_id, user_id) DO NOTHING",
                    )
                } else {
                    sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
                }
                .bind(group_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if changed > 0 {
                    mark_access_changed(&mut tx, user_id, audit.at).await?;
                    let kind = if member { "group_member_added" } else { "group_member_removed" };
                    let subject = format!("group:{group_id}");
                    let detail = format!("user:{user_id}");
                    insert_admin_audit(&mut tx, audit, kind, &subject, Some(&detail)).await?;
                }
                tx.commit().await?;
                Ok(changed > 0)
            }

            async fn key_overviews(&self) -> StoreResult<Vec<KeyOverview>> {
                let rows: Vec<KeyOverviewRow> = sqlx::query_as(
                    "SELECT k.id, k.name, u.email AS default_approver, g.name AS default_group,
                            k.created_at, k.revoked_at, k.last_used_at,
                            (SELECT COUNT(*) FROM approvals a
                             WHERE a.api_key_id = k.id AND a.status = 'pending') AS pending,
                            e.url AS webhook_url, k.reads_decisions
                     FROM api_keys k
                     LEFT JOIN users u ON u.id = k.default_approver_id
                     LEFT JOIN approver_groups g ON g.id = k.default_group_id
                     LEFT JOIN webhook_endpoints e ON e.api_key_id = k.id
                     ORDER BY k.revoked_at IS NOT NULL, k.name, k.created_at",
                )
                .fetch_all(&self.reader)
                .await?;
                Ok(rows.into_iter().map(KeyOverview::from).collect())
            }

            async fn touch_api_key(&self, id: &str, at: i64) -> StoreResult<()> {
                sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                    .bind(at)
                    .bind(id)
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }

            async fn keys_revoked_since(&self, since: i64) -> StoreResult<Vec<(String, i64)>> {
                Ok(
                    sqlx::query_as("SELECT id, revoked_at FROM api_keys WHERE revoked_at > $1")
                        .bind(since)
                        .fetch_all(&self.reader)
                        .await?,
                )
            }

            async fn access_changed_since(&self, since: i64) -> StoreResult<Vec<(String, i64)>> {
                Ok(sqlx::query_as(
                    "SELECT id, access_changed_at FROM users WHERE access_changed_at > $1",
                )
                .bind(since)
                .fetch_all(&self.reader)
                .await?)
            }

            async fn create_api_key(&self, key: NewApiKey, audit: &Audit) -> StoreResult<ApiKey> {
                let mut tx = self.writer.begin().await?;
                let result = insert_api_key(&mut tx, &key).await;
                match result {
                    Err(e) if is_unique_violation(&e) => {
                        return Err(StoreError::Conflict(format!(
                            "an API key named {}",
                            key.name
                        )))
                    }
                    Err(e) => return Err(e.into()),
                    Ok(_) => {}
                }
                if let Some(endpoint) = &key.webhook {
                    insert_endpoint(&mut tx, endpoint).await?;
                }
                let subject = format!("key:{}", key.id);
                insert_admin_audit(&mut tx, audit, "key_created", &subject, Some(&key.name)).await?;
                tx.commit().await?;
                Ok(ApiKey {
                    id: key.id,
                    name: key.name,
                    default_route: key.default_route,
                    reads_decisions: false,
                })
            }

            async fn api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKey>> {
                live_api_key(&self.reader, "key_hash", key_hash).await
            }

            async fn set_key_route(
                &self,
                name: &str,
                route: &Route,
                audit: &Audit,
            ) -> StoreResult<bool> {
                let mut tx = self.writer.begin().await?;
                let changed: Vec<String> = sqlx::query_scalar(
                    "UPDATE api_keys SET default_approver_id = $1, default_group_id = $2
                     WHERE name = $3 AND revoked_at IS NULL
                     RETURNING id",
                )
                .bind(&route.approver_id)
                .bind(&route.group_id)
                .bind(name)
                .fetch_all(&mut *tx)
                .await?;
                let detail = match (&route.approver_id, &route.group_id) {
                    (Some(user), _) => format!("user:{user}"),
                    (None, Some(group)) => format!("group:{group}"),
                    (None, None) => "anyone".to_owned(),
                };
                for id in &changed {
                    let subject = format!("key:{id}");
                    insert_admin_audit(&mut tx, audit, "key_route_changed", &subject, Some(&detail))
                        .await?;
                }
                tx.commit().await?;
                Ok(!changed.is_empty())
            }

            async fn revoke_api_key_by_id(&self, id: &str, audit: &Audit) -> StoreResult<bool> {
                let mut tx = self.writer.begin().await?;
                let revoked = revoke_keys_where(&mut tx, "id", id, audit).await?;
                tx.commit().await?;
                Ok(!revoked.is_empty())
            }

            async fn rotate_api_key(
                &self,
                key: NewApiKey,
                old_key_id: &str,
                audit: &Audit,
            ) -> StoreResult<ApiKey> {
                let mut tx = self.writer.begin().await?;
                insert_api_key(&mut tx, &key).await?;
                sqlx::query(
                    "INSERT INTO webhook_endpoints (id, api_key_id, url, secret, created_at)
                     SELECT $1, $2, url, secret, $3 FROM webhook_endpoints WHERE api_key_id = $4",
                )
                .bind(ids::new_id("whe", key.created_at))
                .bind(&key.id)
                .bind(key.created_at)
                .bind(old_key_id)
                .execute(&mut *tx)
                .await?;
                // The new key may do what the old one may.
                let reads_decisions: bool = sqlx::query_scalar(
                    "UPDATE api_keys
                     SET reads_decisions = (SELECT reads_decisions FROM api_keys WHERE id = $1)
                     WHERE id = $2
                     RETURNING reads_decisions",
                )
                .bind(old_key_id)
                .bind(&key.id)
                .fetch_one(&mut *tx)
                .await?;
                let subject = format!("key:{}", key.id);
                let detail = format!("key:{old_key_id}");
                insert_admin_audit(&mut tx, audit, "key_rotated", &subject, Some(&detail)).await?;
                tx.commit().await?;
                Ok(ApiKey {
                    id: key.id,
                    name: key.name,
                    default_route: key.default_route,
                    reads_decisions,
                })
            }

            async fn set_key_reads_decisions(
                &self,
                name: &str,
                allowed: bool,
                audit: &Audit,
            ) -> StoreResult<bool> {
                let mut tx = self.writer.begin().await?;
                let changed: Vec<String> = sqlx::query_scalar(
                    "UPDATE api_keys SET reads_decisions = $1
                     WHERE name = $2 AND revoked_at IS NULL
                     RETURNING id",
                )
                .bind(allowed)
                .bind(name)
                .fetch_all(&mut *tx)
                .await?;
                let kind = if allowed {
                    "key_decisions_allowed"
                } else {
                    "key_decisions_refused"
                };
                for id in &changed {
                    insert_admin_audit(&mut tx, audit, kind, &format!("key:{id}"), None).await?;
                }
                tx.commit().await?;
                Ok(!changed.is_empty())
            }

            async fn revoke_api_key(&self, name: &str, audit: &Audit) -> StoreResult<bool> {
                let mut tx = self.writer.begin().await?;
                let revoked = revoke_keys_where(&mut tx, "name", name, audit).await?;
                tx.commit().await?;
                Ok(!revoked.is_empty())
            }

            async fn api_key_by_name(&self, name: &str) -> StoreResult<Option<ApiKey>> {
                live_api_key(&self.reader, "name", name).await
            }
        }
    };
}

pub(crate) use account_sql;
