//! The agent's side of an approval: create, read, wait, list, cancel.

use super::error::{Missing, ServiceError, ServiceResult};
use super::{policies, writer_stopped, Service};
use crate::model::{ActionKind, Approval, ApprovalPage, Status, Title};
use crate::server::domain::{
    ids, ApiKey, ApprovalFilter, ApprovalRecord, Destination, InsertOutcome, KeyIdentity,
    NewApproval, Order, RequestFacts, Transition, TransitionOutcome,
};
use crate::server::sanitize::sanitize_preview;
use crate::server::store::StoreError;
use crate::server::wait_room::Woke;
use std::time::Duration;

/// A validated create request, before the approver is looked up.
#[derive(Debug, Clone)]
pub struct CreateApproval {
    pub title: Title,
    pub body_html: String,
    pub data: serde_json::Map<String, serde_json::Value>,
    pub action: Option<ActionKind>,
    pub approver_email: Option<String>,
    pub group_name: Option<String>,
    pub expires_in: Option<Duration>,
}

/// A created approval, or the first one again for a retried request.
#[derive(Debug)]
pub struct Created {
    pub approval: Approval,
    /// The request's Idempotency-Key was seen before: nothing new was made.
    pub replayed: bool,
}

impl Service {
    /// Creates an approval. With an idempotency key (and the hash of the
    /// request it came with), a retry returns the first approval; the bool
    /// says whether this was such a replay.
    #[tracing::instrument(name = "create approval", skip_all, fields(key = %key.name))]
    pub async fn create(
        &self,
        key: &KeyIdentity,
        request: CreateApproval,
        idempotency: Option<(String, String)>,
    ) -> ServiceResult<Created> {
        self.creates
            .take(&key.id)
            .map_err(|retry_after_secs| ServiceError::RateLimited {
                detail: format!(
                    "this API key is creating approvals faster than {}/s (bursts of {}): \
                     slow down",
                    self.config.create_rate.per_second, self.config.create_rate.burst
                ),
                retry_after_secs,
            })?;
        let destination = match self
            .named_route(
                request.approver_email.as_deref(),
                request.group_name.as_deref(),
            )
            .await?
        {
            Some(route) => Destination::Named(route),
            None => Destination::KeyDefault,
        };
        let created_at = self.now_ms();
        let expires_in = request.expires_in.unwrap_or(self.config.default_expiry);
        let action = request.action.as_ref().map(|a| a.as_str());
        let data = serde_json::Value::Object(request.data);
        let data_json = data.to_string();
        let repeat_hash = policies::repeat_hash(action, &data_json);
        let window = self.config.policies.repeat_window.as_millis() as i64;
        let repeats = self
            .store
            .recent_denial(&key.name, &repeat_hash, created_at.saturating_sub(window))
            .await?;
        let facts = RequestFacts {
            action,
            title: request.title.as_str(),
            agent: &key.name,
            data: &data,
        };
        let verdict = self
            .verdict_for(&facts, repeats.as_ref(), created_at)
            .await?;
        let new = NewApproval {
            id: ids::new_id("apr", created_at),
            api_key_id: key.id.clone(),
            title: request.title.as_str().to_owned(),
            body_html: sanitize_preview(&request.body_html),
            data_json,
            action: request.action.map(|a| a.as_str().to_owned()),
            destination,
            created_at,
            expires_at: created_at.saturating_add(expires_in.as_millis() as i64),
            idempotency: idempotency.clone(),
            repeat_hash,
            repeat_of: repeats.map(|denial| denial.id),
            ruling: verdict.ruling,
            policy_note: verdict.policy_note,
        };
        let written = self
            .create_batches
            .submit(new)
            .await
            .map_err(writer_stopped)?;
        let written = written.map_err(|error| match error {
            StoreError::KeyRevoked => {
                self.forget_key(key);
                ServiceError::KeyRevoked
            }
            other => other.into(),
        })?;
        match written {
            InsertOutcome::Created(record) => Ok(Created {
                approval: self.to_agents_approval(record).await?,
                replayed: false,
            }),
            InsertOutcome::Replayed {
                existing,
                request_hash,
            } => {
                let same_request = idempotency.is_some_and(|(_, hash)| hash == request_hash);
                if same_request {
                    Ok(Created {
                        approval: self.to_agents_approval(existing).await?,
                        replayed: true,
                    })
                } else {
                    Err(ServiceError::IdempotencyMismatch)
                }
            }
        }
    }

    /// The stored approval with this id, if `id` has the shape of one (a
    /// malformed id is not looked up: it cannot exist, and a NUL byte is
    /// an error to PostgreSQL, not a miss).
    pub(super) async fn stored_approval(&self, id: &str) -> ServiceResult<Option<ApprovalRecord>> {
        if !ids::is_id("apr", id) {
            return Ok(None);
        }
        Ok(self.store.approval(id).await?)
    }

    async fn record_for_key(&self, key: &ApiKey, id: &str) -> ServiceResult<ApprovalRecord> {
        match self.stored_approval(id).await? {
            // Another key's approval is indistinguishable from a missing one.
            Some(record) if record.api_key_id == key.id => Ok(record),
            _ => Err(ServiceError::NotFound(Missing::Approval)),
        }
    }

    pub async fn approval_for_key(&self, key: &ApiKey, id: &str) -> ServiceResult<Approval> {
        let record = self.record_for_key(key, id).await?;
        self.to_agents_approval(record).await
    }

    /// An approval as its agent is told it: while pending, with the wait
    /// to expect.
    async fn to_agents_approval(&self, record: ApprovalRecord) -> ServiceResult<Approval> {
        let expected = self.expected_decision(&record).await?;
        let mut approval = self.to_approval(record);
        approval.expected_decision = expected;
        Ok(approval)
    }

    /// Waits until the approval leaves `pending` or `timeout` passes, woken
    /// by changes of this approval only, rather than by polling the
    /// database. A key may park at most the configured number of waits.
    #[tracing::instrument(name = "wait", skip_all, fields(key = %key.name, approval = %id))]
    pub async fn wait_for_key(
        &self,
        key: &ApiKey,
        id: &str,
        timeout: Duration,
    ) -> ServiceResult<Approval> {
        // Park before reading, so a decision between the two is not missed.
        let mut parked =
            self.waits
                .park(&key.id, id)
                .map_err(|full| ServiceError::RateLimited {
                    detail: format!(
                        "this API key already has {} waits parked: finish some, or use a webhook",
                        full.limit
                    ),
                    retry_after_secs: 1,
                })?;
        let first = self.record_for_key(key, id).await?;
        if first.status != Status::Pending {
            return self.to_agents_approval(first).await;
        }
        // Parked, a wait holds nothing of the approval: its preview and data
        // may be large, and thousands of waits may park at once.
        drop(first);
        let deadline = tokio::time::Instant::now() + timeout;
        let settled = loop {
            tokio::select! {
                // Shutting down: answer with the state as it is; the agent
                // polls again (on another instance, or after the restart).
                _ = self.stopping.cancelled() => break None,
                _ = tokio::time::sleep_until(deadline) => break None,
                woke = parked.woken() => match woke {
                    // Its own approval (parked after the key's read of it).
                    Woke::Committed(changed) if changed.status != Status::Pending => {
                        break Some(ApprovalRecord::clone(&changed))
                    }
                    Woke::Committed(_) => {}
                    Woke::Changed => {
                        let record = self.record_for_key(key, id).await?;
                        if record.status != Status::Pending {
                            break Some(record);
                        }
                    }
                    // Revoked while waiting: the agent is told at once.
                    Woke::KeyRevoked => return Err(ServiceError::KeyRevoked),
                },
            }
        };
        let record = match settled {
            Some(record) => record,
            None => self.record_for_key(key, id).await?,
        };
        self.to_agents_approval(record).await
    }

    pub async fn list_for_key(
        &self,
        key: &ApiKey,
        status: Option<Status>,
        cursor: Option<String>,
        limit: i64,
    ) -> ServiceResult<ApprovalPage> {
        let mut filter = ApprovalFilter::new(Order::NewestFirst, limit + 1);
        filter.api_key_id = Some(key.id.clone());
        filter.statuses = status.into_iter().collect();
        filter.after = cursor;
        self.page(filter, limit).await
    }

    /// Fetches one more than `limit` to learn whether a next page exists.
    async fn page(&self, filter: ApprovalFilter, limit: i64) -> ServiceResult<ApprovalPage> {
        let (records, next_cursor) = self.records_page(filter, limit).await?;
        Ok(ApprovalPage {
            items: records.into_iter().map(|r| self.to_approval(r)).collect(),
            next_cursor,
        })
    }

    /// The records of one page and the cursor of the next, if there is one.
    pub(super) async fn records_page(
        &self,
        filter: ApprovalFilter,
        limit: i64,
    ) -> ServiceResult<(Vec<ApprovalRecord>, Option<String>)> {
        let mut records = self.store.approvals(&filter).await?;
        let next_cursor = if records.len() as i64 > limit {
            records.truncate(limit as usize);
            records.last().map(|r| r.id.clone())
        } else {
            None
        };
        Ok((records, next_cursor))
    }

    #[tracing::instrument(name = "cancel", skip_all, fields(key = %key.name, approval = %id))]
    pub async fn cancel(&self, key: &ApiKey, id: &str) -> ServiceResult<Approval> {
        self.record_for_key(key, id).await?;
        let transition = Transition {
            status: Status::Cancelled,
            reason: None,
            decided_by: None,
            decided_by_policy: None,
            actor: format!("key:{}", key.id),
            at: self.now_ms(),
        };
        self.apply(id, &transition).await
    }

    pub(super) async fn apply(&self, id: &str, transition: &Transition) -> ServiceResult<Approval> {
        let written = self
            .transition_batches
            .submit((id.to_owned(), transition.clone()))
            .await
            .map_err(writer_stopped)?;
        match written? {
            TransitionOutcome::Applied(record) => Ok(self.to_approval(record)),
            TransitionOutcome::AlreadyDecided(record) => Err(ServiceError::AlreadyDecided(
                Box::new(self.to_approval(record)),
            )),
            TransitionOutcome::NotFound => Err(ServiceError::NotFound(Missing::Approval)),
        }
    }
}
