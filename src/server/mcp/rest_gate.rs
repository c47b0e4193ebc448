//! The approvals of one API key over Holdpoint's REST API: what
//! `holdpoint mcp` (stdio) uses, so a local agent config needs only a URL
//! and a key.

use super::gate::{ApprovalGate, GateError, GateResult, PENDING_PAGE};
use crate::model::{Approval, ApprovalPage};
use async_trait::async_trait;
use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::time::Duration;

pub struct RestGate {
    http: reqwest::Client,
    /// The server's base URL, without a trailing slash.
    base_url: String,
    api_key: String,
}

impl RestGate {
    pub fn new(base_url: &str, api_key: &str) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("holdpoint-mcp/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
        Ok(RestGate {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
        })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}/api/v1{path}", self.base_url))
            .bearer_auth(&self.api_key)
            // The longest answer is a wait of MAX_WAIT_SECS.
            .timeout(Duration::from_secs(90))
    }

    async fn send<T: DeserializeOwned>(&self, request: RequestBuilder) -> GateResult<T> {
        let response = request.send().await.map_err(|e| GateError {
            status: 503,
            code: "unreachable".to_owned(),
            detail: format!("Holdpoint at {} cannot be reached: {e}", self.base_url),
        })?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| GateError {
            status: status.as_u16(),
            code: "invalid_answer".to_owned(),
            detail: format!("Holdpoint answered {status} without JSON: {e}"),
        })?;
        if status.is_success() {
            return serde_json::from_value(body).map_err(|e| GateError {
                status: status.as_u16(),
                code: "invalid_answer".to_owned(),
                detail: format!("Holdpoint's answer is not what the API documents: {e}"),
            });
        }
        Err(GateError {
            status: status.as_u16(),
            code: body["code"].as_str().unwrap_or("error").to_owned(),
            detail: body["detail"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned()),
        })
    }
}

#[async_trait]
impl ApprovalGate for RestGate {
    async fn create(
        &self,
        body: Map<String, Value>,
        idempotency_key: Option<String>,
    ) -> GateResult<Approval> {
        let mut request = self.request(Method::POST, "/approvals").json(&body);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        self.send(request).await
    }

    async fn get(&self, id: &str) -> GateResult<Approval> {
        self.send(self.request(Method::GET, &format!("/approvals/{}", segment(id))))
            .await
    }

    async fn wait(&self, id: &str, timeout: Duration) -> GateResult<Approval> {
        let path = format!(
            "/approvals/{}/wait?timeout={}",
            segment(id),
            timeout.as_secs()
        );
        self.send(self.request(Method::GET, &path)).await
    }

    async fn cancel(&self, id: &str) -> GateResult<Approval> {
        let path = format!("/approvals/{}/cancel", segment(id));
        self.send(self.request(Method::POST, &path)).await
    }

    async fn pending(&self) -> GateResult<Vec<Approval>> {
        let path = format!("/approvals?status=pending&limit={PENDING_PAGE}");
        let page: ApprovalPage = self.send(self.request(Method::GET, &path)).await?;
        Ok(page.items)
    }
}

/// An id as one path segment: anything but letters, digits and `_` is
/// refused by the server anyway, so it is replaced rather than escaped.
fn segment(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::segment;

    #[test]
    fn an_id_cannot_leave_its_path_segment() {
        assert_eq!(segment("apr_01ABC"), "apr_01ABC");
        assert_eq!(segment("../keys?x=1"), "---keys-x-1");
    }
}
