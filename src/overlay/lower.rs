//! Read-only access to the workspace (the lower directory) through a directory fd.
//!
//! Every call goes through `*at()` on the root fd opened before the view was mounted over the
//! workspace, so in-place mounts can still read what lies beneath. Paths longer than the
//! kernel's `PATH_MAX` are walked component by component. Nothing here writes: the workspace
//! changes only at commit (see `txn`).

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use super::types::{LowerPath, Stamp, Time};

/// Paths at least this long are walked one component at a time.
const LONG_PATH: usize = 3800;

/// The workspace directory, open for reading.
#[derive(Debug)]
pub struct Lower {
    root: OwnedFd,
}

/// A resolved location: a directory fd (borrowed root or an owned walked one) and a name in it.
struct At {
    dir: Option<OwnedFd>,
    name: CString,
}

fn cstr(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn check_size(ret: isize) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// The `stat` of a lower object.
pub type Stat = libc::stat;

/// What a stat says for conflict detection.
pub fn stamp_of(st: &Stat) -> Stamp {
    Stamp {
        ino: st.st_ino,
        size: st.st_size as u64,
        mtime: Time::from_parts(st.st_mtime, st.st_mtime_nsec),
        ctime: Time::from_parts(st.st_ctime, st.st_ctime_nsec),
    }
}

impl Lower {
    /// Opens the workspace directory `path`.
    pub fn open(path: &Path) -> io::Result<Lower> {
        let c = cstr(path.as_os_str().as_encoded_bytes())?;
        // SAFETY: `c` is a valid NUL-terminated path; the returned fd is checked and owned below.
        let fd = check(unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        })?;
        // SAFETY: `fd` was just returned by open and is owned by nobody else.
        let root = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Lower { root })
    }

    /// The root directory fd (for `fstatvfs` and for `txn`).
    pub fn root_fd(&self) -> RawFd {
        self.root.as_raw_fd()
    }

    fn at(&self, path: &LowerPath) -> io::Result<At> {
        if path.0.is_empty() {
            return Ok(At {
                dir: None,
                name: cstr(b".")?,
            });
        }
        if path.0.len() < LONG_PATH {
            return Ok(At {
                dir: None,
                name: cstr(&path.0)?,
            });
        }
        let mut parts = path.0.split(|b| *b == b'/').peekable();
        let mut dir: Option<OwnedFd> = None;
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                return Ok(At {
                    dir,
                    name: cstr(part)?,
                });
            }
            let base = dir
                .as_ref()
                .map_or(self.root.as_raw_fd(), AsRawFd::as_raw_fd);
            let c = cstr(part)?;
            // SAFETY: `base` is an open directory fd, `c` a valid name; the fd is checked and owned.
            let fd = check(unsafe {
                libc::openat(
                    base,
                    c.as_ptr(),
                    libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                )
            })?;
            // SAFETY: `fd` was just returned by openat and is owned by nobody else.
            dir = Some(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        Err(io::Error::from_raw_os_error(libc::EINVAL))
    }

    fn dirfd(&self, at: &At) -> RawFd {
        at.dir
            .as_ref()
            .map_or(self.root.as_raw_fd(), AsRawFd::as_raw_fd)
    }

    /// `lstat` of `path`; `Ok(None)` when it does not exist.
    pub fn stat(&self, path: &LowerPath) -> io::Result<Option<Stat>> {
        let at = match self.at(path) {
            Ok(at) => at,
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
        let mut st: Stat = unsafe { std::mem::zeroed() };
        // SAFETY: dirfd is open, name NUL-terminated, `st` is writable memory of the right type.
        let ret = unsafe {
            libc::fstatat(
                self.dirfd(&at),
                at.name.as_ptr(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        match check(ret) {
            Ok(_) => Ok(Some(st)),
            Err(e) if is_absent(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Opens the regular file `path` for reading.
    pub fn open_file(&self, path: &LowerPath) -> io::Result<File> {
        let at = self.at(path)?;
        // SAFETY: dirfd is open, name NUL-terminated; the fd is checked and owned below.
        let fd = check(unsafe {
            libc::openat(
                self.dirfd(&at),
                at.name.as_ptr(),
                libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        })?;
        // SAFETY: `fd` was just returned by openat and is owned by nobody else.
        Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Opens `path` with `O_PATH`, for calls that need an fd of any file type.
    fn open_path(&self, path: &LowerPath) -> io::Result<OwnedFd> {
        let at = self.at(path)?;
        // SAFETY: dirfd is open, name NUL-terminated; the fd is checked and owned below.
        let fd = check(unsafe {
            libc::openat(
                self.dirfd(&at),
                at.name.as_ptr(),
                libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        })?;
        // SAFETY: `fd` was just returned by openat and is owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// The entries of directory `path` (without `.` and `..`): name, inode number, `d_type`.
    pub fn read_dir(&self, path: &LowerPath) -> io::Result<Vec<(Vec<u8>, u64, u8)>> {
        let at = self.at(path)?;
        // SAFETY: dirfd is open, name NUL-terminated; the fd is checked and handed to fdopendir.
        let fd = check(unsafe {
            libc::openat(
                self.dirfd(&at),
                at.name.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        })?;
        // SAFETY: `fd` is a fresh directory fd; on success fdopendir owns it, on failure we close it.
        let dir = unsafe { libc::fdopendir(fd) };
        if dir.is_null() {
            let err = io::Error::last_os_error();
            // SAFETY: fdopendir failed, so `fd` is still ours to close.
            unsafe { libc::close(fd) };
            return Err(err);
        }
        let mut out = Vec::new();
        loop {
            // SAFETY: `dir` is a valid DIR* until closedir below.
            let ent = unsafe { libc::readdir64(dir) };
            if ent.is_null() {
                break;
            }
            // SAFETY: readdir64 returned a valid dirent whose d_name is NUL-terminated.
            let (name, ino, ty) = unsafe {
                let e = &*ent;
                (
                    std::ffi::CStr::from_ptr(e.d_name.as_ptr())
                        .to_bytes()
                        .to_vec(),
                    e.d_ino,
                    e.d_type,
                )
            };
            if name != b"." && name != b".." {
                out.push((name, ino, ty));
            }
        }
        // SAFETY: `dir` came from fdopendir and is closed exactly once.
        unsafe { libc::closedir(dir) };
        Ok(out)
    }

    /// The target of symlink `path`.
    pub fn read_link(&self, path: &LowerPath) -> io::Result<Vec<u8>> {
        let at = self.at(path)?;
        let mut buf = vec![0u8; 4096];
        loop {
            // SAFETY: dirfd is open, name NUL-terminated, `buf` is writable for its length.
            let n = check_size(unsafe {
                libc::readlinkat(
                    self.dirfd(&at),
                    at.name.as_ptr(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                )
            })?;
            if n < buf.len() {
                buf.truncate(n);
                return Ok(buf);
            }
            buf.resize(buf.len() * 2, 0);
        }
    }

    /// Extended attribute `name` of `path` (not following a final symlink), if it has one.
    pub fn xattr(&self, path: &LowerPath, name: &[u8]) -> io::Result<Option<Vec<u8>>> {
        let fd = self.open_path(path)?;
        let proc = cstr(format!("/proc/self/fd/{}", fd.as_raw_fd()).as_bytes())?;
        let cname = cstr(name)?;
        let value = loop_size(|buf, len| {
            // SAFETY: `proc` and `cname` are NUL-terminated; buf/len describe writable memory
            // (or null/0 to size).
            unsafe { libc::getxattr(proc.as_ptr(), cname.as_ptr(), buf.cast(), len) }
        });
        match value {
            Ok(v) => Ok(Some(v)),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENODATA | libc::ENOTSUP)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The extended attributes of `path` (not following a final symlink).
    pub fn xattrs(&self, path: &LowerPath) -> io::Result<BTreeMap<Vec<u8>, Vec<u8>>> {
        let fd = self.open_path(path)?;
        // Through /proc the O_PATH fd names the object itself, whatever its type.
        let proc = cstr(format!("/proc/self/fd/{}", fd.as_raw_fd()).as_bytes())?;
        let mut out = BTreeMap::new();
        let names = loop_size(|buf, len| {
            // SAFETY: `proc` is NUL-terminated; buf/len describe writable memory (or null/0 to size).
            unsafe { libc::listxattr(proc.as_ptr(), buf, len) }
        })?;
        for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
            let cname = cstr(name)?;
            let value = loop_size(|buf, len| {
                // SAFETY: as above; `cname` is NUL-terminated.
                unsafe { libc::getxattr(proc.as_ptr(), cname.as_ptr(), buf.cast(), len) }
            });
            match value {
                Ok(v) => {
                    out.insert(name.to_vec(), v);
                }
                Err(e) if e.raw_os_error() == Some(libc::ENODATA) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// `statvfs` of the workspace's filesystem.
    pub fn statvfs(&self) -> io::Result<libc::statvfs> {
        // SAFETY: an all-zero statvfs is a valid value of this plain C struct.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: the root fd is open and `st` is writable memory of the right type.
        check(unsafe { libc::fstatvfs(self.root.as_raw_fd(), &mut st) })?;
        Ok(st)
    }
}

/// Calls a size-probing syscall (list/getxattr style) until the buffer is large enough.
fn loop_size(mut call: impl FnMut(*mut libc::c_char, usize) -> isize) -> io::Result<Vec<u8>> {
    loop {
        let need = check_size(call(std::ptr::null_mut(), 0))?;
        let mut buf = vec![0u8; need];
        match check_size(call(buf.as_mut_ptr().cast(), buf.len())) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(e) if e.raw_os_error() == Some(libc::ERANGE) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Whether an error means "there is nothing at that path".
pub fn is_absent(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR))
}
