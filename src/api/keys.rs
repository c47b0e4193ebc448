//! Server functions of the admin's API keys page. The service checks the
//! actor of each; these check the session.

#[cfg(feature = "ssr")]
use super::ssr;
#[cfg(feature = "ssr")]
use crate::server::service::{Actor, NewKey};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRow {
    pub id: String,
    pub name: String,
    /// The route as the page's select spells it (`person:…`, `group:…`,
    /// or empty).
    pub route_value: String,
    /// "ana@example.com", "the billing group", or "anyone who may decide".
    pub route: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub pending: i64,
    pub webhook_url: Option<String>,
    /// Whether it may read the export of decisions (GET /api/v1/decisions).
    pub reads_decisions: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeysData {
    pub keys: Vec<KeyRow>,
    /// Where a new key may route by default: people who decide, groups.
    pub approvers: Vec<String>,
    pub groups: Vec<String>,
}

/// A new key's secrets, shown once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewKeyData {
    pub name: String,
    pub secret: String,
    pub webhook_secret: Option<String>,
}

#[server(prefix = "/rpc", endpoint = "keys")]
pub async fn keys() -> Result<KeysData, ServerFnError> {
    let service = ssr::service()?;
    let me = ssr::require_user(&service).await?;
    let by = Actor::Person(&me);
    let keys = service.key_overviews(by).await.map_err(ssr::to_fn_error)?;
    let people = service.people(by).await.map_err(ssr::to_fn_error)?;
    let groups = service.groups(by).await.map_err(ssr::to_fn_error)?;
    Ok(KeysData {
        keys: keys
            .into_iter()
            .map(|key| KeyRow {
                route_value: match (&key.default_approver, &key.default_group) {
                    (Some(email), _) => format!("person:{email}"),
                    (None, Some(group)) => format!("group:{group}"),
                    (None, None) => String::new(),
                },
                route: match (key.default_approver, key.default_group) {
                    (Some(email), _) => email,
                    (None, Some(group)) => format!("the {group} group"),
                    (None, None) => "anyone who may decide".to_owned(),
                },
                id: key.id,
                name: key.name,
                created_at: key.created_at,
                revoked_at: key.revoked_at,
                last_used_at: key.last_used_at,
                pending: key.pending,
                webhook_url: key.webhook_url,
                reads_decisions: key.reads_decisions,
            })
            .collect(),
        approvers: people
            .into_iter()
            .filter(|p| p.user.active && p.user.role.decides())
            .map(|p| p.user.email)
            .collect(),
        groups: groups.into_iter().map(|g| g.name).collect(),
    })
}

/// Creates a key. `route` is empty (anyone who may decide),
/// `person:EMAIL` or `group:NAME`.
#[server(prefix = "/rpc", endpoint = "create_key")]
pub async fn create_key(
    name: String,
    route: Option<String>,
    webhook_url: Option<String>,
) -> Result<NewKeyData, ServerFnError> {
    let service = ssr::service()?;
    let me = ssr::require_user(&service).await?;
    let route = route.unwrap_or_default();
    let (default_approver, default_group) = parse_route(&route)?;
    let created = service
        .create_api_key(
            Actor::Person(&me),
            NewKey {
                name: &name,
                default_approver,
                default_group,
                webhook_url: webhook_url.as_deref().filter(|url| !url.trim().is_empty()),
            },
        )
        .await
        .map_err(ssr::to_fn_error)?;
    Ok(NewKeyData {
        name: created.key.name,
        secret: created.secret,
        webhook_secret: created.webhook_secret,
    })
}

/// Changes where a key's approvals go when its agent names no one.
#[server(prefix = "/rpc", endpoint = "set_key_route")]
pub async fn set_key_route(name: String, route: Option<String>) -> Result<(), ServerFnError> {
    let service = ssr::service()?;
    let me = ssr::require_user(&service).await?;
    let route = route.unwrap_or_default();
    let (approver, group) = parse_route(&route)?;
    service
        .set_key_route(Actor::Person(&me), &name, approver, group)
        .await
        .map_err(ssr::to_fn_error)
}

/// Allows (or stops) an agent's keys reading the export of decisions.
#[server(prefix = "/rpc", endpoint = "set_key_reads_decisions")]
pub async fn set_key_reads_decisions(name: String, allowed: bool) -> Result<(), ServerFnError> {
    let service = ssr::service()?;
    let me = ssr::require_user(&service).await?;
    service
        .set_key_reads_decisions(Actor::Person(&me), &name, allowed)
        .await
        .map_err(ssr::to_fn_error)
}

/// A route as the Keys page's select sends it: empty (anyone who may
/// decide), `person:EMAIL` or `group:NAME`.
#[cfg(feature = "ssr")]
fn parse_route(route: &str) -> Result<(Option<&str>, Option<&str>), ServerFnError> {
    match route.split_once(':') {
        Some(("person", email)) => Ok((Some(email), None)),
        Some(("group", group)) => Ok((None, Some(group))),
        _ if route.is_empty() => Ok((None, None)),
        _ => Err(ssr::fail(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "Choose where this key's approvals go.",
        )),
    }
}

/// Revokes one live key (by id): its next request is refused.
#[server(prefix = "/rpc", endpoint = "revoke_key")]
pub async fn revoke_key(id: String) -> Result<(), ServerFnError> {
    let service = ssr::service()?;
    let me = ssr::require_user(&service).await?;
    service
        .revoke_api_key_by_id(Actor::Person(&me), &id)
        .await
        .map_err(ssr::to_fn_error)
}

/// A second key for the agent named `name`, beside its current one.
#[server(prefix = "/rpc", endpoint = "rotate_key")]
pub async fn rotate_key(name: String) -> Result<NewKeyData, ServerFnError> {
    let service = ssr::service()?;
    let me = ssr::require_user(&service).await?;
    let created = service
        .rotate_api_key(Actor::Person(&me), &name)
        .await
        .map_err(ssr::to_fn_error)?;
    Ok(NewKeyData {
        name: created.key.name,
        secret: created.secret,
        webhook_secret: None,
    })
}
