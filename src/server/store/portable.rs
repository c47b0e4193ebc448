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
//! - `announce_in(tx, events)`: inside the transaction of a change
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
//!   left by a dead run of this very process (SQLite: the only process);
//! - `PENDING_BY_ROUTE`, `PENDING_BY_DEADLINE`: `approvals` read through
//!   the partial index of pending approvals that a backlog query needs.
//!   SQLite is told (`INDEXED BY`): the statistics it gathers at open are
//!   sampled (`analysis_limit`), and rate `status = 'pending'` on the
//!   status index so selective that it reads 100,000 rows from the table
//!   and sorts them instead of scanning the covering index. PostgreSQL's
//!   planner, with full statistics, chooses well.

/// Selects an approval with the names joined in; callers add the WHERE.
/// `$content` is the preview and data columns: the stored ones, or empty
/// stand-ins for lists that show neither (their sizes come either way).
/// Every approval has its key, so `LEFT JOIN api_keys` finds the same rows
/// as a plain join; it keeps `approvals` the outer loop, which SQLite's
/// planner would otherwise swap for the small keys table once it has
/// statistics, and then sort a million rows to find the first page.
macro_rules! select_approval {
    ($content:literal) => {
        concat!(
            "SELECT a.id, a.api_key_id, k.name AS agent_name, a.status, a.title, ",
            $content,
            ", CAST(octet_length(a.body_html) AS BIGINT) AS body_bytes,
            CAST(octet_length(a.data_json) AS BIGINT) AS data_bytes,
            a.action, a.approver_id, ap.email AS approver_email,
            a.group_id, g.name AS group_name, a.reason,
            COALESCE(d.email, 'policy:' || a.decided_by_policy) AS decided_by_email,
            COALESCE(d.name, 'policy:' || a.decided_by_policy) AS decided_by_name, a.decided_at,
            a.created_at, a.expires_at, a.repeat_of, r.decided_at AS repeat_denied_at,
            COALESCE(rd.name, 'policy:' || r.decided_by_policy) AS repeat_denied_by,
            r.reason AS repeat_reason, a.policy_note
        FROM approvals a
        LEFT JOIN api_keys k ON k.id = a.api_key_id
        LEFT JOIN users ap ON ap.id = a.approver_id
        LEFT JOIN approver_groups g ON g.id = a.group_id
        LEFT JOIN users d ON d.id = a.decided_by
        LEFT JOIN approvals r ON r.id = a.repeat_of
        LEFT JOIN users rd ON rd.id = r.decided_by"
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
/// Whether an error is a unique-constraint violation (a name or email
/// already taken, a repeated idempotency key).
pub(super) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// The whole store for one driver: each aggregate's SQL (`accounts.rs`,
/// `approvals.rs`, `webhooks.rs`, `audit.rs`), expanded into the backend's
/// module so that one aggregate's transactions can call another's helpers
/// (an approval's transition queues its outcome webhook and writes its
/// audit entry in the same transaction).
macro_rules! portable_store {
    ($store:ty, $db:ty, $row:ty, $conn:ty) => {
        use crate::model::{KeyWebhook, ReviewState, Status, WebhookMessage};
        use crate::model::{WebhookAttempt, WebhookEndpoint};
        use crate::server::domain::events::ApprovalEvent;
        use crate::server::domain::stats::{
            bucket_of, bucket_sql, day_of, Backlog, DecidedApprovals, DecisionStats, DeliveryStats,
            Dimension, FailingEndpoint, Histogram, RollupCounts, StatsFilter, StatsNames, DAY_MS,
        };
        use crate::server::domain::{
            chain_hash, ids, outcome, Account, AccountLink, ApiKey, ApprovalFilter, ApprovalRecord,
            AttemptRecord, Audit, AuditFilter, ChainHead, ClaimedMessage, DecisionFilter,
            Destination, FirstUser, Group, InsertOutcome, KeyOverview, LinkPurpose, MessageFilter,
            NewApiKey, NewApproval, NewAuditEntry, NewEndpoint, NewMessage, NewUser, NextStep,
            Order, Person, Role, Route, SessionInfo, StoredAuditEntry, Transition,
            TransitionOutcome, User,
        };
        use crate::server::domain::{
            EvidenceCounts, PolicyRecord, RepeatedDenial, ReviewRecord, SampleVerdict, SampledBy,
            StreakCounts,
        };
        use crate::server::store::approvals::TRANSITIONS_PER_UPDATE;
        use crate::server::store::audit::AUDIT_ROWS_PER_INSERT;
        use crate::server::store::portable::is_unique_violation;
        use crate::server::store::portable::{
            like_pattern, SELECT_APPROVAL, SELECT_APPROVAL_WITHOUT_CONTENT,
        };
        use crate::server::store::rows::{
            ApiKeyRow, ApprovalRow, AttemptRow, AuditRow, EndpointRow, KeyOverviewRow, MessageRow,
            PolicyRow, ReviewRow, UserRow,
        };
        use crate::server::store::stats::{PENDING_AHEAD_LIMIT, REBUILD_CHUNK, REBUILD_PAGE};
        use crate::server::store::webhooks::OUTBOX_ROWS_PER_INSERT;
        use crate::server::store::{
            each_failed, AccountStore, ApprovalStore, AuditStore, DeviceStore, PolicyStore,
            StatsStore, WebhookStore,
        };
        use sqlx::{FromRow, QueryBuilder, Row};

        /// `values` as a parenthesised list of bind parameters.
        fn push_list(query: &mut QueryBuilder<'_, $db>, values: &[String]) {
            query.push("(");
            let mut list = query.separated(", ");
            for value in values {
                list.push_bind(value.clone());
            }
            query.push(")");
        }

        crate::server::store::accounts::account_sql!($store, $db, $row, $conn);
        crate::server::store::approvals::approval_sql!($store, $db, $row, $conn);
        crate::server::store::webhooks::webhook_sql!($store, $db, $row, $conn);
        crate::server::store::audit::audit_sql!($store, $db, $row, $conn);
        crate::server::store::stats::stats_sql!($store, $db, $row, $conn);
        crate::server::store::policies::policy_sql!($store, $db, $row, $conn);
        crate::server::store::devices::device_sql!($store, $db, $row, $conn);

        #[async_trait]
        impl Store for $store {
            async fn start_listening(&self) -> StoreResult<()> {
                self.listen().await
            }
        }
    };
}

pub(super) use portable_store;
