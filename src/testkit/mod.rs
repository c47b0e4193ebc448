//! Drives a real Holdpoint from the outside, the way a user would: the
//! integration tests and the benchmark harness both use it, so neither
//! mocks anything. A server is a real process, or, where a test drives the
//! clock, the same application run in the test's process on a
//! `ManualClock`. Not used by the server itself.

pub mod hostile;
pub mod inbox_client;
pub mod receiver;

use crate::server::app::Application;
use crate::server::config::ConfigArgs;
use crate::server::domain::clock::ManualClock;
use crate::server::service::Service;
use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

/// A running Holdpoint server, stopped when dropped.
pub struct Server {
    pub base_url: String,
    /// What the server printed on stdout before it listened.
    pub startup: Vec<String>,
    running: Running,
}

enum Running {
    /// `holdpoint serve`, with everything it has written to stderr so far
    /// (its log), which is also passed on to the test's own stderr.
    Process {
        child: Child,
        log: Arc<std::sync::Mutex<Vec<String>>>,
    },
    /// The application in this process; cancelling `stop` shuts it down.
    InProcess { stop: CancellationToken },
}

impl Drop for Server {
    fn drop(&mut self) {
        match &mut self.running {
            Running::Process { child, .. } => {
                let _ = child.start_kill();
            }
            Running::InProcess { stop } => stop.cancel(),
        }
    }
}

/// The flags of `holdpoint serve`, to configure an in-process server.
#[derive(clap::Parser)]
struct ServeFlags {
    #[command(flatten)]
    config: ConfigArgs,
}

/// A `holdpoint` command with the database and environment of a test.
pub fn holdpoint(bin: &Path, database_url: &str, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(bin);
    command
        .env("HOLDPOINT_DATABASE_URL", database_url)
        .env("HOLDPOINT_LOG", "warn")
        .env_remove("HOLDPOINT_ADDR")
        .env_remove("HOLDPOINT_PUBLIC_URL")
        .envs(env.iter().copied())
        .kill_on_drop(true);
    command
}

impl Server {
    /// Starts the server on a free port and waits until it listens.
    pub async fn start(bin: &Path, database_url: &str, env: &[(&str, &str)]) -> Server {
        let mut child = holdpoint(bin, database_url, env)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start holdpoint");
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let kept = log.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("{line}");
                kept.lock().expect("log lock").push(line);
            }
        });
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut startup = Vec::new();
        let base_url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.expect("read server stdout") {
                if let Some(url) = line.strip_prefix("holdpoint listening on ") {
                    return url.trim().to_owned();
                }
                startup.push(line);
            }
            panic!("holdpoint exited before listening");
        })
        .await
        .expect("holdpoint did not start within 30 s");
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Server {
            base_url,
            startup,
            running: Running::Process { child, log },
        }
    }

    /// Runs the application in this process, every deadline and retry on
    /// `clock`; `env` takes the same `HOLDPOINT_*` settings as `start`
    /// (passed as the equivalent flags, since the environment is shared by
    /// every test in the process). Returns the server and its service.
    pub async fn in_process(
        database_url: &str,
        env: &[(&str, &str)],
        clock: Arc<ManualClock>,
    ) -> (Server, Arc<Service>) {
        let mut argv = vec![
            "holdpoint".to_owned(),
            format!("--database-url={database_url}"),
            "--addr=127.0.0.1:0".to_owned(),
        ];
        for (name, value) in env {
            let flag = name
                .strip_prefix("HOLDPOINT_")
                .expect("a HOLDPOINT_ setting")
                .to_lowercase()
                .replace('_', "-");
            // On/off settings are bare flags on the command line.
            match *value {
                "true" => argv.push(format!("--{flag}")),
                "false" => {}
                _ => argv.push(format!("--{flag}={value}")),
            }
        }
        let flags = <ServeFlags as clap::Parser>::try_parse_from(argv).expect("valid settings");
        let app = Application::build_on_clock(&flags.config, clock)
            .await
            .expect("build the application");
        let service = app.service();
        let base_url = format!("http://{}", app.address());
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move {
            if let Err(error) = app.run_until(stopped.cancelled_owned()).await {
                eprintln!("in-process server failed: {error:#}");
            }
        });
        let server = Server {
            base_url,
            startup: Vec::new(),
            running: Running::InProcess { stop },
        };
        (server, service)
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        match &self.running {
            Running::Process { child, .. } => child.id(),
            Running::InProcess { .. } => panic!("an in-process server has no process"),
        }
    }

    /// SIGKILL, and waits for the process to end: no shutdown handler
    /// runs, nothing is drained.
    pub async fn kill(&mut self) {
        self.child().start_kill().expect("SIGKILL");
        self.child().wait().await.expect("the killed server exits");
    }

    /// The server's process, to signal or kill.
    pub fn child(&mut self) -> &mut Child {
        match &mut self.running {
            Running::Process { child, .. } => child,
            Running::InProcess { .. } => panic!("an in-process server has no process"),
        }
    }

    /// The server's log so far (a process's stderr; an in-process server
    /// logs nothing of its own).
    pub fn log(&self) -> Vec<String> {
        match &self.running {
            Running::Process { log, .. } => log.lock().expect("log lock").clone(),
            Running::InProcess { .. } => Vec::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

/// `holdpoint admin create-user ... --password-stdin`, an admin or an
/// approver.
pub async fn create_user(bin: &Path, database_url: &str, email: &str, password: &str, admin: bool) {
    let role = if admin { "admin" } else { "approver" };
    create_user_with_role(bin, database_url, email, password, role).await;
}

/// `holdpoint admin create-user --role ROLE ... --password-stdin`.
pub async fn create_user_with_role(
    bin: &Path,
    database_url: &str,
    email: &str,
    password: &str,
    role: &str,
) {
    use tokio::io::AsyncWriteExt;
    let mut command = holdpoint(bin, database_url, &[]);
    command.args(["admin", "create-user", "--email", email, "--password-stdin"]);
    command.args(["--role", role]);
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run create-user");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin
        .write_all(password.as_bytes())
        .await
        .expect("write password");
    drop(stdin);
    let output = child
        .wait_with_output()
        .await
        .expect("create-user finished");
    assert!(
        output.status.success(),
        "create-user failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `holdpoint admin create-key --name NAME [--approver EMAIL]`; returns the key.
pub async fn create_key(
    bin: &Path,
    database_url: &str,
    name: &str,
    approver: Option<&str>,
) -> String {
    let mut command = holdpoint(bin, database_url, &[]);
    command.args(["admin", "create-key", "--name", name]);
    if let Some(approver) = approver {
        command.args(["--approver", approver]);
    }
    let output = command.output().await.expect("run create-key");
    assert!(
        output.status.success(),
        "create-key failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("utf-8 key")
        .trim()
        .to_owned()
}

/// Runs `holdpoint admin ARGS...`; returns its output, success or not.
pub async fn admin(
    bin: &Path,
    database_url: &str,
    env: &[(&str, &str)],
    args: &[&str],
) -> std::process::Output {
    holdpoint(bin, database_url, env)
        .arg("admin")
        .args(args)
        .output()
        .await
        .expect("run holdpoint admin")
}

/// `holdpoint admin create-key --name NAME --webhook-url URL`; returns the
/// key and the webhook signing secret it printed.
pub async fn create_key_with_webhook(
    bin: &Path,
    database_url: &str,
    env: &[(&str, &str)],
    name: &str,
    url: &str,
) -> (String, String) {
    let output = admin(
        bin,
        database_url,
        env,
        &["create-key", "--name", name, "--webhook-url", url],
    )
    .await;
    assert!(
        output.status.success(),
        "create-key failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("utf-8 output");
    let mut lines = stdout.lines().map(str::trim);
    let key = lines.next().expect("the key").to_owned();
    let secret = lines.next().expect("the webhook secret").to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (key, secret)
}

/// Calls a server function as a signed-in browser would (a form post).
pub async fn rpc(
    client: &reqwest::Client,
    server: &Server,
    cookie: &str,
    name: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(server.url(&format!("/rpc/{name}")))
        .header(COOKIE, cookie)
        .form(form)
        .send()
        .await
        .expect("server function request")
}

/// An HTTP client that does not follow redirects (so a test sees them).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .build()
        .expect("build client")
}

/// Posts to the login server function; returns its answer, right or wrong.
pub async fn login_response(
    client: &reqwest::Client,
    server: &Server,
    email: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(server.url("/rpc/login"))
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .expect("login request")
}

/// Signs in through the login server function; returns the Cookie header.
pub async fn login(
    client: &reqwest::Client,
    server: &Server,
    email: &str,
    password: &str,
) -> String {
    let response = login_response(client, server, email, password).await;
    let cookie = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("holdpoint_session="))
        .unwrap_or_else(|| panic!("login gave no session cookie: {}", response.status()));
    cookie.split(';').next().unwrap_or_default().to_owned()
}

/// Decides through the `decide` server function, as the inbox does.
pub async fn decide(
    client: &reqwest::Client,
    server: &Server,
    cookie: &str,
    id: &str,
    verdict: &str,
    reason: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![("id", id), ("verdict", verdict)];
    if let Some(reason) = reason {
        form.push(("reason", reason));
    }
    rpc(client, server, cookie, "decide", &form).await
}

/// Creates an approval through the REST API; returns the response.
pub async fn create_approval(
    client: &reqwest::Client,
    server: &Server,
    key: &str,
    body: &Value,
) -> reqwest::Response {
    client
        .post(server.url("/api/v1/approvals"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .expect("create request")
}

/// What a long-poll `/wait` answered, and when the answer arrived.
pub struct WaitAnswer {
    pub approval: Value,
    pub at: std::time::Instant,
}

/// Starts `GET /api/v1/approvals/{id}/wait` in the background.
pub fn spawn_wait(
    client: &reqwest::Client,
    server: &Server,
    key: &str,
    id: &str,
    timeout_secs: u64,
) -> tokio::task::JoinHandle<WaitAnswer> {
    let request = client
        .get(server.url(&format!(
            "/api/v1/approvals/{id}/wait?timeout={timeout_secs}"
        )))
        .bearer_auth(key);
    tokio::spawn(async move {
        let response = request.send().await.expect("wait request");
        let approval = response.json().await.expect("wait JSON");
        WaitAnswer {
            approval,
            at: std::time::Instant::now(),
        }
    })
}

/// A typical create request body.
pub fn sample_request(title: &str) -> Value {
    json!({
        "title": title,
        "body": "<h2>Spring sale</h2><p>To <strong>4,812</strong> recipients.</p>",
        "data": {"campaignId": "cmp_123", "recipientCount": 4812},
        "action": "email.send_campaign",
    })
}

/// The `holdpoint` binary next to the running test or bench executable.
pub fn binary_path() -> PathBuf {
    if let Ok(path) = std::env::var("HOLDPOINT_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().expect("exe dir");
    // Test executables live in target/<profile>/deps; binaries one level up.
    let dir = if dir.ends_with("deps") {
        dir.parent().expect("profile dir")
    } else {
        dir
    };
    dir.join("holdpoint")
}

/// Which database a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where the PostgreSQL tests find a server they may create databases on.
pub const TEST_DATABASE_ENV: &str = "HOLDPOINT_TEST_DATABASE_URL";

/// A new, empty database for one test; a PostgreSQL one is dropped when
/// this is (a SQLite file goes with its temporary directory).
pub struct TestDatabase {
    pub url: String,
    /// The server URL to drop it from, and its name.
    drop_from: Option<(String, String)>,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((server, name)) = self.drop_from.take() else {
            return;
        };
        // Drop cannot await, and may run inside a runtime: use a thread.
        let dropped = std::thread::spawn(move || {
            use sqlx::Connection;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&server).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("could not drop a test database: {error}");
        }
    }
}

/// A new, empty database: a SQLite file in `dir`, or a database created for
/// this caller alone on the server of `HOLDPOINT_TEST_DATABASE_URL`.
/// Panics with the fix when PostgreSQL is asked for and there is none: a
/// missing database fails the run rather than skipping its tests.
pub async fn fresh_database(backend: Backend, dir: &Path) -> TestDatabase {
    match backend {
        Backend::Sqlite => TestDatabase {
            url: format!("sqlite://{}", dir.join("holdpoint.db").display()),
            drop_from: None,
        },
        Backend::Postgres => fresh_postgres_database().await,
    }
}

async fn fresh_postgres_database() -> TestDatabase {
    use sqlx::Connection;
    let server = std::env::var(TEST_DATABASE_ENV).unwrap_or_else(|_| {
        panic!(
            "{TEST_DATABASE_ENV} is not set, and the PostgreSQL half of the suite needs a \
             server. Run the tests through scripts/test.sh (it starts a throwaway cluster), \
             or as `scripts/with-postgres.sh cargo test --features ssr`, or set \
             {TEST_DATABASE_ENV}=postgres://USER@HOST:PORT/DATABASE for a server where \
             that user may CREATE DATABASE."
        )
    });
    let mut admin = sqlx::PgConnection::connect(&server)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {TEST_DATABASE_ENV} ({server}): {e}"));
    let name = format!("holdpoint_test_{:016x}", rand::random::<u64>());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("cannot create a test database on {server}: {e}"));
    let _ = admin.close().await;
    TestDatabase {
        url: with_database_name(&server, &name),
        drop_from: Some((server, name)),
    }
}

/// `url` with its database (the path) replaced by `name`, query kept.
pub fn with_database_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    format!("{}/{name}{query}", &base[..authority_end])
}

#[cfg(test)]
mod tests {
    use super::with_database_name;

    #[test]
    fn database_name_replaces_the_path_only() {
        assert_eq!(
            with_database_name("postgres://u@127.0.0.1:5432/postgres", "t1"),
            "postgres://u@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database_name("postgres://u:p@db/x?sslmode=disable", "t2"),
            "postgres://u:p@db/t2?sslmode=disable"
        );
        assert_eq!(
            with_database_name("postgres://db", "t3"),
            "postgres://db/t3"
        );
    }
}
