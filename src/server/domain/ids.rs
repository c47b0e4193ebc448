//! Identifiers and secrets.
//!
//! IDs carry a type prefix (`apr_`, `usr_`, `key_`) so a log line or a support
//! question is unambiguous, followed by a ULID-style body: 10 Crockford base32
//! characters of millisecond time and 16 of randomness. Sorting IDs therefore
//! sorts by creation time, which the cursor pagination relies on.

use base64::Engine;
use rand::{distributions::Alphanumeric, Rng, RngCore};
use sha2::{Digest, Sha256};

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new time-ordered ID with the given prefix, e.g. `apr_01JD3...`.
pub fn new_id(prefix: &str, now_ms: i64) -> String {
    let mut out = String::with_capacity(prefix.len() + 27);
    out.push_str(prefix);
    out.push('_');
    let time = now_ms.max(0) as u64;
    for shift in (0..10).rev() {
        out.push(CROCKFORD[((time >> (shift * 5)) & 31) as usize] as char);
    }
    let mut random = [0u8; 10];
    rand::thread_rng().fill_bytes(&mut random);
    let bits = u128::from_be_bytes({
        let mut wide = [0u8; 16];
        wide[6..].copy_from_slice(&random);
        wide
    });
    for shift in (0..16).rev() {
        out.push(CROCKFORD[((bits >> (shift * 5)) & 31) as usize] as char);
    }
    out
}

/// Whether `raw` has the shape `new_id(prefix, ..)` produces. Used to reject
/// malformed cursors and IDs early with a clear error.
pub fn is_id(prefix: &str, raw: &str) -> bool {
    raw.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|body| body.len() == 26 && body.bytes().all(|b| CROCKFORD.contains(&b)))
}

/// A new API key: `hp_` and 40 alphanumeric characters (about 238 bits).
pub fn new_api_key() -> String {
    let body: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    format!("hp_{body}")
}

/// A new session token: 32 random bytes, base64url.
pub fn new_session_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Hex SHA-256. Secrets with this much entropy (API keys, session tokens)
/// are safe to store as a fast hash: there is nothing to brute-force, and the
/// lookup stays a single indexed read per request.
pub fn sha256_hex(input: &[u8]) -> String {
    sha256_hex_of_parts(&[input])
}

/// Hex SHA-256 of `parts` one after another, without first copying them
/// into one buffer (a request's data may be 256 KiB).
pub fn sha256_hex_of_parts(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_validate() {
        let early = new_id("apr", 1_700_000_000_000);
        let late = new_id("apr", 1_700_000_000_001);
        assert!(early < late);
        assert!(is_id("apr", &early));
        assert!(!is_id("usr", &early));
        assert!(!is_id("apr", "apr_short"));
        assert!(!is_id("apr", &early.to_lowercase()));
    }

    #[test]
    fn api_keys_are_long_and_distinct() {
        let (a, b) = (new_api_key(), new_api_key());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_eq!(sha256_hex(b"abc").len(), 64);
    }
}
