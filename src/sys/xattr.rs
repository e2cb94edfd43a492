//! Extended attributes of a path relative to a directory descriptor. Linux has no `*at()`
//! xattr calls before 6.13, so each goes through `/proc/self/fd/<dir fd>/<name>` (a path of
//! bounded length) with the `l*` calls, which never follow a final symlink.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::BorrowedFd;

use super::retry;

/// The `/proc/self/fd` path of `name` in `dir` ("" = `dir` itself), for the xattr calls.
fn proc_path(dir: BorrowedFd<'_>, name: &[u8]) -> Vec<u8> {
    use std::os::fd::AsRawFd;
    let mut p = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    // `dir` itself is `.` below its link: the `l*xattr` calls do not follow a last component,
    // and the bare link would name the /proc symlink, not the directory.
    p.extend_from_slice(if name.is_empty() { b"." } else { name });
    p
}

/// Calls a size-probing xattr function (`f(buf)`, an empty `buf` asks for the size) until the
/// buffer is big enough.
fn sized(mut f: impl FnMut(&mut [u8]) -> rustix::io::Result<usize>) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    loop {
        match retry(|| f(&mut buf)) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(e) if e.raw_os_error() == Some(libc::ERANGE) => {
                let need = retry(|| f(&mut []))?;
                buf.resize(need.max(buf.len() * 2), 0);
            }
            Err(e) => return Err(e),
        }
    }
}

/// The names of the extended attributes of `name` in `dir` ("" = `dir`), not following a final
/// symlink, in the order the file system lists them.
pub fn xattr_names(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<Vec<Vec<u8>>> {
    let p = proc_path(dir, name);
    let list = sized(|b| rustix::fs::llistxattr(p.as_slice(), b))?;
    Ok(list
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
}

/// Extended attribute `attr` of `name` in `dir` ("" = `dir`), not following a final symlink;
/// `None` if it has none of that name.
pub fn xattr(dir: BorrowedFd<'_>, name: &[u8], attr: &[u8]) -> io::Result<Option<Vec<u8>>> {
    let p = proc_path(dir, name);
    match sized(|b| rustix::fs::lgetxattr(p.as_slice(), attr, b)) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.raw_os_error() == Some(libc::ENODATA) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Every extended attribute of `name` in `dir` ("" = `dir`), not following a final symlink.
pub fn xattrs(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<BTreeMap<Vec<u8>, Vec<u8>>> {
    let mut out = BTreeMap::new();
    for attr in xattr_names(dir, name)? {
        if let Some(value) = xattr(dir, name, &attr)? {
            out.insert(attr, value);
        }
    }
    Ok(out)
}

/// Sets extended attribute `attr` of `name` in `dir`, not following a final symlink.
pub fn set_xattr(dir: BorrowedFd<'_>, name: &[u8], attr: &[u8], value: &[u8]) -> io::Result<()> {
    let p = proc_path(dir, name);
    retry(|| rustix::fs::lsetxattr(p.as_slice(), attr, value, rustix::fs::XattrFlags::empty()))
}

/// Removes extended attribute `attr` of `name` in `dir`; having none of that name is not an
/// error.
pub fn remove_xattr(dir: BorrowedFd<'_>, name: &[u8], attr: &[u8]) -> io::Result<()> {
    let p = proc_path(dir, name);
    match retry(|| rustix::fs::lremovexattr(p.as_slice(), attr)) {
        Err(e) if e.raw_os_error() == Some(libc::ENODATA) => Ok(()),
        r => r,
    }
}
