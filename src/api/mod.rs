//! Server functions: the browser's door to the server. Each one is a public
//! HTTP endpoint, so each checks the session itself before calling the
//! service. They live under /rpc, apart from the agent REST API, by area:
//! signing in and out, one's own account, approvals, people and groups, API
//! keys, webhooks, statistics.

mod account;
mod approvals;
mod audit;
mod keys;
mod people;
mod policies;
mod reference;
mod session;
mod stats;
mod webhooks;

pub use account::*;
pub use approvals::*;
pub use audit::*;
pub use keys::*;
pub use people::*;
pub use policies::*;
pub use reference::*;
pub use session::*;
pub use stats::*;
pub use webhooks::*;

pub use crate::model::InboxData;

pub const NOT_SIGNED_IN: &str = "You are not signed in.";

#[cfg(feature = "ssr")]
mod ssr {
    use super::NOT_SIGNED_IN;
    use crate::model::{Reason, Verdict};
    use crate::server::domain::User;
    use crate::server::http::session;
    use crate::server::http::status_of;
    use crate::server::service::{ErrorKind, Missing, Service, ServiceError};
    use crate::server::state::AppState;
    use axum::http::StatusCode;
    use leptos::prelude::*;
    use std::sync::Arc;

    pub fn service() -> Result<Arc<Service>, ServerFnError> {
        use_context::<AppState>()
            .map(|state| state.service)
            .ok_or_else(|| ServerFnError::new("server state is missing"))
    }

    pub async fn headers() -> Result<axum::http::HeaderMap, ServerFnError> {
        let parts: axum::http::request::Parts = leptos_axum::extract().await?;
        Ok(parts.headers)
    }

    /// Opens a session for `user` in this browser: the cookie is set on
    /// the answer.
    pub async fn start_session(service: &Service, user: &User) -> Result<(), ServerFnError> {
        let token = service
            .open_session(user, device().await.as_deref())
            .await
            .map_err(to_fn_error)?;
        let secure = service.config().secure_cookies;
        set_cookie(session::session_cookie(&token, secure));
        Ok(())
    }

    /// The browser's User-Agent, as a session's device.
    pub async fn device() -> Option<String> {
        headers().await.ok().and_then(|headers| {
            headers
                .get(axum::http::header::USER_AGENT)
                .and_then(|agent| agent.to_str().ok())
                .map(str::to_owned)
        })
    }

    /// The signed-in user, or an error every page turns into the login form.
    pub async fn require_user(service: &Service) -> Result<User, ServerFnError> {
        let headers = headers().await?;
        session::current_user(service, &headers)
            .await
            .map_err(to_fn_error)?
            .ok_or_else(|| fail(StatusCode::UNAUTHORIZED, NOT_SIGNED_IN))
    }

    /// The signed-in user if they are an admin; 403 otherwise.
    pub async fn require_admin(service: &Service) -> Result<User, ServerFnError> {
        let user = require_user(service).await?;
        if user.role != crate::server::domain::Role::Admin {
            return Err(fail(StatusCode::FORBIDDEN, "Only admins can do this."));
        }
        Ok(user)
    }

    /// An error for the person, with the HTTP status that fits it (Leptos
    /// would otherwise answer every server function error with a 500).
    ///
    /// A plain HTML form post (no WASM yet) keeps Leptos's own answer: a
    /// redirect back to the form with the error in the URL, which the page's
    /// `ServerAction` shows next to the field.
    pub fn fail(status: StatusCode, message: impl Into<String>) -> ServerFnError {
        let plain_form_post = use_context::<axum::http::request::Parts>().is_some_and(|parts| {
            parts
                .headers
                .get(axum::http::header::ACCEPT)
                .and_then(|accept| accept.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"))
        });
        if let (false, Some(response)) = (
            plain_form_post,
            use_context::<leptos_axum::ResponseOptions>(),
        ) {
            response.set_status(status);
        }
        ServerFnError::new(message.into())
    }

    /// `"approve"`, or `"deny"` with a reason.
    pub fn parse_verdict(verdict: &str, reason: Option<&str>) -> Result<Verdict, ServerFnError> {
        match verdict {
            "approve" => Ok(Verdict::Approve),
            "deny" => Reason::parse(reason.unwrap_or_default())
                .map(Verdict::Deny)
                .map_err(|invalid| fail(StatusCode::UNPROCESSABLE_ENTITY, invalid.detail)),
            other => Err(fail(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("Unknown verdict {other:?}."),
            )),
        }
    }

    /// The status and the words a person is told for a failed operation.
    pub fn status_and_message(error: ServiceError) -> (StatusCode, String) {
        let kind = error.kind();
        let detail = error.to_string();
        let message = match kind {
            ErrorKind::Internal => {
                tracing::error!(%error, "store error in server function");
                "Something went wrong on our side. Try again.".to_owned()
            }
            ErrorKind::NotFound => match error {
                ServiceError::NotFound(Missing::ApiKey) => "There is no such API key.".to_owned(),
                ServiceError::NotFound(Missing::Session) => {
                    "That session has already ended.".to_owned()
                }
                ServiceError::NotFound(Missing::WebhookMessage) => {
                    "There is no such webhook message.".to_owned()
                }
                _ => "There is no such approval, or it is not routed to you.".to_owned(),
            },
            ErrorKind::Conflict => match error {
                ServiceError::AlreadyDecided(_) => format!("This approval was {detail}."),
                _ => detail,
            },
            ErrorKind::RateLimited | ErrorKind::Busy => format!("{}.", capitalize(&detail)),
            ErrorKind::Invalid | ErrorKind::Unauthorized | ErrorKind::Forbidden => detail,
        };
        (status_of(kind), message)
    }

    pub fn to_fn_error(error: ServiceError) -> ServerFnError {
        if let Some(secs) = error.retry_after_secs() {
            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                response.insert_header(
                    axum::http::header::RETRY_AFTER,
                    axum::http::HeaderValue::from(secs),
                );
            }
        }
        let (status, message) = status_and_message(error);
        fail(status, message)
    }

    /// The client's address, for per-address limits: the TCP peer, or
    /// behind a trusted proxy the address it forwards for
    /// (`HOLDPOINT_TRUSTED_PROXIES`).
    pub async fn client_address(service: &Service) -> Option<std::net::IpAddr> {
        let axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr> =
            leptos_axum::extract().await.ok()?;
        let headers: axum::http::HeaderMap = leptos_axum::extract().await.ok()?;
        Some(service.config().trusted_proxies.client(peer.ip(), &headers))
    }

    fn capitalize(text: &str) -> String {
        let mut chars = text.chars();
        chars
            .next()
            .map(|first| first.to_uppercase().chain(chars).collect())
            .unwrap_or_default()
    }

    pub fn set_cookie(cookie: String) {
        if let (Some(response), Ok(value)) = (
            use_context::<leptos_axum::ResponseOptions>(),
            axum::http::HeaderValue::from_str(&cookie),
        ) {
            response.append_header(axum::http::header::SET_COOKIE, value);
        }
    }
}
