//! `diff`: what the overlay changes, as entries with unified text diffs of changed files.

use std::os::unix::fs::FileExt;

use serde_json::{Value, json};

use super::Daemon;
use crate::fuse::lock;
use std::collections::BTreeMap;

use crate::overlay::{Change, ChangeKind, Data, Kind, LowerPath, Node, Overlay, Snapshot};

/// Files larger than this are reported as changed without a text diff.
const MAX_DIFF_BYTES: u64 = 4 << 20;

/// The overlay's changes against the workspace (checkpoint ranges: `from`/`to`).
pub fn diff(daemon: &Daemon, from: Option<u64>, to: Option<u64>) -> Result<Value, String> {
    if from.is_some() || to.is_some() {
        return diff_range(daemon, from.unwrap_or(0), to);
    }
    let mut ov = lock(&daemon.overlay);
    let changes = ov.changes().map_err(|e| e.to_string())?;
    let mut entries = Vec::new();
    for c in &changes {
        entries.push(entry(&mut ov, c));
    }
    Ok(Value::Array(entries))
}

/// One change as JSON, with `old`/`new` line counts and a unified diff for text files.
fn entry(ov: &mut Overlay, c: &Change) -> Value {
    let mut v = serde_json::to_value(c).expect("changes are plain data");
    if c.kind != Some(Kind::File) && c.change != ChangeKind::Deleted {
        return v;
    }
    let old_path = match &c.change {
        ChangeKind::Added => None,
        ChangeKind::Renamed { .. } => c
            .ino
            .and_then(|i| ov.node(i))
            .and_then(|n| n.origin.as_ref().map(|o| o.path.clone())),
        _ => Some(c.raw_path.clone()),
    };
    let old = old_path.and_then(|p| read_lower(ov, &p));
    let new = match c.ino {
        Some(ino) if ov.node(ino).is_some_and(|n| n.data != Data::None) => read_view(ov, ino),
        _ => Some(Vec::new()),
    };
    let (Some(old), Some(new)) = (old.or(Some(Vec::new())), new) else {
        return v;
    };
    let (insertions, deletions, text) = unified(&c.path, &old, &new);
    v["insertions"] = json!(insertions);
    v["deletions"] = json!(deletions);
    v["diff"] = json!(text);
    v
}

fn read_lower(ov: &Overlay, path: &LowerPath) -> Option<Vec<u8>> {
    let st = ov.lower().stat(path).ok()??;
    if st.st_size as u64 > MAX_DIFF_BYTES || st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return None;
    }
    let f = ov.lower().open_file(path).ok()?;
    read_all(&f, st.st_size as u64)
}

fn read_view(ov: &mut Overlay, ino: crate::overlay::Ino) -> Option<Vec<u8>> {
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

/// Counts changed lines and renders a unified diff; binary content gets a one-line note.
fn unified(path: &str, old: &[u8], new: &[u8]) -> (usize, usize, String) {
    let (Ok(old), Ok(new)) = (std::str::from_utf8(old), std::str::from_utf8(new)) else {
        return (0, 0, format!("Binary files a/{path} and b/{path} differ\n"));
    };
    if old.contains('\0') || new.contains('\0') {
        return (0, 0, format!("Binary files a/{path} and b/{path} differ\n"));
    }
    let diff = similar::TextDiff::from_lines(old, new);
    let mut ins = 0;
    let mut del = 0;
    for op in diff.iter_all_changes() {
        match op.tag() {
            similar::ChangeTag::Insert => ins += 1,
            similar::ChangeTag::Delete => del += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string();
    (ins, del, text)
}

/// What differs between checkpoint `from` and checkpoint `to` (or the current state).
fn diff_range(daemon: &Daemon, from: u64, to: Option<u64>) -> Result<Value, String> {
    let mut ov = lock(&daemon.overlay);
    let load = |ov: &Overlay, id: u64| {
        if id == 0 {
            Ok(Snapshot::default())
        } else {
            crate::txn::load(ov, id).map_err(|e| e.to_string())
        }
    };
    let a = load(&ov, from)?;
    let b = match to {
        Some(id) => load(&ov, id)?,
        None => ov.seal().map_err(|e| e.to_string())?,
    };
    let (pa, pb) = (a.paths(), b.paths());
    let out = changes_between(&a, &b, |p| lower_has(&ov, p))
        .into_iter()
        .map(|(path, change)| {
            let mut v = json!({ "path": path, "change": change });
            if let (Some(old), Some(new)) =
                (state_bytes(&ov, &pa, &path), state_bytes(&ov, &pb, &path))
            {
                let (insertions, deletions, text) = unified(&path, &old, &new);
                v["insertions"] = json!(insertions);
                v["deletions"] = json!(deletions);
                v["diff"] = json!(text);
            }
            v
        })
        .collect();
    Ok(Value::Array(out))
}

/// The bytes a state (`paths`, from `Snapshot::paths`) shows at `path`, empty where nothing is;
/// `None` for a non-file, a file larger than [`MAX_DIFF_BYTES`], or one that cannot be read.
fn state_bytes(
    ov: &Overlay,
    paths: &BTreeMap<String, Option<&Node>>,
    path: &str,
) -> Option<Vec<u8>> {
    match paths.get(path) {
        None if lower_has(ov, path) => read_lower(ov, &LowerPath(path.as_bytes().to_vec())),
        None | Some(None) => Some(Vec::new()),
        Some(Some(n)) if n.attr.kind != Kind::File || n.attr.size > MAX_DIFF_BYTES => None,
        Some(Some(n)) => match &n.data {
            Data::Blob(id) => ov.blobs().read_verified(*id).ok(),
            Data::Lower(p) => read_lower(ov, p),
            Data::Work | Data::None => None,
        },
    }
}

/// Each path that differs from state `a` to state `b`, with `added`, `deleted` or `modified`.
/// A path without an entry in a state shows the workspace's version there, which exists
/// when `in_lower` says so.
pub(super) fn changes_between(
    a: &Snapshot,
    b: &Snapshot,
    in_lower: impl Fn(&str) -> bool,
) -> Vec<(String, &'static str)> {
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
            (None, Some(_)) => "added",
            (Some(_), None) => "deleted",
            _ => "modified",
        };
        out.push((path.clone(), change));
    }
    out
}

/// Whether the workspace holds `path` (a path relative to its root, as `fingerprints` names
/// it).
pub(super) fn lower_has(ov: &Overlay, path: &str) -> bool {
    ov.lower()
        .stat(&LowerPath(path.as_bytes().to_vec()))
        .is_ok_and(|st| st.is_some())
}
