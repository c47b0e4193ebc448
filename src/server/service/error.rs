//! What can go wrong in a domain operation, as both adapters (REST and the
//! server functions) map it.

use crate::model::{Approval, Status, ValidationError};
use crate::server::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Invalid(ValidationError),
    #[error("no active approver has the email {0:?}")]
    UnknownApprover(String),
    #[error("no one has the email {0:?}")]
    UnknownUser(String),
    #[error("this API key was revoked while the request waited")]
    KeyRevoked,
    #[error("this Idempotency-Key was already used with a different request body")]
    IdempotencyMismatch,
    #[error("no such approval")]
    NotFound,
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
