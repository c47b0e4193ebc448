//! Each test gets its own real server on a free port and its own fresh
//! database, with an admin, an approver and an API key made through the
//! real CLI. The server is a process, or, for tests about deadlines and
//! retries, the same application in the test's process on a clock the
//! test moves.

use holdpoint::server::domain::clock::ManualClock;
use holdpoint::server::service::Service;
use holdpoint::testkit::{self, Backend, Server};
use reqwest::header::COOKIE;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub const ADMIN: &str = "admin@example.com";
pub const APPROVER: &str = "ana@example.com";
pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub server: Server,
    pub bin: PathBuf,
    pub database_url: String,
    pub client: reqwest::Client,
    /// The API key `billing-agent`.
    pub key: String,
    /// For an in-process app: its clock and its service.
    clocked: Option<(Arc<ManualClock>, Arc<Service>)>,
    // After `server`: fields drop in order, so the server goes first.
    _database: testkit::TestDatabase,
    _dir: tempfile::TempDir,
}

/// Runs each named test, an `async fn(Backend)`, once per backend, as
/// `sqlite::NAME` and `postgres::NAME`. A test left out of the list is dead
/// code, which clippy refuses, so none is forgotten.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                super::$name(holdpoint::testkit::Backend::Sqlite).await
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                super::$name(holdpoint::testkit::Backend::Postgres).await
            })*
        }
    };
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

pub async fn spawn_app_with(backend: Backend, env: &[(&str, &str)]) -> TestApp {
    spawn(backend, env, false).await
}

/// An app in this process whose deadlines and retries wait on a clock the
/// test moves with [`TestApp::advance`].
pub async fn spawn_app_on_clock(backend: Backend, env: &[(&str, &str)]) -> TestApp {
    spawn(backend, env, true).await
}

async fn spawn(backend: Backend, env: &[(&str, &str)], on_clock: bool) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = testkit::fresh_database(backend, dir.path()).await;
    let database_url = database.url.clone();
    let bin = testkit::binary_path();
    testkit::create_user(&bin, &database_url, ADMIN, PASSWORD, true).await;
    testkit::create_user(&bin, &database_url, APPROVER, PASSWORD, false).await;
    let key = testkit::create_key(&bin, &database_url, "billing-agent", None).await;
    let (server, clocked) = if on_clock {
        let clock = Arc::new(ManualClock::starting_now());
        let (server, service) = Server::in_process(&database_url, env, clock.clone()).await;
        (server, Some((clock, service)))
    } else {
        (Server::start(&bin, &database_url, env).await, None)
    };
    TestApp {
        server,
        bin,
        database_url,
        client: testkit::client(),
        key,
        clocked,
        _database: database,
        _dir: dir,
    }
}

impl TestApp {
    /// Moves an in-process app's clock forward; what waits on it wakes.
    pub fn advance(&self, by: Duration) {
        self.clocked().0.advance(by);
    }

    /// An in-process app's service, to ask what it holds.
    pub fn service(&self) -> &Service {
        &self.clocked().1
    }

    fn clocked(&self) -> &(Arc<ManualClock>, Arc<Service>) {
        self.clocked
            .as_ref()
            .expect("an app started with spawn_app_on_clock")
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub async fn create(&self, body: &Value) -> reqwest::Response {
        testkit::create_approval(&self.client, &self.server, &self.key, body).await
    }

    /// Creates an approval that must succeed; returns its JSON.
    pub async fn create_ok(&self, title: &str) -> Value {
        let response = self.create(&testkit::sample_request(title)).await;
        assert_eq!(response.status(), 201);
        response.json().await.expect("approval JSON")
    }

    /// Creates an approval titled `title` with `key`, and approves it as
    /// the signed-in `admin`; returns its id.
    pub async fn create_and_approve(&self, key: &str, admin: &str, title: &str) -> String {
        let created = testkit::create_approval(
            &self.client,
            &self.server,
            key,
            &testkit::sample_request(title),
        )
        .await;
        assert_eq!(created.status(), 201);
        let approval: Value = created.json().await.expect("approval JSON");
        let id = approval["id"].as_str().expect("id").to_owned();
        assert_eq!(self.decide(admin, &id, "approve", None).await.status(), 200);
        id
    }

    pub async fn get(&self, key: &str, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .expect("GET")
    }

    pub async fn post(&self, key: &str, path: &str) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .expect("POST")
    }

    /// A sign-in attempt with any password; the raw answer.
    pub async fn try_login(&self, email: &str, password: &str) -> reqwest::Response {
        testkit::login_response(&self.client, &self.server, email, password).await
    }

    pub async fn login(&self, email: &str) -> String {
        testkit::login(&self.client, &self.server, email, PASSWORD).await
    }

    pub async fn decide(
        &self,
        cookie: &str,
        id: &str,
        verdict: &str,
        reason: Option<&str>,
    ) -> reqwest::Response {
        testkit::decide(&self.client, &self.server, cookie, id, verdict, reason).await
    }

    /// Calls a server function as the signed-in person; the raw answer.
    pub async fn rpc(&self, cookie: &str, name: &str, form: &[(&str, &str)]) -> reqwest::Response {
        testkit::rpc(&self.client, &self.server, cookie, name, form).await
    }

    /// A server function's JSON answer, which must be a success.
    pub async fn rpc_ok(&self, cookie: &str, name: &str, form: &[(&str, &str)]) -> Value {
        let response = self.rpc(cookie, name, form).await;
        let status = response.status();
        let text = response.text().await.expect("rpc body");
        assert!(status.is_success(), "{name} answered {status}: {text}");
        serde_json::from_str(&text).expect("rpc JSON")
    }

    /// Runs a statement on the database directly, around the server (as
    /// someone with access to the database could).
    pub async fn execute_sql(&self, sql: &str) -> u64 {
        if self.database_url.starts_with("postgres") {
            let db = sqlx::PgPool::connect(&self.database_url).await.unwrap();
            sqlx::query(sql).execute(&db).await.unwrap().rows_affected()
        } else {
            let db = sqlx::SqlitePool::connect(&self.database_url).await.unwrap();
            sqlx::query(sql).execute(&db).await.unwrap().rows_affected()
        }
    }

    /// Reads rows straight from the database.
    pub async fn query_sql<T>(&self, sql: &str) -> Vec<T>
    where
        T: Send + Unpin,
        T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
    {
        if self.database_url.starts_with("postgres") {
            let db = sqlx::PgPool::connect(&self.database_url).await.unwrap();
            sqlx::query_as(sql).fetch_all(&db).await.unwrap()
        } else {
            let db = sqlx::SqlitePool::connect(&self.database_url).await.unwrap();
            sqlx::query_as(sql).fetch_all(&db).await.unwrap()
        }
    }

    /// Runs a `holdpoint` command (not the server) on this app's database.
    pub async fn command(&self, args: &[&str]) -> std::process::Output {
        testkit::holdpoint(&self.bin, &self.database_url, &[])
            .args(args)
            .output()
            .await
            .expect("run holdpoint")
    }

    /// `holdpoint policy set NAME ARGS...`, which must succeed.
    pub async fn set_policy(&self, name: &str, args: &[&str]) {
        let mut all = vec!["policy", "set", name];
        all.extend_from_slice(args);
        let output = self.command(&all).await;
        assert!(
            output.status.success(),
            "policy set {name} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Creates an approval with this app's key; its JSON, which must be a 201.
    pub async fn create_json(&self, body: Value) -> Value {
        let response = self.create(&body).await;
        assert_eq!(response.status(), 201);
        response.json().await.unwrap()
    }

    pub async fn new_key(&self, name: &str, approver: Option<&str>) -> String {
        testkit::create_key(&self.bin, &self.database_url, name, approver).await
    }

    /// GETs a page as a browser navigation does (Accept: text/html).
    pub async fn page(&self, cookie: Option<&str>, path: &str) -> reqwest::Response {
        let mut request = self
            .client
            .get(self.url(path))
            .header("accept", "text/html");
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        request.send().await.expect("page")
    }

    /// Starts a long-poll `/wait` in the background.
    pub fn spawn_wait(
        &self,
        id: &str,
        timeout_secs: u64,
    ) -> tokio::task::JoinHandle<testkit::WaitAnswer> {
        testkit::spawn_wait(&self.client, &self.server, &self.key, id, timeout_secs)
    }

    /// The inbox server function's answer for a signed-in person.
    pub async fn inbox(&self, cookie: &str) -> Value {
        let response = self
            .client
            .post(self.url("/rpc/inbox"))
            .header(COOKIE, cookie)
            .send()
            .await
            .expect("inbox request");
        response.json().await.expect("inbox JSON")
    }

    /// The approval as its agent sees it now.
    pub async fn approval(&self, id: &str) -> Value {
        self.get(&self.key, &format!("/api/v1/approvals/{id}"))
            .await
            .json()
            .await
            .expect("approval JSON")
    }

    /// A page's HTML as a signed-in browser gets it.
    pub async fn page_text(&self, cookie: &str, path: &str) -> String {
        self.page(Some(cookie), path)
            .await
            .text()
            .await
            .expect("page text")
    }

    /// How many approvals this app's key can list.
    pub async fn count(&self) -> usize {
        let page: Value = self
            .get(&self.key, "/api/v1/approvals?limit=100")
            .await
            .json()
            .await
            .expect("list");
        page["items"].as_array().expect("items").len()
    }
}

/// Asserts a problem+json answer with this status and code; returns it.
pub async fn assert_problem(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(
        response.status().as_u16(),
        status,
        "status for expected code {code}"
    );
    let content_type = content_type_of(&response);
    assert_eq!(
        content_type, "application/problem+json",
        "content type for {code}"
    );
    let body: Value = response.json().await.expect("problem JSON");
    assert_eq!(body["code"], code, "problem: {body}");
    assert_eq!(body["status"], status);
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "detail: {body}"
    );
    assert!(body["type"].is_string() && body["title"].is_string());
    body
}

/// The answer's header `name` as text, or "" without one.
pub fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The answer's Content-Type, or "" without one.
pub fn content_type_of(response: &reqwest::Response) -> String {
    header(response, "content-type")
}
