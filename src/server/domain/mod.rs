//! The domain's own types, shared by the service and the store: accounts,
//! approvals as stored, the outbox, the events that announce changes, and
//! identifiers. A leaf: it imports nothing of the crate but `model`.

mod account;
mod approval;
mod audit;
pub mod clock;
mod condition;
pub mod events;
pub mod ids;
pub mod outcome;
mod policy;
pub mod stats;
mod webhook;

pub use account::*;
pub use approval::*;
pub use audit::*;
pub use condition::*;
pub use policy::*;
pub use webhook::*;
