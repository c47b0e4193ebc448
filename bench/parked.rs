//! `--parked`: many agents waiting at once. `--waits` agents (10,000 by
//! default) each park a `GET .../wait?timeout=60` on their own approval;
//! the server's resident memory is read before and with them all parked.
//! Then every approval is decided in one burst (batches of 100 through
//! `decide_many`, all sent at once, as approvers clearing a queue would),
//! and each wait's answer is timed from the moment its batch was sent, and
//! from its batch's answer (its decisions committed: the wake-up alone).
//! The burst's span runs from the first batch sent to the last answer.

use super::load::create_once;
use super::{ms, percentile, rss, NO_LIMITS};
use holdpoint::testkit::{self, Server, WaitAnswer};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

const CREATORS: usize = 64;
const BATCH: usize = 100;

pub async fn run(
    waits: usize,
    bin: &Path,
    database_url: &str,
    email: &str,
    password: &str,
    key: &str,
) {
    let server = Server::start(bin, database_url, NO_LIMITS).await;
    let client = testkit::client();
    println!("{} on {database_url}; {waits} parked waits", bin.display());
    let ids = create(&server, key, waits).await;
    let idle = rss(&server);

    let parked: Vec<(String, JoinHandle<WaitAnswer>)> = ids
        .into_iter()
        .map(|id| {
            let wait = testkit::spawn_wait(&client, &server, key, &id, 60);
            (id, wait)
        })
        .collect();
    // Until every request has reached the server and parked (a wait that
    // answered already would fail the burst below: it reads "pending").
    tokio::time::sleep(Duration::from_secs(5)).await;
    let with_waits = rss(&server);
    println!("server memory: {idle} before, {with_waits} with {waits} waits parked");

    assert!(
        parked.iter().all(|(_, wait)| !wait.is_finished()),
        "a wait answered before any decision"
    );

    let cookie = testkit::login(&client, &server, email, password).await;
    let burst = Instant::now();
    let mut batches = Vec::new();
    let mut parked = parked.into_iter().peekable();
    while parked.peek().is_some() {
        let chunk: Vec<_> = parked.by_ref().take(BATCH).collect();
        let ids: Vec<&str> = chunk.iter().map(|(id, _)| id.as_str()).collect();
        let request = client
            .post(server.url("/rpc/decide_many"))
            .header(reqwest::header::COOKIE, &cookie)
            .json(&serde_json::json!({ "ids": ids, "verdict": "approve", "reason": null }));
        let sent = Instant::now();
        let decided = tokio::spawn(async move {
            let response = request.send().await.expect("decide_many");
            assert!(
                response.status().is_success(),
                "decide_many: {}",
                response.status()
            );
            response.bytes().await.expect("body");
            Instant::now()
        });
        batches.push((sent, decided, chunk));
    }
    let (mut woken, mut after_answer) = (Vec::with_capacity(waits), Vec::with_capacity(waits));
    let mut last_answer = burst;
    for (sent, decided, chunk) in batches {
        let answered = decided.await.expect("batch");
        for (_, wait) in chunk {
            let answer = wait.await.expect("waiter");
            assert_eq!(answer.approval["status"], "approved");
            woken.push(answer.at.saturating_duration_since(sent));
            after_answer.push(answer.at.saturating_duration_since(answered));
            last_answer = last_answer.max(answer.at);
        }
    }
    woken.sort();
    after_answer.sort();
    println!(
        "burst: {waits} decided in batches of {BATCH}, all sent at once; the last wait answered {} \
         after the first batch was sent; each wait from its batch's sending: p50 {} p99 {} max {}",
        ms(last_answer - burst),
        ms(percentile(&woken, 50.0)),
        ms(percentile(&woken, 99.0)),
        ms(woken[woken.len() - 1]),
    );
    println!(
        "each wait from its batch's answer (the decisions committed): p50 {} p99 {} max {}",
        ms(percentile(&after_answer, 50.0)),
        ms(percentile(&after_answer, 99.0)),
        ms(after_answer[after_answer.len() - 1]),
    );
    println!("server memory after the burst: {}", rss(&server));
}

/// Creates `count` approvals with a few concurrent agents; their ids.
async fn create(server: &Server, key: &str, count: usize) -> Vec<String> {
    let client = testkit::client();
    let endpoint = server.url("/api/v1/approvals");
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CREATORS {
        let (client, endpoint, key, next) = (
            client.clone(),
            endpoint.clone(),
            key.to_owned(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < count {
                let (_, id) = create_once(&client, &endpoint, &key, "Parked wait").await;
                ids.extend(id);
            }
            ids
        }));
    }
    let mut ids = Vec::with_capacity(count);
    for task in tasks {
        ids.extend(task.await.expect("creator"));
    }
    ids
}
