//! How many live inboxes each person has open, so one person (or one
//! stolen session) cannot hold an unbounded number of connections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Each person's open live inboxes, up to a limit.
#[derive(Clone)]
pub struct InboxSeats {
    open: Arc<Mutex<HashMap<String, usize>>>,
    max_per_person: usize,
}

impl InboxSeats {
    pub fn max_per_person(&self) -> usize {
        self.max_per_person
    }
}

/// One open inbox; dropping it frees the seat.
pub struct Seat {
    seats: InboxSeats,
    user_id: String,
}

impl InboxSeats {
    pub fn new(max_per_person: usize) -> Self {
        Self {
            open: Arc::new(Mutex::new(HashMap::new())),
            max_per_person,
        }
    }

    pub fn take(&self, user_id: &str) -> Option<Seat> {
        let mut open = self.open.lock().expect("inbox seats lock");
        let count = open.entry(user_id.to_owned()).or_default();
        if *count >= self.max_per_person {
            return None;
        }
        *count += 1;
        Some(Seat {
            seats: self.clone(),
            user_id: user_id.to_owned(),
        })
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut open = self.seats.open.lock().expect("inbox seats lock");
        if let Some(count) = open.get_mut(&self.user_id) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}
