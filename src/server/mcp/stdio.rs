//! `holdpoint mcp`: the MCP server on stdin and stdout, for a local agent's
//! config, acting on a Holdpoint server's REST API with one API key.

use super::rest_gate::RestGate;
use super::tools::{Gates, HoldpointMcp};
use anyhow::Context;
use rmcp::ServiceExt;
use std::sync::Arc;
use std::time::Duration;

pub async fn run(base_url: &str, api_key: &str, wait_bound: Duration) -> anyhow::Result<()> {
    let gate = RestGate::new(base_url, api_key).map_err(anyhow::Error::msg)?;
    let server = HoldpointMcp::new(Gates::Fixed(Arc::new(gate)), wait_bound)
        .serve(rmcp::transport::stdio())
        .await
        .context("starting the MCP session on stdio")?;
    server.waiting().await.context("serving MCP on stdio")?;
    Ok(())
}
