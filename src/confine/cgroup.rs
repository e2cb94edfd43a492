//! A cgroup v2 leaf per supervised command: the process tree that cannot escape, even when
//! its supervisor dies.
//!
//! Owns: creating `ftsb-fs-exec-PID-START-XXXXXX` under the caller's own cgroup v2
//! ([`Leaf::create`]), moving the command into it before `execve` ([`Leaf::join_on_exec`]),
//! killing everything in it and waiting until it is empty ([`Leaf::kill_and_wait`]), removing
//! it ([`Leaf::remove`]), adopting one named by a client after checking it ([`Leaf::adopt`],
//! for the daemon), sweeping the empty leaves of dead supervisors ([`sweep`]), and the
//! daemon's register of the leaves of live agent sessions ([`Sessions`]).
//!
//! Invariants:
//! - A process in the leaf cannot leave it while it is confined: moving a process needs write
//!   access to a `cgroup.procs` file, which Landlock denies (the cgroup file system is at most
//!   readable), and `clone3(CLONE_INTO_CGROUP)`, which takes a directory fd Landlock does not
//!   check, is refused with `ENOSYS` by the seccomp filter (C libraries then fall back to
//!   `clone`). So every process the command starts, however it detaches (`setsid`, double
//!   fork, `nohup`), stays in the leaf, and `cgroup.kill` reaches it.
//! - [`Leaf::kill_and_wait`] returns only when `cgroup.events` says `populated 0` (every
//!   process has exited, so every file it had open is closed), or after its deadline with the
//!   count of processes still listed.
//! - [`Leaf::adopt`] accepts only a directory named like a leaf, on a cgroup v2 mount, inside
//!   the cgroup of the process that names it: a client cannot make the daemon kill a cgroup
//!   that is not its own.
//! - A leaf is created without controllers, so it needs no delegation beyond write access to
//!   the caller's cgroup directory; where that is missing (no root, no delegated subtree, a
//!   cgroup v1-only host), [`Leaf::create`] says why and the caller falls back to the
//!   subreaper of [`super::tree`].
//!
//! Deliberately not done here: freezing before killing (`cgroup.kill` is atomic for the
//! cgroup already), resource limits, or deciding when to kill (that is the caller's policy).
//!
//! Just over 500 lines: the leaf's life (create, join, kill, adopt, remove, sweep) and the
//! daemon's register of session leaves check the same names and paths, and the tests of
//! those checks sit beside them.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::scratch;

/// Environment variable that, set to `off`, makes [`Leaf::create`] refuse (for tests of the
/// subreaper fallback, and for hosts where cgroups must not be touched).
pub const DISABLE_ENV: &str = "FTSB_FS_CGROUP";

/// Why no leaf could be created or adopted.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// [`DISABLE_ENV`] is `off`.
    #[error("cgroups disabled by {DISABLE_ENV}=off")]
    Disabled,
    /// No cgroup v2 hierarchy is mounted, or this process is not in it.
    #[error("no cgroup v2 hierarchy holds this process")]
    NoHierarchy,
    /// The caller's cgroup directory is not writable (no root, no delegation).
    #[error("cannot create a cgroup under {parent}: {source}")]
    Create {
        /// The caller's cgroup directory.
        parent: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A path named by a client is not a leaf of its own.
    #[error("{path} is not an exec cgroup of the caller: {why}")]
    NotOurs {
        /// The path given.
        path: PathBuf,
        /// What is wrong with it.
        why: &'static str,
    },
}

/// A cgroup v2 directory holding one command's process tree. Dropping it removes the
/// directory if it is empty (a populated cgroup cannot be removed; [`sweep`] or the daemon
/// removes it later).
#[derive(Debug)]
pub struct Leaf {
    path: PathBuf,
    /// `cgroup.procs` of the leaf, opened before spawning (close-on-exec).
    procs: Option<OwnedFd>,
}

/// The mount point of the cgroup v2 hierarchy, from `/proc/self/mountinfo`.
pub fn mount_point() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        if right.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        // Field 5 is the mount point (octal escapes for spaces and the like).
        left.split_whitespace()
            .nth(4)
            .map(|m| PathBuf::from(unescape(m)))
    })
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && let Some(Ok(digits)) = b.get(i + 1..i + 4).map(std::str::from_utf8)
            && let Ok(v) = u8::from_str_radix(digits, 8)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup v2 directory of process `pid` (`self` for this one), from `/proc/PID/cgroup`.
pub fn cgroup_of(pid: &str) -> Option<PathBuf> {
    let mount = mount_point()?;
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    let rel = rel.trim_end_matches(" (deleted)");
    Some(mount.join(rel.trim_start_matches('/')))
}

impl Leaf {
    /// Creates a leaf under this process's own cgroup and opens its `cgroup.procs`.
    pub fn create() -> Result<Leaf, CgroupError> {
        if std::env::var_os(DISABLE_ENV).is_some_and(|v| v == "off") {
            return Err(CgroupError::Disabled);
        }
        let parent = cgroup_of("self").ok_or(CgroupError::NoHierarchy)?;
        sweep(&parent);
        let pid = std::process::id();
        let start = scratch::start_time(pid).unwrap_or(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = parent.join(format!("{}{pid}-{start}-{nanos:x}", scratch::PREFIX));
        std::fs::create_dir(&path).map_err(|source| CgroupError::Create {
            parent: parent.clone(),
            source,
        })?;
        let mut leaf = Leaf { path, procs: None };
        // On failure, dropping the leaf removes it.
        leaf.procs = Some(
            open_write(&leaf.path.join("cgroup.procs"))
                .map_err(|source| CgroupError::Create { parent, source })?,
        );
        Ok(leaf)
    }

    /// Creates a leaf ([`Leaf::create`]) and makes the child spawned from `cmd` start in it
    /// ([`Leaf::join_on_exec`]). Call it before the confinement hooks are registered.
    pub fn for_command(cmd: &mut Command) -> Result<Leaf, CgroupError> {
        let leaf = Leaf::create()?;
        leaf.join_on_exec(cmd)
            .map_err(|source| CgroupError::Create {
                parent: leaf.path.parent().unwrap_or(&leaf.path).to_owned(),
                source,
            })?;
        Ok(leaf)
    }

    /// Adopts the leaf a client named, after checking that it is one: an existing directory
    /// named like a leaf, inside the cgroup of process `owner` (the client), with no `..`.
    pub fn adopt(path: &Path, owner: libc::pid_t) -> Result<Leaf, CgroupError> {
        let not_ours = |why| CgroupError::NotOurs {
            path: path.to_owned(),
            why,
        };
        if !path.is_absolute()
            || path
                .components()
                .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
        {
            return Err(not_ours("not a plain absolute path"));
        }
        let named = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(scratch::PREFIX));
        if !named {
            return Err(not_ours("not named like an exec cgroup"));
        }
        let home = cgroup_of(&owner.to_string()).ok_or(not_ours("the client has no cgroup"))?;
        if !path.starts_with(&home) || path == home {
            return Err(not_ours("outside the client's cgroup"));
        }
        let meta = path
            .symlink_metadata()
            .map_err(|_| not_ours("no such directory"))?;
        if !meta.is_dir() || !path.join("cgroup.events").exists() {
            return Err(not_ours("not a cgroup directory"));
        }
        Ok(Leaf {
            path: path.to_owned(),
            procs: None,
        })
    }

    /// The leaf's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes the child spawned from `cmd` move itself into the leaf before anything else runs
    /// in it (so before it is confined, and before it can fork). Register this before the
    /// confinement hooks. Fails if the leaf was adopted rather than created.
    pub fn join_on_exec(&self, cmd: &mut Command) -> io::Result<()> {
        use std::os::unix::process::CommandExt;
        let fd = self
            .procs
            .as_ref()
            .ok_or_else(|| io::Error::other("an adopted cgroup cannot be joined"))?
            .as_raw_fd();
        // SAFETY: the hook runs between fork and exec; it only calls write(2) on an fd opened
        // before fork (kept open by `self`, which outlives the spawn) with a static buffer:
        // no allocation, no lock, async-signal-safe. Writing "0" moves the writer itself.
        unsafe {
            cmd.pre_exec(move || {
                if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        Ok(())
    }

    /// The processes in the leaf and the cgroups below it.
    pub fn pids(&self) -> Vec<libc::pid_t> {
        let mut out = Vec::new();
        let mut todo = vec![self.path.clone()];
        while let Some(dir) = todo.pop() {
            if let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) {
                out.extend(
                    text.lines()
                        .filter_map(|l| l.trim().parse::<libc::pid_t>().ok()),
                );
            }
            todo.extend(subgroups(&dir));
        }
        out
    }

    /// Whether a live process is in the leaf or below it (`cgroup.events`); a leaf that is
    /// gone is empty.
    pub fn populated(&self) -> bool {
        std::fs::read_to_string(self.path.join("cgroup.events"))
            .is_ok_and(|t| t.lines().any(|l| l == "populated 1"))
    }

    /// Kills every process in the leaf: `cgroup.kill` (Linux 5.14), else SIGKILL to each
    /// listed process, which cannot fork away since it is stopped by the signal first.
    pub fn kill(&self) {
        if std::fs::write(self.path.join("cgroup.kill"), "1").is_ok() {
            return;
        }
        for pid in self.pids() {
            // SAFETY: kill takes integers only. A pid listed in the leaf is in the leaf; if
            // it exits and is reused meanwhile, the new process is not listed, and the next
            // round sees it gone (the window is the one any kill(2) of a listed pid has).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }

    /// Kills everything in the leaf until it is empty, for at most `give_up`; the number of
    /// processes still listed when it gave up (0 when the leaf emptied).
    pub fn kill_and_wait(&self, give_up: Duration) -> usize {
        let until = Instant::now() + give_up;
        loop {
            if !self.populated() {
                return 0;
            }
            if Instant::now() >= until {
                return self.pids().len();
            }
            self.kill();
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Removes the leaf (and any cgroup below it); an already removed leaf is fine. Fails
    /// while a process is still in it.
    pub fn remove(&self) -> io::Result<()> {
        remove_tree(&self.path)
    }

    fn remove_quietly(&self) {
        if let Err(e) = self.remove() {
            tracing::warn!("cannot remove cgroup {}: {e}", self.path.display());
        }
    }
}

impl Drop for Leaf {
    fn drop(&mut self) {
        if let Err(e) = self.remove() {
            tracing::debug!("cgroup {} left for later: {e}", self.path.display());
        }
    }
}

/// What emptying leaves did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Emptied {
    /// Processes that were in the leaves when they were killed.
    pub killed: usize,
    /// Processes still listed when killing gave up (stuck in the kernel).
    pub survivors: usize,
}

/// What holds a live agent session's processes.
#[derive(Debug)]
pub enum Held {
    /// Its cgroup leaf.
    Leaf(Leaf),
    /// The process tree below its `run`, when there is no cgroup.
    Tree(super::tree::Subtree),
}

impl Held {
    /// The live processes it holds.
    pub fn pids(&self) -> Vec<libc::pid_t> {
        match self {
            Held::Leaf(leaf) => leaf.pids(),
            Held::Tree(tree) => tree.pids(),
        }
    }

    /// Kills what it holds and waits until nothing is left.
    fn empty(&self, give_up: Duration) -> Emptied {
        match self {
            Held::Leaf(leaf) => {
                let killed = leaf.pids().len();
                let survivors = leaf.kill_and_wait(give_up);
                Emptied { killed, survivors }
            }
            Held::Tree(tree) => {
                let (killed, survivors) = tree.kill_and_wait(give_up);
                Emptied { killed, survivors }
            }
        }
    }
}

/// The live agent sessions (`run`) a daemon serves, by session id, with what holds their
/// processes: a cgroup leaf, else the process tree below their `run`.
///
/// The daemon empties a session's leaf when the session's control connection closes (its
/// `run` ended or was killed) and empties every session before the transaction ends (commit,
/// abort, unmount), so nothing an agent started outlives the transaction it worked in or
/// changes the view after it ended. Without a leaf, a session whose `run` is gone holds
/// nothing any more (see [`super::tree::Subtree`]).
#[derive(Debug, Default)]
pub struct Sessions {
    next: AtomicU64,
    held: Mutex<BTreeMap<u64, Held>>,
}

impl Sessions {
    /// Registers a new session; returns its id.
    pub fn add(&self, held: Held) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, held);
        id
    }

    /// Ends session `id`: kills what is left of it, waits until nothing is (at most
    /// `give_up`), and removes its leaf.
    pub fn end(&self, id: u64, give_up: Duration) -> Emptied {
        let Some(held) = self.lock().remove(&id) else {
            return Emptied::default();
        };
        let emptied = held.empty(give_up);
        if let Held::Leaf(leaf) = held {
            leaf.remove_quietly();
        }
        emptied
    }

    /// Kills everything of every session and waits until nothing is left (at most `give_up`
    /// each). The sessions stay registered: their `run` still settles and reports.
    pub fn empty_all(&self, give_up: Duration) -> Emptied {
        let held = self.lock();
        held.values()
            .map(|h| h.empty(give_up))
            .fold(Emptied::default(), |a, b| Emptied {
                killed: a.killed + b.killed,
                survivors: a.survivors + b.survivors,
            })
    }

    /// The leaves of the live sessions that have one.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.lock()
            .values()
            .filter_map(|h| match h {
                Held::Leaf(l) => Some(l.path.clone()),
                Held::Tree(_) => None,
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Held>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The cgroup directories directly below `dir`.
fn subgroups(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}

/// Removes a cgroup directory, children first (a cgroup's files go with its `rmdir`).
fn remove_tree(dir: &Path) -> io::Result<()> {
    for sub in subgroups(dir) {
        remove_tree(&sub)?;
    }
    match std::fs::remove_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

fn open_write(path: &Path) -> io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: `c` is a valid NUL-terminated path; open returns a new fd or -1.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Removes the leaves under `parent` whose supervisor is gone and that are empty (`rmdir` of
/// a populated cgroup fails, so a leaf with a live process is never removed: its daemon
/// removes it after killing). Best effort; returns the ones removed.
pub fn sweep(parent: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for dir in subgroups(parent) {
        let Some((pid, start)) = dir
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(scratch::owner)
        else {
            continue;
        };
        if scratch::start_time(pid) == Some(start) {
            continue;
        }
        if remove_tree(&dir).is_ok() {
            removed.push(dir);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_decodes_mountinfo_octal() {
        assert_eq!(unescape(r"/sys/fs/cgroup"), "/sys/fs/cgroup");
        assert_eq!(unescape(r"/a\040b"), "/a b");
        assert_eq!(unescape(r"/x\"), r"/x\");
    }

    #[test]
    fn adopt_refuses_what_is_not_an_exec_leaf_of_the_caller() {
        // SAFETY: getpid has no preconditions.
        let me = unsafe { libc::getpid() };
        for bad in [
            "relative/ftsb-fs-exec-1-2-3",
            "/sys/fs/cgroup/../ftsb-fs-exec-1-2-3",
            "/sys/fs/cgroup/user.slice",
            "/",
        ] {
            assert!(Leaf::adopt(Path::new(bad), me).is_err(), "{bad}");
        }
        if let Some(home) = cgroup_of("self") {
            // Named right but missing, or named right but outside our cgroup.
            let missing = home.join(format!("{}1-2-3", scratch::PREFIX));
            assert!(Leaf::adopt(&missing, me).is_err());
            let outside = Path::new("/proc").join(format!("{}1-2-3", scratch::PREFIX));
            assert!(Leaf::adopt(&outside, me).is_err());
        }
    }
}
