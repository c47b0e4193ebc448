//! Persistence. One trait, implemented once in portable SQL (`portable.rs`)
//! and instantiated for SQLite (the embedded default, one process) and
//! PostgreSQL (several instances on one database); each backend keeps its own
//! migrations folder and the few hooks where the two really differ. Every
//! method that changes an approval is one transaction that also writes the
//! audit event and announces the change on the event hub.

mod portable;
mod postgres;
mod sqlite;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use crate::model::{KeyWebhook, WebhookMessage};
use crate::server::domain::events::EventHub;
use crate::server::domain::{
    Account, ApiKey, ApprovalFilter, ApprovalRecord, AttemptRecord, ClaimedMessage, FirstUser,
    InsertOutcome, MessageFilter, NewApiKey, NewApproval, NewEndpoint, NewMessage, NewUser,
    Transition, TransitionOutcome, User,
};
use async_trait::async_trait;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    Conflict(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Config(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn create_user(&self, user: NewUser) -> StoreResult<User>;
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

    async fn create_session(
        &self,
        token_hash: &str,
        user_id: &str,
        expires_at: i64,
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
        at: i64,
    ) -> StoreResult<Option<User>>;
    /// Ends every session of the person with this email; how many there
    /// were, or None when there is no such person.
    async fn end_sessions(&self, email: &str, at: i64) -> StoreResult<Option<u64>>;
    /// People whose sessions were ended after `since`: (user id, when).
    async fn sessions_ended_since(&self, since: i64) -> StoreResult<Vec<(String, i64)>>;

    async fn create_api_key(&self, key: NewApiKey) -> StoreResult<ApiKey>;
    /// An unrevoked key by the SHA-256 of its secret.
    async fn api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKey>>;
    /// Revokes the unrevoked key with this name; false when there is none.
    async fn revoke_api_key(&self, name: &str, at: i64) -> StoreResult<bool>;
    async fn api_key_by_name(&self, name: &str) -> StoreResult<Option<ApiKey>>;
    /// Keys revoked after `since`: (key id, when).
    async fn keys_revoked_since(&self, since: i64) -> StoreResult<Vec<(String, i64)>>;

    /// Points the key's endpoint at `endpoint.url`, or creates the endpoint
    /// (with `endpoint.secret`) when it has none; true when created.
    async fn upsert_webhook_endpoint(&self, endpoint: NewEndpoint) -> StoreResult<bool>;
    /// Every live key with its endpoint, by key name.
    async fn key_webhooks(&self) -> StoreResult<Vec<KeyWebhook>>;
    /// Signs with `secret` from now on, and with the current one as well
    /// until `previous_until`; false when there is no such endpoint.
    async fn rotate_webhook_secret(
        &self,
        endpoint_id: &str,
        secret: &str,
        previous_until: i64,
    ) -> StoreResult<bool>;
    /// Re-enables a disabled endpoint; its held messages are due at once.
    async fn enable_webhook_endpoint(&self, endpoint_id: &str, now: i64) -> StoreResult<bool>;
    async fn enqueue_webhook(&self, message: NewMessage) -> StoreResult<()>;
    /// Queues a message for delivery again now (unless an attempt is under
    /// way); false when there is no such message.
    async fn redeliver_webhook(&self, message_id: &str, now: i64) -> StoreResult<bool>;
    async fn webhook_messages(&self, filter: &MessageFilter) -> StoreResult<Vec<WebhookMessage>>;
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
    /// Logs an attempt and moves its message and endpoint on, atomically.
    async fn record_webhook_attempt(&self, attempt: &AttemptRecord) -> StoreResult<()>;
    /// When the next pending message is due (None when nothing waits).
    async fn next_webhook_due(&self) -> StoreResult<Option<i64>>;
    /// At start: releases claims a previous run of this process left behind
    /// (SQLite: the only process, so every claim is stale; PostgreSQL:
    /// nothing, other instances' claims expire with their lease).
    async fn recover_webhook_claims(&self) -> StoreResult<()>;

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

    /// Starts hearing changes made by other instances (a server does this;
    /// one-shot admin commands need not). Returns once it is listening.
    async fn start_listening(&self) -> StoreResult<()>;
}

/// Opens the store named by `database_url` and brings its schema up to date.
/// Changes are announced on `hub` once committed.
pub async fn open(database_url: &str, hub: EventHub) -> StoreResult<Arc<dyn Store>> {
    if database_url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(database_url, hub).await?))
    } else if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::open(database_url, hub).await?))
    } else {
        Err(StoreError::Config(
            "unsupported kind of database URL: use sqlite://PATH or postgres://USER@HOST/DATABASE"
                .to_owned(),
        ))
    }
}

/// [`open`] with an error message fit for a person: what failed, where.
pub async fn open_or_explain(database_url: &str, hub: EventHub) -> Result<Arc<dyn Store>, String> {
    open(database_url, hub).await.map_err(|e| {
        format!(
            "opening the database {}: {e}",
            redact_password(database_url)
        )
    })
}

/// The URL with any password replaced, fit for messages and logs.
pub fn redact_password(database_url: &str) -> String {
    let Some((scheme, rest)) = database_url.split_once("://") else {
        return database_url.to_owned();
    };
    let Some((credentials, host)) = rest.split_once('@') else {
        return database_url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => database_url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_password;

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redact_password("postgres://hp:s3cret@db:5432/hp"),
            "postgres://hp:***@db:5432/hp"
        );
        assert_eq!(
            redact_password("postgres://hp@db/hp"),
            "postgres://hp@db/hp"
        );
        assert_eq!(redact_password("sqlite://data/x.db"), "sqlite://data/x.db");
    }
}
