//! Gemini CLI's BeforeTool hook (<https://geminicli.com/docs/hooks/reference>).
//!
//! Input: `hook_event_name` `"BeforeTool"`, `tool_name`, `tool_input`, `cwd`; the project is
//! `$GEMINI_PROJECT_DIR`. Tools judged: `run_shell_command` (`command`, optional `dir_path`,
//! or `directory` in older releases, relative to the workspace root),
//! `write_file` and `replace` (`file_path`), `read_file` (`file_path`, older `absolute_path`),
//! MCP tools (`mcp__server__tool`, older `mcp_server_tool`).
//! Output: `{}` for no opinion; `{"decision":"deny","reason":...}` to block (the reason goes
//! to the agent); a rewrite is `hookSpecificOutput.tool_input`, which Gemini CLI merges over
//! the model's arguments without any decision. Gemini CLI's hooks have no "ask": an ask
//! blocks, naming the human step. Failures exit 2 with the reason on stderr.

use serde_json::{Value, json};

use super::Reason;
use super::core::{Action, Answer, Call, Judge};
use super::{
    Adapter, Reply, call, cannot_ask, opt_string, strict, string_field, tool_payload, write_to,
};

/// The Gemini CLI adapter.
pub struct Gemini;

impl Adapter for Gemini {
    fn project_env(&self) -> Option<&'static str> {
        Some("GEMINI_PROJECT_DIR")
    }

    fn parse(&self, p: Value) -> Result<Call, Reason> {
        let (tool, input, mut cwd) = tool_payload(&p, "BeforeTool")?;
        strict::tool_name(
            &tool,
            &["run_shell_command", "write_file", "replace", "read_file"],
            Some("mcp_"),
        )?;
        let action = match tool.as_str() {
            "run_shell_command" => {
                // Relative to the workspace root (`directory` in older releases): the judge
                // resolves a relative cwd against the workspace.
                let dir = opt_string(&input, "dir_path", "tool_input")?;
                let old = opt_string(&input, "directory", "tool_input")?;
                if dir.is_some() && old.is_some() {
                    return Err("tool_input has both dir_path and directory".into());
                }
                if let Some(d) = dir.or(old) {
                    cwd = Some(d.into());
                }
                Action::Shell {
                    command: string_field(&input, "command", "tool_input")?,
                }
            }
            "write_file" | "replace" => write_to(&input, "file_path", "tool_input")?,
            // `absolute_path` in older releases.
            "read_file" => Action::Read {
                path: match opt_string(&input, "file_path", "tool_input")? {
                    Some(p) => p,
                    None => string_field(&input, "absolute_path", "tool_input")?,
                }
                .into(),
            },
            t if t.starts_with("mcp_") => Action::Mcp {
                name: t.to_owned(),
                input: input.clone(),
            },
            _ => Action::Other,
        };
        Ok(call(action, cwd, input))
    }

    fn render(&self, answer: &Answer, _call: &Call, _judge: &Judge) -> Reply {
        let block =
            |reason: &str| Reply::out(json!({ "decision": "deny", "reason": reason }).to_string());
        match answer {
            Answer::Pass => Reply::out("{}".into()),
            Answer::Deny(r) => block(r),
            Answer::Ask(r) => block(&cannot_ask(r, "Gemini CLI")),
            // No systemMessage: it would print a line for every command.
            Answer::Rewrite { command, .. } => Reply::out(
                json!({
                    "hookSpecificOutput": {
                        "hookEventName": "BeforeTool",
                        "tool_input": { "command": command },
                    },
                })
                .to_string(),
            ),
        }
    }
}
