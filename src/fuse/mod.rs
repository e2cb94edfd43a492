//! The `fuser::Filesystem` adapter: each kernel request becomes one overlay call and one
//! reply. No policy lives here.
//!
//! **API boundary:** only this module imports `fuser`. It owns the translation of types
//! (inode numbers, times, file types, flags), errors to errno, and the cache lifetimes the
//! kernel is told. Reads take the backing file under the overlay's lock and read it after
//! releasing the lock, so a large read never blocks other requests' metadata work; replies
//! too are sent after the lock is released, so the other request thread does not wait for
//! a reply's write to the kernel (only `open` and `create` reply under it, since the
//! kernel's reference to a passed-through file must be registered with the handle count).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    AccessFlags, BackingId, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags,
    Generation, INodeNo, KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate,
    ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs,
    ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};

use crate::overlay::{
    Access, Attr, DirEntry, FsError, Handle, Ino, Kind, NewNode, Overlay, RenameMode, SetAttr,
    SetTime, Time,
};
use crate::txn::writers::{Touch, Writers};

mod session;

pub use session::{Invalidator, MountOptions, Mounted, Unmounter, mount};

/// How long the kernel may cache names (also absent ones) and attributes. The daemon is the
/// only writer to the view and invalidates explicitly after rollback, abort and commit, so the
/// caches may live long: an agent's `git status` or `find` a minute after it created a tree
/// is answered by the kernel, as on fuse-overlayfs (which caches without limit). Only changes
/// made to the workspace from outside (with `--at`) wait for this to show.
const TTL: Duration = Duration::from_secs(3600);

/// The overlay shared between the kernel's request threads and the control socket.
pub type Shared = Arc<Mutex<Overlay>>;

/// Locks the overlay; a poisoned lock (a panic elsewhere) still yields the state, since
/// every overlay call leaves memory consistent with the store before it can panic.
pub fn lock(shared: &Shared) -> MutexGuard<'_, Overlay> {
    guard(shared)
}

/// Locks `m`, poisoned or not (as `lock`; the view's handle tables are as safe to reuse).
fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The view as the kernel sees it.
#[derive(Debug)]
pub struct View {
    overlay: Shared,
    /// Each open directory handle's listing, taken at its first read (`None` until then).
    dirs: Mutex<HashMap<u64, Option<Arc<Vec<DirEntry>>>>>,
    next_fh: AtomicU64,
    /// Whether opens may pass reads and writes through to working files: asked for, granted
    /// by the kernel at init, and not refused since.
    passthrough: Arc<AtomicBool>,
    /// The kernel's reference to each working file held open for passthrough, one per inode
    /// (the kernel wants every open of an inode on the same one), with the inode's
    /// generation when it was taken: a rollback or abort that detaches an inode's working
    /// file raises its generation, so a reference of an older one names a detached file. Only
    /// taken while the overlay's lock is held.
    backings: Mutex<HashMap<u64, (u64, BackingId)>>,
    /// Who writes what while `exec` sessions are open (each mutating request is noted
    /// before it reaches the overlay).
    writers: Arc<Writers>,
}

impl View {
    /// A view over `overlay`.
    pub fn new(overlay: Shared, passthrough: Arc<AtomicBool>, writers: Arc<Writers>) -> View {
        View {
            overlay,
            dirs: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            passthrough,
            backings: Mutex::new(HashMap::new()),
            writers,
        }
    }

    /// Notes that the process of `req` is about to change `touch`.
    fn note(&self, req: &Request, touch: Touch) {
        self.writers.note(req.pid(), touch);
    }

    /// Notes a name `req` is about to change.
    fn note_entry(&self, req: &Request, dir: INodeNo, name: &OsStr) {
        self.note(req, Touch::Entry(ino(dir), name.as_bytes().to_vec()));
    }

    /// Notes the node `name` in `dir` names now, while sessions are open (it is about to be
    /// renamed or removed).
    fn name_before(&self, ov: &mut Overlay, dir: INodeNo, name: &OsStr) -> Option<Ino> {
        if !self.writers.active() {
            return None;
        }
        let found = ov.entry_attr(ino(dir), name.as_bytes()).ok()?.ino;
        self.writers.note_name(found, ino(dir), name.as_bytes());
        Some(found)
    }

    /// Notes the name a node was just given (`made`: the operation's result).
    fn named(&self, made: &Result<Attr, FsError>, dir: INodeNo, name: &OsStr) {
        if let Ok(a) = made {
            self.writers.note_name(a.ino, ino(dir), name.as_bytes());
        }
    }

    fn ov(&self) -> MutexGuard<'_, Overlay> {
        lock(&self.overlay)
    }

    /// The listing of open directory `fh`, shared: each read skips to its offset, so a large
    /// directory read in many requests is not copied once per request. It is taken once, at
    /// the handle's first read, so offsets stay stable while it is read even if entries are added
    /// or removed meanwhile; an open the kernel serves from its kept listing costs no listing.
    ///
    /// Taking it at the first read rather than at opendir is what keeps a kept listing true
    /// across a rollback: the kernel notes the directory's version when it sends that first
    /// read, and the rollback's invalidation bumps the version. A read sent before the
    /// invalidation is thus discarded at the next open, and one sent after it sees the
    /// rolled-back state. A listing taken at opendir, before the rollback, and sent after the
    /// invalidation would be kept with the new version: stale until evicted.
    ///
    /// Lock order: the handles' lock is never held while the overlay's is taken, nor the
    /// other way round (two request threads would deadlock).
    fn listing(&self, dir: Ino, fh: FileHandle) -> Result<Arc<Vec<DirEntry>>, Errno> {
        let kept = guard(&self.dirs).get(&fh.0).cloned().ok_or(Errno::EBADF)?;
        if let Some(listing) = kept {
            return Ok(listing);
        }
        let fresh = Arc::new(self.ov().readdir(dir, dir).map_err(|e| errno(&e))?);
        let mut all = guard(&self.dirs);
        let slot = all.get_mut(&fh.0).ok_or(Errno::EBADF)?;
        // A concurrent first read of the same handle may have won: keep its listing.
        Ok(slot.get_or_insert(fresh).clone())
    }

    /// Opens a handle of file `i` and replies how its bytes move: through requests, or passed
    /// through to its working file (the kernel's reference to the file is taken at the
    /// inode's first such open and kept until its last one closes).
    fn open_file(&self, ov: &mut Overlay, i: Ino, write: bool, reply: impl OpenReply) {
        let passthrough = self.passthrough.load(Ordering::Relaxed);
        let (attr, access) = match ov.open_file(i, write, passthrough) {
            Ok(opened) => opened,
            Err(e) => return reply.error(errno(&e)),
        };
        let (epoch, generation) = (ov.restores(), ov.generation(i));
        let mut backings = guard(&self.backings);
        let direct = match access {
            Access::Cached => false,
            Access::Direct(_) if backings.get(&i.0).is_some_and(|(g, _)| *g == generation) => true,
            Access::Direct(file) => match reply.register(&file) {
                Ok(id) => {
                    backings.insert(i.0, (generation, id));
                    true
                }
                Err(e) => {
                    // Refused (no privilege, or the store on a stacked filesystem): reads and
                    // writes go through the daemon from now on.
                    tracing::warn!("passthrough refused, serving reads and writes: {e}");
                    self.passthrough.store(false, Ordering::Relaxed);
                    ov.make_cached(i, write);
                    false
                }
            },
        };
        let fh = handle_of(Handle {
            direct,
            write,
            epoch,
            generation,
        });
        if direct {
            reply.send(
                &attr,
                fh,
                FopenFlags::empty(),
                backings.get(&i.0).map(|(_, id)| id),
            );
        } else {
            // The page cache stays valid across opens served by requests: only the view
            // writes these files, rollback, abort and commit drop the pages of what they
            // change, and a direct open is answered without FOPEN_KEEP_CACHE, so the kernel
            // drops the inode's pages then, and nothing fills them while direct handles are
            // open (one mode per inode).
            reply.send(&attr, fh, FopenFlags::FOPEN_KEEP_CACHE, None);
        }
    }
}

/// A reply that opens a file: to `open` or to `create`.
trait OpenReply {
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
fn handle_of(h: Handle) -> FileHandle {
    let mask = (1u64 << EPOCH_BITS) - 1;
    FileHandle(
        u64::from(h.direct)
            | u64::from(h.write) << 1
            | (h.epoch & mask) << 2
            | (h.generation & mask) << (2 + EPOCH_BITS),
    )
}

fn handle_from(fh: FileHandle) -> Handle {
    let mask = (1u64 << EPOCH_BITS) - 1;
    Handle {
        direct: fh.0 & 1 != 0,
        write: fh.0 & 2 != 0,
        epoch: fh.0 >> 2 & mask,
        generation: fh.0 >> (2 + EPOCH_BITS) & mask,
    }
}

fn errno(e: &FsError) -> Errno {
    Errno::from_i32(e.errno())
}

fn ino(i: INodeNo) -> Ino {
    Ino(i.0)
}

fn system_time(t: Time) -> SystemTime {
    if t.sec >= 0 {
        UNIX_EPOCH + Duration::new(t.sec as u64, t.nsec)
    } else {
        UNIX_EPOCH - Duration::new(t.sec.unsigned_abs(), 0) + Duration::new(0, t.nsec)
    }
}

fn time_of(t: SystemTime) -> Time {
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

fn set_time(t: Option<TimeOrNow>) -> Option<SetTime> {
    t.map(|t| match t {
        TimeOrNow::SpecificTime(t) => SetTime::At(time_of(t)),
        TimeOrNow::Now => SetTime::Now,
    })
}

fn file_type(k: Kind) -> FileType {
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

fn file_attr(a: &Attr) -> FileAttr {
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
fn dot_attr() -> Attr {
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
fn negative_attr() -> FileAttr {
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
fn new_node(req: &Request, kind: Kind, mode: u32) -> NewNode {
    NewNode {
        kind,
        perm: mode & 0o7777,
        uid: req.uid(),
        gid: req.gid(),
        rdev: 0,
        target: None,
    }
}

fn entry(reply: ReplyEntry, r: Result<Attr, FsError>) {
    match r {
        Ok(a) => reply.entry(&TTL, &file_attr(&a), Generation(a.generation)),
        Err(e) => reply.error(errno(&e)),
    }
}

fn empty(reply: ReplyEmpty, r: Result<(), FsError>) {
    match r {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(errno(&e)),
    }
}

fn xattr_reply(reply: ReplyXattr, size: u32, r: Result<Vec<u8>, FsError>) {
    match r {
        Ok(data) if size == 0 => reply.size(data.len() as u32),
        Ok(data) if data.len() > size as usize => reply.error(Errno::from_i32(libc::ERANGE)),
        Ok(data) => reply.data(&data),
        Err(e) => reply.error(errno(&e)),
    }
}

impl Filesystem for View {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        let _ = config.set_max_write(1 << 20);
        let _ = config.set_max_readahead(1 << 20);
        let _ = config.add_capabilities(fuser::InitFlags::FUSE_PARALLEL_DIROPS);
        // The daemon clears setuid, setgid and capabilities on write itself (when the kernel
        // flags the write), which spares a GETXATTR round trip before every write.
        let _ = config.add_capabilities(fuser::InitFlags::FUSE_HANDLE_KILLPRIV_V2);
        // Listings carry attributes, so `find`, `ls -l` and `git status` need no lookup per
        // entry; the kernel picks readdirplus only where it pays (AUTO).
        let _ = config.add_capabilities(
            fuser::InitFlags::FUSE_DO_READDIRPLUS | fuser::InitFlags::FUSE_READDIRPLUS_AUTO,
        );
        // Working files are passed through: the kernel reads and writes them itself, no
        // request per read or write. They live on a plain filesystem (stack depth 0); the
        // view itself may then be stacked once (e.g. under an overlayfs).
        if self.passthrough.load(Ordering::Relaxed) {
            let granted = config
                .add_capabilities(fuser::InitFlags::FUSE_PASSTHROUGH)
                .is_ok()
                && config.set_max_stack_depth(1).is_ok();
            self.passthrough.store(granted, Ordering::Relaxed);
        }
        Ok(())
    }

    fn destroy(&mut self) {
        if let Err(e) = self.ov().flush() {
            tracing::error!("flush at unmount failed: {e}");
        }
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let r = self.ov().lookup(ino(parent), name.as_bytes());
        match r {
            // A negative entry (inode 0) lets the kernel cache the absence too, which saves a
            // round trip for every file a build or an extraction creates.
            Err(FsError::NotFound) => reply.entry(&TTL, &negative_attr(), Generation(0)),
            r => entry(reply, r),
        }
    }

    fn forget(&self, _req: &Request, i: INodeNo, nlookup: u64) {
        self.ov().forget(ino(i), nlookup);
    }

    fn getattr(&self, _req: &Request, i: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let r = self.ov().getattr(ino(i));
        match r {
            Ok(a) => reply.attr(&TTL, &file_attr(&a)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn setattr(
        &self,
        req: &Request,
        i: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        self.note(req, Touch::Node(ino(i)));
        let set = SetAttr {
            perm: mode.map(|m| m & 0o7777),
            uid,
            gid,
            size,
            atime: set_time(atime),
            mtime: set_time(mtime),
            ctime: ctime.map(time_of),
        };
        let r = {
            let mut ov = self.ov();
            // ftruncate through a revoked handle must not cut the restored file.
            match fh.filter(|_| set.size.is_some()) {
                Some(fh) => ov.check_handle(handle_from(fh)),
                None => Ok(()),
            }
            .and_then(|()| ov.setattr(ino(i), set))
        };
        match r {
            Ok(a) => reply.attr(&TTL, &file_attr(&a)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn readlink(&self, _req: &Request, i: INodeNo, reply: ReplyData) {
        let r = self.ov().readlink(ino(i));
        match r {
            Ok(t) => reply.data(&t),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        let Some(kind) = Kind::from_mode(mode) else {
            return reply.error(Errno::EINVAL);
        };
        let new = NewNode {
            rdev: rdev.into(),
            ..new_node(req, kind, mode & !umask)
        };
        self.note_entry(req, parent, name);
        let r = self.ov().make(ino(parent), name.as_bytes(), new);
        self.named(&r, parent, name);
        entry(reply, r);
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let new = new_node(req, Kind::Dir, mode & !umask);
        self.note_entry(req, parent, name);
        let r = self.ov().make(ino(parent), name.as_bytes(), new);
        self.named(&r, parent, name);
        entry(reply, r);
    }

    fn unlink(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.note_entry(req, parent, name);
        let r = {
            let mut ov = self.ov();
            self.name_before(&mut ov, parent, name);
            ov.unlink(ino(parent), name.as_bytes())
        };
        empty(reply, r);
    }

    fn rmdir(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.note_entry(req, parent, name);
        let r = {
            let mut ov = self.ov();
            self.name_before(&mut ov, parent, name);
            ov.rmdir(ino(parent), name.as_bytes())
        };
        empty(reply, r);
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let new = NewNode {
            target: Some(target.as_os_str().as_bytes().to_vec()),
            ..new_node(req, Kind::Symlink, 0o777)
        };
        self.note_entry(req, parent, link_name);
        let r = self.ov().make(ino(parent), link_name.as_bytes(), new);
        self.named(&r, parent, link_name);
        entry(reply, r);
    }

    fn rename(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let mode = if flags.contains(RenameFlags::RENAME_WHITEOUT)
            || flags.contains(RenameFlags::RENAME_EXCHANGE | RenameFlags::RENAME_NOREPLACE)
        {
            return reply.error(Errno::EINVAL);
        } else if flags.contains(RenameFlags::RENAME_EXCHANGE) {
            RenameMode::Exchange
        } else if flags.contains(RenameFlags::RENAME_NOREPLACE) {
            RenameMode::NoReplace
        } else {
            RenameMode::Replace
        };
        self.note_entry(req, parent, name);
        self.note_entry(req, newparent, newname);
        let r = {
            let mut ov = self.ov();
            let moved = self.name_before(&mut ov, parent, name);
            let other = self.name_before(&mut ov, newparent, newname);
            let r = ov.rename(
                ino(parent),
                name.as_bytes(),
                ino(newparent),
                newname.as_bytes(),
                mode,
            );
            if r.is_ok() {
                if let Some(i) = moved {
                    self.writers
                        .note_name(i, ino(newparent), newname.as_bytes());
                }
                if let (Some(i), RenameMode::Exchange) = (other, mode) {
                    self.writers.note_name(i, ino(parent), name.as_bytes());
                }
            }
            r
        };
        empty(reply, r);
    }

    fn link(
        &self,
        req: &Request,
        i: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        self.note(req, Touch::Node(ino(i)));
        self.note_entry(req, newparent, newname);
        let r = self.ov().link(ino(i), ino(newparent), newname.as_bytes());
        self.named(&r, newparent, newname);
        entry(reply, r);
    }

    fn open(&self, req: &Request, i: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let write = flags.0 & libc::O_ACCMODE != libc::O_RDONLY;
        if write {
            // The kernel may write a passed-through file without a request: the open is
            // the write, for attribution.
            self.writers.note_handle(req.pid(), ino(i), true);
        }
        self.open_file(&mut self.ov(), ino(i), write, reply);
    }

    fn read(
        &self,
        _req: &Request,
        i: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let file = match self.ov().backing(ino(i)) {
            Ok(f) => f,
            Err(e) => return reply.error(errno(&e)),
        };
        let mut buf = vec![0u8; size as usize];
        let mut got = 0;
        while got < buf.len() {
            match file.read_at(&mut buf[got..], offset + got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return reply.error(Errno::from(e)),
            }
        }
        reply.data(&buf[..got]);
    }

    fn write(
        &self,
        req: &Request,
        i: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        self.note(req, Touch::Node(ino(i)));
        let written = {
            let mut ov = self.ov();
            if let Err(e) = ov.check_handle(handle_from(fh)) {
                Err(e)
            } else if write_flags.contains(WriteFlags::FUSE_WRITE_KILL_SUIDGID) {
                ov.kill_privileges(ino(i))
                    .and_then(|()| ov.write(ino(i), offset, data))
            } else {
                ov.write(ino(i), offset, data)
            }
        };
        match written {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _i: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // ENOSYS tells the kernel to stop sending FLUSH on every close(): written bytes are in
        // the working file already, and the attributes are written through at release (and
        // re-read from the working file at the next load, had the daemon died before).
        reply.error(Errno::ENOSYS);
    }

    fn release(
        &self,
        req: &Request,
        i: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let handle = handle_from(fh);
        if handle.write {
            self.writers.note_handle(req.pid(), ino(i), false);
        }
        let released = {
            let mut ov = self.ov();
            let released = ov.release_handle(ino(i), handle);
            if handle.direct && !ov.is_direct(ino(i)) {
                // The inode's last direct handle: dropping the kernel's reference to its file
                // closes it (one ioctl).
                guard(&self.backings).remove(&i.0);
            }
            released
        };
        empty(reply, released);
    }

    fn fsync(
        &self,
        _req: &Request,
        i: INodeNo,
        _fh: FileHandle,
        datasync: bool,
        reply: ReplyEmpty,
    ) {
        let r = self.ov().fsync(ino(i), datasync);
        empty(reply, r);
    }

    fn opendir(&self, _req: &Request, i: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        // The overlay's lock is released before the handles' lock is taken: the two are
        // never held together (see `listing`).
        let attr = self.ov().getattr(ino(i));
        match attr {
            Ok(a) if a.kind == Kind::Dir => {
                let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
                guard(&self.dirs).insert(fh, None);
                // The kernel keeps the listing and serves later opens from it (no READDIR):
                // it drops it itself when the directory changes through the view, and
                // rollback, abort and commit invalidate the directories they change.
                reply.opened(
                    FileHandle(fh),
                    FopenFlags::FOPEN_CACHE_DIR | FopenFlags::FOPEN_KEEP_CACHE,
                );
            }
            Ok(_) => reply.error(Errno::ENOTDIR),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        i: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let entries = match self.listing(ino(i), fh) {
            Ok(e) => e,
            Err(e) => return reply.error(e),
        };
        for (k, e) in entries.iter().skip(offset as usize).enumerate() {
            if reply.add(
                INodeNo(e.ino.0),
                offset + k as u64 + 1,
                file_type(e.kind),
                OsStr::from_bytes(&e.name),
            ) {
                break;
            }
        }
        reply.ok();
    }

    fn readdirplus(
        &self,
        _req: &Request,
        i: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let entries = match self.listing(ino(i), fh) {
            Ok(e) => e,
            Err(e) => return reply.error(e),
        };
        let mut ov = self.ov();
        for (k, e) in entries.iter().skip(offset as usize).enumerate() {
            let next = offset + k as u64 + 1;
            let name = OsStr::from_bytes(&e.name);
            let dots = e.name == b"." || e.name == b"..";
            let attr = if dots {
                // The kernel takes no reference for these; any attributes do.
                Attr {
                    ino: e.ino,
                    kind: Kind::Dir,
                    ..dot_attr()
                }
            } else {
                // An entry removed since the listing was taken is skipped: the listing is a
                // snapshot, but the attributes must be true.
                match ov.entry_attr(ino(i), &e.name) {
                    Ok(attr) => attr,
                    Err(_) => continue,
                }
            };
            if reply.add(
                INodeNo(attr.ino.0),
                next,
                name,
                &TTL,
                &file_attr(&attr),
                Generation(attr.generation),
            ) {
                break;
            }
            if !dots {
                ov.count_lookup(attr.ino);
            }
        }
        drop(ov);
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _i: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        guard(&self.dirs).remove(&fh.0);
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _i: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let r = self.ov().db().barrier().map_err(FsError::from);
        empty(reply, r);
    }

    fn statfs(&self, _req: &Request, _i: INodeNo, reply: ReplyStatfs) {
        let r = self.ov().statfs();
        match r {
            Ok(s) => reply.statfs(
                s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.bsize, s.namelen, s.frsize,
            ),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn setxattr(
        &self,
        req: &Request,
        i: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        self.note(req, Touch::Node(ino(i)));
        let r = self.ov().setxattr(ino(i), name.as_bytes(), value, flags);
        empty(reply, r);
    }

    fn getxattr(&self, _req: &Request, i: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        let r = self.ov().getxattr(ino(i), name.as_bytes());
        xattr_reply(reply, size, r);
    }

    fn listxattr(&self, _req: &Request, i: INodeNo, size: u32, reply: ReplyXattr) {
        let names = self.ov().xattrs(ino(i)).map(|all| {
            let mut out = Vec::new();
            for name in all.keys() {
                out.extend_from_slice(name);
                out.push(0);
            }
            out
        });
        xattr_reply(reply, size, names);
    }

    fn removexattr(&self, req: &Request, i: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.note(req, Touch::Node(ino(i)));
        let r = self.ov().removexattr(ino(i), name.as_bytes());
        empty(reply, r);
    }

    fn access(&self, _req: &Request, _i: INodeNo, _mask: AccessFlags, reply: ReplyEmpty) {
        // Permissions are checked by the kernel (`default_permissions`).
        reply.ok();
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let new = new_node(req, Kind::File, mode & !umask);
        self.note_entry(req, parent, name);
        let mut ov = self.ov();
        match ov.make(ino(parent), name.as_bytes(), new) {
            Ok(a) => {
                let write = flags & libc::O_ACCMODE != libc::O_RDONLY;
                self.writers.note_name(a.ino, ino(parent), name.as_bytes());
                if write {
                    self.writers.note_handle(req.pid(), a.ino, true);
                }
                self.open_file(&mut ov, a.ino, write, reply);
            }
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn fallocate(
        &self,
        req: &Request,
        i: INodeNo,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        self.note(req, Touch::Node(ino(i)));
        let r = {
            let mut ov = self.ov();
            ov.check_handle(handle_from(fh))
                .and_then(|()| ov.fallocate(ino(i), offset, length, mode))
        };
        empty(reply, r);
    }

    // Requests the view does not implement: answered at once, logged once per kind (fuser's
    // defaults log every one, and a tool that probes an ioctl per file floods the log).

    fn ioctl(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _flags: fuser::IoctlFlags,
        _cmd: u32,
        _in_data: &[u8],
        _out_size: u32,
        reply: fuser::ReplyIoctl,
    ) {
        // What a file without ioctls answers; the kernel does not stop sending them.
        unsupported("ioctl", libc::ENOTTY);
        reply.error(Errno::from_i32(libc::ENOTTY));
    }

    fn poll(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _ph: fuser::PollNotifier,
        _events: fuser::PollEvents,
        _flags: fuser::PollFlags,
        reply: fuser::ReplyPoll,
    ) {
        unsupported("poll", libc::ENOSYS);
        reply.error(Errno::ENOSYS);
    }

    fn bmap(&self, _req: &Request, _ino: INodeNo, _bs: u32, _idx: u64, reply: fuser::ReplyBmap) {
        unsupported("bmap", libc::ENOSYS);
        reply.error(Errno::ENOSYS);
    }

    fn lseek(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: i64,
        _whence: i32,
        reply: fuser::ReplyLseek,
    ) {
        unsupported("lseek", libc::ENOSYS);
        reply.error(Errno::ENOSYS);
    }

    fn copy_file_range(
        &self,
        _req: &Request,
        _ino_in: INodeNo,
        _fh_in: FileHandle,
        _offset_in: u64,
        _ino_out: INodeNo,
        _fh_out: FileHandle,
        _offset_out: u64,
        _len: u64,
        _flags: fuser::CopyFileRangeFlags,
        reply: ReplyWrite,
    ) {
        unsupported("copy_file_range", libc::ENOSYS);
        reply.error(Errno::ENOSYS);
    }
}

/// Logs the first request of kind `what` the view does not implement (answered `errno`);
/// later ones of that kind are answered silently.
fn unsupported(what: &'static str, errno: i32) {
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
