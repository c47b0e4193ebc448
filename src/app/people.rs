//! The admin's People page: invite someone (a one-time link, shown once),
//! change a role, send a new password link, switch an account off or on.
//! Every action is a plain form (it works before the WASM loads) whose
//! error shows beside it; switching off asks for confirmation inline.

use super::copy::ShownOnce;
use super::errors::{error_message, last_error};
use super::time::stamp_ms;
use crate::api::{
    people, Invite, LinkData, PasswordLink, PeopleData, PersonRow, SetActive, SetRole,
};
use leptos::prelude::*;
use leptos_meta::Title;

const ROLES: [(&str, &str); 3] = [
    (
        "approver",
        "Approver: decides what is routed to them, their groups, or nobody",
    ),
    ("viewer", "Viewer: sees every approval, decides none"),
    ("admin", "Admin: everything, including this page"),
];

/// What the rows share with the page: a reload after any change, and the
/// place a fresh link is shown (once).
#[derive(Clone, Copy)]
struct PageState {
    reload: RwSignal<u64>,
    issued: RwSignal<Option<LinkData>>,
}

#[component]
pub fn PeoplePage() -> impl IntoView {
    let state = PageState {
        reload: RwSignal::new(0),
        issued: RwSignal::new(None),
    };
    let data = Resource::new(move || state.reload.get(), |_| people());
    view! {
        <Title text="People · Holdpoint"/>
        <main class="page admin-page">
            <h1>"People"</h1>
            <p class="muted">
                "Admins do everything. Approvers decide what is routed to them, to their groups, or to nobody in particular. "
                "Viewers see every approval and decide none."
            </p>
            {move || state.issued.get().map(|link| view! {
                <ShownOnce
                    label=format!("One-time link for {}", link.email)
                    value=link.url
                    note=format!("It works once, until {}.", stamp_ms(link.expires_at))
                />
            })}
            <InviteForm state/>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(data) => view! { <PeopleTable data state/> }.into_any(),
                        Err(error) => view! { <p class="error" role="alert">{error_message(&error)}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn InviteForm(state: PageState) -> impl IntoView {
    let invite = ServerAction::<Invite>::new();
    Effect::new(move |_| {
        if let Some(Ok(link)) = invite.value().get() {
            state.issued.set(Some(link));
            state.reload.update(|n| *n += 1);
        }
    });
    view! {
        <section aria-labelledby="invite-heading" class="card admin-form">
            <h2 id="invite-heading">"Invite someone"</h2>
            <ActionForm action=invite attr:class="stacked">
                <label for="invite-email">"Email"</label>
                <input id="invite-email" type="email" name="email" required autocomplete="off"/>
                <label for="invite-name">"Name (optional)"</label>
                <input id="invite-name" type="text" name="name" autocomplete="off"/>
                <label for="invite-role">"Role"</label>
                <select id="invite-role" name="role">
                    {ROLES.iter().map(|(value, label)| view! { <option value=*value>{*label}</option> }).collect_view()}
                </select>
                <p class="field-error" role="alert">{move || last_error(invite)}</p>
                <button type="submit" class="button primary">"Invite"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn PeopleTable(data: PeopleData, state: PageState) -> impl IntoView {
    let me = data.me.clone();
    view! {
        <section aria-labelledby="people-heading">
            <h2 id="people-heading">"Everyone"</h2>
            <table class="admin-table people">
                <thead>
                    <tr><th scope="col">"Person"</th><th scope="col">"Role"</th><th scope="col">"Status"</th><th scope="col">"Groups"</th><th scope="col">"Actions"</th></tr>
                </thead>
                <tbody>
                    {data.people.into_iter().map(|person| {
                        let is_me = person.email == me;
                        view! { <PersonRowView person is_me state/> }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn PersonRowView(person: PersonRow, is_me: bool, state: PageState) -> impl IntoView {
    let set_role = ServerAction::<SetRole>::new();
    let link = ServerAction::<PasswordLink>::new();
    let set_active = ServerAction::<SetActive>::new();
    Effect::new(move |_| {
        if let Some(Ok(issued)) = link.value().get() {
            state.issued.set(Some(issued));
        }
        let changed = matches!(set_role.value().get(), Some(Ok(())))
            || matches!(set_active.value().get(), Some(Ok(())))
            || matches!(link.value().get(), Some(Ok(_)));
        if changed {
            state.reload.update(|n| *n += 1);
        }
    });
    let error = move || {
        last_error(set_role)
            .or_else(|| last_error(link))
            .or_else(|| last_error(set_active))
    };
    let role_id = format!("role-{}", person.email);
    let active = person.status != "deactivated";
    let status = match (person.status.as_str(), person.invited_until) {
        ("invited", Some(until)) => format!("invited (link works until {})", stamp_ms(until)),
        ("invited", None) => "invited (link expired)".to_owned(),
        (other, _) => other.to_owned(),
    };
    let (email_role, email_link, email_active) = (
        person.email.clone(),
        person.email.clone(),
        person.email.clone(),
    );
    let current_role = person.role.clone();
    let role_label = format!("Role of {}", person.email);
    let deactivate_label = format!("Deactivate {}", person.email);
    view! {
        <tr data-email=person.email.clone()>
            <td>
                <span class="person-name">{person.name.clone()}</span>
                <br/><span class="muted">{person.email.clone()}</span>
            </td>
            <td>
                <ActionForm action=set_role attr:class="inline">
                    <input type="hidden" name="email" value=email_role/>
                    <label for=role_id.clone() class="visually-hidden">{role_label}</label>
                    <select id=role_id name="role">
                        {ROLES.iter().map(|(value, _)| {
                            let selected = *value == current_role;
                            view! { <option value=*value selected=selected>{*value}</option> }
                        }).collect_view()}
                    </select>
                    <button type="submit" class="button">"Save"</button>
                </ActionForm>
            </td>
            <td><span class=format!("status status-{}", person.status)>{status}</span></td>
            <td>{person.groups.join(", ")}</td>
            <td><div class="row-actions">
                <ActionForm action=link attr:class="inline">
                    <input type="hidden" name="email" value=email_link/>
                    <button type="submit" class="button">
                        {if person.status == "invited" { "New invitation link" } else { "Password reset link" }}
                    </button>
                </ActionForm>
                {match (active, is_me) {
                    (true, true) => view! { <span class="muted">"(you)"</span> }.into_any(),
                    (true, false) => view! {
                        <details class="confirm">
                            <summary class="button danger">"Deactivate…"</summary>
                            <p>"They are signed out everywhere at once and cannot sign in. Their decisions stay in the history."</p>
                            <ActionForm action=set_active attr:class="inline">
                                <input type="hidden" name="email" value=email_active/>
                                <input type="hidden" name="active" value="false"/>
                                <button type="submit" class="button danger">{deactivate_label}</button>
                            </ActionForm>
                        </details>
                    }.into_any(),
                    (false, _) => view! {
                        <ActionForm action=set_active attr:class="inline">
                            <input type="hidden" name="email" value=email_active/>
                            <input type="hidden" name="active" value="true"/>
                            <button type="submit" class="button">"Reactivate"</button>
                        </ActionForm>
                    }.into_any(),
                }}
                <p class="field-error" role="alert">{error}</p>
            </div></td>
        </tr>
    }
}
