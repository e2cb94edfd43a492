//! The view's own state and policy: the listings of directories being read, and how
//! an open file's bytes move (served by requests, or passed through to its working file,
//! with the kernel's reference to that file kept per inode).
//!
//! Deliberately not here: the translation of requests and replies (`reply.rs`) and the
//! `Filesystem` methods (`mod.rs`).

use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use fuser::{BackingId, Errno, FileHandle, FopenFlags, INodeNo, Request};

use crate::overlay::{Access, Attr, FsError, Handle, Ino, Kind, Overlay, SetAttr, Shared, lock};

use crate::txn::writers::{Touch, Writers};

use super::guard;
use super::listing::Listing;
use super::reply::*;

/// How many directories' listings are kept at most (one per directory being read).
const KEPT_LISTINGS: usize = 1024;

/// The view as the kernel sees it.
#[derive(Debug)]
pub struct View {
    pub(super) overlay: Shared,
    /// The latest listing of each directory being read, by inode (see `listing`).
    pub(super) listings: Mutex<HashMap<u64, Arc<Listing>>>,
    /// Whether the kernel opens directories without a request (it was answered ENOSYS once).
    pub(super) no_opendir: AtomicBool,
    /// Whether opens may pass reads and writes through to working files: asked for, granted
    /// by the kernel at init, and not refused since.
    pub(super) passthrough: Arc<AtomicBool>,
    /// The kernel's reference to each working file held open for passthrough, one per inode
    /// (the kernel wants every open of an inode on the same one), with the inode's
    /// generation when it was taken: a rollback or abort that detaches an inode's working
    /// file raises its generation, so a reference of an older one names a detached file. Only
    /// taken while the overlay's lock is held.
    pub(super) backings: Mutex<HashMap<u64, (u64, BackingId)>>,
    /// Who writes what while `exec` sessions are open (each mutating request is noted
    /// before it reaches the overlay).
    pub(super) writers: Arc<Writers>,
    /// Tells the kernel about changes a request made that its reply cannot carry (set once
    /// the session exists).
    pub(super) notifier: Arc<OnceLock<fuser::Notifier>>,
}

impl View {
    /// A view over `overlay`.
    pub fn new(
        overlay: Shared,
        passthrough: Arc<AtomicBool>,
        writers: Arc<Writers>,
        notifier: Arc<OnceLock<fuser::Notifier>>,
    ) -> View {
        View {
            overlay,
            listings: Mutex::new(HashMap::new()),
            no_opendir: AtomicBool::new(false),
            passthrough,
            backings: Mutex::new(HashMap::new()),
            writers,
            notifier,
        }
    }

    /// Makes the kernel read the attributes of `i` again (not its pages): for a change a
    /// request made that its reply does not carry, such as the mode an access ACL sets.
    pub(super) fn attributes_changed(&self, i: INodeNo) {
        if let Some(n) = self.notifier.get() {
            // A negative offset invalidates the attributes only. ENOENT: nothing cached.
            let _ = n.inval_inode(i, -1, 0);
        }
    }

    /// Notes that the process of `req` is about to change `touch`.
    pub(super) fn note(&self, req: &Request, touch: Touch) {
        self.writers.note(req.pid(), touch);
    }

    /// Notes a name `req` is about to change.
    pub(super) fn note_entry(&self, req: &Request, dir: INodeNo, name: &OsStr) {
        self.note(req, Touch::Entry(ino(dir), name.as_bytes().to_vec()));
    }

    /// Notes the node `name` in `dir` names now, while sessions are open (it is about to be
    /// renamed or removed).
    pub(super) fn name_before(&self, ov: &mut Overlay, dir: INodeNo, name: &OsStr) -> Option<Ino> {
        if !self.writers.active() {
            return None;
        }
        let found = ov.entry_attr(ino(dir), name.as_bytes()).ok()?.ino;
        self.writers.note_name(found, ino(dir), name.as_bytes());
        Some(found)
    }

    /// Notes the name a node was just given (`made`: the operation's result).
    pub(super) fn named(&self, made: &Result<Attr, FsError>, dir: INodeNo, name: &OsStr) {
        if let Ok(a) = made {
            self.writers.note_name(a.ino, ino(dir), name.as_bytes());
        }
    }

    pub(super) fn ov(&self) -> MutexGuard<'_, Overlay> {
        lock(&self.overlay)
    }

    /// The listing of directory `dir` to read from `offset`, shared: each read resumes after
    /// its offset, so a large directory read in many requests is not listed once per request.
    /// A read at offset 0 takes a fresh listing; later reads resume in the directory's latest
    /// one. Listings are kept by inode, not by handle, because the kernel opens directories
    /// without a request (`opendir` answers ENOSYS once) and then sends handle 0; offsets are
    /// cookies of names (`listing.rs`), so a reader resuming in a listing another reader took
    /// since, or in a fresh one, still lists every name that stays exactly once.
    ///
    /// Taking a fresh listing at offset 0 rather than at open is what keeps a kept listing true
    /// across a rollback: the kernel notes the directory's version when it sends that first
    /// read, and the rollback's invalidation bumps the version. A read sent before the
    /// invalidation is thus discarded at the next open, and one sent after it sees the
    /// rolled-back state.
    ///
    /// Lock order: the listings' lock is never held while the overlay's is taken, nor the
    /// other way round (two request threads would deadlock).
    pub(super) fn listing(&self, dir: Ino, offset: u64) -> Result<Arc<Listing>, Errno> {
        if offset != 0
            && let Some(kept) = guard(&self.listings).get(&dir.0).cloned()
        {
            return Ok(kept);
        }
        let fresh = Arc::new(Listing::new(
            self.ov().readdir(dir, dir).map_err(|e| errno(&e))?,
        ));
        let mut all = guard(&self.listings);
        // Listings abandoned half read (`ls | head`) go in bulk; a reader then resumes in a
        // fresh listing, which its offsets name as well.
        if all.len() >= KEPT_LISTINGS {
            all.clear();
        }
        all.insert(dir.0, fresh.clone());
        Ok(fresh)
    }

    /// Forgets `listing` of `dir` once a read reached its end.
    pub(super) fn listing_done(&self, dir: Ino, listing: &Arc<Listing>) {
        let mut all = guard(&self.listings);
        if all.get(&dir.0).is_some_and(|l| Arc::ptr_eq(l, listing)) {
            all.remove(&dir.0);
        }
    }

    /// Opens a handle of file `i` and replies how its bytes move: through requests, or passed
    /// through to its working file (the kernel's reference to the file is taken at the
    /// inode's first such open and kept until its last one closes).
    pub(super) fn open_file(&self, ov: &mut Overlay, i: Ino, write: bool, reply: impl OpenReply) {
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

/// The requests whose handling holds policy of the view's own: revoked handles, privilege
/// clearing on write, the kernel's backing references, directory handles.
impl View {
    /// Reads up to `size` bytes of `i` at `offset`. The backing file is taken under the
    /// overlay's lock and read after it is released.
    pub(super) fn read(&self, i: Ino, offset: u64, size: u32) -> Result<Vec<u8>, Errno> {
        let file = self.ov().backing(i).map_err(|e| errno(&e))?;
        let mut buf = vec![0u8; size as usize];
        let mut got = 0;
        while got < buf.len() {
            match file.read_at(&mut buf[got..], offset + got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Errno::from(e)),
            }
        }
        buf.truncate(got);
        Ok(buf)
    }

    /// Writes `data` at `offset` of `i` through handle `fh`, refused if a rollback or abort
    /// revoked the handle; clears setuid, setgid and capabilities first when the kernel asks.
    pub(super) fn write(
        &self,
        i: Ino,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        kill_privileges: bool,
    ) -> Result<u32, FsError> {
        let mut ov = self.ov();
        ov.check_handle(handle_from(fh))?;
        if kill_privileges {
            ov.kill_privileges(i)?;
        }
        ov.write(i, offset, data)
    }

    /// Changes attributes of `i`; a truncation through a handle revoked by a rollback or abort
    /// is refused, so it cannot cut the restored file.
    pub(super) fn setattr(
        &self,
        i: Ino,
        fh: Option<FileHandle>,
        set: SetAttr,
    ) -> Result<Attr, FsError> {
        let mut ov = self.ov();
        if let Some(fh) = fh.filter(|_| set.size.is_some()) {
            ov.check_handle(handle_from(fh))?;
        }
        ov.setattr(i, set)
    }

    /// `fallocate` through handle `fh`, refused if the handle was revoked.
    pub(super) fn fallocate(
        &self,
        i: Ino,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
    ) -> Result<(), FsError> {
        let mut ov = self.ov();
        ov.check_handle(handle_from(fh))?;
        ov.fallocate(i, offset, length, mode)
    }

    /// Closes handle `fh` of `i`; at the inode's last direct handle, drops the kernel's
    /// reference to its working file (which closes it, one ioctl).
    pub(super) fn release(&self, i: Ino, fh: FileHandle) -> Result<(), FsError> {
        let handle = handle_from(fh);
        let mut ov = self.ov();
        let released = ov.release_handle(i, handle);
        if handle.direct && !ov.is_direct(i) {
            guard(&self.backings).remove(&i.0);
        }
        released
    }

    /// A directory handle of `i` (only while the kernel still sends OPENDIR): its listing
    /// is taken at its first read (see `listing`).
    pub(super) fn opendir(&self, i: Ino) -> Result<FileHandle, Errno> {
        let attr = self.ov().getattr(i).map_err(|e| errno(&e))?;
        if attr.kind != Kind::Dir {
            return Err(Errno::ENOTDIR);
        }
        Ok(FileHandle(0))
    }
}
