//! `--stats`: the Stats page and the inbox at `--rows` approvals (a
//! million by default, a tenth pending). The history is written straight
//! into the database by [`seed`] (also used on its own by `--seed-only`,
//! for the browser tests' screenshots), the rollups are rebuilt by opening
//! the store (timed), then the `stats` and `inbox` server functions are
//! timed over loopback.

use super::{ms, percentile, Options};
use holdpoint::server::domain::events::EventHub;
use holdpoint::testkit::{self, Backend, Server};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

const RUNS: usize = 7;
const DAYS: i64 = 90;
const AGENTS: i64 = 6;
const APPROVERS: i64 = 8;
const GROUPS: [&str; 3] = ["billing", "data-ops", "growth"];
const KINDS: [&str; 8] = [
    "billing.refund",
    "email.send",
    "db.delete_rows",
    "crm.update",
    "deploy.release",
    "payments.payout",
    "support.reply",
    "data.export",
];

/// The status of approval `i` (1-based, of `rows`): the same formula as
/// the SQL in [`seed`].
fn status_of(i: i64, rows: i64) -> &'static str {
    match i % 50 {
        _ if i > rows - rows / 10 => "pending",
        0..=2 => "denied",
        3 => "expired",
        4 => "cancelled",
        _ => "approved",
    }
}

/// How long a person took on approval `i`: the same formula as in [`seed`].
fn latency_ms(i: i64) -> i64 {
    15_000 * (i % 20 + 1) * (i % 7 + 1)
}

/// The figures the seeded history must show: decisions by a person, their
/// exact p50 and p90, and outcomes.
pub fn expected(rows: i64) -> serde_json::Value {
    let mut latencies = Vec::new();
    let mut counts = std::collections::BTreeMap::<&str, u64>::new();
    for i in 1..=rows {
        let status = status_of(i, rows);
        *counts.entry(status).or_default() += 1;
        if matches!(status, "approved" | "denied") {
            latencies.push(latency_ms(i));
        }
    }
    latencies.sort_unstable();
    let rank = |p: f64| latencies[((p / 100.0) * latencies.len() as f64).ceil() as usize - 1];
    json!({
        "decisions": latencies.len(),
        "p50_ms": rank(50.0),
        "p90_ms": rank(90.0),
        "counts": counts,
    })
}

/// Writes `rows` approvals over the last 90 days into a database that has
/// its schema (any `holdpoint` command makes it): six agents, eight
/// approvers in three groups, eight action kinds; the newest tenth pending,
/// the rest approved (90 %), denied (6 %), expired or cancelled (2 % each).
/// Asks for the rollups to be rebuilt at the next start.
pub async fn seed(database_url: &str, backend: Backend, rows: i64) {
    let now = chrono::Utc::now().timestamp_millis();
    let start = now - DAYS * 86_400_000;
    // The decided spread over the 90 days up to an hour ago; the newest
    // tenth, pending, over the last hour.
    let decided = rows - rows / 10;
    let step = ((now - 3_600_000 - start) / decided.max(1)).max(1);
    let pending_step = (3_600_000 / (rows / 10).max(1)).max(1);
    let mut setup = Vec::new();
    for a in 0..AGENTS {
        setup.push(format!(
            "INSERT INTO api_keys (id, name, key_hash, created_at) \
             VALUES ('key_seed{a}', 'agent-{a}', 'seed-hash-{a}', {start})"
        ));
    }
    for u in 0..APPROVERS {
        setup.push(format!(
            "INSERT INTO users (id, email, name, password_hash, role, active, created_at) \
             VALUES ('usr_seed{u}', 'approver{u}@example.com', 'Approver {u}', '!', 'approver', \
             {}, {start})",
            if backend == Backend::Postgres {
                "TRUE"
            } else {
                "1"
            }
        ));
    }
    for (g, name) in GROUPS.iter().enumerate() {
        setup.push(format!(
            "INSERT INTO approver_groups (id, name, created_at) VALUES ('grp_seed{g}', '{name}', {start})"
        ));
        for u in 0..APPROVERS {
            if u % GROUPS.len() as i64 == g as i64 {
                setup.push(format!(
                    "INSERT INTO group_members (group_id, user_id) VALUES ('grp_seed{g}', 'usr_seed{u}')"
                ));
            }
        }
    }
    let kinds = KINDS
        .iter()
        .enumerate()
        .map(|(k, kind)| format!("WHEN {k} THEN '{kind}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let groups = GROUPS.len();
    // Routes: a third to a group, a third to a person, a third to anyone;
    // whoever decides is in that route.
    let values = |id: &str, i: &str| {
        let pending = format!("({i} > {rows} - {rows} / 10)");
        let created = format!(
            "(CASE WHEN {pending} THEN {now} - 3600000 + ({i} - {decided}) * {pending_step} \
             ELSE {start} + {i} * {step} END)"
        );
        let latency = format!("(15000 * ({i} % 20 + 1) * ({i} % 7 + 1))");
        let person = format!(
            "CASE WHEN {i} % 3 = 0 THEN 'usr_seed' || (({i} / 3 % {groups}) + {groups} * ({i} % 2)) \
             ELSE 'usr_seed' || ({i} % {APPROVERS}) END"
        );
        format!(
            "SELECT {id}, 'key_seed' || ({i} % {AGENTS}), \
             CASE WHEN {pending} THEN 'pending' WHEN {i} % 50 <= 2 THEN 'denied' \
                  WHEN {i} % 50 = 3 THEN 'expired' WHEN {i} % 50 = 4 THEN 'cancelled' \
                  ELSE 'approved' END, \
             'Seeded approval ' || {i}, '', '{{}}', CASE ({i} * 7 % 8) {kinds} END, \
             CASE WHEN {i} % 3 = 1 THEN {person} END, \
             CASE WHEN {i} % 3 = 0 THEN 'grp_seed' || ({i} / 3 % {groups}) END, \
             CASE WHEN {i} % 50 <= 2 AND NOT {pending} THEN 'Seeded denial ' || ({i} % 7) END, \
             CASE WHEN {pending} OR {i} % 50 IN (3, 4) THEN NULL ELSE {person} END, \
             CASE WHEN {pending} THEN NULL \
                  WHEN {i} % 50 = 3 THEN {created} + 86400000 \
                  ELSE {created} + {latency} END, \
             {created}, \
             CASE WHEN {pending} AND {i} % 40 = 0 THEN {now} + 1800000 \
                  WHEN {pending} THEN {created} + 172800000 ELSE {created} + 86400000 END"
        )
    };
    let columns = "(id, api_key_id, status, title, body_html, data_json, action, approver_id, \
                   group_id, reason, decided_by, decided_at, created_at, expires_at)";
    let fill = match backend {
        Backend::Sqlite => format!(
            "INSERT INTO approvals {columns} \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) \
             {} FROM n",
            values("printf('apr_%026d', i)", "i")
        ),
        Backend::Postgres => format!(
            "INSERT INTO approvals {columns} {} FROM generate_series(1::bigint, {rows}::bigint) AS i",
            values("'apr_' || lpad(i::text, 26, '0')", "i")
        ),
    };
    let rebuild = "UPDATE stats_state SET rebuild_pending = TRUE".to_owned();
    run_all(
        database_url,
        backend,
        setup.into_iter().chain([fill, rebuild]),
    )
    .await;
}

async fn run_all(database_url: &str, backend: Backend, statements: impl Iterator<Item = String>) {
    use sqlx::Connection;
    match backend {
        Backend::Sqlite => {
            let mut db = sqlx::SqliteConnection::connect(database_url)
                .await
                .expect("open the database");
            for sql in statements {
                sqlx::query(&sql)
                    .execute(&mut db)
                    .await
                    .unwrap_or_else(|e| panic!("{e}: {sql}"));
            }
        }
        Backend::Postgres => {
            let mut db = sqlx::PgConnection::connect(database_url)
                .await
                .expect("open the database");
            for sql in statements {
                sqlx::query(&sql)
                    .execute(&mut db)
                    .await
                    .unwrap_or_else(|e| panic!("{e}: {sql}"));
            }
            sqlx::query("ANALYZE")
                .execute(&mut db)
                .await
                .expect("analyze");
        }
    }
}

pub async fn run(options: &Options, bin: &Path, database_url: &str, email: &str, password: &str) {
    let rows = options.rows as i64;
    let started = Instant::now();
    seed(database_url, options.backend, rows).await;
    println!(
        "{rows} approvals written in {:.1} s ({})",
        started.elapsed().as_secs_f64(),
        bin.display()
    );
    let started = Instant::now();
    let store = holdpoint::server::store::open(database_url, EventHub::new(16))
        .await
        .expect("open the store");
    drop(store);
    println!(
        "rollups rebuilt from them in {:.1} s (once, at the first start after an upgrade)",
        started.elapsed().as_secs_f64()
    );
    let server = Server::start(bin, database_url, super::NO_LIMITS).await;
    let http = testkit::client();
    let cookie = testkit::login(&http, &server, email, password).await;
    let views: [(&str, &[(&str, &str)]); 10] = [
        ("7 days", &[("window", "7d")]),
        ("30 days", &[("window", "30d")]),
        ("90 days", &[("window", "90d")]),
        ("all time", &[("window", "all")]),
        (
            "7 days, one kind",
            &[("window", "7d"), ("kind", "email.send")],
        ),
        (
            "90 days, one approver",
            &[("window", "90d"), ("approver", "approver3@example.com")],
        ),
        (
            "all time, one agent",
            &[("window", "all"), ("agent", "agent-2")],
        ),
        (
            "24 hours (counted from the approvals)",
            &[("window", "24h")],
        ),
        (
            "30 days, a kind and an agent",
            &[
                ("window", "30d"),
                ("kind", "email.send"),
                ("agent", "agent-3"),
            ],
        ),
        (
            "all time, a kind, an agent and a group (counted from the approvals)",
            &[
                ("window", "all"),
                ("kind", "email.send"),
                ("agent", "agent-3"),
                ("group", "growth"),
            ],
        ),
    ];
    for (what, query) in views {
        let (took, body) = time_rpc(&http, &server, &cookie, "stats", query).await;
        let stats: serde_json::Value = serde_json::from_slice(&body).expect("stats JSON");
        println!(
            "stats, {what}: p50 {} max {} ({} decisions, {} pending)",
            ms(percentile(&took, 50.0)),
            ms(percentile(&took, 100.0)),
            stats["latency"]["decisions"],
            stats["backlog"]["pending"],
        );
    }
    // The export of every decision, streamed: the server's memory before
    // and after says whether it stayed flat.
    let before = super::large_inbox::memory(&server);
    let t0 = Instant::now();
    let mut response = http
        .get(server.url("/exports/decisions.jsonl"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("export");
    assert!(
        response.status().is_success(),
        "export: {}",
        response.status()
    );
    let (mut bytes, mut lines) = (0_usize, 0_usize);
    while let Some(chunk) = response.chunk().await.expect("export chunk") {
        bytes += chunk.len();
        lines += chunk.iter().filter(|&&b| b == b'\n').count();
    }
    println!(
        "export of decisions: {lines} lines, {:.1} MiB in {:.1} s; server memory before {before}, after {}",
        bytes as f64 / 1_048_576.0,
        t0.elapsed().as_secs_f64(),
        super::large_inbox::memory(&server),
    );
    for (what, form) in [
        ("an admin's, everything", &[("everything", "true")][..]),
        ("an admin's own", &[][..]),
    ] {
        let (took, body) = time_rpc(&http, &server, &cookie, "inbox", form).await;
        let inbox: serde_json::Value = serde_json::from_slice(&body).expect("inbox JSON");
        println!(
            "inbox first page ({what}): p50 {} max {} ({} shown, {} pending in all)",
            ms(percentile(&took, 50.0)),
            ms(percentile(&took, 100.0)),
            inbox["approvals"].as_array().map_or(0, Vec::len),
            rows / 10,
        );
    }
}

async fn time_rpc(
    http: &reqwest::Client,
    server: &Server,
    cookie: &str,
    name: &str,
    form: &[(&str, &str)],
) -> (Vec<Duration>, Vec<u8>) {
    let mut took = Vec::new();
    let mut body = Vec::new();
    for _ in 0..RUNS {
        let t0 = Instant::now();
        let response = testkit::rpc(http, server, cookie, name, form).await;
        assert!(
            response.status().is_success(),
            "{name}: {}",
            response.status()
        );
        body = response.bytes().await.expect("body").to_vec();
        took.push(t0.elapsed());
    }
    took.sort();
    (took, body)
}
