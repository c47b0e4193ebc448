//! `/mcp`: the MCP server over Streamable HTTP, stateless (any instance
//! answers any request; a task is an approval in the database), behind
//! the agent API's bearer key.
//!
//! rmcp's HTTP service has no authentication of its own: `require_key`
//! runs first and answers 401 as the REST API does, and leaves the key in
//! the request for the tools (`tools::Gates::PerRequest`). Host and Origin
//! are checked by rmcp against the configured lists (DNS rebinding); its
//! refusals are turned into the README's JSON problems.

use super::tools::{Gates, HoldpointMcp};
use crate::server::http::problem::Problem;
use crate::server::rest::extract::Agent;
use crate::server::state::AppState;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
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
        .layer(axum::middleware::from_fn(refusals_as_problems))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_key,
        ))
}

/// rmcp refuses a request it cannot take (not JSON, another content type,
/// too large, a foreign host) with a sentence in plain text; agents get the
/// JSON problem every other endpoint answers with, rmcp's sentence as its
/// detail. A body that is not a JSON-RPC message, which rmcp answers 415,
/// is a 400 `invalid_json`, as it is for the REST API.
async fn refusals_as_problems(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("json"));
    if !status.is_client_error() || is_json {
        return response;
    }
    let detail = match axum::body::to_bytes(response.into_body(), 4096).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    let detail = if detail.is_empty() {
        status.canonical_reason().unwrap_or("refused").to_owned()
    } else {
        detail
    };
    let (status, code) = match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE if detail.starts_with("fail to deserialize") => {
            (StatusCode::BAD_REQUEST, "invalid_json")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (status, "unsupported_media_type"),
        StatusCode::PAYLOAD_TOO_LARGE => (status, "request_too_large"),
        StatusCode::NOT_ACCEPTABLE => (status, "not_acceptable"),
        StatusCode::METHOD_NOT_ALLOWED => (status, "method_not_allowed"),
        StatusCode::FORBIDDEN => (status, "forbidden"),
        StatusCode::NOT_FOUND => (status, "not_found"),
        _ => (status, "invalid_request"),
    };
    Problem::new(status, code, detail).into_response()
}

/// Refuses a request without a live API key (401, the REST API's problem)
/// and hands the key to the tools.
async fn require_key(Agent(key): Agent, mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(key);
    next.run(request).await
}
