//! Mounting the view and telling the kernel what to forget.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use fuser::{Config, INodeNo, MountOption, Notifier, Session, SessionACL, SessionUnmounter};

use super::{Shared, View};
use crate::overlay::Ino;

/// How the view is mounted.
#[derive(Debug, Clone)]
pub struct MountOptions {
    /// Shown as the mount's source in `/proc/self/mountinfo`: the workspace path.
    pub fsname: String,
    /// Let users other than the mounting one in (needs `user_allow_other` for non-root).
    pub allow_other: bool,
    /// Mount noexec.
    pub noexec: bool,
    /// Mount read-only.
    pub read_only: bool,
    /// Kernel request threads.
    pub threads: usize,
    /// Let the kernel read and write working files itself (FUSE passthrough) where it can.
    pub passthrough: bool,
    /// Serve requests through FUSE-over-io_uring queues when the kernel allows it (else
    /// through /dev/fuse, with one log line saying why).
    pub uring: bool,
    /// Where the view notes who writes what while `exec` sessions are open.
    pub writers: std::sync::Arc<crate::txn::writers::Writers>,
}

/// Tells the kernel to drop cached names and pages after the overlay changed behind its back.
#[derive(Debug)]
pub struct Invalidator {
    notifier: Notifier,
}

impl Invalidator {
    /// Forgets the cached entry `name` of directory `parent`.
    pub fn entry(&self, parent: Ino, name: &[u8]) {
        // ENOENT means the kernel had nothing cached: nothing to do.
        let _ = self
            .notifier
            .inval_entry(INodeNo(parent.0), OsStr::from_bytes(name));
    }

    /// Forgets the cached attributes and pages of `ino`.
    pub fn inode(&self, ino: Ino) {
        let _ = self.notifier.inval_inode(INodeNo(ino.0), 0, 0);
    }
}

/// Unmounts a view from any thread.
pub struct Unmounter {
    inner: SessionUnmounter,
    /// Where the view is mounted.
    at: PathBuf,
    /// An earlier attempt failed (the view was busy).
    failed: bool,
}

impl std::fmt::Debug for Unmounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Unmounter")
    }
}

impl Unmounter {
    /// Unmounts the view; the session's `run` then returns.
    ///
    /// fuser gives its handle of the mount up on the first attempt, even one that fails
    /// (EBUSY), and answers every later attempt with success without unmounting anything;
    /// so after a failure this unmounts the path itself.
    pub fn unmount(&mut self) -> io::Result<()> {
        if !self.failed {
            let r = self.inner.unmount();
            self.failed = r.is_err();
            return r;
        }
        match crate::sys::unmount(&self.at, false) {
            Ok(()) => {
                self.failed = false;
                return Ok(());
            }
            Err(err) if err.raw_os_error() != Some(libc::EPERM) => return Err(err),
            Err(_) => {}
        }
        // Not root: the setuid helper may unmount what this user mounted.
        let status = std::process::Command::new("fusermount3")
            .arg("-u")
            .arg(&self.at)
            .status()?;
        if status.success() {
            self.failed = false;
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::ResourceBusy,
                format!("fusermount3 -u failed ({status})"),
            ))
        }
    }
}

/// A mounted view: run it with [`Mounted::run`], unmount it from another thread.
pub struct Mounted {
    session: Session<View>,
    at: PathBuf,
    passthrough: Arc<AtomicBool>,
}

impl std::fmt::Debug for Mounted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mounted")
    }
}

impl Mounted {
    /// Something that can invalidate the kernel's caches of this mount.
    pub fn invalidator(&self) -> Invalidator {
        Invalidator {
            notifier: self.session.notifier(),
        }
    }

    /// Something that can unmount the view from another thread.
    pub fn unmounter(&mut self) -> Unmounter {
        Unmounter {
            inner: self.session.unmount_callable(),
            at: self.at.clone(),
            failed: false,
        }
    }

    /// Whether working files are passed through (asked for, granted by the kernel at init,
    /// not refused since); shared, as it may turn off while the view is served.
    pub fn passthrough(&self) -> Arc<AtomicBool> {
        self.passthrough.clone()
    }

    /// Serves kernel requests until the view is unmounted.
    pub fn run(self) -> io::Result<()> {
        self.session.run()
    }
}

/// Mounts the view of `overlay` at `at`.
pub fn mount(overlay: Shared, at: &Path, opts: &MountOptions) -> io::Result<Mounted> {
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName(opts.fsname.clone()),
        MountOption::Subtype("ftsb-fs".to_owned()),
        MountOption::DefaultPermissions,
        MountOption::NoDev,
    ];
    if opts.noexec {
        config.mount_options.push(MountOption::NoExec);
    }
    if opts.read_only {
        config.mount_options.push(MountOption::RO);
    }
    config.acl = if opts.allow_other {
        SessionACL::All
    } else {
        SessionACL::Owner
    };
    config.n_threads = Some(opts.threads.max(1));
    config.clone_fd = true;
    config.uring = opts.uring;
    let passthrough = Arc::new(AtomicBool::new(opts.passthrough));
    let notifier = Arc::new(std::sync::OnceLock::new());
    let view = View::new(
        overlay,
        passthrough.clone(),
        opts.writers.clone(),
        notifier.clone(),
    );
    let session = Session::new(view, at, &config)?;
    let _ = notifier.set(session.notifier());
    Ok(Mounted {
        session,
        at: at.to_owned(),
        passthrough,
    })
}
