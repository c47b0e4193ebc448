//! Sampled review: a person confirms or flags, after the fact, what a
//! sampling policy approved. A flag puts the policy back to gate at once,
//! and stays on the admins' inbox as a notice until one puts it away.

use super::people::Actor;
use super::{from_ms, Missing, Service, ServiceError, ServiceResult};
use crate::model::{Reason, ReviewItem, ReviewQueue};
use crate::server::domain::{ReviewRecord, SampleVerdict};

/// How many waiting and reviewed items the queue shows.
const QUEUE_LIMIT: i64 = 200;

impl Service {
    pub async fn review_queue(&self, actor: Actor<'_>) -> ServiceResult<ReviewQueue> {
        Self::authorize_admin(actor)?;
        let (waiting, reviewed) = self.store.review_queue(QUEUE_LIMIT).await?;
        Ok(ReviewQueue {
            waiting: waiting.into_iter().map(review_item).collect(),
            reviewed: reviewed.into_iter().map(review_item).collect(),
        })
    }

    /// Confirms a sampled approval, or flags it with a reason (which puts
    /// its policy back to gate).
    pub async fn review_sample(
        &self,
        actor: Actor<'_>,
        approval_id: &str,
        flag: Option<&str>,
    ) -> ServiceResult<ReviewItem> {
        Self::authorize_admin(actor)?;
        let Actor::Person(user) = actor else {
            return Err(ServiceError::Forbidden(
                "a sampled approval is reviewed by a person, in the browser".to_owned(),
            ));
        };
        let verdict = match flag {
            None => SampleVerdict::Confirm,
            Some(reason) => SampleVerdict::Flag(
                Reason::parse(reason)
                    .map_err(ServiceError::Invalid)?
                    .as_str()
                    .to_owned(),
            ),
        };
        let reviewed = self
            .store
            .review_sample(approval_id, &user.id, &verdict, &self.audit(actor))
            .await?
            .ok_or(ServiceError::NotFound(Missing::SampledReview))?;
        Ok(review_item(reviewed))
    }

    /// Flags no admin has put away: the inbox's notices (admins only; none
    /// for others).
    pub async fn flag_notices(&self, actor: Actor<'_>) -> ServiceResult<Vec<ReviewItem>> {
        if Self::authorize_admin(actor).is_err() {
            return Ok(Vec::new());
        }
        Ok(self
            .store
            .unacknowledged_flags()
            .await?
            .into_iter()
            .map(review_item)
            .collect())
    }

    pub async fn acknowledge_flag(&self, actor: Actor<'_>, approval_id: &str) -> ServiceResult<()> {
        Self::authorize_admin(actor)?;
        if self
            .store
            .acknowledge_flag(approval_id, &self.audit(actor))
            .await?
        {
            Ok(())
        } else {
            Err(ServiceError::NotFound(Missing::SampledReview))
        }
    }
}

fn review_item(record: ReviewRecord) -> ReviewItem {
    ReviewItem {
        approval_id: record.approval_id,
        title: record.title,
        action: record.action,
        agent: record.agent,
        policy_name: record.policy_name,
        state: record.state,
        reviewer: record.reviewer,
        note: record.note,
        approved_at: from_ms(record.approved_at),
        reviewed_at: record.reviewed_at.map(from_ms),
        acknowledged: record.acknowledged_at.is_some(),
    }
}
