//! Standard Webhooks v1 signatures (standardwebhooks.com): the secret is
//! `whsec_` + base64 of the key; the signature is `v1,` + base64 of
//! HMAC-SHA256 over `"{webhook-id}.{webhook-timestamp}.{body}"`; several
//! signatures (during a rotation) are separated by spaces.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const PREFIX: &str = "whsec_";
/// 24 random bytes (192 bits), as the reference implementations issue.
const SECRET_BYTES: usize = 24;

/// A new `whsec_...` secret.
pub fn new_secret() -> String {
    let mut key = [0u8; SECRET_BYTES];
    rand::thread_rng().fill_bytes(&mut key);
    format!("{PREFIX}{}", STANDARD.encode(key))
}

/// The key bytes of a `whsec_` secret.
pub fn secret_key(secret: &str) -> Result<Vec<u8>, String> {
    let encoded = secret
        .strip_prefix(PREFIX)
        .ok_or_else(|| "a webhook secret starts with whsec_".to_owned())?;
    STANDARD
        .decode(encoded)
        .map_err(|e| format!("the webhook secret is not base64: {e}"))
}

/// `v1,<base64 signature>` of one message with one secret.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Result<String, String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret_key(secret)?)
        .map_err(|e| format!("unusable webhook secret: {e}"))?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The `webhook-signature` header: one signature per secret, space-separated.
pub fn signature_header(
    secrets: &[&str],
    id: &str,
    timestamp: i64,
    body: &str,
) -> Result<String, String> {
    let signatures: Result<Vec<String>, String> = secrets
        .iter()
        .map(|secret| sign(secret, id, timestamp, body))
        .collect();
    Ok(signatures?.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector of the specification's reference libraries.
    const FIXTURE: &str = include_str!("../../../tests/fixtures/standard-webhooks.json");

    #[test]
    fn matches_the_standard_webhooks_test_vector() {
        let fixture: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
        let field = |name: &str| fixture[name].as_str().unwrap().to_owned();
        let signature = sign(
            &field("secret"),
            &field("webhook-id"),
            field("webhook-timestamp").parse().unwrap(),
            &field("body"),
        )
        .unwrap();
        assert_eq!(signature, field("webhook-signature"));
    }

    #[test]
    fn rotation_sends_one_signature_per_secret() {
        let (new, old) = (new_secret(), new_secret());
        let header = signature_header(&[&new, &old], "msg_1", 1_700_000_000, "{}").unwrap();
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], sign(&new, "msg_1", 1_700_000_000, "{}").unwrap());
        assert_eq!(parts[1], sign(&old, "msg_1", 1_700_000_000, "{}").unwrap());
    }

    #[test]
    fn secrets_have_the_whsec_shape() {
        let secret = new_secret();
        assert!(secret.starts_with("whsec_"));
        assert_eq!(secret_key(&secret).unwrap().len(), SECRET_BYTES);
        assert!(secret_key("C2FVsBQIhrscChlQIMV+b5sSYspob7oD").is_err());
        assert!(secret_key("whsec_not base64!").is_err());
    }
}
