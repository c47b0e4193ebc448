//! The live inbox's WebSocket with real clients: what each person hears, in
//! what order, who may connect, and what a client that falls behind is told.

use crate::common::{spawn_app, spawn_app_on_clock, spawn_app_with, TestApp, ADMIN, APPROVER};
use holdpoint::model::{InboxEvent, Status};
use holdpoint::testkit::inbox_client::{Connect, InboxSocket};
use holdpoint::testkit::Backend;
use serde_json::{json, Value};
use std::time::Duration;

/// Opens a signed-in socket and reads its first message, the snapshot.
async fn inbox_of(app: &TestApp, email: &str) -> (InboxSocket, Vec<String>) {
    let cookie = app.login(email).await;
    let mut socket = InboxSocket::signed_in(&app.server, &cookie).await;
    match socket.next_event().await {
        InboxEvent::Snapshot(data) => {
            let titles = data.approvals.into_iter().map(|a| a.title).collect();
            (socket, titles)
        }
        other => panic!("the first message was not a snapshot: {other:?}"),
    }
}

/// The next change's type, seq and approval (heartbeats skipped).
async fn next_change(
    socket: &mut InboxSocket,
) -> (&'static str, i64, holdpoint::model::ApprovalSummary) {
    let event = socket.next_news().await;
    let kind = match &event {
        InboxEvent::Created(_) => "created",
        InboxEvent::Decided(_) => "decided",
        InboxEvent::Expired(_) => "expired",
        InboxEvent::Cancelled(_) => "cancelled",
        other => panic!("expected a change, got {other:?}"),
    };
    let change = event.change().expect("a change").clone();
    (kind, change.seq, change.approval)
}

async fn events_arrive_in_order_to_everyone_who_may_see_them(backend: Backend) {
    let app = spawn_app_on_clock(backend, &[]).await;
    let earlier = app.create_ok("Waiting before anyone connected").await;
    let (mut admin, admin_snapshot) = inbox_of(&app, ADMIN).await;
    let (mut ana, ana_snapshot) = inbox_of(&app, APPROVER).await;
    assert_eq!(admin_snapshot, vec!["Waiting before anyone connected"]);
    assert_eq!(ana_snapshot, admin_snapshot);

    let titles: Vec<String> = (1..=12).map(|n| format!("Refund order #{n}")).collect();
    for title in &titles {
        app.create_ok(title).await;
    }
    for socket in [&mut admin, &mut ana] {
        let mut last_seq = 0;
        for title in &titles {
            let (kind, seq, approval) = next_change(socket).await;
            assert_eq!((kind, approval.title.as_str()), ("created", title.as_str()));
            assert!(seq > last_seq, "seq {seq} after {last_seq}");
            last_seq = seq;
        }
    }

    // Routed to the admin: Ana is not told of it, the admin is.
    let routed = app
        .create(&json!({"title": "Rotate the root password", "approver": ADMIN}))
        .await;
    assert_eq!(routed.status(), 201);
    let (kind, _, approval) = next_change(&mut admin).await;
    assert_eq!(
        (kind, approval.title.as_str()),
        ("created", "Rotate the root password")
    );

    // Ana denies the first one; both hear who did it.
    let cookie = app.login(APPROVER).await;
    let id = earlier["id"].as_str().unwrap();
    let denied = app
        .decide(&cookie, id, "deny", Some("Not this week."))
        .await;
    assert_eq!(denied.status(), 200);
    for socket in [&mut admin, &mut ana] {
        let event = socket.next_news().await;
        let InboxEvent::Decided(change) = event else {
            panic!("expected decided, got {event:?}")
        };
        assert_eq!(change.approval.id, id);
        assert_eq!(change.approval.status, Status::Denied);
        assert_eq!(change.approval.reason.as_deref(), Some("Not this week."));
        assert_eq!(change.decided_by_name.as_deref(), Some("ana"));
    }

    // The agent withdraws one; another runs out of time.
    let first_title = &titles[0];
    let pending: Value = app.inbox(&cookie).await;
    let first_id = pending["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"] == first_title.as_str())
        .expect("the first refund is pending")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cancelled = app
        .post(&app.key, &format!("/api/v1/approvals/{first_id}/cancel"))
        .await;
    assert_eq!(cancelled.status(), 200);
    let (kind, _, approval) = next_change(&mut ana).await;
    assert_eq!(
        (kind, approval.id.as_str()),
        ("cancelled", first_id.as_str())
    );

    let short = app
        .create(&json!({"title": "Expires in a second", "expires_in": 1}))
        .await;
    assert_eq!(short.status(), 201);
    let (kind, _, approval) = next_change(&mut ana).await;
    assert_eq!(
        (kind, approval.title.as_str()),
        ("created", "Expires in a second")
    );
    app.advance(Duration::from_secs(1));
    let (kind, _, approval) = next_change(&mut ana).await;
    assert_eq!((kind, approval.status), ("expired", Status::Expired));
}

async fn a_client_that_falls_behind_is_told_to_resync(backend: Backend) {
    // The default backlog, and enough changes to fill the kernel's buffers
    // (megabytes, on loopback) of a client that has stopped reading.
    let app = spawn_app_with(
        backend,
        &[
            ("HOLDPOINT_CREATE_RATE", "100000/s"),
            ("HOLDPOINT_CREATE_BURST", "100000"),
        ],
    )
    .await;
    let cookie = app.login(APPROVER).await;
    let slow_way = Connect {
        cookie: Some(&cookie),
        receive_buffer: Some(4096),
        ..Connect::default()
    };
    let mut slow = InboxSocket::open(&app.server, slow_way).await.unwrap();
    let (mut brisk, _) = inbox_of(&app, APPROVER).await;
    assert!(matches!(slow.next_event().await, InboxEvent::Snapshot(_)));

    // The slow client reads nothing from here on, while 6,000 approvals
    // with long titles arrive (live events carry no previews: it takes
    // megabytes of them to fill the buffers); the brisk one keeps up and is
    // not held back by it.
    let title = |n: usize| format!("{} #{n}", "Large title ".repeat(15));
    let count = 6000;
    let brisk_hears = tokio::spawn(async move {
        let mut heard = std::collections::BTreeSet::new();
        while heard.len() < count {
            let (kind, _, approval) = next_change(&mut brisk).await;
            assert_eq!(kind, "created");
            heard.insert(approval.title);
        }
        heard
    });
    let creators = (0..16).map(|creator| {
        let app = &app;
        async move {
            for n in (1..=count).filter(|n| n % 16 == creator) {
                let created = app
                    .create(&json!({"title": title(n), "action": "a".repeat(100)}))
                    .await;
                assert_eq!(created.status(), 201);
            }
        }
    });
    futures_util::future::join_all(creators).await;
    let heard = brisk_hears.await.unwrap();
    assert_eq!(heard, (1..=count).map(title).collect());

    // Reading again, the slow client finds what fitted in its buffers, then
    // `resync`, then a snapshot with everything.
    slow.widen_receive_buffer(4 << 20).unwrap();
    let mut changes_before_resync = 0;
    loop {
        match slow.next_news().await {
            InboxEvent::Created(_) => changes_before_resync += 1,
            InboxEvent::Resync => break,
            other => panic!("expected created or resync, got {other:?}"),
        }
    }
    assert!(changes_before_resync < count, "it never fell behind");
    let InboxEvent::Snapshot(snapshot) = slow.next_news().await else {
        panic!("no snapshot after resync")
    };
    // The inbox shows its oldest 500.
    assert_eq!(snapshot.approvals.len(), 500);
}

async fn only_signed_in_pages_of_this_site_may_connect(backend: Backend) {
    let app = spawn_app(backend).await;
    let refused_status = |result: Result<InboxSocket, _>| match result {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("the socket was opened"),
    };
    let anonymous = InboxSocket::open(&app.server, Connect::default()).await;
    assert_eq!(refused_status(anonymous), 401);
    let forged = Connect {
        cookie: Some("holdpoint_session=forged"),
        ..Connect::default()
    };
    assert_eq!(
        refused_status(InboxSocket::open(&app.server, forged).await),
        401
    );

    let cookie = app.login(APPROVER).await;
    let cross_site = Connect {
        cookie: Some(&cookie),
        origin: Some("https://evil.example"),
        ..Connect::default()
    };
    assert_eq!(
        refused_status(InboxSocket::open(&app.server, cross_site).await),
        403
    );
    let same_site = Connect {
        cookie: Some(&cookie),
        origin: Some(&app.server.base_url),
        ..Connect::default()
    };
    let mut socket = InboxSocket::open(&app.server, same_site).await.unwrap();
    assert!(matches!(socket.next_event().await, InboxEvent::Snapshot(_)));

    // Not a WebSocket handshake: a problem+json answer, not a page.
    let plain = app
        .client
        .get(app.url("/ws"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    crate::common::assert_problem(plain, 400, "websocket_expected").await;
}

/// `holdpoint admin ARGS...` against the app's database; must succeed
/// unless `ok` is false. Returns what it printed on stderr.
async fn admin_command(app: &crate::common::TestApp, args: &[&str], ok: bool) -> String {
    let output = holdpoint::testkit::admin(&app.bin, &app.database_url, &[], args).await;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.success(), ok, "admin {args:?}: {stderr}");
    stderr
}

async fn deactivation_and_ended_sessions_close_open_inboxes_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    // Well inside the 20 s heartbeat: the close is not waiting for it.
    let soon = Duration::from_secs(5);

    let cookie = app.login(APPROVER).await;
    let mut socket = InboxSocket::signed_in(&app.server, &cookie).await;
    assert!(matches!(socket.next_event().await, InboxEvent::Snapshot(_)));
    admin_command(&app, &["deactivate-user", "--email", APPROVER], true).await;
    assert_eq!(socket.close_code(soon).await, 4401);
    assert_eq!(app.rpc(&cookie, "inbox", &[]).await.status(), 401);
    assert_eq!(
        app.try_login(APPROVER, crate::common::PASSWORD)
            .await
            .status(),
        401
    );

    admin_command(&app, &["reactivate-user", "--email", APPROVER], true).await;
    let cookie = app.login(APPROVER).await;
    let mut socket = InboxSocket::signed_in(&app.server, &cookie).await;
    assert!(matches!(socket.next_event().await, InboxEvent::Snapshot(_)));
    let said = admin_command(&app, &["end-sessions", "--email", APPROVER], true).await;
    assert!(said.contains("Ended 1 session"), "{said}");
    assert_eq!(socket.close_code(soon).await, 4401);
    assert_eq!(app.rpc(&cookie, "inbox", &[]).await.status(), 401);
    // Signed out, not switched off.
    app.login(APPROVER).await;

    let refused = admin_command(
        &app,
        &["deactivate-user", "--email", crate::common::ADMIN],
        false,
    )
    .await;
    assert!(refused.contains("last active admin"), "{refused}");
    let unknown = admin_command(
        &app,
        &["end-sessions", "--email", "nobody@example.com"],
        false,
    )
    .await;
    assert!(unknown.contains("nobody@example.com"), "{unknown}");
}

on_both_backends!(
    deactivation_and_ended_sessions_close_open_inboxes_at_once,
    events_arrive_in_order_to_everyone_who_may_see_them,
    a_client_that_falls_behind_is_told_to_resync,
    only_signed_in_pages_of_this_site_may_connect,
);
