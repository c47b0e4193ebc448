//! Signing in and out. A session is a random token the browser keeps in a
//! cookie (see `http::session`); the store keeps only its SHA-256.

use super::accounts::{normalize_email, password_hash, plausible_email};
use super::error::Missing;
use super::people::Actor;
use super::{Service, ServiceError, ServiceResult};
use crate::model::ValidationError;
use crate::server::domain::{ids, Audit, NewAuditEntry, SessionInfo, User};
use crate::server::password::decoy_hash;
use crate::server::signin_throttle::Locked;
use std::net::IpAddr;

/// How long a session lasts.
pub const SESSION_DAYS: i64 = 14;

/// How much of a browser's User-Agent is kept.
const MAX_DEVICE_CHARS: usize = 200;

/// A successful sign-in: who, and the token for their cookie.
#[derive(Debug)]
pub struct SignedIn {
    pub user: User,
    pub session_token: String,
    /// A device token for this browser, when it had none for this account
    /// (set it as the device cookie).
    pub new_device_token: Option<String>,
}

/// Where a sign-in comes from: the client's address (per-address limit),
/// its browser's name (the sessions list) and its device token, if any.
#[derive(Debug, Clone, Copy, Default)]
pub struct SignInFrom<'a> {
    pub address: Option<IpAddr>,
    pub user_agent: Option<&'a str>,
    pub device_token: Option<&'a str>,
}

impl Service {
    /// Checks credentials and opens a session; None for a wrong email or
    /// password. Failures are counted per address, and per account; a
    /// browser that signed in to this account before (its device token)
    /// is counted on its own instead, so guesses from elsewhere cannot lock
    /// the owner out (OWASP's device cookies).
    #[tracing::instrument(name = "sign in", skip_all)]
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        from: SignInFrom<'_>,
    ) -> ServiceResult<Option<SignedIn>> {
        let address = from.address;
        let email = normalize_email(email);
        if !plausible_email(&email) {
            // No account can have it: nothing to check, nothing to count.
            return Ok(None);
        }
        let known_device = match from.device_token {
            Some(token) => {
                let token_hash = ids::sha256_hex(token.as_bytes());
                let owner = self.store.device_account(&token_hash).await?;
                (owner.as_deref() == Some(email.as_str())).then_some(token_hash)
            }
            None => None,
        };
        let counter = match &known_device {
            // No email holds a space: the two kinds of counter never meet.
            Some(token_hash) => format!("device {token_hash}"),
            None => email.clone(),
        };
        let throttle = &self.signin_throttle;
        let attempt = throttle.reserve(&counter, address).map_err(locked_error)?;
        let found = match self.store.user_by_email(&email).await {
            Ok(found) => found,
            Err(error) => {
                throttle.not_checked(attempt);
                return Err(error.into());
            }
        };
        // Unknown emails cost the same check, so timing tells nothing.
        let hash = found
            .as_ref()
            .map_or(decoy_hash(), |account| account.password_hash.as_str());
        let password_ok = match self.password_checks.verify(password, hash).await {
            Ok(ok) => ok,
            Err(busy) => {
                throttle.not_checked(attempt);
                return Err(ServiceError::Busy {
                    retry_after_secs: busy.retry_after_secs,
                });
            }
        };
        let account = match found {
            Some(account) if account.user.active && password_ok => account,
            refused => {
                // The reservation stands: this was a failure.
                drop(attempt);
                let subject = refused.map(|account| format!("user:{}", account.user.id));
                self.record_sign_in("sign_in_failed", "anonymous", subject, &email, address)
                    .await?;
                return Ok(None);
            }
        };
        throttle.succeeded(attempt);
        let actor = format!("user:{}", account.user.id);
        self.record_sign_in("signed_in", &actor, Some(actor.clone()), &email, address)
            .await?;
        let session_token = self.open_session(&account.user, from.user_agent).await?;
        let new_device_token = match known_device {
            Some(_) => None,
            None => {
                let token = ids::new_session_token();
                let token_hash = ids::sha256_hex(token.as_bytes());
                self.store
                    .remember_device(&token_hash, &account.user.id, self.now_ms())
                    .await?;
                Some(token)
            }
        };
        Ok(Some(SignedIn {
            user: account.user,
            session_token,
            new_device_token,
        }))
    }

    /// A sign-in, or a failed one, in the audit log.
    async fn record_sign_in(
        &self,
        kind: &str,
        actor: &str,
        subject: Option<String>,
        email: &str,
        address: Option<IpAddr>,
    ) -> ServiceResult<()> {
        let from = address.map_or_else(|| "an unknown address".to_owned(), |a| a.to_string());
        let entry = NewAuditEntry {
            at: self.now_ms(),
            kind: kind.to_owned(),
            actor: actor.to_owned(),
            approval_id: None,
            subject,
            detail: Some(format!("{email} from {from}")),
        };
        Ok(self.store.append_audit(&entry).await?)
    }

    /// Opens a session for `user` from `device` (the browser's
    /// User-Agent); returns the token for the cookie.
    pub async fn open_session(&self, user: &User, device: Option<&str>) -> ServiceResult<String> {
        let token = ids::new_session_token();
        let token_hash = ids::sha256_hex(token.as_bytes());
        let now = self.now_ms();
        let expires_at = now + SESSION_DAYS * 86_400_000;
        self.store
            .create_session(&token_hash, &user.id, expires_at, now)
            .await?;
        let device = device.map(|d| d.chars().take(MAX_DEVICE_CHARS).collect::<String>());
        self.session_uses.due(&token_hash, now);
        self.store
            .touch_session(&token_hash, device.as_deref(), now)
            .await?;
        Ok(token)
    }

    /// This person's sessions, newest first; `current` is the token of the
    /// one asking, which the page marks.
    pub async fn my_sessions(&self, user: &User) -> ServiceResult<Vec<SessionInfo>> {
        Ok(self.store.sessions_of(&user.id, self.now_ms()).await?)
    }

    /// Ends one of this person's own sessions (by its id from
    /// `my_sessions`); its open inboxes close.
    pub async fn end_my_session(&self, user: &User, session_id: &str) -> ServiceResult<()> {
        if self
            .store
            .end_session_of(&user.id, session_id, self.now_ms())
            .await?
        {
            Ok(())
        } else {
            Err(ServiceError::NotFound(Missing::Session))
        }
    }

    /// Signs this person out everywhere, this browser included.
    pub async fn sign_out_everywhere(&self, user: &User) -> ServiceResult<u64> {
        Ok(self
            .store
            .end_sessions(&user.email, &self.audit(Actor::Person(user)))
            .await?
            .unwrap_or(0))
    }

    /// Replaces this person's password, given their current one. Every
    /// session ends (a new one for this browser is the caller's to open).
    pub async fn change_password(
        &self,
        user: &User,
        current: &str,
        new: &str,
    ) -> ServiceResult<()> {
        let Some(account) = self.store.user_by_email(&user.email).await? else {
            return Err(ServiceError::UnknownUser(user.email.clone()));
        };
        // Guesses of the current password from a session (a stolen one,
        // say) are limited as sign-ins are, on a counter of their own so
        // they cannot lock the owner's sign-in.
        let throttle = &self.signin_throttle;
        let attempt = throttle
            .reserve(&format!("password change of {}", user.id), None)
            .map_err(|locked| ServiceError::RateLimited {
                detail: format!(
                    "too many wrong current passwords: try again in {} min",
                    locked.retry_after_secs().div_ceil(60)
                ),
                retry_after_secs: locked.retry_after_secs(),
            })?;
        let matches = match self
            .password_checks
            .verify(current, &account.password_hash)
            .await
        {
            Ok(matches) => matches,
            Err(busy) => {
                throttle.not_checked(attempt);
                return Err(ServiceError::Busy {
                    retry_after_secs: busy.retry_after_secs,
                });
            }
        };
        if !matches {
            // The reservation stands: a failure.
            drop(attempt);
            return Err(ServiceError::Invalid(ValidationError {
                code: "wrong_password",
                detail: "that is not your current password".to_owned(),
            }));
        }
        throttle.succeeded(attempt);
        let hash = password_hash(new).await?;
        let audit = Audit {
            actor: format!("user:{}", user.id),
            at: self.now_ms(),
        };
        Ok(self.store.set_password(&user.id, &hash, &audit).await?)
    }

    /// Ends the session with this token.
    pub async fn sign_out(&self, session_token: &str) -> ServiceResult<()> {
        Ok(self
            .store
            .delete_session(&ids::sha256_hex(session_token.as_bytes()))
            .await?)
    }

    /// The active person behind an unexpired session token. Notes the
    /// session as seen, at most once a minute.
    pub async fn session_user(&self, session_token: &str) -> ServiceResult<Option<User>> {
        let token_hash = ids::sha256_hex(session_token.as_bytes());
        let now = self.now_ms();
        let user = self.store.session_user(&token_hash, now).await?;
        if user.is_some() && self.session_uses.due(&token_hash, now) {
            if let Err(error) = self.store.touch_session(&token_hash, None, now).await {
                // Only "last seen" is late; the request goes on.
                tracing::warn!(%error, "cannot note a session's use");
            }
        }
        Ok(user)
    }
}

fn locked_error(locked: Locked) -> ServiceError {
    let minutes = locked.retry_after_secs().div_ceil(60);
    let detail = match locked {
        Locked::Account { .. } => {
            format!("too many failed sign-ins for this account: try again in {minutes} min")
        }
        Locked::Address { .. } => {
            format!("too many failed sign-ins from this address: try again in {minutes} min")
        }
    };
    ServiceError::RateLimited {
        detail,
        retry_after_secs: locked.retry_after_secs(),
    }
}
