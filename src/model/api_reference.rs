//! The agent API's reference as the `/api/docs` page shows it: a reading
//! of the OpenAPI document (the server builds it from that document, so
//! the page and `openapi.json` always agree).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiReference {
    pub title: String,
    pub version: String,
    pub description: String,
    pub endpoints: Vec<EndpointDoc>,
    /// The objects the endpoints take and answer, by name.
    pub schemas: Vec<SchemaDoc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointDoc {
    /// `GET`, `POST`.
    pub method: String,
    pub path: String,
    /// The first line of the handler's documentation.
    pub summary: String,
    pub description: String,
    pub params: Vec<FieldDoc>,
    /// The request body's schema name and content type.
    pub body: Option<(String, String)>,
    pub responses: Vec<ResponseDoc>,
}

impl EndpointDoc {
    /// The page's anchor for this endpoint: `get-api-v1-approvals-id-wait`.
    pub fn anchor(&self) -> String {
        let mut anchor = self.method.to_ascii_lowercase();
        for c in self.path.chars() {
            if c.is_ascii_alphanumeric() {
                anchor.push(c);
            } else if !anchor.ends_with('-') {
                anchor.push('-');
            }
        }
        anchor.trim_end_matches('-').to_owned()
    }
}

/// A parameter (`in` is path, query or header) or an object's field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDoc {
    pub name: String,
    /// Where a parameter goes (`path`, `query`, `header`); empty for a field.
    pub location: String,
    /// `string`, `integer (1-100)`, `Approval`, `string or null`.
    pub kind: String,
    pub required: bool,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseDoc {
    pub status: u16,
    pub description: String,
    /// The body's schema name (`Approval`, `Problem`) and content type.
    pub body: Option<(String, String)>,
    /// For a problem: every `code` it may carry.
    pub codes: Vec<String>,
    /// Headers worth knowing (`Location`, `Retry-After`), not those every
    /// answer carries.
    pub headers: Vec<FieldDoc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaDoc {
    pub name: String,
    pub description: String,
    pub fields: Vec<FieldDoc>,
    /// For a string enumeration (`Status`): its values.
    pub values: Vec<String>,
}
