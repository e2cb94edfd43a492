//! `diff`: what the overlay changes, as entries with unified text diffs of changed files.
//!
//! This file computes the entries (what changed, both sides' modes and bytes); `patch.rs`
//! renders them in git's patch format, and `range.rs` compares two checkpoints.

use std::collections::HashSet;

use super::Daemon;
use super::failure::failure;
use super::patch::{Side, base64, file_patch, git_mode, quote, similarity};
use super::range::{diff_range, read_lower, read_view};
use crate::control::Error;
use crate::control::reply::{self, DiffEntry, Sides};
use crate::overlay::{Change, ChangeKind, Data, Kind, Overlay, RelPath, lock};

/// The overlay's changes against the workspace (checkpoint ranges: `from`/`to`); with
/// `binary`, binary files get git binary patches instead of a "Binary files differ" line.
pub fn diff(
    daemon: &Daemon,
    from: Option<u64>,
    to: Option<u64>,
    binary: bool,
) -> Result<reply::Diff, Error> {
    if from.is_some() || to.is_some() {
        return diff_range(daemon, from.unwrap_or(0), to).map(reply::Diff::Range);
    }
    let mut ov = lock(&daemon.overlay);
    let changes = ov.changes().map_err(failure)?;
    // A rename is one change, listed at its new path: the old path's deletion is part of it.
    let moved: HashSet<RelPath> = changes
        .iter()
        .filter(|c| matches!(c.change, ChangeKind::Renamed { .. }))
        .filter_map(|c| c.origin.clone())
        .collect();
    let ctx = Ctx {
        changed: changes.iter().map(|c| c.raw_path.clone()).collect(),
        moved,
        binary,
    };
    let mut entries = Vec::new();
    for c in &changes {
        if c.change == ChangeKind::Deleted
            && c.origin.as_ref().is_some_and(|o| ctx.moved.contains(o))
        {
            continue;
        }
        let mut e = entry(&mut ov, c, &ctx);
        if replaced_in_place(&ov, c, &ctx.moved) {
            e.change.change = reply::ChangeKind::Modified;
        }
        entries.push(e);
    }
    Ok(reply::Diff::Working(entries))
}

/// A change as the protocol lists it.
pub(super) fn change(c: &Change) -> reply::Change {
    reply::Change {
        path: c.path.clone(),
        change: match &c.change {
            ChangeKind::Added => reply::ChangeKind::Added,
            ChangeKind::Modified => reply::ChangeKind::Modified,
            ChangeKind::Metadata => reply::ChangeKind::Metadata,
            ChangeKind::Deleted => reply::ChangeKind::Deleted,
            ChangeKind::Renamed { from } => reply::ChangeKind::Renamed { from: from.clone() },
        },
        kind: c.kind.map(|k| match k {
            Kind::File => reply::Kind::File,
            Kind::Dir => reply::Kind::Dir,
            Kind::Symlink => reply::Kind::Symlink,
            Kind::Fifo => reply::Kind::Fifo,
            Kind::Socket => reply::Kind::Socket,
            Kind::CharDev => reply::Kind::CharDev,
            Kind::BlockDev => reply::Kind::BlockDev,
        }),
    }
}

/// The changes as `status` lists them: as `diff` does, a rename once (at its new path) and
/// a file saved by renaming a new one over it as modified.
pub(super) fn listed(ov: &Overlay, changes: &[Change]) -> Vec<reply::Change> {
    let moved: HashSet<RelPath> = changes
        .iter()
        .filter(|c| matches!(c.change, ChangeKind::Renamed { .. }))
        .filter_map(|c| c.origin.clone())
        .collect();
    changes
        .iter()
        .filter(|c| {
            c.change != ChangeKind::Deleted || !c.origin.as_ref().is_some_and(|o| moved.contains(o))
        })
        .map(|c| {
            let mut listed = change(c);
            if replaced_in_place(ov, c, &moved) {
                listed.change = reply::ChangeKind::Modified;
            }
            listed
        })
        .collect()
}

/// Whether an added path replaced a workspace object of the same type at the same path (a
/// rename-over save: `sed -i`, editors, formatters): a modification, as git sees it. Not
/// when a rename took the workspace object elsewhere (`moved`): then the path is new.
fn replaced_in_place(ov: &Overlay, c: &Change, moved: &HashSet<RelPath>) -> bool {
    if c.change != ChangeKind::Added {
        return false;
    }
    let (Some(origin), Some(kind)) = (&c.origin, c.kind) else {
        return false;
    };
    if moved.contains(origin) {
        return false;
    }
    kind != crate::overlay::Kind::Dir
        && ov
            .workspace_stat(origin)
            .ok()
            .flatten()
            .is_some_and(|st| st.st_mode & libc::S_IFMT == kind.mode_bits())
}

/// What every entry's patch needs to know of the others.
struct Ctx {
    /// Workspace paths that a rename takes elsewhere (its own entry shows them).
    moved: HashSet<RelPath>,
    /// View paths that have an entry of their own.
    changed: HashSet<RelPath>,
    /// Git binary patches instead of "Binary files differ".
    binary: bool,
}

/// One change with its patch: the change itself (`path_b64` when the name is not UTF-8;
/// `git_path` and, for a rename, `git_from`: the names quoted as git prints them), the file
/// modes before and after (six octal digits, as git), symlink targets, for files and
/// symlinks the counts of inserted and deleted lines, and `diff`: the change in git's
/// extended patch format, which `git apply` takes (a deleted directory lists the files it
/// held).
fn entry(ov: &mut Overlay, c: &Change, ctx: &Ctx) -> DiffEntry {
    let binary = ctx.binary;
    let path_b64 = std::str::from_utf8(&c.raw_path.0)
        .is_err()
        .then(|| base64(&c.raw_path.0));
    let node = c.ino.and_then(|i| ov.node(i)).cloned();
    // The workspace object the path showed before (for an added path, the one it replaces,
    // unless a rename took that one elsewhere: then the path is new).
    let old_path = c
        .origin
        .clone()
        .filter(|o| !(c.change == ChangeKind::Added && ctx.moved.contains(o)));
    let old_stat = old_path
        .as_ref()
        .and_then(|p| ov.workspace_stat(p).ok().flatten());
    let old_mode = old_stat.as_ref().map(|st| st.st_mode);
    let new_mode = node.as_ref().map(|n| n.attr.kind.mode_bits() | n.attr.perm);
    let is_link = |mode: Option<u32>| mode.is_some_and(|m| m & libc::S_IFMT == libc::S_IFLNK);
    let is_file = |mode: Option<u32>| mode.is_some_and(|m| m & libc::S_IFMT == libc::S_IFREG);
    let is_dir = |mode: Option<u32>| mode.is_some_and(|m| m & libc::S_IFMT == libc::S_IFDIR);
    let old_target = match &old_path {
        Some(p) if is_link(old_mode) => ov.workspace_read_link(p).ok(),
        _ => None,
    };
    let new_target = node.as_ref().and_then(|n| n.target.clone());
    let mut sides = Sides {
        old_mode: old_mode.map(|m| format!("{m:06o}")),
        new_mode: new_mode.map(|m| format!("{m:06o}")),
        old_target: old_target
            .as_ref()
            .map(|t| String::from_utf8_lossy(t).into_owned()),
        new_target: new_target
            .as_ref()
            .map(|t| String::from_utf8_lossy(t).into_owned()),
        insertions: None,
        deletions: None,
    };
    let renamed = matches!(c.change, ChangeKind::Renamed { .. });
    // Where the workspace has what this entry changes (a deletion inside a renamed directory
    // deletes the workspace's path, not the view's).
    let a_path = match (&c.change, &old_path) {
        (ChangeKind::Renamed { .. } | ChangeKind::Deleted, Some(o)) => o.0.clone(),
        _ => c.raw_path.0.clone(),
    };
    // The names as git prints them, for the one-line formats.
    let git_path = quote(&c.raw_path.0);
    let git_from = renamed.then(|| quote(&a_path));
    let old = if is_link(old_mode) {
        Some(Side {
            mode: git_mode(old_mode.unwrap_or_default()),
            bytes: old_target,
        })
    } else if is_file(old_mode) {
        Some(Side {
            mode: old_mode.unwrap_or_default(),
            bytes: old_path.as_ref().and_then(|p| read_lower(ov, p)),
        })
    } else {
        None
    };
    let new = if is_link(new_mode) {
        Some(Side {
            mode: git_mode(new_mode.unwrap_or_default()),
            bytes: new_target,
        })
    } else if is_file(new_mode) {
        let bytes = match (c.ino, &node) {
            (Some(ino), Some(n)) if matches!(n.data, Data::Work | Data::Blob(_)) => {
                read_view(ov, ino)
            }
            // Unchanged bytes (a rename or metadata change).
            (_, Some(n)) => match &n.data {
                Data::Lower(p) => read_lower(ov, p),
                _ => old.as_ref().and_then(|o| o.bytes.clone()),
            },
            _ => Some(Vec::new()),
        };
        Some(Side {
            mode: new_mode.unwrap_or_default(),
            bytes,
        })
    } else {
        None
    };
    let similarity = renamed.then(|| {
        let (o, n) = (
            old.as_ref().and_then(|s| s.bytes.as_deref()),
            new.as_ref().and_then(|s| s.bytes.as_deref()),
        );
        match (o, n) {
            (Some(o), Some(n)) => similarity(o, n),
            _ => 100,
        }
    });
    let mut text = String::new();
    let mut counts = (0, 0);
    if is_dir(old_mode) && !is_dir(new_mode) {
        // Git has no directories: a deleted directory is the deletion of every file it held.
        if let Some(p) = &old_path {
            deleted_tree(ov, p, ctx, &mut text, &mut counts);
        }
    }
    if renamed
        && is_dir(old_mode)
        && is_dir(new_mode)
        && let Some(from) = &old_path
    {
        // ... and a renamed directory the rename of every file in it without its own entry.
        renamed_tree(ov, from, &c.raw_path, ctx, &mut text);
    }
    let mut add = |(i, d): (usize, usize)| {
        counts.0 += i;
        counts.1 += d;
    };
    match (&old, &new) {
        (None, None) => {}
        (Some(o), Some(n)) if o.mode & libc::S_IFMT != n.mode & libc::S_IFMT => {
            // A type change (file to symlink or back) is a deletion and an addition, as git
            // shows it.
            add(file_patch(
                &mut text,
                &a_path,
                &a_path,
                Some(o),
                None,
                false,
                binary,
            ));
            let p = &c.raw_path.0;
            add(file_patch(&mut text, p, p, None, Some(n), false, binary));
        }
        (o, n) => add(file_patch(
            &mut text,
            &a_path,
            if n.is_some() { &c.raw_path.0 } else { &a_path },
            o.as_ref(),
            n.as_ref(),
            renamed,
            binary,
        )),
    }
    if old.is_some() || new.is_some() {
        sides.insertions = Some(counts.0);
        sides.deletions = Some(counts.1);
    }
    DiffEntry {
        change: change(c),
        path_b64,
        git_path,
        git_from,
        similarity,
        sides,
        diff: text,
    }
}

/// The deletion of every file under the workspace directory `dir` (but what was renamed
/// out of it, which its rename shows), appended to `text`.
fn deleted_tree(
    ov: &mut Overlay,
    dir: &RelPath,
    ctx: &Ctx,
    text: &mut String,
    counts: &mut (usize, usize),
) {
    let Ok(list) = ov.workspace_read_dir(dir) else {
        return;
    };
    for (name, _, _) in list {
        let p = dir.join(&name);
        if ctx.moved.contains(&p) {
            continue;
        }
        let Ok(Some(st)) = ov.workspace_stat(&p) else {
            continue;
        };
        let side = match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => {
                deleted_tree(ov, &p, ctx, text, counts);
                continue;
            }
            libc::S_IFLNK => Side {
                mode: 0o120000,
                bytes: ov.workspace_read_link(&p).ok(),
            },
            libc::S_IFREG => Side {
                mode: st.st_mode,
                bytes: read_lower(ov, &p),
            },
            _ => continue,
        };
        let (i, d) = file_patch(text, &p.0, &p.0, Some(&side), None, false, ctx.binary);
        counts.0 += i;
        counts.1 += d;
    }
}

/// The pure renames of the files under workspace directory `from`, now at `to`, that have
/// no entry of their own (changed, deleted or moved on), appended to `text`.
fn renamed_tree(ov: &Overlay, from: &RelPath, to: &RelPath, ctx: &Ctx, text: &mut String) {
    let Ok(list) = ov.workspace_read_dir(from) else {
        return;
    };
    for (name, _, _) in list {
        let (old, new) = (from.join(&name), to.join(&name));
        if ctx.moved.contains(&old) || ctx.changed.contains(&new) {
            continue;
        }
        let Ok(Some(st)) = ov.workspace_stat(&old) else {
            continue;
        };
        let mode = match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => {
                renamed_tree(ov, &old, &new, ctx, text);
                continue;
            }
            libc::S_IFLNK => 0o120000,
            libc::S_IFREG => st.st_mode,
            _ => continue,
        };
        // The same bytes on both sides: only the header, with similarity 100%.
        let side = Side {
            mode,
            bytes: Some(Vec::new()),
        };
        file_patch(
            text,
            &old.0,
            &new.0,
            Some(&side),
            Some(&side),
            true,
            ctx.binary,
        );
    }
}
