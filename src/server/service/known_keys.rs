//! API keys seen, by the hash of their secret, so that a create does not
//! read its key from the database before it writes: on SQLite that read is
//! a round trip to a connection's worker thread, about a fifth of the
//! server's work per create (perf, bench/README.md).
//!
//! Only what never changes about a key is kept (its id and name). Whether
//! the key is still live, and its default route, are read in the create's
//! own transaction, so a key revoked by any process, this one or not, is
//! refused by its next create exactly as without the cache; the refusal
//! also forgets it here.

use crate::server::domain::KeyIdentity;
use std::collections::HashMap;
use std::sync::Mutex;

/// Past this many keys the memory is dropped (a few extra reads), so it
/// cannot grow without bound.
const MAX_REMEMBERED: usize = 10_000;

#[derive(Default)]
pub(super) struct KnownKeys {
    by_hash: Mutex<HashMap<String, KeyIdentity>>,
}

impl KnownKeys {
    pub(super) fn get(&self, key_hash: &str) -> Option<KeyIdentity> {
        self.by_hash.lock().ok()?.get(key_hash).cloned()
    }

    pub(super) fn remember(&self, key_hash: String, key: KeyIdentity) {
        if let Ok(mut known) = self.by_hash.lock() {
            if known.len() >= MAX_REMEMBERED {
                known.clear();
            }
            known.insert(key_hash, key);
        }
    }

    pub(super) fn forget(&self, key_id: &str) {
        if let Ok(mut known) = self.by_hash.lock() {
            known.retain(|_, key| key.id != key_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(id: &str) -> KeyIdentity {
        KeyIdentity {
            id: id.to_owned(),
            name: format!("agent {id}"),
        }
    }

    #[test]
    fn a_key_is_found_by_its_hash_until_forgotten_by_its_id() {
        let known = KnownKeys::default();
        known.remember("hash-a".to_owned(), identity("key_a"));
        known.remember("hash-b".to_owned(), identity("key_b"));
        assert_eq!(known.get("hash-a"), Some(identity("key_a")));
        known.forget("key_a");
        assert_eq!(known.get("hash-a"), None);
        assert_eq!(known.get("hash-b"), Some(identity("key_b")));
    }

    #[test]
    fn the_memory_is_bounded() {
        let known = KnownKeys::default();
        for n in 0..=MAX_REMEMBERED {
            known.remember(format!("hash-{n}"), identity(&format!("key_{n}")));
        }
        assert!(known.by_hash.lock().unwrap().len() <= MAX_REMEMBERED);
        assert!(known.get(&format!("hash-{MAX_REMEMBERED}")).is_some());
    }
}
