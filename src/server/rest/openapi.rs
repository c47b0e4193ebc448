//! The agent API's OpenAPI 3.1 document (`GET /api/v1/openapi.json`, and
//! what the `/api/docs` page shows).
//!
//! Paths, parameters, bodies and success answers come from each handler's
//! `#[utoipa::path]` and the types it answers with; the problems each
//! endpoint can answer are listed once, in `PROBLEMS`. Tests keep both
//! true: every route of `ROUTES` is documented and nothing else is, and
//! schemathesis (the test command) checks the running server against it.

use super::{approvals, decisions};
use crate::model::{Approval, ApprovalPage, ExpectedDecision, Status};
use crate::server::service::DecisionLine;
use serde_json::{json, Map, Value};
use std::sync::OnceLock;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Holdpoint agent API",
        description = "Ask a person before an action that is hard to undo, then learn the decision by waiting on the API or from a signed webhook. Authenticate with `Authorization: Bearer <api key>` (an admin makes keys on the Keys page). Errors are RFC 9457 problem details whose `code` is stable.",
    ),
    paths(
        approvals::create,
        approvals::list,
        approvals::get_one,
        approvals::wait,
        approvals::cancel,
        decisions::list,
    ),
    components(schemas(Approval, ApprovalPage, ExpectedDecision, Status, DecisionLine)),
    tags(
        (name = "approvals", description = "Ask, wait, read and withdraw."),
        (name = "decisions", description = "Decided approvals as data: the denial reasons."),
    ),
)]
struct AgentApi;

/// An answer's status and every `code` its problem may carry.
type Problems = (u16, &'static [&'static str]);
/// An operation (method, path) and its problems.
type OperationProblems = (&'static str, &'static str, &'static [Problems]);

const AUTH: Problems = (
    401,
    &[
        "missing_api_key",
        "invalid_authorization",
        "invalid_api_key",
    ],
);
const RATE: Problems = (429, &["rate_limited"]);
const QUERY: &str = "invalid_query";
const NOT_FOUND: Problems = (404, &["not_found"]);

/// The problems each endpoint answers, by status, with every `code` it can
/// carry. Every endpoint may also answer 500 `internal_error`.
const PROBLEMS: [OperationProblems; 6] = [
    (
        "post",
        "/api/v1/approvals",
        &[
            (400, &["invalid_json", "invalid_idempotency_key"]),
            AUTH,
            (413, &["request_too_large"]),
            (415, &["unsupported_media_type"]),
            (
                422,
                &[
                    "invalid_title",
                    "invalid_body",
                    "body_too_large",
                    "invalid_data",
                    "data_too_large",
                    "invalid_action",
                    "invalid_approver",
                    "unknown_approver",
                    "invalid_group",
                    "unknown_group",
                    "invalid_route",
                    "invalid_expires_in",
                    "unknown_field",
                    "idempotency_key_reused",
                ],
            ),
            RATE,
        ],
    ),
    (
        "get",
        "/api/v1/approvals",
        &[
            (
                400,
                &[QUERY, "invalid_status", "invalid_cursor", "invalid_limit"],
            ),
            AUTH,
        ],
    ),
    ("get", "/api/v1/approvals/{id}", &[AUTH, NOT_FOUND]),
    (
        "get",
        "/api/v1/approvals/{id}/wait",
        &[(400, &[QUERY, "invalid_timeout"]), AUTH, NOT_FOUND, RATE],
    ),
    (
        "post",
        "/api/v1/approvals/{id}/cancel",
        &[AUTH, NOT_FOUND, (409, &["already_decided"])],
    ),
    (
        "get",
        "/api/v1/decisions",
        &[
            (400, &[QUERY]),
            AUTH,
            (403, &["forbidden"]),
            (422, &["invalid_outcome", "invalid_time"]),
        ],
    ),
];

/// The document, built once.
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(build)
}

fn build() -> Value {
    let mut doc = serde_json::to_value(AgentApi::openapi()).unwrap_or_else(|_| json!({}));
    doc["info"]["version"] = json!(env!("CARGO_PKG_VERSION"));
    doc["security"] = json!([{ "api_key": [] }]);
    let components = &mut doc["components"];
    components["securitySchemes"] = json!({
        "api_key": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key: `Authorization: Bearer hp_...`.",
        }
    });
    components["schemas"]["Problem"] = problem_schema();
    // The parser refuses a field it does not know (422 `unknown_field`).
    components["schemas"]["CreateApprovalBody"]["additionalProperties"] = json!(false);
    // `data` is any JSON object. utoipa writes only `"type": "object"`,
    // which code generators read as an object with no properties at all.
    for schema in ["CreateApprovalBody", "Approval", "DecisionLine"] {
        components["schemas"][schema]["properties"]["data"]["additionalProperties"] = json!(true);
    }
    for (method, path, problems) in PROBLEMS {
        let operation = &mut doc["paths"][path][method];
        for (status, codes) in problems {
            operation["responses"][status.to_string()] = problem_response(*status, codes);
        }
        operation["responses"]["500"] = problem_response(500, &["internal_error"]);
        for response in operation["responses"]
            .as_object_mut()
            .into_iter()
            .flat_map(|responses| responses.values_mut())
        {
            response["headers"]["X-Request-Id"] = json!({
                "description": "The request's id: yours, when you sent one, else one the server made. Quote it when something went wrong.",
                "schema": { "type": "string" },
            });
        }
    }
    doc
}

fn problem_schema() -> Value {
    json!({
        "type": "object",
        "description": "An RFC 9457 problem. `code` is stable; `detail` is a sentence for people.",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": { "type": "string", "examples": ["urn:holdpoint:problem:invalid_title"] },
            "title": { "type": "string", "description": "The status's reason phrase." },
            "status": { "type": "integer" },
            "detail": { "type": "string" },
            "code": { "type": "string" },
            "approval": {
                "$ref": "#/components/schemas/Approval",
                "description": "With `already_decided`: the approval as it is.",
            },
        },
    })
}

fn problem_response(status: u16, codes: &[&str]) -> Value {
    let listed: Vec<String> = codes.iter().map(|code| format!("`{code}`")).collect();
    let mut response = Map::new();
    response.insert("description".into(), json!(listed.join(", ")));
    response.insert(
        "content".into(),
        json!({
            "application/problem+json": {
                "schema": {
                    "allOf": [
                        { "$ref": "#/components/schemas/Problem" },
                        { "type": "object", "properties": {
                            "status": { "const": status },
                            "code": { "enum": codes },
                        } },
                    ]
                }
            }
        }),
    );
    if status == 401 {
        response.insert(
            "headers".into(),
            json!({ "WWW-Authenticate": { "schema": { "type": "string", "const": "Bearer" } } }),
        );
    } else if status == 429 {
        response.insert(
            "headers".into(),
            json!({ "Retry-After": { "description": "Seconds to wait.", "schema": { "type": "integer" } } }),
        );
    }
    Value::Object(response)
}

#[cfg(test)]
mod tests {
    use super::{document, PROBLEMS};
    use crate::server::rest::ROUTES;

    fn documented() -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        for (path, item) in document()["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                pairs.push((method.to_uppercase(), path.clone()));
            }
        }
        pairs.sort();
        pairs
    }

    #[test]
    fn documents_every_route_and_nothing_else() {
        let mut routed: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(method, path)| (method.to_string(), format!("/api/v1{path}")))
            .collect();
        routed.sort();
        assert_eq!(documented(), routed);
        assert_eq!(PROBLEMS.len(), ROUTES.len());
    }

    /// `data` is any JSON object: a schema that says only "object" reads to
    /// a code generator as an object with no properties (openapi-typescript
    /// makes it `Record<string, never>`, which no agent's data fits).
    #[test]
    fn data_is_a_free_form_object_everywhere() {
        let doc = document();
        for schema in ["CreateApprovalBody", "Approval", "DecisionLine"] {
            let data = &doc["components"]["schemas"][schema]["properties"]["data"];
            assert_eq!(data["additionalProperties"], true, "{schema}: {data}");
        }
    }

    /// Code generators name a client's methods after these: each must be
    /// there, unique, and a plain identifier.
    #[test]
    fn every_operation_has_its_own_operation_id() {
        let doc = document();
        let mut ids: Vec<String> = documented()
            .iter()
            .map(|(method, path)| {
                let id = doc["paths"][path][method.to_lowercase()]["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
                assert!(
                    id.chars().all(|c| c.is_ascii_alphanumeric()),
                    "{method} {path}: {id:?} is not an identifier"
                );
                id.to_owned()
            })
            .collect();
        let count = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), count, "operationIds repeat: {ids:?}");
    }

    #[test]
    fn every_operation_documents_its_problems_and_the_key() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        for (method, path, problems) in PROBLEMS {
            let responses = &doc["paths"][path][method]["responses"];
            assert!(responses["401"]["content"].is_object(), "{method} {path}");
            for (status, codes) in problems {
                let schema =
                    &responses[status.to_string()]["content"]["application/problem+json"]["schema"];
                assert_eq!(
                    schema["allOf"][1]["properties"]["code"]["enum"],
                    serde_json::json!(codes)
                );
            }
        }
        assert_eq!(
            doc["components"]["securitySchemes"]["api_key"]["scheme"],
            "bearer"
        );
    }
}
