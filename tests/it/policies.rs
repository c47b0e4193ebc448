//! Policies: each mode rules at once, the most specific policy wins, CEL
//! conditions are refused on save with a position, a flag in sampled
//! review puts the policy back to gate, the re-raise guard, an automatic
//! decision takes a person's path (outbox and webhook, waits, audit,
//! stats), and sampling honours its rate over 10,000 decisions.

use crate::common::*;
use holdpoint::model::{ActionKind, Title};
use holdpoint::server::service::CreateApproval;
use holdpoint::testkit::{self, receiver::Receiver, Backend};
use serde_json::{json, Value};
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(20);

fn refund(amount_cents: i64) -> Value {
    json!({"title": format!("Refund {amount_cents} cents"), "action": "billing.refund",
           "data": {"amount_cents": amount_cents, "currency": "USD"}})
}

async fn each_mode_rules_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    app.set_policy(
        "small-refunds",
        &[
            "--action",
            "billing.refund",
            "--mode",
            "auto",
            "--condition",
            "data.amount_cents <= 1000 && data.currency == \"USD\"",
        ],
    )
    .await;
    app.set_policy(
        "no-deletes",
        &[
            "--action",
            "db.*",
            "--mode",
            "deny",
            "--deny-reason",
            "Agents never delete rows",
        ],
    )
    .await;
    app.set_policy(
        "mail",
        &[
            "--action",
            "email.*",
            "--mode",
            "sample",
            "--sample-percent",
            "100",
        ],
    )
    .await;
    app.set_policy("reports", &["--action", "report.send", "--mode", "gate"])
        .await;

    let small = app.create_json(refund(900)).await;
    assert_eq!(small["status"], "approved");
    assert_eq!(small["decided_by"], "policy:small-refunds");
    assert!(small["decided_at"].is_string());

    // The condition does not hold: nothing else matches, a person decides.
    let large = app.create_json(refund(90_000)).await;
    assert_eq!(large["status"], "pending");

    let delete = app
        .create_json(json!({"title": "Delete 40 rows", "action": "db.delete_rows"}))
        .await;
    assert_eq!(delete["status"], "denied");
    assert_eq!(delete["decided_by"], "policy:no-deletes");
    assert_eq!(delete["reason"], "Agents never delete rows");

    let mail = app
        .create_json(json!({"title": "Send the digest", "action": "email.send"}))
        .await;
    assert_eq!(mail["status"], "approved");
    assert_eq!(mail["decided_by"], "policy:mail");

    let report = app
        .create_json(json!({"title": "Send the report", "action": "report.send"}))
        .await;
    assert_eq!(report["status"], "pending");

    // Listed in the order they are tried, with the modes.
    let listed = app.command(&["policy", "list", "--json"]).await;
    assert!(listed.status.success());
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let names: Vec<&str> = listed["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    // Exact kinds first, then families (equally specific: the older first).
    assert_eq!(names, ["small-refunds", "reports", "no-deletes", "mail"]);
}

async fn the_most_specific_policy_wins(backend: Backend) {
    let app = spawn_app(backend).await;
    let other_key = app.new_key("ops-agent", None).await;
    app.set_policy(
        "everything",
        &[
            "--action",
            "*",
            "--mode",
            "deny",
            "--deny-reason",
            "Not yet",
        ],
    )
    .await;
    app.set_policy("billing", &["--action", "billing.*", "--mode", "gate"])
        .await;
    app.set_policy("refunds", &["--action", "billing.refund", "--mode", "auto"])
        .await;
    app.set_policy(
        "large-refunds",
        &[
            "--action",
            "billing.refund",
            "--mode",
            "gate",
            "--condition",
            "data.amount_cents > 5000",
        ],
    )
    .await;
    app.set_policy(
        "ops-refunds",
        &[
            "--action",
            "billing.refund",
            "--agent",
            "ops-agent",
            "--mode",
            "deny",
            "--deny-reason",
            "ops does not refund",
        ],
    )
    .await;

    // An exact kind beats a family, which beats everything.
    assert_eq!(
        app.create_json(refund(100)).await["decided_by"],
        "policy:refunds"
    );
    let charge = app
        .create_json(json!({"title": "Charge", "action": "billing.charge"}))
        .await;
    assert_eq!(charge["status"], "pending");
    let other = app
        .create_json(json!({"title": "Ping", "action": "net.ping"}))
        .await;
    assert_eq!(other["decided_by"], "policy:everything");
    let no_kind = app.create_json(json!({"title": "Something"})).await;
    assert_eq!(no_kind["decided_by"], "policy:everything");
    // A condition narrows further.
    assert_eq!(app.create_json(refund(9_000)).await["status"], "pending");
    // An agent narrows more than a condition.
    let response =
        testkit::create_approval(&app.client, &app.server, &other_key, &refund(9_000)).await;
    let ops: Value = response.json().await.unwrap();
    assert_eq!(ops["decided_by"], "policy:ops-refunds");
    assert_eq!(ops["reason"], "ops does not refund");
}

async fn conditions_are_refused_on_save(backend: Backend) {
    let app = spawn_app(backend).await;
    let output = app
        .command(&[
            "policy",
            "set",
            "broken",
            "--action",
            "billing.refund",
            "--mode",
            "auto",
            "--condition",
            "data.amount_cents <= ",
        ])
        .await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("condition: line 1, column"), "{stderr}");

    let admin = app.login(ADMIN).await;
    let answer = app
        .rpc_ok(
            &admin,
            "save_policy",
            &[
                ("draft[name]", "unknown-field"),
                ("draft[action_pattern]", "billing.refund"),
                ("draft[mode]", "auto"),
                ("draft[condition]", "data.amount_cents < 10 &&\namount < 5"),
            ],
        )
        .await;
    let problems = answer["Refused"].as_array().expect("refused");
    assert_eq!(problems.len(), 1, "{answer}");
    assert_eq!(problems[0]["field"], "condition");
    let message = problems[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("line 2, column 1: amount is not a request field"),
        "{message}"
    );

    // Every field is checked, each problem beside its own field.
    let answer = app
        .rpc_ok(
            &admin,
            "save_policy",
            &[
                ("draft[name]", "Bad Name"),
                ("draft[action_pattern]", "billing.*.x"),
                ("draft[agent]", "no-such-agent"),
                ("draft[mode]", "sample"),
            ],
        )
        .await;
    let fields: Vec<&str> = answer["Refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["name", "action_pattern", "agent", "sample_percent"]
    );
    // A form the server cannot read is a 400, not a 500.
    for (field, value) in [
        ("draft[mode]", "sometimes"),
        ("draft[sample_percent]", "lots"),
    ] {
        let refused = app
            .rpc(
                &admin,
                "save_policy",
                &[
                    ("draft[name]", "unreadable"),
                    ("draft[action_pattern]", "*"),
                    (field, value),
                ],
            )
            .await;
        assert_eq!(refused.status(), 400, "{field}={value}");
    }
    // Nothing was saved.
    let listed = app.command(&["policy", "list", "--json"]).await;
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["policies"], json!([]));

    // "Try it" against a past request.
    let past = app.create_json(refund(700)).await;
    let id = past["id"].as_str().unwrap();
    let trial = app
        .rpc_ok(
            &admin,
            "try_condition",
            &[
                ("condition", "data.amount_cents <= 1000"),
                ("approval_id", id),
            ],
        )
        .await;
    assert_eq!(trial["Evaluated"]["matches"], true, "{trial}");
    let trial = app
        .rpc_ok(
            &admin,
            "try_condition",
            &[("condition", "data.country == 'DE'"), ("approval_id", id)],
        )
        .await;
    assert_eq!(trial["Failed"]["field"], "condition", "{trial}");
}

async fn a_flag_puts_the_policy_back_to_gate(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.login(ADMIN).await;
    // People approved two sends before the policy.
    for n in 1..=2 {
        let body = json!({"title": format!("Send {n}"), "action": "email.send"});
        let id = app.create_json(body).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(app.decide(&admin, &id, "approve", None).await.status(), 200);
    }
    let before = app.rpc_ok(&admin, "policies", &[]).await;
    assert_eq!(before["evidence"][0]["streak"], 2);
    app.set_policy(
        "mail",
        &[
            "--action",
            "email.*",
            "--mode",
            "sample",
            "--sample-percent",
            "100",
        ],
    )
    .await;
    let sent = app
        .create_json(json!({"title": "Send to 4,812 people", "action": "email.send"}))
        .await;
    assert_eq!(sent["status"], "approved");
    let id = sent["id"].as_str().unwrap();

    let queue = app.rpc_ok(&admin, "sampled_reviews", &[]).await;
    assert_eq!(queue["waiting"][0]["approval_id"], id);
    assert_eq!(queue["waiting"][0]["policy_name"], "mail");

    // A flag needs a reason.
    let refused = app
        .rpc(
            &admin,
            "review_sample",
            &[("approval_id", id), ("flag", " ")],
        )
        .await;
    assert_eq!(refused.status(), 422);
    let flagged = app
        .rpc_ok(
            &admin,
            "review_sample",
            &[
                ("approval_id", id),
                ("flag", "Went to the unsubscribed list"),
            ],
        )
        .await;
    assert_eq!(flagged["state"], "flagged");
    // Reviewed once only.
    let again = app
        .rpc(&admin, "review_sample", &[("approval_id", id)])
        .await;
    assert_eq!(again.status(), 404);

    // The policy is back to gate, and says why.
    let data = app.rpc_ok(&admin, "policies", &[]).await;
    let mail = &data["policies"][0];
    assert_eq!(mail["mode"], "gate");
    assert!(mail["reverted"]
        .as_str()
        .unwrap()
        .contains("Went to the unsubscribed list"));
    // The admins' inboxes say so, until one puts the notice away.
    let notices = app.inbox(&admin).await["flag_notices"].clone();
    assert_eq!(notices[0]["approval_id"], id);
    assert_eq!(notices[0]["note"], "Went to the unsubscribed list");
    let approver = app.login(APPROVER).await;
    assert_eq!(app.inbox(&approver).await["flag_notices"], json!([]));
    // The next request waits for a person.
    let next = app
        .create_json(json!({"title": "Send again", "action": "email.send"}))
        .await;
    assert_eq!(next["status"], "pending");

    // Audited: the flag and the policy's change, with before and after.
    let audit = app
        .rpc_ok(&admin, "audit_log", &[("kind", "policy_reverted")])
        .await;
    let entry = &audit["entries"][0];
    let detail: Value = serde_json::from_str(entry["detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["before"]["mode"], "sample");
    assert_eq!(detail["after"]["mode"], "gate");
    let audit = app
        .rpc_ok(&admin, "audit_log", &[("kind", "sample_flagged")])
        .await;
    assert_eq!(
        audit["entries"][0]["detail"],
        "Went to the unsubscribed list"
    );

    // A flag is a setback like a denial: the streak starts again.
    assert_eq!(data["evidence"][0]["action"], "email.send");
    assert_eq!(data["evidence"][0]["streak"], 0);

    app.rpc_ok(&admin, "acknowledge_flag", &[("approval_id", id)])
        .await;
    assert_eq!(app.inbox(&admin).await["flag_notices"], json!([]));
}

async fn a_repeated_denial_is_shown_and_may_be_denied_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.login(ADMIN).await;
    let body = json!({"title": "Refund order 1234", "action": "billing.refund",
                      "data": {"order": 1234, "amount_cents": 5000}});
    let first = app.create_json(body.clone()).await;
    assert_eq!(first["repeats_denial"], Value::Null);
    let id = first["id"].as_str().unwrap();
    let denied = app
        .decide(&admin, id, "deny", Some("Already refunded by hand"))
        .await;
    assert_eq!(denied.status(), 200);

    // The same request again (keys in another order: the same data).
    let again = app
        .create_json(
            json!({"title": "Refund order 1234, please", "action": "billing.refund",
               "data": {"amount_cents": 5000, "order": 1234}}),
        )
        .await;
    assert_eq!(again["status"], "pending");
    assert_eq!(again["repeats_denial"]["id"], id);
    assert_eq!(
        again["repeats_denial"]["reason"],
        "Already refunded by hand"
    );
    assert!(again["repeats_denial"]["denied_by"].is_string());
    // Other data is not a repeat.
    let other = app.create_json(refund(5000)).await;
    assert_eq!(other["repeats_denial"], Value::Null);

    // A policy may deny repeats at once, with the earlier reason.
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
    let third = app.create_json(body).await;
    assert_eq!(third["status"], "denied");
    assert_eq!(third["decided_by"], "policy:refunds");
    assert!(
        third["reason"]
            .as_str()
            .unwrap()
            .ends_with(": Already refunded by hand"),
        "{third}"
    );
    // Anything else still waits for a person.
    assert_eq!(app.create_json(refund(5001)).await["status"], "pending");
}

async fn an_automatic_decision_takes_a_persons_path(backend: Backend) {
    let env = &[("HOLDPOINT_WEBHOOK_ALLOW_PRIVATE", "true")];
    let app = spawn_app_with(backend, env).await;
    let receiver = Receiver::start().await;
    let (key, secret) = testkit::create_key_with_webhook(
        &app.bin,
        &app.database_url,
        env,
        "refunder",
        &receiver.url("/hook"),
    )
    .await;
    app.set_policy("refunds", &["--action", "billing.refund", "--mode", "auto"])
        .await;
    let response = testkit::create_approval(&app.client, &app.server, &key, &refund(100)).await;
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["status"], "approved");

    // The outbox and the signed webhook.
    let delivery = receiver.wait_for("/hook", 1, PATIENCE).await.remove(0);
    let body = testkit::receiver::verify(&secret, &delivery).expect("signed");
    assert_eq!(body["type"], "approval.decided");
    assert_eq!(body["data"]["status"], "approved");
    assert_eq!(body["data"]["decided_by"], "policy:refunds");

    // A wait answers at once; a read says the same.
    let waited: Value = app
        .client
        .get(app.url(&format!("/api/v1/approvals/{id}/wait?timeout=30")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(waited["status"], "approved");

    // The audit log: created by the key, approved by the policy.
    let admin = app.login(ADMIN).await;
    let audit = app
        .rpc_ok(&admin, "audit_log", &[("kind", "approved")])
        .await;
    assert_eq!(audit["entries"][0]["approval_id"], id);
    assert!(
        audit["entries"][0]["actor"].to_string().contains("refunds"),
        "{audit}"
    );

    // The statistics count the outcome.
    let stats = app.rpc_ok(&admin, "stats", &[("window", "30d")]).await;
    assert!(stats.to_string().contains("billing.refund"), "{stats}");
    assert_eq!(app.inbox(&admin).await["approvals"], json!([]));
}

async fn sampling_honours_its_rate_over_10_000_decisions(backend: Backend) {
    let app = spawn_app_on_clock(
        backend,
        &[
            ("HOLDPOINT_SAMPLE_SEED", "20261130"),
            ("HOLDPOINT_CREATE_RATE", "1000000/s"),
            ("HOLDPOINT_CREATE_BURST", "1000000"),
        ],
    )
    .await;
    app.set_policy(
        "mail",
        &[
            "--action",
            "email.send",
            "--mode",
            "sample",
            "--sample-percent",
            "10",
        ],
    )
    .await;
    let service = app.service();
    let key = service
        .authenticate_key_to_create(&app.key)
        .await
        .unwrap()
        .expect("the key");
    const DECISIONS: usize = 10_000;
    let request = |n: usize| CreateApproval {
        title: Title::parse(&format!("Send mail {n}")).unwrap(),
        body_html: String::new(),
        data: json!({"n": n}).as_object().unwrap().clone(),
        action: Some(ActionKind::parse("email.send").unwrap()),
        approver_email: None,
        group_name: None,
        expires_in: None,
    };
    // In rounds of 250 at once, as concurrent agents would.
    for round in 0..DECISIONS / 250 {
        let creates = (0..250).map(|i| service.create(&key, request(round * 250 + i), None));
        for created in futures_util::future::join_all(creates).await {
            assert_eq!(created.unwrap().approval.status.as_str(), "approved");
        }
    }
    let sampled: Vec<(i64,)> = app
        .query_sql("SELECT COUNT(*) FROM sampled_reviews WHERE policy_name = 'mail'")
        .await;
    let sampled = sampled[0].0;
    // Binomial(10,000, 0.1): mean 1,000, standard deviation 30. Four
    // standard deviations either side: a fair sampler falls outside once
    // in about 16,000 runs (the seed makes this run's draw fixed).
    assert!(
        (880..=1_120).contains(&sampled),
        "{sampled} of {DECISIONS} sampled at 10 %"
    );
}

on_both_backends!(
    each_mode_rules_at_once,
    the_most_specific_policy_wins,
    conditions_are_refused_on_save,
    a_flag_puts_the_policy_back_to_gate,
    a_repeated_denial_is_shown_and_may_be_denied_at_once,
    an_automatic_decision_takes_a_persons_path,
    sampling_honours_its_rate_over_10_000_decisions,
    evidence_suggests_sampling_and_one_click_applies_it,
);

async fn evidence_suggests_sampling_and_one_click_applies_it(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("HOLDPOINT_SUGGEST_STREAK", "3"),
            ("HOLDPOINT_SUGGEST_DAYS", "0"),
            ("HOLDPOINT_SUGGEST_APPROVERS", "1"),
            ("HOLDPOINT_SUGGEST_SAMPLE_PERCENT", "25"),
        ],
    )
    .await;
    let admin = app.login(ADMIN).await;
    let denied = app.create_json(refund(1)).await;
    let id = denied["id"].as_str().unwrap();
    assert_eq!(
        app.decide(&admin, id, "deny", Some("Wrong customer"))
            .await
            .status(),
        200
    );
    for n in 2..=4 {
        let id = app.create_json(refund(n)).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(app.decide(&admin, &id, "approve", None).await.status(), 200);
    }

    let data = app.rpc_ok(&admin, "policies", &[]).await;
    let kind = data["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|line| line["action"] == "billing.refund" && line["agent"].is_null())
        .expect("the kind's evidence")
        .clone();
    assert_eq!(kind["decided"], 4);
    assert_eq!(kind["approved"], 3);
    assert_eq!(kind["streak"], 3);
    assert_eq!(kind["latest_denials"], json!(["Wrong customer"]));
    let suggestion = &kind["suggestion"];
    let text = suggestion["text"].as_str().expect("a suggestion");
    assert_eq!(
        text,
        "approved 3 in a row over 0 days by 1 person; consider sampling 25 %"
    );
    assert_eq!(suggestion["evidence"].as_array().unwrap().len(), 3);
    let agent_line = data["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|line| line["agent"] == "billing-agent")
        .expect("the agent's evidence");
    assert_eq!(agent_line["streak"], 3);

    // The Stats page shows admins the same evidence; others, none.
    let on_stats = app.rpc_ok(&admin, "policy_evidence", &[]).await;
    assert_eq!(on_stats[0], data["evidence"]);
    let approver = app.login(APPROVER).await;
    assert_eq!(
        app.rpc_ok(&approver, "policy_evidence", &[]).await,
        Value::Null
    );

    // Applied with one click: the suggested draft, saved, and audited.
    let draft = &suggestion["draft"];
    let saved = app
        .rpc_ok(
            &admin,
            "save_policy",
            &[
                ("draft[name]", draft["name"].as_str().unwrap()),
                (
                    "draft[action_pattern]",
                    draft["action_pattern"].as_str().unwrap(),
                ),
                ("draft[mode]", "sample"),
                ("draft[sample_percent]", "25"),
                ("draft[deny_repeats]", "true"),
                ("suggestion", text),
            ],
        )
        .await;
    assert_eq!(saved["Saved"]["mode"], "sample", "{saved}");
    let audit = app
        .rpc_ok(&admin, "audit_log", &[("kind", "policy_created")])
        .await;
    let detail: Value =
        serde_json::from_str(audit["entries"][0]["detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["suggestion"], text);
    assert_eq!(detail["before"], Value::Null);
    assert_eq!(detail["after"]["sample_percent"], 25);
    // Nothing more to suggest: the kind samples now.
    let data = app.rpc_ok(&admin, "policies", &[]).await;
    assert!(data["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .all(|line| line["suggestion"].is_null()));
}
