//! `status`, `diff`, `commit`, `abort`, `checkpoint`, `log`, `rollback`: talking to the daemon.

use std::path::PathBuf;

use serde_json::Value;

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
        println!("workspace  {}", s["workspace"].as_str().unwrap_or_default());
        println!("view       {}", s["view"].as_str().unwrap_or_default());
        println!("store      {}", s["store"].as_str().unwrap_or_default());
        println!("changes    {} entries, {} bytes", s["entries"], s["bytes"]);
        println!("checkpoint {}", s["checkpoint"]);
    }
    Ok(0)
}

pub fn diff(a: DiffArgs, json: bool) -> anyhow::Result<i32> {
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
    } else if a.stat || a.from.is_some() || a.to.is_some() {
        for e in &entries {
            println!("{}", stat_line(e));
        }
    } else {
        for e in &entries {
            match e["diff"].as_str() {
                Some(text) if !text.is_empty() => print!("{text}"),
                _ => println!("{}", stat_line(e)),
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
    let (message, paths, force) = (a.message, a.paths, a.force);
    let request = if a.allow_setid {
        Request::CommitAllowingSetid {
            message,
            paths,
            force,
        }
    } else {
        Request::Commit {
            message,
            paths,
            force,
        }
    };
    let r = call(&ws, &request)?;
    if json {
        print_json(&r);
    } else {
        println!("committed {} changes to {}", r["changes"], ws.display());
    }
    Ok(0)
}

pub fn abort(a: WsArg, json: bool) -> anyhow::Result<i32> {
    let ws = resolve_workspace(a.workspace.as_deref())?;
    let r = call(&ws, &Request::Abort)?;
    if json {
        print_json(&r);
    } else {
        println!(
            "aborted: the view equals {} again (undo with rollback; see log)",
            ws.display()
        );
    }
    Ok(0)
}

pub fn checkpoint(a: CheckpointArgs, json: bool) -> anyhow::Result<i32> {
    let ws = resolve_workspace(a.workspace.as_deref())?;
    let r = call(&ws, &Request::Checkpoint { message: a.message })?;
    if json {
        print_json(&r);
    } else {
        println!("{}", r["checkpoint"]);
    }
    Ok(0)
}

pub fn log(a: WsArg, json: bool) -> anyhow::Result<i32> {
    let ws = resolve_workspace(a.workspace.as_deref())?;
    let r = call(&ws, &Request::Log)?;
    if json {
        print_json(&r);
    } else {
        for e in r.as_array().cloned().unwrap_or_default() {
            let exit = e["exit_code"]
                .as_i64()
                .map(|c| format!(" exit={c}"))
                .unwrap_or_default();
            let cmd = e["command"]
                .as_str()
                .map(|c| format!(" `{c}`"))
                .unwrap_or_default();
            println!(
                "{:>5} {:<10} entries={}{exit}{cmd} {}",
                e["id"],
                e["kind"].as_str().unwrap_or_default(),
                e["entries"],
                e["message"].as_str().unwrap_or_default()
            );
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
        println!("the view equals checkpoint {} again", a.to);
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
    let r = call(
        &ws,
        &Request::Gc {
            max_age_secs: a.older_than.map(|h| h.saturating_mul(3600)),
        },
    )?;
    if json {
        print_json(&r);
    } else {
        println!(
            "dropped {} checkpoints and {} blobs",
            r["checkpoints"], r["blobs"]
        );
    }
    Ok(0)
}
