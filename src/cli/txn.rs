//! `status`, `diff`, `commit`, `abort`, `checkpoint`, `log`, `rollback`: talking to the daemon.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::output::{self, count, outln, paint, style};
use super::{WsArg, call, print_json, resolve_workspace};
use crate::control::Request;

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
    let mut s = call(&ws, &Request::Status)?;
    let view = PathBuf::from(s["view"].as_str().unwrap_or_default());
    let all = s["changes"].as_array().cloned().unwrap_or_default();
    let (shown, hidden) = Shown::new(&view, &paths, a.ignored)?.split(all);
    if json {
        s["changes"] = Value::Array(shown);
        s["hidden_by_gitignore"] = hidden.into();
        print_json(&s);
        return Ok(0);
    }
    let label = |l: &str| paint(style::LABEL, &format!("{l:<10}"));
    let n = |k: &str| s[k].as_u64().unwrap_or(0);
    for key in ["workspace", "view", "store"] {
        outln!("{} {}", label(key), s[key].as_str().unwrap_or_default())?;
    }
    outln!(
        "{} {}, {}",
        label("changes"),
        count(n("entries"), "changed path", "changed paths"),
        count(n("bytes"), "byte", "bytes")
    )?;
    outln!("{} {}", label("checkpoint"), s["checkpoint"])?;
    let conflicts = s["conflicts"].as_array().cloned().unwrap_or_default();
    if !conflicts.is_empty() {
        outln!(
            "{} {} (changed in the workspace outside the view; commit refuses them unless --force)",
            label("conflicts"),
            conflicts.len()
        )?;
        for c in &conflicts {
            outln!(
                "  {} ({})",
                visible(c["path"].as_str().unwrap_or_default()),
                c["reason"].as_str().unwrap_or_default()
            )?;
        }
    }
    for e in &shown {
        let letter = match &e["change"] {
            Value::String(c) if c == "added" => "A",
            Value::String(c) if c == "deleted" => "D",
            Value::Object(_) => "R",
            _ => "M",
        };
        outln!(
            "  {letter} {}",
            visible(e["path"].as_str().unwrap_or_default())
        )?;
    }
    if hidden > 0 {
        outln!(
            "({} hidden by .gitignore; --ignored shows them)",
            count(hidden as u64, "change", "changes")
        )?;
    }
    Ok(0)
}

/// Which changes `diff` and `status` show: those under the named paths, and unless
/// `--ignored`, not ignored by the view's `.gitignore` files (`.git` itself is never shown,
/// as in git). Display only: what commit publishes does not depend on it.
struct Shown {
    view: PathBuf,
    filter: Option<crate::txn::Filter>,
    ignored: bool,
    /// The `.gitignore` matcher of each directory that has one, by its path in the view.
    matchers: std::collections::HashMap<PathBuf, Option<ignore::gitignore::Gitignore>>,
}

impl Shown {
    fn new(view: &Path, paths: &[String], ignored: bool) -> anyhow::Result<Shown> {
        let filter = if paths.is_empty() {
            None
        } else {
            Some(crate::txn::Filter::new(paths).map_err(|e| anyhow::anyhow!(e))?)
        };
        Ok(Shown {
            view: view.to_owned(),
            filter,
            ignored,
            matchers: std::collections::HashMap::new(),
        })
    }

    /// The entries to show, and how many `.gitignore` hid.
    fn split(&mut self, entries: Vec<Value>) -> (Vec<Value>, usize) {
        let mut hidden = 0;
        let mut shown = Vec::new();
        for e in entries {
            let path = e["path"].as_str().unwrap_or_default().to_owned();
            let from = e["change"]["renamed"]["from"].as_str().map(str::to_owned);
            if let Some(f) = &self.filter
                && !f.matches_bytes(path.as_bytes())
                && !from.as_ref().is_some_and(|p| f.matches_bytes(p.as_bytes()))
            {
                continue;
            }
            if !self.ignored && self.is_ignored(&path, e["kind"] == "Dir") {
                hidden += 1;
                continue;
            }
            shown.push(e);
        }
        (shown, hidden)
    }

    fn is_ignored(&mut self, path: &str, is_dir: bool) -> bool {
        if path == ".git" || path.starts_with(".git/") {
            return true;
        }
        let full = self.view.join(path);
        // Deepest .gitignore first: it overrides its ancestors', as in git.
        let dirs: Vec<PathBuf> = full
            .ancestors()
            .skip(1)
            .take_while(|d| d.starts_with(&self.view))
            .map(Path::to_path_buf)
            .collect();
        for dir in dirs {
            let view = self.view.clone();
            let m = self.matchers.entry(dir.clone()).or_insert_with(|| {
                let mut b = ignore::gitignore::GitignoreBuilder::new(&dir);
                let mut any = dir.join(".gitignore").is_file();
                if any {
                    b.add(dir.join(".gitignore"));
                }
                let exclude = view.join(".git/info/exclude");
                if dir == view && exclude.is_file() {
                    b.add(exclude);
                    any = true;
                }
                if any { b.build().ok() } else { None }
            });
            if let Some(m) = m {
                let hit = m.matched_path_or_any_parents(&full, is_dir);
                if hit.is_ignore() {
                    return true;
                }
                if hit.is_whitelist() {
                    return false;
                }
            }
        }
        false
    }
}

pub fn diff(a: DiffArgs, json: bool, page: bool) -> anyhow::Result<i32> {
    let (ws, paths) = workspace_and_paths(a.workspace, a.paths)?;
    let info = call(&ws, &Request::Info)?;
    let view = PathBuf::from(info["view"].as_str().unwrap_or_default());
    let mut shown = Shown::new(&view, &paths, a.ignored)?;
    let d = call(
        &ws,
        &Request::Diff {
            from: a.from,
            to: a.to,
            binary: a.binary,
        },
    )?;
    let all = d.as_array().cloned().unwrap_or_default();
    let entries = if a.from.is_some() || a.to.is_some() {
        all
    } else {
        shown.split(all).0
    };
    if json {
        print_json(&Value::Array(entries));
        return Ok(0);
    }
    output::page(page);
    if a.name_status {
        for e in entries.iter().filter(|e| e["kind"] != "Dir") {
            outln!("{}", name_status(e))?;
        }
    } else if a.stat {
        for e in &entries {
            outln!("{}", stat_line(e))?;
        }
    } else {
        for e in &entries {
            match e["diff"].as_str() {
                Some(text) if !text.is_empty() => output::patch(text)?,
                // Directories: git has none; a patch leaves them out.
                _ if e["kind"] == "Dir" => {}
                _ => outln!("{}", stat_line(e))?,
            }
        }
    }
    Ok(0)
}

/// Git's `--name-status` line: the status letter (with the similarity of a rename), a tab,
/// the path (for a rename, the old path, a tab, the new one), names quoted as git quotes them.
fn name_status(e: &Value) -> String {
    let path = e["git_path"]
        .as_str()
        .or(e["path"].as_str())
        .unwrap_or_default();
    match &e["change"] {
        Value::String(s) => {
            let letter = match s.as_str() {
                "added" => "A",
                "deleted" => "D",
                _ => "M",
            };
            format!("{letter}\t{path}")
        }
        Value::Object(o) => {
            let from = e["git_from"]
                .as_str()
                .or(o.get("renamed").and_then(|r| r["from"].as_str()))
                .unwrap_or_default();
            let sim = e["similarity"].as_u64().unwrap_or(100);
            format!("R{sim:03}\t{from}\t{path}")
        }
        _ => format!("M\t{path}"),
    }
}

fn stat_line(e: &Value) -> String {
    let change = match &e["change"] {
        Value::String(s) => s.clone(),
        Value::Object(o) => match e["git_from"]
            .as_str()
            .or(o.get("renamed").and_then(|r| r["from"].as_str()))
        {
            Some(from) => format!("renamed from {}", visible(from)),
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
        (Some(o), Some(n)) if o != n => format!(" [symlink {} => {}]", visible(o), visible(n)),
        (_, Some(n)) => format!(" [symlink to {}]", visible(n)),
        _ => String::new(),
    };
    format!(
        "{:<10} {}{counts}{mode}{target}",
        change,
        visible(
            e["git_path"]
                .as_str()
                .or(e["path"].as_str())
                .unwrap_or_default()
        )
    )
}

/// Text for a terminal: control characters escaped (`\t`, `\n`, `\x1b`...), never sent raw.
fn visible(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
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
        let s = call(&ws, &Request::Status)?;
        let view = PathBuf::from(s["view"].as_str().unwrap_or_default());
        let all = s["changes"].as_array().cloned().unwrap_or_default();
        let mut shown = Shown::new(&view, &[], false)?;
        all.iter()
            .filter_map(|e| Some((e["path"].as_str()?, e["kind"] == "Dir")))
            .filter(|(p, dir)| shown.is_ignored(p, *dir))
            .map(|(p, _)| p.to_owned())
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
    let r = output::progress("committing", || call(&ws, &request))?;
    if json {
        print_json(&r);
    } else if dry_run {
        print_changes("would commit", &r["would_commit"])?;
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

/// One line per change of a dry run or partial abort.
fn print_changes(what: &str, changes: &Value) -> std::io::Result<()> {
    let list = changes.as_array().cloned().unwrap_or_default();
    outln!("{what} {}:", count(list.len() as u64, "change", "changes"))?;
    for e in &list {
        outln!("  {}", stat_line(e))?;
    }
    Ok(())
}

pub fn abort(a: AbortArgs, json: bool) -> anyhow::Result<i32> {
    let (ws, paths) = workspace_and_paths(a.workspace, a.paths)?;
    if !paths.is_empty() || a.dry_run {
        if paths.is_empty() {
            anyhow::bail!("abort --dry-run needs the paths to discard");
        }
        let r = call(
            &ws,
            &Request::AbortPaths {
                paths,
                dry_run: a.dry_run,
            },
        )?;
        if json {
            print_json(&r);
        } else if a.dry_run {
            print_changes("would discard", &r["would_abort"])?;
        } else {
            print_changes("discarded", &r["discarded"])?;
            outln!("(undo with rollback; see log)")?;
        }
        return Ok(0);
    }
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
