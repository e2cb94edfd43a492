//! `status`, `diff`, `commit`, `abort`, `checkpoint`, `log`, `rollback`: talking to the daemon.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::changes::{Line, Shown, visible};
use super::output::{self, count, outln, paint, style};
use super::{WsArg, call, print_json, resolve_workspace};
use crate::control::Request;
use crate::control::reply::{self, Change, ChangeKind, Kind};

/// `ftsb-fs status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The workspace; paths or globs to show follow it (default: everything).
    pub workspace: Option<PathBuf>,
    pub paths: Vec<String>,
    /// Also list changes that `.gitignore` hides.
    #[arg(long)]
    pub ignored: bool,
}

/// `ftsb-fs diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The workspace; paths or globs to show follow it (default: everything).
    pub workspace: Option<PathBuf>,
    pub paths: Vec<String>,
    /// Also show changes that `.gitignore` hides.
    #[arg(long)]
    pub ignored: bool,
    /// One line per changed path with counts, instead of the full diff.
    #[arg(long)]
    pub stat: bool,
    /// One line per changed path with git's status letter (A, D, M, R100...).
    #[arg(long)]
    pub name_status: bool,
    /// Git binary patches for binary files, so `git apply` can apply them.
    #[arg(long)]
    pub binary: bool,
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
    /// Only the changes under these paths or globs (relative to the workspace root); what a
    /// named change needs goes with it (both ends of a rename, new directories on the way).
    pub paths: Vec<String>,
    #[arg(short, long, default_value = "")]
    pub message: String,
    /// Overwrite workspace files that changed outside the view.
    #[arg(long)]
    pub force: bool,
    /// Publish files that gained setuid, setgid, sticky or file capabilities.
    #[arg(long)]
    pub allow_setid: bool,
    /// List what would be committed; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Leave the changes that `.gitignore` hides in the overlay (by default commit publishes
    /// them: `.gitignore` only decides what `diff` and `status` show).
    #[arg(long)]
    pub exclude_ignored: bool,
}

/// `ftsb-fs abort`.
#[derive(Debug, clap::Args)]
pub struct AbortArgs {
    /// The workspace; the paths to discard follow it (default: everything).
    pub workspace: Option<PathBuf>,
    /// Only these paths or globs (relative to the workspace root).
    pub paths: Vec<String>,
    /// List what would be discarded; change nothing.
    #[arg(long)]
    pub dry_run: bool,
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

pub fn status(a: StatusArgs, json: bool) -> anyhow::Result<i32> {
    let (ws, paths) = workspace_and_paths(a.workspace, a.paths)?;
    let mut s: reply::Status = call(&ws, &Request::Status)?;
    let all = std::mem::take(&mut s.changes);
    let (shown, hidden) = Shown::new(&s.view, &paths, a.ignored)?.split(all, |c| c);
    if json {
        /// `status --json`: the daemon's answer with the changes shown, and how many
        /// `.gitignore` hid.
        #[derive(Serialize)]
        struct Printed {
            #[serde(flatten)]
            status: reply::Status,
            hidden_by_gitignore: usize,
        }
        s.changes = shown;
        print_json(&Printed {
            status: s,
            hidden_by_gitignore: hidden,
        })?;
        return Ok(0);
    }
    let label = |l: &str| paint(style::LABEL, &format!("{l:<10}"));
    for (key, path) in [
        ("workspace", &s.workspace),
        ("view", &s.view),
        ("store", &s.store),
    ] {
        outln!("{} {}", label(key), path.display())?;
    }
    outln!(
        "{} {}, {}",
        label("changes"),
        count(s.entries, "changed path", "changed paths"),
        count(s.bytes, "byte", "bytes")
    )?;
    outln!("{} {}", label("checkpoint"), s.checkpoint)?;
    if !s.sessions.is_empty() {
        outln!(
            "{} {} still running in the view",
            label("sessions"),
            s.sessions.len()
        )?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        for x in &s.sessions {
            outln!(
                "  {} pid {}, for {} s ({}): {}",
                x.kind,
                x.pid,
                now.saturating_sub(x.since),
                x.containment,
                x.command
            )?;
        }
    }
    if !s.conflicts.is_empty() {
        outln!(
            "{} {} (changed in the workspace outside the view; commit refuses them unless --force)",
            label("conflicts"),
            s.conflicts.len()
        )?;
        for c in &s.conflicts {
            outln!("  {} ({})", visible(&c.path), c.reason)?;
        }
    }
    for e in &shown {
        let letter = match e.change {
            ChangeKind::Added => "A",
            ChangeKind::Deleted => "D",
            ChangeKind::Renamed { .. } => "R",
            ChangeKind::Modified | ChangeKind::Metadata => "M",
        };
        outln!("  {letter} {}", visible(&e.path))?;
    }
    if hidden > 0 {
        outln!(
            "({} hidden by .gitignore; --ignored shows them)",
            count(hidden as u64, "change", "changes")
        )?;
    }
    Ok(0)
}

pub fn diff(a: DiffArgs, json: bool, page: bool) -> anyhow::Result<i32> {
    let (ws, paths) = workspace_and_paths(a.workspace, a.paths)?;
    let info: reply::Info = call(&ws, &Request::Info)?;
    let mut shown = Shown::new(&info.view, &paths, a.ignored)?;
    let d: reply::Diff = call(
        &ws,
        &Request::Diff {
            from: a.from,
            to: a.to,
            binary: a.binary,
        },
    )?;
    // A range is between two states, whatever the view's `.gitignore` says now.
    let d = match d {
        reply::Diff::Working(all) => reply::Diff::Working(shown.split(all, |e| &e.change).0),
        range @ reply::Diff::Range(_) => range,
    };
    if json {
        match &d {
            reply::Diff::Working(entries) => print_json(entries)?,
            reply::Diff::Range(entries) => print_json(entries)?,
        }
        return Ok(0);
    }
    let lines: Vec<Line> = match &d {
        reply::Diff::Working(entries) => entries.iter().map(Line::from).collect(),
        reply::Diff::Range(entries) => entries.iter().map(Line::from).collect(),
    };
    output::page(page);
    if a.name_status {
        for e in lines.iter().filter(|e| !e.is_dir) {
            outln!("{}", e.name_status())?;
        }
    } else if a.stat {
        for e in &lines {
            outln!("{}", e.stat())?;
        }
    } else {
        for e in &lines {
            match e.diff {
                Some(text) if !text.is_empty() => output::patch(text)?,
                // Directories: git has none; a patch leaves them out.
                _ if e.is_dir => {}
                _ => outln!("{}", e.stat())?,
            }
        }
    }
    Ok(0)
}

/// The workspace and the paths of `commit`/`abort`: a first argument that is not a mounted
/// workspace (or view) is a path, and paths named from inside a mount without naming the
/// workspace are relative to the current directory.
fn workspace_and_paths(
    workspace: Option<PathBuf>,
    mut paths: Vec<String>,
) -> anyhow::Result<(PathBuf, Vec<String>)> {
    let cwd = std::env::current_dir()?;
    let mount = cwd
        .ancestors()
        .find(|d| crate::daemon::mounted_workspace(d).is_some())
        .map(Path::to_path_buf);
    if let Some(p) = &workspace {
        let abs = super::absolute(p)?;
        let served = crate::daemon::mounted_workspace(&abs).is_some()
            || crate::control::Client::connect(&abs).is_ok();
        if served || mount.is_none() {
            return Ok((resolve_workspace(Some(p))?, paths));
        }
        paths.insert(0, p.to_string_lossy().into_owned());
    }
    let ws = resolve_workspace(None)?;
    let rel = mount
        .and_then(|d| cwd.strip_prefix(d).ok().map(Path::to_path_buf))
        .unwrap_or_default();
    let paths = paths
        .into_iter()
        .map(|p| {
            if rel.as_os_str().is_empty() || p.starts_with('/') {
                p
            } else {
                rel.join(&p).to_string_lossy().into_owned()
            }
        })
        .collect();
    Ok((ws, paths))
}

pub fn commit(a: CommitArgs, json: bool) -> anyhow::Result<i32> {
    let (ws, paths) = workspace_and_paths(a.workspace, a.paths)?;
    let (message, force, dry_run) = (a.message, a.force, a.dry_run);
    let exclude = if a.exclude_ignored {
        let s: reply::Status = call(&ws, &Request::Status)?;
        let mut shown = Shown::new(&s.view, &[], false)?;
        s.changes
            .into_iter()
            .filter(|c| shown.is_ignored(&c.path, c.kind == Some(Kind::Dir)))
            .map(|c| c.path)
            .collect()
    } else {
        Vec::new()
    };
    let request = Request::Commit {
        message,
        paths,
        force,
        allow_setid: a.allow_setid,
        dry_run,
        exclude,
    };
    let r: reply::Commit = output::progress("committing", || call(&ws, &request))?;
    if json {
        print_json(&r)?;
        return Ok(0);
    }
    match r {
        reply::Commit::DryRun { would_commit, .. } => {
            print_changes("would commit", &would_commit)?;
        }
        reply::Commit::Done(done) => outln!(
            "committed {} to {}",
            count(done.changes, "change", "changes"),
            ws.display()
        )?,
    }
    Ok(0)
}

/// One line per change of a dry run or partial abort.
fn print_changes(what: &str, changes: &[Change]) -> std::io::Result<()> {
    outln!(
        "{what} {}:",
        count(changes.len() as u64, "change", "changes")
    )?;
    for c in changes {
        outln!("  {}", Line::from(c).stat())?;
    }
    Ok(())
}

pub fn abort(a: AbortArgs, json: bool) -> anyhow::Result<i32> {
    let (ws, paths) = workspace_and_paths(a.workspace, a.paths)?;
    if !paths.is_empty() || a.dry_run {
        if paths.is_empty() {
            anyhow::bail!("abort --dry-run needs the paths to discard");
        }
        let r: reply::AbortPaths = call(
            &ws,
            &Request::AbortPaths {
                paths,
                dry_run: a.dry_run,
            },
        )?;
        if json {
            print_json(&r)?;
            return Ok(0);
        }
        match r {
            reply::AbortPaths::DryRun { would_abort, .. } => {
                print_changes("would discard", &would_abort)?;
            }
            reply::AbortPaths::Done { discarded, .. } => {
                print_changes("discarded", &discarded)?;
                outln!("(undo with rollback; see log)")?;
            }
        }
        return Ok(0);
    }
    let r: reply::Aborted = call(&ws, &Request::Abort)?;
    if json {
        print_json(&r)?;
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
    let r: reply::Checkpoint = output::progress("sealing a checkpoint", || call(&ws, &req))?;
    if json {
        print_json(&r)?;
    } else {
        outln!("{}", r.checkpoint)?;
    }
    Ok(0)
}

pub fn log(a: WsArg, json: bool, page: bool) -> anyhow::Result<i32> {
    let ws = resolve_workspace(a.workspace.as_deref())?;
    let r: Vec<reply::LogEntry> = call(&ws, &Request::Log)?;
    if json {
        print_json(&r)?;
    } else {
        output::page(page);
        for e in &r {
            outln!("{}", super::history::entry_line(e))?;
        }
    }
    Ok(0)
}

pub fn rollback(a: RollbackArgs, json: bool) -> anyhow::Result<i32> {
    let ws = resolve_workspace(a.workspace.as_deref())?;
    let r: reply::RolledBack = call(&ws, &Request::Rollback { to: a.to })?;
    if json {
        print_json(&r)?;
    } else {
        outln!("the view equals checkpoint {} again", r.rolled_back_to)?;
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
    let r: reply::Gc = output::progress("collecting garbage", || call(&ws, &req))?;
    if json {
        print_json(&r)?;
    } else {
        outln!(
            "dropped {} and {}",
            count(r.checkpoints, "checkpoint", "checkpoints"),
            count(r.blobs, "blob", "blobs")
        )?;
    }
    Ok(0)
}
