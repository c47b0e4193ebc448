//! Server functions of a person's own account page: their password, their
//! sessions (which browser, last seen), signing out everywhere.

#[cfg(feature = "ssr")]
use super::ssr;
#[cfg(feature = "ssr")]
use crate::server::http::session;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRow {
    pub id: String,
    pub created_at: i64,
    pub last_seen_at: Option<i64>,
    pub device: Option<String>,
    /// The session of the browser looking.
    pub current: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountData {
    pub email: String,
    pub name: String,
    pub role: String,
    pub groups: usize,
    pub sessions: Vec<SessionRow>,
}

#[server(prefix = "/rpc", endpoint = "my_account")]
pub async fn my_account() -> Result<AccountData, ServerFnError> {
    let service = ssr::service()?;
    let me = ssr::require_user(&service).await?;
    let current = session::current_session_id(&service, &ssr::headers().await?);
    let sessions = service.my_sessions(&me).await.map_err(ssr::to_fn_error)?;
    Ok(AccountData {
        sessions: sessions
            .into_iter()
            .map(|s| SessionRow {
                current: current.as_deref() == Some(s.id.as_str()),
                id: s.id,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                device: s.device,
            })
            .collect(),
        groups: me.group_ids.len(),
        role: me.role.as_str().to_owned(),
        email: me.email,
        name: me.name,
    })
}

/// Replaces the password, given the current one; every other session ends
/// and this browser gets a new one.
#[server(prefix = "/rpc", endpoint = "change_password")]
pub async fn change_password(current: String, new: String) -> Result<(), ServerFnError> {
    let service = ssr::service()?;
    let me = ssr::require_user(&service).await?;
    service
        .change_password(&me, &current, &new)
        .await
        .map_err(ssr::to_fn_error)?;
    ssr::start_session(&service, &me).await
}

/// Ends one of the person's own sessions.
#[server(prefix = "/rpc", endpoint = "end_session")]
pub async fn end_session(id: String) -> Result<(), ServerFnError> {
    let service = ssr::service()?;
    let me = ssr::require_user(&service).await?;
    service
        .end_my_session(&me, &id)
        .await
        .map_err(ssr::to_fn_error)
}

/// Ends every session of the person, this one included.
#[server(prefix = "/rpc", endpoint = "sign_out_everywhere")]
pub async fn sign_out_everywhere() -> Result<(), ServerFnError> {
    let service = ssr::service()?;
    let me = ssr::require_user(&service).await?;
    service
        .sign_out_everywhere(&me)
        .await
        .map_err(ssr::to_fn_error)?;
    ssr::set_cookie(session::clear_session_cookie(
        service.config().secure_cookies,
    ));
    leptos_axum::redirect("/login");
    Ok(())
}
