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

    /// The backlog's indexes, named: see the module notes of `portable`.
    const PENDING_BY_ROUTE: &'static str = "approvals INDEXED BY approvals_pending_by_route";
    const PENDING_BY_DEADLINE: &'static str = "approvals INDEXED BY approvals_pending_deadline";

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
        migrate(&writer).await?;
        // Fresh statistics for the query planner (bounded work: sampled, so
        // approximate; the backlog's queries name their index for that
        // reason, see `PENDING_BY_ROUTE`).
        sqlx::query("PRAGMA analysis_limit = 1000")
            .execute(&writer)
            .await?;
        sqlx::query("PRAGMA optimize = 0x10002")
            .execute(&writer)
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        let store = Self {
            writer,
            reader,
            hub,
        };
        store.chain_earlier_audit_entries().await?;
        store.rebuild_rollups_if_pending().await?;
        Ok(store)
    }

    async fn announce_in(
        &self,
        _tx: &mut SqliteConnection,
        _events: &[ApprovalEvent],
    ) -> StoreResult<()> {
        Ok(())
    }

    fn announce_after(&self, record: &ApprovalRecord) {
        self.hub
            .publish(Event::Approval(ApprovalEvent::of_committed(record)));
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

/// Runs the migrations with foreign keys off, as SQLite's procedure for
/// rebuilding a table requires (a pragma that has no effect inside the
/// migration's own transaction), then checks every reference still holds.
async fn migrate(writer: &SqlitePool) -> StoreResult<()> {
    let mut conn = writer.acquire().await?;
    sqlx::query("PRAGMA foreign_keys = OFF")
        .execute(&mut *conn)
        .await?;
    let migrated = sqlx::migrate!("./migrations/sqlite").run(&mut *conn).await;
    sqlx::query("PRAGMA foreign_keys = ON")
        .execute(&mut *conn)
        .await?;
    migrated?;
    let broken = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut *conn)
        .await?;
    if !broken.is_empty() {
        return Err(StoreError::Config(format!(
            "the database has {} broken references after migrating: restore a backup",
            broken.len()
        )));
    }
    Ok(())
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

    /// A database made before groups and viewers (users and the audit
    /// trail rebuilt by the upgrade) keeps its people, sessions, keys,
    /// approvals and audit entries, and takes the new role.
    #[tokio::test]
    async fn the_groups_upgrade_keeps_sessions_and_references() {
        let dir = tempfile::tempdir().expect("temp dir");
        let old = dir.path().join("old-migrations");
        std::fs::create_dir(&old).expect("dir");
        for entry in std::fs::read_dir("migrations/sqlite").expect("migrations") {
            let path = entry.expect("entry").path();
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            if name.as_str() < "20261129000003" {
                std::fs::copy(&path, old.join(&name)).expect("copy");
            }
        }
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let options = SqliteConnectOptions::from_str(&url)
            .expect("url")
            .create_if_missing(true)
            .foreign_keys(true);
        let pool = SqlitePool::connect_with(options).await.expect("connect");
        sqlx::migrate::Migrator::new(old.as_path())
            .await
            .expect("old migrations")
            .run(&pool)
            .await
            .expect("migrate to the old schema");
        for sql in [
            "INSERT INTO users (id, email, name, password_hash, role, created_at)
             VALUES ('usr_1', 'ana@example.com', 'Ana', 'x', 'approver', 1)",
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
             VALUES ('s1', 'usr_1', 1, 9999999999999)",
            "INSERT INTO api_keys (id, name, key_hash, default_approver_id, created_at)
             VALUES ('key_1', 'agent', 'h', 'usr_1', 1)",
            "INSERT INTO approvals (id, api_key_id, status, title, body_html, data_json,
                                    approver_id, created_at, expires_at)
             VALUES ('apr_1', 'key_1', 'pending', 't', '', '{}', 'usr_1', 1, 2)",
            "INSERT INTO audit_events (approval_id, kind, actor, at)
             VALUES ('apr_1', 'created', 'key:key_1', 1)",
        ] {
            sqlx::query(sql).execute(&pool).await.expect(sql);
        }
        pool.close().await;

        let store = SqliteStore::open(&url, EventHub::new(8))
            .await
            .expect("upgrade");
        let user = store
            .session_user("s1", 2)
            .await
            .expect("session")
            .expect("the session survived the rebuild of users");
        assert_eq!(user.email, "ana@example.com");
        let counts: (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM approvals), (SELECT COUNT(*) FROM audit_events),
                    (SELECT COUNT(*) FROM api_keys WHERE default_approver_id = 'usr_1')",
        )
        .fetch_one(&store.reader)
        .await
        .expect("counts");
        assert_eq!(counts, (1, 1, 1));
        let viewer = store
            .set_role(
                "ana@example.com",
                crate::server::domain::Role::Viewer,
                &crate::server::domain::Audit {
                    actor: "cli".to_owned(),
                    at: 3,
                },
            )
            .await
            .expect("the new role is allowed")
            .expect("ana");
        assert_eq!(viewer.role, crate::server::domain::Role::Viewer);
        let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&store.writer)
            .await
            .expect("pragma");
        assert_eq!(foreign_keys, 1, "foreign keys are on again after migrating");
    }
}
