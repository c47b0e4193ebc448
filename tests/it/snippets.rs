//! The README's client snippets are these files, run here as printed: the
//! Rust one (`end2end/tests/snippets/agent.rs`) against a real server, its
//! webhook check against a real delivery; the TypeScript and Python ones
//! in end2end/tests/snippets.spec.ts, with a person deciding in the browser.

#[path = "../../end2end/tests/snippets/agent.rs"]
mod agent;

use crate::common::{spawn_app_with, APPROVER};
use holdpoint::testkit::receiver::Receiver;
use holdpoint::testkit::{self, Backend};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

const ALLOW_LOCAL_RECEIVERS: &[(&str, &str)] = &[("HOLDPOINT_WEBHOOK_ALLOW_PRIVATE", "true")];

fn snippet(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("end2end/tests/snippets")
        .join(file);
    std::fs::read_to_string(path).expect("the snippet")
}

#[test]
fn the_readme_prints_each_snippet_as_it_is_tested() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    for (language, file) in [
        ("ts", "agent.ts"),
        ("python", "agent.py"),
        ("rust", "agent.rs"),
    ] {
        let block = format!("```{language}\n{}```\n", snippet(file));
        assert!(
            readme.contains(&block),
            "README.md must show end2end/tests/snippets/{file} as it is"
        );
    }
}

async fn the_rust_snippet_waits_for_a_denial_and_verifies_its_webhook(backend: Backend) {
    let app = spawn_app_with(backend, ALLOW_LOCAL_RECEIVERS).await;
    let receiver = Receiver::start().await;
    let (key, secret) = testkit::create_key_with_webhook(
        &app.bin,
        &app.database_url,
        ALLOW_LOCAL_RECEIVERS,
        "refunds-agent",
        &receiver.url("/hooks/holdpoint"),
    )
    .await;
    let base = app.url("");
    let request = json!({"title": "Refund $240 to Lila Chen on order #8821",
                         "data": {"order": 8821, "amount_cents": 24000}, "action": "billing.refund"});
    let asking = {
        let (base, key) = (base.clone(), key.clone());
        tokio::spawn(async move {
            agent::ask_and_wait(&base, &key, &request)
                .await
                .map_err(|e| e.to_string())
        })
    };

    // The person finds it in their inbox and denies it.
    let id = loop {
        let page: Value = app
            .get(&key, "/api/v1/approvals?status=pending")
            .await
            .json()
            .await
            .unwrap();
        if let Some(id) = page["items"][0]["id"].as_str() {
            break id.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let cookie = app.login(APPROVER).await;
    let reason = "Photos show no damage.";
    assert_eq!(
        app.decide(&cookie, &id, "deny", Some(reason))
            .await
            .status(),
        200
    );
    let approval = asking.await.unwrap().expect("the snippet's answer");
    assert_eq!(approval["status"], "denied");
    assert_eq!(approval["reason"], reason);

    let delivery = receiver
        .wait_for("/hooks/holdpoint", 1, Duration::from_secs(10))
        .await
        .remove(0);
    let mut headers = http::HeaderMap::new();
    headers.insert("webhook-id", delivery.webhook_id.parse().unwrap());
    headers.insert("webhook-timestamp", delivery.timestamp.parse().unwrap());
    headers.insert("webhook-signature", delivery.signature.parse().unwrap());
    let event = agent::verify_webhook(&secret, &headers, delivery.body.as_bytes())
        .expect("signed by Holdpoint");
    assert_eq!(event["type"], "approval.decided");
    assert_eq!(event["data"]["reason"], reason);
    let forged = delivery.body.replace("denied", "approved");
    assert!(agent::verify_webhook(&secret, &headers, forged.as_bytes()).is_err());
}

on_both_backends!(the_rust_snippet_waits_for_a_denial_and_verifies_its_webhook);
