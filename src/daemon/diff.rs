//! `diff`: what the overlay changes, as entries with unified text diffs of changed files.

use std::os::unix::fs::FileExt;

use serde_json::{Value, json};

use super::Daemon;
use crate::fuse::lock;
use crate::overlay::{Change, ChangeKind, Data, LowerPath, Overlay, Snapshot};

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

/// One change as JSON: the change itself, the file modes before and after (`old_mode`,
/// `new_mode`, git's six octal digits), symlink targets (`old_target`, `new_target`), and for
/// files and symlinks `insertions`/`deletions` and a git-style text diff (`diff`) whose header
/// shows mode changes (`old mode`/`new mode`, `new file mode`, `deleted file mode`).
fn entry(ov: &mut Overlay, c: &Change) -> Value {
    let mut v = serde_json::to_value(c).expect("changes are plain data");
    let node = c.ino.and_then(|i| ov.node(i)).cloned();
    // The workspace object the path showed before (for an added path, the one it replaces).
    let old_path = c.origin.clone();
    let old_stat = old_path
        .as_ref()
        .and_then(|p| ov.lower().stat(p).ok().flatten());
    let old_mode = old_stat.as_ref().map(|st| st.st_mode);
    let new_mode = node.as_ref().map(|n| n.attr.kind.mode_bits() | n.attr.perm);
    let is_link = |mode: Option<u32>| mode.is_some_and(|m| m & libc::S_IFMT == libc::S_IFLNK);
    let old_target = match &old_path {
        Some(p) if is_link(old_mode) => ov.lower().read_link(p).ok(),
        _ => None,
    };
    let new_target = node.as_ref().and_then(|n| n.target.clone());
    if let Some(m) = old_mode {
        v["old_mode"] = json!(format!("{m:06o}"));
    }
    if let Some(m) = new_mode {
        v["new_mode"] = json!(format!("{m:06o}"));
    }
    if let Some(t) = &old_target {
        v["old_target"] = json!(String::from_utf8_lossy(t));
    }
    if let Some(t) = &new_target {
        v["new_target"] = json!(String::from_utf8_lossy(t));
    }
    let a_path = match &c.change {
        ChangeKind::Renamed { from } => from.clone(),
        _ => c.path.clone(),
    };
    let mut text = format!("diff --git a/{a_path} b/{}\n", c.path);
    match (old_mode, new_mode) {
        (None, Some(n)) => text.push_str(&format!("new file mode {n:06o}\n")),
        (Some(o), None) => text.push_str(&format!("deleted file mode {o:06o}\n")),
        (Some(o), Some(n)) if o != n => {
            text.push_str(&format!("old mode {o:06o}\nnew mode {n:06o}\n"));
        }
        _ => {}
    }
    if let ChangeKind::Renamed { from } = &c.change {
        text.push_str(&format!("rename from {from}\nrename to {}\n", c.path));
    }
    let is_file = |mode: Option<u32>| mode.is_some_and(|m| m & libc::S_IFMT == libc::S_IFREG);
    let content = if is_link(old_mode) || is_link(new_mode) {
        Some((
            old_target.unwrap_or_default(),
            new_target.unwrap_or_default(),
        ))
    } else if is_file(old_mode) || is_file(new_mode) {
        let old = match &old_path {
            Some(p) if is_file(old_mode) => read_lower(ov, p),
            _ => Some(Vec::new()),
        };
        let new = match c.ino {
            Some(ino)
                if is_file(new_mode) && node.as_ref().is_some_and(|n| n.data != Data::None) =>
            {
                read_view(ov, ino)
            }
            // Unchanged bytes (a rename or metadata change) or no file any more.
            Some(_) if is_file(new_mode) => old.clone(),
            _ => Some(Vec::new()),
        };
        match (old, new) {
            (Some(old), Some(new)) => Some((old, new)),
            _ => {
                text.push_str(&format!(
                    "Files a/{a_path} and b/{} differ (larger than {} MiB)\n",
                    c.path,
                    MAX_DIFF_BYTES >> 20
                ));
                None
            }
        }
    } else {
        None
    };
    if let Some((old, new)) = content
        && old != new
    {
        // As git: a side that has no object is /dev/null.
        let a = old_mode.map_or("/dev/null".into(), |_| format!("a/{a_path}"));
        let b = new_mode.map_or("/dev/null".into(), |_| format!("b/{}", c.path));
        let (insertions, deletions, body) = unified(&a, &b, &old, &new);
        v["insertions"] = json!(insertions);
        v["deletions"] = json!(deletions);
        text.push_str(&body);
    }
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
fn unified(a: &str, b: &str, old: &[u8], new: &[u8]) -> (usize, usize, String) {
    let binary = || (0, 0, format!("Binary files {a} and {b} differ\n"));
    let (Ok(old), Ok(new)) = (std::str::from_utf8(old), std::str::from_utf8(new)) else {
        return binary();
    };
    if old.contains('\0') || new.contains('\0') {
        return binary();
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
        .header(a, b)
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
    let (fa, fb) = (a.fingerprints(), b.fingerprints());
    let mut out = Vec::new();
    for path in fa
        .keys()
        .chain(fb.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let change = match (fa.get(path), fb.get(path)) {
            (x, y) if x == y => continue,
            (None | Some(None), Some(Some(_))) => "added",
            (Some(Some(_)), None | Some(None)) => "deleted",
            (None, Some(None)) => "deleted",
            (Some(None), None) => "added",
            _ => "modified",
        };
        out.push(json!({ "path": path, "change": change }));
    }
    Ok(Value::Array(out))
}
