//! Routing and roles, end to end: an approval goes to a person, a group, the
//! key's default route, or everyone who may decide; who sees it and who may
//! decide it follows from the route and the person's role and groups.

use crate::common::{assert_problem, spawn_app, TestApp, ADMIN, APPROVER, PASSWORD};
use holdpoint::model::InboxEvent;
use holdpoint::testkit::inbox_client::InboxSocket;
use holdpoint::testkit::{self, Backend};
use serde_json::{json, Value};

const MEMBER: &str = "mia@example.com";
const OUTSIDER: &str = "otto@example.com";
const VIEWER: &str = "vic@example.com";

/// The app with a `billing` group (Mia in it, Otto not) and a viewer.
async fn routed_app(backend: Backend) -> TestApp {
    let app = spawn_app(backend).await;
    for (email, role) in [
        (MEMBER, "approver"),
        (OUTSIDER, "approver"),
        (VIEWER, "viewer"),
    ] {
        testkit::create_user_with_role(&app.bin, &app.database_url, email, PASSWORD, role).await;
    }
    admin_ok(&app, &["create-group", "--name", "billing"]).await;
    admin_ok(
        &app,
        &["add-to-group", "--group", "billing", "--email", MEMBER],
    )
    .await;
    app
}

async fn admin_ok(app: &TestApp, args: &[&str]) -> String {
    let output = testkit::admin(&app.bin, &app.database_url, &[], args).await;
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

async fn created(app: &TestApp, key: &str, body: &Value) -> Value {
    let response = testkit::create_approval(&app.client, &app.server, key, body).await;
    assert_eq!(response.status(), 201);
    response.json().await.expect("approval JSON")
}

fn ids(inbox: &Value) -> Vec<String> {
    inbox["approvals"]
        .as_array()
        .expect("approvals")
        .iter()
        .map(|a| a["id"].as_str().expect("id").to_owned())
        .collect()
}

async fn a_group_route_is_for_its_members(backend: Backend) {
    let app = routed_app(backend).await;
    let approval = created(
        &app,
        &app.key,
        &json!({"title": "Refund $240", "group": "Billing"}),
    )
    .await;
    assert_eq!(approval["group"], "billing");
    assert!(approval["approver"].is_null());
    let id = approval["id"].as_str().unwrap();

    let member = app.login(MEMBER).await;
    let outsider = app.login(OUTSIDER).await;
    let viewer = app.login(VIEWER).await;
    assert_eq!(ids(&app.inbox(&member).await), [id]);
    assert!(ids(&app.inbox(&outsider).await).is_empty());
    assert_eq!(
        ids(&app.inbox(&viewer).await),
        [id],
        "a viewer sees everything"
    );

    // Neither the outsider nor the viewer may decide, whatever they post.
    assert_eq!(
        app.decide(&outsider, id, "approve", None).await.status(),
        404
    );
    let refused = app.decide(&viewer, id, "approve", None).await;
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("viewer"));
    assert_eq!(app.approval(id).await["status"], "pending");

    let decided = app.decide(&member, id, "deny", Some("Wrong account")).await;
    assert_eq!(decided.status(), 200);
    assert_eq!(app.approval(id).await["decided_by"], MEMBER);
}

async fn membership_changes_take_effect_at_once(backend: Backend) {
    let app = routed_app(backend).await;
    let approval = created(
        &app,
        &app.key,
        &json!({"title": "Close ticket", "group": "billing"}),
    )
    .await;
    let id = approval["id"].as_str().unwrap();
    let outsider = app.login(OUTSIDER).await;
    assert!(ids(&app.inbox(&outsider).await).is_empty());

    admin_ok(
        &app,
        &["add-to-group", "--group", "billing", "--email", OUTSIDER],
    )
    .await;
    assert_eq!(ids(&app.inbox(&outsider).await), [id]);
    admin_ok(
        &app,
        &[
            "remove-from-group",
            "--group",
            "billing",
            "--email",
            OUTSIDER,
        ],
    )
    .await;
    assert!(ids(&app.inbox(&outsider).await).is_empty());
    assert_eq!(
        app.decide(&outsider, id, "approve", None).await.status(),
        404
    );

    // A role change, likewise: a viewer no longer decides.
    admin_ok(&app, &["set-role", "--email", MEMBER, "--role", "viewer"]).await;
    let member = app.login(MEMBER).await;
    assert_eq!(app.decide(&member, id, "approve", None).await.status(), 403);
    admin_ok(&app, &["set-role", "--email", MEMBER, "--role", "approver"]).await;
    assert_eq!(app.decide(&member, id, "approve", None).await.status(), 200);
}

async fn a_keys_default_route_applies_when_the_agent_names_none(backend: Backend) {
    let app = routed_app(backend).await;
    let output = admin_ok(
        &app,
        &["create-key", "--name", "billing-bot", "--group", "billing"],
    )
    .await;
    let key = output.trim().to_owned();
    let by_default = created(&app, &key, &json!({"title": "Refund $12"})).await;
    assert_eq!(by_default["group"], "billing");
    // The agent's own choice wins over the key's default.
    let named = created(
        &app,
        &key,
        &json!({"title": "Refund $13", "approver": APPROVER}),
    )
    .await;
    assert_eq!(named["approver"], APPROVER);
    assert!(named["group"].is_null());

    let outsider = app.login(OUTSIDER).await;
    assert!(ids(&app.inbox(&outsider).await).is_empty());
    let member = app.login(MEMBER).await;
    assert_eq!(
        ids(&app.inbox(&member).await),
        [by_default["id"].as_str().unwrap()]
    );
    // Admins decide anything.
    let admin = app.login(ADMIN).await;
    let decided = app
        .decide(&admin, named["id"].as_str().unwrap(), "approve", None)
        .await;
    assert_eq!(decided.status(), 200);
}

async fn unknown_or_inactive_targets_are_named_in_a_422(backend: Backend) {
    let app = routed_app(backend).await;
    admin_ok(&app, &["deactivate-user", "--email", OUTSIDER]).await;
    let cases = [
        (
            json!({"title": "t", "group": "data-ops"}),
            "unknown_group",
            "data-ops",
        ),
        (
            json!({"title": "t", "group": "no such/group"}),
            "unknown_group",
            "no such/group",
        ),
        (json!({"title": "t", "group": ""}), "invalid_group", "group"),
        (json!({"title": "t", "group": 7}), "invalid_group", "group"),
        (
            json!({"title": "t", "approver": OUTSIDER}),
            "unknown_approver",
            OUTSIDER,
        ),
        (
            json!({"title": "t", "approver": VIEWER}),
            "unknown_approver",
            VIEWER,
        ),
        (
            json!({"title": "t", "approver": MEMBER, "group": "billing"}),
            "invalid_route",
            "not both",
        ),
    ];
    for (body, code, named) in cases {
        let problem = assert_problem(app.create(&body).await, 422, code).await;
        assert!(
            problem["detail"].as_str().unwrap().contains(named),
            "{body}: {problem}"
        );
    }
    assert_eq!(app.count().await, 0, "nothing was created");

    // The CLI refuses the same targets, and makes nothing.
    for args in [
        ["create-key", "--name", "k1", "--group", "data-ops"],
        ["create-key", "--name", "k2", "--approver", VIEWER],
    ] {
        let output = testkit::admin(&app.bin, &app.database_url, &[], &args).await;
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(args[4]), "{stderr}");
    }
    let groups = admin_ok(&app, &["groups"]).await;
    assert_eq!(groups.trim(), format!("billing\t{MEMBER}"));
    for args in [
        vec!["create-group", "--name", "billing"],
        vec!["create-group", "--name", "Not A Name"],
        vec!["add-to-group", "--group", "data-ops", "--email", MEMBER],
        vec![
            "add-to-group",
            "--group",
            "billing",
            "--email",
            "nobody@example.com",
        ],
        vec!["set-role", "--email", ADMIN, "--role", "viewer"],
        vec!["set-role", "--email", MEMBER, "--role", "owner"],
    ] {
        let output = testkit::admin(&app.bin, &app.database_url, &[], &args).await;
        assert!(!output.status.success(), "{args:?} succeeded");
    }
}

async fn an_open_inbox_shows_what_a_new_group_brings(backend: Backend) {
    let app = routed_app(backend).await;
    let approval = created(
        &app,
        &app.key,
        &json!({"title": "Refund $75", "group": "billing"}),
    )
    .await;
    let cookie = app.login(OUTSIDER).await;
    let mut inbox = InboxSocket::signed_in(&app.server, &cookie).await;
    let InboxEvent::Snapshot(before) = inbox.next_event().await else {
        panic!("the first message is a snapshot");
    };
    assert!(before.approvals.is_empty());

    // Joined elsewhere (the CLI, another process): the open inbox hears of
    // it and shows the group's approval without a reload.
    admin_ok(
        &app,
        &["add-to-group", "--group", "billing", "--email", OUTSIDER],
    )
    .await;
    let InboxEvent::Snapshot(after) = inbox.next_news().await else {
        panic!("a fresh snapshot");
    };
    let ids: Vec<&str> = after.approvals.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, [approval["id"].as_str().unwrap()]);
}

/// An admin's inbox shows what is routed to them, their groups or nobody;
/// "everything" shows every pending approval, on the page and live.
async fn an_admins_inbox_is_theirs_unless_they_ask_for_everything(backend: Backend) {
    let app = routed_app(backend).await;
    let for_ana = created(
        &app,
        &app.key,
        &json!({"title": "For Ana", "approver": APPROVER}),
    )
    .await;
    let for_anyone = created(&app, &app.key, &json!({"title": "For anyone"})).await;
    let admin = app.login(ADMIN).await;
    let mine = app.inbox(&admin).await;
    assert_eq!(ids(&mine), [for_anyone["id"].as_str().unwrap()]);
    assert_eq!(mine["everything"], false);
    assert_eq!(mine["may_show_everything"], true);
    let everything = app.rpc_ok(&admin, "inbox", &[("everything", "true")]).await;
    assert_eq!(
        ids(&everything),
        [
            for_ana["id"].as_str().unwrap(),
            for_anyone["id"].as_str().unwrap()
        ]
    );
    assert_eq!(everything["everything"], true);
    // Asking does nothing for anyone else.
    let member = app.login(MEMBER).await;
    let theirs = app
        .rpc_ok(&member, "inbox", &[("everything", "true")])
        .await;
    assert_eq!(theirs["everything"], false);
    assert_eq!(ids(&theirs), [for_anyone["id"].as_str().unwrap()]);

    // Live: only the socket that asked for everything hears of Ana's next one.
    let connect = |everything| holdpoint::testkit::inbox_client::Connect {
        cookie: Some(&admin),
        everything,
        ..Default::default()
    };
    let mut all = InboxSocket::open(&app.server, connect(true)).await.unwrap();
    let mut own = InboxSocket::open(&app.server, connect(false))
        .await
        .unwrap();
    let InboxEvent::Snapshot(snapshot) = all.next_event().await else {
        panic!("a snapshot first");
    };
    assert_eq!(snapshot.approvals.len(), 2);
    assert!(matches!(own.next_event().await, InboxEvent::Snapshot(_)));
    created(
        &app,
        &app.key,
        &json!({"title": "Also for Ana", "approver": APPROVER}),
    )
    .await;
    created(&app, &app.key, &json!({"title": "For anyone, again"})).await;
    let InboxEvent::Created(heard) = all.next_news().await else {
        panic!("a change");
    };
    assert_eq!(heard.approval.title, "Also for Ana");
    let InboxEvent::Created(heard) = own.next_news().await else {
        panic!("a change");
    };
    assert_eq!(heard.approval.title, "For anyone, again", "not Ana's");
}

on_both_backends!(
    an_admins_inbox_is_theirs_unless_they_ask_for_everything,
    an_open_inbox_shows_what_a_new_group_brings,
    a_group_route_is_for_its_members,
    membership_changes_take_effect_at_once,
    a_keys_default_route_applies_when_the_agent_names_none,
    unknown_or_inactive_targets_are_named_in_a_422,
);
