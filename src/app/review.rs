//! The admin's Review page: what sampling policies approved and picked for
//! a person to look at after the fact. Confirm, or flag with a reason: a
//! flag puts the policy back to gate at once.

use super::errors::{error_message, last_error};
use super::time::stamp;
use crate::api::{sampled_reviews, ReviewSample};
use crate::model::{ReviewItem, ReviewQueue, ReviewState};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ReviewPage() -> impl IntoView {
    let reload = RwSignal::new(0u64);
    let data = Resource::new(move || reload.get(), |_| sampled_reviews());
    view! {
        <Title text="Sampled review · Holdpoint"/>
        <main class="page admin-page review-page">
            <h1>"Sampled review"</h1>
            <p class="muted">
                "A sampling policy approves at once and sends a share here. Confirm what was right; "
                "flag what was not, with a reason: the policy goes back to gate at once and the admins are told."
            </p>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(queue) => view! { <Queue queue reload/> }.into_any(),
                        Err(error) => view! { <p class="error" role="alert">{error_message(&error)}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn Queue(queue: ReviewQueue, reload: RwSignal<u64>) -> impl IntoView {
    let waiting = if queue.waiting.is_empty() {
        view! { <p class="muted">"Nothing waiting for review."</p> }.into_any()
    } else {
        view! {
            <ul class="review-list">
                {queue.waiting.into_iter().map(|item| view! { <Waiting item reload/> }).collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <section aria-labelledby="waiting-heading">
            <h2 id="waiting-heading">"Waiting"</h2>
            {waiting}
        </section>
        <section aria-labelledby="reviewed-heading">
            <h2 id="reviewed-heading">"Reviewed"</h2>
            {if queue.reviewed.is_empty() {
                view! { <p class="muted">"None yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="review-list">
                        {queue.reviewed.into_iter().map(|item| view! { <Reviewed item/> }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

fn summary(item: &ReviewItem) -> impl IntoView {
    view! {
        <h3><a href=format!("/approvals/{}", item.approval_id)>{item.title.clone()}</a></h3>
        <p class="card-meta">
            {item.agent.clone()}
            {item.action.clone().map(|a| view! { <span class="sep">"·"</span><code>{a}</code> })}
            <span class="sep">"·"</span>
            {format!("approved by policy:{}", item.policy_name)}
            <span class="sep">"·"</span>
            <time title=stamp(item.approved_at)>{stamp(item.approved_at)}</time>
        </p>
    }
}

#[component]
fn Waiting(item: ReviewItem, reload: RwSignal<u64>) -> impl IntoView {
    let review = ServerAction::<ReviewSample>::new();
    Effect::new(move |_| {
        if matches!(review.value().get(), Some(Ok(_))) {
            reload.update(|n| *n += 1);
        }
    });
    let reason_id = format!("flag-{}", item.approval_id);
    let (confirmed, flagged) = (item.approval_id.clone(), item.approval_id.clone());
    let shown = summary(&item);
    view! {
        <li class="card review" data-id=item.approval_id.clone()>
            {shown}
            <div class="review-actions">
                <ActionForm action=review attr:class="inline">
                    <input type="hidden" name="approval_id" value=confirmed/>
                    <button type="submit" class="button">"Confirm"</button>
                </ActionForm>
                <ActionForm action=review attr:class="inline flag-form">
                    <input type="hidden" name="approval_id" value=flagged/>
                    <label for=reason_id.clone()>"Why it should not have gone through"</label>
                    <input id=reason_id type="text" name="flag" required autocomplete="off"/>
                    <button type="submit" class="button danger">"Flag"</button>
                </ActionForm>
            </div>
            <p class="field-error" role="alert">{move || last_error(review)}</p>
        </li>
    }
}

#[component]
fn Reviewed(item: ReviewItem) -> impl IntoView {
    let verdict = match item.state {
        ReviewState::Flagged => format!(
            "Flagged by {}: {}",
            item.reviewer.clone().unwrap_or_default(),
            item.note.clone().unwrap_or_default()
        ),
        _ => format!("Confirmed by {}", item.reviewer.clone().unwrap_or_default()),
    };
    let id = item.approval_id.clone();
    let shown = summary(&item);
    view! {
        <li class=format!("card review {}", item.state.as_str()) data-id=id>
            {shown}
            <p class="verdict">{verdict}</p>
        </li>
    }
}
