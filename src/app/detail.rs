//! The page of one approval, at the `url` the API returns.

use super::card::ApprovalCard;
use super::{announce, use_clock};
use crate::api::{approval_detail, error_message};
use crate::model::Approval;
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
                                <ApprovalCard approval=detail.approval now on_decided/>
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
