//! The live inboxes' feed: one task per process turns the hub's bare
//! "approval X changed" events into inbox events, reading each changed
//! approval once and serializing it once, however many browsers are
//! connected; each connection then only filters (may this person see it?)
//! and sends the shared bytes. On PostgreSQL the hub hears every instance's
//! changes, so an approval created through instance A reaches an inbox
//! connected to instance B.
//!
//! A broadcast channel never blocks the feed: a connection that falls more
//! than the backlog behind sees `Lagged` and resyncs from a snapshot.

use crate::model::InboxEvent;
use crate::server::domain::events::{ApprovalEvent, Event};
use crate::server::domain::{ApprovalRecord, Route};
use crate::server::service::Service;
use axum::extract::ws::Utf8Bytes;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use tokio::sync::broadcast::{self, error::RecvError};

/// One change, ready to send.
#[derive(Debug)]
pub struct FeedChange {
    pub seq: i64,
    /// Whom it is routed to, for `User::may_see`.
    pub route: Route,
    /// The [`InboxEvent`] as JSON text, shared by every connection.
    pub json: Utf8Bytes,
}

#[derive(Debug, Clone)]
pub enum FeedItem {
    Change(Arc<FeedChange>),
    /// Every session of this person (a user id) was ended: their
    /// connections re-check their session at once.
    AccessChanged(String),
    /// Changes may have been missed (the hub lagged, or the link to the
    /// other instances was lost and is back): every connection re-sends its
    /// snapshot.
    Resync,
}

#[derive(Clone)]
pub struct InboxFeed {
    sender: broadcast::Sender<FeedItem>,
    /// The seq of the last change read from the store (0 before any).
    last_seq: Arc<AtomicI64>,
}

impl InboxFeed {
    /// `backlog`: how many items a connection may fall behind before it is
    /// told to resync.
    pub fn new(backlog: usize) -> Self {
        let (sender, _) = broadcast::channel(backlog.max(1));
        Self {
            sender,
            last_seq: Arc::new(AtomicI64::new(0)),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<FeedItem> {
        self.sender.subscribe()
    }

    /// Every change with a seq at or below this was read from the store
    /// before now, so a snapshot read after this call already shows it.
    pub fn last_seq(&self) -> i64 {
        self.last_seq.load(Ordering::SeqCst)
    }

    /// Runs for the life of the process.
    pub async fn run(self, service: Arc<Service>) {
        let mut events = service.hub().subscribe();
        loop {
            match events.recv().await {
                Ok(Event::Approval(event)) => self.announce(&service, event).await,
                Ok(Event::WebhookQueued | Event::KeyRevoked(_)) => {}
                Ok(Event::AccessChanged(user_id)) => self.publish(FeedItem::AccessChanged(user_id)),
                Ok(Event::Resync) | Err(RecvError::Lagged(_)) => self.publish(FeedItem::Resync),
                Err(RecvError::Closed) => return,
            }
        }
    }

    async fn announce(&self, service: &Service, event: ApprovalEvent) {
        // Numbered only once read: a seq at or below `last_seq` is always
        // in a snapshot taken afterwards.
        let seq = self.last_seq.load(Ordering::SeqCst) + 1;
        let approval_id = &event.approval_id;
        // A change committed here comes with the approval: no read. (Its
        // events are in commit order: a creation is published before the
        // create is answered, so nothing can decide the approval earlier,
        // and expiry is at least a second away.)
        let change = match event.committed {
            Some(record) => Ok(Some(Service::inbox_change_of(
                ApprovalRecord::clone(&record),
                seq,
            ))),
            None => service.inbox_change(approval_id, seq).await,
        };
        match change {
            Ok(Some((change, route))) => {
                self.last_seq.store(seq, Ordering::SeqCst);
                let event = InboxEvent::for_change(change);
                match serde_json::to_string(&event) {
                    Ok(json) => self.publish(FeedItem::Change(Arc::new(FeedChange {
                        seq,
                        route,
                        json: json.into(),
                    }))),
                    Err(error) => tracing::error!(%error, "cannot serialize an inbox event"),
                }
            }
            // Announced but gone: nothing to show.
            Ok(None) => {}
            Err(error) => {
                // Nobody may silently miss it: everyone re-reads.
                tracing::error!(%error, approval_id, "cannot read a changed approval for the inboxes");
                self.publish(FeedItem::Resync);
            }
        }
    }

    fn publish(&self, item: FeedItem) {
        // An error only means no inbox is connected right now.
        let _ = self.sender.send(item);
    }
}
