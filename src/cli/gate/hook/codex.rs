//! Codex CLI's PreToolUse hook (<https://developers.openai.com/codex/hooks>; the wire schema is
//! `codex-rs/hooks/schema/generated/pre-tool-use.command.{input,output}.schema.json`).
//!
//! Input: `hook_event_name` `"PreToolUse"`, `tool_name` (`Bash`, `apply_patch`, `mcp__*`),
//! `tool_input` (`command`: the shell line, or the patch for `apply_patch`), `cwd`.
//! A shell command holding an apply_patch envelope blocks: Codex would apply the patch
//! itself, in a directory the payload does not name.
//! Output: nothing for no opinion; `permissionDecision` `deny` with a non-empty reason to
//! block. Codex treats `ask`, and `allow` without `updatedInput`, as a failed hook and runs
//! the tool: so an ask blocks (naming the human step), and a rewrite is only sent as
//! `allow` + `updatedInput` under `--trust-exec`. Failures exit 2 with the reason on stderr.

use std::path::PathBuf;

use serde_json::Value;

use super::Reason;
use super::core::{Action, Answer, Call, Judge};
use super::{Adapter, Reply, call, render_pre_tool_use, strict, string_field, tool_payload};

/// The Codex CLI adapter.
pub struct Codex;

impl Adapter for Codex {
    fn project_env(&self) -> Option<&'static str> {
        None
    }

    fn parse(&self, p: Value) -> Result<Call, Reason> {
        let (tool, input, cwd) = tool_payload(&p, "PreToolUse")?;
        strict::tool_name(&tool, &["Bash", "apply_patch"], Some("mcp__"))?;
        let action = match tool.as_str() {
            "Bash" => {
                let command = string_field(&input, "command", "tool_input")?;
                // Codex takes `apply_patch <<'EOF' ...` (after a `cd`, too) out of a shell
                // command and applies the patch itself: the gate would judge a heredoc, not
                // the files, and the hook cannot see the directory it applies it in.
                if command.lines().any(|l| l.trim() == "*** Begin Patch") {
                    return Err("a shell command holding an apply_patch envelope is applied by Codex itself, unjudged: use the apply_patch tool".into());
                }
                Action::Shell { command }
            }
            "apply_patch" => Action::Write {
                paths: patch_paths(&string_field(&input, "command", "tool_input")?)?,
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
        render_pre_tool_use(answer, call, judge, Some("Codex"))
    }
}

/// The files an `apply_patch` envelope adds, updates, deletes or moves to.
fn patch_paths(patch: &str) -> Result<Vec<PathBuf>, Reason> {
    const HEADS: [&str; 4] = [
        "*** Add File: ",
        "*** Update File: ",
        "*** Delete File: ",
        "*** Move to: ",
    ];
    // Codex trims the spaces around a hunk's header (`parse_one_hunk`): so does this.
    let paths: Vec<PathBuf> = patch
        .lines()
        .filter_map(|l| HEADS.iter().find_map(|h| l.trim_start().strip_prefix(h)))
        .map(|p| PathBuf::from(p.trim()))
        .collect();
    if paths.is_empty() && !patch.trim().is_empty() {
        return Err(
            "apply_patch input names no file (no \"*** Add/Update/Delete File:\" line)".into(),
        );
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_paths_finds_every_file() {
        let p = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** Update File: src/b.rs\n*** Move to: src/c.rs\n@@\n-x\n+y\n*** Delete File: /home/u/.bashrc\n  *** Add File: /home/u/.profile \n+x\n*** End Patch\n";
        assert_eq!(
            patch_paths(p).expect("paths"),
            [
                "a.txt",
                "src/b.rs",
                "src/c.rs",
                "/home/u/.bashrc",
                "/home/u/.profile"
            ]
            .map(PathBuf::from)
        );
        assert!(patch_paths("garbage").is_err());
    }
}
