//! The authorization matrix: every server function, every REST endpoint and
//! the inbox socket, called by every kind of caller, with the expected
//! allow or deny for each. The endpoints come from the application itself
//! (the server function registry and `rest::ROUTES`), so an endpoint added
//! without an entry here fails this test.

use crate::common::{spawn_app, TestApp, ADMIN, APPROVER, PASSWORD};
use holdpoint::testkit::inbox_client::InboxSocket;
use holdpoint::testkit::{self, Backend};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const VIEWER: &str = "vic@example.com";
const MEMBER: &str = "mia@example.com";
const OUTSIDER: &str = "otto@example.com";
const GONE: &str = "dee@example.com";

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    Viewer,
    /// The approver one target approval is routed to by name.
    Named,
    /// A member of the group the other target is routed to.
    Member,
    /// An approver neither target is routed to.
    Outsider,
    Admin,
    /// Signed in, then deactivated.
    Deactivated,
    /// The agent key that asked for both targets.
    Key,
    /// Another agent's key.
    OtherKey,
    RevokedKey,
}

const CALLERS: [Caller; 10] = [
    Caller::Anonymous,
    Caller::Viewer,
    Caller::Named,
    Caller::Member,
    Caller::Outsider,
    Caller::Admin,
    Caller::Deactivated,
    Caller::Key,
    Caller::OtherKey,
    Caller::RevokedKey,
];

/// What the answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Past authorization (the answer may still refuse the arguments).
    Allowed,
    /// 401: not signed in, or no valid key.
    Unauthenticated,
    /// 403.
    Forbidden,
    /// 404 for an approval the caller may not see.
    Hidden,
}

/// Which approval an approval endpoint is called on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// Routed to `APPROVER` by name.
    Named,
    /// Routed to the billing group.
    Group,
}

/// What kind of rule an endpoint follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Anyone, signed in or not (signing in, links, who am I).
    Public,
    /// Anyone signed in.
    SignedIn,
    /// Those who may see the target approval.
    SeesApproval,
    /// Those who may decide the target approval.
    DecidesApproval,
    Admin,
    /// Any valid agent key (its own approvals only).
    AgentKey,
    /// The valid agent key whose approval it is; other keys' are hidden.
    OwnApproval,
    /// A valid agent key an admin allowed (`other-agent` here); other keys
    /// are refused.
    AllowedKey,
}

/// Every server function with its rule and arguments (`{id}`: the target).
const SERVER_FUNCTIONS: [(&str, Rule, &str); 47] = [
    (
        "login",
        Rule::Public,
        "email=nobody@example.com&password=wrong-password",
    ),
    (
        "setup",
        Rule::Public,
        "token=bogus&email=x@example.com&password=long-password",
    ),
    ("whoami", Rule::Public, ""),
    ("account_link", Rule::Public, "token=bogus"),
    (
        "use_account_link",
        Rule::Public,
        "token=bogus&password=long-password",
    ),
    ("logout", Rule::Public, ""),
    // The API reference page: it describes the API, as openapi.json does.
    ("api_reference", Rule::Public, ""),
    ("inbox", Rule::SignedIn, ""),
    ("my_account", Rule::SignedIn, ""),
    (
        "change_password",
        Rule::SignedIn,
        "current=not-my-password&new=a-new-long-password",
    ),
    ("end_session", Rule::SignedIn, "id=no-such-session"),
    ("sign_out_everywhere", Rule::SignedIn, ""),
    ("history", Rule::SignedIn, ""),
    ("stats", Rule::SignedIn, "window=30d"),
    ("audit_log", Rule::Admin, "kind=created"),
    (
        "set_key_reads_decisions",
        Rule::Admin,
        "name=other-agent&allowed=true",
    ),
    ("approval_detail", Rule::SeesApproval, "id={id}"),
    ("approval_card", Rule::SeesApproval, "id={id}"),
    (
        "decide",
        Rule::DecidesApproval,
        "id={id}&verdict=deny&reason=matrix",
    ),
    ("decide_many", Rule::DecidesApproval, "json"),
    ("people", Rule::Admin, ""),
    (
        "invite",
        Rule::Admin,
        "email=matrix@example.com&role=viewer",
    ),
    ("password_link", Rule::Admin, "email=nobody@example.com"),
    (
        "set_role",
        Rule::Admin,
        "email=nobody@example.com&role=viewer",
    ),
    (
        "set_active",
        Rule::Admin,
        "email=nobody@example.com&active=false",
    ),
    ("groups", Rule::Admin, ""),
    ("create_group", Rule::Admin, "name=matrix"),
    (
        "set_group_member",
        Rule::Admin,
        "group=nope&email=nobody@example.com&member=true",
    ),
    ("keys", Rule::Admin, ""),
    ("create_key", Rule::Admin, "name=matrix-agent"),
    ("revoke_key", Rule::Admin, "id=key_nope"),
    ("rotate_key", Rule::Admin, "name=no-such-key"),
    ("set_key_route", Rule::Admin, "name=no-such-key&route="),
    ("webhooks", Rule::Admin, ""),
    (
        "set_webhook_url",
        Rule::Admin,
        "key_id=key_nope&url=https://hooks.example.com/x",
    ),
    ("rotate_webhook_secret", Rule::Admin, "key_id=key_nope"),
    ("enable_webhook", Rule::Admin, "key_id=key_nope"),
    ("send_test_webhook", Rule::Admin, "key_id=key_nope"),
    ("redeliver_webhook", Rule::Admin, "message_id=msg_nope"),
    ("policies", Rule::Admin, ""),
    ("policy_evidence", Rule::SignedIn, ""),
    (
        "save_policy",
        Rule::Admin,
        "draft[name]=matrix&draft[action_pattern]=matrix.*&draft[mode]=gate",
    ),
    ("delete_policy", Rule::Admin, "id=pol_nope"),
    (
        "try_condition",
        Rule::Admin,
        "condition=data.x == 1&approval_id=apr_nope",
    ),
    ("sampled_reviews", Rule::Admin, ""),
    ("review_sample", Rule::Admin, "approval_id=apr_nope"),
    ("acknowledge_flag", Rule::Admin, "approval_id=apr_nope"),
];

/// The server functions that end the caller's session, called last.
const SIGN_OUTS: [&str; 2] = ["sign_out_everywhere", "logout"];

/// Every REST endpoint (as `rest::ROUTES` spells it) with its rule.
const REST: [(&str, &str, Rule); 6] = [
    ("POST", "/approvals", Rule::AgentKey),
    ("GET", "/approvals", Rule::AgentKey),
    ("GET", "/approvals/{id}", Rule::OwnApproval),
    ("GET", "/approvals/{id}/wait", Rule::OwnApproval),
    ("POST", "/approvals/{id}/cancel", Rule::OwnApproval),
    ("GET", "/decisions", Rule::AllowedKey),
];

fn expected(rule: Rule, caller: Caller, target: Target) -> Seen {
    use Caller::*;
    let person = matches!(caller, Viewer | Named | Member | Outsider | Admin);
    let sees = match caller {
        Viewer | Admin => true,
        Named => target == Target::Named,
        Member => target == Target::Group,
        _ => false,
    };
    match rule {
        // Whatever the answer (a wrong password, a bogus link, the sign-in
        // throttle), never a 5xx: `classify` fails on those.
        Rule::Public => Seen::Allowed,
        Rule::AgentKey => match caller {
            Key | OtherKey => Seen::Allowed,
            _ => Seen::Unauthenticated,
        },
        Rule::OwnApproval => match caller {
            Key => Seen::Allowed,
            OtherKey => Seen::Hidden,
            _ => Seen::Unauthenticated,
        },
        Rule::AllowedKey => match caller {
            OtherKey => Seen::Allowed,
            Key => Seen::Forbidden,
            _ => Seen::Unauthenticated,
        },
        _ if !person => Seen::Unauthenticated,
        Rule::SignedIn => Seen::Allowed,
        Rule::Admin if caller == Admin => Seen::Allowed,
        Rule::Admin => Seen::Forbidden,
        _ if !sees => Seen::Hidden,
        Rule::DecidesApproval if caller == Viewer => Seen::Forbidden,
        _ => Seen::Allowed,
    }
}

/// The callers' credentials and the two target approvals.
struct World {
    app: TestApp,
    cookies: Vec<(Caller, String)>,
    other_key: String,
    revoked_key: String,
    named: String,
    group: String,
}

async fn world(backend: Backend) -> World {
    let app = spawn_app(backend).await;
    for (email, role) in [
        (VIEWER, "viewer"),
        (MEMBER, "approver"),
        (OUTSIDER, "approver"),
        (GONE, "approver"),
    ] {
        testkit::create_user_with_role(&app.bin, &app.database_url, email, PASSWORD, role).await;
    }
    let admin_cli = |args: Vec<&'static str>| {
        let app = &app;
        async move {
            let output = testkit::admin(&app.bin, &app.database_url, &[], &args).await;
            assert!(output.status.success(), "{args:?}");
            String::from_utf8(output.stdout).unwrap().trim().to_owned()
        }
    };
    admin_cli(vec!["create-group", "--name", "billing"]).await;
    admin_cli(vec![
        "add-to-group",
        "--group",
        "billing",
        "--email",
        MEMBER,
    ])
    .await;
    let other_key = app.new_key("other-agent", None).await;
    let allowed = testkit::admin(
        &app.bin,
        &app.database_url,
        &[],
        &["allow-decisions", "--name", "other-agent"],
    )
    .await;
    assert!(allowed.status.success(), "{allowed:?}");
    let revoked_key = app.new_key("revoked-agent", None).await;
    admin_cli(vec!["revoke-key", "--name", "revoked-agent"]).await;
    let create = |body: Value| {
        let app = &app;
        async move {
            let created: Value = app.create(&body).await.json().await.unwrap();
            created["id"].as_str().unwrap().to_owned()
        }
    };
    let named = create(json!({"title": "Named", "approver": APPROVER})).await;
    let group = create(json!({"title": "Grouped", "group": "billing"})).await;
    let mut cookies = Vec::new();
    for (caller, email) in [
        (Caller::Viewer, VIEWER),
        (Caller::Named, APPROVER),
        (Caller::Member, MEMBER),
        (Caller::Outsider, OUTSIDER),
        (Caller::Admin, ADMIN),
        (Caller::Deactivated, GONE),
    ] {
        cookies.push((caller, app.login(email).await));
    }
    admin_cli(vec!["deactivate-user", "--email", GONE]).await;
    World {
        app,
        cookies,
        other_key,
        revoked_key,
        named,
        group,
    }
}

impl World {
    fn cookie(&self, caller: Caller) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(c, _)| *c == caller)
            .map(|(_, cookie)| cookie.as_str())
    }

    fn key(&self, caller: Caller) -> Option<&str> {
        match caller {
            Caller::Key => Some(&self.app.key),
            Caller::OtherKey => Some(&self.other_key),
            Caller::RevokedKey => Some(&self.revoked_key),
            _ => None,
        }
    }

    fn target_id(&self, target: Target) -> &str {
        match target {
            Target::Named => &self.named,
            Target::Group => &self.group,
        }
    }

    async fn call_server_function(
        &self,
        name: &str,
        args: &str,
        caller: Caller,
        target: Target,
    ) -> Seen {
        let url = self.app.url(&format!("/rpc/{name}"));
        let mut request = self.app.client.post(url);
        if let Some(cookie) = self.cookie(caller) {
            request = request.header("cookie", cookie);
        }
        if let Some(key) = self.key(caller) {
            request = request.bearer_auth(key);
        }
        let id = self.target_id(target);
        request = if args == "json" {
            request.json(&json!({"ids": [id], "verdict": "deny", "reason": "matrix"}))
        } else {
            request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(args.replace("{id}", id))
        };
        let response = request.send().await.expect("server function");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if name == "decide_many" && status == StatusCode::OK {
            // Each item succeeds or fails alone; the item says which.
            let outcome: Value = serde_json::from_str(&body).expect("batch JSON");
            return match outcome[0]["result"]["Err"].as_str() {
                None => Seen::Allowed,
                Some(why) if why.contains("viewer") => Seen::Forbidden,
                Some(why) if why.contains("already") => Seen::Allowed,
                Some(_) => Seen::Hidden,
            };
        }
        classify(status, name.starts_with("approval_") || name == "decide")
    }

    async fn call_rest(&self, method: &str, path: &str, caller: Caller, target: Target) -> Seen {
        let path = path.replace("{id}", self.target_id(target));
        let url = self.app.url(&format!("/api/v1{path}"));
        let url = if path.ends_with("/wait") {
            format!("{url}?timeout=0")
        } else {
            url
        };
        let mut request = match method {
            "POST" => self.app.client.post(url),
            _ => self.app.client.get(url),
        };
        if let Some(cookie) = self.cookie(caller) {
            request = request.header("cookie", cookie);
        }
        if let Some(key) = self.key(caller) {
            request = request.bearer_auth(key);
        }
        if path == "/approvals" && method == "POST" {
            request = request.json(&json!({"title": "From the matrix"}));
        }
        let response = request.send().await.expect("REST");
        classify(response.status(), path != "/approvals")
    }
}

fn classify(status: StatusCode, about_an_approval: bool) -> Seen {
    match status.as_u16() {
        401 => Seen::Unauthenticated,
        403 => Seen::Forbidden,
        404 if about_an_approval => Seen::Hidden,
        500.. => panic!("a server error: {status}"),
        _ => Seen::Allowed,
    }
}

async fn every_endpoint_allows_and_refuses_exactly_as_the_rules_say(backend: Backend) {
    // The table covers what the application serves, no more, no less.
    let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.trim_start_matches("/rpc/").to_owned())
        .collect();
    let listed: BTreeSet<String> = SERVER_FUNCTIONS
        .iter()
        .map(|(name, ..)| (*name).to_owned())
        .collect();
    assert_eq!(registered, listed, "every server function has a rule here");
    let rest: Vec<(&str, &str)> = REST.iter().map(|(m, p, _)| (*m, *p)).collect();
    assert_eq!(
        rest,
        holdpoint::server::rest::ROUTES,
        "every REST endpoint has a rule here"
    );

    let world = world(backend).await;
    let mut wrong = Vec::new();
    for caller in CALLERS {
        for target in [Target::Named, Target::Group] {
            for (name, rule, args) in SERVER_FUNCTIONS {
                if SIGN_OUTS.contains(&name) {
                    continue;
                }
                let seen = world.call_server_function(name, args, caller, target).await;
                let want = match rule {
                    Rule::Public => seen,
                    _ => expected(rule, caller, target),
                };
                if seen != want {
                    wrong.push(format!(
                        "{name} {caller:?} {target:?}: {seen:?}, expected {want:?}"
                    ));
                }
            }
            for (method, path, rule) in REST {
                let seen = world.call_rest(method, path, caller, target).await;
                let want = expected(rule, caller, target);
                if seen != want {
                    wrong.push(format!(
                        "{method} {path} {caller:?} {target:?}: {seen:?}, expected {want:?}"
                    ));
                }
            }
        }
        // Signing out ends the caller's session: it goes last.
        for sign_out in SIGN_OUTS {
            let entry = SERVER_FUNCTIONS.iter().find(|(name, ..)| *name == sign_out);
            if let Some(&(name, rule, args)) = entry {
                let seen = world
                    .call_server_function(name, args, caller, Target::Named)
                    .await;
                let want = match rule {
                    Rule::Public => seen,
                    _ => expected(rule, caller, Target::Named),
                };
                if seen != want {
                    wrong.push(format!("{name} {caller:?}: {seen:?}, expected {want:?}"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// What a viewer may call, they may read only what viewers may see: the
/// Stats page names people by their display names (no emails) and leaves
/// out the failing webhook endpoints (their URLs are for admins).
async fn a_viewer_sees_no_emails_or_endpoint_urls_in_stats(backend: Backend) {
    let env = &[("HOLDPOINT_WEBHOOK_ALLOW_PRIVATE", "true")];
    let app = crate::common::spawn_app_with(backend, env).await;
    testkit::create_user_with_role(&app.bin, &app.database_url, VIEWER, PASSWORD, "viewer").await;
    let (key, _) = testkit::create_key_with_webhook(
        &app.bin,
        &app.database_url,
        env,
        "hooked-agent",
        "http://127.0.0.1:9/secret-hook-path",
    )
    .await;
    app.execute_sql("UPDATE webhook_endpoints SET failure_streak = 3")
        .await;
    let created = testkit::create_approval(
        &app.client,
        &app.server,
        &key,
        &json!({"title": "Send the digest", "action": "email.send"}),
    )
    .await;
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin = app.login(ADMIN).await;
    assert_eq!(app.decide(&admin, &id, "approve", None).await.status(), 200);

    let as_admin = app.rpc_ok(&admin, "stats", &[("window", "30d")]).await;
    let as_admin = as_admin.to_string();
    assert!(as_admin.contains("secret-hook-path"), "{as_admin}");
    assert!(as_admin.contains(ADMIN), "{as_admin}");

    let viewer = app.login(VIEWER).await;
    let seen = app
        .rpc_ok(&viewer, "stats", &[("window", "30d"), ("approver", ADMIN)])
        .await;
    let text = seen.to_string();
    assert!(!text.contains('@'), "an email reached a viewer: {text}");
    assert!(!text.contains("secret-hook-path"), "{text}");
    assert_eq!(seen["by_approver"].as_array().unwrap().len(), 1, "{text}");
    assert_eq!(seen["query"]["approver"], Value::Null);
}

/// The socket: only a signed-in, active person's session opens it.
async fn only_active_sessions_open_the_inbox_socket(backend: Backend) {
    let world = world(backend).await;
    for caller in CALLERS {
        let opens = match world.cookie(caller) {
            Some(cookie) => InboxSocket::open(
                &world.app.server,
                holdpoint::testkit::inbox_client::Connect {
                    cookie: Some(cookie),
                    ..Default::default()
                },
            )
            .await
            .is_ok(),
            None => InboxSocket::open(&world.app.server, Default::default())
                .await
                .is_ok(),
        };
        let want = !matches!(
            caller,
            Caller::Anonymous
                | Caller::Deactivated
                | Caller::Key
                | Caller::OtherKey
                | Caller::RevokedKey
        );
        assert_eq!(opens, want, "the socket for {caller:?}");
    }
}

on_both_backends!(
    a_viewer_sees_no_emails_or_endpoint_urls_in_stats,
    every_endpoint_allows_and_refuses_exactly_as_the_rules_say,
    only_active_sessions_open_the_inbox_socket,
);
