//! Names: lookup, listing, creating, linking, removing and renaming entries.
//!
//! A directory of the view is an overlay directory (its own entries, over a workspace
//! directory that shows through unless it is opaque) or a workspace directory not yet copied
//! up. Changing anything in a directory first copies the directory chain up (metadata only).
//!
//! Longer than 500 lines on purpose: it is one operation family (names), and lookup, listing,
//! create, link, unlink, rmdir and rename share the directory copy-up and the whiteout and
//! hidden-name rules; split, each file would reach back into the others' helpers.

use std::collections::BTreeMap;

use super::types::*;
use super::{FsError, LowerRef, Overlay, ROOT, attr_of, check_name, lower_err};
use crate::sys::{self, FileType};

/// A directory's overlay entries and the workspace directory shown through it.
type DirView<'a> = (Option<&'a BTreeMap<Vec<u8>, Dentry>>, Option<RelPath>);

/// What a name resolves to.
#[derive(Debug, Clone)]
pub(super) enum Found {
    /// An overlay node.
    Node(Ino),
    /// A workspace object not copied up: its path, inode number, type, and its attributes
    /// as the lookup found them (so the caller does not stat it again).
    Lower(RelPath, Ino, Kind, Attr),
}

impl Found {
    pub(super) fn ino(&self) -> Ino {
        match self {
            Found::Node(i) | Found::Lower(_, i, ..) => *i,
        }
    }
}

impl Overlay {
    /// The overlay entries and the workspace directory shown through, of directory `dir`.
    fn dir_view(&self, dir: Ino) -> Result<DirView<'_>, FsError> {
        if let Some(node) = self.nodes.get(&dir) {
            if node.attr.kind != Kind::Dir {
                return Err(FsError::NotDir);
            }
            return Ok((self.dirs.get(&dir), node.merge.clone()));
        }
        let r = self.refs.get(&dir).ok_or(FsError::Stale)?;
        Ok((None, Some(r.path.clone())))
    }

    /// Resolves `name` in directory `dir` without changing anything.
    pub(super) fn resolve(&self, dir: Ino, name: &[u8]) -> Result<Option<Found>, FsError> {
        let (entries, merge) = self.dir_view(dir)?;
        match entries.and_then(|e| e.get(name)) {
            Some(Dentry::Child(ino)) => return Ok(Some(Found::Node(*ino))),
            Some(Dentry::Whiteout { .. }) => return Ok(None),
            None => {}
        }
        let Some(base) = merge else { return Ok(None) };
        if dir == ROOT && sys::is_reserved(name) {
            return Ok(None);
        }
        let path = base.join(name);
        let Some(st) = self.lower.stat(&path).map_err(lower_err("stat", &path))? else {
            return Ok(None);
        };
        let ino = Ino(st.st_ino);
        if self.nodes.contains_key(&ino) {
            // Another name of a copied-up workspace file: the same inode, as with hard links.
            return Ok(Some(Found::Node(ino)));
        }
        let kind = Kind::from_mode(st.st_mode).ok_or(FsError::NotSupported)?;
        Ok(Some(Found::Lower(path, ino, kind, attr_of(&st, ino))))
    }

    /// The workspace object the directory shown through `dir` has as `name`, if any.
    fn lower_stat(&self, dir: Ino, name: &[u8]) -> Result<Option<sys::Stat>, FsError> {
        let merge = self.nodes.get(&dir).and_then(|n| n.merge.clone());
        let Some(base) = merge else { return Ok(None) };
        let path = base.join(name);
        self.lower.stat(&path).map_err(lower_err("stat", &path))
    }

    /// Looks `name` up in `parent`, counting one kernel reference on success.
    pub fn lookup(&mut self, parent: Ino, name: &[u8]) -> Result<Attr, FsError> {
        let attr = self.entry_attr(parent, name)?;
        self.count_lookup(attr.ino);
        Ok(attr)
    }

    /// Counts one kernel reference of `ino`, whose entry [`Overlay::entry_attr`] returned
    /// (for `readdirplus`, which counts only the entries that fit in its reply).
    pub fn count_lookup(&mut self, ino: Ino) {
        self.add_lookup(ino);
    }

    /// The attributes of entry `name` of `parent`, ready to be handed to the kernel; the
    /// caller counts the reference with [`Overlay::count_lookup`] once it did.
    pub fn entry_attr(&mut self, parent: Ino, name: &[u8]) -> Result<Attr, FsError> {
        check_name(name)?;
        let found = self.resolve(parent, name)?.ok_or(FsError::NotFound)?;
        let attr = match &found {
            Found::Node(ino) => self.getattr(*ino)?,
            Found::Lower(path, ino, _, attr) => {
                let mut others = Vec::new();
                if let Some(old) = self.refs.remove(ino)
                    && !old.unlinked
                {
                    others = old.others;
                    others.push((old.parent, old.name, old.path));
                    others.retain(|(_, _, p)| p != path);
                }
                self.refs.insert(
                    *ino,
                    LowerRef {
                        path: path.clone(),
                        parent,
                        name: name.to_vec(),
                        unlinked: false,
                        others,
                    },
                );
                let mut attr = attr.clone();
                attr.generation = self.generation(*ino);
                attr
            }
        };
        Ok(attr)
    }

    /// The entries of directory `dir`, `.` and `..` first, as one consistent snapshot.
    pub fn readdir(&self, dir: Ino, parent: Ino) -> Result<Vec<DirEntry>, FsError> {
        let (entries, merge) = self.dir_view(dir)?;
        let mut out = vec![
            DirEntry {
                name: b".".to_vec(),
                ino: dir,
                kind: Kind::Dir,
            },
            DirEntry {
                name: b"..".to_vec(),
                ino: parent,
                kind: Kind::Dir,
            },
        ];
        let empty = BTreeMap::new();
        let entries = entries.unwrap_or(&empty);
        if let Some(base) = merge {
            let listing = self
                .lower
                .read_dir(&base)
                .map_err(lower_err("read", &base))?;
            for (name, ino, ty) in listing {
                if entries.contains_key(&name) || (dir == ROOT && sys::is_reserved(&name)) {
                    continue;
                }
                let ino = Ino(ino);
                let kind = match self.nodes.get(&ino) {
                    Some(n) => n.attr.kind,
                    None => kind_of_dtype(ty),
                };
                out.push(DirEntry { name, ino, kind });
            }
        }
        for (name, d) in entries {
            if let Dentry::Child(ino) = d {
                let kind = self.nodes.get(ino).map_or(Kind::File, |n| n.attr.kind);
                out.push(DirEntry {
                    name: name.clone(),
                    ino: *ino,
                    kind,
                });
            }
        }
        Ok(out)
    }

    /// Whether directory `dir` has no entries.
    fn is_empty_dir(&self, dir: Ino) -> Result<bool, FsError> {
        Ok(self.readdir(dir, dir)?.len() == 2)
    }

    /// Makes `ino` an overlay node, copying up its metadata (and its parents'), never its data.
    pub(super) fn copy_up(&mut self, ino: Ino) -> Result<(), FsError> {
        if self.nodes.contains_key(&ino) {
            return Ok(());
        }
        let mut r = self.refs.get(&ino).cloned().ok_or(FsError::Stale)?;
        let known = |p: &Ino| self.nodes.contains_key(p) || self.refs.contains_key(p);
        if !r.unlinked
            && !known(&r.parent)
            && let Some((parent, name, path)) = r.others.iter().rev().find(|o| known(&o.0))
        {
            (r.parent, r.name, r.path) = (*parent, name.clone(), path.clone());
        }
        if !r.unlinked {
            self.copy_up(r.parent)?;
        }
        let st = self
            .lower
            .stat(&r.path)
            .map_err(lower_err("stat", &r.path))?
            .ok_or(FsError::Stale)?;
        let attr = attr_of(&st, ino);
        let kind = attr.kind;
        // A workspace file with other names keeps them in the view: they resolve to this node
        // by inode number, so its link count is the workspace's, not only this name.
        let links = match (r.unlinked, kind) {
            (true, _) => 0,
            (false, Kind::Dir) => 1,
            (false, _) => (st.st_nlink as u32).max(1),
        };
        let node = Node {
            links,
            data: if kind == Kind::File {
                Data::Lower(r.path.clone())
            } else {
                Data::None
            },
            target: if kind == Kind::Symlink {
                Some(
                    self.lower
                        .read_link(&r.path)
                        .map_err(lower_err("readlink", &r.path))?,
                )
            } else {
                None
            },
            merge: (kind == Kind::Dir).then(|| r.path.clone()),
            origin: Some(Origin {
                path: r.path.clone(),
                stamp: super::stamp_at(&self.lower, &r.path, &st),
            }),
            xattrs: None,
            sealed: None,
            attr,
        };
        self.nodes.insert(ino, node);
        if kind == Kind::Dir {
            self.dirs.entry(ino).or_default();
        }
        self.touch_node(ino);
        if !r.unlinked {
            self.dirs
                .entry(r.parent)
                .or_default()
                .insert(r.name.clone(), Dentry::Child(ino));
            self.touch_dentry(r.parent, &r.name);
        }
        self.refs.remove(&ino);
        Ok(())
    }

    /// Counts `delta` subdirectories more (or fewer) in directory `dir`: a directory's link
    /// count is two plus its subdirectories, as on a local filesystem.
    fn add_subdirs(&mut self, dir: Ino, delta: i64) {
        if delta != 0
            && let Some(n) = self.nodes.get_mut(&dir)
        {
            n.attr.nlink = (i64::from(n.attr.nlink) + delta).max(2) as u32;
        }
    }

    /// Marks directory `dir` as changed now (mtime and ctime).
    fn touch_dir(&mut self, dir: Ino) {
        let now = Time::now();
        if let Some(n) = self.nodes.get_mut(&dir) {
            n.attr.mtime = now;
            n.attr.ctime = now;
        }
        self.touch_node(dir);
    }

    /// Prepares `parent` to receive a new entry `name`: copies it up and checks the name is free.
    fn prepare_new(&mut self, parent: Ino, name: &[u8]) -> Result<(), FsError> {
        check_name(name)?;
        if self.resolve(parent, name)?.is_some() {
            return Err(FsError::Exists);
        }
        if parent == ROOT && sys::is_reserved(name) {
            return Err(FsError::Invalid);
        }
        self.copy_up(parent)
    }

    /// Creates a new node of `kind` named `name` in `parent`, with one kernel reference.
    pub fn make(&mut self, parent: Ino, name: &[u8], new: NewNode) -> Result<Attr, FsError> {
        self.prepare_new(parent, name)?;
        let ino = self.alloc_ino();
        let now = Time::now();
        let node = Node {
            attr: Attr {
                ino,
                kind: new.kind,
                perm: new.perm & 0o7777,
                uid: new.uid,
                gid: new.gid,
                size: new.target.as_ref().map_or(0, |t| t.len() as u64),
                blocks: 0,
                atime: now,
                mtime: now,
                ctime: now,
                rdev: new.rdev,
                nlink: if new.kind == Kind::Dir { 2 } else { 1 },
                generation: 0,
            },
            links: 1,
            data: if new.kind == Kind::File {
                Data::Work
            } else {
                Data::None
            },
            target: new.target,
            merge: None,
            origin: None,
            xattrs: None,
            sealed: None,
        };
        if new.kind == Kind::File {
            self.work.create(ino.0)?;
        }
        if new.kind == Kind::Dir {
            self.dirs.insert(ino, BTreeMap::new());
        }
        self.nodes.insert(ino, node);
        self.touch_node(ino);
        self.dirs
            .entry(parent)
            .or_default()
            .insert(name.to_vec(), Dentry::Child(ino));
        self.touch_dentry(parent, name);
        if new.kind == Kind::Dir {
            self.add_subdirs(parent, 1);
        }
        self.touch_dir(parent);
        self.write_pending()?;
        self.add_lookup(ino);
        self.getattr(ino)
    }

    /// Adds the name `name` in `parent` for the existing file `ino` (a hard link).
    pub fn link(&mut self, ino: Ino, parent: Ino, name: &[u8]) -> Result<Attr, FsError> {
        if self.getattr(ino)?.kind == Kind::Dir {
            return Err(FsError::NotSupported);
        }
        self.prepare_new(parent, name)?;
        self.copy_up(ino)?;
        let node = self.nodes.get_mut(&ino).ok_or(FsError::Stale)?;
        node.links += 1;
        node.attr.ctime = Time::now();
        self.touch_node(ino);
        self.dirs
            .entry(parent)
            .or_default()
            .insert(name.to_vec(), Dentry::Child(ino));
        self.touch_dentry(parent, name);
        self.touch_dir(parent);
        self.write_pending()?;
        self.add_lookup(ino);
        self.getattr(ino)
    }

    /// Removes the entry `name` of `parent` (which must be copied up), leaving a whiteout where
    /// the workspace has that name. Returns the inode the entry named.
    fn remove_entry(&mut self, parent: Ino, name: &[u8], found: &Found) -> Result<(), FsError> {
        if self.found_kind(found) == Kind::Dir {
            self.add_subdirs(parent, -1);
        }
        self.vacate(parent, name)?;
        self.drop_name(found)?;
        self.touch_dir(parent);
        Ok(())
    }

    /// Empties the entry `name` of `parent`: a whiteout where the workspace has that name,
    /// nothing otherwise.
    fn vacate(&mut self, parent: Ino, name: &[u8]) -> Result<(), FsError> {
        let hidden = self.lower_stat(parent, name)?;
        let at = hidden.map(|st| self.whiteout_time(&st));
        let entries = self.dirs.entry(parent).or_default();
        if let Some(at) = at {
            entries.insert(name.to_vec(), Dentry::Whiteout { at });
        } else {
            entries.remove(name);
        }
        self.touch_dentry(parent, name);
        Ok(())
    }

    /// When a whiteout over the workspace object `st` begins: a time at or before any later
    /// change of it (or, for a directory, of anything below it), and after its last change.
    /// The coarse clock is that for a file in the common case; a file changed within the
    /// current tick (its ctime may even be a finer stamp after the clock) needs the file
    /// system's own reading, and so does a directory, whose descendants' ctimes are not
    /// read here.
    fn whiteout_time(&self, st: &sys::Stat) -> Time {
        let now = Time::coarse_now();
        let changed = Time {
            sec: st.st_ctime,
            nsec: st.st_ctime_nsec as u32,
        };
        if changed < now && sys::file_type(st) != libc::S_IFDIR {
            now
        } else {
            self.lower.ctime_boundary()
        }
    }

    /// The object `found` loses one of its names: its link count drops (a removed
    /// directory's own entries go with it, and the node with its last name and holder); a
    /// workspace object not copied up reports nlink 0 to whoever still holds it.
    fn drop_name(&mut self, found: &Found) -> Result<(), FsError> {
        match found {
            Found::Node(ino) => {
                let ino = *ino;
                if let Some(n) = self.nodes.get_mut(&ino) {
                    n.links = n.links.saturating_sub(1);
                    n.attr.ctime = Time::now();
                }
                self.touch_node(ino);
                if self
                    .nodes
                    .get(&ino)
                    .is_some_and(|n| n.attr.kind == Kind::Dir)
                    && let Some(old) = self.dirs.get_mut(&ino)
                {
                    let names: Vec<Vec<u8>> = old.keys().cloned().collect();
                    old.clear();
                    for n in names {
                        self.touch_dentry(ino, &n);
                    }
                }
                self.maybe_drop(ino)
            }
            Found::Lower(_, ino, ..) => {
                if let Some(r) = self.refs.get_mut(ino) {
                    r.unlinked = true;
                }
                Ok(())
            }
        }
    }

    /// Removes the non-directory `name` from `parent`.
    pub fn unlink(&mut self, parent: Ino, name: &[u8]) -> Result<(), FsError> {
        self.freeing(|ov| ov.unlink_once(parent, name))
    }

    /// Runs `op`, a removal, once more with the store's reserve given back if the disk was
    /// too full to record it (see [`crate::store::Reserve`]): a failed write restores the
    /// overlay's memory from the database, so `op` starts again from the same state.
    fn freeing(&mut self, op: impl Fn(&mut Self) -> Result<(), FsError>) -> Result<(), FsError> {
        self.reserve.arm();
        match op(self) {
            Err(FsError::Meta(e)) if e.is_disk_full() && self.reserve.release() => op(self),
            done => done,
        }
    }

    fn unlink_once(&mut self, parent: Ino, name: &[u8]) -> Result<(), FsError> {
        check_name(name)?;
        let found = self.resolve(parent, name)?.ok_or(FsError::NotFound)?;
        if self.found_kind(&found) == Kind::Dir {
            return Err(FsError::IsDir);
        }
        self.copy_up(parent)?;
        let found = self.track_links(parent, name, found)?;
        self.remove_entry(parent, name, &found)?;
        self.write_pending()
    }

    /// Before the name `name` of a workspace file with other names goes away, copies the file
    /// up, so its node counts the names left (which resolve to it by inode number).
    fn track_links(&mut self, parent: Ino, name: &[u8], found: Found) -> Result<Found, FsError> {
        if let Found::Lower(path, ino, kind, _) = &found
            && *kind != Kind::Dir
        {
            let st = self.lower.stat(path).map_err(lower_err("stat", path))?;
            if st.is_some_and(|st| st.st_nlink > 1) {
                let ino = *ino;
                self.copy_up_found(parent, name, &found)?;
                return Ok(Found::Node(ino));
            }
        }
        Ok(found)
    }

    /// Removes the empty directory `name` from `parent`.
    pub fn rmdir(&mut self, parent: Ino, name: &[u8]) -> Result<(), FsError> {
        self.freeing(|ov| ov.rmdir_once(parent, name))
    }

    fn rmdir_once(&mut self, parent: Ino, name: &[u8]) -> Result<(), FsError> {
        check_name(name)?;
        let found = self.resolve(parent, name)?.ok_or(FsError::NotFound)?;
        if self.found_kind(&found) != Kind::Dir {
            return Err(FsError::NotDir);
        }
        if !self.found_is_empty(&found)? {
            return Err(FsError::NotEmpty);
        }
        self.copy_up(parent)?;
        self.remove_entry(parent, name, &found)?;
        self.write_pending()
    }

    fn found_kind(&self, found: &Found) -> Kind {
        match found {
            Found::Node(ino) => self.nodes.get(ino).map_or(Kind::File, |n| n.attr.kind),
            Found::Lower(_, _, kind, _) => *kind,
        }
    }

    fn found_is_empty(&self, found: &Found) -> Result<bool, FsError> {
        match found {
            Found::Node(ino) => self.is_empty_dir(*ino),
            Found::Lower(path, ..) => Ok(self
                .lower
                .read_dir(path)
                .map_err(lower_err("read", path))?
                .is_empty()),
        }
    }

    /// Makes the object `found`, named `name` in `parent`, an overlay node and returns its inode.
    fn copy_up_found(&mut self, parent: Ino, name: &[u8], found: &Found) -> Result<Ino, FsError> {
        if let Found::Lower(path, ino, ..) = found {
            self.refs.insert(
                *ino,
                LowerRef {
                    path: path.clone(),
                    parent,
                    name: name.to_vec(),
                    unlinked: false,
                    others: Vec::new(),
                },
            );
        }
        self.copy_up(found.ino())?;
        Ok(found.ino())
    }

    /// Renames `name` in `parent` to `new_name` in `new_parent`.
    pub fn rename(
        &mut self,
        parent: Ino,
        name: &[u8],
        new_parent: Ino,
        new_name: &[u8],
        mode: RenameMode,
    ) -> Result<(), FsError> {
        check_name(name)?;
        check_name(new_name)?;
        if new_parent == ROOT && sys::is_reserved(new_name) {
            return Err(FsError::Invalid);
        }
        let src = self.resolve(parent, name)?.ok_or(FsError::NotFound)?;
        let dst = self.resolve(new_parent, new_name)?;
        let src_kind = self.found_kind(&src);
        // The checks come in the order Linux makes them, so each case gets Linux's errno.
        match (&dst, mode) {
            (Some(_), RenameMode::NoReplace) => return Err(FsError::Exists),
            (None, RenameMode::Exchange) => return Err(FsError::NotFound),
            _ => {}
        }
        if src_kind == Kind::Dir && self.is_ancestor(src.ino(), new_parent)? {
            // The source may not be an ancestor of the target ...
            return Err(FsError::Invalid);
        }
        if let Some(d) = &dst
            && self.found_kind(d) == Kind::Dir
            && self.is_ancestor(d.ino(), parent)?
        {
            // ... nor the target an ancestor of the source.
            return Err(if mode == RenameMode::Exchange {
                FsError::Invalid
            } else {
                FsError::NotEmpty
            });
        }
        if let Some(d) = &dst {
            if d.ino() == src.ino() {
                // Two names of one file (or the same name): POSIX says do nothing.
                return Ok(());
            }
            if mode == RenameMode::Replace {
                let dst_kind = self.found_kind(d);
                if src_kind == Kind::Dir && dst_kind != Kind::Dir {
                    return Err(FsError::NotDir);
                }
                if src_kind != Kind::Dir && dst_kind == Kind::Dir {
                    return Err(FsError::IsDir);
                }
                if dst_kind == Kind::Dir && !self.found_is_empty(d)? {
                    return Err(FsError::NotEmpty);
                }
            }
        }
        self.copy_up(parent)?;
        self.copy_up(new_parent)?;
        let src_ino = self.copy_up_found(parent, name, &src)?;
        let src_dir = i64::from(src_kind == Kind::Dir);
        let dst_dir = i64::from(
            dst.as_ref()
                .is_some_and(|d| self.found_kind(d) == Kind::Dir),
        );
        if mode == RenameMode::Exchange {
            self.add_subdirs(parent, dst_dir - src_dir);
            self.add_subdirs(new_parent, src_dir - dst_dir);
        } else {
            self.add_subdirs(parent, -src_dir);
            self.add_subdirs(new_parent, src_dir - dst_dir);
        }
        let dst = match dst {
            Some(d) if mode == RenameMode::Replace => {
                Some(self.track_links(new_parent, new_name, d)?)
            }
            d => d,
        };
        match (mode, dst) {
            (RenameMode::Exchange, Some(d)) => {
                let dst_ino = self.copy_up_found(new_parent, new_name, &d)?;
                self.dirs
                    .entry(parent)
                    .or_default()
                    .insert(name.to_vec(), Dentry::Child(dst_ino));
                self.dirs
                    .entry(new_parent)
                    .or_default()
                    .insert(new_name.to_vec(), Dentry::Child(src_ino));
                self.touch_dentry(parent, name);
                self.touch_dentry(new_parent, new_name);
                for ino in [src_ino, dst_ino] {
                    if let Some(n) = self.nodes.get_mut(&ino) {
                        n.attr.ctime = Time::now();
                    }
                    self.touch_node(ino);
                }
            }
            (_, dst) => {
                self.dirs
                    .entry(new_parent)
                    .or_default()
                    .insert(new_name.to_vec(), Dentry::Child(src_ino));
                self.touch_dentry(new_parent, new_name);
                if let Some(d) = dst {
                    // The replaced object loses this name (its entry was overwritten above).
                    self.drop_name(&d)?;
                }
                self.vacate(parent, name)?;
                if let Some(n) = self.nodes.get_mut(&src_ino) {
                    n.attr.ctime = Time::now();
                }
                self.touch_node(src_ino);
            }
        }
        self.touch_dir(parent);
        self.touch_dir(new_parent);
        self.write_pending()
    }

    /// Whether directory `dir` is `ino` or lies below it.
    fn is_ancestor(&self, ino: Ino, mut dir: Ino) -> Result<bool, FsError> {
        for _ in 0..4096 {
            if dir == ino {
                return Ok(true);
            }
            if dir == ROOT {
                return Ok(false);
            }
            dir = match self.parent_of(dir) {
                Some(p) => p,
                None => return Ok(false),
            };
        }
        Ok(false)
    }

    /// The directory that names `dir` (for overlay nodes, by search of the overlay entries).
    fn parent_of(&self, dir: Ino) -> Option<Ino> {
        if let Some(r) = self.refs.get(&dir) {
            return Some(r.parent);
        }
        self.dirs
            .iter()
            .find(|(_, entries)| entries.values().any(|d| *d == Dentry::Child(dir)))
            .map(|(p, _)| *p)
    }
}

/// What `make` creates.
#[derive(Debug, Clone)]
pub struct NewNode {
    pub kind: Kind,
    pub perm: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub target: Option<Vec<u8>>,
}

fn kind_of_dtype(ty: FileType) -> Kind {
    match ty {
        FileType::Directory => Kind::Dir,
        FileType::Symlink => Kind::Symlink,
        FileType::Fifo => Kind::Fifo,
        FileType::Socket => Kind::Socket,
        FileType::CharacterDevice => Kind::CharDev,
        FileType::BlockDevice => Kind::BlockDev,
        _ => Kind::File,
    }
}
