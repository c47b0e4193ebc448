//! The admin's Policies page: the policies in the order they are tried
//! (each with why it sits there, and an editor), a new policy, a "try it"
//! box for a condition against a past request, and the evidence per action
//! kind and agent with one-click suggestions. Plain forms: problems show
//! beside their fields.

use super::errors::{error_message, last_error};
use crate::api::{policies, DeletePolicy, SavePolicy, TryCondition};
use crate::model::{
    ConditionTrial, KindEvidence, PoliciesData, PolicyDraft, PolicyMode, PolicySaved, PolicyView,
};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn PoliciesPage() -> impl IntoView {
    let reload = RwSignal::new(0u64);
    let data = Resource::new(move || reload.get(), |_| policies());
    view! {
        <Title text="Policies · Holdpoint"/>
        <main class="page admin-page policies-page">
            <h1>"Policies"</h1>
            <p class="muted">
                "A policy rules on the requests it matches before anyone sees them. The most specific "
                "matching policy wins: an exact action kind before a family (" <code>"email.*"</code>
                ") before " <code>"*"</code> "; then one narrowed to an agent; then one with a condition; "
                "of equals, the older. With no policy, a person decides each request."
            </p>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(data) => view! { <PoliciesView data reload/> }.into_any(),
                        Err(error) => view! { <p class="error" role="alert">{error_message(&error)}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn PoliciesView(data: PoliciesData, reload: RwSignal<u64>) -> impl IntoView {
    let agents = data.agents.clone();
    let list = if data.policies.is_empty() {
        view! { <p class="muted">"No policies yet: a person decides every request."</p> }.into_any()
    } else {
        view! {
            <ol class="policy-list">
                {data.policies.into_iter().map(|policy| view! {
                    <PolicyCard policy agents=agents.clone() reload/>
                }).collect_view()}
            </ol>
        }
        .into_any()
    };
    view! {
        <section aria-labelledby="order-heading">
            <h2 id="order-heading">"In the order they are tried"</h2>
            {list}
        </section>
        <section aria-labelledby="new-policy-heading" class="card admin-form">
            <h2 id="new-policy-heading">"New policy"</h2>
            <PolicyForm draft=PolicyDraft::default() agents=data.agents.clone() reload prefix="new"/>
        </section>
        <TryIt/>
        <Evidence lines=data.evidence thresholds=data.thresholds reload/>
    }
}

#[component]
fn PolicyCard(policy: PolicyView, agents: Vec<String>, reload: RwSignal<u64>) -> impl IntoView {
    let delete = ServerAction::<DeletePolicy>::new();
    Effect::new(move |_| {
        if matches!(delete.value().get(), Some(Ok(()))) {
            reload.update(|n| *n += 1);
        }
    });
    let mode = match policy.mode {
        PolicyMode::Sample => format!("sample {} %", policy.sample_percent),
        other => other.to_string(),
    };
    let draft = PolicyDraft {
        id: Some(policy.id.clone()),
        name: policy.name.clone(),
        action_pattern: policy.action_pattern.clone(),
        agent: policy.agent.clone(),
        condition: policy.condition.clone(),
        mode: Some(policy.mode),
        sample_percent: Some(policy.sample_percent),
        deny_reason: policy.deny_reason.clone(),
        deny_repeats: policy.deny_repeats,
    };
    let name = policy.name.clone();
    let id = policy.id.clone();
    let deleted = id.clone();
    view! {
        <li class="card policy" data-policy=policy.name.clone()>
            <header>
                <h3>{policy.name.clone()} " " <span class=format!("mode mode-{}", policy.mode)>{mode}</span></h3>
                <p class="muted">{policy.specificity.clone()}</p>
            </header>
            {policy.reverted.clone().map(|why| view! {
                <p class="reverted" role="alert">"Back to gate: " {why}</p>
            })}
            <dl class="policy-fields">
                <dt>"Action"</dt><dd><code>{policy.action_pattern.clone()}</code></dd>
                <dt>"Agent"</dt><dd>{policy.agent.clone().unwrap_or_else(|| "every agent".to_owned())}</dd>
                {policy.condition.clone().map(|c| view! { <dt>"Condition"</dt><dd><code>{c}</code></dd> })}
                {policy.deny_reason.clone().map(|r| view! { <dt>"Reason"</dt><dd>{r}</dd> })}
                <dt>"Repeats of a denial"</dt>
                <dd>{if policy.deny_repeats { "denied at once" } else { "shown on the card" }}</dd>
            </dl>
            <details>
                <summary>"Edit"</summary>
                <PolicyForm draft agents reload prefix=id/>
            </details>
            <ActionForm action=delete attr:class="inline">
                <input type="hidden" name="id" value=deleted/>
                <button type="submit" class="button small">"Delete " {name}</button>
            </ActionForm>
            <p class="field-error" role="alert">{move || last_error(delete)}</p>
        </li>
    }
}

/// The editor of one policy (or a new one): each problem beside its field.
#[component]
fn PolicyForm(
    draft: PolicyDraft,
    agents: Vec<String>,
    reload: RwSignal<u64>,
    #[prop(into)] prefix: String,
) -> impl IntoView {
    let save = ServerAction::<SavePolicy>::new();
    Effect::new(move |_| {
        if matches!(save.value().get(), Some(Ok(PolicySaved::Saved(_)))) {
            reload.update(|n| *n += 1);
        }
    });
    let problem = move |field: &'static str| {
        move || match save.value().get() {
            Some(Ok(PolicySaved::Refused(problems))) => problems
                .into_iter()
                .find(|p| p.field == field)
                .map(|p| p.message),
            _ => None,
        }
    };
    let id = move |field: &str| format!("{prefix}-{field}");
    let mode = draft.mode.unwrap_or(PolicyMode::Gate);
    let agent = draft.agent.clone().unwrap_or_default();
    view! {
        <ActionForm action=save attr:class="stacked policy-form">
            <input type="hidden" name="draft[id]" value=draft.id.clone().unwrap_or_default()/>
            <label for=id("name")>"Name (shown as policy:<name> where it decides)"</label>
            <input id=id("name") type="text" name="draft[name]" value=draft.name.clone() required autocomplete="off"/>
            <p class="field-error" role="alert">{problem("name")}</p>
            <label for=id("action")>"Action kinds: billing.refund, email.* or *"</label>
            <input id=id("action") type="text" name="draft[action_pattern]" value=draft.action_pattern.clone() required autocomplete="off"/>
            <p class="field-error" role="alert">{problem("action_pattern")}</p>
            <label for=id("agent")>"Agent"</label>
            <select id=id("agent") name="draft[agent]">
                <option value="" selected=agent.is_empty()>"Every agent"</option>
                {agents.into_iter().map(|name| {
                    let selected = name == agent;
                    view! { <option value=name.clone() selected=selected>{name.clone()}</option> }
                }).collect_view()}
            </select>
            <p class="field-error" role="alert">{problem("agent")}</p>
            <label for=id("condition")>"Condition (CEL, optional): fields action, title, agent, data"</label>
            <textarea id=id("condition") name="draft[condition]" rows="2" aria-describedby=id("condition-rule") placeholder="data.amount_cents <= 1000 && data.currency == \"USD\"">{draft.condition.clone().unwrap_or_default()}</textarea>
            <p class="hint" id=id("condition-rule")>
                "A condition that cannot be evaluated on a request (a missing field, null, a wrong type) fails closed: "
                "a gate or deny policy then applies, an auto or sample policy does not."
            </p>
            <p class="field-error" role="alert">{problem("condition")}</p>
            <label for=id("mode")>"Mode"</label>
            <select id=id("mode") name="draft[mode]">
                {PolicyMode::ALL.into_iter().map(|m| view! {
                    <option value=m.as_str() selected=m == mode>{format!("{m}: {}", m.explanation())}</option>
                }).collect_view()}
            </select>
            <label for=id("percent")>"Sampled for review (percent, for sample)"</label>
            <input id=id("percent") type="number" min="1" max="100" name="draft[sample_percent]" value=draft.sample_percent.filter(|p| *p > 0).unwrap_or(10)/>
            <p class="field-error" role="alert">{problem("sample_percent")}</p>
            <label for=id("reason")>"Reason given to the agent (for deny)"</label>
            <input id=id("reason") type="text" name="draft[deny_reason]" value=draft.deny_reason.clone().unwrap_or_default() autocomplete="off"/>
            <p class="field-error" role="alert">{problem("deny_reason")}</p>
            <label for=id("repeats")>"A request repeating a recent denial"</label>
            <select id=id("repeats") name="draft[deny_repeats]">
                <option value="false" selected=!draft.deny_repeats>"waits for a person, with the denial on its card"</option>
                <option value="true" selected=draft.deny_repeats>"is denied at once with the earlier reason"</option>
            </select>
            <p class="field-error" role="alert">{move || last_error(save)}</p>
            <button type="submit" class="button primary">"Save policy"</button>
            {move || matches!(save.value().get(), Some(Ok(PolicySaved::Saved(_)))).then(|| view! {
                <p class="saved" role="status">"Saved."</p>
            })}
        </ActionForm>
    }
}

/// Evaluates a condition against a past request.
#[component]
fn TryIt() -> impl IntoView {
    let trial = ServerAction::<TryCondition>::new();
    view! {
        <section aria-labelledby="try-heading" class="card admin-form">
            <h2 id="try-heading">"Try a condition"</h2>
            <ActionForm action=trial attr:class="stacked">
                <label for="try-condition">"Condition"</label>
                <textarea id="try-condition" name="condition" rows="2" required></textarea>
                <label for="try-approval">"Against the request (its id, apr_…)"</label>
                <input id="try-approval" type="text" name="approval_id" required autocomplete="off"/>
                <button type="submit" class="button">"Try it"</button>
            </ActionForm>
            <div role="status" class="trial">
                {move || match trial.value().get() {
                    Some(Ok(ConditionTrial::Evaluated { matches, request })) => view! {
                        <p><strong>{if matches { "Matches" } else { "Does not match" }}</strong> " this request:"</p>
                        <pre class="json">{request}</pre>
                    }.into_any(),
                    Some(Ok(ConditionTrial::Failed(problem))) => view! {
                        <p class="field-error">{problem.message}</p>
                    }.into_any(),
                    Some(Err(error)) => view! { <p class="field-error">{error_message(&error)}</p> }.into_any(),
                    None => ().into_any(),
                }}
            </div>
        </section>
    }
}

/// The evidence with its explanation: on this page, and on the Stats page
/// for admins.
#[component]
pub fn Evidence(
    lines: Vec<KindEvidence>,
    thresholds: String,
    reload: RwSignal<u64>,
) -> impl IntoView {
    view! {
        <section aria-labelledby="evidence-heading">
            <h2 id="evidence-heading">"Evidence"</h2>
            <p class="muted">"People's decisions per action kind, and per agent within it (last 30 days; the streak counts since the last denial). " {thresholds} "."</p>
            <EvidenceTable lines reload/>
        </section>
    }
}

/// The evidence table, with a one-click suggestion where the evidence is
/// strong.
#[component]
fn EvidenceTable(lines: Vec<KindEvidence>, reload: RwSignal<u64>) -> impl IntoView {
    if lines.is_empty() {
        return view! { <p class="muted">"No decisions yet."</p> }.into_any();
    }
    view! {
        <div class="table-wrap" tabindex="0">
        <table class="evidence">
            <thead>
                <tr>
                    <th scope="col">"Action kind"</th><th scope="col">"Agent"</th>
                    <th scope="col">"Decided"</th><th scope="col">"Approved"</th>
                    <th scope="col">"Streak"</th><th scope="col">"Mean decision"</th>
                    <th scope="col">"Latest denial reasons"</th><th scope="col">"Policy"</th>
                </tr>
            </thead>
            <tbody>
                {lines.into_iter().map(|line| view! { <EvidenceRow line reload/> }).collect_view()}
            </tbody>
        </table>
        </div>
    }
    .into_any()
}

#[component]
fn EvidenceRow(line: KindEvidence, reload: RwSignal<u64>) -> impl IntoView {
    let apply = ServerAction::<SavePolicy>::new();
    Effect::new(move |_| {
        if matches!(apply.value().get(), Some(Ok(PolicySaved::Saved(_)))) {
            reload.update(|n| *n += 1);
        }
    });
    let refused = move || match apply.value().get() {
        Some(Ok(PolicySaved::Refused(problems))) => Some(
            problems
                .into_iter()
                .map(|p| p.message)
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Some(Err(error)) => Some(error_message(&error)),
        _ => None,
    };
    let rate = line
        .approval_rate()
        .map(|rate| format!("{rate:.0} %"))
        .unwrap_or_else(|| "—".to_owned());
    let kind = if line.action.is_empty() {
        "(none)".to_owned()
    } else {
        line.action.clone()
    };
    let suggestion = line.suggestion.clone().map(|suggestion| {
        let draft = suggestion.draft.clone();
        view! {
            <tr class="suggestion">
                <td colspan="8">
                    <p><strong>"Suggestion: "</strong> {suggestion.text.clone()}</p>
                    <ul class="muted">{suggestion.evidence.iter().map(|e| view! { <li>{e.clone()}</li> }).collect_view()}</ul>
                    <ActionForm action=apply attr:class="inline">
                        <input type="hidden" name="draft[name]" value=draft.name.clone()/>
                        <input type="hidden" name="draft[action_pattern]" value=draft.action_pattern.clone()/>
                        <input type="hidden" name="draft[agent]" value=draft.agent.clone().unwrap_or_default()/>
                        <input type="hidden" name="draft[mode]" value="sample"/>
                        <input type="hidden" name="draft[sample_percent]" value=draft.sample_percent.unwrap_or(10)/>
                        <input type="hidden" name="draft[deny_repeats]" value=draft.deny_repeats.to_string()/>
                        <input type="hidden" name="suggestion" value=suggestion.text.clone()/>
                        <button type="submit" class="button primary">{format!("Apply: create {}", draft.name)}</button>
                    </ActionForm>
                    <p class="field-error" role="alert">{refused}</p>
                </td>
            </tr>
        }
    });
    view! {
        <tr class=if line.agent.is_some() { "agent-line" } else { "kind-line" }>
            <td><code>{kind}</code></td>
            <td>{line.agent.clone().unwrap_or_else(|| "all agents".to_owned())}</td>
            <td>{line.decided}</td>
            <td>{rate}</td>
            <td>{format!("{} over {} d by {}", line.streak, line.streak_days, line.streak_approvers)}</td>
            <td>{line.mean_decision_secs.map(|s| super::time::duration_label(s * 1000.0)).unwrap_or_else(|| "—".to_owned())}</td>
            <td>{line.latest_denials.join(" · ")}</td>
            <td>{line.policy.clone().unwrap_or_else(|| "none (gate)".to_owned())}</td>
        </tr>
        {suggestion}
    }
}
