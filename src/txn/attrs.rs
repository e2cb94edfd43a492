//! Reading and giving a workspace object the metadata of a plan ([`Meta`]): mode, owner,
//! times and extended attributes, composed from the calls of `sys`.
//!
//! Deliberately not here: the system calls themselves (`sys`), and when metadata is applied
//! (see `apply` and `undo`).

use std::io;
use std::os::fd::BorrowedFd;

use super::plan::Meta;
use crate::sys::{self, Stat};

/// Every extended attribute of `name` in `dir` outside the `system.` namespace, sorted.
pub(crate) fn read_xattrs(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    for attr in sys::xattr_names(dir, name)? {
        if attr.starts_with(b"system.") {
            continue;
        }
        if let Some(value) = sys::xattr(dir, name, &attr)? {
            out.push((attr, value));
        }
    }
    out.sort();
    Ok(out)
}

/// Makes the extended attributes of `name` in `dir` exactly `want` (leaving unlisted `system.` ones).
fn write_xattrs(dir: BorrowedFd<'_>, name: &[u8], want: &[(Vec<u8>, Vec<u8>)]) -> io::Result<()> {
    for (attr, _) in read_xattrs(dir, name)? {
        if !want.iter().any(|(n, _)| *n == attr) {
            sys::remove_xattr(dir, name, &attr)?;
        }
    }
    for (attr, value) in want {
        sys::set_xattr(dir, name, attr, value)?;
    }
    Ok(())
}

/// Gives `name` in `dir` the metadata `meta`: xattrs (if listed), owner, mode (not for
/// symlinks), then times, in this order because chown clears setuid bits and every change but
/// the last would move the times.
pub(crate) fn set_meta(dir: BorrowedFd<'_>, name: &[u8], meta: &Meta) -> io::Result<()> {
    let st = sys::lstat(dir, name)?.ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
    let is_link = sys::file_type(&st) == libc::S_IFLNK;
    if let Some(x) = &meta.xattrs {
        write_xattrs(dir, name, x)?;
    }
    if (st.st_uid, st.st_gid) != (meta.uid, meta.gid) {
        sys::chown(dir, name, meta.uid, meta.gid)?;
    }
    if !is_link {
        // The object is not a symlink (checked above), so following is moot.
        sys::chmod(dir, name, meta.mode)?;
    }
    sys::set_times(dir, name, meta.atime, meta.mtime)
}

/// The metadata of `name` in `dir` ("" = `dir`), with its xattrs when `with_xattrs`.
pub(crate) fn read_meta(
    dir: BorrowedFd<'_>,
    name: &[u8],
    with_xattrs: bool,
) -> io::Result<Option<(Meta, Stat)>> {
    let Some(st) = sys::lstat(dir, name)? else {
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
