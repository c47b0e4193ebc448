//! The service on a real SQLite file and a clock the test moves: deadlines
//! pass when the test says so, not after a sleep.

use super::{Actor, CreateApproval, NewKey, Service};
use crate::model::{Status, Title};
use crate::server::config::ConfigArgs;
use crate::server::domain::clock::ManualClock;
use crate::server::domain::events::EventHub;
use crate::server::domain::ApiKey;
use crate::server::store::SqliteStore;
use clap::Parser;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    config: ConfigArgs,
}

/// A service on a fresh database with one API key, its clock at a fixed
/// moment.
async fn service_on(clock: Arc<ManualClock>) -> (Arc<Service>, ApiKey, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let hub = EventHub::new(64);
    let store = SqliteStore::open(&url, hub.clone()).await.expect("open");
    let args = Args::parse_from(["holdpoint"]).config;
    let config = crate::server::config::Config::new(&args, "127.0.0.1:3000".parse().unwrap());
    let service = Arc::new(Service::with_clock(Arc::new(store), hub, config, clock));
    tokio::spawn(service.clone().run_wait_room());
    let created = service
        .create_api_key(
            Actor::Command,
            NewKey {
                name: "agent",
                ..NewKey::default()
            },
        )
        .await
        .expect("key");
    (service, created.key, dir)
}

fn request(title: &str, expires_in: Duration) -> CreateApproval {
    CreateApproval {
        title: Title::parse(title).expect("title"),
        body_html: String::new(),
        data: serde_json::Map::new(),
        action: None,
        approver_email: None,
        group_name: None,
        expires_in: Some(expires_in),
    }
}

#[tokio::test]
async fn an_approval_expires_when_the_clock_passes_its_deadline_and_its_wait_answers() {
    let clock = Arc::new(ManualClock::starting_at(1_800_000_000_000));
    let (service, key, _dir) = service_on(clock.clone()).await;
    let created = service
        .create(
            &key.identity(),
            request("Refund $240", Duration::from_secs(60)),
            None,
        )
        .await
        .expect("create")
        .approval;
    let waiting = tokio::spawn({
        let (service, key, id) = (service.clone(), key.clone(), created.id.clone());
        async move {
            service
                .wait_for_key(&key, &id, Duration::from_secs(3600))
                .await
        }
    });

    clock.advance(Duration::from_secs(59));
    assert_eq!(service.expire_due().await.expect("expire"), 0);
    assert_eq!(
        service.next_expiry().await.expect("next"),
        Some(created.expires_at.timestamp_millis())
    );

    clock.advance(Duration::from_secs(1));
    assert_eq!(service.expire_due().await.expect("expire"), 1);
    let answered = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the wait answered at the expiry")
        .expect("task")
        .expect("wait");
    assert_eq!(answered.status, Status::Expired);
    assert_eq!(
        answered.decided_at.map(|at| at.timestamp_millis()),
        Some(clock_ms(&clock)),
        "expired at the clock's time"
    );
}

#[tokio::test]
async fn sessions_end_when_the_clock_passes_their_last_day() {
    let clock = Arc::new(ManualClock::starting_at(1_800_000_000_000));
    let (service, _key, _dir) = service_on(clock.clone()).await;
    let user = service
        .create_user(
            super::Actor::Command,
            "ana@example.com",
            None,
            "correct horse battery",
            crate::server::domain::Role::Approver,
        )
        .await
        .expect("user");
    let token = service.open_session(&user, None).await.expect("session");
    clock.advance(Duration::from_secs(super::SESSION_DAYS as u64 * 86_400 - 1));
    assert!(service.session_user(&token).await.expect("read").is_some());
    clock.advance(Duration::from_secs(1));
    assert!(service.session_user(&token).await.expect("read").is_none());
}

fn clock_ms(clock: &ManualClock) -> i64 {
    use crate::server::domain::clock::Clock;
    clock.now_ms()
}
