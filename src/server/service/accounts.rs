//! People: accounts, deactivation, ending sessions, and the first-start
//! setup link.

use super::people::Actor;
use super::{conflict_to_message, invalid, Service, ServiceError, ServiceResult};
use crate::model::refuse_deceptive;
use crate::server::domain::{ids, FirstUser, NewUser, Role, User};
use crate::server::store::StoreError;

/// How long a setup link works.
const SETUP_LINK_HOURS: i64 = 24;

impl Service {
    /// Whether anyone has an account yet.
    pub async fn has_users(&self) -> ServiceResult<bool> {
        Ok(self.store.has_users().await?)
    }

    pub async fn create_user(
        &self,
        actor: Actor<'_>,
        email: &str,
        name: Option<&str>,
        password: &str,
        role: Role,
    ) -> ServiceResult<User> {
        Self::authorize_admin(actor)?;
        let user = new_user(email, name, password, role, self.now_ms()).await?;
        self.store
            .create_user(user, &self.audit(actor))
            .await
            .map_err(conflict_to_message)
    }

    /// Switches a person off (their sessions end at once, and their open
    /// inboxes close within a second) or on again.
    #[tracing::instrument(name = "set user active", skip_all, fields(active = active))]
    pub async fn set_user_active(
        &self,
        actor: Actor<'_>,
        email: &str,
        active: bool,
    ) -> ServiceResult<User> {
        Self::authorize_admin(actor)?;
        let email = normalize_email(email);
        let user = self
            .store
            .set_user_active(&email, active, &self.audit(actor))
            .await
            .map_err(|error| match error {
                StoreError::Conflict(why) => ServiceError::Conflict(why),
                other => other.into(),
            })?
            .ok_or_else(|| ServiceError::UnknownUser(email.clone()))?;
        Ok(user)
    }

    /// Ends every session of a person ("sign out everywhere"); returns how
    /// many there were.
    pub async fn end_sessions(&self, actor: Actor<'_>, email: &str) -> ServiceResult<u64> {
        Self::authorize_admin(actor)?;
        let email = normalize_email(email);
        self.store
            .end_sessions(&email, &self.audit(actor))
            .await?
            .ok_or(ServiceError::UnknownUser(email))
    }

    /// API keys revoked after `since` (a value this returned before): (key
    /// id, the new `since`).
    pub async fn keys_revoked_since(&self, since: i64) -> ServiceResult<Vec<(String, i64)>> {
        Ok(self.store.keys_revoked_since(since).await?)
    }

    /// People whose sessions were ended after `since` (a value this
    /// returned before): (user id, the new `since`).
    pub async fn access_changed_since(&self, since: i64) -> ServiceResult<Vec<(String, i64)>> {
        Ok(self.store.access_changed_since(since).await?)
    }

    /// With no accounts yet: a one-time token for a setup link that creates
    /// the first admin from the browser (valid for a day, on every
    /// instance). None once an account exists.
    pub async fn open_first_start_setup(&self) -> ServiceResult<Option<String>> {
        if self.store.has_users().await? {
            return Ok(None);
        }
        let token = ids::new_session_token();
        let expires_at = self.now_ms() + SETUP_LINK_HOURS * 3_600_000;
        let kept = self
            .store
            .create_setup_token(&ids::sha256_hex(token.as_bytes()), expires_at)
            .await?;
        Ok(kept.then_some(token))
    }

    /// The address of the setup page for `token`.
    pub fn setup_link(&self, token: &str) -> String {
        format!("{}/setup?token={token}", self.config.public_url)
    }

    /// Creates the first admin through a setup link. The token works once,
    /// and only while there is no account at all.
    pub async fn setup_first_admin(
        &self,
        token: &str,
        email: &str,
        name: Option<&str>,
        password: &str,
    ) -> ServiceResult<User> {
        let invalid_link = || {
            ServiceError::Forbidden(
                "this setup link is not valid (used, expired or mistyped): get a new one with \
                 `holdpoint admin setup-link`, or use `holdpoint admin create-user`"
                    .to_owned(),
            )
        };
        let token_hash = ids::sha256_hex(token.as_bytes());
        // Checked before the (slow, on purpose) password hashing, so a
        // made-up token costs the server nothing.
        if !self
            .store
            .setup_token_live(&token_hash, self.now_ms())
            .await?
        {
            return Err(invalid_link());
        }
        let user = new_user(email, name, password, Role::Admin, self.now_ms()).await?;
        match self
            .store
            .create_first_user(user, &token_hash, self.now_ms())
            .await?
        {
            FirstUser::Created(user) => Ok(user),
            FirstUser::InvalidToken => Err(invalid_link()),
            FirstUser::AlreadySetUp => Err(ServiceError::Conflict(
                "Holdpoint is already set up: sign in instead".to_owned(),
            )),
        }
    }
}

/// Whether a (normalized) email could be an account's: something@something,
/// on one line, of a sane length. Anything else is refused before it
/// reaches the database.
/// Whether an account could have this email (`normalize_email`d): no
/// account holds a bidirectional control or a zero-width character, so a
/// sign-in with one is neither checked nor written into the audit log.
pub fn plausible_email(email: &str) -> bool {
    email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && refuse_deceptive(email, "the email", "invalid_email").is_ok()
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
}

/// Emails are stored, and looked up, in this form: the stores compare them
/// exactly, so every way in (accounts, sign-in, routing) must agree on it.
pub fn normalize_email(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// Validates a new account and hashes its password.
async fn new_user(
    email: &str,
    name: Option<&str>,
    password: &str,
    role: Role,
    now_ms: i64,
) -> ServiceResult<NewUser> {
    let mut user = new_account(email, name, role, now_ms)?;
    user.password_hash = password_hash(password).await?;
    Ok(user)
}

/// Validates a new account's email and name; it has no password yet (an
/// empty hash, which no password matches).
pub(super) fn new_account(
    email: &str,
    name: Option<&str>,
    role: Role,
    now_ms: i64,
) -> ServiceResult<NewUser> {
    let email = normalize_email(email);
    if !plausible_email(&email) {
        return Err(invalid(
            "invalid_email",
            format!("{email:?} is not an email address"),
        ));
    }
    let name = match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => valid_name(name)?,
        None => email.split('@').next().unwrap_or_default().to_owned(),
    };
    refuse_deceptive(&email, "the email", "invalid_email").map_err(ServiceError::Invalid)?;
    Ok(NewUser {
        id: ids::new_id("usr", now_ms),
        password_hash: String::new(),
        email,
        name,
        role,
        created_at: now_ms,
    })
}

/// A person's display name: at most 100 characters on one line, nothing
/// that displays differently from what it says.
pub(super) fn valid_name(name: &str) -> ServiceResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(invalid(
            "invalid_name",
            "a name is 1-100 characters on one line",
        ));
    }
    refuse_deceptive(name, "the name", "invalid_name").map_err(ServiceError::Invalid)?;
    Ok(name.to_owned())
}

/// The argon2id hash of a new password of at least 8 characters.
pub(super) async fn password_hash(password: &str) -> ServiceResult<String> {
    if password.chars().count() < 8 {
        return Err(invalid(
            "weak_password",
            "the password must have at least 8 characters",
        ));
    }
    Ok(crate::server::password::hash_password(password).await)
}
