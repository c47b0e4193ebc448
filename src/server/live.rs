//! The in-process event hub. The service publishes an event after each
//! commit; long-polling agents (and, later, live inboxes) subscribe.
//! A broadcast channel never blocks the publisher: a subscriber that falls
//! behind sees `Lagged` and must re-read what it cares about.

use crate::model::Status;
use tokio::sync::broadcast;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalEvent {
    pub approval_id: String,
    pub status: Status,
}

#[derive(Clone)]
pub struct LiveHub {
    sender: broadcast::Sender<ApprovalEvent>,
}

impl LiveHub {
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity);
        Self { sender }
    }

    pub fn publish(&self, event: ApprovalEvent) {
        // An error only means nobody is listening right now.
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ApprovalEvent> {
        self.sender.subscribe()
    }
}
