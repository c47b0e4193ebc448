//! The process: opens the store, builds the service and the router, starts
//! the background tasks, serves until a signal, then stops everything in
//! order. Built in two steps (zero2prod's `Application::build`): `build`
//! binds the port and wires everything, `run` serves, so the address is
//! known before the first request.

use crate::app::{shell, App};
use crate::server::config::{Config, ConfigArgs};
use crate::server::domain::clock::{Clock, SystemClock};
use crate::server::domain::events::EventHub;
use crate::server::http::{assets, middleware, request_span};
use crate::server::inbox_feed::InboxFeed;
use crate::server::inbox_seats::InboxSeats;
use crate::server::service::Service;
use crate::server::state::AppState;
use crate::server::tasks::webhook_delivery::Worker;
use crate::server::tasks::{expiry, revocation_watch, BackgroundTasks};
use crate::server::{exports, inbox_socket, mcp, rest, store};
use anyhow::Context;
use axum::http::{header, HeaderValue};
use axum::routing::get;
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::net::SocketAddr;
use std::sync::Arc;

/// The service for one-shot admin commands: they announce their changes
/// but never listen.
pub async fn open_service_for_commands(args: &ConfigArgs) -> anyhow::Result<Service> {
    let hub = EventHub::new(1);
    let store = store::open_or_explain(&args.database_url(), hub.clone())
        .await
        .map_err(anyhow::Error::msg)?;
    let config = Config::new(args, args.listen_addr().map_err(anyhow::Error::msg)?);
    Ok(Service::new(store, hub, config))
}

/// A server, wired and bound, not yet serving.
pub struct Application {
    listener: tokio::net::TcpListener,
    address: SocketAddr,
    router: Router,
    service: Arc<Service>,
    tasks: BackgroundTasks,
}

impl Application {
    /// Opens the store, binds the listening address and starts the
    /// background tasks, on the machine's clock.
    pub async fn build(args: &ConfigArgs) -> anyhow::Result<Self> {
        Self::build_on_clock(args, Arc::new(SystemClock)).await
    }

    /// As `build`, with every deadline and retry on `clock` (tests run the
    /// app in-process on a `ManualClock`).
    pub async fn build_on_clock(args: &ConfigArgs, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let hub = EventHub::new(4096);
        let store = store::open_or_explain(&args.database_url(), hub.clone())
            .await
            .map_err(anyhow::Error::msg)?;
        store
            .start_listening()
            .await
            .context("listening for database events")?;
        let addr = args.listen_addr().map_err(anyhow::Error::msg)?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let address = listener.local_addr().context("reading the bound address")?;
        let config = Config::new(args, address);
        let inbox_feed = InboxFeed::new(config.live_backlog);
        let service = Arc::new(Service::with_clock(store, hub, config, clock));
        let webhook_worker = Arc::new(Worker::new(service.clone()).map_err(anyhow::Error::msg)?);

        let mut tasks = BackgroundTasks::new(service.stopping());
        tasks.spawn("expiry", expiry::run(service.clone()));
        tasks.spawn("wait room", service.clone().run_wait_room());
        tasks.spawn("revocation watch", revocation_watch::run(service.clone()));
        tasks.spawn("inbox feed", inbox_feed.clone().run(service.clone()));
        // Ends by itself once stopping, after attempts under way are logged.
        tasks.spawn_draining("webhook delivery", webhook_worker.run());
        announce_first_start(&service).await?;

        let router = router(service.clone(), inbox_feed, leptos_options(address)?);
        Ok(Self {
            listener,
            address,
            router,
            service,
            tasks,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until SIGINT or SIGTERM, then answers parked requests, stops
    /// the background tasks and waits for them.
    pub async fn run(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// The service the server runs on (tests drive it in-process).
    pub fn service(&self) -> Arc<Service> {
        self.service.clone()
    }

    /// Serves until `shutdown` resolves, then stops as `run` does.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let address = self.address;
        // Tests and scripts read this line to learn the port.
        println!("holdpoint listening on http://{address}");
        tracing::info!("listening on http://{address}");
        // The peer address feeds the per-address sign-in throttle.
        let app = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let service = self.service.clone();
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(async move {
                shutdown.await;
                service.begin_shutdown();
            })
            .await
            .context("serving");
        self.service.begin_shutdown();
        self.tasks.join().await;
        served
    }
}

/// The whole application: REST API, server functions, pages and assets.
pub fn router(
    service: Arc<Service>,
    inbox_feed: InboxFeed,
    leptos_options: LeptosOptions,
) -> Router {
    let state = AppState {
        leptos_options: Arc::new(leptos_options.clone()),
        inbox_seats: InboxSeats::new(service.config().max_inboxes_per_person),
        service,
        inbox_feed,
    };
    let routes = generate_route_list(App);
    let agent_api = Router::new()
        .nest("/api/v1", rest::router())
        .merge(mcp::http::router(&state));
    let browser = Router::new()
        .merge(exports::router())
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
        // What only browsers' requests need (cookies, server functions,
        // pages, built files). The agent API skips them: each layer holds
        // a request's state for as long as it is answered, and a parked
        // `/wait` is answered after minutes (about 1.2 KB each, heaptrack).
        .layer(axum::middleware::from_fn(
            middleware::bad_arguments_are_client_errors,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::reject_cross_site_rpc,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::reject_unknown_hosts,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            assets::cache_built_assets,
        ));
    agent_api
        .merge(browser)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::security_headers,
        ))
        // Outermost: every answer, refusals included, is in a span.
        .layer(axum::middleware::from_fn(request_span::request_span))
        .with_state(state)
}

/// The app shell, with the page's policy set for this response's nonce.
fn page_shell(options: LeptosOptions) -> impl IntoView {
    let nonce = leptos::nonce::use_nonce();
    let policy = middleware::content_security_policy(nonce.as_deref());
    if let (Some(response), Ok(value)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        HeaderValue::from_str(&policy),
    ) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
    shell(options)
}

/// Leptos's settings (where the built site is), with our listen address.
fn leptos_options(bound: std::net::SocketAddr) -> anyhow::Result<LeptosOptions> {
    let mut options = get_configuration(None)
        .context("reading the Leptos configuration")?
        .leptos_options;
    options.site_addr = bound;
    assets::use_hashed_names(&mut options);
    Ok(options)
}

/// With no accounts yet, says how to create the first admin. The one-time
/// link is a credential: it is printed only to a person at a terminal,
/// never into logs, which are often collected elsewhere.
async fn announce_first_start(service: &Service) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let has_users = service.has_users().await.context("checking for accounts")?;
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
        .context("opening first-start setup")?
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
