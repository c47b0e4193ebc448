//! `--search`: history search at `--rows` decided approvals (a million by
//! default). The rows are written straight into the database in one
//! statement (a fifth denied with a reason), then the history server
//! function is timed for needles that match one row, a few, every row, none,
//! and a two-character one.

use super::{ms, percentile, Options};
use holdpoint::testkit::{self, Backend, Server};
use std::path::Path;
use std::time::Instant;

const RUNS: usize = 5;

/// (what it shows, the needle)
const NEEDLES: [(&str, &str); 6] = [
    ("one row (title)", "customer 777777 "),
    ("a few rows (title)", "order #42424"),
    ("a few rows (reason)", "duplicate of refund 4242"),
    ("every row", "refund"),
    ("no row", "zebra"),
    ("two characters", "#9"),
];

pub async fn run(options: &Options, bin: &Path, database_url: &str, email: &str, password: &str) {
    let started = Instant::now();
    fill(options, database_url).await;
    println!(
        "{} decided approvals written in {:.1} s ({})",
        options.rows,
        started.elapsed().as_secs_f64(),
        bin.display()
    );
    let server = Server::start(bin, database_url, super::NO_LIMITS).await;
    let http = testkit::client();
    let cookie = testkit::login(&http, &server, email, password).await;
    for (what, needle) in NEEDLES {
        let mut took = Vec::new();
        let mut found = 0;
        for _ in 0..RUNS {
            let t0 = Instant::now();
            let response = testkit::rpc(&http, &server, &cookie, "history", &[("q", needle)]).await;
            assert!(
                response.status().is_success(),
                "history failed: {}",
                response.status()
            );
            let page: serde_json::Value = response.json().await.expect("history JSON");
            took.push(t0.elapsed());
            found = page["items"].as_array().map_or(0, Vec::len);
        }
        took.sort();
        println!(
            "search {needle:?} ({what}): p50 {} max {} ({found} on the first page)",
            ms(percentile(&took, 50.0)),
            ms(percentile(&took, 100.0)),
        );
    }
}

/// Writes `options.rows` decided approvals for the bench's key and admin.
async fn fill(options: &Options, database_url: &str) {
    use sqlx::Connection;
    let rows = options.rows as i64;
    let now = chrono::Utc::now().timestamp_millis() - rows - 86_400_000;
    // Every column the history reads, in both databases' SQL.
    let columns = "(id, api_key_id, status, title, body_html, data_json, action, reason, \
                   decided_by, decided_at, created_at, expires_at)";
    let values = |id: &str, i: &str| {
        format!(
            "SELECT {id}, (SELECT id FROM api_keys LIMIT 1), \
             CASE WHEN {i} % 5 = 0 THEN 'denied' ELSE 'approved' END, \
             'Refund $' || ({i} % 1000) || ' to customer ' || {i} || ' for order #' || ({i} * 7919 % 1000003), \
             '', '{{}}', 'billing.refund', \
             CASE WHEN {i} % 5 = 0 THEN 'Duplicate of refund ' || ({i} * 31 % 99991) END, \
             (SELECT id FROM users LIMIT 1), {now} + {i}, {now} + {i} - 60000, {now} + {i} + 86400000"
        )
    };
    match options.backend {
        Backend::Sqlite => {
            let mut db = sqlx::SqliteConnection::connect(database_url)
                .await
                .expect("open the bench database");
            let sql = format!(
                "INSERT INTO approvals {columns} \
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) \
                 {} FROM n",
                values("printf('apr_%026d', i)", "i")
            );
            sqlx::query(&sql).execute(&mut db).await.expect("fill");
        }
        Backend::Postgres => {
            let mut db = sqlx::PgConnection::connect(database_url)
                .await
                .expect("open the bench database");
            let sql = format!(
                "INSERT INTO approvals {columns} {} FROM generate_series(1::bigint, {rows}::bigint) AS i",
                values("'apr_' || lpad(i::text, 26, '0')", "i")
            );
            sqlx::query(&sql).execute(&mut db).await.expect("fill");
            sqlx::query("ANALYZE approvals")
                .execute(&mut db)
                .await
                .expect("analyze");
        }
    }
}
