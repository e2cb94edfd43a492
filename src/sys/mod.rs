//! The one system-call layer for path-relative file-system operations.
//!
//! Owns every `*at()` call of the project: the overlay reads the workspace through it (see
//! `overlay::Lower`), the commit engine changes the workspace through it (see `txn`), and the
//! store uses its file calls. It is built on `rustix`, whose safe wrappers take borrowed
//! descriptors and byte paths and return typed errors, so this module has no `unsafe` at all.
//!
//! Paths are [`RelPath`]s, relative to an open directory descriptor. [`open_dir`] and
//! [`open_parent`] walk them one component at a time with `O_NOFOLLOW`, so no call takes a long
//! path (no `PATH_MAX` limit the native file system does not have) and no symlink is followed.
//! Extended attributes, which have no `*at()` calls before Linux 6.13, go through
//! `/proc/self/fd/<dir fd>/<name>`, a path of bounded length (`xattr.rs`).
//! Every call is retried while it fails with `EINTR`.
//! The unmount of the view lives here too, the one mount call the project makes itself.
//!
//! The names starting with [`STASH_PREFIX`] in the workspace root are reserved: a commit's
//! stash lives there, the view never shows them and no plan may name them.
//!
//! Deliberately not here: what an operation means, ordering and durability decisions (see
//! `txn::apply`), and anything that is not a file-system call.

pub mod path;
mod xattr;

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{AtFlags, Dir, Gid, Mode, OFlags, RenameFlags, Timespec, Timestamps, Uid};

pub use path::RelPath;
pub use rustix::fs::{FileType, OFlags as Open, Stat, StatVfs};
pub use xattr::{remove_xattr, set_xattr, xattr, xattr_names, xattrs};

/// The name prefix of a commit's stash directory in the workspace root; reserved.
pub const STASH_PREFIX: &str = ".ftsb-fs-stash-";

/// Whether `name`, an entry of the workspace root, is reserved for a commit's stash.
pub fn is_reserved(name: &[u8]) -> bool {
    name.starts_with(STASH_PREFIX.as_bytes())
}

/// The name of commit `id`'s stash directory in the workspace root.
pub fn stash_name(id: u64) -> Vec<u8> {
    format!("{STASH_PREFIX}{id}").into_bytes()
}

/// Runs `f` again while it fails with `EINTR`.
fn retry<T>(mut f: impl FnMut() -> rustix::io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(rustix::io::Errno::INTR) => continue,
            r => return r.map_err(io::Error::from),
        }
    }
}

/// Whether `e` is "no such file or directory".
pub fn is_enoent(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENOENT)
}

/// Whether an error means "there is nothing at that path" (a component is missing or is not a
/// directory).
pub fn is_absent(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR))
}

/// `AT_EMPTY_PATH` when `name` is empty (the call is about `dir` itself).
fn empty_flag(name: &[u8]) -> AtFlags {
    if name.is_empty() {
        AtFlags::EMPTY_PATH
    } else {
        AtFlags::empty()
    }
}

/// Opens `name` in `dir` with `flags` (`O_CLOEXEC` and `O_NOFOLLOW` are added).
pub fn open_at(dir: BorrowedFd<'_>, name: &[u8], flags: OFlags, mode: u32) -> io::Result<OwnedFd> {
    let flags = flags | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    retry(|| rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(mode)))
}

/// Pins the object `path` names from `dir` (`None`: the working directory) as `openat(2)`
/// resolves it (an absolute `path` ignores `dir`), with an `O_PATH` fd, following a final
/// symlink only when `follow`: for acting on what another process named, without a second
/// lookup.
pub fn open_named(dir: Option<BorrowedFd<'_>>, path: &[u8], follow: bool) -> io::Result<OwnedFd> {
    let dir = dir.unwrap_or(rustix::fs::CWD);
    let mut flags = OFlags::PATH | OFlags::CLOEXEC;
    if !follow {
        flags |= OFlags::NOFOLLOW;
    }
    retry(|| rustix::fs::openat(dir, path, flags, Mode::empty()))
}

/// Opens the directory at `path` (read-only), following symlinks as `open(2)` does: for the
/// root of a tree the caller names, before any path-relative call.
pub fn open_dir_path(path: &std::path::Path) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    retry(|| rustix::fs::open(path, flags, Mode::empty()))
}

/// Opens the directory `path` (relative to `root`, components joined by '/', "" = `root`
/// itself), never following a symlink. `O_PATH` unless `readable`.
pub fn open_dir(root: BorrowedFd<'_>, path: &[u8], readable: bool) -> io::Result<OwnedFd> {
    let last_flags = OFlags::DIRECTORY
        | if readable {
            OFlags::RDONLY
        } else {
            OFlags::PATH
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
            OFlags::DIRECTORY | OFlags::PATH
        };
        let base = cur.as_ref().map_or(root, |fd| fd.as_fd());
        cur = Some(open_at(base, comp, flags, 0)?);
    }
    cur.ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))
}

/// Set once `openat2` turned out to be missing (a kernel before 5.6, or a seccomp filter
/// that refuses it): [`open_dir_beneath`] then walks.
static NO_OPENAT2: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Opens the directory `path` beneath `root` (`O_PATH`; "" = `root` itself), refusing every
/// symlink on the way (`ELOOP`) and any step out of `root` (`EXDEV`), whatever changes under
/// `root` meanwhile: one `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` where the kernel has
/// it, else the component walk of [`open_dir`] with `O_NOFOLLOW` at every step.
pub fn open_dir_beneath(root: BorrowedFd<'_>, path: &[u8]) -> io::Result<OwnedFd> {
    use rustix::fs::ResolveFlags;
    use std::sync::atomic::Ordering;
    if path.is_empty() || NO_OPENAT2.load(Ordering::Relaxed) {
        return open_dir(root, path, false);
    }
    let flags = OFlags::DIRECTORY | OFlags::PATH | OFlags::CLOEXEC;
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    // EAGAIN: a rename raced with the resolution; the kernel asks to retry.
    for _ in 0..8 {
        match retry(|| rustix::fs::openat2(root, path, flags, Mode::empty(), resolve)) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::E2BIG)) => {
                NO_OPENAT2.store(true, Ordering::Relaxed);
                break;
            }
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => continue,
            r => return r,
        }
    }
    open_dir(root, path, false)
}

/// Opens the parent directory of `path` (`O_PATH`) and returns it with the last component.
pub fn open_parent<'p>(root: BorrowedFd<'_>, path: &'p [u8]) -> io::Result<(OwnedFd, &'p [u8])> {
    let (parent, name) =
        path::split(path).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    Ok((open_dir(root, parent, false)?, name))
}

/// `lstat` of `name` in `dir` ("" = `dir` itself); `None` if nothing is there.
pub fn lstat(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<Option<Stat>> {
    let flags = AtFlags::SYMLINK_NOFOLLOW | empty_flag(name);
    match retry(|| rustix::fs::statat(dir, name, flags)) {
        Ok(st) => Ok(Some(st)),
        Err(e) if is_enoent(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `lstat` of `name` in `dir`; `None` if a component is missing or not a directory.
pub fn lstat_if_present(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<Option<Stat>> {
    match retry(|| rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)) {
        Ok(st) => Ok(Some(st)),
        Err(e) if is_absent(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The type bits of a `stat`.
pub fn file_type(st: &Stat) -> u32 {
    st.st_mode & libc::S_IFMT
}

/// The target of symlink `name` in `dir`.
pub fn read_link(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<Vec<u8>> {
    retry(|| rustix::fs::readlinkat(dir, name, Vec::new())).map(|c| c.into_bytes())
}

/// The entries of directory `name` in `dir` (without `.` and `..`): name, inode number, type.
pub fn read_dir(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<Vec<(Vec<u8>, u64, FileType)>> {
    let fd = open_at(dir, name, OFlags::RDONLY | OFlags::DIRECTORY, 0)?;
    let mut stream = Dir::new(fd)?;
    let mut out = Vec::new();
    while let Some(entry) = stream.read() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            out.push((name.to_vec(), entry.ino(), entry.file_type()));
        }
    }
    Ok(out)
}

/// The names in directory `dir` (an open descriptor of any kind), without "." and "..".
pub fn read_names(dir: BorrowedFd<'_>) -> io::Result<Vec<Vec<u8>>> {
    Ok(read_dir(dir, b".")?
        .into_iter()
        .map(|(name, _, _)| name)
        .collect())
}

/// Renames `from_name` in `from` to `to_name` in `to`, failing with `EEXIST` if the target exists.
pub fn rename_noreplace(
    from: BorrowedFd<'_>,
    from_name: &[u8],
    to: BorrowedFd<'_>,
    to_name: &[u8],
) -> io::Result<()> {
    retry(|| rustix::fs::renameat_with(from, from_name, to, to_name, RenameFlags::NOREPLACE))
}

/// Makes `to_name` in `to` a new name of the object `from_name` in `from` (no symlink is followed).
pub fn link(
    from: BorrowedFd<'_>,
    from_name: &[u8],
    to: BorrowedFd<'_>,
    to_name: &[u8],
) -> io::Result<()> {
    retry(|| rustix::fs::linkat(from, from_name, to, to_name, AtFlags::empty()))
}

/// Creates directory `name` in `dir`.
pub fn mkdir(dir: BorrowedFd<'_>, name: &[u8], mode: u32) -> io::Result<()> {
    retry(|| rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(mode)))
}

/// Creates symlink `name` in `dir` pointing at `target`.
pub fn symlink(target: &[u8], dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<()> {
    retry(|| rustix::fs::symlinkat(target, dir, name))
}

/// Creates a special file `name` in `dir` (`mode` includes the type bits).
pub fn mknod(dir: BorrowedFd<'_>, name: &[u8], mode: u32, rdev: u64) -> io::Result<()> {
    let ty = FileType::from_raw_mode(mode);
    let perm = Mode::from_raw_mode(mode & !libc::S_IFMT);
    retry(|| rustix::fs::mknodat(dir, name, ty, perm, rdev))
}

/// Removes `name` from `dir` (`AT_REMOVEDIR` when `is_dir`).
pub fn unlink(dir: BorrowedFd<'_>, name: &[u8], is_dir: bool) -> io::Result<()> {
    let flags = if is_dir {
        AtFlags::REMOVEDIR
    } else {
        AtFlags::empty()
    };
    retry(|| rustix::fs::unlinkat(dir, name, flags))
}

/// `fsync` of an open descriptor (not `O_PATH`).
pub fn fsync(fd: BorrowedFd<'_>) -> io::Result<()> {
    retry(|| rustix::fs::fsync(fd))
}

/// `syncfs`: flushes the whole file system `fd` lives on.
pub fn syncfs(fd: BorrowedFd<'_>) -> io::Result<()> {
    retry(|| rustix::fs::syncfs(fd))
}

/// `statvfs` of the file system `fd` lives on.
pub fn statvfs(fd: BorrowedFd<'_>) -> io::Result<StatVfs> {
    retry(|| rustix::fs::fstatvfs(fd))
}

/// Creates a new regular file `name` in `dir` for writing (mode 0600, must not exist).
pub fn create_file(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<File> {
    let fd = open_at(
        dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL,
        0o600,
    )?;
    Ok(File::from(fd))
}

fn timespec((sec, nsec): (i64, u32)) -> Timespec {
    Timespec {
        tv_sec: sec,
        tv_nsec: nsec.into(),
    }
}

fn timestamps(atime: (i64, u32), mtime: (i64, u32)) -> Timestamps {
    Timestamps {
        last_access: timespec(atime),
        last_modification: timespec(mtime),
    }
}

/// Sets the access and modification times of `name` in `dir` ("" = `dir`), without following.
pub fn set_times(
    dir: BorrowedFd<'_>,
    name: &[u8],
    atime: (i64, u32),
    mtime: (i64, u32),
) -> io::Result<()> {
    let ts = timestamps(atime, mtime);
    let flags = AtFlags::SYMLINK_NOFOLLOW | empty_flag(name);
    retry(|| rustix::fs::utimensat(dir, name, &ts, flags))
}

/// Sets the access and modification times of an open file.
pub fn set_file_times(file: &File, atime: (i64, u32), mtime: (i64, u32)) -> io::Result<()> {
    let ts = timestamps(atime, mtime);
    retry(|| rustix::fs::futimens(file, &ts))
}

/// `fallocate(2)` with the raw `FALLOC_FL_*` bits of `mode`.
pub fn fallocate(file: &File, mode: i32, offset: u64, length: u64) -> io::Result<()> {
    let flags = rustix::fs::FallocateFlags::from_bits_retain(mode as u32);
    retry(|| rustix::fs::fallocate(file, flags, offset, length))
}

/// Gives `name` in `dir` ("" = `dir`) the owner `uid`:`gid`, without following a symlink.
pub fn chown(dir: BorrowedFd<'_>, name: &[u8], uid: u32, gid: u32) -> io::Result<()> {
    let flags = AtFlags::SYMLINK_NOFOLLOW | empty_flag(name);
    retry(|| {
        rustix::fs::chownat(
            dir,
            name,
            Some(Uid::from_raw(uid)),
            Some(Gid::from_raw(gid)),
            flags,
        )
    })
}

/// Sets the permission bits of `name` in `dir` ("" = `dir`). Follows a final symlink: the
/// caller never passes one (Linux cannot change a symlink's mode).
pub fn chmod(dir: BorrowedFd<'_>, name: &[u8], mode: u32) -> io::Result<()> {
    // fchmodat has no AT_EMPTY_PATH before Linux 6.6: chmod the directory itself through ".".
    let name: &[u8] = if name.is_empty() { b"." } else { name };
    let mode = Mode::from_raw_mode(mode & 0o7777);
    retry(|| rustix::fs::chmodat(dir, name, mode, AtFlags::empty()))
}

/// Removes `name` in `dir` and, if it is a directory, everything below it. Holds two
/// descriptors at a time whatever the depth (it climbs back through ".."), so it only suits
/// trees nobody else changes meanwhile, like a commit's stash. Nothing there is not an error.
pub fn remove_tree(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<()> {
    match unlink(dir, name, false) {
        Ok(()) => return Ok(()),
        Err(e) if is_enoent(&e) => return Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EISDIR) | Some(libc::EPERM)) => {}
        Err(e) => return Err(e),
    }
    let enter = |parent: BorrowedFd<'_>, child: &[u8]| -> io::Result<OwnedFd> {
        // Make the directory listable and writable so its entries can go, even as non-root.
        retry(|| rustix::fs::chmodat(parent, child, Mode::RWXU, AtFlags::empty()))?;
        open_at(parent, child, OFlags::RDONLY | OFlags::DIRECTORY, 0)
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
        let up = open_at(cur.as_fd(), b"..", OFlags::RDONLY | OFlags::DIRECTORY, 0)?;
        unlink(up.as_fd(), &done, true)?;
        cur = up;
    }
}

/// Where the data after offset `off` of `file` lies: the next data region at or after `off`
/// as `(start, end)`, `None` if only a hole follows; file systems that cannot tell report all
/// data.
pub fn data_region(file: &File, off: u64, len: u64) -> io::Result<Option<(u64, u64)>> {
    use rustix::fs::SeekFrom;
    let start = match retry(|| rustix::fs::seek(file, SeekFrom::Data(off))) {
        Ok(start) => start,
        Err(e) => {
            return match e.raw_os_error() {
                Some(libc::ENXIO) => Ok(None),
                Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) => Ok(Some((off, len))),
                _ => Err(e),
            };
        }
    };
    match retry(|| rustix::fs::seek(file, SeekFrom::Hole(start))) {
        Ok(end) => Ok(Some((start, end.min(len)))),
        Err(_) => Ok(Some((start, len))),
    }
}

/// `copy_file_range(2)` of at most `len` bytes from `src` at `*off_in` to `dst` at `*off_out`,
/// advancing both offsets; returns how many bytes moved (0 at the end of `src`).
pub fn copy_range(
    src: &File,
    off_in: &mut u64,
    dst: &File,
    off_out: &mut u64,
    len: usize,
) -> io::Result<usize> {
    retry(|| rustix::fs::copy_file_range(src, Some(&mut *off_in), dst, Some(&mut *off_out), len))
}

/// `umount2(2)` of the mount at `path`; with `detach`, lazily (`MNT_DETACH`).
pub fn unmount(path: &std::path::Path, detach: bool) -> io::Result<()> {
    let flags = if detach {
        rustix::mount::UnmountFlags::DETACH
    } else {
        rustix::mount::UnmountFlags::empty()
    };
    retry(|| rustix::mount::unmount(path, flags))
}

/// `CLOCK_REALTIME_COARSE` as (seconds, nanoseconds): the clock the kernel stamps file
/// changes with when nobody has looked at the file's ctime since its last change. Since
/// Linux 6.13 (multigrain timestamps) a change right after a `stat` gets a finer stamp, which
/// may lie after this reading: see [`ctime_boundary`] for a reading that separates changes.
pub fn coarse_realtime() -> (i64, u32) {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
    (ts.tv_sec, ts.tv_nsec as u32)
}

/// A reading of the ctime clock of the file system holding directory `dir` that separates
/// changes: every change that completed before the call has a ctime strictly before it, and
/// every change after the call has one at or after it.
///
/// The file system is asked rather than a clock: an unnamed file (`O_TMPFILE`, never seen in
/// `dir`) has its ctime changed and read until it moves past the first reading. The kernel's
/// stamps never go back, so the first stamp is at or after every earlier change and any stamp
/// past it is strictly after them. With multigrain timestamps the second change already gets
/// a finer stamp; with coarse ones this waits for the next tick (a few milliseconds). Where
/// `dir` takes no unnamed file (read-only, or a file system without `O_TMPFILE`), the coarse
/// clock's next tick is taken instead, which separates coarse stamps only.
pub fn ctime_boundary(dir: BorrowedFd<'_>) -> (i64, u32) {
    let ctime = |st: &Stat| (st.st_ctime, st.st_ctime_nsec as u32);
    let tick = || std::thread::sleep(std::time::Duration::from_micros(200));
    let touch = |fd: BorrowedFd<'_>| -> io::Result<(i64, u32)> {
        retry(|| rustix::fs::fchmod(fd, Mode::RUSR | Mode::WUSR))?;
        Ok(ctime(&retry(|| rustix::fs::fstat(fd))?))
    };
    let probe = retry(|| {
        rustix::fs::openat(
            dir,
            ".",
            Open::TMPFILE | Open::RDWR | Open::CLOEXEC,
            Mode::RUSR | Mode::WUSR,
        )
    });
    if let Ok(fd) = probe
        && let Ok(first) = touch(fd.as_fd())
    {
        loop {
            match touch(fd.as_fd()) {
                Ok(now) if now > first => return now,
                Ok(_) => tick(),
                Err(_) => break,
            }
        }
    }
    let before = coarse_realtime();
    loop {
        let now = coarse_realtime();
        if now > before {
            return now;
        }
        tick();
    }
}

#[cfg(test)]
mod tests;
