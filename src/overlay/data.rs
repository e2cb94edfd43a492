//! Bytes and attributes: open, read, write, truncate, setattr, fsync.
//!
//! Reads of a file the view never changed go to the workspace file; the first write (or
//! truncate) copies the bytes into a working file. Hashing stays off this path: working files
//! are sealed into blobs only at checkpoints and commits.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::Arc;

use super::types::*;
use super::{FsError, Overlay, lower_err, work_err};

/// The size from which a reader of a working file is passed through: below it a cold read
/// takes about one request, above it the requests add up (and a mapping faults through them).
const DIRECT_READ_MIN: u64 = 1 << 20;

/// How an open handle's reads and writes reach the file's bytes.
#[derive(Debug)]
pub enum Access {
    /// As kernel requests served by the daemon, through the kernel's page cache.
    Cached,
    /// By the kernel itself, on this working file (FUSE passthrough): no request per read or
    /// write. The file stays this inode's working file for as long as such a handle is open.
    Direct(Arc<File>),
}

/// How many low bits of a handle's `epoch` and `generation` are kept (an adapter may store
/// no more): both are compared for equality only, so wrapping is harmless in practice.
pub const HANDLE_STAMP_BITS: u32 = 31;

/// Whether two epoch or generation stamps are equal in their kept bits.
pub(super) fn same_stamp(a: u64, b: u64) -> bool {
    (a ^ b) & ((1u64 << HANDLE_STAMP_BITS) - 1) == 0
}

/// What an open handle was granted, as `release_handle` and `check_handle` need it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handle {
    pub direct: bool,
    pub write: bool,
    /// [`Overlay::restores`] when it was opened: a later rollback or abort revokes it.
    pub epoch: u64,
    /// [`Overlay::generation`] of its inode when it was opened: a direct handle of an older
    /// generation belongs to a detached working file.
    pub generation: u64,
}

impl Handle {
    /// A handle served by requests, opened before any restore (whether it writes does not
    /// matter at release).
    pub const CACHED: Handle = Handle {
        direct: false,
        write: false,
        epoch: 0,
        generation: 0,
    };
}

/// The open direct handles of one inode.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Direct {
    handles: u32,
    writers: u32,
    /// The working file's mtime when the first writer opened it: the kernel wrote it when
    /// its mtime moved from there.
    base: Time,
}

impl Overlay {
    /// Counts an open file handle of `ino`.
    pub fn open_handle(&mut self, ino: Ino) -> Result<Attr, FsError> {
        let attr = self.getattr(ino)?;
        *self.open.entry(ino).or_insert(0) += 1;
        Ok(attr)
    }

    /// Opens a handle of file `ino` (for writing if `write`) and says how its bytes move.
    /// With `direct` the kernel can pass reads and writes through: a writer or a large
    /// reader of a working file is then handed the file, unless handles served by requests
    /// are open (the kernel keeps one mode per inode) or the file is setuid or setgid (a write
    /// must clear those through the daemon). Readers of smaller files are served by requests:
    /// the kernel's page cache answers them without any request once warm, which beats
    /// registering the file at each open of the many small files `grep` and `git` read. While
    /// direct handles are open every new handle is direct, whatever `direct` says.
    pub fn open_file(
        &mut self,
        ino: Ino,
        write: bool,
        direct: bool,
    ) -> Result<(Attr, Access), FsError> {
        let attr = self.open_handle(ino)?;
        let work = self.nodes.get(&ino).is_some_and(|n| n.data == Data::Work);
        let others = self.open.get(&ino).copied().unwrap_or(1) - 1;
        let go_direct = match self.direct.get(&ino) {
            Some(d) => d.handles > 0,
            None => {
                direct
                    && work
                    && (write || attr.size >= DIRECT_READ_MIN)
                    && others == 0
                    && attr.perm & 0o6000 == 0
            }
        };
        if !go_direct {
            return Ok((attr, Access::Cached));
        }
        let file = self.backing(ino)?;
        let base = if write && !self.written_directly(ino) {
            Some(mtime_of(&file.metadata().map_err(work_err(ino))?))
        } else {
            None
        };
        let d = self.direct.entry(ino).or_default();
        d.handles += 1;
        if write {
            d.writers += 1;
            if let Some(base) = base {
                d.base = base;
            }
            // The kernel writes without telling: the file is unsealed from now until the
            // last writer closes, and every seal meanwhile hashes it afresh.
            if let Some(n) = self.nodes.get_mut(&ino) {
                n.sealed = None;
            }
        }
        Ok((attr, Access::Direct(file)))
    }

    /// Turns a direct handle of `ino` just granted by `open_file` into one served by
    /// requests (the kernel refused the working file for passthrough).
    pub fn make_cached(&mut self, ino: Ino, write: bool) {
        if let Some(d) = self.direct.get_mut(&ino) {
            d.handles -= 1;
            if write {
                d.writers -= 1;
            }
            if d.handles == 0 {
                self.direct.remove(&ino);
            }
        }
    }

    /// Releases an open file handle of `ino`, writing its attributes through.
    pub fn release_handle(&mut self, ino: Ino, handle: Handle) -> Result<(), FsError> {
        // A direct handle whose working file a restore detached no longer counts among the
        // inode's direct ones (those were dropped with the file).
        if handle.direct
            && same_stamp(handle.generation, self.generation(ino))
            && self.direct.contains_key(&ino)
        {
            if handle.write {
                self.take_written_attrs(ino);
            }
            let d = self.direct.get_mut(&ino).expect("checked above");
            d.handles -= 1;
            if handle.write {
                d.writers -= 1;
            }
            if d.handles == 0 {
                self.direct.remove(&ino);
            }
        }
        if let Some(c) = self.open.get_mut(&ino) {
            *c = c.saturating_sub(1);
            if *c == 0 {
                self.open.remove(&ino);
                if self.lookups.get(&ino).copied().unwrap_or(0) == 0 {
                    self.refs.remove(&ino);
                }
                self.files.remove(&ino);
                self.maybe_drop(ino)?;
            }
        }
        self.flush()
    }

    /// Whether `ino` has open direct handles.
    pub fn is_direct(&self, ino: Ino) -> bool {
        self.direct.contains_key(&ino)
    }

    /// Whether the kernel may be writing `ino`'s working file without requests.
    pub(super) fn written_directly(&self, ino: Ino) -> bool {
        self.direct.get(&ino).is_some_and(|d| d.writers > 0)
    }

    /// Notes that the daemon rewrote the working file of `ino` (`file`) while direct handles
    /// may write it: still unsealed, and its times from here on are the kernel's.
    pub(super) fn rewritten_directly(&mut self, ino: Ino, file: &File) -> Result<(), FsError> {
        if !self.written_directly(ino) {
            return Ok(());
        }
        let base = mtime_of(&file.metadata().map_err(work_err(ino))?);
        if let Some(d) = self.direct.get_mut(&ino) {
            d.base = base;
        }
        if let Some(n) = self.nodes.get_mut(&ino) {
            n.sealed = None;
        }
        Ok(())
    }

    /// Takes size and times from the working file the kernel wrote directly, to be written
    /// through with the node.
    pub(super) fn take_written_attrs(&mut self, ino: Ino) {
        let Some(m) = self.files.get(&ino).and_then(|f| f.metadata().ok()) else {
            return;
        };
        let Some(mut attr) = self.nodes.get(&ino).map(|n| n.attr.clone()) else {
            return;
        };
        self.written_attrs(ino, &mut attr, &m);
        if let Some(n) = self.nodes.get_mut(&ino) {
            n.attr = attr;
            self.dirty.insert(ino);
        }
    }

    /// Size and times of `ino` while the kernel may write its working file (metadata `m`)
    /// directly. The file's size is the truth; its times are once they moved since the first
    /// writer opened it (by a write, or by `setattr`, which applies explicit times to the
    /// file too), else the node's stand.
    pub(super) fn written_attrs(&self, ino: Ino, attr: &mut Attr, m: &std::fs::Metadata) {
        let Some(d) = self.direct.get(&ino).filter(|d| d.writers > 0) else {
            return;
        };
        attr.size = m.len();
        let mtime = mtime_of(m);
        if mtime != d.base {
            attr.mtime = mtime;
            let ctime = Time {
                sec: m.ctime(),
                nsec: m.ctime_nsec() as u32,
            };
            attr.ctime = attr.ctime.max(ctime);
        }
    }

    /// The file to read `ino`'s bytes from. The caller reads from it without holding the
    /// overlay, so a read never waits for another request's metadata work. It stays open for
    /// the next call only while `ino` has open handles (see `keep_file`).
    pub fn backing(&mut self, ino: Ino) -> Result<Arc<File>, FsError> {
        if let Some(f) = self.files.get(&ino) {
            return Ok(f.clone());
        }
        let file = match self.nodes.get(&ino) {
            Some(node) => match &node.data {
                Data::Work => self.work.open_file(ino.0)?,
                Data::Blob(id) => self.blobs.open_verified(*id)?,
                Data::Lower(path) => self
                    .lower
                    .open_file(path)
                    .map_err(lower_err("open", path))?,
                Data::None => return Err(FsError::IsDir),
            },
            None => {
                let r = self.refs.get(&ino).ok_or(FsError::Stale)?;
                self.lower
                    .open_file(&r.path)
                    .map_err(lower_err("open", &r.path))?
            }
        };
        let file = Arc::new(file);
        self.keep_file(ino, &file);
        Ok(file)
    }

    /// Keeps `file` open as `ino`'s bytes if `ino` has open handles: the release of the last
    /// one closes it. A file opened for anything else (a seal, a copy-up, a truncate by path)
    /// is closed after use, or a checkpoint of many changed files would run out of
    /// descriptors.
    fn keep_file(&mut self, ino: Ino, file: &Arc<File>) {
        if self.open.contains_key(&ino) {
            self.files.insert(ino, file.clone());
        }
    }

    /// Gives `ino` a working file holding its current bytes (copy-up of data).
    pub(super) fn ensure_work(&mut self, ino: Ino) -> Result<Arc<File>, FsError> {
        self.make_work(ino, true)
    }

    /// Makes `ino` a working-file node over the working file it already has, whose bytes are
    /// taken as they are (the kernel holds it open for direct I/O across a commit).
    pub(super) fn adopt_work(&mut self, ino: Ino) -> Result<Arc<File>, FsError> {
        self.make_work(ino, false)
    }

    /// Copies `ino` up and gives it a working file: a new one with its current bytes when
    /// `copy`, else the one it already has.
    fn make_work(&mut self, ino: Ino, copy: bool) -> Result<Arc<File>, FsError> {
        self.copy_up(ino)?;
        let node = self.nodes.get(&ino).ok_or(FsError::Stale)?;
        match &node.data {
            Data::Work => return self.backing(ino),
            Data::None => return Err(FsError::IsDir),
            Data::Lower(_) | Data::Blob(_) => {}
        }
        // A commit writes a changed file anew, so the origin's xattrs must travel with the
        // node from here on ("those of the origin" would leave the new file without them).
        let xattrs = self.xattrs(ino)?;
        let dst = if copy {
            let src = self.backing(ino)?;
            let dst = self.work.create(ino.0)?;
            crate::store::sparse::copy_all(&src, &dst).map_err(work_err(ino))?;
            dst
        } else {
            self.work.open_file(ino.0)?
        };
        let node = self.nodes.get_mut(&ino).ok_or(FsError::Stale)?;
        node.xattrs.get_or_insert(xattrs);
        node.sealed = match node.data {
            Data::Blob(id) if copy => Some(id),
            _ => None,
        };
        node.data = Data::Work;
        self.touch_node(ino);
        self.write_pending()?;
        let dst = Arc::new(dst);
        self.files.remove(&ino);
        self.keep_file(ino, &dst);
        Ok(dst)
    }

    /// Writes `data` at `offset` of `ino`; returns the bytes written.
    pub fn write(&mut self, ino: Ino, offset: u64, data: &[u8]) -> Result<u32, FsError> {
        if data.is_empty() {
            // POSIX: writing zero bytes to a regular file has no other effect.
            self.getattr(ino)?;
            return Ok(0);
        }
        let file = self.ensure_work(ino)?;
        file.write_all_at(data, offset).map_err(work_err(ino))?;
        let node = self.nodes.get_mut(&ino).ok_or(FsError::Stale)?;
        let now = Time::now();
        node.attr.size = node.attr.size.max(offset + data.len() as u64);
        node.attr.mtime = now;
        node.attr.ctime = now;
        node.sealed = None;
        self.dirty.insert(ino);
        Ok(data.len() as u32)
    }

    /// Allocates (or punches) space in `ino`, as `fallocate(2)`.
    pub fn fallocate(
        &mut self,
        ino: Ino,
        offset: u64,
        length: u64,
        mode: i32,
    ) -> Result<(), FsError> {
        let file = self.ensure_work(ino)?;
        crate::sys::fallocate(&file, mode, offset, length).map_err(work_err(ino))?;
        let size = file.metadata().map_err(work_err(ino))?.len();
        let node = self.nodes.get_mut(&ino).ok_or(FsError::Stale)?;
        node.attr.size = size;
        node.attr.ctime = Time::now();
        if mode & libc::FALLOC_FL_KEEP_SIZE == 0 {
            node.attr.mtime = node.attr.ctime;
        }
        node.sealed = None;
        self.dirty.insert(ino);
        Ok(())
    }

    /// Makes `ino`'s bytes and attributes durable (the working file and the database).
    pub fn fsync(&mut self, ino: Ino, datasync: bool) -> Result<(), FsError> {
        if self.nodes.get(&ino).is_some_and(|n| n.data == Data::Work) {
            let file = self.backing(ino)?;
            if datasync {
                file.sync_data()
            } else {
                file.sync_all()
            }
            .map_err(work_err(ino))?;
        }
        self.flush()?;
        self.db.barrier()?;
        Ok(())
    }

    /// Changes attributes of `ino`, as `chmod`, `chown`, `truncate` and `utimensat` do.
    pub fn setattr(&mut self, ino: Ino, set: SetAttr) -> Result<Attr, FsError> {
        if set == SetAttr::default() {
            return self.getattr(ino);
        }
        if let Some(size) = set.size {
            let file = self.ensure_work(ino)?;
            file.set_len(size).map_err(work_err(ino))?;
        } else {
            self.copy_up(ino)?;
        }
        let now = Time::now();
        let node = self.nodes.get_mut(&ino).ok_or(FsError::Stale)?;
        if let Some(size) = set.size {
            node.attr.size = size;
            node.attr.mtime = now;
            node.sealed = None;
        }
        if let Some(perm) = set.perm {
            node.attr.perm = perm & 0o7777;
        }
        if let Some(uid) = set.uid {
            node.attr.uid = uid;
        }
        if let Some(gid) = set.gid {
            node.attr.gid = gid;
        }
        if (set.uid.is_some() || set.gid.is_some()) && set.perm.is_none() {
            // chown clears setuid of every non-directory (files, fifos, devices, sockets,
            // symlinks), and setgid where it means "run as the group" (group-executable; without
            // it setgid marks mandatory locking and stays), as Linux filesystems do. The kernel
            // leaves this to a FUSE daemon. Directories keep both: their setgid is inherited.
            if node.attr.kind != Kind::Dir {
                let group_exec = node.attr.perm & 0o010 != 0;
                node.attr.perm &= if group_exec { !0o6000 } else { !0o4000 };
            }
        }
        match set.atime {
            Some(SetTime::At(t)) => node.attr.atime = t,
            Some(SetTime::Now) => node.attr.atime = now,
            None => {}
        }
        match set.mtime {
            Some(SetTime::At(t)) => node.attr.mtime = t,
            Some(SetTime::Now) => node.attr.mtime = now,
            None => {}
        }
        node.attr.ctime = set.ctime.unwrap_or(now);
        let times = (node.attr.atime, node.attr.mtime);
        if (set.atime.is_some() || set.mtime.is_some()) && self.written_directly(ino) {
            // The working file's own mtime is what a direct writer's file shows: it must
            // carry the times set here too.
            let file = self.backing(ino)?;
            set_file_times(&file, times).map_err(work_err(ino))?;
        }
        if self.open.get(&ino).copied().unwrap_or(0) > 0 && self.pending.is_empty() {
            // An open file's attributes are written through at its release, with its writes:
            // `tar` and editors set owner, mode and times on the open file, and one write at
            // the close costs less than one per call.
            self.dirty.insert(ino);
        } else {
            self.dirty.remove(&ino);
            self.touch_node(ino);
            self.write_pending()?;
        }
        self.getattr(ino)
    }

    /// Clears setuid and setgid and drops file capabilities of `ino`, as the kernel asks
    /// before a write by a process without `CAP_FSETID`.
    pub fn kill_privileges(&mut self, ino: Ino) -> Result<(), FsError> {
        let cap = b"security.capability".as_slice();
        // The kernel flags every write of a process without CAP_FSETID, so this must be
        // cheap when there is nothing to kill: attributes from memory, and capabilities only
        // where the overlay holds the xattrs already (see SEMANTICS.md, known gaps).
        let setid = self.getattr(ino)?.perm & 0o6000 != 0;
        let caps = self
            .nodes
            .get(&ino)
            .and_then(|n| n.xattrs.as_ref())
            .is_some_and(|x| x.contains_key(cap));
        if !setid && !caps {
            return Ok(());
        }
        self.copy_up(ino)?;
        let node = self.nodes.get_mut(&ino).ok_or(FsError::Stale)?;
        node.attr.perm &= !0o6000;
        if let Some(x) = node.xattrs.as_mut() {
            x.remove(cap);
        }
        self.touch_node(ino);
        self.write_pending()
    }

    /// The target of symlink `ino`.
    pub fn readlink(&self, ino: Ino) -> Result<Vec<u8>, FsError> {
        if let Some(node) = self.nodes.get(&ino) {
            return node.target.clone().ok_or(FsError::Invalid);
        }
        let r = self.refs.get(&ino).ok_or(FsError::Stale)?;
        self.lower
            .read_link(&r.path)
            .map_err(lower_err("readlink", &r.path))
    }
}

fn mtime_of(m: &std::fs::Metadata) -> Time {
    Time {
        sec: m.mtime(),
        nsec: m.mtime_nsec() as u32,
    }
}

/// Sets the access and modification times `(atime, mtime)` of an open file.
fn set_file_times(file: &File, (atime, mtime): (Time, Time)) -> io::Result<()> {
    crate::sys::set_file_times(file, (atime.sec, atime.nsec), (mtime.sec, mtime.nsec))
}
