//! How long decisions take: the Stats page's figures, and the expected
//! wait told to an agent with each pending approval.
//!
//! A window of whole days, unfiltered or narrowed by one or two of kind,
//! agent, approver and group, is read from the rollups (a few thousand rows
//! whatever the number of approvals); the last 24 hours, and views narrowed
//! three or four ways, are counted from the approvals decided in the
//! window.

use super::{from_ms, Service, ServiceResult};
use crate::model::{
    BacklogRow, BacklogView, ExpectedDecision, FailingEndpointView, HistogramBar, Latency,
    LatencyRow, OutcomeRow, StatsChoices, StatsQuery, StatsView, StatsWindow, TrendPoint,
    WebhookHealth,
};
use crate::server::domain::stats::{
    bucket_start_ms, day_of, route_key, stored_kind, Backlog, DecisionStats, Dimension, Histogram,
    StatsFilter, StatsNames, BUCKET_ERROR, DAY_MS, NO_KIND,
};
use crate::server::domain::{ApprovalRecord, Role, User};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// How long a route's expected wait is reused before it is read again.
const EXPECTED_FRESH_MS: i64 = 60_000;

/// Routes × kinds whose expected wait is remembered at once (kinds are the
/// agents' own words, so the number is bounded here).
const EXPECTED_CACHE_LIMIT: usize = 10_000;

/// (p50 ms, p90 ms, decisions) of a route and kind.
type RecentTimes = (f64, f64, u64);

/// The recent decision times of each route and kind, read at most once a
/// minute each: (when read, the figures if there was enough history).
#[derive(Default)]
pub(super) struct ExpectedWaits {
    by_route_kind: Mutex<HashMap<String, (i64, Option<RecentTimes>)>>,
}

impl Service {
    /// The Stats page's figures. Every signed-in person, of any role, may
    /// read them: how long decisions take is everyone's business.
    #[tracing::instrument(name = "stats", skip_all, fields(by = %by.id))]
    pub async fn stats(&self, by: &User, query: &StatsQuery) -> ServiceResult<StatsView> {
        // Everyone sees how long decisions take; people's emails and the
        // failing endpoints' URLs are for admins, as everywhere else. The
        // others see display names, and cannot narrow by an email.
        let admin = by.role == Role::Admin;
        let query = &StatsQuery {
            approver: query.approver.clone().filter(|_| admin),
            ..query.clone()
        };
        let now = self.now_ms();
        let names = self.store.stats_names().await?;
        let mut filter = filter_for(query, &names);
        let since_day = query.window.days().map(|days| day_of(now) - (days - 1));
        let scopes = filter.scopes().filter(|_| query.window != StatsWindow::Day);
        let whole_days = scopes.is_some();
        let decisions = if let Some(scopes) = scopes {
            self.store.rolled_up_stats(&scopes, since_day).await?
        } else {
            filter.since = query.window.days().map(|days| now - days * DAY_MS);
            self.store.counted_stats(&filter).await?
        };
        let since = if whole_days {
            since_day.map(|day| day * DAY_MS)
        } else {
            filter.since
        };
        let backlog = self.store.backlog(&filter, now).await?;
        let deliveries = self.store.delivery_stats(since_day).await?;
        let failing = if admin {
            self.store.failing_endpoints().await?
        } else {
            Vec::new()
        };
        let named = Names::new(&names, admin);
        Ok(StatsView {
            query: query.clone(),
            since: since.map(from_ms),
            whole_days,
            latency: latency_of(&decisions.overall()),
            histogram: histogram_bars(&decisions.overall()),
            by_approver: breakdown(&decisions, Dimension::Approver, |id| named.person(id)),
            by_group: breakdown(&decisions, Dimension::Group, |id| named.group(id)),
            by_kind: breakdown(&decisions, Dimension::Kind, kind_name),
            by_agent: breakdown(&decisions, Dimension::Agent, |id| named.key(id)),
            trend: trend(&decisions),
            backlog: backlog_view(backlog, &named),
            outcomes: decisions
                .outcomes
                .iter()
                .map(|(kind, counts)| OutcomeRow {
                    kind: kind_name(kind),
                    approved: counts.approved,
                    denied: counts.denied,
                    expired: counts.expired,
                    cancelled: counts.cancelled,
                })
                .collect(),
            webhooks: WebhookHealth {
                attempts: deliveries.attempts,
                successes: deliveries.successes,
                messages: deliveries.messages,
                first_delivery: latency_of(&deliveries.first_success),
                failing: failing
                    .into_iter()
                    .map(|endpoint| FailingEndpointView {
                        agent: endpoint.agent,
                        url: endpoint.url,
                        failure_streak: endpoint.failure_streak,
                        disabled_reason: endpoint.disabled_reason,
                        last_success_at: endpoint.last_success_at.map(from_ms),
                    })
                    .collect(),
            },
            bucket_error: BUCKET_ERROR,
            choices: choices(&names, admin),
            computed_at: from_ms(now),
        })
    }

    /// The expected wait of a pending approval; None for a decided one, or
    /// when its route and kind have too little history.
    pub(super) async fn expected_decision(
        &self,
        record: &ApprovalRecord,
    ) -> ServiceResult<Option<ExpectedDecision>> {
        if record.status != crate::model::Status::Pending {
            return Ok(None);
        }
        let route = &record.route;
        let route_kind = format!(
            "{}|{}",
            route_key(route.approver_id.as_deref(), route.group_id.as_deref()),
            record.action.as_deref().unwrap_or_default()
        );
        let Some((p50, p90, based_on)) = self.recent_decision_times(&route_kind).await? else {
            return Ok(None);
        };
        let pending_ahead = self
            .store
            .pending_ahead(
                route.approver_id.as_deref(),
                route.group_id.as_deref(),
                record.created_at,
            )
            .await?;
        Ok(Some(ExpectedDecision {
            p50_seconds: (p50 / 1_000.0).round(),
            p90_seconds: (p90 / 1_000.0).round(),
            based_on,
            window_days: ExpectedDecision::HISTORY_DAYS,
            pending_ahead,
        }))
    }

    /// (p50 ms, p90 ms, decisions) of a route and kind over the history
    /// window, from a cache at most a minute old.
    async fn recent_decision_times(&self, route_kind: &str) -> ServiceResult<Option<RecentTimes>> {
        let now = self.now_ms();
        let cached = self
            .expected_waits
            .by_route_kind
            .lock()
            .unwrap()
            .get(route_kind)
            .filter(|(read_at, _)| now - read_at < EXPECTED_FRESH_MS)
            .map(|(_, figures)| *figures);
        if let Some(figures) = cached {
            return Ok(figures);
        }
        let since_day = day_of(now) - (ExpectedDecision::HISTORY_DAYS - 1);
        let history = self.store.route_kind_latency(route_kind, since_day).await?;
        let figures = (history.total() >= ExpectedDecision::MIN_HISTORY).then(|| {
            (
                history.percentile_ms(50.0).unwrap_or_default(),
                history.percentile_ms(90.0).unwrap_or_default(),
                history.total(),
            )
        });
        let mut cache = self.expected_waits.by_route_kind.lock().unwrap();
        if cache.len() >= EXPECTED_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(route_kind.to_owned(), (now, figures));
        Ok(figures)
    }
}

/// The store's filter for a page's query: names resolved to ids. A name
/// that matches nothing gives a filter that matches nothing.
fn filter_for(query: &StatsQuery, names: &StatsNames) -> StatsFilter {
    let unknown = |wanted: &str| format!("unknown:{wanted}");
    StatsFilter {
        since: None,
        kind: query.kind.as_deref().map(stored_kind),
        api_key_ids: query.agent.as_deref().map(|agent| names.key_ids(agent)),
        approver_id: query.approver.as_deref().map(|email| {
            names
                .person_id(email)
                .map_or_else(|| unknown(email), str::to_owned)
        }),
        group_id: query.group.as_deref().map(|group| {
            names
                .groups
                .iter()
                .find(|(_, name)| name.eq_ignore_ascii_case(group))
                .map_or_else(|| unknown(group), |(id, _)| id.clone())
        }),
    }
}

fn kind_name(kind: &str) -> String {
    if kind.is_empty() {
        NO_KIND.to_owned()
    } else {
        kind.to_owned()
    }
}

struct Names<'a> {
    people: HashMap<&'a str, &'a str>,
    groups: HashMap<&'a str, &'a str>,
    keys: HashMap<&'a str, &'a str>,
}

impl<'a> Names<'a> {
    /// People by email for an admin, by display name for anyone else.
    fn new(names: &'a StatsNames, admin: bool) -> Self {
        let map = |list: &'a [(String, String)]| {
            list.iter()
                .map(|(id, name)| (id.as_str(), name.as_str()))
                .collect()
        };
        Self {
            people: map(if admin {
                &names.people
            } else {
                &names.people_names
            }),
            groups: map(&names.groups),
            keys: map(&names.keys),
        }
    }

    fn person(&self, id: &str) -> String {
        self.people.get(id).map_or(id, |n| n).to_owned()
    }

    fn group(&self, id: &str) -> String {
        self.groups.get(id).map_or(id, |n| n).to_owned()
    }

    fn key(&self, id: &str) -> String {
        self.keys.get(id).map_or(id, |n| n).to_owned()
    }
}

fn latency_of(histogram: &Histogram) -> Latency {
    Latency {
        decisions: histogram.total(),
        p50_ms: histogram.percentile_ms(50.0),
        p90_ms: histogram.percentile_ms(90.0),
        p99_ms: histogram.percentile_ms(99.0),
    }
}

/// The histogram's bars from its first to its last non-empty bucket (the
/// empty ones between included, so the axis has no holes).
fn histogram_bars(histogram: &Histogram) -> Vec<HistogramBar> {
    let counts: BTreeMap<i64, u64> = histogram.buckets().collect();
    let (Some(&first), Some(&last)) = (counts.keys().next(), counts.keys().last()) else {
        return Vec::new();
    };
    (first..=last)
        .map(|bucket| HistogramBar {
            start_ms: bucket_start_ms(bucket),
            end_ms: bucket_start_ms(bucket + 1),
            decisions: counts.get(&bucket).copied().unwrap_or(0),
        })
        .collect()
}

/// One dimension's rows by display name (the keys of one agent merged),
/// most decisions first.
fn breakdown(
    stats: &DecisionStats,
    dimension: Dimension,
    name_of: impl Fn(&str) -> String,
) -> Vec<LatencyRow> {
    let mut by_name: BTreeMap<String, Histogram> = BTreeMap::new();
    for (value, histogram) in stats.of(dimension) {
        by_name.entry(name_of(value)).or_default().merge(histogram);
    }
    let mut rows: Vec<LatencyRow> = by_name
        .into_iter()
        .map(|(name, histogram)| LatencyRow {
            name,
            latency: latency_of(&histogram),
        })
        .collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.latency.decisions));
    rows
}

fn trend(stats: &DecisionStats) -> Vec<TrendPoint> {
    stats
        .by_day
        .iter()
        .map(|(&day, histogram)| TrendPoint {
            day: from_ms(day * DAY_MS).format("%Y-%m-%d").to_string(),
            latency: latency_of(histogram),
        })
        .collect()
}

fn backlog_view(backlog: Backlog, names: &Names) -> BacklogView {
    let mut by_approver: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_group: BTreeMap<String, u64> = BTreeMap::new();
    let mut unrouted = 0;
    for (approver, group, pending) in backlog.by_route {
        match (approver, group) {
            (Some(person), _) => *by_approver.entry(names.person(&person)).or_default() += pending,
            (None, Some(group)) => *by_group.entry(names.group(&group)).or_default() += pending,
            (None, None) => unrouted += pending,
        }
    }
    let rows = |map: BTreeMap<String, u64>| {
        let mut rows: Vec<BacklogRow> = map
            .into_iter()
            .map(|(route, pending)| BacklogRow { route, pending })
            .collect();
        rows.sort_by_key(|row| std::cmp::Reverse(row.pending));
        rows
    };
    BacklogView {
        pending: backlog.pending,
        oldest_created_at: backlog.oldest_created_at.map(from_ms),
        expiring_within_hour: backlog.expiring_within_hour,
        by_approver: rows(by_approver),
        by_group: rows(by_group),
        unrouted,
    }
}

fn choices(names: &StatsNames, admin: bool) -> StatsChoices {
    let mut agents: Vec<String> = names.keys.iter().map(|(_, name)| name.clone()).collect();
    agents.dedup();
    StatsChoices {
        kinds: names.kinds.clone(),
        agents,
        approvers: names
            .people
            .iter()
            .filter(|_| admin)
            .map(|(_, email)| email.clone())
            .collect(),
        groups: names.groups.iter().map(|(_, name)| name.clone()).collect(),
    }
}
