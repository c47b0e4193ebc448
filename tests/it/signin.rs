//! Sign-in under attack: parallel guesses for one account, a storm of
//! made-up emails, and guesses spread over many accounts from one address.
//!
//! The throttle and the password gate live in the server's memory, not in
//! the database, so these run on SQLite only.

use crate::common::{spawn_app, spawn_app_with, TestApp, APPROVER, PASSWORD};
use holdpoint::testkit::Backend;
use std::time::{Duration, Instant};

/// Sends `count` sign-ins at once; returns each answer's status and
/// `Retry-After`.
async fn parallel_signins(
    app: &TestApp,
    count: usize,
    email: impl Fn(usize) -> String,
) -> Vec<(u16, Option<String>)> {
    let attempts = (0..count).map(|n| {
        let email = email(n);
        async move {
            let response = app.try_login(&email, "not the password").await;
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            (response.status().as_u16(), retry_after)
        }
    });
    futures_util::future::join_all(attempts).await
}

#[tokio::test]
async fn parallel_guesses_for_one_account_get_at_most_ten_verdicts() {
    let app = spawn_app(Backend::Sqlite).await;
    let answers = parallel_signins(&app, 200, |_| APPROVER.to_owned()).await;
    let verdicts = answers.iter().filter(|(status, _)| *status == 401).count();
    assert!(verdicts <= 10, "{verdicts} wrong passwords got a verdict");
    // The rest are refused: locked out (429), or, while the password checks
    // are all busy, told to come back (503); either way with Retry-After.
    for (status, retry_after) in answers.iter().filter(|(status, _)| *status != 401) {
        assert!([429, 503].contains(status), "{answers:?}");
        assert!(
            retry_after
                .as_deref()
                .is_some_and(|r| r.parse::<u64>().is_ok()),
            "{status} without Retry-After"
        );
    }
    assert!(
        answers.iter().filter(|(status, _)| *status == 429).count() >= 150,
        "{answers:?}"
    );
    // Locked now, even with the right password.
    assert_eq!(app.try_login(APPROVER, PASSWORD).await.status(), 429);
}

/// Peak resident memory of a process, from /proc (Linux), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc status")
}

#[tokio::test]
async fn a_storm_of_signins_leaves_the_server_answering_with_bounded_memory() {
    let app = spawn_app(Backend::Sqlite).await;
    let pid = app.server.pid().expect("server pid");
    let storm = parallel_signins(&app, 600, |n| format!("nobody-{n}@example.com"));
    let others = async {
        // Give the storm a moment to arrive, then ask for a page and the API.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        let page = app.page(None, "/login").await.status();
        let page_took = started.elapsed();
        let started = Instant::now();
        let api = app.get(&app.key, "/api/v1/approvals").await.status();
        (page, page_took, api, started.elapsed())
    };
    let (answers, (page, page_took, api, api_took)) = tokio::join!(storm, others);
    assert_eq!(page, 200);
    assert_eq!(api, 200);
    for (status, retry_after) in &answers {
        assert!(
            [401, 429, 503].contains(status),
            "a sign-in answered {status}"
        );
        if *status != 401 {
            assert!(retry_after.is_some(), "{status} without Retry-After");
        }
    }
    let count = |code: u16| answers.iter().filter(|(s, _)| *s == code).count();
    let peak_mib = peak_rss_kib(pid) / 1024;
    println!(
        "600 sign-ins: {} x 401, {} x 429, {} x 503; during the storm /login took {page_took:?}, \
         the agent API {api_took:?}; server peak RSS {peak_mib} MiB",
        count(401),
        count(429),
        count(503)
    );
    // argon2 takes 19 MiB per check: one per core, never hundreds at once.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let bound = 100 + 20 * cores;
    assert!(
        peak_mib < bound,
        "peak RSS {peak_mib} MiB (bound {bound} MiB)"
    );
}

#[tokio::test]
async fn one_address_guessing_across_accounts_is_throttled() {
    let app = spawn_app_with(Backend::Sqlite, &[("HOLDPOINT_SIGNIN_ADDRESS_LIMIT", "5")]).await;
    for n in 0..5 {
        let response = app
            .try_login(&format!("user{n}@example.com"), "guess")
            .await;
        assert_eq!(response.status(), 401);
    }
    let refused = app.try_login(APPROVER, "guess").await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let text = refused.text().await.expect("body");
    assert!(text.contains("from this address"), "{text}");
}

/// A failed sign-in writes its email into the audit log only when an
/// account could have it: never one with bidirectional controls or
/// zero-width characters (which would show the log's reader other text),
/// nor an unbounded one.
#[tokio::test]
async fn deceptive_emails_never_reach_the_audit_log() {
    let app = spawn_app(Backend::Sqlite).await;
    let long = format!("{}@example.com", "a".repeat(300));
    for email in [
        "ana\u{202E}moc.elpmaxe@example.com",
        "\u{200B}ana@example.com",
        "ana@exa\u{2066}mple.com",
        long.as_str(),
    ] {
        let response = app.try_login(email, "not the password").await;
        assert_eq!(response.status(), 401, "{email:?}");
    }
    let logged: Vec<(String,)> = app
        .query_sql("SELECT detail FROM audit_events WHERE kind = 'sign_in_failed'")
        .await;
    assert!(logged.is_empty(), "{logged:?}");
    // A plausible one is logged, as before.
    app.try_login("nobody@example.com", "not the password")
        .await;
    let logged: Vec<(String,)> = app
        .query_sql("SELECT detail FROM audit_events WHERE kind = 'sign_in_failed'")
        .await;
    assert_eq!(logged.len(), 1);
    assert!(logged[0].0.starts_with("nobody@example.com from "));
}

/// A sign-in through a reverse proxy at 127.0.0.1, for a client at
/// `client`, with a device cookie or without.
async fn sign_in_behind_proxy(
    app: &TestApp,
    client: &str,
    device: Option<&str>,
    password: &str,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/rpc/login"))
        .header("x-forwarded-for", client)
        .form(&[("email", APPROVER), ("password", password)]);
    if let Some(token) = device {
        request = request.header("cookie", format!("holdpoint_device={token}"));
    }
    request.send().await.expect("login")
}

fn device_token_of(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|cookie| cookie.strip_prefix("holdpoint_device="))
        .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
}

/// Behind a trusted proxy the per-address limit counts the clients, not
/// the proxy; forty guesses at one account from forty addresses lock it
/// for unknown browsers, and its owner's browser, which signed in before,
/// signs in at once.
#[tokio::test]
async fn guesses_from_everywhere_do_not_lock_the_owner_out() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &[("HOLDPOINT_TRUSTED_PROXIES", "127.0.0.1, ::1")],
    )
    .await;
    let first = sign_in_behind_proxy(&app, "198.51.100.1", None, PASSWORD).await;
    assert!(first.status().is_success() || first.status().is_redirection());
    let device = device_token_of(&first).expect("a device cookie after signing in");

    let mut statuses = Vec::new();
    for n in 0..40 {
        let guess = sign_in_behind_proxy(&app, &format!("203.0.113.{n}"), None, "guess").await;
        statuses.push(guess.status().as_u16());
    }
    assert!(statuses[..10].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses[10..].iter().all(|s| *s == 429), "{statuses:?}");
    // Each address guessed once: counted as forty clients, not one proxy.
    let logged: Vec<(String,)> = app
        .query_sql("SELECT detail FROM audit_events WHERE kind = 'sign_in_failed'")
        .await;
    assert!(
        logged.iter().any(|(d,)| d.ends_with("from 203.0.113.9")),
        "{logged:?}"
    );

    // The owner's browser: at once.
    let owner = sign_in_behind_proxy(&app, "198.51.100.1", Some(&device), PASSWORD).await;
    assert!(
        owner.status().is_success() || owner.status().is_redirection(),
        "{}",
        owner.status()
    );
    // An unknown browser, even with the right password: after the delay
    // it is told.
    let unknown = sign_in_behind_proxy(&app, "198.51.100.2", None, PASSWORD).await;
    assert_eq!(unknown.status(), 429);
    let wait: u64 = unknown.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 0);
    let text = unknown.text().await.unwrap();
    assert!(text.contains("try again in"), "{text}");
    // A device token for another account, or a made-up one, is an
    // unknown device.
    let forged = sign_in_behind_proxy(&app, "198.51.100.3", Some("made-up"), PASSWORD).await;
    assert_eq!(forged.status(), 429);
}

#[tokio::test]
async fn after_sign_in_only_paths_on_this_site_are_followed() {
    let app = spawn_app(Backend::Sqlite).await;
    let vectors = [
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        "/\\evil.example",
        "/%09/evil.example",
        "/%5C/evil.example",
        "/\\/evil.example",
        "//evil.example",
        "https://evil.example/",
        "/%0d%0aSet-Cookie:%20x=1",
    ];
    for next in vectors {
        // As the form posts it before the WASM has loaded.
        let response = app
            .client
            .post(app.url("/rpc/login"))
            .header("accept", "text/html")
            .form(&[("email", APPROVER), ("password", PASSWORD), ("next", next)])
            .send()
            .await
            .unwrap_or_else(|e| panic!("no answer for next={next:?}: {e}"));
        assert!(
            response.status().is_redirection(),
            "{next:?}: {}",
            response.status()
        );
        let location = response.headers()["location"].to_str().expect("location");
        assert_eq!(location, "/", "next={next:?}");
    }
    let kept = app
        .client
        .post(app.url("/rpc/login"))
        .header("accept", "text/html")
        .form(&[
            ("email", APPROVER),
            ("password", PASSWORD),
            ("next", "/history?q=x"),
        ])
        .send()
        .await
        .expect("answer");
    assert_eq!(kept.headers()["location"], "/history?q=x");
}
