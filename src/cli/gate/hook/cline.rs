//! Cline's PreToolUse hook (<https://docs.cline.bot/features/hooks/hook-reference>).
//!
//! Input: `hookName` `"PreToolUse"`, `workspaceRoots`, and `preToolUse` with `toolName` and
//! `parameters`. Tools judged: `execute_command` (`command`), `attempt_completion` (its
//! optional `command`, which Cline runs to show the result), `write_to_file` and
//! `replace_in_file` (`path`, relative to the workspace), `use_mcp_tool` (`arguments`).
//! Output: `{"cancel": false}` for no opinion, `{"cancel": true, "errorMessage": ...}` to
//! block. Cline hooks have no "ask" and cannot rewrite: an ask blocks. A failure also answers
//! `cancel` (and exits 2), so it blocks whichever of the two Cline reads.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::Reason;
use super::core::{Action, Answer, Call, Judge};
use super::{Adapter, Reply, cannot_ask, object_field, opt_string, strict, string_field};

/// The Cline adapter.
pub struct Cline;

fn cancel(reason: &str) -> String {
    json!({ "cancel": true, "errorMessage": reason }).to_string()
}

impl Adapter for Cline {
    fn project_env(&self) -> Option<&'static str> {
        None
    }

    fn parse(&self, p: Value) -> Result<Call, Reason> {
        let event = string_field(&p, "hookName", "payload")?;
        if event != "PreToolUse" {
            return Err(format!("unexpected hook {event:?} (expected PreToolUse)"));
        }
        let workspace = match p.get("workspaceRoots") {
            Some(Value::Array(r)) => r.first().and_then(Value::as_str).map(PathBuf::from),
            None | Some(Value::Null) => None,
            Some(_) => return Err("payload.workspaceRoots is not an array".into()),
        };
        let pre = object_field(&p, "preToolUse", "payload")?;
        let tool = string_field(pre, "toolName", "preToolUse")?;
        let params = object_field(pre, "parameters", "preToolUse")?.clone();
        strict::tool_name(
            &tool,
            &[
                "execute_command",
                "write_to_file",
                "replace_in_file",
                "use_mcp_tool",
                "attempt_completion",
                "read_file",
                "search_files",
            ],
            None,
        )?;
        let action = match tool.as_str() {
            "execute_command" => Action::Shell {
                command: string_field(&params, "command", "parameters")?,
            },
            // Its optional `command` is run to show the user the result.
            "attempt_completion" => match opt_string(&params, "command", "parameters")? {
                Some(command) => Action::Shell { command },
                None => Action::Other,
            },
            "read_file" | "search_files" => Action::Read {
                path: string_field(&params, "path", "parameters")?.into(),
            },
            "write_to_file" | "replace_in_file" => Action::Write {
                paths: vec![PathBuf::from(string_field(&params, "path", "parameters")?)],
            },
            "use_mcp_tool" => Action::Mcp {
                name: format!(
                    "{}/{}",
                    opt_string(&params, "server_name", "parameters")?.unwrap_or_default(),
                    opt_string(&params, "tool_name", "parameters")?.unwrap_or_default()
                ),
                input: params.get("arguments").cloned().unwrap_or(Value::Null),
            },
            _ => Action::Other,
        };
        Ok(Call {
            action,
            // Cline resolves relative paths and runs commands in the workspace root.
            cwd: workspace.clone(),
            workspace,
            tool_input: params,
        })
    }

    fn render(&self, answer: &Answer, _call: &Call, _judge: &Judge) -> Reply {
        match answer {
            Answer::Pass | Answer::Rewrite { .. } => {
                Reply::out(json!({ "cancel": false }).to_string())
            }
            Answer::Deny(r) => Reply::out(cancel(r)),
            Answer::Ask(r) => Reply::out(cancel(&cannot_ask(r, "Cline"))),
        }
    }

    fn fail(&self, reason: &str) -> Reply {
        Reply {
            stdout: cancel(reason),
            stderr: format!("{reason}\n"),
            code: 2,
        }
    }
}
