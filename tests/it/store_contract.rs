//! The store's contract, run directly against the `Store` trait on SQLite
//! and on PostgreSQL, without HTTP: every query is exercised, with times
//! passed in (the store never reads the clock), so both backends must agree
//! on what each method promises.

use holdpoint::model::{DeliveryStatus, Status};
use holdpoint::server::domain::events::EventHub;
use holdpoint::server::domain::{
    ids, ApiKey, ApprovalFilter, AttemptRecord, Audit, Destination, FirstUser, InsertOutcome,
    MessageFilter, NewApiKey, NewApproval, NewEndpoint, NewMessage, NewUser, NextStep, Order, Role,
    Route, Transition, TransitionOutcome, User, Visibility,
};
use holdpoint::server::store::{self, Store, StoreError};
use holdpoint::testkit::{self, Backend};
use std::sync::Arc;

/// A moment well after every id's timestamp in these tests.
const T0: i64 = 1_800_000_000_000;
const MINUTE: i64 = 60_000;

/// An admin action by `holdpoint admin` at `at`.
fn by(at: i64) -> Audit {
    Audit {
        actor: "cli".to_owned(),
        at,
    }
}

struct Fixture {
    store: Arc<dyn Store>,
    _database: testkit::TestDatabase,
    _dir: tempfile::TempDir,
}

async fn fixture(backend: Backend) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = testkit::fresh_database(backend, dir.path()).await;
    let store = store::open(&database.url, EventHub::new(64))
        .await
        .expect("open the store");
    Fixture {
        store,
        _database: database,
        _dir: dir,
    }
}

fn new_user(email: &str, role: Role, at: i64) -> NewUser {
    NewUser {
        id: ids::new_id("usr", at),
        email: email.to_owned(),
        name: email.split('@').next().unwrap().to_owned(),
        password_hash: "$argon2id$not-checked-here".to_owned(),
        role,
        created_at: at,
    }
}

fn new_key(name: &str, at: i64, webhook_url: Option<&str>) -> NewApiKey {
    let id = ids::new_id("key", at);
    NewApiKey {
        webhook: webhook_url.map(|url| NewEndpoint {
            id: ids::new_id("whe", at),
            api_key_id: id.clone(),
            url: url.to_owned(),
            secret: "whsec_c2VjcmV0".to_owned(),
            created_at: at,
        }),
        id,
        name: name.to_owned(),
        key_hash: ids::sha256_hex(name.as_bytes()),
        default_route: Route::default(),
        created_at: at,
    }
}

fn new_approval(key_id: &str, title: &str, at: i64, approver: Option<&str>) -> NewApproval {
    NewApproval {
        id: ids::new_id("apr", at),
        api_key_id: key_id.to_owned(),
        title: title.to_owned(),
        body_html: "<p>preview</p>".to_owned(),
        data_json: r#"{"amount":240}"#.to_owned(),
        action: Some("billing.refund".to_owned()),
        destination: Destination::Named(Route {
            approver_id: approver.map(str::to_owned),
            group_id: None,
        }),
        created_at: at,
        expires_at: at + 60 * MINUTE,
        idempotency: None,
        repeat_hash: ids::sha256_hex(title.as_bytes()),
        repeat_of: None,
        ruling: None,
        policy_note: None,
    }
}

fn created(outcome: InsertOutcome) -> holdpoint::server::domain::ApprovalRecord {
    match outcome {
        InsertOutcome::Created(record) => record,
        other => panic!("expected a new approval, got {other:?}"),
    }
}

async fn accounts_sessions_and_setup(backend: Backend) {
    let f = fixture(backend).await;
    let store = &f.store;
    assert!(!store.has_users().await.unwrap());

    // A setup token works until it expires, and once.
    assert!(store.create_setup_token("tok", T0 + MINUTE).await.unwrap());
    assert!(store.setup_token_live("tok", T0).await.unwrap());
    assert!(!store.setup_token_live("tok", T0 + MINUTE).await.unwrap());
    let admin = match store
        .create_first_user(new_user("admin@example.com", Role::Admin, T0), "tok", T0)
        .await
        .unwrap()
    {
        FirstUser::Created(user) => user,
        other => panic!("{other:?}"),
    };
    assert!(matches!(
        store
            .create_first_user(new_user("late@example.com", Role::Admin, T0), "tok", T0)
            .await
            .unwrap(),
        FirstUser::InvalidToken | FirstUser::AlreadySetUp
    ));
    assert!(!store
        .create_setup_token("again", T0 + MINUTE)
        .await
        .unwrap());

    // Emails are unique; lookups return the hash beside the user.
    let ana = store
        .create_user(new_user("ana@example.com", Role::Approver, T0), &by(T0))
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_user(new_user("ana@example.com", Role::Approver, T0), &by(T0))
            .await,
        Err(StoreError::Conflict(_))
    ));
    let account = store
        .user_by_email("ana@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.user, ana);
    assert!(account.password_hash.starts_with("$argon2id$"));
    assert!(store
        .user_by_email("nobody@example.com")
        .await
        .unwrap()
        .is_none());

    // Sessions last until their end, by the time the caller gives.
    store
        .create_session("s1", &ana.id, T0 + MINUTE, T0)
        .await
        .unwrap();
    assert_eq!(
        store.session_user("s1", T0).await.unwrap(),
        Some(ana.clone())
    );
    assert_eq!(store.session_user("s1", T0 + MINUTE).await.unwrap(), None);
    store
        .create_session("s2", &ana.id, T0 + 10 * MINUTE, T0)
        .await
        .unwrap();
    store.delete_session("s2").await.unwrap();
    assert_eq!(store.session_user("s2", T0).await.unwrap(), None);

    // Ending sessions is noted for the watchers, strictly after earlier marks.
    store
        .create_session("s3", &ana.id, T0 + 10 * MINUTE, T0)
        .await
        .unwrap();
    // s1 (past its end, not yet swept) and s3.
    assert_eq!(
        store
            .end_sessions("ana@example.com", &by(T0 + 1))
            .await
            .unwrap(),
        Some(2)
    );
    assert_eq!(
        store
            .end_sessions("nobody@example.com", &by(T0))
            .await
            .unwrap(),
        None
    );
    let ended = store.access_changed_since(T0).await.unwrap();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].0, ana.id);
    assert!(store
        .access_changed_since(ended[0].1)
        .await
        .unwrap()
        .is_empty());

    // The last active admin cannot be switched off; others can, and back.
    assert!(matches!(
        store.set_user_active(&admin.email, false, &by(T0)).await,
        Err(StoreError::Conflict(_))
    ));
    let off = store
        .set_user_active("ana@example.com", false, &by(T0 + 2))
        .await
        .unwrap()
        .unwrap();
    assert!(!off.active);
    store
        .create_session("s4", &ana.id, T0 + 10 * MINUTE, T0)
        .await
        .unwrap();
    assert_eq!(
        store.session_user("s4", T0).await.unwrap(),
        None,
        "inactive"
    );
    assert!(
        store
            .set_user_active("ana@example.com", true, &by(T0 + 3))
            .await
            .unwrap()
            .unwrap()
            .active
    );
    assert_eq!(
        store
            .set_user_active("nobody@example.com", true, &by(T0))
            .await
            .unwrap(),
        None
    );
}

async fn api_keys(backend: Backend) {
    let f = fixture(backend).await;
    let store = &f.store;
    let key = store
        .create_api_key(new_key("agent", T0, None), &by(T0))
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_api_key(new_key("agent", T0, None), &by(T0))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .api_key_by_hash(&ids::sha256_hex(b"agent"))
            .await
            .unwrap(),
        Some(key.clone())
    );
    assert_eq!(
        store.api_key_by_name("agent").await.unwrap(),
        Some(key.clone())
    );
    assert!(store.revoke_api_key("agent", &by(T0 + 5)).await.unwrap());
    assert!(!store.revoke_api_key("agent", &by(T0 + 6)).await.unwrap());
    assert_eq!(
        store
            .api_key_by_hash(&ids::sha256_hex(b"agent"))
            .await
            .unwrap(),
        None
    );
    let revoked = store.keys_revoked_since(T0).await.unwrap();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].0, key.id);
    // A revoked key keeps its name: the history names keys.
    assert!(matches!(
        store
            .create_api_key(new_key("agent", T0 + 7, None), &by(T0))
            .await,
        Err(StoreError::Conflict(_))
    ));
}

/// Ana, an approver, and the key `agent`, both made at `T0`.
async fn approver_and_key(store: &Arc<dyn Store>) -> (User, ApiKey) {
    let ana = store
        .create_user(new_user("ana@example.com", Role::Approver, T0), &by(T0))
        .await
        .unwrap();
    let key = store
        .create_api_key(new_key("agent", T0, None), &by(T0))
        .await
        .unwrap();
    (ana, key)
}

async fn approvals_lifecycle(backend: Backend) {
    let f = fixture(backend).await;
    let store = &f.store;
    let (ana, key) = approver_and_key(store).await;

    let routed = created(
        store
            .insert_approval(new_approval(&key.id, "Refund $240", T0, Some(&ana.id)))
            .await
            .unwrap(),
    );
    assert_eq!(routed.status, Status::Pending);
    assert_eq!(routed.agent_name, "agent");
    assert_eq!(routed.approver_email.as_deref(), Some("ana@example.com"));
    assert_eq!(routed.body_bytes, "<p>preview</p>".len() as i64);
    let open = created(
        store
            .insert_approval(new_approval(&key.id, "Delete the archive", T0 + 1, None))
            .await
            .unwrap(),
    );

    // The same idempotency key returns the first approval and its hash.
    let mut first = new_approval(&key.id, "Send the campaign", T0 + 2, None);
    first.idempotency = Some(("idem-1".to_owned(), "hash-a".to_owned()));
    let first = created(store.insert_approval(first).await.unwrap());
    let mut retry = new_approval(&key.id, "Send the campaign", T0 + 3, None);
    retry.idempotency = Some(("idem-1".to_owned(), "hash-b".to_owned()));
    match store.insert_approval(retry).await.unwrap() {
        InsertOutcome::Replayed {
            existing,
            request_hash,
        } => {
            assert_eq!(existing.id, first.id);
            assert_eq!(request_hash, "hash-a");
        }
        other => panic!("{other:?}"),
    }

    // Filters: status, visibility, order, cursor, text, content or not.
    let mut all = ApprovalFilter::new(Order::OldestFirst, 10);
    all.statuses = vec![Status::Pending];
    let ids: Vec<String> = store
        .approvals(&all)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(
        ids,
        vec![routed.id.clone(), open.id.clone(), first.id.clone()]
    );
    let mut someone_else = all.clone();
    someone_else.visible_to = Some(Visibility {
        user_id: "usr_someone_else".to_owned(),
        group_ids: Vec::new(),
    });
    assert_eq!(store.approvals(&someone_else).await.unwrap().len(), 2);
    let mut newest = ApprovalFilter::new(Order::NewestFirst, 1);
    newest.after = Some(first.id.clone());
    assert_eq!(store.approvals(&newest).await.unwrap()[0].id, open.id);
    let mut text = ApprovalFilter::new(Order::NewestFirst, 10);
    text.text_contains = Some("ARCHIVE".to_owned());
    let found = store.approvals(&text).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, open.id);
    let mut light = all.clone();
    light.with_content = false;
    let light = store.approvals(&light).await.unwrap();
    assert!(light[0].body_html.is_empty());
    assert_eq!(light[0].body_bytes, routed.body_bytes);

    // One transition wins; the next sees it decided.
    let approve = Transition {
        status: Status::Approved,
        reason: None,
        decided_by: Some(ana.id.clone()),
        decided_by_policy: None,
        actor: format!("user:{}", ana.id),
        at: T0 + MINUTE,
    };
    match store.transition(&routed.id, &approve).await.unwrap() {
        TransitionOutcome::Applied(record) => {
            assert_eq!(record.status, Status::Approved);
            assert_eq!(record.decided_at, Some(T0 + MINUTE));
            assert_eq!(record.decided_by_email.as_deref(), Some("ana@example.com"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        store.transition(&routed.id, &approve).await.unwrap(),
        TransitionOutcome::AlreadyDecided(_)
    ));
    assert!(matches!(
        store.transition("apr_missing", &approve).await.unwrap(),
        TransitionOutcome::NotFound
    ));

    // Expiry at the time the caller gives.
    assert_eq!(store.next_expiry().await.unwrap(), Some(open.expires_at));
    assert!(store
        .expire_due(open.expires_at - 1, 10)
        .await
        .unwrap()
        .is_empty());
    // At most as many as asked, earliest deadline first.
    let expired = store.expire_due(first.expires_at, 1).await.unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].id, open.id);
    let expired = store.expire_due(first.expires_at, 10).await.unwrap();
    assert_eq!(expired.len(), 1);
    assert!(expired.iter().all(|a| a.status == Status::Expired));
    assert_eq!(store.next_expiry().await.unwrap(), None);
    assert_eq!(
        store.approval(&open.id).await.unwrap().unwrap().status,
        Status::Expired
    );
    assert!(store.approval("apr_missing").await.unwrap().is_none());
}

async fn webhooks_and_the_outbox(backend: Backend) {
    let f = fixture(backend).await;
    let store = &f.store;
    let ana = store
        .create_user(new_user("ana@example.com", Role::Admin, T0), &by(T0))
        .await
        .unwrap();
    let key = store
        .create_api_key(
            new_key("agent", T0, Some("https://hooks.example.com/a")),
            &by(T0),
        )
        .await
        .unwrap();
    let listed = store.key_webhooks(T0).await.unwrap();
    let endpoint = listed[0].endpoint.clone().expect("created with the key");
    assert_eq!(endpoint.url, "https://hooks.example.com/a");

    // A decision queues its outcome in the same transaction.
    let approval = created(
        store
            .insert_approval(new_approval(&key.id, "Refund $240", T0, None))
            .await
            .unwrap(),
    );
    store
        .transition(
            &approval.id,
            &Transition {
                status: Status::Denied,
                reason: Some("Already refunded".to_owned()),
                decided_by: Some(ana.id.clone()),
                decided_by_policy: None,
                actor: format!("user:{}", ana.id),
                at: T0 + 1,
            },
        )
        .await
        .unwrap();
    let by_approval = MessageFilter {
        approval_id: Some(approval.id.clone()),
        endpoint_id: None,
        limit: 10,
    };
    let queued = store.webhook_messages(&by_approval, T0 + 1).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].event_type, "approval.decided");
    assert_eq!(queued[0].status, DeliveryStatus::Pending);
    assert_eq!(store.next_webhook_due().await.unwrap(), Some(T0 + 1));

    // A hand-queued message too; both are claimed once.
    store
        .enqueue_webhook(NewMessage {
            id: ids::new_id("msg", T0 + 2),
            endpoint_id: endpoint.id.clone(),
            event_type: "webhook.test".to_owned(),
            payload: "{}".to_owned(),
            at: T0 + 2,
        })
        .await
        .unwrap();
    let claimed = store
        .claim_webhooks(T0 + 5, T0 + 5 + MINUTE, "claim-1", 10, &[])
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    assert_eq!(claimed[0].secrets, vec!["whsec_c2VjcmV0".to_owned()]);
    assert!(store
        .claim_webhooks(T0 + 6, T0 + 6 + MINUTE, "claim-2", 10, &[])
        .await
        .unwrap()
        .is_empty());
    assert!(store.webhook_messages(&by_approval, T0 + 6).await.unwrap()[0].in_flight);

    // A failed attempt schedules the retry; a success delivers.
    let attempt = |message: &str, next: NextStep, status_code: Option<i64>| AttemptRecord {
        message_id: message.to_owned(),
        endpoint_id: endpoint.id.clone(),
        claim_token: "claim-1".to_owned(),
        attempted_at: T0 + 7,
        status_code,
        latency_ms: 12,
        error: None,
        response_body: Some("ok".to_owned()),
        next,
        disable_endpoint: None,
    };
    // Logged in one batch; an attempt at a message that is gone fails
    // alone.
    let decided_id = queued[0].id.clone();
    let test_id = claimed
        .iter()
        .find(|m| m.id != decided_id)
        .unwrap()
        .id
        .clone();
    let answers = store
        .record_webhook_attempts(vec![
            attempt(&decided_id, NextStep::RetryAt(T0 + MINUTE), Some(500)),
            attempt("msg_no_such_message", NextStep::Delivered, Some(200)),
            attempt(&test_id, NextStep::Delivered, Some(200)),
        ])
        .await;
    assert!(answers[0].is_ok() && answers[2].is_ok(), "{answers:?}");
    assert!(answers[1].is_err());
    let after = store.webhook_messages(&by_approval, T0 + 8).await.unwrap();
    assert_eq!(after[0].status, DeliveryStatus::Pending);
    assert_eq!(after[0].next_attempt_at, T0 + MINUTE);
    assert_eq!(after[0].attempts.len(), 1);
    let streak = store.key_webhooks(T0 + 8).await.unwrap()[0]
        .endpoint
        .clone()
        .unwrap();
    assert!(streak.last_success_at.is_some());

    // Redelivery makes it due now; rotation keeps the old secret signing.
    assert!(store.redeliver_webhook(&decided_id, T0 + 9).await.unwrap());
    assert!(!store
        .redeliver_webhook("msg_missing", T0 + 9)
        .await
        .unwrap());
    assert_eq!(store.next_webhook_due().await.unwrap(), Some(T0 + 9));
    assert!(store
        .rotate_webhook_secret(&endpoint.id, "whsec_bmV3", T0 + 60 * MINUTE, &by(T0 + 9))
        .await
        .unwrap());
    let rotated = store
        .claim_webhooks(T0 + 10, T0 + 10 + MINUTE, "claim-3", 10, &[])
        .await
        .unwrap();
    assert_eq!(
        rotated[0].secrets,
        vec!["whsec_bmV3".to_owned(), "whsec_c2VjcmV0".to_owned()]
    );

    // Moving the URL keeps the endpoint and its secret; enabling again
    // makes held messages due; claims left by a dead run are released.
    assert!(!store
        .upsert_webhook_endpoint(
            NewEndpoint {
                id: ids::new_id("whe", T0 + 11),
                api_key_id: key.id.clone(),
                url: "https://hooks.example.com/b".to_owned(),
                secret: "whsec_unused".to_owned(),
                created_at: T0 + 11,
            },
            &by(T0 + 11)
        )
        .await
        .unwrap());
    assert_eq!(
        store.key_webhooks(T0 + 11).await.unwrap()[0]
            .endpoint
            .clone()
            .unwrap()
            .url,
        "https://hooks.example.com/b"
    );
    assert!(store
        .enable_webhook_endpoint(&endpoint.id, &by(T0 + 12))
        .await
        .unwrap());
    store.recover_webhook_claims().await.unwrap();
}

async fn roles_groups_and_routes(backend: Backend) {
    let fixture = fixture(backend).await;
    let store = &fixture.store;
    let admin = store
        .create_user(new_user("admin@example.com", Role::Admin, T0), &by(T0))
        .await
        .unwrap();
    let ana = store
        .create_user(new_user("ana@example.com", Role::Approver, T0 + 1), &by(T0))
        .await
        .unwrap();

    // Roles: any change is noted for the watchers; the last admin stays.
    let viewer = store
        .set_role("ana@example.com", Role::Viewer, &by(T0 + 2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(viewer.role, Role::Viewer);
    assert_eq!(store.access_changed_since(0).await.unwrap()[0].0, ana.id);
    assert!(matches!(
        store.set_role(&admin.email, Role::Approver, &by(T0)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .set_role("nobody@example.com", Role::Admin, &by(T0))
            .await
            .unwrap(),
        None
    );
    store
        .set_role("ana@example.com", Role::Approver, &by(T0 + 3))
        .await
        .unwrap();

    // Groups: unique names, members by email, membership on the user.
    let billing = store
        .create_group("grp_b", "billing", &by(T0))
        .await
        .unwrap();
    assert!(matches!(
        store.create_group("grp_c", "billing", &by(T0)).await,
        Err(StoreError::Conflict(_))
    ));
    store.create_group("grp_a", "audit", &by(T0)).await.unwrap();
    let mark = store.access_changed_since(0).await.unwrap()[0].1;
    assert!(store
        .set_group_member(&billing.id, &ana.id, true, &by(T0 + 4))
        .await
        .unwrap());
    assert!(!store
        .set_group_member(&billing.id, &ana.id, true, &by(T0 + 5))
        .await
        .unwrap());
    assert_eq!(
        store.access_changed_since(mark).await.unwrap().len(),
        1,
        "joining a group is noted"
    );
    let groups = store.groups().await.unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["audit", "billing"]);
    assert_eq!(groups[1].members, ["ana@example.com"]);
    assert_eq!(
        store.group_by_name("billing").await.unwrap().unwrap().id,
        billing.id
    );
    assert_eq!(store.group_by_name("nope").await.unwrap(), None);
    let account = store
        .user_by_email("ana@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.user.group_ids, vec![billing.id.clone()]);
    store
        .create_session("s1", &ana.id, T0 + 10 * MINUTE, T0)
        .await
        .unwrap();
    assert_eq!(
        store
            .session_user("s1", T0)
            .await
            .unwrap()
            .unwrap()
            .group_ids,
        vec![billing.id.clone()]
    );

    // Routes: stored and read back on keys and approvals; an approver's
    // list holds what is theirs, their groups', or nobody's in particular.
    let mut key = new_key("agent", T0, None);
    key.default_route.group_id = Some(billing.id.clone());
    let key = store.create_api_key(key, &by(T0)).await.unwrap();
    assert_eq!(
        store
            .api_key_by_name("agent")
            .await
            .unwrap()
            .unwrap()
            .default_route,
        key.default_route
    );
    let mut to_group = new_approval(&key.id, "To billing", T0 + 6, None);
    to_group.destination = Destination::KeyDefault;
    let InsertOutcome::Created(to_group) = store.insert_approval(to_group).await.unwrap() else {
        panic!("created");
    };
    assert_eq!(to_group.group_name.as_deref(), Some("billing"));
    let to_admin = new_approval(&key.id, "To the admin", T0 + 7, Some(&admin.id));
    store.insert_approval(to_admin).await.unwrap();
    let to_anyone = new_approval(&key.id, "To anyone", T0 + 8, None);
    store.insert_approval(to_anyone).await.unwrap();
    let titles = |visible_to: Option<Visibility>| {
        let mut filter = ApprovalFilter::new(Order::OldestFirst, 10);
        filter.visible_to = visible_to;
        let store = store.clone();
        async move {
            store
                .approvals(&filter)
                .await
                .unwrap()
                .into_iter()
                .map(|a| a.title)
                .collect::<Vec<_>>()
        }
    };
    let as_member = Visibility {
        user_id: ana.id.clone(),
        group_ids: vec![billing.id.clone()],
    };
    assert_eq!(titles(Some(as_member)).await, ["To billing", "To anyone"]);
    let as_outsider = Visibility {
        user_id: ana.id.clone(),
        group_ids: Vec::new(),
    };
    assert_eq!(titles(Some(as_outsider)).await, ["To anyone"]);
    assert_eq!(titles(None).await.len(), 3);

    assert!(store
        .set_group_member(&billing.id, &ana.id, false, &by(T0 + 9))
        .await
        .unwrap());
    assert!(store.groups().await.unwrap()[1].members.is_empty());
}

/// The audit log's entries, checked to form one unbroken chain up to its
/// head.
async fn whole_chain(store: &dyn Store) -> Vec<holdpoint::server::domain::StoredAuditEntry> {
    let entries = store
        .audit_entries(&holdpoint::server::domain::AuditFilter::whole_chain(100))
        .await
        .unwrap();
    let mut walk = holdpoint::server::domain::ChainWalk::default();
    for entry in &entries {
        walk.check(entry).unwrap();
    }
    walk.finish(&store.audit_head().await.unwrap()).unwrap();
    entries
}

/// Group commit: one transaction for many creates, each answered on its
/// own. A request the database refuses fails alone; a retry with the same
/// idempotency key, in the same batch or a later one, gets the first
/// approval; the audit chain takes every created one, in order.
async fn a_batch_of_creates_answers_each_request_on_its_own(backend: Backend) {
    let f = fixture(backend).await;
    let store = &f.store;
    let key = store
        .create_api_key(new_key("agent", T0, None), &by(T0))
        .await
        .unwrap();
    let with_key = |title: &str, at: i64, idempotency: &str, hash: &str| {
        let mut new = new_approval(&key.id, title, at, None);
        new.idempotency = Some((idempotency.to_owned(), hash.to_owned()));
        new
    };
    let batch = vec![
        new_approval(&key.id, "First", T0 + 1, None),
        // No such approver: the database refuses it (a foreign key).
        new_approval(&key.id, "Refused", T0 + 2, Some("usr_no_such_person")),
        with_key("Once", T0 + 3, "idem-a", "hash-a"),
        new_approval(&key.id, "Last", T0 + 4, None),
        // A retry inside the same batch.
        with_key("Once, again", T0 + 5, "idem-a", "hash-a2"),
    ];
    let ids: Vec<String> = batch.iter().map(|new| new.id.clone()).collect();
    let mut answers = store.insert_approvals(batch).await.into_iter();

    let first = created(answers.next().unwrap().unwrap());
    assert_eq!(
        (first.id.as_str(), first.title.as_str()),
        (ids[0].as_str(), "First")
    );
    assert!(
        matches!(answers.next().unwrap(), Err(StoreError::Database(_))),
        "the refused one fails"
    );
    let once = created(answers.next().unwrap().unwrap());
    assert_eq!(once.id, ids[2]);
    let last = created(answers.next().unwrap().unwrap());
    assert_eq!(last.agent_name, "agent");
    match answers.next().unwrap().unwrap() {
        InsertOutcome::Replayed {
            existing,
            request_hash,
        } => {
            assert_eq!(existing.id, once.id);
            assert_eq!(request_hash, "hash-a");
        }
        other => panic!("{other:?}"),
    }
    assert!(answers.next().is_none());

    // A retry in a later batch, beside a new request with its own key.
    let mut later = store
        .insert_approvals(vec![
            with_key("Once, a third time", T0 + 6, "idem-a", "hash-a"),
            with_key("Other", T0 + 7, "idem-b", "hash-b"),
        ])
        .await
        .into_iter();
    match later.next().unwrap().unwrap() {
        InsertOutcome::Replayed { existing, .. } => assert_eq!(existing.id, once.id),
        other => panic!("{other:?}"),
    }
    let other = created(later.next().unwrap().unwrap());

    // Stored: the four created, not the refused one nor the retries.
    for id in [&first.id, &once.id, &last.id, &other.id] {
        assert!(store.approval(id).await.unwrap().is_some(), "{id}");
    }
    for id in [&ids[1], &ids[4]] {
        assert!(store.approval(id).await.unwrap().is_none(), "{id}");
    }
    // Each created one has its entry, in order, and the chain holds.
    let entries = whole_chain(store.as_ref()).await;
    let created_for: Vec<_> = entries
        .iter()
        .filter(|entry| entry.kind == "created")
        .map(|entry| entry.approval_id.clone().unwrap())
        .collect();
    assert_eq!(created_for, [first.id, once.id, last.id, other.id]);
}

/// A create reads its key in its own transaction: a revoked key (or none)
/// writes nothing and fails alone, and an approval for the key's default
/// route takes the route the key has at that moment.
async fn a_create_checks_its_key_in_its_own_transaction(backend: Backend) {
    let f = fixture(backend).await;
    let store = &f.store;
    let (ana, key) = approver_and_key(store).await;
    let retired = store
        .create_api_key(new_key("retired", T0, None), &by(T0))
        .await
        .unwrap();
    assert!(store.revoke_api_key("retired", &by(T0)).await.unwrap());
    let to_ana = Route {
        approver_id: Some(ana.id.clone()),
        group_id: None,
    };
    assert!(store
        .set_key_route("agent", &to_ana, &by(T0))
        .await
        .unwrap());
    let by_default = |key_id: &str, title: &str, at: i64| NewApproval {
        destination: Destination::KeyDefault,
        ..new_approval(key_id, title, at, None)
    };

    let batch = vec![
        by_default(&key.id, "To the key's route", T0 + 1),
        by_default(&retired.id, "From a revoked key", T0 + 2),
        new_approval("key_no_such_key", "From no key", T0 + 3, None),
        new_approval(&key.id, "To everyone, as named", T0 + 4, None),
    ];
    let refused = [batch[1].id.clone(), batch[2].id.clone()];
    let mut answers = store.insert_approvals(batch).await.into_iter();
    assert_eq!(created(answers.next().unwrap().unwrap()).route, to_ana);
    for _ in &refused {
        assert!(matches!(
            answers.next().unwrap(),
            Err(StoreError::KeyRevoked)
        ));
    }
    assert_eq!(
        created(answers.next().unwrap().unwrap()).route,
        Route::default()
    );
    for id in &refused {
        assert!(store.approval(id).await.unwrap().is_none(), "{id}");
    }

    // The route is read when written, not when the key was first seen.
    assert!(store
        .set_key_route("agent", &Route::default(), &by(T0 + 5))
        .await
        .unwrap());
    let later = store
        .insert_approval(by_default(&key.id, "After the change", T0 + 6))
        .await
        .unwrap();
    assert_eq!(created(later).route, Route::default());
}

/// Decisions in one batch: the first on an approval wins, a later one in
/// the same batch finds it decided, a missing one is not found, and one
/// the database refuses (decided by no such person) fails alone.
async fn a_batch_of_decisions_answers_each_request_on_its_own(backend: Backend) {
    let f = fixture(backend).await;
    let store = &f.store;
    let (ana, key) = approver_and_key(store).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let new = new_approval(&key.id, &format!("Refund {n}"), T0 + n, None);
        ids.push(created(store.insert_approval(new).await.unwrap()).id);
    }
    let decision = |status: Status, by: &str| Transition {
        status,
        reason: (status == Status::Denied).then(|| "Not this one".to_owned()),
        decided_by: Some(by.to_owned()),
        decided_by_policy: None,
        actor: format!("user:{by}"),
        at: T0 + MINUTE,
    };
    let answers = store
        .transitions(vec![
            (ids[0].clone(), decision(Status::Approved, &ana.id)),
            (ids[0].clone(), decision(Status::Denied, &ana.id)),
            (
                ids[1].clone(),
                decision(Status::Approved, "usr_no_such_person"),
            ),
            (
                "apr_no_such_approval".to_owned(),
                decision(Status::Approved, &ana.id),
            ),
            (ids[2].clone(), decision(Status::Denied, &ana.id)),
        ])
        .await;
    let mut answers = answers.into_iter();
    match answers.next().unwrap().unwrap() {
        TransitionOutcome::Applied(record) => assert_eq!(record.status, Status::Approved),
        other => panic!("{other:?}"),
    }
    match answers.next().unwrap().unwrap() {
        TransitionOutcome::AlreadyDecided(record) => assert_eq!(record.status, Status::Approved),
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(answers.next().unwrap(), Err(StoreError::Database(_))),
        "the refused one fails"
    );
    assert!(matches!(
        answers.next().unwrap().unwrap(),
        TransitionOutcome::NotFound
    ));
    match answers.next().unwrap().unwrap() {
        TransitionOutcome::Applied(record) => {
            assert_eq!(record.status, Status::Denied);
            assert_eq!(record.reason.as_deref(), Some("Not this one"));
        }
        other => panic!("{other:?}"),
    }
    // Kept: the two applied; the refused one is still pending.
    let status = |id: String| async move { store.approval(&id).await.unwrap().unwrap().status };
    assert_eq!(status(ids[0].clone()).await, Status::Approved);
    assert_eq!(status(ids[1].clone()).await, Status::Pending);
    assert_eq!(status(ids[2].clone()).await, Status::Denied);
    // One audit entry per applied decision, and the chain holds.
    let entries = whole_chain(store.as_ref()).await;
    let decided: Vec<_> = entries
        .iter()
        .filter(|entry| matches!(entry.kind.as_str(), "approved" | "denied"))
        .map(|entry| (entry.kind.as_str(), entry.approval_id.clone().unwrap()))
        .collect();
    assert_eq!(
        decided,
        [("approved", ids[0].clone()), ("denied", ids[2].clone())]
    );
}

on_both_backends!(
    a_batch_of_creates_answers_each_request_on_its_own,
    a_create_checks_its_key_in_its_own_transaction,
    a_batch_of_decisions_answers_each_request_on_its_own,
    roles_groups_and_routes,
    accounts_sessions_and_setup,
    api_keys,
    approvals_lifecycle,
    webhooks_and_the_outbox,
);
