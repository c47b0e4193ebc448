//! `/mcp`: the MCP server over Streamable HTTP, stateless (any instance
//! answers any request; a task is an approval in the database), behind
//! the agent API's bearer key.
//!
//! rmcp's HTTP service has no authentication of its own: `require_key`
//! runs first and answers 401 as the REST API does, and leaves the key in
//! the request for the tools (`tools::Gates::PerRequest`). Host and Origin
//! are checked by rmcp against the configured lists (DNS rebinding).

use super::tools::{Gates, HoldpointMcp};
use crate::server::rest::extract::Agent;
use crate::server::state::AppState;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use std::sync::Arc;

pub fn router(state: &AppState) -> Router<AppState> {
    let service = state.service.clone();
    let settings = service.config().mcp.clone();
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_allowed_hosts(settings.allowed_hosts)
        .with_allowed_origins(settings.allowed_origins)
        .enforce_origin_validation()
        // Open streams end when the server stops.
        .with_cancellation_token(service.stopping().child_token());
    let wait_bound = settings.wait_bound;
    let mcp = StreamableHttpService::new(
        move || {
            Ok(HoldpointMcp::new(
                Gates::PerRequest(service.clone()),
                wait_bound,
            ))
        },
        Arc::new(NeverSessionManager::default()),
        config,
    );
    Router::new()
        .route_service("/mcp", mcp)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_key,
        ))
}

/// Refuses a request without a live API key (401, the REST API's problem)
/// and hands the key to the tools.
async fn require_key(Agent(key): Agent, mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(key);
    next.run(request).await
}
