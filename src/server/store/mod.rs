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

use crate::model::{KeyWebhook, Status, WebhookMessage};
use crate::server::live::LiveHub;
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Approver,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Approver => "approver",
        }
    }

    pub fn parse(raw: &str) -> Role {
        if raw == "admin" {
            Role::Admin
        } else {
            Role::Approver
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: String,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub role: Role,
    pub created_at: i64,
}

impl NewUser {
    /// The user as stored, once the insert has succeeded.
    pub fn into_user(self) -> User {
        User {
            id: self.id,
            email: self.email,
            name: self.name,
            role: self.role,
            active: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    /// Where approvals from this key go when the agent names no approver.
    pub default_approver_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub id: String,
    pub name: String,
    pub key_hash: String,
    pub default_approver_id: Option<String>,
    pub created_at: i64,
    /// Created in the same transaction: the key never exists without the
    /// endpoint it was asked for.
    pub webhook: Option<NewEndpoint>,
}

/// A webhook endpoint for an API key.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub id: String,
    pub api_key_id: String,
    pub url: String,
    /// `whsec_...`
    pub secret: String,
    pub created_at: i64,
}

/// A message queued by hand (a test event, say), not by a status change.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: String,
    pub endpoint_id: String,
    pub event_type: String,
    pub payload: String,
    pub at: i64,
}

/// A message a worker has claimed, with what it needs to deliver it.
#[derive(Debug, Clone)]
pub struct ClaimedMessage {
    pub id: String,
    pub endpoint_id: String,
    pub url: String,
    pub payload: String,
    /// Attempts made since it was (re)queued.
    pub round_attempts: i64,
    /// The endpoint's secret, then the previous one while a rotation lasts.
    pub secrets: Vec<String>,
}

/// What happens to a message after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    Delivered,
    RetryAt(i64),
    /// Retries used up.
    GiveUp,
}

/// One delivery attempt, as it is logged.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub message_id: String,
    pub endpoint_id: String,
    /// The claim the attempt was made under; a stale claim changes nothing
    /// but the log.
    pub claim_token: String,
    pub attempted_at: i64,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub response_body: Option<String>,
    pub next: NextStep,
    /// Disables the endpoint, for this reason (a 410 Gone).
    pub disable_endpoint: Option<String>,
}

/// Which messages to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub approval_id: Option<String>,
    pub endpoint_id: Option<String>,
    pub limit: i64,
}

/// An approval as stored, with the names joined in. Times are Unix
/// milliseconds, which both backends store as a 64-bit integer.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRecord {
    pub id: String,
    pub api_key_id: String,
    pub agent_name: String,
    pub status: Status,
    pub title: String,
    /// Empty when read by a filter without content.
    pub body_html: String,
    /// `{}` when read by a filter without content.
    pub data_json: String,
    /// The stored sizes, in bytes, with or without the content.
    pub body_bytes: i64,
    pub data_bytes: i64,
    pub action: Option<String>,
    pub approver_id: Option<String>,
    pub approver_email: Option<String>,
    pub reason: Option<String>,
    pub decided_by_email: Option<String>,
    pub decided_by_name: Option<String>,
    pub decided_at: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewApproval {
    pub id: String,
    pub api_key_id: String,
    pub title: String,
    pub body_html: String,
    pub data_json: String,
    pub action: Option<String>,
    pub approver_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// The agent's Idempotency-Key and a hash of the request it came with.
    pub idempotency: Option<(String, String)>,
}

/// What became of a first-start setup.
#[derive(Debug)]
pub enum FirstUser {
    Created(User),
    /// No live token has this hash (never issued, spent, or expired).
    InvalidToken,
    /// Someone got there first: an account exists.
    AlreadySetUp,
}

#[derive(Debug)]
pub enum InsertOutcome {
    Created(ApprovalRecord),
    /// The key was used before: the first approval and its request hash.
    Replayed {
        existing: ApprovalRecord,
        request_hash: String,
    },
}

/// A terminal transition of a pending approval.
#[derive(Debug, Clone)]
pub struct Transition {
    pub status: Status,
    pub reason: Option<String>,
    /// The person who decided (approve / deny), if any.
    pub decided_by: Option<String>,
    /// Who caused it, for the audit log (`user:ID`, `key:ID`, `system`).
    pub actor: String,
    pub at: i64,
}

#[derive(Debug)]
pub enum TransitionOutcome {
    Applied(ApprovalRecord),
    /// Someone else got there first: the approval as it now is.
    AlreadyDecided(ApprovalRecord),
    NotFound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    OldestFirst,
    NewestFirst,
}

/// Which approvals to list. `after` is an exclusive ID bound in the
/// direction of `order` (the pagination cursor).
#[derive(Debug, Clone)]
pub struct ApprovalFilter {
    pub api_key_id: Option<String>,
    pub statuses: Vec<Status>,
    /// Only approvals routed to this user or to nobody in particular.
    pub visible_to: Option<String>,
    /// Case-insensitive (ASCII) substring of the title, reason or agent name.
    pub text_contains: Option<String>,
    pub after: Option<String>,
    pub order: Order,
    pub limit: i64,
    /// Whether to read the preview and the data (lists that show neither
    /// read only their sizes).
    pub with_content: bool,
}

impl ApprovalFilter {
    pub fn new(order: Order, limit: i64) -> Self {
        Self {
            api_key_id: None,
            statuses: Vec::new(),
            visible_to: None,
            text_contains: None,
            after: None,
            order,
            limit,
            with_content: true,
        }
    }
}

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
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<(User, String)>>;

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
pub async fn open(database_url: &str, hub: LiveHub) -> StoreResult<Arc<dyn Store>> {
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
pub async fn open_or_explain(database_url: &str, hub: LiveHub) -> Result<Arc<dyn Store>, String> {
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
