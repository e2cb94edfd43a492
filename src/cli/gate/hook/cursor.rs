//! Cursor's agent hooks (<https://cursor.com/docs/agent/hooks>).
//!
//! Input: `hook_event_name` one of `beforeShellExecution` (`command`, `cwd`),
//! `beforeMCPExecution` (`tool_name`, `tool_input` as an object or a JSON string) or
//! `beforeReadFile` (`file_path`), with `workspace_roots`.
//! Output: nothing for no opinion; `{"permission": "deny"|"ask", "user_message",
//! "agent_message"}`, a deny also exiting 2 (and an ask about a file read, which
//! `beforeReadFile` can only allow or deny, is a deny). These events cannot rewrite a command, so
//! commands are not routed through `exec` (run the agent under `ftsb-fs run` for that).
//! Failures exit 2 with the reason on stderr.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::Reason;
use super::core::{Action, Answer, Call, Judge};
use super::{Adapter, Reply, cannot_ask, opt_string, strict, string_field};

/// The Cursor adapter.
pub struct Cursor;

impl Adapter for Cursor {
    fn project_env(&self) -> Option<&'static str> {
        None
    }

    fn parse(&self, p: Value) -> Result<Call, Reason> {
        let event = string_field(&p, "hook_event_name", "payload")?;
        let workspace = match p.get("workspace_roots") {
            None | Some(Value::Null) => None,
            Some(Value::Array(roots)) => match roots.first() {
                None => None,
                Some(Value::String(s)) => Some(PathBuf::from(s)),
                Some(_) => return Err("payload.workspace_roots holds a non-string".into()),
            },
            Some(_) => return Err("payload.workspace_roots is not an array".into()),
        };
        let cwd = opt_string(&p, "cwd", "payload")?.map(PathBuf::from);
        let (action, tool_input) = match event.as_str() {
            "beforeShellExecution" => {
                let command = string_field(&p, "command", "payload")?;
                (
                    Action::Shell {
                        command: command.clone(),
                    },
                    json!({ "command": command }),
                )
            }
            "beforeMCPExecution" => {
                let name = string_field(&p, "tool_name", "payload")?;
                let input = match p.get("tool_input") {
                    Some(Value::String(s)) => strict::parse(s.as_bytes())
                        .map_err(|e| format!("payload.tool_input is not JSON ({e})"))?,
                    Some(v @ Value::Object(_)) => v.clone(),
                    None | Some(Value::Null) => Value::Null,
                    Some(_) => {
                        return Err(
                            "payload.tool_input is neither an object nor a JSON string".into()
                        );
                    }
                };
                (
                    Action::Mcp {
                        name,
                        input: input.clone(),
                    },
                    input,
                )
            }
            "beforeReadFile" => (
                Action::Read {
                    path: PathBuf::from(string_field(&p, "file_path", "payload")?),
                },
                Value::Null,
            ),
            other => {
                return Err(format!(
                    "unexpected hook event {other:?} (expected beforeShellExecution, beforeMCPExecution or beforeReadFile)"
                ));
            }
        };
        Ok(Call {
            action,
            cwd,
            workspace,
            tool_input,
        })
    }

    fn render(&self, answer: &Answer, call: &Call, _judge: &Judge) -> Reply {
        let say = |permission: &str, reason: &str| {
            json!({
                "permission": permission,
                "user_message": reason,
                "agent_message": reason,
            })
            .to_string()
        };
        let deny = |reason: &str| Reply {
            stdout: say("deny", reason),
            stderr: format!("{reason}\n"),
            code: 2,
        };
        match answer {
            Answer::Pass | Answer::Rewrite { .. } => Reply::silent(),
            // `beforeReadFile` answers only allow or deny.
            Answer::Ask(r) if matches!(call.action, Action::Read { .. }) => {
                deny(&cannot_ask(r, "Cursor's file-read"))
            }
            Answer::Ask(r) => Reply::out(say("ask", r)),
            Answer::Deny(r) => deny(r),
        }
    }
}
