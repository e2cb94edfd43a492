//! How the command line selects and shows changes: which ones `status`, `diff` and a commit's
//! dry run show (named paths, `.gitignore`), and the one-line formats of a change (`--stat`,
//! `--name-status`), with names made safe for a terminal.
//!
//! Display only: what a commit publishes never depends on this.

use std::path::{Path, PathBuf};

use crate::control::reply::{Change, ChangeKind, DiffEntry, Kind, RangeEntry, Sides};

/// Which changes `diff` and `status` show: those under the named paths, and unless
/// `--ignored`, not ignored by the view's `.gitignore` files (`.git` itself is never shown,
/// as in git). Display only: what commit publishes does not depend on it.
pub(super) struct Shown {
    view: PathBuf,
    filter: Option<crate::txn::Filter>,
    ignored: bool,
    /// The `.gitignore` matcher of each directory that has one, by its path in the view.
    matchers: std::collections::HashMap<PathBuf, Option<ignore::gitignore::Gitignore>>,
}

impl Shown {
    pub(super) fn new(view: &Path, paths: &[String], ignored: bool) -> anyhow::Result<Shown> {
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

    /// The entries to show (`change` says what each changes), and how many `.gitignore` hid.
    pub(super) fn split<T>(
        &mut self,
        entries: Vec<T>,
        change: impl Fn(&T) -> &Change,
    ) -> (Vec<T>, usize) {
        let mut hidden = 0;
        let mut shown = Vec::new();
        for e in entries {
            let c = change(&e);
            let from = match &c.change {
                ChangeKind::Renamed { from } => Some(from.as_str()),
                _ => None,
            };
            if let Some(f) = &self.filter
                && !f.matches_bytes(c.path.as_bytes())
                && !from.is_some_and(|p| f.matches_bytes(p.as_bytes()))
            {
                continue;
            }
            if !self.ignored && self.is_ignored(&c.path, c.kind == Some(Kind::Dir)) {
                hidden += 1;
                continue;
            }
            shown.push(e);
        }
        (shown, hidden)
    }

    pub(super) fn is_ignored(&mut self, path: &str, is_dir: bool) -> bool {
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

/// What the one-line formats show of a change, a diff entry or a range entry.
pub(super) struct Line<'a> {
    /// The path, quoted as git prints it where the daemon did.
    path: &'a str,
    change: &'a ChangeKind,
    /// For a rename: the old path, quoted as git prints it where the daemon did.
    from: Option<&'a str>,
    similarity: Option<usize>,
    sides: Option<&'a Sides>,
    pub(super) diff: Option<&'a str>,
    pub(super) is_dir: bool,
}

impl<'a> From<&'a Change> for Line<'a> {
    fn from(c: &'a Change) -> Line<'a> {
        Line {
            path: &c.path,
            change: &c.change,
            from: match &c.change {
                ChangeKind::Renamed { from } => Some(from),
                _ => None,
            },
            similarity: None,
            sides: None,
            diff: None,
            is_dir: c.kind == Some(Kind::Dir),
        }
    }
}

impl<'a> From<&'a DiffEntry> for Line<'a> {
    fn from(e: &'a DiffEntry) -> Line<'a> {
        let line = Line::from(&e.change);
        Line {
            path: &e.git_path,
            from: e.git_from.as_deref().or(line.from),
            similarity: e.similarity,
            sides: Some(&e.sides),
            diff: Some(&e.diff),
            ..line
        }
    }
}

impl<'a> From<&'a RangeEntry> for Line<'a> {
    fn from(e: &'a RangeEntry) -> Line<'a> {
        Line {
            path: &e.path,
            change: &e.change,
            from: None,
            similarity: None,
            sides: Some(&e.sides),
            diff: e.diff.as_deref(),
            is_dir: false,
        }
    }
}

impl Line<'_> {
    /// Git's `--name-status` line: the status letter (with the similarity of a rename), a
    /// tab, the path (for a rename, the old path, a tab, the new one).
    pub(super) fn name_status(&self) -> String {
        let path = self.path;
        match self.change {
            ChangeKind::Added => format!("A\t{path}"),
            ChangeKind::Deleted => format!("D\t{path}"),
            ChangeKind::Modified | ChangeKind::Metadata => format!("M\t{path}"),
            ChangeKind::Renamed { .. } => {
                let from = self.from.unwrap_or_default();
                let sim = self.similarity.unwrap_or(100);
                format!("R{sim:03}\t{from}\t{path}")
            }
        }
    }

    /// The `--stat` line: what changed, the path, line counts, and as git's `--summary` what a
    /// reviewer must not miss besides the content (modes, symlink targets).
    pub(super) fn stat(&self) -> String {
        let change = match self.change {
            ChangeKind::Added => "added".to_owned(),
            ChangeKind::Modified => "modified".to_owned(),
            ChangeKind::Metadata => "metadata".to_owned(),
            ChangeKind::Deleted => "deleted".to_owned(),
            ChangeKind::Renamed { .. } => match self.from {
                Some(from) => format!("renamed from {}", visible(from)),
                None => "changed".into(),
            },
        };
        let none = Sides::default();
        let s = self.sides.unwrap_or(&none);
        let counts = match (s.insertions, s.deletions) {
            (Some(i), Some(d)) => format!(" (+{i} -{d})"),
            _ => String::new(),
        };
        let mode = match (&s.old_mode, &s.new_mode) {
            (Some(o), Some(n)) if o != n => format!(" [mode change {o} => {n}]"),
            (None, Some(n)) => format!(" [create mode {n}]"),
            (Some(o), None) => format!(" [delete mode {o}]"),
            _ => String::new(),
        };
        let target = match (&s.old_target, &s.new_target) {
            (Some(o), Some(n)) if o != n => {
                format!(" [symlink {} => {}]", visible(o), visible(n))
            }
            (_, Some(n)) => format!(" [symlink to {}]", visible(n)),
            _ => String::new(),
        };
        format!(
            "{:<10} {}{counts}{mode}{target}",
            change,
            visible(self.path)
        )
    }
}

/// Text for a terminal: control characters escaped (`\t`, `\n`, `\x1b`...), never sent raw.
pub(super) fn visible(s: &str) -> String {
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
