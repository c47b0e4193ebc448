//! The admin's Groups page: named groups of people ("billing",
//! "data-ops"); an approval routed to a group is its members' to decide.
//! Plain forms, errors beside them.

use super::errors::{error_message, last_error};
use crate::api::{groups, CreateGroup, GroupRow, GroupsData, SetGroupMember};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn GroupsPage() -> impl IntoView {
    let reload = RwSignal::new(0u64);
    let data = Resource::new(move || reload.get(), |_| groups());
    let create = ServerAction::<CreateGroup>::new();
    Effect::new(move |_| {
        if matches!(create.value().get(), Some(Ok(()))) {
            reload.update(|n| *n += 1);
        }
    });
    view! {
        <Title text="Groups · Holdpoint"/>
        <main class="page admin-page">
            <h1>"Groups"</h1>
            <p class="muted">
                "An agent routes an approval to a group with " <code>"\"group\": \"billing\""</code>
                " (or a key routes there by default); every member may decide it."
            </p>
            <section aria-labelledby="new-group-heading" class="card admin-form">
                <h2 id="new-group-heading">"New group"</h2>
                <ActionForm action=create attr:class="stacked">
                    <label for="group-name">"Name (a-z, 0-9, - _ .)"</label>
                    <input id="group-name" type="text" name="name" required pattern="[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}" autocomplete="off"/>
                    <p class="field-error" role="alert">{move || last_error(create)}</p>
                    <button type="submit" class="button primary">"Create group"</button>
                </ActionForm>
            </section>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(data) => view! { <GroupList data reload/> }.into_any(),
                        Err(error) => view! { <p class="error" role="alert">{error_message(&error)}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn GroupList(data: GroupsData, reload: RwSignal<u64>) -> impl IntoView {
    if data.groups.is_empty() {
        return view! { <p class="muted">"No groups yet."</p> }.into_any();
    }
    let candidates = data.candidates;
    data.groups
        .into_iter()
        .map(|group| view! { <GroupCard group candidates=candidates.clone() reload/> })
        .collect_view()
        .into_any()
}

#[component]
fn GroupCard(group: GroupRow, candidates: Vec<String>, reload: RwSignal<u64>) -> impl IntoView {
    let change = ServerAction::<SetGroupMember>::new();
    Effect::new(move |_| {
        if matches!(change.value().get(), Some(Ok(()))) {
            reload.update(|n| *n += 1);
        }
    });
    let field_id = format!("add-to-{}", group.name);
    let outside: Vec<String> = candidates
        .into_iter()
        .filter(|email| !group.members.contains(email))
        .collect();
    let name = group.name.clone();
    let add_to = group.name.clone();
    let members = if group.members.is_empty() {
        view! { <p class="muted">"No members yet."</p> }.into_any()
    } else {
        view! {
            <ul class="members">
                {group.members.iter().map(|email| {
                    let (group, email) = (name.clone(), email.clone());
                    view! {
                        <li>
                            {email.clone()}
                            <ActionForm action=change attr:class="inline">
                                <input type="hidden" name="group" value=group/>
                                <input type="hidden" name="email" value=email.clone()/>
                                <input type="hidden" name="member" value="false"/>
                                <button type="submit" class="button small" aria-label=format!("Remove {email}")>"Remove"</button>
                            </ActionForm>
                        </li>
                    }
                }).collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <article class="card group" data-group=group.name.clone()>
            <h2>{group.name.clone()}</h2>
            {members}
            {(!outside.is_empty()).then(|| view! {
                <ActionForm action=change attr:class="inline add-member">
                    <input type="hidden" name="group" value=add_to/>
                    <input type="hidden" name="member" value="true"/>
                    <label for=field_id.clone()>"Add"</label>
                    <select id=field_id name="email">
                        {outside.iter().map(|email| view! { <option value=email.clone()>{email.clone()}</option> }).collect_view()}
                    </select>
                    <button type="submit" class="button">"Add to group"</button>
                </ActionForm>
            })}
            <p class="field-error" role="alert">{move || last_error(change)}</p>
        </article>
    }
    .into_any()
}
