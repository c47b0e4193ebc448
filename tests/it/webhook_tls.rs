//! https webhook endpoints: a real TLS receiver on loopback, with a
//! certificate from a throwaway CA made here. Delivery verifies the
//! certificate and the host name; a certificate Holdpoint does not trust is
//! a failed attempt that says why in plain words; the SSRF guard holds over
//! TLS as over plain HTTP.
//!
//! TLS sits between the worker and the network, not the database, so these
//! run on SQLite only.

use crate::common::{spawn_app_with, TestApp, ADMIN};
use holdpoint::testkit::receiver::{verify, Receiver};
use holdpoint::testkit::{self, Backend};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

const PATIENCE: Duration = Duration::from_secs(10);

/// A certificate authority that exists only for one test.
struct TestCa {
    key: KeyPair,
    certificate: rcgen::Certificate,
}

impl TestCa {
    fn new() -> Self {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Holdpoint test CA");
        let certificate = params.self_signed(&key).expect("self-signed CA");
        Self { key, certificate }
    }

    /// Writes the CA's certificate as the PEM file HOLDPOINT_WEBHOOK_CA_FILE names.
    fn write_pem(&self, dir: &std::path::Path) -> PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, self.certificate.pem()).expect("write CA file");
        path
    }

    /// A server certificate for `localhost`, signed by this CA; `expired`
    /// makes one whose validity ended in 2020.
    fn server_config(&self, expired: bool) -> rustls::ServerConfig {
        let key = KeyPair::generate().expect("server key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned()]).expect("server params");
        if expired {
            params.not_before = rcgen::date_time_ymd(2019, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 1, 1);
        }
        let certificate = params
            .signed_by(&key, &self.certificate, &self.key)
            .expect("signed server certificate");
        let private_key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
        rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![certificate.der().clone()], private_key)
            .expect("server TLS config")
    }
}

/// A TCP listener whose connections are TLS. A failed handshake (the client
/// refused our certificate) is dropped and the next connection accepted.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// An https receiver at `https://localhost:PORT`.
async fn tls_receiver(config: rustls::ServerConfig) -> Receiver {
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = tcp.local_addr().expect("address").port();
    let listener = TlsListener {
        tcp,
        acceptor: TlsAcceptor::from(Arc::new(config)),
    };
    Receiver::serve(listener, format!("https://localhost:{port}"))
}

/// Private targets allowed (the receiver is on loopback) and quick retries.
fn webhook_env(ca_file: Option<&str>) -> Vec<(&str, &str)> {
    let mut env = vec![
        ("HOLDPOINT_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("HOLDPOINT_WEBHOOK_RETRY_SCHEDULE", "100ms,100ms"),
        ("HOLDPOINT_WEBHOOK_TIMEOUT", "2s"),
    ];
    if let Some(path) = ca_file {
        env.push(("HOLDPOINT_WEBHOOK_CA_FILE", path));
    }
    env
}

/// A server started with `server_env`, an https receiver serving
/// `certificate`, the key `mailer` whose webhooks go there (set by the CLI
/// with `cli_env`), and one approval of that key, approved.
struct Decided {
    app: TestApp,
    receiver: Receiver,
    secret: String,
    admin: String,
    id: String,
}

async fn decided_over_tls(
    server_env: &[(&str, &str)],
    cli_env: &[(&str, &str)],
    certificate: rustls::ServerConfig,
) -> Decided {
    let app = spawn_app_with(Backend::Sqlite, server_env).await;
    let receiver = tls_receiver(certificate).await;
    let (key, secret) = testkit::create_key_with_webhook(
        &app.bin,
        &app.database_url,
        cli_env,
        "mailer",
        &receiver.url("/ok"),
    )
    .await;
    let admin = app.login(ADMIN).await;
    let id = app
        .create_and_approve(&key, &admin, "Refund $240 to Lila Chen")
        .await;
    Decided {
        app,
        receiver,
        secret,
        admin,
        id,
    }
}

/// The errors of the attempts logged for `approval_id`, once `count` are in.
async fn attempt_errors(
    app: &TestApp,
    admin: &str,
    approval_id: &str,
    count: usize,
) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let log = app.rpc_ok(admin, "webhooks", &[]).await;
        let attempts = log["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .find(|m| m["approval_id"] == approval_id)
            .map(|m| m["attempts"].as_array().expect("attempts").clone())
            .unwrap_or_default();
        if attempts.len() >= count {
            return attempts
                .iter()
                .map(|a| a["error"].as_str().unwrap_or_default().to_owned())
                .collect();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "fewer than {count} attempts logged: {log:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn delivers_over_tls_when_the_private_ca_is_configured() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let ca_file = ca.write_pem(dir.path());
    let env = webhook_env(ca_file.to_str());
    let decided = decided_over_tls(&env, &env, ca.server_config(false)).await;

    let delivered = decided.receiver.wait_for("/ok", 1, PATIENCE).await;
    let event = verify(&decided.secret, &delivered[0]).expect("the signature verifies");
    assert_eq!(event["type"], "approval.decided");
    assert_eq!(event["data"]["id"], decided.id.as_str());
    assert_eq!(event["data"]["status"], "approved");
}

#[tokio::test]
async fn a_certificate_from_an_unknown_authority_fails_and_says_so() {
    let ca = TestCa::new();
    let env = webhook_env(None);
    let decided = decided_over_tls(&env, &env, ca.server_config(false)).await;

    let errors = attempt_errors(&decided.app, &decided.admin, &decided.id, 1).await;
    assert!(
        errors[0].contains("TLS certificate is not signed by a certificate authority")
            && errors[0].contains("HOLDPOINT_WEBHOOK_CA_FILE"),
        "{errors:?}"
    );
    assert!(
        decided.receiver.received().is_empty(),
        "nothing reached the receiver"
    );
}

#[tokio::test]
async fn an_expired_certificate_fails_and_says_so() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let ca_file = ca.write_pem(dir.path());
    let env = webhook_env(ca_file.to_str());
    let decided = decided_over_tls(&env, &env, ca.server_config(true)).await;

    let errors = attempt_errors(&decided.app, &decided.admin, &decided.id, 1).await;
    assert!(
        errors[0].contains("TLS certificate has expired"),
        "{errors:?}"
    );
    assert!(decided.receiver.received().is_empty());
}

#[tokio::test]
async fn the_ssrf_guard_holds_over_tls() {
    // The endpoint was saved while private targets were allowed; the server
    // that delivers does not allow them. `localhost` is a name, so only the
    // connect-time check can catch it.
    let ca = TestCa::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let ca_file = ca.write_pem(dir.path());
    let ca_path = ca_file.to_str().expect("utf-8 path");
    let server_env = [
        ("HOLDPOINT_WEBHOOK_CA_FILE", ca_path),
        ("HOLDPOINT_WEBHOOK_RETRY_SCHEDULE", "100ms"),
    ];
    let decided = decided_over_tls(&server_env, &webhook_env(None), ca.server_config(false)).await;

    let errors = attempt_errors(&decided.app, &decided.admin, &decided.id, 1).await;
    assert!(
        errors[0].contains("refused") && errors[0].contains("private"),
        "{errors:?}"
    );
    assert!(decided.receiver.received().is_empty());
}

#[tokio::test]
async fn an_unreadable_ca_file_stops_the_start_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello").expect("write");
    let database = testkit::fresh_database(Backend::Sqlite, dir.path()).await;
    for (path, expected) in [
        (
            dir.path().join("missing.pem"),
            "cannot read the webhook CA file",
        ),
        (not_pem, "holds no certificate"),
    ] {
        let serve = testkit::holdpoint(
            &testkit::binary_path(),
            &database.url,
            &[("HOLDPOINT_WEBHOOK_CA_FILE", path.to_str().expect("path"))],
        )
        .args(["serve", "--addr", "127.0.0.1:0"])
        .output();
        let output = tokio::time::timeout(PATIENCE, serve)
            .await
            .expect("the server started anyway")
            .expect("run serve");
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{stderr}");
    }
}
