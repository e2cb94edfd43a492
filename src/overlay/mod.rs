//! The copy-on-write namespace over the workspace: what the view shows.
//!
//! The overlay answers every file-system question in terms of inode numbers, as the kernel
//! asks them, and knows nothing of FUSE. An object the view has not changed is served from the
//! workspace (the lower directory) directly; the first change copies its *metadata* up into an
//! overlay [`Node`] (a directory's entries keep showing through from the workspace, a file's
//! bytes keep coming from the workspace file), and the first write copies its bytes into a
//! working file. Deletions are whiteouts; renames are entry moves, never subtree copies.
//!
//! **Architecture invariant:** the workspace is never written here. Every change lives in the
//! overlay's memory and reaches the workspace only through a commit (`txn`). A change to the
//! namespace, xattrs, or the attributes of a file no handle holds open is recorded in `meta`
//! before the call returns (one operation-log record per call); the size and times a write
//! leaves, and attributes set on an open file, only mark the node dirty until a release,
//! `fsync` or seal writes them through (`docs/ARCHITECTURE.md` lists each case).
//!
//! **Invariant:** every overlay node with `links > 0` is reachable from [`ROOT`] through
//! overlay directory entries, so a walk from the root finds every change.
//!
//! Deliberately not here: sealing checkpoints and publishing commits (`state.rs` builds the
//! snapshots, `changes.rs` the change lists; `txn` applies them), and kernel cache
//! invalidation (`fuse`).
//!
//! Longer than 500 lines on purpose: this file is the overlay's shared core (the state, its
//! loading and recording, the error type with its errno mapping, inode allocation); each
//! operation family lives in its own file (`namespace`, `data`, `xattr`, `state`, `changes`,
//! `reports`).

mod changes;
mod data;
mod engine;
mod lower;
mod namespace;
mod reports;
mod state;
mod types;
mod xattr;

#[cfg(test)]
mod tests;

pub use changes::{Change, ChangeKind};
pub use data::{Access, HANDLE_STAMP_BITS, Handle};
pub use lower::{Lower, Stat, is_absent, stamp_of};
pub use namespace::NewNode;
pub use state::{Invalidation, Snapshot};
pub use types::*;
pub use xattr::ACL_ACCESS;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::meta::{Db, MetaError, Row};
use crate::store::{BlobStore, Reserve, StoreError, WorkDir};
use data::Direct;

/// The longest name a directory entry may have.
pub const NAME_MAX: usize = 255;

/// The overlay shared between the kernel's request threads and the control socket.
pub type Shared = Arc<Mutex<Overlay>>;

/// Locks the overlay; a poisoned lock (a panic elsewhere) still yields the state, since
/// every overlay call leaves memory consistent with the store before it can panic.
pub fn lock(shared: &Shared) -> MutexGuard<'_, Overlay> {
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How many inode numbers are reserved in the database at a time.
const INO_BATCH: u64 = 4096;

/// Errors of overlay operations; each maps to one errno.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("no such file or directory")]
    NotFound,
    #[error("file exists")]
    Exists,
    #[error("not a directory")]
    NotDir,
    #[error("is a directory")]
    IsDir,
    #[error("directory not empty")]
    NotEmpty,
    #[error("file name too long")]
    NameTooLong,
    #[error("invalid argument")]
    Invalid,
    #[error("no such attribute")]
    NoAttr,
    #[error("operation not supported")]
    NotSupported,
    #[error("stale file handle: the inode is gone after a rollback, abort or commit")]
    Stale,
    #[error("the file handle was revoked by a rollback or abort")]
    Revoked,
    #[error("workspace {op} {path}: {source}")]
    Lower {
        op: &'static str,
        path: String,
        source: io::Error,
    },
    #[error("working file of inode {ino}: {source}")]
    Work { ino: u64, source: io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error("snapshot {what}: {detail}")]
    Snapshot { what: String, detail: String },
}

impl FsError {
    /// The errno this error stands for.
    pub fn errno(&self) -> i32 {
        match self {
            FsError::NotFound => libc::ENOENT,
            FsError::Exists => libc::EEXIST,
            FsError::NotDir => libc::ENOTDIR,
            FsError::IsDir => libc::EISDIR,
            FsError::NotEmpty => libc::ENOTEMPTY,
            FsError::NameTooLong => libc::ENAMETOOLONG,
            FsError::Invalid => libc::EINVAL,
            FsError::NoAttr => libc::ENODATA,
            FsError::NotSupported => libc::EOPNOTSUPP,
            FsError::Stale => libc::ESTALE,
            FsError::Revoked => libc::EIO,
            FsError::Lower { source, .. } | FsError::Work { source, .. } => {
                source.raw_os_error().unwrap_or(libc::EIO)
            }
            FsError::Store(e) => e.raw_os_error().unwrap_or(libc::EIO),
            FsError::Meta(e) => {
                if e.is_disk_full() {
                    libc::ENOSPC
                } else {
                    libc::EIO
                }
            }
            FsError::Snapshot { .. } => libc::EIO,
        }
    }
}

fn lower_err<'a>(op: &'static str, path: &'a RelPath) -> impl FnOnce(io::Error) -> FsError + 'a {
    move |source| FsError::Lower {
        op,
        path: path.display(),
        source,
    }
}

fn work_err(ino: Ino) -> impl FnOnce(io::Error) -> FsError {
    move |source| FsError::Work { ino: ino.0, source }
}

/// What the kernel holds of a workspace object the overlay has not copied up.
#[derive(Debug, Clone)]
struct LowerRef {
    path: RelPath,
    parent: Ino,
    name: Vec<u8>,
    /// Deleted through the view while still referenced (reports nlink 0).
    unlinked: bool,
    /// The other names (parent, name, path) the kernel looked this inode up by: the names of
    /// a workspace hard link. Copy-up falls back to one of them when the kernel has forgotten
    /// `parent`, which it may while another name keeps the inode alive.
    others: Vec<(Ino, Vec<u8>, RelPath)>,
}

/// A row change waiting to be recorded at the end of the current operation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Pending {
    Node(Ino),
    Dentry(Ino, Vec<u8>),
}

/// The overlay: its state in memory, written through to the store.
#[derive(Debug)]
pub struct Overlay {
    lower: Lower,
    db: Db,
    blobs: BlobStore,
    work: WorkDir,
    reserve: Reserve,
    nodes: HashMap<Ino, Node>,
    dirs: HashMap<Ino, BTreeMap<Vec<u8>, Dentry>>,
    refs: HashMap<Ino, LowerRef>,
    lookups: HashMap<Ino, u64>,
    open: HashMap<Ino, u32>,
    /// Of the open handles, those whose bytes the kernel moves itself (see `Access::Direct`).
    direct: HashMap<Ino, Direct>,
    files: HashMap<Ino, Arc<File>>,
    pending: Vec<Pending>,
    /// Nodes whose attributes changed by data writes and are not yet written through.
    dirty: HashSet<Ino>,
    next_ino: u64,
    reserved_ino: u64,
    /// How many rollbacks and aborts this overlay has made: handles opened before the
    /// latest one are revoked (see [`Overlay::restores`]).
    restores: u64,
    /// The generation of each inode number whose handles a restore revoked (others: 0).
    generations: HashMap<Ino, u64>,
}

/// The parts of a store the overlay works with.
#[derive(Debug)]
pub struct Parts {
    pub lower: Lower,
    pub db: Db,
    pub blobs: BlobStore,
    pub work: WorkDir,
    pub reserve: Reserve,
}

impl Overlay {
    /// Opens the overlay over `parts.lower`, loading the live overlay from the database.
    /// Orphans (nodes no entry names, left by a crash while files were open) are dropped.
    pub fn open(parts: Parts) -> Result<Overlay, FsError> {
        let Parts {
            lower,
            db,
            blobs,
            work,
            reserve,
        } = parts;
        let mut ov = Overlay {
            lower,
            db,
            blobs,
            work,
            reserve,
            nodes: HashMap::new(),
            dirs: HashMap::new(),
            refs: HashMap::new(),
            lookups: HashMap::new(),
            open: HashMap::new(),
            direct: HashMap::new(),
            files: HashMap::new(),
            pending: Vec::new(),
            dirty: HashSet::new(),
            next_ino: FIRST_NEW_INO,
            reserved_ino: FIRST_NEW_INO,
            restores: 0,
            generations: HashMap::new(),
        };
        ov.load()?;
        Ok(ov)
    }

    /// (Re)loads the in-memory state from the database.
    fn load(&mut self) -> Result<(), FsError> {
        self.load_state()?;
        self.repair()
    }

    /// Reads the in-memory state from the database, writing nothing (so it can restore the
    /// memory after a failed write, a full disk say).
    fn load_state(&mut self) -> Result<(), FsError> {
        let rows = self.db.load_overlay()?;
        let mut nodes = HashMap::new();
        for row in rows.nodes {
            let node: Node = decode(&row.body, "node")?;
            nodes.insert(Ino(row.ino), node);
        }
        let mut dirs: HashMap<Ino, BTreeMap<Vec<u8>, Dentry>> = HashMap::new();
        for row in rows.dentries {
            let d: Dentry = decode(&row.body, "dentry")?;
            dirs.entry(Ino(row.dir)).or_default().insert(row.name, d);
        }
        self.nodes = nodes;
        self.dirs = dirs;
        self.files.clear();
        self.dirty.clear();
        self.pending.clear();
        let stored = rows.next_ino.unwrap_or(FIRST_NEW_INO);
        let max_node = self.nodes.keys().map(|i| i.0 + 1).max().unwrap_or(0);
        self.next_ino = stored.max(max_node).max(self.next_ino);
        self.reserved_ino = self.next_ino;
        Ok(())
    }

    /// Repairs what a crash can leave, once, when the overlay is opened: a missing root,
    /// orphans (nodes no entry names any more, held open when the daemon died), attributes
    /// behind their working files, and working files no node owns.
    fn repair(&mut self) -> Result<(), FsError> {
        if !self.nodes.contains_key(&ROOT) {
            let root = self.root_node()?;
            self.nodes.insert(ROOT, root);
            self.dirs.entry(ROOT).or_default();
            self.touch_node(ROOT);
            self.write_pending()?;
        }
        let orphans: Vec<Ino> = self
            .nodes
            .iter()
            .filter(|(i, n)| **i != ROOT && n.links == 0)
            .map(|(i, _)| *i)
            .collect();
        for ino in orphans {
            self.drop_node(ino)?;
        }
        self.write_pending()?;
        // A working file is ahead of its row when the daemon died between a write and the
        // release that writes the attributes through: its size is the truth.
        let work: Vec<Ino> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.data == Data::Work)
            .map(|(i, _)| *i)
            .collect();
        for ino in work {
            let size = std::fs::metadata(self.work.path(ino.0)).map(|m| m.len());
            if let (Ok(size), Some(node)) = (size, self.nodes.get_mut(&ino))
                && node.attr.size != size
            {
                node.attr.size = size;
                node.sealed = None;
                self.pending.push(Pending::Node(ino));
            }
        }
        self.write_pending()?;
        for ino in self.work.list()? {
            let live = self
                .nodes
                .get(&Ino(ino))
                .is_some_and(|n| n.data == Data::Work);
            if !live {
                self.work.doom(ino);
            }
        }
        Ok(())
    }

    /// A fresh root node: the workspace root, shown through.
    fn root_node(&self) -> Result<Node, FsError> {
        let root = RelPath::default();
        let st = self
            .lower
            .stat(&root)
            .map_err(lower_err("stat", &root))?
            .ok_or(FsError::NotFound)?;
        let attr = attr_of(&st, ROOT);
        Ok(Node {
            attr,
            links: 1,
            data: Data::None,
            target: None,
            merge: Some(root.clone()),
            origin: Some(Origin {
                path: root,
                stamp: stamp_of(&st),
            }),
            xattrs: None,
            sealed: None,
        })
    }

    /// How many overlay nodes there are, besides the root.
    pub fn node_count(&self) -> usize {
        self.nodes.len() - 1
    }

    /// Records that `ino`'s row must be written in this operation's transaction.
    fn touch_node(&mut self, ino: Ino) {
        self.pending.push(Pending::Node(ino));
    }

    fn touch_dentry(&mut self, dir: Ino, name: &[u8]) {
        self.pending.push(Pending::Dentry(dir, name.to_vec()));
    }

    /// Writes every pending row in one transaction. On failure (a full disk, say) the memory
    /// is reloaded from the database, so the view never shows what the store does not hold.
    fn write_pending(&mut self) -> Result<(), FsError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let mut seen = HashSet::new();
        let mut rows = Vec::with_capacity(pending.len() + 1);
        for p in &pending {
            if !seen.insert(p) {
                continue;
            }
            rows.push(match p {
                Pending::Node(ino) => Row::Node {
                    ino: ino.0,
                    body: self.nodes.get(ino).map(encode),
                },
                Pending::Dentry(dir, name) => Row::Dentry {
                    dir: dir.0,
                    name: name.clone(),
                    body: self.dirs.get(dir).and_then(|d| d.get(name)).map(encode),
                },
            });
        }
        let reserve = self.next_ino > self.reserved_ino;
        if reserve {
            rows.push(Row::NextIno(self.next_ino + INO_BATCH));
        }
        match self.db.record(&rows) {
            Ok(()) => {
                if reserve {
                    self.reserved_ino = self.next_ino + INO_BATCH;
                }
                Ok(())
            }
            Err(e) => {
                self.load_state()?;
                Err(e.into())
            }
        }
    }

    /// Writes the attributes changed by data writes (on flush, fsync and release).
    pub fn flush(&mut self) -> Result<(), FsError> {
        for ino in std::mem::take(&mut self.dirty) {
            self.touch_node(ino);
        }
        self.write_pending()
    }

    /// Writes everything pending and folds the operation log into the database tables, so
    /// the database file alone holds the overlay (at a clean unmount).
    pub fn settle(&mut self) -> Result<(), FsError> {
        self.flush()?;
        Ok(self.db.fold()?)
    }

    fn alloc_ino(&mut self) -> Ino {
        let ino = Ino(self.next_ino);
        self.next_ino += 1;
        ino
    }

    /// Removes a node (no entry names it any more and nothing holds it).
    fn drop_node(&mut self, ino: Ino) -> Result<(), FsError> {
        if let Some(node) = self.nodes.remove(&ino) {
            if node.data == Data::Work {
                self.work.doom(ino.0);
            }
            if let Some(entries) = self.dirs.remove(&ino) {
                for (name, d) in entries {
                    if let Dentry::Child(child) = d
                        && let Some(c) = self.nodes.get_mut(&child)
                    {
                        c.links = c.links.saturating_sub(1);
                        self.touch_node(child);
                    }
                    let _ = name;
                }
            }
            self.files.remove(&ino);
            self.touch_node(ino);
        }
        Ok(())
    }

    /// Drops `ino` if nothing names or holds it any more.
    fn maybe_drop(&mut self, ino: Ino) -> Result<(), FsError> {
        let unnamed = self.nodes.get(&ino).is_some_and(|n| n.links == 0);
        let held = self.lookups.get(&ino).copied().unwrap_or(0) > 0
            || self.open.get(&ino).copied().unwrap_or(0) > 0;
        if unnamed && !held && ino != ROOT {
            self.drop_node(ino)?;
        }
        Ok(())
    }

    /// The kernel forgets `n` lookups of `ino`.
    pub fn forget(&mut self, ino: Ino, n: u64) {
        let left = match self.lookups.get_mut(&ino) {
            Some(c) => {
                *c = c.saturating_sub(n);
                *c
            }
            None => 0,
        };
        if left == 0 && ino != ROOT {
            self.lookups.remove(&ino);
            if self.open.get(&ino).copied().unwrap_or(0) == 0 {
                self.refs.remove(&ino);
                self.files.remove(&ino);
            }
            // The dropped node's row goes with the next record (a removal's FORGET then
            // costs no write of its own, an `rm -rf` one record per file): until then the row
            // is an orphan's, which the next load drops, as it drops one a failure left here.
            let _ = self.maybe_drop(ino);
        }
    }

    fn add_lookup(&mut self, ino: Ino) {
        *self.lookups.entry(ino).or_insert(0) += 1;
    }

    /// The attributes of `ino`.
    pub fn getattr(&self, ino: Ino) -> Result<Attr, FsError> {
        let mut attr = self.getattr_now(ino)?;
        attr.generation = self.generation(ino);
        Ok(attr)
    }

    /// How many rollbacks and aborts have replaced the overlay. A handle opened when this was
    /// lower is revoked: its writes must not reach the restored state (`fuse` refuses them
    /// with EIO, and the kernel's file of a passed-through one was detached).
    pub fn restores(&self) -> u64 {
        self.restores
    }

    /// The generation of inode number `ino`: raised each time a restore detached its
    /// passed-through working file (see [`Overlay::restore`]).
    pub fn generation(&self, ino: Ino) -> u64 {
        self.generations.get(&ino).copied().unwrap_or(0)
    }

    fn getattr_now(&self, ino: Ino) -> Result<Attr, FsError> {
        if let Some(node) = self.nodes.get(&ino) {
            let mut attr = node_attr(ino, node);
            // What the working file really allocates, so holes show (du, tar -S, cp --sparse).
            if node.data == Data::Work
                && let Ok(m) = match self.files.get(&ino) {
                    // An open working file answers without a path lookup.
                    Some(f) => f.metadata(),
                    None => std::fs::metadata(self.work.path(ino.0)),
                }
            {
                attr.blocks = std::os::unix::fs::MetadataExt::blocks(&m);
                self.written_attrs(ino, &mut attr, &m);
            }
            // A sealed file allocates what its blob does (a restored sparse file stays sparse).
            if let Data::Blob(id) = node.data
                && attr.size > 0
                && let Ok(m) = std::fs::metadata(self.blobs.path(id))
            {
                attr.blocks = std::os::unix::fs::MetadataExt::blocks(&m);
            }
            return Ok(attr);
        }
        let r = self.refs.get(&ino).ok_or(FsError::Stale)?;
        let st = self
            .lower
            .stat(&r.path)
            .map_err(lower_err("stat", &r.path))?
            .ok_or(FsError::Stale)?;
        let mut attr = attr_of(&st, ino);
        if r.unlinked {
            attr.nlink = 0;
        }
        Ok(attr)
    }

    /// Filesystem statistics (those of the workspace's filesystem).
    pub fn statfs(&self) -> Result<FsStats, FsError> {
        let st = self
            .lower
            .statvfs()
            .map_err(lower_err("statvfs", &RelPath::default()))?;
        Ok(FsStats {
            blocks: st.f_blocks,
            bfree: st.f_bfree,
            bavail: st.f_bavail,
            files: st.f_files,
            ffree: st.f_ffree,
            bsize: st.f_bsize as u32,
            namelen: NAME_MAX as u32,
            frsize: st.f_frsize as u32,
        })
    }
}

/// The attributes of an overlay node.
fn node_attr(ino: Ino, node: &Node) -> Attr {
    let mut attr = node.attr.clone();
    attr.ino = ino;
    attr.nlink = if node.attr.kind == Kind::Dir {
        attr.nlink.max(if node.links == 0 { 0 } else { 1 })
    } else {
        node.links
    };
    if node.attr.kind == Kind::Dir && node.links == 0 {
        attr.nlink = 0;
    }
    attr.blocks = attr.size.div_ceil(512);
    attr
}

/// The view's attributes of a workspace object, reported as inode `ino`.
fn attr_of(st: &Stat, ino: Ino) -> Attr {
    Attr {
        ino,
        kind: Kind::from_mode(st.st_mode).unwrap_or(Kind::File),
        perm: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
        size: st.st_size as u64,
        blocks: st.st_blocks as u64,
        atime: Time::from_parts(st.st_atime, st.st_atime_nsec),
        mtime: Time::from_parts(st.st_mtime, st.st_mtime_nsec),
        ctime: Time::from_parts(st.st_ctime, st.st_ctime_nsec),
        rdev: st.st_rdev,
        nlink: st.st_nlink as u32,
        generation: 0,
    }
}

fn encode<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("overlay rows are plain data and always serialize")
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, FsError> {
    serde_json::from_slice(bytes).map_err(|e| FsError::Snapshot {
        what: what.to_owned(),
        detail: e.to_string(),
    })
}

/// The stamp of workspace object `path`, whose `lstat` is `st`: what commit expects to find
/// there. A regular file whose ctime falls in the current tick of the file system's clock
/// (or after its start) could change again within that tick and keep every field of the
/// stamp, so its content hash is taken too, and commit compares it in that ambiguous case.
/// A file that cannot be read for hashing keeps a stamp without one.
pub fn stamp_at(lower: &Lower, path: &RelPath, st: &Stat) -> Stamp {
    let mut stamp = stamp_of(st);
    if Kind::from_mode(st.st_mode) == Some(Kind::File) && stamp.ctime >= Time::coarse_now() {
        stamp.hash = lower
            .open_file(path)
            .and_then(|f| crate::store::BlobId::of_file(&f))
            .ok();
    }
    stamp
}

/// Checks a name given by the kernel.
fn check_name(name: &[u8]) -> Result<(), FsError> {
    if name.len() > NAME_MAX {
        return Err(FsError::NameTooLong);
    }
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') {
        return Err(FsError::Invalid);
    }
    Ok(())
}

/// Opens the parts of the store at `store` for the workspace `workspace`, refusing a
/// directory that is neither a store nor empty (see [`crate::store::layout`]).
pub fn open_parts(workspace: &Path, store: &Path) -> Result<Parts, FsError> {
    let lower = Lower::open(workspace).map_err(|source| FsError::Lower {
        op: "open",
        path: workspace.display().to_string(),
        source,
    })?;
    crate::store::layout::claim(store)?;
    let db = Db::open(&store.join("meta.db"), workspace)?;
    let blobs = BlobStore::open(&store.join("blobs"))?;
    let work = WorkDir::open(&store.join("work"))?;
    let reserve = Reserve::open(&store.join("reserve"))?;
    Ok(Parts {
        lower,
        db,
        blobs,
        work,
        reserve,
    })
}
