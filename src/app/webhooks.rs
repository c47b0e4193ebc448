//! The admin's Webhooks page: each API key's endpoint and its health, the
//! message log with every attempt, and the buttons that act on them. Every
//! action is a plain form (works before the WASM loads) whose errors show
//! beside it.

use super::errors::{error_message, last_error};
use super::time::stamp_ms;
use crate::api::{
    webhooks, EnableWebhook, IssuedSecret, RedeliverWebhook, RotateWebhookSecret, SendTestWebhook,
    SetWebhookUrl, WebhooksData,
};
use crate::model::{KeyWebhook, WebhookAttempt, WebhookMessage};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// What the endpoint cards share with the page: a reload after any change,
/// and the place a freshly issued secret is shown (once).
#[derive(Clone, Copy)]
struct PageState {
    reload: RwSignal<u64>,
    issued: RwSignal<Option<IssuedSecret>>,
    redeliver: ServerAction<RedeliverWebhook>,
}

#[component]
pub fn WebhooksPage() -> impl IntoView {
    let state = PageState {
        reload: RwSignal::new(0),
        issued: RwSignal::new(None),
        redeliver: ServerAction::new(),
    };
    let query = use_query_map();
    let data = Resource::new(
        move || {
            (
                query.read().get("key"),
                state.reload.get(),
                state.redeliver.version().get(),
            )
        },
        |(key, ..)| webhooks(key),
    );
    view! {
        <Title text="Webhooks · Holdpoint"/>
        <main class="page">
            <h1>"Webhooks"</h1>
            <p class="muted">
                "Each API key's outcomes (approved, denied, expired, cancelled) are POSTed to its endpoint, "
                "signed with Standard Webhooks, and retried for about a day until it answers 2xx."
            </p>
            {move || state.issued.get().map(|IssuedSecret { key_name, secret }| view! {
                <div class="callout" role="status">
                    <p>"Signing secret for " <strong>{key_name}</strong> ". It is shown only now; give it to the receiver:"</p>
                    <code class="secret">{secret}</code>
                </div>
            })}
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(data) => view! { <WebhooksView data state/> }.into_any(),
                        Err(error) => view! { <p class="error" role="alert">{error_message(&error)}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn WebhooksView(data: WebhooksData, state: PageState) -> impl IntoView {
    let now = data.now_ms;
    let endpoints = if data.keys.is_empty() {
        view! { <p class="muted">"No API keys yet: create one with " <code>"holdpoint admin create-key"</code> "."</p> }.into_any()
    } else {
        data.keys
            .into_iter()
            .map(|key| view! { <EndpointCard key now state/> })
            .collect_view()
            .into_any()
    };
    view! {
        <section aria-labelledby="endpoints-heading">
            <h2 id="endpoints-heading">"Endpoints"</h2>
            <div class="endpoints">{endpoints}</div>
        </section>
        <section aria-labelledby="log-heading">
            <h2 id="log-heading">"Message log"</h2>
            <MessageLog messages=data.messages now redeliver=state.redeliver/>
        </section>
    }
}

#[component]
fn EndpointCard(key: KeyWebhook, now: i64, state: PageState) -> impl IntoView {
    // Each card has its own actions, so an error shows beside the card it
    // belongs to; a success reloads the page's data.
    let set_url = ServerAction::<SetWebhookUrl>::new();
    let rotate = ServerAction::<RotateWebhookSecret>::new();
    let enable = ServerAction::<EnableWebhook>::new();
    let test = ServerAction::<SendTestWebhook>::new();
    Effect::new(move |_| {
        let issued = match (set_url.value().get(), rotate.value().get()) {
            (Some(Ok(secret)), _) => Some(secret),
            (_, Some(Ok(secret))) => Some(Some(secret)),
            _ => None,
        };
        let succeeded = issued.is_some()
            || matches!(enable.value().get(), Some(Ok(_)))
            || matches!(test.value().get(), Some(Ok(_)));
        if let Some(Some(secret)) = issued {
            state.issued.set(Some(secret));
        }
        if succeeded {
            state.reload.update(|n| *n += 1);
        }
    });
    // One copy per form: each view closure takes its own.
    let (set_key, test_key, rotate_key, enable_key) = (
        key.key_id.clone(),
        key.key_id.clone(),
        key.key_id.clone(),
        key.key_id.clone(),
    );
    let health = key.endpoint.as_ref().map(|endpoint| {
        let health = endpoint.health();
        let detail = match health {
            "disabled" => format!(
                "Disabled {}: {}",
                endpoint.disabled_at.map(stamp_ms).unwrap_or_default(),
                endpoint.disabled_reason.clone().unwrap_or_default()
            ),
            "failing" => format!("{} failed attempts in a row", endpoint.failure_streak),
            _ => "Healthy".to_owned(),
        };
        let last_success = endpoint
            .last_success_at
            .map(|at| format!("Last success {}", stamp_ms(at)))
            .unwrap_or_else(|| "No successful delivery yet".to_owned());
        let rotating = endpoint
            .previous_secret_until
            .filter(|until| *until > now)
            .map(|until| view! { <p class="muted">"Old secret still signs until " {stamp_ms(until)}</p> });
        view! {
            <p class="endpoint-url"><code>{endpoint.url.clone()}</code></p>
            <p>
                <span class=format!("health health-{health}")>{health}</span>
                " " {detail} <span class="sep">"·"</span> {last_success}
            </p>
            {rotating}
        }
        .into_any()
    });
    let has_endpoint = key.endpoint.is_some();
    let disabled = key
        .endpoint
        .as_ref()
        .is_some_and(|e| e.disabled_at.is_some());
    let url_value = key
        .endpoint
        .as_ref()
        .map(|e| e.url.clone())
        .unwrap_or_default();
    let field_id = format!("url-{}", key.key_id);
    let set_error = move || last_error(set_url);
    let button_error = move || {
        last_error(rotate)
            .or_else(|| last_error(enable))
            .or_else(|| last_error(test))
    };
    view! {
        <article class="endpoint card" data-key=key.key_name.clone()>
            <h3>
                <a href=format!("/admin/webhooks?key={}", key.key_id)>{key.key_name.clone()}</a>
                {key.revoked_at.map(|at| view! {
                    " " <span class="health health-disabled" title=format!("Revoked {}", stamp_ms(at))>"key revoked"</span>
                })}
            </h3>
            {key.revoked_at.map(|_| view! {
                <p class="muted">"This key was revoked: its agent can no longer ask, but outcomes of its approvals still go to this endpoint."</p>
            })}
            {health.unwrap_or_else(|| view! { <p class="muted">"No webhook endpoint: outcomes reach this agent only through " <code>"/wait"</code> "."</p> }.into_any())}
            <ActionForm action=set_url attr:class="set-url">
                <input type="hidden" name="key_id" value=set_key/>
                <label for=field_id.clone()>"Endpoint URL"</label>
                <input id=field_id type="url" name="url" required placeholder="https://agent.example.com/hooks/holdpoint" value=url_value/>
                <button type="submit" class="button">{if has_endpoint { "Change URL" } else { "Add endpoint" }}</button>
                <p class="error" role="alert">{set_error}</p>
            </ActionForm>
            {has_endpoint.then(move || view! {
                <div class="endpoint-actions">
                    <ActionForm action=test attr:class="inline">
                        <input type="hidden" name="key_id" value=test_key/>
                        <button type="submit" class="button">"Send test event"</button>
                    </ActionForm>
                    <ActionForm action=rotate attr:class="inline">
                        <input type="hidden" name="key_id" value=rotate_key/>
                        <button type="submit" class="button">"Rotate secret"</button>
                    </ActionForm>
                    {disabled.then(move || view! {
                        <ActionForm action=enable attr:class="inline">
                            <input type="hidden" name="key_id" value=enable_key/>
                            <button type="submit" class="button primary">"Enable again"</button>
                        </ActionForm>
                    })}
                    <p class="error" role="alert">{button_error}</p>
                </div>
            })}
        </article>
    }
}

#[component]
fn MessageLog(
    messages: Vec<WebhookMessage>,
    now: i64,
    redeliver: ServerAction<RedeliverWebhook>,
) -> impl IntoView {
    if messages.is_empty() {
        return view! { <p class="muted">"No messages yet."</p> }.into_any();
    }
    let rows = messages
        .into_iter()
        .map(|message| {
            let attempts = message.attempts.len();
            let next = (message.status == crate::model::DeliveryStatus::Pending).then(|| {
                if message.in_flight {
                    "sending now".to_owned()
                } else if message.next_attempt_at <= now {
                    "due now".to_owned()
                } else {
                    format!("next try {}", stamp_ms(message.next_attempt_at))
                }
            });
            let id = message.id.clone();
            view! {
                <tr data-message=message.id.clone()>
                    <td>{stamp_ms(message.created_at)}</td>
                    <td>{message.key_name.clone()}</td>
                    <td><code>{message.event_type.clone()}</code></td>
                    <td>{message.approval_id.clone().map(|approval| view! { <a href=format!("/approvals/{approval}")>"approval"</a> })}</td>
                    <td>
                        <span class=format!("delivery delivery-{}", message.status.as_str())>{message.status.as_str()}</span>
                        {next.map(|next| view! { <span class="muted">" · " {next}</span> })}
                    </td>
                    <td>
                        <details>
                            <summary>{format!("{attempts} attempt{}", if attempts == 1 { "" } else { "s" })}</summary>
                            <AttemptList attempts=message.attempts.clone()/>
                        </details>
                    </td>
                    <td>
                        <ActionForm action=redeliver attr:class="inline">
                            <input type="hidden" name="message_id" value=id/>
                            <button type="submit" class="button">"Redeliver"</button>
                        </ActionForm>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="error" role="alert">{move || last_error(redeliver)}</p>
        <div class="table-wrap" tabindex="0">
            <table class="history messages">
                <thead>
                    <tr>
                        <th scope="col">"Queued"</th>
                        <th scope="col">"Key"</th>
                        <th scope="col">"Event"</th>
                        <th scope="col">"About"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Attempts"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// Every attempt of one message: when, what came back, how long it took.
#[component]
pub fn AttemptList(attempts: Vec<WebhookAttempt>) -> impl IntoView {
    if attempts.is_empty() {
        return view! { <p class="muted">"Not attempted yet."</p> }.into_any();
    }
    let items = attempts
        .into_iter()
        .map(|attempt| {
            let outcome = match (attempt.status_code, &attempt.error) {
                (Some(code), None) => format!("HTTP {code}"),
                (Some(code), Some(error)) => format!("HTTP {code}: {error}"),
                (None, Some(error)) => error.clone(),
                (None, None) => "no answer".to_owned(),
            };
            let class = if attempt.succeeded() { "attempt ok" } else { "attempt failed" };
            let body = attempt
                .response_body
                .clone()
                .filter(|b| !b.is_empty())
                .map(|body| view! { <pre class="response">{body}</pre> });
            view! {
                <li class=class>
                    {stamp_ms(attempt.attempted_at)} " · " {outcome} " · " {format!("{} ms", attempt.latency_ms)}
                    {body}
                </li>
            }
        })
        .collect_view();
    view! { <ol class="attempts">{items}</ol> }.into_any()
}
