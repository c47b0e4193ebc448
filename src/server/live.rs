//! The in-process event hub. The service publishes an event after each
//! commit; long-polling agents (and, later, live inboxes) subscribe.
//! A broadcast channel never blocks the publisher: a subscriber that falls
//! behind sees `Lagged` and must re-read what it cares about.

use crate::model::Status;
use tokio::sync::{broadcast, watch};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalEvent {
    pub approval_id: String,
    pub status: Status,
}

#[derive(Clone)]
pub struct LiveHub {
    sender: broadcast::Sender<ApprovalEvent>,
    /// Flips to true when the server begins to shut down, so long-lived
    /// subscribers (long-polls) answer now instead of holding shutdown up.
    closing: watch::Sender<bool>,
}

impl LiveHub {
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity);
        let (closing, _) = watch::channel(false);
        Self { sender, closing }
    }

    pub fn begin_shutdown(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves once shutdown has begun.
    pub async fn closed(&self) {
        let mut closing = self.closing.subscribe();
        // An error means the hub is gone, which is a shutdown too.
        let _ = closing.wait_for(|closing| *closing).await;
    }

    pub fn publish(&self, event: ApprovalEvent) {
        // An error only means nobody is listening right now.
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ApprovalEvent> {
        self.sender.subscribe()
    }
}
