//! The evidence beside the policies: per action kind, and per agent within
//! it, how people decided (volume, approval rate, the streak since the
//! last denial, decision time, the latest denial reasons), and a
//! suggestion to sample where the streak meets the configured thresholds.

use super::people::Actor;
use super::{Service, ServiceResult};
use crate::model::{KindEvidence, PolicyDraft, PolicyMode, Suggestion};
use crate::server::config::SuggestThresholds;
use crate::server::domain::{ActivePolicy, EvidenceCounts, StreakCounts};
use std::collections::BTreeMap;

/// The window of the volume, rate and decision time.
const WINDOW_DAYS: i64 = 30;
/// Denial reasons shown per line.
const REASONS_SHOWN: usize = 3;
const DAY_MS: i64 = 86_400_000;

#[derive(Default)]
struct Tally {
    decided: u64,
    approved: u64,
    total_ms: u64,
}

impl Tally {
    fn add(&mut self, counts: &EvidenceCounts) {
        self.decided += counts.decided;
        self.approved += counts.approved;
        self.total_ms += counts.total_decision_ms;
    }
}

impl Service {
    /// The thresholds a suggestion needs, in words.
    pub fn suggestion_thresholds(&self) -> String {
        let t = self.config.policies.suggest;
        format!(
            "a suggestion needs {} approvals in a row over at least {} days by at least {} \
             people, and then proposes sampling {} %",
            t.streak, t.days, t.approvers, t.sample_percent
        )
    }

    /// Evidence per kind, each followed by its agents, busiest kinds first.
    pub async fn evidence(&self, actor: Actor<'_>) -> ServiceResult<Vec<KindEvidence>> {
        Self::authorize_admin(actor)?;
        let now = self.now_ms();
        let since = now - WINDOW_DAYS * DAY_MS;
        let counts = self.store.evidence_counts(since).await?;
        let kind_streaks = self.store.streaks(false).await?;
        let agent_streaks = self.store.streaks(true).await?;
        let denials = self.store.latest_denials(since, 500).await?;
        let policies = self.active_policies().await?;
        let thresholds = self.config.policies.suggest;

        let mut kinds: BTreeMap<String, (Tally, BTreeMap<String, Tally>)> = BTreeMap::new();
        for line in &counts {
            let (kind, agents) = kinds.entry(line.action.clone()).or_default();
            kind.add(line);
            agents.entry(line.agent.clone()).or_default().add(line);
        }
        for streak in kind_streaks.iter().chain(&agent_streaks) {
            let (_, agents) = kinds.entry(streak.action.clone()).or_default();
            if let Some(agent) = &streak.agent {
                agents.entry(agent.clone()).or_default();
            }
        }

        let reasons = |action: &str, agent: Option<&str>| -> Vec<String> {
            denials
                .iter()
                .filter(|(kind, denied_agent, _)| {
                    kind == action && agent.is_none_or(|agent| agent == denied_agent)
                })
                .map(|(_, _, reason)| reason.clone())
                .take(REASONS_SHOWN)
                .collect()
        };
        let mut lines = Vec::new();
        let mut ordered: Vec<_> = kinds.into_iter().collect();
        ordered.sort_by_key(|(_, (tally, _))| std::cmp::Reverse(tally.decided));
        for (action, (tally, agents)) in ordered {
            let streak = kind_streaks.iter().find(|s| s.action == action);
            lines.push(evidence_line(
                &action,
                None,
                &tally,
                streak,
                reasons(&action, None),
                &policies,
                thresholds,
            ));
            for (agent, agent_tally) in agents {
                let streak = agent_streaks
                    .iter()
                    .find(|s| s.action == action && s.agent.as_deref() == Some(&agent));
                lines.push(evidence_line(
                    &action,
                    Some(&agent),
                    &agent_tally,
                    streak,
                    reasons(&action, Some(&agent)),
                    &policies,
                    thresholds,
                ));
            }
        }
        Ok(lines)
    }
}

/// One line of evidence, with its suggestion when the streak is strong
/// enough and nothing looser applies already.
fn evidence_line(
    action: &str,
    agent: Option<&str>,
    tally: &Tally,
    streak: Option<&StreakCounts>,
    latest_denials: Vec<String>,
    policies: &[ActivePolicy],
    thresholds: SuggestThresholds,
) -> KindEvidence {
    let streak_days = streak
        .map(|s| ((s.last_at - s.first_at).max(0) / DAY_MS) as u64)
        .unwrap_or(0);
    let applying = policies.iter().find(|policy| {
        policy.condition.is_none() && policy.covers((!action.is_empty()).then_some(action), agent)
    });
    let gated = applying.is_none_or(|policy| policy.record.mode == PolicyMode::Gate);
    let suggestion = match streak {
        Some(streak)
            if gated
                && !action.is_empty()
                && streak.streak >= thresholds.streak
                && streak_days >= thresholds.days
                && streak.approvers >= thresholds.approvers =>
        {
            Some(suggest(action, agent, streak, streak_days, thresholds))
        }
        _ => None,
    };
    KindEvidence {
        action: action.to_owned(),
        agent: agent.map(str::to_owned),
        decided: tally.decided,
        approved: tally.approved,
        streak: streak.map(|s| s.streak).unwrap_or(0),
        streak_days,
        streak_approvers: streak.map(|s| s.approvers).unwrap_or(0),
        mean_decision_secs: (tally.decided > 0)
            .then(|| tally.total_ms as f64 / tally.decided as f64 / 1000.0),
        latest_denials,
        policy: applying.map(|policy| policy.record.name.clone()),
        suggestion,
    }
}

fn suggest(
    action: &str,
    agent: Option<&str>,
    streak: &StreakCounts,
    days: u64,
    thresholds: SuggestThresholds,
) -> Suggestion {
    let percent = thresholds.sample_percent;
    let name = match agent {
        Some(agent) => format!("sample-{action}-{agent}"),
        None => format!("sample-{action}"),
    };
    let people = if streak.approvers == 1 {
        "person"
    } else {
        "people"
    };
    Suggestion {
        text: format!(
            "approved {} in a row over {days} days by {} {people}; consider sampling {percent} %",
            streak.streak, streak.approvers
        ),
        evidence: vec![
            format!(
                "{} approvals since the last denial (threshold {})",
                streak.streak, thresholds.streak
            ),
            format!("over {days} days (threshold {})", thresholds.days),
            format!(
                "by {} different people (threshold {})",
                streak.approvers, thresholds.approvers
            ),
        ],
        draft: PolicyDraft {
            id: None,
            name: name
                .to_lowercase()
                .chars()
                .map(|c| match c {
                    'a'..='z' | '0'..='9' | '-' | '_' | '.' => c,
                    _ => '-',
                })
                .take(60)
                .collect(),
            action_pattern: action.to_owned(),
            agent: agent.map(str::to_owned),
            condition: None,
            mode: Some(PolicyMode::Sample),
            sample_percent: Some(percent),
            deny_reason: None,
            deny_repeats: true,
        },
    }
}
