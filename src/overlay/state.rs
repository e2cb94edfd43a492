//! The overlay as a whole: sealed snapshots (checkpoints) and restoring one (rollback, abort,
//! the reset after a commit). The list of changes against the workspace is `changes.rs`.
//!
//! A snapshot references blobs and workspace files only, never working files, so it stays
//! valid whatever is written afterwards. Sealing costs what changed since the last seal:
//! only working files written since then are hashed into blobs.
//!
//! Longer than 500 lines on purpose: sealing and restoring walk the same node and entry
//! tables with the same helpers (placements, the rebinding of held working files, persisting
//! the whole state), and restoring needs sealing's invariants at hand.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::namespace::Found;
use super::types::*;
use super::{FsError, Handle, LowerRef, Overlay, ROOT, encode};
use crate::meta::{DentryRow, NodeRow};
use crate::store::{BlobId, StoreError, batch};
use std::path::PathBuf;

/// The overlay's whole state at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Snapshot {
    pub nodes: Vec<(Ino, Node)>,
    pub dentries: Vec<(Ino, Vec<u8>, Dentry)>,
    pub next_ino: u64,
}

impl Snapshot {
    /// For every path the overlay has an entry for: `None` for a whiteout, or a fingerprint of
    /// what the path holds (type, content, mode, owner, mtime, link target). Paths missing from
    /// the map show the workspace. Two snapshots differ at a path iff the fingerprints differ.
    pub fn fingerprints(&self) -> BTreeMap<String, Option<String>> {
        self.paths()
            .into_iter()
            .map(|(path, n)| {
                let print = n.map(|n| {
                    format!(
                        "{:?} {:?} {:o} {}:{} {:?} {:?} {:?}",
                        n.attr.kind,
                        n.data,
                        n.attr.perm,
                        n.attr.uid,
                        n.attr.gid,
                        (n.attr.kind != Kind::Dir).then_some(n.attr.mtime),
                        n.target,
                        n.merge
                    )
                });
                (path, print)
            })
            .collect()
    }

    /// For every path the overlay has an entry for: `None` for a whiteout, or the node it
    /// shows. Paths missing from the map show the workspace.
    pub fn paths(&self) -> BTreeMap<String, Option<&Node>> {
        let nodes: HashMap<Ino, &Node> = self.nodes.iter().map(|(i, n)| (*i, n)).collect();
        let mut dirs: HashMap<Ino, Vec<(&Vec<u8>, &Dentry)>> = HashMap::new();
        for (dir, name, d) in &self.dentries {
            dirs.entry(*dir).or_default().push((name, d));
        }
        let mut out = BTreeMap::new();
        let mut stack = vec![(ROOT, RelPath::default())];
        while let Some((dir, at)) = stack.pop() {
            for (name, d) in dirs.get(&dir).map(Vec::as_slice).unwrap_or(&[]) {
                let path = at.join(name);
                match d {
                    Dentry::Whiteout { .. } => {
                        out.insert(path.display(), None);
                    }
                    Dentry::Child(ino) => {
                        let Some(n) = nodes.get(ino) else { continue };
                        out.insert(path.display(), Some(*n));
                        if n.attr.kind == Kind::Dir {
                            stack.push((*ino, path));
                        }
                    }
                }
            }
        }
        out
    }
}

/// What the kernel must forget after the overlay was replaced wholesale.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invalidation {
    pub inodes: Vec<Ino>,
    pub entries: Vec<(Ino, Vec<u8>)>,
}

/// What a file held open for direct I/O keeps when the overlay is replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refill {
    /// The restored bytes (rollback, abort; readers only: writers' files are detached).
    Restored,
    /// Its own bytes (commit).
    Kept,
}

/// How many working files [`Overlay::seal`] holds open at once.
const SEAL_BATCH: usize = 256;

impl Overlay {
    /// Seals every working file changed since its last seal into a blob and returns the state.
    /// Durable on return for the blobs; the caller records the snapshot itself.
    pub fn seal(&mut self) -> Result<Snapshot, FsError> {
        self.flush()?;
        let passing = self.store_blobs(&self.unsealed())?;
        self.write_pending()?;
        Ok(self.snapshot(|ino, n| {
            n.sealed
                .or_else(|| passing.get(&ino).copied())
                .expect("every working file was sealed above")
        }))
    }

    /// The state a commit publishes: as [`Overlay::seal`] returns it, except that working
    /// files only the overlay writes are hashed, not stored. Returns with it the working file
    /// that holds each such id's bytes: it cannot change while the caller holds the overlay
    /// (every write to it is a request to the overlay), so the commit copies from there,
    /// checking the hash as it copies, and no blob is written or read for it (one sync of the
    /// store's file system makes the working files durable, as a seal's did). Files
    /// the kernel may write directly are sealed into blobs as by `seal`. Nothing is recorded
    /// for the hashed files: they stay unsealed, so a commit that fails leaves the overlay as
    /// it was.
    pub fn seal_for_commit(&mut self) -> Result<(Snapshot, HashMap<BlobId, PathBuf>), FsError> {
        self.flush()?;
        let (direct, only_ours): (Vec<Ino>, Vec<Ino>) = self
            .unsealed()
            .into_iter()
            .partition(|ino| self.written_directly(*ino));
        let passing = self.store_blobs(&direct)?;
        self.write_pending()?;
        let mut hashed = HashMap::with_capacity(only_ours.len());
        for batch in only_ours.chunks(SEAL_BATCH) {
            let files = batch
                .iter()
                .map(|&ino| self.backing(ino))
                .collect::<Result<Vec<_>, _>>()?;
            let ids: Vec<std::io::Result<BlobId>> = batch::ordered(
                files.len(),
                |i| BlobId::of_file(&files[i]),
                |ids| ids.collect(),
            );
            if ids.len() < batch.len() {
                return Err(StoreError::Io {
                    op: "read",
                    path: self.work.path(batch[ids.len()].0),
                    source: std::io::Error::other("a hashing thread panicked"),
                }
                .into());
            }
            for (&ino, id) in batch.iter().zip(ids) {
                let id = id.map_err(|source| StoreError::Io {
                    op: "read",
                    path: self.work.path(ino.0),
                    source,
                })?;
                hashed.insert(ino, id);
            }
        }
        // The working files are now all that holds these changes until the commit is
        // applied: durable before the commit is journaled, as a seal's sync made them, so a
        // commit undone after a power loss leaves the overlay every change.
        if !hashed.is_empty() {
            self.work.sync()?;
        }
        let unstored = hashed
            .iter()
            .map(|(ino, id)| (*id, self.work.path(ino.0)))
            .collect();
        let snap = self.snapshot(|ino, n| {
            n.sealed
                .or_else(|| passing.get(&ino).or_else(|| hashed.get(&ino)).copied())
                .expect("every working file was sealed or hashed above")
        });
        Ok((snap, unstored))
    }

    /// The working files changed since their last seal (and those the kernel may be writing
    /// directly, whose seal holds for one snapshot only).
    fn unsealed(&self) -> Vec<Ino> {
        self.nodes
            .iter()
            .filter(|(i, n)| {
                n.data == Data::Work && (n.sealed.is_none() || self.written_directly(**i))
            })
            .map(|(i, _)| *i)
            .collect()
    }

    /// Seals the working files `inos` into blobs, durably, and records their ids, but for
    /// files the kernel may still be writing directly: their ids, which hold for this
    /// snapshot only, are returned instead (the node stays unsealed).
    fn store_blobs(&mut self, inos: &[Ino]) -> Result<HashMap<Ino, BlobId>, FsError> {
        // In batches (bounding the descriptors open at once), several files at a time, with
        // one sync of the store for all of them before any id is recorded.
        let mut sealed = Vec::with_capacity(inos.len());
        for batch in inos.chunks(SEAL_BATCH) {
            let mut files = Vec::with_capacity(batch.len());
            for &ino in batch {
                if self.written_directly(ino) {
                    self.take_written_attrs(ino);
                }
                files.push(self.backing(ino)?);
            }
            let refs: Vec<&std::fs::File> = files.iter().map(|f| &**f).collect();
            let ids = self.blobs.put_files_unsynced(&refs)?;
            sealed.extend(batch.iter().copied().zip(ids));
        }
        if !sealed.is_empty() {
            self.blobs.sync()?;
        }
        // Recorded only now that the blobs are durable.
        let mut passing = HashMap::new();
        for (ino, id) in sealed {
            if self.written_directly(ino) {
                passing.insert(ino, id);
            } else if let Some(n) = self.nodes.get_mut(&ino) {
                n.sealed = Some(id);
            }
            self.touch_node(ino);
        }
        Ok(passing)
    }

    /// The overlay's state as [`Overlay::seal`] would return it, for questions about its
    /// shape only (which paths change, what a commit would stash): nothing is hashed or
    /// written, and working files changed since their last seal stand as
    /// [`crate::store::BlobId::UNSEALED`], a blob no store holds. Costs what the overlay's metadata holds,
    /// whatever the bytes written (`status`).
    pub fn peek(&self) -> Snapshot {
        self.snapshot(|_, n| n.sealed.unwrap_or(crate::store::BlobId::UNSEALED))
    }

    /// The state, with the blob of each working file given by `blob`.
    fn snapshot(&self, blob: impl Fn(Ino, &Node) -> crate::store::BlobId) -> Snapshot {
        let mut nodes: Vec<(Ino, Node)> = self
            .nodes
            .iter()
            .map(|(ino, n)| {
                let mut out = n.clone();
                if n.data == Data::Work {
                    out.data = Data::Blob(blob(*ino, n));
                }
                out.sealed = None;
                (*ino, out)
            })
            .collect();
        nodes.sort_by_key(|(i, _)| *i);
        let mut dentries: Vec<(Ino, Vec<u8>, Dentry)> = self
            .dirs
            .iter()
            .flat_map(|(dir, entries)| {
                entries
                    .iter()
                    .map(|(name, d)| (*dir, name.clone(), d.clone()))
            })
            .collect();
        dentries.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        Snapshot {
            nodes,
            dentries,
            next_ino: self.next_ino,
        }
    }

    /// Replaces the overlay with `snap` (rollback), or with nothing when `snap` is empty
    /// (abort). Working files whose sealed blob is what `snap` wants are kept, so restoring
    /// costs what differs. Returns what the kernel must forget.
    ///
    /// Every handle open now loses the right to write, so nothing written through a
    /// descriptor held across the restore reaches the restored state: [`Overlay::restores`]
    /// moves on, and writes through a handle opened before are refused with EIO (see
    /// [`Overlay::check_handle`]). The kernel writes a passed-through file without asking, so
    /// the working file of an inode with passed-through writers is detached instead (unlinked
    /// from the store: what the kernel still writes there lands in a file nothing shows; the
    /// node gets a new working file at its next write), and the inode gets a new generation:
    /// the kernel's next lookup of it makes the old inode, and every descriptor on it, fail
    /// with EIO, and new opens get a fresh inode that can take the new working file. Readers
    /// keep reading (a passed-through reader's file is refilled with the restored bytes).
    pub fn restore(&mut self, snap: &Snapshot) -> Result<Invalidation, FsError> {
        self.restores += 1;
        let detach: HashSet<Ino> = self
            .direct
            .keys()
            .filter(|i| self.written_directly(**i))
            .copied()
            .collect();
        for ino in &detach {
            *self.generations.entry(*ino).or_insert(0) += 1;
        }
        let inval = self.restore_state(snap, &detach)?;
        self.direct.retain(|ino, _| !detach.contains(ino));
        self.refill_direct(Refill::Restored)?;
        Ok(inval)
    }

    /// [`Overlay::restore`] for part of the overlay: the nodes in `scope` and the entries
    /// `snap` changes take their state from `snap`; every other node keeps its live state
    /// (its working file included, even while the kernel writes it directly), and no handle
    /// is revoked but those of passed-through writers of `scope` (detached as `restore`
    /// does). The caller guarantees that no one else holds `scope` open for writing (a
    /// session rollback: the session's processes are gone, and a path someone else wrote
    /// is not in scope).
    pub fn restore_scoped(
        &mut self,
        snap: &Snapshot,
        scope: &HashSet<Ino>,
    ) -> Result<Invalidation, FsError> {
        self.flush()?;
        let detach: HashSet<Ino> = self
            .direct
            .keys()
            .filter(|i| scope.contains(i) && self.written_directly(**i))
            .copied()
            .collect();
        for ino in &detach {
            *self.generations.entry(*ino).or_insert(0) += 1;
        }
        let mut snap = snap.clone();
        for (ino, node) in &mut snap.nodes {
            if !scope.contains(ino)
                && let Some(live) = self.nodes.get(ino)
            {
                *node = live.clone();
            }
        }
        let inval = self.restore_state(&snap, &detach)?;
        self.direct.retain(|ino, _| !detach.contains(ino));
        self.refill_direct(Refill::Restored)?;
        Ok(inval)
    }

    /// Refuses a handle that a rollback or abort revoked since it was opened.
    pub fn check_handle(&self, handle: Handle) -> Result<(), FsError> {
        if super::data::same_stamp(handle.epoch, self.restores) {
            Ok(())
        } else {
            Err(FsError::Revoked)
        }
    }

    /// `restore` except for the files held open for direct I/O, which keep their working
    /// files unless in `detach` (whose working files go like any other).
    fn restore_state(
        &mut self,
        snap: &Snapshot,
        detach: &HashSet<Ino>,
    ) -> Result<Invalidation, FsError> {
        self.flush()?;
        let old_nodes = std::mem::take(&mut self.nodes);
        let old_dirs = std::mem::take(&mut self.dirs);
        let mut inval = Invalidation::default();
        let mut inodes: HashSet<Ino> = old_nodes.keys().copied().collect();
        let mut entries: HashSet<(Ino, Vec<u8>)> = HashSet::new();
        for (dir, names) in &old_dirs {
            entries.extend(names.keys().map(|n| (*dir, n.clone())));
        }
        let mut kept_work = HashSet::new();
        for (ino, node) in &snap.nodes {
            let mut node = node.clone();
            // A live node `restore_scoped` keeps as it is, working file and all.
            if node.data == Data::Work && old_nodes.contains_key(ino) {
                kept_work.insert(*ino);
            }
            if let (Data::Blob(want), Some(old)) = (&node.data, old_nodes.get(ino))
                && old.data == Data::Work
                && old.sealed == Some(*want)
                && !detach.contains(ino)
            {
                node.sealed = Some(*want);
                node.data = Data::Work;
                kept_work.insert(*ino);
            }
            inodes.insert(*ino);
            if node.attr.kind == Kind::Dir {
                self.dirs.entry(*ino).or_default();
            }
            self.nodes.insert(*ino, node);
        }
        for (dir, name, d) in &snap.dentries {
            entries.insert((*dir, name.clone()));
            self.dirs
                .entry(*dir)
                .or_default()
                .insert(name.clone(), d.clone());
        }
        for (ino, node) in &old_nodes {
            if node.data == Data::Work
                && !kept_work.contains(ino)
                && (detach.contains(ino) || !self.direct.contains_key(ino))
            {
                self.work.doom(ino.0);
            }
        }
        if !self.nodes.contains_key(&ROOT) {
            let root = self.root_node()?;
            self.nodes.insert(ROOT, root);
            self.dirs.entry(ROOT).or_default();
        }
        self.next_ino = self.next_ino.max(snap.next_ino);
        self.files.clear();
        self.dirty.clear();
        self.pending.clear();
        self.rebind_refs(&old_nodes);
        self.persist_all()?;
        inval.inodes = inodes.into_iter().collect();
        inval.entries = entries.into_iter().collect();
        Ok(inval)
    }

    /// Empties the overlay after a commit published it: the view shows the workspace again,
    /// and every object the kernel still holds is served from its new workspace path
    /// (`placed`: inode, parent, name, path after the commit).
    pub fn reset_to_workspace(
        &mut self,
        placed: &[(Ino, Ino, Vec<u8>, RelPath)],
    ) -> Result<Invalidation, FsError> {
        self.reset_after_commit(&Snapshot::default(), placed)
    }

    /// [`Overlay::reset_to_workspace`] after a commit that published part of the overlay:
    /// what stays (`rest`) becomes the overlay, without revoking any handle.
    pub fn reset_after_commit(
        &mut self,
        rest: &Snapshot,
        placed: &[(Ino, Ino, Vec<u8>, RelPath)],
    ) -> Result<Invalidation, FsError> {
        let inval = self.restore_state(rest, &HashSet::new())?;
        for (ino, parent, name, path) in placed {
            let held = self.lookups.get(ino).copied().unwrap_or(0) > 0
                || self.open.get(ino).copied().unwrap_or(0) > 0;
            if held && *ino != ROOT && !self.nodes.contains_key(ino) {
                self.refs.insert(
                    *ino,
                    LowerRef {
                        path: path.clone(),
                        parent: *parent,
                        name: name.clone(),
                        unlinked: false,
                        others: Vec::new(),
                    },
                );
            }
        }
        self.refill_direct(Refill::Kept)?;
        Ok(inval)
    }

    /// Keeps each file still held open for direct I/O on its own working file: the kernel
    /// reads (and, across a commit, writes) that file without asking, so a new one would
    /// leave those handles on the old one, and new opens of the inode must share the
    /// kernel's. After a rollback or abort (only readers are left: writers were detached) the
    /// file gets the restored bytes; after a commit it keeps its bytes (the committed ones,
    /// plus what the kernel wrote since the seal, which belongs to the next transaction). The
    /// node stays in the overlay until the next restore after the file is closed. A file the
    /// restored state does not have keeps nothing.
    fn refill_direct(&mut self, refill: Refill) -> Result<(), FsError> {
        let held: Vec<Ino> = self.direct.keys().copied().collect();
        for ino in held {
            let node = self.nodes.get(&ino);
            if node.is_some_and(|n| n.data == Data::Work) {
                continue;
            }
            if node.is_none() && !self.refs.contains_key(&ino) {
                self.work.doom(ino.0);
                continue;
            }
            let file = match refill {
                Refill::Restored => self.ensure_work(ino)?,
                Refill::Kept => self.adopt_work(ino)?,
            };
            self.rewritten_directly(ino, &file)?;
        }
        Ok(())
    }

    /// After the overlay was replaced, points the kernel's references to workspace objects
    /// (those it held before, and held nodes copied up from the workspace that the restored
    /// state no longer has) at where the restored view shows them, or marks them unlinked.
    /// Without this an open file of the workspace reads ESTALE, or reports nlink 0, after an
    /// abort or rollback that shows it again.
    fn rebind_refs(&mut self, old_nodes: &HashMap<Ino, Node>) {
        let held = |ov: &Overlay, ino: &Ino| {
            ov.lookups.get(ino).is_some_and(|c| *c > 0) || ov.open.get(ino).is_some_and(|c| *c > 0)
        };
        // Only references the overlay touched can change: those of nodes, unlinked ones,
        // those in directories the overlay had or has, and those whose parent is gone. The
        // others lie in workspace directories no state touched, so a restore costs what the
        // overlay holds, not what the kernel caches.
        let known = |ov: &Overlay, p: &Ino| ov.nodes.contains_key(p) || ov.refs.contains_key(p);
        let mut wanted: Vec<(Ino, RelPath)> = self
            .refs
            .iter()
            .filter(|(i, r)| {
                r.unlinked
                    || self.nodes.contains_key(i)
                    || old_nodes.contains_key(&r.parent)
                    || self.nodes.contains_key(&r.parent)
                    || !known(self, &r.parent)
            })
            .map(|(i, r)| (*i, r.path.clone()))
            .collect();
        for (ino, node) in old_nodes {
            if let Some(origin) = &node.origin
                && !self.nodes.contains_key(ino)
                && held(self, ino)
            {
                wanted.push((*ino, origin.path.clone()));
            }
        }
        let by_merge: HashMap<RelPath, Ino> = self
            .nodes
            .iter()
            .filter(|(i, n)| **i == ROOT || n.links > 0)
            .filter_map(|(i, n)| n.merge.clone().map(|m| (m, *i)))
            .collect();
        for (ino, path) in wanted {
            if self.nodes.contains_key(&ino) {
                self.refs.remove(&ino);
                continue;
            }
            let name = path
                .0
                .rsplit(|b| *b == b'/')
                .next()
                .unwrap_or_default()
                .to_vec();
            let (parent, unlinked) = match self.locate(&path, ino, &by_merge) {
                Some(parent) => (parent, false),
                None => (self.refs.get(&ino).map_or(ROOT, |r| r.parent), true),
            };
            self.refs.insert(
                ino,
                LowerRef {
                    path,
                    parent,
                    name,
                    unlinked,
                    others: Vec::new(),
                },
            );
        }
    }

    /// The directory of the view that shows workspace object `ino` under its workspace path
    /// `path`, if the view shows it there. Starts at the overlay directory that shows the
    /// nearest workspace ancestor (it may have been renamed; `by_merge` maps a workspace
    /// directory to the overlay directory showing it) and walks down, adding references for
    /// the workspace directories on the way.
    fn locate(
        &mut self,
        path: &RelPath,
        ino: Ino,
        by_merge: &HashMap<RelPath, Ino>,
    ) -> Option<Ino> {
        let parts: Vec<&[u8]> = path.0.split(|b| *b == b'/').collect();
        for k in (0..parts.len()).rev() {
            let above = RelPath(parts[..k].join(&b'/'));
            let Some(mut dir) = by_merge.get(&above).copied() else {
                continue;
            };
            for (j, part) in parts.iter().enumerate().skip(k) {
                let found = self.resolve(dir, part).ok()??;
                if j + 1 == parts.len() {
                    return (found.ino() == ino).then_some(dir);
                }
                match found {
                    Found::Node(n) => dir = n,
                    Found::Lower(p, d, Kind::Dir, _) => {
                        self.refs.entry(d).or_insert(LowerRef {
                            path: p,
                            parent: dir,
                            name: part.to_vec(),
                            unlinked: false,
                            others: Vec::new(),
                        });
                        dir = d;
                    }
                    Found::Lower(..) => return None,
                }
            }
            return None;
        }
        None
    }

    /// Rewrites the database's overlay rows from memory, in one transaction.
    fn persist_all(&mut self) -> Result<(), FsError> {
        let nodes: Vec<NodeRow> = self
            .nodes
            .iter()
            .map(|(i, n)| NodeRow {
                ino: i.0,
                body: encode(n),
            })
            .collect();
        let dentries: Vec<DentryRow> = self
            .dirs
            .iter()
            .flat_map(|(dir, e)| {
                e.iter().map(|(name, d)| DentryRow {
                    dir: dir.0,
                    name: name.clone(),
                    body: encode(d),
                })
            })
            .collect();
        self.db.replace_overlay(&nodes, &dentries)?;
        self.db.kv_set(
            crate::meta::keys::NEXT_INO,
            &(self.next_ino + super::INO_BATCH).to_string(),
        )?;
        self.reserved_ino = self.next_ino + super::INO_BATCH;
        Ok(())
    }

    /// The overlay's node `ino`, if any.
    pub fn node(&self, ino: Ino) -> Option<&Node> {
        self.nodes.get(&ino)
    }

    /// The overlay entries of directory `dir`.
    pub fn entries(&self, dir: Ino) -> Option<&BTreeMap<Vec<u8>, Dentry>> {
        self.dirs.get(&dir)
    }

    /// Every blob that the live overlay references.
    pub fn live_blobs(&self) -> Vec<crate::store::BlobId> {
        self.nodes
            .values()
            .filter_map(|n| match n.data {
                Data::Blob(id) => Some(id),
                Data::Work => n.sealed,
                _ => None,
            })
            .collect()
    }
}
