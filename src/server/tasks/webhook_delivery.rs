//! Drains the outbox: claims due messages, delivers them concurrently, logs
//! every attempt and schedules the next.
//!
//! Bounded twice: at most `MAX_IN_FLIGHT` attempts at once, and at most
//! `PER_ENDPOINT` of them to one endpoint, so endpoints that hang until the
//! timeout take a few slots and never all of them. Woken by the event hub
//! (a decision on any instance), by [`Event::WebhookQueued`] (a test
//! event or a redelivery here), by a finished attempt, or by the clock
//! (retries, and claims a dead instance left to lapse).

use super::until_due;
use crate::server::domain::events::{Event, EventHub};
use crate::server::domain::{AttemptRecord, ClaimedMessage, NextStep};
use crate::server::service::Service;
use crate::server::webhook::client::{self, Delivery};
use crate::server::webhook::schedule::retry_after;
use crate::server::webhook::WebhookSettings;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

const MAX_IN_FLIGHT: usize = 64;
const PER_ENDPOINT: usize = 8;
/// Look for due work at least this often (retries come due, claims lapse).
const MAX_IDLE: Duration = Duration::from_secs(1);
/// On shutdown, attempts under way get this long to finish; the rest are
/// left to their lapsing claims and tried again after the restart.
const DRAIN: Duration = Duration::from_secs(5);

pub struct Worker {
    service: Arc<Service>,
    hub: EventHub,
    stopping: CancellationToken,
    settings: WebhookSettings,
    client: reqwest::Client,
}

impl Worker {
    pub fn new(service: Arc<Service>) -> Result<Self, String> {
        let settings = service.config().webhooks.clone();
        let hub = service.hub().clone();
        let stopping = service.stopping();
        let client = client::build(&settings)?;
        Ok(Self {
            service,
            hub,
            stopping,
            settings,
            client,
        })
    }

    /// A claim outlives the longest attempt with room to spare, so it lapses
    /// only when its worker is gone.
    fn lease(&self) -> Duration {
        self.settings.timeout * 2
    }

    /// Runs until the server begins shutting down, then drains.
    pub async fn run(self: Arc<Self>) {
        if let Err(error) = self.service.recover_webhook_claims().await {
            tracing::error!(%error, "releasing stale webhook claims failed");
        }
        let mut events = self.hub.subscribe();
        let mut attempts: JoinSet<String> = JoinSet::new();
        let mut per_endpoint: HashMap<String, usize> = HashMap::new();
        loop {
            let more_due = self.claim_and_start(&mut attempts, &mut per_endpoint).await;
            // While attempts are under way, each one that ends wakes us to
            // claim again, so the next due time (a scan of the queue) is
            // only worth reading when nothing is in flight.
            let wait_ms = if more_due {
                0
            } else if attempts.is_empty() {
                self.until_next_due().await
            } else {
                MAX_IDLE.as_millis() as i64
            };
            tokio::select! {
                _ = self.stopping.cancelled() => break,
                Some(done) = attempts.join_next() => {
                    if let Ok(endpoint) = done {
                        release(&mut per_endpoint, &endpoint);
                    }
                }
                _ = wake_on_work(&mut events) => {}
                _ = until_due(&self.service, wait_ms, MAX_IDLE) => {}
            }
        }
        let _ = tokio::time::timeout(DRAIN, async {
            while attempts.join_next().await.is_some() {}
        })
        .await;
    }

    /// Claims what is due, in batches of one endpoint's share, and starts
    /// an attempt for each. True when the last batch was full (more may be
    /// due right now).
    ///
    /// While attempts are under way it claims only once a whole share of
    /// slots is free: a claim is a commit, and claiming for each slot as it
    /// frees made a burst pay one commit per delivery.
    async fn claim_and_start(
        self: &Arc<Self>,
        attempts: &mut JoinSet<String>,
        per_endpoint: &mut HashMap<String, usize>,
    ) -> bool {
        loop {
            let free = MAX_IN_FLIGHT
                .saturating_sub(attempts.len())
                .min(PER_ENDPOINT);
            if free == 0 || (free < PER_ENDPOINT && !attempts.is_empty()) {
                return false;
            }
            let busy: Vec<String> = per_endpoint
                .iter()
                .filter(|(_, count)| **count >= PER_ENDPOINT)
                .map(|(endpoint, _)| endpoint.clone())
                .collect();
            let claim = match self
                .service
                .claim_webhooks(self.lease(), free as i64, &busy)
                .await
            {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::error!(%error, "claiming webhook messages failed");
                    return false;
                }
            };
            let full = claim.messages.len() == free;
            let token = claim.token;
            for message in claim.messages {
                *per_endpoint.entry(message.endpoint_id.clone()).or_default() += 1;
                let worker = self.clone();
                let token = token.clone();
                attempts.spawn(async move {
                    let endpoint = message.endpoint_id.clone();
                    worker.deliver(message, token).await;
                    endpoint
                });
            }
            if !full {
                return false;
            }
            if attempts.len() >= MAX_IN_FLIGHT {
                return true;
            }
        }
    }

    /// How long until the next message is due, in milliseconds (zero or
    /// less: due now), at most `MAX_IDLE`.
    async fn until_next_due(&self) -> i64 {
        match self.service.next_webhook_due().await {
            Ok(Some(due)) => due - self.service.now_ms(),
            Ok(None) => MAX_IDLE.as_millis() as i64,
            Err(error) => {
                tracing::error!(%error, "reading the next webhook due time failed");
                MAX_IDLE.as_millis() as i64
            }
        }
    }

    /// One attempt, then its log entry and what comes next.
    async fn deliver(&self, message: ClaimedMessage, claim_token: String) {
        let attempted_at = self.service.now_ms();
        let delivery = client::attempt(
            &self.client,
            &self.settings,
            &message.url,
            &message.id,
            &message.secrets,
            &message.payload,
        )
        .await;
        let (next, disable_endpoint) = self.next_step(&delivery, message.round_attempts + 1);
        if !delivery.succeeded() {
            tracing::info!(
                message = %message.id,
                status = ?delivery.status_code,
                error = ?delivery.error,
                ?next,
                "webhook attempt failed"
            );
        }
        let record = AttemptRecord {
            message_id: message.id.clone(),
            endpoint_id: message.endpoint_id,
            claim_token,
            attempted_at,
            status_code: delivery.status_code.map(i64::from),
            latency_ms: delivery.latency.as_millis() as i64,
            error: delivery.error,
            response_body: delivery.body_prefix,
            next,
            disable_endpoint,
        };
        if let Err(error) = self.service.record_webhook_attempt(record).await {
            // The claim lapses and the message is tried again: at least once.
            tracing::error!(message = %message.id, %error, "logging a webhook attempt failed");
        }
    }

    /// Success, retry (when, by the schedule or the endpoint's Retry-After),
    /// or give up; and whether the endpoint asked to be disabled.
    fn next_step(&self, delivery: &Delivery, attempts_made: i64) -> (NextStep, Option<String>) {
        let now_ms = self.service.now_ms();
        let now = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default();
        if delivery.succeeded() {
            return (NextStep::Delivered, None);
        }
        if delivery.status_code == Some(410) {
            // Held, not dropped: when an admin enables the endpoint again,
            // its messages go out.
            let reason = "the endpoint answered 410 Gone".to_owned();
            return (NextStep::RetryAt(now_ms), Some(reason));
        }
        let Some(scheduled) = self.settings.schedule.next_delay(attempts_made) else {
            return (NextStep::GiveUp, None);
        };
        let asked = match delivery.status_code {
            Some(429 | 503) => delivery
                .retry_after
                .as_deref()
                .and_then(|header| retry_after(header, now)),
            _ => None,
        };
        let delay = asked.unwrap_or(scheduled);
        (NextStep::RetryAt(now_ms + delay.as_millis() as i64), None)
    }
}

fn release(per_endpoint: &mut HashMap<String, usize>, endpoint: &str) {
    if let Some(count) = per_endpoint.get_mut(endpoint) {
        *count -= 1;
        if *count == 0 {
            per_endpoint.remove(endpoint);
        }
    }
}

/// Resolves when something may have made a message due: a terminal status
/// (ours or another instance's), a queued message, or missed events.
async fn wake_on_work(events: &mut tokio::sync::broadcast::Receiver<Event>) {
    loop {
        match events.recv().await {
            Ok(Event::Approval(event)) if !event.status.is_terminal() => continue,
            Ok(_) | Err(RecvError::Lagged(_)) => return,
            Err(RecvError::Closed) => return std::future::pending().await,
        }
    }
}
