//! An admin's notice, on the inbox, of each flag in sampled review that no
//! admin has put away: which policy went back to gate, and why.

use super::errors::last_error;
use crate::api::{flag_notices, AcknowledgeFlag};
use leptos::prelude::*;

#[component]
pub fn FlagNotices() -> impl IntoView {
    let reload = RwSignal::new(0u64);
    let notices = Resource::new(move || reload.get(), |_| flag_notices());
    let dismiss = ServerAction::<AcknowledgeFlag>::new();
    Effect::new(move |_| {
        if matches!(dismiss.value().get(), Some(Ok(()))) {
            reload.update(|n| *n += 1);
        }
    });
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let items = notices.await.unwrap_or_default();
                (!items.is_empty()).then(|| view! {
                    <section class="flag-notices" role="alert" aria-label="Flags in sampled review">
                        {items.into_iter().map(|item| {
                            let id = item.approval_id.clone();
                            let dismissed = id.clone();
                            view! {
                            <div class="flag-notice" data-id=id>
                                <p>
                                    <strong>{format!("Policy {} is back to gate.", item.policy_name)}</strong>
                                    {format!(
                                        " {} flagged “{}”: {}",
                                        item.reviewer.clone().unwrap_or_default(),
                                        item.title,
                                        item.note.clone().unwrap_or_default()
                                    )}
                                    " " <a href="/review">"Sampled review"</a>
                                    " · " <a href="/admin/policies">"Policies"</a>
                                </p>
                                <ActionForm action=dismiss attr:class="inline">
                                    <input type="hidden" name="approval_id" value=dismissed/>
                                    <button type="submit" class="button small">"Dismiss"</button>
                                </ActionForm>
                            </div>
                        }}).collect_view()}
                        <p class="field-error">{move || last_error(dismiss)}</p>
                    </section>
                })
            })}
        </Transition>
    }
}
