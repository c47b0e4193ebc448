//! The inbox: pending approvals, oldest first, as a list beside the shown
//! card (stacked on a phone). It updates itself over the live link (new
//! cards appear in place, decided ones leave with a notice), is driven from
//! the keyboard (`inbox_keys`), filters by agent, action and title (kept in
//! the address), and decides several at once (`batch`). Before the WASM has
//! loaded it is a plain page of links and forms that work the same.

use super::batch::BatchBar;
use super::card::ApprovalCard;
use super::errors::error_message;
use super::flag_notices::FlagNotices;
use super::inbox_connection::{use_live_link, LinkIndicator};
use super::inbox_filters::{non_empty, Filters};
use super::inbox_keys::{use_inbox_keys, KeyHelp};
use super::inbox_state::{confirmation, Card, Inbox};
use super::time::{age_class, ago, humanize, stamp};
use super::{dom, use_clock, use_hydrated};
use crate::api::{approval_card, inbox};
use crate::model::{Approval, ApprovalSummary, InboxData};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn InboxPage() -> impl IntoView {
    let query = use_query_map().get_untracked();
    let selected = query.get("selected");
    let everything = Filters::from_query(&query).everything;
    let data = Resource::new(|| (), move |_| inbox(selected.clone(), Some(everything)));
    view! {
        <Transition fallback=|| view! { <main class="page"><p class="muted">"Loading…"</p></main> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(initial) => view! { <LiveInbox initial/> }.into_any(),
                    Err(error) => view! {
                        <main class="page"><p class="error" role="alert">{error_message(&error)}</p></main>
                    }
                    .into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn LiveInbox(initial: InboxData) -> impl IntoView {
    let inbox = Inbox::new(&initial, &use_query_map().get_untracked());
    provide_context(inbox);
    let now = use_clock(initial.now_ms);
    // An admin's inbox of everything asks the live link for everything.
    let link = use_live_link(initial.everything, move |event| {
        inbox.perform(inbox.apply(event, dom::page_hidden()))
    });
    use_inbox_keys(inbox);
    // The address shows the filters and the card, for reloads and links.
    Effect::new(move |_| {
        let url = inbox.filters.with(|f| f.url(inbox.chosen.get().as_deref()));
        dom::replace_url(&url);
    });
    let count = move || inbox.approvals.with(Vec::len);
    // A card kept on screen (decided elsewhere while its denial was being
    // written) keeps the two-column layout even when it was the last one.
    let idle = move || count() == 0 && inbox.held.with(Option::is_none);
    let on_decided = Callback::new(move |decided: Approval| {
        inbox.decided_here(&decided);
        inbox.say(confirmation(decided.status, &decided.title));
    });
    view! {
        <Title text=move || match count() {
            0 => "Inbox · Holdpoint".to_owned(),
            n => format!("({n}) Inbox · Holdpoint"),
        }/>
        <main class="page inbox" class:idle=idle>
            <FlagNotices notices=initial.flag_notices.clone()/>
            <section class="inbox-list" aria-label="Pending approvals">
                <header class="inbox-head">
                    <h1>{move || match count() {
                        0 => "Nothing waiting".to_owned(),
                        n => format!("{n} waiting"),
                    }}</h1>
                    <LinkIndicator state=link title="Whether this inbox is receiving new approvals as they arrive"/>
                    {initial.may_show_everything.then(|| {
                        // A new page load: the list and the live link change scope.
                        if initial.everything {
                            view! { <a href="/" rel="external" class="scope">"Show what is routed to me"</a> }.into_any()
                        } else {
                            view! { <a href="/?everything=1" rel="external" class="scope">"Show everything"</a> }.into_any()
                        }
                    })}
                    <NotifyToggle/>
                    <button
                        type="button"
                        class="link keys-button"
                        aria-keyshortcuts="?"
                        on:click=move |_| inbox.help_open.update(|open| *open = !*open)
                    >
                        "Keys"
                    </button>
                </header>
                {move || (count() == 0).then(|| view! { <EmptyInbox now/> })}
                <Show when=move || count() != 0>
                    <FilterBar/>
                    <Show when=move || inbox.may_decide.get()>
                        <BatchBar/>
                    </Show>
                    <InboxList now/>
                </Show>
            </section>
            <section class="inbox-detail" aria-label="Shown approval">
                <ShownCard now on_decided/>
            </section>
            <KeyHelp/>
        </main>
    }
}

/// "Nothing waiting", and when the last decision was made.
#[component]
fn EmptyInbox(now: RwSignal<i64>) -> impl IntoView {
    let inbox = expect_context::<Inbox>();
    view! {
        <div class="inbox-empty">
            <p class="muted">"New requests from your agents appear here the moment they arrive."</p>
            {move || inbox.last_decided_at.get().map(|at| {
                let at_ms = at.timestamp_millis();
                view! {
                    <p class="muted">
                        "Last decision "
                        <time datetime=at.to_rfc3339() title=stamp(at)>{move || ago(now.get() - at_ms)}</time>
                        "."
                    </p>
                }
            })}
        </div>
    }
}

/// Offers browser notifications for approvals that arrive while the tab is
/// in the background (asked only when the person clicks).
#[component]
fn NotifyToggle() -> impl IntoView {
    let permission = RwSignal::new(None::<String>);
    Effect::new(move |_| permission.set(dom::notification_permission()));
    move || {
        match permission.get().as_deref() {
        Some("default") => Some(
            view! {
                <button
                    type="button"
                    class="link"
                    on:click=move |_| dom::request_notification_permission(move |now| permission.set(now))
                >
                    "Notify me"
                </button>
            }
            .into_any(),
        ),
        Some("granted") => Some(
            view! { <span class="muted small" title="You are notified of new approvals while this tab is in the background">"Notifications on"</span> }
                .into_any(),
        ),
        _ => None,
    }
    }
}

/// Agent, action and title filters. A plain GET form before the WASM has
/// loaded; after, it filters as the person types.
#[component]
fn FilterBar() -> impl IntoView {
    let inbox = expect_context::<Inbox>();
    let filters = inbox.filters;
    let initial_text = filters.with_untracked(|f| f.text.clone().unwrap_or_default());
    view! {
        <form class="filters" method="get" action="/" role="search" aria-label="Filter the inbox"
            on:submit=move |ev| ev.prevent_default()>
            // Without the WASM the form reloads the page: keep the scope.
            {inbox.filters.with_untracked(|f| f.everything).then(|| view! {
                <input type="hidden" name="everything" value="1"/>
            })}
            <FilterSelect label="Agent" name="agent" all="All agents"
                of=|approval| Some(approval.agent.clone())
                get=|filters| filters.agent.clone()
                set=|filters, agent| filters.agent = agent/>
            <FilterSelect label="Action" name="action" all="All actions"
                of=|approval| approval.action.clone()
                get=|filters| filters.action.clone()
                set=|filters, action| filters.action = action/>
            <div class="filter grow">
                <label for="filter-title">"Title"</label>
                <input id="filter-title" type="search" name="q" placeholder="Search titles" value=initial_text
                    prop:value=move || filters.with(|f| f.text.clone().unwrap_or_default())
                    on:input=move |ev| filters.update(|f| f.text = non_empty(event_target_value(&ev)))/>
            </div>
            <button type="submit" class="button filter-submit">"Filter"</button>
            <Show when=move || !filters.with(Filters::is_empty)>
                <a href="/" class="clear-filters" on:click=move |ev| {
                    ev.prevent_default();
                    filters.set(Filters::default());
                }>"Clear filters"</a>
            </Show>
        </form>
    }
}

/// One of the inbox's filters as a drop-down: the values the pending
/// approvals have (and the chosen one, even if none has it any more).
#[component]
fn FilterSelect(
    label: &'static str,
    /// The query parameter, also the element's id suffix.
    name: &'static str,
    /// The first option, which filters nothing.
    all: &'static str,
    /// An approval's value for this filter.
    of: fn(&ApprovalSummary) -> Option<String>,
    get: fn(&Filters) -> Option<String>,
    set: fn(&mut Filters, Option<String>),
) -> impl IntoView {
    let inbox = expect_context::<Inbox>();
    let filters = inbox.filters;
    let values = move || {
        let mut values: Vec<String> = inbox
            .approvals
            .with(|list| list.iter().filter_map(|a| of(a)).collect());
        values.extend(filters.with(get));
        values.sort();
        values.dedup();
        values
    };
    let id = format!("filter-{name}");
    view! {
        <div class="filter">
            <label for=id.clone()>{label}</label>
            <select id=id name=name on:change=move |ev| filters.update(|f| set(f, non_empty(event_target_value(&ev))))>
                <option value="">{all}</option>
                <For each=values key=|value| value.clone() children=move |value| {
                    let selected = { let value = value.clone(); move || filters.with(get).as_ref() == Some(&value) };
                    view! { <option value=value.clone() selected=selected>{value.clone()}</option> }
                }/>
            </select>
        </div>
    }
}

#[component]
fn InboxList(now: RwSignal<i64>) -> impl IntoView {
    let inbox = expect_context::<Inbox>();
    let hydrated = use_hydrated();
    view! {
        <Show when=move || inbox.visible().is_empty()>
            <p class="muted no-match">
                "Nothing waiting matches these filters. "
                <button type="button" class="link" on:click=move |_| inbox.filters.set(Filters::default())>"Show all"</button>
            </p>
        </Show>
        <ol class="inbox-items">
            <For
                each=move || inbox.visible()
                key=|card| card.id.clone()
                children=move |card| view! { <InboxRow card now hydrated/> }
            />
        </ol>
    }
}

#[component]
fn InboxRow(card: Card, now: RwSignal<i64>, hydrated: ReadSignal<bool>) -> impl IntoView {
    let inbox = expect_context::<Inbox>();
    let id = card.id.clone();
    let created_ms = card.created_at.timestamp_millis();
    let is_current = {
        let id = id.clone();
        move || inbox.current.with(|c| c.as_deref() == Some(id.as_str()))
    };
    let is_checked = {
        let id = id.clone();
        move || inbox.checked.with(|c| c.contains(&id))
    };
    let href = inbox.filters.with_untracked(|f| f.url(Some(&id)));
    let pick = {
        let (id, title, is_checked) = (id.clone(), card.title.clone(), is_checked.clone());
        move || {
            let (id, is_checked) = (id.clone(), is_checked.clone());
            // Only people who decide select approvals to decide together.
            (hydrated.get() && inbox.may_decide.get()).then(|| {
                view! {
                    <input
                        type="checkbox"
                        class="pick"
                        aria-label=format!("Select “{title}”")
                        prop:checked=is_checked
                        on:change=move |_| inbox.toggle_checked(&id)
                    />
                }
            })
        }
    };
    let open = {
        let id = id.clone();
        move |ev: leptos::ev::MouseEvent| {
            // A new tab, a new window: the browser's business.
            if ev.ctrl_key() || ev.meta_key() || ev.shift_key() || ev.button() != 0 {
                return;
            }
            ev.prevent_default();
            inbox.dismiss_held();
            inbox.chosen.set(Some(id.clone()));
        }
    };
    view! {
        <li class="inbox-row" class:checked=is_checked>
            {pick}
            <a href=href class="inbox-item" data-id=id aria-current=move || is_current().then_some("true") on:click=open
                title=card.size_note()>
                <span class="inbox-item-title">{card.title.clone()}</span>
                <span class="inbox-item-meta">
                    {card.agent.clone()}
                    {card.action.clone().map(|action| format!(" · {action}"))}
                    " · "
                    <span class=move || age_class(now.get() - created_ms)>
                        {move || humanize(now.get() - created_ms)}
                    </span>
                </span>
            </a>
        </li>
    }
}

/// The card on screen, in full. Rebuilt only when another card is shown,
/// never when the list around it changes, so a half-written reason is never
/// lost. The list carries no previews or data: a card is loaded when it is
/// shown (the first one comes with the page), and the next one with it, so
/// that `j` finds it ready.
#[component]
fn ShownCard(now: RwSignal<i64>, on_decided: Callback<Approval>) -> impl IntoView {
    let inbox = expect_context::<Inbox>();
    Effect::new(move |_| {
        inbox.load_shown_and_next(move |id| {
            leptos::task::spawn_local(async move {
                if let Ok(approval) = approval_card(id).await {
                    inbox.card_loaded(approval);
                }
            });
        });
    });
    move || match inbox.shown.get() {
        Some(approval) => {
            let id = approval.id.clone();
            let superseded = Signal::derive(move || {
                inbox.held.with(|held| {
                    held.as_ref()
                        .filter(|held| held.card.id == id)
                        .map(|held| held.what_happened.clone())
                })
            });
            let on_next = Callback::new(move |_| inbox.dismiss_held());
            Some(
                view! {
                    <ApprovalCard approval=(*approval).clone() now on_decided superseded on_next
                        read_only=!inbox.may_decide.get_untracked()/>
                }
                .into_any(),
            )
        }
        None => {
            // Its title, which the list has, shows while the rest loads.
            let title = inbox
                .current
                .get_untracked()
                .and_then(|id| inbox.card_untracked(&id))?
                .title
                .clone();
            Some(
                view! {
                    <article class="card loading" aria-busy="true">
                        <header><h2 class="card-title">{title}</h2></header>
                        <p class="muted">"Loading the preview…"</p>
                    </article>
                }
                .into_any(),
            )
        }
    }
}
