//! `--hostile-conditions`: what a policy condition written to do the most
//! work costs a create. For each condition of the hostile corpus
//! (testkit::hostile) as the only policy (gate, every request), and for
//! each hostile request shape (256 KiB of `data`), `ROUNDS` creates one
//! after the other, timed at the client; the same creates with no policy
//! are the baseline. Meanwhile a person's browser keeps loading the
//! sign-in page, and its latency shows whether the server kept answering.

use super::{ms, percentile, NO_LIMITS};
use holdpoint::testkit::{self, hostile, Server};
use serde_json::json;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ROUNDS: usize = 10;

pub async fn run(bin: &Path, database_url: &str, key: &str) {
    let server = Arc::new(Server::start(bin, database_url, NO_LIMITS).await);
    let client = testkit::client();
    println!("{} on {database_url}", bin.display());

    let stop = Arc::new(AtomicBool::new(false));
    let sign_in = tokio::spawn(load_sign_in(server.clone(), stop.clone()));

    let shapes = hostile::data();
    let baseline: Vec<Duration> = {
        let mut all = Vec::new();
        for (_, data) in &shapes {
            all.extend(creates(&client, &server, key, data).await);
        }
        all.sort();
        all
    };
    println!(
        "no policy: create p50 {} max {}",
        ms(percentile(&baseline, 50.0)),
        ms(*baseline.last().unwrap())
    );

    let mut worst = (Duration::ZERO, "", "");
    for (i, condition) in hostile::CONDITIONS.iter().enumerate() {
        set_only_policy(bin, database_url, condition).await;
        for (shape, data) in &shapes {
            let mut times = creates(&client, &server, key, data).await;
            times.sort();
            let p50 = percentile(&times, 50.0);
            println!(
                "condition {i:>2} on {shape}: create p50 {} max {}",
                ms(p50),
                ms(*times.last().unwrap())
            );
            if p50 > worst.0 {
                worst = (p50, condition, shape);
            }
        }
    }
    println!(
        "worst: create p50 {} ({} over the no-policy p50), `{}` on {}",
        ms(worst.0),
        ms(worst.0.saturating_sub(percentile(&baseline, 50.0))),
        worst.1,
        worst.2
    );

    stop.store(true, Ordering::Relaxed);
    let mut pages = sign_in.await.expect("sign-in load");
    pages.sort();
    println!(
        "sign-in page meanwhile: {} loads, p50 {} p99 {} max {}",
        pages.len(),
        ms(percentile(&pages, 50.0)),
        ms(percentile(&pages, 99.0)),
        ms(*pages.last().unwrap_or(&Duration::ZERO))
    );
}

/// Makes `condition` the only policy: a gate on every request.
async fn set_only_policy(bin: &Path, database_url: &str, condition: &str) {
    let run = |args: Vec<&str>| {
        let mut command = testkit::holdpoint(bin, database_url, &[]);
        command.args(args);
        command
    };
    let _ = run(vec!["policy", "delete", "hostile"]).output().await;
    let output = run(vec![
        "policy",
        "set",
        "hostile",
        "--action",
        "*",
        "--mode",
        "gate",
        "--condition",
        condition,
    ])
    .output()
    .await
    .expect("holdpoint policy set");
    assert!(
        output.status.success(),
        "{condition}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn creates(
    client: &reqwest::Client,
    server: &Server,
    key: &str,
    data: &serde_json::Value,
) -> Vec<Duration> {
    let body = json!({"title": "Send the report", "action": "report.send", "data": data});
    let mut times = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let response = testkit::create_approval(client, server, key, &body).await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        times.push(started.elapsed());
    }
    times
}

/// Loads the sign-in page, one after another, until told to stop.
async fn load_sign_in(server: Arc<Server>, stop: Arc<AtomicBool>) -> Vec<Duration> {
    let client = testkit::client();
    let mut times = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let response = client
            .get(server.url("/login"))
            .send()
            .await
            .expect("sign-in page");
        assert!(response.status().is_success());
        let _ = response.bytes().await;
        times.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    times
}
