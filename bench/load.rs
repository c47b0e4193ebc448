//! Load of agents creating approvals: as fast as N agents can (a closed
//! loop), or at a fixed rate whatever the answers' pace (an open loop, the
//! latency an agent sees at that rate).

use holdpoint::testkit;
use serde_json::Value;
use std::time::{Duration, Instant};

/// What a load run measured.
pub struct Load {
    pub latencies: Vec<Duration>,
    /// The `id` of each answer that had one.
    pub ids: Vec<String>,
    pub elapsed: Duration,
}

impl Load {
    /// The figures of a load that began at `started` and has just ended.
    fn finished(mut latencies: Vec<Duration>, ids: Vec<String>, started: Instant) -> Self {
        latencies.sort();
        Self {
            latencies,
            ids,
            elapsed: started.elapsed(),
        }
    }

    pub fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// `clients` agents each POST a create request to their endpoint (spread
/// over `endpoints`) in a loop for `seconds`; every answer must be 201.
pub async fn create_load(endpoints: &[String], key: &str, clients: usize, seconds: u64) -> Load {
    let client = testkit::client();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..clients {
        let endpoint = endpoints[worker % endpoints.len()].clone();
        let (client, key) = (client.clone(), key.to_owned());
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut ids) = (Vec::new(), Vec::new());
            let mut n = 0;
            while Instant::now() < deadline {
                let title = format!("Bench {worker}-{n}");
                let (took, id) = create_once(&client, &endpoint, &key, &title).await;
                latencies.push(took);
                ids.extend(id);
                n += 1;
            }
            (latencies, ids)
        }));
    }
    let (mut latencies, mut ids) = (Vec::new(), Vec::new());
    for task in tasks {
        let (took, created) = task.await.expect("agent");
        latencies.extend(took);
        ids.extend(created);
    }
    Load::finished(latencies, ids, started)
}

/// Creates at `rate` per second for `seconds`, each sent on schedule
/// whether or not earlier ones have been answered (so a slow answer shows
/// in the latencies instead of lowering the rate).
pub async fn fixed_rate_load(endpoint: &str, key: &str, rate: u64, seconds: u64) -> Load {
    let client = testkit::client();
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / rate as u32);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut sent = Vec::new();
    for n in 0..rate * seconds {
        ticks.tick().await;
        let (client, endpoint, key) = (client.clone(), endpoint.to_owned(), key.to_owned());
        sent.push(tokio::spawn(async move {
            create_once(&client, &endpoint, &key, &format!("Paced {n}")).await
        }));
    }
    let (mut latencies, mut ids) = (Vec::new(), Vec::new());
    for request in sent {
        let (took, id) = request.await.expect("paced create");
        latencies.push(took);
        ids.extend(id);
    }
    Load::finished(latencies, ids, started)
}

/// One create, which must be answered 201: how long it took, and the id
/// the answer gave.
pub async fn create_once(
    client: &reqwest::Client,
    endpoint: &str,
    key: &str,
    title: &str,
) -> (Duration, Option<String>) {
    let body = testkit::sample_request(title);
    let t0 = Instant::now();
    let response = client
        .post(endpoint)
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("create request");
    assert_eq!(response.status(), 201, "create failed");
    let body = response.bytes().await.expect("body");
    let took = t0.elapsed();
    let id = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|answer| answer["id"].as_str().map(str::to_owned));
    (took, id)
}
