//! Decided approvals, newest first, searchable by title, reason and agent;
//! with how long each
//! decision took.

use super::errors::error_message;
use super::time::{humanize, stamp};
use crate::api::history;
use crate::model::{HistoryPage, Status};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn HistoryPage() -> impl IntoView {
    let query = use_query_map();
    let search = move || query.read().get("q").unwrap_or_default();
    let data = Resource::new(
        move || (query.read().get("q"), query.read().get("cursor")),
        |(q, cursor)| history(q, cursor),
    );
    view! {
        <Title text="History · Holdpoint"/>
        <main class="page">
            <h1>"History"</h1>
            <form method="get" action="/history" class="search" role="search">
                <label for="q" class="visually-hidden">"Search titles, reasons and agents"</label>
                <input id="q" type="search" name="q" placeholder="Search titles, reasons and agents" value=search
                    maxlength=crate::api::MAX_SEARCH_CHARS.to_string()/>
                <button type="submit" class="button">"Search"</button>
            </form>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(page) => view! { <HistoryTable page search=search()/> }.into_any(),
                        Err(error) => view! { <p class="error" role="alert">{error_message(&error)}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn HistoryTable(page: HistoryPage, search: String) -> impl IntoView {
    if page.items.is_empty() {
        let message = if search.trim().is_empty() {
            "No decided approvals yet.".to_owned()
        } else {
            format!("Nothing matches “{}”.", search.trim())
        };
        return view! { <p class="muted">{message}</p> }.into_any();
    }
    let rows = page
        .items
        .into_iter()
        .map(|approval| {
            // Decision time only where a person decided.
            let took = approval
                .decided_at
                .filter(|_| matches!(approval.status, Status::Approved | Status::Denied))
                .map(|at| humanize((at - approval.created_at).num_milliseconds()));
            view! {
                <tr>
                    <td><span class=format!("status status-{}", approval.status)>{approval.status.to_string()}</span></td>
                    <td><a href=format!("/approvals/{}", approval.id)>{approval.title.clone()}</a></td>
                    <td>{approval.agent.clone()}</td>
                    <td>{approval.decided_by.clone().unwrap_or_else(|| "—".to_owned())}</td>
                    <td class="reason-cell">{approval.reason.clone().unwrap_or_default()}</td>
                    <td>{approval.decided_at.map(stamp)}</td>
                    <td>{took}</td>
                </tr>
            }
        })
        .collect_view();
    let next = page.next_cursor.map(|cursor| {
        let q = super::url_encode(&search);
        view! { <p><a href=format!("/history?q={q}&cursor={cursor}")>"Older →"</a></p> }
    });
    view! {
        <div class="table-wrap" tabindex="0">
            <table class="history">
                <thead>
                    <tr>
                        <th scope="col">"Outcome"</th>
                        <th scope="col">"Title"</th>
                        <th scope="col">"Agent"</th>
                        <th scope="col">"Decided by"</th>
                        <th scope="col">"Reason"</th>
                        <th scope="col">"When"</th>
                        <th scope="col">"Took"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        {next}
    }
    .into_any()
}
