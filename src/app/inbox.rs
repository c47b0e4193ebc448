//! The inbox: pending approvals, oldest first, as a list beside the selected
//! card (a card per screen on a phone).

use super::card::ApprovalCard;
use super::time::{age_class, ago, humanize, stamp};
use super::{announce, use_clock};
use crate::api::{error_message, inbox, InboxData};
use crate::model::{Approval, Status};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn InboxPage() -> impl IntoView {
    // Bumped after each decision made here, to reload the list.
    let decisions = RwSignal::new(0u64);
    let data = Resource::new(move || decisions.get(), |_| inbox());
    let on_decided = Callback::new(move |decided: Approval| {
        let verb = if decided.status == Status::Approved {
            "Approved"
        } else {
            "Denied"
        };
        announce(format!("{verb}: {}", decided.title));
        decisions.update(|n| *n += 1);
    });
    view! {
        <Transition fallback=|| view! { <main class="page"><p class="muted">"Loading…"</p></main> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(inbox) => view! { <InboxView inbox on_decided/> }.into_any(),
                    Err(error) => view! {
                        <main class="page"><p class="error" role="alert">{error_message(&error)}</p></main>
                    }
                    .into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn InboxView(inbox: InboxData, on_decided: Callback<Approval>) -> impl IntoView {
    let now = use_clock(inbox.now_ms);
    let query = use_query_map();
    let approvals = inbox.approvals;
    let count = approvals.len();
    if approvals.is_empty() {
        let last = inbox.last_decided_at.map(|at| {
            let at_ms = at.timestamp_millis();
            view! {
                <p class="muted">
                    "Last decision "
                    <time datetime=at.to_rfc3339() title=stamp(at)>{move || ago(now.get() - at_ms)}</time>
                    "."
                </p>
            }
        });
        return view! {
            <Title text="Inbox · Holdpoint"/>
            <main class="page inbox-empty">
                <h1>"Nothing waiting"</h1>
                <p class="muted">"New requests from your agents appear here."</p>
                {last}
            </main>
        }
        .into_any();
    }
    let selected_id = move || query.read().get("selected");
    let list = approvals.clone();
    let selected = move || {
        let wanted = selected_id();
        list.iter()
            .find(|a| Some(&a.id) == wanted.as_ref())
            .or_else(|| list.first())
            .cloned()
    };
    let items = approvals
        .into_iter()
        .map(|approval| {
            let id = approval.id.clone();
            let created_ms = approval.created_at.timestamp_millis();
            let is_selected = {
                let id = id.clone();
                let selected = selected.clone();
                move || selected().is_some_and(|s| s.id == id)
            };
            view! {
                <li>
                    <a
                        href=format!("/?selected={id}")
                        class="inbox-item"
                        aria-current=move || is_selected().then_some("true")
                    >
                        <span class="inbox-item-title">{approval.title.clone()}</span>
                        <span class="inbox-item-meta">
                            {approval.agent.clone()}
                            " · "
                            <span class=move || age_class(now.get() - created_ms)>
                                {move || humanize(now.get() - created_ms)}
                            </span>
                        </span>
                    </a>
                </li>
            }
        })
        .collect_view();
    view! {
        <Title text=format!("({count}) Inbox · Holdpoint")/>
        <main class="page inbox">
            <section class="inbox-list" aria-label="Pending approvals">
                <h1>{format!("{count} waiting")}</h1>
                <ol>{items}</ol>
            </section>
            <section class="inbox-detail" aria-label="Selected approval">
                {move || selected().map(|approval| view! { <ApprovalCard approval now on_decided/> })}
            </section>
        </main>
    }
    .into_any()
}
