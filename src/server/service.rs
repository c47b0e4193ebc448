//! The domain operations. Handlers (REST and server functions) authenticate
//! the caller and call these; each change is one store transaction, which
//! the store announces on the event hub once it has committed.

use crate::model::{
    refuse_deceptive, ActionKind, Approval, ApprovalChange, ApprovalPage, ApprovalSummary,
    HistoryPage, InboxData, Status, Title, ValidationError, Verdict,
};
use crate::server::config::Config;
use crate::server::ids;
use crate::server::live::LiveHub;
use crate::server::password::PasswordChecks;
use crate::server::rate_limit::RateLimiter;
use crate::server::sanitize::sanitize_preview;
use crate::server::signin_throttle::SigninThrottle;
use crate::server::store::{
    ApiKey, ApprovalFilter, ApprovalRecord, FirstUser, InsertOutcome, NewApiKey, NewApproval,
    NewUser, Order, Role, Store, StoreError, Transition, TransitionOutcome, User,
};
use crate::server::wait_room::{WaitRoom, Woke};
use chrono::{DateTime, TimeZone, Utc};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Invalid(ValidationError),
    #[error("no active approver has the email {0:?}")]
    UnknownApprover(String),
    #[error("no one has the email {0:?}")]
    UnknownUser(String),
    #[error("this API key was revoked while the request waited")]
    KeyRevoked,
    #[error("this Idempotency-Key was already used with a different request body")]
    IdempotencyMismatch,
    #[error("no such approval")]
    NotFound,
    #[error("{}", already_decided_detail(.0))]
    AlreadyDecided(Box<Approval>),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    /// Too many requests of one kind from one caller.
    #[error("{detail}")]
    RateLimited {
        detail: String,
        retry_after_secs: u64,
    },
    /// The server is at capacity for this kind of work right now.
    #[error("the server is busy checking other sign-ins: try again in a moment")]
    Busy { retry_after_secs: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn already_decided_detail(approval: &Approval) -> String {
    let when = approval
        .decided_at
        .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default();
    match (approval.status, &approval.decided_by) {
        (Status::Approved | Status::Denied, Some(who)) => {
            format!("already {} by {who} at {when}", approval.status)
        }
        (Status::Cancelled, _) => format!("already cancelled by the agent at {when}"),
        (status, _) => format!("already {status} at {when}"),
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// How long a setup link works.
const SETUP_LINK_HOURS: i64 = 24;

/// The most pending approvals an inbox shows at once, oldest first.
pub const INBOX_LIMIT: i64 = 500;

/// A validated create request, before the approver is looked up.
#[derive(Debug, Clone)]
pub struct CreateApproval {
    pub title: Title,
    pub body_html: String,
    pub data: serde_json::Map<String, serde_json::Value>,
    pub action: Option<ActionKind>,
    pub approver_email: Option<String>,
    pub expires_in: Option<Duration>,
}

pub struct Service {
    store: Arc<dyn Store>,
    hub: LiveHub,
    config: Config,
    signin_throttle: SigninThrottle,
    password_checks: PasswordChecks,
    waits: Arc<WaitRoom>,
    /// Per API key: how fast it may create approvals.
    creates: RateLimiter,
}

pub(crate) fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

impl Service {
    pub fn new(store: Arc<dyn Store>, hub: LiveHub, config: Config) -> Self {
        Self {
            signin_throttle: SigninThrottle::new(config.signin_address_limit),
            password_checks: PasswordChecks::for_this_machine(),
            waits: WaitRoom::new(config.max_waits_per_key),
            creates: RateLimiter::new(config.create_rate),
            store,
            hub,
            config,
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn hub(&self) -> &LiveHub {
        &self.hub
    }

    /// Tells long-lived requests to finish: the server is shutting down.
    pub fn begin_shutdown(&self) {
        self.hub.begin_shutdown();
    }

    pub fn signin_throttle(&self) -> &SigninThrottle {
        &self.signin_throttle
    }

    pub fn password_checks(&self) -> &PasswordChecks {
        &self.password_checks
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
            reason: record.reason,
            decided_by: record.decided_by_email,
            decided_at: record.decided_at.map(from_ms),
            created_at: from_ms(record.created_at),
            expires_at: from_ms(record.expires_at),
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
            reason: record.reason,
            decided_by: record.decided_by_email,
            decided_at: record.decided_at.map(from_ms),
            created_at: from_ms(record.created_at),
            expires_at: from_ms(record.expires_at),
            body_bytes: record.body_bytes.max(0) as u64,
            data_bytes: record.data_bytes.max(0) as u64,
        }
    }

    // ----- accounts ------------------------------------------------------

    pub async fn create_user(
        &self,
        email: &str,
        name: Option<&str>,
        password: &str,
        role: Role,
    ) -> ServiceResult<User> {
        let user = new_user(email, name, password, role).await?;
        self.store
            .create_user(user)
            .await
            .map_err(conflict_to_message)
    }

    /// Switches a person off (their sessions end at once, and their open
    /// inboxes close within a second) or on again.
    pub async fn set_user_active(&self, email: &str, active: bool) -> ServiceResult<User> {
        let email = normalize_email(email);
        let user = self
            .store
            .set_user_active(&email, active, now_ms())
            .await
            .map_err(|error| match error {
                StoreError::Conflict(why) => ServiceError::Conflict(why),
                other => other.into(),
            })?
            .ok_or_else(|| ServiceError::UnknownUser(email.clone()))?;
        Ok(user)
    }

    /// Ends every session of a person ("sign out everywhere"); returns how
    /// many there were.
    pub async fn end_sessions(&self, email: &str) -> ServiceResult<u64> {
        let email = normalize_email(email);
        self.store
            .end_sessions(&email, now_ms())
            .await?
            .ok_or(ServiceError::UnknownUser(email))
    }

    /// API keys revoked after `since` (a value this returned before): (key
    /// id, the new `since`).
    pub async fn keys_revoked_since(&self, since: i64) -> ServiceResult<Vec<(String, i64)>> {
        Ok(self.store.keys_revoked_since(since).await?)
    }

    /// People whose sessions were ended after `since` (a value this
    /// returned before): (user id, the new `since`).
    pub async fn sessions_ended_since(&self, since: i64) -> ServiceResult<Vec<(String, i64)>> {
        Ok(self.store.sessions_ended_since(since).await?)
    }

    /// With no accounts yet: a one-time token for a setup link that creates
    /// the first admin from the browser (valid for a day, on every
    /// instance). None once an account exists.
    pub async fn open_first_start_setup(&self) -> ServiceResult<Option<String>> {
        if self.store.has_users().await? {
            return Ok(None);
        }
        let token = ids::new_session_token();
        let expires_at = now_ms() + SETUP_LINK_HOURS * 3_600_000;
        let kept = self
            .store
            .create_setup_token(&ids::sha256_hex(token.as_bytes()), expires_at)
            .await?;
        Ok(kept.then_some(token))
    }

    /// The address of the setup page for `token`.
    pub fn setup_link(&self, token: &str) -> String {
        format!("{}/setup?token={token}", self.config.public_url)
    }

    /// Creates the first admin through a setup link. The token works once,
    /// and only while there is no account at all.
    pub async fn setup_first_admin(
        &self,
        token: &str,
        email: &str,
        name: Option<&str>,
        password: &str,
    ) -> ServiceResult<User> {
        let invalid_link = || {
            ServiceError::Forbidden(
                "this setup link is not valid (used, expired or mistyped): get a new one with \
                 `holdpoint admin setup-link`, or use `holdpoint admin create-user`"
                    .to_owned(),
            )
        };
        let token_hash = ids::sha256_hex(token.as_bytes());
        // Checked before the (slow, on purpose) password hashing, so a
        // made-up token costs the server nothing.
        if !self.store.setup_token_live(&token_hash, now_ms()).await? {
            return Err(invalid_link());
        }
        let user = new_user(email, name, password, Role::Admin).await?;
        match self
            .store
            .create_first_user(user, &token_hash, now_ms())
            .await?
        {
            FirstUser::Created(user) => Ok(user),
            FirstUser::InvalidToken => Err(invalid_link()),
            FirstUser::AlreadySetUp => Err(ServiceError::Conflict(
                "Holdpoint is already set up: sign in instead".to_owned(),
            )),
        }
    }

    /// Creates an API key, with a webhook endpoint when a URL is given;
    /// returns it, its secret (never stored) and the endpoint's signing
    /// secret.
    pub async fn create_api_key(
        &self,
        name: &str,
        default_approver_email: Option<&str>,
        webhook_url: Option<&str>,
    ) -> ServiceResult<(ApiKey, String, Option<String>)> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(invalid(
                "invalid_name",
                "a key name is 1-100 characters on one line",
            ));
        }
        refuse_deceptive(name, "the key name", "invalid_name").map_err(ServiceError::Invalid)?;
        let default_approver_id = match default_approver_email {
            Some(email) => Some(self.approver_id(email).await?),
            None => None,
        };
        let key_id = ids::new_id("key", now_ms());
        let webhook = match webhook_url {
            Some(url) => Some(self.new_endpoint(&key_id, url).await?),
            None => None,
        };
        let webhook_secret = webhook.as_ref().map(|endpoint| endpoint.secret.clone());
        let secret = ids::new_api_key();
        let key = self
            .store
            .create_api_key(NewApiKey {
                id: key_id,
                name: name.to_owned(),
                key_hash: ids::sha256_hex(secret.as_bytes()),
                default_approver_id,
                created_at: now_ms(),
                webhook,
            })
            .await
            .map_err(conflict_to_message)?;
        Ok((key, secret, webhook_secret))
    }

    pub async fn revoke_api_key(&self, name: &str) -> ServiceResult<bool> {
        Ok(self.store.revoke_api_key(name, now_ms()).await?)
    }

    /// The key behind a bearer secret, if it exists and is not revoked.
    pub async fn authenticate_key(&self, secret: &str) -> ServiceResult<Option<ApiKey>> {
        Ok(self
            .store
            .api_key_by_hash(&ids::sha256_hex(secret.as_bytes()))
            .await?)
    }

    async fn approver_id(&self, email: &str) -> ServiceResult<String> {
        let normalized = normalize_email(email);
        if !plausible_email(&normalized) {
            return Err(ServiceError::UnknownApprover(email.to_owned()));
        }
        match self.store.user_by_email(&normalized).await? {
            Some((user, _)) if user.active => Ok(user.id),
            _ => Err(ServiceError::UnknownApprover(email.to_owned())),
        }
    }

    // ----- the agent's side ----------------------------------------------

    /// Creates an approval. With an idempotency key (and the hash of the
    /// request it came with), a retry returns the first approval; the bool
    /// says whether this was such a replay.
    pub async fn create(
        &self,
        key: &ApiKey,
        request: CreateApproval,
        idempotency: Option<(String, String)>,
    ) -> ServiceResult<(Approval, bool)> {
        self.creates
            .take(&key.id)
            .map_err(|retry_after_secs| ServiceError::RateLimited {
                detail: format!(
                    "this API key is creating approvals faster than {}/s (bursts of {}): \
                     slow down",
                    self.config.create_rate.per_second, self.config.create_rate.burst
                ),
                retry_after_secs,
            })?;
        let approver_id = match &request.approver_email {
            Some(email) => Some(self.approver_id(email).await?),
            None => key.default_approver_id.clone(),
        };
        let created_at = now_ms();
        let expires_in = request.expires_in.unwrap_or(self.config.default_expiry);
        let data_json = serde_json::Value::Object(request.data).to_string();
        let new = NewApproval {
            id: ids::new_id("apr", created_at),
            api_key_id: key.id.clone(),
            title: request.title.as_str().to_owned(),
            body_html: sanitize_preview(&request.body_html),
            data_json,
            action: request.action.map(|a| a.as_str().to_owned()),
            approver_id,
            created_at,
            expires_at: created_at.saturating_add(expires_in.as_millis() as i64),
            idempotency: idempotency.clone(),
        };
        match self.store.insert_approval(new).await? {
            InsertOutcome::Created(record) => Ok((self.to_approval(record), false)),
            InsertOutcome::Replayed {
                existing,
                request_hash,
            } => {
                let same_request = idempotency.is_some_and(|(_, hash)| hash == request_hash);
                if same_request {
                    Ok((self.to_approval(existing), true))
                } else {
                    Err(ServiceError::IdempotencyMismatch)
                }
            }
        }
    }

    /// The stored approval with this id, if `id` has the shape of one (a
    /// malformed id is not looked up: it cannot exist, and a NUL byte is
    /// an error to PostgreSQL, not a miss).
    async fn stored_approval(&self, id: &str) -> ServiceResult<Option<ApprovalRecord>> {
        if !ids::is_id("apr", id) {
            return Ok(None);
        }
        Ok(self.store.approval(id).await?)
    }

    async fn record_for_key(&self, key: &ApiKey, id: &str) -> ServiceResult<ApprovalRecord> {
        match self.stored_approval(id).await? {
            // Another key's approval is indistinguishable from a missing one.
            Some(record) if record.api_key_id == key.id => Ok(record),
            _ => Err(ServiceError::NotFound),
        }
    }

    pub async fn approval_for_key(&self, key: &ApiKey, id: &str) -> ServiceResult<Approval> {
        Ok(self.to_approval(self.record_for_key(key, id).await?))
    }

    /// Waits until the approval leaves `pending` or `timeout` passes, woken
    /// by changes of this approval only, rather than by polling the
    /// database. A key may park at most the configured number of waits.
    pub async fn wait_for_key(
        &self,
        key: &ApiKey,
        id: &str,
        timeout: Duration,
    ) -> ServiceResult<Approval> {
        // Park before reading, so a decision between the two is not missed.
        let mut parked =
            self.waits
                .park(&key.id, id)
                .map_err(|full| ServiceError::RateLimited {
                    detail: format!(
                        "this API key already has {} waits parked: finish some, or use a webhook",
                        full.limit
                    ),
                    retry_after_secs: 1,
                })?;
        let mut record = self.record_for_key(key, id).await?;
        let deadline = tokio::time::Instant::now() + timeout;
        while record.status == Status::Pending {
            tokio::select! {
                // Shutting down: answer with the state as it is; the agent
                // polls again (on another instance, or after the restart).
                _ = self.hub.closed() => break,
                _ = tokio::time::sleep_until(deadline) => break,
                woke = parked.woken() => match woke {
                    Woke::Changed => record = self.record_for_key(key, id).await?,
                    // Revoked while waiting: the agent is told at once.
                    Woke::KeyRevoked => return Err(ServiceError::KeyRevoked),
                },
            }
        }
        Ok(self.to_approval(record))
    }

    pub async fn list_for_key(
        &self,
        key: &ApiKey,
        status: Option<Status>,
        cursor: Option<String>,
        limit: i64,
    ) -> ServiceResult<ApprovalPage> {
        let mut filter = ApprovalFilter::new(Order::NewestFirst, limit + 1);
        filter.api_key_id = Some(key.id.clone());
        filter.statuses = status.into_iter().collect();
        filter.after = cursor;
        self.page(filter, limit).await
    }

    /// Fetches one more than `limit` to learn whether a next page exists.
    async fn page(&self, filter: ApprovalFilter, limit: i64) -> ServiceResult<ApprovalPage> {
        let (records, next_cursor) = self.records_page(filter, limit).await?;
        Ok(ApprovalPage {
            items: records.into_iter().map(|r| self.to_approval(r)).collect(),
            next_cursor,
        })
    }

    /// The records of one page and the cursor of the next, if there is one.
    async fn records_page(
        &self,
        filter: ApprovalFilter,
        limit: i64,
    ) -> ServiceResult<(Vec<ApprovalRecord>, Option<String>)> {
        let mut records = self.store.approvals(&filter).await?;
        let next_cursor = if records.len() as i64 > limit {
            records.truncate(limit as usize);
            records.last().map(|r| r.id.clone())
        } else {
            None
        };
        Ok((records, next_cursor))
    }

    pub async fn cancel(&self, key: &ApiKey, id: &str) -> ServiceResult<Approval> {
        self.record_for_key(key, id).await?;
        let transition = Transition {
            status: Status::Cancelled,
            reason: None,
            decided_by: None,
            actor: format!("key:{}", key.id),
            at: now_ms(),
        };
        self.apply(id, &transition).await
    }

    async fn apply(&self, id: &str, transition: &Transition) -> ServiceResult<Approval> {
        match self.store.transition(id, transition).await? {
            TransitionOutcome::Applied(record) => Ok(self.to_approval(record)),
            TransitionOutcome::AlreadyDecided(record) => Err(ServiceError::AlreadyDecided(
                Box::new(self.to_approval(record)),
            )),
            TransitionOutcome::NotFound => Err(ServiceError::NotFound),
        }
    }

    // ----- the approver's side -------------------------------------------

    fn visibility(user: &User) -> Option<String> {
        match user.role {
            Role::Admin => None,
            Role::Approver => Some(user.id.clone()),
        }
    }

    pub async fn approval_for_user(&self, user: &User, id: &str) -> ServiceResult<Approval> {
        match self.stored_approval(id).await? {
            Some(record) if can_see(user, &record) => Ok(self.to_approval(record)),
            _ => Err(ServiceError::NotFound),
        }
    }

    /// Pending approvals this person may decide, oldest first, without
    /// their previews and data (the card on screen loads its own).
    pub async fn inbox(&self, user: &User, limit: i64) -> ServiceResult<Vec<ApprovalSummary>> {
        let mut filter = ApprovalFilter::new(Order::OldestFirst, limit);
        filter.statuses = vec![Status::Pending];
        filter.visible_to = Self::visibility(user);
        filter.with_content = false;
        let records = self.store.approvals(&filter).await?;
        Ok(records.into_iter().map(Self::to_summary).collect())
    }

    /// What the inbox page and a live inbox's snapshot show: everything
    /// pending for this person and when they (or anyone they can see) last
    /// decided.
    pub async fn inbox_data(&self, user: &User) -> ServiceResult<InboxData> {
        let approvals = self.inbox(user, INBOX_LIMIT).await?;
        let mut latest = Self::decided_filter(user, 1);
        latest.with_content = false;
        let latest = self.store.approvals(&latest).await?;
        Ok(InboxData {
            approvals,
            last_decided_at: latest.first().and_then(|a| a.decided_at).map(from_ms),
            viewer_email: user.email.clone(),
            now_ms: now_ms(),
            shown: None,
        })
    }

    /// An approval as live inboxes are told of it after a change: the
    /// change itself, and whom it is routed to (an approver's id) so each
    /// connection can tell whether its person may see it.
    pub async fn live_change(
        &self,
        id: &str,
        seq: i64,
    ) -> ServiceResult<Option<(ApprovalChange, Option<String>)>> {
        Ok(self.store.approval(id).await?.map(|record| {
            let approver_id = record.approver_id.clone();
            let decided_by_name = record.decided_by_name.clone();
            let change = ApprovalChange {
                seq,
                approval: Self::to_summary(record),
                decided_by_name,
            };
            (change, approver_id)
        }))
    }

    /// Decided approvals this person may see, newest first, without their
    /// previews and data.
    pub async fn history(
        &self,
        user: &User,
        text_contains: Option<String>,
        cursor: Option<String>,
        limit: i64,
    ) -> ServiceResult<HistoryPage> {
        let mut filter = Self::decided_filter(user, limit + 1);
        filter.text_contains = text_contains;
        filter.after = cursor;
        filter.with_content = false;
        let (records, next_cursor) = self.records_page(filter, limit).await?;
        Ok(HistoryPage {
            items: records.into_iter().map(Self::to_summary).collect(),
            next_cursor,
        })
    }

    /// Decided approvals this person may see, newest first.
    fn decided_filter(user: &User, limit: i64) -> ApprovalFilter {
        let mut filter = ApprovalFilter::new(Order::NewestFirst, limit);
        filter.statuses = Status::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        filter.visible_to = Self::visibility(user);
        filter
    }

    pub async fn decide(&self, user: &User, id: &str, verdict: Verdict) -> ServiceResult<Approval> {
        self.approval_for_user(user, id).await?;
        let transition = Transition {
            status: verdict.status(),
            reason: verdict.reason().map(str::to_owned),
            decided_by: Some(user.id.clone()),
            actor: format!("user:{}", user.id),
            at: now_ms(),
        };
        self.apply(id, &transition).await
    }

    // ----- time ------------------------------------------------------------

    /// Expires every due approval; returns how many.
    pub async fn expire_due(&self) -> ServiceResult<usize> {
        Ok(self.store.expire_due(now_ms()).await?.len())
    }

    pub async fn next_expiry(&self) -> ServiceResult<Option<i64>> {
        Ok(self.store.next_expiry().await?)
    }
}

fn can_see(user: &User, record: &ApprovalRecord) -> bool {
    may_see(user, record.approver_id.as_deref())
}

/// Admins see every approval; approvers those routed to them or to nobody
/// in particular.
pub fn may_see(user: &User, approver_id: Option<&str>) -> bool {
    user.role == Role::Admin || approver_id.is_none_or(|id| id == user.id)
}

/// Whether a (normalized) email could be an account's: something@something,
/// on one line, of a sane length. Anything else is refused before it
/// reaches the database.
pub fn plausible_email(email: &str) -> bool {
    email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
}

/// Emails are stored, and looked up, in this form: the stores compare them
/// exactly, so every way in (accounts, sign-in, routing) must agree on it.
pub fn normalize_email(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// Validates a new account and hashes its password.
async fn new_user(
    email: &str,
    name: Option<&str>,
    password: &str,
    role: Role,
) -> ServiceResult<NewUser> {
    let email = normalize_email(email);
    if !plausible_email(&email) {
        return Err(invalid(
            "invalid_email",
            format!("{email:?} is not an email address"),
        ));
    }
    if password.chars().count() < 8 {
        return Err(invalid(
            "weak_password",
            "the password must have at least 8 characters",
        ));
    }
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| email.split('@').next().unwrap_or_default())
        .to_owned();
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(invalid(
            "invalid_name",
            "a name is at most 100 characters on one line",
        ));
    }
    refuse_deceptive(&name, "the name", "invalid_name").map_err(ServiceError::Invalid)?;
    refuse_deceptive(&email, "the email", "invalid_email").map_err(ServiceError::Invalid)?;
    Ok(NewUser {
        id: ids::new_id("usr", now_ms()),
        password_hash: crate::server::password::hash_password(password).await,
        email,
        name,
        role,
        created_at: now_ms(),
    })
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
