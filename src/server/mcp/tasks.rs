//! A `request_approval` as a task of the MCP tasks extension
//! (`io.modelcontextprotocol/tasks`). The task's id is the approval's id
//! and its state is the approval's: any instance answers `tasks/get` from
//! the database, a restart loses nothing, and the task lives as long as
//! the approval's record.

use super::gate::GateError;
use super::outcome::{next_step, outcome_result};
use crate::model::Approval;
use rmcp::model::{DetailedTask, Task, TaskPayload, TaskStatus};
use rmcp::ErrorData as McpError;
use serde_json::Value;

/// What a task-capable client is told about polling `tasks/get`.
const TASK_POLL_MS: u64 = 2_000;

/// The task of an approval: working while pending, completed with the
/// tool's answer once decided, expired or withdrawn.
pub fn task_of(approval: &Approval) -> Task {
    let updated = approval.decided_at.unwrap_or(approval.created_at);
    let mut task = Task::new(
        approval.id.clone(),
        TaskStatus::Working,
        approval.created_at.to_rfc3339(),
        updated.to_rfc3339(),
    )
    .with_poll_interval_ms(TASK_POLL_MS)
    .with_status_message(next_step(approval));
    // Kept as long as the approval: no expiry of the task itself.
    task.ttl_ms = None;
    task
}

pub fn detailed_task(approval: &Approval) -> DetailedTask {
    let payload = if approval.status.is_terminal() {
        let result = serde_json::to_value(outcome_result(approval))
            .ok()
            .and_then(|value| match value {
                Value::Object(object) => Some(object),
                _ => None,
            })
            .unwrap_or_default();
        TaskPayload::Completed { result }
    } else {
        TaskPayload::Working
    };
    DetailedTask::new(task_of(approval), payload)
}

pub fn no_such_task(error: GateError) -> McpError {
    if error.is_not_found() {
        McpError::invalid_params("no task with this id belongs to this API key", None)
    } else {
        McpError::internal_error(format!("{}: {}", error.code, error.detail), None)
    }
}
