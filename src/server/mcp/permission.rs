//! `permission_prompt`: Claude Code's tool permissions through the inbox
//! (`claude -p --permission-prompt-tool mcp__holdpoint__permission_prompt`).
//! Claude Code sends the tool it wants to use and its input; the answer is
//! the JSON it expects as text: `{"behavior": "allow", "updatedInput": …}`
//! or `{"behavior": "deny", "message": …}`.
//!
//! A request still pending when the wait's bound passes is denied for now
//! with a message saying so, and stays in the inbox: asking again with the
//! same tool and input waits on that same request instead of adding
//! another (a decided one is never reused: each use is decided afresh).

use crate::model::{reveal_hidden, ActionKind, Approval, Status, Title};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PermissionArgs {
    /// The tool the agent wants to use (`Bash`, `Edit`, `mcp__github__merge`).
    pub tool_name: String,
    /// The input it would be called with.
    #[serde(default)]
    pub input: Map<String, Value>,
    /// Claude Code's id of this tool use.
    #[serde(default)]
    pub tool_use_id: Option<String>,
}

impl PermissionArgs {
    /// The fields of the approval this permission asks for.
    pub fn request(&self) -> Map<String, Value> {
        let mut request = Map::new();
        request.insert("title".into(), Value::String(self.title()));
        request.insert("body".into(), Value::String(self.preview()));
        request.insert("data".into(), Value::Object(self.input.clone()));
        if let Some(action) = self.action() {
            request.insert("action".into(), Value::String(action));
        }
        request
    }

    /// "Claude Code wants to use Bash: rm -rf build": the tool and the most
    /// telling field of its input, on one line of at most 200 characters.
    fn title(&self) -> String {
        let what = ["command", "file_path", "path", "url", "pattern"]
            .iter()
            .find_map(|field| self.input.get(*field).and_then(Value::as_str))
            .map(|detail| format!(": {detail}"))
            .unwrap_or_default();
        let line: String = format!("Claude Code wants to use {}{what}", self.tool_name)
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        // A bidirectional control or zero-width character in a command is
        // shown as its escape: the approver reads the command as it runs.
        let line = reveal_hidden(&line).into_owned();
        let title = if line.chars().count() > 200 {
            line.chars().take(199).collect::<String>() + "…"
        } else {
            line
        };
        // Text that would display differently from what it says is left out.
        match Title::parse(&title) {
            Ok(_) => title,
            Err(_) => format!(
                "Claude Code wants to use a tool ({} characters of input)",
                title.len()
            ),
        }
    }

    fn preview(&self) -> String {
        let input = serde_json::to_string_pretty(&self.input).unwrap_or_default();
        format!(
            "<p>Claude Code asks to use <strong>{}</strong> with this input:</p><pre>{}</pre>",
            escape(&self.tool_name),
            escape(&input)
        )
    }

    /// `claude_code.bash`, `claude_code.mcp__github__merge`.
    fn action(&self) -> Option<String> {
        let name: String = self
            .tool_name
            .to_ascii_lowercase()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let action = format!("claude_code.{name}");
        ActionKind::parse(&action).ok().map(|_| action)
    }
}

/// Whether `approval` is `request` (a `PermissionArgs::request`) asked
/// before, and still pending.
pub fn asks_again(request: &Map<String, Value>, approval: &Approval) -> bool {
    approval.status == Status::Pending
        && request.get("title").and_then(Value::as_str) == Some(approval.title.as_str())
        && request.get("action").and_then(Value::as_str) == approval.action.as_deref()
        && request.get("data") == Some(&approval.data)
}

/// What Claude Code is told about `approval`.
pub fn answer(approval: &Approval) -> Value {
    let who = approval.decided_by.as_deref().unwrap_or("a person");
    match approval.status {
        Status::Approved => json!({"behavior": "allow", "updatedInput": approval.data}),
        Status::Denied => json!({"behavior": "deny", "message": format!(
            "Denied in Holdpoint by {who}: {}",
            approval.reason.as_deref().unwrap_or("no reason given")
        )}),
        Status::Expired => json!({"behavior": "deny", "message":
            "Nobody approved this in Holdpoint before it expired."}),
        Status::Cancelled => json!({"behavior": "deny", "message":
            "The request for this permission was withdrawn."}),
        Status::Pending => json!({"behavior": "deny", "message": format!(
            "A person has not decided yet: it waits in Holdpoint ({}). Not allowed for now; \
             ask for the same action again to keep waiting for their decision.",
            approval.url
        )}),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::PermissionArgs;
    use crate::model::Title;
    use serde_json::{json, Map, Value};

    fn args(tool: &str, input: Value) -> PermissionArgs {
        let Value::Object(input) = input else {
            panic!()
        };
        PermissionArgs {
            tool_name: tool.to_owned(),
            input,
            tool_use_id: None,
        }
    }

    #[test]
    fn a_permission_reads_as_a_precise_request() {
        let bash = args(
            "Bash",
            json!({"command": "rm -rf build\necho done", "description": "clean"}),
        );
        let request = bash.request();
        assert_eq!(
            request["title"],
            "Claude Code wants to use Bash: rm -rf build echo done"
        );
        assert_eq!(request["action"], "claude_code.bash");
        assert!(request["body"].as_str().unwrap().contains("rm -rf build"));
        let long = args("Write", json!({"file_path": "x".repeat(300)}));
        assert_eq!(
            long.request()["title"].as_str().unwrap().chars().count(),
            200
        );
        let markup = args("mcp__x__<b>", Map::new().into());
        assert!(markup.request()["body"]
            .as_str()
            .unwrap()
            .contains("mcp__x__&lt;b&gt;"));
        assert_eq!(markup.request()["action"], "claude_code.mcp__x___b_");
        // A command that would display otherwise than it runs is shown as
        // it runs (the preview is revealed by the sanitizer at create).
        let hidden = args(
            "Bash",
            json!({"command": "ls #\u{202E} ;hs.tpircs/pmt/ hsab"}),
        );
        let title = hidden.request()["title"].as_str().unwrap().to_owned();
        assert!(Title::parse(&title).is_ok(), "{title}");
        assert!(title.contains("ls #\\u{202E} ;hs"), "{title}");
    }
}
