//! When something's use (an API key, a session) was last written, so a busy
//! caller costs one write a minute, not one per request.

use std::collections::HashMap;
use std::sync::Mutex;

/// How often a use is written, at most.
const EVERY_MS: i64 = 60_000;
/// Past this many remembered ids the memory is dropped (a few extra
/// writes), so it cannot grow without bound.
const MAX_REMEMBERED: usize = 100_000;

#[derive(Default)]
pub(super) struct UseMarks {
    written: Mutex<HashMap<String, i64>>,
}

impl UseMarks {
    /// Whether this use should be written (and notes that it will be).
    pub(super) fn due(&self, id: &str, now: i64) -> bool {
        let Ok(mut written) = self.written.lock() else {
            return false;
        };
        match written.get(id) {
            Some(at) if now - at < EVERY_MS => false,
            _ => {
                if written.len() >= MAX_REMEMBERED {
                    written.clear();
                }
                written.insert(id.to_owned(), now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_use_is_written_at_most_once_a_minute() {
        let marks = UseMarks::default();
        assert!(marks.due("key_1", 0));
        assert!(!marks.due("key_1", 59_999));
        assert!(marks.due("key_2", 1));
        assert!(marks.due("key_1", 60_000));
    }
}
