//! The PostgreSQL store: several Holdpoint instances on one database.
//!
//! Correctness across instances rests on the database: the first decision
//! wins by the `status = 'pending'` condition under PostgreSQL's row lock,
//! idempotency by a unique constraint, first-start setup by an advisory lock.
//! Events cross instances by LISTEN/NOTIFY: each change sends a NOTIFY inside
//! its own transaction (so it is delivered exactly when the change commits,
//! and never for a change that rolled back), and every instance listens and
//! forwards what it hears, its own changes included, to its in-process hub.

use super::portable::portable_store;
use super::*;
use crate::server::domain::events::{Event, EventHub};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::{ConnectOptions, Connection, Postgres};
use std::str::FromStr;
use std::time::Duration;

/// The NOTIFY channel every instance listens on.
const EVENT_CHANNEL: &str = "holdpoint_events";
/// Advisory lock keys (arbitrary, fixed; "hold" in ASCII, then a number):
/// one for migrations, one for account changes that check other accounts.
const MIGRATION_LOCK: i64 = 0x686f_6c64_0001;
const FIRST_USER_LOCK: i64 = 0x686f_6c64_0002;
/// Pause before reconnecting the listener after losing the database.
const RELISTEN_DELAY: Duration = Duration::from_secs(1);

pub struct PgStore {
    writer: PgPool,
    /// The same pool: PostgreSQL runs reads and writes side by side.
    reader: PgPool,
    hub: EventHub,
}

impl PgStore {
    /// Rows another instance has locked are its to handle.
    const CLAIM_ROWS: &'static str = "FOR UPDATE SKIP LOCKED";

    /// Claims found at start may be live instances' work; a dead
    /// instance's claims lapse with their lease.
    const STALE_CLAIMS_AT_START: bool = false;

    /// The planner finds the backlog's indexes itself.
    const PENDING_BY_ROUTE: &'static str = "approvals";
    const PENDING_BY_DEADLINE: &'static str = "approvals";

    pub async fn open(url: &str, hub: EventHub) -> StoreResult<Self> {
        // Server notices ("relation ... already exists, skipping" at every
        // start) are noise in our logs; warnings and errors still come through.
        let options =
            PgConnectOptions::from_str(url)?.options([("client_min_messages", "warning")]);
        // One connection first, outside the pool: its error says why
        // (refused, authentication, no such database) where the pool would
        // only report that it timed out.
        options.connect().await?.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        migrate(&pool).await?;
        let store = Self {
            writer: pool.clone(),
            reader: pool,
            hub,
        };
        store.chain_earlier_audit_entries().await?;
        store.rebuild_rollups_if_pending().await?;
        Ok(store)
    }

    /// One statement for a batch's events (one round trip, not one each).
    async fn announce_in(
        &self,
        tx: &mut PgConnection,
        events: &[ApprovalEvent],
    ) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let payloads: Vec<String> = events.iter().map(ApprovalEvent::to_payload).collect();
        sqlx::query("SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload")
            .bind(EVENT_CHANNEL)
            .bind(payloads)
            .execute(tx)
            .await?;
        Ok(())
    }

    /// Nothing to do: the event comes back through the listener.
    fn announce_after(&self, _record: &ApprovalRecord) {}

    /// Ids of approvals whose title or reason holds `needle`, each branch
    /// through its pg_trgm index on `lower(column)`.
    fn push_text_matches(query: &mut QueryBuilder<'_, Postgres>, needle: &str) {
        let pattern = like_pattern(needle);
        query
            .push("SELECT id FROM approvals WHERE lower(title) LIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '\\' UNION ALL SELECT id FROM approvals WHERE lower(reason) LIKE ")
            .push_bind(pattern)
            .push(" ESCAPE '\\'");
    }

    /// Account changes that check other accounts run one at a time across
    /// instances: two first-start setups must not both create a "first"
    /// admin, and two deactivations must not each leave the other as the
    /// last admin and then switch it off too.
    async fn serialize_account_changes(&self, tx: &mut PgConnection) -> StoreResult<()> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(FIRST_USER_LOCK)
            .execute(tx)
            .await?;
        Ok(())
    }

    /// Subscribes to every instance's events and forwards them to the hub,
    /// reconnecting for as long as the process runs. The first connection is
    /// made before returning, so a server that starts is already listening.
    async fn listen(&self) -> StoreResult<()> {
        let listener = connect_listener(&self.writer).await?;
        let pool = self.writer.clone();
        let hub = self.hub.clone();
        tokio::spawn(async move {
            let mut listener = Some(listener);
            loop {
                if let Some(connected) = listener.take() {
                    forward(connected, &hub).await;
                    tracing::warn!("lost the database event channel; reconnecting");
                }
                tokio::time::sleep(RELISTEN_DELAY).await;
                match connect_listener(&pool).await {
                    Ok(connected) => {
                        // Whatever happened while we were away is unknown:
                        // every subscriber re-reads.
                        hub.publish(Event::Resync);
                        listener = Some(connected);
                    }
                    Err(error) => tracing::error!(%error, "cannot listen for events"),
                }
            }
        });
        Ok(())
    }
}

async fn connect_listener(pool: &PgPool) -> StoreResult<PgListener> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(EVENT_CHANNEL).await?;
    Ok(listener)
}

/// Forwards notifications until the connection drops.
async fn forward(mut listener: PgListener, hub: &EventHub) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => match ApprovalEvent::from_payload(notification.payload()) {
                Some(event) => hub.publish(Event::Approval(event)),
                None => tracing::warn!(payload = notification.payload(), "unknown event"),
            },
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, "event channel failed");
                return;
            }
        }
    }
}

/// Applies migrations under a session advisory lock, so instances starting
/// together take turns: the first migrates, the others find nothing to do.
/// (sqlx takes its own lock only after creating its bookkeeping table, and
/// two concurrent `CREATE TABLE IF NOT EXISTS` can still collide.)
async fn migrate(pool: &PgPool) -> StoreResult<()> {
    let mut conn = pool.acquire().await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *conn)
        .await?;
    let result = sqlx::migrate!("./migrations/postgres")
        .run(&mut *conn)
        .await;
    // Closing the session releases the lock, whatever happened.
    conn.close().await?;
    Ok(result?)
}

portable_store!(PgStore, Postgres, PgRow, PgConnection);
