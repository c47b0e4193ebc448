//! Webhooks survive crashes: servers are killed with SIGKILL while messages
//! are queued and in flight, and every decision's message still arrives. On
//! PostgreSQL, with two instances, the survivor takes over the dead one's
//! claims once their lease lapses, and while both live each message is
//! attempted once.

use crate::common::{ADMIN, PASSWORD};
use holdpoint::testkit::receiver::{verify, Receiver};
use holdpoint::testkit::{self, Backend, Server};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

/// A 2 s timeout makes the lease 4 s, so a dead instance's claims lapse soon.
const ENV: &[(&str, &str)] = &[
    ("HOLDPOINT_WEBHOOK_ALLOW_PRIVATE", "true"),
    (
        "HOLDPOINT_WEBHOOK_RETRY_SCHEDULE",
        "200ms,200ms,200ms,200ms,200ms",
    ),
    ("HOLDPOINT_WEBHOOK_TIMEOUT", "2s"),
];
const DECISIONS: usize = 24;
/// Each delivery takes just under the attempt timeout, so deliveries cannot
/// all finish while the decisions are still being made (at 500 ms, a loaded
/// machine deciding slowly let every one arrive before the kill).
const SLOW_RECEIVER: &str = "/slow/1900";

struct Cluster {
    servers: Vec<Server>,
    bin: PathBuf,
    database_url: String,
    key: String,
    secret: String,
    admin: String,
    client: reqwest::Client,
    receiver: Receiver,
    _database: testkit::TestDatabase,
    _dir: tempfile::TempDir,
}

async fn cluster(backend: Backend, instances: usize, path: &str) -> Cluster {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = testkit::fresh_database(backend, dir.path()).await;
    let database_url = database.url.clone();
    let bin = testkit::binary_path();
    testkit::create_user(&bin, &database_url, ADMIN, PASSWORD, true).await;
    let receiver = Receiver::start().await;
    let (key, secret) =
        testkit::create_key_with_webhook(&bin, &database_url, ENV, "mailer", &receiver.url(path))
            .await;
    let mut servers = Vec::new();
    for _ in 0..instances {
        servers.push(Server::start(&bin, &database_url, ENV).await);
    }
    let client = testkit::client();
    let admin = testkit::login(&client, &servers[0], ADMIN, PASSWORD).await;
    Cluster {
        servers,
        bin,
        database_url,
        key,
        secret,
        admin,
        client,
        receiver,
        _database: database,
        _dir: dir,
    }
}

impl Cluster {
    /// Creates and decides `count` approvals, spread over the instances;
    /// returns their IDs.
    async fn decide_many(&self, count: usize) -> Vec<String> {
        let mut ids = Vec::new();
        for n in 0..count {
            let server = &self.servers[n % self.servers.len()];
            let body = testkit::sample_request(&format!("Campaign {n}"));
            let created = testkit::create_approval(&self.client, server, &self.key, &body).await;
            assert_eq!(created.status(), 201);
            let id = created.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let decided =
                testkit::decide(&self.client, server, &self.admin, &id, "approve", None).await;
            assert_eq!(decided.status(), 200);
            ids.push(id);
        }
        ids
    }

    /// SIGKILL: no shutdown handler runs, nothing is drained.
    async fn kill(&mut self, index: usize) {
        self.servers[index].kill().await;
    }

    /// Which approvals have had their message delivered with a valid
    /// signature, and how often each webhook-id arrived.
    fn delivered(&self) -> (HashSet<String>, HashMap<String, usize>) {
        let mut approvals = HashSet::new();
        let mut per_message = HashMap::new();
        for received in self.receiver.received() {
            let body = verify(&self.secret, &received).expect("every delivery is signed");
            approvals.insert(body["data"]["id"].as_str().unwrap().to_owned());
            *per_message.entry(received.webhook_id.clone()).or_insert(0) += 1;
        }
        (approvals, per_message)
    }

    async fn wait_until_all_delivered(&self, ids: &[String], within: Duration) {
        let expected: HashSet<String> = ids.iter().cloned().collect();
        self.receiver
            .wait_until(within, |_| self.delivered().0 == expected)
            .await;
    }
}

async fn killed_mid_delivery_and_restarted_loses_nothing(backend: Backend) {
    // Each delivery is slow, so at the kill some messages are in flight
    // (claimed) and most are still queued.
    let mut cluster = cluster(backend, 1, SLOW_RECEIVER).await;
    let ids = cluster.decide_many(DECISIONS).await;
    cluster.kill(0).await;
    let (before, _) = cluster.delivered();
    assert!(
        before.len() < DECISIONS,
        "the kill came after every delivery; the test proved nothing"
    );

    cluster.servers[0] = Server::start(&cluster.bin, &cluster.database_url, ENV).await;
    cluster
        .wait_until_all_delivered(&ids, Duration::from_secs(30))
        .await;
    let (delivered, _) = cluster.delivered();
    assert_eq!(
        delivered.len(),
        DECISIONS,
        "every decision's message arrived"
    );
}

#[tokio::test]
async fn sqlite_server_killed_mid_delivery_and_restarted_loses_nothing() {
    killed_mid_delivery_and_restarted_loses_nothing(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_server_killed_mid_delivery_and_restarted_loses_nothing() {
    killed_mid_delivery_and_restarted_loses_nothing(Backend::Postgres).await;
}

#[tokio::test]
async fn postgres_survivor_takes_over_a_killed_instances_claims() {
    let mut cluster = cluster(Backend::Postgres, 2, SLOW_RECEIVER).await;
    let ids = cluster.decide_many(DECISIONS).await;
    // A dies holding claims; B is never restarted, and must deliver A's
    // share once A's claims lapse.
    cluster.kill(0).await;
    let (before, _) = cluster.delivered();
    assert!(before.len() < DECISIONS, "the kill came too late to matter");
    cluster
        .wait_until_all_delivered(&ids, Duration::from_secs(40))
        .await;
}

#[tokio::test]
async fn postgres_two_live_instances_attempt_each_message_once() {
    let cluster = cluster(Backend::Postgres, 2, "/ok").await;
    let ids = cluster.decide_many(40).await;
    cluster
        .wait_until_all_delivered(&ids, Duration::from_secs(20))
        .await;
    // Both workers woke for every decision (the event reaches both); a
    // duplicate would mean two claims on one message.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, per_message) = cluster.delivered();
    assert_eq!(per_message.len(), 40);
    let repeated: Vec<_> = per_message.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.is_empty(),
        "attempted more than once: {repeated:?}"
    );
}
