//! Claude Code's PreToolUse hook (<https://code.claude.com/docs/en/hooks>).
//!
//! Input: `hook_event_name` `"PreToolUse"`, `tool_name`, `tool_input`, `cwd` (and session
//! fields we do not need). The workspace is `$CLAUDE_PROJECT_DIR`.
//! Output: nothing for no opinion; `hookSpecificOutput` with `permissionDecision` `deny` or
//! `ask` and `permissionDecisionReason`; a rewrite is `updatedInput` (the whole input, with
//! `command` replaced) with `ask` (or `allow` under `--trust-exec`), since Claude Code applies
//! `updatedInput` only together with a decision. Failures exit 2 with the reason on stderr.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::core::{Action, Answer, Call, Judge};
use super::{Adapter, Reply, object_field, opt_string, string_field, with_command};

/// The Claude Code adapter.
pub struct Claude;

impl Adapter for Claude {
    fn project_env(&self) -> Option<&'static str> {
        Some("CLAUDE_PROJECT_DIR")
    }

    fn parse(&self, p: Value) -> Result<Call, String> {
        let event = string_field(&p, "hook_event_name", "payload")?;
        if event != "PreToolUse" {
            return Err(format!(
                "unexpected hook event {event:?} (expected PreToolUse)"
            ));
        }
        let tool = string_field(&p, "tool_name", "payload")?;
        let input = object_field(&p, "tool_input", "payload")?.clone();
        let cwd = opt_string(&p, "cwd", "payload")?.map(PathBuf::from);
        let file = |key: &str| -> Result<Vec<PathBuf>, String> {
            Ok(vec![PathBuf::from(string_field(
                &input,
                key,
                "tool_input",
            )?)])
        };
        let action = match tool.as_str() {
            "Bash" => Action::Shell {
                command: string_field(&input, "command", "tool_input")?,
            },
            "Write" | "Edit" | "MultiEdit" => Action::Write {
                paths: file("file_path")?,
            },
            "NotebookEdit" => Action::Write {
                paths: file("notebook_path")?,
            },
            t if t.starts_with("mcp__") => Action::Mcp {
                name: t.to_owned(),
                input: input.clone(),
            },
            _ => Action::Other,
        };
        Ok(Call {
            action,
            cwd,
            workspace: None,
            tool_input: input,
        })
    }

    fn render(&self, answer: &Answer, call: &Call, judge: &Judge) -> Reply {
        let decide = |decision: &str, reason: &str, input: Option<Value>| {
            let mut out = json!({
                "hookEventName": "PreToolUse",
                "permissionDecision": decision,
                "permissionDecisionReason": reason,
            });
            if let Some(i) = input {
                out["updatedInput"] = i;
            }
            Reply::out(json!({ "hookSpecificOutput": out }).to_string())
        };
        match answer {
            Answer::Pass => Reply::silent(),
            Answer::Deny(r) => decide("deny", r, None),
            Answer::Ask(r) => decide("ask", r, None),
            Answer::Rewrite { command, reason } => decide(
                if judge.trust_exec() { "allow" } else { "ask" },
                reason,
                Some(with_command(&call.tool_input, command)),
            ),
        }
    }
}
