//! Two real server processes on one PostgreSQL database, as behind a load
//! balancer: what one instance does, the other sees at once, and the
//! database decides every race. Where deadlines matter, both instances run
//! in the test's process on one clock the test moves.

use crate::common::{ADMIN, APPROVER, PASSWORD};
use holdpoint::model::InboxEvent;
use holdpoint::server::domain::clock::ManualClock;
use holdpoint::testkit::inbox_client::InboxSocket;
use holdpoint::testkit::{self, Backend, Server, WaitAnswer};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

struct Pair {
    a: Server,
    b: Server,
    database_url: String,
    key: String,
    client: reqwest::Client,
    _database: testkit::TestDatabase,
    _dir: tempfile::TempDir,
}

/// Starts both instances at once on an empty database, so their migrations
/// race, then adds the accounts through the CLI.
async fn start_pair() -> Pair {
    start_pair_with(None).await
}

/// As `start_pair`, with both instances in this process and every deadline
/// on `clock`, which the test moves.
async fn start_pair_on(clock: Arc<ManualClock>) -> Pair {
    start_pair_with(Some(clock)).await
}

async fn start_pair_with(clock: Option<Arc<ManualClock>>) -> Pair {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = testkit::fresh_database(Backend::Postgres, dir.path()).await;
    let database_url = database.url.clone();
    let bin = testkit::binary_path();
    let start = |clock: Option<Arc<ManualClock>>| {
        let (bin, database_url) = (&bin, &database_url);
        async move {
            match clock {
                Some(clock) => Server::in_process(database_url, &[], clock).await.0,
                None => Server::start(bin, database_url, &[]).await,
            }
        }
    };
    let (a, b) = tokio::join!(start(clock.clone()), start(clock));
    testkit::create_user(&bin, &database_url, ADMIN, PASSWORD, true).await;
    testkit::create_user(&bin, &database_url, APPROVER, PASSWORD, false).await;
    let key = testkit::create_key(&bin, &database_url, "billing-agent", None).await;
    Pair {
        a,
        b,
        database_url,
        key,
        client: testkit::client(),
        _database: database,
        _dir: dir,
    }
}

impl Pair {
    /// Creates an approval through `server`; returns its id.
    async fn create(&self, server: &Server, body: &Value) -> String {
        let response = testkit::create_approval(&self.client, server, &self.key, body).await;
        assert_eq!(response.status(), 201);
        let approval: Value = response.json().await.expect("approval JSON");
        approval["id"].as_str().expect("id").to_owned()
    }

    /// Creates an approval through A and parks its agent's `/wait` there.
    async fn park_wait_on_a(&self, title: &str) -> (String, JoinHandle<WaitAnswer>) {
        let id = self.create(&self.a, &testkit::sample_request(title)).await;
        let waiter = self.wait(&self.a, &id);
        // Let the wait park on A before anything happens elsewhere.
        tokio::time::sleep(Duration::from_millis(300)).await;
        (id, waiter)
    }

    async fn create_with_key(&self, server: &Server, idempotency_key: &str) -> (bool, Value) {
        let response = self
            .client
            .post(server.url("/api/v1/approvals"))
            .bearer_auth(&self.key)
            .header("idempotency-key", idempotency_key)
            .json(&testkit::sample_request("Refund order 1042"))
            .send()
            .await
            .expect("create request");
        assert_eq!(response.status(), 201);
        let replayed = response.headers().contains_key("idempotent-replayed");
        (replayed, response.json().await.expect("approval JSON"))
    }

    fn wait(&self, server: &Server, id: &str) -> JoinHandle<WaitAnswer> {
        testkit::spawn_wait(&self.client, server, &self.key, id, 30)
    }

    /// A direct connection to the instances' database.
    async fn db(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect(&self.database_url)
            .await
            .expect("connect to the test database")
    }

    async fn login(&self, server: &Server) -> String {
        testkit::login(&self.client, server, APPROVER, PASSWORD).await
    }
}

#[tokio::test]
async fn a_decision_through_b_wakes_the_agent_waiting_on_a() {
    let pair = start_pair().await;
    let (id, waiter) = pair.park_wait_on_a("Send campaign").await;
    assert!(
        !waiter.is_finished(),
        "the wait answered while still pending"
    );

    let cookie = pair.login(&pair.b).await;
    let decided_at = Instant::now();
    let decided = testkit::decide(
        &pair.client,
        &pair.b,
        &cookie,
        &id,
        "deny",
        Some("Wrong segment"),
    )
    .await;
    assert_eq!(decided.status(), 200);

    let WaitAnswer {
        approval: outcome,
        at: woken_at,
    } = waiter.await.expect("waiter");
    assert_eq!(outcome["status"], "denied");
    assert_eq!(outcome["reason"], "Wrong segment");
    assert_eq!(outcome["decided_by"], APPROVER);
    // Without the cross-instance channel A would answer `pending` after 30 s.
    let woken_after = woken_at.duration_since(decided_at);
    assert!(
        woken_after < Duration::from_secs(1),
        "A's waiting agent was woken {woken_after:?} after B's decision"
    );
}

#[tokio::test]
async fn an_inbox_connected_to_b_hears_what_happens_through_a() {
    let pair = start_pair().await;
    let cookie_b = pair.login(&pair.b).await;
    let mut inbox_on_b = InboxSocket::signed_in(&pair.b, &cookie_b).await;
    assert!(matches!(
        inbox_on_b.next_event().await,
        InboxEvent::Snapshot(_)
    ));

    let id = pair
        .create(&pair.a, &testkit::sample_request("Created through A"))
        .await;
    let InboxEvent::Created(created) = inbox_on_b.next_news().await else {
        panic!("B's inbox did not hear of the approval created through A")
    };
    assert_eq!(created.approval.id, id);

    let cookie_a = pair.login(&pair.a).await;
    let decided = testkit::decide(&pair.client, &pair.a, &cookie_a, &id, "approve", None).await;
    assert_eq!(decided.status(), 200);
    let InboxEvent::Decided(change) = inbox_on_b.next_news().await else {
        panic!("B's inbox did not hear of the decision made through A")
    };
    assert_eq!(
        (change.approval.id.as_str(), change.approval.status),
        (id.as_str(), holdpoint::model::Status::Approved)
    );
}

#[tokio::test]
async fn concurrent_decisions_through_both_instances_have_one_winner() {
    let pair = start_pair().await;
    let (cookie_a, cookie_b) = tokio::join!(pair.login(&pair.a), pair.login(&pair.b));
    for n in 0..10 {
        let id = pair
            .create(&pair.a, &testkit::sample_request(&format!("Race {n}")))
            .await;
        let (through_a, through_b) = tokio::join!(
            testkit::decide(&pair.client, &pair.a, &cookie_a, &id, "approve", None),
            testkit::decide(&pair.client, &pair.b, &cookie_b, &id, "deny", Some("No")),
        );
        let mut statuses = [through_a.status().as_u16(), through_b.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "race {n}: one winner, one told");

        let state = pair.wait(&pair.b, &id).await.expect("read back").approval;
        let expected = if through_a.status() == 200 {
            "approved"
        } else {
            "denied"
        };
        assert_eq!(
            state["status"], expected,
            "race {n}: the winner's verdict stands"
        );
    }
}

#[tokio::test]
async fn both_instances_append_to_one_audit_chain() {
    let pair = start_pair().await;
    let (cookie_a, cookie_b) = tokio::join!(pair.login(&pair.a), pair.login(&pair.b));
    // Creates and decisions through both at once: their audit entries
    // interleave, and must still form one unbroken chain.
    let through = |server: &'static str| {
        let pair = &pair;
        let (server, cookie) = match server {
            "a" => (&pair.a, &cookie_a),
            _ => (&pair.b, &cookie_b),
        };
        async move {
            for n in 0..10 {
                let id = pair
                    .create(server, &testkit::sample_request(&format!("Chained {n}")))
                    .await;
                let decided =
                    testkit::decide(&pair.client, server, cookie, &id, "approve", None).await;
                assert_eq!(decided.status(), 200);
            }
        }
    };
    tokio::join!(through("a"), through("b"));
    let output = testkit::holdpoint(&testkit::binary_path(), &pair.database_url, &[])
        .args(["audit", "verify", "--json"])
        .output()
        .await
        .expect("run holdpoint audit verify");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["holds"], true, "{report}");
    let entries: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events")
        .fetch_one(&pair.db().await)
        .await
        .expect("count");
    assert_eq!(report["entries"], entries);
    assert!(entries >= 40);
}

#[tokio::test]
async fn an_idempotent_retry_on_the_other_instance_returns_the_same_approval() {
    let pair = start_pair().await;
    let (first_replayed, first) = pair.create_with_key(&pair.a, "refund-1042").await;
    let (retry_replayed, retry) = pair.create_with_key(&pair.b, "refund-1042").await;
    assert!(!first_replayed);
    assert!(retry_replayed, "B did not recognise A's idempotency key");
    assert_eq!(retry["id"], first["id"]);

    // The same retry arriving at both instances at the same moment.
    for n in 0..10 {
        let key = format!("refund-race-{n}");
        let ((a_replayed, a), (b_replayed, b)) = tokio::join!(
            pair.create_with_key(&pair.a, &key),
            pair.create_with_key(&pair.b, &key)
        );
        assert_eq!(a["id"], b["id"], "race {n} made two approvals");
        assert!(
            a_replayed != b_replayed,
            "race {n}: exactly one is the original"
        );
    }
}

#[tokio::test]
async fn an_approval_expires_once_while_both_instances_run() {
    let clock = Arc::new(ManualClock::starting_now());
    let pair = start_pair_on(clock.clone()).await;
    let mut ids = Vec::new();
    for n in 0..10 {
        let server = if n % 2 == 0 { &pair.a } else { &pair.b };
        let id = pair
            .create(
                server,
                &json!({"title": format!("Short {n}"), "expires_in": 1}),
            )
            .await;
        ids.push(id);
    }
    let waiters: Vec<_> = ids
        .iter()
        .flat_map(|id| [pair.wait(&pair.a, id), pair.wait(&pair.b, id)])
        .collect();
    clock.advance(Duration::from_secs(1));
    for waiter in waiters {
        let outcome = waiter.await.expect("waiter").approval;
        assert_eq!(outcome["status"], "expired", "{outcome}");
    }

    // Both instances' expiry loops saw every deadline pass; each approval
    // must have been expired, and audited, exactly once.
    let db = pair.db().await;
    for id in &ids {
        let audited: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_events WHERE approval_id = $1 AND kind = 'expired'",
        )
        .bind(id)
        .fetch_one(&db)
        .await
        .expect("count audit events");
        assert_eq!(audited, 1, "{id} expired {audited} times");
    }
}

#[tokio::test]
async fn a_wait_is_answered_even_when_the_event_channel_drops_and_returns() {
    let pair = start_pair().await;
    let (id, waiter) = pair.park_wait_on_a("Delete rows").await;

    // Cut every instance's LISTEN connection (as a database failover or a
    // proxy timeout would), then decide while they are away: the NOTIFY of
    // the decision reaches no one.
    let db = pair.db().await;
    let cut: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_all(&db)
    .await
    .expect("terminate listeners");
    assert_eq!(cut.len(), 2, "expected one listener per instance");
    let cookie = pair.login(&pair.b).await;
    let decided = testkit::decide(&pair.client, &pair.b, &cookie, &id, "approve", None).await;
    assert_eq!(decided.status(), 200);

    // Reconnected, A re-reads what its waiters care about.
    let outcome = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("the wait was not answered after the channel came back")
        .expect("waiter")
        .approval;
    assert_eq!(outcome["status"], "approved");
}
