//! Request plumbing: conversions between fuser's types and the overlay's (inode numbers,
//! file handles, times, file types, attributes), errors to errno, and the replies.
//!
//! Deliberately not here: any decision about what a request does (see `view.rs` and the
//! overlay).

use std::fs::File;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    BackingId, Errno, FileAttr, FileHandle, FileType, FopenFlags, Generation, INodeNo, RenameFlags,
    ReplyCreate, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyXattr, Request, TimeOrNow,
};

use crate::overlay::{Attr, FsError, Handle, Ino, Kind, NewNode, RenameMode, SetTime, Time};

use super::{TTL, guard};

/// A reply that opens a file: to `open` or to `create`.
pub(super) trait OpenReply {
    /// Gives the kernel a reference to `file` for passthrough.
    fn register(&self, file: &File) -> std::io::Result<BackingId>;
    fn send(self, attr: &Attr, fh: FileHandle, flags: FopenFlags, backing: Option<&BackingId>);
    fn error(self, e: Errno);
}

impl OpenReply for ReplyOpen {
    fn register(&self, file: &File) -> std::io::Result<BackingId> {
        self.open_backing(file)
    }

    fn send(self, _attr: &Attr, fh: FileHandle, flags: FopenFlags, backing: Option<&BackingId>) {
        match backing {
            Some(id) => self.opened_passthrough(fh, flags, id),
            None => self.opened(fh, flags),
        }
    }

    fn error(self, e: Errno) {
        ReplyOpen::error(self, e);
    }
}

impl OpenReply for ReplyCreate {
    fn register(&self, file: &File) -> std::io::Result<BackingId> {
        self.open_backing(file)
    }

    fn send(self, attr: &Attr, fh: FileHandle, flags: FopenFlags, backing: Option<&BackingId>) {
        let (generation, attr) = (Generation(attr.generation), file_attr(attr));
        match backing {
            Some(id) => self.created_passthrough(&TTL, &attr, generation, fh, flags, id),
            None => self.created(&TTL, &attr, generation, fh, flags),
        }
    }

    fn error(self, e: Errno) {
        ReplyCreate::error(self, e);
    }
}

/// Bits of a file handle given to the restore epoch and to the inode's generation each.
const EPOCH_BITS: u32 = crate::overlay::HANDLE_STAMP_BITS;

/// The file handle the kernel is given for an open file: what `release` and the revocation
/// check need back (access bits, the restore epoch, the inode's generation).
pub(super) fn handle_of(h: Handle) -> FileHandle {
    let mask = (1u64 << EPOCH_BITS) - 1;
    FileHandle(
        u64::from(h.direct)
            | u64::from(h.write) << 1
            | (h.epoch & mask) << 2
            | (h.generation & mask) << (2 + EPOCH_BITS),
    )
}

pub(super) fn handle_from(fh: FileHandle) -> Handle {
    let mask = (1u64 << EPOCH_BITS) - 1;
    Handle {
        direct: fh.0 & 1 != 0,
        write: fh.0 & 2 != 0,
        epoch: fh.0 >> 2 & mask,
        generation: fh.0 >> (2 + EPOCH_BITS) & mask,
    }
}

pub(super) fn errno(e: &FsError) -> Errno {
    Errno::from_i32(e.errno())
}

pub(super) fn ino(i: INodeNo) -> Ino {
    Ino(i.0)
}

pub(super) fn system_time(t: Time) -> SystemTime {
    if t.sec >= 0 {
        UNIX_EPOCH + Duration::new(t.sec as u64, t.nsec)
    } else {
        UNIX_EPOCH - Duration::new(t.sec.unsigned_abs(), 0) + Duration::new(0, t.nsec)
    }
}

pub(super) fn time_of(t: SystemTime) -> Time {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => Time {
            sec: d.as_secs() as i64,
            nsec: d.subsec_nanos(),
        },
        Err(e) => {
            let d = e.duration();
            let (sec, nsec) = if d.subsec_nanos() == 0 {
                (-(d.as_secs() as i64), 0)
            } else {
                (-(d.as_secs() as i64) - 1, 1_000_000_000 - d.subsec_nanos())
            };
            Time { sec, nsec }
        }
    }
}

pub(super) fn set_time(t: Option<TimeOrNow>) -> Option<SetTime> {
    t.map(|t| match t {
        TimeOrNow::SpecificTime(t) => SetTime::At(time_of(t)),
        TimeOrNow::Now => SetTime::Now,
    })
}

pub(super) fn file_type(k: Kind) -> FileType {
    match k {
        Kind::File => FileType::RegularFile,
        Kind::Dir => FileType::Directory,
        Kind::Symlink => FileType::Symlink,
        Kind::Fifo => FileType::NamedPipe,
        Kind::Socket => FileType::Socket,
        Kind::CharDev => FileType::CharDevice,
        Kind::BlockDev => FileType::BlockDevice,
    }
}

pub(super) fn file_attr(a: &Attr) -> FileAttr {
    FileAttr {
        ino: INodeNo(a.ino.0),
        size: a.size,
        blocks: a.blocks,
        atime: system_time(a.atime),
        mtime: system_time(a.mtime),
        ctime: system_time(a.ctime),
        crtime: system_time(a.ctime),
        kind: file_type(a.kind),
        perm: a.perm as u16,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        rdev: a.rdev as u32,
        blksize: 4096,
        flags: 0,
    }
}

/// Placeholder attributes for the `.` and `..` entries of a readdirplus reply.
pub(super) fn dot_attr() -> Attr {
    let zero = Time { sec: 0, nsec: 0 };
    Attr {
        ino: Ino(0),
        kind: Kind::Dir,
        perm: 0o755,
        uid: 0,
        gid: 0,
        size: 0,
        blocks: 0,
        atime: zero,
        mtime: zero,
        ctime: zero,
        rdev: 0,
        nlink: 2,
        generation: 0,
    }
}

/// The attributes of a negative lookup reply: inode 0 means "no such entry".
pub(super) fn negative_attr() -> FileAttr {
    FileAttr {
        ino: INodeNo(0),
        size: 0,
        blocks: 0,
        atime: UNIX_EPOCH,
        mtime: UNIX_EPOCH,
        ctime: UNIX_EPOCH,
        crtime: UNIX_EPOCH,
        kind: FileType::RegularFile,
        perm: 0,
        nlink: 0,
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: 4096,
        flags: 0,
    }
}

/// A new node of `kind` owned by the caller, with permission bits from `mode`.
pub(super) fn new_node(req: &Request, kind: Kind, mode: u32) -> NewNode {
    NewNode {
        kind,
        perm: mode & 0o7777,
        uid: req.uid(),
        gid: req.gid(),
        rdev: 0,
        target: None,
    }
}

pub(super) fn entry(reply: ReplyEntry, r: Result<Attr, FsError>) {
    match r {
        Ok(a) => reply.entry(&TTL, &file_attr(&a), Generation(a.generation)),
        Err(e) => reply.error(errno(&e)),
    }
}

pub(super) fn empty(reply: ReplyEmpty, r: Result<(), FsError>) {
    match r {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(errno(&e)),
    }
}

pub(super) fn xattr_reply(reply: ReplyXattr, size: u32, r: Result<Vec<u8>, FsError>) {
    match r {
        Ok(data) if size == 0 => reply.size(data.len() as u32),
        Ok(data) if data.len() > size as usize => reply.error(Errno::from_i32(libc::ERANGE)),
        Ok(data) => reply.data(&data),
        Err(e) => reply.error(errno(&e)),
    }
}

/// Logs the first request of kind `what` the view does not implement (answered `errno`);
/// later ones of that kind are answered silently.
pub(super) fn unsupported(what: &'static str, errno: i32) {
    static SEEN: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut seen = guard(&SEEN);
    if !seen.contains(&what) {
        seen.push(what);
        tracing::warn!(
            "the kernel sent a {what} request, which the view does not implement: answered {}, now and from now on without logging",
            std::io::Error::from_raw_os_error(errno)
        );
    }
}

/// How a rename with `flags` moves names; `None` for a combination the view refuses
/// (`RENAME_WHITEOUT`, or `RENAME_EXCHANGE` with `RENAME_NOREPLACE`).
pub(super) fn rename_mode(flags: RenameFlags) -> Option<RenameMode> {
    if flags.contains(RenameFlags::RENAME_WHITEOUT)
        || flags.contains(RenameFlags::RENAME_EXCHANGE | RenameFlags::RENAME_NOREPLACE)
    {
        None
    } else if flags.contains(RenameFlags::RENAME_EXCHANGE) {
        Some(RenameMode::Exchange)
    } else if flags.contains(RenameFlags::RENAME_NOREPLACE) {
        Some(RenameMode::NoReplace)
    } else {
        Some(RenameMode::Replace)
    }
}

/// Attribute names as `listxattr` returns them: each followed by a NUL byte.
pub(super) fn name_list<'a>(names: impl Iterator<Item = &'a Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    for name in names {
        out.extend_from_slice(name);
        out.push(0);
    }
    out
}
