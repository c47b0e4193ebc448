//! Policies as admins edit them, the sampled review queue, and the evidence
//! beside them: shared by the server and the Policies and Review pages.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a policy does with the requests it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyMode {
    /// A person decides each one (also what happens with no policy).
    Gate,
    /// Approved at once; a share of them goes to the sampled review queue.
    Sample,
    /// Approved at once, recorded in the audit log.
    Auto,
    /// Denied at once with the policy's reason.
    Deny,
}

impl PolicyMode {
    pub const ALL: [PolicyMode; 4] = [
        PolicyMode::Gate,
        PolicyMode::Sample,
        PolicyMode::Auto,
        PolicyMode::Deny,
    ];

    /// Whether the policy holds a request back (a person decides, or it
    /// is denied) rather than letting it through. A condition that cannot
    /// be evaluated makes such a policy apply, and the others not: a
    /// policy never fails open.
    pub fn restrains(self) -> bool {
        matches!(self, PolicyMode::Gate | PolicyMode::Deny)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PolicyMode::Gate => "gate",
            PolicyMode::Sample => "sample",
            PolicyMode::Auto => "auto",
            PolicyMode::Deny => "deny",
        }
    }

    /// One line for a person choosing a mode.
    pub fn explanation(self) -> &'static str {
        match self {
            PolicyMode::Gate => "a person decides each one",
            PolicyMode::Sample => {
                "approved at once; a share goes to sampled review, where a flag puts the gate back"
            }
            PolicyMode::Auto => "approved at once, and recorded",
            PolicyMode::Deny => "denied at once with the policy's reason",
        }
    }
}

impl fmt::Display for PolicyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PolicyMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PolicyMode::ALL
            .into_iter()
            .find(|mode| mode.as_str() == s)
            .ok_or_else(|| format!("unknown mode {s:?}: use gate, sample, auto or deny"))
    }
}

/// A policy as the editor shows it, in the order policies are tried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyView {
    pub id: String,
    pub name: String,
    /// `billing.refund`, `email.*` or `*`.
    pub action_pattern: String,
    /// The agent (API key name) it is narrowed to, if any.
    pub agent: Option<String>,
    /// A CEL condition on the request, if any.
    pub condition: Option<String>,
    pub mode: PolicyMode,
    /// For `sample`: the share, in percent, that goes to review.
    pub sample_percent: u8,
    /// For `deny`: the reason the agent is given.
    pub deny_reason: Option<String>,
    /// Whether a request repeating a recent denial is denied at once.
    pub deny_repeats: bool,
    /// Why it sits where it does in the order, in words.
    pub specificity: String,
    /// Set when a flag in sampled review put it back to gate.
    pub reverted: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// What an admin submits to create (no `id`) or change a policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct PolicyDraft {
    pub id: Option<String>,
    pub name: String,
    pub action_pattern: String,
    /// An API key's name; empty or absent for every agent.
    pub agent: Option<String>,
    pub condition: Option<String>,
    pub mode: Option<PolicyMode>,
    pub sample_percent: Option<u8>,
    pub deny_reason: Option<String>,
    pub deny_repeats: bool,
}

/// One thing wrong with a draft, and the field it belongs beside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldProblem {
    /// `name`, `action_pattern`, `agent`, `condition`, `mode`,
    /// `sample_percent`, `deny_reason`.
    pub field: String,
    pub message: String,
}

/// The answer to saving a draft: the policy, or what to mend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PolicySaved {
    Saved(PolicyView),
    Refused(Vec<FieldProblem>),
}

/// A condition tried against a past request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ConditionTrial {
    /// Whether the condition holds for it, and the request's fields.
    Evaluated { matches: bool, request: String },
    /// The condition cannot be evaluated (refused, or an error on this
    /// request): why.
    Failed(FieldProblem),
}

/// Where an automatically approved request stands in sampled review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewState {
    Waiting,
    Confirmed,
    Flagged,
}

impl ReviewState {
    pub const ALL: [ReviewState; 3] = [
        ReviewState::Waiting,
        ReviewState::Confirmed,
        ReviewState::Flagged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::Waiting => "waiting",
            ReviewState::Confirmed => "confirmed",
            ReviewState::Flagged => "flagged",
        }
    }
}

impl FromStr for ReviewState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReviewState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown review state {s:?}"))
    }
}

/// One sampled approval in the review queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewItem {
    pub approval_id: String,
    pub title: String,
    pub action: Option<String>,
    pub agent: String,
    pub policy_name: String,
    pub state: ReviewState,
    /// Who confirmed or flagged it, and the flag's reason.
    pub reviewer: Option<String>,
    pub note: Option<String>,
    pub approved_at: DateTime<Utc>,
    pub reviewed_at: Option<DateTime<Utc>>,
    /// Whether the flag has been seen and put away by an admin.
    pub acknowledged: bool,
}

/// The review queue: waiting first, then the latest reviewed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ReviewQueue {
    pub waiting: Vec<ReviewItem>,
    pub reviewed: Vec<ReviewItem>,
}

/// The record of one action kind (or one agent's share of it): what the
/// policy editor and the Stats page show beside the rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindEvidence {
    /// The action kind ("" for requests without one).
    pub action: String,
    /// The agent, for a per-agent line; None for the kind as a whole.
    pub agent: Option<String>,
    /// Decided by a person (approved or denied) in the window.
    pub decided: u64,
    pub approved: u64,
    /// Approvals by people since the last denial.
    pub streak: u64,
    /// Days from the first to the last approval of the streak.
    pub streak_days: u64,
    /// Distinct people who approved the streak.
    pub streak_approvers: u64,
    /// Mean seconds from request to a person's decision.
    pub mean_decision_secs: Option<f64>,
    /// The latest denial reasons, newest first.
    pub latest_denials: Vec<String>,
    /// The policy that matches this kind (and agent) without a condition.
    pub policy: Option<String>,
    pub suggestion: Option<Suggestion>,
}

impl KindEvidence {
    /// Approved share of decisions, in percent.
    pub fn approval_rate(&self) -> Option<f64> {
        (self.decided > 0).then(|| 100.0 * self.approved as f64 / self.decided as f64)
    }
}

/// A loosening the evidence supports, ready to apply with one click.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// "approved 250 in a row over 14 days by 3 people; consider sampling 10 %".
    pub text: String,
    /// Which thresholds were met, each in words.
    pub evidence: Vec<String>,
    /// The policy it would make (applied as it is, or edited first).
    pub draft: PolicyDraft,
}

/// The Policies page: the policies in order, and the evidence per kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoliciesData {
    pub policies: Vec<PolicyView>,
    pub evidence: Vec<KindEvidence>,
    /// The API keys' names, for the agent field.
    pub agents: Vec<String>,
    /// The thresholds a suggestion needs, in words.
    pub thresholds: String,
}

/// A request that repeats one denied recently (same agent, action kind and
/// data): shown on its card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EarlierDenial {
    /// The denied approval's id.
    pub id: String,
    pub denied_at: DateTime<Utc>,
    /// Who denied it: a person's name, or `policy:<name>`.
    pub denied_by: Option<String>,
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_round_trip_and_refuse_unknown_ones() {
        for mode in PolicyMode::ALL {
            assert_eq!(mode.as_str().parse::<PolicyMode>(), Ok(mode));
        }
        assert!("sometimes".parse::<PolicyMode>().is_err());
    }
}
