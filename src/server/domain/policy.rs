//! Policies: which requests they match (an action pattern, an agent, a CEL
//! condition), which of several matching ones wins (the most specific), and
//! what the winner rules.

use crate::model::{FieldProblem, PolicyMode, ReviewState};
use cel::common::ast::{EntryExpr, Expr, IdedExpr};
use std::cmp::Ordering;
use std::sync::Arc;

/// The request fields a condition may use.
pub const REQUEST_FIELDS: [&str; 4] = ["action", "title", "agent", "data"];

/// The longest condition an admin may write.
pub const CONDITION_MAX_CHARS: usize = 2_000;

/// A policy as stored, with its agent's name joined in.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyRecord {
    pub id: String,
    pub name: String,
    pub action_pattern: String,
    pub api_key_id: Option<String>,
    /// The live key's name (None for a policy of every agent).
    pub agent_name: Option<String>,
    pub condition: Option<String>,
    pub mode: PolicyMode,
    pub sample_percent: u8,
    pub deny_reason: Option<String>,
    pub deny_repeats: bool,
    /// Why a flag put it back to gate, while it has not been edited since.
    pub reverted_note: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl PolicyRecord {
    /// The policy as its audit entries record it.
    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "action_pattern": self.action_pattern,
            "agent": self.agent_name,
            "api_key_id": self.api_key_id,
            "condition": self.condition,
            "mode": self.mode.as_str(),
            "sample_percent": self.sample_percent,
            "deny_reason": self.deny_reason,
            "deny_repeats": self.deny_repeats,
        })
    }
}

/// A person's look at a sampled approval, after the fact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SampleVerdict {
    Confirm,
    /// It should not have gone through: why.
    Flag(String),
}

/// A sampled approval in the review queue, with its names joined in.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewRecord {
    pub approval_id: String,
    pub title: String,
    pub action: Option<String>,
    pub agent: String,
    pub policy_id: String,
    pub policy_name: String,
    pub state: ReviewState,
    pub reviewer: Option<String>,
    pub note: Option<String>,
    pub approved_at: i64,
    pub reviewed_at: Option<i64>,
    pub acknowledged_at: Option<i64>,
}

/// People's decisions on one kind from one agent in a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceCounts {
    /// "" for requests without a kind.
    pub action: String,
    pub api_key_id: String,
    pub decided: u64,
    pub approved: u64,
    /// Sum of request-to-decision times.
    pub total_decision_ms: u64,
}

/// Approvals by people since the last denial of a kind (or of a kind from
/// one agent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreakCounts {
    pub action: String,
    pub api_key_id: Option<String>,
    pub streak: u64,
    pub first_at: i64,
    pub last_at: i64,
    pub approvers: u64,
}

/// `billing.refund` (that kind), `email.*` (every kind under `email.`) or
/// `*` (every request, with a kind or without).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionPattern {
    Exact(String),
    Prefix(String),
    Any,
}

impl ActionPattern {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let segment_ok = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        };
        let problem = || {
            format!(
                "{raw:?} is not an action pattern: write a kind (billing.refund), a kind's \
                 family (email.*), or * for every request"
            )
        };
        if raw == "*" {
            return Ok(ActionPattern::Any);
        }
        if raw.len() > 100 {
            return Err(problem());
        }
        match raw.strip_suffix(".*") {
            Some(prefix) if prefix.split('.').all(segment_ok) => {
                Ok(ActionPattern::Prefix(prefix.to_owned()))
            }
            None if raw.split('.').all(segment_ok) => Ok(ActionPattern::Exact(raw.to_owned())),
            _ => Err(problem()),
        }
    }

    pub fn matches(&self, action: Option<&str>) -> bool {
        match (self, action) {
            (ActionPattern::Any, _) => true,
            (ActionPattern::Exact(kind), Some(action)) => kind == action,
            (ActionPattern::Prefix(prefix), Some(action)) => action
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.starts_with('.')),
            (_, None) => false,
        }
    }

    /// Exact kinds before families, longer families before shorter, `*`
    /// last.
    fn rank(&self) -> (u8, usize) {
        match self {
            ActionPattern::Exact(kind) => (2, kind.split('.').count()),
            ActionPattern::Prefix(prefix) => (1, prefix.split('.').count()),
            ActionPattern::Any => (0, 0),
        }
    }
}

/// A compiled CEL condition.
#[derive(Debug)]
pub struct Condition {
    program: cel::Program,
}

/// Where a condition went wrong: 1-based line and column, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl ConditionError {
    pub fn to_problem(&self) -> FieldProblem {
        FieldProblem {
            field: "condition".to_owned(),
            message: format!(
                "line {}, column {}: {}",
                self.line, self.column, self.message
            ),
        }
    }
}

/// What a condition sees of a request.
#[derive(Debug, Clone)]
pub struct RequestFacts<'a> {
    pub action: Option<&'a str>,
    pub title: &'a str,
    pub agent: &'a str,
    /// The request's `data` object.
    pub data: &'a serde_json::Value,
}

impl RequestFacts<'_> {
    /// The fields as a condition names them, for a person trying one.
    pub fn describe(&self) -> String {
        serde_json::json!({
            "action": self.action,
            "title": self.title,
            "agent": self.agent,
            "data": self.data,
        })
        .to_string()
    }
}

impl Condition {
    /// Parses `source` and checks that it names only request fields.
    pub fn compile(source: &str) -> Result<Self, ConditionError> {
        if source.chars().count() > CONDITION_MAX_CHARS {
            return Err(ConditionError {
                line: 1,
                column: CONDITION_MAX_CHARS + 1,
                message: format!("a condition has at most {CONDITION_MAX_CHARS} characters"),
            });
        }
        let program = cel::Program::compile(source).map_err(|errors| {
            let first = errors.errors.first();
            let (line, column) = first.map(|e| e.pos).unwrap_or((1, 1));
            ConditionError {
                line: line.max(1) as usize,
                column: column.max(1) as usize,
                message: first
                    .map(|e| e.msg.clone())
                    .unwrap_or_else(|| "the condition does not parse".to_owned()),
            }
        })?;
        let mut unknown = Vec::new();
        free_names(program.expression(), &mut Vec::new(), &mut unknown);
        if let Some((name, id)) = unknown
            .into_iter()
            .find(|(name, _)| !REQUEST_FIELDS.contains(&name.as_str()))
        {
            let offset = program
                .source_info()
                .offset_for(id)
                .map(|(start, _)| start as usize)
                .unwrap_or(0);
            let (line, column) = line_and_column(source, offset);
            return Err(ConditionError {
                line,
                column,
                message: format!(
                    "{name} is not a request field: a condition may use {} \
                     (the request's own data as data.<field>)",
                    REQUEST_FIELDS.join(", ")
                ),
            });
        }
        Ok(Self { program })
    }

    /// Whether the condition holds for this request. An error (a field
    /// the request lacks, a comparison of mismatched types) or a result
    /// that is not a boolean is an `Err`: the policy does not match.
    pub fn holds(&self, facts: &RequestFacts<'_>) -> Result<bool, String> {
        let mut context = cel::Context::default();
        let unconvertible =
            |name: &'static str| move |e: cel::SerializationError| format!("{name}: {e}");
        context
            .add_variable("action", facts.action)
            .map_err(unconvertible("action"))?;
        context
            .add_variable("title", facts.title)
            .map_err(unconvertible("title"))?;
        context
            .add_variable("agent", facts.agent)
            .map_err(unconvertible("agent"))?;
        // By reference: converted once into CEL's values, not copied first.
        context
            .add_variable("data", facts.data)
            .map_err(unconvertible("data"))?;
        match self.program.execute(&context) {
            Ok(cel::Value::Bool(holds)) => Ok(holds),
            Ok(other) => Err(format!("the condition gives {other:?}, not true or false")),
            Err(error) => Err(error.to_string()),
        }
    }
}

/// Identifiers the expression reads that no comprehension binds, with the
/// id of their node (for its position).
fn free_names(expr: &IdedExpr, bound: &mut Vec<String>, found: &mut Vec<(String, u64)>) {
    match &expr.expr {
        Expr::Ident(name) => {
            if !name.starts_with('@') && !bound.contains(name) {
                found.push((name.clone(), expr.id));
            }
        }
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                free_names(target, bound, found);
            }
            for arg in &call.args {
                free_names(arg, bound, found);
            }
        }
        Expr::Select(select) => free_names(&select.operand, bound, found),
        Expr::List(list) => {
            for element in &list.elements {
                free_names(element, bound, found);
            }
        }
        Expr::Map(map) => entries(&map.entries, bound, found),
        Expr::Struct(structure) => entries(&structure.entries, bound, found),
        Expr::Comprehension(comprehension) => {
            free_names(&comprehension.iter_range, bound, found);
            free_names(&comprehension.accu_init, bound, found);
            let before = bound.len();
            bound.push(comprehension.iter_var.clone());
            bound.extend(comprehension.iter_var2.clone());
            bound.push(comprehension.accu_var.clone());
            free_names(&comprehension.loop_cond, bound, found);
            free_names(&comprehension.loop_step, bound, found);
            free_names(&comprehension.result, bound, found);
            bound.truncate(before);
        }
        Expr::Literal(_) | Expr::Unspecified => {}
    }
}

fn entries(
    entries: &[cel::common::ast::IdedEntryExpr],
    bound: &mut Vec<String>,
    found: &mut Vec<(String, u64)>,
) {
    for entry in entries {
        match &entry.expr {
            EntryExpr::StructField(field) => free_names(&field.value, bound, found),
            EntryExpr::MapEntry(pair) => {
                free_names(&pair.key, bound, found);
                free_names(&pair.value, bound, found);
            }
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_and_column(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

/// A policy ready to match requests: its pattern parsed, its condition
/// compiled.
#[derive(Debug, Clone)]
pub struct ActivePolicy {
    pub record: PolicyRecord,
    pub pattern: ActionPattern,
    pub condition: Option<Arc<Condition>>,
}

impl ActivePolicy {
    /// How specific it is: the action pattern first, then an agent, then
    /// a condition. Higher is tried first.
    fn specificity(&self) -> ((u8, usize), bool, bool) {
        (
            self.pattern.rank(),
            self.record.api_key_id.is_some(),
            self.condition.is_some(),
        )
    }

    /// The order in which policies are tried: most specific first; of
    /// equally specific ones, the older first (then by name).
    pub fn try_order(a: &ActivePolicy, b: &ActivePolicy) -> Ordering {
        b.specificity()
            .cmp(&a.specificity())
            .then(a.record.created_at.cmp(&b.record.created_at))
            .then(a.record.name.cmp(&b.record.name))
    }

    /// Its place in the order, in words.
    pub fn specificity_note(&self) -> String {
        let pattern = match &self.pattern {
            ActionPattern::Exact(kind) => format!("the kind {kind}"),
            ActionPattern::Prefix(prefix) => format!("every kind under {prefix}."),
            ActionPattern::Any => "every request".to_owned(),
        };
        let mut note = pattern;
        if let Some(agent) = &self.record.agent_name {
            note.push_str(&format!(", agent {agent}"));
        } else if self.record.api_key_id.is_some() {
            note.push_str(", a revoked agent");
        }
        if self.condition.is_some() {
            note.push_str(", with a condition");
        }
        note
    }

    /// Whether its action pattern and agent cover requests of this kind
    /// from this key (None: from every agent, so only a policy for every
    /// agent does), its condition aside.
    pub fn covers(&self, action: Option<&str>, api_key_id: Option<&str>) -> bool {
        self.pattern.matches(action)
            && self
                .record
                .api_key_id
                .as_deref()
                .is_none_or(|key| Some(key) == api_key_id)
    }

    /// Whether it applies to this request (a condition that fails to
    /// evaluate does not match).
    pub fn matches(&self, api_key_id: &str, facts: &RequestFacts<'_>) -> bool {
        if !self.covers(facts.action, Some(api_key_id)) {
            return false;
        }
        match &self.condition {
            None => true,
            Some(condition) => condition.holds(facts).unwrap_or(false),
        }
    }
}

/// The policies in the order they are tried.
pub fn in_try_order(mut policies: Vec<ActivePolicy>) -> Vec<ActivePolicy> {
    policies.sort_by(ActivePolicy::try_order);
    policies
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(data: &serde_json::Value) -> RequestFacts<'_> {
        RequestFacts {
            action: Some("billing.refund"),
            title: "Refund $12",
            agent: "billing-agent",
            data,
        }
    }

    #[test]
    fn patterns_match_kinds_and_families() {
        let refund = ActionPattern::parse("billing.refund").unwrap();
        assert!(refund.matches(Some("billing.refund")));
        assert!(!refund.matches(Some("billing.refund.partial")));
        let email = ActionPattern::parse("email.*").unwrap();
        assert!(email.matches(Some("email.send")));
        assert!(email.matches(Some("email.send.bulk")));
        assert!(!email.matches(Some("emails.send")));
        assert!(!email.matches(Some("email")));
        assert!(!email.matches(None));
        assert!(ActionPattern::parse("*").unwrap().matches(None));
        for bad in ["", "Email.*", "email.*.send", "*.send", "a..b", "email*"] {
            assert!(ActionPattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn conditions_hold_on_the_request() {
        let data = serde_json::json!({"amount_cents": 900, "currency": "USD", "lines": [1, 2]});
        let small =
            Condition::compile("data.amount_cents <= 1000 && data.currency == \"USD\"").unwrap();
        assert_eq!(small.holds(&facts(&data)), Ok(true));
        let big = Condition::compile("data.amount_cents > 1000").unwrap();
        assert_eq!(big.holds(&facts(&data)), Ok(false));
        let each =
            Condition::compile("data.lines.all(l, l < 3) && agent == 'billing-agent'").unwrap();
        assert_eq!(each.holds(&facts(&data)), Ok(true));
        let missing = Condition::compile("data.country == 'DE'").unwrap();
        assert!(missing.holds(&facts(&data)).is_err());
        let not_bool = Condition::compile("data.amount_cents").unwrap();
        assert!(not_bool.holds(&facts(&data)).is_err());
    }

    #[test]
    fn conditions_are_refused_with_a_position() {
        let error = Condition::compile("data.amount_cents <= ").unwrap_err();
        assert_eq!(error.line, 1);
        assert!(error.column >= 20, "{error:?}");
        let error = Condition::compile("data.amount <= 10 &&\n  amount_cents < 5").unwrap_err();
        assert_eq!((error.line, error.column), (2, 3), "{error:?}");
        assert!(error
            .message
            .contains("amount_cents is not a request field"));
        // A comprehension's variable is not a request field, and is allowed.
        assert!(Condition::compile("data.items.exists(i, i.sku == 'x')").is_ok());
    }

    fn policy(
        name: &str,
        pattern: &str,
        key: Option<&str>,
        condition: Option<&str>,
    ) -> ActivePolicy {
        ActivePolicy {
            record: PolicyRecord {
                id: format!("pol_{name}"),
                name: name.to_owned(),
                action_pattern: pattern.to_owned(),
                api_key_id: key.map(str::to_owned),
                agent_name: key.map(str::to_owned),
                condition: condition.map(str::to_owned),
                mode: PolicyMode::Auto,
                sample_percent: 0,
                deny_reason: None,
                deny_repeats: false,
                reverted_note: None,
                created_at: 0,
                updated_at: 0,
            },
            pattern: ActionPattern::parse(pattern).unwrap(),
            condition: condition.map(|c| Arc::new(Condition::compile(c).unwrap())),
        }
    }

    #[test]
    fn the_most_specific_is_tried_first() {
        let ordered = in_try_order(vec![
            policy("everything", "*", None, None),
            policy("billing", "billing.*", None, None),
            policy("refunds", "billing.refund", None, None),
            policy(
                "small-refunds",
                "billing.refund",
                None,
                Some("data.amount < 10"),
            ),
            policy("agent-refunds", "billing.refund", Some("key_1"), None),
            policy("agent-billing", "billing.*", Some("key_1"), None),
        ]);
        let names: Vec<&str> = ordered.iter().map(|p| p.record.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "agent-refunds",
                "small-refunds",
                "refunds",
                "agent-billing",
                "billing",
                "everything"
            ]
        );
        let data = serde_json::json!({"amount": 5});
        let first = ordered
            .iter()
            .find(|p| p.matches("key_2", &facts(&data)))
            .unwrap();
        assert_eq!(first.record.name, "small-refunds");
    }
}
