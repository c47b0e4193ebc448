//! Server functions of the admin's People and Groups pages, and of the
//! one-time link page where an invited person chooses their password. The
//! service checks the actor of every admin operation; these check the
//! session.

#[cfg(feature = "ssr")]
use super::ssr;
#[cfg(feature = "ssr")]
use crate::server::domain::Role;
#[cfg(feature = "ssr")]
use crate::server::service::Actor;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A person as the People page lists them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonRow {
    pub email: String,
    pub name: String,
    /// admin, approver or viewer.
    pub role: String,
    /// active, invited or deactivated.
    pub status: String,
    /// When a pending invitation's link stops working.
    pub invited_until: Option<i64>,
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeopleData {
    pub people: Vec<PersonRow>,
    /// The signed-in admin's email (they cannot switch themselves off here).
    pub me: String,
    pub now_ms: i64,
}

/// A one-time link to show once, with a copy button.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkData {
    pub email: String,
    pub url: String,
    pub expires_at: i64,
}

#[cfg(feature = "ssr")]
impl From<crate::server::service::IssuedLink> for LinkData {
    fn from(link: crate::server::service::IssuedLink) -> Self {
        LinkData {
            email: link.email,
            url: link.url,
            expires_at: link.expires_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRow {
    pub name: String,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupsData {
    pub groups: Vec<GroupRow>,
    /// Everyone active who may decide, to add to a group.
    pub candidates: Vec<String>,
}

/// What the link page says before the person chooses a password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkInfo {
    pub email: String,
    /// True for an invitation (the page asks for a name too).
    pub invitation: bool,
}

#[cfg(feature = "ssr")]
fn role_of(raw: &str) -> Result<Role, ServerFnError> {
    Role::parse(raw).ok_or_else(|| {
        ssr::fail(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "A role is admin, approver or viewer.",
        )
    })
}

#[server(prefix = "/rpc", endpoint = "people")]
pub async fn people() -> Result<PeopleData, ServerFnError> {
    let service = ssr::service()?;
    let me = ssr::require_user(&service).await?;
    let people = service
        .people(Actor::Person(&me))
        .await
        .map_err(ssr::to_fn_error)?;
    let rows = people
        .into_iter()
        .map(|person| PersonRow {
            status: person.status().to_owned(),
            email: person.user.email,
            name: person.user.name,
            role: person.user.role.as_str().to_owned(),
            invited_until: person.invited_until,
            groups: person.group_names,
        })
        .collect();
    Ok(PeopleData {
        people: rows,
        me: me.email,
        now_ms: service.now_ms(),
    })
}

#[server(prefix = "/rpc", endpoint = "invite")]
pub async fn invite(
    email: String,
    name: Option<String>,
    role: String,
) -> Result<LinkData, ServerFnError> {
    let service = ssr::service()?;
    let me = ssr::require_user(&service).await?;
    let link = service
        .invite(Actor::Person(&me), &email, name.as_deref(), role_of(&role)?)
        .await
        .map_err(ssr::to_fn_error)?;
    Ok(LinkData::from(link))
}

#[server(prefix = "/rpc", endpoint = "password_link")]
pub async fn password_link(email: String) -> Result<LinkData, ServerFnError> {
    let service = ssr::service()?;
    let me = ssr::require_user(&service).await?;
    let link = service
        .password_link(Actor::Person(&me), &email)
        .await
        .map_err(ssr::to_fn_error)?;
    Ok(LinkData::from(link))
}

#[server(prefix = "/rpc", endpoint = "set_role")]
pub async fn set_role(email: String, role: String) -> Result<(), ServerFnError> {
    let service = ssr::service()?;
    let me = ssr::require_user(&service).await?;
    service
        .set_role(Actor::Person(&me), &email, role_of(&role)?)
        .await
        .map_err(ssr::to_fn_error)?;
    Ok(())
}

/// Deactivates (`active` false: signed out everywhere at once) or
/// reactivates a person.
#[server(prefix = "/rpc", endpoint = "set_active")]
pub async fn set_active(email: String, active: bool) -> Result<(), ServerFnError> {
    let service = ssr::service()?;
    let me = ssr::require_user(&service).await?;
    service
        .set_user_active(Actor::Person(&me), &email, active)
        .await
        .map_err(ssr::to_fn_error)?;
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "groups")]
pub async fn groups() -> Result<GroupsData, ServerFnError> {
    let service = ssr::service()?;
    let me = ssr::require_user(&service).await?;
    let groups = service
        .groups(Actor::Person(&me))
        .await
        .map_err(ssr::to_fn_error)?;
    let people = service
        .people(Actor::Person(&me))
        .await
        .map_err(ssr::to_fn_error)?;
    Ok(GroupsData {
        groups: groups
            .into_iter()
            .map(|g| GroupRow {
                name: g.name,
                members: g.members,
            })
            .collect(),
        candidates: people
            .into_iter()
            .filter(|p| p.user.active && p.user.role.decides())
            .map(|p| p.user.email)
            .collect(),
    })
}

#[server(prefix = "/rpc", endpoint = "create_group")]
pub async fn create_group(name: String) -> Result<(), ServerFnError> {
    let service = ssr::service()?;
    let me = ssr::require_user(&service).await?;
    service
        .create_group(Actor::Person(&me), &name)
        .await
        .map_err(ssr::to_fn_error)?;
    Ok(())
}

/// Adds (`member` true) or removes a person; their open inboxes show the
/// change at once.
#[server(prefix = "/rpc", endpoint = "set_group_member")]
pub async fn set_group_member(
    group: String,
    email: String,
    member: bool,
) -> Result<(), ServerFnError> {
    let service = ssr::service()?;
    let me = ssr::require_user(&service).await?;
    service
        .set_group_member(Actor::Person(&me), &group, &email, member)
        .await
        .map_err(ssr::to_fn_error)?;
    Ok(())
}

/// Whose link this is; an error when it is not live.
#[server(prefix = "/rpc", endpoint = "account_link")]
pub async fn account_link(token: String) -> Result<LinkInfo, ServerFnError> {
    let service = ssr::service()?;
    match service
        .account_link(&token)
        .await
        .map_err(ssr::to_fn_error)?
    {
        Some(link) => Ok(LinkInfo {
            email: link.email,
            invitation: link.purpose == crate::server::domain::LinkPurpose::Invite,
        }),
        None => Err(ssr::fail(
            axum::http::StatusCode::NOT_FOUND,
            "This link is not valid (used, expired or mistyped): ask an admin for a new one.",
        )),
    }
}

/// Sets the password chosen through a one-time link and signs the person in.
#[server(prefix = "/rpc", endpoint = "use_account_link")]
pub async fn use_account_link(
    token: String,
    name: Option<String>,
    password: String,
) -> Result<(), ServerFnError> {
    let service = ssr::service()?;
    let user = service
        .use_account_link(&token, name.as_deref(), &password)
        .await
        .map_err(ssr::to_fn_error)?;
    ssr::start_session(&service, &user).await?;
    leptos_axum::redirect("/");
    Ok(())
}
