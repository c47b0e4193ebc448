//! Decision-latency statistics on a history whose figures are known in
//! advance: made on a clock the test moves, so every decision time is
//! exact, and read back through the Stats page's server function and an
//! agent's `expected_decision`.

use crate::common::*;
use holdpoint::server::domain::stats::{
    bucket_of, bucket_sql, bucket_start_ms, BUCKET_ERROR, LAST_BUCKET,
};
use holdpoint::testkit::Backend;
use serde_json::{json, Value};
use std::time::Duration;

const MINUTE_MS: f64 = 60_000.0;

/// A percentile (ms) within the stated bucket error of `minutes`.
fn assert_about(reported: &Value, minutes: f64, what: &str) {
    let reported = reported
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: {reported}"));
    let exact = minutes * MINUTE_MS;
    let error = (reported - exact).abs() / exact;
    assert!(
        error <= BUCKET_ERROR,
        "{what}: {reported} ms is not within {BUCKET_ERROR} of {exact} ms"
    );
}

fn row<'a>(rows: &'a Value, name: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|row| row["name"] == name || row["kind"] == name || row["route"] == name)
        .unwrap_or_else(|| panic!("no row {name} in {rows}"))
}

async fn create(app: &TestApp, body: Value) -> Value {
    let response = app.create(&body).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

fn id(approval: &Value) -> String {
    approval["id"].as_str().unwrap().to_owned()
}

/// The history: 20 refunds routed to Ana, approved by her after 1, 2, ...
/// 20 minutes; 4 emails routed to anyone, of which the admin denies 2
/// (after 21 and 22 minutes), the agent cancels 1 and 1 expires; then 2
/// refunds and 1 email (expiring within the hour) left pending.
async fn known_history(app: &TestApp) {
    let admin = app.login(ADMIN).await;
    let ana = app.login(APPROVER).await;
    let mut refunds = Vec::new();
    for n in 1..=20 {
        let body = json!({"title": format!("Refund {n}"), "action": "billing.refund",
                          "approver": APPROVER});
        refunds.push(id(&create(app, body).await));
    }
    let email = |title: &str, expires_in: u64| json!({"title": title, "action": "email.send", "expires_in": expires_in});
    let denied_first = id(&create(app, email("Campaign A", 86_400)).await);
    let denied_second = id(&create(app, email("Campaign B", 86_400)).await);
    let cancelled = id(&create(app, email("Campaign C", 86_400)).await);
    let expiring = id(&create(app, email("Campaign D", 300)).await);

    for refund in &refunds {
        app.advance(Duration::from_secs(60));
        let answer = app.decide(&ana, refund, "approve", None).await;
        assert_eq!(answer.status(), 200);
    }
    for campaign in [&denied_first, &denied_second] {
        app.advance(Duration::from_secs(60));
        let answer = app
            .decide(&admin, campaign, "deny", Some("Wrong list"))
            .await;
        assert_eq!(answer.status(), 200);
    }
    let path = format!("/api/v1/approvals/{cancelled}/cancel");
    assert_eq!(app.post(&app.key, &path).await.status(), 200);
    // Campaign D's five minutes passed long ago: the expiry task has run.
    let mut status = Value::Null;
    for _ in 0..100 {
        let approval: Value = app
            .get(&app.key, &format!("/api/v1/approvals/{expiring}"))
            .await
            .json()
            .await
            .unwrap();
        status = approval["status"].clone();
        if status == "expired" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "expired");

    for n in 21..=22 {
        let body = json!({"title": format!("Refund {n}"), "action": "billing.refund",
                          "approver": APPROVER});
        create(app, body).await;
    }
    create(app, email("Campaign E", 1_800)).await;
}

async fn stats(app: &TestApp, query: &[(&str, &str)]) -> Value {
    let admin = app.login(ADMIN).await;
    app.rpc_ok(&admin, "stats", query).await
}

/// What every view of the known history shows.
fn assert_known_figures(stats: &Value) {
    assert_known_figures_but_backlog(stats);
    let backlog = &stats["backlog"];
    assert_eq!(backlog["pending"], 3);
    assert_eq!(backlog["expiring_within_hour"], 1);
    assert_eq!(backlog["unrouted"], 1);
    assert_eq!(row(&backlog["by_approver"], APPROVER)["pending"], 2);
    assert!(backlog["oldest_created_at"].is_string());
}

/// The decided figures of every view of the known history.
fn assert_known_figures_but_backlog(stats: &Value) {
    let latency = &stats["latency"];
    assert_eq!(latency["decisions"], 22);
    assert_about(&latency["p50_ms"], 11.0, "p50");
    assert_about(&latency["p90_ms"], 20.0, "p90");
    assert_about(&latency["p99_ms"], 22.0, "p99");
    let bars: u64 = stats["histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|bar| bar["decisions"].as_u64().unwrap())
        .sum();
    assert_eq!(bars, 22);

    let ana = &row(&stats["by_approver"], APPROVER)["latency"];
    assert_eq!(ana["decisions"], 20);
    assert_about(&ana["p50_ms"], 10.0, "Ana's p50");
    assert_about(&ana["p90_ms"], 18.0, "Ana's p90");
    assert_eq!(row(&stats["by_approver"], ADMIN)["latency"]["decisions"], 2);
    assert_eq!(
        row(&stats["by_kind"], "email.send")["latency"]["decisions"],
        2
    );
    assert_eq!(
        row(&stats["by_agent"], "billing-agent")["latency"]["decisions"],
        22
    );
    let trend_decisions: u64 = stats["trend"]
        .as_array()
        .unwrap()
        .iter()
        .map(|day| day["latency"]["decisions"].as_u64().unwrap())
        .sum();
    assert_eq!(trend_decisions, 22);

    let refunds = row(&stats["outcomes"], "billing.refund");
    assert_eq!(
        (&refunds["approved"], &refunds["denied"]),
        (&json!(20), &json!(0))
    );
    let emails = row(&stats["outcomes"], "email.send");
    assert_eq!(
        [&emails["denied"], &emails["cancelled"], &emails["expired"]],
        [&json!(2), &json!(1), &json!(1)]
    );
}

async fn the_figures_of_a_known_history(backend: Backend) {
    let app = spawn_app_on_clock(backend, &[]).await;
    known_history(&app).await;

    // From the rollups (whole days), and counted from the approvals (the
    // last 24 hours): the same figures.
    let rolled_up = stats(&app, &[("window", "7d")]).await;
    assert_eq!(rolled_up["whole_days"], true);
    assert_known_figures(&rolled_up);
    let counted = stats(&app, &[("window", "24h")]).await;
    assert_eq!(counted["whole_days"], false);
    assert_known_figures(&counted);
    assert_eq!(rolled_up["histogram"], counted["histogram"]);

    // Narrowed to one kind, one approver, one agent, or two of these: read
    // from their own rollups, the same as counted; three narrowings at once
    // are counted.
    let refunds = stats(&app, &[("kind", "billing.refund")]).await;
    assert_eq!(refunds["whole_days"], true);
    assert_eq!(refunds["latency"]["decisions"], 20);
    assert_eq!(refunds["backlog"]["pending"], 2);
    let counted_refunds = stats(&app, &[("kind", "billing.refund"), ("window", "24h")]).await;
    assert_eq!(counted_refunds["whole_days"], false);
    assert_eq!(counted_refunds["histogram"], refunds["histogram"]);
    assert_eq!(counted_refunds["by_approver"], refunds["by_approver"]);
    assert_eq!(counted_refunds["outcomes"], refunds["outcomes"]);
    let two = stats(&app, &[("kind", "email.send"), ("approver", ADMIN)]).await;
    assert_eq!(two["whole_days"], true);
    assert_eq!(two["latency"]["decisions"], 2);
    let two_counted = stats(
        &app,
        &[
            ("kind", "email.send"),
            ("approver", ADMIN),
            ("window", "24h"),
        ],
    )
    .await;
    assert_eq!(two_counted["whole_days"], false);
    for figures in [
        "histogram",
        "by_approver",
        "by_agent",
        "outcomes",
        "latency",
    ] {
        assert_eq!(two[figures], two_counted[figures], "{figures}");
    }
    let agent_and_kind = stats(
        &app,
        &[("agent", "billing-agent"), ("kind", "billing.refund")],
    )
    .await;
    assert_eq!(agent_and_kind["whole_days"], true);
    assert_eq!(agent_and_kind["latency"]["decisions"], 20);
    let three = [
        ("kind", "email.send"),
        ("approver", ADMIN),
        ("agent", "billing-agent"),
    ];
    let three = stats(&app, &three).await;
    assert_eq!(three["whole_days"], false);
    assert_eq!(three["latency"]["decisions"], 2);
    assert_eq!(three["histogram"], two["histogram"]);
    let by_agent = stats(&app, &[("agent", "billing-agent"), ("window", "30d")]).await;
    assert_eq!(by_agent["whole_days"], true);
    assert_known_figures_but_backlog(&by_agent);
    let by_admin = stats(&app, &[("approver", ADMIN), ("window", "all")]).await;
    assert_eq!(by_admin["latency"]["decisions"], 2);
    assert_about(&by_admin["latency"]["p50_ms"], 21.0, "the admin's p50");
    let nobody = stats(&app, &[("agent", "no-such-agent")]).await;
    assert_eq!(nobody["latency"]["decisions"], 0);
    assert_eq!(nobody["latency"]["p50_ms"], Value::Null);

    // Counted again from scratch (as at the first start after an upgrade):
    // any command opens the store, which rebuilds them.
    app.execute_sql("UPDATE stats_state SET rebuild_pending = TRUE")
        .await;
    app.execute_sql("DELETE FROM latency_rollup").await;
    assert!(app.command(&["audit", "verify"]).await.status.success());
    let rebuilt = stats(&app, &[("window", "7d")]).await;
    assert_known_figures(&rebuilt);
    assert_eq!(rebuilt["histogram"], rolled_up["histogram"]);
}

async fn agents_are_told_the_wait_to_expect(backend: Backend) {
    let app = spawn_app_on_clock(backend, &[]).await;
    known_history(&app).await;
    // Ana's refunds: 20 decisions; two refunds already wait ahead (made
    // a second before).
    app.advance(Duration::from_secs(1));
    let refund = create(
        &app,
        json!({"title": "Refund 23", "action": "billing.refund", "approver": APPROVER}),
    )
    .await;
    let expected = &refund["expected_decision"];
    assert_eq!(expected["based_on"], 20);
    assert_eq!(expected["pending_ahead"], 2);
    assert_eq!(expected["window_days"], 30);
    let p50_minutes = expected["p50_seconds"].as_f64().unwrap() * 1_000.0 / MINUTE_MS;
    assert_about(&json!(p50_minutes * MINUTE_MS), 10.0, "expected p50");
    let p90_minutes = expected["p90_seconds"].as_f64().unwrap() * 1_000.0 / MINUTE_MS;
    assert_about(&json!(p90_minutes * MINUTE_MS), 18.0, "expected p90");
    // GET says the same.
    let got: Value = app
        .get(&app.key, &format!("/api/v1/approvals/{}", id(&refund)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(&got["expected_decision"], expected);

    // Emails to anyone: two decisions are too little history.
    let email = create(&app, json!({"title": "Campaign F", "action": "email.send"})).await;
    assert!(email["expected_decision"].is_null(), "{email}");
    // A decided approval expects nothing.
    let admin = app.login(ADMIN).await;
    app.decide(&admin, &id(&refund), "approve", None).await;
    let decided: Value = app
        .get(&app.key, &format!("/api/v1/approvals/{}", id(&refund)))
        .await
        .json()
        .await
        .unwrap();
    assert!(decided["expected_decision"].is_null());
}

async fn a_bad_window_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.login(ADMIN).await;
    let refused = app.rpc(&admin, "stats", &[("window", "3 weeks")]).await;
    assert_eq!(refused.status(), 422);
    let text = refused.text().await.unwrap();
    assert!(text.contains("Unknown window"), "{text}");
    // A viewer reads them too; no one signed out does.
    let empty = app.rpc_ok(&admin, "stats", &[]).await;
    assert_eq!(empty["latency"]["decisions"], 0);
    assert_eq!(empty["query"]["window"], "7d");
}

/// Views the rollups cannot cut are grouped by the database, which puts
/// decision times in buckets with SQL: the same buckets as the code, at
/// every bucket's edges.
async fn the_database_buckets_decision_times_as_the_code_does(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut times = vec![-60_000, 0, 999, 4_000_000_000_000];
    for bucket in 1..=LAST_BUCKET {
        let start = bucket_start_ms(bucket).ceil() as i64;
        times.extend([start - 1, start, start + 1]);
    }
    let values: Vec<String> = times.iter().map(|t| format!("({t})")).collect();
    let sql = format!(
        "WITH times(latency) AS (VALUES {}) SELECT latency, {} FROM times",
        values.join(", "),
        bucket_sql("latency")
    );
    let bucketed: Vec<(i64, i64)> = app.query_sql(&sql).await;
    assert_eq!(bucketed.len(), times.len());
    for (latency, bucket) in bucketed {
        assert_eq!(bucket, bucket_of(latency), "{latency} ms");
    }
}

on_both_backends!(
    the_figures_of_a_known_history,
    the_database_buckets_decision_times_as_the_code_does,
    agents_are_told_the_wait_to_expect,
    a_bad_window_is_refused,
);
