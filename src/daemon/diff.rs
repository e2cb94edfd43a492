//! `diff`: what the overlay changes, as entries with unified text diffs of changed files.

use std::os::unix::fs::FileExt;

use std::collections::HashSet;

use super::Daemon;
use super::failure::failure;
use crate::control::Error;
use crate::control::reply::{self, DiffEntry, RangeEntry, Sides};
use crate::overlay::lock;
use std::collections::BTreeMap;

use crate::overlay::{Change, ChangeKind, Data, Kind, Node, Overlay, RelPath, Snapshot};

/// Files larger than this are reported as changed without a text diff.
const MAX_DIFF_BYTES: u64 = 4 << 20;

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

/// One side of a file-level patch: git's mode and the bytes (a symlink's target), `None`
/// when too large to read.
struct Side {
    mode: u32,
    bytes: Option<Vec<u8>>,
}

/// The mode git records: symlinks are 120000 whatever their permission bits.
fn git_mode(mode: u32) -> u32 {
    if mode & libc::S_IFMT == libc::S_IFLNK {
        0o120000
    } else {
        mode
    }
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

/// Appends one file's patch in git's extended format; returns (insertions, deletions).
fn file_patch(
    text: &mut String,
    a_path: &[u8],
    b_path: &[u8],
    old: Option<&Side>,
    new: Option<&Side>,
    renamed: bool,
    binary: bool,
) -> (usize, usize) {
    let (a_name, b_name) = (prefixed(b"a/", a_path), prefixed(b"b/", b_path));
    text.push_str(&format!("diff --git {a_name} {b_name}\n"));
    match (old, new) {
        (None, Some(n)) => text.push_str(&format!("new file mode {:06o}\n", n.mode)),
        (Some(o), None) => text.push_str(&format!("deleted file mode {:06o}\n", o.mode)),
        (Some(o), Some(n)) if o.mode != n.mode => {
            text.push_str(&format!(
                "old mode {:06o}\nnew mode {:06o}\n",
                o.mode, n.mode
            ));
        }
        _ => {}
    }
    let empty = Vec::new();
    let old_bytes = old.map(|s| s.bytes.as_ref());
    let new_bytes = new.map(|s| s.bytes.as_ref());
    if renamed {
        let similarity = match (old_bytes.flatten(), new_bytes.flatten()) {
            (Some(o), Some(n)) => similarity(o, n),
            _ => 100,
        };
        text.push_str(&format!(
            "similarity index {similarity}%\nrename from {}\nrename to {}\n",
            quote(a_path),
            quote(b_path)
        ));
    }
    let (Some(o), Some(n)) = (
        old_bytes.unwrap_or(Some(&empty)),
        new_bytes.unwrap_or(Some(&empty)),
    ) else {
        text.push_str(&format!(
            "Files {a_name} and {b_name} differ (larger than {} MiB)\n",
            MAX_DIFF_BYTES >> 20
        ));
        return (0, 0);
    };
    if o == n {
        return (0, 0);
    }
    // As git: a side that has no object is /dev/null.
    let a = if old.is_some() {
        a_name
    } else {
        "/dev/null".into()
    };
    let b = if new.is_some() {
        b_name
    } else {
        "/dev/null".into()
    };
    if is_binary(o) || is_binary(n) {
        if binary {
            let zero = "0".repeat(40);
            let id = |side: Option<&Side>, bytes: &[u8]| match side {
                Some(_) => git_blob_id(bytes),
                None => zero.clone(),
            };
            text.push_str(&format!(
                "index {}..{}\nGIT binary patch\n{}\n{}\n",
                id(old, o),
                id(new, n),
                literal(n),
                literal(o)
            ));
        } else {
            text.push_str(&format!("Binary files {a} and {b} differ\n"));
        }
        return (0, 0);
    }
    let (ins, del, body) = unified(&a, &b, o, n);
    text.push_str(&body);
    (ins, del)
}

/// Git's similarity of two contents, in percent: the share of the larger one that both keep.
fn similarity(old: &[u8], new: &[u8]) -> usize {
    if old == new {
        return 100;
    }
    let larger = old.len().max(new.len());
    if larger == 0 {
        return 100;
    }
    let (old_text, new_text) = (String::from_utf8_lossy(old), String::from_utf8_lossy(new));
    let diff = similar::TextDiff::from_lines(old_text.as_ref(), new_text.as_ref());
    let kept: usize = diff
        .iter_all_changes()
        .filter(|c| c.tag() == similar::ChangeTag::Equal)
        .map(|c| c.value().len())
        .sum();
    (kept * 100 / larger).min(99)
}

/// As git decides: a NUL byte in the first 8000 bytes makes content binary; so, here,
/// does content that is not UTF-8 (the text diff works on text).
fn is_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(8000)].contains(&0) || std::str::from_utf8(bytes).is_err()
}

/// Git's object id of a blob with these bytes (SHA-1 of `blob LEN\0BYTES`).
fn git_blob_id(bytes: &[u8]) -> String {
    let mut h = sha1_smol::Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    h.digest().to_string()
}

/// A `literal` hunk of a git binary patch: the zlib-deflated bytes in base85 lines of up to
/// 52 bytes, each led by its length (`A`-`Z` for 1-26, `a`-`z` for 27-52).
fn literal(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(bytes).expect("writing to memory cannot fail");
    let packed = z.finish().expect("writing to memory cannot fail");
    let mut out = format!("literal {}\n", bytes.len());
    for chunk in packed.chunks(52) {
        let n = chunk.len() as u8;
        out.push(if n <= 26 {
            (b'A' + n - 1) as char
        } else {
            (b'a' + n - 27) as char
        });
        out.push_str(&base85(chunk));
        out.push('\n');
    }
    out
}

/// Git's base85 (the alphabet of `base85.c`), 5 characters per 4 bytes, zero-padded.
fn base85(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 85] =
        b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~";
    let mut out = String::new();
    for group in bytes.chunks(4) {
        let mut word = [0u8; 4];
        word[..group.len()].copy_from_slice(group);
        let mut acc = u32::from_be_bytes(word);
        let mut five = [0u8; 5];
        for slot in five.iter_mut().rev() {
            *slot = ALPHABET[(acc % 85) as usize];
            acc /= 85;
        }
        out.extend(five.iter().map(|b| *b as char));
    }
    out
}

/// Standard base64, for names that are not UTF-8 in JSON.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for group in bytes.chunks(3) {
        let mut word = [0u8; 3];
        word[..group.len()].copy_from_slice(group);
        let acc = u32::from_be_bytes([0, word[0], word[1], word[2]]);
        for i in 0..4 {
            if i <= group.len() {
                out.push(ALPHABET[((acc >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `prefix` + `path`, quoted as git quotes names (see [`quote`]).
fn prefixed(prefix: &[u8], path: &[u8]) -> String {
    let mut full = prefix.to_vec();
    full.extend_from_slice(path);
    quote(&full)
}

/// A name as git prints it: as is when plain, else in double quotes with C escapes for
/// control characters, `"` and `\`, and octal escapes for bytes from 0x80 (`core.quotePath`).
fn quote(name: &[u8]) -> String {
    let plain = |b: u8| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\';
    if name.iter().all(|b| plain(*b)) {
        return String::from_utf8_lossy(name).into_owned();
    }
    let mut out = String::from("\"");
    for &b in name {
        match b {
            b'\x07' => out.push_str("\\a"),
            b'\x08' => out.push_str("\\b"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\x0b' => out.push_str("\\v"),
            b'\x0c' => out.push_str("\\f"),
            b'\r' => out.push_str("\\r"),
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b if plain(b) => out.push(b as char),
            b => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out.push('"');
    out
}

fn read_lower(ov: &Overlay, path: &RelPath) -> Option<Vec<u8>> {
    let st = ov.workspace_stat(path).ok()??;
    if st.st_size as u64 > MAX_DIFF_BYTES || st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return None;
    }
    let f = ov.workspace_open(path).ok()?;
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

/// Counts changed lines and renders a unified diff of two texts (not binary: see
/// [`is_binary`]).
fn unified(a: &str, b: &str, old: &[u8], new: &[u8]) -> (usize, usize, String) {
    let old = String::from_utf8_lossy(old);
    let new = String::from_utf8_lossy(new);
    let diff = similar::TextDiff::from_lines(old.as_ref(), new.as_ref());
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
fn diff_range(daemon: &Daemon, from: u64, to: Option<u64>) -> Result<Vec<RangeEntry>, Error> {
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
