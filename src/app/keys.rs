//! The admin's API keys page: create a key for an agent (its secret shown
//! once, with a copy button), choose where its approvals go by default and
//! where its outcomes are sent, see when it was last used and what it has
//! pending, revoke it (asked inline). Plain forms, errors beside them.

use super::copy::ShownOnce;
use super::errors::{error_message, last_error};
use super::time::stamp_ms;
use crate::api::{
    keys, CreateKey, KeyRow, KeysData, NewKeyData, RevokeKey, RotateKey, SetKeyReadsDecisions,
    SetKeyRoute,
};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn KeysPage() -> impl IntoView {
    let reload = RwSignal::new(0u64);
    let issued = RwSignal::new(None::<NewKeyData>);
    let data = Resource::new(move || reload.get(), |_| keys());
    view! {
        <Title text="API keys · Holdpoint"/>
        <main class="page admin-page">
            <h1>"API keys"</h1>
            <p class="muted">
                "An agent sends its key as " <code>"Authorization: Bearer hp_…"</code>
                ". Only a hash is stored: a key is shown once, when it is made."
            </p>
            {move || issued.get().map(|key| view! {
                <ShownOnce label=format!("API key {}", key.name) value=key.secret/>
                {key.webhook_secret.map(|secret| view! {
                    <ShownOnce label=format!("Webhook signing secret of {}", key.name) value=secret/>
                })}
            })}
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(data) => view! { <KeysView data reload issued/> }.into_any(),
                        Err(error) => view! { <p class="error" role="alert">{error_message(&error)}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn KeysView(
    data: KeysData,
    reload: RwSignal<u64>,
    issued: RwSignal<Option<NewKeyData>>,
) -> impl IntoView {
    let create = ServerAction::<CreateKey>::new();
    Effect::new(move |_| {
        if let Some(Ok(key)) = create.value().get() {
            issued.set(Some(key));
            reload.update(|n| *n += 1);
        }
    });
    // Where a key's approvals may go: (the select's value, its label).
    let mut choices = vec![(String::new(), "Anyone who may decide".to_owned())];
    choices.extend(
        data.groups
            .iter()
            .map(|group| (format!("group:{group}"), format!("The {group} group"))),
    );
    choices.extend(
        data.approvers
            .iter()
            .map(|email| (format!("person:{email}"), email.clone())),
    );
    let row_choices = choices.clone();
    let rows = if data.keys.is_empty() {
        view! { <p class="muted">"No keys yet."</p> }.into_any()
    } else {
        view! {
            <table class="admin-table keys">
                <thead>
                    <tr>
                        <th scope="col">"Agent"</th><th scope="col">"Goes to"</th><th scope="col">"Last used"</th>
                        <th scope="col">"Pending"</th><th scope="col">"Webhook"</th><th scope="col">"Actions"</th>
                    </tr>
                </thead>
                <tbody>
                    {data.keys.into_iter().map(|key| view! { <KeyRowView key choices=row_choices.clone() reload issued/> }).collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <section aria-labelledby="new-key-heading" class="card admin-form">
            <h2 id="new-key-heading">"New key"</h2>
            <ActionForm action=create attr:class="stacked">
                <label for="key-name">"Agent name (shown on every approval it asks for)"</label>
                <input id="key-name" type="text" name="name" required maxlength="100" placeholder="billing-agent" autocomplete="off"/>
                <label for="key-route">"Its approvals go to, unless it names someone"</label>
                <select id="key-route" name="route">
                    {choices.into_iter().map(|(value, label)| view! { <option value=value>{label}</option> }).collect_view()}
                </select>
                <label for="key-webhook">"Webhook URL for outcomes (optional)"</label>
                <input id="key-webhook" type="url" name="webhook_url" placeholder="https://agent.example.com/hooks/holdpoint"/>
                <p class="field-error" role="alert">{move || last_error(create)}</p>
                <button type="submit" class="button primary">"Create key"</button>
            </ActionForm>
        </section>
        <section aria-labelledby="keys-heading">
            <h2 id="keys-heading">"Keys"</h2>
            {rows}
        </section>
    }
}

#[component]
fn KeyRowView(
    key: KeyRow,
    choices: Vec<(String, String)>,
    reload: RwSignal<u64>,
    issued: RwSignal<Option<NewKeyData>>,
) -> impl IntoView {
    let revoke = ServerAction::<RevokeKey>::new();
    let set_route = ServerAction::<SetKeyRoute>::new();
    let rotate = ServerAction::<RotateKey>::new();
    let reads = ServerAction::<SetKeyReadsDecisions>::new();
    Effect::new(move |_| {
        if let Some(Ok(key)) = rotate.value().get() {
            issued.set(Some(key));
        }
        let changed = matches!(revoke.value().get(), Some(Ok(())))
            || matches!(set_route.value().get(), Some(Ok(())))
            || matches!(rotate.value().get(), Some(Ok(_)))
            || matches!(reads.value().get(), Some(Ok(())));
        if changed {
            reload.update(|n| *n += 1);
        }
    });
    let route_id = format!("route-{}", key.name);
    let route_label = format!("Where approvals of {} go", key.name);
    let route_name = key.name.clone();
    let current = key.route_value.clone();
    let revoked = key.revoked_at.is_some();
    let revoke_label = format!("Revoke {}", key.name);
    let revoke_id = key.id.clone();
    let rotate_name = key.name.clone();
    let reads_name = key.name.clone();
    let reads_decisions = key.reads_decisions;
    view! {
        <tr data-key=key.name.clone() class:revoked=revoked>
            <td>
                <span class="person-name">{key.name.clone()}</span>
                <br/><span class="muted">{format!("created {}", stamp_ms(key.created_at))}</span>
                {reads_decisions.then(|| view! {
                    <br/><span class="badge" title="May read GET /api/v1/decisions">"reads decisions"</span>
                })}
            </td>
            <td>
                {if revoked {
                    view! { <span>{key.route.clone()}</span> }.into_any()
                } else {
                    view! {
                        <ActionForm action=set_route attr:class="inline">
                            <input type="hidden" name="name" value=route_name/>
                            <label for=route_id.clone() class="visually-hidden">{route_label}</label>
                            <select id=route_id name="route">
                                {choices.into_iter().map(|(value, label)| {
                                    let selected = value == current;
                                    view! { <option value=value selected=selected>{label}</option> }
                                }).collect_view()}
                            </select>
                            <button type="submit" class="button">"Save"</button>
                        </ActionForm>
                    }.into_any()
                }}
            </td>
            <td>{key.last_used_at.map(stamp_ms).unwrap_or_else(|| "never".to_owned())}</td>
            <td>{key.pending}</td>
            <td>{key.webhook_url.clone().map(|url| view! { <code class="endpoint-url">{url}</code> })}</td>
            <td><div class="row-actions">
                {match key.revoked_at {
                    Some(at) => view! { <span class="status status-deactivated">{format!("revoked {}", stamp_ms(at))}</span> }.into_any(),
                    None => view! {
                        <ActionForm action=rotate attr:class="inline">
                            <input type="hidden" name="name" value=rotate_name/>
                            <button type="submit" class="button" title="A second key for this agent, beside this one">"Rotate"</button>
                        </ActionForm>
                        <ActionForm action=reads attr:class="inline">
                            <input type="hidden" name="name" value=reads_name/>
                            <input type="hidden" name="allowed" value=(!reads_decisions).to_string()/>
                            <button type="submit" class="button"
                                title="Whether this agent may read every decision and its reason (GET /api/v1/decisions)">
                                {if reads_decisions { "Stop reading decisions" } else { "Allow reading decisions" }}
                            </button>
                        </ActionForm>
                        <details class="confirm">
                            <summary class="button danger">"Revoke…"</summary>
                            <p>"Its next request is refused, and its parked waits answer 401 at once. Its pending approvals stay decidable."</p>
                            <ActionForm action=revoke attr:class="inline">
                                <input type="hidden" name="id" value=revoke_id/>
                                <button type="submit" class="button danger">{revoke_label}</button>
                            </ActionForm>
                        </details>
                    }.into_any(),
                }}
                <p class="field-error" role="alert">{move || last_error(revoke)
                    .or_else(|| last_error(set_route))
                    .or_else(|| last_error(rotate))
                    .or_else(|| last_error(reads))}</p>
            </div></td>
        </tr>
    }
}
