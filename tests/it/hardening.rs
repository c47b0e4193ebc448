//! The browser-facing defences: a Content-Security-Policy without inline
//! script (a nonce instead), https-only headers and cookie names when the
//! public URL is https, and pages that answer only to our own names.
//!
//! Headers and host names are the HTTP layer's, not the database's, so these
//! run on SQLite only.

use crate::common::{header, spawn_app, spawn_app_with, ADMIN, APPROVER, PASSWORD};
use holdpoint::testkit::Backend;

#[tokio::test]
async fn pages_allow_only_their_own_nonced_scripts() {
    let app = spawn_app(Backend::Sqlite).await;
    let cookie = app.login(APPROVER).await;
    let mut nonces = Vec::new();
    for path in ["/login", "/", "/history", "/no-such-page"] {
        let response = app.page(Some(&cookie), path).await;
        let policy = header(&response, "content-security-policy");
        let html = response.text().await.unwrap();
        let script_src = policy
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("script-src"))
            .unwrap_or_else(|| panic!("{path}: no script-src in {policy:?}"));
        assert!(!script_src.contains("unsafe-inline"), "{path}: {policy}");
        let nonce = script_src
            .split_whitespace()
            .find_map(|source| source.strip_prefix("'nonce-"))
            .and_then(|rest| rest.strip_suffix('\''))
            .unwrap_or_else(|| panic!("{path}: no nonce in {script_src}"))
            .to_owned();
        // Every inline script of the page carries it.
        let scripts = html.matches("<script").count();
        assert!(scripts > 0, "{path} has no script");
        assert_eq!(
            html.matches(&format!("nonce=\"{nonce}\"")).count(),
            scripts,
            "{path}: a script without the nonce"
        );
        nonces.push(nonce);
    }
    nonces.sort();
    nonces.dedup();
    assert_eq!(nonces.len(), 4, "a fresh nonce for every page");

    // Not a page: no nonce, and still no inline script.
    let api = app.get(&app.key, "/api/v1/approvals").await;
    let policy = header(&api, "content-security-policy");
    assert!(
        policy.contains("script-src 'self' 'wasm-unsafe-eval'"),
        "{policy}"
    );
    assert!(header(&api, "strict-transport-security").is_empty());
}

#[tokio::test]
async fn an_https_public_url_gets_hsts_and_a_host_only_cookie() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &[("HOLDPOINT_PUBLIC_URL", "https://holdpoint.example.com")],
    )
    .await;
    let response = app.try_login(APPROVER, PASSWORD).await;
    assert!(header(&response, "strict-transport-security").starts_with("max-age="));
    let cookie = header(&response, "set-cookie");
    assert!(
        cookie.starts_with("__Host-holdpoint_session=")
            && cookie.contains("; Secure")
            && cookie.contains("Path=/")
            && !cookie.contains("Domain"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    let me = app.rpc_ok(&session, "whoami", &[]).await;
    assert_eq!(me["email"], APPROVER);
    // The plain name is not the session over https.
    let plain = session.replacen("__Host-", "", 1);
    assert_eq!(
        app.rpc_ok(&plain, "whoami", &[]).await,
        serde_json::Value::Null
    );
}

#[tokio::test]
async fn pages_answer_only_to_our_own_names() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &[("HOLDPOINT_PUBLIC_URL", "https://holdpoint.example.com")],
    )
    .await;
    let port = app.server.base_url.rsplit(':').next().unwrap().to_owned();
    let with_host = |path: &str, host: String| {
        app.client
            .get(app.url(path))
            .header("host", host)
            .header("accept", "text/html")
            .send()
    };
    for host in [
        "holdpoint.example.com".to_owned(),
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
    ] {
        let response = with_host("/login", host.clone()).await.unwrap();
        assert_eq!(response.status(), 200, "{host}");
    }
    // A name that merely resolves here (DNS rebinding) gets no page, no
    // server function and no socket.
    for path in ["/login", "/", "/ws"] {
        let response = with_host(path, format!("rebind.evil.example:{port}"))
            .await
            .unwrap();
        crate::common::assert_problem(response, 400, "unknown_host").await;
    }
    let rpc = app
        .client
        .post(app.url("/rpc/whoami"))
        .header("host", "rebind.evil.example")
        .send()
        .await
        .unwrap();
    crate::common::assert_problem(rpc, 400, "unknown_host").await;
    // The agent API authenticates by key, whatever name it is reached by.
    let api = app
        .client
        .get(app.url("/api/v1/approvals"))
        .bearer_auth(&app.key)
        .header("host", "agents.internal")
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 200);
}

/// Every answer names its request, so a log line can be found from a
/// caller's report: the caller's own id when it is plain, else a new one.
#[tokio::test]
async fn every_answer_carries_a_request_id() {
    let app = spawn_app(Backend::Sqlite).await;
    let first = app.get(&app.key, "/api/v1/approvals").await;
    let second = app.page(None, "/login").await;
    let (first, second) = (
        header(&first, "x-request-id"),
        header(&second, "x-request-id"),
    );
    assert!(!first.is_empty() && !second.is_empty());
    assert_ne!(first, second);

    let echoed = app
        .client
        .get(app.url("/api/v1/approvals"))
        .bearer_auth(&app.key)
        .header("x-request-id", "agent-run-42:step-7")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&echoed, "x-request-id"), "agent-run-42:step-7");

    for odd in ["", "a b", &"x".repeat(65), "<script>"] {
        let replaced = app
            .client
            .get(app.url("/api/v1/approvals"))
            .bearer_auth(&app.key)
            .header("x-request-id", odd)
            .send()
            .await
            .unwrap();
        let id = header(&replaced, "x-request-id");
        assert!(!id.is_empty() && id != odd, "{odd:?} came back as {id:?}");
    }
}

/// Bidirectional controls and zero-width characters an agent put in its
/// preview or its data's keys are shown on the card as escapes, not
/// rendered (the data itself stays the agent's, to the byte).
#[tokio::test]
async fn hidden_characters_are_shown_escaped_on_the_card() {
    let app = spawn_app(Backend::Sqlite).await;
    let response = app
        .create(&serde_json::json!({
            "title": "Refund order 8821",
            "body": "<p>Refund $24\u{202E}0001</p>",
            "data": {"amount\u{200B}_cents": 24000},
        }))
        .await;
    assert_eq!(response.status(), 201);
    let created: serde_json::Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert!(created["data"]
        .as_object()
        .unwrap()
        .contains_key("amount\u{200B}_cents"));
    let admin = app.login(ADMIN).await;
    let card = app.rpc_ok(&admin, "approval_card", &[("id", id)]).await;
    let body = card["body"].as_str().unwrap_or_default();
    assert!(body.contains("Refund $24\\u{202E}0001"), "{card}");
    assert!(!body.contains('\u{202E}'), "{card}");
    let page = app.page_text(&admin, &format!("/approvals/{id}")).await;
    assert!(
        page.contains("class=\"json-key\">amount\\u{200B}_cents<"),
        "the key is not shown escaped"
    );
}
