//! What the MCP tools do to approvals, for one API key: in this process
//! (`ServiceGate`, the `/mcp` endpoint) or over the REST API
//! (`rest_gate::RestGate`, `holdpoint mcp` on stdio). Both validate exactly
//! as the REST API does and fail with its problem codes.

use crate::model::{Approval, Status};
use crate::server::domain::ApiKey;
use crate::server::http::problem::Problem;
use crate::server::rest::approvals::parse_create_fields;
use crate::server::service::{Created, Service};
use async_trait::async_trait;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// A refusal, as the REST API words it: its status, stable code and detail.
#[derive(Debug, Clone, PartialEq)]
pub struct GateError {
    pub status: u16,
    pub code: String,
    pub detail: String,
}

impl GateError {
    pub fn is_not_found(&self) -> bool {
        self.status == 404
    }
}

impl From<Problem> for GateError {
    fn from(problem: Problem) -> Self {
        GateError {
            status: problem.status.as_u16(),
            code: problem.code.to_owned(),
            detail: problem.detail,
        }
    }
}

pub type GateResult<T> = Result<T, GateError>;

#[async_trait]
pub trait ApprovalGate: Send + Sync {
    /// Creates an approval from the fields of `POST /api/v1/approvals`.
    async fn create(
        &self,
        body: Map<String, Value>,
        idempotency_key: Option<String>,
    ) -> GateResult<Approval>;
    async fn get(&self, id: &str) -> GateResult<Approval>;
    /// Answers when the approval leaves `pending`, or after `timeout` (at
    /// most `MAX_WAIT_SECS`) with it still pending.
    async fn wait(&self, id: &str, timeout: Duration) -> GateResult<Approval>;
    async fn cancel(&self, id: &str) -> GateResult<Approval>;
    /// The key's newest pending approvals (at most `PENDING_PAGE`).
    async fn pending(&self) -> GateResult<Vec<Approval>>;
}

/// How many pending approvals `ApprovalGate::pending` reads: a page of the
/// REST API's list.
pub const PENDING_PAGE: i64 = 100;

/// The approvals of one API key, in this process.
pub struct ServiceGate {
    pub service: Arc<Service>,
    pub key: ApiKey,
}

#[async_trait]
impl ApprovalGate for ServiceGate {
    async fn create(
        &self,
        body: Map<String, Value>,
        idempotency_key: Option<String>,
    ) -> GateResult<Approval> {
        let (request, request_hash) = parse_create_fields(body)?;
        let idempotency = idempotency_key.map(|key| (key, request_hash));
        let Created { approval, .. } = self
            .service
            .create(&self.key.identity(), request, idempotency)
            .await
            .map_err(Problem::from)?;
        Ok(approval)
    }

    async fn get(&self, id: &str) -> GateResult<Approval> {
        Ok(self
            .service
            .approval_for_key(&self.key, id)
            .await
            .map_err(Problem::from)?)
    }

    async fn wait(&self, id: &str, timeout: Duration) -> GateResult<Approval> {
        Ok(self
            .service
            .wait_for_key(&self.key, id, timeout)
            .await
            .map_err(Problem::from)?)
    }

    async fn cancel(&self, id: &str) -> GateResult<Approval> {
        Ok(self
            .service
            .cancel(&self.key, id)
            .await
            .map_err(Problem::from)?)
    }

    async fn pending(&self) -> GateResult<Vec<Approval>> {
        let page = self
            .service
            .list_for_key(&self.key, Some(Status::Pending), None, PENDING_PAGE)
            .await
            .map_err(Problem::from)?;
        Ok(page.items)
    }
}
