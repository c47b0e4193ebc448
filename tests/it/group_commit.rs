//! Group commit seen from outside: many agents creating at once share
//! transactions, and still each create acknowledged is kept, through a
//! SIGKILL in the middle of the stream; a retry with the same
//! Idempotency-Key, in the same batch or after the restart, answers with
//! the first approval.

use crate::common::{ADMIN, PASSWORD};
use holdpoint::testkit::{self, Backend, Server};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Concurrent agents: enough that creates queue behind each commit.
const AGENTS: usize = 16;
/// Creates acknowledged before the kill.
const BEFORE_KILL: usize = 300;
/// The create rate and burst are lifted: this test is about load.
const ENV: &[(&str, &str)] = &[
    ("HOLDPOINT_CREATE_RATE", "100000/s"),
    ("HOLDPOINT_CREATE_BURST", "100000"),
];

/// One create, with its Idempotency-Key, at the server whose approvals
/// are at `endpoint`: the approval's id if acknowledged.
async fn create(client: &reqwest::Client, endpoint: &str, key: &str, n: usize) -> Option<String> {
    let body = testkit::sample_request(&format!("Campaign {n}"));
    let response = client
        .post(endpoint)
        .bearer_auth(key)
        .header("Idempotency-Key", format!("campaign-{n}"))
        .json(&body)
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    let approval: Value = response.json().await.ok()?;
    Some(approval["id"].as_str()?.to_owned())
}

async fn nothing_acknowledged_is_lost_to_a_sigkill(backend: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = testkit::fresh_database(backend, dir.path()).await;
    let bin = testkit::binary_path();
    testkit::create_user(&bin, &database.url, ADMIN, PASSWORD, true).await;
    let key = testkit::create_key(&bin, &database.url, "mailer", None).await;
    let mut server = Server::start(&bin, &database.url, ENV).await;
    let client = testkit::client();

    // Agents create without pause; each acknowledged create is noted.
    let acknowledged = Arc::new(Mutex::new(Vec::<(usize, String)>::new()));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut agents = Vec::new();
    for _ in 0..AGENTS {
        let (client, key) = (client.clone(), key.clone());
        let endpoint = server.url("/api/v1/approvals");
        let (acknowledged, next) = (acknowledged.clone(), next.clone());
        agents.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                match create(&client, &endpoint, &key, n).await {
                    Some(id) => acknowledged.lock().unwrap().push((n, id)),
                    None => return,
                }
            }
        }));
    }
    tokio::time::timeout(Duration::from_secs(60), async {
        while acknowledged.lock().unwrap().len() < BEFORE_KILL {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("creates were acknowledged");
    server.kill().await;
    for agent in agents {
        agent.await.expect("the agent stops at the kill");
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= BEFORE_KILL);

    let server = Server::start(&bin, &database.url, ENV).await;
    for (_, id) in &acknowledged {
        let response = client
            .get(server.url(&format!("/api/v1/approvals/{id}")))
            .bearer_auth(&key)
            .send()
            .await
            .expect("get");
        assert_eq!(response.status(), 200, "acknowledged {id} was lost");
    }
    // A retry of an acknowledged create answers with the first approval.
    let (n, id) = &acknowledged[acknowledged.len() / 2];
    let endpoint = server.url("/api/v1/approvals");
    assert_eq!(
        create(&client, &endpoint, &key, *n).await.as_ref(),
        Some(id)
    );
    // The audit chain took every create in order.
    let verified = testkit::holdpoint(&bin, &database.url, &[])
        .args(["audit", "verify"])
        .output()
        .await
        .expect("audit verify");
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
}

/// Agents retrying one Idempotency-Key all at once: one approval, and
/// every answer names it.
async fn simultaneous_retries_make_one_approval(backend: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = testkit::fresh_database(backend, dir.path()).await;
    let bin = testkit::binary_path();
    let key = testkit::create_key(&bin, &database.url, "mailer", None).await;
    let server = Server::start(&bin, &database.url, ENV).await;
    let client = testkit::client();
    let endpoint = server.url("/api/v1/approvals");
    let answers = futures_util::future::join_all(
        (0..AGENTS * 4).map(|n| create(&client, &endpoint, &key, n % 4)),
    )
    .await;
    let ids: std::collections::HashSet<_> = answers
        .into_iter()
        .map(|id| id.expect("every retry is answered"))
        .collect();
    assert_eq!(ids.len(), 4, "one approval per Idempotency-Key: {ids:?}");
    let listed: Value = client
        .get(server.url("/api/v1/approvals?limit=100"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("list JSON");
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(4));
}

on_both_backends!(
    nothing_acknowledged_is_lost_to_a_sigkill,
    simultaneous_retries_make_one_approval,
);
