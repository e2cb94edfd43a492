//! The mount daemon: opens the store and the workspace, mounts the view, serves the control
//! socket, and unmounts cleanly on request or on SIGTERM/SIGINT.
//!
//! Start-up order matters for in-place mounts: the workspace directory is opened before the
//! view is mounted over it, and the control socket is bound before mounting, so a second
//! daemon for the same workspace fails before it could hide the first one's view.

pub mod audit;
mod commit;
mod diff;
mod failure;
mod ops;
mod patch;
mod range;

use std::io;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use crate::control::socket_addr;
use crate::fuse::{self, Invalidator, MountOptions, Unmounter};
use crate::overlay::Shared;
use crate::overlay::{FsError, Overlay, open_parts};

/// Errors that stop the daemon from starting.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("workspace {0} is already mounted")]
    AlreadyMounted(PathBuf),
    #[error(
        "workspace {workspace} overlaps the mounted workspace {mounted}; nested mounts are refused"
    )]
    Nested {
        workspace: PathBuf,
        mounted: PathBuf,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("cannot mount the view at {path}: {source}")]
    Mount { path: PathBuf, source: io::Error },
    #[error("control socket: {0}")]
    Socket(io::Error),
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error("recovery of an interrupted commit failed: {0}")]
    Recover(#[from] crate::txn::TxnError),
    #[error(transparent)]
    Commit(#[from] crate::txn::CommitError),
}

/// What the daemon serves.
#[derive(Debug, Clone)]
pub struct Config {
    /// The workspace (canonical path).
    pub workspace: PathBuf,
    /// Where the view is mounted (the workspace itself for in-place mounts).
    pub view: PathBuf,
    /// The store directory.
    pub store: PathBuf,
    pub allow_other: bool,
    /// Mount the view noexec.
    pub noexec: bool,
    /// Mount the view read-only.
    pub read_only: bool,
    /// Serve kernel requests through FUSE-over-io_uring when the kernel allows it.
    pub uring: bool,
}

/// The daemon's shared state, reachable from the control threads.
#[derive(Debug)]
pub struct Daemon {
    pub config: Config,
    pub overlay: Shared,
    invalidator: Invalidator,
    unmounter: Mutex<Unmounter>,
    /// Whether the kernel reads and writes working files itself (FUSE passthrough).
    passthrough: Arc<AtomicBool>,
    /// What was run in the view, kept across `gc`.
    audit: audit::Audit,
    /// Held while an unmount request is answered, so the process does not exit before the
    /// answer is sent.
    exit_gate: Mutex<()>,
    /// Who writes what while `exec` sessions are open, noted by the view.
    writers: Arc<crate::txn::writers::Writers>,
    /// The cgroup leaves of live `run` sessions: emptied before the transaction ends.
    sessions: crate::confine::sessions::Sessions,
    /// The `run` and `exec` sessions in progress, for `status`.
    live: ops::Live,
}

/// Runs the daemon until the view is unmounted.
pub fn run(config: Config) -> Result<(), DaemonError> {
    block_signals();
    if crate::control::Client::connect(&config.workspace).is_ok() {
        return Err(DaemonError::AlreadyMounted(config.workspace));
    }
    if let Some(mounted) = nested_mount(&config.workspace, &config.view) {
        return Err(DaemonError::Nested {
            workspace: config.workspace,
            mounted,
        });
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    crate::store::layout::check_location(&config.store, &config.workspace, home.as_deref())?;
    let listener =
        UnixListener::bind_addr(&socket_addr(&config.workspace).map_err(DaemonError::Socket)?)
            .map_err(|e| match e.kind() {
                io::ErrorKind::AddrInUse => DaemonError::AlreadyMounted(config.workspace.clone()),
                _ => DaemonError::Socket(e),
            })?;
    clean_stale_mount(&config.view);
    let parts = open_parts(&config.workspace, &config.store)?;
    let recovery = crate::txn::recover_at_mount(&parts, &config.workspace)?;
    let mut overlay = Overlay::open(parts)?;
    crate::txn::after_recovery(&mut overlay, &recovery)?;
    if recovery != crate::txn::Recovery::Nothing {
        tracing::warn!("recovered an interrupted commit: {recovery:?}");
    }
    let overlay: Shared = Arc::new(Mutex::new(overlay));
    let writers = Arc::new(crate::txn::writers::Writers::default());
    let opts = MountOptions {
        writers: writers.clone(),
        fsname: config.workspace.display().to_string(),
        allow_other: config.allow_other,
        noexec: config.noexec,
        read_only: config.read_only,
        threads: std::env::var("FTSB_FS_THREADS")
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(request_threads),
        passthrough: std::env::var("FTSB_FS_PASSTHROUGH").map_or(true, |v| v != "0"),
        uring: config.uring || std::env::var("FTSB_FS_URING").is_ok_and(|v| v == "1"),
    };
    let mut mounted =
        fuse::mount(overlay.clone(), &config.view, &opts).map_err(|source| DaemonError::Mount {
            path: config.view.clone(),
            source,
        })?;
    // The daemon must not keep the view busy.
    let _ = std::env::set_current_dir("/");
    let daemon = Arc::new(Daemon {
        audit: audit::Audit::new(&config.store),
        config,
        overlay: overlay.clone(),
        invalidator: mounted.invalidator(),
        passthrough: mounted.passthrough(),
        unmounter: Mutex::new(mounted.unmounter()),
        exit_gate: Mutex::new(()),
        writers,
        sessions: Default::default(),
        live: Default::default(),
    });
    spawn_control(daemon.clone(), listener);
    spawn_signal_watch(daemon.clone());
    tracing::info!(
        "serving {} at {}",
        daemon.config.workspace.display(),
        daemon.config.view.display()
    );
    let served = mounted.run();
    // Unmounted from outside (`fusermount -u`): an agent left running would now write into
    // the workspace itself.
    ops::stop_sessions(&daemon, "the view was unmounted");
    drop(
        daemon
            .exit_gate
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    if let Err(e) = crate::overlay::lock(&overlay).settle() {
        tracing::error!("writing the overlay after unmount failed: {e}");
    }
    served.map_err(|source| DaemonError::Mount {
        path: daemon.config.view.clone(),
        source,
    })
}

impl Daemon {
    /// Unmounts the view (the daemon then exits).
    pub fn unmount(&self) -> io::Result<()> {
        self.unmounter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .unmount()
    }

    /// Tells the kernel what to forget. Called without the overlay's lock: the kernel may send
    /// requests (write-back of dirty pages) while it invalidates.
    fn invalidate(&self, inval: &crate::overlay::Invalidation) {
        // Inodes first: a directory's cached pages and attributes go before its names, so no
        // listing outlives the names it shows.
        for ino in &inval.inodes {
            self.invalidator.inode(*ino);
        }
        for (dir, name) in &inval.entries {
            self.invalidator.entry(*dir, name);
        }
    }
}

fn spawn_control(daemon: Arc<Daemon>, listener: UnixListener) {
    std::thread::Builder::new()
        .name("control".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let daemon = daemon.clone();
                let _ = std::thread::Builder::new()
                    .name("control-conn".into())
                    .spawn(move || ops::serve(&daemon, stream));
            }
        })
        .expect("spawning the control thread at start-up");
}

/// SIGTERM, SIGINT and SIGHUP are taken by one thread, which unmounts cleanly.
fn block_signals() {
    // SAFETY: sigset manipulation on a local set; pthread_sigmask only affects this thread
    // and the threads it spawns afterwards.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

fn spawn_signal_watch(daemon: Arc<Daemon>) {
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            // SAFETY: as in block_signals; sigwait writes the received signal into `sig`.
            let sig = unsafe {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
                    libc::sigaddset(&mut set, sig);
                }
                let mut sig = 0;
                libc::sigwait(&set, &mut sig);
                sig
            };
            tracing::info!("signal {sig}: unmounting");
            ops::stop_sessions(&daemon, "the daemon was told to stop");
            if let Err(e) = daemon.unmount() {
                tracing::error!("unmount on signal failed: {e}; detaching");
                detach(&daemon.config.view);
            }
        })
        .expect("spawning the signal thread at start-up");
}

/// Lazily detaches whatever is mounted at `path`.
fn detach(path: &Path) {
    if crate::sys::unmount(path, true).is_err() {
        let _ = std::process::Command::new("fusermount3")
            .arg("-u")
            .arg("-z")
            .arg(path)
            .status();
    }
}

/// A view left mounted by a daemon that died answers nothing (ENOTCONN): detach it, so the
/// workspace is reachable again and can be mounted anew.
pub fn clean_stale_mount(view: &Path) {
    if let Err(e) = std::fs::metadata(view)
        && e.raw_os_error() == Some(libc::ENOTCONN)
    {
        tracing::warn!("detaching the stale view at {}", view.display());
        detach(view);
    }
}

/// Whether `path` is a mount point of an ftsb-fs view; returns the workspace it shows.
pub fn mounted_workspace(path: &Path) -> Option<PathBuf> {
    views()
        .into_iter()
        .rev()
        .find(|(view, _)| view == path)
        .map(|(_, ws)| ws)
}

/// Every ftsb-fs view mounted in this mount namespace: (mount point, workspace).
fn views() -> Vec<(PathBuf, PathBuf)> {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for line in info.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let Some(mountpoint) = left.split(' ').nth(4) else {
            continue;
        };
        let mut r = right.split(' ');
        let (Some(fstype), Some(source)) = (r.next(), r.next()) else {
            continue;
        };
        // Mounted by root, fuser calls mount(2) itself with the type "fuse" and drops the
        // subtype; only fusermount (non-root) gives "fuse.ftsb-fs". The source is then the
        // workspace path either way.
        let ours = fstype == "fuse.ftsb-fs" || (fstype == "fuse" && source.starts_with('/'));
        if ours {
            found.push((
                PathBuf::from(unescape(mountpoint)),
                PathBuf::from(unescape(source)),
            ));
        }
    }
    found
}

/// A mounted workspace (other than `workspace` itself) that `workspace` or `view` would nest
/// in or around: a view over a subfolder or a parent of a mounted workspace would show (and
/// commit) the same files through two overlays that know nothing of each other.
pub fn nested_mount(workspace: &Path, view: &Path) -> Option<PathBuf> {
    let overlaps = |a: &Path, b: &Path| a.starts_with(b) || b.starts_with(a);
    views()
        .into_iter()
        .find(|(mp, ws)| {
            ws != workspace
                && (overlaps(workspace, ws)
                    || overlaps(workspace, mp)
                    || overlaps(view, ws)
                    || overlaps(view, mp))
        })
        .map(|(_, ws)| ws)
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Kernel request threads by default: two, so one can take the next request while the other
/// waits on the disk, but one when the daemon may run on a single CPU only (pinned with
/// `taskset`, or in a one-CPU cgroup), where a second thread only adds context switches
/// (measured: a 20,000-file extraction pinned to one CPU ran about 10% faster with one).
fn request_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(2))
}
