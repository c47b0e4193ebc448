//! A person's own account page: sessions by browser, ending one or all,
//! and changing the password.

use crate::common::{spawn_app, TestApp, ADMIN, APPROVER, PASSWORD};
use holdpoint::testkit::{self, Backend};
use reqwest::header::{COOKIE, SET_COOKIE, USER_AGENT};
use serde_json::Value;

/// Signs in from a browser that calls itself `device`; the Cookie header.
async fn sign_in_from(app: &TestApp, device: &str, password: &str) -> String {
    let response = app
        .client
        .post(app.url("/rpc/login"))
        .header(USER_AGENT, device)
        .form(&[("email", APPROVER), ("password", password)])
        .send()
        .await
        .unwrap();
    let cookie = response
        .headers()
        .get(SET_COOKIE)
        .expect("a session cookie")
        .to_str()
        .unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

async fn account(app: &TestApp, cookie: &str) -> Value {
    app.rpc_ok(cookie, "my_account", &[]).await
}

async fn signed_in(app: &TestApp, cookie: &str) -> bool {
    app.rpc(cookie, "my_account", &[]).await.status() == 200
}

async fn a_person_sees_and_ends_their_own_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    let laptop = sign_in_from(&app, "Firefox on the laptop", PASSWORD).await;
    let phone = sign_in_from(&app, "Safari on the phone", PASSWORD).await;
    let mine = account(&app, &laptop).await;
    assert_eq!(mine["email"], APPROVER);
    let sessions = mine["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let this_one: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(this_one.len(), 1);
    assert_eq!(this_one[0]["device"], "Firefox on the laptop");
    assert!(this_one[0]["last_seen_at"].is_i64());
    let other = sessions.iter().find(|s| s["current"] == false).unwrap();
    assert_eq!(other["device"], "Safari on the phone");

    // Ending the phone's session signs the phone out, and only it.
    app.rpc_ok(
        &laptop,
        "end_session",
        &[("id", other["id"].as_str().unwrap())],
    )
    .await;
    assert!(!signed_in(&app, &phone).await);
    assert!(signed_in(&app, &laptop).await);
    let gone = app
        .rpc(
            &laptop,
            "end_session",
            &[("id", other["id"].as_str().unwrap())],
        )
        .await;
    assert_eq!(gone.status(), 404);

    // Someone else's session cannot be ended from here.
    let admin = app.login(crate::common::ADMIN).await;
    let admins = account(&app, &admin).await;
    let admin_session = admins["sessions"][0]["id"].as_str().unwrap().to_owned();
    let refused = app
        .rpc(&laptop, "end_session", &[("id", admin_session.as_str())])
        .await;
    assert_eq!(refused.status(), 404);
    assert!(signed_in(&app, &admin).await);

    // Everywhere: this browser too.
    let again = sign_in_from(&app, "Safari on the phone", PASSWORD).await;
    let response = app
        .client
        .post(app.url("/rpc/sign_out_everywhere"))
        .header(COOKIE, &laptop)
        .send()
        .await
        .unwrap();
    assert!(!response.status().is_client_error());
    assert!(!signed_in(&app, &laptop).await);
    assert!(!signed_in(&app, &again).await);
}

async fn changing_the_password_needs_the_current_one_and_ends_other_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    let here = sign_in_from(&app, "here", PASSWORD).await;
    let elsewhere = sign_in_from(&app, "elsewhere", PASSWORD).await;
    let wrong = app
        .rpc(
            &here,
            "change_password",
            &[
                ("current", "not my password"),
                ("new", "a brand new password"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 422);
    assert!(wrong.text().await.unwrap().contains("current password"));
    let weak = app
        .rpc(
            &here,
            "change_password",
            &[("current", PASSWORD), ("new", "short")],
        )
        .await;
    assert_eq!(weak.status(), 422);
    assert!(signed_in(&app, &elsewhere).await, "nothing changed yet");

    let changed = app
        .rpc(
            &here,
            "change_password",
            &[("current", PASSWORD), ("new", "a brand new password")],
        )
        .await;
    assert_eq!(changed.status(), 200);
    let renewed = changed
        .headers()
        .get(SET_COOKIE)
        .expect("a new session for this browser")
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(signed_in(&app, &renewed).await);
    assert!(!signed_in(&app, &elsewhere).await);
    assert!(
        !signed_in(&app, &here).await,
        "the old session of this browser ended too"
    );
    assert_eq!(app.try_login(APPROVER, PASSWORD).await.status(), 401);
    let _ = testkit::login(&app.client, &app.server, APPROVER, "a brand new password").await;
}

/// A stolen session cannot guess the current password without limit; the
/// guesses do not lock the owner's sign-in; the change is audited.
async fn password_changes_are_throttled_and_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    let stolen = sign_in_from(&app, "someone else's browser", PASSWORD).await;
    let guess = |n: usize| {
        let (app, stolen) = (&app, stolen.clone());
        async move {
            let password = format!("guess number {n}");
            app.rpc(
                &stolen,
                "change_password",
                &[("current", &password), ("new", "a brand new password")],
            )
            .await
            .status()
        }
    };
    for n in 0..10 {
        assert_eq!(guess(n).await, 422, "guess {n}");
    }
    assert_eq!(
        guess(10).await,
        429,
        "the eleventh guess is refused unchecked"
    );
    // Even the right one waits out the lock.
    let right = app
        .rpc(
            &stolen,
            "change_password",
            &[("current", PASSWORD), ("new", "a brand new password")],
        )
        .await;
    assert_eq!(right.status(), 429);
    // The owner still signs in.
    let owner = sign_in_from(&app, "the owner's laptop", PASSWORD).await;
    assert!(signed_in(&app, &owner).await);

    // On another account, a change goes through and is in the audit log.
    let admin = app.login(ADMIN).await;
    let changed = app
        .rpc(
            &admin,
            "change_password",
            &[("current", PASSWORD), ("new", "the admin's new password")],
        )
        .await;
    assert_eq!(changed.status(), 200);
    let cookie = testkit::login(&app.client, &app.server, ADMIN, "the admin's new password").await;
    let audit = app
        .rpc_ok(&cookie, "audit_log", &[("kind", "password_changed")])
        .await;
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{audit}");
    assert!(entries[0]["actor"].as_str().unwrap().starts_with("user:"));
}

on_both_backends!(
    password_changes_are_throttled_and_audited,
    a_person_sees_and_ends_their_own_sessions,
    changing_the_password_needs_the_current_one_and_ends_other_sessions,
);
