//! Policies: the ruling on a new request (which policy, what it decides,
//! whether it is sampled, whether it repeats a denial), and the admins'
//! editing of them. Every operation checks its actor here.

use super::people::Actor;
use super::{Service, ServiceError, ServiceResult};
use crate::model::{
    ConditionTrial, FieldProblem, PolicyDraft, PolicyMode, PolicySaved, PolicyView, Status,
};
use crate::server::domain::{
    ids, in_try_order, ActionPattern, ActivePolicy, Applies, Condition, Evaluation, PolicyRecord,
    RepeatedDenial, RequestFacts, Ruling, SampledBy, Transition,
};
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The longest policy name and denial reason.
const NAME_MAX_CHARS: usize = 60;
const REASON_MAX_CHARS: usize = 500;

/// What the policies make of a new request.
pub(super) struct Verdict {
    /// What the winning policy decided at once; None leaves it to a person.
    pub ruling: Option<Ruling>,
    /// Why a gate or deny policy applied although its condition could not
    /// be evaluated (shown on the card, kept in the audit log).
    pub policy_note: Option<String>,
}

/// The random draws of sampling policies: seeded from the configuration
/// when it names a seed (the same seed picks the same approvals), else
/// from the operating system.
pub(super) struct Sampler {
    rng: Mutex<rand::rngs::StdRng>,
}

impl Sampler {
    pub fn new(seed: Option<u64>) -> Self {
        let rng = match seed {
            Some(seed) => rand::rngs::StdRng::seed_from_u64(seed),
            None => rand::rngs::StdRng::from_entropy(),
        };
        Self {
            rng: Mutex::new(rng),
        }
    }

    /// True for `percent` in a hundred draws, on average.
    fn picks(&self, percent: u8) -> bool {
        let draw: f64 = self
            .rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .gen();
        draw * 100.0 < f64::from(percent)
    }
}

/// Compiled conditions by policy id, kept while the condition's text is
/// the same (policies are read for each request; compiling is the costly
/// part).
#[derive(Default)]
pub(super) struct CompiledConditions {
    by_policy: Mutex<HashMap<String, (String, Arc<Condition>)>>,
}

impl CompiledConditions {
    fn get(&self, id: &str, source: &str) -> Arc<Condition> {
        let mut cache = self
            .by_policy
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((cached_source, condition)) = cache.get(id) {
            if cached_source == source {
                return condition.clone();
            }
        }
        // A stored condition was checked when saved; one that no longer
        // compiles (a newer parser or bound) can be evaluated on nothing:
        // its policy fails closed, as for any condition that cannot be.
        let condition = Arc::new(Condition::compile(source).unwrap_or_else(|error| {
            Condition::unusable(format!(
                "its stored condition no longer compiles: {}",
                error.to_problem().message
            ))
        }));
        cache.insert(id.to_owned(), (source.to_owned(), condition.clone()));
        condition
    }
}

/// SHA-256 of a request's action kind and canonical data: the re-raise
/// guard's key (with the API key). `data_json` is canonical already:
/// serde_json writes object keys sorted.
pub(super) fn repeat_hash(action: Option<&str>, data_json: &str) -> String {
    ids::sha256_hex_of_parts(&[action.unwrap_or("").as_bytes(), b"\n", data_json.as_bytes()])
}

/// What a denial that a request repeats says, for the agent and the card.
fn repeat_reason(earlier: &RepeatedDenial) -> String {
    let by = earlier.denied_by.as_deref().unwrap_or("someone");
    match &earlier.reason {
        Some(reason) => format!("This repeats a request denied by {by}: {reason}"),
        None => format!("This repeats a request denied by {by}"),
    }
}

impl Service {
    /// The policies in the order they are tried, ready to match.
    pub(super) async fn active_policies(&self) -> ServiceResult<Vec<ActivePolicy>> {
        Ok(self.activate(self.store.policies().await?).0)
    }

    /// The policies that apply, in try order, and those that cannot (an
    /// auto or sample policy whose stored pattern or condition no longer
    /// parses). A gate or deny policy never drops out: one whose
    /// condition no longer compiles holds back what it covers, and one
    /// whose pattern no longer parses holds back every request, with why.
    fn activate(&self, records: Vec<PolicyRecord>) -> (Vec<ActivePolicy>, Vec<PolicyRecord>) {
        let mut active = Vec::with_capacity(records.len());
        let mut refused = Vec::new();
        for record in records {
            let condition = record
                .condition
                .as_deref()
                .map(|source| self.conditions.get(&record.id, source));
            let usable = condition.as_ref().is_none_or(|c| c.is_usable());
            let (pattern, condition) = match ActionPattern::parse(&record.action_pattern) {
                Ok(pattern) => (pattern, condition),
                Err(_) if record.mode.restrains() => (
                    ActionPattern::Any,
                    Some(Arc::new(Condition::unusable(format!(
                        "its stored action pattern {:?} no longer parses",
                        record.action_pattern
                    )))),
                ),
                Err(_) => {
                    refused.push(record);
                    continue;
                }
            };
            if !usable && !record.mode.restrains() {
                refused.push(record);
                continue;
            }
            active.push(ActivePolicy {
                record,
                pattern,
                condition,
            });
        }
        (in_try_order(active), refused)
    }

    /// What the winning policy rules for a new request, and why it won
    /// when its condition could not be evaluated (it failed closed).
    pub(super) async fn verdict_for(
        &self,
        facts: &RequestFacts<'_>,
        repeats: Option<&RepeatedDenial>,
        at: i64,
    ) -> ServiceResult<Verdict> {
        let policies = self.active_policies().await?;
        // Converted once, and one budget for every condition tried on it.
        let evaluation = Evaluation::new(facts);
        let mut failed_closed = None;
        let winner = policies
            .iter()
            .find(|policy| match policy.applies(&evaluation) {
                Applies::Yes => true,
                Applies::No => false,
                Applies::FailedClosed(why) => {
                    failed_closed = Some(why);
                    true
                }
            });
        let ruling = match winner {
            Some(winner) => self.ruling_of(winner, failed_closed.as_deref(), repeats, at),
            None => None,
        };
        Ok(Verdict {
            ruling,
            policy_note: failed_closed,
        })
    }

    /// What `winner` rules, if anything: None leaves it to a person.
    fn ruling_of(
        &self,
        winner: &ActivePolicy,
        failed_closed: Option<&str>,
        repeats: Option<&RepeatedDenial>,
        at: i64,
    ) -> Option<Ruling> {
        let policy = &winner.record;
        let decide = |status: Status, reason: Option<String>| Transition {
            status,
            reason,
            decided_by: None,
            decided_by_policy: Some(policy.name.clone()),
            actor: format!("policy:{}", policy.name),
            at,
        };
        if let (true, Some(earlier)) = (policy.deny_repeats, repeats) {
            return Some(Ruling {
                transition: decide(Status::Denied, Some(repeat_reason(earlier))),
                sampled_for_review: None,
            });
        }
        match policy.mode {
            PolicyMode::Gate => None,
            PolicyMode::Auto => Some(Ruling {
                transition: decide(Status::Approved, None),
                sampled_for_review: None,
            }),
            PolicyMode::Sample => Some(Ruling {
                transition: decide(Status::Approved, None),
                sampled_for_review: self
                    .sampler
                    .picks(policy.sample_percent)
                    .then(|| SampledBy {
                        policy_id: policy.id.clone(),
                        policy_name: policy.name.clone(),
                    }),
            }),
            PolicyMode::Deny => {
                let reason = match (policy.deny_reason.as_deref(), failed_closed) {
                    (Some(reason), Some(why)) => Some(format!("{reason} ({why})")),
                    (None, Some(why)) => Some(why.to_owned()),
                    (reason, None) => reason.map(str::to_owned),
                };
                Some(Ruling {
                    transition: decide(Status::Denied, reason),
                    sampled_for_review: None,
                })
            }
        }
    }

    /// The policies in the order they are tried, as the editor shows them;
    /// one whose pattern or condition no longer parses is listed last, so
    /// it can be mended.
    pub async fn policy_views(&self, actor: Actor<'_>) -> ServiceResult<Vec<PolicyView>> {
        Self::authorize_admin(actor)?;
        let (active, refused) = self.activate(self.store.policies().await?);
        let applied = active.into_iter().map(|policy| {
            let specificity = policy.specificity_note();
            view_of(policy.record, specificity)
        });
        let not_applied = refused.into_iter().map(|record| {
            view_of(
                record,
                "not applied: its pattern or condition is refused".to_owned(),
            )
        });
        Ok(applied.chain(not_applied).collect())
    }

    /// Creates or changes a policy; problems come back by field. `note`
    /// says where it came from (a suggestion), for the audit log.
    pub async fn save_policy(
        &self,
        actor: Actor<'_>,
        draft: &PolicyDraft,
        note: Option<&str>,
    ) -> ServiceResult<PolicySaved> {
        Self::authorize_admin(actor)?;
        let now = self.now_ms();
        let existing = match draft.id.as_deref().filter(|id| !id.is_empty()) {
            Some(id) => Some(
                self.store
                    .policy(id)
                    .await?
                    .ok_or_else(|| ServiceError::NotFound(super::Missing::Policy))?,
            ),
            None => None,
        };
        let record = match self
            .policy_from_draft(draft, existing.as_ref(), now)
            .await?
        {
            Ok(record) => record,
            Err(problems) => return Ok(PolicySaved::Refused(problems)),
        };
        let saved = match self
            .store
            .save_policy(&record, note, &self.audit(actor))
            .await
        {
            Ok(saved) => saved,
            Err(crate::server::store::StoreError::Conflict(_)) => {
                return Ok(PolicySaved::Refused(vec![problem(
                    "name",
                    format!(
                        "a policy named {} exists already: choose another name",
                        record.name
                    ),
                )]))
            }
            Err(other) => return Err(other.into()),
        };
        let view = self
            .policy_views(actor)
            .await?
            .into_iter()
            .find(|view| view.id == saved.id)
            .ok_or(ServiceError::NotFound(super::Missing::Policy))?;
        Ok(PolicySaved::Saved(view))
    }

    /// The draft as a policy, or every problem it has, by field.
    async fn policy_from_draft(
        &self,
        draft: &PolicyDraft,
        existing: Option<&PolicyRecord>,
        now: i64,
    ) -> ServiceResult<Result<PolicyRecord, Vec<FieldProblem>>> {
        let mut problems = Vec::new();
        let name = draft.name.trim().to_owned();
        let name_ok = !name.is_empty()
            && name.chars().count() <= NAME_MAX_CHARS
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
        if !name_ok {
            problems.push(problem(
                "name",
                format!(
                    "a name is 1-{NAME_MAX_CHARS} lowercase letters, digits, '-', '_' or '.' \
                     (it is shown as policy:<name> where it decides)"
                ),
            ));
        }
        let pattern = draft.action_pattern.trim();
        if let Err(message) = ActionPattern::parse(pattern) {
            problems.push(problem("action_pattern", message));
        }
        let agent = draft
            .agent
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty());
        if let Some(agent) = agent {
            if self.store.api_key_by_name(agent).await?.is_none() {
                problems.push(problem(
                    "agent",
                    format!("there is no live API key named {agent:?}"),
                ));
            }
        }
        let condition = draft
            .condition
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        if let Some(source) = condition {
            if let Err(error) = Condition::compile(source) {
                problems.push(error.to_problem());
            }
        }
        let mode = draft.mode.unwrap_or(PolicyMode::Gate);
        let sample_percent = match (mode, draft.sample_percent) {
            (PolicyMode::Sample, Some(percent @ 1..=100)) => percent,
            (PolicyMode::Sample, _) => {
                problems.push(problem(
                    "sample_percent",
                    "a sampling policy reviews 1 to 100 percent of what it approves",
                ));
                0
            }
            _ => 0,
        };
        let deny_reason = draft
            .deny_reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned);
        match (&deny_reason, mode) {
            (None, PolicyMode::Deny) => problems.push(problem(
                "deny_reason",
                "a denying policy needs the reason the agent is given",
            )),
            (Some(reason), _) if reason.chars().count() > REASON_MAX_CHARS => {
                problems.push(problem(
                    "deny_reason",
                    format!("at most {REASON_MAX_CHARS} characters"),
                ))
            }
            _ => {}
        }
        if !problems.is_empty() {
            return Ok(Err(problems));
        }
        Ok(Ok(PolicyRecord {
            id: existing
                .map(|p| p.id.clone())
                .unwrap_or_else(|| ids::new_id("pol", now)),
            name,
            action_pattern: pattern.to_owned(),
            agent: agent.map(str::to_owned),
            agent_live: true,
            condition: condition.map(str::to_owned),
            mode,
            sample_percent,
            deny_reason: if mode == PolicyMode::Deny {
                deny_reason
            } else {
                None
            },
            deny_repeats: draft.deny_repeats,
            reverted_note: None,
            created_at: existing.map(|p| p.created_at).unwrap_or(now),
            updated_at: now,
        }))
    }

    pub async fn delete_policy(&self, actor: Actor<'_>, id: &str) -> ServiceResult<()> {
        Self::authorize_admin(actor)?;
        if self.store.delete_policy(id, &self.audit(actor)).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound(super::Missing::Policy))
        }
    }

    /// The live API keys' names, for the agent field.
    pub async fn live_key_names(&self, actor: Actor<'_>) -> ServiceResult<Vec<String>> {
        Self::authorize_admin(actor)?;
        Ok(self
            .store
            .key_overviews()
            .await?
            .into_iter()
            .filter(|key| key.revoked_at.is_none())
            .map(|key| key.name)
            .collect())
    }

    /// Tries a condition against a past request (by its approval's id).
    pub async fn try_condition(
        &self,
        actor: Actor<'_>,
        condition: &str,
        approval_id: &str,
    ) -> ServiceResult<ConditionTrial> {
        Self::authorize_admin(actor)?;
        let compiled = match Condition::compile(condition.trim()) {
            Ok(compiled) => compiled,
            Err(error) => return Ok(ConditionTrial::Failed(error.to_problem())),
        };
        let Some(record) = self.stored_approval(approval_id.trim()).await? else {
            return Ok(ConditionTrial::Failed(problem(
                "try_approval",
                format!("there is no request with the id {:?}", approval_id.trim()),
            )));
        };
        let data = serde_json::from_str(&record.data_json)
            .unwrap_or_else(|_| serde_json::Value::Object(Default::default()));
        let facts = RequestFacts {
            action: record.action.as_deref(),
            title: &record.title,
            agent: &record.agent_name,
            data: &data,
        };
        let evaluation = Evaluation::new(&facts);
        let held = compiled.holds(&evaluation);
        Ok(match held {
            Ok(matches) => ConditionTrial::Evaluated {
                matches,
                request: facts.describe(),
            },
            Err(error) => ConditionTrial::Failed(problem(
                "condition",
                format!(
                    "on this request the condition cannot be evaluated: {error} (a gate or deny \
                     policy would apply to it, an auto or sample policy would not)"
                ),
            )),
        })
    }
}

fn problem(field: &str, message: impl Into<String>) -> FieldProblem {
    FieldProblem {
        field: field.to_owned(),
        message: message.into(),
    }
}

fn view_of(policy: PolicyRecord, specificity: String) -> PolicyView {
    PolicyView {
        id: policy.id,
        name: policy.name,
        action_pattern: policy.action_pattern,
        agent: policy.agent,
        condition: policy.condition,
        mode: policy.mode,
        sample_percent: policy.sample_percent,
        deny_reason: policy.deny_reason,
        deny_repeats: policy.deny_repeats,
        specificity,
        reverted: policy.reverted_note,
        updated_at: super::from_ms(policy.updated_at),
    }
}
