//! A real webhook receiver for tests and the bench: an HTTP server on a free
//! port that records every delivery, answers as its path says, and can
//! verify signatures the way the Standard Webhooks specification describes
//! (written from the specification, apart from the server's signer, so the
//! two check each other).
//!
//! Paths: `/ok` answers 200; `/fail-first/{n}` answers 500 to its first `n`
//! requests, then 200; `/status/{code}` answers that code (3xx with
//! `Location: /ok`, 429 and 503 with `Retry-After: 1`); `/slow/{ms}` waits,
//! then answers 200; `/hang` never answers.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub webhook_id: String,
    pub timestamp: String,
    pub signature: String,
    pub content_type: String,
    pub body: String,
    pub at: Instant,
}

impl Received {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("webhook body is JSON")
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    /// Requests so far per path, for `/fail-first/{n}`.
    counts: Mutex<HashMap<String, usize>>,
    arrived: Notify,
}

pub struct Receiver {
    pub base_url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// A plain-HTTP receiver on a free loopback port.
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let addr = listener.local_addr().expect("receiver address");
        Self::serve(listener, format!("http://{addr}"))
    }

    /// A receiver on any listener (the TLS tests wrap a TCP listener in
    /// TLS), reached at `base_url`.
    pub fn serve<L>(listener: L, base_url: String) -> Receiver
    where
        L: axum::serve::Listener,
        L::Addr: std::fmt::Debug,
    {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/{*path}", post(receive))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            base_url,
            shared,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().expect("receiver lock").clone()
    }

    /// Waits until `done` holds for what has been received, or panics
    /// after `timeout` with what did arrive.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let arrived = self.shared.arrived.notified();
            let received = self.received();
            if done(&received) {
                return received;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                let summary: Vec<String> = received
                    .iter()
                    .map(|r| format!("{} {}", r.path, r.webhook_id))
                    .collect();
                panic!(
                    "the receiver did not get what was expected in {timeout:?}; it got {summary:?}"
                );
            }
        }
    }

    /// Waits for at least `count` requests on `path`.
    pub async fn wait_for(&self, path: &str, count: usize, timeout: Duration) -> Vec<Received> {
        let on_path = |all: &[Received]| {
            all.iter()
                .filter(|r| r.path == path)
                .cloned()
                .collect::<Vec<_>>()
        };
        let all = self
            .wait_until(timeout, |all| on_path(all).len() >= count)
            .await;
        on_path(&all)
    }
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/{path}");
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let seen_before = {
        let mut counts = shared.counts.lock().expect("receiver lock");
        let count = counts.entry(path.clone()).or_default();
        *count += 1;
        *count - 1
    };
    shared
        .received
        .lock()
        .expect("receiver lock")
        .push(Received {
            path: path.clone(),
            webhook_id: header("webhook-id"),
            timestamp: header("webhook-timestamp"),
            signature: header("webhook-signature"),
            content_type: header("content-type"),
            body: String::from_utf8_lossy(&body).into_owned(),
            at: Instant::now(),
        });
    shared.arrived.notify_waiters();
    answer(&path, seen_before).await
}

async fn answer(path: &str, seen_before: usize) -> Response {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let (kind, arg) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let number: u64 = arg.parse().unwrap_or(0);
    match kind {
        "ok" => (StatusCode::OK, "thanks").into_response(),
        "fail-first" if (seen_before as u64) < number => {
            (StatusCode::INTERNAL_SERVER_ERROR, "not yet").into_response()
        }
        "fail-first" => (StatusCode::OK, "thanks").into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_millis(number)).await;
            (StatusCode::OK, "thanks, slowly").into_response()
        }
        "hang" => std::future::pending().await,
        "status" => {
            let status = StatusCode::from_u16(number as u16).unwrap_or(StatusCode::BAD_REQUEST);
            let mut response = (status, format!("status {number}")).into_response();
            let headers = response.headers_mut();
            if status.is_redirection() {
                headers.insert("location", "/ok".parse().expect("header"));
            }
            if number == 429 || number == 503 {
                headers.insert("retry-after", "1".parse().expect("header"));
            }
            response
        }
        _ => (StatusCode::NOT_FOUND, "no such path").into_response(),
    }
}

/// Verifies a delivery as the Standard Webhooks specification says: the
/// timestamp within five minutes of now, and at least one `v1,` signature in
/// the space-separated list matching HMAC-SHA256 over
/// `"{id}.{timestamp}.{body}"` with the base64-decoded key of the `whsec_`
/// secret. Returns the body as JSON.
pub fn verify(secret: &str, received: &Received) -> Result<serde_json::Value, String> {
    let timestamp: i64 = received
        .timestamp
        .parse()
        .map_err(|_| format!("bad webhook-timestamp {:?}", received.timestamp))?;
    if (chrono::Utc::now().timestamp() - timestamp).abs() > 300 {
        return Err(format!("timestamp {timestamp} is too far from now"));
    }
    let key = STANDARD
        .decode(
            secret
                .strip_prefix("whsec_")
                .ok_or("secret without whsec_")?,
        )
        .map_err(|e| format!("secret is not base64: {e}"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|e| e.to_string())?;
    mac.update(
        format!(
            "{}.{}.{}",
            received.webhook_id, received.timestamp, received.body
        )
        .as_bytes(),
    );
    let expected = mac.finalize().into_bytes();
    let matched = received.signature.split(' ').any(|entry| {
        entry
            .strip_prefix("v1,")
            .and_then(|sig| STANDARD.decode(sig).ok())
            .is_some_and(|sig| {
                // Constant-time, as a receiver should compare.
                sig.len() == expected.len()
                    && sig
                        .iter()
                        .zip(expected.iter())
                        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                        == 0
            })
    });
    if !matched {
        return Err(format!("no signature in {:?} matches", received.signature));
    }
    serde_json::from_str(&received.body).map_err(|e| format!("body is not JSON: {e}"))
}
