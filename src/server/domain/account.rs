//! People and agents: accounts, roles and API keys.

use super::webhook::NewEndpoint;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Approver,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Approver => "approver",
        }
    }

    /// The role stored as `raw`; None for anything else, which is refused
    /// rather than read as some default.
    pub fn parse(raw: &str) -> Option<Role> {
        match raw {
            "admin" => Some(Role::Admin),
            "approver" => Some(Role::Approver),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
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
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    /// Where approvals from this key go when the agent names no approver.
    pub default_approver_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub id: String,
    pub name: String,
    pub key_hash: String,
    pub default_approver_id: Option<String>,
    pub created_at: i64,
    /// Created in the same transaction: the key never exists without the
    /// endpoint it was asked for.
    pub webhook: Option<NewEndpoint>,
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
