//! The MCP server through rmcp's own client: over Streamable HTTP (`/mcp`)
//! and over stdio (`holdpoint mcp`, a child process), on both backends. The
//! person's decisions go through the inbox's server functions, as a
//! browser's would (the browser itself: end2end/tests/mcp.spec.ts).

use crate::common::{assert_problem, spawn_app, TestApp, APPROVER};
use holdpoint::testkit::Backend;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams, ClientCapabilities,
    ClientConfig, GetTaskParams, Implementation, ProtocolVersion, TaskPayload, TaskStatus,
};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, RoleClient, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::ServiceExt;
use serde_json::{json, Map, Value};
use std::process::Stdio;

type Client = RunningService<RoleClient, ClientConfig>;

fn client_config(tasks: bool) -> ClientConfig {
    let capabilities = if tasks {
        ClientCapabilities::builder().enable_tasks().build()
    } else {
        ClientCapabilities::default()
    };
    ClientConfig::new(capabilities, Implementation::new("holdpoint-tests", "1"))
}

async fn over_http(app: &TestApp, key: &str, tasks: bool) -> Result<Client, String> {
    // rmcp's reqwest is built without a TLS provider of its own: it takes
    // the process's (ring, as the server's).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(app.url("/mcp")).auth_header(key),
    );
    // The protocol of the tasks extension (2026-07-28): no handshake, each
    // request carries its client's capabilities (the endpoint keeps no
    // sessions).
    let modern = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    client_config(tasks)
        .serve_with_lifecycle(transport, modern)
        .await
        .map_err(|e| e.to_string())
}

/// `holdpoint mcp` as a child process, talking to `app` with `key`, each
/// wait at most a second; the
/// session opens with the `initialize` handshake of earlier protocols.
async fn over_stdio(app: &TestApp, key: &str, tasks: bool) -> (Client, tokio::process::Child) {
    let mut command = tokio::process::Command::new(&app.bin);
    command
        .arg("mcp")
        .env("HOLDPOINT_URL", app.url(""))
        .env("HOLDPOINT_API_KEY", key)
        .env("HOLDPOINT_LOG", "warn")
        // Short waits: a test that waits for a person decides first.
        .env("HOLDPOINT_MCP_WAIT", "1s");
    stdio_session(command, tasks).await
}

/// An MCP session with `command`, started as a child process on its stdin
/// and stdout.
async fn stdio_session(
    mut command: tokio::process::Command,
    tasks: bool,
) -> (Client, tokio::process::Child) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("holdpoint mcp");
    let stdout = child.stdout.take().unwrap();
    let stdin = child.stdin.take().unwrap();
    let client = client_config(tasks)
        .serve((stdout, stdin))
        .await
        .expect("an MCP session on stdio");
    (client, child)
}

fn call(name: &str, arguments: Value) -> CallToolRequestParams {
    let Value::Object(arguments) = arguments else {
        panic!("arguments must be an object")
    };
    CallToolRequestParams::new(name.to_owned()).with_arguments(arguments)
}

fn text_of(result: &CallToolResult) -> String {
    result.content[0].as_text().expect("text").text.clone()
}

fn structured(result: &CallToolResult) -> Map<String, Value> {
    result
        .structured_content
        .clone()
        .and_then(|value| value.as_object().cloned())
        .expect("structured content")
}

async fn tools_are_described_and_none_decides(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = over_http(&app, &app.key, false).await.unwrap();
    let tools = client.list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "cancel_approval",
            "get_approval",
            "permission_prompt",
            "request_approval",
            "wait_for_approval"
        ]
    );
    for tool in &tools {
        // Claude Code reads the permission's answer as JSON text.
        let structured = tool.name != "permission_prompt";
        assert_eq!(tool.output_schema.is_some(), structured, "{}", tool.name);
        assert!(tool.description.as_deref().is_some_and(|d| d.len() > 40));
        let annotations = tool.annotations.as_ref().expect("annotations");
        let reads_only = matches!(tool.name.as_ref(), "wait_for_approval" | "get_approval");
        assert_eq!(
            annotations.read_only_hint,
            Some(reads_only),
            "{}",
            tool.name
        );
    }
    let request = tools.iter().find(|t| t.name == "request_approval").unwrap();
    assert_eq!(request.input_schema["required"], json!(["title"]));
    client.cancel().await.unwrap();
}

async fn a_task_completes_when_a_person_decides(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = over_http(&app, &app.key, true).await.unwrap();
    let response = client
        .call_tool_once(call(
            "request_approval",
            json!({"title": "Refund $240 to Lila Chen", "data": {"order": 8821}, "action": "billing.refund"}),
        ))
        .await
        .unwrap();
    let CallToolResponse::Task(created) = response else {
        panic!("a task-capable client gets a task, not {response:?}")
    };
    let id = created.task.task_id.clone();
    assert!(id.starts_with("apr_"), "the task is the approval: {id}");
    assert_eq!(created.task.status, TaskStatus::Working);
    assert_eq!(app.approval(&id).await["status"], "pending");

    let working = client
        .get_task(GetTaskParams::new(id.clone()))
        .await
        .unwrap();
    assert_eq!(working.task.status(), TaskStatus::Working);

    let cookie = app.login(APPROVER).await;
    assert_eq!(
        app.decide(&cookie, &id, "approve", None).await.status(),
        200
    );
    let done = client
        .get_task(GetTaskParams::new(id.clone()))
        .await
        .unwrap();
    let TaskPayload::Completed { result } = done.task.payload else {
        panic!("completed once decided: {:?}", done.task)
    };
    let result: CallToolResult = serde_json::from_value(Value::Object(result)).unwrap();
    assert_ne!(result.is_error, Some(true));
    assert!(
        text_of(&result).starts_with("APPROVED by ana@example.com"),
        "{}",
        text_of(&result)
    );
    assert_eq!(structured(&result)["data"], json!({"order": 8821}));

    // Cancelling a task withdraws its request.
    let response = client
        .call_tool_once(call(
            "request_approval",
            json!({"title": "Delete 212 rows"}),
        ))
        .await
        .unwrap();
    let CallToolResponse::Task(second) = response else {
        panic!("a task")
    };
    client
        .cancel_task(CancelTaskParams::new(second.task.task_id.clone()))
        .await
        .unwrap();
    assert_eq!(
        app.approval(&second.task.task_id).await["status"],
        "cancelled"
    );

    // Another key's tasks are not this key's.
    let other = app.new_key("other-agent", None).await;
    let stranger = over_http(&app, &other, true).await.unwrap();
    assert!(stranger.get_task(GetTaskParams::new(id)).await.is_err());
    client.cancel().await.unwrap();
    stranger.cancel().await.unwrap();
}

async fn over_stdio_a_client_without_tasks_waits_and_hears_a_denial(backend: Backend) {
    let app = spawn_app(backend).await;
    let (client, _child) = over_stdio(&app, &app.key, false).await;
    let created = client
        .call_tool(call(
            "request_approval",
            json!({"title": "Send the campaign to 4,812 people", "data": {"recipients": 4812}}),
        ))
        .await
        .unwrap();
    let approval = structured(&created);
    assert_eq!(approval["status"], "pending");
    let id = approval["id"].as_str().unwrap().to_owned();
    assert!(text_of(&created).contains("wait_for_approval"));

    let waited = client
        .call_tool(call(
            "wait_for_approval",
            json!({"id": id, "timeout_seconds": 1}),
        ))
        .await
        .unwrap();
    assert_eq!(structured(&waited)["status"], "pending");

    let cookie = app.login(APPROVER).await;
    let reason = "The list has not been cleaned since March.";
    assert_eq!(
        app.decide(&cookie, &id, "deny", Some(reason))
            .await
            .status(),
        200
    );
    let denied = client
        .call_tool(call("wait_for_approval", json!({"id": id})))
        .await
        .unwrap();
    assert_ne!(denied.is_error, Some(true), "a denial is a normal answer");
    let text = text_of(&denied);
    assert!(text.starts_with("DENIED by ana@example.com"), "{text}");
    assert!(
        text.contains("Do not do") && text.contains(reason),
        "{text}"
    );
    assert_eq!(structured(&denied)["reason"], reason);

    // The REST API's validation, with its codes, as a tool error.
    let refused = client
        .call_tool(call("request_approval", json!({"title": "two\nlines"})))
        .await
        .unwrap();
    assert_eq!(refused.is_error, Some(true));
    assert!(
        text_of(&refused).starts_with("invalid_title (422)"),
        "{}",
        text_of(&refused)
    );
    client.cancel().await.unwrap();
}

async fn a_wrong_key_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let Err(error) = over_http(&app, "hp_nobody_made_this_key", false).await else {
        panic!("a session with a wrong key was opened")
    };
    // rmcp reads the 401 with `WWW-Authenticate: Bearer` as "Auth required".
    assert!(error.contains("Auth required"), "{error}");
    let (client, _child) = over_stdio(&app, "hp_nobody_made_this_key", false).await;
    let answer = client
        .call_tool(call(
            "get_approval",
            json!({"id": "apr_00000000000000000000000000"}),
        ))
        .await
        .unwrap();
    assert_eq!(answer.is_error, Some(true));
    assert!(text_of(&answer).starts_with("invalid_api_key (401)"));
    client.cancel().await.unwrap();
}

async fn foreign_hosts_and_origins_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "curl", "version": "1"}}});
    let post = |headers: &[(&str, &str)]| {
        let mut request = app
            .client
            .post(app.url("/mcp"))
            .bearer_auth(&app.key)
            .header("accept", "application/json, text/event-stream")
            .json(&initialize);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };
    assert_eq!(post(&[]).await.unwrap().status(), 200);
    // DNS rebinding: a page on another name that resolves here.
    let rebound = post(&[("host", "attacker.example")]).await.unwrap();
    assert_eq!(rebound.status(), 403, "{:?}", rebound.text().await);
    let cross_site = post(&[("origin", "https://attacker.example")])
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    let own_origin = app.url("");
    assert_eq!(
        post(&[("origin", own_origin.as_str())])
            .await
            .unwrap()
            .status(),
        200
    );
}

fn bash(command: &str) -> CallToolRequestParams {
    call(
        "permission_prompt",
        json!({"tool_name": "Bash", "input": {"command": command}, "tool_use_id": "toolu_01"}),
    )
}

/// The only pending approval of `app`'s key, once there is one.
async fn the_pending_one(app: &TestApp) -> Value {
    loop {
        let page: Value = app
            .get(&app.key, "/api/v1/approvals?status=pending")
            .await
            .json()
            .await
            .unwrap();
        if let Some(items) = page["items"].as_array().filter(|items| !items.is_empty()) {
            assert_eq!(items.len(), 1, "one request per permission: {items:?}");
            return items[0].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn answer_of(result: &CallToolResult) -> Value {
    serde_json::from_str(&text_of(result)).expect("the JSON Claude Code reads")
}

async fn claude_codes_permission_prompt_waits_for_a_person(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = over_http(&app, &app.key, false).await.unwrap();
    let cookie = app.login(APPROVER).await;
    let (allowed, ()) = tokio::join!(client.call_tool(bash("rm -rf build")), async {
        let pending = the_pending_one(&app).await;
        assert_eq!(
            pending["title"],
            "Claude Code wants to use Bash: rm -rf build"
        );
        assert_eq!(pending["action"], "claude_code.bash");
        assert_eq!(pending["data"], json!({"command": "rm -rf build"}));
        let id = pending["id"].as_str().unwrap();
        assert_eq!(app.decide(&cookie, id, "approve", None).await.status(), 200);
    });
    assert_eq!(
        answer_of(&allowed.unwrap()),
        json!({"behavior": "allow", "updatedInput": {"command": "rm -rf build"}})
    );

    let (denied, ()) = tokio::join!(client.call_tool(bash("git push --force")), async {
        let id = the_pending_one(&app).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let reason = "Never force-push main.";
        assert_eq!(
            app.decide(&cookie, &id, "deny", Some(reason))
                .await
                .status(),
            200
        );
    });
    let answer = answer_of(&denied.unwrap());
    assert_eq!(answer["behavior"], "deny");
    assert_eq!(
        answer["message"],
        "Denied in Holdpoint by ana@example.com: Never force-push main."
    );
    client.cancel().await.unwrap();
}

async fn an_undecided_permission_is_denied_for_now_and_asked_again_on_the_same_request(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (client, _child) = over_stdio(&app, &app.key, false).await;
    let first = answer_of(&client.call_tool(bash("rm -rf build")).await.unwrap());
    assert_eq!(first["behavior"], "deny");
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains("has not decided yet"),
        "{first}"
    );
    let again = answer_of(&client.call_tool(bash("rm -rf build")).await.unwrap());
    assert_eq!(again["behavior"], "deny");
    // Both asked on one request, still waiting for a person.
    the_pending_one(&app).await;
    assert_eq!(app.count().await, 1);
    client.cancel().await.unwrap();
}

/// The README's MCP configurations (`mcpServers` JSON), as printed.
fn readme_mcp_configs() -> Vec<Value> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    readme
        .split("```json\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .filter(|block| block.contains("mcpServers"))
        .map(|block| serde_json::from_str(block).expect("the README's MCP config is JSON"))
        .collect()
}

async fn the_readmes_mcp_configs_connect_as_printed(backend: Backend) {
    let app = spawn_app(backend).await;
    let printed_server = "http://127.0.0.1:3000";
    let configs = readme_mcp_configs();
    assert_eq!(
        configs.len(),
        2,
        "Claude Desktop's (stdio) and .mcp.json's (HTTP)"
    );
    for config in configs {
        let server = &config["mcpServers"]["holdpoint"];
        let client = if let Some(command) = server["command"].as_str() {
            assert_eq!(command, "/path/to/holdpoint");
            let mut child = tokio::process::Command::new(&app.bin);
            child.args(
                server["args"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap()),
            );
            for (name, value) in server["env"].as_object().unwrap() {
                let value = value
                    .as_str()
                    .unwrap()
                    .replace(printed_server, &app.url(""))
                    .replace("hp_...", &app.key);
                child.env(name, value);
            }
            let (client, child) = stdio_session(child, false).await;
            (client, Some(child))
        } else {
            assert_eq!(server["type"], "http");
            let url = server["url"]
                .as_str()
                .unwrap()
                .replace(printed_server, &app.url(""));
            let mut headers = std::collections::HashMap::new();
            for (name, value) in server["headers"].as_object().unwrap() {
                let value = value
                    .as_str()
                    .unwrap()
                    .replace("${HOLDPOINT_API_KEY}", &app.key);
                headers.insert(
                    name.parse::<http::HeaderName>().unwrap(),
                    value.parse::<http::HeaderValue>().unwrap(),
                );
            }
            let _ = rustls::crypto::ring::default_provider().install_default();
            let transport = StreamableHttpClientTransport::from_config(
                StreamableHttpClientTransportConfig::with_uri(url).custom_headers(headers),
            );
            (
                client_config(false)
                    .serve(transport)
                    .await
                    .expect("HTTP as configured"),
                None,
            )
        };
        let (client, _child) = client;
        let tools = client.list_all_tools().await.unwrap();
        assert!(tools.iter().any(|tool| tool.name == "request_approval"));
        client.cancel().await.unwrap();
    }
}

/// What `/mcp` refuses, it refuses as every other endpoint does: the JSON
/// problem of the README, with the status that fits.
async fn refusals_at_mcp_are_json_problems(backend: Backend) {
    let app = spawn_app(backend).await;
    let post = |content_type: &'static str, body: String| {
        app.client
            .post(app.url("/mcp"))
            .bearer_auth(&app.key)
            .header("content-type", content_type)
            .header("accept", "application/json, text/event-stream")
            .body(body)
            .send()
    };
    let not_json = post("application/json", "not json".into()).await.unwrap();
    let problem = assert_problem(not_json, 400, "invalid_json").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("deserialize"),
        "{problem}"
    );
    let not_a_message = post("application/json", "[]".into()).await.unwrap();
    assert_problem(not_a_message, 400, "invalid_json").await;
    let text = post("text/plain", "{}".into()).await.unwrap();
    assert_problem(text, 415, "unsupported_media_type").await;
    let huge = post("application/json", "a".repeat(5_000_000))
        .await
        .unwrap();
    assert_problem(huge, 413, "request_too_large").await;
    let no_event_stream = app
        .client
        .post(app.url("/mcp"))
        .bearer_auth(&app.key)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_problem(no_event_stream, 406, "not_acceptable").await;
    let rebound = app
        .client
        .post(app.url("/mcp"))
        .bearer_auth(&app.key)
        .header("host", "attacker.example")
        .send()
        .await
        .unwrap();
    assert_problem(rebound, 403, "forbidden").await;
}

on_both_backends!(
    refusals_at_mcp_are_json_problems,
    the_readmes_mcp_configs_connect_as_printed,
    claude_codes_permission_prompt_waits_for_a_person,
    an_undecided_permission_is_denied_for_now_and_asked_again_on_the_same_request,
    foreign_hosts_and_origins_are_refused,
    tools_are_described_and_none_decides,
    a_task_completes_when_a_person_decides,
    over_stdio_a_client_without_tasks_waits_and_hears_a_denial,
    a_wrong_key_is_refused,
);
