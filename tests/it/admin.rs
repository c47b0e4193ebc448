//! The admin's People and Groups pages, through their server functions:
//! invitations and password links (one-time, 7 days), roles, switching
//! accounts off, groups; each refused to anyone but an admin.

use crate::common::{spawn_app, TestApp, ADMIN, APPROVER, PASSWORD};
use holdpoint::testkit::{self, Backend};
use reqwest::header::SET_COOKIE;
use serde_json::Value;

const INVITEE: &str = "ivy@example.com";

/// The token of a one-time link (`…/welcome?token=T`).
fn token_of(link: &Value) -> String {
    let url = link["url"].as_str().expect("url");
    url.split_once("token=").expect("a token").1.to_owned()
}

/// Chooses a password through a link; the raw answer.
async fn use_link(app: &TestApp, token: &str, name: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/rpc/use_account_link"))
        .form(&[("token", token), ("name", name), ("password", password)])
        .send()
        .await
        .expect("use_account_link")
}

async fn signs_in(app: &TestApp, email: &str, password: &str) -> bool {
    let status = app.try_login(email, password).await.status();
    status.is_success() || status.is_redirection()
}

fn person<'a>(people: &'a Value, email: &str) -> &'a Value {
    people["people"]
        .as_array()
        .expect("people")
        .iter()
        .find(|p| p["email"] == email)
        .unwrap_or_else(|| panic!("{email} is not listed: {people}"))
}

async fn an_invited_person_chooses_a_password_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.login(ADMIN).await;
    let link = app
        .rpc_ok(
            &admin,
            "invite",
            &[("email", " Ivy@Example.com"), ("role", "viewer")],
        )
        .await;
    assert_eq!(link["email"], INVITEE);
    let token = token_of(&link);
    let people = app.rpc_ok(&admin, "people", &[]).await;
    assert_eq!(person(&people, INVITEE)["status"], "invited");
    assert_eq!(person(&people, INVITEE)["role"], "viewer");
    assert!(person(&people, INVITEE)["invited_until"].is_i64());

    // Until they choose a password, nothing signs them in.
    assert_eq!(app.try_login(INVITEE, "").await.status(), 401);
    // The link's page names them; a weak password is refused, keeping it.
    let page = app.page_text("", &format!("/welcome?token={token}")).await;
    assert!(page.contains(INVITEE), "{page}");
    assert_eq!(use_link(&app, &token, "Ivy", "short").await.status(), 422);
    let chosen = use_link(&app, &token, "Ivy Chen", "a good long password").await;
    assert!(chosen.status().is_success() || chosen.status().is_redirection());
    assert!(chosen.headers().get(SET_COOKIE).is_some(), "signed in");
    // Spent.
    assert_eq!(
        use_link(&app, &token, "Ivy", "another long password")
            .await
            .status(),
        403
    );
    assert!(signs_in(&app, INVITEE, "a good long password").await);
    let people = app.rpc_ok(&admin, "people", &[]).await;
    assert_eq!(person(&people, INVITEE)["status"], "active");
    assert_eq!(person(&people, INVITEE)["name"], "Ivy Chen");

    // The same email again is a conflict; a made-up link is refused.
    let again = app
        .rpc(
            &admin,
            "invite",
            &[("email", INVITEE), ("role", "approver")],
        )
        .await;
    assert_eq!(again.status(), 409);
    assert_eq!(
        use_link(&app, "not-a-token", "x", "a good long password")
            .await
            .status(),
        403
    );
}

async fn a_password_link_replaces_the_password_and_signs_out_everywhere(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.login(ADMIN).await;
    let ana = app.login(APPROVER).await;
    let link = app
        .rpc_ok(&admin, "password_link", &[("email", APPROVER)])
        .await;
    // The old password works until the new one is chosen.
    assert_eq!(app.inbox(&ana).await["viewer_email"], APPROVER);
    let chosen = use_link(&app, &token_of(&link), "", "a brand new password").await;
    assert!(!chosen.status().is_client_error(), "{}", chosen.status());
    assert_eq!(app.try_login(APPROVER, PASSWORD).await.status(), 401);
    assert_eq!(
        app.rpc(&ana, "inbox", &[]).await.status(),
        401,
        "the old session ended"
    );
    let missing = app
        .rpc(&admin, "password_link", &[("email", "nobody@example.com")])
        .await;
    assert_eq!(missing.status(), 422);
}

async fn roles_and_accounts_change_from_the_people_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.login(ADMIN).await;
    app.rpc_ok(
        &admin,
        "set_role",
        &[("email", APPROVER), ("role", "viewer")],
    )
    .await;
    let people = app.rpc_ok(&admin, "people", &[]).await;
    assert_eq!(person(&people, APPROVER)["role"], "viewer");
    let bad = app
        .rpc(
            &admin,
            "set_role",
            &[("email", APPROVER), ("role", "owner")],
        )
        .await;
    assert_eq!(bad.status(), 422);
    // The last admin keeps the role, and cannot be switched off.
    let last = app
        .rpc(
            &admin,
            "set_role",
            &[("email", ADMIN), ("role", "approver")],
        )
        .await;
    assert_eq!(last.status(), 409);
    let off = app
        .rpc(
            &admin,
            "set_active",
            &[("email", ADMIN), ("active", "false")],
        )
        .await;
    assert_eq!(off.status(), 409);

    let ana = app.login(APPROVER).await;
    app.rpc_ok(
        &admin,
        "set_active",
        &[("email", APPROVER), ("active", "false")],
    )
    .await;
    assert_eq!(app.rpc(&ana, "inbox", &[]).await.status(), 401);
    let people = app.rpc_ok(&admin, "people", &[]).await;
    assert_eq!(person(&people, APPROVER)["status"], "deactivated");
    app.rpc_ok(
        &admin,
        "set_active",
        &[("email", APPROVER), ("active", "true")],
    )
    .await;
    assert!(signs_in(&app, APPROVER, PASSWORD).await);
}

async fn groups_are_made_and_filled_from_the_groups_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.login(ADMIN).await;
    app.rpc_ok(&admin, "create_group", &[("name", "billing")])
        .await;
    let taken = app
        .rpc(&admin, "create_group", &[("name", "Billing")])
        .await;
    assert_eq!(taken.status(), 409);
    let bad = app
        .rpc(&admin, "create_group", &[("name", "no spaces")])
        .await;
    assert_eq!(bad.status(), 422);
    app.rpc_ok(
        &admin,
        "set_group_member",
        &[
            ("group", "billing"),
            ("email", APPROVER),
            ("member", "true"),
        ],
    )
    .await;
    let groups = app.rpc_ok(&admin, "groups", &[]).await;
    assert_eq!(groups["groups"][0]["name"], "billing");
    assert_eq!(groups["groups"][0]["members"][0], APPROVER);
    assert!(groups["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == ADMIN));
    app.rpc_ok(
        &admin,
        "set_group_member",
        &[
            ("group", "billing"),
            ("email", APPROVER),
            ("member", "false"),
        ],
    )
    .await;
    let groups = app.rpc_ok(&admin, "groups", &[]).await;
    assert_eq!(groups["groups"][0]["members"], serde_json::json!([]));
}

/// Every admin server function: 401 without a session, 403 for an
/// approver and for a viewer, whatever the arguments.
async fn only_admins_run_the_admin_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    testkit::create_user_with_role(
        &app.bin,
        &app.database_url,
        "vic@example.com",
        PASSWORD,
        "viewer",
    )
    .await;
    let approver = app.login(APPROVER).await;
    let viewer = app.login("vic@example.com").await;
    let calls: [(&str, &[(&str, &str)]); 12] = [
        ("keys", &[]),
        ("create_key", &[("name", "sneaky-agent")]),
        ("revoke_key", &[("id", "key_nope")]),
        ("rotate_key", &[("name", "billing-agent")]),
        ("people", &[]),
        ("invite", &[("email", "x@example.com"), ("role", "admin")]),
        ("password_link", &[("email", ADMIN)]),
        ("set_role", &[("email", APPROVER), ("role", "admin")]),
        ("set_active", &[("email", ADMIN), ("active", "false")]),
        ("groups", &[]),
        ("create_group", &[("name", "sneaky")]),
        (
            "set_group_member",
            &[("group", "sneaky"), ("email", APPROVER), ("member", "true")],
        ),
    ];
    for (name, form) in calls {
        assert_eq!(
            app.rpc("", name, form).await.status(),
            401,
            "{name} anonymous"
        );
        for (who, cookie) in [("approver", &approver), ("viewer", &viewer)] {
            assert_eq!(
                app.rpc(cookie, name, form).await.status(),
                403,
                "{name} as {who}"
            );
        }
    }
    let admin = app.login(ADMIN).await;
    let people = app.rpc_ok(&admin, "people", &[]).await;
    assert_eq!(
        people["people"].as_array().unwrap().len(),
        3,
        "nothing was added"
    );
    assert_eq!(person(&people, APPROVER)["role"], "approver");
}

/// The command line does the same for scripts, and `--json` prints one
/// JSON object.
async fn the_cli_invites_and_lists_people_as_json(backend: Backend) {
    let app = spawn_app(backend).await;
    let run = |args: Vec<&'static str>| {
        let app = &app;
        async move {
            let output = testkit::admin(&app.bin, &app.database_url, &[], &args).await;
            assert!(
                output.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8(output.stdout).expect("utf-8")
        }
    };
    let invited: Value = serde_json::from_str(
        &run(vec![
            "invite", "--email", INVITEE, "--role", "viewer", "--json",
        ])
        .await,
    )
    .expect("one JSON object");
    assert_eq!(invited["email"], INVITEE);
    assert_eq!(invited["role"], "viewer");
    let token = token_of(&invited);
    let chosen = use_link(&app, &token, "Ivy", "a good long password").await;
    assert!(!chosen.status().is_client_error());

    let plain = run(vec!["password-link", "--email", APPROVER]).await;
    assert!(plain.trim().contains("/welcome?token="), "{plain}");
    let people: Value = serde_json::from_str(&run(vec!["people", "--json"]).await).expect("JSON");
    assert_eq!(person(&people, INVITEE)["status"], "active");
    assert_eq!(person(&people, INVITEE)["role"], "viewer");
    let listed = run(vec!["people"]).await;
    assert!(
        listed.contains(&format!("{INVITEE}\tviewer\tactive")),
        "{listed}"
    );
    let created: Value =
        serde_json::from_str(&run(vec!["create-key", "--name", "scripted", "--json"]).await)
            .expect("JSON");
    assert!(
        created["key"]
            .as_str()
            .is_some_and(|k| k.starts_with("hp_")),
        "{created}"
    );
}

async fn keys_are_made_watched_and_revoked_from_the_keys_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.login(ADMIN).await;
    app.rpc_ok(&admin, "create_group", &[("name", "billing")])
        .await;
    let created = app
        .rpc_ok(
            &admin,
            "create_key",
            &[
                ("name", "refund-bot"),
                ("route", "group:billing"),
                ("webhook_url", ""),
            ],
        )
        .await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("hp_"));
    assert!(created["webhook_secret"].is_null());
    let bad_route = app
        .rpc(
            &admin,
            "create_key",
            &[("name", "x"), ("route", "person:nobody@example.com")],
        )
        .await;
    assert_eq!(bad_route.status(), 422);
    let taken = app
        .rpc(
            &admin,
            "create_key",
            &[("name", "refund-bot"), ("route", "")],
        )
        .await;
    assert_eq!(taken.status(), 409);

    let key_row = |data: &Value, name: &str| {
        data["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["name"] == name)
            .unwrap_or_else(|| panic!("no key {name}: {data}"))
            .clone()
    };
    let before = app.rpc_ok(&admin, "keys", &[]).await;
    assert_eq!(key_row(&before, "refund-bot")["route"], "the billing group");
    assert!(key_row(&before, "refund-bot")["last_used_at"].is_null());

    // Used by its agent: last used, one pending, routed to the group.
    let approval: Value = testkit::create_approval(
        &app.client,
        &app.server,
        &secret,
        &serde_json::json!({"title": "Refund $9"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(approval["group"], "billing");
    let after = app.rpc_ok(&admin, "keys", &[]).await;
    assert!(key_row(&after, "refund-bot")["last_used_at"].is_i64());
    assert_eq!(key_row(&after, "refund-bot")["pending"], 1);

    // Routed elsewhere: the next approval follows.
    app.rpc_ok(
        &admin,
        "set_key_route",
        &[
            ("name", "refund-bot"),
            ("route", &format!("person:{APPROVER}")),
        ],
    )
    .await;
    let rerouted: Value = testkit::create_approval(
        &app.client,
        &app.server,
        &secret,
        &serde_json::json!({"title": "Refund $11"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(rerouted["approver"], APPROVER);
    let bad = app
        .rpc(
            &admin,
            "set_key_route",
            &[("name", "refund-bot"), ("route", "group:nope")],
        )
        .await;
    assert_eq!(bad.status(), 422);
    let missing = app
        .rpc(
            &admin,
            "set_key_route",
            &[("name", "no-such-key"), ("route", "")],
        )
        .await;
    assert_eq!(missing.status(), 404);
    let refund_bot = key_row(&app.rpc_ok(&admin, "keys", &[]).await, "refund-bot")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.rpc_ok(&admin, "revoke_key", &[("id", &refund_bot)])
        .await;
    let refused = testkit::create_approval(
        &app.client,
        &app.server,
        &secret,
        &serde_json::json!({"title": "Refund $10"}),
    )
    .await;
    assert_eq!(refused.status(), 401);
    let gone = app.rpc(&admin, "revoke_key", &[("id", &refund_bot)]).await;
    assert_eq!(gone.status(), 404);
    let listed = app.rpc_ok(&admin, "keys", &[]).await;
    assert!(key_row(&listed, "refund-bot")["revoked_at"].is_i64());
}

/// The admin actions in the audit trail: (kind, actor, subject), in order.
async fn admin_audit(app: &TestApp) -> Vec<(String, String, String)> {
    app.query_sql(
        "SELECT kind, actor, subject FROM audit_events
         WHERE subject IS NOT NULL AND kind NOT IN ('signed_in', 'sign_in_failed')
         ORDER BY seq",
    )
    .await
}

async fn every_admin_action_is_in_the_audit_trail(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.login(ADMIN).await;
    let people = app.rpc_ok(&admin, "people", &[]).await;
    assert!(person(&people, ADMIN)["email"].is_string());
    app.rpc_ok(&admin, "invite", &[("email", INVITEE), ("role", "viewer")])
        .await;
    app.rpc_ok(&admin, "password_link", &[("email", APPROVER)])
        .await;
    app.rpc_ok(
        &admin,
        "set_role",
        &[("email", INVITEE), ("role", "approver")],
    )
    .await;
    app.rpc_ok(&admin, "create_group", &[("name", "billing")])
        .await;
    app.rpc_ok(
        &admin,
        "set_group_member",
        &[("group", "billing"), ("email", INVITEE), ("member", "true")],
    )
    .await;
    app.rpc_ok(&admin, "create_key", &[("name", "audited-agent")])
        .await;
    app.rpc_ok(
        &admin,
        "set_key_route",
        &[("name", "audited-agent"), ("route", "group:billing")],
    )
    .await;
    let by_cli = testkit::admin(
        &app.bin,
        &app.database_url,
        &[],
        &[
            "set-webhook-url",
            "--key",
            "audited-agent",
            "--url",
            "https://93.184.215.14/hooks",
        ],
    )
    .await;
    assert!(
        by_cli.status.success(),
        "{}",
        String::from_utf8_lossy(&by_cli.stderr)
    );
    let keys = app.rpc_ok(&admin, "keys", &[]).await;
    let audited = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "audited-agent")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.rpc_ok(&admin, "revoke_key", &[("id", &audited)]).await;
    app.rpc_ok(
        &admin,
        "set_active",
        &[("email", INVITEE), ("active", "false")],
    )
    .await;
    // Refused actions leave nothing behind.
    let refused = app
        .rpc(&admin, "create_group", &[("name", "billing")])
        .await;
    assert_eq!(refused.status(), 409);
    // From the command line, the actor is `cli`.
    let output = testkit::admin(
        &app.bin,
        &app.database_url,
        &[],
        &["end-sessions", "--email", APPROVER],
    )
    .await;
    assert!(output.status.success());

    let mut trail = admin_audit(&app).await;
    // The fixture's own admin, approver and key, made with `holdpoint admin`.
    let setup: Vec<(String, String)> = trail
        .drain(..3)
        .map(|(kind, actor, _)| (kind, actor))
        .collect();
    let cli = |kind: &str| (kind.to_owned(), "cli".to_owned());
    assert_eq!(
        setup,
        [cli("user_created"), cli("user_created"), cli("key_created")]
    );
    // (kind, whether the admin in the browser did it rather than the CLI)
    let seen: Vec<(&str, bool)> = trail
        .iter()
        .map(|(kind, actor, _)| (kind.as_str(), actor.starts_with("user:usr_")))
        .collect();
    assert_eq!(
        seen,
        [
            ("user_invited", true),
            ("password_link_issued", true),
            ("role_changed", true),
            ("group_created", true),
            ("group_member_added", true),
            ("key_created", true),
            ("key_route_changed", true),
            ("webhook_url_set", false),
            ("key_revoked", true),
            ("user_deactivated", true),
            ("sessions_ended", false),
        ]
    );
    assert!(trail
        .iter()
        .all(|(_, actor, _)| actor.starts_with("user:usr_") || actor == "cli"));
    assert!(trail[3].2.starts_with("group:grp_") && trail[5].2.starts_with("key:key_"));
}

/// A rotation gives an agent a second live key beside the first, with the
/// same name, route and webhook endpoint; the old one is revoked after.
async fn a_key_is_rotated_without_downtime(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.login(ADMIN).await;
    let first = app
        .rpc_ok(
            &admin,
            "create_key",
            &[
                ("name", "mailer"),
                ("route", &format!("person:{APPROVER}")),
                ("webhook_url", "https://93.184.215.14/hooks"),
            ],
        )
        .await;
    let old_secret = first["secret"].as_str().unwrap().to_owned();
    let second = app
        .rpc_ok(&admin, "rotate_key", &[("name", "mailer")])
        .await;
    let new_secret = second["secret"].as_str().unwrap().to_owned();
    assert_ne!(old_secret, new_secret);
    assert!(
        second["webhook_secret"].is_null(),
        "the endpoint keeps its secret"
    );

    // Both work meanwhile, as the same agent, routed the same way.
    for secret in [&old_secret, &new_secret] {
        let approval: Value = testkit::create_approval(
            &app.client,
            &app.server,
            secret,
            &serde_json::json!({"title": "Send the newsletter"}),
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(approval["agent"], "mailer");
        assert_eq!(approval["approver"], APPROVER);
    }
    let keys = app.rpc_ok(&admin, "keys", &[]).await;
    let mailers: Vec<&Value> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["name"] == "mailer")
        .collect();
    assert_eq!(mailers.len(), 2);
    assert!(mailers
        .iter()
        .all(|k| k["webhook_url"] == "https://93.184.215.14/hooks"));
    // A new agent may not take the name.
    let taken = app.rpc(&admin, "create_key", &[("name", "mailer")]).await;
    assert_eq!(taken.status(), 409);

    // The old key is revoked by its id: the new one goes on.
    let old_id = mailers
        .iter()
        .min_by_key(|k| k["created_at"].as_i64().unwrap())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.rpc_ok(&admin, "revoke_key", &[("id", &old_id)]).await;
    let statuses = [&old_secret, &new_secret].map(|secret| {
        let app = &app;
        async move {
            testkit::create_approval(
                &app.client,
                &app.server,
                secret,
                &serde_json::json!({"title": "Again"}),
            )
            .await
            .status()
            .as_u16()
        }
    });
    let [old, new] = statuses;
    assert_eq!((old.await, new.await), (401, 201));
    let missing = app.rpc(&admin, "rotate_key", &[("name", "nobody")]).await;
    assert_eq!(missing.status(), 404);
}

/// An invited admin who has not chosen a password cannot sign in, so does
/// not count as another admin: the last real one keeps their role and
/// their account until the invitee can take over.
async fn an_invited_admin_does_not_count_as_another_admin(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.login(ADMIN).await;
    let link = app
        .rpc_ok(&admin, "invite", &[("email", INVITEE), ("role", "admin")])
        .await;
    for (name, form) in [
        ("set_role", vec![("email", ADMIN), ("role", "approver")]),
        ("set_active", vec![("email", ADMIN), ("active", "false")]),
    ] {
        let refused = app.rpc(&admin, name, &form).await;
        assert_eq!(refused.status(), 409, "{name}");
        let text = refused.text().await.unwrap();
        assert!(text.contains("last active admin"), "{name}: {text}");
    }

    // Once the invitee has a password, they count.
    let chosen = use_link(&app, &token_of(&link), "Ivy", "ivy's own password").await;
    assert!(chosen.status().is_success() || chosen.status().is_redirection());
    app.rpc_ok(
        &admin,
        "set_role",
        &[("email", ADMIN), ("role", "approver")],
    )
    .await;
}

/// Twenty uses of one link at once: exactly one sets the password.
async fn a_one_time_link_works_once_under_concurrent_use(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.login(ADMIN).await;
    let link = app
        .rpc_ok(
            &admin,
            "invite",
            &[("email", INVITEE), ("role", "approver")],
        )
        .await;
    let token = token_of(&link);
    let uses = (0..20).map(|i| {
        let (app, token) = (&app, token.clone());
        async move {
            let password = format!("password number {i}");
            let status = use_link(app, &token, "Ivy", &password).await.status();
            (status.is_success() || status.is_redirection()).then_some(password)
        }
    });
    let worked: Vec<String> = futures_util::future::join_all(uses)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(worked.len(), 1, "{worked:?}");
    assert!(signs_in(&app, INVITEE, &worked[0]).await);
    // Its use is in the audit log, once, by the person who chose.
    let audit = app
        .rpc_ok(&admin, "audit_log", &[("kind", "account_link_used")])
        .await;
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{audit}");
    assert!(entries[0]["detail"]
        .as_str()
        .unwrap()
        .contains("invite link"));
}

on_both_backends!(
    a_one_time_link_works_once_under_concurrent_use,
    an_invited_admin_does_not_count_as_another_admin,
    a_key_is_rotated_without_downtime,
    every_admin_action_is_in_the_audit_trail,
    keys_are_made_watched_and_revoked_from_the_keys_page,
    the_cli_invites_and_lists_people_as_json,
    an_invited_person_chooses_a_password_once,
    a_password_link_replaces_the_password_and_signs_out_everywhere,
    roles_and_accounts_change_from_the_people_page,
    groups_are_made_and_filled_from_the_groups_page,
    only_admins_run_the_admin_pages,
);
