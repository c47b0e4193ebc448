//! The MCP server's handler: its tools (their arguments, descriptions and
//! annotations), `tasks/get` and `tasks/cancel` (`tasks.rs`), and which
//! key's approvals a call acts on. No tool decides: only a person in the
//! inbox does.

use super::gate::{ApprovalGate, GateError, ServiceGate};
use super::outcome::{outcome_result, refusal, tool_answer, ApprovalOutcome};
use super::permission::{self, PermissionArgs};
use super::tasks::{detailed_task, no_such_task, task_of};
use crate::model::Approval;
use crate::server::domain::ApiKey;
use crate::server::rest::approvals::{parse_idempotency_key, MAX_WAIT_SECS};
use crate::server::service::Service;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams, ContentBlock,
    CreateTaskResult, GetTaskParams, GetTaskResult, Implementation, ProgressNotificationParam,
    ServerCapabilities, ServerConfig,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{tool, tool_router, ErrorData as McpError, ServerHandler};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// How often a long wait tells the client it is still waiting.
const PROGRESS_EVERY: Duration = Duration::from_secs(15);

/// Where the tools find the calling agent's approvals.
#[derive(Clone)]
pub enum Gates {
    /// `/mcp`: the key the HTTP layer authenticated, carried by each request.
    PerRequest(Arc<Service>),
    /// `holdpoint mcp`: one key, over the REST API, for the whole session.
    Fixed(Arc<dyn ApprovalGate>),
}

#[derive(Clone)]
pub struct HoldpointMcp {
    gates: Gates,
    /// The longest one `wait_for_approval` call waits: below every client's
    /// own limit on a tool call.
    wait_bound: Duration,
    tool_router: ToolRouter<Self>,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestApprovalArgs {
    /// One line, 1-200 characters, saying exactly what will happen: "Refund
    /// $240 to Lila Chen on order #8821".
    pub title: String,
    /// What the person should see before deciding, as HTML (sanitized; at
    /// most 256 KiB): the email's text, the rows to delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The exact data the action will use (a JSON object, at most 256 KiB);
    /// an approval echoes it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Map<String, Value>>,
    /// A dotted action kind, e.g. `billing.refund`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The email of the person who must decide. Not with `group`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
    /// The group whose members decide. Not with `approver`. With neither,
    /// the key's default route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Seconds until an undecided request expires (1 to 2,592,000; default:
    /// the server's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    /// Send the same key when retrying a call whose answer was lost: the
    /// first request is returned instead of a second one (1-255 visible
    /// ASCII characters).
    #[serde(default, skip_serializing)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitArgs {
    /// The approval's id (`apr_...`), as `request_approval` answered.
    pub id: String,
    /// The most seconds to wait in this call (default and most: the
    /// server's bound, 45 s unless configured).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdArgs {
    /// The approval's id (`apr_...`).
    pub id: String,
}

#[tool_router]
impl HoldpointMcp {
    pub fn new(gates: Gates, wait_bound: Duration) -> Self {
        HoldpointMcp {
            gates,
            wait_bound: wait_bound.min(Duration::from_secs(MAX_WAIT_SECS)),
            tool_router: Self::tool_router(),
        }
    }

    /// Ask a named person to approve an action before doing it. Nothing
    /// happens until they decide. Returns the request (status `pending`,
    /// its id and where the person sees it); then call `wait_for_approval`.
    /// A client of the MCP tasks extension gets a task instead, which
    /// completes when the person decides.
    #[tool(
        annotations(title = "Request approval", read_only_hint = false, destructive_hint = false,
                    idempotent_hint = false, open_world_hint = false),
        output_schema = rmcp::handler::server::tool::schema_for_output::<ApprovalOutcome>()
    )]
    async fn request_approval(
        &self,
        Parameters(args): Parameters<RequestApprovalArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let gate = self.gate(&context)?;
        Ok(tool_answer(create(gate.as_ref(), args).await))
    }

    /// Wait for the person's decision on a request. Answers as soon as they
    /// decide, or when this call's bound passes with status `pending`: then
    /// call it again. Safe to call any number of times; stopping a call
    /// leaves the request pending. A denial is a normal answer: stop the
    /// action and tell the user the reason.
    #[tool(
        annotations(title = "Wait for the decision", read_only_hint = true, idempotent_hint = true,
                    open_world_hint = false),
        output_schema = rmcp::handler::server::tool::schema_for_output::<ApprovalOutcome>()
    )]
    async fn wait_for_approval(
        &self,
        Parameters(args): Parameters<WaitArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let gate = self.gate(&context)?;
        let bound = args.timeout_seconds.map_or(self.wait_bound, |secs| {
            Duration::from_secs(secs).min(self.wait_bound)
        });
        Ok(tool_answer(
            wait_for_decision(gate.as_ref(), &args.id, bound, &context).await?,
        ))
    }

    /// For Claude Code's `--permission-prompt-tool`: asks a person whether
    /// the agent may use a tool with this input, waits for them, and answers
    /// `{"behavior": "allow", "updatedInput": …}` or `{"behavior": "deny",
    /// "message": …}`. Still undecided when the wait's bound passes: denied
    /// for now, and asking again waits on the same request.
    #[tool(annotations(
        title = "Ask a person for a tool permission",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn permission_prompt(
        &self,
        Parameters(args): Parameters<PermissionArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let gate = self.gate(&context)?;
        let request = args.request();
        let asked_before = match gate.pending().await {
            Ok(pending) => pending
                .into_iter()
                .find(|approval| permission::asks_again(&request, approval)),
            Err(error) => return Ok(refusal(error)),
        };
        let approval = match asked_before {
            Some(approval) => approval,
            None => match gate.create(request, None).await {
                Ok(approval) => approval,
                Err(error) => return Ok(refusal(error)),
            },
        };
        let approval = match wait_for_decision(
            gate.as_ref(),
            &approval.id,
            self.wait_bound,
            &context,
        )
        .await?
        {
            Ok(approval) => approval,
            Err(error) => return Ok(refusal(error)),
        };
        let answer = permission::answer(&approval);
        Ok(CallToolResult::success(vec![ContentBlock::text(
            answer.to_string(),
        )]))
    }

    /// Read a request and its decision, if any, without waiting.
    #[tool(
        annotations(title = "Read an approval", read_only_hint = true, idempotent_hint = true,
                    open_world_hint = false),
        output_schema = rmcp::handler::server::tool::schema_for_output::<ApprovalOutcome>()
    )]
    async fn get_approval(
        &self,
        Parameters(args): Parameters<IdArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let gate = self.gate(&context)?;
        Ok(tool_answer(gate.get(&args.id).await))
    }

    /// Withdraw a pending request (the action is no longer wanted). A
    /// decided request cannot be withdrawn.
    #[tool(
        annotations(title = "Withdraw a request", read_only_hint = false, destructive_hint = true,
                    idempotent_hint = false, open_world_hint = false),
        output_schema = rmcp::handler::server::tool::schema_for_output::<ApprovalOutcome>()
    )]
    async fn cancel_approval(
        &self,
        Parameters(args): Parameters<IdArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let gate = self.gate(&context)?;
        Ok(tool_answer(gate.cancel(&args.id).await))
    }
}

impl HoldpointMcp {
    /// The calling agent's approvals.
    fn gate(
        &self,
        context: &RequestContext<RoleServer>,
    ) -> Result<Arc<dyn ApprovalGate>, McpError> {
        match &self.gates {
            Gates::Fixed(gate) => Ok(gate.clone()),
            Gates::PerRequest(service) => context
                .extensions
                .get::<axum::http::request::Parts>()
                .and_then(|parts| parts.extensions.get::<ApiKey>())
                .map(|key| {
                    Arc::new(ServiceGate {
                        service: service.clone(),
                        key: key.clone(),
                    }) as Arc<dyn ApprovalGate>
                })
                // The HTTP layer refuses a request without a key first.
                .ok_or_else(|| McpError::internal_error("no API key on this request", None)),
        }
    }

    /// `request_approval` for a client of the tasks extension: the
    /// approval, as a task that completes when a person decides.
    async fn request_as_task(
        &self,
        request: CallToolRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let args: RequestApprovalArgs =
            serde_json::from_value(Value::Object(request.arguments.unwrap_or_default()))
                .map_err(|e| McpError::invalid_params(e.to_string(), None))?;
        let gate = self.gate(context)?;
        Ok(match create(gate.as_ref(), args).await {
            Ok(approval) if approval.status.is_terminal() => {
                // A retried request (same idempotency key) already decided.
                CallToolResponse::Complete(outcome_result(&approval))
            }
            Ok(approval) => CallToolResponse::Task(CreateTaskResult::new(task_of(&approval))),
            Err(error) => CallToolResponse::Complete(refusal(error)),
        })
    }
}

/// Waits until the approval leaves `pending` or `bound` passes (then it
/// answers the approval still pending), telling a client that asked for
/// progress every `PROGRESS_EVERY`. A cancelled call ends here: the
/// approval stays as it is.
async fn wait_for_decision(
    gate: &dyn ApprovalGate,
    id: &str,
    bound: Duration,
    context: &RequestContext<RoleServer>,
) -> Result<Result<Approval, GateError>, McpError> {
    let progress_token = context.meta.get_progress_token();
    let started = tokio::time::Instant::now();
    let mut reported = 0u32;
    loop {
        let left = bound.saturating_sub(started.elapsed());
        let slice = left.min(PROGRESS_EVERY);
        let answer = tokio::select! {
            () = context.ct.cancelled() => {
                return Err(McpError::internal_error("the call was cancelled", None))
            }
            answer = gate.wait(id, slice) => answer,
        };
        let approval = match answer {
            Ok(approval) => approval,
            Err(error) => return Ok(Err(error)),
        };
        if approval.status.is_terminal() || left <= slice {
            return Ok(Ok(approval));
        }
        if let Some(token) = &progress_token {
            reported += 1;
            let waited = started.elapsed().as_secs();
            let note = ProgressNotificationParam::new(token.clone(), f64::from(reported))
                .with_message(format!("still waiting for a person to decide ({waited} s)"));
            // A client that went away is found out by the next wait.
            let _ = context.peer.notify_progress(note).await;
        }
    }
}

async fn create(gate: &dyn ApprovalGate, args: RequestApprovalArgs) -> Result<Approval, GateError> {
    let idempotency_key = args
        .idempotency_key
        .as_deref()
        .map(parse_idempotency_key)
        .transpose()?;
    // The arguments are the REST API's create fields, and go through its parser.
    let body = match serde_json::to_value(&args) {
        Ok(Value::Object(body)) => body,
        _ => unreachable!("RequestApprovalArgs serializes as an object"),
    };
    gate.create(body, idempotency_key).await
}

impl ServerHandler for HoldpointMcp {
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let tasks = context
            .client_capabilities()
            .is_some_and(|capabilities| capabilities.supports_tasks());
        if tasks && request.name == "request_approval" {
            return self.request_as_task(request, &context).await;
        }
        let call = ToolCallContext::new(self, request, context);
        self.tool_router.call(call).await
    }

    async fn list_tools(
        &self,
        _request: Option<rmcp::model::PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListToolsResult, McpError> {
        Ok(rmcp::model::ListToolsResult::with_all_items(
            self.tool_router.list_all(),
        ))
    }

    fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
        self.tool_router.get(name).cloned()
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, McpError> {
        let approval = self
            .gate(&context)?
            .get(&request.task_id)
            .await
            .map_err(no_such_task)?;
        Ok(GetTaskResult::new(detailed_task(&approval)))
    }

    /// Cancelling the task withdraws the request, as `cancel_approval`
    /// does; a decided one stays as it is (its task is already complete).
    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        match self.gate(&context)?.cancel(&request.task_id).await {
            Ok(_) => Ok(()),
            Err(error) if error.code == "already_decided" => Ok(()),
            Err(error) => Err(no_such_task(error)),
        }
    }

    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tasks()
                .build(),
        )
        .with_server_info(Implementation::new("holdpoint", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Holdpoint asks a person before an action that is hard to undo. Call \
             request_approval before such an action and do nothing until the answer: \
             wait_for_approval until the status is no longer pending. Approved: go ahead \
             with exactly the approved data. Denied: stop, and tell the user the reason.",
        )
    }
}
