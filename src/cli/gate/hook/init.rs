//! `ftsb-fs init HARNESS`: writes (or prints) the hook settings that make an agent harness ask
//! the gate before each tool call, merged into the harness's existing settings file.
//!
//! Invariant: a user's settings lose nothing. Every other key, event and hook is kept; our
//! entry is added once (running `init` again adds nothing); a file that does not parse, or
//! whose `hooks` has an unexpected shape, is refused with an error and left untouched; the
//! new file replaces the old one atomically (write beside it, fsync, rename).
//! Key order is not kept: the file is rewritten with sorted keys.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

use crate::cli::print_json;
use ftsb_gate::quote_argv;

/// A harness `init` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Harness {
    /// Claude Code: `.claude/settings.json`, PreToolUse.
    Claude,
    /// Codex CLI: `.codex/hooks.json`, PreToolUse.
    Codex,
    /// Gemini CLI: `.gemini/settings.json`, BeforeTool.
    Gemini,
    /// Cursor: `.cursor/hooks.json`, beforeShellExecution, beforeMCPExecution and
    /// beforeReadFile.
    Cursor,
    /// Cline: an executable `.clinerules/hooks/PreToolUse`.
    Cline,
}

impl Harness {
    fn name(self) -> &'static str {
        match self {
            Harness::Claude => "claude",
            Harness::Codex => "codex",
            Harness::Gemini => "gemini",
            Harness::Cursor => "cursor",
            Harness::Cline => "cline",
        }
    }

    /// The project settings file, relative to the project directory.
    fn default_settings(self) -> &'static str {
        match self {
            Harness::Claude => ".claude/settings.json",
            Harness::Codex => ".codex/hooks.json",
            Harness::Gemini => ".gemini/settings.json",
            Harness::Cursor => ".cursor/hooks.json",
            Harness::Cline => ".clinerules/hooks/PreToolUse",
        }
    }
}

/// `ftsb-fs init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The harness.
    #[arg(value_enum)]
    pub harness: Harness,
    /// Print the settings instead of writing them.
    #[arg(long)]
    pub print: bool,
    /// The settings file to merge into (default: the harness's project settings file in the
    /// current directory).
    #[arg(long)]
    pub settings: Option<PathBuf>,
    /// A policy file the hook hands to the gate.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Let the hook approve the commands it routes through `ftsb-fs exec` (Claude Code,
    /// Codex CLI; see `gate hook --trust-exec`).
    #[arg(long)]
    pub trust_exec: bool,
}

pub fn init(a: InitArgs, json: bool) -> anyhow::Result<i32> {
    let exe = std::env::current_exe().context("finding the ftsb-fs binary")?;
    // The harness runs the hook by this path: a binary the agent can rebuild or overwrite
    // (a build of ftsb-fs inside the project) would let it answer for itself.
    let project = std::env::current_dir().context("current directory")?;
    if exe.starts_with(std::fs::canonicalize(&project).unwrap_or(project.clone())) {
        let why = format!(
            "{} is inside {}, where the agent can replace the hook with a program of its own; run init with an ftsb-fs installed outside the project",
            exe.display(),
            project.display()
        );
        if !a.print {
            bail!(why);
        }
        eprintln!("ftsb-fs: warning: {why}");
    }
    let mut words = vec![
        exe.to_string_lossy().into_owned(),
        "gate".into(),
        "hook".into(),
        a.harness.name().into(),
    ];
    if let Some(p) = &a.policy {
        let p = crate::cli::absolute(p)?;
        words.push("--policy".into());
        words.push(p.to_string_lossy().into_owned());
    }
    if a.trust_exec {
        if !matches!(a.harness, Harness::Claude | Harness::Codex) {
            bail!(
                "--trust-exec is for claude and codex, whose hooks rewrite only with an approval"
            );
        }
        words.push("--trust-exec".into());
    }
    let command = quote_argv(&words);
    let file = a
        .settings
        .unwrap_or_else(|| PathBuf::from(a.harness.default_settings()));
    // A settings file that is a symlink (dotfile managers) is updated where it points.
    let file = std::fs::canonicalize(&file).unwrap_or(file);

    if a.harness == Harness::Cline {
        let script = format!("#!/bin/sh\nexec {command}\n");
        if a.print {
            print!("{script}");
            return Ok(0);
        }
        let changed = write_script(&file, &script)?;
        report(&file, changed, json);
        return Ok(0);
    }

    if a.print {
        let snippet = merge(a.harness, Value::Object(Map::new()), &command)?;
        println!("{}", serde_json::to_string_pretty(&snippet)?);
        return Ok(0);
    }
    let old = match std::fs::read_to_string(&file) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    let current = match old.as_deref().map(str::trim) {
        None | Some("") => Value::Object(Map::new()),
        Some(t) => serde_json::from_str(t).with_context(|| {
            format!(
                "{} is not valid JSON; fix it or pass --settings",
                file.display()
            )
        })?,
    };
    let merged = merge(a.harness, current.clone(), &command)
        .with_context(|| format!("{} left untouched", file.display()))?;
    let changed = merged != current || old.is_none();
    if changed {
        let text = format!("{}\n", serde_json::to_string_pretty(&merged)?);
        replace_file(&file, text.as_bytes(), None)?;
    }
    report(&file, changed, json);
    Ok(0)
}

fn report(file: &Path, changed: bool, json: bool) {
    if json {
        // A JSON value always serializes; a failed write fails the command at its end.
        let _ = print_json(&json!({ "settings": file, "changed": changed }));
    } else if changed {
        eprintln!("ftsb-fs: hook added to {}", file.display());
    } else {
        eprintln!(
            "ftsb-fs: {} already runs the hook; nothing changed",
            file.display()
        );
    }
}

/// `settings` with our hook added where the harness looks for it, unless it is there.
pub fn merge(h: Harness, mut settings: Value, command: &str) -> anyhow::Result<Value> {
    let root = settings
        .as_object_mut()
        .context("the settings are not a JSON object")?;
    let marker = format!("gate hook {}", h.name());
    if h == Harness::Gemini {
        // Gemini CLI runs hooks only while its hooks system is enabled.
        let tools = root
            .entry("tools")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .context("\"tools\" is not an object")?;
        tools.insert("enableHooks".into(), Value::Bool(true));
    }
    if h == Harness::Cursor {
        root.entry("version").or_insert(json!(1));
    }
    let hooks = root
        .entry("hooks")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .context("\"hooks\" is not an object")?;
    let (events, entry): (&[&str], Value) = match h {
        Harness::Claude => (
            &["PreToolUse"],
            json!({
                "matcher": "Bash|Write|Edit|MultiEdit|NotebookEdit|Read|Grep|mcp__.*",
                "hooks": [{ "type": "command", "command": command, "timeout": 30 }],
            }),
        ),
        Harness::Codex => (
            &["PreToolUse"],
            json!({
                "matcher": "Bash|apply_patch|mcp__.*",
                "hooks": [{ "type": "command", "command": command, "timeout": 30 }],
            }),
        ),
        Harness::Gemini => (
            &["BeforeTool"],
            json!({
                "matcher": "run_shell_command|write_file|replace|read_file|mcp_.*",
                "hooks": [{
                    "name": "ftsb-fs-gate",
                    "type": "command",
                    "command": command,
                    "description": "ftsb-fs gate: judge commands and file writes",
                    "timeout": 30000,
                }],
            }),
        ),
        Harness::Cursor => (
            &[
                "beforeShellExecution",
                "beforeMCPExecution",
                "beforeReadFile",
            ],
            json!({ "command": command, "failClosed": true }),
        ),
        Harness::Cline => bail!("cline hooks are scripts, not settings"),
    };
    for event in events {
        let list = hooks
            .entry(*event)
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
            .with_context(|| format!("\"hooks.{event}\" is not an array"))?;
        if !list.iter().any(|e| runs(e, &marker)) {
            list.push(entry.clone());
        }
    }
    Ok(settings)
}

/// Whether a hook entry (or a matcher group of entries) runs a command containing `marker`.
fn runs(entry: &Value, marker: &str) -> bool {
    let direct = entry
        .get("command")
        .and_then(Value::as_str)
        .is_some_and(|c| c.contains(marker));
    let nested = entry
        .get("hooks")
        .and_then(Value::as_array)
        .is_some_and(|hs| hs.iter().any(|e| runs(e, marker)));
    direct || nested
}

/// Writes the Cline hook script; an existing script of the user's is refused, not replaced.
fn write_script(file: &Path, script: &str) -> anyhow::Result<bool> {
    match std::fs::read_to_string(file) {
        Ok(old) if old.contains("gate hook cline") => return Ok(false),
        Ok(_) => bail!(
            "{} already holds another hook; add this line to it instead: {}",
            file.display(),
            script.lines().last().unwrap_or_default()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    }
    replace_file(file, script.as_bytes(), Some(0o755))?;
    Ok(true)
}

/// Replaces `file` with `bytes` atomically: a temp file beside it, fsync, rename.
fn replace_file(file: &Path, bytes: &[u8], mode: Option<u32>) -> anyhow::Result<()> {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".ftsb-fs-init-")
        .tempfile_in(&dir)
        .with_context(|| format!("writing in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    let perms = match (mode, std::fs::metadata(file)) {
        (Some(m), _) => Some(m),
        (None, Ok(meta)) => Some(std::os::unix::fs::PermissionsExt::mode(&meta.permissions())),
        (None, Err(_)) => Some(0o644),
    };
    if let Some(m) = perms {
        std::fs::set_permissions(
            tmp.path(),
            std::os::unix::fs::PermissionsExt::from_mode(m & 0o7777),
        )?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(file)
        .with_context(|| format!("replacing {}", file.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_other_hooks_and_is_idempotent() {
        let user = json!({
            "model": "x",
            "hooks": {
                "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "mine"}]}],
                "Stop": [{"hooks": [{"type": "command", "command": "bye"}]}],
            }
        });
        let once = merge(
            Harness::Claude,
            user.clone(),
            "/bin/ftsb-fs gate hook claude",
        )
        .expect("merge");
        assert_eq!(once["model"], "x");
        assert_eq!(once["hooks"]["Stop"], user["hooks"]["Stop"]);
        let pre = once["hooks"]["PreToolUse"].as_array().expect("array");
        assert_eq!(pre.len(), 2);
        assert_eq!(pre[0], user["hooks"]["PreToolUse"][0]);
        let twice = merge(
            Harness::Claude,
            once.clone(),
            "/bin/ftsb-fs gate hook claude",
        )
        .expect("merge");
        assert_eq!(twice, once);
    }

    #[test]
    fn merge_refuses_unexpected_shapes() {
        assert!(merge(Harness::Claude, json!([]), "c").is_err());
        assert!(merge(Harness::Claude, json!({"hooks": []}), "c").is_err());
        assert!(merge(Harness::Claude, json!({"hooks": {"PreToolUse": {}}}), "c").is_err());
        assert!(merge(Harness::Gemini, json!({"tools": 1}), "c").is_err());
    }
}
