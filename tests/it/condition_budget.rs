//! A condition's cost is bounded: every hostile condition on every hostile
//! request (testkit::hostile: 256 KiB lists, long strings, wide and deep
//! maps) finishes with an answer or an error, and one over its CPU budget
//! is an evaluation error, so a gate policy holds the request back. The
//! time each takes is the benchmark's to measure
//! (`holdpoint-bench --hostile-conditions`), not this test's.

use crate::common::*;
use holdpoint::server::domain::{Condition, Evaluation, RequestFacts};
use holdpoint::testkit::{hostile, Backend};
use serde_json::json;

fn facts(data: &serde_json::Value) -> RequestFacts<'_> {
    RequestFacts {
        action: Some("report.send"),
        title: "Send the report",
        agent: "reporter",
        data,
    }
}

#[test]
fn hostile_conditions_on_hostile_data_finish() {
    let data = hostile::data();
    for source in hostile::CONDITIONS {
        let condition = Condition::compile(source).expect(source);
        for (shape, data) in &data {
            // An answer or an error, never a hang or a crash.
            if let Err(why) = condition.holds(&Evaluation::new(&facts(data))) {
                assert!(!why.is_empty(), "{source} on {shape}");
            }
        }
    }
    // 1.6 billion comparisons: the budget, not the interpreter, ends it.
    let quadratic = Condition::compile(hostile::QUADRATIC).unwrap();
    let answer = quadratic.holds(&Evaluation::new(&facts(&data[0].1)));
    assert!(
        answer.as_ref().is_err_and(|why| why.contains("budget")),
        "{answer:?}"
    );
}

async fn a_condition_over_budget_holds_the_request_back(backend: Backend) {
    let app = spawn_app(backend).await;
    for args in [
        vec![
            "policy",
            "set",
            "everything",
            "--action",
            "*",
            "--mode",
            "auto",
        ],
        vec![
            "policy",
            "set",
            "reports",
            "--action",
            "report.send",
            "--mode",
            "gate",
            "--condition",
            hostile::QUADRATIC,
        ],
    ] {
        let output = app.command(&args).await;
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let (_, list) = hostile::data().remove(0);
    let response = app
        .create(&json!({"title": "Send the report", "action": "report.send", "data": list}))
        .await;
    assert_eq!(response.status(), 201);
    let created: serde_json::Value = response.json().await.unwrap();
    assert_eq!(created["status"], "pending", "{}", created["policy_note"]);
    let note = created["policy_note"].as_str().unwrap_or_default();
    assert!(note.contains("budget"), "{note}");

    // The server still answers at once afterwards.
    let small = app
        .create(&json!({"title": "Send the report", "action": "report.send", "data": {"l": [1]}}))
        .await;
    assert_eq!(small.status(), 201);
    let small: serde_json::Value = small.json().await.unwrap();
    assert_eq!(small["status"], "pending");
    assert_eq!(small["policy_note"], serde_json::Value::Null);
}

on_both_backends!(a_condition_over_budget_holds_the_request_back);
