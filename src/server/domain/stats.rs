//! Decision times as histograms: the buckets they are counted in (in the
//! rollup tables, kept in each decision's own transaction, and when raw
//! rows are counted), and the percentiles read back from them.
//!
//! Buckets are logarithmic, four to each doubling: bucket 0 holds times
//! under a second; bucket `b >= 1` holds `[1 s * R^(b-1), 1 s * R^b)` with
//! `R = 2^(1/4)`. A percentile is reported as its bucket's geometric middle,
//! so from a second up it is within `R^(1/2) - 1`, about 9 %, of the exact
//! value ([`BUCKET_ERROR`]).

use std::collections::BTreeMap;

/// Buckets to each doubling of time.
const PER_DOUBLING: f64 = 4.0;

/// The highest bucket: about 2^25 s, a year; anything longer is counted
/// there.
pub const LAST_BUCKET: i64 = 100;

/// The largest relative error of a percentile read from the buckets, for
/// times of a second or more.
pub const BUCKET_ERROR: f64 = 0.0905;

/// Milliseconds in a UTC day, the rollups' unit of time.
pub const DAY_MS: i64 = 86_400_000;

/// The bucket a decision time falls in.
pub fn bucket_of(latency_ms: i64) -> i64 {
    if latency_ms < 1_000 {
        return 0;
    }
    let doublings = (latency_ms as f64 / 1_000.0).log2();
    ((doublings * PER_DOUBLING).floor() as i64 + 1).min(LAST_BUCKET)
}

/// SQL that puts a decision time in milliseconds (`latency`, a column or
/// expression) in its bucket, exactly as [`bucket_of`] does: by comparing it
/// with each bucket's first millisecond, as SQLite has no logarithm. Lets
/// the database group decisions by bucket instead of returning each one.
pub fn bucket_sql(latency: &str) -> String {
    // A BIGINT, as PostgreSQL would read the numbers as INTEGER.
    let mut sql = String::from("CAST(CASE");
    for bucket in 1..=LAST_BUCKET {
        sql.push_str(&format!(
            " WHEN {latency} < {} THEN {}",
            first_ms_of(bucket),
            bucket - 1
        ));
    }
    sql.push_str(&format!(" ELSE {LAST_BUCKET} END AS BIGINT)"));
    sql
}

/// The first whole millisecond of a bucket.
fn first_ms_of(bucket: i64) -> i64 {
    bucket_start_ms(bucket).ceil() as i64
}

/// The lower edge of a bucket, in milliseconds.
pub fn bucket_start_ms(bucket: i64) -> f64 {
    if bucket <= 0 {
        return 0.0;
    }
    1_000.0 * 2f64.powf((bucket - 1) as f64 / PER_DOUBLING)
}

/// The value a bucket stands for: its geometric middle (half a second for
/// bucket 0).
pub fn bucket_middle_ms(bucket: i64) -> f64 {
    if bucket <= 0 {
        return 500.0;
    }
    1_000.0 * 2f64.powf((bucket as f64 - 0.5) / PER_DOUBLING)
}

/// The UTC day of a time (days since 1970-01-01).
pub fn day_of(at_ms: i64) -> i64 {
    at_ms.div_euclid(DAY_MS)
}

/// Decision times counted by bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    counts: BTreeMap<i64, u64>,
    total: u64,
}

impl Histogram {
    pub fn record(&mut self, latency_ms: i64) {
        self.add_bucket(bucket_of(latency_ms), 1);
    }

    pub fn add_bucket(&mut self, bucket: i64, count: u64) {
        *self.counts.entry(bucket).or_default() += count;
        self.total += count;
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (&bucket, &count) in &other.counts {
            self.add_bucket(bucket, count);
        }
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// (bucket, count), in order of bucket, the empty ones left out.
    pub fn buckets(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        self.counts.iter().map(|(&bucket, &count)| (bucket, count))
    }

    /// The `p`-th percentile (0 < p <= 100), nearest rank: the middle of
    /// the bucket holding the ceil(p% * n)-th smallest time. None when
    /// empty.
    pub fn percentile_ms(&self, p: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((p / 100.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (&bucket, &count) in &self.counts {
            seen += count;
            if seen >= rank {
                return Some(bucket_middle_ms(bucket));
            }
        }
        self.counts.keys().last().map(|&b| bucket_middle_ms(b))
    }
}

/// The outcomes of approvals, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutcomeCounts {
    pub approved: u64,
    pub denied: u64,
    pub expired: u64,
    pub cancelled: u64,
}

impl OutcomeCounts {
    pub fn add(&mut self, outcome: &str, count: u64) {
        match outcome {
            "approved" => self.approved += count,
            "denied" => self.denied += count,
            "expired" => self.expired += count,
            "cancelled" => self.cancelled += count,
            _ => {}
        }
    }

    pub fn total(&self) -> u64 {
        self.approved + self.denied + self.expired + self.cancelled
    }
}

/// What a decision is counted under, one histogram each: the rollups'
/// dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    /// Every decision (value "").
    All,
    /// The person who decided (user id).
    Approver,
    /// The group it was routed to (group id).
    Group,
    /// The action kind ("" for none).
    Kind,
    /// The API key that asked (key id).
    Agent,
    /// The route and kind together (`route|kind`), for the expected wait
    /// told to agents.
    RouteKind,
    /// Not a decision: the time from a webhook message's creation to its
    /// first 2xx, by endpoint id.
    Delivery,
}

impl Dimension {
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::All => "all",
            Dimension::Approver => "approver",
            Dimension::Group => "group",
            Dimension::Kind => "kind",
            Dimension::Agent => "agent",
            Dimension::RouteKind => "route_kind",
            Dimension::Delivery => "delivery",
        }
    }
}

/// A view narrowed to one kind, agent key, approver or group: the rollups
/// keep a scope for each (`kind:billing.refund`, `agent:KEY_ID`, ...), and
/// for each two of them together, in this order, joined by a space
/// (`kind:billing.refund agent:KEY_ID`; kinds and ids hold no spaces), so
/// such views read rollups too. Three narrowings at once are counted from
/// the approvals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Kind,
    Agent,
    Approver,
    Group,
}

impl Scope {
    /// The scope's key for `value` (a kind, "" for none, or an id).
    pub fn of(self, value: &str) -> String {
        let prefix = match self {
            Scope::Kind => "kind",
            Scope::Agent => "agent",
            Scope::Approver => "approver",
            Scope::Group => "group",
        };
        format!("{prefix}:{value}")
    }

    /// The scope of two narrowings together, given in [`Scope`]'s order.
    pub fn both(first: &str, second: &str) -> String {
        format!("{first} {second}")
    }
}

/// The route of an approval as the stats key it: `user:ID`, `group:ID`, or
/// `anyone`.
pub fn route_key(approver_id: Option<&str>, group_id: Option<&str>) -> String {
    match (approver_id, group_id) {
        (Some(user), _) => format!("user:{user}"),
        (None, Some(group)) => format!("group:{group}"),
        (None, None) => "anyone".to_owned(),
    }
}

/// Decided approvals alike in everything the stats count them by, and how
/// many: one approval as it leaves `pending`, or a group the database
/// counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecidedApprovals {
    pub outcome: String,
    pub kind: Option<String>,
    pub api_key_id: String,
    pub approver_id: Option<String>,
    pub group_id: Option<String>,
    /// The person who decided; None for expired and cancelled.
    pub decided_by: Option<String>,
    /// The UTC day they were decided on.
    pub day: i64,
    /// The bucket of their decision time.
    pub bucket: i64,
    pub count: u64,
}

impl DecidedApprovals {
    /// Whether a person decided (their time counts as a decision time).
    pub fn decided_by_a_person(&self) -> bool {
        self.decided_by.is_some() && matches!(self.outcome.as_str(), "approved" | "denied")
    }

    /// The scopes it is counted in: every approval's (""), those of the
    /// views narrowed to its kind, its agent's key, the person who decided
    /// (if one did) and its group (if it was routed to one), and those of
    /// each two of these.
    pub fn scopes(&self) -> Vec<String> {
        let mut single = vec![
            Scope::Kind.of(self.kind.as_deref().unwrap_or_default()),
            Scope::Agent.of(&self.api_key_id),
        ];
        if let Some(person) = &self.decided_by {
            single.push(Scope::Approver.of(person));
        }
        if let Some(group) = &self.group_id {
            single.push(Scope::Group.of(group));
        }
        let mut scopes = vec![String::new()];
        for (i, first) in single.iter().enumerate() {
            for second in &single[i + 1..] {
                scopes.push(Scope::both(first, second));
            }
        }
        scopes.extend(single);
        scopes
    }

    /// The (dimension, value) pairs its decision time is counted under.
    pub fn dimensions(&self) -> Vec<(Dimension, String)> {
        let kind = self.kind.clone().unwrap_or_default();
        let route = route_key(self.approver_id.as_deref(), self.group_id.as_deref());
        let mut keys = vec![
            (Dimension::All, String::new()),
            (Dimension::Kind, kind.clone()),
            (Dimension::Agent, self.api_key_id.clone()),
            (Dimension::RouteKind, format!("{route}|{kind}")),
        ];
        if let Some(person) = &self.decided_by {
            keys.push((Dimension::Approver, person.clone()));
        }
        if let Some(group) = &self.group_id {
            keys.push((Dimension::Group, group.clone()));
        }
        keys
    }
}

/// Decision times and outcomes, by dimension, by day and by kind: what the
/// Stats page is drawn from, whether read from the rollups or counted from
/// the approvals themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecisionStats {
    pub latency: BTreeMap<(Dimension, String), Histogram>,
    /// Every decision time, by UTC day.
    pub by_day: BTreeMap<i64, Histogram>,
    /// Outcomes by action kind ("" for none).
    pub outcomes: BTreeMap<String, OutcomeCounts>,
}

impl DecisionStats {
    /// Counts approvals that left `pending`.
    pub fn add(&mut self, approvals: &DecidedApprovals) {
        let kind = approvals.kind.clone().unwrap_or_default();
        self.outcomes
            .entry(kind)
            .or_default()
            .add(&approvals.outcome, approvals.count);
        if !approvals.decided_by_a_person() {
            return;
        }
        let (bucket, count) = (approvals.bucket, approvals.count);
        for key in approvals.dimensions() {
            self.latency
                .entry(key)
                .or_default()
                .add_bucket(bucket, count);
        }
        self.by_day
            .entry(approvals.day)
            .or_default()
            .add_bucket(bucket, count);
    }

    /// Every decision time.
    pub fn overall(&self) -> Histogram {
        self.latency
            .get(&(Dimension::All, String::new()))
            .cloned()
            .unwrap_or_default()
    }

    /// The histograms of one dimension, by value.
    pub fn of(&self, dimension: Dimension) -> impl Iterator<Item = (&str, &Histogram)> {
        self.latency
            .iter()
            .filter(move |((d, _), _)| *d == dimension)
            .map(|((_, value), histogram)| (value.as_str(), histogram))
    }
}

/// Which decisions to count when they are counted from the approvals
/// themselves (a filtered view, or a window the daily rollups cannot cut).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsFilter {
    /// Decided at or after, Unix ms.
    pub since: Option<i64>,
    /// The action kind ("" for approvals without one).
    pub kind: Option<String>,
    /// The keys of one agent (several when a key was rotated); empty
    /// matches nothing.
    pub api_key_ids: Option<Vec<String>>,
    /// The person who decided.
    pub approver_id: Option<String>,
    /// The group it was routed to.
    pub group_id: Option<String>,
}

impl StatsFilter {
    /// The rollup scopes that hold exactly what it narrows to: every
    /// approval's with no narrowing, one narrowing's or two narrowings'
    /// (an agent's keys' together), or None for three or four at once,
    /// which are counted from the approvals.
    pub fn scopes(&self) -> Option<Vec<String>> {
        let narrowings = [
            self.kind.as_ref().map(|kind| vec![Scope::Kind.of(kind)]),
            self.api_key_ids
                .as_ref()
                .map(|keys| keys.iter().map(|key| Scope::Agent.of(key)).collect()),
            self.approver_id
                .as_ref()
                .map(|person| vec![Scope::Approver.of(person)]),
            self.group_id
                .as_ref()
                .map(|group| vec![Scope::Group.of(group)]),
        ];
        let given: Vec<Vec<String>> = narrowings.into_iter().flatten().collect();
        match given.as_slice() {
            [] => Some(vec![String::new()]),
            [one] => Some(one.clone()),
            [first, second] => Some(
                first
                    .iter()
                    .flat_map(|a| second.iter().map(move |b| Scope::both(a, b)))
                    .collect(),
            ),
            _ => None,
        }
    }
}

/// Counts of the rollup rows, by key: what a rebuild writes back.
#[derive(Debug, Default)]
pub struct RollupCounts {
    /// (scope, dimension, day, value, bucket) -> decisions.
    pub latency: BTreeMap<(String, Dimension, i64, String, i64), u64>,
    /// (scope, day, kind, outcome) -> approvals.
    pub outcomes: BTreeMap<(String, i64, String, String), u64>,
}

impl RollupCounts {
    pub fn add(&mut self, approvals: &DecidedApprovals) {
        let (day, bucket, count) = (approvals.day, approvals.bucket, approvals.count);
        let kind = approvals.kind.clone().unwrap_or_default();
        let dimensions = approvals.dimensions();
        for scope in approvals.scopes() {
            *self
                .outcomes
                .entry((scope.clone(), day, kind.clone(), approvals.outcome.clone()))
                .or_default() += count;
            if !approvals.decided_by_a_person() {
                continue;
            }
            for (dimension, value) in &dimensions {
                // The expected wait reads every approval's scope only.
                if *dimension == Dimension::RouteKind && !scope.is_empty() {
                    continue;
                }
                *self
                    .latency
                    .entry((scope.clone(), *dimension, day, value.clone(), bucket))
                    .or_default() += count;
            }
        }
    }
}

/// What is waiting now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backlog {
    pub pending: u64,
    pub oldest_created_at: Option<i64>,
    /// Pending approvals whose deadline is within the hour.
    pub expiring_within_hour: u64,
    /// Pending approvals by route: (approver id, group id) -> count.
    pub by_route: Vec<(Option<String>, Option<String>, u64)>,
}

/// The names behind the ids the statistics are kept by, and the action
/// kinds seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsNames {
    /// (id, email)
    pub people: Vec<(String, String)>,
    /// (id, display name): how people are named to those who may not see
    /// their emails.
    pub people_names: Vec<(String, String)>,
    /// (id, name)
    pub groups: Vec<(String, String)>,
    /// (id, name); several keys of one agent share a name.
    pub keys: Vec<(String, String)>,
    pub kinds: Vec<String>,
}

impl StatsNames {
    /// The ids of an agent's keys (several after a rotation).
    pub fn key_ids(&self, agent: &str) -> Vec<String> {
        self.keys
            .iter()
            .filter(|(_, name)| name == agent)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The id of the person with this email.
    pub fn person_id(&self, email: &str) -> Option<&str> {
        self.people
            .iter()
            .find(|(_, known)| known.eq_ignore_ascii_case(email))
            .map(|(id, _)| id.as_str())
    }
}

/// How people and addresses name approvals without an action kind.
pub const NO_KIND: &str = "none";

/// The stored kind a filter's word means: "" for [`NO_KIND`].
pub fn stored_kind(word: &str) -> String {
    if word == NO_KIND {
        String::new()
    } else {
        word.to_owned()
    }
}

/// Webhook deliveries over a window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    pub attempts: u64,
    pub successes: u64,
    /// Messages attempted for the first time.
    pub messages: u64,
    /// From a message's creation to its first 2xx.
    pub first_success: Histogram,
}

/// An endpoint whose last attempts failed, or that is disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailingEndpoint {
    pub agent: String,
    pub url: String,
    pub failure_streak: i64,
    pub disabled_reason: Option<String>,
    pub last_success_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_four_to_a_doubling_from_a_second() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(999), 0);
        assert_eq!(bucket_of(1_000), 1);
        assert_eq!(bucket_of(1_188), 1);
        assert_eq!(bucket_of(1_190), 2);
        assert_eq!(bucket_of(2_000), 5);
        assert_eq!(bucket_of(4_000), 9);
        assert_eq!(bucket_of(i64::MAX), LAST_BUCKET);
        for bucket in 1..=LAST_BUCKET {
            let start = first_ms_of(bucket);
            assert_eq!(bucket_of(start), bucket, "start of {bucket}");
            assert_eq!(bucket_of(start - 1), bucket - 1, "before {bucket}");
        }
    }

    #[test]
    fn a_percentile_is_within_the_stated_error_of_the_exact_value() {
        // 1,000 decision times spread from 1 s to about 3 h.
        let times: Vec<i64> = (1..=1_000).map(|i| 1_000 + i * i * 11).collect();
        let mut histogram = Histogram::default();
        for &t in &times {
            histogram.record(t);
        }
        for p in [50.0, 90.0, 99.0] {
            let rank = (p / 100.0 * times.len() as f64).ceil() as usize;
            let exact = times[rank - 1] as f64;
            let read = histogram.percentile_ms(p).unwrap();
            let error = (read - exact).abs() / exact;
            assert!(error <= BUCKET_ERROR, "p{p}: {read} for {exact}");
        }
    }

    #[test]
    fn percentiles_of_nothing_are_none() {
        assert_eq!(Histogram::default().percentile_ms(50.0), None);
    }

    #[test]
    fn only_a_persons_decisions_count_as_decision_times() {
        let mut stats = DecisionStats::default();
        let decided = DecidedApprovals {
            outcome: "approved".into(),
            kind: Some("billing.refund".into()),
            api_key_id: "key_1".into(),
            approver_id: None,
            group_id: Some("grp_1".into()),
            decided_by: Some("usr_1".into()),
            day: 0,
            bucket: bucket_of(60_000),
            count: 2,
        };
        stats.add(&decided);
        stats.add(&DecidedApprovals {
            outcome: "expired".into(),
            decided_by: None,
            bucket: bucket_of(9_000_000),
            count: 1,
            ..decided.clone()
        });
        assert_eq!(stats.overall().total(), 2);
        let outcomes = stats.outcomes["billing.refund"];
        assert_eq!((outcomes.approved, outcomes.expired), (2, 1));
        let groups: Vec<_> = stats.of(Dimension::Group).collect();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].0, "grp_1");
        let route: Vec<_> = stats.of(Dimension::RouteKind).collect();
        assert_eq!(route[0].0, "group:grp_1|billing.refund");
    }
}
