//! RFC 9457 problem details, the only error shape the REST API answers with.

use super::status_of;
use crate::model::ValidationError;
use crate::server::service::{Missing, ServiceError};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    /// Extension members added to the body (e.g. the approval on a 409).
    pub extra: Option<(&'static str, serde_json::Value)>,
    /// Seconds for the `Retry-After` header (429, 503).
    pub retry_after_secs: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            extra: None,
            retry_after_secs: None,
        }
    }

    /// A 429 `rate_limited`, to be retried after `secs`.
    pub fn rate_limited(detail: impl Into<String>, secs: u64) -> Self {
        Self {
            retry_after_secs: Some(secs),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", detail)
        }
    }

    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }
}

impl From<ValidationError> for Problem {
    fn from(error: ValidationError) -> Self {
        Problem::unprocessable(error.code, error.detail)
    }
}

impl From<ServiceError> for Problem {
    fn from(error: ServiceError) -> Self {
        let status = status_of(error.kind());
        let retry_after_secs = error.retry_after_secs();
        let detail = error.to_string();
        let (code, detail, extra) = match error {
            ServiceError::Invalid(invalid) => (invalid.code, invalid.detail, None),
            ServiceError::UnknownApprover(_) => ("unknown_approver", detail, None),
            ServiceError::UnknownGroup(_) => ("unknown_group", detail, None),
            ServiceError::UnknownUser(_) => ("unknown_user", detail, None),
            ServiceError::KeyRevoked => ("invalid_api_key", detail, None),
            ServiceError::IdempotencyMismatch => ("idempotency_key_reused", detail, None),
            ServiceError::NotFound(Missing::Approval) => (
                "not_found",
                "no approval with this id belongs to this API key".to_owned(),
                None,
            ),
            ServiceError::NotFound(_) => ("not_found", detail, None),
            ServiceError::AlreadyDecided(approval) => (
                "already_decided",
                detail,
                serde_json::to_value(&*approval)
                    .ok()
                    .map(|a| ("approval", a)),
            ),
            ServiceError::Conflict(_) => ("conflict", detail, None),
            ServiceError::Forbidden(_) => ("forbidden", detail, None),
            ServiceError::RateLimited { .. } => ("rate_limited", detail, None),
            ServiceError::Busy { .. } => ("busy", detail, None),
            ServiceError::Store(store) => {
                tracing::error!(error = %store, "store error in REST handler");
                (
                    "internal_error",
                    "something went wrong on our side; the request can be retried".to_owned(),
                    None,
                )
            }
        };
        Problem {
            status,
            code,
            detail,
            extra,
            retry_after_secs,
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": format!("urn:holdpoint:problem:{}", self.code),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
        });
        if let Some((name, value)) = self.extra {
            body[name] = value;
        }
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The unread rest of the body is still on the wire: the client
            // must not reuse this connection for its next request.
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}
