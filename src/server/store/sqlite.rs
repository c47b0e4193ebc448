//! The embedded SQLite store: one process, one file.
//!
//! SQLite allows one writer at a time. Rather than letting connections race
//! for the write lock (and fail with SQLITE_BUSY when a read transaction
//! tries to upgrade), all writes go through a pool of exactly one connection,
//! and reads use a separate pool that WAL mode lets run alongside it. Events
//! stay in-process: they are published to the hub after each commit.

use super::portable::portable_store;
use super::*;
use crate::server::live::{LiveEvent, LiveHub};
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
    hub: LiveHub,
}

impl SqliteStore {
    /// One writer: there is no other instance to skip.
    const CLAIM_ROWS: &'static str = "";

    /// The only process: a claim found at start was left by a dead run.
    const STALE_CLAIMS_AT_START: bool = true;

    pub async fn open(url: &str, hub: LiveHub) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
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
        self.hub.publish(LiveEvent::Approval(event));
    }

    /// Nothing to do: the single writer connection already serializes.
    async fn serialize_first_user(&self, _tx: &mut SqliteConnection) -> StoreResult<()> {
        Ok(())
    }

    /// Nothing to listen to: only this process writes the file.
    async fn listen(&self) -> StoreResult<()> {
        Ok(())
    }
}

portable_store!(SqliteStore, Sqlite, SqliteRow, SqliteConnection);
