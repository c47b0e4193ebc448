//! `--large-inbox`: what a full inbox of large requests costs. Creates 500
//! approvals (the inbox's most) whose preview and data are each as large as
//! allowed (256 KiB), then opens 10 live inboxes one after another and
//! reports each one's time from connecting to its first snapshot, the
//! snapshot's size, and the server's memory (now and at its peak).

use super::{ms, percentile};
use holdpoint::testkit::{self, inbox_client::InboxSocket, Server};
use serde_json::json;
use std::path::Path;
use std::time::Instant;

const APPROVALS: usize = 500;
const INBOXES: usize = 10;
const KIB: usize = 1024;

pub async fn run(bin: &Path, database_url: &str, email: &str, password: &str, key: &str) {
    let server = Server::start(bin, database_url, super::NO_LIMITS).await;
    let http = testkit::client();
    println!("{} on {database_url}", bin.display());
    let body = json!({
        "title": "Import 1.2 million rows into billing",
        "body": format!("<p>{}</p>", "x".repeat(256 * KIB - 7)),
        "data": {"rows": "y".repeat(256 * KIB - 20)},
    });
    let started = Instant::now();
    for _ in 0..APPROVALS {
        let response = testkit::create_approval(&http, &server, key, &body).await;
        assert_eq!(response.status(), 201, "create failed");
    }
    println!(
        "{APPROVALS} approvals of 512 KiB each created in {:.1} s; server memory {}",
        started.elapsed().as_secs_f64(),
        memory(&server)
    );

    let cookie = testkit::login(&http, &server, email, password).await;
    let mut open = Vec::new();
    let mut first_snapshot = Vec::new();
    let mut size = 0;
    for _ in 0..INBOXES {
        let connecting = Instant::now();
        let mut socket = InboxSocket::signed_in(&server, &cookie).await;
        let snapshot = socket.next_text().await;
        first_snapshot.push(connecting.elapsed());
        size = snapshot.len();
        open.push(socket);
    }
    let rendering = Instant::now();
    let page = http
        .get(server.url("/"))
        .header("cookie", &cookie)
        .header("accept", "text/html")
        .send()
        .await
        .expect("inbox page");
    let page_bytes = page.bytes().await.expect("page body").len();
    let page_took = rendering.elapsed();
    first_snapshot.sort();
    println!(
        "{INBOXES} inboxes: first snapshot p50 {} max {}, {:.1} KiB each; inbox page {} ({:.1} KiB); \
         server memory with them open {}",
        ms(percentile(&first_snapshot, 50.0)),
        ms(percentile(&first_snapshot, 100.0)),
        size as f64 / KIB as f64,
        ms(page_took),
        page_bytes as f64 / KIB as f64,
        memory(&server),
    );
    drop(open);
}

/// "412.3 MiB (peak 650.1 MiB)": the server's resident memory, from /proc.
pub fn memory(server: &Server) -> String {
    let Some(pid) = server.pid() else {
        return "unknown (server exited)".to_owned();
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kib| kib.parse::<f64>().ok())
            .map_or_else(|| "?".to_owned(), |kib| format!("{:.1} MiB", kib / 1024.0))
    };
    format!("{} (peak {})", field("VmRSS:"), field("VmHWM:"))
}
