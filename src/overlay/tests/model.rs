//! The proptest reference model of the overlay (tier 3 of the house style).
//!
//! A tiny in-memory tree (path to directory, file or symlink; files are shared objects, so
//! hard links are one object under several names) is driven by the same operations as the
//! overlay. Targets are picked by wrapping indices into the model's current path lists, so
//! every sequence is valid; where POSIX wants an error the model predicts its errno. After
//! every operation the whole view (walked with lookup, readdir, getattr, backing reads,
//! readlink and xattrs) must equal the model, and the workspace must be byte-for-byte,
//! mode-for-mode and mtime-for-mtime what it was (invariant 1). The change list must cover
//! every path where the view differs from the workspace, and every file keeps its inode number.
//!
//! `checkpoint` seals and remembers the model, `rollback` restores a remembered snapshot
//! (invariant 4), `abort` restores the empty snapshot and the model becomes the workspace
//! again (invariant 2), `reopen` flushes, drops the overlay and opens it again on the same
//! store. `commit` publishes the whole overlay or, with picks, the changes under some paths
//! (`commit_paths`), and the workspace is then checked against the model (exactly after a
//! full commit; each path as before or as the model after a partial one, picked paths as the
//! model); between commits the workspace must not change. A partial abort (`abort_paths`)
//! ends a case in `partial_aborts_match_the_model`: picked paths must show the workspace,
//! others the model or the workspace. Counters prove that the generated cases really commit
//! (fully and partially) and partially abort with changes.
//!
//! Every case runs under three simulated kernels: one that forgets every reference after each
//! operation (so unreferenced nodes are dropped), one that keeps them all, and one that also
//! keeps a dentry cache, starts operations from cached inodes, and after a rollback or abort
//! drops only the dentries the overlay's `Invalidation` names (so a stale cached dentry
//! fails the check). Open files pin their path, keep their handle across rollback and abort,
//! and must go on reading, writing and reporting nlink as the restored view says.
//!
//! Longer than 500 lines on purpose: the model, its operation enum, the strategy and the
//! comparison of the whole tree belong together; each pinned `regression_*` case is a few lines.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::FileExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;

use super::harness::*;
use crate::overlay::state::Invalidation;
use crate::overlay::*;

/// The names operations create and the workspace uses, so they collide often.
const NAMES: [&str; 5] = ["a", "b", "c", "d", "e"];
/// Symlink targets.
const TARGETS: [&str; 4] = ["a", "d/b", "../outside", "no/such"];
/// Modes `chmod` sets.
const PERMS: [u32; 5] = [0o600, 0o644, 0o755, 0o4755, 0o700];
/// Extended attribute names `setxattr` sets.
const XATTR_NAMES: [&str; 2] = ["user.k", "user.m"];

/// What one path of the view is, as both the model and the overlay describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    Dir {
        perm: u32,
    },
    File {
        perm: u32,
        nlink: u32,
        /// The first path (in sorted order) of this file's hard-link group.
        group: String,
        data: Vec<u8>,
        xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
        /// Known only for files the operations never wrote.
        mtime: Option<Time>,
    },
    Symlink {
        target: Vec<u8>,
    },
}

/// A node of the model tree.
#[derive(Clone, Debug, PartialEq, Eq)]
enum MNode {
    Dir {
        perm: u32,
    },
    /// A name of file object `id`.
    File(usize),
    Symlink(Vec<u8>),
}

/// A file object of the model.
#[derive(Clone, Debug, PartialEq, Eq)]
struct MFile {
    data: Vec<u8>,
    perm: u32,
    xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
    mtime: Option<Time>,
}

/// The reference model: what the view must show.
#[derive(Clone, Debug, Default)]
struct Model {
    tree: BTreeMap<String, MNode>,
    files: BTreeMap<usize, MFile>,
}

type Res = Result<(), i32>;

impl Model {
    /// The model of the tree on disk at `root`.
    fn from_disk(root: &Path) -> Model {
        let mut m = Model::default();
        let mut by_ino: BTreeMap<u64, usize> = BTreeMap::new();
        let mut stack = vec![(root.to_path_buf(), String::new())];
        while let Some((path, rel)) = stack.pop() {
            let md = fs::symlink_metadata(&path).expect("lstat");
            let perm = md.mode() & 0o7777;
            if md.is_dir() {
                m.tree.insert(rel.clone(), MNode::Dir { perm });
                for e in fs::read_dir(&path).expect("read_dir") {
                    let e = e.expect("entry");
                    let name = e.file_name().to_string_lossy().into_owned();
                    stack.push((e.path(), join(&rel, &name)));
                }
            } else if md.file_type().is_symlink() {
                let target = fs::read_link(&path).expect("readlink");
                let target = target.as_os_str().as_encoded_bytes().to_vec();
                m.tree.insert(rel, MNode::Symlink(target));
            } else {
                let next = by_ino.len();
                let id = *by_ino.entry(md.ino()).or_insert(next);
                m.files.entry(id).or_insert_with(|| MFile {
                    data: fs::read(&path).expect("read"),
                    perm,
                    xattrs: lxattrs(&path),
                    mtime: Some(Time {
                        sec: md.mtime(),
                        nsec: md.mtime_nsec() as u32,
                    }),
                });
                m.tree.insert(rel, MNode::File(id));
            }
        }
        m
    }

    /// Every path but the root.
    fn paths(&self) -> Vec<String> {
        self.tree
            .keys()
            .filter(|p| !p.is_empty())
            .cloned()
            .collect()
    }

    /// Every directory, the root included.
    fn dirs(&self) -> Vec<String> {
        self.tree
            .iter()
            .filter(|(_, n)| matches!(n, MNode::Dir { .. }))
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// Every name of a regular file.
    fn files(&self) -> Vec<String> {
        self.tree
            .iter()
            .filter(|(_, n)| matches!(n, MNode::File(_)))
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// `path` and everything below it.
    fn subtree(&self, path: &str) -> Vec<String> {
        let prefix = format!("{path}/");
        self.tree
            .keys()
            .filter(|p| *p == path || p.starts_with(&prefix))
            .cloned()
            .collect()
    }

    fn is_dir(&self, path: &str) -> bool {
        matches!(self.tree.get(path), Some(MNode::Dir { .. }))
    }

    fn is_empty_dir(&self, path: &str) -> bool {
        self.subtree(path).len() == 1
    }

    fn file_mut(&mut self, path: &str) -> &mut MFile {
        match self.tree.get(path) {
            Some(MNode::File(id)) => self.files.get_mut(id).expect("file object"),
            other => panic!("{path} is not a file: {other:?}"),
        }
    }

    fn write(&mut self, path: &str, offset: usize, data: &[u8]) {
        let MNode::File(id) = self.tree[path] else {
            panic!("{path} is not a file")
        };
        self.write_id(id, offset, data);
    }

    fn write_id(&mut self, id: usize, offset: usize, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let f = self.files.get_mut(&id).expect("file object");
        if f.data.len() < offset + data.len() {
            f.data.resize(offset + data.len(), 0);
        }
        f.data[offset..offset + data.len()].copy_from_slice(data);
        f.mtime = None;
    }

    fn truncate(&mut self, path: &str, size: usize) {
        let f = self.file_mut(path);
        f.data.resize(size, 0);
        f.mtime = None;
    }

    /// Adds `node` at `path` unless the name is taken.
    fn create(&mut self, path: &str, node: MNode) -> Res {
        if self.tree.contains_key(path) {
            return Err(libc::EEXIST);
        }
        self.tree.insert(path.to_owned(), node);
        Ok(())
    }

    /// Creates an empty file object `id` (never used before, also not in other checkpoints).
    fn new_file(&mut self, path: &str, id: usize) -> Res {
        self.create(path, MNode::File(id))?;
        self.files.insert(
            id,
            MFile {
                data: Vec::new(),
                perm: 0o644,
                xattrs: BTreeMap::new(),
                mtime: None,
            },
        );
        Ok(())
    }

    fn unlink(&mut self, path: &str) -> Res {
        if self.is_dir(path) {
            return Err(libc::EISDIR);
        }
        self.tree.remove(path);
        Ok(())
    }

    fn rmdir(&mut self, path: &str) -> Res {
        if !self.is_dir(path) {
            return Err(libc::ENOTDIR);
        }
        if !self.is_empty_dir(path) {
            return Err(libc::ENOTEMPTY);
        }
        self.tree.remove(path);
        Ok(())
    }

    fn chmod(&mut self, path: &str, perm: u32) {
        match self.tree.get_mut(path) {
            Some(MNode::Dir { perm: p }) => *p = perm,
            Some(MNode::File(id)) => self.files.get_mut(id).expect("file object").perm = perm,
            other => panic!("chmod of {path}: {other:?}"),
        }
    }

    /// `renameat2(src, dst, mode)` with the checks in the order Linux makes them.
    fn rename(&mut self, src: &str, dst: &str, mode: RenameMode) -> Res {
        let dst_exists = self.tree.contains_key(dst);
        match mode {
            RenameMode::NoReplace if dst_exists => return Err(libc::EEXIST),
            RenameMode::Exchange if !dst_exists => return Err(libc::ENOENT),
            _ => {}
        }
        let inside = |a: &str, b: &str| b == a || b.starts_with(&format!("{a}/"));
        let dst_dir = split(dst).0;
        let src_dir = split(src).0;
        // The source may not be an ancestor of the target ...
        if src != dst && self.is_dir(src) && inside(src, dst_dir) {
            return Err(libc::EINVAL);
        }
        // ... nor the target an ancestor of the source.
        if src != dst && dst_exists && inside(dst, src_dir) {
            return Err(if mode == RenameMode::Exchange {
                libc::EINVAL
            } else {
                libc::ENOTEMPTY
            });
        }
        let same = src == dst
            || matches!((self.tree.get(src), self.tree.get(dst)),
                (Some(MNode::File(a)), Some(MNode::File(b))) if a == b);
        if same {
            return Ok(());
        }
        if mode == RenameMode::Replace && dst_exists {
            match (self.is_dir(src), self.is_dir(dst)) {
                (true, false) => return Err(libc::ENOTDIR),
                (false, true) => return Err(libc::EISDIR),
                (true, true) if !self.is_empty_dir(dst) => return Err(libc::ENOTEMPTY),
                _ => {}
            }
            self.tree.remove(dst);
        }
        let moved = self.take_subtree(src);
        let swapped = if mode == RenameMode::Exchange {
            self.take_subtree(dst)
        } else {
            Vec::new()
        };
        for (p, n) in moved {
            self.tree.insert(format!("{dst}{}", &p[src.len()..]), n);
        }
        for (p, n) in swapped {
            self.tree.insert(format!("{src}{}", &p[dst.len()..]), n);
        }
        Ok(())
    }

    fn take_subtree(&mut self, path: &str) -> Vec<(String, MNode)> {
        self.subtree(path)
            .into_iter()
            .map(|p| {
                let n = self.tree.remove(&p).expect("listed");
                (p, n)
            })
            .collect()
    }

    /// What the view must show.
    fn entries(&self) -> BTreeMap<String, Entry> {
        let mut nlinks: BTreeMap<usize, u32> = BTreeMap::new();
        let mut groups: BTreeMap<usize, String> = BTreeMap::new();
        for (p, n) in &self.tree {
            if let MNode::File(id) = n {
                *nlinks.entry(*id).or_default() += 1;
                groups.entry(*id).or_insert_with(|| p.clone());
            }
        }
        self.tree
            .iter()
            .map(|(p, n)| {
                let e = match n {
                    MNode::Dir { perm } => Entry::Dir { perm: *perm },
                    MNode::Symlink(t) => Entry::Symlink { target: t.clone() },
                    MNode::File(id) => {
                        let f = &self.files[id];
                        Entry::File {
                            perm: f.perm,
                            nlink: nlinks[id],
                            group: groups[id].clone(),
                            data: f.data.clone(),
                            xattrs: f.xattrs.clone(),
                            mtime: f.mtime,
                        }
                    }
                };
                (p.clone(), e)
            })
            .collect()
    }
}

/// `e` without what a comparison across a partial commit or abort cannot expect to match:
/// a file's link count, its link group and its modification time.
fn loose(e: Option<&Entry>) -> Option<Entry> {
    e.map(|e| match e {
        Entry::File {
            perm, data, xattrs, ..
        } => Entry::File {
            perm: *perm,
            nlink: 0,
            group: String::new(),
            data: data.clone(),
            xattrs: xattrs.clone(),
            mtime: None,
        },
        other => other.clone(),
    })
}

/// The whole view, walked from the root as the kernel would, with consistency checks on the
/// way (readdir and lookup agree on inode and type; getattr agrees with lookup; the size
/// attribute is the length of the bytes served).
fn view_entries(
    ov: &mut Overlay,
    held: &mut Vec<Ino>,
) -> (BTreeMap<String, Entry>, BTreeMap<String, Ino>) {
    let mut out = BTreeMap::new();
    let mut inos: BTreeMap<String, Ino> = BTreeMap::new();
    let root = ov.getattr(ROOT).expect("getattr root");
    out.insert(
        String::new(),
        Entry::Dir {
            perm: root.perm & 0o7777,
        },
    );
    let mut stack = vec![(ROOT, ROOT, String::new())];
    while let Some((dir, parent, at)) = stack.pop() {
        let listing = ov.readdir(dir, parent).expect("readdir");
        assert_eq!(listing[0].name, b".");
        assert_eq!(listing[0].ino, dir);
        assert_eq!(listing[1].name, b"..");
        let mut seen = std::collections::BTreeSet::new();
        for e in &listing[2..] {
            let name = String::from_utf8(e.name.clone()).expect("utf-8 names");
            let path = join(&at, &name);
            assert!(seen.insert(name.clone()), "readdir lists {path} twice");
            let attr = ov
                .lookup(dir, &e.name)
                .unwrap_or_else(|err| panic!("lookup of listed {path}: {err}"));
            held.push(attr.ino);
            assert_eq!(attr.ino, e.ino, "readdir and lookup inode of {path}");
            assert_eq!(attr.kind, e.kind, "readdir and lookup type of {path}");
            let mut again = ov.getattr(attr.ino).expect("getattr");
            // A workspace file a commit just wrote may still be allocating: its block count
            // can change between two stats.
            again.blocks = attr.blocks;
            assert_eq!(again, attr, "getattr and lookup of {path}");
            let entry = match attr.kind {
                Kind::Dir => {
                    stack.push((attr.ino, dir, path.clone()));
                    Entry::Dir { perm: attr.perm }
                }
                Kind::Symlink => Entry::Symlink {
                    target: ov.readlink(attr.ino).expect("readlink"),
                },
                Kind::File => {
                    let data = read_ino(ov, attr.ino);
                    assert_eq!(attr.size, data.len() as u64, "size attribute of {path}");
                    let xattrs = ov
                        .xattrs(attr.ino)
                        .expect("xattrs")
                        .into_iter()
                        .filter(|(k, _)| k.starts_with(b"user."))
                        .collect();
                    Entry::File {
                        perm: attr.perm,
                        nlink: attr.nlink,
                        group: String::new(),
                        data,
                        xattrs,
                        mtime: Some(attr.mtime),
                    }
                }
                other => panic!("{path}: unexpected type {other:?}"),
            };
            inos.insert(path.clone(), attr.ino);
            out.insert(path, entry);
        }
    }
    // Hard-link groups: the first path (in sorted order) of each inode.
    let mut first: BTreeMap<Ino, String> = BTreeMap::new();
    for (path, entry) in out.iter_mut() {
        if let Entry::File { group, .. } = entry {
            *group = first
                .entry(inos[path])
                .or_insert_with(|| path.clone())
                .clone();
        }
    }
    (out, inos)
}

/// The workspace a case starts from.
#[derive(Clone, Debug)]
struct Seed {
    /// Extra files: (directory index, name index, content, mode index).
    files: Vec<(usize, usize, Vec<u8>, usize)>,
    /// The content of the hard-linked pair `b` and `d/b`.
    linked: Vec<u8>,
}

/// Builds the seed's workspace: `d/`, `d/e/`, a hard-linked pair `b` = `d/b` with an xattr,
/// a symlink `c -> a`, and the extra files.
fn build(seed: &Seed, ws: &Path) {
    fs::create_dir_all(ws.join("d/e")).expect("mkdir");
    fs::write(ws.join("b"), &seed.linked).expect("write");
    fs::hard_link(ws.join("b"), ws.join("d/b")).expect("link");
    set_lxattr(&ws.join("b"), "user.k", b"lower");
    std::os::unix::fs::symlink("a", ws.join("c")).expect("symlink");
    let dirs = ["", "d", "d/e"];
    for (dir, name, data, perm) in &seed.files {
        let path = ws.join(join(dirs[dir % dirs.len()], NAMES[name % NAMES.len()]));
        if fs::symlink_metadata(&path).is_ok() {
            continue;
        }
        fs::write(&path, data).expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(PERMS[perm % PERMS.len()]))
            .expect("chmod");
    }
}

/// One operation; indices wrap around the model's current lists.
#[derive(Clone, Debug)]
enum Op {
    Write {
        file: usize,
        offset: usize,
        data: Vec<u8>,
    },
    Create {
        dir: usize,
        name: usize,
    },
    Mkdir {
        dir: usize,
        name: usize,
    },
    Unlink {
        target: usize,
    },
    Rmdir {
        target: usize,
    },
    Rename {
        src: usize,
        dir: usize,
        name: usize,
        mode: RenameMode,
    },
    Truncate {
        file: usize,
        size: usize,
    },
    Link {
        file: usize,
        dir: usize,
        name: usize,
    },
    Symlink {
        dir: usize,
        name: usize,
        target: usize,
    },
    Chmod {
        target: usize,
        perm: usize,
    },
    SetXattr {
        file: usize,
        name: usize,
        value: u8,
    },
    RemoveXattr {
        file: usize,
        name: usize,
    },
    /// `fallocate` with mode 0: allocates, and extends the size.
    Fallocate {
        file: usize,
        offset: usize,
        len: usize,
    },
    /// `utimensat` setting the mtime and leaving the atime (`UTIME_OMIT`).
    SetMtime {
        file: usize,
        sec: i64,
    },
    /// Opens a file and keeps the handle (and the kernel's reference) until `Close`.
    /// `direct`: the kernel can pass reads and writes through; the handle then reads and
    /// writes the working file it was given, as the kernel would, not through the overlay.
    Open {
        file: usize,
        direct: bool,
    },
    /// Writes through an open handle, whether or not the file still has a name.
    HandleWrite {
        handle: usize,
        offset: usize,
        data: Vec<u8>,
    },
    Close {
        handle: usize,
    },
    Checkpoint,
    Rollback {
        to: usize,
    },
    Abort,
    Reopen,
    /// `commit` (no picks), or a partial `commit` of the changed paths the picks select
    /// (indices into the change list). Open handles are closed first.
    Commit {
        picks: Vec<usize>,
    },
}

// How many commits (full, partial) of this thread's cases published changes: the tests
// assert they are not zero, so the commit checks cannot pass vacuously.
std::thread_local! {
    static COMMITTED: std::cell::Cell<(usize, usize)> = const { std::cell::Cell::new((0, 0)) };
}

// How many partial aborts of this thread's cases discarded a change while keeping another:
// the test asserts it is not zero, so the partial abort check cannot pass vacuously.
std::thread_local! {
    static ABORTED_PART: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn pick(list: &[String], i: usize) -> Option<String> {
    (!list.is_empty()).then(|| list[i % list.len()].clone())
}

/// One running case: the overlay, the model, the remembered checkpoints.
struct Case {
    fx: Fx,
    model: Model,
    initial: Model,
    ws_before: BTreeMap<String, String>,
    checkpoints: Vec<(Snapshot, Model)>,
    /// Open handles: the inode, the model's file object, the kernel references the open
    /// file pins (its path from the root), and how its bytes move.
    handles: Vec<Held>,
    /// What the workspace shows, for the change-list check.
    initial_entries: BTreeMap<String, Entry>,
    /// The last file object id handed out (ids are never reused, across rollbacks too).
    next_id: usize,
    /// The view's inode of each file object, as first seen: inode numbers are stable.
    file_inos: BTreeMap<usize, Ino>,
    /// File objects that existed at a commit: their inode numbers may change once (to the
    /// published object's, when the kernel looks them up again).
    committed_ids: std::collections::BTreeSet<usize>,
    /// The view's inodes of the workspace's hard-linked files (at first the pair `b` = `d/b`;
    /// after a commit, every group it published).
    linked_inos: std::collections::BTreeSet<Ino>,
    /// Whether the kernel keeps every reference (else it forgets them after each operation).
    hold: bool,
    /// The kernel's dentry cache, path to inode, when it keeps one: operations start from
    /// cached inodes, and after a rollback or abort only what the overlay's invalidation
    /// names is dropped.
    dcache: Option<BTreeMap<String, Ino>>,
}

/// An open handle of the simulated kernel.
#[derive(Clone, Debug)]
struct Held {
    ino: Ino,
    id: usize,
    pinned: Vec<Ino>,
    /// The working file the kernel reads and writes itself (passthrough), if granted.
    direct: Option<Arc<fs::File>>,
    /// The overlay's restore count when it was opened.
    epoch: u64,
    /// Its inode's generation when it was opened.
    generation: u64,
    /// Revoked by a rollback or abort since: nothing written through it may show.
    revoked: bool,
}

impl Held {
    fn handle(&self) -> Handle {
        Handle {
            direct: self.direct.is_some(),
            write: true,
            epoch: self.epoch,
            generation: self.generation,
        }
    }

    /// The handle's bytes, as a read through it returns them.
    fn read(&self, ov: &mut Overlay) -> Vec<u8> {
        match &self.direct {
            Some(f) => read_file(f),
            None => read_ino(ov, self.ino),
        }
    }

    /// Writes through the handle.
    fn write(&self, ov: &mut Overlay, offset: u64, data: &[u8]) -> Result<(), FsError> {
        match &self.direct {
            Some(f) => {
                f.write_all_at(data, offset)
                    .expect("the kernel writes a passed-through file");
                Ok(())
            }
            // As `fuse` does for each write request.
            None => ov
                .check_handle(self.handle())
                .and_then(|()| ov.write(self.ino, offset, data).map(drop)),
        }
    }
}

/// How the simulated kernel treats its references to the view's inodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kernel {
    /// Forgets every reference after each operation; every path is looked up afresh.
    Forgets,
    /// Keeps every reference; every path is looked up afresh.
    Keeps,
    /// Keeps every reference and a dentry cache.
    Caches,
}

impl Case {
    fn new(seed: &Seed, kernel: Kernel) -> Case {
        let mut fx = Fx::new(|ws| build(seed, ws));
        // As the daemon does at mount: the transaction begins (after the workspace was built).
        crate::txn::after_recovery(fx.ov(), &crate::txn::Recovery::Nothing).expect("start");
        let model = Model::from_disk(&fx.ws);
        let ws_before = fx.ws_state();
        let linked_inos = [Ino(fs::metadata(fx.ws.join("b")).expect("stat").ino())].into();
        Case {
            fx,
            next_id: model.files.keys().next_back().map_or(0, |k| k + 1),
            file_inos: BTreeMap::new(),
            committed_ids: Default::default(),
            linked_inos,
            handles: Vec::new(),
            initial_entries: model.entries(),
            initial: model.clone(),
            model,
            ws_before,
            checkpoints: Vec::new(),
            hold: kernel != Kernel::Forgets,
            dcache: (kernel == Kernel::Caches).then(BTreeMap::new),
        }
    }

    /// The overlay's parent inode and name of `path`, looked up into `held`.
    fn parent(&mut self, path: &str, held: &mut Vec<Ino>) -> (Ino, Vec<u8>) {
        let (dir, name) = split(path);
        (self.ino(dir, held), name.as_bytes().to_vec())
    }

    /// The inode of `path`, from the dentry cache where the kernel keeps one.
    fn ino(&mut self, path: &str, held: &mut Vec<Ino>) -> Ino {
        let Some(cache) = &mut self.dcache else {
            return walk(self.fx.ov(), path, held).unwrap_or_else(|e| panic!("lookup {path}: {e}"));
        };
        let ov = self.fx.ov();
        let mut ino = ROOT;
        let mut at = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            at = join(&at, part);
            ino = match cache.get(&at) {
                Some(cached) => *cached,
                None => {
                    let found = ov.lookup(ino, part.as_bytes());
                    let found = found.unwrap_or_else(|e| panic!("lookup {at}: {e}")).ino;
                    held.push(found);
                    cache.insert(at.clone(), found);
                    found
                }
            };
        }
        ino
    }

    /// Updates the dentry cache after `op` succeeded, as the kernel does for the calls it
    /// makes itself (`d_instantiate`, `d_delete`, `d_move`, `d_exchange`).
    fn cache_after(&mut self, op: &Op, path: Option<&str>, dst: Option<&str>, made: Option<Ino>) {
        let Some(cache) = &mut self.dcache else {
            return;
        };
        let subtree = |cache: &BTreeMap<String, Ino>, p: &str| -> Vec<String> {
            let prefix = format!("{p}/");
            cache
                .keys()
                .filter(|k| *k == p || k.starts_with(&prefix))
                .cloned()
                .collect()
        };
        let take = |cache: &mut BTreeMap<String, Ino>, p: &str| -> Vec<(String, Ino)> {
            subtree(cache, p)
                .into_iter()
                .map(|k| {
                    let v = cache.remove(&k).expect("listed");
                    (k[p.len()..].to_owned(), v)
                })
                .collect()
        };
        match (op, path, dst) {
            (
                Op::Create { .. } | Op::Mkdir { .. } | Op::Symlink { .. } | Op::Link { .. },
                Some(p),
                _,
            ) => {
                cache.insert(p.to_owned(), made.expect("made an inode"));
            }
            (Op::Unlink { .. } | Op::Rmdir { .. }, Some(p), _) => {
                take(cache, p);
            }
            (Op::Rename { mode, .. }, Some(src), Some(dst)) => {
                if src == dst
                    || (*mode != RenameMode::Exchange && self.model.tree.contains_key(src))
                {
                    // A rename between two names of one file does nothing.
                    return;
                }
                let moved = take(cache, src);
                let other = take(cache, dst);
                for (rest, ino) in moved {
                    cache.insert(format!("{dst}{rest}"), ino);
                }
                if *mode == RenameMode::Exchange {
                    for (rest, ino) in other {
                        cache.insert(format!("{src}{rest}"), ino);
                    }
                }
            }
            _ => {}
        }
    }

    /// Drops the cached dentries the overlay's invalidation names, with everything below them.
    fn cache_invalidate(&mut self, inval: &Invalidation) {
        let Some(cache) = &mut self.dcache else {
            return;
        };
        let entries: std::collections::HashSet<&(Ino, Vec<u8>)> = inval.entries.iter().collect();
        let stale: Vec<String> = cache
            .keys()
            .filter(|p| {
                let (dir, name) = split(p);
                let dir = if dir.is_empty() {
                    Some(&ROOT)
                } else {
                    cache.get(dir)
                };
                dir.is_some_and(|d| entries.contains(&(*d, name.as_bytes().to_vec())))
            })
            .cloned()
            .collect();
        for p in stale {
            let prefix = format!("{p}/");
            cache.retain(|k, _| *k != p && !k.starts_with(&prefix));
        }
    }

    /// Applies `op` to both sides and checks they agree on its outcome.
    fn apply(&mut self, op: &Op) {
        let mut held = Vec::new();
        let m = &self.model;
        let (dirs, files, paths) = (m.dirs(), m.files(), m.paths());
        // What the operation named and made, for the dentry cache.
        let mut named: (Option<String>, Option<String>, Option<Ino>) = (None, None, None);
        let mut inval = None;
        let (want, got): (Res, Result<(), FsError>) = match op {
            Op::Write { file, offset, data } => {
                let Some(path) = pick(&files, *file) else {
                    return;
                };
                self.model.write(&path, *offset, data);
                let ino = self.ino(&path, &mut held);
                let ov = self.fx.ov();
                let got = ov
                    .open_handle(ino)
                    .and_then(|_| ov.write(ino, *offset as u64, data))
                    .and_then(|_| ov.release_handle(ino, Handle::CACHED));
                (Ok(()), got)
            }
            Op::Truncate { file, size } => {
                let Some(path) = pick(&files, *file) else {
                    return;
                };
                self.model.truncate(&path, *size);
                let ino = self.ino(&path, &mut held);
                let set = SetAttr {
                    size: Some(*size as u64),
                    ..SetAttr::default()
                };
                (Ok(()), self.fx.ov().setattr(ino, set).map(drop))
            }
            Op::Create { dir, name } | Op::Mkdir { dir, name } | Op::Symlink { dir, name, .. } => {
                let path = join(&pick(&dirs, *dir).expect("root"), NAMES[name % NAMES.len()]);
                let (want, kind, target) = match op {
                    Op::Create { .. } => {
                        self.next_id += 1;
                        (self.model.new_file(&path, self.next_id), Kind::File, None)
                    }
                    Op::Mkdir { .. } => (
                        self.model.create(&path, MNode::Dir { perm: 0o755 }),
                        Kind::Dir,
                        None,
                    ),
                    Op::Symlink { target, .. } => {
                        let t = TARGETS[target % TARGETS.len()];
                        let node = MNode::Symlink(t.as_bytes().to_vec());
                        (self.model.create(&path, node), Kind::Symlink, Some(t))
                    }
                    _ => unreachable!("matched above"),
                };
                let (dir, name) = self.parent(&path, &mut held);
                let got = self.fx.ov().make(dir, &name, new_node(kind, target));
                if let Ok(a) = &got {
                    held.push(a.ino);
                    named = (Some(path), None, Some(a.ino));
                }
                (want, got.map(drop))
            }
            Op::Unlink { target } | Op::Rmdir { target } => {
                let Some(path) = pick(&paths, *target) else {
                    return;
                };
                let (dir, name) = self.parent(&path, &mut held);
                named.0 = Some(path.clone());
                if matches!(op, Op::Unlink { .. }) {
                    (self.model.unlink(&path), self.fx.ov().unlink(dir, &name))
                } else {
                    (self.model.rmdir(&path), self.fx.ov().rmdir(dir, &name))
                }
            }
            Op::Rename {
                src,
                dir,
                name,
                mode,
            } => {
                let Some(src) = pick(&paths, *src) else {
                    return;
                };
                let dst = join(&pick(&dirs, *dir).expect("root"), NAMES[name % NAMES.len()]);
                let want = self.model.rename(&src, &dst, *mode);
                let (sdir, sname) = self.parent(&src, &mut held);
                let (ddir, dname) = self.parent(&dst, &mut held);
                let got = self.fx.ov().rename(sdir, &sname, ddir, &dname, *mode);
                named = (Some(src), Some(dst), None);
                (want, got)
            }
            Op::Link { file, dir, name } => {
                let Some(src) = pick(&files, *file) else {
                    return;
                };
                let dst = join(&pick(&dirs, *dir).expect("root"), NAMES[name % NAMES.len()]);
                let MNode::File(id) = self.model.tree[&src] else {
                    unreachable!("picked from files")
                };
                let want = self.model.create(&dst, MNode::File(id));
                let ino = self.ino(&src, &mut held);
                let (ddir, dname) = self.parent(&dst, &mut held);
                let got = self.fx.ov().link(ino, ddir, &dname);
                if let Ok(a) = &got {
                    held.push(a.ino);
                    named = (Some(dst), None, Some(a.ino));
                }
                (want, got.map(drop))
            }
            Op::Chmod { target, perm } => {
                let targets: Vec<String> = self
                    .model
                    .tree
                    .iter()
                    .filter(|(_, n)| !matches!(n, MNode::Symlink(_)))
                    .map(|(p, _)| p.clone())
                    .collect();
                let path = pick(&targets, *target).expect("root");
                let perm = PERMS[perm % PERMS.len()];
                self.model.chmod(&path, perm);
                let ino = self.ino(&path, &mut held);
                let set = SetAttr {
                    perm: Some(perm),
                    ..SetAttr::default()
                };
                (Ok(()), self.fx.ov().setattr(ino, set).map(drop))
            }
            Op::SetXattr { file, name, value } => {
                let Some(path) = pick(&files, *file) else {
                    return;
                };
                let name = XATTR_NAMES[name % XATTR_NAMES.len()];
                self.model
                    .file_mut(&path)
                    .xattrs
                    .insert(name.as_bytes().to_vec(), vec![*value]);
                let ino = self.ino(&path, &mut held);
                let got = self.fx.ov().setxattr(ino, name.as_bytes(), &[*value], 0);
                (Ok(()), got)
            }
            Op::RemoveXattr { file, name } => {
                let Some(path) = pick(&files, *file) else {
                    return;
                };
                let name = XATTR_NAMES[name % XATTR_NAMES.len()];
                let want = match self.model.file_mut(&path).xattrs.remove(name.as_bytes()) {
                    Some(_) => Ok(()),
                    None => Err(libc::ENODATA),
                };
                let ino = self.ino(&path, &mut held);
                (want, self.fx.ov().removexattr(ino, name.as_bytes()))
            }
            Op::Fallocate { file, offset, len } => {
                let Some(path) = pick(&files, *file) else {
                    return;
                };
                let f = self.model.file_mut(&path);
                if f.data.len() < offset + len {
                    f.data.resize(offset + len, 0);
                }
                // Whether a fallocate that does not grow the file changes the mtime depends on
                // the filesystem (ext4 leaves it, tmpfs sets it).
                f.mtime = None;
                let ino = self.ino(&path, &mut held);
                let got = self.fx.ov().fallocate(ino, *offset as u64, *len as u64, 0);
                (Ok(()), got)
            }
            Op::SetMtime { file, sec } => {
                let Some(path) = pick(&files, *file) else {
                    return;
                };
                let t = Time { sec: *sec, nsec: 7 };
                self.model.file_mut(&path).mtime = Some(t);
                let ino = self.ino(&path, &mut held);
                let set = SetAttr {
                    mtime: Some(SetTime::At(t)),
                    ..SetAttr::default()
                };
                (Ok(()), self.fx.ov().setattr(ino, set).map(drop))
            }
            Op::Open { file, direct } => {
                let Some(path) = pick(&files, *file) else {
                    return;
                };
                let MNode::File(id) = self.model.tree[&path] else {
                    unreachable!("picked from files")
                };
                // The kernel keeps its references to an open file and to every directory
                // above it (a dentry pins its parent) until the file is closed.
                let mut pinned = Vec::new();
                let ino = self.ino(&path, &mut pinned);
                let epoch = self.fx.ov().restores();
                let generation = self.fx.ov().generation(ino);
                let got = self.fx.ov().open_file(ino, true, *direct);
                let direct = match &got {
                    Ok((_, Access::Direct(f))) => Some(f.clone()),
                    _ => None,
                };
                if got.is_ok() {
                    self.handles.push(Held {
                        ino,
                        id,
                        pinned,
                        direct,
                        epoch,
                        generation,
                        revoked: false,
                    });
                }
                (Ok(()), got.map(drop))
            }
            Op::HandleWrite {
                handle,
                offset,
                data,
            } => {
                if self.handles.is_empty() {
                    return;
                }
                let held = self.handles[handle % self.handles.len()].clone();
                let got = held.write(self.fx.ov(), *offset as u64, data);
                if !held.revoked {
                    self.model.write_id(held.id, *offset, data);
                    (Ok(()), got)
                } else if held.direct.is_some() {
                    // The kernel writes the detached working file: nothing shows it.
                    (Ok(()), got)
                } else {
                    (Err(libc::EIO), got)
                }
            }
            Op::Close { handle } => {
                if self.handles.is_empty() {
                    return;
                }
                let held = self.handles.remove(handle % self.handles.len());
                (Ok(()), self.close(held))
            }
            Op::Checkpoint => {
                let snap = self.fx.ov().seal().expect("seal");
                self.checkpoints.push((snap, self.model.clone()));
                (Ok(()), Ok(()))
            }
            Op::Rollback { to } => {
                if self.checkpoints.is_empty() {
                    return;
                }
                let (snap, model) = self.checkpoints[to % self.checkpoints.len()].clone();
                self.model = model;
                self.revoke_handles();
                let got = self.fx.ov().restore(&snap);
                inval = got.as_ref().ok().cloned();
                (Ok(()), got.map(drop))
            }
            Op::Abort => {
                self.model = self.initial.clone();
                self.revoke_handles();
                let got = self.fx.ov().restore(&Snapshot::default());
                inval = got.as_ref().ok().cloned();
                (Ok(()), got.map(drop))
            }
            Op::Commit { picks } => {
                self.close_all();
                inval = Some(self.commit(picks));
                (Ok(()), Ok(()))
            }
            Op::Reopen => {
                self.close_all();
                self.fx.reopen();
                if let Some(cache) = &mut self.dcache {
                    cache.clear();
                }
                (Ok(()), Ok(()))
            }
        };
        assert_eq!(
            got.map_err(|e| e.errno()),
            want,
            "outcome of {op:?} (0 = ok, else errno)"
        );
        if want.is_ok() {
            self.cache_after(op, named.0.as_deref(), named.1.as_deref(), named.2);
        }
        if let Some(inval) = &inval {
            self.cache_invalidate(inval);
        }
        if matches!(op, Op::Rollback { .. } | Op::Abort) {
            // The kernel may use an open file before it looks any name up again: whatever the
            // revoked handles write must not show (checked with the view below).
            self.rewrite_handles();
        }
        if !self.hold {
            release(self.fx.ov(), held);
        }
        self.check();
    }

    /// Commits all or part of the overlay and checks the workspace: after a full commit it
    /// equals the model exactly (names, kinds, contents, modes, symlink targets, xattrs, link
    /// groups); after a partial one every path is as before or as the model, and every path
    /// under a picked change as the model. The view must still equal the model (`check`, run
    /// after every operation, proves the overlay that stays is the model's rest). The
    /// committed workspace is then what `abort` returns to. Commits never force: nothing
    /// changes the workspace outside the view here, so any conflict is a false one (a stale
    /// stamp the overlay kept) and fails the case.
    fn commit(&mut self, picks: &[usize]) -> Invalidation {
        let ws_path = self.fx.ws.clone();
        let before = Model::from_disk(&ws_path).entries();
        let mut held = Vec::new();
        let (_, view_inos) = view_entries(self.fx.ov(), &mut held);
        release(self.fx.ov(), held);
        let ov = self.fx.ov();
        let changes = ov.changes().expect("changes");
        let ws = crate::txn::workspace_of(crate::txn::Host::workspace(&*ov), &ws_path)
            .expect("workspace");
        let mut paths: Vec<String> = picks
            .iter()
            .filter(|_| !changes.is_empty())
            .map(|i| changes[i % changes.len()].path.clone())
            .collect();
        paths.sort();
        paths.dedup();
        let inval = if paths.is_empty() {
            crate::txn::commit(ov, &ws, "model", false)
                .unwrap_or_else(|e| panic!("commit: {e}"))
                .invalidation
        } else {
            let filter = crate::txn::Filter::new(&paths).expect("filter");
            crate::txn::commit_paths(ov, &ws, "model", false, &filter)
                .unwrap_or_else(|e| panic!("commit of {paths:?}: {e}"))
                .0
                .invalidation
        };
        let after = Model::from_disk(&ws_path).entries();
        let want = self.model.entries();
        // Modification times aside: the model knows them only for files never written.
        let no_mtime = |e: Option<&Entry>| {
            e.map(|e| match e {
                Entry::File {
                    perm,
                    nlink,
                    group,
                    data,
                    xattrs,
                    ..
                } => Entry::File {
                    perm: *perm,
                    nlink: *nlink,
                    group: group.clone(),
                    data: data.clone(),
                    xattrs: xattrs.clone(),
                    mtime: None,
                },
                other => other.clone(),
            })
        };
        if paths.is_empty() {
            let got: BTreeMap<String, Option<Entry>> = after
                .keys()
                .map(|p| (p.clone(), no_mtime(after.get(p))))
                .collect();
            let model: BTreeMap<String, Option<Entry>> = want
                .keys()
                .map(|p| (p.clone(), no_mtime(want.get(p))))
                .collect();
            assert_eq!(
                got, model,
                "the workspace after a full commit differs from the model"
            );
        } else {
            // Per path, link counts and groups aside (a partial commit may publish part of a
            // group's change of names): as before, or as the model.
            let loose = |e: Option<&Entry>| {
                no_mtime(e).map(|e| match e {
                    Entry::File {
                        perm, data, xattrs, ..
                    } => Entry::File {
                        perm,
                        nlink: 0,
                        group: String::new(),
                        data,
                        xattrs,
                        mtime: None,
                    },
                    other => other,
                })
            };
            let all: std::collections::BTreeSet<&String> = before
                .keys()
                .chain(after.keys())
                .chain(want.keys())
                .collect();
            for path in all {
                let (b, a, m) = (
                    loose(before.get(path)),
                    loose(after.get(path)),
                    loose(want.get(path)),
                );
                if self.picked(&paths, path, &view_inos) {
                    assert_eq!(a, m, "{path}, picked by the partial commit of {paths:?}");
                } else {
                    assert!(
                        a == b || a == m,
                        "{path} after the partial commit of {paths:?} is neither as before ({b:?}) nor as the view ({m:?}): {a:?}"
                    );
                }
            }
        }
        if before != after {
            COMMITTED.with(|c| {
                let (full, part) = c.get();
                c.set(if paths.is_empty() {
                    (full + 1, part)
                } else {
                    (full, part + 1)
                });
            });
        }
        // The committed workspace is the new base: abort returns to it, older checkpoints are
        // of another transaction, and changed files have new inodes.
        let mut initial = Model::from_disk(&ws_path);
        let shift = self.next_id;
        initial.files = std::mem::take(&mut initial.files)
            .into_iter()
            .map(|(id, f)| (id + shift, f))
            .collect();
        for node in initial.tree.values_mut() {
            if let MNode::File(id) = node {
                *id += shift;
            }
        }
        self.next_id = shift + initial.files.len() + 1;
        self.initial_entries = initial.entries();
        self.initial = initial;
        if paths.is_empty() {
            // The same tree: keep the model's ids (and mtimes it does not know).
            self.initial = self.model.clone();
        }
        self.ws_before = self.fx.ws_state();
        self.checkpoints.clear();
        self.committed_ids.extend(self.model.files.keys().copied());
        self.committed_ids
            .extend(self.initial.files.keys().copied());
        self.file_inos.clear();
        // The view's inodes of the published link groups, as the view now shows them.
        let mut held = Vec::new();
        let (_, inos) = view_entries(self.fx.ov(), &mut held);
        release(self.fx.ov(), held);
        self.linked_inos = self
            .initial_entries
            .iter()
            .filter(|(_, e)| matches!(e, Entry::File { nlink, .. } if *nlink > 1))
            .flat_map(|(p, _)| {
                // Held ones keep their number until the kernel forgets them; then the view
                // shows the workspace's.
                let ws_ino = fs::symlink_metadata(ws_path.join(p)).map(|m| Ino(m.ino()));
                inos.get(p).copied().into_iter().chain(ws_ino.ok())
            })
            .collect();
        inval
    }

    /// Whether `path` is at or under one of `paths`, the picks of a partial commit or abort.
    /// A change through one name of a workspace link group is listed under that name only
    /// (see `check_changes`): the group's other names are not picked by naming their
    /// directory.
    fn picked(&self, paths: &[String], path: &str, view_inos: &BTreeMap<String, Ino>) -> bool {
        paths
            .iter()
            .any(|p| path == p || path.starts_with(&format!("{p}/")))
            && !view_inos
                .get(path)
                .is_some_and(|i| self.linked_inos.contains(i))
    }

    /// Discards the changes the picks select (`abort_paths`, a partial abort) and checks the
    /// view as a partial commit's workspace is checked: every path under a picked change shows
    /// the workspace's object, every other path the model's or the workspace's (a change
    /// goes with those it depends on); the workspace does not change, and the discarded list
    /// names every picked path. A full abort then must leave exactly the workspace (checked
    /// by `apply`). Counts a partial abort that discarded a change and kept another.
    fn abort_part(&mut self, picks: &[usize]) {
        self.close_all();
        let mut held = Vec::new();
        let (_, view_inos) = view_entries(self.fx.ov(), &mut held);
        release(self.fx.ov(), held);
        let changes = self.fx.ov().changes().expect("changes");
        if changes.is_empty() {
            return;
        }
        let mut paths: Vec<String> = picks
            .iter()
            .chain(picks.is_empty().then_some(&0))
            .map(|i| changes[i % changes.len()].path.clone())
            .collect();
        paths.sort();
        paths.dedup();
        let filter = crate::txn::Filter::new(&paths).expect("filter");
        let (inval, went) = crate::txn::abort_paths(self.fx.ov(), &filter)
            .unwrap_or_else(|e| panic!("abort of {paths:?}: {e}"));
        for p in &paths {
            assert!(
                went.iter()
                    .any(|c| c.path == *p || c.path.starts_with(&format!("{p}/"))),
                "the partial abort of {paths:?} does not list {p} among what it discarded"
            );
        }
        self.cache_invalidate(&inval);
        let mut held = Vec::new();
        let (view, _) = view_entries(self.fx.ov(), &mut held);
        if !self.hold {
            release(self.fx.ov(), held);
        }
        // Link counts, groups and modification times aside, as for a partial commit.
        let (model, ws) = (self.model.entries(), self.initial.entries());
        let all: std::collections::BTreeSet<&String> =
            view.keys().chain(model.keys()).chain(ws.keys()).collect();
        let (mut discarded, mut kept) = (false, false);
        for path in all {
            let (v, m, w) = (
                loose(view.get(path)),
                loose(model.get(path)),
                loose(ws.get(path)),
            );
            discarded |= v != m;
            kept |= v != w;
            if self.picked(&paths, path, &view_inos) {
                assert_eq!(v, w, "{path}, picked by the partial abort of {paths:?}");
            } else {
                assert!(
                    v == m || v == w,
                    "{path} after the partial abort of {paths:?} is neither as the view was ({m:?}) nor as the workspace ({w:?}): {v:?}"
                );
            }
        }
        assert_eq!(
            self.fx.ws_state(),
            self.ws_before,
            "a partial abort changed the workspace"
        );
        if discarded && kept {
            ABORTED_PART.with(|c| c.set(c.get() + 1));
        }
        // What stays is checked against the model no further: a full abort must now give
        // exactly the workspace.
        self.apply(&Op::Abort);
    }

    /// Writes through every handle a restore revoked, at offset 0: cached handles must be
    /// refused, and what the kernel writes to a detached working file must not show.
    fn rewrite_handles(&mut self) {
        for held in self.handles.clone() {
            if !held.revoked {
                continue;
            }
            let got = held.write(self.fx.ov(), 0, b"revoked");
            let want = if held.direct.is_some() {
                Ok(())
            } else {
                Err(libc::EIO)
            };
            assert_eq!(
                got.map_err(|e| e.errno()),
                want,
                "write through the revoked handle of {:?} after a restore",
                held.ino
            );
        }
    }

    /// Every file object keeps the inode number it was first seen with.
    fn check_inos(&mut self, inos: &BTreeMap<String, Ino>) {
        for (path, node) in &self.model.tree {
            if let MNode::File(id) = node
                && !self.committed_ids.contains(id)
            {
                let ino = inos[path];
                let first = *self.file_inos.entry(*id).or_insert(ino);
                assert_eq!(
                    ino, first,
                    "inode number of {path} (file object {id}) changed"
                );
            }
        }
    }

    /// Releases a handle and the kernel's references that came with it.
    fn close(&mut self, held: Held) -> Result<(), FsError> {
        let ov = self.fx.ov();
        let r = ov.release_handle(held.ino, held.handle());
        release(ov, held.pinned);
        r
    }

    /// Closes every handle (before the overlay is replaced wholesale).
    fn close_all(&mut self) {
        for held in std::mem::take(&mut self.handles) {
            self.close(held).expect("release");
        }
    }

    /// Marks every open handle revoked (before the overlay is restored): a rollback or abort
    /// revokes them all.
    fn revoke_handles(&mut self) {
        for held in &mut self.handles {
            held.revoked = true;
        }
    }

    /// Every open handle reads its file's bytes and reports its link count, named or not.
    fn check_handles(&mut self) {
        let mut names: BTreeMap<usize, u32> = BTreeMap::new();
        for n in self.model.tree.values() {
            if let MNode::File(id) = n {
                *names.entry(*id).or_default() += 1;
            }
        }
        for held in self.handles.clone() {
            if held.revoked {
                continue;
            }
            let (ino, id) = (held.ino, held.id);
            let data = held.read(self.fx.ov());
            assert_eq!(
                data,
                self.model.files[&id].data,
                "bytes read through handle {ino:?} (direct: {})",
                held.direct.is_some()
            );
            let attr = self.fx.ov().getattr(ino).expect("getattr of an open file");
            assert_eq!(attr.size, data.len() as u64, "size of open {ino:?}");
            let nlink = names.get(&id).copied().unwrap_or(0);
            assert_eq!(attr.nlink, nlink, "nlink of open {ino:?}");
        }
    }

    /// Every path where the view differs from the workspace is covered by the change list: it
    /// is listed itself, or lies below an added, renamed or deleted directory.
    fn check_changes(&mut self, view: &BTreeMap<String, Entry>, inos: &BTreeMap<String, Ino>) {
        let changes = self.fx.ov().changes().expect("changes");
        let init = &self.initial_entries;
        for c in &changes {
            let in_view = view.contains_key(&c.path);
            let deleted = c.change == ChangeKind::Deleted;
            assert_eq!(in_view, !deleted, "change {c:?} against the view");
            match &c.change {
                // A deletion names the whiteout's path in the view, which may lie under a
                // renamed directory; the other kinds name workspace paths.
                ChangeKind::Modified | ChangeKind::Metadata => {
                    assert!(
                        init.contains_key(&c.path),
                        "change {c:?} of a path the workspace lacks"
                    );
                }
                ChangeKind::Renamed { from } => {
                    assert!(
                        init.contains_key(from),
                        "change {c:?} from a path the workspace lacks"
                    );
                }
                ChangeKind::Added | ChangeKind::Deleted => {}
            }
        }
        let strip = loose;
        let group = |path: &str| match view.get(path) {
            Some(Entry::File { group, .. }) => Some(group.clone()),
            _ => None,
        };
        for path in view.keys().chain(init.keys()).filter(|p| !p.is_empty()) {
            if strip(view.get(path)) == strip(init.get(path)) {
                continue;
            }
            // A file changed through one of its workspace hard links is listed under that
            // name only: the other workspace names are unknown without a scan, so commit must
            // change the inode in place to reach them. Known gap: once the name that carried
            // the overlay entry is gone, the change is listed under no name at all
            // (`regression_change_through_remaining_lower_hard_link_is_listed`).
            if inos.get(path).is_some_and(|i| self.linked_inos.contains(i)) {
                continue;
            }
            let g = group(path);
            let covered = changes.iter().any(|c| {
                c.path == *path
                    || (g.is_some() && group(&c.path) == g)
                    || (path.starts_with(&format!("{}/", c.path))
                        && matches!(
                            c.change,
                            ChangeKind::Added | ChangeKind::Renamed { .. } | ChangeKind::Deleted
                        ))
            });
            assert!(
                covered,
                "{path} differs from the workspace but no change covers it: {changes:?}"
            );
        }
    }

    /// The view equals the model, and the workspace is untouched.
    fn check(&mut self) {
        let mut held = Vec::new();
        let (mut view, inos) = view_entries(self.fx.ov(), &mut held);
        if !self.hold {
            release(self.fx.ov(), held);
        }
        let want = self.model.entries();
        // Modification times are only known for files never written.
        for (path, w) in &want {
            if let (Entry::File { mtime: None, .. }, Some(Entry::File { mtime, .. })) =
                (w, view.get_mut(path))
            {
                *mtime = None;
            }
        }
        assert_eq!(view, want, "the view differs from the model");
        if let Some(cache) = &mut self.dcache {
            for (path, ino) in cache.iter() {
                assert_eq!(
                    inos.get(path).or((path.is_empty()).then_some(&ROOT)),
                    Some(ino),
                    "the kernel's cached dentry {path} is stale"
                );
            }
            for (path, ino) in &inos {
                cache.entry(path.clone()).or_insert(*ino);
            }
        }
        self.check_handles();
        self.check_changes(&view, &inos);
        self.check_inos(&inos);
        assert_eq!(
            self.fx.ws_state(),
            self.ws_before,
            "the workspace changed (invariant 1)"
        );
    }
}

/// Runs `ops` from `seed` under each kind of simulated kernel.
fn run(seed: &Seed, ops: &[Op]) {
    for kernel in [Kernel::Forgets, Kernel::Keeps, Kernel::Caches] {
        let mut case = Case::new(seed, kernel);
        case.check();
        for op in ops {
            case.apply(op);
        }
    }
}

fn seed_strategy() -> impl Strategy<Value = Seed> {
    let file = (
        0..3usize,
        0..NAMES.len(),
        proptest::collection::vec(any::<u8>(), 0..24),
        0..PERMS.len(),
    );
    (
        proptest::collection::vec(file, 0..5),
        proptest::collection::vec(any::<u8>(), 0..16),
    )
        .prop_map(|(files, linked)| Seed { files, linked })
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let idx = || 0..64usize;
    let mode = prop_oneof![
        3 => Just(RenameMode::Replace),
        1 => Just(RenameMode::NoReplace),
        1 => Just(RenameMode::Exchange),
    ];
    prop_oneof![
        4 => (idx(), 0..48usize, proptest::collection::vec(any::<u8>(), 0..12))
            .prop_map(|(file, offset, data)| Op::Write { file, offset, data }),
        3 => (idx(), idx()).prop_map(|(dir, name)| Op::Create { dir, name }),
        2 => (idx(), idx()).prop_map(|(dir, name)| Op::Mkdir { dir, name }),
        3 => idx().prop_map(|target| Op::Unlink { target }),
        2 => idx().prop_map(|target| Op::Rmdir { target }),
        4 => (idx(), idx(), idx(), mode)
            .prop_map(|(src, dir, name, mode)| Op::Rename { src, dir, name, mode }),
        2 => (idx(), 0..40usize).prop_map(|(file, size)| Op::Truncate { file, size }),
        2 => (idx(), idx(), idx()).prop_map(|(file, dir, name)| Op::Link { file, dir, name }),
        1 => (idx(), idx(), idx())
            .prop_map(|(dir, name, target)| Op::Symlink { dir, name, target }),
        2 => (idx(), idx()).prop_map(|(target, perm)| Op::Chmod { target, perm }),
        1 => (idx(), idx(), any::<u8>())
            .prop_map(|(file, name, value)| Op::SetXattr { file, name, value }),
        1 => (idx(), idx()).prop_map(|(file, name)| Op::RemoveXattr { file, name }),
        1 => (idx(), 0..48usize, 1..24usize)
            .prop_map(|(file, offset, len)| Op::Fallocate { file, offset, len }),
        1 => (idx(), 0..2_000_000_000i64).prop_map(|(file, sec)| Op::SetMtime { file, sec }),
        2 => (idx(), any::<bool>()).prop_map(|(file, direct)| Op::Open { file, direct }),
        2 => (idx(), 0..48usize, proptest::collection::vec(any::<u8>(), 0..12))
            .prop_map(|(handle, offset, data)| Op::HandleWrite { handle, offset, data }),
        1 => idx().prop_map(|handle| Op::Close { handle }),
        1 => Just(Op::Checkpoint),
        1 => idx().prop_map(|to| Op::Rollback { to }),
        1 => Just(Op::Abort),
        1 => Just(Op::Reopen),
        1 => commit_strategy(),
    ]
}

/// A full commit (no picks) or a partial one.
fn commit_strategy() -> impl Strategy<Value = Op> {
    proptest::collection::vec(0..64usize, 0..3).prop_map(|picks| Op::Commit { picks })
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Any sequence of operations leaves the view equal to the model and the workspace as it was.
    #[test]
    fn view_matches_model(
        seed in seed_strategy(),
        ops in proptest::collection::vec(op_strategy(), 1..40),
    ) {
        run(&seed, &ops);
    }
}

/// Commits, full and partial, against the model, with commits frequent enough that the
/// generated cases publish changes both ways (asserted: the checks cannot pass vacuously).
#[test]
fn commits_match_the_model() {
    use proptest::test_runner::TestRunner;
    COMMITTED.with(|c| c.set((0, 0)));
    let mut runner = TestRunner::new(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let ops = prop_oneof![5 => op_strategy(), 2 => commit_strategy()];
    runner
        .run(
            &(seed_strategy(), proptest::collection::vec(ops, 1..30)),
            |(seed, ops)| {
                run(&seed, &ops);
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let (full, partial) = COMMITTED.with(|c| c.get());
    assert!(
        full > 0 && partial > 0,
        "the cases made {full} full and {partial} partial commits with changes: the commit checks proved nothing"
    );
}

/// Partial aborts (`abort_paths`) against the model: random operations, then the changes
/// under some paths discarded (see `Case::abort_part`); asserted to have discarded a change
/// while keeping another in some cases, so the check cannot pass vacuously.
#[test]
fn partial_aborts_match_the_model() {
    use proptest::test_runner::TestRunner;
    ABORTED_PART.with(|c| c.set(0));
    let mut runner = TestRunner::new(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let ops = prop_oneof![6 => op_strategy(), 1 => commit_strategy()];
    let picks = proptest::collection::vec(0..64usize, 1..3);
    runner
        .run(
            &(
                seed_strategy(),
                proptest::collection::vec(ops, 1..30),
                picks,
            ),
            |(seed, ops, picks)| {
                for kernel in [Kernel::Forgets, Kernel::Keeps, Kernel::Caches] {
                    let mut case = Case::new(&seed, kernel);
                    case.check();
                    for op in &ops {
                        case.apply(op);
                    }
                    case.abort_part(&picks);
                }
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let n = ABORTED_PART.with(|c| c.get());
    assert!(
        n > 0,
        "no partial abort discarded a change while keeping another: the partial abort checks proved nothing"
    );
}

// Shrunk failures of `view_matches_model`, pinned. Each names the bug it found.

fn empty_seed() -> Seed {
    Seed {
        files: vec![],
        linked: vec![],
    }
}

/// Copying up one name of a hard-linked workspace file reported nlink 1 for both names.
#[test]
fn regression_copy_up_keeps_lower_hard_link_count() {
    run(
        &empty_seed(),
        &[Op::SetXattr {
            file: 0,
            name: 0,
            value: 0,
        }],
    );
}

/// Setting an xattr panicked: a node's xattrs (byte-string names) could not be encoded as JSON.
#[test]
fn regression_setxattr_encodes_byte_string_names() {
    run(
        &empty_seed(),
        &[
            Op::Create { dir: 0, name: 0 },
            Op::SetXattr {
                file: 0,
                name: 0,
                value: 0,
            },
            Op::Reopen,
        ],
    );
}

/// A zero-byte write at an offset past the end grew the size attribute but not the file.
#[test]
fn regression_empty_write_changes_nothing() {
    run(
        &empty_seed(),
        &[Op::Write {
            file: 0,
            offset: 1,
            data: vec![],
        }],
    );
}

/// Unlinking one name of a hard-linked workspace file left nlink 2 on the other name.
#[test]
fn regression_unlink_of_lower_hard_link_counts_down() {
    run(&empty_seed(), &[Op::Unlink { target: 0 }]);
}

/// Renaming a directory onto a file inside itself failed with ENOTDIR, not EINVAL: the
/// ancestor check came after the type checks.
#[test]
fn regression_rename_dir_into_itself_is_einval_first() {
    let seed = Seed {
        files: vec![(2, 3, vec![], 0)],
        linked: vec![],
    };
    run(
        &seed,
        &[
            Op::Rmdir { target: 0 },
            Op::Rename {
                src: 2,
                dir: 2,
                name: 3,
                mode: RenameMode::Replace,
            },
        ],
    );
}

/// Known gap, not fixed: `d/e/a` renamed over `d/b` (one name of the workspace pair `b` =
/// `d/b`), then `b` chmodded. The node of the pair has no overlay entry left, so `changes()`,
/// which walks overlay entries, lists no change for `b` and a commit would lose the chmod.
#[test]
#[ignore = "known gap: changes() cannot reach a node named only by workspace hard links"]
fn regression_change_through_remaining_lower_hard_link_is_listed() {
    let seed = Seed {
        files: vec![(2, 0, vec![], 0)],
        linked: vec![],
    };
    let mut case = Case::new(&seed, Kernel::Keeps);
    for op in [
        Op::Rename {
            src: 5,
            dir: 1,
            name: 1,
            mode: RenameMode::Replace,
        },
        Op::Chmod { target: 1, perm: 2 },
    ] {
        case.apply(&op);
    }
    let changes = case.fx.ov().changes().expect("changes");
    assert!(
        changes.iter().any(|c| c.path == "b"),
        "the chmod of b is missing from {changes:?}"
    );
}

/// Writing through a handle opened as `b` failed with ESTALE: looking up `d/b` (the same
/// workspace inode) re-pointed the inode to parent `d`, which the kernel then forgot.
#[test]
fn regression_copy_up_through_a_hard_link_whose_other_parent_was_forgotten() {
    let seed = Seed {
        files: vec![(2, 0, vec![], 0), (1, 2, vec![], 0)],
        linked: vec![],
    };
    run(
        &seed,
        &[
            Op::Open {
                file: 0,
                direct: false,
            },
            Op::HandleWrite {
                handle: 0,
                offset: 0,
                data: vec![0],
            },
        ],
    );
}

/// After an abort, a workspace file unlinked while open reported nlink 0 through its
/// handle, though the view showed it again.
#[test]
fn regression_abort_relinks_a_held_workspace_file() {
    let seed = Seed {
        files: vec![(0, 0, vec![1], 0)],
        linked: vec![],
    };
    run(
        &seed,
        &[
            Op::Open {
                file: 0,
                direct: false,
            },
            Op::Unlink { target: 0 },
            Op::Abort,
        ],
    );
}

/// After an abort, reading a workspace file that was open and copied up failed with ESTALE:
/// its node was gone and nothing pointed the inode back at the workspace file.
#[test]
fn regression_abort_keeps_an_open_workspace_file_readable() {
    run(
        &empty_seed(),
        &[
            Op::Open {
                file: 0,
                direct: false,
            },
            Op::HandleWrite {
                handle: 0,
                offset: 0,
                data: vec![0],
            },
            Op::Abort,
        ],
    );
}

/// A file the kernel writes directly stays unsealed while it is open, whatever sealed it
/// before: the open, a checkpoint meanwhile, or the bytes a rollback put back. Each rollback
/// below would otherwise take the later bytes for the checkpoint's and keep them.
#[test]
fn direct_writes_between_checkpoints_roll_back() {
    let write = |data: u8| Op::HandleWrite {
        handle: 0,
        offset: 0,
        data: vec![data],
    };
    run(
        &empty_seed(),
        &[
            Op::Write {
                file: 0,
                offset: 0,
                data: vec![1],
            },
            Op::Checkpoint,
            Op::Open {
                file: 0,
                direct: true,
            },
            write(2),
            Op::Rollback { to: 0 },
            write(3),
            Op::Checkpoint,
            write(4),
            Op::Checkpoint,
            write(5),
            Op::Rollback { to: 2 },
            write(6),
            Op::Rollback { to: 2 },
        ],
    );
}

/// One name of the workspace pair deleted, the other's xattrs changed, then a partial commit.
#[test]
fn regression_partial_commit_of_a_pair_with_a_deleted_name() {
    run(
        &empty_seed(),
        &[
            Op::Unlink { target: 10 },
            Op::SetXattr {
                file: 0,
                name: 0,
                value: 0,
            },
            Op::Commit { picks: vec![0] },
        ],
    );
}

/// A commit that re-links the workspace pair through `d`, then a deletion in `d` and a
/// partial commit.
#[test]
fn regression_partial_commit_after_a_commit_relinked_a_pair() {
    run(
        &empty_seed(),
        &[
            Op::Unlink { target: 16 },
            Op::Truncate { file: 0, size: 0 },
            Op::Commit { picks: vec![] },
            Op::Unlink { target: 26 },
            Op::Commit { picks: vec![9, 24] },
        ],
    );
}

/// Renames, deletions and a partial commit, then a full one.
#[test]
fn regression_full_commit_after_a_partial_one() {
    let seed = Seed {
        files: vec![(1, 2, vec![], 0), (2, 0, vec![], 0)],
        linked: vec![],
    };
    run(
        &seed,
        &[
            Op::Rename {
                src: 45,
                dir: 33,
                name: 52,
                mode: RenameMode::Replace,
            },
            Op::Unlink { target: 48 },
            Op::Unlink { target: 5 },
            Op::Commit { picks: vec![44] },
            Op::Commit { picks: vec![] },
        ],
    );
}

/// A workspace name stashed below a path that the commit fills anew was refused as an
/// invalid plan ("comes before its placed parent").
#[test]
fn regression_stash_below_a_path_placed_anew() {
    let seed = Seed {
        files: vec![(2, 1, vec![], 0)],
        linked: vec![],
    };
    run(
        &seed,
        &[
            Op::Rename {
                src: 37,
                dir: 4,
                name: 2,
                mode: RenameMode::Replace,
            },
            Op::Rename {
                src: 7,
                dir: 45,
                name: 4,
                mode: RenameMode::Replace,
            },
            Op::Rename {
                src: 2,
                dir: 3,
                name: 3,
                mode: RenameMode::Replace,
            },
            Op::Commit { picks: vec![] },
            Op::Write {
                file: 0,
                offset: 0,
                data: vec![123],
            },
            Op::Unlink { target: 29 },
        ],
    );
}

/// A directory whose entries a partial commit changed stays in the overlay with its old
/// stamp, and the next commit took the commit's own change for an outside one.
#[test]
fn regression_a_partial_commit_restamps_what_stays() {
    let seed = Seed {
        files: vec![(2, 0, vec![], 0)],
        linked: vec![],
    };
    run(
        &seed,
        &[
            Op::Unlink { target: 5 },
            Op::Commit { picks: vec![0] },
            Op::Rename {
                src: 4,
                dir: 16,
                name: 27,
                mode: RenameMode::Replace,
            },
            Op::Commit { picks: vec![] },
        ],
    );
}
