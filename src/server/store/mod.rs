//! Persistence, by aggregate: accounts (people, sessions, API keys),
//! approvals, webhooks (endpoints and the outbox), the audit log and the
//! statistics' rollups, one file each. Each is written once in portable SQL and instantiated for
//! SQLite (the embedded default, one process) and PostgreSQL (several
//! instances on one database) by `portable_store!`; each backend keeps its
//! own migrations folder and the few hooks where the two really differ.
//! Every method that changes an approval is one transaction that also
//! writes the audit event and announces the change on the event hub.

mod accounts;
mod approvals;
mod audit;
mod devices;
mod policies;
mod portable;
mod postgres;
mod rows;
mod sqlite;
mod stats;
mod webhooks;

pub use accounts::AccountStore;
pub use approvals::ApprovalStore;
pub use audit::AuditStore;
pub use devices::DeviceStore;
pub use policies::PolicyStore;
pub use stats::StatsStore;
pub use webhooks::WebhookStore;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use crate::server::domain::events::EventHub;
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
    /// The request's API key was revoked (found in the write's own
    /// transaction).
    #[error("this API key has been revoked")]
    KeyRevoked,
    /// The transaction of a batch of writes failed; this request's write
    /// was not kept (nor any other of the batch).
    #[error("the batch this write was part of failed: {0}")]
    BatchFailed(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The answer to a batch of one.
fn only_answer<T>(mut answers: Vec<StoreResult<T>>) -> StoreResult<T> {
    answers
        .pop()
        .unwrap_or_else(|| Err(StoreError::BatchFailed("no answer".to_owned())))
}

/// The answers to a batch of `count` requests whose transaction failed:
/// nothing of it was committed, so each fails (and may be retried).
fn each_failed<T>(count: usize, error: &StoreError) -> Vec<StoreResult<T>> {
    let message = error.to_string();
    (0..count)
        .map(|_| Err(StoreError::BatchFailed(message.clone())))
        .collect()
}

/// Everything the service keeps, by aggregate. Each part is implemented
/// once in portable SQL for both backends.
#[async_trait]
pub trait Store:
    AccountStore
    + ApprovalStore
    + AuditStore
    + DeviceStore
    + PolicyStore
    + StatsStore
    + WebhookStore
    + Send
    + Sync
    + 'static
{
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
