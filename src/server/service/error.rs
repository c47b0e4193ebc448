//! What can go wrong in a domain operation. Each error has a kind (what the
//! caller can do about it); both adapters, REST problems and server-function
//! errors, map every kind to a status in `http::status_of`, so a new variant
//! gets a deliberate answer rather than a default.

use crate::model::{Approval, Status, ValidationError};
use crate::server::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Invalid(ValidationError),
    #[error("no active approver has the email {0:?}")]
    UnknownApprover(String),
    #[error("no group is named {0:?}")]
    UnknownGroup(String),
    #[error("no one has the email {0:?}")]
    UnknownUser(String),
    #[error("this API key has been revoked")]
    KeyRevoked,
    #[error("this Idempotency-Key was already used with a different request body")]
    IdempotencyMismatch,
    #[error("{0}")]
    NotFound(Missing),
    #[error("{}", already_decided_detail(.0))]
    AlreadyDecided(Box<Approval>),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    /// Too many requests of one kind from one caller.
    #[error("{detail}")]
    RateLimited {
        detail: String,
        retry_after_secs: u64,
    },
    /// The server is at capacity for this kind of work right now.
    #[error("the server is busy checking other sign-ins: try again in a moment")]
    Busy { retry_after_secs: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn already_decided_detail(approval: &Approval) -> String {
    let when = approval
        .decided_at
        .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default();
    match (approval.status, &approval.decided_by) {
        (Status::Approved | Status::Denied, Some(who)) => {
            format!("already {} by {who} at {when}", approval.status)
        }
        (Status::Cancelled, _) => format!("already cancelled by the agent at {when}"),
        (status, _) => format!("already {status} at {when}"),
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// What was not there (or is not the caller's to see, which looks the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Approval,
    Session,
    ApiKey,
    WebhookMessage,
    Policy,
    SampledReview,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Missing::Approval => "no such approval",
            Missing::Session => "no such session",
            Missing::ApiKey => "no such API key",
            Missing::WebhookMessage => "no such webhook message",
            Missing::Policy => "no such policy",
            Missing::SampledReview => "no such sampled approval waiting for review",
        })
    }
}

/// What kind of failure an error is, which decides its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is wrong: fix it.
    Invalid,
    /// The caller's credentials no longer hold.
    Unauthorized,
    /// No one in the caller's position may do this.
    Forbidden,
    NotFound,
    /// The state has moved on (decided already, exists already).
    Conflict,
    /// Too many of these from this caller: wait.
    RateLimited,
    /// The server is at capacity: try again in a moment.
    Busy,
    /// Our failure, not the caller's.
    Internal,
}

impl ServiceError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ServiceError::Invalid(_)
            | ServiceError::UnknownApprover(_)
            | ServiceError::UnknownGroup(_)
            | ServiceError::UnknownUser(_)
            | ServiceError::IdempotencyMismatch => ErrorKind::Invalid,
            ServiceError::KeyRevoked => ErrorKind::Unauthorized,
            ServiceError::Forbidden(_) => ErrorKind::Forbidden,
            ServiceError::NotFound(_) => ErrorKind::NotFound,
            ServiceError::AlreadyDecided(_) | ServiceError::Conflict(_) => ErrorKind::Conflict,
            ServiceError::RateLimited { .. } => ErrorKind::RateLimited,
            ServiceError::Busy { .. } => ErrorKind::Busy,
            ServiceError::Store(_) => ErrorKind::Internal,
        }
    }

    /// Seconds the caller should wait before trying again, when known.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            ServiceError::RateLimited {
                retry_after_secs, ..
            }
            | ServiceError::Busy { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }
}
