//! The Audit page (admins): the log newest first, filtered by actor,
//! approval, kind and time (in the address), the chain's head to write down
//! elsewhere, and the streamed exports: the log as CSV or JSONL, decided
//! approvals with their reasons as JSONL.

use super::errors::error_message;
use super::time::stamp;
use super::url_encode;
use crate::api::audit_log;
use crate::model::{AuditEntryView, AuditPage, AuditQuery};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |name: &str| query.read().get(name).filter(|v| !v.trim().is_empty());
    let data = Resource::new(
        move || {
            (
                AuditQuery {
                    actor: param("actor"),
                    approval: param("approval"),
                    kind: param("kind"),
                    since: param("since"),
                    until: param("until"),
                },
                param("older_than").and_then(|v| v.parse::<i64>().ok()),
            )
        },
        |(query, older_than)| {
            audit_log(
                query.actor,
                query.approval,
                query.kind,
                query.since,
                query.until,
                older_than,
            )
        },
    );
    let current = move || AuditQuery {
        actor: param("actor"),
        approval: param("approval"),
        kind: param("kind"),
        since: param("since"),
        until: param("until"),
    };
    view! {
        <Title text="Audit log · Holdpoint"/>
        <main class="page audit">
            <h1>"Audit log"</h1>
            <p class="muted">
                "Every approval's events, webhook attempts, sign-ins and admin actions, with who and when. "
                "Each entry's hash covers the one before it: " <code>"holdpoint audit verify"</code>
                " names the first entry edited, inserted or deleted."
            </p>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(page) => view! { <AuditBody page query=current()/> }.into_any(),
                        Err(error) => view! {
                            <p class="error" role="alert">{error_message(&error)}</p>
                        }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

/// The query as address parameters (without the cursor).
fn query_string(query: &AuditQuery) -> String {
    [
        ("actor", &query.actor),
        ("approval", &query.approval),
        ("kind", &query.kind),
        ("since", &query.since),
        ("until", &query.until),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.as_ref().map(|v| format!("{name}={}", url_encode(v))))
    .collect::<Vec<_>>()
    .join("&")
}

#[component]
fn AuditBody(page: AuditPage, query: AuditQuery) -> impl IntoView {
    let filters = query_string(&query);
    let older = page.older_than.map(|seq| {
        let joiner = if filters.is_empty() { "" } else { "&" };
        view! { <p><a href=format!("/admin/audit?{filters}{joiner}older_than={seq}")>"Older →"</a></p> }
    });
    let empty = page.entries.is_empty();
    view! {
        <section class="callout chain-head" aria-labelledby="head-heading">
            <h2 id="head-heading">"Chain head"</h2>
            <p>
                "Entry " <strong data-head-seq=page.head_seq>{page.head_seq}</strong>
                ", hash " <code class="hash" data-head-hash=page.head_hash.clone()>{page.head_hash.clone()}</code>
            </p>
            <p class="muted">"Write it down somewhere else: if it ever differs from what this page shows later for the same entry, the log was rewritten."</p>
        </section>

        <form method="get" action="/admin/audit" class="stats-filters" aria-label="Filters">
            <div class="filter">
                <label for="audit-actor">"Actor"</label>
                <input id="audit-actor" name="actor" type="text" placeholder="email, agent, system"
                    value=query.actor.clone().unwrap_or_default()/>
            </div>
            <div class="filter">
                <label for="audit-approval">"Approval"</label>
                <input id="audit-approval" name="approval" type="text" placeholder="apr_…"
                    value=query.approval.clone().unwrap_or_default()/>
            </div>
            <div class="filter">
                <label for="audit-kind">"Kind"</label>
                <select id="audit-kind" name="kind">
                    <option value="" selected=query.kind.is_none()>"Any kind"</option>
                    {page.kinds.iter().map(|kind| {
                        let selected = query.kind.as_deref() == Some(kind.as_str());
                        view! { <option value=kind.clone() selected=selected>{kind.clone()}</option> }
                    }).collect_view()}
                </select>
            </div>
            <div class="filter">
                <label for="audit-since">"From (UTC)"</label>
                <input id="audit-since" name="since" type="date" value=query.since.clone().unwrap_or_default()/>
            </div>
            <div class="filter">
                <label for="audit-until">"Before (UTC)"</label>
                <input id="audit-until" name="until" type="date" value=query.until.clone().unwrap_or_default()/>
            </div>
            <button type="submit" class="button">"Show"</button>
            <a href="/admin/audit" class="reset">"Reset"</a>
        </form>
        <p class="exports">
            "Export these entries, oldest first: "
            <a href=format!("/exports/audit.csv?{filters}") download="">"CSV"</a>
            " · "
            <a href=format!("/exports/audit.jsonl?{filters}") download="">"JSONL"</a>
        </p>

        {if empty {
            view! { <p class="muted">"No entries match."</p> }.into_any()
        } else {
            view! {
                <div class="table-wrap" tabindex="0">
                    <table class="admin-table audit-table">
                        <thead>
                            <tr>
                                <th scope="col">"#"</th>
                                <th scope="col">"When"</th>
                                <th scope="col">"What"</th>
                                <th scope="col">"Who"</th>
                                <th scope="col">"About"</th>
                                <th scope="col">"Detail"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {page.entries.into_iter().map(|entry| view! { <EntryRow entry/> }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }.into_any()
        }}
        {older}

        <DecisionsExport agents=page.agents/>
    }
}

#[component]
fn EntryRow(entry: AuditEntryView) -> impl IntoView {
    let about = match (&entry.approval_id, &entry.subject) {
        (Some(id), _) => {
            view! { <a href=format!("/approvals/{id}")><code>{id.clone()}</code></a> }.into_any()
        }
        (None, Some(subject)) => {
            let shown = entry
                .subject_name
                .clone()
                .unwrap_or_else(|| subject.clone());
            view! { <span title=subject.clone()>{shown}</span> }.into_any()
        }
        (None, None) => view! { <span class="muted">"—"</span> }.into_any(),
    };
    view! {
        <tr data-kind=entry.kind.clone()>
            <td class="num" title=entry.hash.clone()>{entry.seq}</td>
            <td class="when">{stamp(entry.at)}</td>
            <td><span class="badge">{entry.kind.clone()}</span></td>
            <td title=entry.actor.clone()>{entry.actor_name.clone()}</td>
            <td>{about}</td>
            <td class="detail">{entry.detail.clone().unwrap_or_default()}</td>
        </tr>
    }
}

/// Decided approvals and their reasons as JSON lines: a plain GET form to
/// the streamed export.
#[component]
fn DecisionsExport(agents: Vec<String>) -> impl IntoView {
    view! {
        <section aria-labelledby="decisions-heading" class="decisions-export">
            <h2 id="decisions-heading">"Decisions as data"</h2>
            <p class="muted">
                "Every decided approval with its data, outcome, reason, who and when, as JSON lines: "
                "the denial reasons are the evidence for loosening or tightening a gate. "
                "Agents allowed on the API keys page read the same from "
                <code>"GET /api/v1/decisions"</code> "."
            </p>
            <form method="get" action="/exports/decisions.jsonl" class="stats-filters" aria-label="Decisions export">
                <div class="filter">
                    <label for="export-kind">"Kind"</label>
                    <input id="export-kind" name="kind" type="text" placeholder="billing.refund"/>
                </div>
                <div class="filter">
                    <label for="export-agent">"Agent"</label>
                    <select id="export-agent" name="agent">
                        <option value="">"Any agent"</option>
                        {agents.into_iter().map(|agent| view! { <option value=agent.clone()>{agent.clone()}</option> }).collect_view()}
                    </select>
                </div>
                <div class="filter">
                    <label for="export-outcome">"Outcome"</label>
                    <select id="export-outcome" name="outcome">
                        <option value="">"Any outcome"</option>
                        <option value="denied">"denied"</option>
                        <option value="approved">"approved"</option>
                        <option value="expired">"expired"</option>
                        <option value="cancelled">"cancelled"</option>
                    </select>
                </div>
                <div class="filter">
                    <label for="export-since">"Decided from (UTC)"</label>
                    <input id="export-since" name="since" type="date"/>
                </div>
                <div class="filter">
                    <label for="export-until">"Decided before (UTC)"</label>
                    <input id="export-until" name="until" type="date"/>
                </div>
                <button type="submit" class="button">"Download JSONL"</button>
            </form>
        </section>
    }
}
