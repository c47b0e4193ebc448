//! The `/api/docs` page's reading of the OpenAPI document: endpoints with
//! their parameters, bodies, answers and problem codes, and the objects
//! they use. Built from `openapi::document()`, so the page shows exactly
//! what `openapi.json` says.

use super::openapi;
use crate::model::{ApiReference, EndpointDoc, FieldDoc, ResponseDoc, SchemaDoc};
use serde_json::Value;
use std::sync::OnceLock;

/// The reference, built once.
pub fn reference() -> &'static ApiReference {
    static REFERENCE: OnceLock<ApiReference> = OnceLock::new();
    REFERENCE.get_or_init(|| read(openapi::document()))
}

/// Headers every answer carries: told once on the page, not per answer.
const EVERY_ANSWER: [&str; 1] = ["X-Request-Id"];

fn read(doc: &Value) -> ApiReference {
    let mut endpoints = Vec::new();
    for (path, item) in entries(&doc["paths"]) {
        for (method, operation) in entries(item) {
            endpoints.push(endpoint(path, method, operation));
        }
    }
    let schemas = entries(&doc["components"]["schemas"])
        .map(|(name, schema)| SchemaDoc {
            name: name.to_owned(),
            description: text(&schema["description"]),
            fields: fields(schema),
            values: strings(&schema["enum"]),
        })
        .collect();
    ApiReference {
        title: text(&doc["info"]["title"]),
        version: text(&doc["info"]["version"]),
        description: text(&doc["info"]["description"]),
        endpoints,
        schemas,
    }
}

fn endpoint(path: &str, method: &str, operation: &Value) -> EndpointDoc {
    let params = operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|param| FieldDoc {
            name: text(&param["name"]),
            location: text(&param["in"]),
            kind: kind(&param["schema"]),
            required: param["required"].as_bool().unwrap_or(false),
            description: text(&param["description"]),
        })
        .collect();
    let responses = entries(&operation["responses"])
        .map(|(status, response)| ResponseDoc {
            status: status.parse().unwrap_or(0),
            description: text(&response["description"]),
            body: body(&response["content"]),
            codes: entries(&response["content"])
                .flat_map(|(_, media)| {
                    strings(&media["schema"]["allOf"][1]["properties"]["code"]["enum"])
                })
                .collect(),
            headers: entries(&response["headers"])
                .filter(|(name, _)| !EVERY_ANSWER.contains(name))
                .map(|(name, header)| FieldDoc {
                    name: name.to_owned(),
                    location: "header".to_owned(),
                    kind: kind(&header["schema"]),
                    required: false,
                    description: text(&header["description"]),
                })
                .collect(),
        })
        .collect();
    EndpointDoc {
        method: method.to_ascii_uppercase(),
        path: path.to_owned(),
        summary: text(&operation["summary"]),
        description: text(&operation["description"]),
        params,
        body: body(&operation["requestBody"]["content"]),
        responses,
    }
}

/// The fields of an object schema, required ones first.
fn fields(schema: &Value) -> Vec<FieldDoc> {
    let required = strings(&schema["required"]);
    let mut fields: Vec<FieldDoc> = entries(&schema["properties"])
        .map(|(name, property)| FieldDoc {
            name: name.to_owned(),
            location: String::new(),
            kind: kind(property),
            required: required.iter().any(|r| r == name),
            description: description_of(property),
        })
        .collect();
    fields.sort_by_key(|field| !field.required);
    fields
}

/// The first content type of a body and its schema's name.
fn body(content: &Value) -> Option<(String, String)> {
    entries(content)
        .next()
        .map(|(media, value)| (kind(&value["schema"]), media.to_owned()))
}

/// A schema in a few words: `string`, `integer (1-100)`, `Approval or null`.
fn kind(schema: &Value) -> String {
    if let Some(reference) = schema["$ref"].as_str() {
        return reference.rsplit('/').next().unwrap_or(reference).to_owned();
    }
    if let Some(first) = schema["allOf"].as_array().and_then(|all| all.first()) {
        return kind(first);
    }
    if let Some(choices) = schema["oneOf"].as_array() {
        return choices.iter().map(kind).collect::<Vec<_>>().join(" or ");
    }
    let values = strings(&schema["enum"]);
    if !values.is_empty() {
        return values.join(" | ");
    }
    let types: Vec<String> = match &schema["type"] {
        Value::String(one) => vec![one.clone()],
        Value::Array(several) => several.iter().map(text).collect(),
        _ => Vec::new(),
    };
    let mut words = types
        .iter()
        .map(|t| match (t.as_str(), schema["format"].as_str()) {
            ("string", Some("date-time")) => "date-time".to_owned(),
            ("array", _) => format!("array of {}", kind(&schema["items"])),
            (other, _) => other.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" or ");
    if words.is_empty() {
        words = "any".to_owned();
    }
    let bounds = match (schema["minimum"].as_i64(), schema["maximum"].as_i64()) {
        (Some(min), Some(max)) => format!(" ({min}-{max})"),
        _ => match (schema["minLength"].as_u64(), schema["maxLength"].as_u64()) {
            (Some(min), Some(max)) => format!(" ({min}-{max} characters)"),
            (Some(min), None) => format!(
                " (at least {min} character{})",
                if min == 1 { "" } else { "s" }
            ),
            _ => String::new(),
        },
    };
    words + &bounds
}

fn entries(value: &Value) -> impl Iterator<Item = (&str, &Value)> {
    value
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, value)| (key.as_str(), value))
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// A property's description: its own, or, for a `$ref` (set beside its
/// description in a oneOf), its choice's.
fn description_of(property: &Value) -> String {
    std::iter::once(property)
        .chain(property["oneOf"].as_array().into_iter().flatten())
        .map(|schema| text(&schema["description"]))
        .find(|description| !description.is_empty())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::reference;
    use crate::server::rest::ROUTES;

    #[test]
    fn reads_every_endpoint_with_its_problem_codes() {
        let reference = reference();
        assert_eq!(reference.endpoints.len(), ROUTES.len());
        let create = reference
            .endpoints
            .iter()
            .find(|e| e.method == "POST" && e.path == "/api/v1/approvals")
            .unwrap();
        assert_eq!(create.summary, "Ask a person to approve an action.");
        assert_eq!(
            create.body,
            Some((
                "CreateApprovalBody".to_owned(),
                "application/json".to_owned()
            ))
        );
        let invalid = create.responses.iter().find(|r| r.status == 422).unwrap();
        assert!(invalid.codes.iter().any(|code| code == "invalid_title"));
        let created = create.responses.iter().find(|r| r.status == 201).unwrap();
        assert!(created.headers.iter().any(|h| h.name == "Location"));
        assert_eq!(create.anchor(), "post-api-v1-approvals");

        let body = reference
            .schemas
            .iter()
            .find(|s| s.name == "CreateApprovalBody")
            .unwrap();
        assert_eq!(body.fields[0].name, "title");
        assert!(body.fields[0].required);
        assert_eq!(body.fields[0].kind, "string (1-200 characters)");
        let status = reference
            .schemas
            .iter()
            .find(|s| s.name == "Status")
            .unwrap();
        assert_eq!(status.values.len(), 5);
    }
}
