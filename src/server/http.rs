//! Assembles the HTTP application and serves it.

use crate::app::{shell, App};
use crate::server::config::{Config, ConfigArgs};
use crate::server::inbox_feed::InboxFeed;
use crate::server::live::LiveHub;
use crate::server::service::Service;
use crate::server::state::AppState;
use crate::server::webhook::worker::Worker;
use crate::server::{auth, expiry, inbox_socket, rest, store};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;

/// The whole application: REST API, server functions, pages and assets.
pub fn router(
    service: Arc<Service>,
    inbox_feed: InboxFeed,
    leptos_options: LeptosOptions,
) -> Router {
    let state = AppState {
        leptos_options: leptos_options.clone(),
        service,
        inbox_feed,
    };
    let routes = generate_route_list(App);
    Router::new()
        .nest("/api/v1", rest::router())
        .route("/ws", get(inbox_socket::inbox_socket))
        .leptos_routes_with_context(&state, routes, || (), move || shell(leptos_options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            reject_cross_site_rpc,
        ))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(state)
}

/// Defence in depth behind the preview sanitizer: even if something slipped
/// through, the page may not load remote resources or be framed.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'; \
             style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
             object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
        ),
    );
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
    response
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
    ));
    let inbox_feed = InboxFeed::new(config.live_backlog);
    let service = Arc::new(Service::new(store, hub, config));
    tokio::spawn(expiry::run(service.clone()));
    tokio::spawn(inbox_feed.clone().run(service.clone()));
    let webhook_worker = tokio::spawn(webhooks.run());
    if let Some(token) = service
        .open_first_start_setup()
        .await
        .map_err(|e| format!("checking for accounts: {e}"))?
    {
        println!(
            "No accounts yet. Create the first admin at {}/setup?token={token} \
             (the link works once, until this process stops).",
            service.config().public_url
        );
    }

    let app = router(service.clone(), inbox_feed, leptos_options(bound)?);
    // Tests and scripts read this line to learn the port.
    println!("holdpoint listening on http://{bound}");
    tracing::info!("listening on http://{bound}");
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
