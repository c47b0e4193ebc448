//! Deciding several approvals at once: select them (the checkboxes, or x),
//! then approve them all, or deny them all with one reason. The server
//! decides each on its own, atomically; one that was decided elsewhere in
//! the meantime fails alone, and is listed here with why.

use super::dom;
use super::errors::error_message;
use super::inbox_state::Inbox;
use crate::api::decide_many;
use leptos::html;
use leptos::prelude::*;
use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Approve,
    Deny,
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Deny => "deny",
        }
    }

    fn past(self) -> &'static str {
        match self {
            Verdict::Approve => "Approved",
            Verdict::Deny => "Denied",
        }
    }
}

/// An approval of the batch that could not be decided, and why.
#[derive(Debug, Clone, PartialEq)]
struct Failure {
    title: String,
    why: String,
}

#[component]
pub fn BatchBar() -> impl IntoView {
    let inbox = expect_context::<Inbox>();
    let denying = RwSignal::new(false);
    let reason = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let failures = RwSignal::new(Vec::<Failure>::new());
    let running = RwSignal::new(false);
    let reason_field = NodeRef::<html::Textarea>::new();
    let count = move || inbox.checked.with(BTreeSet::len);

    let run = move |verdict: Verdict| {
        let ids: Vec<String> = inbox.checked.get_untracked().into_iter().collect();
        if running.get_untracked() || ids.is_empty() {
            return;
        }
        // Titles now: a card decided elsewhere may leave before the answer.
        let titles: HashMap<String, String> = ids
            .iter()
            .filter_map(|id| {
                inbox
                    .card_untracked(id)
                    .map(|card| (id.clone(), card.title.clone()))
            })
            .collect();
        let reason = (verdict == Verdict::Deny).then(|| reason.get_untracked());
        running.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            match decide_many(ids, verdict.as_str().to_owned(), reason).await {
                Ok(outcomes) => {
                    let mut decided = 0;
                    let mut failed = Vec::new();
                    for outcome in outcomes {
                        match outcome.result {
                            Ok(approval) => {
                                inbox.decided_here(&approval);
                                decided += 1;
                            }
                            Err(why) => failed.push(Failure {
                                title: titles.get(&outcome.id).cloned().unwrap_or(outcome.id),
                                why,
                            }),
                        }
                    }
                    inbox.say(match failed.len() {
                        0 => format!("{} {decided}.", verdict.past()),
                        n => format!("{} {decided}; {n} could not be decided.", verdict.past()),
                    });
                    failures.set(failed);
                    denying.set(false);
                    error.set(None);
                }
                Err(refused) => error.set(Some(error_message(&refused))),
            }
            running.set(false);
        });
    };

    Effect::new(move |_| {
        if denying.get() {
            if let Some(field) = reason_field.get() {
                let _ = field.focus();
            }
        }
    });
    let select_all_shown = move |_| {
        let shown: Vec<String> = inbox.visible().iter().map(|card| card.id.clone()).collect();
        inbox.checked.update(|checked| checked.extend(shown));
    };
    let reason_keys = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
        "Enter" if !ev.shift_key() && !ev.is_composing() => {
            ev.prevent_default();
            dom::submit_form_of(&ev);
        }
        "Escape" => {
            ev.prevent_default();
            denying.set(false);
        }
        _ => {}
    };
    let has_failures = move || !failures.with(Vec::is_empty);

    view! {
        <Show when=move || count() != 0 || has_failures()>
            <section class="batch" aria-label="Decide the selected approvals">
                <Show when=move || count() != 0>
                    <div class="batch-bar">
                        <span class="batch-count">{move || format!("{} selected", count())}</span>
                        <button type="button" class="button approve batch-approve" disabled=running
                            aria-keyshortcuts="Shift+A" on:click=move |_| run(Verdict::Approve)>
                            {move || format!("Approve {}", count())}
                        </button>
                        <button type="button" class="button deny batch-deny" disabled=running
                            aria-keyshortcuts="Shift+D" aria-expanded=move || denying.get().to_string()
                            on:click=move |_| denying.set(true)>
                            {move || format!("Deny {}…", count())}
                        </button>
                        <button type="button" class="link" on:click=select_all_shown>"Select all shown"</button>
                        <button type="button" class="link" on:click=move |_| inbox.checked.set(BTreeSet::new())>"Clear selection"</button>
                    </div>
                    <Show when=move || denying.get() fallback=move || view! {
                        <p class="field-error" role="alert">{move || error.get()}</p>
                    }>
                        <form class="batch-deny-form" on:submit=move |ev| {
                            ev.prevent_default();
                            run(Verdict::Deny);
                        }>
                            <label for="batch-reason">{move || format!("Reason for all {} (sent back to each agent)", count())}</label>
                            <textarea
                                id="batch-reason"
                                rows="2"
                                node_ref=reason_field
                                prop:value=move || reason.get()
                                on:input=move |ev| reason.set(event_target_value(&ev))
                                on:keydown=reason_keys
                                aria-invalid=move || error.with(Option::is_some).to_string()
                                aria-describedby="batch-reason-error"
                            ></textarea>
                            <p class="field-error" id="batch-reason-error" role="alert">{move || error.get()}</p>
                            <div class="batch-deny-actions">
                                <button type="submit" class="button deny-send" disabled=running>
                                    {move || format!("Send {} denials", count())}
                                </button>
                                <button type="button" class="link" on:click=move |_| denying.set(false)>"Cancel"</button>
                            </div>
                        </form>
                    </Show>
                </Show>
                <Show when=has_failures>
                    <div class="batch-failures" role="alert">
                        <p>"Not decided:"</p>
                        <ul>
                            {move || failures.get().into_iter().map(|failure| view! {
                                <li><strong>{failure.title}</strong>": "{failure.why}</li>
                            }).collect_view()}
                        </ul>
                        <button type="button" class="link" on:click=move |_| failures.set(Vec::new())>"Dismiss"</button>
                    </div>
                </Show>
            </section>
        </Show>
    }
}
