//! The page of one approval, at the `url` the API returns.

use super::card::ApprovalCard;
use super::errors::error_message;
use super::webhooks::AttemptList;
use super::{announce, use_clock};
use crate::api::approval_detail;
use crate::model::{Approval, DeliverySummary, WebhookMessage};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn ApprovalPage() -> impl IntoView {
    let params = use_params_map();
    let decisions = RwSignal::new(0u64);
    let data = Resource::new(
        move || (params.read().get("id").unwrap_or_default(), decisions.get()),
        |(id, _)| approval_detail(id),
    );
    let on_decided = Callback::new(move |decided: Approval| {
        announce(format!("{}: {}", decided.status, decided.title));
        decisions.update(|n| *n += 1);
    });
    view! {
        <Transition fallback=|| view! { <main class="page"><p class="muted">"Loading…"</p></main> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(detail) => {
                        let now = use_clock(detail.now_ms);
                        let title = format!("{} · Holdpoint", detail.approval.title);
                        view! {
                            <Title text=title/>
                            <main class="page narrow">
                                <p><a href="/">"← Inbox"</a></p>
                                <ApprovalCard approval=detail.approval.clone() now on_decided read_only=!detail.may_decide/>
                                <Deliveries
                                    messages=detail.deliveries
                                    summary=detail.delivery_summary
                                    pending=!detail.approval.status.is_terminal()
                                />
                            </main>
                        }
                        .into_any()
                    }
                    Err(error) => view! {
                        <main class="page narrow"><p class="error" role="alert">{error_message(&error)}</p></main>
                    }
                    .into_any(),
                }
            })}
        </Transition>
    }
}

/// The outcome webhook of this approval: for admins where it went and every
/// attempt; for others whether it arrived and how many tries it took.
#[component]
fn Deliveries(
    messages: Vec<WebhookMessage>,
    summary: Vec<DeliverySummary>,
    pending: bool,
) -> impl IntoView {
    if messages.is_empty() && !summary.is_empty() {
        let items = summary
            .into_iter()
            .map(|delivery| {
                let label = delivery.label();
                let tries = match delivery.attempts {
                    0 => String::new(),
                    1 => " after 1 attempt".to_owned(),
                    n => format!(" after {n} attempts"),
                };
                view! {
                    <li><span class=format!("delivery delivery-{}", delivery.status.as_str())>{label}</span>{tries}</li>
                }
            })
            .collect_view();
        return view! {
            <section class="deliveries" aria-labelledby="deliveries-heading">
                <h2 id="deliveries-heading">"Webhook"</h2>
                <ul class="plain">{items}</ul>
            </section>
        }
        .into_any();
    }
    if messages.is_empty() {
        let note = if pending {
            "The outcome webhook goes out when this is decided."
        } else {
            "No webhook: this agent's API key has no endpoint."
        };
        return view! { <p class="muted deliveries">{note}</p> }.into_any();
    }
    let items = messages
        .into_iter()
        .map(|message| {
            let status = message.status.as_str();
            let summary = if message.in_flight {
                format!("{status} · sending now")
            } else {
                status.to_owned()
            };
            view! {
                <li>
                    <p>
                        <span class=format!("delivery delivery-{status}")>{summary}</span>
                        " to " <code>{message.url.clone()}</code>
                        <span class="muted">" · " <code>{message.id.clone()}</code></span>
                    </p>
                    <AttemptList attempts=message.attempts/>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="deliveries" aria-labelledby="deliveries-heading">
            <h2 id="deliveries-heading">"Webhook"</h2>
            <ul class="plain">{items}</ul>
        </section>
    }
    .into_any()
}
