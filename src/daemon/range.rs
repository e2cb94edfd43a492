//! `diff --from/--to`: what differs between two checkpoints (or a checkpoint and the current
//! state), path by path, with text diffs of files that are small enough; and the comparison
//! of two states that the audit log shares; and the bounded reads of a file's bytes that
//! both kinds of diff use.

use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;

use super::Daemon;
use super::failure::failure;
use super::patch::{MAX_DIFF_BYTES, unified};
use crate::control::Error;
use crate::control::reply::{self, RangeEntry, Sides};
use crate::overlay::{Data, Kind, Node, Overlay, RelPath, Snapshot, lock};

/// What differs between checkpoint `from` and checkpoint `to` (or the current state).
pub(super) fn diff_range(
    daemon: &Daemon,
    from: u64,
    to: Option<u64>,
) -> Result<Vec<RangeEntry>, Error> {
    let mut ov = lock(&daemon.overlay);
    let load = |ov: &Overlay, id: u64| {
        if id == 0 {
            Ok(Snapshot::default())
        } else {
            crate::txn::load(ov, id).map_err(failure)
        }
    };
    let a = load(&ov, from)?;
    let b = match to {
        Some(id) => load(&ov, id)?,
        None => ov.seal().map_err(failure)?,
    };
    let (pa, pb) = (a.paths(), b.paths());
    let out = changes_between(&a, &b, |p| lower_has(&ov, p))
        .into_iter()
        .map(|(path, change)| {
            let mut sides = Sides::default();
            if let Some((mode, target)) = side(&ov, &pa, &path) {
                sides.old_mode = Some(format!("{mode:06o}"));
                sides.old_target = target.map(|t| String::from_utf8_lossy(&t).into_owned());
            }
            if let Some((mode, target)) = side(&ov, &pb, &path) {
                sides.new_mode = Some(format!("{mode:06o}"));
                sides.new_target = target.map(|t| String::from_utf8_lossy(&t).into_owned());
            }
            let mut diff = None;
            if let (Some(old), Some(new)) =
                (state_bytes(&ov, &pa, &path), state_bytes(&ov, &pb, &path))
            {
                // As git: a side that has no object is /dev/null.
                let a = if change == reply::ChangeKind::Added {
                    "/dev/null".into()
                } else {
                    format!("a/{path}")
                };
                let b = if change == reply::ChangeKind::Deleted {
                    "/dev/null".into()
                } else {
                    format!("b/{path}")
                };
                let (insertions, deletions, body) = unified(&a, &b, &old, &new);
                let mut text = format!("diff --git a/{path} b/{path}\n");
                match (&sides.old_mode, &sides.new_mode) {
                    (None, Some(m)) => text.push_str(&format!("new file mode {m}\n")),
                    (Some(m), None) => text.push_str(&format!("deleted file mode {m}\n")),
                    (Some(o), Some(n)) if o != n => {
                        text.push_str(&format!("old mode {o}\nnew mode {n}\n"));
                    }
                    _ => {}
                }
                text.push_str(&body);
                sides.insertions = Some(insertions);
                sides.deletions = Some(deletions);
                diff = Some(text);
            }
            RangeEntry {
                path,
                change,
                sides,
                diff,
            }
        })
        .collect();
    Ok(out)
}

/// What a state (`paths`, from `Snapshot::paths`) holds at `path`: its node's mode and link
/// target, or the workspace's where the state has no entry (whiteouts hold nothing).
fn side(
    ov: &Overlay,
    paths: &BTreeMap<String, Option<&Node>>,
    path: &str,
) -> Option<(u32, Option<Vec<u8>>)> {
    match paths.get(path) {
        Some(Some(n)) => Some((n.attr.kind.mode_bits() | n.attr.perm, n.target.clone())),
        Some(None) => None,
        None => {
            let p = RelPath(path.as_bytes().to_vec());
            let st = ov.workspace_stat(&p).ok()??;
            let link = st.st_mode & libc::S_IFMT == libc::S_IFLNK;
            Some((
                st.st_mode,
                link.then(|| ov.workspace_read_link(&p).ok()).flatten(),
            ))
        }
    }
}

/// The bytes a state (`paths`, from `Snapshot::paths`) shows at `path`, empty where nothing is;
/// `None` for a non-file, a file larger than [`MAX_DIFF_BYTES`], or one that cannot be read.
fn state_bytes(
    ov: &Overlay,
    paths: &BTreeMap<String, Option<&Node>>,
    path: &str,
) -> Option<Vec<u8>> {
    match paths.get(path) {
        None if lower_has(ov, path) => read_lower(ov, &RelPath(path.as_bytes().to_vec())),
        None | Some(None) => Some(Vec::new()),
        Some(Some(n)) if n.attr.kind != Kind::File || n.attr.size > MAX_DIFF_BYTES => None,
        Some(Some(n)) => match &n.data {
            Data::Blob(id) => ov.sealed_bytes(*id).ok(),
            Data::Lower(p) => read_lower(ov, p),
            Data::Work | Data::None => None,
        },
    }
}

/// Each path that differs from state `a` to state `b`: added, deleted or modified.
/// A path without an entry in a state shows the workspace's version there, which exists
/// when `in_lower` says so.
pub(super) fn changes_between(
    a: &Snapshot,
    b: &Snapshot,
    in_lower: impl Fn(&str) -> bool,
) -> Vec<(String, reply::ChangeKind)> {
    let (fa, fb) = (a.fingerprints(), b.fingerprints());
    // What a state holds at a path: `None` when nothing is there, `Some(None)` for the
    // workspace's version, `Some(Some(fp))` for an overlay entry.
    let at = |f: &std::collections::BTreeMap<String, Option<String>>, path: &str| match f.get(path)
    {
        None if in_lower(path) => Some(None),
        None | Some(None) => None,
        Some(Some(fp)) => Some(Some(fp.clone())),
    };
    let mut out = Vec::new();
    for path in fa
        .keys()
        .chain(fb.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let change = match (at(&fa, path), at(&fb, path)) {
            (x, y) if x == y => continue,
            (None, Some(_)) => reply::ChangeKind::Added,
            (Some(_), None) => reply::ChangeKind::Deleted,
            _ => reply::ChangeKind::Modified,
        };
        out.push((path.clone(), change));
    }
    out
}

/// Whether the workspace holds `path` (a path relative to its root, as `fingerprints` names
/// it).
pub(super) fn lower_has(ov: &Overlay, path: &str) -> bool {
    ov.workspace_stat(&RelPath(path.as_bytes().to_vec()))
        .is_ok_and(|st| st.is_some())
}

/// The bytes of workspace file `path`, if it is a regular file no larger than
/// [`MAX_DIFF_BYTES`] and readable.
pub(super) fn read_lower(ov: &Overlay, path: &RelPath) -> Option<Vec<u8>> {
    let st = ov.workspace_stat(path).ok()??;
    if st.st_size as u64 > MAX_DIFF_BYTES || st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return None;
    }
    let f = ov.workspace_open(path).ok()?;
    read_all(&f, st.st_size as u64)
}

/// The bytes the view shows for file `ino`, if no larger than [`MAX_DIFF_BYTES`] and readable.
pub(super) fn read_view(ov: &mut Overlay, ino: crate::overlay::Ino) -> Option<Vec<u8>> {
    let size = ov.node(ino)?.attr.size;
    if size > MAX_DIFF_BYTES {
        return None;
    }
    let f = ov.backing(ino).ok()?;
    read_all(&f, size)
}

fn read_all(f: &std::fs::File, size: u64) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; size as usize];
    let mut got = 0;
    while got < buf.len() {
        match f.read_at(&mut buf[got..], got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(_) => return None,
        }
    }
    buf.truncate(got);
    Some(buf)
}
