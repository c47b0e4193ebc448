//! What a webhook says: the event types and JSON bodies of the README's
//! "Outcome webhooks".

use super::ApprovalRecord;
use crate::model::Status;
use chrono::{SecondsFormat, TimeZone, Utc};
use serde_json::{json, Value};

pub const TEST_EVENT: &str = "webhook.test";

fn rfc3339(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The event type and body announcing an approval's terminal status, or None
/// while it is still pending.
pub fn outcome(record: &ApprovalRecord) -> Option<(&'static str, String)> {
    let event_type = match record.status {
        Status::Pending => return None,
        Status::Approved | Status::Denied => "approval.decided",
        Status::Expired => "approval.expired",
        Status::Cancelled => "approval.cancelled",
    };
    let at = record.decided_at.unwrap_or(record.created_at);
    let data: Value = serde_json::from_str(&record.data_json)
        .unwrap_or_else(|_| Value::String(record.data_json.clone()));
    let body = json!({
        "type": event_type,
        "timestamp": rfc3339(at),
        "data": {
            "id": record.id,
            "status": record.status.as_str(),
            "reason": record.reason,
            "decided_by": record.decided_by_email,
            "decided_at": record.decided_at.map(rfc3339),
            "title": record.title,
            "action": record.action,
            "data": data,
        },
    });
    Some((event_type, body.to_string()))
}

/// The body of a "Send test event": the same envelope, so a receiver's
/// verification and parsing code is exercised as it will be for real.
pub fn test_event(key_name: &str, at: i64) -> String {
    json!({
        "type": TEST_EVENT,
        "timestamp": rfc3339(at),
        "data": {
            "message": "A test event from Holdpoint: your endpoint receives and verifies webhooks.",
            "api_key": key_name,
        },
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_denial_carries_its_reason_and_data() {
        let record = ApprovalRecord::denied_example();
        let (event_type, body) = outcome(&record).unwrap();
        assert_eq!(event_type, "approval.decided");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["type"], "approval.decided");
        assert_eq!(body["timestamp"], "2023-11-14T22:13:20.500Z");
        assert_eq!(body["data"]["status"], "denied");
        assert_eq!(body["data"]["reason"], "Duplicate request");
        assert_eq!(body["data"]["decided_by"], "ana@example.com");
        assert_eq!(body["data"]["data"]["amount"], 120);
        let pending = ApprovalRecord {
            status: Status::Pending,
            ..record
        };
        assert!(outcome(&pending).is_none());
    }
}
