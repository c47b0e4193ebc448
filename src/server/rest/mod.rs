//! The agent REST API under /api/v1 (the README's "The API" is the contract).

mod approvals;
pub mod extract;

use crate::server::http::problem::Problem;
use crate::server::state::AppState;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/approvals", post(approvals::create).get(approvals::list))
        .route("/approvals/{id}", get(approvals::get_one))
        .route("/approvals/{id}/wait", get(approvals::wait))
        .route("/approvals/{id}/cancel", post(approvals::cancel))
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
