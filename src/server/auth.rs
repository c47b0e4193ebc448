//! People: password hashing (argon2id) and browser sessions.
//!
//! A session is a random token in an HttpOnly, SameSite=Lax cookie; the
//! database keeps only its SHA-256. SameSite=Lax also keeps other sites from
//! posting to our server functions with the cookie attached.

use crate::server::ids;
use crate::server::service::{normalize_email, Service, ServiceError, ServiceResult};
use crate::server::store::User;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use axum::http::{header, HeaderMap};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const SESSION_COOKIE: &str = "holdpoint_session";
const SESSION_DAYS: i64 = 14;

/// Hashes a password with argon2id off the async runtime (it is slow on
/// purpose).
pub async fn hash_password(password: &str) -> String {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .expect("argon2 with default parameters cannot fail")
            .to_string()
    })
    .await
    .expect("password hashing task panicked")
}

async fn verify_password(password: &str, hash: &str) -> bool {
    let (password, hash) = (password.to_owned(), hash.to_owned());
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A hash to verify against when the email is unknown, so that a wrong email
/// takes as long as a wrong password and does not reveal who has an account.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"decoy password", &salt)
            .expect("argon2 with default parameters cannot fail")
            .to_string()
    })
}

/// Failed sign-ins per account before further attempts are refused.
const MAX_FAILURES: u32 = 10;
/// The window over which failures count, and how long a lockout lasts.
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Slows password guessing: after `MAX_FAILURES` failed sign-ins for one
/// email within `FAILURE_WINDOW`, that email is refused until the window
/// ends. Kept in memory, per instance.
#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginThrottle {
    /// Seconds until this email may try again, if it is locked out.
    fn locked_for(&self, email: &str) -> Option<u64> {
        let failures = self.failures.lock().expect("throttle lock");
        let (count, since) = failures.get(email)?;
        let remaining = FAILURE_WINDOW.checked_sub(since.elapsed())?;
        (*count >= MAX_FAILURES).then(|| remaining.as_secs().max(1))
    }

    fn record_failure(&self, email: &str) {
        let mut failures = self.failures.lock().expect("throttle lock");
        failures.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
        let entry = failures
            .entry(email.to_owned())
            .or_insert((0, Instant::now()));
        entry.0 += 1;
    }

    fn record_success(&self, email: &str) {
        self.failures.lock().expect("throttle lock").remove(email);
    }
}

/// Checks credentials and opens a session; returns the user and the token
/// for the cookie, or None for a wrong email or password.
pub async fn login(
    service: &Service,
    email: &str,
    password: &str,
) -> ServiceResult<Option<(User, String)>> {
    let email = normalize_email(email);
    let throttle = service.login_throttle();
    if let Some(retry_after) = throttle.locked_for(&email) {
        return Err(ServiceError::RateLimited(retry_after));
    }
    let found = service.store().user_by_email(&email).await?;
    let hash = found
        .as_ref()
        .map(|(_, hash)| hash.clone())
        .unwrap_or_else(|| decoy_hash().to_owned());
    let password_ok = verify_password(password, &hash).await;
    let Some((user, _)) = found.filter(|(user, _)| user.active && password_ok) else {
        throttle.record_failure(&email);
        return Ok(None);
    };
    throttle.record_success(&email);
    Ok(Some((user.clone(), open_session(service, &user).await?)))
}

/// Opens a session for `user`; returns the token for the cookie.
pub async fn open_session(service: &Service, user: &User) -> ServiceResult<String> {
    let token = ids::new_session_token();
    let expires_at = chrono::Utc::now().timestamp_millis() + SESSION_DAYS * 86_400_000;
    service
        .store()
        .create_session(&ids::sha256_hex(token.as_bytes()), &user.id, expires_at)
        .await?;
    Ok(token)
}

pub async fn logout(service: &Service, headers: &HeaderMap) -> ServiceResult<()> {
    if let Some(token) = session_token(headers) {
        service
            .store()
            .delete_session(&ids::sha256_hex(token.as_bytes()))
            .await?;
    }
    Ok(())
}

/// The signed-in user for a request, if its session cookie is valid.
pub async fn current_user(service: &Service, headers: &HeaderMap) -> ServiceResult<Option<User>> {
    let Some(token) = session_token(headers) else {
        return Ok(None);
    };
    let now = chrono::Utc::now().timestamp_millis();
    Ok(service
        .store()
        .session_user(&ids::sha256_hex(token.as_bytes()), now)
        .await?)
}

/// Whether a browser request was sent by one of our own pages. Cookies
/// ride along with requests other sites start (a form post, a WebSocket):
/// SameSite=Lax covers forms; this also covers sibling subdomains, older
/// browsers and WebSockets, which SameSite does not restrict. A request
/// without `Origin` is not from a browser page and has no cookie to ride.
pub fn from_our_origin(headers: &HeaderMap, public_url: &str) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, host)| host);
    origin == public_url || (origin_host.is_some() && origin_host == host)
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

pub fn session_cookie(token: &str, secure: bool) -> String {
    let max_age = SESSION_DAYS * 86_400;
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

pub fn clear_session_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn finds_the_session_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; holdpoint_session=tok; b=2"),
        );
        assert_eq!(session_token(&headers).as_deref(), Some("tok"));
        assert_eq!(session_token(&HeaderMap::new()), None);
    }

    #[test]
    fn origin_must_be_this_host_or_the_public_url() {
        let request = |origin: Option<&'static str>| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:3000"));
            if let Some(origin) = origin {
                headers.insert(header::ORIGIN, HeaderValue::from_static(origin));
            }
            headers
        };
        let public = "https://holdpoint.example.com";
        assert!(from_our_origin(&request(None), public));
        assert!(from_our_origin(
            &request(Some("http://127.0.0.1:3000")),
            public
        ));
        assert!(from_our_origin(&request(Some(public)), public));
        assert!(!from_our_origin(
            &request(Some("https://evil.example")),
            public
        ));
        assert!(!from_our_origin(&request(Some("null")), public));
    }

    #[test]
    fn cookie_is_http_only_and_lax() {
        let cookie = session_cookie("t", true);
        assert!(
            cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Lax")
                && cookie.contains("Secure")
        );
        assert!(!session_cookie("t", false).contains("Secure"));
    }

    #[test]
    fn throttle_locks_an_email_after_repeated_failures() {
        let throttle = LoginThrottle::default();
        for _ in 0..MAX_FAILURES - 1 {
            throttle.record_failure("a@example.com");
        }
        assert_eq!(throttle.locked_for("a@example.com"), None);
        throttle.record_failure("a@example.com");
        assert!(throttle
            .locked_for("a@example.com")
            .is_some_and(|secs| secs > 800));
        assert_eq!(throttle.locked_for("b@example.com"), None);
        throttle.record_success("a@example.com");
        assert_eq!(throttle.locked_for("a@example.com"), None);
    }

    #[tokio::test]
    async fn passwords_verify_only_themselves() {
        let hash = hash_password("correct horse").await;
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash).await);
        assert!(!verify_password("wrong horse", &hash).await);
    }
}
