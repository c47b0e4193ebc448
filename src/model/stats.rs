//! What the Stats page shows, and the expected wait told to agents: types
//! shared by the server, which computes them, and the browser, which draws
//! them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How long a person is likely to take on an approval like this one: the
/// p50 and p90 of recent decision times on the same route (person, group or
/// anyone) for the same action kind, and how many pending approvals on that
/// route are ahead of it. Null in an answer when there is too little
/// history (fewer than [`ExpectedDecision::MIN_HISTORY`] decisions in
/// [`ExpectedDecision::HISTORY_DAYS`] days).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ExpectedDecision {
    pub p50_seconds: f64,
    pub p90_seconds: f64,
    /// Decisions the figures come from.
    pub based_on: u64,
    /// Over how many days back.
    pub window_days: i64,
    /// Pending approvals on the same route created before this one,
    /// counted up to 1,000.
    pub pending_ahead: u64,
}

impl ExpectedDecision {
    pub const MIN_HISTORY: u64 = 10;
    pub const HISTORY_DAYS: i64 = 30;
}

/// The span of time the Stats page counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum StatsWindow {
    #[serde(rename = "24h")]
    Day,
    #[default]
    #[serde(rename = "7d")]
    Week,
    #[serde(rename = "30d")]
    Month,
    #[serde(rename = "90d")]
    Quarter,
    #[serde(rename = "all")]
    All,
}

impl StatsWindow {
    pub const ALL: [StatsWindow; 5] = [
        StatsWindow::Day,
        StatsWindow::Week,
        StatsWindow::Month,
        StatsWindow::Quarter,
        StatsWindow::All,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StatsWindow::Day => "24h",
            StatsWindow::Week => "7d",
            StatsWindow::Month => "30d",
            StatsWindow::Quarter => "90d",
            StatsWindow::All => "all",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            StatsWindow::Day => "24 hours",
            StatsWindow::Week => "7 days",
            StatsWindow::Month => "30 days",
            StatsWindow::Quarter => "90 days",
            StatsWindow::All => "All time",
        }
    }

    pub fn parse(raw: &str) -> Option<StatsWindow> {
        StatsWindow::ALL.into_iter().find(|w| w.as_str() == raw)
    }

    /// Its length in days; None for all time.
    pub fn days(self) -> Option<i64> {
        match self {
            StatsWindow::Day => Some(1),
            StatsWindow::Week => Some(7),
            StatsWindow::Month => Some(30),
            StatsWindow::Quarter => Some(90),
            StatsWindow::All => None,
        }
    }
}

/// The filters of the Stats page (each also in the address).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsQuery {
    pub window: StatsWindow,
    /// An action kind; "none" for approvals without one.
    pub kind: Option<String>,
    /// An agent's (API key's) name.
    pub agent: Option<String>,
    /// The email of the person who decided.
    pub approver: Option<String>,
    /// A group's name.
    pub group: Option<String>,
}

/// Percentiles of decision times, in milliseconds (None with no decisions).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub decisions: u64,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// One bar of the histogram: decisions that took from `start_ms` up to
/// `end_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistogramBar {
    pub start_ms: f64,
    pub end_ms: f64,
    pub decisions: u64,
}

/// A row of a breakdown (per approver, group, kind or agent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyRow {
    pub name: String,
    pub latency: Latency,
}

/// A day of the trend (UTC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendPoint {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub latency: Latency,
}

/// How the approvals of one action kind ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeRow {
    pub kind: String,
    pub approved: u64,
    pub denied: u64,
    pub expired: u64,
    pub cancelled: u64,
}

impl OutcomeRow {
    pub fn total(&self) -> u64 {
        self.approved + self.denied + self.expired + self.cancelled
    }

    /// A count as a share of the total, in percent.
    pub fn rate(&self, count: u64) -> f64 {
        match self.total() {
            0 => 0.0,
            total => 100.0 * count as f64 / total as f64,
        }
    }
}

/// Pending approvals on one route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BacklogRow {
    /// A person's email, a group's name, or "Anyone".
    pub route: String,
    pub pending: u64,
}

/// What is waiting now.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BacklogView {
    pub pending: u64,
    pub oldest_created_at: Option<DateTime<Utc>>,
    pub expiring_within_hour: u64,
    pub by_approver: Vec<BacklogRow>,
    pub by_group: Vec<BacklogRow>,
    /// Routed to nobody in particular.
    pub unrouted: u64,
}

/// An endpoint whose last attempts failed, or that is disabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailingEndpointView {
    pub agent: String,
    pub url: String,
    pub failure_streak: i64,
    pub disabled_reason: Option<String>,
    pub last_success_at: Option<DateTime<Utc>>,
}

/// Webhook deliveries over the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WebhookHealth {
    pub attempts: u64,
    pub successes: u64,
    pub messages: u64,
    /// Time from a message's creation to its first 2xx.
    pub first_delivery: Latency,
    pub failing: Vec<FailingEndpointView>,
}

impl WebhookHealth {
    /// Successful attempts, in percent; None with no attempts.
    pub fn success_rate(&self) -> Option<f64> {
        (self.attempts > 0).then(|| 100.0 * self.successes as f64 / self.attempts as f64)
    }

    pub fn attempts_per_message(&self) -> Option<f64> {
        (self.messages > 0).then(|| self.attempts as f64 / self.messages as f64)
    }
}

/// The values the filters offer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsChoices {
    pub kinds: Vec<String>,
    pub agents: Vec<String>,
    pub approvers: Vec<String>,
    pub groups: Vec<String>,
}

/// Everything the Stats page shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsView {
    pub query: StatsQuery,
    /// Counted from this time (None: from the beginning).
    pub since: Option<DateTime<Utc>>,
    /// Whether the window was counted from whole UTC days (the rollups),
    /// which start at midnight UTC, rather than from the exact time.
    pub whole_days: bool,
    pub latency: Latency,
    pub histogram: Vec<HistogramBar>,
    pub by_approver: Vec<LatencyRow>,
    pub by_group: Vec<LatencyRow>,
    pub by_kind: Vec<LatencyRow>,
    pub by_agent: Vec<LatencyRow>,
    pub trend: Vec<TrendPoint>,
    pub backlog: BacklogView,
    pub outcomes: Vec<OutcomeRow>,
    pub webhooks: WebhookHealth,
    /// The largest relative error of a percentile (histogram buckets).
    pub bucket_error: f64,
    pub choices: StatsChoices,
    pub computed_at: DateTime<Utc>,
}
