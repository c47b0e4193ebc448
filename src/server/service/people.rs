//! What admins do to people: invitations and password resets (one-time
//! links), roles, switching accounts off and on, and the People page's list.
//! Every operation checks its actor here, whatever the caller checked.

use super::accounts::{new_account, normalize_email, password_hash, valid_name};
use super::{conflict_to_message, Service, ServiceError, ServiceResult};
use crate::server::domain::{ids, AccountLink, Audit, LinkPurpose, Person, Role, User};

/// How long an invitation or reset link works.
pub const LINK_DAYS: i64 = 7;

/// Who asks for an admin operation: a signed-in person (who must be an
/// admin), or `holdpoint admin` at the server's own shell.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    Person(&'a User),
    Command,
}

/// A one-time link, shown once to the admin who made it.
#[derive(Debug, Clone)]
pub struct IssuedLink {
    pub email: String,
    pub url: String,
    pub expires_at: i64,
}

impl Service {
    /// Refuses anyone but an admin (or the server's own command line).
    pub fn authorize_admin(actor: Actor<'_>) -> ServiceResult<()> {
        match actor {
            Actor::Person(user) if user.role != Role::Admin => Err(ServiceError::Forbidden(
                "only admins manage people, groups and API keys, and read the audit log".to_owned(),
            )),
            _ => Ok(()),
        }
    }

    /// The audit trail's actor and time for an admin action.
    pub(super) fn audit(&self, actor: Actor<'_>) -> Audit {
        Audit {
            actor: match actor {
                Actor::Person(user) => format!("user:{}", user.id),
                Actor::Command => "cli".to_owned(),
            },
            at: self.now_ms(),
        }
    }

    /// Invites a person: their account exists at once (routing may name
    /// them), and they choose a password through the link, for 7 days.
    pub async fn invite(
        &self,
        actor: Actor<'_>,
        email: &str,
        name: Option<&str>,
        role: Role,
    ) -> ServiceResult<IssuedLink> {
        Self::authorize_admin(actor)?;
        let now = self.now_ms();
        let user = new_account(email, name, role, now)?;
        let token = ids::new_session_token();
        let expires_at = now + LINK_DAYS * 86_400_000;
        let user = self
            .store
            .invite_user(
                user,
                &ids::sha256_hex(token.as_bytes()),
                expires_at,
                &self.audit(actor),
            )
            .await
            .map_err(conflict_to_message)?;
        Ok(self.issued(user.email, &token, expires_at))
    }

    /// A new one-time link with which a person sets a new password; any
    /// earlier link of theirs stops working. Their current password works
    /// until the new one is set, which signs them out everywhere.
    pub async fn password_link(&self, actor: Actor<'_>, email: &str) -> ServiceResult<IssuedLink> {
        Self::authorize_admin(actor)?;
        let email = normalize_email(email);
        let Some(account) = self.store.user_by_email(&email).await? else {
            return Err(ServiceError::UnknownUser(email));
        };
        // An invitation not yet used is renewed as an invitation.
        let purpose = if account.password_hash.is_empty() {
            LinkPurpose::Invite
        } else {
            LinkPurpose::Reset
        };
        let now = self.now_ms();
        let token = ids::new_session_token();
        let expires_at = now + LINK_DAYS * 86_400_000;
        self.store
            .create_account_link(
                &account.user.id,
                &ids::sha256_hex(token.as_bytes()),
                purpose,
                expires_at,
                &self.audit(actor),
            )
            .await?;
        Ok(self.issued(email, &token, expires_at))
    }

    fn issued(&self, email: String, token: &str, expires_at: i64) -> IssuedLink {
        IssuedLink {
            email,
            url: format!("{}/welcome?token={token}", self.config.public_url),
            expires_at,
        }
    }

    /// Whose live link this is, and what for; None when it is not live.
    pub async fn account_link(&self, token: &str) -> ServiceResult<Option<AccountLink>> {
        Ok(self
            .store
            .account_link(&ids::sha256_hex(token.as_bytes()), self.now_ms())
            .await?)
    }

    /// Sets the password chosen through a link (and the name, for an
    /// invitation); the link and any other of theirs are spent.
    pub async fn use_account_link(
        &self,
        token: &str,
        name: Option<&str>,
        password: &str,
    ) -> ServiceResult<User> {
        let invalid_link = || {
            ServiceError::Forbidden(
                "this link is not valid (used, expired or mistyped): ask an admin for a new one"
                    .to_owned(),
            )
        };
        let token_hash = ids::sha256_hex(token.as_bytes());
        // Checked before the (slow, on purpose) password hashing.
        if self.account_link(token).await?.is_none() {
            return Err(invalid_link());
        }
        let name = match name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(name) => Some(valid_name(name)?),
            None => None,
        };
        let hash = password_hash(password).await?;
        self.store
            .use_account_link(&token_hash, &hash, name.as_deref(), self.now_ms())
            .await?
            .ok_or_else(invalid_link)
    }

    /// Everyone, for the People page.
    pub async fn people(&self, actor: Actor<'_>) -> ServiceResult<Vec<Person>> {
        Self::authorize_admin(actor)?;
        Ok(self.store.people(self.now_ms()).await?)
    }
}
