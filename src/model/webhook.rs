//! Webhook endpoints, messages and delivery attempts, as admins (and, for
//! one approval's messages, approvers) see them. Times are Unix milliseconds.

use serde::{Deserialize, Serialize};

/// An API key and its webhook endpoint, if it has one. A revoked key is
/// listed while it has an endpoint: its pending approvals can still be
/// decided, and their outcomes still go out there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyWebhook {
    pub key_id: String,
    pub key_name: String,
    /// When the key was revoked, if it was.
    pub revoked_at: Option<i64>,
    pub endpoint: Option<WebhookEndpoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    /// Set while the previous secret is still signed with (a rotation).
    pub previous_secret_until: Option<i64>,
    pub disabled_at: Option<i64>,
    pub disabled_reason: Option<String>,
    pub last_success_at: Option<i64>,
    /// Failed attempts since the last success.
    pub failure_streak: i64,
    pub created_at: i64,
}

impl WebhookEndpoint {
    /// "healthy", "failing" or "disabled", for a badge.
    pub fn health(&self) -> &'static str {
        if self.disabled_at.is_some() {
            "disabled"
        } else if self.failure_streak > 0 {
            "failing"
        } else {
            "healthy"
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or being attempted right now).
    Pending,
    Delivered,
    /// Every retry failed; an admin can redeliver it.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookMessage {
    /// The `webhook-id` header, the same on every attempt.
    pub id: String,
    pub key_name: String,
    pub url: String,
    pub approval_id: Option<String>,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub next_attempt_at: i64,
    /// An attempt is under way right now.
    pub in_flight: bool,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
    /// Oldest first.
    pub attempts: Vec<WebhookAttempt>,
}

/// What an approver is told of an approval's outcome webhook: whether the
/// agent has it, and how many tries it took. Where it goes (a URL may hold a
/// token) and what the receiver answered are for admins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliverySummary {
    pub status: DeliveryStatus,
    pub attempts: usize,
    pub delivered_at: Option<i64>,
}

impl DeliverySummary {
    pub fn of(message: &WebhookMessage) -> Self {
        Self {
            status: message.status,
            attempts: message.attempts.len(),
            delivered_at: message.delivered_at,
        }
    }

    /// "delivered", "retrying", "queued" or "failed".
    pub fn label(&self) -> &'static str {
        match (self.status, self.attempts) {
            (DeliveryStatus::Pending, 0) => "queued",
            (DeliveryStatus::Pending, _) => "retrying",
            (status, _) => status.as_str(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookAttempt {
    pub attempted_at: i64,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
    /// The first 4 KiB of the answer.
    pub response_body: Option<String>,
}

impl WebhookAttempt {
    pub fn succeeded(&self) -> bool {
        self.status_code
            .is_some_and(|code| (200..300).contains(&code))
    }
}
