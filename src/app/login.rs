//! Sign in with email and password; set up the first admin; choose a
//! password through a one-time link.

use super::errors::{error_message, last_error};
use crate::api::{account_link, Login, Setup, UseAccountLink};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_else(|| "/".to_owned());
    let error = move || last_error(login);
    view! {
        <Title text="Sign in · Holdpoint"/>
        <main class="page narrow login">
            <h1>"Holdpoint"</h1>
            <p class="lede">"Sign in to decide what your agents may do."</p>
            <ActionForm action=login>
                <input type="hidden" name="next" value=next/>
                <label for="email">"Email"</label>
                <input id="email" type="email" name="email" autocomplete="username" required autofocus/>
                <label for="password">"Password"</label>
                <input id="password" type="password" name="password" autocomplete="current-password" required/>
                <p class="field-error" role="alert">{error}</p>
                <button type="submit" class="button primary" disabled=move || login.pending().get()>
                    "Sign in"
                </button>
            </ActionForm>
        </main>
    }
}

/// The first-start page: creates the first admin with the one-time token
/// printed by `holdpoint serve`.
#[component]
pub fn SetupPage() -> impl IntoView {
    let setup = ServerAction::<Setup>::new();
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let error = move || last_error(setup);
    view! {
        <Title text="Set up · Holdpoint"/>
        <main class="page narrow login">
            <h1>"Welcome to Holdpoint"</h1>
            <p class="lede">"Create the first admin account. Admins see and decide every approval."</p>
            <ActionForm action=setup>
                <input type="hidden" name="token" value=token/>
                <label for="email">"Email"</label>
                <input id="email" type="email" name="email" autocomplete="username" required autofocus/>
                <label for="name">"Name (optional)"</label>
                <input id="name" type="text" name="name" autocomplete="name"/>
                <label for="password">"Password (at least 8 characters)"</label>
                <input id="password" type="password" name="password" autocomplete="new-password" minlength="8" required/>
                <p class="field-error" role="alert">{error}</p>
                <button type="submit" class="button primary" disabled=move || setup.pending().get()>
                    "Create admin and sign in"
                </button>
            </ActionForm>
        </main>
    }
}

/// Where an invited person (or one whose password an admin reset) chooses
/// a password, through their one-time link; then they are signed in.
#[component]
pub fn WelcomePage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let link = Resource::new(token, account_link);
    let choose = ServerAction::<UseAccountLink>::new();
    view! {
        <Title text="Choose a password · Holdpoint"/>
        <main class="page narrow login">
            <h1>"Holdpoint"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Checking your link…"</p> }>
                {move || Suspend::new(async move {
                    match link.await {
                        Ok(info) => view! {
                            <p class="lede">
                                {if info.invitation { "Welcome. Choose a password for " } else { "Choose a new password for " }}
                                <strong>{info.email.clone()}</strong> "."
                            </p>
                            <ActionForm action=choose>
                                <input type="hidden" name="token" value=token/>
                                <input type="email" name="username" value=info.email autocomplete="username" hidden/>
                                {info.invitation.then(|| view! {
                                    <label for="name">"Your name (optional)"</label>
                                    <input id="name" type="text" name="name" autocomplete="name"/>
                                })}
                                <label for="password">"Password (at least 8 characters)"</label>
                                <input id="password" type="password" name="password" autocomplete="new-password" minlength="8" required autofocus/>
                                <p class="field-error" role="alert">{move || last_error(choose)}</p>
                                <button type="submit" class="button primary" disabled=move || choose.pending().get()>
                                    "Save password and sign in"
                                </button>
                            </ActionForm>
                        }.into_any(),
                        Err(error) => view! {
                            <p class="error" role="alert">{error_message(&error)}</p>
                            <p><a href="/login">"Sign in"</a></p>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}
