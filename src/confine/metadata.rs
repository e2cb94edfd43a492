//! The metadata broker: every mode, owner and extended attribute change (ACLs included) of a
//! confined command, decided and made outside it.
//!
//! Landlock (up to ABI 7) does not govern `chmod`, `chown` nor `setxattr`: a confined command
//! could open up a file it may not read (`chmod 644 ~/.ssh/id_ed25519`, `setfacl`), or make one
//! it may not write writable by others, and the change would outlive its transaction. So these
//! calls are handed to the broker ([`super::broker`]), which resolves the object as the kernel
//! would for the caller (from its working directory or directory fd, following symlinks as the
//! call does), pins it with an `O_PATH` fd, and changes it only when it lies in one of the
//! command's writable roots; else `EPERM`.
//!
//! Invariants:
//! - The change is made on the fd that was checked, never on a path looked up again: what the
//!   caller renames or relinks meanwhile does not matter. The `f*` forms act on the broker's
//!   copy of the caller's fd (`pidfd_getfd`), so they get the errno the caller would get.
//! - The caller's memory (paths, names, values) is read once, before the notification is
//!   checked to be still pending.
//! - `setxattrat` and `removexattrat` (6.13) fail with `ENOSYS`, as on older kernels: callers
//!   fall back to the brokered calls.
//! - Times (`utime*`) are not brokered: tar and `cp -p` set them on every file (see
//!   `docs/CONFINEMENT.md`, Known gaps). Set-id modes never reach the broker: a seccomp filter
//!   refuses them first.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use super::broker::{Answer, Caller, last_errno};
use super::destination::Policy;

/// `fchmodat2`, the same number on every architecture (newer than the `libc` constants of some).
pub(crate) const SYS_FCHMODAT2: i64 = 452;

/// `setxattrat` and `removexattrat` (6.13), the same numbers on every architecture.
pub(crate) const UNBROKERED: [i64; 2] = [463, 466];

/// The longest extended attribute value (`XATTR_SIZE_MAX`).
const VALUE_MAX: usize = 65536;

/// The calls the broker makes for the command.
pub(crate) fn calls() -> Vec<i64> {
    let mut calls = vec![
        libc::SYS_fchmod,
        libc::SYS_fchmodat,
        SYS_FCHMODAT2,
        libc::SYS_fchown,
        libc::SYS_fchownat,
        libc::SYS_setxattr,
        libc::SYS_lsetxattr,
        libc::SYS_fsetxattr,
        libc::SYS_removexattr,
        libc::SYS_lremovexattr,
        libc::SYS_fremovexattr,
    ];
    #[cfg(target_arch = "x86_64")]
    calls.extend([libc::SYS_chmod, libc::SYS_chown, libc::SYS_lchown]);
    calls
}

/// What a call changes.
enum Change {
    Mode(libc::mode_t),
    Owner(libc::uid_t, libc::gid_t),
    SetAttr {
        name: CString,
        value: Vec<u8>,
        flags: libc::c_int,
    },
    RemoveAttr(CString),
}

/// What a call names: the caller's fd (the `f*` forms), or a path.
enum Object {
    Fd(u64),
    Path {
        /// The caller's directory fd, or `None` for its working directory.
        dir: Option<u64>,
        path: Vec<u8>,
        follow: bool,
        /// An empty path names `dir` itself (`AT_EMPTY_PATH`).
        empty: bool,
    },
}

/// Makes the metadata call `nr` with `args` for `caller` if its object lies in a writable
/// root of `policy`; `still` says whether the notification is still pending.
pub(crate) fn change(
    policy: &Policy,
    caller: &Caller,
    nr: i64,
    args: &[u64; 6],
    still: &dyn Fn() -> Result<(), i32>,
) -> Answer {
    let (object, change) = parse(caller, nr, args)?;
    still()?;
    let (fd, pinned) = match object {
        Object::Fd(fd) => (caller.fd(fd)?, false),
        Object::Path {
            dir,
            path,
            follow,
            empty,
        } => (caller.resolve(dir, &path, follow, empty)?, true),
    };
    policy.may_change(&fd, verb(&change))?;
    adopt_capabilities(caller)?;
    if pinned {
        change_pinned(&fd, &change)
    } else {
        change_open(&fd, &change)
    }
    .map(|()| 0)
}

/// `_LINUX_CAPABILITY_VERSION_3`: capabilities as two 32-bit words.
const CAPABILITY_VERSION: u32 = 0x2008_0522;

/// Lowers this thread's effective capabilities to the caller's, so that the change is made
/// with no more privilege than the caller has (a command started as root has none left).
/// Capabilities are per thread, and the broker answers each call on a thread of its own.
fn adopt_capabilities(caller: &Caller) -> Result<(), i32> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", caller.tid()))
        .map_err(|_| libc::ESRCH)?;
    let theirs = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .ok_or(libc::ESRCH)?;
    // The header and the two words of {effective, permitted, inheritable} capget and capset take.
    let mut header = [CAPABILITY_VERSION, 0];
    let mut data = [[0u32; 3]; 2];
    // SAFETY: capget writes two data words into `data`; both arrays live across the call.
    if unsafe { libc::syscall(libc::SYS_capget, header.as_mut_ptr(), data.as_mut_ptr()) } != 0 {
        return Err(last_errno());
    }
    data[0][0] &= theirs as u32;
    data[1][0] &= (theirs >> 32) as u32;
    // SAFETY: capset reads the header and two data words; pid 0 is this thread.
    if unsafe { libc::syscall(libc::SYS_capset, header.as_mut_ptr(), data.as_ptr()) } != 0 {
        return Err(last_errno());
    }
    Ok(())
}

/// The call's object and change, read from `args` and the caller's memory.
fn parse(caller: &Caller, nr: i64, args: &[u64; 6]) -> Result<(Object, Change), i32> {
    let path = |i: usize| read_cstr(caller, args[i], libc::PATH_MAX as usize, libc::ENAMETOOLONG);
    let at = |dir: u64, path: Vec<u8>, flags: u64| Object::Path {
        dir: (dir as i32 != libc::AT_FDCWD).then_some(dir),
        path,
        follow: flags & libc::AT_SYMLINK_NOFOLLOW as u64 == 0,
        empty: flags & libc::AT_EMPTY_PATH as u64 != 0,
    };
    let cwd = |path, follow| Object::Path {
        dir: None,
        path,
        follow,
        empty: false,
    };
    let owner = |u: u64, g: u64| Change::Owner(u as libc::uid_t, g as libc::gid_t);
    let set = |i: usize| -> Result<Change, i32> {
        let len = args[i + 2] as usize;
        if len > VALUE_MAX {
            return Err(libc::E2BIG);
        }
        Ok(Change::SetAttr {
            name: name(caller, args[i])?,
            value: caller.read(args[i + 1], len)?,
            flags: args[i + 3] as libc::c_int,
        })
    };
    let remove = |i: usize| name(caller, args[i]).map(Change::RemoveAttr);
    Ok(match nr {
        libc::SYS_fchmod => (Object::Fd(args[0]), Change::Mode(args[1] as libc::mode_t)),
        libc::SYS_fchmodat => (at(args[0], path(1)?, 0), Change::Mode(args[2] as _)),
        SYS_FCHMODAT2 => (at(args[0], path(1)?, args[3]), Change::Mode(args[2] as _)),
        libc::SYS_fchown => (Object::Fd(args[0]), owner(args[1], args[2])),
        libc::SYS_fchownat => (at(args[0], path(1)?, args[4]), owner(args[2], args[3])),
        libc::SYS_setxattr => (cwd(path(0)?, true), set(1)?),
        libc::SYS_lsetxattr => (cwd(path(0)?, false), set(1)?),
        libc::SYS_fsetxattr => (Object::Fd(args[0]), set(1)?),
        libc::SYS_removexattr => (cwd(path(0)?, true), remove(1)?),
        libc::SYS_lremovexattr => (cwd(path(0)?, false), remove(1)?),
        libc::SYS_fremovexattr => (Object::Fd(args[0]), remove(1)?),
        #[cfg(target_arch = "x86_64")]
        libc::SYS_chmod => (cwd(path(0)?, true), Change::Mode(args[1] as _)),
        #[cfg(target_arch = "x86_64")]
        libc::SYS_chown => (cwd(path(0)?, true), owner(args[1], args[2])),
        #[cfg(target_arch = "x86_64")]
        libc::SYS_lchown => (cwd(path(0)?, false), owner(args[1], args[2])),
        _ => return Err(libc::ENOSYS),
    })
}

/// An extended attribute name in the caller's memory.
fn name(caller: &Caller, addr: u64) -> Result<CString, i32> {
    let bytes = read_cstr(caller, addr, 256, libc::ERANGE)?;
    CString::new(bytes).map_err(|_| libc::EINVAL)
}

/// The NUL-terminated string at `addr` in the caller's memory, without its NUL; `too_long`
/// when it has no NUL within `max` bytes. Read a page at most at a time, so that a string
/// that ends just before an unmapped page is read.
fn read_cstr(caller: &Caller, addr: u64, max: usize, too_long: i32) -> Result<Vec<u8>, i32> {
    const CHUNK: u64 = 4096;
    let mut out = Vec::new();
    let mut at = addr;
    while out.len() < max {
        let len = ((CHUNK - at % CHUNK) as usize).min(max - out.len());
        let bytes = caller.read(at, len)?;
        if let Some(end) = bytes.iter().position(|&b| b == 0) {
            out.extend_from_slice(&bytes[..end]);
            return Ok(out);
        }
        out.extend_from_slice(&bytes);
        at += len as u64;
    }
    Err(too_long)
}

/// The errno a failed system call gave the broker, for the caller.
pub(crate) fn errno(e: std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

/// The word the audit line uses for `change`.
fn verb(change: &Change) -> &'static str {
    match change {
        Change::Mode(_) => "chmod",
        Change::Owner(..) => "chown",
        Change::SetAttr { .. } => "setxattr",
        Change::RemoveAttr(_) => "removexattr",
    }
}

/// Whether the object `fd` pins is a symlink.
fn is_symlink(fd: &OwnedFd) -> bool {
    // SAFETY: a zeroed stat is valid; fstat fills it from an fd we own.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let rc = unsafe { libc::fstat(fd.as_raw_fd(), &mut st) };
    rc == 0 && st.st_mode & libc::S_IFMT == libc::S_IFLNK
}

/// Makes `change` on the object the `O_PATH` fd `fd` pins, through `/proc/self/fd/N` (which
/// reaches that object, not whatever its path names now).
fn change_pinned(fd: &OwnedFd, change: &Change) -> Result<(), i32> {
    let via =
        CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).map_err(|_| libc::EINVAL)?;
    // SAFETY: `fd` is ours; `via` and the names are NUL-terminated; the value is valid for
    // its length.
    let rc = unsafe {
        match change {
            Change::Owner(uid, gid) => {
                return crate::sys::chown(fd.as_fd(), b"", *uid, *gid).map_err(errno);
            }
            // Linux has no mode on symlinks, and refuses user attributes on them.
            Change::Mode(_) if is_symlink(fd) => return Err(libc::EOPNOTSUPP),
            _ if is_symlink(fd) => return Err(libc::EPERM),
            Change::Mode(mode) => libc::chmod(via.as_ptr(), *mode),
            Change::SetAttr { name, value, flags } => libc::setxattr(
                via.as_ptr(),
                name.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                *flags,
            ),
            Change::RemoveAttr(name) => libc::removexattr(via.as_ptr(), name.as_ptr()),
        }
    };
    done(rc)
}

/// Makes `change` on the open file `fd` (the broker's copy of the caller's fd).
fn change_open(fd: &OwnedFd, change: &Change) -> Result<(), i32> {
    let fd = fd.as_raw_fd();
    // SAFETY: `fd` is ours; the names are NUL-terminated; the value is valid for its length.
    let rc = unsafe {
        match change {
            Change::Mode(mode) => libc::fchmod(fd, *mode),
            Change::Owner(uid, gid) => libc::fchown(fd, *uid, *gid),
            Change::SetAttr { name, value, flags } => libc::fsetxattr(
                fd,
                name.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                *flags,
            ),
            Change::RemoveAttr(name) => libc::fremovexattr(fd, name.as_ptr()),
        }
    };
    done(rc)
}

/// A call's return code as a result.
fn done(rc: libc::c_int) -> Result<(), i32> {
    if rc == 0 { Ok(()) } else { Err(last_errno()) }
}
