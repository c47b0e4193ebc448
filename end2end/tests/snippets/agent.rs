use serde_json::Value;
use std::error::Error;
use std::time::Duration;

/// Asks a person and waits for the decision: approved, denied (with a
/// reason), expired or cancelled.
pub async fn ask_and_wait(
    holdpoint: &str,
    api_key: &str,
    request: &Value,
) -> Result<Value, Box<dyn Error>> {
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{holdpoint}/api/v1/approvals"))
        .bearer_auth(api_key)
        .json(request)
        .send()
        .await?;
    if created.status() != reqwest::StatusCode::CREATED {
        return Err(format!("Holdpoint refused: {}", created.text().await?).into());
    }
    let mut approval: Value = created.json().await?;
    while approval["status"] == "pending" {
        let id = approval["id"].as_str().ok_or("no id")?;
        approval = http
            .get(format!("{holdpoint}/api/v1/approvals/{id}/wait?timeout=60"))
            .bearer_auth(api_key)
            .timeout(Duration::from_secs(90))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
    }
    Ok(approval)
}

/// In your webhook handler: the event if Holdpoint signed it; an error if
/// not (or if it is more than five minutes old).
pub fn verify_webhook(
    secret: &str,
    headers: &http::HeaderMap,
    raw_body: &[u8],
) -> Result<Value, Box<dyn Error>> {
    standardwebhooks::Webhook::new(secret)?.verify(raw_body, headers)?;
    Ok(serde_json::from_slice(raw_body)?)
}
