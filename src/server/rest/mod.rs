//! The agent REST API under /api/v1 (the README's "The API" is the contract).

pub mod approvals;
mod decisions;
pub mod extract;
pub mod openapi;
pub mod reference;

use crate::server::http::problem::Problem;
use crate::server::state::AppState;
use axum::http::StatusCode;
use axum::routing::{get, post, MethodRouter};
use axum::Router;

/// Every endpoint of the agent API, as (method, path under /api/v1). The
/// router is built from this list, so a test that covers each entry covers
/// the whole API (the authorization matrix does).
pub const ROUTES: [(&str, &str); 6] = [
    ("POST", "/approvals"),
    ("GET", "/approvals"),
    ("GET", "/approvals/{id}"),
    ("GET", "/approvals/{id}/wait"),
    ("POST", "/approvals/{id}/cancel"),
    ("GET", "/decisions"),
];

/// The handler of one entry of `ROUTES`.
fn endpoint(method: &str, path: &str) -> MethodRouter<AppState> {
    match (method, path) {
        ("POST", "/approvals") => post(approvals::create),
        ("GET", "/approvals") => get(approvals::list),
        ("GET", "/approvals/{id}") => get(approvals::get_one),
        ("GET", "/approvals/{id}/wait") => get(approvals::wait),
        ("POST", "/approvals/{id}/cancel") => post(approvals::cancel),
        ("GET", "/decisions") => get(decisions::list),
        _ => unreachable!("ROUTES lists {method} {path} without a handler"),
    }
}

pub fn router() -> Router<AppState> {
    ROUTES
        .iter()
        .fold(Router::new(), |router, (method, path)| {
            router.route(path, endpoint(method, path))
        })
        // Public: it describes the API, and holds no one's data.
        .route(
            "/openapi.json",
            get(|| async { axum::Json(openapi::document()) }),
        )
        .method_not_allowed_fallback(|| async {
            Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not accept that HTTP method",
            )
        })
        .fallback(|| async {
            Problem::new(
                StatusCode::NOT_FOUND,
                "no_such_endpoint",
                "there is no API endpoint at this path",
            )
        })
}
