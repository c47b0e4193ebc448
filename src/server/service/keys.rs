//! Agents' API keys: creating, revoking, and authenticating a bearer secret.

use super::error::Missing;
use super::people::Actor;
use super::{conflict_to_message, invalid, Service, ServiceError, ServiceResult};
use crate::model::refuse_deceptive;
use crate::server::domain::{ids, ApiKey, KeyIdentity, KeyOverview, NewApiKey};

/// What an admin asks for when creating a key.
#[derive(Debug, Default, Clone, Copy)]
pub struct NewKey<'a> {
    pub name: &'a str,
    /// The default route: an approver's email or a group's name (at most
    /// one); neither routes to everyone who may decide.
    pub default_approver: Option<&'a str>,
    pub default_group: Option<&'a str>,
    pub webhook_url: Option<&'a str>,
}

/// A new API key with its secrets, which are shown once and never stored.
#[derive(Debug)]
pub struct CreatedKey {
    pub key: ApiKey,
    /// The bearer secret the agent sends.
    pub secret: String,
    /// The endpoint's signing secret, when the key was made with a webhook.
    pub webhook_secret: Option<String>,
}

impl Service {
    /// Creates an API key, with a webhook endpoint when a URL is given;
    /// returns it, its secret (never stored) and the endpoint's signing
    /// secret.
    #[tracing::instrument(name = "create API key", skip_all, fields(name = %request.name))]
    pub async fn create_api_key(
        &self,
        actor: Actor<'_>,
        request: NewKey<'_>,
    ) -> ServiceResult<CreatedKey> {
        Self::authorize_admin(actor)?;
        let name = request.name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(invalid(
                "invalid_name",
                "a key name is 1-100 characters on one line",
            ));
        }
        refuse_deceptive(name, "the key name", "invalid_name").map_err(ServiceError::Invalid)?;
        // Names repeat only through a rotation; a new agent needs its own.
        if self.store.api_key_by_name(name).await?.is_some() {
            return Err(ServiceError::Conflict(format!(
                "an API key named {name} already exists: rotate it to give its agent a second key"
            )));
        }
        let default_route = self
            .named_route(request.default_approver, request.default_group)
            .await?
            .unwrap_or_default();
        let key_id = ids::new_id("key", self.now_ms());
        let webhook = match request.webhook_url {
            Some(url) => Some(self.new_endpoint(&key_id, url).await?),
            None => None,
        };
        let webhook_secret = webhook.as_ref().map(|endpoint| endpoint.secret.clone());
        let secret = ids::new_api_key();
        let key = self
            .store
            .create_api_key(
                NewApiKey {
                    id: key_id,
                    name: name.to_owned(),
                    key_hash: ids::sha256_hex(secret.as_bytes()),
                    default_route,
                    created_at: self.now_ms(),
                    webhook,
                },
                &self.audit(actor),
            )
            .await
            .map_err(conflict_to_message)?;
        Ok(CreatedKey {
            key,
            secret,
            webhook_secret,
        })
    }

    pub async fn revoke_api_key(&self, actor: Actor<'_>, name: &str) -> ServiceResult<bool> {
        Self::authorize_admin(actor)?;
        Ok(self.store.revoke_api_key(name, &self.audit(actor)).await?)
    }

    /// The key behind a bearer secret, if it exists and is not revoked.
    /// Notes its use, at most once a minute per key.
    pub async fn authenticate_key(&self, secret: &str) -> ServiceResult<Option<ApiKey>> {
        let key = self
            .store
            .api_key_by_hash(&ids::sha256_hex(secret.as_bytes()))
            .await?;
        if let Some(key) = &key {
            self.note_key_use(&key.identity()).await;
        }
        Ok(key)
    }

    /// The key behind a bearer secret, for a create: a key seen before is
    /// not read again (see `known_keys`); the create's transaction checks
    /// it is still live. `None`: no live key has this secret.
    pub async fn authenticate_key_to_create(
        &self,
        secret: &str,
    ) -> ServiceResult<Option<KeyIdentity>> {
        let key_hash = ids::sha256_hex(secret.as_bytes());
        let key = match self.known_keys.get(&key_hash) {
            Some(known) => known,
            None => match self.store.api_key_by_hash(&key_hash).await? {
                Some(key) => {
                    self.known_keys.remember(key_hash, key.identity());
                    key.identity()
                }
                None => return Ok(None),
            },
        };
        self.note_key_use(&key).await;
        Ok(Some(key))
    }

    /// A create found `key` revoked: it is not known any more.
    pub(super) fn forget_key(&self, key: &KeyIdentity) {
        self.known_keys.forget(&key.id);
    }

    /// Writes a key's "last used", at most once a minute per key.
    async fn note_key_use(&self, key: &KeyIdentity) {
        let now = self.now_ms();
        if self.key_uses.due(&key.id, now) {
            if let Err(error) = self.store.touch_api_key(&key.id, now).await {
                // Only the Keys page's "last used" is late; the request goes on.
                tracing::warn!(%error, key = %key.name, "cannot note an API key's use");
            }
        }
    }

    /// A second live key for the agent of the live key `name` (the newest,
    /// if it has several): same name and route, same webhook endpoint and
    /// signing secret. The admin revokes the old key once the agent has
    /// switched. Returns the new key and its secret (shown once).
    pub async fn rotate_api_key(&self, actor: Actor<'_>, name: &str) -> ServiceResult<CreatedKey> {
        Self::authorize_admin(actor)?;
        let Some(old) = self.store.api_key_by_name(name).await? else {
            return Err(ServiceError::NotFound(Missing::ApiKey));
        };
        let secret = ids::new_api_key();
        let now = self.now_ms();
        let key = self
            .store
            .rotate_api_key(
                NewApiKey {
                    id: ids::new_id("key", now),
                    name: old.name.clone(),
                    key_hash: ids::sha256_hex(secret.as_bytes()),
                    default_route: old.default_route.clone(),
                    created_at: now,
                    webhook: None,
                },
                &old.id,
                &self.audit(actor),
            )
            .await?;
        Ok(CreatedKey {
            key,
            secret,
            webhook_secret: None,
        })
    }

    /// Revokes one key by its id (an agent may have several live keys).
    pub async fn revoke_api_key_by_id(&self, actor: Actor<'_>, id: &str) -> ServiceResult<()> {
        Self::authorize_admin(actor)?;
        if self
            .store
            .revoke_api_key_by_id(id, &self.audit(actor))
            .await?
        {
            Ok(())
        } else {
            Err(ServiceError::NotFound(Missing::ApiKey))
        }
    }

    /// Sets where a key's approvals go when its agent names no one: an
    /// approver, a group, or (neither) anyone who may decide.
    pub async fn set_key_route(
        &self,
        actor: Actor<'_>,
        name: &str,
        approver: Option<&str>,
        group: Option<&str>,
    ) -> ServiceResult<()> {
        Self::authorize_admin(actor)?;
        let route = self.named_route(approver, group).await?.unwrap_or_default();
        if self
            .store
            .set_key_route(name, &route, &self.audit(actor))
            .await?
        {
            Ok(())
        } else {
            Err(ServiceError::NotFound(Missing::ApiKey))
        }
    }

    /// Every key, live ones first, for the Keys page.
    pub async fn key_overviews(&self, actor: Actor<'_>) -> ServiceResult<Vec<KeyOverview>> {
        Self::authorize_admin(actor)?;
        Ok(self.store.key_overviews().await?)
    }
}
