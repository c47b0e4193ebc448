//! Exports, read a page at a time so that a million rows stream in flat
//! memory: the audit log (admins), and decided approvals with their
//! reasons, the denial reasons as data (admins, the CLI, and API keys an
//! admin has allowed).

use super::people::Actor;
use super::{from_ms, Service, ServiceError, ServiceResult};
use crate::model::Status;
use crate::server::domain::stats::stored_kind;
use crate::server::domain::{ApiKey, ApprovalRecord, DecisionFilter, User};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Rows read per query while exporting.
pub const EXPORT_PAGE: i64 = 1_000;

/// Who reads the export of decisions.
#[derive(Clone, Copy)]
pub enum DecisionReader<'a> {
    /// A person: admins only.
    Person(&'a User),
    /// An agent's key: only one an admin has allowed.
    Key(&'a ApiKey),
    /// `holdpoint export` at the server's shell.
    Command,
}

/// What to export, in the words of the person or agent asking.
#[derive(Debug, Clone, Default)]
pub struct DecisionQuery {
    /// An action kind; "none" for approvals without one.
    pub kind: Option<String>,
    /// An agent's name.
    pub agent: Option<String>,
    /// Empty: every outcome.
    pub outcomes: Vec<Status>,
    /// Decided at or after, Unix ms.
    pub since: Option<i64>,
    /// Decided before, Unix ms.
    pub until: Option<i64>,
}

/// One decided approval, as a line of the export.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DecisionLine {
    pub id: String,
    pub title: String,
    pub action: Option<String>,
    /// The name of the API key that asked.
    pub agent: String,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub outcome: Status,
    pub reason: Option<String>,
    /// The email of the person who decided (approved or denied).
    pub decided_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    /// How long the person took; null for expired and cancelled.
    pub decision_seconds: Option<f64>,
}

impl From<ApprovalRecord> for DecisionLine {
    fn from(record: ApprovalRecord) -> Self {
        let decision_seconds = record
            .decided_at
            .filter(|_| matches!(record.status, Status::Approved | Status::Denied))
            .map(|at| (at - record.created_at) as f64 / 1_000.0);
        DecisionLine {
            data: serde_json::from_str(&record.data_json)
                .unwrap_or(serde_json::Value::String(record.data_json)),
            id: record.id,
            title: record.title,
            action: record.action,
            agent: record.agent_name,
            outcome: record.status,
            reason: record.reason,
            decided_by: record.decided_by_email,
            created_at: from_ms(record.created_at),
            decided_at: record.decided_at.map(from_ms),
            decision_seconds,
        }
    }
}

impl Service {
    fn authorize_decisions(reader: DecisionReader<'_>) -> ServiceResult<()> {
        match reader {
            DecisionReader::Person(user) => Self::authorize_admin(Actor::Person(user)),
            DecisionReader::Key(key) if !key.reads_decisions => Err(ServiceError::Forbidden(
                "this API key may not read decisions: an admin can allow it on the API keys \
                 page or with `holdpoint admin allow-decisions`"
                    .to_owned(),
            )),
            DecisionReader::Key(_) | DecisionReader::Command => Ok(()),
        }
    }

    /// The store's filter for a query (an agent's name resolved to its
    /// keys), once the reader is allowed.
    pub async fn decision_filter(
        &self,
        reader: DecisionReader<'_>,
        query: &DecisionQuery,
    ) -> ServiceResult<DecisionFilter> {
        Self::authorize_decisions(reader)?;
        let api_key_ids = match &query.agent {
            Some(agent) => Some(self.store.stats_names().await?.key_ids(agent)),
            None => None,
        };
        Ok(DecisionFilter {
            kind: query.kind.as_deref().map(stored_kind),
            api_key_ids,
            outcomes: query.outcomes.clone(),
            since: query.since,
            until: query.until,
            after: None,
            limit: EXPORT_PAGE,
        })
    }

    /// The next page of decided approvals after `filter.after`.
    pub async fn decisions_page(
        &self,
        reader: DecisionReader<'_>,
        filter: &DecisionFilter,
    ) -> ServiceResult<Vec<DecisionLine>> {
        Self::authorize_decisions(reader)?;
        Ok(self
            .store
            .decided_approvals(filter)
            .await?
            .into_iter()
            .map(DecisionLine::from)
            .collect())
    }

    /// Allows (or stops) an agent's live keys reading the export of
    /// decisions.
    pub async fn set_key_reads_decisions(
        &self,
        by: Actor<'_>,
        name: &str,
        allowed: bool,
    ) -> ServiceResult<()> {
        Self::authorize_admin(by)?;
        let changed = self
            .store
            .set_key_reads_decisions(name, allowed, &self.audit(by))
            .await?;
        if changed {
            Ok(())
        } else {
            Err(ServiceError::NotFound(super::Missing::ApiKey))
        }
    }
}
