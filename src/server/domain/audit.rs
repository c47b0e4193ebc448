//! Who did an admin action, and when, as the audit trail records it.

/// The actor and time of an admin action: `user:ID` for a person, `cli`
/// for `holdpoint admin` at the server's shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    pub actor: String,
    pub at: i64,
}
