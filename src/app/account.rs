//! A person's own account: change the password, see where they are signed
//! in (browser, last seen) and end any of those sessions, or all of them.

use super::errors::{error_message, last_error};
use super::time::stamp_ms;
use crate::api::{
    my_account, AccountData, ChangePassword, EndSession, SessionRow, SignOutEverywhere,
};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AccountPage() -> impl IntoView {
    let reload = RwSignal::new(0u64);
    let data = Resource::new(move || reload.get(), |_| my_account());
    view! {
        <Title text="Your account · Holdpoint"/>
        <main class="page admin-page">
            <h1>"Your account"</h1>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(data) => view! { <AccountView data reload/> }.into_any(),
                        Err(error) => view! { <p class="error" role="alert">{error_message(&error)}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn AccountView(data: AccountData, reload: RwSignal<u64>) -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let everywhere = ServerAction::<SignOutEverywhere>::new();
    let changed = move || matches!(change.value().get(), Some(Ok(())));
    Effect::new(move |_| {
        if changed() {
            reload.update(|n| *n += 1);
        }
    });
    view! {
        <p>
            <strong>{data.name.clone()}</strong> " · " {data.email.clone()} " · " {data.role.clone()}
            {(data.groups > 0).then(|| format!(" · in {} group(s)", data.groups))}
        </p>
        <section aria-labelledby="password-heading" class="card admin-form">
            <h2 id="password-heading">"Change your password"</h2>
            <ActionForm action=change attr:class="stacked">
                <input type="email" name="username" value=data.email.clone() autocomplete="username" hidden/>
                <label for="current-password">"Current password"</label>
                <input id="current-password" type="password" name="current" autocomplete="current-password" required/>
                <label for="new-password">"New password (at least 8 characters)"</label>
                <input id="new-password" type="password" name="new" autocomplete="new-password" minlength="8" required/>
                <p class="field-error" role="alert">{move || last_error(change)}</p>
                {move || changed().then(|| view! {
                    <p role="status">"Password changed. Every other session has ended."</p>
                })}
                <button type="submit" class="button primary">"Change password"</button>
            </ActionForm>
        </section>
        <section aria-labelledby="sessions-heading">
            <h2 id="sessions-heading">"Where you are signed in"</h2>
            <table class="admin-table sessions">
                <thead>
                    <tr><th scope="col">"Browser"</th><th scope="col">"Signed in"</th><th scope="col">"Last seen"</th><th scope="col">"Actions"</th></tr>
                </thead>
                <tbody>
                    {data.sessions.into_iter().map(|session| view! { <SessionRowView session reload/> }).collect_view()}
                </tbody>
            </table>
            <ActionForm action=everywhere attr:class="inline">
                <button type="submit" class="button danger">"Sign out everywhere"</button>
            </ActionForm>
            <p class="field-error" role="alert">{move || last_error(everywhere)}</p>
        </section>
    }
}

#[component]
fn SessionRowView(session: SessionRow, reload: RwSignal<u64>) -> impl IntoView {
    let end = ServerAction::<EndSession>::new();
    Effect::new(move |_| {
        if matches!(end.value().get(), Some(Ok(()))) {
            reload.update(|n| *n += 1);
        }
    });
    let device = session
        .device
        .clone()
        .unwrap_or_else(|| "an unknown browser".to_owned());
    view! {
        <tr class:current=session.current>
            <td>
                <span class="device">{device}</span>
                {session.current.then(|| view! { " " <span class="badge">"this browser"</span> })}
            </td>
            <td>{stamp_ms(session.created_at)}</td>
            <td>{session.last_seen_at.map(stamp_ms).unwrap_or_else(|| "—".to_owned())}</td>
            <td>
                {(!session.current).then(|| view! {
                    <ActionForm action=end attr:class="inline">
                        <input type="hidden" name="id" value=session.id.clone()/>
                        <button type="submit" class="button">"End this session"</button>
                    </ActionForm>
                })}
                <p class="field-error" role="alert">{move || last_error(end)}</p>
            </td>
        </tr>
    }
}
