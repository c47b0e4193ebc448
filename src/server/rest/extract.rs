//! Extractors for the REST API. Each one answers a problem+json error
//! instead of axum's plain-text rejections.

use crate::server::domain::{ApiKey, KeyIdentity};
use crate::server::http::problem::Problem;
use crate::server::state::AppState;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, StatusCode};

/// Requests larger than this are refused with 413 before parsing.
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// The API key of the calling agent, from `Authorization: Bearer <key>`.
pub struct Agent(pub ApiKey);

impl FromRequestParts<AppState> for Agent {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let secret = bearer_secret(parts)?;
        match state.service.authenticate_key(secret).await? {
            Some(key) => Ok(Agent(key)),
            None => Err(unknown_key()),
        }
    }
}

/// The key of an agent creating an approval: found without a database read
/// when seen before; the create's own transaction checks it is still live.
pub struct CreatingAgent(pub KeyIdentity);

impl FromRequestParts<AppState> for CreatingAgent {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let secret = bearer_secret(parts)?;
        match state.service.authenticate_key_to_create(secret).await? {
            Some(key) => Ok(CreatingAgent(key)),
            None => Err(unknown_key()),
        }
    }
}

fn unauthorized(code: &'static str, detail: &str) -> Problem {
    Problem::new(StatusCode::UNAUTHORIZED, code, detail.to_owned())
}

fn unknown_key() -> Problem {
    unauthorized(
        "invalid_api_key",
        "this API key is unknown or has been revoked",
    )
}

/// The secret of `Authorization: Bearer <secret>`.
fn bearer_secret(parts: &Parts) -> Result<&str, Problem> {
    let header = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
        unauthorized(
            "missing_api_key",
            "send the API key as `Authorization: Bearer <key>`",
        )
    })?;
    header
        .to_str()
        .ok()
        .and_then(|value| value.split_once(' '))
        // The scheme is case-insensitive (RFC 9110).
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, secret)| secret.trim())
        .filter(|secret| !secret.is_empty())
        .ok_or_else(|| {
            unauthorized(
                "invalid_authorization",
                "the Authorization header must be `Bearer <key>`",
            )
        })
}

/// A JSON request body, read up to `MAX_REQUEST_BYTES`, as raw bytes: the
/// handler parses it so that it can name unknown and invalid fields.
pub struct JsonBytes(pub axum::body::Bytes);

impl FromRequest<AppState> for JsonBytes {
    type Rejection = Problem;

    async fn from_request(request: Request, _: &AppState) -> Result<Self, Problem> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        let mime = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if mime != "application/json" && !mime.ends_with("+json") {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("send the body as JSON with `Content-Type: application/json` (got {content_type:?})"),
            ));
        }
        let too_large = || {
            Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_too_large",
                format!("the request body is larger than {MAX_REQUEST_BYTES} bytes"),
            )
        };
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<usize>().ok());
        if declared.is_some_and(|length| length > MAX_REQUEST_BYTES) {
            return Err(too_large());
        }
        let body: Body = request.into_body();
        let bytes = axum::body::to_bytes(body, MAX_REQUEST_BYTES)
            .await
            .map_err(|_| too_large())?;
        Ok(JsonBytes(bytes))
    }
}
