//! The MCP server: the same approvals as the REST API, as tools an agent's
//! model can call (`request_approval`, `wait_for_approval`, `get_approval`,
//! `cancel_approval`, and `permission_prompt` for Claude Code), over Streamable HTTP at `/mcp` (`http.rs`) and over
//! stdio (`holdpoint mcp`, `stdio.rs`, a client of the REST API).

pub mod gate;
pub mod http;
pub mod outcome;
pub mod permission;
pub mod rest_gate;
pub mod stdio;
pub mod tasks;
pub mod tools;
