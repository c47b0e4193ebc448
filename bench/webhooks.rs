//! Webhook figures (`--webhooks`), against a real receiver in this process:
//!   1. decision -> webhook received latency, p50/p99;
//!   2. sustained deliveries per second: a burst of approvals expiring
//!      together over many endpoints (expiry queues every message in one
//!      go, so the figure is the worker's, not the decision path's);
//!   3. the same while a tenth of the endpoints hang until the timeout.

use crate::{ms, percentile, Options};
use holdpoint::testkit::receiver::Receiver;
use holdpoint::testkit::{self, Server};
use serde_json::json;
use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

const ENDPOINTS: usize = 20;
const ENV: &[(&str, &str)] = &[("HOLDPOINT_WEBHOOK_ALLOW_PRIVATE", "true")];

pub async fn run(options: &Options, bin: &Path, database_url: &str, email: &str, password: &str) {
    let receiver = Receiver::start().await;
    // Keys (and endpoints) first: the CLI checks URLs against ENV.
    let (latency_key, _) =
        testkit::create_key_with_webhook(bin, database_url, ENV, "latency", &receiver.url("/ok"))
            .await;
    let mut healthy = Vec::new();
    let mut hanging = Vec::new();
    for n in 0..ENDPOINTS {
        // Every tenth endpoint never answers; each endpoint has its own path.
        let hangs = n % 10 == 9;
        let url = receiver.url(if hangs { "/hang" } else { "/ok" }) + &format!("?endpoint={n}");
        let (key, _) =
            testkit::create_key_with_webhook(bin, database_url, ENV, &format!("burst-{n}"), &url)
                .await;
        if hangs {
            hanging.push(key);
        } else {
            healthy.push(key);
        }
    }
    let env: Vec<(&str, &str)> = ENV.iter().chain(super::NO_LIMITS).copied().collect();
    let server = Server::start(bin, database_url, &env).await;
    let client = testkit::client();
    let cookie = testkit::login(&client, &server, email, password).await;

    // 1. Decision -> received.
    let mut latencies = Vec::new();
    for n in 0..options.decisions {
        let response = testkit::create_approval(
            &client,
            &server,
            &latency_key,
            &testkit::sample_request(&format!("Latency {n}")),
        )
        .await;
        let id = response
            .json::<serde_json::Value>()
            .await
            .expect("approval")["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let before = receiver.received().len();
        let decided_at = Instant::now();
        let decided = testkit::decide(&client, &server, &cookie, &id, "approve", None).await;
        assert!(decided.status().is_success(), "decide failed");
        let received = receiver
            .wait_until(Duration::from_secs(30), |all| all.len() > before)
            .await;
        latencies.push(received[before].at.saturating_duration_since(decided_at));
    }
    latencies.sort();
    println!(
        "decision -> webhook received ({} decisions): p50 {} p99 {}",
        latencies.len(),
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 99.0)),
    );

    // 2. and 3. Bursts: healthy endpoints only, then with the hanging tenth.
    let burst = options.burst;
    burst_run(
        &client,
        &server,
        &receiver,
        &healthy,
        &[],
        burst,
        "all endpoints healthy",
    )
    .await;
    burst_run(
        &client,
        &server,
        &receiver,
        &healthy,
        &hanging,
        burst,
        "a tenth of the endpoints hang",
    )
    .await;
}

/// Creates `total` approvals spread over the endpoints' keys, all expiring
/// at one moment, and times the healthy endpoints' deliveries.
async fn burst_run(
    client: &reqwest::Client,
    server: &Server,
    receiver: &Receiver,
    healthy: &[String],
    hanging: &[String],
    total: usize,
    label: &str,
) {
    // Healthy keys first: approval n goes to keys[n % len], so it is for a
    // healthy endpoint when that index is below healthy.len().
    let keys: Vec<String> = healthy.iter().chain(hanging).cloned().collect();
    let expires_in = 8 + total as u64 / 1000;
    let deadline = Instant::now() + Duration::from_secs(expires_in);
    let mut tasks = Vec::new();
    for worker in 0..32usize {
        let (client, server_url) = (client.clone(), server.base_url.clone());
        let keys = keys.clone();
        tasks.push(tokio::spawn(async move {
            for n in (worker..total).step_by(32) {
                let key = &keys[n % keys.len()];
                // The same deadline for all, to the second.
                let left = deadline.saturating_duration_since(Instant::now()).as_secs().max(1);
                let response = client
                    .post(format!("{server_url}/api/v1/approvals"))
                    .bearer_auth(key)
                    .json(&json!({"title": format!("Burst {n}"), "data": {"n": n}, "expires_in": left}))
                    .send()
                    .await
                    .expect("create");
                assert_eq!(response.status(), 201, "create failed");
            }
        }));
    }
    for task in tasks {
        task.await.expect("creator");
    }
    let healthy_messages = (0..total)
        .filter(|n| n % keys.len() < healthy.len())
        .count();
    let before: HashSet<String> = receiver
        .received()
        .iter()
        .map(|r| r.webhook_id.clone())
        .collect();
    let fresh = |all: &[testkit::receiver::Received]| {
        all.iter()
            .filter(|r| r.path == "/ok" && !before.contains(&r.webhook_id))
            .map(|r| r.at)
            .collect::<Vec<_>>()
    };
    let arrived = receiver
        .wait_until(Duration::from_secs(300), |all| {
            fresh(all).len() >= healthy_messages
        })
        .await;
    let times = fresh(&arrived);
    let first = *times.iter().min().expect("deliveries");
    let last = *times.iter().max().expect("deliveries");
    let span = last
        .saturating_duration_since(first)
        .max(Duration::from_millis(1));
    println!(
        "deliveries, {label}: {} to {} healthy endpoints in {:.2} s = {:.0}/s ({} more to {} hanging endpoints); last one {:.2} s after the deadline",
        times.len(),
        healthy.len(),
        span.as_secs_f64(),
        times.len() as f64 / span.as_secs_f64(),
        total - healthy_messages,
        hanging.len(),
        last.saturating_duration_since(deadline).as_secs_f64(),
    );
}
