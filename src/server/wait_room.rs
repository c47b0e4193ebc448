//! Where parked `/wait` calls sit. Each waits on its own approval's slot,
//! so a change wakes only the waits parked on that approval (not every
//! parked wait, each re-reading the database), and a revoked key wakes only
//! its own. It also caps how many waits one key may park at once.
//!
//! [`WaitRoom::run`] is fed by the event hub (on PostgreSQL, every
//! instance's changes); missed events wake every wait to re-read.

use crate::server::domain::events::{ApprovalEvent, Event, EventHub};
use crate::server::domain::ApprovalRecord;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

/// What a change of an approval tells the waits parked on it.
type Change = Option<Arc<ApprovalRecord>>;

/// The waits parked on one approval.
struct ApprovalSlot {
    /// Sent on every change of the approval: the approval as the change
    /// left it when committed here, else `None` (read it again).
    changed: watch::Sender<Change>,
    parked: usize,
}

/// The waits one key has parked.
struct KeySlot {
    parked: usize,
    revoked: watch::Sender<bool>,
}

#[derive(Default)]
struct Slots {
    approvals: HashMap<String, ApprovalSlot>,
    keys: HashMap<String, KeySlot>,
}

pub struct WaitRoom {
    slots: Mutex<Slots>,
    max_per_key: usize,
}

/// A key already has its most parked waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full {
    pub limit: usize,
}

/// Why a parked wait woke.
#[derive(Debug, Clone, PartialEq)]
pub enum Woke {
    /// Its approval changed, as this process committed it: the approval.
    Committed(Arc<ApprovalRecord>),
    /// Its approval may have changed: read it again.
    Changed,
    /// The key it was parked with was revoked.
    KeyRevoked,
}

/// One parked wait; leaving (dropping) it frees its place.
pub struct Parked {
    room: Arc<WaitRoom>,
    key_id: String,
    approval_id: String,
    changed: watch::Receiver<Change>,
    revoked: watch::Receiver<bool>,
}

impl Parked {
    /// Resolves at the next change of the approval, or when the key is
    /// revoked.
    pub async fn woken(&mut self) -> Woke {
        if *self.revoked.borrow() {
            return Woke::KeyRevoked;
        }
        tokio::select! {
            _ = self.changed.changed() => match self.changed.borrow_and_update().clone() {
                Some(record) => Woke::Committed(record),
                None => Woke::Changed,
            },
            _ = self.revoked.wait_for(|revoked| *revoked) => Woke::KeyRevoked,
        }
    }
}

impl Drop for Parked {
    fn drop(&mut self) {
        let mut slots = self.room.slots.lock().expect("wait room lock");
        if let Some(slot) = slots.approvals.get_mut(&self.approval_id) {
            slot.parked -= 1;
            if slot.parked == 0 {
                slots.approvals.remove(&self.approval_id);
            }
        }
        if let Some(slot) = slots.keys.get_mut(&self.key_id) {
            slot.parked -= 1;
            if slot.parked == 0 {
                slots.keys.remove(&self.key_id);
            }
        }
    }
}

impl WaitRoom {
    pub fn new(max_per_key: usize) -> Arc<Self> {
        Arc::new(Self {
            slots: Mutex::new(Slots::default()),
            max_per_key,
        })
    }

    /// Parks a wait of `key_id` on `approval_id`; call before reading the
    /// approval, so a change between the read and the wait is not missed.
    pub fn park(self: &Arc<Self>, key_id: &str, approval_id: &str) -> Result<Parked, Full> {
        let mut slots = self.slots.lock().expect("wait room lock");
        let key = slots
            .keys
            .entry(key_id.to_owned())
            .or_insert_with(|| KeySlot {
                parked: 0,
                revoked: watch::Sender::new(false),
            });
        if key.parked >= self.max_per_key {
            return Err(Full {
                limit: self.max_per_key,
            });
        }
        key.parked += 1;
        let revoked = key.revoked.subscribe();
        let approval = slots
            .approvals
            .entry(approval_id.to_owned())
            .or_insert_with(|| ApprovalSlot {
                changed: watch::Sender::new(None),
                parked: 0,
            });
        approval.parked += 1;
        let changed = approval.changed.subscribe();
        Ok(Parked {
            room: self.clone(),
            key_id: key_id.to_owned(),
            approval_id: approval_id.to_owned(),
            changed,
            revoked,
        })
    }

    /// How many waits are parked now, in all.
    pub fn parked(&self) -> usize {
        let slots = self.slots.lock().expect("wait room lock");
        slots.keys.values().map(|slot| slot.parked).sum()
    }

    fn approval_changed(&self, event: ApprovalEvent) {
        let slots = self.slots.lock().expect("wait room lock");
        if let Some(slot) = slots.approvals.get(&event.approval_id) {
            slot.changed.send_replace(event.committed);
        }
    }

    fn everything_changed(&self) {
        let slots = self.slots.lock().expect("wait room lock");
        for slot in slots.approvals.values() {
            slot.changed.send_replace(None);
        }
    }

    fn key_revoked(&self, key_id: &str) {
        let slots = self.slots.lock().expect("wait room lock");
        if let Some(slot) = slots.keys.get(key_id) {
            slot.revoked.send_replace(true);
        }
    }

    /// Routes the hub's events to the waits they concern, for the life of
    /// the process.
    pub async fn run(self: Arc<Self>, hub: EventHub) {
        let mut events = hub.subscribe();
        loop {
            match events.recv().await {
                Ok(Event::Approval(event)) => self.approval_changed(event),
                Ok(Event::KeyRevoked(key_id)) => self.key_revoked(&key_id),
                Ok(Event::WebhookQueued | Event::AccessChanged(_)) => {}
                // Missed events: every wait re-reads to be sure.
                Ok(Event::Resync) | Err(RecvError::Lagged(_)) => self.everything_changed(),
                Err(RecvError::Closed) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn woke_within(parked: &mut Parked, ms: u64) -> Option<Woke> {
        tokio::time::timeout(Duration::from_millis(ms), parked.woken())
            .await
            .ok()
    }

    fn heard_from_elsewhere(approval_id: &str) -> ApprovalEvent {
        ApprovalEvent {
            approval_id: approval_id.to_owned(),
            status: crate::model::Status::Approved,
            committed: None,
        }
    }

    #[tokio::test]
    async fn a_change_wakes_only_the_waits_on_that_approval() {
        let room = WaitRoom::new(10);
        let mut on_a = room.park("key_1", "apr_a").unwrap();
        let mut on_b = room.park("key_1", "apr_b").unwrap();
        room.approval_changed(heard_from_elsewhere("apr_a"));
        assert_eq!(woke_within(&mut on_a, 100).await, Some(Woke::Changed));
        assert_eq!(woke_within(&mut on_b, 50).await, None);
        room.everything_changed();
        assert_eq!(woke_within(&mut on_b, 100).await, Some(Woke::Changed));
    }

    #[tokio::test]
    async fn a_change_committed_here_hands_the_waits_the_approval() {
        let room = WaitRoom::new(10);
        let record = ApprovalRecord::denied_example();
        let mut first = room.park("key_1", &record.id).unwrap();
        let mut second = room.park("key_1", &record.id).unwrap();
        room.approval_changed(ApprovalEvent::of_committed(&record));
        for parked in [&mut first, &mut second] {
            assert_eq!(
                woke_within(parked, 100).await,
                Some(Woke::Committed(Arc::new(record.clone())))
            );
        }
    }

    #[tokio::test]
    async fn revoking_a_key_wakes_its_waits_only() {
        let room = WaitRoom::new(10);
        let mut mine = room.park("key_1", "apr_a").unwrap();
        let mut theirs = room.park("key_2", "apr_a").unwrap();
        room.key_revoked("key_1");
        assert_eq!(woke_within(&mut mine, 100).await, Some(Woke::KeyRevoked));
        assert_eq!(woke_within(&mut theirs, 50).await, None);
    }

    #[test]
    fn a_key_parks_at_most_its_limit_and_leaving_frees_a_place() {
        let room = WaitRoom::new(2);
        let first = room.park("key_1", "apr_a").unwrap();
        let _second = room.park("key_1", "apr_b").unwrap();
        assert_eq!(room.park("key_1", "apr_c").err(), Some(Full { limit: 2 }));
        assert!(
            room.park("key_2", "apr_c").is_ok(),
            "other keys are not affected"
        );
        drop(first);
        let _third = room.park("key_1", "apr_c").unwrap();
        assert_eq!(room.parked(), 2);
    }
}
