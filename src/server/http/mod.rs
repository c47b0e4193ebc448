//! The HTTP layer's shared parts: the JSON problem every error answers
//! with, the status of each kind of error, the session cookie and Origin
//! check, the caching of built assets, and the middleware every answer passes through. The router that puts pages,
//! REST, the socket and server functions together is `server::app`.

pub mod assets;
pub mod middleware;
pub mod paged_body;
pub mod problem;
pub mod request_span;
pub mod session;

use crate::server::service::ErrorKind;
use axum::http::StatusCode;

/// The status every adapter answers a failed operation with.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Busy => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
