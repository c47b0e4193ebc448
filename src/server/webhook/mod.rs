//! Webhook delivery's parts, each a leaf: signing (Standard Webhooks), when
//! to retry, the SSRF guard and one attempt over HTTP(S). What a message
//! says is `domain::outcome`; the worker that drains the outbox is
//! `tasks::webhook_delivery`.

pub mod client;
pub mod guard;
pub mod schedule;
pub mod sign;

use schedule::RetrySchedule;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How webhooks are delivered; from the configuration.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub schedule: RetrySchedule,
    /// Per attempt, from connecting to the end of the answer's first 4 KiB.
    pub timeout: Duration,
    /// Allow targets on private, loopback and link-local addresses.
    pub allow_private: bool,
    /// How long the old secret still signs after a rotation.
    pub rotation_overlap: Duration,
    /// A PEM bundle of private CAs trusted beside the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Where this server listens: never a webhook target.
    pub own_address: Option<SocketAddr>,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            schedule: RetrySchedule::default(),
            timeout: Duration::from_secs(15),
            allow_private: false,
            rotation_overlap: Duration::from_secs(24 * 3600),
            ca_file: None,
            own_address: None,
        }
    }
}
