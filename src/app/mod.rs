//! The web inbox: shell, router and pages.

mod account;
mod api_docs;
mod audit;
mod batch;
mod card;
mod charts;
mod copy;
mod detail;
mod dom;
mod errors;
mod flag_notices;
mod groups;
mod history;
mod inbox;
mod inbox_connection;
mod inbox_filters;
mod inbox_keys;
mod inbox_state;
mod json;
mod keys;
mod layout;
mod login;
mod people;
mod policies;
mod review;
mod stats;
pub mod time;
mod webhooks;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{lazy_route, path, Lazy, LazyRoute, SsrMode};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="/favicon.ico"/>
                // Hashed names when the build made them (long-cached assets).
                <HashedStylesheet options=options.clone() id="leptos"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Holdpoint"/>
        <Router>
            <Routes fallback=|| view! { <NotFound/> }>
                <Route path=path!("/login") view=login::LoginPage ssr=SsrMode::Async/>
                <Route path=path!("/setup") view={Lazy::<Setup>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/welcome") view={Lazy::<Welcome>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/api/docs") view={Lazy::<ApiDocs>::new()} ssr=SsrMode::Async/>
                <ParentRoute path=path!("") view=layout::Layout ssr=SsrMode::Async>
                    <Route path=path!("") view=inbox::InboxPage ssr=SsrMode::Async/>
                    <Route path=path!("history") view={Lazy::<History>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("stats") view={Lazy::<Stats>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("account") view={Lazy::<Account>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("approvals/:id") view={Lazy::<Approval>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("admin/webhooks") view={Lazy::<Webhooks>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("admin/people") view={Lazy::<People>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("admin/groups") view={Lazy::<Groups>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("admin/keys") view={Lazy::<Keys>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("admin/audit") view={Lazy::<Audit>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("admin/policies") view={Lazy::<Policies>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("review") view={Lazy::<Review>::new()} ssr=SsrMode::Async/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// A page whose code the browser loads when it is first opened (a chunk
/// of its own, split from the WASM by `cargo leptos build --split`): the
/// first load carries the inbox and sign-in, which every visit needs.
macro_rules! lazy_page {
    ($($route:ident => $page:path),* $(,)?) => {$(
        struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(this: Self) -> AnyView {
                let _ = this;
                $page().into_any()
            }
        }
    )*};
}

lazy_page! {
    Setup => login::SetupPage,
    Welcome => login::WelcomePage,
    ApiDocs => api_docs::ApiDocsPage,
    History => history::HistoryPage,
    Stats => stats::StatsPage,
    Account => account::AccountPage,
    Approval => detail::ApprovalPage,
    Webhooks => webhooks::WebhooksPage,
    People => people::PeoplePage,
    Groups => groups::GroupsPage,
    Keys => keys::KeysPage,
    Audit => audit::AuditPage,
    Policies => policies::PoliciesPage,
    Review => review::ReviewPage,
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <main class="page narrow">
            <h1>"Not found"</h1>
            <p>"There is nothing at this address. " <a href="/">"Go to the inbox"</a></p>
        </main>
    }
}

/// A clock for "waiting 4 min": starts at the server's time (so the first
/// render matches on both sides) and ticks in the browser.
pub fn use_clock(server_now_ms: i64) -> RwSignal<i64> {
    let now = RwSignal::new(server_now_ms);
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        {
            let tick = move || now.set(chrono::Utc::now().timestamp_millis());
            tick();
            if let Ok(handle) = set_interval_with_handle(tick, std::time::Duration::from_secs(5)) {
                on_cleanup(move || handle.clear());
            }
        }
    });
    now
}

/// The short confirmation shown after a decision ("Approved: ...").
#[derive(Clone, Copy)]
pub struct Notice(pub RwSignal<Option<String>>);

pub fn announce(message: String) {
    if let Some(Notice(notice)) = use_context::<Notice>() {
        notice.set(Some(message));
    }
}

/// Percent-encodes a value for a URL's query (unreserved characters and `/`
/// stay as they are).
pub fn url_encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// False while the server renders and until the page has hydrated: for
/// controls that only work with the WASM (they would do nothing before).
pub fn use_hydrated() -> ReadSignal<bool> {
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));
    hydrated
}
