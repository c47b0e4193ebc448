//! The outbox: webhook endpoints, queued messages, claims and attempts.

/// A webhook endpoint for an API key.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub id: String,
    pub api_key_id: String,
    pub url: String,
    /// `whsec_...`
    pub secret: String,
    pub created_at: i64,
}

/// A message queued by hand (a test event, say), not by a status change.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: String,
    pub endpoint_id: String,
    pub event_type: String,
    pub payload: String,
    pub at: i64,
}

/// A message a worker has claimed, with what it needs to deliver it.
#[derive(Debug, Clone)]
pub struct ClaimedMessage {
    pub id: String,
    pub endpoint_id: String,
    pub url: String,
    pub payload: String,
    /// Attempts made since it was (re)queued.
    pub round_attempts: i64,
    /// The endpoint's secret, then the previous one while a rotation lasts.
    pub secrets: Vec<String>,
}

/// What happens to a message after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    Delivered,
    RetryAt(i64),
    /// Retries used up.
    GiveUp,
}

/// One delivery attempt, as it is logged.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub message_id: String,
    pub endpoint_id: String,
    /// The claim the attempt was made under; a stale claim changes nothing
    /// but the log.
    pub claim_token: String,
    pub attempted_at: i64,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub response_body: Option<String>,
    pub next: NextStep,
    /// Disables the endpoint, for this reason (a 410 Gone).
    pub disable_endpoint: Option<String>,
}

/// Which messages to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub approval_id: Option<String>,
    pub endpoint_id: Option<String>,
    pub limit: i64,
}

impl AttemptRecord {
    /// The attempt in one line, for the audit log: `message msg_1: HTTP 500
    /// in 12 ms; retry at 1764400000000`.
    pub fn audit_detail(&self) -> String {
        let answer = match (self.status_code, &self.error) {
            (Some(code), _) => format!("HTTP {code}"),
            (None, Some(error)) => error.clone(),
            (None, None) => "no answer".to_owned(),
        };
        let next = match self.next {
            NextStep::Delivered => "delivered".to_owned(),
            NextStep::RetryAt(at) => format!("retry at {at}"),
            NextStep::GiveUp => "retries used up".to_owned(),
        };
        format!(
            "message {}: {answer} in {} ms; {next}",
            self.message_id, self.latency_ms
        )
    }
}
