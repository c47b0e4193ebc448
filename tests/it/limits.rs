//! What one caller can make the server hold: the inbox list without the
//! previews and data, parked waits per key, live inboxes per person, and
//! creates per key.

use crate::common::{assert_problem, spawn_app_with, APPROVER};
use holdpoint::testkit::inbox_client::{Connect, InboxSocket};
use holdpoint::testkit::{self, Backend};
use serde_json::{json, Value};
use std::time::Duration;

const KIB: usize = 1024;

async fn a_full_inbox_of_large_requests_stays_small_on_the_wire(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("HOLDPOINT_CREATE_RATE", "100000/s"),
            ("HOLDPOINT_CREATE_BURST", "100000"),
        ],
    )
    .await;
    // 500 cards (the inbox's most), ten of them as large as allowed.
    let large_body = format!("<p>{}</p>", "x".repeat(256 * KIB - 7));
    let large = json!({
        "title": "Import 1.2 million rows into billing",
        "body": large_body,
        "data": {"rows": "y".repeat(256 * KIB - 20)},
    });
    let mut large_ids = Vec::new();
    for n in 0..500 {
        let body = if n % 50 == 0 {
            large.clone()
        } else {
            testkit::sample_request(&format!("Campaign {n}"))
        };
        let response = app.create(&body).await;
        assert_eq!(response.status(), 201);
        if n % 50 == 0 {
            let created: Value = response.json().await.unwrap();
            large_ids.push(created["id"].as_str().unwrap().to_owned());
        }
    }

    let cookie = app.login(APPROVER).await;
    let mut socket = InboxSocket::signed_in(&app.server, &cookie).await;
    let snapshot = socket.next_text().await;
    let event: Value = serde_json::from_str(&snapshot).unwrap();
    assert_eq!(event["type"], "snapshot");
    assert_eq!(event["approvals"].as_array().unwrap().len(), 500);
    assert!(
        snapshot.len() < 1024 * KIB,
        "a snapshot of 500 cards is {} bytes",
        snapshot.len()
    );
    let listed = &event["approvals"][0];
    assert!(listed.get("body").is_none() && listed.get("data").is_none());
    assert!(
        listed["body_bytes"].as_u64().unwrap() > 256 * 1024 - 10,
        "{listed}"
    );

    let page = app.rpc(&cookie, "inbox", &[]).await.text().await.unwrap();
    assert!(
        page.len() < 1024 * KIB,
        "the inbox call is {} bytes",
        page.len()
    );

    // The card on screen loads in full.
    let card = app
        .rpc_ok(&cookie, "approval_card", &[("id", large_ids[0].as_str())])
        .await;
    assert_eq!(card["body"], large_body.as_str());
    assert_eq!(card["data"]["rows"].as_str().unwrap().len(), 256 * KIB - 20);
}

async fn a_key_parks_at_most_its_limit_of_waits(backend: Backend) {
    let app = spawn_app_with(backend, &[("HOLDPOINT_MAX_WAITS_PER_KEY", "3")]).await;
    let id = app.create_ok("Refund $240").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let parked: Vec<_> = (0..3).map(|_| app.spawn_wait(&id, 30)).collect();
    // Let them park.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let refused = app
        .get(&app.key, &format!("/api/v1/approvals/{id}/wait?timeout=30"))
        .await;
    assert!(refused.headers().contains_key("retry-after"));
    assert_problem(refused, 429, "rate_limited").await;
    // Reads are not waits: they still answer.
    assert_eq!(
        app.get(&app.key, &format!("/api/v1/approvals/{id}"))
            .await
            .status(),
        200
    );

    let admin = app.login(crate::common::ADMIN).await;
    assert_eq!(app.decide(&admin, &id, "approve", None).await.status(), 200);
    for wait in parked {
        assert_eq!(wait.await.unwrap().approval["status"], "approved");
    }
    // Their places are free again.
    let again = app
        .get(&app.key, &format!("/api/v1/approvals/{id}/wait?timeout=1"))
        .await;
    assert_eq!(again.status(), 200);
}

async fn a_person_opens_at_most_their_limit_of_live_inboxes(backend: Backend) {
    let app = spawn_app_with(backend, &[("HOLDPOINT_MAX_INBOXES_PER_PERSON", "2")]).await;
    let cookie = app.login(APPROVER).await;
    let first = InboxSocket::signed_in(&app.server, &cookie).await;
    let _second = InboxSocket::signed_in(&app.server, &cookie).await;
    let how = Connect {
        cookie: Some(&cookie),
        ..Connect::default()
    };
    match InboxSocket::open(&app.server, how.clone()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 429);
            assert!(response.headers().contains_key("retry-after"));
        }
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("a third inbox was opened"),
    }
    // Someone else is not affected.
    let admin = app.login(crate::common::ADMIN).await;
    let _theirs = InboxSocket::signed_in(&app.server, &admin).await;
    // Closing one frees its seat.
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if InboxSocket::open(&app.server, how.clone()).await.is_ok() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the seat was never freed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_key_creating_too_fast_is_told_to_slow_down(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("HOLDPOINT_CREATE_RATE", "1/m"),
            ("HOLDPOINT_CREATE_BURST", "3"),
        ],
    )
    .await;
    for n in 0..3 {
        app.create_ok(&format!("Campaign {n}")).await;
    }
    let refused = app.create(&testkit::sample_request("One too many")).await;
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=60).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    assert_problem(refused, 429, "rate_limited").await;
    assert_eq!(app.count().await, 3, "the refused create stored nothing");
    // Another key has its own allowance.
    let other = app.new_key("other-agent", None).await;
    let response = testkit::create_approval(
        &app.client,
        &app.server,
        &other,
        &testkit::sample_request("Mine"),
    )
    .await;
    assert_eq!(response.status(), 201);
}

on_both_backends!(
    a_full_inbox_of_large_requests_stays_small_on_the_wire,
    a_key_parks_at_most_its_limit_of_waits,
    a_person_opens_at_most_their_limit_of_live_inboxes,
    a_key_creating_too_fast_is_told_to_slow_down,
);
