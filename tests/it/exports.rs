//! Exports: decided approvals as JSONL (for admins, the CLI, and keys an
//! admin allowed) and the audit log as CSV and JSONL, their content and
//! filters, their refusals, and a large export that streams.

use crate::common::*;
use holdpoint::server::domain::{chain_hash, NewAuditEntry, GENESIS_HASH};
use holdpoint::testkit::Backend;
use serde_json::{json, Value};

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

async fn get_text(
    app: &TestApp,
    path: &str,
    key: Option<&str>,
    cookie: Option<&str>,
) -> (u16, String, String) {
    let mut request = app.client.get(app.url(path));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = content_type_of(&response);
    (status, content_type, response.text().await.unwrap())
}

/// Three approvals decided (one denied with a reason), one cancelled, one
/// left pending.
async fn decided_history(app: &TestApp) -> String {
    let admin = app.login(ADMIN).await;
    for n in 1..=2 {
        let body = json!({"title": format!("Refund {n}"), "action": "billing.refund",
                          "data": {"amount_cents": n * 100}});
        let id = app.create(&body).await.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(app.decide(&admin, &id, "approve", None).await.status(), 200);
    }
    let denied = app.create_ok("Send the campaign").await;
    let id = denied["id"].as_str().unwrap();
    let answer = app
        .decide(&admin, id, "deny", Some("Wrong audience, use the EU list"))
        .await;
    assert_eq!(answer.status(), 200);
    let cancelled = app.create_ok("Delete the rows").await;
    let path = format!(
        "/api/v1/approvals/{}/cancel",
        cancelled["id"].as_str().unwrap()
    );
    assert_eq!(app.post(&app.key, &path).await.status(), 200);
    app.create_ok("Still waiting").await;
    admin
}

async fn decisions_are_exported_to_those_allowed(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = decided_history(&app).await;

    // A key reads decisions only once an admin allows it.
    let (status, content_type, body) =
        get_text(&app, "/api/v1/decisions", Some(&app.key), None).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(content_type, "application/problem+json");
    assert!(body.contains("allow-decisions"), "{body}");
    let allowed = app
        .command(&["admin", "allow-decisions", "--name", "billing-agent"])
        .await;
    assert!(allowed.status.success(), "{allowed:?}");

    let (status, content_type, body) =
        get_text(&app, "/api/v1/decisions", Some(&app.key), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(content_type, "application/x-ndjson");
    let all = lines(&body);
    assert_eq!(all.len(), 4, "the pending one is not a decision: {body}");
    let denial = all.iter().find(|l| l["outcome"] == "denied").unwrap();
    assert_eq!(denial["title"], "Send the campaign");
    assert_eq!(denial["reason"], "Wrong audience, use the EU list");
    assert_eq!(denial["decided_by"], ADMIN);
    assert_eq!(denial["agent"], "billing-agent");
    assert!(denial["decision_seconds"].as_f64().unwrap() >= 0.0);
    let refund = all.iter().find(|l| l["title"] == "Refund 2").unwrap();
    assert_eq!(refund["data"], json!({"amount_cents": 200}));
    assert_eq!(refund["action"], "billing.refund");
    let cancelled = all.iter().find(|l| l["outcome"] == "cancelled").unwrap();
    assert!(cancelled["decision_seconds"].is_null());

    // Filters: outcome, kind, agent, time.
    let only = |query: &'static str| {
        let app = &app;
        async move {
            let (status, _, body) = get_text(
                app,
                &format!("/api/v1/decisions?{query}"),
                Some(&app.key),
                None,
            )
            .await;
            assert_eq!(status, 200, "{query}: {body}");
            lines(&body)
        }
    };
    assert_eq!(only("outcome=denied").await.len(), 1);
    assert_eq!(only("outcome=approved,cancelled").await.len(), 3);
    assert_eq!(only("kind=billing.refund").await.len(), 2);
    assert_eq!(only("kind=email.send_campaign").await.len(), 2);
    assert_eq!(only("kind=none").await.len(), 0);
    assert_eq!(only("agent=someone-else").await.len(), 0);
    assert_eq!(only("since=2000-01-01&until=2999-01-01").await.len(), 4);
    assert_eq!(only("since=2999-01-01").await.len(), 0);

    // Bad filters are problems, with the right status.
    let problem = assert_problem(
        app.get(&app.key, "/api/v1/decisions?outcome=pending").await,
        422,
        "invalid_outcome",
    )
    .await;
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("approved, denied"));
    assert_problem(
        app.get(&app.key, "/api/v1/decisions?since=yesterday").await,
        422,
        "invalid_time",
    )
    .await;

    // Admins export the same lines from the browser; no one else does.
    let (status, _, from_page) =
        get_text(&app, "/exports/decisions.jsonl", None, Some(&admin)).await;
    assert_eq!(status, 200);
    assert_eq!(lines(&from_page), all);
    let approver = app.login(APPROVER).await;
    let (status, content_type, _) =
        get_text(&app, "/exports/decisions.jsonl", None, Some(&approver)).await;
    assert_eq!(
        (status, content_type.as_str()),
        (403, "application/problem+json")
    );
    let (status, _, _) = get_text(&app, "/exports/decisions.jsonl", None, None).await;
    assert_eq!(status, 401);

    // And the CLI, for scripts.
    let output = app
        .command(&["export", "decisions", "--outcome", "denied"])
        .await;
    assert!(output.status.success(), "{output:?}");
    let from_cli = lines(&String::from_utf8(output.stdout).unwrap());
    assert_eq!(from_cli, vec![denial.clone()]);
    let refused = app
        .command(&["export", "decisions", "--since", "soon"])
        .await;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("since must be a date"));

    // Refused again: at once.
    app.command(&[
        "admin",
        "allow-decisions",
        "--name",
        "billing-agent",
        "--refuse",
    ])
    .await;
    let (status, _, _) = get_text(&app, "/api/v1/decisions", Some(&app.key), None).await;
    assert_eq!(status, 403);
}

async fn the_audit_log_exports_as_csv_and_jsonl(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = decided_history(&app).await;
    let count: Vec<(i64,)> = app.query_sql("SELECT COUNT(*) FROM audit_events").await;

    let (status, content_type, body) =
        get_text(&app, "/exports/audit.jsonl", None, Some(&admin)).await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/x-ndjson")
    );
    let entries = lines(&body);
    assert_eq!(entries.len() as i64, count[0].0);
    // The export is enough to check the chain anywhere: every hash follows.
    let mut prev = GENESIS_HASH.to_owned();
    for entry in &entries {
        let text = |name: &str| entry[name].as_str().map(str::to_owned);
        let content = NewAuditEntry {
            at: entry["at"].as_i64().unwrap(),
            kind: text("kind").unwrap(),
            actor: text("actor").unwrap(),
            approval_id: text("approval_id"),
            subject: text("subject"),
            detail: text("detail"),
        };
        let hash = chain_hash(&prev, entry["seq"].as_i64().unwrap(), &content);
        assert_eq!(entry["hash"], hash.as_str());
        prev = hash;
    }

    let (status, content_type, csv) =
        get_text(&app, "/exports/audit.csv?kind=denied", None, Some(&admin)).await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "text/csv; charset=utf-8")
    );
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0],
        "seq,time,kind,actor,approval_id,subject,detail,hash"
    );
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(rows[1].contains(",denied,"), "{csv}");
    assert!(
        rows[1].contains("\"Wrong audience, use the EU list\""),
        "{csv}"
    );

    let approver = app.login(APPROVER).await;
    let (status, _, _) = get_text(&app, "/exports/audit.csv", None, Some(&approver)).await;
    assert_eq!(status, 403);
    let (status, _, body) = get_text(
        &app,
        "/exports/audit.csv?since=last+week",
        None,
        Some(&admin),
    )
    .await;
    assert_eq!(status, 422, "{body}");
}

/// Writes `rows` decided approvals for the app's key, straight into the
/// database.
async fn fill(app: &TestApp, rows: i64) {
    let columns = "(id, api_key_id, status, title, body_html, data_json, action, reason, \
                   decided_by, decided_at, created_at, expires_at)";
    let values = |id: &str| {
        format!(
            "SELECT {id}, (SELECT id FROM api_keys WHERE name = 'billing-agent'), 'denied', \
             'Refund ' || i, '', '{{\"n\": 1}}', 'billing.refund', 'Reason ' || i, \
             (SELECT id FROM users WHERE email = '{ADMIN}'), 1700000000000 + i, \
             1700000000000 + i - 1000, 1700000000000 + i + 86400000"
        )
    };
    let sql = if app.database_url.starts_with("postgres") {
        format!(
            "INSERT INTO approvals {columns} {} FROM generate_series(1::bigint, {rows}::bigint) AS i",
            values("'apr_' || lpad(i::text, 26, '0')")
        )
    } else {
        format!(
            "INSERT INTO approvals {columns} \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) \
             {} FROM n",
            values("printf('apr_%026d', i)")
        )
    };
    app.execute_sql(&sql).await;
}

async fn a_large_export_streams(backend: Backend) {
    let app = spawn_app(backend).await;
    fill(&app, 100_000).await;
    let admin = app.login(ADMIN).await;
    let response = app
        .client
        .get(app.url("/exports/decisions.jsonl"))
        .header("cookie", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Streamed: sent in chunks as it is read, not measured up front.
    assert!(response.headers().get("content-length").is_none());
    assert_eq!(
        response.headers().get("transfer-encoding").unwrap(),
        "chunked"
    );
    let mut count = 0;
    let mut last = String::new();
    let mut response = response;
    let mut carry = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        carry.extend_from_slice(&chunk);
        while let Some(end) = carry.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = carry.drain(..=end).collect();
            count += 1;
            last = String::from_utf8(line).unwrap();
        }
    }
    assert_eq!(count, 100_000);
    let last: Value = serde_json::from_str(&last).unwrap();
    assert_eq!(last["title"], "Refund 100000");
}

on_both_backends!(
    decisions_are_exported_to_those_allowed,
    the_audit_log_exports_as_csv_and_jsonl,
    a_large_export_streams,
);
