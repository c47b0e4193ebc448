//! The people's side, over HTTP: sessions, server functions, routing and the
//! server-rendered pages. (The browser itself is driven by end2end/.)

use crate::common::{spawn_app, TestApp, ADMIN, APPROVER, PASSWORD};
use holdpoint::testkit::Backend;
use serde_json::{json, Value};

async fn login_needs_the_right_password_and_sets_a_safe_cookie(backend: Backend) {
    let app = spawn_app(backend).await;
    let wrong = app.try_login(APPROVER, "not the password").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
    assert!(wrong.text().await.unwrap().contains("do not match"));

    let right = app.try_login(APPROVER, PASSWORD).await;
    let cookie = right.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );

    let cookie = app.login(APPROVER).await;
    let inbox = app
        .client
        .post(app.url("/rpc/inbox"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(inbox.status(), 200);
    let logout = app
        .client
        .post(app.url("/rpc/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(logout.status().is_success() || logout.status().is_redirection());
    let after = app
        .client
        .post(app.url("/rpc/inbox"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401, "the session survived logout");
}

async fn deciding_needs_a_session_and_a_denial_needs_a_reason(backend: Backend) {
    let app = spawn_app(backend).await;
    let approval = app.create_ok("Refund $240").await;
    let id = approval["id"].as_str().unwrap();
    let anonymous = app
        .decide("holdpoint_session=forged", id, "approve", None)
        .await;
    assert_eq!(anonymous.status(), 401);

    let cookie = app.login(APPROVER).await;
    let empty = app.decide(&cookie, id, "deny", Some("   ")).await;
    assert_eq!(empty.status(), 422);
    assert!(empty.text().await.unwrap().contains("needs a reason"));
    let state = app.approval(id).await;
    assert_eq!(
        state["status"], "pending",
        "a refused denial changed the approval"
    );

    assert_eq!(app.decide(&cookie, id, "approve", None).await.status(), 200);
    let again = app.decide(&cookie, id, "deny", Some("too late")).await;
    assert_eq!(again.status(), 409);
    assert!(again
        .text()
        .await
        .unwrap()
        .contains("already approved by ana@example.com"));
}

async fn approvals_routed_to_a_named_approver_are_theirs_alone(backend: Backend) {
    let app = spawn_app(backend).await;
    holdpoint::testkit::create_user(
        &app.bin,
        &app.database_url,
        "bo@example.com",
        PASSWORD,
        false,
    )
    .await;
    let routed = app
        .create(&json!({"title": "Wire $9,000 to supplier", "approver": APPROVER}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(routed["approver"], APPROVER);
    let id = routed["id"].as_str().unwrap();

    let bo = app.login("bo@example.com").await;
    let bo_inbox = app.inbox(&bo).await;
    assert_eq!(bo_inbox["approvals"], json!([]));
    assert_eq!(app.decide(&bo, id, "approve", None).await.status(), 404);

    let ana = app.login(APPROVER).await;
    let ana_inbox = app.inbox(&ana).await;
    assert_eq!(ana_inbox["approvals"][0]["id"], id);

    // A key with a default approver routes there when the agent names none.
    let routed_key = app.new_key("ops-agent", Some("bo@example.com")).await;
    let by_default: Value = holdpoint::testkit::create_approval(
        &app.client,
        &app.server,
        &routed_key,
        &json!({"title": "Restart prod"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(by_default["approver"], "bo@example.com");
    assert_eq!(
        app.decide(&ana, by_default["id"].as_str().unwrap(), "approve", None)
            .await
            .status(),
        404
    );
    let admin = app.login(ADMIN).await;
    assert_eq!(
        app.decide(&admin, by_default["id"].as_str().unwrap(), "approve", None)
            .await
            .status(),
        200
    );
}

async fn pages_render_on_the_server_and_send_strangers_to_login(backend: Backend) {
    let app = spawn_app(backend).await;
    let approval = app
        .create(&json!({
            "title": "Send \"Spring sale\" to 4,812 recipients",
            "body": "<h2>Spring sale</h2><script>window.pwned = 1</script><p onclick=\"x()\">Hi</p>",
            "data": {"recipientCount": 4812},
        }))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let path = format!("/approvals/{}", approval["id"].as_str().unwrap());

    let stranger = app.page(None, &path).await;
    assert!(stranger.status().is_redirection(), "{}", stranger.status());
    let location = stranger.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("/login?next=%2Fapprovals%2F")
            || location.starts_with("/login?next=/approvals/"),
        "{location}"
    );

    let cookie = app.login(APPROVER).await;
    let page = app.page(Some(&cookie), &path).await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("img-src 'self' data:"));
    let html = page.text().await.unwrap();
    assert!(html.contains("Spring sale"));
    assert!(html.contains("4812"));
    assert!(
        !html.contains("window.pwned") && !html.contains("onclick"),
        "unsanitized preview in page"
    );

    let inbox = app.page(Some(&cookie), "/").await.text().await.unwrap();
    assert!(
        inbox.contains("1 waiting"),
        "inbox page did not list the approval"
    );
    let missing = app.page(Some(&cookie), "/no/such/page").await;
    assert_eq!(missing.status(), 404);
}

/// The resources a server-rendered page registers for the browser, in the
/// order they started: `__PENDING_RESOURCES=[0,2,]`.
fn registered_resources(html: &str) -> &str {
    let start = html
        .find("__PENDING_RESOURCES=")
        .expect("a page with data registers it");
    let rest = &html[start..];
    &rest[..rest.find(';').unwrap_or(rest.len())]
}

/// A page is rendered once per request: the header's session resolving
/// must not render the page again (each render starts the page's data anew,
/// and a load started by a discarded render held the answer open forever).
async fn each_page_is_rendered_once_and_always_finishes(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create_ok("Refund $240").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cookie = app.login(ADMIN).await;
    for path in [
        "/".to_owned(),
        "/history".to_owned(),
        format!("/approvals/{id}"),
        "/approvals/apr_unknown".to_owned(),
        "/admin/webhooks".to_owned(),
    ] {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..25 {
            let html = tokio::time::timeout(
                std::time::Duration::from_secs(20),
                app.page_text(&cookie, &path),
            )
            .await
            .unwrap_or_else(|_| panic!("{path}: no whole page within 20 s"));
            seen.insert(registered_resources(&html).to_owned());
        }
        assert_eq!(seen.len(), 1, "{path} rendered differently: {seen:?}");
    }
}

async fn history_shows_decisions_with_reasons_and_searches_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let cookie = app.login(APPROVER).await;
    let refund = app.create_ok("Refund $240 to Lila").await;
    let campaign = app.create_ok("Send campaign to 4,812").await;
    app.decide(
        &cookie,
        refund["id"].as_str().unwrap(),
        "deny",
        Some("Package was not damaged"),
    )
    .await;
    app.decide(&cookie, campaign["id"].as_str().unwrap(), "approve", None)
        .await;

    let page = app.page_text(&cookie, "/history").await;
    assert!(page.contains("Package was not damaged") && page.contains("Send campaign"));
    let found = app.page_text(&cookie, "/history?q=refund").await;
    assert!(found.contains("Refund $240") && !found.contains("Send campaign"));
    let by_reason = app.page_text(&cookie, "/history?q=NOT+DAMAGED").await;
    assert!(by_reason.contains("Refund $240") && !by_reason.contains("Send campaign"));
    let by_agent = app.page_text(&cookie, "/history?q=billing-agent").await;
    assert!(by_agent.contains("Refund $240") && by_agent.contains("Send campaign"));
    let wildcard = app.page_text(&cookie, "/history?q=%25").await;
    assert!(
        wildcard.contains("Nothing matches"),
        "% must match literally: {wildcard}"
    );
}

async fn the_cli_explains_itself(backend: Backend) {
    let app = spawn_app(backend).await;
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["admin", "create-user", "--help"],
        vec!["admin", "create-key", "--help"],
    ] {
        let output = tokio::process::Command::new(&app.bin)
            .args(&args)
            .output()
            .await
            .unwrap();
        assert!(output.status.success(), "{args:?}");
        let text = String::from_utf8(output.stdout).unwrap();
        assert!(
            text.contains("HOLDPOINT_DATABASE_URL"),
            "{args:?} does not document its environment:\n{text}"
        );
    }
    let duplicate = holdpoint::testkit::holdpoint(&app.bin, &app.database_url, &[])
        .args(["admin", "create-key", "--name", "billing-agent"])
        .output()
        .await
        .unwrap();
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already exists"));
}

async fn the_first_admin_is_created_once_through_the_printed_setup_link(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let database = holdpoint::testkit::fresh_database(backend, dir.path()).await;
    let database_url = database.url.clone();
    let bin = holdpoint::testkit::binary_path();
    let server = holdpoint::testkit::Server::start(&bin, &database_url, &[]).await;
    // Not a terminal: the link (a credential) is not printed where logs go.
    assert!(server
        .startup
        .iter()
        .all(|line| !line.contains("/setup?token=")));
    let issued = holdpoint::testkit::admin(&bin, &database_url, &[], &["setup-link"]).await;
    assert!(
        issued.status.success(),
        "{}",
        String::from_utf8_lossy(&issued.stderr)
    );
    let link = String::from_utf8(issued.stdout).unwrap().trim().to_owned();
    let token = link.split("token=").nth(1).unwrap();
    assert!(link.contains("/setup?token="), "{link}");
    let client = holdpoint::testkit::client();
    let setup = |token: String, email: &'static str| {
        client
            .post(server.url("/rpc/setup"))
            .form(&[
                ("token", token.as_str()),
                ("email", email),
                ("password", PASSWORD),
            ])
            .send()
    };

    let forged = setup("not-the-token".to_owned(), "eve@example.com")
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let weak = client
        .post(server.url("/rpc/setup"))
        .form(&[
            ("token", token),
            ("email", "first@example.com"),
            ("password", "short"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        weak.status(),
        422,
        "a refused setup must leave the link usable"
    );

    let first = setup(token.to_owned(), "first@example.com").await.unwrap();
    assert!(first.status().is_success() || first.status().is_redirection());
    let cookie = first.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let me: Value = client
        .post(server.url("/rpc/whoami"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "first@example.com");
    assert_eq!(me["admin"], true);

    let again = setup(token.to_owned(), "second@example.com").await.unwrap();
    assert_eq!(again.status(), 403, "the setup link worked twice");
    let refused = holdpoint::testkit::admin(&bin, &database_url, &[], &["setup-link"]).await;
    assert!(
        !refused.status.success(),
        "a setup link once accounts exist"
    );

    // A server that already has accounts prints no link.
    let restarted = holdpoint::testkit::Server::start(&bin, &database_url, &[]).await;
    assert!(restarted
        .startup
        .iter()
        .all(|line| !line.contains("/setup?token=")));
}

async fn repeated_wrong_passwords_lock_the_account_for_a_while(backend: Backend) {
    let app = spawn_app(backend).await;
    for _ in 0..10 {
        let wrong = app.try_login(APPROVER, "guess").await;
        assert_eq!(wrong.status(), 401);
    }
    let locked = app.try_login(APPROVER, PASSWORD).await;
    assert_eq!(locked.status(), 429);
    assert!(locked.text().await.unwrap().contains("try again in 15 min"));
    // Other accounts are unaffected.
    app.login(ADMIN).await;
}

async fn server_functions_refuse_posts_from_other_origins(backend: Backend) {
    let app = spawn_app(backend).await;
    let approval = app.create_ok("Refund $240").await;
    let cookie = app.login(APPROVER).await;
    let id = approval["id"].as_str().unwrap();
    let approve_from = |origin: String| {
        app.client
            .post(app.url("/rpc/decide"))
            .header("cookie", &cookie)
            .header("origin", origin)
            .form(&[("id", id), ("verdict", "approve")])
            .send()
    };
    let forged = approve_from("http://evil.example".to_owned())
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let state = app.approval(id).await;
    assert_eq!(state["status"], "pending");

    let same_origin = approve_from(app.server.base_url.clone()).await.unwrap();
    assert_eq!(same_origin.status(), 200);
}

/// Posts to the batch server function (it takes JSON) as `cookie`.
async fn decide_many(app: &TestApp, cookie: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/rpc/decide_many"))
        .header("cookie", cookie)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn a_batch_decides_each_approval_on_its_own(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut ids = Vec::new();
    for n in 1..=3 {
        let approval = app.create_ok(&format!("Pay invoice #{n}")).await;
        ids.push(approval["id"].as_str().unwrap().to_owned());
    }
    // The third is decided by someone else first.
    let admin = app.login(ADMIN).await;
    assert_eq!(
        app.decide(&admin, &ids[2], "approve", None).await.status(),
        200
    );

    let cookie = app.login(APPROVER).await;
    let batch = json!({"ids": ids, "verdict": "deny", "reason": "Duplicate invoices."});
    let response = decide_many(&app, &cookie, &batch).await;
    assert_eq!(response.status(), 200);
    let outcomes: Value = response.json().await.unwrap();
    let outcomes = outcomes.as_array().unwrap();
    assert_eq!(outcomes.len(), 3);
    for (outcome, id) in outcomes.iter().zip(&ids).take(2) {
        assert_eq!(outcome["id"], id.as_str());
        assert_eq!(outcome["result"]["Ok"]["status"], "denied");
        assert_eq!(outcome["result"]["Ok"]["reason"], "Duplicate invoices.");
    }
    let refused = outcomes[2]["result"]["Err"].as_str().unwrap();
    assert!(
        refused.starts_with("This approval was already approved by admin@example.com"),
        "{refused}"
    );
    assert_eq!(app.approval(&ids[2]).await["status"], "approved");

    // A denial without a reason refuses the whole batch before deciding any.
    let fresh = app.create_ok("Pay invoice #4").await;
    let fresh_id = fresh["id"].as_str().unwrap();
    let no_reason = json!({"ids": [fresh_id], "verdict": "deny", "reason": "  "});
    let response = decide_many(&app, &cookie, &no_reason).await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("needs a reason"));
    assert_eq!(app.approval(fresh_id).await["status"], "pending");

    // Signed out, or too many at once: nothing is decided.
    let approve = json!({"ids": [fresh_id], "verdict": "approve", "reason": null});
    let anonymous = decide_many(&app, "holdpoint_session=forged", &approve).await;
    assert_eq!(anonymous.status(), 401);
    let too_many: Vec<String> = (0..101).map(|_| fresh_id.to_owned()).collect();
    let oversized = json!({"ids": too_many, "verdict": "approve", "reason": null});
    assert_eq!(decide_many(&app, &cookie, &oversized).await.status(), 422);
    assert_eq!(app.approval(fresh_id).await["status"], "pending");
}

async fn history_search_is_bounded_and_finds_substrings(backend: Backend) {
    let app = spawn_app(backend).await;
    let cookie = app.login(APPROVER).await;
    for (title, reason) in [
        ("Refund $240 to Lila", "Package was not damaged"),
        ("Send campaign to 4,812", "Wrong segment: use the EU list"),
    ] {
        let id = app.create_ok(title).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        app.decide(&cookie, &id, "deny", Some(reason)).await;
    }
    let titles = |page: &serde_json::Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["title"].as_str().unwrap().to_owned())
            .collect()
    };
    // Substrings inside words, any case, in titles and reasons; short ones too.
    for (q, expected) in [
        ("fund $2", vec!["Refund $240 to Lila"]),
        ("EGMEN", vec!["Send campaign to 4,812"]),
        ("4,8", vec!["Send campaign to 4,812"]),
        ("$2", vec!["Refund $240 to Lila"]),
        ("\"quoted\"", vec![]),
    ] {
        let page = app.rpc_ok(&cookie, "history", &[("q", q)]).await;
        assert_eq!(titles(&page), expected, "q={q:?}");
        assert!(page["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a.get("body").is_none()));
    }
    let long = "a".repeat(201);
    let huge = "b".repeat(50_000);
    for q in [long.as_str(), huge.as_str(), "two\nlines"] {
        let response = app.rpc(&cookie, "history", &[("q", q)]).await;
        assert_eq!(response.status(), 422, "q of {} bytes", q.len());
        let text = response.text().await.unwrap();
        assert!(text.contains("at most 200 characters"), "{text}");
    }
    assert_eq!(
        app.rpc(&cookie, "history", &[("q", &"c".repeat(200))])
            .await
            .status(),
        200
    );
}

async fn history_search_pages_through_many_matches_newest_first(backend: Backend) {
    let app = spawn_app(backend).await;
    let cookie = app.login(APPROVER).await;
    let mut decided = Vec::new();
    for n in 0..70 {
        let title = if n % 10 == 3 {
            format!("Refund order {n}")
        } else {
            format!("Send campaign {n}")
        };
        let id = app.create_ok(&title).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        app.decide(&cookie, &id, "approve", None).await;
        decided.push((id, title));
    }
    decided.reverse();
    // A needle in most rows (found in the newest rows), then one in a few
    // (found through the index): each page newest first, nothing twice.
    for (needle, expected) in [("campaign", 63), ("refund", 7)] {
        let mut titles = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = app
                .rpc_ok(&cookie, "history", &[("q", needle), ("cursor", &cursor)])
                .await;
            titles.extend(
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a["title"].as_str().unwrap().to_owned()),
            );
            match page["next_cursor"].as_str() {
                Some(next) => cursor = next.to_owned(),
                None => break,
            }
        }
        let wanted: Vec<String> = decided
            .iter()
            .filter(|(_, title)| title.to_lowercase().contains(needle))
            .map(|(_, title)| title.clone())
            .collect();
        assert_eq!(wanted.len(), expected);
        assert_eq!(titles, wanted, "q={needle}");
    }
}

on_both_backends!(
    history_search_pages_through_many_matches_newest_first,
    history_search_is_bounded_and_finds_substrings,
    login_needs_the_right_password_and_sets_a_safe_cookie,
    deciding_needs_a_session_and_a_denial_needs_a_reason,
    approvals_routed_to_a_named_approver_are_theirs_alone,
    pages_render_on_the_server_and_send_strangers_to_login,
    each_page_is_rendered_once_and_always_finishes,
    history_shows_decisions_with_reasons_and_searches_them,
    the_cli_explains_itself,
    the_first_admin_is_created_once_through_the_printed_setup_link,
    repeated_wrong_passwords_lock_the_account_for_a_while,
    server_functions_refuse_posts_from_other_origins,
    a_batch_decides_each_approval_on_its_own,
);
