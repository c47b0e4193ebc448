//! Policies, the sampled review queue, the re-raise guard's lookup, and
//! the evidence beside the policies. Every change to a policy and every
//! review writes its audit entry in its own transaction.

use super::StoreResult;
use crate::server::domain::{
    Audit, EvidenceCounts, PolicyRecord, RepeatedDenial, ReviewRecord, SampleVerdict, StreakCounts,
};
use async_trait::async_trait;

#[async_trait]
pub trait PolicyStore {
    /// Every policy, with its agent's name.
    async fn policies(&self) -> StoreResult<Vec<PolicyRecord>>;
    async fn policy(&self, id: &str) -> StoreResult<Option<PolicyRecord>>;
    /// Creates the policy, or replaces the one with its id; its audit entry
    /// holds the policy before and after (and `note`, e.g. the suggestion
    /// it came from). A name in use is a `Conflict`.
    async fn save_policy(
        &self,
        policy: &PolicyRecord,
        note: Option<&str>,
        audit: &Audit,
    ) -> StoreResult<PolicyRecord>;
    /// False when there was no such policy.
    async fn delete_policy(&self, id: &str, audit: &Audit) -> StoreResult<bool>;
    /// The latest denial, at or after `since`, of a request of this agent
    /// (from any of its keys, rotated or revoked) with this action kind and
    /// data (`repeat_hash`).
    async fn recent_denial(
        &self,
        agent: &str,
        repeat_hash: &str,
        since: i64,
    ) -> StoreResult<Option<RepeatedDenial>>;
    /// The oldest waiting reviews (up to `limit`), and the latest reviewed.
    async fn review_queue(&self, limit: i64)
        -> StoreResult<(Vec<ReviewRecord>, Vec<ReviewRecord>)>;
    /// Confirms or flags a waiting review. A flag puts its policy back to
    /// gate (if it still samples), in the same transaction. None when it
    /// is not waiting (reviewed already, or never sampled).
    async fn review_sample(
        &self,
        approval_id: &str,
        reviewer_id: &str,
        verdict: &SampleVerdict,
        audit: &Audit,
    ) -> StoreResult<Option<ReviewRecord>>;
    /// Flags no admin has put away yet, newest first.
    async fn unacknowledged_flags(&self) -> StoreResult<Vec<ReviewRecord>>;
    /// Puts a flag's notice away; false when there was none to put away.
    async fn acknowledge_flag(&self, approval_id: &str, audit: &Audit) -> StoreResult<bool>;
    /// People's decisions since `since`, by kind and agent.
    async fn evidence_counts(&self, since: i64) -> StoreResult<Vec<EvidenceCounts>>;
    /// Approvals by people since each kind's (or kind and agent's) last
    /// denial or flag in sampled review: `by_agent` groups by agent too.
    async fn streaks(&self, by_agent: bool) -> StoreResult<Vec<StreakCounts>>;
    /// The latest denial reasons since `since`, newest first: (kind,
    /// agent, reason).
    async fn latest_denials(
        &self,
        since: i64,
        limit: i64,
    ) -> StoreResult<Vec<(String, String, String)>>;
}

macro_rules! policy_sql {
    ($store:ty, $db:ty, $row:ty, $conn:ty) => {
        const SELECT_POLICY: &str = "SELECT p.id, p.name, p.action_pattern, p.agent,
                (p.agent IS NULL OR EXISTS (SELECT 1 FROM api_keys k
                    WHERE k.name = p.agent AND k.revoked_at IS NULL)) AS agent_live,
                p.condition, p.mode, p.sample_percent, p.deny_reason,
                p.deny_repeats, p.reverted_note, p.created_at, p.updated_at
            FROM policies p";

        const SELECT_REVIEW: &str = "SELECT r.approval_id, a.title, a.action, k.name AS agent,
                r.policy_id, r.policy_name, r.state, u.name AS reviewer, r.note,
                r.approved_at, r.reviewed_at, r.acknowledged_at
            FROM sampled_reviews r
            JOIN approvals a ON a.id = r.approval_id
            LEFT JOIN api_keys k ON k.id = a.api_key_id
            LEFT JOIN users u ON u.id = r.reviewer_id";

        fn policy_from_row(row: &$row) -> Result<PolicyRecord, sqlx::Error> {
            PolicyRow::from_row(row)?.try_into()
        }

        fn review_from_row(row: &$row) -> Result<ReviewRecord, sqlx::Error> {
            ReviewRow::from_row(row)?.try_into()
        }

        async fn policy_by_id(conn: &mut $conn, id: &str) -> StoreResult<Option<PolicyRecord>> {
            let row = sqlx::query(&format!("{SELECT_POLICY} WHERE p.id = $1"))
                .bind(id)
                .fetch_optional(conn)
                .await?;
            Ok(row.as_ref().map(policy_from_row).transpose()?)
        }

        /// The audit entry of a policy's change: before and after.
        fn policy_change_entry(
            kind: &str,
            before: Option<&PolicyRecord>,
            after: Option<&PolicyRecord>,
            note: Option<&str>,
            audit: &Audit,
        ) -> NewAuditEntry {
            let id = after.or(before).map(|p| p.id.clone()).unwrap_or_default();
            let mut detail = serde_json::json!({
                "before": before.map(PolicyRecord::snapshot),
                "after": after.map(PolicyRecord::snapshot),
            });
            if let Some(note) = note {
                detail["suggestion"] = serde_json::Value::String(note.to_owned());
            }
            NewAuditEntry {
                at: audit.at,
                kind: kind.to_owned(),
                actor: audit.actor.clone(),
                approval_id: None,
                subject: Some(format!("policy:{id}")),
                detail: Some(detail.to_string()),
            }
        }

        #[async_trait]
        impl PolicyStore for $store {
            async fn policies(&self) -> StoreResult<Vec<PolicyRecord>> {
                let rows = sqlx::query(SELECT_POLICY).fetch_all(&self.reader).await?;
                Ok(rows
                    .iter()
                    .map(policy_from_row)
                    .collect::<Result<_, _>>()?)
            }

            async fn policy(&self, id: &str) -> StoreResult<Option<PolicyRecord>> {
                let mut conn = self.reader.acquire().await?;
                policy_by_id(&mut conn, id).await
            }

            async fn save_policy(
                &self,
                policy: &PolicyRecord,
                note: Option<&str>,
                audit: &Audit,
            ) -> StoreResult<PolicyRecord> {
                let mut tx = self.writer.begin().await?;
                let before = policy_by_id(&mut tx, &policy.id).await?;
                let written = if before.is_some() {
                    sqlx::query(
                        "UPDATE policies SET name = $2, action_pattern = $3, agent = $4,
                             condition = $5, mode = $6, sample_percent = $7, deny_reason = $8,
                             deny_repeats = $9, reverted_note = NULL, updated_at = $10
                         WHERE id = $1",
                    )
                } else {
                    sqlx::query(
                        "INSERT INTO policies (id, name, action_pattern, agent, condition,
                             mode, sample_percent, deny_reason, deny_repeats, created_at,
                             updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
                    )
                }
                .bind(&policy.id)
                .bind(&policy.name)
                .bind(&policy.action_pattern)
                .bind(&policy.agent)
                .bind(&policy.condition)
                .bind(policy.mode.as_str())
                .bind(i32::from(policy.sample_percent))
                .bind(&policy.deny_reason)
                .bind(policy.deny_repeats)
                .bind(audit.at)
                .execute(&mut *tx)
                .await;
                match written {
                    Err(error) if is_unique_violation(&error) => {
                        return Err(StoreError::Conflict(format!(
                            "a policy named {}",
                            policy.name
                        )))
                    }
                    other => other?,
                };
                let after = policy_by_id(&mut tx, &policy.id)
                    .await?
                    .ok_or(sqlx::Error::RowNotFound)?;
                let kind = if before.is_some() {
                    "policy_changed"
                } else {
                    "policy_created"
                };
                let entry = policy_change_entry(kind, before.as_ref(), Some(&after), note, audit);
                insert_audit_entry(&mut tx, &entry).await?;
                tx.commit().await?;
                Ok(after)
            }

            async fn delete_policy(&self, id: &str, audit: &Audit) -> StoreResult<bool> {
                let mut tx = self.writer.begin().await?;
                let Some(before) = policy_by_id(&mut tx, id).await? else {
                    return Ok(false);
                };
                sqlx::query("DELETE FROM policies WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let entry = policy_change_entry("policy_deleted", Some(&before), None, None, audit);
                insert_audit_entry(&mut tx, &entry).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn recent_denial(
                &self,
                agent: &str,
                repeat_hash: &str,
                since: i64,
            ) -> StoreResult<Option<RepeatedDenial>> {
                let row: Option<(String, i64, Option<String>, Option<String>)> = sqlx::query_as(
                    "SELECT a.id, a.decided_at,
                         COALESCE(u.name, 'policy:' || a.decided_by_policy), a.reason
                     FROM approvals a LEFT JOIN users u ON u.id = a.decided_by
                     WHERE a.api_key_id IN (SELECT k.id FROM api_keys k WHERE k.name = $1)
                         AND a.repeat_hash = $2 AND a.status = 'denied' AND a.decided_at >= $3
                     ORDER BY a.decided_at DESC LIMIT 1",
                )
                .bind(agent)
                .bind(repeat_hash)
                .bind(since)
                .fetch_optional(&self.reader)
                .await?;
                Ok(row.map(|(id, denied_at, denied_by, reason)| RepeatedDenial {
                    id,
                    denied_at,
                    denied_by,
                    reason,
                }))
            }

            async fn review_queue(
                &self,
                limit: i64,
            ) -> StoreResult<(Vec<ReviewRecord>, Vec<ReviewRecord>)> {
                let waiting = sqlx::query(&format!(
                    "{SELECT_REVIEW} WHERE r.state = 'waiting'
                     ORDER BY r.approved_at, r.approval_id LIMIT $1"
                ))
                .bind(limit)
                .fetch_all(&self.reader)
                .await?;
                let reviewed = sqlx::query(&format!(
                    "{SELECT_REVIEW} WHERE r.state <> 'waiting'
                     ORDER BY r.reviewed_at DESC, r.approval_id LIMIT $1"
                ))
                .bind(limit)
                .fetch_all(&self.reader)
                .await?;
                let read = |rows: Vec<$row>| -> Result<Vec<ReviewRecord>, sqlx::Error> {
                    rows.iter().map(review_from_row).collect()
                };
                Ok((read(waiting)?, read(reviewed)?))
            }

            async fn review_sample(
                &self,
                approval_id: &str,
                reviewer_id: &str,
                verdict: &SampleVerdict,
                audit: &Audit,
            ) -> StoreResult<Option<ReviewRecord>> {
                let mut tx = self.writer.begin().await?;
                let (state, note) = match verdict {
                    SampleVerdict::Confirm => (ReviewState::Confirmed, None),
                    SampleVerdict::Flag(reason) => (ReviewState::Flagged, Some(reason.clone())),
                };
                let policy_id: Option<String> = sqlx::query_scalar(
                    "UPDATE sampled_reviews SET state = $2, reviewer_id = $3, note = $4,
                         reviewed_at = $5
                     WHERE approval_id = $1 AND state = 'waiting'
                     RETURNING policy_id",
                )
                .bind(approval_id)
                .bind(state.as_str())
                .bind(reviewer_id)
                .bind(&note)
                .bind(audit.at)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(policy_id) = policy_id else {
                    return Ok(None);
                };
                let mut entries = vec![NewAuditEntry {
                    at: audit.at,
                    kind: format!("sample_{}", state.as_str()),
                    actor: audit.actor.clone(),
                    approval_id: Some(approval_id.to_owned()),
                    subject: Some(format!("policy:{policy_id}")),
                    detail: note.clone(),
                }];
                if let SampleVerdict::Flag(reason) = verdict {
                    let before = policy_by_id(&mut tx, &policy_id).await?;
                    let reverted = sqlx::query(
                        "UPDATE policies SET mode = 'gate', reverted_note = $2, updated_at = $3
                         WHERE id = $1 AND mode = 'sample'",
                    )
                    .bind(&policy_id)
                    .bind(format!("flagged in sampled review ({approval_id}): {reason}"))
                    .bind(audit.at)
                    .execute(&mut *tx)
                    .await?;
                    if reverted.rows_affected() > 0 {
                        let after = policy_by_id(&mut tx, &policy_id).await?;
                        entries.push(policy_change_entry(
                            "policy_reverted",
                            before.as_ref(),
                            after.as_ref(),
                            None,
                            audit,
                        ));
                    }
                }
                insert_audit_entries(&mut tx, &entries).await?;
                let review = sqlx::query(&format!("{SELECT_REVIEW} WHERE r.approval_id = $1"))
                    .bind(approval_id)
                    .fetch_one(&mut *tx)
                    .await?;
                let review = review_from_row(&review)?;
                tx.commit().await?;
                Ok(Some(review))
            }

            async fn unacknowledged_flags(&self) -> StoreResult<Vec<ReviewRecord>> {
                let rows = sqlx::query(&format!(
                    "{SELECT_REVIEW} WHERE r.state = 'flagged' AND r.acknowledged_at IS NULL
                     ORDER BY r.reviewed_at DESC LIMIT 20"
                ))
                .fetch_all(&self.reader)
                .await?;
                Ok(rows
                    .iter()
                    .map(review_from_row)
                    .collect::<Result<_, _>>()?)
            }

            async fn acknowledge_flag(&self, approval_id: &str, audit: &Audit) -> StoreResult<bool> {
                let mut tx = self.writer.begin().await?;
                let done = sqlx::query(
                    "UPDATE sampled_reviews SET acknowledged_at = $2
                     WHERE approval_id = $1 AND state = 'flagged' AND acknowledged_at IS NULL",
                )
                .bind(approval_id)
                .bind(audit.at)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    > 0;
                if done {
                    let entry = NewAuditEntry {
                        at: audit.at,
                        kind: "flag_acknowledged".to_owned(),
                        actor: audit.actor.clone(),
                        approval_id: Some(approval_id.to_owned()),
                        subject: None,
                        detail: None,
                    };
                    insert_audit_entry(&mut tx, &entry).await?;
                }
                tx.commit().await?;
                Ok(done)
            }

            async fn evidence_counts(&self, since: i64) -> StoreResult<Vec<EvidenceCounts>> {
                let rows: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
                    "SELECT COALESCE(a.action, ''), k.name, COUNT(*),
                         CAST(SUM(CASE WHEN a.status = 'approved' THEN 1 ELSE 0 END) AS BIGINT),
                         CAST(SUM(a.decided_at - a.created_at) AS BIGINT)
                     FROM approvals a JOIN api_keys k ON k.id = a.api_key_id
                     WHERE a.status IN ('approved', 'denied') AND a.decided_by IS NOT NULL
                         AND a.decided_at >= $1
                     GROUP BY COALESCE(a.action, ''), k.name",
                )
                .bind(since)
                .fetch_all(&self.reader)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(action, agent, decided, approved, total_ms)| EvidenceCounts {
                        action,
                        agent,
                        decided: decided.max(0) as u64,
                        approved: approved.max(0) as u64,
                        total_decision_ms: total_ms.max(0) as u64,
                    })
                    .collect())
            }

            async fn streaks(&self, by_agent: bool) -> StoreResult<Vec<StreakCounts>> {
                let (agent, join_agent) = if by_agent {
                    ("k.name", " AND d.agent = k.name")
                } else {
                    ("''", "")
                };
                let group_agent = if by_agent { ", agent" } else { "" };
                // PostgreSQL refuses a constant in GROUP BY.
                let group_by_agent = if by_agent { ", k.name" } else { "" };
                let rows: Vec<(String, String, i64, Option<i64>, Option<i64>, i64)> =
                    sqlx::query_as(&format!(
                        "WITH setbacks (action, agent, at) AS (
                             SELECT COALESCE(a.action, ''), k.name, a.decided_at
                             FROM approvals a JOIN api_keys k ON k.id = a.api_key_id
                             WHERE a.status = 'denied'
                             UNION ALL
                             SELECT COALESCE(a.action, ''), k.name, r.reviewed_at
                             FROM sampled_reviews r JOIN approvals a ON a.id = r.approval_id
                             JOIN api_keys k ON k.id = a.api_key_id
                             WHERE r.state = 'flagged'
                         ),
                         last_denial AS (
                             SELECT action{group_agent}, MAX(at) AS at
                             FROM setbacks
                             GROUP BY action{group_agent}
                         )
                         SELECT COALESCE(a.action, ''), {agent}, COUNT(*), MIN(a.decided_at),
                             MAX(a.decided_at), COUNT(DISTINCT a.decided_by)
                         FROM approvals a JOIN api_keys k ON k.id = a.api_key_id
                         LEFT JOIN last_denial d ON d.action = COALESCE(a.action, ''){join_agent}
                         WHERE a.status = 'approved' AND a.decided_by IS NOT NULL
                             AND a.decided_at > COALESCE(d.at, -1)
                         GROUP BY COALESCE(a.action, ''){group_by_agent}"
                    ))
                    .fetch_all(&self.reader)
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|(action, agent, streak, first, last, approvers)| StreakCounts {
                        action,
                        agent: (!agent.is_empty()).then_some(agent),
                        streak: streak.max(0) as u64,
                        first_at: first.unwrap_or_default(),
                        last_at: last.unwrap_or_default(),
                        approvers: approvers.max(0) as u64,
                    })
                    .collect())
            }

            async fn latest_denials(
                &self,
                since: i64,
                limit: i64,
            ) -> StoreResult<Vec<(String, String, String)>> {
                Ok(sqlx::query_as(
                    "SELECT COALESCE(a.action, ''), k.name, a.reason
                     FROM approvals a JOIN api_keys k ON k.id = a.api_key_id
                     WHERE a.status = 'denied' AND a.decided_at >= $1 AND a.reason IS NOT NULL
                     ORDER BY a.decided_at DESC LIMIT $2",
                )
                .bind(since)
                .bind(limit)
                .fetch_all(&self.reader)
                .await?)
            }
        }
    };
}

pub(crate) use policy_sql;
