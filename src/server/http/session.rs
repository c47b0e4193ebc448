//! The browser's session on the wire: the cookie that carries its token,
//! and the Origin check that keeps other sites' pages from riding on it.
//!
//! A session is a random token in an HttpOnly, SameSite=Lax cookie; the
//! database keeps only its SHA-256 (see `service::sessions`). SameSite=Lax
//! also keeps other sites from posting to our server functions with the
//! cookie attached.

use crate::server::domain::User;
use crate::server::service::{Service, ServiceResult, SESSION_DAYS};
use axum::http::{header, HeaderMap};

/// The session cookie's name. Over https it carries the `__Host-` prefix,
/// which browsers accept only with `Secure`, `Path=/` and no `Domain`: no
/// sibling subdomain, and no plain-http page, can set or shadow it.
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-holdpoint_session"
    } else {
        "holdpoint_session"
    }
}

/// Whether a browser request was sent by one of our own pages. Cookies
/// ride along with requests other sites start (a form post, a WebSocket):
/// SameSite=Lax covers forms; this also covers sibling subdomains, older
/// browsers and WebSockets, which SameSite does not restrict. A request
/// without `Origin` is not from a browser page and has no cookie to ride.
pub fn from_our_origin(headers: &HeaderMap, public_url: &str) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    // An Origin that is not plain text is no origin of ours.
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, host)| host);
    origin == public_url || (origin_host.is_some() && origin_host == host)
}

/// The signed-in user for a request, if its session cookie is valid.
pub async fn current_user(service: &Service, headers: &HeaderMap) -> ServiceResult<Option<User>> {
    match session_token(headers, service.config().secure_cookies) {
        Some(token) => service.session_user(&token).await,
        None => Ok(None),
    }
}

/// The id (`SessionInfo::id`) of the request's session, if it has one.
pub fn current_session_id(service: &Service, headers: &HeaderMap) -> Option<String> {
    session_token(headers, service.config().secure_cookies)
        .map(|token| crate::server::domain::ids::sha256_hex(token.as_bytes()))
}

/// Ends the request's session, if it has one.
pub async fn sign_out(service: &Service, headers: &HeaderMap) -> ServiceResult<()> {
    match session_token(headers, service.config().secure_cookies) {
        Some(token) => service.sign_out(&token).await,
        None => Ok(()),
    }
}

fn session_token(headers: &HeaderMap, secure: bool) -> Option<String> {
    cookie_value(headers, session_cookie_name(secure))
}

fn cookie_value(headers: &HeaderMap, wanted: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value.to_owned())
}

/// The device cookie's name (OWASP's device cookies): a browser that has
/// signed in to an account before carries it, and its failed sign-ins to
/// that account are counted on its own, so guesses from elsewhere cannot
/// lock the owner out. `__Host-` over https, as the session's.
pub fn device_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-holdpoint_device"
    } else {
        "holdpoint_device"
    }
}

/// The request's device token, if it carries one.
pub fn device_token(headers: &HeaderMap, secure: bool) -> Option<String> {
    cookie_value(headers, device_cookie_name(secure))
}

/// Kept for a year; signing out leaves it (it says which browser this is,
/// not who is signed in).
pub fn device_cookie(token: &str, secure: bool) -> String {
    let name = device_cookie_name(secure);
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{name}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        365 * 86_400
    )
}

pub fn session_cookie(token: &str, secure: bool) -> String {
    cookie(secure, token, SESSION_DAYS * 86_400)
}

pub fn clear_session_cookie(secure: bool) -> String {
    cookie(secure, "", 0)
}

fn cookie(secure: bool, value: &str, max_age: i64) -> String {
    let name = session_cookie_name(secure);
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
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
        assert_eq!(session_token(&headers, false).as_deref(), Some("tok"));
        assert_eq!(session_token(&HeaderMap::new(), false), None);
        // Over https only the __Host- cookie counts.
        assert_eq!(session_token(&headers, true), None);
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("holdpoint_session=plain; __Host-holdpoint_session=tok"),
        );
        assert_eq!(session_token(&headers, true).as_deref(), Some("tok"));
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
        let mut garbled = request(None);
        garbled.insert(
            header::ORIGIN,
            HeaderValue::from_bytes(b"http://\xe2\x80\xae127.0.0.1:3000").unwrap(),
        );
        assert!(!from_our_origin(&garbled, public));
    }

    #[test]
    fn cookie_is_http_only_and_lax() {
        let cookie = session_cookie("t", true);
        assert!(
            cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Lax")
                && cookie.contains("Secure")
        );
        assert!(cookie.starts_with("__Host-holdpoint_session=t; Path=/;"));
        assert!(!session_cookie("t", false).contains("Secure"));
        assert!(session_cookie("t", false).starts_with("holdpoint_session=t;"));
    }
}
