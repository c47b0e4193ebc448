//! No way past a gate of the agent's choosing. A policy never fails open:
//! a condition the request's own `data` keeps from being evaluated (a
//! string where a number is compared, `null`, a missing or nested-missing
//! field, a wrong type) makes a gate or deny policy apply, with the reason
//! on the card and in the audit log, and an auto or sample policy not
//! apply. And policies and the re-raise guard belong to the agent (its
//! keys' shared name), so a rotated key, or a second live key, is held to
//! them as the first was.

use crate::common::*;
use holdpoint::testkit::{self, Backend};
use serde_json::{json, Value};

/// Data shapes on which `data.amount_cents > 50000` and
/// `data.customer.tier == "gold"` cannot be evaluated.
fn unevaluable_shapes() -> Vec<(&'static str, Value)> {
    vec![
        (
            "a string",
            // (`tier == "gold"` on a number is simply false in CEL, which
            // defines equality across types: the field must be unreadable.)
            json!({"amount_cents": "90000", "customer": "gold"}),
        ),
        ("null", json!({"amount_cents": null, "customer": null})),
        ("missing", json!({})),
        (
            "a wrong type",
            json!({"amount_cents": [90000], "customer": ["gold"]}),
        ),
        (
            "nested missing",
            json!({"amount_cents": {"value": 90000}, "customer": {}}),
        ),
    ]
}

async fn restrictive_policies_fail_closed(backend: Backend) {
    let app = spawn_app(backend).await;
    // Everything is approved at once, except what the narrower policies
    // hold back.
    app.set_policy("everything", &["--action", "*", "--mode", "auto"])
        .await;
    app.set_policy(
        "large-refunds",
        &[
            "--action",
            "billing.refund",
            "--mode",
            "gate",
            "--condition",
            "data.amount_cents > 50000",
        ],
    )
    .await;
    app.set_policy(
        "gold-exports",
        &[
            "--action",
            "crm.export",
            "--mode",
            "deny",
            "--deny-reason",
            "Gold customers are never exported",
            "--condition",
            "data.customer.tier == \"gold\"",
        ],
    )
    .await;

    // Evaluable and not holding: the broad auto policy approves.
    let small = app.create_json(json!({"title": "Refund 900", "action": "billing.refund", "data": {"amount_cents": 900}}),
    )
    .await;
    assert_eq!(small["status"], "approved");
    assert_eq!(small["policy_note"], Value::Null);

    let admin = app.login(ADMIN).await;
    for (shape, data) in unevaluable_shapes() {
        let refund = app.create_json(json!({"title": format!("Refund ({shape})"), "action": "billing.refund", "data": data}),
        )
        .await;
        assert_eq!(refund["status"], "pending", "{shape}: {refund}");
        let note = refund["policy_note"].as_str().unwrap_or_default();
        assert!(
            note.contains("large-refunds") && note.contains("could not be evaluated"),
            "{shape}: {refund}"
        );
        // The card says so, and so does the `created` audit entry.
        let id = refund["id"].as_str().unwrap();
        let card = app.rpc_ok(&admin, "approval_card", &[("id", id)]).await;
        assert!(
            card.to_string().contains("could not be evaluated"),
            "{shape}: {card}"
        );
        let audit = app
            .rpc_ok(
                &admin,
                "audit_log",
                &[("approval", id), ("kind", "created")],
            )
            .await;
        let detail = audit["entries"][0]["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("could not be evaluated"),
            "{shape}: {audit}"
        );

        let export = app
            .create_json(
                json!({"title": format!("Export ({shape})"), "action": "crm.export", "data": data}),
            )
            .await;
        assert_eq!(export["status"], "denied", "{shape}: {export}");
        assert_eq!(export["decided_by"], "policy:gold-exports");
        let reason = export["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("Gold customers are never exported")
                && reason.contains("could not be evaluated"),
            "{shape}: {reason}"
        );
    }
}

async fn permissive_policies_do_not_apply_when_unevaluable(backend: Backend) {
    let app = spawn_app(backend).await;
    app.set_policy(
        "small-refunds",
        &[
            "--action",
            "billing.refund",
            "--mode",
            "auto",
            "--condition",
            "data.amount_cents <= 1000",
        ],
    )
    .await;
    app.set_policy(
        "sampled-refunds",
        &[
            "--action",
            "billing.*",
            "--mode",
            "sample",
            "--sample-percent",
            "10",
            "--condition",
            "data.customer.tier == \"basic\"",
        ],
    )
    .await;
    for (shape, data) in unevaluable_shapes() {
        let refund = app.create_json(json!({"title": format!("Refund ({shape})"), "action": "billing.refund", "data": data}),
        )
        .await;
        // Neither lets it through: a person decides.
        assert_eq!(refund["status"], "pending", "{shape}: {refund}");
        assert_eq!(refund["policy_note"], Value::Null, "{shape}");
    }
}

/// `holdpoint admin rotate-key`: the agent's new key (the old one stays
/// live until revoked).
async fn rotate(app: &TestApp, agent: &str) -> String {
    let output = app.command(&["admin", "rotate-key", "--name", agent]).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_owned()
}

async fn create_with(app: &TestApp, key: &str, body: &Value) -> Value {
    let response = testkit::create_approval(&app.client, &app.server, key, body).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn policies_follow_the_agent_across_its_keys(backend: Backend) {
    let app = spawn_app(backend).await;
    app.set_policy("everything", &["--action", "*", "--mode", "auto"])
        .await;
    app.set_policy(
        "agent-refunds",
        &[
            "--action",
            "billing.*",
            "--agent",
            "billing-agent",
            "--mode",
            "deny",
            "--deny-reason",
            "This agent never refunds",
        ],
    )
    .await;
    let refund = json!({"title": "Refund 900", "action": "billing.refund",
                        "data": {"amount_cents": 900}});
    assert_eq!(
        create_with(&app, &app.key, &refund).await["status"],
        "denied"
    );

    // The rotated key is the same agent: the same policy rules it.
    let rotated = rotate(&app, "billing-agent").await;
    assert_ne!(rotated, app.key);
    let by_rotated = create_with(&app, &rotated, &refund).await;
    assert_eq!(by_rotated["status"], "denied", "{by_rotated}");
    assert_eq!(by_rotated["decided_by"], "policy:agent-refunds");

    // With every key of the agent revoked, the policy says so.
    let revoked = app
        .command(&["admin", "revoke-key", "--name", "billing-agent"])
        .await;
    assert!(revoked.status.success());
    let listed = app.command(&["policy", "list"]).await;
    let listed = String::from_utf8_lossy(&listed.stdout);
    let line = listed
        .lines()
        .find(|line| line.contains("agent-refunds"))
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(line.contains("revoked"), "{listed}");
    let admin = app.login(ADMIN).await;
    let policies = app.rpc_ok(&admin, "policies", &[]).await;
    assert!(
        policies
            .to_string()
            .contains("revoked: no live key has this name"),
        "{policies}"
    );
}

async fn the_re_raise_guard_follows_the_agent_across_its_keys(backend: Backend) {
    let app = spawn_app(backend).await;
    app.set_policy(
        "refunds",
        &[
            "--action",
            "billing.refund",
            "--mode",
            "gate",
            "--deny-repeats",
        ],
    )
    .await;
    let second_key = rotate(&app, "billing-agent").await;
    let body = json!({"title": "Refund order 1234", "action": "billing.refund",
                      "data": {"order": 1234, "amount_cents": 5000}});
    let first = create_with(&app, &app.key, &body).await;
    let admin = app.login(ADMIN).await;
    let id = first["id"].as_str().unwrap();
    let denied = app
        .decide(&admin, id, "deny", Some("Already refunded"))
        .await;
    assert_eq!(denied.status(), 200);

    // The same request through the agent's other live key is the same
    // agent asking again: denied at once.
    let again = create_with(&app, &second_key, &body).await;
    assert_eq!(again["status"], "denied", "{again}");
    assert_eq!(again["decided_by"], "policy:refunds");
    assert_eq!(again["repeats_denial"]["id"], id);
}

/// A stored condition that a newer bound refuses (saved before it, or
/// written into the database) cannot be evaluated on any request: its gate
/// policy holds back what it covers instead of dropping out of the order.
async fn a_stored_condition_that_no_longer_compiles_fails_closed(backend: Backend) {
    let app = spawn_app(backend).await;
    app.set_policy("everything", &["--action", "*", "--mode", "auto"])
        .await;
    app.set_policy(
        "large-refunds",
        &[
            "--action",
            "billing.refund",
            "--mode",
            "gate",
            "--condition",
            "data.amount_cents > 50000",
        ],
    )
    .await;
    app.execute_sql(
        "UPDATE policies SET condition = 'data.a.all(x, data.b.all(y, x == y))' \
         WHERE name = 'large-refunds'",
    )
    .await;
    let refund = app
        .create_json(json!({"title": "Refund 900", "action": "billing.refund",
                            "data": {"amount_cents": 900}}))
        .await;
    assert_eq!(refund["status"], "pending", "{refund}");
    let note = refund["policy_note"].as_str().unwrap_or_default();
    assert!(note.contains("no longer compiles"), "{note}");
    let listed = app.command(&["policy", "list"]).await;
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("no longer compiles"), "{listed}");
}

on_both_backends!(
    a_stored_condition_that_no_longer_compiles_fails_closed,
    restrictive_policies_fail_closed,
    permissive_policies_do_not_apply_when_unevaluable,
    policies_follow_the_agent_across_its_keys,
    the_re_raise_guard_follows_the_agent_across_its_keys,
);
