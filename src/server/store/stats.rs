//! The numbers of the Stats page. Rollups (decision times by dimension,
//! day and bucket; outcomes by day and kind; delivery attempts by day and
//! endpoint) are counted in the transaction of each change, so reading a
//! window costs a few thousand rows whatever the number of approvals; a
//! view narrowed three ways, or to the last 24 hours, counts the approvals
//! themselves, through the index on `decided_at`, grouped by the database
//! (decision times put in their buckets in SQL). Rollups are rebuilt from the approvals and the attempt log
//! when `stats_state` asks (the first start after they were added).

use super::StoreResult;
use crate::server::domain::stats::{
    Backlog, DecisionStats, DeliveryStats, FailingEndpoint, Histogram, StatsFilter, StatsNames,
};
use async_trait::async_trait;

/// Reading the statistics.
#[async_trait]
pub trait StatsStore {
    /// Decisions from the rollups of these scopes (summed: they hold
    /// disjoint approvals), from UTC day `since_day` (all with None).
    async fn rolled_up_stats(
        &self,
        scopes: &[String],
        since_day: Option<i64>,
    ) -> StoreResult<DecisionStats>;
    /// Decisions counted from the approvals themselves.
    async fn counted_stats(&self, filter: &StatsFilter) -> StoreResult<DecisionStats>;
    /// Decision times of one route and kind (`route|kind`) since a day.
    async fn route_kind_latency(&self, route_kind: &str, since_day: i64) -> StoreResult<Histogram>;
    /// What is pending now, narrowed by kind, agent, approver or group.
    async fn backlog(&self, filter: &StatsFilter, now: i64) -> StoreResult<Backlog>;
    /// Pending approvals on the same route created before `created_at`,
    /// counted up to [`PENDING_AHEAD_LIMIT`].
    async fn pending_ahead(
        &self,
        approver_id: Option<&str>,
        group_id: Option<&str>,
        created_at: i64,
    ) -> StoreResult<u64>;
    async fn delivery_stats(&self, since_day: Option<i64>) -> StoreResult<DeliveryStats>;
    async fn failing_endpoints(&self) -> StoreResult<Vec<FailingEndpoint>>;
    /// People, groups and keys by id, and every action kind decided.
    async fn stats_names(&self) -> StoreResult<StatsNames>;
    /// Counts the rollups again from the approvals and the attempt log,
    /// if `stats_state` asks; returns whether it did.
    async fn rebuild_rollups_if_pending(&self) -> StoreResult<bool>;
}

/// The most pending approvals ahead of one that are counted.
pub const PENDING_AHEAD_LIMIT: i64 = 1_000;

/// Rows written per multi-row insert of a rebuild.
pub(super) const REBUILD_CHUNK: usize = 500;

/// Approvals read per page while rebuilding.
pub(super) const REBUILD_PAGE: i64 = 5_000;

/// The columns a decided approval is counted from.
pub(super) const SELECT_DECIDED: &str =
    "SELECT id, status, action, api_key_id, approver_id, group_id, decided_by, created_at,
         decided_at
     FROM approvals";

macro_rules! stats_sql {
    ($store:ty, $db:ty, $row:ty, $conn:ty) => {
        /// One decided approval, read with [`SELECT_DECIDED`].
        fn decided_from_row(row: &$row) -> Result<DecidedApprovals, sqlx::Error> {
            let created_at: i64 = row.try_get("created_at")?;
            let decided_at: i64 = row.try_get("decided_at")?;
            Ok(DecidedApprovals {
                day: day_of(decided_at),
                bucket: bucket_of(decided_at - created_at),
                count: 1,
                ..alike_from_row(row)?
            })
        }

        /// Decided approvals alike, as [`StatsStore::counted_stats`] groups them.
        fn decided_alike_from_row(row: &$row) -> Result<DecidedApprovals, sqlx::Error> {
            let count: i64 = row.try_get("n")?;
            Ok(DecidedApprovals {
                day: row.try_get("day")?,
                bucket: row.try_get("bucket")?,
                count: count as u64,
                ..alike_from_row(row)?
            })
        }

        /// What decided approvals are alike in, with no day or time yet.
        fn alike_from_row(row: &$row) -> Result<DecidedApprovals, sqlx::Error> {
            Ok(DecidedApprovals {
                outcome: row.try_get("status")?,
                kind: row.try_get("action")?,
                api_key_id: row.try_get("api_key_id")?,
                approver_id: row.try_get("approver_id")?,
                group_id: row.try_get("group_id")?,
                decided_by: row.try_get("decided_by")?,
                day: 0,
                bucket: 0,
                count: 0,
            })
        }

        /// An approval that just left `pending`, as the rollups count it.
        fn decided_of(
            record: &ApprovalRecord,
            decided_by: Option<&str>,
            at: i64,
        ) -> DecidedApprovals {
            DecidedApprovals {
                outcome: record.status.as_str().to_owned(),
                kind: record.action.clone(),
                api_key_id: record.api_key_id.clone(),
                approver_id: record.route.approver_id.clone(),
                group_id: record.route.group_id.clone(),
                decided_by: decided_by.map(str::to_owned),
                day: day_of(at),
                bucket: bucket_of(at - record.created_at),
                count: 1,
            }
        }

        /// Adds counts to the rollup rows, creating those not there yet.
        async fn write_rollups(conn: &mut $conn, counts: &RollupCounts) -> StoreResult<()> {
            let latency: Vec<_> = counts.latency.iter().collect();
            for chunk in latency.chunks(REBUILD_CHUNK) {
                let mut query: QueryBuilder<$db> = QueryBuilder::new(
                    "INSERT INTO latency_rollup (scope, dimension, day, value, bucket, decisions) ",
                );
                query.push_values(chunk, |mut row, ((scope, dimension, day, value, bucket), n)| {
                    row.push_bind(scope.clone())
                        .push_bind(dimension.as_str())
                        .push_bind(*day)
                        .push_bind(value.clone())
                        .push_bind(*bucket)
                        .push_bind(**n as i64);
                });
                query.push(
                    " ON CONFLICT (scope, dimension, day, value, bucket)
                      DO UPDATE SET decisions = latency_rollup.decisions + excluded.decisions",
                );
                query.build().execute(&mut *conn).await?;
            }
            let outcomes: Vec<_> = counts.outcomes.iter().collect();
            for chunk in outcomes.chunks(REBUILD_CHUNK) {
                let mut query: QueryBuilder<$db> = QueryBuilder::new(
                    "INSERT INTO outcome_rollup (scope, day, kind, outcome, approvals) ",
                );
                query.push_values(chunk, |mut row, ((scope, day, kind, outcome), n)| {
                    row.push_bind(scope.clone())
                        .push_bind(*day)
                        .push_bind(kind.clone())
                        .push_bind(outcome.clone())
                        .push_bind(**n as i64);
                });
                query.push(
                    " ON CONFLICT (scope, day, kind, outcome)
                      DO UPDATE SET approvals = outcome_rollup.approvals + excluded.approvals",
                );
                query.build().execute(&mut *conn).await?;
            }
            Ok(())
        }

        /// Counts a delivery attempt into the rollups, in the transaction
        /// that logs it: `first` when it is the message's first attempt,
        /// `first_success_after` (ms since the message was made) when it is
        /// its first success.
        async fn count_attempt_in_rollups(
            conn: &mut $conn,
            attempt: &AttemptRecord,
            first: bool,
            first_success_after: Option<i64>,
        ) -> StoreResult<()> {
            let day = day_of(attempt.attempted_at);
            let success = matches!(attempt.next, NextStep::Delivered);
            sqlx::query(
                "INSERT INTO delivery_rollup (day, endpoint_id, attempts, successes, messages)
                 VALUES ($1, $2, 1, $3, $4)
                 ON CONFLICT (day, endpoint_id) DO UPDATE SET
                     attempts = delivery_rollup.attempts + 1,
                     successes = delivery_rollup.successes + excluded.successes,
                     messages = delivery_rollup.messages + excluded.messages",
            )
            .bind(day)
            .bind(&attempt.endpoint_id)
            .bind(i64::from(success))
            .bind(i64::from(first))
            .execute(&mut *conn)
            .await?;
            if let Some(after) = first_success_after {
                sqlx::query(
                    "INSERT INTO latency_rollup (scope, dimension, day, value, bucket, decisions)
                     VALUES ('', 'delivery', $1, $2, $3, 1)
                     ON CONFLICT (scope, dimension, day, value, bucket)
                     DO UPDATE SET decisions = latency_rollup.decisions + 1",
                )
                .bind(day)
                .bind(&attempt.endpoint_id)
                .bind(bucket_of(after))
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        }

        /// `AND scope IN (...)`: never empty ('' is every approval's scope,
        /// so an empty list is given a scope no row has).
        fn push_scopes(query: &mut QueryBuilder<'_, $db>, scopes: &[String]) {
            query.push(" AND scope IN (");
            if scopes.is_empty() {
                query.push("'none:'");
            }
            let mut list = query.separated(", ");
            for scope in scopes {
                list.push_bind(scope.clone());
            }
            query.push(")");
        }

        /// `AND day >= $n` when there is a start.
        fn push_since_day(query: &mut QueryBuilder<'_, $db>, since_day: Option<i64>) {
            if let Some(day) = since_day {
                query.push(" AND day >= ").push_bind(day);
            }
        }

        /// Narrows a query of pending or decided approvals.
        fn push_stats_filter(query: &mut QueryBuilder<'_, $db>, filter: &StatsFilter) {
            match filter.kind.as_deref() {
                Some("") => {
                    query.push(" AND action IS NULL");
                }
                Some(kind) => {
                    query.push(" AND action = ").push_bind(kind.to_owned());
                }
                None => {}
            }
            if let Some(keys) = &filter.api_key_ids {
                // '' is no key's id: the list is never empty.
                query.push(" AND api_key_id IN (''");
                for key in keys {
                    query.push(", ").push_bind(key.clone());
                }
                query.push(")");
            }
            if let Some(group) = &filter.group_id {
                query.push(" AND group_id = ").push_bind(group.clone());
            }
        }

        #[async_trait]
        impl StatsStore for $store {
            async fn rolled_up_stats(
                &self,
                scopes: &[String],
                since_day: Option<i64>,
            ) -> StoreResult<DecisionStats> {
                let mut stats = DecisionStats::default();
                // One dimension at a time: each reads a range of the primary
                // key (scope, dimension, day, ...), where a list of
                // dimensions leads SQLite to scan every day of them.
                for dimension in [
                    Dimension::All,
                    Dimension::Approver,
                    Dimension::Group,
                    Dimension::Kind,
                    Dimension::Agent,
                ] {
                    let mut query: QueryBuilder<$db> = QueryBuilder::new(
                        "SELECT value, bucket, CAST(SUM(decisions) AS BIGINT) AS n
                         FROM latency_rollup WHERE dimension = ",
                    );
                    query.push_bind(dimension.as_str());
                    push_scopes(&mut query, scopes);
                    push_since_day(&mut query, since_day);
                    query.push(" GROUP BY value, bucket");
                    for row in query.build().fetch_all(&self.reader).await? {
                        let n: i64 = row.try_get("n")?;
                        stats
                            .latency
                            .entry((dimension, row.try_get("value")?))
                            .or_default()
                            .add_bucket(row.try_get("bucket")?, n as u64);
                    }
                }

                let mut query: QueryBuilder<$db> = QueryBuilder::new(
                    "SELECT day, bucket, CAST(SUM(decisions) AS BIGINT) AS n FROM latency_rollup
                     WHERE dimension = 'all'",
                );
                push_scopes(&mut query, scopes);
                push_since_day(&mut query, since_day);
                query.push(" GROUP BY day, bucket");
                for row in query.build().fetch_all(&self.reader).await? {
                    let n: i64 = row.try_get("n")?;
                    stats
                        .by_day
                        .entry(row.try_get("day")?)
                        .or_default()
                        .add_bucket(row.try_get("bucket")?, n as u64);
                }

                let mut query: QueryBuilder<$db> = QueryBuilder::new(
                    "SELECT kind, outcome, CAST(SUM(approvals) AS BIGINT) AS n FROM outcome_rollup
                     WHERE 1 = 1",
                );
                push_scopes(&mut query, scopes);
                push_since_day(&mut query, since_day);
                query.push(" GROUP BY kind, outcome");
                for row in query.build().fetch_all(&self.reader).await? {
                    let outcome: String = row.try_get("outcome")?;
                    let n: i64 = row.try_get("n")?;
                    stats
                        .outcomes
                        .entry(row.try_get("kind")?)
                        .or_default()
                        .add(&outcome, n as u64);
                }
                Ok(stats)
            }

            async fn counted_stats(&self, filter: &StatsFilter) -> StoreResult<DecisionStats> {
                use futures_util::TryStreamExt;
                let mut query: QueryBuilder<$db> = QueryBuilder::new(format!(
                    "SELECT status, action, api_key_id, approver_id, group_id, decided_by, day,
                         {} AS bucket, COUNT(*) AS n
                     FROM (SELECT status, action, api_key_id, approver_id, group_id,
                               decided_by, decided_at / {DAY_MS} AS day,
                               decided_at - created_at AS latency
                           FROM approvals",
                    bucket_sql("latency")
                ));
                query.push(" WHERE decided_at IS NOT NULL");
                if let Some(since) = filter.since {
                    query.push(" AND decided_at >= ").push_bind(since);
                }
                push_stats_filter(&mut query, filter);
                if let Some(person) = &filter.approver_id {
                    query.push(" AND decided_by = ").push_bind(person.clone());
                }
                query.push(
                    ") AS decided
                     GROUP BY status, action, api_key_id, approver_id, group_id, decided_by,
                         day, bucket",
                );
                let mut stats = DecisionStats::default();
                let mut rows = query.build().fetch(&self.reader);
                while let Some(row) = rows.try_next().await? {
                    stats.add(&decided_alike_from_row(&row)?);
                }
                Ok(stats)
            }

            async fn route_kind_latency(
                &self,
                route_kind: &str,
                since_day: i64,
            ) -> StoreResult<Histogram> {
                let rows: Vec<(i64, i64)> = sqlx::query_as(
                    "SELECT bucket, CAST(SUM(decisions) AS BIGINT) FROM latency_rollup
                     WHERE scope = '' AND dimension = 'route_kind' AND value = $1 AND day >= $2
                     GROUP BY bucket",
                )
                .bind(route_kind)
                .bind(since_day)
                .fetch_all(&self.reader)
                .await?;
                let mut histogram = Histogram::default();
                for (bucket, n) in rows {
                    histogram.add_bucket(bucket, n as u64);
                }
                Ok(histogram)
            }

            async fn backlog(&self, filter: &StatsFilter, now: i64) -> StoreResult<Backlog> {
                let narrow = |query: &mut QueryBuilder<'_, $db>| {
                    push_stats_filter(query, filter);
                    if let Some(person) = &filter.approver_id {
                        query.push(" AND approver_id = ").push_bind(person.clone());
                    }
                };
                let mut query: QueryBuilder<$db> = QueryBuilder::new(format!(
                    "SELECT approver_id, group_id, COUNT(*) AS n, MIN(created_at) AS oldest
                     FROM {} WHERE status = 'pending'",
                    <$store>::PENDING_BY_ROUTE
                ));
                narrow(&mut query);
                query.push(" GROUP BY approver_id, group_id");
                let mut backlog = Backlog::default();
                for row in query.build().fetch_all(&self.reader).await? {
                    let n: i64 = row.try_get("n")?;
                    let oldest: i64 = row.try_get("oldest")?;
                    backlog.pending += n as u64;
                    backlog.oldest_created_at =
                        Some(backlog.oldest_created_at.map_or(oldest, |o| o.min(oldest)));
                    backlog.by_route.push((
                        row.try_get("approver_id")?,
                        row.try_get("group_id")?,
                        n as u64,
                    ));
                }
                let mut query: QueryBuilder<$db> = QueryBuilder::new(format!(
                    "SELECT COUNT(*) FROM {} WHERE status = 'pending' AND expires_at <= ",
                    <$store>::PENDING_BY_DEADLINE
                ));
                query.push_bind(now + 3_600_000);
                narrow(&mut query);
                let expiring: i64 = query.build_query_scalar().fetch_one(&self.reader).await?;
                backlog.expiring_within_hour = expiring as u64;
                Ok(backlog)
            }

            async fn pending_ahead(
                &self,
                approver_id: Option<&str>,
                group_id: Option<&str>,
                created_at: i64,
            ) -> StoreResult<u64> {
                // Counted up to a bound: a create must not pay for a backlog
                // of any length.
                let mut query: QueryBuilder<$db> = QueryBuilder::new(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM approvals WHERE status = 'pending'",
                );
                match (approver_id, group_id) {
                    (Some(person), _) => {
                        query.push(" AND approver_id = ").push_bind(person.to_owned());
                    }
                    (None, Some(group)) => {
                        query
                            .push(" AND approver_id IS NULL AND group_id = ")
                            .push_bind(group.to_owned());
                    }
                    (None, None) => {
                        query.push(" AND approver_id IS NULL AND group_id IS NULL");
                    }
                }
                query
                    .push(" AND created_at < ")
                    .push_bind(created_at)
                    .push(" LIMIT ")
                    .push_bind(PENDING_AHEAD_LIMIT)
                    .push(") AS ahead");
                let ahead: i64 = query.build_query_scalar().fetch_one(&self.reader).await?;
                Ok(ahead as u64)
            }

            async fn delivery_stats(&self, since_day: Option<i64>) -> StoreResult<DeliveryStats> {
                let mut query: QueryBuilder<$db> = QueryBuilder::new(
                    "SELECT CAST(SUM(attempts) AS BIGINT), CAST(SUM(successes) AS BIGINT),
                         CAST(SUM(messages) AS BIGINT)
                     FROM delivery_rollup WHERE 1 = 1",
                );
                push_since_day(&mut query, since_day);
                let (attempts, successes, messages): (Option<i64>, Option<i64>, Option<i64>) =
                    query.build_query_as().fetch_one(&self.reader).await?;
                let mut query: QueryBuilder<$db> = QueryBuilder::new(
                    "SELECT bucket, CAST(SUM(decisions) AS BIGINT) FROM latency_rollup
                     WHERE scope = '' AND dimension = 'delivery'",
                );
                push_since_day(&mut query, since_day);
                query.push(" GROUP BY bucket");
                let mut first_success = Histogram::default();
                let rows: Vec<(i64, i64)> = query.build_query_as().fetch_all(&self.reader).await?;
                for (bucket, n) in rows {
                    first_success.add_bucket(bucket, n as u64);
                }
                Ok(DeliveryStats {
                    attempts: attempts.unwrap_or(0) as u64,
                    successes: successes.unwrap_or(0) as u64,
                    messages: messages.unwrap_or(0) as u64,
                    first_success,
                })
            }

            async fn failing_endpoints(&self) -> StoreResult<Vec<FailingEndpoint>> {
                let rows = sqlx::query(
                    "SELECT k.name, e.url, e.failure_streak, e.disabled_reason, e.last_success_at
                     FROM webhook_endpoints e JOIN api_keys k ON k.id = e.api_key_id
                     WHERE e.failure_streak > 0 OR e.disabled_at IS NOT NULL
                     ORDER BY e.failure_streak DESC, k.name",
                )
                .fetch_all(&self.reader)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(FailingEndpoint {
                            agent: row.try_get("name")?,
                            url: row.try_get("url")?,
                            failure_streak: row.try_get("failure_streak")?,
                            disabled_reason: row.try_get("disabled_reason")?,
                            last_success_at: row.try_get("last_success_at")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(Into::into)
            }

            async fn stats_names(&self) -> StoreResult<StatsNames> {
                Ok(StatsNames {
                    people: sqlx::query_as("SELECT id, email FROM users ORDER BY email")
                        .fetch_all(&self.reader)
                        .await?,
                    people_names: sqlx::query_as("SELECT id, name FROM users ORDER BY email")
                        .fetch_all(&self.reader)
                        .await?,
                    groups: sqlx::query_as("SELECT id, name FROM approver_groups ORDER BY name")
                        .fetch_all(&self.reader)
                        .await?,
                    keys: sqlx::query_as("SELECT id, name FROM api_keys ORDER BY name")
                        .fetch_all(&self.reader)
                        .await?,
                    kinds: sqlx::query_scalar(
                        "SELECT DISTINCT kind FROM outcome_rollup
                         WHERE scope = '' AND kind <> '' ORDER BY kind",
                    )
                    .fetch_all(&self.reader)
                    .await?,
                })
            }

            async fn rebuild_rollups_if_pending(&self) -> StoreResult<bool> {
                let mut tx = self.writer.begin().await?;
                // Locks the flag first: of instances starting together, one
                // rebuilds and the others find it done.
                let pending: bool = sqlx::query_scalar(
                    "UPDATE stats_state SET rebuild_pending = rebuild_pending WHERE id = 1
                     RETURNING rebuild_pending",
                )
                .fetch_one(&mut *tx)
                .await?;
                if !pending {
                    return Ok(false);
                }
                for table in ["latency_rollup", "outcome_rollup", "delivery_rollup"] {
                    sqlx::query(&format!("DELETE FROM {table}"))
                        .execute(&mut *tx)
                        .await?;
                }
                let mut counts = RollupCounts::default();
                let mut after = String::new();
                loop {
                    let rows = sqlx::query(&format!(
                        "{} WHERE status <> 'pending' AND id > $1 ORDER BY id LIMIT $2",
                        crate::server::store::stats::SELECT_DECIDED
                    ))
                    .bind(&after)
                    .bind(REBUILD_PAGE)
                    .fetch_all(&mut *tx)
                    .await?;
                    let Some(last) = rows.last() else { break };
                    after = last.try_get("id")?;
                    for row in &rows {
                        counts.add(&decided_from_row(row)?);
                    }
                }
                let firsts: Vec<(String, i64, i64)> = sqlx::query_as(
                    "SELECT m.endpoint_id, m.created_at, MIN(a.attempted_at)
                     FROM webhook_messages m
                     JOIN webhook_attempts a ON a.message_id = m.id
                         AND a.status_code BETWEEN 200 AND 299
                     GROUP BY m.id, m.endpoint_id, m.created_at",
                )
                .fetch_all(&mut *tx)
                .await?;
                for (endpoint, created_at, delivered_at) in firsts {
                    let key = (
                        String::new(),
                        Dimension::Delivery,
                        day_of(delivered_at),
                        endpoint,
                        bucket_of(delivered_at - created_at),
                    );
                    *counts.latency.entry(key).or_default() += 1;
                }
                write_rollups(&mut tx, &counts).await?;
                sqlx::query(
                    "INSERT INTO delivery_rollup (day, endpoint_id, attempts, successes, messages)
                     SELECT a.attempted_at / 86400000, m.endpoint_id, COUNT(*),
                         SUM(CASE WHEN a.status_code BETWEEN 200 AND 299 THEN 1 ELSE 0 END),
                         SUM(CASE WHEN a.id = (SELECT MIN(f.id) FROM webhook_attempts f
                                               WHERE f.message_id = a.message_id)
                                  THEN 1 ELSE 0 END)
                     FROM webhook_attempts a JOIN webhook_messages m ON m.id = a.message_id
                     GROUP BY a.attempted_at / 86400000, m.endpoint_id",
                )
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE stats_state SET rebuild_pending = FALSE WHERE id = 1")
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }
        }
    };
}

pub(crate) use stats_sql;
