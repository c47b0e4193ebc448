//! People and agents: accounts, roles and API keys.

use super::webhook::NewEndpoint;

/// What a person may do. Admins: everything. Approvers: decide what is
/// routed to them, to a group of theirs, or to nobody in particular.
/// Viewers: see every approval, decide none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Approver,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Approver, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Approver => "approver",
            Role::Viewer => "viewer",
        }
    }

    /// The role stored or typed as `raw`; None for anything else, which is
    /// refused rather than read as some default.
    pub fn parse(raw: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == raw)
    }

    /// Whether this role decides approvals at all.
    pub fn decides(self) -> bool {
        self != Role::Viewer
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
    /// The ids of the groups this person belongs to.
    pub group_ids: Vec<String>,
}

/// Whom an approval is for: a person, a group, or (both None) everyone
/// who may decide.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    pub approver_id: Option<String>,
    pub group_id: Option<String>,
}

impl User {
    /// Whether this person sees an approval with this route: admins and
    /// viewers see everything; approvers what is routed to them, to one of
    /// their groups, or to nobody in particular.
    pub fn may_see(&self, route: &Route) -> bool {
        match self.role {
            Role::Admin | Role::Viewer => true,
            Role::Approver => self.is_routed_to(route),
        }
    }

    /// Whether an approval belongs in this person's inbox: what is routed
    /// to them, to their groups, or to nobody in particular; every pending
    /// one for a viewer, and for an admin who asked for `everything`.
    pub fn in_inbox(&self, route: &Route, everything: bool) -> bool {
        match self.role {
            Role::Viewer => true,
            Role::Admin if everything => true,
            _ => self.is_routed_to(route),
        }
    }

    fn is_routed_to(&self, route: &Route) -> bool {
        match (&route.approver_id, &route.group_id) {
            (Some(approver), _) => *approver == self.id,
            (None, Some(group)) => self.group_ids.contains(group),
            (None, None) => true,
        }
    }

    /// Whether this person may approve or deny an approval with this route.
    pub fn may_decide(&self, route: &Route) -> bool {
        self.role.decides() && self.may_see(route)
    }
}

/// A person as the admin's People page lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub user: User,
    /// Names of their groups, in order.
    pub group_names: Vec<String>,
    /// False until an invited person has chosen a password.
    pub has_password: bool,
    /// When their unused invitation link expires, if one is live.
    pub invited_until: Option<i64>,
    pub created_at: i64,
}

/// One of a person's sessions, as they see it on their account page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The SHA-256 of its token: an id that cannot be used to sign in.
    pub id: String,
    pub created_at: i64,
    pub last_seen_at: Option<i64>,
    /// The browser's User-Agent, when it said.
    pub device: Option<String>,
}

impl Person {
    /// "active", "invited" (no password chosen yet) or "deactivated".
    pub fn status(&self) -> &'static str {
        match (self.user.active, self.has_password) {
            (false, _) => "deactivated",
            (true, false) => "invited",
            (true, true) => "active",
        }
    }
}

/// What a one-time account link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// A new account's first password.
    Invite,
    /// A new password for an existing account.
    Reset,
}

impl LinkPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::Invite => "invite",
            LinkPurpose::Reset => "reset",
        }
    }

    pub fn parse(raw: &str) -> Option<LinkPurpose> {
        [LinkPurpose::Invite, LinkPurpose::Reset]
            .into_iter()
            .find(|purpose| purpose.as_str() == raw)
    }
}

/// A live one-time link: whose, and what for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountLink {
    pub email: String,
    pub purpose: LinkPurpose,
    pub expires_at: i64,
}

/// A named group of people; approvals routed to it are theirs to decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    /// The members' emails, in order.
    pub members: Vec<String>,
}

/// A person with their password's hash, as sign-in reads them.
#[derive(Debug, Clone)]
pub struct Account {
    pub user: User,
    /// argon2id, PHC string format.
    pub password_hash: String,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: String,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub role: Role,
    pub created_at: i64,
}

impl NewUser {
    /// The user as stored, once the insert has succeeded.
    pub fn into_user(self) -> User {
        User {
            id: self.id,
            email: self.email,
            name: self.name,
            role: self.role,
            active: true,
            group_ids: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    /// Where approvals from this key go when the agent names no approver
    /// and no group.
    pub default_route: Route,
    /// Whether an admin allowed it to read the export of decisions.
    pub reads_decisions: bool,
}

impl ApiKey {
    pub fn identity(&self) -> KeyIdentity {
        KeyIdentity {
            id: self.id.clone(),
            name: self.name.clone(),
        }
    }
}

/// What never changes about an API key (a rotation makes a new key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyIdentity {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub id: String,
    pub name: String,
    pub key_hash: String,
    pub default_route: Route,
    pub created_at: i64,
    /// Created in the same transaction: the key never exists without the
    /// endpoint it was asked for.
    pub webhook: Option<NewEndpoint>,
}

/// An API key as the admin's Keys page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOverview {
    pub id: String,
    pub name: String,
    /// The default route: an approver's email or a group's name.
    pub default_approver: Option<String>,
    pub default_group: Option<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    /// Its approvals still pending.
    pub pending: i64,
    pub webhook_url: Option<String>,
    pub reads_decisions: bool,
}

/// What became of a first-start setup.
#[derive(Debug)]
pub enum FirstUser {
    Created(User),
    /// No live token has this hash (never issued, spent, or expired).
    InvalidToken,
    /// Someone got there first: an account exists.
    AlreadySetUp,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: &str, role: Role, groups: &[&str]) -> User {
        User {
            id: id.to_owned(),
            email: format!("{id}@example.com"),
            name: id.to_owned(),
            role,
            active: true,
            group_ids: groups.iter().map(|g| (*g).to_owned()).collect(),
        }
    }

    fn route(approver: Option<&str>, group: Option<&str>) -> Route {
        Route {
            approver_id: approver.map(str::to_owned),
            group_id: group.map(str::to_owned),
        }
    }

    #[test]
    fn who_sees_and_decides_what() {
        let admin = person("admin", Role::Admin, &[]);
        let viewer = person("viewer", Role::Viewer, &["billing"]);
        let ana = person("ana", Role::Approver, &["billing"]);
        let bo = person("bo", Role::Approver, &[]);
        let to_ana = route(Some("ana"), None);
        let to_bo = route(Some("bo"), None);
        let to_billing = route(None, Some("billing"));
        let to_anyone = route(None, None);
        // (person, route, sees, decides)
        let cases = [
            (&admin, &to_ana, true, true),
            (&admin, &to_billing, true, true),
            (&viewer, &to_ana, true, false),
            (&viewer, &to_billing, true, false),
            (&viewer, &to_anyone, true, false),
            (&ana, &to_ana, true, true),
            (&ana, &to_bo, false, false),
            (&ana, &to_billing, true, true),
            (&ana, &to_anyone, true, true),
            (&bo, &to_ana, false, false),
            (&bo, &to_billing, false, false),
            (&bo, &to_anyone, true, true),
        ];
        for (who, route, sees, decides) in cases {
            assert_eq!(who.may_see(route), sees, "{} sees {route:?}", who.id);
            assert_eq!(
                who.may_decide(route),
                decides,
                "{} decides {route:?}",
                who.id
            );
        }
    }

    #[test]
    fn roles_round_trip_and_unknown_ones_are_refused() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("owner"), None);
    }
}
