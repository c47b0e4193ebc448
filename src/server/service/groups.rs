//! Groups of people, roles, and routing: whom an approval is for.

use super::accounts::{normalize_email, plausible_email};
use super::people::Actor;
use super::{conflict_to_message, invalid, Service, ServiceError, ServiceResult};
use crate::server::domain::{ids, Group, Role, Route, User};
use crate::server::store::StoreError;

/// The longest group name.
const MAX_GROUP_NAME: usize = 64;

/// A group's name as it is stored and looked up: trimmed, lowercase.
pub fn normalize_group_name(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// Whether a (normalized) name can be a group's: 1-64 of a-z, 0-9, `-`,
/// `_` and `.`, starting with a letter or digit ("billing", "data-ops").
fn valid_group_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_GROUP_NAME
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

impl Service {
    pub async fn create_group(&self, actor: Actor<'_>, name: &str) -> ServiceResult<Group> {
        Self::authorize_admin(actor)?;
        let name = normalize_group_name(name);
        if !valid_group_name(&name) {
            return Err(invalid(
                "invalid_group",
                "a group name is 1-64 of a-z, 0-9, '-', '_' and '.', such as billing or data-ops",
            ));
        }
        let audit = self.audit(actor);
        self.store
            .create_group(&ids::new_id("grp", audit.at), &name, &audit)
            .await
            .map_err(conflict_to_message)
    }

    pub async fn groups(&self, actor: Actor<'_>) -> ServiceResult<Vec<Group>> {
        Self::authorize_admin(actor)?;
        Ok(self.store.groups().await?)
    }

    /// Adds a person to a group (`member`) or removes them; their open
    /// inboxes show the change at once. False when nothing changed.
    pub async fn set_group_member(
        &self,
        actor: Actor<'_>,
        group: &str,
        email: &str,
        member: bool,
    ) -> ServiceResult<bool> {
        Self::authorize_admin(actor)?;
        let group = self.group(group).await?;
        let email = normalize_email(email);
        let Some(account) = self.store.user_by_email(&email).await? else {
            return Err(ServiceError::UnknownUser(email));
        };
        Ok(self
            .store
            .set_group_member(&group.id, &account.user.id, member, &self.audit(actor))
            .await?)
    }

    /// Gives a person another role; their open inboxes show the change at
    /// once. The last active admin keeps theirs.
    pub async fn set_role(&self, actor: Actor<'_>, email: &str, role: Role) -> ServiceResult<User> {
        Self::authorize_admin(actor)?;
        let email = normalize_email(email);
        match self.store.set_role(&email, role, &self.audit(actor)).await {
            Ok(Some(user)) => Ok(user),
            Ok(None) => Err(ServiceError::UnknownUser(email)),
            Err(StoreError::Conflict(why)) => Err(ServiceError::Conflict(why)),
            Err(other) => Err(other.into()),
        }
    }

    /// The route named by an approver's email or a group's name (at most
    /// one of them); None when neither is named.
    pub(super) async fn named_route(
        &self,
        approver_email: Option<&str>,
        group_name: Option<&str>,
    ) -> ServiceResult<Option<Route>> {
        match (approver_email, group_name) {
            (Some(_), Some(_)) => Err(invalid(
                "invalid_route",
                "name an approver or a group, not both",
            )),
            (Some(email), None) => Ok(Some(Route {
                approver_id: Some(self.approver_id(email).await?),
                group_id: None,
            })),
            (None, Some(name)) => Ok(Some(Route {
                approver_id: None,
                group_id: Some(self.group(name).await?.id),
            })),
            (None, None) => Ok(None),
        }
    }

    /// The id of the active person with this email who may decide.
    async fn approver_id(&self, email: &str) -> ServiceResult<String> {
        let normalized = normalize_email(email);
        if !plausible_email(&normalized) {
            return Err(ServiceError::UnknownApprover(email.to_owned()));
        }
        match self.store.user_by_email(&normalized).await? {
            Some(account) if account.user.active && account.user.role.decides() => {
                Ok(account.user.id)
            }
            _ => Err(ServiceError::UnknownApprover(email.to_owned())),
        }
    }

    async fn group(&self, name: &str) -> ServiceResult<Group> {
        let normalized = normalize_group_name(name);
        if !valid_group_name(&normalized) {
            return Err(ServiceError::UnknownGroup(name.to_owned()));
        }
        self.store
            .group_by_name(&normalized)
            .await?
            .ok_or_else(|| ServiceError::UnknownGroup(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_are_short_plain_words() {
        for good in ["billing", "data-ops", "eu.finance", "team_2", "7th"] {
            assert!(valid_group_name(good), "{good}");
        }
        for bad in ["", "-ops", "Billing", "data ops", "a/b", &"x".repeat(65)] {
            assert!(!valid_group_name(bad), "{bad:?}");
        }
        assert_eq!(normalize_group_name("  Billing "), "billing");
    }
}
