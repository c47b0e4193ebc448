//! The embedded SQLite store: one process, one file.
//!
//! SQLite allows one writer at a time. Rather than letting connections race
//! for the write lock (and fail with SQLITE_BUSY when a read transaction
//! tries to upgrade), all writes go through a pool of exactly one connection,
//! and reads use a separate pool that WAL mode lets run alongside it. Events
//! stay in-process: they are published to the hub after each commit.

use super::portable::portable_store;
use super::*;
use crate::server::domain::events::{Event, EventHub};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Sqlite, SqliteConnection};
use std::str::FromStr;
use std::time::Duration;

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    hub: EventHub,
}

impl SqliteStore {
    /// One writer: there is no other instance to skip.
    const CLAIM_ROWS: &'static str = "";

    /// The only process: a claim found at start was left by a dead run.
    const STALE_CLAIMS_AT_START: bool = true;

    /// Ids of approvals whose title or reason holds `needle`, from the FTS5
    /// trigram index (`approvals_search`). Trigrams need three characters:
    /// a shorter needle scans instead (it matches so much that the newest
    /// page is found at once anyway).
    fn push_text_matches(query: &mut QueryBuilder<'_, Sqlite>, needle: &str) {
        if needle.chars().count() >= 3 {
            // An FTS5 string: the needle in double quotes, its own doubled.
            let phrase = format!("\"{}\"", needle.replace('"', "\"\""));
            query
                .push("SELECT approval_id FROM approvals_search WHERE approvals_search MATCH ")
                .push_bind(phrase);
        } else {
            let pattern = like_pattern(needle);
            query
                .push("SELECT id FROM approvals WHERE lower(title) LIKE ")
                .push_bind(pattern.clone())
                .push(" ESCAPE '\\' OR lower(reason) LIKE ")
                .push_bind(pattern)
                .push(" ESCAPE '\\'");
        }
    }

    pub async fn open(url: &str, hub: EventHub) -> StoreResult<Self> {
        // FULL: a commit is on disk before the agent is told `approved`. With
        // NORMAL, WAL mode may roll the last commits back on a power cut or an
        // OS crash, after the answer has gone out.
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        if let Some(dir) = options.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Config(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        Ok(Self {
            writer,
            reader,
            hub,
        })
    }

    async fn announce_in(
        &self,
        _tx: &mut SqliteConnection,
        _event: &ApprovalEvent,
    ) -> StoreResult<()> {
        Ok(())
    }

    fn announce_after(&self, event: ApprovalEvent) {
        self.hub.publish(Event::Approval(event));
    }

    /// Nothing to do: the single writer connection already serializes.
    async fn serialize_account_changes(&self, _tx: &mut SqliteConnection) -> StoreResult<()> {
        Ok(())
    }

    /// Nothing to listen to: only this process writes the file.
    async fn listen(&self) -> StoreResult<()> {
        Ok(())
    }
}

portable_store!(SqliteStore, Sqlite, SqliteRow, SqliteConnection);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_commit_is_durable() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = SqliteStore::open(&url, EventHub::new(8))
            .await
            .expect("open");
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&store.writer)
            .await
            .expect("pragma");
        assert_eq!(synchronous, 2, "the writer commits with synchronous=FULL");
    }
}
