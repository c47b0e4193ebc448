//! Policies: which requests they match (an action pattern, an agent, a CEL
//! condition), which of several matching ones wins (the most specific), and
//! what the winner rules.

use super::condition::{Condition, Evaluation};
use crate::model::{PolicyMode, ReviewState};
use std::cmp::Ordering;
use std::sync::Arc;

/// A policy as stored, with its agent's name joined in.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyRecord {
    pub id: String,
    pub name: String,
    pub action_pattern: String,
    /// The agent it is narrowed to: an API key's name, shared by the keys
    /// rotation gives it (None for a policy of every agent).
    pub agent: Option<String>,
    /// Whether a key of that name is still live (true without an agent:
    /// such a policy covers every live agent).
    pub agent_live: bool,
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
            "agent": self.agent,
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
    /// The agent (API key name) that asked.
    pub agent: String,
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
    pub agent: Option<String>,
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
            self.record.agent.is_some(),
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
        match (&self.record.agent, self.record.agent_live) {
            (Some(agent), true) => note.push_str(&format!(", agent {agent}")),
            (Some(agent), false) => note.push_str(&format!(
                ", agent {agent} (revoked: no live key has this name; a new key given it is \
                 this agent again, and held to this policy)"
            )),
            (None, _) => {}
        }
        match &self.condition {
            Some(condition) if !condition.is_usable() => note.push_str(
                ", with a condition that no longer compiles (it holds back every request it \
                 covers: mend or delete it)",
            ),
            Some(_) => note.push_str(", with a condition"),
            None => {}
        }
        note
    }

    /// Whether its action pattern and agent cover requests of this kind
    /// from this agent (None: from every agent, so only a policy for every
    /// agent does), its condition aside.
    pub fn covers(&self, action: Option<&str>, agent: Option<&str>) -> bool {
        self.pattern.matches(action)
            && self
                .record
                .agent
                .as_deref()
                .is_none_or(|own| Some(own) == agent)
    }

    /// Whether it applies to this request. A condition that cannot be
    /// evaluated on it (a field it lacks, `null`, a string compared with a
    /// number: the agent writes `data`, so the agent would choose) fails
    /// closed: a gate or deny policy applies, an auto or sample one does
    /// not.
    pub fn applies(&self, evaluation: &Evaluation<'_>) -> Applies {
        let facts = evaluation.facts;
        if !self.covers(facts.action, Some(facts.agent)) {
            return Applies::No;
        }
        let Some(condition) = &self.condition else {
            return Applies::Yes;
        };
        match condition.holds(evaluation) {
            Ok(true) => Applies::Yes,
            Ok(false) => Applies::No,
            Err(why) if self.record.mode.restrains() => Applies::FailedClosed(format!(
                "the condition of policy {} could not be evaluated on this request ({why}); \
                 a {} policy whose condition cannot be evaluated applies",
                self.record.name,
                self.record.mode.as_str(),
            )),
            Err(_) => Applies::No,
        }
    }
}

/// Whether a policy applies to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applies {
    No,
    Yes,
    /// A gate or deny policy whose condition could not be evaluated: it
    /// applies, and this says why, for the card and the audit log.
    FailedClosed(String),
}

/// The policies in the order they are tried.
pub fn in_try_order(mut policies: Vec<ActivePolicy>) -> Vec<ActivePolicy> {
    policies.sort_by(ActivePolicy::try_order);
    policies
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::domain::condition::RequestFacts;

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
                agent: key.map(str::to_owned),
                agent_live: true,
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
            .find(|p| p.applies(&Evaluation::new(&RequestFacts::refund(&data))) == Applies::Yes)
            .unwrap();
        assert_eq!(first.record.name, "small-refunds");
    }

    /// A condition that cannot be evaluated: a gate or deny policy applies
    /// and says why; an auto or sample one does not.
    #[test]
    fn an_unevaluable_condition_fails_closed() {
        let data = serde_json::json!({"amount": "90000"});
        for (mode, restrains) in [
            (PolicyMode::Gate, true),
            (PolicyMode::Deny, true),
            (PolicyMode::Auto, false),
            (PolicyMode::Sample, false),
        ] {
            let mut large = policy("large", "billing.refund", None, Some("data.amount > 500"));
            large.record.mode = mode;
            let applies = large.applies(&Evaluation::new(&RequestFacts::refund(&data)));
            if restrains {
                let Applies::FailedClosed(why) = applies else {
                    panic!("{mode:?}: {applies:?}");
                };
                assert!(why.contains("policy large") && why.contains("could not be evaluated"));
            } else {
                assert_eq!(applies, Applies::No, "{mode:?}");
            }
        }
    }
}
