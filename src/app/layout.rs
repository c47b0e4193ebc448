//! The frame around every signed-in page: header, navigation, notices. Sends
//! anyone without a session to the login page.

use super::errors::error_message;
use super::Notice;
use crate::api::{whoami, Logout};
use leptos::prelude::*;
use leptos_router::components::{Outlet, Redirect, A};
use leptos_router::hooks::use_location;

#[component]
pub fn Layout() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    let logout = ServerAction::<Logout>::new();
    let notice = RwSignal::new(None::<String>);
    provide_context(Notice(notice));
    let location = use_location();
    let login_path = move || {
        let here = format!(
            "{}{}",
            location.pathname.get_untracked(),
            location.search.get_untracked()
        );
        format!("/login?next={}", super::url_encode(&here))
    };
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(me)) => view! {
                        <header class="topbar">
                            <A href="/" attr:class="brand">"Holdpoint"</A>
                            <nav aria-label="Main">
                                <A href="/" exact=true>"Inbox"</A>
                                <A href="/history">"History"</A>
                                <A href="/stats">"Stats"</A>
                                {me.admin.then(|| view! {
                                    <A href="/admin/people">"People"</A>
                                    <A href="/admin/groups">"Groups"</A>
                                    <A href="/admin/keys">"API keys"</A>
                                    <A href="/admin/webhooks">"Webhooks"</A>
                                    <A href="/admin/policies">"Policies"</A>
                                    <A href="/review">"Review"</A>
                                    <A href="/admin/audit">"Audit"</A>
                                })}
                            </nav>
                            <div class="whoami">
                                <A href="/account" attr:title=format!("{}: your account", me.email)>{me.name.clone()}</A>
                                {me.admin.then(|| view! { <span class="badge">"admin"</span> })}
                                <ActionForm action=logout attr:class="inline">
                                    <button type="submit" class="link">"Sign out"</button>
                                </ActionForm>
                            </div>
                        </header>
                    }
                    .into_any(),
                    Ok(None) => view! { <Redirect path=login_path()/> }.into_any(),
                    Err(error) => view! {
                        <main class="page narrow"><p class="error" role="alert">{error_message(&error)}</p></main>
                    }
                    .into_any(),
                }
            })}
        </Suspense>
        <p class="notice" role="status" aria-live="polite">{move || notice.get()}</p>
        // The page stays outside the Suspense above: inside, the header's
        // resolving would render the page again, each time starting its data
        // anew, and a load started by a discarded render could hold the
        // server's answer open forever. A page's own data needs a session,
        // so without one it loads nothing while the redirect above leaves.
        <Outlet/>
    }
}
