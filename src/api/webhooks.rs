//! Server functions of the admin's Webhooks page. Each checks that the
//! caller is a signed-in admin.

use crate::model::{KeyWebhook, WebhookMessage};
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
    let service = super::ssr::service()?;
    super::ssr::require_admin(&service).await?;
    Ok(service)
}

#[cfg(feature = "ssr")]
async fn key_name(
    service: &crate::server::service::Service,
    key_id: &str,
) -> Result<String, ServerFnError> {
    let keys = service
        .key_webhooks()
        .await
        .map_err(super::ssr::to_fn_error)?;
    keys.into_iter()
        .find(|key| key.key_id == key_id)
        .map(|key| key.key_name)
        .ok_or_else(|| {
            super::ssr::fail(
                axum::http::StatusCode::NOT_FOUND,
                "There is no such API key.",
            )
        })
}

#[server(prefix = "/rpc", endpoint = "webhooks")]
pub async fn webhooks(key: Option<String>) -> Result<WebhooksData, ServerFnError> {
    let service = admin().await?;
    let key = key.filter(|k| !k.is_empty());
    let keys = service
        .key_webhooks()
        .await
        .map_err(super::ssr::to_fn_error)?;
    let filtered_has_endpoint = key
        .as_deref()
        .map(|id| keys.iter().any(|k| k.key_id == id && k.endpoint.is_some()));
    let messages = match filtered_has_endpoint {
        Some(false) => Vec::new(),
        _ => service
            .webhook_messages(key.as_deref(), 100)
            .await
            .map_err(super::ssr::to_fn_error)?,
    };
    Ok(WebhooksData {
        keys,
        messages,
        now_ms: chrono::Utc::now().timestamp_millis(),
    })
}

/// Sets a key's webhook URL. The signing secret comes back only when this
/// created the endpoint.
#[server(prefix = "/rpc", endpoint = "set_webhook_url")]
pub async fn set_webhook_url(
    key_id: String,
    url: String,
) -> Result<Option<IssuedSecret>, ServerFnError> {
    let service = admin().await?;
    let key_name = key_name(&service, &key_id).await?;
    let secret = service
        .set_webhook_url(&key_id, &url)
        .await
        .map_err(super::ssr::to_fn_error)?;
    Ok(secret.map(|secret| IssuedSecret { key_name, secret }))
}

#[server(prefix = "/rpc", endpoint = "rotate_webhook_secret")]
pub async fn rotate_webhook_secret(key_id: String) -> Result<IssuedSecret, ServerFnError> {
    let service = admin().await?;
    let key_name = key_name(&service, &key_id).await?;
    let secret = service
        .rotate_webhook_secret(&key_id)
        .await
        .map_err(super::ssr::to_fn_error)?;
    Ok(IssuedSecret { key_name, secret })
}

#[server(prefix = "/rpc", endpoint = "enable_webhook")]
pub async fn enable_webhook(key_id: String) -> Result<(), ServerFnError> {
    let service = admin().await?;
    service
        .enable_webhook_endpoint(&key_id)
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
        .map_err(|error| match error {
            crate::server::service::ServiceError::NotFound => super::ssr::fail(
                axum::http::StatusCode::NOT_FOUND,
                "There is no such webhook message.",
            ),
            other => super::ssr::to_fn_error(other),
        })
}
