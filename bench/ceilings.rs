//! The machine's own ceilings, measured in the same run as Holdpoint so
//! that its figures can be read as ratios that hold on a noisy host: the
//! same agents' load against
//!   - a bare axum handler that parses the JSON body and answers JSON;
//!   - an axum handler that does one sqlx insert into a SQLite file per
//!     request, with Holdpoint's durability (WAL, `synchronous = FULL`, one
//!     writer connection).
//!
//! Both run in this process, on loopback, like the server under test.

use super::load::{create_load, Load};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The two ceilings' loads: (bare axum, one insert per request).
pub async fn run(dir: &Path, clients: usize, seconds: u64) -> (Load, Load) {
    let bare = Router::new().route("/api/v1/approvals", post(bare_create));
    let bare = serve(bare).await;
    let bare = create_load(&[bare], "unused", clients, seconds).await;

    let options = SqliteConnectOptions::new()
        .filename(dir.join("ceiling.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("ceiling database");
    sqlx::query(
        "CREATE TABLE approvals (id TEXT PRIMARY KEY, title TEXT NOT NULL,
             data_json TEXT NOT NULL, created_at INTEGER NOT NULL)",
    )
    .execute(&pool)
    .await
    .expect("ceiling table");
    let insert = Router::new()
        .route("/api/v1/approvals", post(insert_create))
        .with_state(Arc::new(Inserter {
            pool,
            next: AtomicU64::new(0),
        }));
    let insert = serve(insert).await;
    let insert = create_load(&[insert], "unused", clients, seconds).await;
    (bare, insert)
}

/// Serves `router` on a free loopback port; returns its create endpoint.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}/api/v1/approvals")
}

async fn bare_create(Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    let answer = json!({"id": "apr_ceiling", "status": "pending", "title": body["title"]});
    (StatusCode::CREATED, Json(answer))
}

struct Inserter {
    pool: SqlitePool,
    next: AtomicU64,
}

async fn insert_create(
    State(inserter): State<Arc<Inserter>>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let id = format!("apr_{}", inserter.next.fetch_add(1, Ordering::Relaxed));
    sqlx::query("INSERT INTO approvals (id, title, data_json, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&id)
        .bind(body["title"].as_str().unwrap_or_default())
        .bind(body["data"].to_string())
        .bind(chrono::Utc::now().timestamp_millis())
        .execute(&inserter.pool)
        .await
        .expect("ceiling insert");
    (
        StatusCode::CREATED,
        Json(json!({"id": id, "status": "pending"})),
    )
}
