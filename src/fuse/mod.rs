//! The `fuser::Filesystem` adapter: each kernel request becomes one overlay call and one
//! reply. No policy lives here.
//!
//! The module is split by what each part does: `reply.rs` converts types and errors and sends
//! replies, `view.rs` holds the view's own state and policy (the listings being read,
//! passthrough), `session.rs` mounts and unmounts, and this file is the `Filesystem` impl,
//! one method per request.
//! This file is over 500 lines because Rust keeps a trait impl in one block: the impl has a
//! method per FUSE request (about 45), each a few lines of one call and one reply.
//!
//! **API boundary:** only this module imports `fuser`. It owns the translation of types
//! (inode numbers, times, file types, flags), errors to errno, and the cache lifetimes the
//! kernel is told. Reads take the backing file under the overlay's lock and read it after
//! releasing the lock, so a large read never blocks other requests' metadata work; replies
//! too are sent after the lock is released, so the other request thread does not wait for
//! a reply's write to the kernel (only `open` and `create` reply under it, since the
//! kernel's reference to a passed-through file must be registered with the handle count).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use fuser::{
    AccessFlags, Errno, FileHandle, Filesystem, FopenFlags, Generation, INodeNo, KernelConfig,
    LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory,
    ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr,
    Request, TimeOrNow, WriteFlags,
};

use crate::overlay::{Attr, FsError, Kind, NewNode, RenameMode, SetAttr, Shared};
use crate::txn::writers::Touch;

mod listing;
mod reply;
mod session;
mod view;

pub use session::{Invalidator, MountOptions, Mounted, Unmounter, mount};
pub use view::View;

use reply::*;

/// How long the kernel may cache names (also absent ones) and attributes. The daemon is the
/// only writer to the view and invalidates explicitly after rollback, abort and commit, so the
/// caches may live long: an agent's `git status` or `find` a minute after it created a tree
/// is answered by the kernel, as on fuse-overlayfs (which caches without limit). Only changes
/// made to the workspace from outside (with `--at`) wait for this to show.
const TTL: Duration = Duration::from_secs(3600);

/// Locks `m`, poisoned or not (as `overlay::lock`; the view's handle tables are as safe to
/// reuse).
fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Filesystem for View {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        let _ = config.set_max_write(1 << 20);
        let _ = config.set_max_readahead(1 << 20);
        let _ = config.add_capabilities(fuser::InitFlags::FUSE_PARALLEL_DIROPS);
        // A kernel that can open directories without a request is told so at the first
        // OPENDIR (see `opendir`); that saves two round trips per directory walked.
        let no_opendir = config
            .capabilities()
            .contains(fuser::InitFlags::FUSE_NO_OPENDIR_SUPPORT)
            && std::env::var_os("FTSB_FS_OPENDIR").is_none_or(|v| v != "1");
        self.no_opendir.store(no_opendir, Ordering::Relaxed);
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
        let r = self.setattr(ino(i), fh, set);
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
        let Some(mode) = rename_mode(flags) else {
            return reply.error(Errno::EINVAL);
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
        match self.read(ino(i), offset, size) {
            Ok(data) => reply.data(&data),
            Err(e) => reply.error(e),
        }
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
        let kill_privileges = write_flags.contains(WriteFlags::FUSE_WRITE_KILL_SUIDGID);
        let written = self.write(ino(i), fh, offset, data, kill_privileges);
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
        if handle_from(fh).write {
            self.writers.note_handle(req.pid(), ino(i), false);
        }
        let released = self.release(ino(i), fh);
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
        if self.no_opendir.load(Ordering::Relaxed) {
            // ENOSYS tells the kernel to open directories without a request from now on (no
            // OPENDIR, no RELEASEDIR), keeping their listings (`FOPEN_CACHE_DIR`) as below;
            // listings are then kept by inode, not by handle.
            return reply.error(Errno::ENOSYS);
        }
        match self.opendir(ino(i)) {
            // The kernel keeps the listing and serves later opens from it (no READDIR): it
            // drops it itself when the directory changes through the view, and rollback,
            // abort and commit invalidate the directories they change.
            Ok(fh) => reply.opened(
                fh,
                FopenFlags::FOPEN_CACHE_DIR | FopenFlags::FOPEN_KEEP_CACHE,
            ),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        i: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let entries = match self.listing(ino(i), offset) {
            Ok(e) => e,
            Err(e) => return reply.error(e),
        };
        if entries.after(offset).next().is_none() {
            self.listing_done(ino(i), &entries);
        }
        for (next, e) in entries.after(offset) {
            if reply.add(
                INodeNo(e.ino.0),
                next,
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
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let entries = match self.listing(ino(i), offset) {
            Ok(e) => e,
            Err(e) => return reply.error(e),
        };
        if entries.after(offset).next().is_none() {
            self.listing_done(ino(i), &entries);
        }
        let mut ov = self.ov();
        for (next, e) in entries.after(offset) {
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
        _fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
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
        let r = self.ov().barrier().map_err(FsError::from);
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
        if r.is_ok() && name.as_bytes() == crate::overlay::ACL_ACCESS {
            // The ACL set the mode's permission bits, which the kernel has cached.
            self.attributes_changed(i);
        }
        empty(reply, r);
    }

    fn getxattr(&self, _req: &Request, i: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        let r = self.ov().getxattr(ino(i), name.as_bytes());
        xattr_reply(reply, size, r);
    }

    fn listxattr(&self, _req: &Request, i: INodeNo, size: u32, reply: ReplyXattr) {
        let names = self.ov().xattrs(ino(i)).map(|all| name_list(all.keys()));
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
        let r = self.fallocate(ino(i), fh, offset, length, mode);
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
