//! The admin's side of webhooks: endpoints (URL, secret, rotation, enabling
//! again), test events, redelivery, and the message log.

use crate::model::{DeliverySummary, KeyWebhook, WebhookEndpoint, WebhookMessage};
use crate::server::domain::events::Event;
use crate::server::domain::ids;
use crate::server::domain::outcome::{self as payload, TEST_EVENT};
use crate::server::domain::{MessageFilter, NewEndpoint, NewMessage, Role, User};
use crate::server::service::{invalid, Actor, Missing, Service, ServiceError, ServiceResult};
use crate::server::webhook::guard::{check_url, literal_ip, refuse_own_address, GuardedResolver};
use crate::server::webhook::sign::new_secret;
use reqwest::dns::{Name, Resolve};
use std::str::FromStr;

/// A key's endpoint after its URL was set.
#[derive(Debug)]
pub struct EndpointSet {
    pub key_name: String,
    /// The signing secret, when this created the endpoint (shown once).
    pub new_secret: Option<String>,
}

/// A key's new signing secret (shown once).
#[derive(Debug)]
pub struct RotatedSecret {
    pub key_name: String,
    pub secret: String,
}

/// Where an approval's outcome webhook went.
#[derive(Debug)]
pub struct Deliveries {
    /// Every message with its attempts: admins only, else empty.
    pub messages: Vec<WebhookMessage>,
    /// Whether each arrived and after how many tries: everyone.
    pub summary: Vec<DeliverySummary>,
}

impl Service {
    /// Checks a webhook URL where the admin enters it: shape, scheme, and
    /// that it resolves to addresses we may connect to. (Checked again at
    /// every connection: what a name resolves to can change.)
    pub async fn check_webhook_url(&self, raw: &str) -> ServiceResult<String> {
        let allow_private = self.config().webhooks.allow_private;
        let url = check_url(raw, allow_private).map_err(|e| invalid("invalid_webhook_url", e))?;
        let host = url.host_str().unwrap_or_default();
        if literal_ip(host).is_none() {
            let name = Name::from_str(host)
                .map_err(|e| invalid("invalid_webhook_url", format!("{host}: {e}")))?;
            let _addresses = GuardedResolver { allow_private }
                .resolve(name)
                .await
                .map_err(|e| invalid("invalid_webhook_url", e.to_string()))?;
        }
        refuse_own_address(&url, self.config().webhooks.own_address)
            .await
            .map_err(|e| invalid("invalid_webhook_url", e))?;
        Ok(url.to_string())
    }

    /// A new endpoint for a key, its URL checked and its secret fresh.
    pub(crate) async fn new_endpoint(&self, key_id: &str, url: &str) -> ServiceResult<NewEndpoint> {
        Ok(NewEndpoint {
            id: ids::new_id("whe", self.now_ms()),
            api_key_id: key_id.to_owned(),
            url: self.check_webhook_url(url).await?,
            secret: new_secret(),
            created_at: self.now_ms(),
        })
    }

    pub async fn key_webhooks(&self) -> ServiceResult<Vec<KeyWebhook>> {
        Ok(self.store.key_webhooks(self.now_ms()).await?)
    }

    async fn key_webhook(&self, key_id: &str) -> ServiceResult<KeyWebhook> {
        self.key_webhooks()
            .await?
            .into_iter()
            .find(|key| key.key_id == key_id)
            .ok_or(ServiceError::NotFound(Missing::ApiKey))
    }

    /// The ID of the live key with this name (for the CLI).
    pub async fn key_id_by_name(&self, name: &str) -> ServiceResult<String> {
        match self.store.api_key_by_name(name).await? {
            Some(key) => Ok(key.id),
            None => Err(ServiceError::Conflict(format!(
                "no active API key is named {name:?}"
            ))),
        }
    }

    fn endpoint_of(key: &KeyWebhook) -> ServiceResult<&WebhookEndpoint> {
        key.endpoint.as_ref().ok_or_else(|| {
            invalid(
                "no_webhook_endpoint",
                "this API key has no webhook endpoint yet: set its URL first",
            )
        })
    }

    /// Points a key's webhooks at `url`; returns the key's name and, when
    /// this created the endpoint, its signing secret (an existing endpoint
    /// keeps its secret).
    pub async fn set_webhook_url(
        &self,
        actor: Actor<'_>,
        key_id: &str,
        url: &str,
    ) -> ServiceResult<EndpointSet> {
        Self::authorize_admin(actor)?;
        let key = self.key_webhook(key_id).await?;
        let endpoint = self.new_endpoint(key_id, url).await?;
        let secret = endpoint.secret.clone();
        let created = self
            .store
            .upsert_webhook_endpoint(endpoint, &self.audit(actor))
            .await?;
        Ok(EndpointSet {
            key_name: key.key_name,
            new_secret: created.then_some(secret),
        })
    }

    /// A new signing secret; the old one keeps signing (both signatures are
    /// sent) for the configured overlap, so receivers can switch over.
    /// Returns the key's name and the secret.
    pub async fn rotate_webhook_secret(
        &self,
        actor: Actor<'_>,
        key_id: &str,
    ) -> ServiceResult<RotatedSecret> {
        Self::authorize_admin(actor)?;
        let key = self.key_webhook(key_id).await?;
        let endpoint = Self::endpoint_of(&key)?;
        let secret = new_secret();
        let overlap = self.config().webhooks.rotation_overlap.as_millis() as i64;
        self.store
            .rotate_webhook_secret(
                &endpoint.id,
                &secret,
                self.now_ms() + overlap,
                &self.audit(actor),
            )
            .await?;
        Ok(RotatedSecret {
            key_name: key.key_name,
            secret,
        })
    }

    /// Enables a disabled endpoint; the messages it held go out now.
    pub async fn enable_webhook_endpoint(
        &self,
        actor: Actor<'_>,
        key_id: &str,
    ) -> ServiceResult<()> {
        Self::authorize_admin(actor)?;
        let key = self.key_webhook(key_id).await?;
        let endpoint = Self::endpoint_of(&key)?;
        self.store
            .enable_webhook_endpoint(&endpoint.id, &self.audit(actor))
            .await?;
        self.wake_webhook_worker();
        Ok(())
    }

    /// Queues a `webhook.test` message; returns its ID.
    pub async fn send_test_event(&self, key_id: &str) -> ServiceResult<String> {
        let key = self.key_webhook(key_id).await?;
        let endpoint = Self::endpoint_of(&key)?;
        let at = self.now_ms();
        let id = ids::new_id("msg", at);
        self.store
            .enqueue_webhook(NewMessage {
                id: id.clone(),
                endpoint_id: endpoint.id.clone(),
                event_type: TEST_EVENT.to_owned(),
                payload: payload::test_event(&key.key_name, at),
                at,
            })
            .await?;
        self.wake_webhook_worker();
        Ok(id)
    }

    /// Sends a message again now, whatever became of it, with the same
    /// `webhook-id` (receivers deduplicate on it).
    pub async fn redeliver_webhook(&self, message_id: &str) -> ServiceResult<()> {
        let known = ids::is_id("msg", message_id)
            && self
                .store
                .redeliver_webhook(message_id, self.now_ms())
                .await?;
        if !known {
            return Err(ServiceError::NotFound(Missing::WebhookMessage));
        }
        self.wake_webhook_worker();
        Ok(())
    }

    /// The newest messages, of one key's endpoint or of all.
    pub async fn webhook_messages(
        &self,
        key_id: Option<&str>,
        limit: i64,
    ) -> ServiceResult<Vec<WebhookMessage>> {
        let endpoint_id = match key_id {
            Some(key_id) => Some(
                Self::endpoint_of(&self.key_webhook(key_id).await?)?
                    .id
                    .clone(),
            ),
            None => None,
        };
        Ok(self
            .store
            .webhook_messages(
                &MessageFilter {
                    endpoint_id,
                    approval_id: None,
                    limit,
                },
                self.now_ms(),
            )
            .await?)
    }

    /// The webhook messages about one approval, for whoever may see it:
    /// in full (URL, attempts, answers) for admins, and a summary for
    /// everyone, which is all an approver gets.
    pub async fn approval_deliveries(
        &self,
        user: &User,
        approval_id: &str,
    ) -> ServiceResult<Deliveries> {
        self.approval_for_user(user, approval_id).await?;
        let messages = self
            .store
            .webhook_messages(
                &MessageFilter {
                    approval_id: Some(approval_id.to_owned()),
                    endpoint_id: None,
                    limit: 10,
                },
                self.now_ms(),
            )
            .await?;
        let summary = messages.iter().map(DeliverySummary::of).collect();
        let full = if user.role == Role::Admin {
            messages
        } else {
            Vec::new()
        };
        Ok(Deliveries {
            messages: full,
            summary,
        })
    }

    fn wake_webhook_worker(&self) {
        self.hub().publish(Event::WebhookQueued);
    }
}
