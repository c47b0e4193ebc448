//! Handlers for /api/v1/approvals.

use super::extract::{Agent, CreatingAgent, JsonBytes};
use crate::model::{ActionKind, Approval, ApprovalPage, Status, Title};
use crate::server::domain::ids;
use crate::server::http::problem::Problem;
use crate::server::service::{CreateApproval, Created};
use crate::server::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{Map, Value};
use std::time::Duration;

const MAX_BODY_BYTES: usize = 256 * 1024;
const MAX_DATA_BYTES: usize = 256 * 1024;
const MAX_EXPIRES_IN_SECS: u64 = 30 * 86_400;
/// The longest one `/wait` may be asked to wait.
pub const MAX_WAIT_SECS: u64 = 60;
const DEFAULT_WAIT_SECS: u64 = 30;
const FIELDS: [&str; 7] = [
    "title",
    "body",
    "data",
    "approver",
    "group",
    "action",
    "expires_in",
];

type Params = Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>;

/// The body of `POST /api/v1/approvals`, as the OpenAPI document shows it.
/// `parse_create` reads the fields one by one instead, to name the one at
/// fault; a unit test keeps this and `FIELDS` the same.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct CreateApprovalBody {
    /// One line, 1-200 characters, no bidirectional controls or zero-width
    /// characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        example = "Refund $240 to Lila Chen on order #8821"
    )]
    title: String,
    /// The preview, as HTML: sanitized on the way in, at most 256 KiB.
    #[schema(example = "<p>The package arrived <strong>damaged</strong>.</p>")]
    body: Option<String>,
    /// The underlying data, shown to the approver and echoed back; a JSON
    /// object of at most 256 KiB.
    #[schema(value_type = Option<Object>, example = json!({"order": 8821, "amount_cents": 24000}))]
    data: Option<Value>,
    /// An approver's email. Not with `group`.
    #[schema(min_length = 1)]
    approver: Option<String>,
    /// A group's name. Not with `approver`. With neither, the key's
    /// default route, else anyone who may decide.
    #[schema(min_length = 1)]
    group: Option<String>,
    /// A dotted action kind.
    #[schema(example = "billing.refund")]
    action: Option<String>,
    /// Seconds until a pending approval expires (default: the server's
    /// `HOLDPOINT_DEFAULT_EXPIRY`).
    #[schema(minimum = 1, maximum = 2_592_000)]
    expires_in: Option<u64>,
}

/// Ask a person to approve an action.
#[utoipa::path(
    post,
    path = "/api/v1/approvals",
    operation_id = "createApproval",
    tag = "approvals",
    request_body(content = CreateApprovalBody, content_type = "application/json"),
    params(
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$",
         description = "1-255 visible ASCII characters. A retry with the same key and body returns the first approval; the same key with another body is a 422 `idempotency_key_reused`."),
    ),
    responses(
        (status = 201, description = "The approval, pending (or, for a retry with the same `Idempotency-Key`, the first one, as it is now).",
         body = Approval,
         headers(
             ("Location" = String, description = "`/api/v1/approvals/{id}`"),
             ("Idempotent-Replayed" = Option<String>, description = "`true` when this answers a retry with an `Idempotency-Key` seen before"),
         )),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    CreatingAgent(key): CreatingAgent,
    headers: HeaderMap,
    JsonBytes(bytes): JsonBytes,
) -> Result<Response, Problem> {
    let idempotency_key = idempotency_key(&headers)?;
    let (request, request_hash) = parse_create(&bytes)?;
    let idempotency = idempotency_key.map(|key| (key, request_hash));
    let Created { approval, replayed } = state.service.create(&key, request, idempotency).await?;
    let location = format!("/api/v1/approvals/{}", approval.id);
    let mut response = (StatusCode::CREATED, Json(approval)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The approval with its status and decision.
#[utoipa::path(
    get,
    path = "/api/v1/approvals/{id}",
    operation_id = "getApproval",
    tag = "approvals",
    params(("id" = String, Path, description = "The approval's id (`apr_...`).")),
    responses((status = 200, description = "The approval.", body = Approval)),
)]
pub async fn get_one(
    State(state): State<AppState>,
    Agent(key): Agent,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    Ok(Json(state.service.approval_for_key(&key, &id).await?).into_response())
}

/// Wait for the decision: answers as soon as the approval leaves `pending`,
/// or after `timeout` seconds with it still pending (then call again).
#[utoipa::path(
    get,
    path = "/api/v1/approvals/{id}/wait",
    operation_id = "waitForApproval",
    tag = "approvals",
    params(
        ("id" = String, Path, description = "The approval's id (`apr_...`)."),
        ("timeout" = Option<u64>, Query, minimum = 0, maximum = 60,
         description = "Seconds to wait, 0-60 (default 30)."),
    ),
    responses((status = 200, description = "The approval: decided, or still `pending` when the timeout passed.", body = Approval)),
)]
pub async fn wait(
    State(state): State<AppState>,
    Agent(key): Agent,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, Problem> {
    let params = query_params(params)?;
    let timeout = match param(&params, "timeout") {
        None => DEFAULT_WAIT_SECS,
        Some(raw) => raw
            .parse::<u64>()
            .ok()
            .filter(|secs| *secs <= MAX_WAIT_SECS)
            .ok_or_else(|| {
                Problem::bad_request(
                    "invalid_timeout",
                    format!("timeout must be a whole number of seconds from 0 to {MAX_WAIT_SECS} (got {raw:?})"),
                )
            })?,
    };
    let approval = state
        .service
        .wait_for_key(&key, &id, Duration::from_secs(timeout))
        .await?;
    Ok(Json(approval).into_response())
}

/// This key's approvals, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/approvals",
    operation_id = "listApprovals",
    tag = "approvals",
    params(
        ("status" = Option<Status>, Query, description = "Only approvals with this status."),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page."),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "Approvals per page, 1-100 (default 50)."),
    ),
    responses((status = 200, description = "One page of approvals.", body = ApprovalPage)),
)]
pub async fn list(
    State(state): State<AppState>,
    Agent(key): Agent,
    params: Params,
) -> Result<Response, Problem> {
    let params = query_params(params)?;
    let status = match param(&params, "status").filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => Some(
            raw.parse::<Status>()
                .map_err(|detail| Problem::bad_request("invalid_status", detail))?,
        ),
    };
    let cursor = match param(&params, "cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(raw) if ids::is_id("apr", raw) => Some(raw.to_owned()),
        Some(raw) => {
            return Err(Problem::bad_request(
                "invalid_cursor",
                format!("cursor {raw:?} is not a next_cursor this API returned"),
            ))
        }
    };
    let limit = match param(&params, "limit") {
        None => 50,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|limit| (1..=100).contains(limit))
            .ok_or_else(|| {
                Problem::bad_request(
                    "invalid_limit",
                    format!("limit must be from 1 to 100 (got {raw:?})"),
                )
            })?,
    };
    let page = state
        .service
        .list_for_key(&key, status, cursor, limit)
        .await?;
    Ok(Json(page).into_response())
}

/// Withdraw a pending request.
#[utoipa::path(
    post,
    path = "/api/v1/approvals/{id}/cancel",
    operation_id = "cancelApproval",
    tag = "approvals",
    params(("id" = String, Path, description = "The approval's id (`apr_...`).")),
    responses((status = 200, description = "The approval, now `cancelled`.", body = Approval)),
)]
pub async fn cancel(
    State(state): State<AppState>,
    Agent(key): Agent,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    Ok(Json(state.service.cancel(&key, &id).await?).into_response())
}

fn query_params(params: Params) -> Result<Vec<(String, String)>, Problem> {
    params
        .map(|Query(params)| params)
        .map_err(|rejection| Problem::bad_request("invalid_query", rejection.body_text()))
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    parse_idempotency_key(value.to_str().unwrap_or("\u{fffd}")).map(Some)
}

/// An idempotency key (the header's, or an MCP tool's argument): 1-255
/// visible ASCII characters.
pub fn parse_idempotency_key(raw: &str) -> Result<String, Problem> {
    Some(raw.trim())
        .filter(|key| (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .ok_or_else(|| {
            Problem::bad_request(
                "invalid_idempotency_key",
                "Idempotency-Key must be 1-255 visible ASCII characters",
            )
        })
}

/// Parses and validates a create request, naming the field at fault. Also
/// returns a hash of the request, to recognise an idempotent retry.
pub fn parse_create(bytes: &[u8]) -> Result<(CreateApproval, String), Problem> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        Problem::bad_request("invalid_json", format!("the body is not valid JSON: {e}"))
    })?;
    let Value::Object(fields) = value else {
        return Err(Problem::bad_request(
            "invalid_json",
            "the body must be a JSON object",
        ));
    };
    parse_create_fields(fields)
}

/// `parse_create` for a body already read as a JSON object (the MCP tools').
pub fn parse_create_fields(
    mut fields: Map<String, Value>,
) -> Result<(CreateApproval, String), Problem> {
    if let Some(unknown) = fields.keys().find(|name| !FIELDS.contains(&name.as_str())) {
        return Err(Problem::unprocessable(
            "unknown_field",
            format!(
                "unknown field {unknown:?}; the fields are {}",
                FIELDS.join(", ")
            ),
        ));
    }
    let request_hash = ids::sha256_hex(Value::Object(fields.clone()).to_string().as_bytes());

    let title = match fields.remove("title") {
        Some(Value::String(title)) => Title::parse(&title)?,
        None | Some(Value::Null) => {
            return Err(Problem::unprocessable("invalid_title", "title is required"))
        }
        Some(_) => {
            return Err(Problem::unprocessable(
                "invalid_title",
                "title must be a string",
            ))
        }
    };
    let body_html = match optional_string(&mut fields, "body", "invalid_body")? {
        Some(body) if body.len() > MAX_BODY_BYTES => {
            return Err(Problem::unprocessable(
                "body_too_large",
                format!(
                    "body is {} bytes; the limit is {MAX_BODY_BYTES}",
                    body.len()
                ),
            ))
        }
        body => body.unwrap_or_default(),
    };
    let data = match fields.remove("data") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(data)) => {
            let size = Value::Object(data.clone()).to_string().len();
            if size > MAX_DATA_BYTES {
                return Err(Problem::unprocessable(
                    "data_too_large",
                    format!("data is {size} bytes as JSON; the limit is {MAX_DATA_BYTES}"),
                ));
            }
            data
        }
        Some(_) => {
            return Err(Problem::unprocessable(
                "invalid_data",
                "data must be a JSON object",
            ))
        }
    };
    let approver_email = optional_string(&mut fields, "approver", "invalid_approver")?;
    if approver_email
        .as_deref()
        .is_some_and(|a| a.trim().is_empty())
    {
        return Err(Problem::unprocessable(
            "invalid_approver",
            "approver must not be empty",
        ));
    }
    let group_name = optional_string(&mut fields, "group", "invalid_group")?;
    if group_name.as_deref().is_some_and(|g| g.trim().is_empty()) {
        return Err(Problem::unprocessable(
            "invalid_group",
            "group must not be empty",
        ));
    }
    let action = optional_string(&mut fields, "action", "invalid_action")?
        .map(|raw| ActionKind::parse(&raw))
        .transpose()?;
    let expires_in = match fields.remove("expires_in") {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            value
                .as_u64()
                .filter(|secs| (1..=MAX_EXPIRES_IN_SECS).contains(secs))
                .map(Duration::from_secs)
                .ok_or_else(|| {
                    Problem::unprocessable(
                        "invalid_expires_in",
                        format!("expires_in must be a whole number of seconds from 1 to {MAX_EXPIRES_IN_SECS}"),
                    )
                })?,
        ),
    };
    let request = CreateApproval {
        title,
        body_html,
        data,
        action,
        approver_email,
        group_name,
        expires_in,
    };
    Ok((request, request_hash))
}

fn optional_string(
    fields: &mut Map<String, Value>,
    name: &str,
    code: &'static str,
) -> Result<Option<String>, Problem> {
    match fields.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(_) => Err(Problem::unprocessable(
            code,
            format!("{name} must be a string"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_create, CreateApprovalBody, FIELDS};
    use utoipa::PartialSchema;

    #[test]
    fn the_documented_body_has_the_fields_the_parser_reads() {
        let schema = serde_json::to_value(CreateApprovalBody::schema()).unwrap();
        let mut documented: Vec<&str> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut parsed = FIELDS.to_vec();
        documented.sort_unstable();
        parsed.sort_unstable();
        assert_eq!(documented, parsed);
        assert_eq!(schema["required"], serde_json::json!(["title"]));
    }

    fn code_of(body: &str) -> &'static str {
        parse_create(body.as_bytes()).unwrap_err().code
    }

    #[test]
    fn names_what_is_wrong() {
        assert_eq!(code_of("nope"), "invalid_json");
        assert_eq!(code_of("[1]"), "invalid_json");
        assert_eq!(code_of(r#"{"title":"t","colour":"red"}"#), "unknown_field");
        assert_eq!(code_of(r#"{"body":"x"}"#), "invalid_title");
        assert_eq!(code_of(r#"{"title":7}"#), "invalid_title");
        assert_eq!(code_of(r#"{"title":"t","data":[1]}"#), "invalid_data");
        assert_eq!(
            code_of(r#"{"title":"t","action":"Bad Kind"}"#),
            "invalid_action"
        );
        assert_eq!(
            code_of(r#"{"title":"t","expires_in":0}"#),
            "invalid_expires_in"
        );
        assert_eq!(
            code_of(r#"{"title":"t","expires_in":1.5}"#),
            "invalid_expires_in"
        );
    }

    #[test]
    fn same_request_same_hash() {
        let (_, a) = parse_create(br#"{"title":"t","data":{"b":1,"a":2}}"#).unwrap();
        let (_, b) = parse_create(br#"{"data":{"a":2,"b":1},"title":"t"}"#).unwrap();
        let (_, c) = parse_create(br#"{"title":"t2"}"#).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
