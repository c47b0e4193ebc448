//! The outcome webhook, end to end: a real server delivers to a real HTTP
//! receiver (testkit::receiver) that verifies every signature the way the
//! Standard Webhooks specification describes. The server runs in the
//! test's process on a clock the test moves past each retry, so a day of
//! retries takes milliseconds and "nothing more comes" is a fact of the
//! outbox, not a pause.

use crate::common::{spawn_app_on_clock, TestApp, ADMIN, APPROVER};
use holdpoint::testkit::receiver::{verify, Received, Receiver};
use holdpoint::testkit::{self, Backend};
use serde_json::Value;
use std::time::Duration;

/// Private targets allowed (the receiver is on 127.0.0.1), a compressed
/// retry schedule, a short timeout.
const WEBHOOK_ENV: &[(&str, &str)] = &[
    ("HOLDPOINT_WEBHOOK_ALLOW_PRIVATE", "true"),
    (
        "HOLDPOINT_WEBHOOK_RETRY_SCHEDULE",
        "100ms,100ms,100ms,100ms,100ms",
    ),
    ("HOLDPOINT_WEBHOOK_TIMEOUT", "2s"),
];
const PATIENCE: Duration = Duration::from_secs(10);
/// Past the longest jittered step of the schedule above (100 ms + 20 %).
const RETRY_STEP: Duration = Duration::from_millis(150);
/// How long, in real time, the worker gets between two moves of the clock.
const LOOK_AGAIN: Duration = Duration::from_millis(20);

/// An app, a receiver, and the key `mailer` whose webhooks go to `path`.
struct Hooked {
    app: TestApp,
    receiver: Receiver,
    key: String,
    secret: String,
    admin: String,
}

async fn hooked(backend: Backend, path: &str) -> Hooked {
    let app = spawn_app_on_clock(backend, WEBHOOK_ENV).await;
    let receiver = Receiver::start().await;
    let (key, secret) = testkit::create_key_with_webhook(
        &app.bin,
        &app.database_url,
        WEBHOOK_ENV,
        "mailer",
        &receiver.url(path),
    )
    .await;
    let admin = app.login(ADMIN).await;
    Hooked {
        app,
        receiver,
        key,
        secret,
        admin,
    }
}

impl Hooked {
    /// Creates an approval with `mailer`'s key; returns its ID.
    async fn create(&self, title: &str) -> String {
        let response = testkit::create_approval(
            &self.app.client,
            &self.app.server,
            &self.key,
            &testkit::sample_request(title),
        )
        .await;
        assert_eq!(response.status(), 201);
        let approval: Value = response.json().await.unwrap();
        approval["id"].as_str().unwrap().to_owned()
    }

    async fn approve(&self, id: &str) {
        let response = self.app.decide(&self.admin, id, "approve", None).await;
        assert_eq!(response.status(), 200);
    }

    /// The Webhooks page's data, as the admin sees it.
    async fn log(&self) -> Value {
        self.app.rpc_ok(&self.admin, "webhooks", &[]).await
    }

    /// Polls the message log until `done` holds for it.
    async fn log_until(&self, done: impl Fn(&Value) -> bool) -> Value {
        log_until(&self.app, &self.admin, done).await
    }

    /// Waits for at least `count` deliveries to `path`, moving the clock
    /// past the next retry each time it looks.
    async fn wait_for(&self, path: &str, count: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let on_path: Vec<Received> = self
                .receiver
                .received()
                .into_iter()
                .filter(|r| r.path == path)
                .collect();
            if on_path.len() >= count {
                return on_path;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{path} got {} of {count} deliveries",
                on_path.len()
            );
            self.app.advance(RETRY_STEP);
            tokio::time::sleep(LOOK_AGAIN).await;
        }
    }

    /// Moves the clock past the retries until the outbox has nothing left
    /// to send: nothing more can arrive.
    async fn until_nothing_is_left_to_send(&self) {
        until_nothing_is_left_to_send(&self.app).await
    }

    /// The key `mailer` in the log.
    fn mailer(log: &Value) -> &Value {
        log["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["key_name"] == "mailer")
            .unwrap()
    }

    fn endpoint(log: &Value) -> &Value {
        &Self::mailer(log)["endpoint"]
    }

    fn key_id(log: &Value) -> String {
        Self::mailer(log)["key_id"].as_str().unwrap().to_owned()
    }
}

/// Polls the Webhooks page's data, as `admin` sees it, until `done` holds,
/// moving the clock past the next retry each time it looks.
async fn log_until(app: &TestApp, admin: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let log = app.rpc_ok(admin, "webhooks", &[]).await;
        if done(&log) {
            return log;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "log never got there: {log:#}"
        );
        app.advance(RETRY_STEP);
        tokio::time::sleep(LOOK_AGAIN).await;
    }
}

/// See [`Hooked::until_nothing_is_left_to_send`]. The clock moves a step
/// at a time: one jump past the lease while an attempt is still on the wire
/// would hand its message to a second claim, as a real attempt outliving
/// its lease would (the attempt timeout prevents that outside tests).
async fn until_nothing_is_left_to_send(app: &TestApp) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let due = app.service().next_webhook_due().await.expect("next due");
        if due.is_none() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a message is still due at {due:?}"
        );
        app.advance(RETRY_STEP);
        tokio::time::sleep(LOOK_AGAIN).await;
    }
}

fn message<'a>(log: &'a Value, approval_id: &str) -> Option<&'a Value> {
    log["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["approval_id"] == approval_id)
}

async fn approve_and_deny_each_deliver_one_signed_message(backend: Backend) {
    let hooked = hooked(backend, "/ok").await;
    let approved = hooked.create("Send the spring campaign").await;
    let denied = hooked.create("Refund $120").await;
    hooked.approve(&approved).await;
    let response = hooked
        .app
        .decide(
            &hooked.admin,
            &denied,
            "deny",
            Some("Duplicate of last week's refund"),
        )
        .await;
    assert_eq!(response.status(), 200);

    let deliveries = hooked.receiver.wait_for("/ok", 2, PATIENCE).await;
    let mut seen = Vec::new();
    for delivery in &deliveries {
        let body = verify(&hooked.secret, delivery).expect("a valid signature");
        assert!(
            delivery.webhook_id.starts_with("msg_"),
            "{}",
            delivery.webhook_id
        );
        assert_eq!(delivery.content_type, "application/json");
        assert_eq!(body["type"], "approval.decided");
        assert!(body["timestamp"]
            .as_str()
            .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()));
        let data = &body["data"];
        assert_eq!(data["decided_by"], ADMIN);
        assert!(data["decided_at"].is_string());
        assert_eq!(data["action"], "email.send_campaign");
        assert_eq!(data["data"]["recipientCount"], 4812);
        seen.push(data["id"].as_str().unwrap().to_owned());
        if data["id"] == approved.as_str() {
            assert_eq!(data["status"], "approved");
            assert_eq!(data["title"], "Send the spring campaign");
            assert!(data["reason"].is_null());
        } else {
            assert_eq!(data["status"], "denied");
            assert_eq!(data["reason"], "Duplicate of last week's refund");
        }
    }
    seen.sort();
    let mut expected = vec![approved.clone(), denied];
    expected.sort();
    assert_eq!(seen, expected, "one message for each decision");

    // One message each, delivered once: nothing more arrives.
    hooked.until_nothing_is_left_to_send().await;
    assert_eq!(hooked.receiver.received().len(), 2);
    // The approval's page shows its delivery.
    let detail = hooked
        .app
        .rpc_ok(
            &hooked.admin,
            "approval_detail",
            &[("id", approved.as_str())],
        )
        .await;
    let deliveries = detail["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0]["status"], "delivered");
    assert_eq!(deliveries[0]["attempts"][0]["status_code"], 200);
    assert_eq!(deliveries[0]["attempts"][0]["response_body"], "thanks");

    // An approver sees whether it arrived and after how many attempts; not
    // where it went nor what the receiver answered.
    let approver = hooked.app.login(APPROVER).await;
    let response = hooked
        .app
        .rpc(&approver, "approval_detail", &[("id", approved.as_str())])
        .await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let detail: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(detail["deliveries"], serde_json::json!([]));
    assert_eq!(detail["delivery_summary"][0]["status"], "delivered");
    assert_eq!(detail["delivery_summary"][0]["attempts"], 1);
    for secret in [hooked.receiver.base_url.as_str(), "thanks", "msg_"] {
        assert!(
            !text.contains(secret),
            "an approver was sent {secret:?}: {text}"
        );
    }
}

async fn a_receiver_failing_three_times_gets_it_on_the_fourth_attempt(backend: Backend) {
    let hooked = hooked(backend, "/fail-first/3").await;
    let id = hooked.create("Delete 112 stale rows").await;
    hooked.approve(&id).await;
    let deliveries = hooked.wait_for("/fail-first/3", 4).await;
    assert_eq!(deliveries.len(), 4);
    for delivery in &deliveries {
        // Re-signed on every attempt, with the same webhook-id.
        verify(&hooked.secret, delivery).expect("a valid signature on every attempt");
        assert_eq!(delivery.webhook_id, deliveries[0].webhook_id);
    }
    let log = hooked
        .log_until(|log| message(log, &id).is_some_and(|m| m["status"] == "delivered"))
        .await;
    let attempts = message(&log, &id).unwrap()["attempts"]
        .as_array()
        .unwrap()
        .clone();
    let codes: Vec<i64> = attempts
        .iter()
        .map(|a| a["status_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [500, 500, 500, 200], "four attempts logged");
    assert!(attempts
        .iter()
        .all(|a| a["latency_ms"].as_i64().is_some() && a["attempted_at"].as_i64().is_some()));
    assert_eq!(attempts[0]["response_body"], "not yet");
    let endpoint = Hooked::endpoint(&log);
    assert_eq!(endpoint["failure_streak"], 0);
    assert!(endpoint["last_success_at"].is_i64());
    hooked.until_nothing_is_left_to_send().await;
    assert_eq!(
        hooked.receiver.received().len(),
        4,
        "nothing after the success"
    );
}

async fn gone_disables_the_endpoint_until_an_admin_enables_it(backend: Backend) {
    let hooked = hooked(backend, "/status/410").await;
    let first = hooked.create("First").await;
    hooked.approve(&first).await;
    hooked.receiver.wait_for("/status/410", 1, PATIENCE).await;
    let log = hooked
        .log_until(|log| Hooked::endpoint(log)["disabled_at"].is_i64())
        .await;
    assert!(Hooked::endpoint(&log)["disabled_reason"]
        .as_str()
        .unwrap()
        .contains("410"));

    // Held while disabled: decided, queued, not sent.
    let second = hooked.create("Second").await;
    hooked.approve(&second).await;
    hooked.until_nothing_is_left_to_send().await;
    assert_eq!(
        hooked.receiver.received().len(),
        1,
        "a disabled endpoint gets nothing"
    );

    // The admin fixes the URL and enables it: both messages go out.
    let key_id = Hooked::key_id(&log);
    let fixed = hooked
        .app
        .rpc_ok(
            &hooked.admin,
            "set_webhook_url",
            &[
                ("key_id", key_id.as_str()),
                ("url", hooked.receiver.url("/ok").as_str()),
            ],
        )
        .await;
    assert!(
        fixed.is_null(),
        "an existing endpoint keeps its secret: {fixed}"
    );
    hooked
        .app
        .rpc_ok(
            &hooked.admin,
            "enable_webhook",
            &[("key_id", key_id.as_str())],
        )
        .await;
    let delivered = hooked.receiver.wait_for("/ok", 2, PATIENCE).await;
    let mut ids: Vec<String> = delivered
        .iter()
        .map(|d| {
            verify(&hooked.secret, d).unwrap()["data"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    ids.sort();
    let mut expected = vec![first, second];
    expected.sort();
    assert_eq!(ids, expected);
    let log = hooked.log().await;
    assert!(Hooked::endpoint(&log)["disabled_at"].is_null());
}

async fn a_redirect_is_not_followed(backend: Backend) {
    let hooked = hooked(backend, "/status/302").await;
    let id = hooked.create("Wire $9,000").await;
    hooked.approve(&id).await;
    // The compressed schedule runs out: six attempts, all refused redirects.
    let log = hooked
        .log_until(|log| message(log, &id).is_some_and(|m| m["status"] == "failed"))
        .await;
    let attempts = message(&log, &id).unwrap()["attempts"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(attempts.len(), 6);
    for attempt in &attempts {
        assert_eq!(attempt["status_code"], 302);
        assert!(
            attempt["error"].as_str().unwrap().contains("redirect"),
            "{attempt}"
        );
    }
    let followed = hooked
        .receiver
        .received()
        .iter()
        .filter(|r| r.path == "/ok")
        .count();
    assert_eq!(followed, 0, "the Location was never requested");
    assert_eq!(Hooked::endpoint(&log)["failure_streak"], 6);

    // Redeliver by hand: same webhook-id, a fresh round.
    let message_id = message(&log, &id).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = hooked.receiver.received().len();
    hooked
        .app
        .rpc_ok(
            &hooked.admin,
            "redeliver_webhook",
            &[("message_id", message_id.as_str())],
        )
        .await;
    let again = hooked
        .receiver
        .wait_until(PATIENCE, |all| all.len() > before)
        .await;
    assert_eq!(again.last().unwrap().webhook_id, message_id);
    let missing = hooked
        .app
        .rpc(
            &hooked.admin,
            "redeliver_webhook",
            &[("message_id", "msg_nope")],
        )
        .await;
    assert_eq!(missing.status(), 404);
}

async fn retry_after_is_honoured_over_the_schedule(backend: Backend) {
    // The schedule says 100 ms; the endpoint says "Retry-After: 1" (second).
    // The clock moves in steps of 150 ms: had the schedule won, the second
    // attempt would come one step after the first.
    let hooked = hooked(backend, "/status/503").await;
    let id = hooked.create("Pause the nightly sync").await;
    hooked.approve(&id).await;
    hooked.wait_for("/status/503", 2).await;
    let log = hooked
        .log_until(|log| {
            message(log, &id).is_some_and(|m| m["attempts"].as_array().unwrap().len() >= 2)
        })
        .await;
    let attempts = &message(&log, &id).unwrap()["attempts"];
    let gap = attempts[1]["attempted_at"].as_i64().unwrap()
        - attempts[0]["attempted_at"].as_i64().unwrap();
    assert!(gap >= 900, "retried after {gap} ms, not after Retry-After");
    assert_eq!(attempts[0]["status_code"], 503);
}

async fn private_targets_are_refused_without_the_setting(backend: Backend) {
    let fast_retries = &[("HOLDPOINT_WEBHOOK_RETRY_SCHEDULE", "100ms")];
    let app = spawn_app_on_clock(backend, fast_retries).await;
    let receiver = Receiver::start().await;

    // Where the admin sets the URL: the CLI and the Webhooks page say why.
    for url in [
        receiver.url("/ok"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://[::ffff:10.0.0.1]/".to_owned(),
    ] {
        let output = testkit::admin(
            &app.bin,
            &app.database_url,
            &[],
            &["create-key", "--name", "sneaky", "--webhook-url", &url],
        )
        .await;
        assert!(!output.status.success(), "{url} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("refused"), "{stderr}");
    }
    let admin = app.login(ADMIN).await;
    let log = app.rpc_ok(&admin, "webhooks", &[]).await;
    assert_eq!(
        log["keys"].as_array().unwrap().len(),
        1,
        "no key was half-created"
    );
    let key_id = log["keys"][0]["key_id"].as_str().unwrap().to_owned();
    let refused = app
        .rpc(
            &admin,
            "set_webhook_url",
            &[
                ("key_id", key_id.as_str()),
                ("url", "http://localhost:9/hook"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("refused"));

    // At connect time: a name set while private targets were allowed, which
    // resolves to loopback, is refused by the resolver, and the log says so.
    let url = receiver.url("/ok").replace("127.0.0.1", "localhost");
    let allow = &[("HOLDPOINT_WEBHOOK_ALLOW_PRIVATE", "true")];
    let (key, _) =
        testkit::create_key_with_webhook(&app.bin, &app.database_url, allow, "mailer", &url).await;
    let id = app
        .create_and_approve(&key, &admin, "Export all customers")
        .await;
    let log = log_until(&app, &admin, |log| {
        message(log, &id).is_some_and(|m| m["status"] == "failed")
    })
    .await;
    let attempts = message(&log, &id).unwrap()["attempts"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(attempts.len(), 2);
    for attempt in &attempts {
        assert!(attempt["status_code"].is_null());
        assert!(
            attempt["error"].as_str().unwrap().contains("refused"),
            "{attempt}"
        );
    }
    assert!(
        receiver.received().is_empty(),
        "nothing reached the private address"
    );
}

async fn rotation_sends_two_valid_signatures(backend: Backend) {
    let hooked = hooked(backend, "/ok").await;
    let output = testkit::admin(
        &hooked.app.bin,
        &hooked.app.database_url,
        WEBHOOK_ENV,
        &["rotate-webhook-secret", "--key", "mailer"],
    )
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let new_secret = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(new_secret.starts_with("whsec_") && new_secret != hooked.secret);

    let id = hooked.create("Rotate me").await;
    hooked.approve(&id).await;
    let delivery = hooked.receiver.wait_for("/ok", 1, PATIENCE).await.remove(0);
    let signatures: Vec<&str> = delivery.signature.split(' ').collect();
    assert_eq!(signatures.len(), 2, "{}", delivery.signature);
    // Each signature on its own verifies with its own secret.
    for (signature, secret) in signatures.iter().zip([&new_secret, &hooked.secret]) {
        let single = holdpoint::testkit::receiver::Received {
            signature: (*signature).to_owned(),
            ..delivery.clone()
        };
        verify(secret, &single).expect("each signature verifies with its secret");
    }
    let log = hooked.log().await;
    assert!(Hooked::endpoint(&log)["previous_secret_until"].is_i64());
}

async fn admins_send_test_events_and_only_admins_see_webhooks(backend: Backend) {
    let hooked = hooked(backend, "/ok").await;
    let key_id = Hooked::key_id(&hooked.log().await);
    let message_id = hooked
        .app
        .rpc_ok(
            &hooked.admin,
            "send_test_webhook",
            &[("key_id", key_id.as_str())],
        )
        .await;
    let delivery = hooked.receiver.wait_for("/ok", 1, PATIENCE).await.remove(0);
    let body = verify(&hooked.secret, &delivery).unwrap();
    assert_eq!(body["type"], "webhook.test");
    assert_eq!(delivery.webhook_id, message_id.as_str().unwrap());

    let approver = hooked.app.login(APPROVER).await;
    for (name, form) in [
        ("webhooks", vec![]),
        ("send_test_webhook", vec![("key_id", key_id.as_str())]),
        ("rotate_webhook_secret", vec![("key_id", key_id.as_str())]),
    ] {
        let response = hooked.app.rpc(&approver, name, &form).await;
        assert_eq!(response.status(), 403, "{name} for an approver");
    }
    let anonymous = hooked.app.rpc("", "webhooks", &[]).await;
    assert_eq!(anonymous.status(), 401);
}

async fn a_revoked_key_leaves_no_loose_ends(backend: Backend) {
    let hooked = hooked(backend, "/ok").await;
    let id = hooked.create("Send the autumn campaign").await;
    let parked = testkit::spawn_wait(&hooked.app.client, &hooked.app.server, &hooked.key, &id, 60);
    // Let the wait park before the key goes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let revoked = testkit::admin(
        &hooked.app.bin,
        &hooked.app.database_url,
        WEBHOOK_ENV,
        &["revoke-key", "--name", "mailer"],
    )
    .await;
    assert!(revoked.status.success());

    // The parked wait answers now (401: the key no longer works), not after
    // its 60 s.
    let answer = tokio::time::timeout(PATIENCE, parked)
        .await
        .expect("the parked wait answered at once")
        .unwrap();
    assert_eq!(
        answer.approval["code"], "invalid_api_key",
        "{}",
        answer.approval
    );

    // The endpoint stays on the Webhooks page, marked as a revoked key's.
    let log = hooked.log().await;
    let mailer = Hooked::mailer(&log);
    assert!(mailer["revoked_at"].is_i64(), "{mailer}");
    assert!(mailer["endpoint"]["url"].is_string(), "{mailer}");
    let rotated = hooked
        .app
        .rpc(
            &hooked.admin,
            "rotate_webhook_secret",
            &[("key_id", Hooked::key_id(&log).as_str())],
        )
        .await;
    assert_eq!(
        rotated.status(),
        200,
        "a revoked key's endpoint can be rotated"
    );

    // Its pending approval can still be decided, and the outcome still goes
    // to the agent's endpoint.
    hooked.approve(&id).await;
    let delivered = hooked.receiver.wait_for("/ok", 1, PATIENCE).await;
    assert_eq!(delivered[0].json()["data"]["id"], id.as_str());
}

async fn webhooks_never_go_to_this_server_itself(backend: Backend) {
    let app = spawn_app_on_clock(backend, WEBHOOK_ENV).await;
    let admin = app.login(ADMIN).await;
    let log = app.rpc_ok(&admin, "webhooks", &[]).await;
    let key_id = log["keys"][0]["key_id"].as_str().unwrap().to_owned();
    let by_name = app.server.base_url.replace("127.0.0.1", "localhost");
    for url in [app.url("/api/v1/approvals"), format!("{by_name}/hook")] {
        let response = app
            .rpc(
                &admin,
                "set_webhook_url",
                &[("key_id", &key_id), ("url", &url)],
            )
            .await;
        assert_eq!(response.status(), 422, "{url}");
        let text = response.text().await.unwrap();
        assert!(text.contains("own address"), "{url}: {text}");
    }

    // Saved by a CLI that did not know the server's port: refused when sent.
    let (key, _) = testkit::create_key_with_webhook(
        &app.bin,
        &app.database_url,
        WEBHOOK_ENV,
        "loop",
        &app.url("/hook"),
    )
    .await;
    let id = app.create_and_approve(&key, &admin, "Loop back").await;
    let log = log_until(&app, &admin, |log| {
        message(log, &id).is_some_and(|m| !m["attempts"].as_array().unwrap().is_empty())
    })
    .await;
    let error = message(&log, &id).unwrap()["attempts"][0]["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(error.contains("own address"), "{error}");
}

/// The Stats page's webhook health: attempts, successes, attempts per
/// message, time to the first delivery, and endpoints failing now.
async fn webhook_health_is_counted_on_the_stats_page(backend: Backend) {
    let hooked = hooked(backend, "/fail-first/2").await;
    // Polls the Stats page's webhook health until `done` holds for it.
    let health_until = |done: fn(&Value) -> bool| {
        let (app, admin) = (&hooked.app, hooked.admin.clone());
        async move {
            let deadline = tokio::time::Instant::now() + PATIENCE;
            loop {
                let stats = app.rpc_ok(&admin, "stats", &[("window", "24h")]).await;
                let health = stats["webhooks"].clone();
                if done(&health) {
                    return health;
                }
                assert!(tokio::time::Instant::now() < deadline, "{health}");
                tokio::time::sleep(LOOK_AGAIN).await;
            }
        }
    };
    let id = hooked.create("Counted").await;
    hooked.approve(&id).await;
    // The first attempt fails: the endpoint is failing now.
    hooked.wait_for("/fail-first/2", 1).await;
    let health = health_until(|h| h["attempts"] == 1).await;
    assert_eq!(health["successes"], 0);
    assert_eq!(health["failing"][0]["agent"], "mailer");
    assert!(health["failing"][0]["url"]
        .as_str()
        .unwrap()
        .ends_with("/fail-first/2"));

    // The third attempt succeeds.
    hooked.wait_for("/fail-first/2", 3).await;
    let health = health_until(|h| h["successes"] == 1).await;
    assert_eq!(health["attempts"], 3);
    assert_eq!(health["messages"], 1);
    assert_eq!(health["first_delivery"]["decisions"], 1);
    assert!(health["first_delivery"]["p50_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(health["failing"], serde_json::json!([]));
}

on_both_backends!(
    webhook_health_is_counted_on_the_stats_page,
    webhooks_never_go_to_this_server_itself,
    a_revoked_key_leaves_no_loose_ends,
    approve_and_deny_each_deliver_one_signed_message,
    a_receiver_failing_three_times_gets_it_on_the_fourth_attempt,
    gone_disables_the_endpoint_until_an_admin_enables_it,
    a_redirect_is_not_followed,
    retry_after_is_honoured_over_the_schedule,
    private_targets_are_refused_without_the_setting,
    rotation_sends_two_valid_signatures,
    admins_send_test_events_and_only_admins_see_webhooks,
);
