//! `--live`: how fast a new approval reaches open inboxes. For N = 1, 100
//! and 1,000 WebSocket clients (real connections to `/ws`, signed in), each
//! of `--rounds` approvals is created through the API, and every client
//! notes when its `created` event arrives: the latency runs from sending
//! the create request to that arrival. Also the server's resident memory
//! before any client connects and with the N clients connected.

use super::{ms, percentile, rss, Options};
use holdpoint::model::InboxEvent;
use holdpoint::testkit::{self, inbox_client::InboxSocket, Server};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const CLIENT_COUNTS: [usize; 3] = [1, 100, 1000];

pub async fn run(
    options: &Options,
    bin: &Path,
    database_url: &str,
    email: &str,
    password: &str,
    key: &str,
) {
    let server = Server::start(bin, database_url, super::NO_LIMITS).await;
    let http = testkit::client();
    let cookie = testkit::login(&http, &server, email, password).await;
    println!(
        "{} on {database_url}; {} rounds per client count",
        bin.display(),
        options.rounds
    );
    println!("server memory before any inbox connects: {}", rss(&server));
    for clients in CLIENT_COUNTS {
        measure(options, &server, &http, &cookie, key, clients).await;
    }
}

async fn measure(
    options: &Options,
    server: &Server,
    http: &reqwest::Client,
    cookie: &str,
    key: &str,
    clients: usize,
) {
    let (arrivals, mut arrived) = mpsc::unbounded_channel::<(usize, Instant)>();
    let mut readers = Vec::new();
    for _ in 0..clients {
        let mut socket = InboxSocket::signed_in(server, cookie).await;
        assert!(matches!(socket.next_event().await, InboxEvent::Snapshot(_)));
        let arrivals = arrivals.clone();
        readers.push(tokio::spawn(async move {
            loop {
                if let InboxEvent::Created(change) = socket.next_event_unbounded().await {
                    let at = Instant::now();
                    let round = change
                        .approval
                        .title
                        .rsplit(' ')
                        .next()
                        .and_then(|n| n.parse().ok());
                    if let Some(round) = round {
                        if arrivals.send((round, at)).is_err() {
                            return;
                        }
                    }
                }
            }
        }));
    }
    let memory = rss(server);

    let mut latencies = Vec::with_capacity(clients * options.rounds);
    for round in 0..options.rounds {
        let sent = Instant::now();
        let body = testkit::sample_request(&format!("Live inbox {clients} {round}"));
        let response = testkit::create_approval(http, server, key, &body).await;
        assert_eq!(response.status(), 201, "create failed");
        let mut heard = 0;
        while heard < clients {
            let (for_round, at) = tokio::time::timeout(Duration::from_secs(30), arrived.recv())
                .await
                .expect("every client hears of the approval within 30 s")
                .expect("readers running");
            if for_round == round {
                latencies.push(at.saturating_duration_since(sent));
                heard += 1;
            }
        }
        // Rounds apart, so each measures one fan-out, not a queue.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for reader in readers {
        reader.abort();
    }
    latencies.sort();
    println!(
        "{clients:>5} clients: created -> received p50 {} p99 {} ({} deliveries); server memory with them connected: {memory}",
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 99.0)),
        latencies.len(),
    );
}
