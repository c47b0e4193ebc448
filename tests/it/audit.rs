//! The audit log: every kind of event is in it, and `holdpoint audit
//! verify` holds on an untouched database and names the entry after a row
//! is edited, inserted or deleted directly in the database.

use crate::common::*;
use holdpoint::server::domain::{chain_hash, NewAuditEntry};
use holdpoint::testkit::Backend;
use serde_json::Value;

/// An app with a little of everything in its log: approvals created,
/// approved, denied and cancelled, a sign-in and a failed one, an admin
/// action.
async fn app_with_history(backend: Backend) -> TestApp {
    let app = spawn_app(backend).await;
    let admin = app.login(ADMIN).await;
    assert_eq!(app.try_login(ADMIN, "wrong password").await.status(), 401);
    app.create_and_approve(&app.key, &admin, "Refund order 1")
        .await;
    let denied = app.create_ok("Refund order 2").await;
    let id = denied["id"].as_str().unwrap();
    let answer = app.decide(&admin, id, "deny", Some("Over the limit")).await;
    assert_eq!(answer.status(), 200);
    let cancelled = app.create_ok("Refund order 3").await;
    let path = format!(
        "/api/v1/approvals/{}/cancel",
        cancelled["id"].as_str().unwrap()
    );
    assert_eq!(app.post(&app.key, &path).await.status(), 200);
    app.rpc_ok(&admin, "create_group", &[("name", "billing")])
        .await;
    app
}

/// `holdpoint audit verify --json`: whether it succeeded, and its report.
async fn verify(app: &TestApp) -> (bool, Value, String) {
    let output = app.command(&["audit", "verify", "--json"]).await;
    let report = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.success(), report, stderr)
}

async fn entry_count(app: &TestApp) -> i64 {
    let counted: Vec<(i64,)> = app.query_sql("SELECT COUNT(*) FROM audit_events").await;
    counted[0].0
}

async fn every_event_is_logged_and_the_chain_holds(backend: Backend) {
    let app = app_with_history(backend).await;
    let kinds: Vec<(String, String)> = app
        .query_sql("SELECT kind, actor FROM audit_events ORDER BY seq")
        .await;
    let kinds: Vec<&str> = kinds.iter().map(|(kind, _)| kind.as_str()).collect();
    for expected in [
        "signed_in",
        "sign_in_failed",
        "created",
        "approved",
        "denied",
        "cancelled",
        "group_created",
    ] {
        assert!(
            kinds.contains(&expected),
            "{expected} missing from {kinds:?}"
        );
    }

    let (ok, report, stderr) = verify(&app).await;
    assert!(ok, "verify failed: {stderr}");
    assert_eq!(report["holds"], true);
    assert_eq!(report["entries"], entry_count(&app).await);
    let head: Vec<(i64, String)> = app
        .query_sql("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
        .await;
    assert_eq!(report["head"]["seq"], head[0].0);
    assert_eq!(report["head"]["hash"], head[0].1.as_str());

    // Plain text names the head too, its hash alone on stdout.
    let output = app.command(&["audit", "verify"]).await;
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), head[0].1);
}

async fn an_edited_row_is_named(backend: Backend) {
    let app = app_with_history(backend).await;
    let edited = app
        .execute_sql("UPDATE audit_events SET detail = 'Within the limit' WHERE kind = 'denied'")
        .await;
    assert_eq!(edited, 1);
    let seq: Vec<(i64,)> = app
        .query_sql("SELECT seq FROM audit_events WHERE kind = 'denied'")
        .await;

    let (ok, report, stderr) = verify(&app).await;
    assert!(!ok);
    assert_eq!(report["holds"], false);
    let named = format!("entry {} was changed", seq[0].0);
    assert!(stderr.contains(&named), "{named:?} not in {stderr}");
    assert_eq!(report["entries_before"], seq[0].0 - 1);
}

async fn a_deleted_row_is_named(backend: Backend) {
    let app = app_with_history(backend).await;
    let seq: Vec<(i64,)> = app
        .query_sql("SELECT seq FROM audit_events WHERE kind = 'approved'")
        .await;
    let seq = seq[0].0;
    let deleted = app
        .execute_sql(&format!("DELETE FROM audit_events WHERE seq = {seq}"))
        .await;
    assert_eq!(deleted, 1);
    let (ok, _, stderr) = verify(&app).await;
    assert!(!ok);
    let named = format!("entry {seq} is missing");
    assert!(stderr.contains(&named), "{named:?} not in {stderr}");

    // The last entry deleted: the head still names it.
    let app = app_with_history(backend).await;
    let last = entry_count(&app).await;
    app.execute_sql(&format!("DELETE FROM audit_events WHERE seq = {last}"))
        .await;
    let (ok, _, stderr) = verify(&app).await;
    assert!(!ok);
    let named = format!(
        "the chain ends at entry {}, but its head says {last}",
        last - 1
    );
    assert!(stderr.contains(&named), "{named:?} not in {stderr}");
}

async fn an_inserted_row_is_named(backend: Backend) {
    let app = app_with_history(backend).await;
    // A row written around the writer, with no place in the chain.
    app.execute_sql(
        "INSERT INTO audit_events (kind, actor, detail, at)
         VALUES ('approved', 'user:nobody', 'forged', 1)",
    )
    .await;
    let forged: Vec<(i64,)> = app
        .query_sql("SELECT id FROM audit_events WHERE detail = 'forged'")
        .await;
    let (ok, _, stderr) = verify(&app).await;
    assert!(!ok);
    let named = format!("row {} is not in the chain", forged[0].0);
    assert!(stderr.contains(&named), "{named:?} not in {stderr}");

    // A row given a place in the middle by someone who knows how hashes
    // are made, the entries after it moved on: the next link breaks.
    let app = app_with_history(backend).await;
    let count = entry_count(&app).await;
    app.execute_sql("UPDATE audit_events SET seq = seq + 1000 WHERE seq >= 3")
        .await;
    app.execute_sql("UPDATE audit_events SET seq = seq - 999 WHERE seq >= 1003")
        .await;
    let prev: Vec<(String,)> = app
        .query_sql("SELECT hash FROM audit_events WHERE seq = 2")
        .await;
    let forged = NewAuditEntry {
        at: 1,
        kind: "approved".into(),
        actor: "user:nobody".into(),
        detail: Some("forged".into()),
        ..NewAuditEntry::default()
    };
    app.execute_sql(&format!(
        "INSERT INTO audit_events (kind, actor, detail, at, seq, prev_hash, hash)
         VALUES ('approved', 'user:nobody', 'forged', 1, 3, '{}', '{}')",
        prev[0].0,
        chain_hash(&prev[0].0, 3, &forged)
    ))
    .await;
    assert_eq!(entry_count(&app).await, count + 1);
    let (ok, _, stderr) = verify(&app).await;
    assert!(!ok);
    assert!(
        stderr.contains("entry 4 does not follow entry 3"),
        "entry 4 not named in {stderr}"
    );
}

async fn entries_from_before_the_chain_are_chained_once(backend: Backend) {
    let app = app_with_history(backend).await;
    let count = entry_count(&app).await;
    // The state the migration leaves an older database in.
    app.execute_sql("UPDATE audit_events SET seq = NULL, prev_hash = NULL, hash = NULL")
        .await;
    app.execute_sql(&format!(
        "UPDATE audit_chain SET seq = 0, hash = '{}',
             unchained_until = (SELECT MAX(id) FROM audit_events)",
        "0".repeat(64)
    ))
    .await;
    // Any command opens the store, which chains them in order of id.
    let (ok, report, stderr) = verify(&app).await;
    assert!(ok, "verify failed: {stderr}");
    assert_eq!(report["entries"], count);
    let order: Vec<(i64, i64)> = app
        .query_sql("SELECT id, seq FROM audit_events ORDER BY seq")
        .await;
    assert!(order.windows(2).all(|pair| pair[0].0 < pair[1].0));

    // Once only: a row slipped in later without a place is not chained.
    app.execute_sql("INSERT INTO audit_events (kind, actor, at) VALUES ('approved', 'x', 1)")
        .await;
    let (ok, _, stderr) = verify(&app).await;
    assert!(!ok);
    assert!(stderr.contains("is not in the chain"), "{stderr}");
}

/// A tail cut off with the head row rewritten to the new last entry: the
/// chain alone holds, the head written down before does not.
async fn a_cut_tail_is_caught_against_a_head_written_down(backend: Backend) {
    let app = app_with_history(backend).await;
    let (ok, report, stderr) = verify(&app).await;
    assert!(ok, "{stderr}");
    let written_down = format!(
        "{}:{}",
        report["head"]["seq"],
        report["head"]["hash"].as_str().unwrap()
    );
    let holds = app
        .command(&["audit", "verify", "--expect-head", &written_down])
        .await;
    assert!(
        holds.status.success(),
        "{}",
        String::from_utf8_lossy(&holds.stderr)
    );

    let last = entry_count(&app).await;
    app.execute_sql(&format!(
        "DELETE FROM audit_events WHERE seq > {}",
        last - 2
    ))
    .await;
    app.execute_sql(&format!(
        "UPDATE audit_chain SET seq = {0}, hash = (SELECT hash FROM audit_events WHERE seq = {0})",
        last - 2
    ))
    .await;
    let (ok, _, stderr) = verify(&app).await;
    assert!(ok, "the cut chain holds on its own: {stderr}");
    let caught = app
        .command(&["audit", "verify", "--expect-head", &written_down])
        .await;
    assert!(!caught.status.success());
    let stderr = String::from_utf8_lossy(&caught.stderr);
    assert!(
        stderr.contains(&format!("entry {last}, the head written down, is missing")),
        "{stderr}"
    );
    let bad = app
        .command(&["audit", "verify", "--expect-head", "seven:abc"])
        .await;
    assert!(!bad.status.success());
}

on_both_backends!(
    a_cut_tail_is_caught_against_a_head_written_down,
    entries_from_before_the_chain_are_chained_once,
    every_event_is_logged_and_the_chain_holds,
    an_edited_row_is_named,
    a_deleted_row_is_named,
    an_inserted_row_is_named,
);
