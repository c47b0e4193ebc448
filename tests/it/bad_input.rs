//! Bad input everywhere: a corpus of hostile values (control characters,
//! CR LF, NUL, over-long strings, invalid UTF-8, wrong types, empty bodies)
//! sent to every REST endpoint, every server function, the pages and the
//! inbox socket. Each gets an answer: a 4xx for what is invalid, never a 5xx,
//! never a dropped connection, never a panic in the server's log.

use crate::common::{content_type_of, spawn_app, TestApp, ADMIN};
use holdpoint::testkit::inbox_client::{Connect, InboxSocket};
use holdpoint::testkit::Backend;
use serde_json::{json, Value};

/// Values no field should choke on. Most are invalid wherever they go; a
/// few are odd but valid in free text (a title may well contain a quote).
fn corpus() -> Vec<String> {
    vec![
        String::new(),
        "\0".to_owned(),
        "a\0b".to_owned(),
        "\r\n".to_owned(),
        "line\r\nSet-Cookie: x=1".to_owned(),
        "tab\there".to_owned(),
        "\u{7f}\u{1b}[31m".to_owned(),
        "\u{202E}reversed".to_owned(),
        "\u{FEFF}".to_owned(),
        "x".repeat(100_000),
        "%FF%FE".to_owned(),
        "' OR 1=1 --".to_owned(),
        "../../etc/passwd".to_owned(),
        "<script>alert(1)</script>".to_owned(),
        "apr_".to_owned(),
        "-1".to_owned(),
        "99999999999999999999999".to_owned(),
        "1e309".to_owned(),
        "null".to_owned(),
    ]
}

/// A client that keeps no connection: the server closes one whose request
/// body it refused unread (413), which a pooled client might reuse.
fn one_shot() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Whether a value is invalid in any one-line field: empty, control or
/// invisible characters, or far too long.
fn hostile(value: &str) -> bool {
    value.is_empty()
        || value.len() > 1000
        || value
            .chars()
            .any(|c| c.is_control() || matches!(c, '\u{202E}' | '\u{FEFF}'))
}

/// Raw bodies that are not what any endpoint takes.
fn raw_bodies() -> Vec<Vec<u8>> {
    vec![
        Vec::new(),
        b"\xff\xfe\xfd".to_vec(),
        b"{".to_vec(),
        b"[]".to_vec(),
        b"null".to_vec(),
        b"id=\xff\xfe&verdict=\xc3".to_vec(),
        b"id=%FF%FE&verdict=%00".to_vec(),
        "x".repeat(2 * 1024 * 1024).into_bytes(),
    ]
}

/// What of `raw` an HTTP client will put in a header (no control characters).
fn header_safe(raw: &str) -> String {
    raw.chars().filter(|c| !c.is_control()).collect()
}

/// Percent-encoded for a path or query, cut to 2,000 bytes: a longer URL
/// is refused by the HTTP client before it is sent.
fn percent(raw: &str) -> String {
    raw.bytes()
        .take(2000)
        .map(|b| format!("%{b:02X}"))
        .collect()
}

/// Sends a request and asserts an answer below 500 (a 4xx when
/// `must_refuse`), body and all, within 30 s; returns its status.
async fn answered(what: &str, request: reqwest::RequestBuilder, must_refuse: bool) -> u16 {
    let exchange = async {
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: no answer ({:.300})", e.to_string()));
        let status = response.status().as_u16();
        let content_type = content_type_of(&response);
        let body = response.text().await.unwrap_or_default();
        (status, content_type, body)
    };
    let (status, content_type, body) =
        tokio::time::timeout(std::time::Duration::from_secs(30), exchange)
            .await
            .unwrap_or_else(|_| panic!("{what}: no whole answer within 30 s"));
    assert!(status < 500, "{what}: {status} {body:.300}");
    if must_refuse {
        assert!((400..500).contains(&status), "{what}: {status} {body:.300}");
    }
    if what.starts_with("REST") && status >= 400 {
        assert_eq!(
            content_type, "application/problem+json",
            "{what}: {body:.300}"
        );
    }
    status
}

async fn rest_endpoints(app: &TestApp, id: &str) {
    let create = app.url("/api/v1/approvals");
    for value in corpus() {
        for field in ["title", "body", "action", "approver", "group", "expires_in"] {
            let mut body = json!({"title": "A fine title"});
            body[field] = Value::String(value.clone());
            // A preview may be any text (it is sanitized); an approver must
            // be a person's email, a group an existing group's name and
            // expires_in a number; a title or an action may be odd but
            // valid, unless the value is hostile.
            let refuse = match field {
                "body" => false,
                "approver" | "group" | "expires_in" => true,
                _ => hostile(&value),
            };
            let sent = app.client.post(&create).bearer_auth(&app.key).json(&body);
            answered(&format!("REST create {field}={value:.40?}"), sent, refuse).await;
        }
        let path = percent(&value);
        for url in [
            format!("/api/v1/approvals/{path}"),
            format!("/api/v1/approvals/{path}/wait?timeout=0"),
            format!("/api/v1/approvals/{id}/wait?timeout={path}"),
            format!("/api/v1/approvals?status={path}"),
            format!("/api/v1/approvals?cursor={path}"),
            format!("/api/v1/approvals?limit={path}"),
        ] {
            let sent = app.client.get(app.url(&url)).bearer_auth(&app.key);
            let refuse = !value.is_empty() || url.contains("/approvals//");
            answered(&format!("REST GET {url:.80}"), sent, refuse).await;
        }
        let sent = app
            .client
            .post(app.url(&format!("/api/v1/approvals/{path}/cancel")))
            .bearer_auth(&app.key);
        answered(&format!("REST cancel {value:.40?}"), sent, true).await;
        // The key itself.
        let sent = app
            .client
            .get(app.url("/api/v1/approvals"))
            .header("authorization", format!("Bearer {}", header_safe(&value)));
        answered(&format!("REST bearer {value:.40?}"), sent, true).await;
    }
    for body in raw_bodies() {
        for content_type in ["application/json", "text/plain"] {
            let sent = one_shot()
                .post(&create)
                .bearer_auth(&app.key)
                .header("content-type", content_type)
                .body(body.clone());
            answered(
                &format!(
                    "REST create raw {content_type} {:.40?}",
                    &body[..body.len().min(20)]
                ),
                sent,
                true,
            )
            .await;
        }
    }
    // Wrong types for every field.
    for (field, wrong) in [
        ("title", json!(42)),
        ("title", json!(["a"])),
        ("body", json!({"a": 1})),
        ("data", json!("text")),
        ("action", json!(1.5)),
        ("approver", json!(false)),
        ("expires_in", json!("soon")),
        ("expires_in", json!(1e300)),
    ] {
        let mut body = json!({"title": "A fine title"});
        body[field] = wrong.clone();
        let sent = app.client.post(&create).bearer_auth(&app.key).json(&body);
        answered(&format!("REST create {field}={wrong}"), sent, true).await;
    }
}

/// Every server function with arguments, and what it takes.
const SERVER_FUNCTIONS: &[(&str, &[&str])] = &[
    ("login", &["email", "password", "next"]),
    ("setup", &["token", "email", "name", "password"]),
    ("approval_detail", &["id"]),
    ("approval_card", &["id"]),
    ("history", &["q", "cursor"]),
    ("decide", &["id", "verdict", "reason"]),
    ("webhooks", &["key"]),
    ("set_webhook_url", &["key_id", "url"]),
    ("rotate_webhook_secret", &["key_id"]),
    ("enable_webhook", &["key_id"]),
    ("send_test_webhook", &["key_id"]),
    ("redeliver_webhook", &["message_id"]),
];

async fn server_functions(app: &TestApp, cookie: &str, id: &str) {
    for (name, fields) in SERVER_FUNCTIONS {
        let url = app.url(&format!("/rpc/{name}"));
        for value in corpus() {
            for field in *fields {
                // Every other field gets a plausible value.
                let form: Vec<(&str, String)> = fields
                    .iter()
                    .map(|f| {
                        let plausible = match *f {
                            "id" => id.to_owned(),
                            "verdict" => "deny".to_owned(),
                            "reason" => "Not this time".to_owned(),
                            "email" => "someone@example.com".to_owned(),
                            "password" => "a long password".to_owned(),
                            _ => String::new(),
                        };
                        (*f, if f == field { value.clone() } else { plausible })
                    })
                    .collect();
                let sent = app.client.post(&url).header("cookie", cookie).form(&form);
                answered(&format!("rpc {name} {field}={value:.40?}"), sent, false).await;
            }
        }
        for body in raw_bodies() {
            let sent = one_shot()
                .post(&url)
                .header("cookie", cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone());
            answered(
                &format!("rpc {name} raw {:.40?}", &body[..body.len().min(20)]),
                sent,
                false,
            )
            .await;
        }
    }
    // The one that takes JSON: wrong shapes and types.
    let url = app.url("/rpc/decide_many");
    for body in [
        json!({}),
        json!({"ids": "apr_1", "verdict": "approve"}),
        json!({"ids": [1, 2], "verdict": "approve"}),
        json!({"ids": [id], "verdict": 7}),
        json!({"ids": [id], "verdict": "deny", "reason": ["x"]}),
        json!([]),
    ] {
        let sent = app.client.post(&url).header("cookie", cookie).json(&body);
        answered(&format!("rpc decide_many {body}"), sent, true).await;
    }
    // Malformed ids in a well-formed batch fail one by one, as unknown ones do.
    let sent = app
        .client
        .post(&url)
        .header("cookie", cookie)
        .json(&json!({"ids": ["\0", "\r\n", "x".repeat(100_000)], "verdict": "approve"}));
    answered("rpc decide_many with malformed ids", sent, false).await;
    for body in raw_bodies() {
        let sent = one_shot()
            .post(&url)
            .header("cookie", cookie)
            .header("content-type", "application/json")
            .body(body.clone());
        answered(
            &format!("rpc decide_many raw {:.40?}", &body[..body.len().min(20)]),
            sent,
            true,
        )
        .await;
    }
}

async fn pages(app: &TestApp, cookie: &str) {
    for value in corpus() {
        let value = percent(&value);
        for path in [
            format!("/?selected={value}&agent={value}&q={value}"),
            format!("/history?q={value}&cursor={value}"),
            format!("/approvals/{value}"),
            format!("/login?next={value}"),
            format!("/setup?token={value}"),
            format!("/admin/webhooks?key={value}"),
        ] {
            let sent = app
                .client
                .get(app.url(&path))
                .header("cookie", cookie)
                .header("accept", "text/html");
            answered(&format!("page {path:.80}"), sent, false).await;
        }
    }
}

async fn inbox_socket(app: &TestApp, cookie: &str) {
    for value in corpus() {
        let printable: String = header_safe(&value).chars().take(2000).collect();
        let origin = format!("http://{printable}");
        let cookie_value = format!("holdpoint_session={printable}");
        for how in [
            Connect {
                cookie: Some(&cookie_value),
                ..Connect::default()
            },
            Connect {
                cookie: Some(cookie),
                origin: Some(&origin),
                ..Connect::default()
            },
        ] {
            let opened = tokio::time::timeout(
                std::time::Duration::from_secs(30),
                InboxSocket::open(&app.server, how),
            )
            .await
            .unwrap_or_else(|_| panic!("socket {value:.40?}: no answer within 30 s"));
            match opened {
                Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                    let status = response.status().as_u16();
                    assert!(
                        (400..500).contains(&status),
                        "socket {value:.40?}: {status}"
                    );
                }
                Err(other) => panic!("socket {value:.40?}: no answer ({other})"),
                Ok(_) if printable.is_empty() => {}
                Ok(_) => panic!("socket {value:.40?} was opened"),
            }
        }
    }
}

async fn every_entry_point_answers_bad_input_with_a_4xx(backend: Backend) {
    let app = spawn_app(backend).await;
    let cookie = app.login(ADMIN).await;
    let id = app.create_ok("Refund $240").await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    rest_endpoints(&app, &id).await;
    server_functions(&app, &cookie, &id).await;
    pages(&app, &cookie).await;
    inbox_socket(&app, &cookie).await;

    // Still serving, and nothing panicked.
    assert_eq!(app.page(None, "/login").await.status(), 200);
    let log = app.server.log();
    let panics: Vec<&String> = log
        .iter()
        .filter(|line| line.contains("panicked"))
        .collect();
    assert!(panics.is_empty(), "the server panicked: {panics:#?}");
}

on_both_backends!(every_entry_point_answers_bad_input_with_a_4xx);
