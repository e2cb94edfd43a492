//! Read-only access to the workspace (the lower directory) through a directory fd.
//!
//! Every call goes through the `*at()` calls of `sys` on the root fd opened before the view was
//! mounted over the workspace, so in-place mounts can still read what lies beneath. The parent
//! of every path is opened beneath the root without following any symlink
//! (`sys::open_dir_beneath`: `openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, else a walk
//! with `O_NOFOLLOW`), and the last component is never followed either, so a workspace directory
//! replaced by a symlink from outside the view fails with `ELOOP` instead of leading out of the
//! workspace. Paths longer than the kernel's `PATH_MAX` are walked component by component.
//! Nothing here writes (`ctime_boundary` changes an unnamed file only): the workspace changes
//! only at commit (see `txn`).

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use super::types::{RelPath, Stamp, Time};
use crate::sys::{self, FileType, Open, StatVfs};

pub use crate::sys::is_absent;

/// Paths at least this long are walked one component at a time.
const LONG_PATH: usize = 3800;

/// The workspace directory, open for reading.
#[derive(Debug)]
pub struct Lower {
    root: OwnedFd,
}

/// A resolved location: a directory fd (the root, or an owned walked one) and a name in it.
struct At<'p> {
    dir: Option<OwnedFd>,
    name: &'p [u8],
}

/// The `stat` of a lower object.
pub type Stat = sys::Stat;

/// What a stat says for conflict detection.
pub fn stamp_of(st: &Stat) -> Stamp {
    Stamp {
        ino: st.st_ino,
        size: st.st_size as u64,
        mtime: Time::from_parts(st.st_mtime, st.st_mtime_nsec),
        ctime: Time::from_parts(st.st_ctime, st.st_ctime_nsec),
        hash: None,
    }
}

impl Lower {
    /// Opens the workspace directory `path`.
    pub fn open(path: &Path) -> io::Result<Lower> {
        Ok(Lower {
            root: sys::open_dir_path(path)?,
        })
    }

    /// A reading of the workspace file system's ctime clock that separates changes: those
    /// completed before have an earlier ctime, those after one at or after it
    /// ([`sys::ctime_boundary`]; it changes nothing anyone can see).
    pub fn ctime_boundary(&self) -> Time {
        let (sec, nsec) = sys::ctime_boundary(self.root());
        Time { sec, nsec }
    }

    /// The root directory fd (for `txn`, which duplicates it).
    pub fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    fn at<'p>(&self, path: &'p RelPath) -> io::Result<At<'p>> {
        if path.0.is_empty() {
            return Ok(At {
                dir: None,
                name: b".",
            });
        }
        let (parent, name) = sys::path::split(&path.0).unwrap_or((b"", &path.0));
        if parent.is_empty() {
            return Ok(At { dir: None, name });
        }
        // The parent is resolved beneath the root with no symlink on the way: a directory of
        // the workspace swapped for a symlink after the view looked it up cannot lead outside.
        let dir = if path.0.len() < LONG_PATH {
            sys::open_dir_beneath(self.root(), parent)?
        } else {
            sys::open_dir(self.root(), parent, false)?
        };
        Ok(At {
            dir: Some(dir),
            name,
        })
    }

    fn dirfd<'a>(&'a self, at: &'a At<'_>) -> BorrowedFd<'a> {
        at.dir.as_ref().map_or(self.root(), AsFd::as_fd)
    }

    /// `lstat` of `path`; `Ok(None)` when it does not exist.
    pub fn stat(&self, path: &RelPath) -> io::Result<Option<Stat>> {
        let at = match self.at(path) {
            Ok(at) => at,
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        sys::lstat_if_present(self.dirfd(&at), at.name)
    }

    /// Opens the regular file `path` for reading.
    pub fn open_file(&self, path: &RelPath) -> io::Result<File> {
        let at = self.at(path)?;
        Ok(File::from(sys::open_at(
            self.dirfd(&at),
            at.name,
            Open::RDONLY,
            0,
        )?))
    }

    /// The entries of directory `path` (without `.` and `..`): name, inode number, type.
    pub fn read_dir(&self, path: &RelPath) -> io::Result<Vec<(Vec<u8>, u64, FileType)>> {
        let at = self.at(path)?;
        sys::read_dir(self.dirfd(&at), at.name)
    }

    /// The target of symlink `path`.
    pub fn read_link(&self, path: &RelPath) -> io::Result<Vec<u8>> {
        let at = self.at(path)?;
        sys::read_link(self.dirfd(&at), at.name)
    }

    /// Extended attribute `name` of `path` (not following a final symlink), if it has one.
    pub fn xattr(&self, path: &RelPath, name: &[u8]) -> io::Result<Option<Vec<u8>>> {
        let at = self.at(path)?;
        match sys::xattr(self.dirfd(&at), at.name, name) {
            Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => Ok(None),
            r => r,
        }
    }

    /// The extended attributes of `path` (not following a final symlink).
    pub fn xattrs(&self, path: &RelPath) -> io::Result<BTreeMap<Vec<u8>, Vec<u8>>> {
        let at = self.at(path)?;
        sys::xattrs(self.dirfd(&at), at.name)
    }

    /// `statvfs` of the workspace's filesystem.
    pub fn statvfs(&self) -> io::Result<StatVfs> {
        sys::statvfs(self.root())
    }
}
