//! Process-tree ownership: everything a supervised command starts ends before its
//! transaction does.
//!
//! Owns: making this process a child subreaper ([`Supervisor::start`]), so that every orphan
//! the command leaves (a background job, a double fork, `setsid`, `nohup`) is reparented to us
//! rather than to init; with a cgroup v2 leaf ([`Supervisor::start_in`], see
//! [`super::cgroup`]), tracking the command's processes by their cgroup instead; and, once the
//! command has ended, waiting for or killing every descendant it left ([`Supervisor::settle`]),
//! with a [`TreeReport`] for `exec --json` that says which [`Containment`] ran.
//!
//! Invariants:
//! - After [`Supervisor::settle`] returns, no process started by the command is alive, except
//!   ones the kernel would not kill within [`GIVE_UP`] (stuck in uninterruptible sleep), which
//!   the report counts as `survivors`.
//! - Only processes the command started are touched: with a leaf, those in it; without, the
//!   descendants of this process that did not exist when the supervisor started. Other
//!   children of the caller are left alone.
//! - A signal to a single process goes through a pidfd checked against the process's start
//!   time, so a pid reused by an unrelated process is never signalled.
//!
//! Two containments, the stronger when the host allows it:
//! - [`Containment::Cgroup`]: the command runs in its own cgroup v2 leaf, which it cannot leave
//!   while confined, and which the daemon also knows about. If this process is killed with
//!   SIGKILL, the daemon sees the control connection close, writes `cgroup.kill`, waits until
//!   the leaf is empty and only then rolls the command back: nothing the command started
//!   survives its transaction, whoever dies. It needs a writable cgroup v2 directory (root,
//!   or a delegated subtree such as a systemd user unit with `Delegate=yes`).
//! - [`Containment::Subreaper`] (the fallback, with no privilege on any kernel since 3.4): no
//!   descendant can leave our tree while we live, since orphans are reparented to the nearest
//!   subreaper, and killing rounds repeat until nothing is left, so a process forking while we
//!   kill is caught in the next round. Its gap: if this process is killed with SIGKILL, the
//!   command's direct child dies with it (`PR_SET_PDEATHSIG`), but descendants that left it
//!   are reparented to init and may keep writing into the view after the daemon's rollback.
//!
//! Deliberately not done here: forwarding signals to the command and waiting for the command
//! itself (the caller does, with `std::process::Child`), and creating or removing the leaf
//! (that is [`super::cgroup`] and the caller).
//!
//! Slightly over 500 lines on purpose: both containments share the settle loop, the pidfd
//! checks against reused pids and the report, and the invariants above are stated once.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::cgroup::Leaf;

/// What to do with descendants still alive when the command itself has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Linger {
    /// Wait until every descendant has ended by itself.
    Wait,
    /// Give them [`GRACE`] to end, then kill them (SIGKILL).
    #[default]
    Kill,
}

impl std::str::FromStr for Linger {
    type Err = String;

    /// `wait` or `kill`, as `--linger` takes them.
    fn from_str(s: &str) -> Result<Linger, String> {
        match s {
            "wait" => Ok(Linger::Wait),
            "kill" => Ok(Linger::Kill),
            _ => Err(format!("'{s}' is not a linger mode (wait or kill)")),
        }
    }
}

/// How long [`Linger::Kill`] lets descendants end by themselves before killing them.
pub const GRACE: Duration = Duration::from_millis(500);

/// How long killing rounds go on before the survivors are reported instead.
pub const GIVE_UP: Duration = Duration::from_secs(10);

/// Set by [`interrupt`]: a [`Linger::Wait`] in progress stops waiting and kills.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Makes a [`Supervisor::settle`] with [`Linger::Wait`] stop waiting and kill what is left,
/// now or when it starts waiting. Async-signal-safe (one atomic store): call it from the
/// handler of SIGINT or SIGTERM once the command itself has ended, so that an interrupted
/// `--linger wait` does not hang.
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// How often the process table is read while waiting.
const POLL: Duration = Duration::from_millis(20);

/// How the command's processes were contained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Containment {
    /// Its own cgroup v2 leaf, known to the daemon: holds even if the supervisor dies.
    Cgroup,
    /// A child subreaper only: holds while the supervisor lives.
    Subreaper,
}

impl Containment {
    /// Its name, as `--json` results and the audit log spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Containment::Cgroup => "cgroup",
            Containment::Subreaper => "subreaper",
        }
    }
}

/// What happened to the descendants the command left.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TreeReport {
    /// How they were contained.
    pub containment: Containment,
    /// The policy applied.
    pub linger: Linger,
    /// Descendants alive when the command ended.
    pub lingering: usize,
    /// Descendants killed (after the grace, with [`Linger::Kill`]).
    pub killed: usize,
    /// Descendants still alive when we gave up (0 unless one is stuck in the kernel).
    pub survivors: usize,
}

/// Errors of the supervisor.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// `prctl(PR_SET_CHILD_SUBREAPER)` failed.
    #[error("cannot become a child subreaper: {source}")]
    Subreaper {
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// Owns the process tree of commands started after [`Supervisor::start`].
#[derive(Debug)]
pub struct Supervisor {
    /// Descendants that existed before: never touched.
    before: BTreeSet<Pid>,
    /// The command's cgroup leaf, when it has one.
    leaf: Option<Leaf>,
    /// Why there is no leaf, when [`Supervisor::for_command`] could not make one.
    fallback: Option<String>,
}

type Pid = libc::pid_t;

/// One process of the table: its parent, whether it is a zombie, and its start time (in clock
/// ticks since boot), which tells a reused pid apart.
#[derive(Debug, Clone, Copy)]
struct Proc {
    ppid: Pid,
    zombie: bool,
    start: u64,
}

impl Supervisor {
    /// Makes this process a child subreaper and remembers its current descendants.
    /// Call it before spawning the command.
    pub fn start() -> Result<Supervisor, TreeError> {
        Supervisor::start_in(None)
    }

    /// As [`Supervisor::start`], and with a `leaf`, tracks and kills the command's processes
    /// through it (the caller spawns the command into it with [`Leaf::join_on_exec`]).
    pub fn start_in(leaf: Option<Leaf>) -> Result<Supervisor, TreeError> {
        // SAFETY: prctl(PR_SET_CHILD_SUBREAPER, 1) takes integers only.
        let rc = unsafe {
            libc::prctl(
                libc::PR_SET_CHILD_SUBREAPER,
                1 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            )
        };
        if rc != 0 {
            return Err(TreeError::Subreaper {
                source: io::Error::last_os_error(),
            });
        }
        Ok(Supervisor {
            before: descendants().into_keys().collect(),
            leaf,
            fallback: None,
        })
    }

    /// Supervises the command `cmd` will spawn with the strongest containment the host
    /// allows: a cgroup leaf of its own, which the child joins before anything else runs in
    /// it ([`Leaf::for_command`]), else the subreaper alone, and then [`Supervisor::fallback`]
    /// says why. Call it before the confinement hooks are registered (they forbid writing to
    /// the cgroup) and before the caller's own descendants it must leave alone are started.
    pub fn for_command(cmd: &mut std::process::Command) -> Result<Supervisor, TreeError> {
        let (leaf, fallback) = match Leaf::for_command(cmd) {
            Ok(leaf) => {
                tracing::info!("containment: cgroup {}", leaf.path().display());
                (Some(leaf), None)
            }
            Err(e) => {
                tracing::info!("containment: subreaper only ({e})");
                (None, Some(e.to_string()))
            }
        };
        let mut supervisor = Supervisor::start_in(leaf)?;
        supervisor.fallback = fallback;
        Ok(supervisor)
    }

    /// The command's cgroup leaf, if it has one.
    pub fn leaf(&self) -> Option<&Leaf> {
        self.leaf.as_ref()
    }

    /// Which containment holds the command's processes.
    pub fn containment(&self) -> Containment {
        if self.leaf.is_some() {
            Containment::Cgroup
        } else {
            Containment::Subreaper
        }
    }

    /// Why the command has no cgroup leaf, when [`Supervisor::for_command`] could not make one.
    pub fn fallback(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// Removes the command's leaf once it is empty (after [`Supervisor::settle`]); a failure
    /// is logged: the daemon, or the next supervisor's sweep, removes it later.
    pub fn remove_leaf(&self) {
        if let Some(leaf) = &self.leaf
            && let Err(e) = leaf.remove()
        {
            tracing::warn!("cannot remove cgroup {}: {e}", leaf.path().display());
        }
    }

    /// The descendants started after [`Supervisor::start`] (zombies included).
    fn ours(&self) -> BTreeMap<Pid, Proc> {
        let mut all = descendants();
        all.retain(|pid, _| !self.before.contains(pid));
        all
    }

    /// Reaps our zombie children among `procs`; returns the ones still alive or not ours to
    /// reap.
    fn reap(&self, procs: BTreeMap<Pid, Proc>) -> BTreeMap<Pid, Proc> {
        // SAFETY: getpid has no preconditions.
        let me = unsafe { libc::getpid() };
        procs
            .into_iter()
            .filter(|(pid, p)| {
                if p.ppid == me && p.zombie {
                    let mut status = 0;
                    // SAFETY: waitpid on our own child with WNOHANG writes only `status`.
                    let rc = unsafe { libc::waitpid(*pid, &mut status, libc::WNOHANG) };
                    return rc != *pid;
                }
                true
            })
            .collect()
    }

    /// Waits for or kills every descendant started since [`Supervisor::start`]. Call it once
    /// the command itself has been waited for, and before its transaction ends.
    pub fn settle(&self, linger: Linger) -> TreeReport {
        if let Some(leaf) = &self.leaf {
            let report = self.settle_leaf(leaf, linger);
            // Zombies of processes reparented to us: reap them.
            self.reap(self.ours());
            return report;
        }
        let mut report = TreeReport {
            containment: Containment::Subreaper,
            linger,
            lingering: 0,
            killed: 0,
            survivors: 0,
        };
        let left = self.reap(self.ours());
        report.lingering = left.values().filter(|p| !p.zombie).count();
        if left.is_empty() {
            return report;
        }
        let grace_until = Instant::now() + GRACE;
        loop {
            let left = self.reap(self.ours());
            if left.is_empty() {
                return report;
            }
            let kill_now = match linger {
                Linger::Kill => Instant::now() >= grace_until,
                Linger::Wait => INTERRUPTED.load(Ordering::SeqCst),
            };
            if kill_now {
                break;
            }
            std::thread::sleep(POLL);
        }
        (report.killed, report.survivors) = self.kill_all();
        report
    }

    /// Kills every descendant started since [`Supervisor::start`], in rounds (so one forking
    /// meanwhile is caught in the next) until none is left or [`GIVE_UP`] passed; returns how
    /// many were killed and how many survive.
    pub fn kill_all(&self) -> (usize, usize) {
        let mut killed = BTreeSet::new();
        let give_up = Instant::now() + GIVE_UP;
        loop {
            let left = self.reap(self.ours());
            if left.is_empty() {
                return (killed.len(), 0);
            }
            if Instant::now() >= give_up {
                return (killed.len(), left.values().filter(|p| !p.zombie).count());
            }
            for (pid, p) in left.iter().filter(|(_, p)| !p.zombie) {
                if kill_checked(*pid, p.start) {
                    killed.insert((*pid, p.start));
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Supervisor {
    /// [`Supervisor::settle`] with a leaf: the leaf's process list is the command's tree.
    fn settle_leaf(&self, leaf: &Leaf, linger: Linger) -> TreeReport {
        let mut report = TreeReport {
            containment: Containment::Cgroup,
            linger,
            lingering: leaf.pids().len(),
            killed: 0,
            survivors: 0,
        };
        let grace_until = Instant::now() + GRACE;
        while leaf.populated() {
            self.reap(self.ours());
            let kill_now = match linger {
                Linger::Kill => Instant::now() >= grace_until,
                Linger::Wait => INTERRUPTED.load(Ordering::SeqCst),
            };
            if kill_now {
                report.killed = leaf.pids().len();
                report.survivors = leaf.kill_and_wait(GIVE_UP);
                break;
            }
            std::thread::sleep(POLL);
        }
        report
    }
}

/// Sends SIGKILL to `pid` if it is still the process that started at `start`; whether it was
/// sent.
fn kill_checked(pid: Pid, start: u64) -> bool {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0 as libc::c_uint) };
    if fd < 0 {
        // Gone already, or a kernel before 5.3: fall back to a checked kill, whose window for
        // a reused pid is the time between the check and the kill.
        if io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS)
            && read_proc(pid).is_some_and(|p| p.start == start)
        {
            // SAFETY: kill takes integers only.
            return unsafe { libc::kill(pid, libc::SIGKILL) } == 0;
        }
        return false;
    }
    let fd = fd as libc::c_int;
    // The pidfd pins the process that held `pid` when it was opened: if that one still has
    // the start time we listed, the fd is ours to signal.
    let sent = read_proc(pid).is_some_and(|p| p.start == start) && {
        // SAFETY: pidfd_send_signal on an fd we own, with a null siginfo and no flags.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                fd,
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0 as libc::c_uint,
            )
        };
        rc == 0
    };
    // SAFETY: `fd` was opened above and is closed once.
    unsafe { libc::close(fd) };
    sent
}

/// Parses `/proc/PID/stat`: the fields after the command name (which may hold spaces and
/// parentheses, so the last `)` ends it).
fn parse_stat(stat: &str) -> Option<Proc> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is the state (stat field 3), so stat field N is fields[N - 3].
    Some(Proc {
        zombie: matches!(*fields.first()?, "Z" | "X"),
        ppid: fields.get(1)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

fn read_proc(pid: Pid) -> Option<Proc> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Every process below this one in the process tree, read from `/proc`.
fn descendants() -> BTreeMap<Pid, Proc> {
    // SAFETY: getpid has no preconditions.
    descendants_of(unsafe { libc::getpid() })
}

/// The process tree of a `run` session without a cgroup, as the daemon holds it: every
/// process below the session's `run` (a child subreaper, so orphans stay below it) that was
/// not there when the session began.
///
/// It holds while `run` lives: once `run` is gone, its orphans belong to another reaper and
/// cannot be told apart (the subreaper containment's known gap).
#[derive(Debug)]
pub struct Subtree {
    root: Pid,
    start: u64,
    /// Descendants (pid, start time) that existed when the session began: never touched.
    before: BTreeSet<(Pid, u64)>,
}

impl Subtree {
    /// The tree below `root`, from now on; `None` if `root` is not alive.
    pub fn adopt(root: Pid) -> Option<Subtree> {
        let p = read_proc(root).filter(|p| !p.zombie)?;
        Some(Subtree {
            root,
            start: p.start,
            before: descendants_of(root)
                .into_iter()
                .map(|(pid, p)| (pid, p.start))
                .collect(),
        })
    }

    /// The pid of the session's `run`.
    pub fn root(&self) -> Pid {
        self.root
    }

    /// The live processes of the session (none once its `run` is gone or its pid reused).
    pub fn pids(&self) -> Vec<Pid> {
        self.procs().into_iter().map(|(pid, _)| pid).collect()
    }

    fn procs(&self) -> Vec<(Pid, u64)> {
        if read_proc(self.root).is_none_or(|p| p.start != self.start || p.zombie) {
            return Vec::new();
        }
        descendants_of(self.root)
            .into_iter()
            .filter(|(pid, p)| !p.zombie && !self.before.contains(&(*pid, p.start)))
            .map(|(pid, p)| (pid, p.start))
            .collect()
    }

    /// Kills every process of the session (rounds of checked `SIGKILL`, so one forking
    /// meanwhile is caught in the next) until none is left or `give_up` passed; returns how
    /// many were killed and how many survive.
    pub fn kill_and_wait(&self, give_up: Duration) -> (usize, usize) {
        let mut killed = BTreeSet::new();
        let until = Instant::now() + give_up;
        loop {
            let left = self.procs();
            if left.is_empty() {
                return (killed.len(), 0);
            }
            if Instant::now() >= until {
                return (killed.len(), left.len());
            }
            for (pid, start) in left {
                if kill_checked(pid, start) {
                    killed.insert((pid, start));
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Every process below `root` in the process tree, read from `/proc`.
fn descendants_of(root: Pid) -> BTreeMap<Pid, Proc> {
    let mut children: BTreeMap<Pid, Vec<(Pid, Proc)>> = BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<Pid>().ok())
            else {
                continue;
            };
            if let Some(p) = read_proc(pid) {
                children.entry(p.ppid).or_default().push((pid, p));
            }
        }
    }
    let mut out = BTreeMap::new();
    let mut todo = vec![root];
    while let Some(parent) = todo.pop() {
        for (pid, p) in children.remove(&parent).unwrap_or_default() {
            out.insert(pid, p);
            todo.push(pid);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_stat_handles_names_with_parens_and_spaces() {
        let stat = "4242 (evil) name) S 17 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 \
                    987654 1000 10 18446744073709551615";
        let p = parse_stat(stat).expect("parses");
        assert_eq!(p.ppid, 17);
        assert!(!p.zombie);
        assert_eq!(p.start, 987654);
        assert!(parse_stat("1 (x) Z 1").is_none());
    }
}
