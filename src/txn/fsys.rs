//! Directory-relative file system calls for the commit engine.
//!
//! Owns every raw system call of `txn`. All paths are resolved one component at a time from an
//! open directory descriptor with `O_NOFOLLOW`, so no call ever takes a long absolute path (no
//! `PATH_MAX` limit the native file system does not have) and no symlink in the workspace is
//! ever followed. Extended attributes, which have no `*at()` calls before Linux 6.13, go through
//! `/proc/self/fd/<dir fd>/<name>`, a path of bounded length.
//!
//! Deliberately not here: what a step means, ordering, durability decisions (see `apply`).

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::plan::{Meta, split};

fn cstr(name: &[u8]) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// Retries `f` while it fails with `EINTR`; maps a negative result to the OS error.
fn retry(mut f: impl FnMut() -> libc::c_long) -> io::Result<libc::c_long> {
    loop {
        let r = f();
        if r >= 0 {
            return Ok(r);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Whether `e` is "no such file or directory".
pub(crate) fn is_enoent(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENOENT)
}

/// Opens `name` in `dir` with `flags` (`O_CLOEXEC` and `O_NOFOLLOW` are added).
pub(crate) fn open_at(
    dir: BorrowedFd<'_>,
    name: &[u8],
    flags: i32,
    mode: u32,
) -> io::Result<OwnedFd> {
    let c = cstr(name)?;
    let fd = retry(|| {
        // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
        let r = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                c.as_ptr(),
                flags | libc::O_CLOEXEC | libc::O_NOFOLLOW,
                mode as libc::c_uint,
            )
        };
        r as libc::c_long
    })?;
    // SAFETY: `fd` is a fresh descriptor returned by openat that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Opens the directory `path` (relative to `root`, components joined by '/', "" = `root`
/// itself), never following a symlink. `O_PATH` unless `readable`.
pub(crate) fn open_dir(root: BorrowedFd<'_>, path: &[u8], readable: bool) -> io::Result<OwnedFd> {
    let last_flags = libc::O_DIRECTORY
        | if readable {
            libc::O_RDONLY
        } else {
            libc::O_PATH
        };
    if path.is_empty() {
        return open_at(root, b".", last_flags, 0);
    }
    let comps: Vec<&[u8]> = path.split(|&b| b == b'/').collect();
    let mut cur: Option<OwnedFd> = None;
    for (i, comp) in comps.iter().enumerate() {
        let flags = if i + 1 == comps.len() {
            last_flags
        } else {
            libc::O_DIRECTORY | libc::O_PATH
        };
        let base = cur.as_ref().map_or(root, |fd| {
            use std::os::fd::AsFd;
            fd.as_fd()
        });
        cur = Some(open_at(base, comp, flags, 0)?);
    }
    cur.ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))
}

/// Opens the parent directory of `path` (`O_PATH`) and returns it with the last component.
pub(crate) fn open_parent<'p>(
    root: BorrowedFd<'_>,
    path: &'p [u8],
) -> io::Result<(OwnedFd, &'p [u8])> {
    let (parent, name) = split(path).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    Ok((open_dir(root, parent, false)?, name))
}

/// `lstat` of `name` in `dir` ("" = `dir` itself); `None` if nothing is there.
pub(crate) fn lstat(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<Option<libc::stat>> {
    let c = cstr(name)?;
    let flags = libc::AT_SYMLINK_NOFOLLOW
        | if name.is_empty() {
            libc::AT_EMPTY_PATH
        } else {
            0
        };
    // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    match retry(|| {
        // SAFETY: `c` is NUL-terminated and `st` is a valid, writable `stat`.
        (unsafe { libc::fstatat(dir.as_raw_fd(), c.as_ptr(), &mut st, flags) }) as libc::c_long
    }) {
        Ok(_) => Ok(Some(st)),
        Err(e) if is_enoent(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The type bits of a `stat`.
pub(crate) fn file_type(st: &libc::stat) -> u32 {
    st.st_mode & libc::S_IFMT
}

/// Runs a two-name `*at()` call `f(from fd, from name, to fd, to name)` with `EINTR` retries.
fn two_names(
    from: BorrowedFd<'_>,
    from_name: &[u8],
    to: BorrowedFd<'_>,
    to_name: &[u8],
    f: impl Fn(i32, *const libc::c_char, i32, *const libc::c_char) -> libc::c_int,
) -> io::Result<()> {
    let a = cstr(from_name)?;
    let b = cstr(to_name)?;
    retry(|| f(from.as_raw_fd(), a.as_ptr(), to.as_raw_fd(), b.as_ptr()) as libc::c_long).map(drop)
}

/// Renames `from_name` in `from` to `to_name` in `to`, failing with `EEXIST` if the target exists.
pub(crate) fn rename_noreplace(
    from: BorrowedFd<'_>,
    from_name: &[u8],
    to: BorrowedFd<'_>,
    to_name: &[u8],
) -> io::Result<()> {
    two_names(from, from_name, to, to_name, |fd, a, td, b| {
        // SAFETY: `two_names` passes open descriptors and NUL-terminated names that outlive the call.
        unsafe { libc::renameat2(fd, a, td, b, libc::RENAME_NOREPLACE) }
    })
}

/// Makes `to_name` in `to` a new name of the object `from_name` in `from` (no symlink is followed).
pub(crate) fn link(
    from: BorrowedFd<'_>,
    from_name: &[u8],
    to: BorrowedFd<'_>,
    to_name: &[u8],
) -> io::Result<()> {
    two_names(from, from_name, to, to_name, |fd, a, td, b| {
        // SAFETY: `two_names` passes open descriptors and NUL-terminated names that outlive the call.
        unsafe { libc::linkat(fd, a, td, b, 0) }
    })
}

/// Creates directory `name` in `dir`.
pub(crate) fn mkdir(dir: BorrowedFd<'_>, name: &[u8], mode: u32) -> io::Result<()> {
    let c = cstr(name)?;
    // SAFETY: `c` is a valid NUL-terminated string.
    retry(|| (unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), mode) }) as libc::c_long)
        .map(drop)
}

/// Creates symlink `name` in `dir` pointing at `target`.
pub(crate) fn symlink(target: &[u8], dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<()> {
    let t = cstr(target)?;
    let c = cstr(name)?;
    // SAFETY: both strings are valid and NUL-terminated.
    retry(|| (unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), c.as_ptr()) }) as libc::c_long)
        .map(drop)
}

/// Creates a special file `name` in `dir` (`mode` includes the type bits).
pub(crate) fn mknod(dir: BorrowedFd<'_>, name: &[u8], mode: u32, rdev: u64) -> io::Result<()> {
    let c = cstr(name)?;
    retry(|| {
        // SAFETY: `c` is a valid NUL-terminated string.
        (unsafe { libc::mknodat(dir.as_raw_fd(), c.as_ptr(), mode, rdev as libc::dev_t) })
            as libc::c_long
    })
    .map(drop)
}

/// Removes `name` from `dir` (`AT_REMOVEDIR` when `is_dir`).
pub(crate) fn unlink(dir: BorrowedFd<'_>, name: &[u8], is_dir: bool) -> io::Result<()> {
    let c = cstr(name)?;
    let flags = if is_dir { libc::AT_REMOVEDIR } else { 0 };
    // SAFETY: `c` is a valid NUL-terminated string.
    retry(|| (unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), flags) }) as libc::c_long)
        .map(drop)
}

/// `fsync` of an open descriptor (not `O_PATH`).
pub(crate) fn fsync(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: plain system call on a borrowed, open descriptor.
    retry(|| (unsafe { libc::fsync(fd.as_raw_fd()) }) as libc::c_long).map(drop)
}

/// Creates a new regular file `name` in `dir` for writing (mode 0600, must not exist).
pub(crate) fn create_file(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<File> {
    let fd = open_at(
        dir,
        name,
        libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
        0o600,
    )?;
    Ok(File::from(fd))
}

/// The `/proc/self/fd` path of `name` in `dir` ("" = `dir` itself), for the xattr calls.
fn proc_path(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<CString> {
    let mut p = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    // `dir` itself is `.` below its link: the `l*xattr` calls do not follow a last component,
    // and the bare link would name the /proc symlink, not the directory.
    p.extend_from_slice(if name.is_empty() { b"." } else { name });
    cstr(&p)
}

/// Calls a size-probing xattr function (`f(buf, len)`) until the buffer is big enough.
fn sized(mut f: impl FnMut(*mut libc::c_void, usize) -> isize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    loop {
        let n = retry(|| f(buf.as_mut_ptr().cast(), buf.len()) as libc::c_long);
        match n {
            Ok(n) => {
                buf.truncate(n as usize);
                return Ok(buf);
            }
            Err(e) if e.raw_os_error() == Some(libc::ERANGE) => {
                let need = retry(|| f(std::ptr::null_mut(), 0) as libc::c_long)? as usize;
                buf.resize(need.max(buf.len() * 2), 0);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Every extended attribute of `name` in `dir` outside the `system.` namespace.
pub(crate) fn read_xattrs(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let p = proc_path(dir, name)?;
    // SAFETY: `p` is NUL-terminated; the buffer pointer and length come from `sized`.
    let list = sized(|b, n| unsafe { libc::llistxattr(p.as_ptr(), b.cast(), n) })?;
    let mut out = Vec::new();
    for attr in list.split(|&b| b == 0).filter(|a| !a.is_empty()) {
        if attr.starts_with(b"system.") {
            continue;
        }
        let an = cstr(attr)?;
        // SAFETY: both strings are NUL-terminated; buffer pointer and length come from `sized`.
        match sized(|b, n| unsafe { libc::lgetxattr(p.as_ptr(), an.as_ptr(), b, n) }) {
            Ok(v) => out.push((attr.to_vec(), v)),
            Err(e) if e.raw_os_error() == Some(libc::ENODATA) => {}
            Err(e) => return Err(e),
        }
    }
    out.sort();
    Ok(out)
}

/// Makes the extended attributes of `name` in `dir` exactly `want` (leaving unlisted `system.` ones).
fn write_xattrs(dir: BorrowedFd<'_>, name: &[u8], want: &[(Vec<u8>, Vec<u8>)]) -> io::Result<()> {
    let p = proc_path(dir, name)?;
    for (attr, _) in read_xattrs(dir, name)? {
        if !want.iter().any(|(n, _)| *n == attr) {
            let an = cstr(&attr)?;
            // SAFETY: both strings are valid and NUL-terminated.
            match retry(|| (unsafe { libc::lremovexattr(p.as_ptr(), an.as_ptr()) }) as libc::c_long)
            {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENODATA) => {}
                Err(e) => return Err(e),
            }
        }
    }
    for (attr, value) in want {
        let an = cstr(attr)?;
        retry(|| {
            // SAFETY: strings are NUL-terminated; `value` is a valid slice for its length.
            (unsafe {
                libc::lsetxattr(
                    p.as_ptr(),
                    an.as_ptr(),
                    value.as_ptr().cast(),
                    value.len(),
                    0,
                )
            }) as libc::c_long
        })?;
    }
    Ok(())
}

fn timespec((sec, nsec): (i64, u32)) -> libc::timespec {
    libc::timespec {
        tv_sec: sec as libc::time_t,
        tv_nsec: nsec as libc::c_long,
    }
}

/// Sets the access and modification times of `name` in `dir` ("" = `dir`), without following.
pub(crate) fn set_times(
    dir: BorrowedFd<'_>,
    name: &[u8],
    atime: (i64, u32),
    mtime: (i64, u32),
) -> io::Result<()> {
    let c = cstr(name)?;
    let ts = [timespec(atime), timespec(mtime)];
    let flags = libc::AT_SYMLINK_NOFOLLOW
        | if name.is_empty() {
            libc::AT_EMPTY_PATH
        } else {
            0
        };
    retry(|| {
        // SAFETY: `c` is NUL-terminated and `ts` holds the two timespecs utimensat reads.
        (unsafe { libc::utimensat(dir.as_raw_fd(), c.as_ptr(), ts.as_ptr(), flags) })
            as libc::c_long
    })
    .map(drop)
}

/// Gives `name` in `dir` the metadata `meta`: xattrs (if listed), owner, mode (not for
/// symlinks), then times, in this order because chown clears setuid bits and every change but
/// the last would move the times.
pub(crate) fn set_meta(dir: BorrowedFd<'_>, name: &[u8], meta: &Meta) -> io::Result<()> {
    let st = lstat(dir, name)?.ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
    let is_link = file_type(&st) == libc::S_IFLNK;
    let c = cstr(name)?;
    let empty = if name.is_empty() {
        libc::AT_EMPTY_PATH
    } else {
        0
    };
    if let Some(x) = &meta.xattrs {
        write_xattrs(dir, name, x)?;
    }
    if (st.st_uid, st.st_gid) != (meta.uid, meta.gid) {
        retry(|| {
            // SAFETY: `c` is a valid NUL-terminated string.
            (unsafe {
                libc::fchownat(
                    dir.as_raw_fd(),
                    c.as_ptr(),
                    meta.uid,
                    meta.gid,
                    libc::AT_SYMLINK_NOFOLLOW | empty,
                )
            }) as libc::c_long
        })?;
    }
    if !is_link {
        if name.is_empty() {
            // fchmodat has no AT_EMPTY_PATH before Linux 6.6: chmod the directory through ".".
            let dot = cstr(b".")?;
            retry(|| {
                // SAFETY: `dot` is a valid NUL-terminated string.
                (unsafe { libc::fchmodat(dir.as_raw_fd(), dot.as_ptr(), meta.mode & 0o7777, 0) })
                    as libc::c_long
            })?;
        } else {
            // The object is not a symlink (checked above), so following is moot.
            retry(|| {
                // SAFETY: `c` is a valid NUL-terminated string.
                (unsafe { libc::fchmodat(dir.as_raw_fd(), c.as_ptr(), meta.mode & 0o7777, 0) })
                    as libc::c_long
            })?;
        }
    }
    set_times(dir, name, meta.atime, meta.mtime)
}

/// The metadata of `name` in `dir` ("" = `dir`), with its xattrs when `with_xattrs`.
pub(crate) fn read_meta(
    dir: BorrowedFd<'_>,
    name: &[u8],
    with_xattrs: bool,
) -> io::Result<Option<(Meta, libc::stat)>> {
    let Some(st) = lstat(dir, name)? else {
        return Ok(None);
    };
    let xattrs = if with_xattrs {
        Some(read_xattrs(dir, name)?)
    } else {
        None
    };
    Ok(Some((
        Meta {
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
            atime: (st.st_atime, st.st_atime_nsec as u32),
            mtime: (st.st_mtime, st.st_mtime_nsec as u32),
            xattrs,
        },
        st,
    )))
}

/// The names in directory `dir` (an open descriptor of any kind), without "." and "..".
pub(crate) fn read_names(dir: BorrowedFd<'_>) -> io::Result<Vec<Vec<u8>>> {
    let fd = open_at(dir, b".", libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    use std::os::fd::IntoRawFd;
    let raw = fd.into_raw_fd();
    // SAFETY: `raw` is an open directory descriptor whose ownership passes to the DIR stream.
    let stream = unsafe { libc::fdopendir(raw) };
    if stream.is_null() {
        let e = io::Error::last_os_error();
        // SAFETY: fdopendir failed, so `raw` is still ours to close.
        unsafe { libc::close(raw) };
        return Err(e);
    }
    let mut names = Vec::new();
    let result = loop {
        // SAFETY: errno is thread-local; resetting it distinguishes end of stream from error.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: `stream` is a valid DIR stream until closedir below.
        let ent = unsafe { libc::readdir64(stream) };
        if ent.is_null() {
            let e = io::Error::last_os_error();
            break if e.raw_os_error().unwrap_or(0) == 0 {
                Ok(())
            } else {
                Err(e)
            };
        }
        // SAFETY: readdir returned a valid entry whose d_name is NUL-terminated.
        let name = unsafe { CStr::from_ptr((*ent).d_name.as_ptr()) }.to_bytes();
        if name != b"." && name != b".." {
            names.push(name.to_vec());
        }
    };
    // SAFETY: `stream` is valid and closed exactly once; this also closes `raw`.
    unsafe { libc::closedir(stream) };
    result.map(|()| names)
}

/// Removes `name` in `dir` and, if it is a directory, everything below it. Holds two
/// descriptors at a time whatever the depth (it climbs back through ".."), so it only suits
/// trees nobody else changes meanwhile, like a commit's stash. Nothing there is not an error.
pub(crate) fn remove_tree(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<()> {
    use std::os::fd::AsFd;
    match unlink(dir, name, false) {
        Ok(()) => return Ok(()),
        Err(e) if is_enoent(&e) => return Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EISDIR) | Some(libc::EPERM)) => {}
        Err(e) => return Err(e),
    }
    let enter = |parent: BorrowedFd<'_>, child: &[u8]| -> io::Result<OwnedFd> {
        // Make the directory listable and writable so its entries can go, even as non-root.
        let c = cstr(child)?;
        retry(|| {
            // SAFETY: `c` is a valid NUL-terminated string.
            (unsafe { libc::fchmodat(parent.as_raw_fd(), c.as_ptr(), 0o700, 0) }) as libc::c_long
        })?;
        open_at(parent, child, libc::O_RDONLY | libc::O_DIRECTORY, 0)
    };
    let mut stack: Vec<Vec<u8>> = vec![name.to_vec()];
    let mut cur = enter(dir, name)?;
    loop {
        let mut descended = false;
        for entry in read_names(cur.as_fd())? {
            match unlink(cur.as_fd(), &entry, false) {
                Ok(()) => {}
                Err(e) if is_enoent(&e) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EISDIR) | Some(libc::EPERM)) => {
                    cur = enter(cur.as_fd(), &entry)?;
                    stack.push(entry);
                    descended = true;
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        if descended {
            continue;
        }
        let done = stack.pop().unwrap_or_default();
        if stack.is_empty() {
            drop(cur);
            return match unlink(dir, &done, true) {
                Err(e) if is_enoent(&e) => Ok(()),
                r => r,
            };
        }
        let up = open_at(cur.as_fd(), b"..", libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
        unlink(up.as_fd(), &done, true)?;
        cur = up;
    }
}
