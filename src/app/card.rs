//! One approval, as the approver reads it: title, who and when, the preview,
//! the data, and the decision.

use super::dom;
use super::errors::last_error;
use super::inbox_state::Inbox;
use super::json::JsonView;
use super::time::{age_class, ago, humanize, stamp};
use crate::api::Decide;
use crate::model::{Approval, Status};
use leptos::html;
use leptos::prelude::*;

#[component]
pub fn ApprovalCard(
    approval: Approval,
    /// The clock the ages are computed from (ticks in the browser).
    now: RwSignal<i64>,
    /// Called with the decided approval after a successful decision.
    on_decided: Callback<Approval>,
    /// Set when someone else decided it while it was on screen here (what
    /// happened, "approved by Ana, just now"): the card stays, says so,
    /// and takes no decision.
    #[prop(optional, into)]
    superseded: Signal<Option<String>>,
    /// Moves on from a superseded card.
    #[prop(optional)]
    on_next: Option<Callback<()>>,
    /// For someone who may see but not decide it: no buttons, and why.
    #[prop(optional)]
    read_only: bool,
) -> impl IntoView {
    let created_ms = approval.created_at.timestamp_millis();
    let expires_ms = approval.expires_at.timestamp_millis();
    let waited = move || now.get() - created_ms;
    let meta = view! {
        <p class="card-meta">
            <span class="agent" title="API key">{approval.agent.clone()}</span>
            {approval.action.clone().map(|action| view! { <span class="sep">"·"</span><code class="action">{action}</code> })}
            {approval.approver.clone().map(|who| view! { <span class="sep">"·"</span><span>"for " {who}</span> })}
            {approval.group.clone().map(|group| view! { <span class="sep">"·"</span><span>"for the " {group} " group"</span> })}
            <span class="sep">"·"</span>
            <span class=move || age_class(waited()) title=stamp(approval.created_at)>
                {move || format!("waiting {}", humanize(waited()))}
            </span>
            {(approval.status == Status::Pending).then(|| view! {
                <span class="sep">"·"</span>
                <span class="expires" title=stamp(approval.expires_at)>
                    {move || format!("expires in {}", humanize(expires_ms - now.get()))}
                </span>
            })}
        </p>
    };
    let body = approval.body.clone();
    view! {
        <article class="card" aria-labelledby=format!("title-{}", approval.id) data-id=approval.id.clone()>
            <header>
                <h2 class="card-title" id=format!("title-{}", approval.id)>{approval.title.clone()}</h2>
                {meta}
            </header>
            {move || superseded.get().map(|what| view! {
                <div class="superseded" role="alert">
                    <p>
                        <strong>{format!("This approval was {what}.")}</strong>
                        " Nothing was sent from here; anything you wrote is still below to copy."
                    </p>
                    {on_next.map(|next| view! {
                        <button type="button" class="button" on:click=move |_| next.run(())>"Next card"</button>
                    })}
                </div>
            })}
            {approval.repeats_denial.clone().map(|earlier| {
                let denied_ms = earlier.denied_at.timestamp_millis();
                view! {
                    <p class="repeat-notice" role="note">
                        <strong>"Asked again: "</strong>
                        {move || format!(
                            "denied {} by {}",
                            ago(now.get() - denied_ms),
                            earlier.denied_by.clone().unwrap_or_else(|| "someone".to_owned()),
                        )}
                        {earlier.reason.clone().map(|reason| view! { ": " <q>{reason}</q> })}
                    </p>
                }
            })}
            {approval.policy_note.clone().map(|note| view! {
                <p class="repeat-notice" role="note">
                    <strong>"Held back by a policy: "</strong>{note}
                </p>
            })}
            {(!body.trim().is_empty()).then(|| view! {
                <section class="preview" aria-label="Preview from the agent" inner_html=body></section>
            })}
            <section class="data">
                <h3>"Data"</h3>
                <JsonView value=approval.data.clone()/>
            </section>
            {if approval.status == Status::Pending && read_only {
                view! {
                    <p class="read-only-note">"You can see this approval but not decide it: viewers only look."</p>
                }.into_any()
            } else if approval.status == Status::Pending {
                view! { <Decision id=approval.id.clone() on_decided superseded/> }.into_any()
            } else {
                view! { <Outcome approval=approval.clone()/> }.into_any()
            }}
        </article>
    }
}

/// Approve and Deny. Both are plain forms posting to the `decide` server
/// function, so they work before the WASM has loaded; once hydrated, they
/// submit in place, show errors beside the field, and answer the keyboard:
/// Enter in the reason sends it (Shift+Enter for a new line), Esc closes it.
#[component]
fn Decision(
    id: String,
    on_decided: Callback<Approval>,
    superseded: Signal<Option<String>>,
) -> impl IntoView {
    let approve = ServerAction::<Decide>::new();
    let deny = ServerAction::<Decide>::new();
    let reason_field = NodeRef::<html::Textarea>::new();
    // In the inbox, which card's denial is being written (elsewhere, None).
    let drafting = use_context::<Inbox>().map(|inbox| inbox.drafting);
    Effect::new(move |_| {
        for action in [approve, deny] {
            if let Some(Ok(decided)) = action.value().get() {
                action.value().set(None);
                on_decided.run(decided);
            }
        }
    });
    let approve_error = move || last_error(approve);
    let deny_error = move || last_error(deny);
    let stale = move || superseded.with(Option::is_some);
    let busy = move || approve.pending().get() || deny.pending().get() || stale();
    let reason_id = format!("reason-{id}");
    let reason_error_id = format!("reason-error-{id}");
    let deny_id = id.clone();
    let toggled = {
        let id = id.clone();
        move |ev: leptos::ev::Event| {
            let open = dom::details_opened(&ev);
            if let Some(drafting) = drafting {
                if open {
                    drafting.set(Some(id.clone()));
                } else if drafting.get_untracked().as_deref() == Some(id.as_str()) && !stale() {
                    drafting.set(None);
                }
            }
            if open {
                if let Some(field) = reason_field.get() {
                    let _ = field.focus();
                }
            }
        }
    };
    let reason_keys = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
        "Enter" if !ev.shift_key() && !ev.is_composing() => {
            ev.prevent_default();
            if !busy() {
                dom::submit_form_of(&ev);
            }
        }
        "Escape" => {
            ev.prevent_default();
            dom::close_details_of(&ev);
        }
        _ => {}
    };
    view! {
        <footer class="decision">
            <ActionForm action=approve attr:class="approve-form">
                <input type="hidden" name="id" value=id/>
                <input type="hidden" name="verdict" value="approve"/>
                <button type="submit" class="button approve" disabled=busy aria-keyshortcuts="a">
                    "Approve" <kbd aria-hidden="true">"a"</kbd>
                </button>
            </ActionForm>
            <details class="deny" on:toggle=toggled>
                <summary class="button deny" aria-keyshortcuts="d">"Deny…" <kbd aria-hidden="true">"d"</kbd></summary>
                <ActionForm action=deny attr:class="deny-form">
                    <input type="hidden" name="id" value=deny_id/>
                    <input type="hidden" name="verdict" value="deny"/>
                    <label for=reason_id.clone()>"Reason (sent back to the agent)"</label>
                    <textarea
                        id=reason_id
                        name="reason"
                        rows="3"
                        node_ref=reason_field
                        readonly=stale
                        on:keydown=reason_keys
                        aria-invalid=move || deny_error().is_some().to_string()
                        aria-describedby=reason_error_id.clone()
                        placeholder="What should the agent do differently?"
                    ></textarea>
                    <p class="field-error" id=reason_error_id role="alert">{deny_error}</p>
                    <p class="hint">"Enter sends · Shift+Enter for a new line · Esc closes"</p>
                    <button type="submit" class="button deny-send" disabled=busy>"Send denial"</button>
                </ActionForm>
            </details>
            <p class="field-error" role="alert">{approve_error}</p>
        </footer>
    }
}

#[component]
fn Outcome(approval: Approval) -> impl IntoView {
    let status = approval.status;
    let who = approval.decided_by.clone().map(|who| format!(" by {who}"));
    let when = approval.decided_at.map(|at| {
        let took = (at - approval.created_at).num_milliseconds();
        format!(" on {} after {}", stamp(at), humanize(took))
    });
    view! {
        <footer class="outcome">
            <p>
                <span class=format!("status status-{status}")>{status.to_string()}</span>
                {who}
                {when}
            </p>
            {approval.reason.map(|reason| view! { <blockquote class="reason">{reason}</blockquote> })}
        </footer>
    }
}
