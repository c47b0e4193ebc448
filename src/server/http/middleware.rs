//! What every answer passes through: security headers, the refusal of
//! unknown hosts and of other sites' server-function posts, and 400s for
//! server-function arguments that do not decode.

use super::session;
use crate::server::http::problem::Problem;
use crate::server::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;

/// The Content-Security-Policy of a page: scripts only from this server, or
/// inline with this response's nonce (Leptos puts it on the hydration
/// script and the resource data it inlines); no inline script otherwise, no
/// remote loads, no framing. Defence in depth behind the preview sanitizer.
pub fn content_security_policy(nonce: Option<&str>) -> String {
    let nonce = nonce.map(|n| format!(" 'nonce-{n}'")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )
}

/// Headers on every answer. A page carries its own policy (with its nonce,
/// see [`page_shell`]); everything else gets the policy without one.
pub async fn security_headers(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        // The same for every answer that is not a page: made once.
        static WITHOUT_NONCE: OnceLock<Option<HeaderValue>> = OnceLock::new();
        let policy = WITHOUT_NONCE
            .get_or_init(|| HeaderValue::from_str(&content_security_policy(None)).ok());
        if let Some(policy) = policy {
            headers.insert(header::CONTENT_SECURITY_POLICY, policy.clone());
        }
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Same-origin only: nothing leaks to other sites, while our own form posts
    // keep a real Origin (the cross-site check) and a Referer (Leptos sends a
    // plain form back to the page it came from).
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if state.service.config().secure_cookies {
        // Served over https: browsers must never fall back to http here.
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

/// Leptos answers a server function call whose arguments do not decode
/// (a missing field, a wrong type, bytes that are not UTF-8) with a 500, as
/// if the server had failed. It is the caller's mistake: say so with a 400,
/// keeping Leptos's error text, which its client decodes whatever the
/// status.
pub async fn bad_arguments_are_client_errors(request: Request, next: Next) -> Response {
    /// How Leptos's error text starts for arguments it could not decode.
    const ARGUMENT_ERRORS: [&[u8]; 3] = [b"Args|", b"MissingArg|", b"Deserialization|"];
    if !request.uri().path().starts_with("/rpc/") {
        return next.run(request).await;
    }
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "server error").into_response();
    };
    if ARGUMENT_ERRORS.iter().any(|start| bytes.starts_with(start)) {
        parts.status = StatusCode::BAD_REQUEST;
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Server functions act with the session cookie: refuse posts that other
/// sites' pages send (see [`session::from_our_origin`]).
pub async fn reject_cross_site_rpc(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::POST
        && request.uri().path().starts_with("/rpc/")
        && !session::from_our_origin(request.headers(), &state.service.config().public_url)
    {
        return (StatusCode::FORBIDDEN, "cross-site request refused").into_response();
    }
    next.run(request).await
}

/// Pages, server functions and the inbox socket answer only to the names
/// Holdpoint is reached by: its public URL's host, `localhost`, or an IP
/// address. A page on another name that resolves here (DNS rebinding)
/// would otherwise be same-origin with our pages in the browser. The agent
/// API is left alone: it authenticates by bearer key, not by cookie.
pub async fn reject_unknown_hosts(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .map(|value| value.to_str().unwrap_or("\u{fffd}"));
    let known = host.is_none_or(|host| is_known_host(host, &state.service.config().public_host));
    if !known && !request.uri().path().starts_with("/api/") {
        return Problem::bad_request(
            "unknown_host",
            "this server is not reached by that name: use the address in HOLDPOINT_PUBLIC_URL",
        )
        .into_response();
    }
    next.run(request).await
}

/// Whether a `Host` header names this server (see [`reject_unknown_hosts`]).
/// `public_host` is the public URL's host name ([`Config::public_host`]).
fn is_known_host(host: &str, public_host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _port)| name),
    };
    name.parse::<std::net::IpAddr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || name.eq_ignore_ascii_case(public_host)
}

#[cfg(test)]
mod tests {
    use super::is_known_host;

    #[test]
    fn only_our_names_and_addresses_are_known_hosts() {
        let public = "holdpoint.example.com";
        for known in [
            "holdpoint.example.com",
            "HOLDPOINT.example.com:443",
            "127.0.0.1:3000",
            "10.0.0.5",
            "[::1]:3000",
            "localhost:3000",
        ] {
            assert!(is_known_host(known, public), "{known}");
        }
        for unknown in [
            "evil.example",
            "evil.example:3000",
            "holdpoint.example.com.evil.example",
        ] {
            assert!(!is_known_host(unknown, public), "{unknown}");
        }
    }
}
