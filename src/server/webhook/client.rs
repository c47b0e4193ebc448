//! One delivery attempt: sign, POST, read the start of the answer. Never
//! follows redirects, never uses a proxy from the environment, and connects
//! only to addresses the guard allows.

use super::guard::{check_url, GuardedResolver};
use super::sign::signature_header;
use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How much of an answer is kept for the attempt log.
pub const RESPONSE_PREFIX: usize = 4096;

/// Kept-alive connections per host: enough for one endpoint's share of the
/// worker's concurrency, so a busy endpoint is not reconnected to per
/// message.
const MAX_IDLE_PER_HOST: usize = 16;

/// What happened when we tried.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub status_code: Option<u16>,
    pub latency: Duration,
    pub error: Option<String>,
    /// The first 4 KiB of the answer, as text.
    pub body_prefix: Option<String>,
    /// The raw `Retry-After` header, if the endpoint sent one.
    pub retry_after: Option<String>,
}

impl Delivery {
    pub fn succeeded(&self) -> bool {
        self.status_code
            .is_some_and(|code| (200..300).contains(&code))
    }

    fn failed(error: String, latency: Duration) -> Self {
        Self {
            status_code: None,
            latency,
            error: Some(error),
            body_prefix: None,
            retry_after: None,
        }
    }
}

/// The HTTP client for webhooks. One per worker: it pools connections.
pub fn build(allow_private: bool, timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver { allow_private }))
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("Holdpoint-Webhooks/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(MAX_IDLE_PER_HOST)
        .build()
        .expect("the webhook client builds")
}

/// Sends `payload` as message `id`, signed with every secret in `secrets`
/// under a fresh timestamp.
pub async fn attempt(
    client: &reqwest::Client,
    url: &str,
    id: &str,
    secrets: &[String],
    payload: &str,
    allow_private: bool,
) -> Delivery {
    let started = Instant::now();
    let url = match check_url(url, allow_private) {
        Ok(url) => url,
        Err(error) => return Delivery::failed(error, started.elapsed()),
    };
    let timestamp = chrono::Utc::now().timestamp();
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let signature = match signature_header(&secrets, id, timestamp, payload) {
        Ok(signature) => signature,
        Err(error) => return Delivery::failed(error, started.elapsed()),
    };
    let sent = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(payload.to_owned())
        .send()
        .await;
    let mut response = match sent {
        Ok(response) => response,
        Err(error) => return Delivery::failed(describe(&error), started.elapsed()),
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // Read no more than we keep: an endpoint answering with a huge body must
    // not cost us the memory or the time.
    let mut prefix = Vec::new();
    let mut error = None;
    while prefix.len() < RESPONSE_PREFIX {
        match response.chunk().await {
            Ok(Some(chunk)) => prefix.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => {
                error = Some(format!("reading the answer: {}", describe(&e)));
                break;
            }
        }
    }
    prefix.truncate(RESPONSE_PREFIX);
    let latency = started.elapsed();
    if error.is_none() && (300..400).contains(&status) {
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("nowhere");
        error = Some(format!(
            "redirect to {location} not followed: webhook URLs must answer directly"
        ));
    }
    Delivery {
        status_code: Some(status),
        latency,
        error,
        body_prefix: Some(String::from_utf8_lossy(&prefix).into_owned()),
        retry_after,
    }
}

/// An error with its causes, which is where reqwest keeps the reason (our
/// resolver's refusal, "connection refused", ...).
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out waiting for the endpoint".to_owned();
    }
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
