//! Types shared by the server and the browser: what an approval is, its
//! lifecycle, and the validated newtypes ("parse, don't validate") that every
//! entry point goes through.

mod api_reference;
mod approval;
mod audit;
mod inbox_protocol;
mod policy;
mod stats;
mod validated;
mod webhook;

pub use api_reference::{ApiReference, EndpointDoc, FieldDoc, ResponseDoc, SchemaDoc};
pub use approval::{Approval, ApprovalPage, ApprovalSummary, HistoryPage, Status, Verdict};
pub use audit::{AuditEntryView, AuditPage, AuditQuery};
pub use inbox_protocol::{ApprovalChange, InboxData, InboxEvent, HEARTBEAT_SECS};
pub use policy::*;
pub use stats::*;
pub use validated::{refuse_deceptive, reveal_hidden, ActionKind, Reason, Title, ValidationError};
pub use webhook::{
    DeliveryStatus, DeliverySummary, KeyWebhook, WebhookAttempt, WebhookEndpoint, WebhookMessage,
};
