//! Server functions of the admin's Webhooks page. Each checks that the
//! caller is a signed-in admin.

use crate::model::{KeyWebhook, WebhookMessage};
#[cfg(feature = "ssr")]
use crate::server::service::Actor;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhooksData {
    pub keys: Vec<KeyWebhook>,
    /// Newest first; of one key's endpoint when the page is filtered.
    pub messages: Vec<WebhookMessage>,
    pub now_ms: i64,
}

/// A secret to show once, with what it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssuedSecret {
    pub key_name: String,
    pub secret: String,
}

#[cfg(feature = "ssr")]
async fn admin() -> Result<std::sync::Arc<crate::server::service::Service>, ServerFnError> {
    Ok(admin_and_service().await?.1)
}

/// The signed-in admin (for the audit trail) and the service.
#[cfg(feature = "ssr")]
async fn admin_and_service() -> Result<
    (
        crate::server::domain::User,
        std::sync::Arc<crate::server::service::Service>,
    ),
    ServerFnError,
> {
    let service = super::ssr::service()?;
    let user = super::ssr::require_admin(&service).await?;
    Ok((user, service))
}

#[server(prefix = "/rpc", endpoint = "webhooks")]
pub async fn webhooks(key: Option<String>) -> Result<WebhooksData, ServerFnError> {
    let service = admin().await?;
    let key = key.filter(|k| !k.is_empty());
    // Messages before endpoints: an attempt's log entry and its endpoint's
    // health commit together, so an endpoint read after a message is never
    // older than it (a delivered message beside a stale failure streak).
    let messages = match service.webhook_messages(key.as_deref(), 100).await {
        Ok(messages) => messages,
        // A key without an endpoint has no messages.
        Err(crate::server::service::ServiceError::Invalid(_)) => Vec::new(),
        Err(error) => return Err(super::ssr::to_fn_error(error)),
    };
    let keys = service
        .key_webhooks()
        .await
        .map_err(super::ssr::to_fn_error)?;
    Ok(WebhooksData {
        keys,
        messages,
        now_ms: service.now_ms(),
    })
}

/// Sets a key's webhook URL. The signing secret comes back only when this
/// created the endpoint.
#[server(prefix = "/rpc", endpoint = "set_webhook_url")]
pub async fn set_webhook_url(
    key_id: String,
    url: String,
) -> Result<Option<IssuedSecret>, ServerFnError> {
    let (me, service) = admin_and_service().await?;
    let set = service
        .set_webhook_url(Actor::Person(&me), &key_id, &url)
        .await
        .map_err(super::ssr::to_fn_error)?;
    let key_name = set.key_name;
    Ok(set
        .new_secret
        .map(|secret| IssuedSecret { key_name, secret }))
}

#[server(prefix = "/rpc", endpoint = "rotate_webhook_secret")]
pub async fn rotate_webhook_secret(key_id: String) -> Result<IssuedSecret, ServerFnError> {
    let (me, service) = admin_and_service().await?;
    let rotated = service
        .rotate_webhook_secret(Actor::Person(&me), &key_id)
        .await
        .map_err(super::ssr::to_fn_error)?;
    Ok(IssuedSecret {
        key_name: rotated.key_name,
        secret: rotated.secret,
    })
}

#[server(prefix = "/rpc", endpoint = "enable_webhook")]
pub async fn enable_webhook(key_id: String) -> Result<(), ServerFnError> {
    let (me, service) = admin_and_service().await?;
    service
        .enable_webhook_endpoint(Actor::Person(&me), &key_id)
        .await
        .map_err(super::ssr::to_fn_error)
}

/// Queues a `webhook.test` message; returns its ID.
#[server(prefix = "/rpc", endpoint = "send_test_webhook")]
pub async fn send_test_webhook(key_id: String) -> Result<String, ServerFnError> {
    let service = admin().await?;
    service
        .send_test_event(&key_id)
        .await
        .map_err(super::ssr::to_fn_error)
}

#[server(prefix = "/rpc", endpoint = "redeliver_webhook")]
pub async fn redeliver_webhook(message_id: String) -> Result<(), ServerFnError> {
    let service = admin().await?;
    service
        .redeliver_webhook(&message_id)
        .await
        .map_err(super::ssr::to_fn_error)
}
