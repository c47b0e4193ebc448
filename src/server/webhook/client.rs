//! One delivery attempt: sign, POST, read the start of the answer. Never
//! follows redirects, never uses a proxy from the environment, and connects
//! only to addresses the guard allows. https endpoints are verified by
//! rustls against the system's root certificates (plus the configured
//! private CA bundle), host name included.

use super::guard::{check_url, refuse_own_address, GuardedResolver};
use super::sign::signature_header;
use super::WebhookSettings;
use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How much of an answer is kept for the attempt log.
pub const RESPONSE_PREFIX: usize = 4096;

/// Kept-alive connections per host: enough for one endpoint's share of the
/// worker's concurrency, so a busy endpoint is not reconnected to per
/// message.
const MAX_IDLE_PER_HOST: usize = 16;

/// What happened when we tried.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub status_code: Option<u16>,
    pub latency: Duration,
    pub error: Option<String>,
    /// The first 4 KiB of the answer, as text.
    pub body_prefix: Option<String>,
    /// The raw `Retry-After` header, if the endpoint sent one.
    pub retry_after: Option<String>,
}

impl Delivery {
    pub fn succeeded(&self) -> bool {
        self.status_code
            .is_some_and(|code| (200..300).contains(&code))
    }

    fn failed(error: String, latency: Duration) -> Self {
        Self {
            status_code: None,
            latency,
            error: Some(error),
            body_prefix: None,
            retry_after: None,
        }
    }
}

/// The HTTP client for webhooks. One per worker: it pools connections.
/// Fails when the configured CA bundle cannot be read or holds no
/// certificate, so a typo in the path stops the start instead of failing
/// every https delivery a day later.
pub fn build(settings: &WebhookSettings) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_native_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver {
            allow_private: settings.allow_private,
        }))
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("Holdpoint-Webhooks/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(MAX_IDLE_PER_HOST);
    if let Some(path) = &settings.ca_file {
        for certificate in read_ca_bundle(path)? {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder
        .build()
        .map_err(|e| format!("cannot set up the webhook client: {e}"))
}

/// The certificates of a PEM bundle (a private CA that signs receivers'
/// certificates), trusted beside the system's roots.
fn read_ca_bundle(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, String> {
    let shown = path.display();
    let pem =
        std::fs::read(path).map_err(|e| format!("cannot read the webhook CA file {shown}: {e}"))?;
    let certificates = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("the webhook CA file {shown} is not a PEM bundle: {e}"))?;
    if certificates.is_empty() {
        return Err(format!(
            "the webhook CA file {shown} holds no certificate (expected PEM blocks \
             starting with -----BEGIN CERTIFICATE-----)"
        ));
    }
    Ok(certificates)
}

/// Sends `payload` as message `id`, signed with every secret in `secrets`
/// under a fresh timestamp.
pub async fn attempt(
    client: &reqwest::Client,
    settings: &WebhookSettings,
    url: &str,
    id: &str,
    secrets: &[String],
    payload: &str,
) -> Delivery {
    let started = Instant::now();
    let url = match check_url(url, settings.allow_private) {
        Ok(url) => url,
        Err(error) => return Delivery::failed(error, started.elapsed()),
    };
    if let Err(error) = refuse_own_address(&url, settings.own_address).await {
        return Delivery::failed(error, started.elapsed());
    }
    // The machine's clock, not the service's: the receiver checks this
    // against its own wall clock (Standard Webhooks' replay window).
    let timestamp = chrono::Utc::now().timestamp();
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let signature = match signature_header(&secrets, id, timestamp, payload) {
        Ok(signature) => signature,
        Err(error) => return Delivery::failed(error, started.elapsed()),
    };
    let sent = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(payload.to_owned())
        .send()
        .await;
    let mut response = match sent {
        Ok(response) => response,
        Err(error) => return Delivery::failed(describe(&error), started.elapsed()),
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // Read no more than we keep: an endpoint answering with a huge body must
    // not cost us the memory or the time.
    let mut prefix = Vec::new();
    let mut error = None;
    while prefix.len() < RESPONSE_PREFIX {
        match response.chunk().await {
            Ok(Some(chunk)) => prefix.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => {
                error = Some(format!("reading the answer: {}", describe(&e)));
                break;
            }
        }
    }
    prefix.truncate(RESPONSE_PREFIX);
    let latency = started.elapsed();
    if error.is_none() && (300..400).contains(&status) {
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("nowhere");
        error = Some(format!(
            "redirect to {location} not followed: webhook URLs must answer directly"
        ));
    }
    Delivery {
        status_code: Some(status),
        latency,
        error,
        body_prefix: Some(String::from_utf8_lossy(&prefix).into_owned()),
        retry_after,
    }
}

/// An error with its causes, which is where reqwest keeps the reason (our
/// resolver's refusal, "connection refused", ...). A refused certificate is
/// said in plain words first: that is what the admin has to act on.
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out waiting for the endpoint".to_owned();
    }
    if let Some(tls) = tls_error(error) {
        return explain_tls(tls);
    }
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The rustls error somewhere in the chain of causes, if the attempt failed
/// in the TLS handshake. An `io::Error` hides the error it wraps from
/// `source()`, so the walk also steps into it.
fn tls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current: Option<&'a (dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = current {
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        current = match cause.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as _),
            None => cause.source(),
        };
    }
    None
}

fn explain_tls(error: &rustls::Error) -> String {
    use rustls::CertificateError as Cert;
    let rustls::Error::InvalidCertificate(certificate) = error else {
        return format!("the TLS handshake with the endpoint failed: {error}");
    };
    let why = match certificate {
        Cert::UnknownIssuer => {
            "is not signed by a certificate authority Holdpoint trusts (unknown issuer); \
             for a private CA, give its certificate in HOLDPOINT_WEBHOOK_CA_FILE"
                .to_owned()
        }
        Cert::Expired | Cert::ExpiredContext { .. } => "has expired".to_owned(),
        Cert::NotValidYet | Cert::NotValidYetContext { .. } => "is not valid yet".to_owned(),
        Cert::NotValidForName | Cert::NotValidForNameContext { .. } => {
            "was issued for another host name than the URL's".to_owned()
        }
        Cert::Revoked => "has been revoked".to_owned(),
        Cert::BadSignature | Cert::BadEncoding => "is malformed or badly signed".to_owned(),
        other => format!("was refused ({other:?})"),
    };
    format!("the endpoint's TLS certificate {why}: delivery refused")
}
