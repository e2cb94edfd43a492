//! `status`, `diff`, `commit`, `abort`, `checkpoint`, `log`, `rollback`: talking to the daemon.

use std::path::PathBuf;

use serde_json::Value;

use super::output::{self, count, outln, paint, style};
use super::{WsArg, call, print_json, resolve_workspace};
use crate::control::Request;

/// `ftsb-fs diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    pub workspace: Option<PathBuf>,
    /// One line per changed path with counts, instead of the full diff.
    #[arg(long)]
    pub stat: bool,
    /// Compare from this checkpoint (0: no changes) ...
    #[arg(long)]
    pub from: Option<u64>,
    /// ... to this checkpoint (default: the current state).
    #[arg(long)]
    pub to: Option<u64>,
}

/// `ftsb-fs commit`.
#[derive(Debug, clap::Args)]
pub struct CommitArgs {
    /// The workspace; the paths to commit follow it (default: everything).
    pub workspace: Option<PathBuf>,
    /// Only these paths (relative to the workspace root).
    pub paths: Vec<String>,
    #[arg(short, long, default_value = "")]
    pub message: String,
    /// Overwrite workspace files that changed outside the view.
    #[arg(long)]
    pub force: bool,
    /// Publish files that gained setuid, setgid, sticky or file capabilities.
    #[arg(long)]
    pub allow_setid: bool,
}

/// `ftsb-fs checkpoint`.
#[derive(Debug, clap::Args)]
pub struct CheckpointArgs {
    pub workspace: Option<PathBuf>,
    #[arg(short, long, default_value = "")]
    pub message: String,
}

/// `ftsb-fs rollback`.
#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    pub workspace: Option<PathBuf>,
    /// The checkpoint to return to (0: no changes).
    #[arg(long)]
    pub to: u64,
}

pub fn status(a: WsArg, json: bool) -> anyhow::Result<i32> {
    let ws = resolve_workspace(a.workspace.as_deref())?;
    let s = call(&ws, &Request::Status)?;
    if json {
        print_json(&s);
    } else {
        let label = |l: &str| paint(style::LABEL, &format!("{l:<10}"));
        let n = |k: &str| s[k].as_u64().unwrap_or(0);
        outln!(
            "{} {}",
            label("workspace"),
            s["workspace"].as_str().unwrap_or_default()
        )?;
        outln!(
            "{} {}",
            label("view"),
            s["view"].as_str().unwrap_or_default()
        )?;
        outln!(
            "{} {}",
            label("store"),
            s["store"].as_str().unwrap_or_default()
        )?;
        outln!(
            "{} {}, {}",
            label("changes"),
            count(n("entries"), "changed path", "changed paths"),
            count(n("bytes"), "byte", "bytes")
        )?;
        outln!("{} {}", label("checkpoint"), s["checkpoint"])?;
    }
    Ok(0)
}

pub fn diff(a: DiffArgs, json: bool, page: bool) -> anyhow::Result<i32> {
    let ws = resolve_workspace(a.workspace.as_deref())?;
    let d = call(
        &ws,
        &Request::Diff {
            from: a.from,
            to: a.to,
        },
    )?;
    let entries = d.as_array().cloned().unwrap_or_default();
    if json {
        print_json(&d);
        return Ok(0);
    }
    output::page(page);
    if a.stat {
        for e in &entries {
            outln!("{}", stat_line(e))?;
        }
    } else {
        for e in &entries {
            match e["diff"].as_str() {
                Some(text) if !text.is_empty() => {
                    for line in text.lines() {
                        outln!("{}", output::diff_line(line))?;
                    }
                }
                _ => outln!("{}", stat_line(e))?,
            }
        }
    }
    Ok(0)
}

fn stat_line(e: &Value) -> String {
    let change = match &e["change"] {
        Value::String(s) => s.clone(),
        Value::Object(o) => match o.get("renamed").and_then(|r| r["from"].as_str()) {
            Some(from) => format!("renamed from {from}"),
            None => "changed".into(),
        },
        _ => "changed".into(),
    };
    let counts = match (e["insertions"].as_u64(), e["deletions"].as_u64()) {
        (Some(i), Some(d)) => format!(" (+{i} -{d})"),
        _ => String::new(),
    };
    // As git's --summary: what a reviewer must not miss besides the content.
    let mode = match (e["old_mode"].as_str(), e["new_mode"].as_str()) {
        (Some(o), Some(n)) if o != n => format!(" [mode change {o} => {n}]"),
        (None, Some(n)) => format!(" [create mode {n}]"),
        (Some(o), None) => format!(" [delete mode {o}]"),
        _ => String::new(),
    };
    let target = match (e["old_target"].as_str(), e["new_target"].as_str()) {
        (Some(o), Some(n)) if o != n => format!(" [symlink {o} => {n}]"),
        (_, Some(n)) => format!(" [symlink to {n}]"),
        _ => String::new(),
    };
    format!(
        "{:<10} {}{counts}{mode}{target}",
        change,
        e["path"].as_str().unwrap_or_default()
    )
}

pub fn commit(a: CommitArgs, json: bool) -> anyhow::Result<i32> {
    let ws = resolve_workspace(a.workspace.as_deref())?;
    let request = Request::Commit {
        message: a.message,
        paths: a.paths,
        force: a.force,
        allow_setid: a.allow_setid,
    };
    let r = output::progress("committing", || call(&ws, &request))?;
    if json {
        print_json(&r);
    } else {
        let n = r["changes"].as_u64().unwrap_or(0);
        outln!(
            "committed {} to {}",
            count(n, "change", "changes"),
            ws.display()
        )?;
    }
    Ok(0)
}

pub fn abort(a: WsArg, json: bool) -> anyhow::Result<i32> {
    let ws = resolve_workspace(a.workspace.as_deref())?;
    let r = call(&ws, &Request::Abort)?;
    if json {
        print_json(&r);
    } else {
        outln!(
            "aborted: the view equals {} again (undo with rollback; see log)",
            ws.display()
        )?;
    }
    Ok(0)
}

pub fn checkpoint(a: CheckpointArgs, json: bool) -> anyhow::Result<i32> {
    let ws = resolve_workspace(a.workspace.as_deref())?;
    let req = Request::Checkpoint { message: a.message };
    let r = output::progress("sealing a checkpoint", || call(&ws, &req))?;
    if json {
        print_json(&r);
    } else {
        outln!("{}", r["checkpoint"])?;
    }
    Ok(0)
}

pub fn log(a: WsArg, json: bool, page: bool) -> anyhow::Result<i32> {
    let ws = resolve_workspace(a.workspace.as_deref())?;
    let r = call(&ws, &Request::Log)?;
    if json {
        print_json(&r);
    } else {
        output::page(page);
        for e in r.as_array().into_iter().flatten() {
            outln!("{}", super::history::entry_line(e))?;
        }
    }
    Ok(0)
}

pub fn rollback(a: RollbackArgs, json: bool) -> anyhow::Result<i32> {
    let ws = resolve_workspace(a.workspace.as_deref())?;
    let r = call(&ws, &Request::Rollback { to: a.to })?;
    if json {
        print_json(&r);
    } else {
        outln!("the view equals checkpoint {} again", a.to)?;
    }
    Ok(0)
}

/// `ftsb-fs gc`.
#[derive(Debug, clap::Args)]
pub struct GcArgs {
    pub workspace: Option<PathBuf>,
    /// Also drop checkpoints older than this many hours.
    #[arg(long, value_name = "HOURS")]
    pub older_than: Option<u64>,
}

pub fn gc(a: GcArgs, json: bool) -> anyhow::Result<i32> {
    let ws = resolve_workspace(a.workspace.as_deref())?;
    let req = Request::Gc {
        max_age_secs: a.older_than.map(|h| h.saturating_mul(3600)),
    };
    let r = output::progress("collecting garbage", || call(&ws, &req))?;
    if json {
        print_json(&r);
    } else {
        let n = |k: &str| r[k].as_u64().unwrap_or(0);
        outln!(
            "dropped {} and {}",
            count(n("checkpoints"), "checkpoint", "checkpoints"),
            count(n("blobs"), "blob", "blobs")
        )?;
    }
    Ok(0)
}
