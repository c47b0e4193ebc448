//! The event hub of one process. The store publishes an event after each
//! commit that changes an approval (on PostgreSQL it arrives from the
//! database's LISTEN/NOTIFY channel, so changes made by other instances show
//! up here too); long-polling agents, and later live inboxes and the webhook
//! worker, subscribe. A broadcast channel never blocks the publisher: a
//! subscriber that falls behind sees `Lagged` and must re-read what it cares
//! about.

use super::ApprovalRecord;
use crate::model::Status;
use std::sync::Arc;
use tokio::sync::broadcast;

/// An approval was created (status `pending`) or reached a terminal status.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalEvent {
    pub approval_id: String,
    pub status: Status,
    /// The approval as the change left it, when this process committed
    /// the change: parked waits and the inbox feed use it without reading
    /// the approval again (ten thousand waits woken at once would otherwise
    /// queue ten thousand reads, and every create one more). `None` for a
    /// change heard from another instance: whoever needs it reads it.
    pub committed: Option<Arc<ApprovalRecord>>,
}

impl ApprovalEvent {
    /// The event of a change this process just committed.
    pub fn of_committed(record: &ApprovalRecord) -> Self {
        Self {
            approval_id: record.id.clone(),
            status: record.status,
            committed: Some(Arc::new(record.clone())),
        }
    }

    /// The text form carried between instances: `"<id> <status>"`.
    pub fn to_payload(&self) -> String {
        format!("{} {}", self.approval_id, self.status.as_str())
    }

    pub fn from_payload(payload: &str) -> Option<Self> {
        let (id, status) = payload.split_once(' ')?;
        Some(Self {
            approval_id: id.to_owned(),
            status: status.parse().ok()?,
            committed: None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Approval(ApprovalEvent),
    /// A webhook message was queued by hand here (a test event, a
    /// redelivery): wakes this process's webhook worker.
    WebhookQueued,
    /// This API key (an id) was revoked: its parked waits answer now.
    KeyRevoked(String),
    /// Every session of this person (a user id) was ended: deactivation or
    /// "end sessions". Their open inboxes re-check and close.
    AccessChanged(String),
    /// Events may have been missed (the link to the other instances was lost
    /// and is back): every subscriber re-reads what it cares about.
    Resync,
}

#[derive(Clone)]
pub struct EventHub {
    sender: broadcast::Sender<Event>,
}

impl EventHub {
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity);
        Self { sender }
    }

    pub fn publish(&self, event: Event) {
        // An error only means nobody is listening right now.
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips() {
        let event = ApprovalEvent {
            approval_id: "apr_01JXYZ".into(),
            status: Status::Denied,
            committed: None,
        };
        assert_eq!(event.to_payload(), "apr_01JXYZ denied");
        assert_eq!(
            ApprovalEvent::from_payload(&event.to_payload()),
            Some(event)
        );
        assert_eq!(ApprovalEvent::from_payload("apr_1 sideways"), None);
        assert_eq!(ApprovalEvent::from_payload("nospace"), None);
    }
}
