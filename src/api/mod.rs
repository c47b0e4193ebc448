//! Server functions: the browser's door to the server. Each one is a public
//! HTTP endpoint, so each checks the session itself before calling the
//! service. They live under /rpc, apart from the agent REST API.

mod webhooks;

pub use webhooks::*;

pub use crate::model::InboxData;
use crate::model::{Approval, DeliverySummary, HistoryPage, WebhookMessage};
#[cfg(feature = "ssr")]
use crate::server::http::session;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The signed-in person, as the UI needs them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Me {
    pub email: String,
    pub name: String,
    pub admin: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalData {
    pub approval: Approval,
    /// Its outcome webhook(s), with every attempt: for admins only (empty
    /// for others).
    pub deliveries: Vec<WebhookMessage>,
    /// Each outcome webhook's status and attempt count, for everyone.
    pub delivery_summary: Vec<DeliverySummary>,
    pub now_ms: i64,
}

/// The message to show a person for a failed server function.
pub fn error_message(error: &ServerFnError) -> String {
    match error {
        ServerFnError::ServerError(message) => message.clone(),
        other => format!("The server could not be reached ({other}). Try again."),
    }
}

/// The message of an action's last failure, for showing next to its form
/// (None while it has not failed).
pub fn last_error<S>(action: ServerAction<S>) -> Option<String>
where
    S: leptos::server_fn::ServerFn<Error = ServerFnError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    action
        .value()
        .get()
        .and_then(Result::err)
        .map(|e| error_message(&e))
}

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

    /// The client's address (the TCP peer), for per-address limits.
    pub async fn client_address() -> Option<std::net::IpAddr> {
        let axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr> =
            leptos_axum::extract().await.ok()?;
        Some(peer.ip())
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

#[server(prefix = "/rpc", endpoint = "whoami")]
pub async fn whoami() -> Result<Option<Me>, ServerFnError> {
    let service = ssr::service()?;
    let headers = ssr::headers().await?;
    let user = session::current_user(&service, &headers)
        .await
        .map_err(ssr::to_fn_error)?;
    Ok(user.map(|user| Me {
        admin: user.role == crate::server::domain::Role::Admin,
        email: user.email,
        name: user.name,
    }))
}

/// The longest `next` path followed after sign-in.
const MAX_NEXT_LEN: usize = 2048;

/// Where to go after sign-in: `next` if it is a path on this site, else `/`
/// (no open redirect). Browsers drop tabs and newlines from a URL and read
/// `\\` as `/`, so `/\t/evil.example` or `/\\evil.example` would leave for
/// another host: only printable ASCII is accepted (anything else arrives
/// percent-encoded from a browser), and the path, decoded too, must not
/// start with two slashes or hold a backslash or control character. The
/// answer is always a valid `Location` header.
pub fn safe_next(next: Option<&str>) -> String {
    let Some(path) = next else {
        return "/".to_owned();
    };
    let printable = path.bytes().all(|b| b.is_ascii_graphic());
    let decoded = percent_decode(path);
    let stays_here = |p: &[u8]| {
        p.first() == Some(&b'/')
            && !matches!(p.get(1), Some(b'/' | b'\\'))
            && !p.iter().any(|b| *b == b'\\' || b.is_ascii_control())
    };
    if path.len() <= MAX_NEXT_LEN
        && printable
        && stays_here(path.as_bytes())
        && stays_here(&decoded)
    {
        path.to_owned()
    } else {
        "/".to_owned()
    }
}

/// `%XX` escapes decoded to bytes; anything else kept as it is.
fn percent_decode(raw: &str) -> Vec<u8> {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    decoded
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        for good in ["/", "/history?q=refund", "/approvals/apr_01JD", "/a%20b"] {
            assert_eq!(safe_next(Some(good)), good);
        }
        for evil in [
            "//evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/%09/evil.example",
            "/%0d%0a/evil.example",
            "/%2f/evil.example",
            "/%5c/evil.example",
            "/%5Cevil.example",
            "https://evil.example",
            "evil.example",
            "/\u{7f}",
            "/caf\u{e9}",
            "/ space",
            "",
        ] {
            assert_eq!(safe_next(Some(evil)), "/", "{evil:?}");
        }
        assert_eq!(safe_next(Some(&format!("/{}", "a".repeat(5000)))), "/");
        assert_eq!(safe_next(None), "/");
    }
}

#[server(prefix = "/rpc", endpoint = "login")]
pub async fn login(
    email: String,
    password: String,
    next: Option<String>,
) -> Result<(), ServerFnError> {
    let service = ssr::service()?;
    let address = ssr::client_address().await;
    match service
        .sign_in(&email, &password, address)
        .await
        .map_err(ssr::to_fn_error)?
    {
        Some(signed_in) => {
            let secure = service.config().secure_cookies;
            ssr::set_cookie(session::session_cookie(&signed_in.session_token, secure));
            leptos_axum::redirect(&safe_next(next.as_deref()));
            Ok(())
        }
        None => Err(ssr::fail(
            axum::http::StatusCode::UNAUTHORIZED,
            "That email and password do not match an active account.",
        )),
    }
}

/// Creates the first admin through the one-time link printed at first start,
/// and signs them in.
#[server(prefix = "/rpc", endpoint = "setup")]
pub async fn setup(
    token: String,
    email: String,
    name: Option<String>,
    password: String,
) -> Result<(), ServerFnError> {
    let service = ssr::service()?;
    let user = service
        .setup_first_admin(&token, &email, name.as_deref(), &password)
        .await
        .map_err(ssr::to_fn_error)?;
    let token = service
        .open_session(&user)
        .await
        .map_err(ssr::to_fn_error)?;
    let secure = service.config().secure_cookies;
    ssr::set_cookie(session::session_cookie(&token, secure));
    leptos_axum::redirect("/");
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "logout")]
pub async fn logout() -> Result<(), ServerFnError> {
    let service = ssr::service()?;
    let headers = ssr::headers().await?;
    session::sign_out(&service, &headers)
        .await
        .map_err(ssr::to_fn_error)?;
    ssr::set_cookie(session::clear_session_cookie(
        service.config().secure_cookies,
    ));
    leptos_axum::redirect("/login");
    Ok(())
}

/// The inbox, and in full the card it shows first: `selected` if it is
/// pending for this person, else the oldest.
#[server(prefix = "/rpc", endpoint = "inbox")]
pub async fn inbox(selected: Option<String>) -> Result<InboxData, ServerFnError> {
    let service = ssr::service()?;
    let user = ssr::require_user(&service).await?;
    let mut data = service.inbox_data(&user).await.map_err(ssr::to_fn_error)?;
    let first = selected
        .filter(|id| data.approvals.iter().any(|a| &a.id == id))
        .or_else(|| data.approvals.first().map(|a| a.id.clone()));
    if let Some(id) = first {
        data.shown = service.approval_for_user(&user, &id).await.ok();
    }
    Ok(data)
}

#[server(prefix = "/rpc", endpoint = "approval_detail")]
pub async fn approval_detail(id: String) -> Result<ApprovalData, ServerFnError> {
    let service = ssr::service()?;
    let user = ssr::require_user(&service).await?;
    let approval = service
        .approval_for_user(&user, &id)
        .await
        .map_err(ssr::to_fn_error)?;
    let deliveries = service
        .approval_deliveries(&user, &id)
        .await
        .map_err(ssr::to_fn_error)?;
    Ok(ApprovalData {
        approval,
        deliveries: deliveries.messages,
        delivery_summary: deliveries.summary,
        now_ms: service.now_ms(),
    })
}

/// One approval in full (preview and data included), for the card on
/// screen in the inbox: the inbox's list carries neither.
#[server(prefix = "/rpc", endpoint = "approval_card")]
pub async fn approval_card(id: String) -> Result<Approval, ServerFnError> {
    let service = ssr::service()?;
    let user = ssr::require_user(&service).await?;
    service
        .approval_for_user(&user, &id)
        .await
        .map_err(ssr::to_fn_error)
}

/// The longest history search.
pub const MAX_SEARCH_CHARS: usize = 200;

#[server(prefix = "/rpc", endpoint = "history")]
pub async fn history(
    q: Option<String>,
    cursor: Option<String>,
) -> Result<HistoryPage, ServerFnError> {
    let service = ssr::service()?;
    let user = ssr::require_user(&service).await?;
    let q = q.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty());
    if let Some(q) = &q {
        let chars = q.chars().count();
        if chars > MAX_SEARCH_CHARS || q.chars().any(char::is_control) {
            return Err(ssr::fail(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "Search for at most {MAX_SEARCH_CHARS} characters on one line \
                     (this is {chars})."
                ),
            ));
        }
    }
    let cursor = cursor.filter(|c| crate::server::domain::ids::is_id("apr", c));
    service
        .history(&user, q, cursor, 50)
        .await
        .map_err(ssr::to_fn_error)
}

/// Approve (`verdict = "approve"`) or deny (`verdict = "deny"`, with a
/// reason) a pending approval.
#[server(prefix = "/rpc", endpoint = "decide")]
pub async fn decide(
    id: String,
    verdict: String,
    reason: Option<String>,
) -> Result<Approval, ServerFnError> {
    let service = ssr::service()?;
    let user = ssr::require_user(&service).await?;
    let verdict = ssr::parse_verdict(&verdict, reason.as_deref())?;
    service
        .decide(&user, &id, verdict)
        .await
        .map_err(ssr::to_fn_error)
}

/// The most approvals one batch decision may name.
pub const MAX_BATCH: usize = 100;

/// What became of one approval in a batch decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchOutcome {
    pub id: String,
    /// The decided approval, or why this one could not be decided (it was
    /// decided elsewhere meanwhile, say).
    pub result: Result<Approval, String>,
}

/// Approves, or denies with one reason, several approvals. Each is decided
/// on its own, atomically, exactly as `decide` would: one that was decided
/// elsewhere meanwhile fails alone and says why.
#[server(prefix = "/rpc", endpoint = "decide_many", input = leptos::server_fn::codec::Json)]
pub async fn decide_many(
    ids: Vec<String>,
    verdict: String,
    reason: Option<String>,
) -> Result<Vec<BatchOutcome>, ServerFnError> {
    use axum::http::StatusCode;
    let service = ssr::service()?;
    let user = ssr::require_user(&service).await?;
    if ids.is_empty() || ids.len() > MAX_BATCH {
        return Err(ssr::fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Select between 1 and {MAX_BATCH} approvals."),
        ));
    }
    let verdict = ssr::parse_verdict(&verdict, reason.as_deref())?;
    let mut outcomes = Vec::with_capacity(ids.len());
    for id in ids {
        let result = match service.decide(&user, &id, verdict.clone()).await {
            Ok(approval) => Ok(approval),
            // One failure in a batch does not fail the batch.
            Err(error) => Err(ssr::status_and_message(error).1),
        };
        outcomes.push(BatchOutcome { id, result });
    }
    Ok(outcomes)
}
