//! Signing in and out. A session is a random token the browser keeps in a
//! cookie (see `http::session`); the store keeps only its SHA-256.

use super::accounts::{normalize_email, plausible_email};
use super::{Service, ServiceError, ServiceResult};
use crate::server::domain::{ids, User};
use crate::server::password::decoy_hash;
use crate::server::signin_throttle::Locked;
use std::net::IpAddr;

/// How long a session lasts.
pub const SESSION_DAYS: i64 = 14;

/// A successful sign-in: who, and the token for their cookie.
#[derive(Debug)]
pub struct SignedIn {
    pub user: User,
    pub session_token: String,
}

impl Service {
    /// Checks credentials and opens a session; None for a wrong email or
    /// password. `address` is the client's, for the per-address throttle.
    #[tracing::instrument(name = "sign in", skip_all)]
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        address: Option<IpAddr>,
    ) -> ServiceResult<Option<SignedIn>> {
        let email = normalize_email(email);
        if !plausible_email(&email) {
            // No account can have it: nothing to check, nothing to count.
            return Ok(None);
        }
        let throttle = &self.signin_throttle;
        let attempt = throttle.reserve(&email, address).map_err(locked_error)?;
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
        let Some(account) = found.filter(|account| account.user.active && password_ok) else {
            // The reservation stands: this was a failure.
            drop(attempt);
            return Ok(None);
        };
        throttle.succeeded(attempt);
        let session_token = self.open_session(&account.user).await?;
        Ok(Some(SignedIn {
            user: account.user,
            session_token,
        }))
    }

    /// Opens a session for `user`; returns the token for the cookie.
    pub async fn open_session(&self, user: &User) -> ServiceResult<String> {
        let token = ids::new_session_token();
        let now = self.now_ms();
        let expires_at = now + SESSION_DAYS * 86_400_000;
        self.store
            .create_session(
                &ids::sha256_hex(token.as_bytes()),
                &user.id,
                expires_at,
                now,
            )
            .await?;
        Ok(token)
    }

    /// Ends the session with this token.
    pub async fn sign_out(&self, session_token: &str) -> ServiceResult<()> {
        Ok(self
            .store
            .delete_session(&ids::sha256_hex(session_token.as_bytes()))
            .await?)
    }

    /// The active person behind an unexpired session token.
    pub async fn session_user(&self, session_token: &str) -> ServiceResult<Option<User>> {
        Ok(self
            .store
            .session_user(&ids::sha256_hex(session_token.as_bytes()), self.now_ms())
            .await?)
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
