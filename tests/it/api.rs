//! The agent REST API against a real server, on a real SQLite file and on a
//! real PostgreSQL database.

use crate::common::{assert_problem, spawn_app, spawn_app_on_clock, ADMIN, APPROVER};
use holdpoint::testkit::Backend;
use serde_json::{json, Value};

async fn create_then_get_returns_the_sanitized_pending_approval(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .create(&json!({
            "title": "  Refund $240 to Lila Chen on order #8821 ",
            "body": "<p>Damaged <b>package</b></p><script>alert(1)</script><img src=x onerror=alert(1)>",
            "data": {"order": 8821, "amount_cents": 24000},
            "action": "billing.refund",
            "expires_in": 3600,
        }))
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("apr_"));
    assert_eq!(location, format!("/api/v1/approvals/{id}"));
    assert_eq!(created["status"], "pending");
    assert_eq!(created["title"], "Refund $240 to Lila Chen on order #8821");
    // The img keeps no src: only data: images survive.
    assert_eq!(created["body"], "<p>Damaged <b>package</b></p><img>");
    assert_eq!(created["data"]["amount_cents"], 24000);
    assert_eq!(created["agent"], "billing-agent");
    assert_eq!(created["action"], "billing.refund");
    assert_eq!(created["url"], app.url(&format!("/approvals/{id}")));
    assert!(created["reason"].is_null() && created["decided_at"].is_null());

    let fetched: Value = app.get(&app.key, &location).await.json().await.unwrap();
    assert_eq!(fetched, created);
}

async fn previews_keep_data_urls_only_for_raster_images(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = "<a href=\"DATA:text/html,<script>alert(1)</script>\">a</a>\
                <a href=\"da&#9;ta:text/html,x\">b</a>\
                <img src=\"data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+\">\
                <img src=\"DATA:image/png;base64,iVBORw0KGgo=\" alt=chart>";
    let response = app.create(&json!({"title": "Preview", "body": body})).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let clean = created["body"].as_str().unwrap().to_lowercase();
    assert!(
        !clean.contains("text/html") && !clean.contains("svg"),
        "{clean}"
    );
    assert!(
        clean.contains("src=\"data:image/png;base64,ivborw0kggo=\""),
        "{clean}"
    );
}

async fn every_invalid_request_gets_its_problem_and_stores_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let big = "x".repeat(256 * 1024 + 1);
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"body": "no title"}), 422, "invalid_title"),
        (json!({"title": "   "}), 422, "invalid_title"),
        (json!({"title": "t".repeat(201)}), 422, "invalid_title"),
        (json!({"title": "line one\nline two"}), 422, "invalid_title"),
        (json!({"title": 42}), 422, "invalid_title"),
        (json!({"title": "t", "body": big}), 422, "body_too_large"),
        (json!({"title": "t", "body": 5}), 422, "invalid_body"),
        (json!({"title": "t", "data": [1, 2]}), 422, "invalid_data"),
        (
            json!({"title": "t", "data": {"blob": big}}),
            422,
            "data_too_large",
        ),
        (
            json!({"title": "t", "action": "Not A Kind"}),
            422,
            "invalid_action",
        ),
        (
            json!({"title": "t", "expires_in": -5}),
            422,
            "invalid_expires_in",
        ),
        (
            json!({"title": "t", "approver": "nobody@example.com"}),
            422,
            "unknown_approver",
        ),
        (json!({"title": "t", "colour": "red"}), 422, "unknown_field"),
        (json!(["not", "an", "object"]), 400, "invalid_json"),
        (
            json!({"title": "Refund $24\u{202E}0001"}),
            422,
            "invalid_title",
        ),
        (
            json!({"title": "Refund\u{200B} $240"}),
            422,
            "invalid_title",
        ),
    ];
    for (body, status, code) in cases {
        let problem = assert_problem(app.create(&body).await, status, code).await;
        if code == "unknown_field" {
            assert!(
                problem["detail"].as_str().unwrap().contains("colour"),
                "{problem}"
            );
        }
        if body["title"]
            .as_str()
            .is_some_and(|t| t.contains('\u{202E}'))
        {
            let detail = problem["detail"].as_str().unwrap();
            assert!(
                detail.contains("U+202E RIGHT-TO-LEFT OVERRIDE at character 11"),
                "{problem}"
            );
        }
        if code == "unknown_approver" {
            assert!(
                problem["detail"]
                    .as_str()
                    .unwrap()
                    .contains("nobody@example.com"),
                "{problem}"
            );
        }
    }

    let raw = |body: Vec<u8>, content_type: &'static str| {
        app.client
            .post(app.url("/api/v1/approvals"))
            .bearer_auth(&app.key)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    assert_problem(
        raw(b"{not json".to_vec(), "application/json")
            .await
            .unwrap(),
        400,
        "invalid_json",
    )
    .await;
    assert_problem(
        raw(b"title=t".to_vec(), "application/x-www-form-urlencoded")
            .await
            .unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    let huge = format!(
        "{{\"title\":\"t\",\"body\":\"{}\"}}",
        "x".repeat(1024 * 1024 + 10)
    );
    // The server answers before reading the whole body and may close the
    // connection while the client is still writing it (a broken pipe on a
    // busy machine): such a try is made again; any answer must be the 413.
    let mut answered = false;
    for _ in 0..5 {
        match raw(huge.clone().into_bytes(), "application/json").await {
            Ok(response) => {
                assert_problem(response, 413, "request_too_large").await;
                answered = true;
                break;
            }
            Err(error) if error.is_request() => continue,
            Err(error) => panic!("{error}"),
        }
    }
    assert!(answered, "no answer to the oversized request in five tries");

    assert_eq!(app.count().await, 0, "a rejected request stored something");
}

async fn keys_are_checked_and_approvals_are_private_to_their_key(backend: Backend) {
    let app = spawn_app(backend).await;
    let no_key = app
        .client
        .get(app.url("/api/v1/approvals"))
        .send()
        .await
        .unwrap();
    assert!(no_key.headers().contains_key("www-authenticate"));
    assert_problem(no_key, 401, "missing_api_key").await;
    assert_problem(
        app.get("hp_wrong", "/api/v1/approvals").await,
        401,
        "invalid_api_key",
    )
    .await;
    let with_scheme = |value: String| {
        app.client
            .get(app.url("/api/v1/approvals"))
            .header("authorization", value)
            .send()
    };
    let basic = with_scheme("Basic abc".to_owned()).await.unwrap();
    assert_problem(basic, 401, "invalid_authorization").await;
    let lowercase = with_scheme(format!("bearer {}", app.key)).await.unwrap();
    assert_eq!(
        lowercase.status(),
        200,
        "the auth scheme is case-insensitive"
    );

    let approval = app.create_ok("Delete 300 stale rows").await;
    let id = approval["id"].as_str().unwrap();
    let other = app.new_key("other-agent", None).await;
    assert_problem(
        app.get(&other, &format!("/api/v1/approvals/{id}")).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.get(&other, &format!("/api/v1/approvals/{id}/wait?timeout=0"))
            .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.post(&other, &format!("/api/v1/approvals/{id}/cancel"))
            .await,
        404,
        "not_found",
    )
    .await;
    let others: Value = app
        .get(&other, "/api/v1/approvals")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(others["items"], json!([]));

    // Revoked by another process: its next request of any kind is refused,
    // a create too (whose key the server has seen and remembers).
    let revoked = app.new_key("short-lived", None).await;
    let create_with = |key: String, title: &'static str| {
        let (client, server) = (app.client.clone(), &app.server);
        async move {
            let body = holdpoint::testkit::sample_request(title);
            holdpoint::testkit::create_approval(&client, server, &key, &body).await
        }
    };
    assert_eq!(app.get(&revoked, "/api/v1/approvals").await.status(), 200);
    for title in ["Before the revocation", "Seen again"] {
        assert_eq!(create_with(revoked.clone(), title).await.status(), 201);
    }
    let status = holdpoint::testkit::holdpoint(&app.bin, &app.database_url, &[])
        .args(["admin", "revoke-key", "--name", "short-lived"])
        .status()
        .await
        .unwrap();
    assert!(status.success());
    assert_problem(
        create_with(revoked.clone(), "After the revocation").await,
        401,
        "invalid_api_key",
    )
    .await;
    assert_problem(
        app.get(&revoked, "/api/v1/approvals").await,
        401,
        "invalid_api_key",
    )
    .await;
}

async fn a_retried_create_with_the_same_idempotency_key_returns_the_first_approval(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let send = |body: Value, key: &'static str| {
        app.client
            .post(app.url("/api/v1/approvals"))
            .bearer_auth(&app.key)
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let body = holdpoint::testkit::sample_request("Send campaign to 4,812 recipients");
    let first = send(body.clone(), "campaign-42").await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let retry = send(body.clone(), "campaign-42").await.unwrap();
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry["id"], first["id"]);
    assert_eq!(app.count().await, 1, "a retry made a duplicate card");

    let changed = send(
        holdpoint::testkit::sample_request("Something else"),
        "campaign-42",
    )
    .await
    .unwrap();
    assert_problem(changed, 422, "idempotency_key_reused").await;
    assert_eq!(app.count().await, 1);

    let other = send(body, "campaign-43").await.unwrap();
    assert_eq!(other.status(), 201);
    assert_eq!(app.count().await, 2);
}

async fn wait_is_woken_by_a_denial_and_returns_the_reason(backend: Backend) {
    let app = spawn_app(backend).await;
    let approval = app.create_ok("Refund $240").await;
    let id = approval["id"].as_str().unwrap().to_owned();
    let waiter = app.spawn_wait(&id, 60);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let cookie = app.login(APPROVER).await;
    let decided = app
        .decide(&cookie, &id, "deny", Some("Wrong segment: use the EU list"))
        .await;
    assert_eq!(decided.status(), 200);
    // Had the wait not been woken, it would have answered `pending` after 60 s.
    let outcome = waiter.await.unwrap().approval;
    assert_eq!(outcome["status"], "denied");
    assert_eq!(outcome["reason"], "Wrong segment: use the EU list");
    assert_eq!(outcome["decided_by"], APPROVER);
    assert!(outcome["decided_at"].is_string());
}

async fn wait_is_woken_by_expiry_and_by_cancel(backend: Backend) {
    let app = spawn_app_on_clock(backend, &[]).await;
    let short = app
        .create(&json!({"title": "Expires soon", "expires_in": 1}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let waiter = app.spawn_wait(short["id"].as_str().unwrap(), 30);
    app.advance(std::time::Duration::from_secs(1));
    let expired = waiter.await.unwrap().approval;
    assert_eq!(expired["status"], "expired");

    let approval = app.create_ok("Cancel me").await;
    let id = approval["id"].as_str().unwrap().to_owned();
    let waiter = app.spawn_wait(&id, 60);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let cancelled = app
        .post(&app.key, &format!("/api/v1/approvals/{id}/cancel"))
        .await;
    assert_eq!(cancelled.status(), 200);
    assert_eq!(waiter.await.unwrap().approval["status"], "cancelled");
    let again = assert_problem(
        app.post(&app.key, &format!("/api/v1/approvals/{id}/cancel"))
            .await,
        409,
        "already_decided",
    )
    .await;
    assert_eq!(again["approval"]["status"], "cancelled");
}

async fn wait_times_out_pending_and_checks_its_timeout(backend: Backend) {
    let app = spawn_app(backend).await;
    let approval = app.create_ok("Still thinking").await;
    let id = approval["id"].as_str().unwrap();
    let waited: Value = app
        .get(&app.key, &format!("/api/v1/approvals/{id}/wait?timeout=1"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(waited["status"], "pending");
    assert_problem(
        app.get(&app.key, &format!("/api/v1/approvals/{id}/wait?timeout=61"))
            .await,
        400,
        "invalid_timeout",
    )
    .await;
    assert_problem(
        app.get(
            &app.key,
            &format!("/api/v1/approvals/{id}/wait?timeout=soon"),
        )
        .await,
        400,
        "invalid_timeout",
    )
    .await;
}

async fn twenty_concurrent_deciders_have_exactly_one_winner(backend: Backend) {
    let app = spawn_app(backend).await;
    let approval = app.create_ok("Charge card ending 4242").await;
    let id = approval["id"].as_str().unwrap().to_owned();
    let cookies = [app.login(ADMIN).await, app.login(APPROVER).await];
    let mut tasks = Vec::new();
    for n in 0..20 {
        let (client, server_url, cookie, id) = (
            app.client.clone(),
            app.url("/rpc/decide"),
            cookies[n % 2].clone(),
            id.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let verdict = if n % 2 == 0 { "approve" } else { "deny" };
            let response = client
                .post(server_url)
                .header("cookie", cookie)
                .form(&[
                    ("id", id.as_str()),
                    ("verdict", verdict),
                    ("reason", "racing"),
                ])
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    let winners = outcomes.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(winners, 1, "{outcomes:?}");
    for (status, body) in outcomes.iter().filter(|(status, _)| *status != 200) {
        assert_eq!(*status, 409, "{body}");
        assert!(
            body.contains("already") && body.contains("@example.com"),
            "loser not told who won: {body}"
        );
    }
    let final_state = app.approval(&id).await;
    assert!(final_state["status"] == "approved" || final_state["status"] == "denied");
}

async fn list_is_newest_first_with_a_cursor_and_a_status_filter(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            app.create_ok(&format!("Item {n}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    app.post(&app.key, &format!("/api/v1/approvals/{}/cancel", ids[0]))
        .await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/approvals?limit=2&cursor={c}"),
            None => "/api/v1/approvals?limit=2".to_owned(),
        };
        let page: Value = app.get(&app.key, &path).await.json().await.unwrap();
        for item in page["items"].as_array().unwrap() {
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);

    let cancelled: Value = app
        .get(&app.key, "/api/v1/approvals?status=cancelled")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["items"].as_array().unwrap().len(), 1);
    assert_eq!(cancelled["items"][0]["id"], ids[0]);
    assert_problem(
        app.get(&app.key, "/api/v1/approvals?status=maybe").await,
        400,
        "invalid_status",
    )
    .await;
    assert_problem(
        app.get(&app.key, "/api/v1/approvals?cursor=abc").await,
        400,
        "invalid_cursor",
    )
    .await;
    assert_problem(
        app.get(&app.key, "/api/v1/approvals?limit=0").await,
        400,
        "invalid_limit",
    )
    .await;
}

async fn unknown_endpoints_and_methods_answer_problems_not_html(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_problem(
        app.get(&app.key, "/api/v1/nothing-here").await,
        404,
        "no_such_endpoint",
    )
    .await;
    let delete = app
        .client
        .delete(app.url("/api/v1/approvals"))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_problem(delete, 405, "method_not_allowed").await;
}

async fn shutdown_answers_parked_waits_instead_of_holding_them(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let approval = app.create_ok("Waiting across a deploy").await;
    let waiter = app.spawn_wait(approval["id"].as_str().unwrap(), 60);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let pid = app.server.pid().unwrap().to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    // Well before the wait's own 60 s: shutdown answered it.
    let answer = tokio::time::timeout(std::time::Duration::from_secs(30), waiter)
        .await
        .expect("the wait held up shutdown")
        .unwrap()
        .approval;
    assert_eq!(answer["status"], "pending");
    let exit = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        app.server.child().wait(),
    )
    .await
    .expect("the server did not exit")
    .unwrap();
    assert!(exit.success(), "{exit:?}");
}

on_both_backends!(
    previews_keep_data_urls_only_for_raster_images,
    create_then_get_returns_the_sanitized_pending_approval,
    every_invalid_request_gets_its_problem_and_stores_nothing,
    keys_are_checked_and_approvals_are_private_to_their_key,
    a_retried_create_with_the_same_idempotency_key_returns_the_first_approval,
    wait_is_woken_by_a_denial_and_returns_the_reason,
    wait_is_woken_by_expiry_and_by_cancel,
    wait_times_out_pending_and_checks_its_timeout,
    twenty_concurrent_deciders_have_exactly_one_winner,
    list_is_newest_first_with_a_cursor_and_a_status_filter,
    unknown_endpoints_and_methods_answer_problems_not_html,
    shutdown_answers_parked_waits_instead_of_holding_them,
);
