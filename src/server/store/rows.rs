//! Rows as the queries select them, mapped by `sqlx::FromRow` for both
//! backends, and turned into the domain's types here: the one place where a
//! stored text (a status, a role) is read back, and refused if unknown.

use crate::model::{
    DeliveryStatus, ReviewState, Status, WebhookAttempt, WebhookEndpoint, WebhookMessage,
};
use crate::server::domain::{
    ApiKey, ApprovalRecord, KeyOverview, PolicyRecord, RepeatedDenial, ReviewRecord, Role, Route,
    StoredAuditEntry, User,
};

fn unknown(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unknown {what} {value:?} in the database").into())
}

#[derive(sqlx::FromRow)]
pub struct UserRow {
    id: String,
    email: String,
    name: String,
    role: String,
    active: bool,
}

impl TryFrom<UserRow> for User {
    type Error = sqlx::Error;

    fn try_from(row: UserRow) -> Result<Self, Self::Error> {
        Ok(User {
            role: Role::parse(&row.role).ok_or_else(|| unknown("role", &row.role))?,
            id: row.id,
            email: row.email,
            name: row.name,
            active: row.active,
            // Read apart (a person may be in several groups).
            group_ids: Vec::new(),
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct ApiKeyRow {
    id: String,
    name: String,
    default_approver_id: Option<String>,
    default_group_id: Option<String>,
    reads_decisions: bool,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(row: ApiKeyRow) -> Self {
        ApiKey {
            id: row.id,
            name: row.name,
            default_route: Route {
                approver_id: row.default_approver_id,
                group_id: row.default_group_id,
            },
            reads_decisions: row.reads_decisions,
        }
    }
}

/// A key with its route's names, use and pending count joined in.
#[derive(sqlx::FromRow)]
pub struct KeyOverviewRow {
    id: String,
    name: String,
    default_approver: Option<String>,
    default_group: Option<String>,
    created_at: i64,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
    pending: i64,
    webhook_url: Option<String>,
    reads_decisions: bool,
}

impl From<KeyOverviewRow> for KeyOverview {
    fn from(row: KeyOverviewRow) -> Self {
        KeyOverview {
            id: row.id,
            name: row.name,
            default_approver: row.default_approver,
            default_group: row.default_group,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
            last_used_at: row.last_used_at,
            pending: row.pending,
            webhook_url: row.webhook_url,
            reads_decisions: row.reads_decisions,
        }
    }
}

/// An approval with the names joined in (`SELECT_APPROVAL`).
#[derive(sqlx::FromRow)]
pub struct ApprovalRow {
    id: String,
    api_key_id: String,
    agent_name: String,
    status: String,
    title: String,
    body_html: String,
    data_json: String,
    body_bytes: i64,
    data_bytes: i64,
    action: Option<String>,
    approver_id: Option<String>,
    approver_email: Option<String>,
    group_id: Option<String>,
    group_name: Option<String>,
    reason: Option<String>,
    decided_by_email: Option<String>,
    decided_by_name: Option<String>,
    decided_at: Option<i64>,
    created_at: i64,
    expires_at: i64,
    repeat_of: Option<String>,
    repeat_denied_at: Option<i64>,
    repeat_denied_by: Option<String>,
    repeat_reason: Option<String>,
    policy_note: Option<String>,
}

impl TryFrom<ApprovalRow> for ApprovalRecord {
    type Error = sqlx::Error;

    fn try_from(row: ApprovalRow) -> Result<Self, Self::Error> {
        let status: Status = row
            .status
            .parse()
            .map_err(|_: String| unknown("status", &row.status))?;
        Ok(ApprovalRecord {
            id: row.id,
            api_key_id: row.api_key_id,
            agent_name: row.agent_name,
            status,
            title: row.title,
            body_html: row.body_html,
            data_json: row.data_json,
            body_bytes: row.body_bytes,
            data_bytes: row.data_bytes,
            action: row.action,
            route: Route {
                approver_id: row.approver_id,
                group_id: row.group_id,
            },
            approver_email: row.approver_email,
            group_name: row.group_name,
            reason: row.reason,
            decided_by_email: row.decided_by_email,
            decided_by_name: row.decided_by_name,
            decided_at: row.decided_at,
            created_at: row.created_at,
            expires_at: row.expires_at,
            repeats: match (row.repeat_of, row.repeat_denied_at) {
                (Some(id), Some(denied_at)) => Some(RepeatedDenial {
                    id,
                    denied_at,
                    denied_by: row.repeat_denied_by,
                    reason: row.repeat_reason,
                }),
                _ => None,
            },
            policy_note: row.policy_note,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct EndpointRow {
    id: String,
    url: String,
    previous_until: Option<i64>,
    disabled_at: Option<i64>,
    disabled_reason: Option<String>,
    last_success_at: Option<i64>,
    failure_streak: i64,
    created_at: i64,
}

impl EndpointRow {
    /// The endpoint as of `now` (a previous secret signs only until its end).
    pub fn at(self, now: i64) -> WebhookEndpoint {
        WebhookEndpoint {
            id: self.id,
            url: self.url,
            previous_secret_until: self.previous_until.filter(|until| *until > now),
            disabled_at: self.disabled_at,
            disabled_reason: self.disabled_reason,
            last_success_at: self.last_success_at,
            failure_streak: self.failure_streak,
            created_at: self.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct MessageRow {
    id: String,
    key_name: String,
    url: String,
    approval_id: Option<String>,
    event_type: String,
    status: String,
    next_attempt_at: i64,
    lease_until: Option<i64>,
    created_at: i64,
    delivered_at: Option<i64>,
}

impl MessageRow {
    /// The message as of `now` (in flight while a claim's lease runs).
    pub fn at(self, now: i64) -> Result<WebhookMessage, sqlx::Error> {
        let status =
            DeliveryStatus::parse(&self.status).ok_or_else(|| unknown("status", &self.status))?;
        Ok(WebhookMessage {
            in_flight: matches!(status, DeliveryStatus::Pending)
                && self.lease_until.is_some_and(|until| until > now),
            id: self.id,
            key_name: self.key_name,
            url: self.url,
            approval_id: self.approval_id,
            event_type: self.event_type,
            status,
            next_attempt_at: self.next_attempt_at,
            created_at: self.created_at,
            delivered_at: self.delivered_at,
            attempts: Vec::new(),
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct AttemptRow {
    pub message_id: String,
    attempted_at: i64,
    status_code: Option<i64>,
    latency_ms: i64,
    error: Option<String>,
    response_body: Option<String>,
}

impl From<AttemptRow> for WebhookAttempt {
    fn from(row: AttemptRow) -> Self {
        WebhookAttempt {
            attempted_at: row.attempted_at,
            status_code: row.status_code,
            latency_ms: row.latency_ms,
            error: row.error,
            response_body: row.response_body,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct AuditRow {
    id: i64,
    seq: Option<i64>,
    at: i64,
    kind: String,
    actor: String,
    approval_id: Option<String>,
    subject: Option<String>,
    detail: Option<String>,
    prev_hash: Option<String>,
    hash: Option<String>,
}

impl From<AuditRow> for StoredAuditEntry {
    fn from(row: AuditRow) -> Self {
        StoredAuditEntry {
            row_id: row.id,
            seq: row.seq,
            at: row.at,
            kind: row.kind,
            actor: row.actor,
            approval_id: row.approval_id,
            subject: row.subject,
            detail: row.detail,
            prev_hash: row.prev_hash,
            hash: row.hash,
        }
    }
}

/// A policy with its agent's name (`SELECT_POLICY`).
#[derive(sqlx::FromRow)]
pub struct PolicyRow {
    id: String,
    name: String,
    action_pattern: String,
    agent: Option<String>,
    agent_live: bool,
    condition: Option<String>,
    mode: String,
    sample_percent: i32,
    deny_reason: Option<String>,
    deny_repeats: bool,
    reverted_note: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<PolicyRow> for PolicyRecord {
    type Error = sqlx::Error;

    fn try_from(row: PolicyRow) -> Result<Self, Self::Error> {
        Ok(PolicyRecord {
            mode: row
                .mode
                .parse()
                .map_err(|_: String| unknown("mode", &row.mode))?,
            sample_percent: u8::try_from(row.sample_percent.clamp(0, 100)).unwrap_or(0),
            id: row.id,
            name: row.name,
            action_pattern: row.action_pattern,
            agent: row.agent,
            agent_live: row.agent_live,
            condition: row.condition,
            deny_reason: row.deny_reason,
            deny_repeats: row.deny_repeats,
            reverted_note: row.reverted_note,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A sampled review with its approval's names (`SELECT_REVIEW`).
#[derive(sqlx::FromRow)]
pub struct ReviewRow {
    approval_id: String,
    title: String,
    action: Option<String>,
    agent: Option<String>,
    policy_id: String,
    policy_name: String,
    state: String,
    reviewer: Option<String>,
    note: Option<String>,
    approved_at: i64,
    reviewed_at: Option<i64>,
    acknowledged_at: Option<i64>,
}

impl TryFrom<ReviewRow> for ReviewRecord {
    type Error = sqlx::Error;

    fn try_from(row: ReviewRow) -> Result<Self, Self::Error> {
        let state: ReviewState = row
            .state
            .parse()
            .map_err(|_: String| unknown("review state", &row.state))?;
        Ok(ReviewRecord {
            approval_id: row.approval_id,
            title: row.title,
            action: row.action,
            agent: row.agent.unwrap_or_default(),
            policy_id: row.policy_id,
            policy_name: row.policy_name,
            state,
            reviewer: row.reviewer,
            note: row.note,
            approved_at: row.approved_at,
            reviewed_at: row.reviewed_at,
            acknowledged_at: row.acknowledged_at,
        })
    }
}
