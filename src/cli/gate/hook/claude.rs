//! Claude Code's PreToolUse hook (<https://code.claude.com/docs/en/hooks>).
//!
//! Input: `hook_event_name` `"PreToolUse"`, `tool_name`, `tool_input`, `cwd` (and session
//! fields we do not need). The workspace is `$CLAUDE_PROJECT_DIR`.
//! Output: nothing for no opinion; `hookSpecificOutput` with `permissionDecision` `deny` or
//! `ask` and `permissionDecisionReason`; a rewrite is `updatedInput` (the whole input, with
//! `command` replaced) with `ask` (or `allow` under `--trust-exec`), since Claude Code applies
//! `updatedInput` only together with a decision. Failures exit 2 with the reason on stderr.

use serde_json::Value;

use super::Reason;
use super::core::{Action, Answer, Call, Judge};
use super::{
    Adapter, Reply, call, opt_string, render_pre_tool_use, strict, string_field, tool_payload,
    write_to,
};

/// The Claude Code adapter.
pub struct Claude;

impl Adapter for Claude {
    fn project_env(&self) -> Option<&'static str> {
        Some("CLAUDE_PROJECT_DIR")
    }

    fn parse(&self, p: Value) -> Result<Call, Reason> {
        let (tool, input, cwd) = tool_payload(&p, "PreToolUse")?;
        strict::tool_name(
            &tool,
            &[
                "Bash",
                "Write",
                "Edit",
                "MultiEdit",
                "NotebookEdit",
                "Read",
                "Grep",
            ],
            Some("mcp__"),
        )?;
        let action = match tool.as_str() {
            "Bash" => Action::Shell {
                command: string_field(&input, "command", "tool_input")?,
            },
            "Write" | "Edit" | "MultiEdit" => write_to(&input, "file_path", "tool_input")?,
            "NotebookEdit" => write_to(&input, "notebook_path", "tool_input")?,
            "Read" => Action::Read {
                path: string_field(&input, "file_path", "tool_input")?.into(),
            },
            // Grep searches the cwd when it names no path.
            "Grep" => Action::Read {
                path: opt_string(&input, "path", "tool_input")?
                    .unwrap_or_else(|| ".".into())
                    .into(),
            },
            t if t.starts_with("mcp__") => Action::Mcp {
                name: t.to_owned(),
                input: input.clone(),
            },
            _ => Action::Other,
        };
        Ok(call(action, cwd, input))
    }

    fn render(&self, answer: &Answer, call: &Call, judge: &Judge) -> Reply {
        render_pre_tool_use(answer, call, judge, None)
    }
}
