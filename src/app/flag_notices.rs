//! An admin's notice, on the inbox, of each flag in sampled review that no
//! admin has put away: which policy went back to gate, and why. Loaded with
//! the inbox (no request of its own); dismissing one hides it here.

use super::errors::last_error;
use crate::api::AcknowledgeFlag;
use crate::model::ReviewItem;
use leptos::prelude::*;

#[component]
pub fn FlagNotices(notices: Vec<ReviewItem>) -> impl IntoView {
    (!notices.is_empty()).then(|| {
        view! {
            <section class="flag-notices" role="alert" aria-label="Flags in sampled review">
                {notices.into_iter().map(|item| view! { <FlagNotice item/> }).collect_view()}
            </section>
        }
    })
}

#[component]
fn FlagNotice(item: ReviewItem) -> impl IntoView {
    let dismiss = ServerAction::<AcknowledgeFlag>::new();
    let dismissed = move || matches!(dismiss.value().get(), Some(Ok(())));
    let id = item.approval_id.clone();
    let what = format!(
        " {} flagged “{}”: {}",
        item.reviewer.clone().unwrap_or_default(),
        item.title,
        item.note.clone().unwrap_or_default()
    );
    view! {
        <div class="flag-notice" data-id=item.approval_id.clone() class:hidden=dismissed>
            <p>
                <strong>{format!("Policy {} is back to gate.", item.policy_name)}</strong>
                {what}
                " " <a href="/review">"Sampled review"</a>
                " · " <a href="/admin/policies">"Policies"</a>
            </p>
            <ActionForm action=dismiss attr:class="inline">
                <input type="hidden" name="approval_id" value=id/>
                <button type="submit" class="button small">"Dismiss"</button>
            </ActionForm>
            <p class="field-error">{move || last_error(dismiss)}</p>
        </div>
    }
}
