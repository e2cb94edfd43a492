//! Bytes and attributes: open, read, write, truncate, setattr, fsync.
//!
//! Reads of a file the view never changed go to the workspace file; the first write (or
//! truncate) copies the bytes into a working file. Hashing stays off this path: working files
//! are sealed into blobs only at checkpoints and commits.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use super::types::*;
use super::{FsError, Overlay, lower_err, work_err};

impl Overlay {
    /// Counts an open file handle of `ino`.
    pub fn open_handle(&mut self, ino: Ino) -> Result<Attr, FsError> {
        let attr = self.getattr(ino)?;
        *self.open.entry(ino).or_insert(0) += 1;
        Ok(attr)
    }

    /// Releases an open file handle of `ino`, writing its attributes through.
    pub fn release_handle(&mut self, ino: Ino) -> Result<(), FsError> {
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

    /// The file to read `ino`'s bytes from. The caller reads from it without holding the
    /// overlay, so a read never waits for another request's metadata work.
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
        self.files.insert(ino, file.clone());
        Ok(file)
    }

    /// Gives `ino` a working file holding its current bytes (copy-up of data).
    fn ensure_work(&mut self, ino: Ino) -> Result<Arc<File>, FsError> {
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
        let src = self.backing(ino)?;
        let dst = self.work.create(ino.0)?;
        copy_all(&src, &dst).map_err(work_err(ino))?;
        let node = self.nodes.get_mut(&ino).ok_or(FsError::Stale)?;
        node.xattrs.get_or_insert(xattrs);
        node.sealed = match node.data {
            Data::Blob(id) => Some(id),
            _ => None,
        };
        node.data = Data::Work;
        self.touch_node(ino);
        self.write_pending()?;
        let dst = Arc::new(dst);
        self.files.insert(ino, dst.clone());
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
        // SAFETY: the fd is open for writing for the duration of the call.
        let ret = unsafe { libc::fallocate(file.as_raw_fd(), mode, offset as i64, length as i64) };
        if ret < 0 {
            return Err(work_err(ino)(io::Error::last_os_error()));
        }
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
        if set.uid.is_some() || set.gid.is_some() {
            // chown clears setuid and setgid of a regular file, as the kernel does.
            if node.attr.kind == Kind::File {
                node.attr.perm &= !0o6000;
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

/// Copies all of `src` into `dst` (kernel-side where the filesystems allow it), copying only
/// the data regions so the holes of a sparse file stay holes.
fn copy_all(src: &File, dst: &File) -> io::Result<()> {
    let len = src.metadata()?.len();
    let mut off: u64 = 0;
    while off < len {
        let (start, end) = match data_region(src, off, len)? {
            Some(r) => r,
            None => break,
        };
        copy_range(src, dst, start, end)?;
        off = end;
    }
    // A trailing hole has no data to copy: give the copy its full length.
    dst.set_len(len)
}

/// The next data region of `src` at or after `off`, as `(start, end)`; `None` past the last.
/// A filesystem without `SEEK_DATA` gets one region: all the rest.
fn data_region(src: &File, off: u64, len: u64) -> io::Result<Option<(u64, u64)>> {
    // SAFETY: lseek on an open fd has no memory effects.
    let start = unsafe { libc::lseek(src.as_raw_fd(), off as i64, libc::SEEK_DATA) };
    if start < 0 {
        let err = io::Error::last_os_error();
        return match err.raw_os_error() {
            Some(libc::ENXIO) => Ok(None),
            Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) => Ok(Some((off, len))),
            _ => Err(err),
        };
    }
    // SAFETY: as above.
    let end = unsafe { libc::lseek(src.as_raw_fd(), start, libc::SEEK_HOLE) };
    if end < 0 {
        return Ok(Some((start as u64, len)));
    }
    Ok(Some((start as u64, (end as u64).min(len))))
}

/// Copies bytes `start..end` of `src` to the same offsets of `dst`.
fn copy_range(src: &File, dst: &File, start: u64, end: u64) -> io::Result<()> {
    let mut off_in = start as i64;
    let mut off_out = start as i64;
    while (off_in as u64) < end {
        let want = (end - off_in as u64).min(1 << 30) as usize;
        // SAFETY: both fds are open; the offsets point to our own i64s.
        let n = unsafe {
            libc::copy_file_range(
                src.as_raw_fd(),
                &mut off_in,
                dst.as_raw_fd(),
                &mut off_out,
                want,
                0,
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            if matches!(
                err.raw_os_error(),
                Some(libc::EXDEV) | Some(libc::ENOSYS) | Some(libc::EINVAL)
            ) {
                return copy_by_reading(src, dst, off_in as u64, end);
            }
            return Err(err);
        }
        if n == 0 {
            break;
        }
    }
    Ok(())
}

fn copy_by_reading(src: &File, dst: &File, mut off: u64, len: u64) -> io::Result<()> {
    let mut buf = vec![0u8; 1 << 20];
    while off < len {
        let n = src.read_at(&mut buf, off)?;
        if n == 0 {
            break;
        }
        dst.write_all_at(&buf[..n], off)?;
        off += n as u64;
    }
    Ok(())
}
