//! Assembles the HTTP application and serves it.

use crate::app::{shell, App};
use crate::server::config::{Config, ConfigArgs};
use crate::server::inbox_feed::InboxFeed;
use crate::server::inbox_socket::InboxSeats;
use crate::server::live::LiveHub;
use crate::server::rest::error::Problem;
use crate::server::service::Service;
use crate::server::state::AppState;
use crate::server::webhook::worker::Worker;
use crate::server::{auth, expiry, inbox_socket, rest, revocation_watch, store};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::{Arc, OnceLock};

/// The whole application: REST API, server functions, pages and assets.
pub fn router(
    service: Arc<Service>,
    inbox_feed: InboxFeed,
    leptos_options: LeptosOptions,
) -> Router {
    let state = AppState {
        leptos_options: leptos_options.clone(),
        inbox_seats: InboxSeats::new(service.config().max_inboxes_per_person),
        service,
        inbox_feed,
    };
    let routes = generate_route_list(App);
    Router::new()
        .nest("/api/v1", rest::router())
        .route("/ws", get(inbox_socket::inbox_socket))
        .leptos_routes_with_context(
            &state,
            routes,
            || (),
            move || page_shell(leptos_options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            page_shell,
        ))
        .layer(axum::middleware::from_fn(bad_arguments_are_client_errors))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            reject_cross_site_rpc,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            reject_unknown_hosts,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security_headers,
        ))
        .with_state(state)
}

/// The Content-Security-Policy of a page: scripts only from this server, or
/// inline with this response's nonce (Leptos puts it on the hydration
/// script and the resource data it inlines); no inline script otherwise, no
/// remote loads, no framing. Defence in depth behind the preview sanitizer.
fn content_security_policy(nonce: Option<&str>) -> String {
    let nonce = nonce.map(|n| format!(" 'nonce-{n}'")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )
}

/// The app shell, with the page's policy set for this response's nonce.
fn page_shell(options: LeptosOptions) -> impl IntoView {
    let nonce = leptos::nonce::use_nonce();
    let policy = content_security_policy(nonce.as_deref());
    if let (Some(response), Ok(value)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        HeaderValue::from_str(&policy),
    ) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
    shell(options)
}

/// Headers on every answer. A page carries its own policy (with its nonce,
/// see [`page_shell`]); everything else gets the policy without one.
async fn security_headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
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
async fn bad_arguments_are_client_errors(request: Request, next: Next) -> Response {
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
/// sites' pages send (see [`auth::from_our_origin`]).
async fn reject_cross_site_rpc(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::POST
        && request.uri().path().starts_with("/rpc/")
        && !auth::from_our_origin(request.headers(), &state.service.config().public_url)
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
async fn reject_unknown_hosts(
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

/// Leptos's settings (where the built site is), with our listen address.
fn leptos_options(bound: std::net::SocketAddr) -> Result<LeptosOptions, String> {
    let mut options = get_configuration(None)
        .map_err(|e| format!("reading the Leptos configuration: {e}"))?
        .leptos_options;
    options.site_addr = bound;
    Ok(options)
}

pub async fn serve(args: &ConfigArgs) -> Result<(), String> {
    let hub = LiveHub::new(4096);
    let store = store::open_or_explain(&args.database_url(), hub.clone()).await?;
    store
        .start_listening()
        .await
        .map_err(|e| format!("listening for database events: {e}"))?;
    let addr = args.listen_addr()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let config = Config::new(args, bound);
    let webhooks = Arc::new(Worker::new(
        store.clone(),
        hub.clone(),
        config.webhooks.clone(),
    )?);
    let inbox_feed = InboxFeed::new(config.live_backlog);
    let service = Arc::new(Service::new(store, hub, config));
    tokio::spawn(expiry::run(service.clone()));
    tokio::spawn(service.clone().run_wait_room());
    tokio::spawn(revocation_watch::run(service.clone()));
    tokio::spawn(inbox_feed.clone().run(service.clone()));
    let webhook_worker = tokio::spawn(webhooks.run());
    announce_first_start(&service).await?;

    let app = router(service.clone(), inbox_feed, leptos_options(bound)?);
    // Tests and scripts read this line to learn the port.
    println!("holdpoint listening on http://{bound}");
    tracing::info!("listening on http://{bound}");
    // The peer address feeds the per-address sign-in throttle.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            service.begin_shutdown();
        })
        .await
        .map_err(|e| format!("server error: {e}"));
    // Attempts under way get a moment to finish and be logged.
    let _ = webhook_worker.await;
    served
}

/// With no accounts yet, says how to create the first admin. The one-time
/// link is a credential: it is printed only to a person at a terminal,
/// never into logs, which are often collected elsewhere.
async fn announce_first_start(service: &Service) -> Result<(), String> {
    use std::io::IsTerminal;
    let has_users = service
        .store()
        .has_users()
        .await
        .map_err(|e| format!("checking for accounts: {e}"))?;
    if has_users {
        return Ok(());
    }
    if !std::io::stdout().is_terminal() {
        tracing::warn!(
            "no accounts yet: create the first admin with `holdpoint admin setup-link` \
             (prints a one-time link) or `holdpoint admin create-user`"
        );
        return Ok(());
    }
    if let Some(token) = service
        .open_first_start_setup()
        .await
        .map_err(|e| format!("opening first-start setup: {e}"))?
    {
        println!(
            "No accounts yet. Create the first admin at {} \
             (the link works once, for 24 hours).",
            service.setup_link(&token)
        );
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
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
