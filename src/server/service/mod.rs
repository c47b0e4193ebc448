//! The domain operations, by caller: the agent's side of an approval, the
//! approver's, accounts and sign-in, API keys, webhooks and their outbox,
//! and expiry. REST handlers, server functions, the inbox socket and the
//! background tasks call these; only this module reaches the store. Each
//! change is one store transaction, announced on the event hub once it has
//! committed.

mod accounts;
mod agent;
mod approver;
mod audit;
mod error;
mod evidence;
mod expiry;
mod exports;
mod groups;
mod keys;
mod known_keys;
mod outbox;
mod people;
mod policies;
mod review;
mod sessions;
mod stats;
mod use_marks;
mod webhooks;

pub use accounts::{normalize_email, plausible_email};
pub use agent::{CreateApproval, Created};
pub use audit::ChainCheck;
pub use error::{ErrorKind, Missing, ServiceError, ServiceResult};
pub use exports::{DecisionLine, DecisionQuery, DecisionReader, EXPORT_PAGE};
pub use groups::normalize_group_name;
pub use keys::{CreatedKey, NewKey};
pub use people::{Actor, IssuedLink, LINK_DAYS};
pub use sessions::{SignInFrom, SignedIn, SESSION_DAYS};
pub use webhooks::{Deliveries, EndpointSet, RotatedSecret};

use crate::model::{Approval, ApprovalSummary, EarlierDenial, ValidationError};
use crate::server::config::Config;
use crate::server::domain::clock::{Clock, Sleep, SystemClock};
use crate::server::domain::events::EventHub;
use crate::server::domain::{
    ApprovalRecord, AttemptRecord, InsertOutcome, NewApproval, Transition, TransitionOutcome,
};
use crate::server::group_commit::{GroupCommit, WriterGone};
use crate::server::password::PasswordChecks;
use crate::server::rate_limit::RateLimiter;
use crate::server::signin_throttle::SigninThrottle;
use crate::server::store::{Store, StoreError, StoreResult};
use crate::server::wait_room::WaitRoom;
use chrono::{DateTime, TimeZone, Utc};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The most pending approvals an inbox shows at once, oldest first.
pub const INBOX_LIMIT: i64 = 500;

pub struct Service {
    store: Arc<dyn Store>,
    hub: EventHub,
    config: Config,
    signin_throttle: SigninThrottle,
    password_checks: PasswordChecks,
    waits: Arc<WaitRoom>,
    /// Per API key: how fast it may create approvals.
    creates: RateLimiter,
    /// Creates gathered into shared transactions (group commit).
    create_batches: GroupCommit<NewApproval, StoreResult<InsertOutcome>>,
    /// Decisions and cancels, gathered the same way.
    transition_batches: GroupCommit<(String, Transition), StoreResult<TransitionOutcome>>,
    /// Webhook attempts' logs, gathered the same way (a burst of deliveries
    /// would otherwise pay one commit each).
    attempt_batches: GroupCommit<AttemptRecord, StoreResult<()>>,
    /// Recent decision times by route and kind, for agents' expected waits.
    expected_waits: stats::ExpectedWaits,
    /// Cancelled at shutdown: parked waits answer, tasks stop.
    stopping: CancellationToken,
    /// Every "now" of the service and, through it, of the store.
    clock: Arc<dyn Clock>,
    /// When each API key's use was last written.
    key_uses: use_marks::UseMarks,
    /// Keys seen, for creates (see the module).
    known_keys: known_keys::KnownKeys,
    /// When each session was last seen, as written.
    session_uses: use_marks::UseMarks,
    /// Sampling policies' draws.
    sampler: policies::Sampler,
    /// Policies' conditions, compiled once per text.
    conditions: policies::CompiledConditions,
}

/// A request queued for a writer (group commit) got no answer: the server
/// is stopping.
fn writer_stopped(_: WriterGone) -> StoreError {
    StoreError::BatchFailed("the writer has stopped".to_owned())
}

fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

impl Service {
    pub fn new(store: Arc<dyn Store>, hub: EventHub, config: Config) -> Self {
        Self::with_clock(store, hub, config, Arc::new(SystemClock))
    }

    /// A service on a clock of the caller's (a test's `ManualClock`).
    pub fn with_clock(
        store: Arc<dyn Store>,
        hub: EventHub,
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            signin_throttle: SigninThrottle::new(config.signin_address_limit),
            password_checks: PasswordChecks::for_this_machine(),
            waits: WaitRoom::new(config.max_waits_per_key),
            creates: RateLimiter::new(config.create_rate),
            create_batches: {
                let store = store.clone();
                GroupCommit::start(move |batch| {
                    let store = store.clone();
                    async move { store.insert_approvals(batch).await }
                })
            },
            transition_batches: {
                let store = store.clone();
                GroupCommit::start(move |batch| {
                    let store = store.clone();
                    async move { store.transitions(batch).await }
                })
            },
            attempt_batches: {
                let store = store.clone();
                GroupCommit::start(move |batch| {
                    let store = store.clone();
                    async move { store.record_webhook_attempts(batch).await }
                })
            },
            expected_waits: stats::ExpectedWaits::default(),
            stopping: CancellationToken::new(),
            key_uses: use_marks::UseMarks::default(),
            known_keys: known_keys::KnownKeys::default(),
            session_uses: use_marks::UseMarks::default(),
            sampler: policies::Sampler::new(config.policies.sample_seed),
            conditions: policies::CompiledConditions::default(),
            clock,
            store,
            hub,
            config,
        }
    }

    /// Now, in Unix milliseconds, by the service's clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Resolves once `duration` has passed by the service's clock: how
    /// background tasks wait for deadlines and retries.
    pub fn sleep(&self, duration: std::time::Duration) -> Sleep {
        self.clock.sleep(duration)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn hub(&self) -> &EventHub {
        &self.hub
    }

    /// Tells long-lived requests and background tasks to finish: the server
    /// is shutting down.
    pub fn begin_shutdown(&self) {
        self.stopping.cancel();
    }

    /// Cancelled once the server begins to shut down.
    pub fn stopping(&self) -> CancellationToken {
        self.stopping.clone()
    }

    /// Routes changes to the parked waits they concern (runs for the life
    /// of the server).
    pub async fn run_wait_room(self: Arc<Self>) {
        self.waits.clone().run(self.hub.clone()).await
    }

    fn to_approval(&self, record: ApprovalRecord) -> Approval {
        let data = serde_json::from_str(&record.data_json).unwrap_or_else(|error| {
            tracing::error!(id = %record.id, %error, "stored data is not JSON");
            serde_json::Value::String(record.data_json.clone())
        });
        Approval {
            url: self.config.approval_url(&record.id),
            id: record.id,
            status: record.status,
            title: record.title,
            body: record.body_html,
            data,
            action: record.action,
            agent: record.agent_name,
            approver: record.approver_email,
            group: record.group_name,
            reason: record.reason,
            decided_by: record.decided_by_email,
            decided_at: record.decided_at.map(from_ms),
            created_at: from_ms(record.created_at),
            expires_at: from_ms(record.expires_at),
            expected_decision: None,
            repeats_denial: record.repeats.map(|denial| EarlierDenial {
                id: denial.id,
                denied_at: from_ms(denial.denied_at),
                denied_by: denial.denied_by,
                reason: denial.reason,
            }),
            policy_note: record.policy_note,
        }
    }

    fn to_summary(record: ApprovalRecord) -> ApprovalSummary {
        ApprovalSummary {
            id: record.id,
            status: record.status,
            title: record.title,
            action: record.action,
            agent: record.agent_name,
            approver: record.approver_email,
            group: record.group_name,
            reason: record.reason,
            decided_by: record.decided_by_email,
            decided_at: record.decided_at.map(from_ms),
            created_at: from_ms(record.created_at),
            expires_at: from_ms(record.expires_at),
            body_bytes: record.body_bytes.max(0) as u64,
            data_bytes: record.data_bytes.max(0) as u64,
        }
    }
}

pub(crate) fn invalid(code: &'static str, detail: impl Into<String>) -> ServiceError {
    ServiceError::Invalid(ValidationError {
        code,
        detail: detail.into(),
    })
}

fn conflict_to_message(error: StoreError) -> ServiceError {
    match error {
        StoreError::Conflict(what) => ServiceError::Conflict(format!("{what} already exists")),
        other => ServiceError::Store(other),
    }
}

#[cfg(test)]
mod tests;
