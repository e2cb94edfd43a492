//! The session's reaper: the agent's process tree ends when `run` does, whichever way `run`
//! ends, also without a cgroup leaf.
//!
//! Without a leaf, `run` holds its agent's tree as a child subreaper, which holds only while
//! `run` lives: killed with SIGKILL, its orphans would go to init and go on writing into the
//! view. So `run` starts the agent below a reaper ([`wrap`]: the hidden `ftsb-fs reap`), a
//! child subreaper of its own between `run` and the agent, which (the [`Watch`] side):
//! - runs the agent, settles what it leaves with the session's `--linger` policy, sends the
//!   [`TreeReport`] to `run` over a pipe and exits with the agent's status;
//! - watches `run` through a pidfd: when `run` ends first, it kills its whole tree and exits.
//!
//! Invariants:
//! - While the reaper lives, every process the agent starts is below it (orphans are
//!   reparented to the nearest subreaper), so [`Supervisor::kill_all`] finds them all.
//! - The agent cannot signal or trace the reaper: it runs in a Landlock domain nested below
//!   the reaper's, scoped for signals (ABI 6), whenever the reaper runs with `no_new_privs`
//!   (every confined session). Should the reaper die anyway, the agent dies with it
//!   (`PR_SET_PDEATHSIG`) and the orphans are `run`'s to settle.
//! - On a terminal, the reaper leaves `run`'s process group (the agent stays in it, in the
//!   foreground), so that a signal to the group (`^C`, `^\`, `kill -- -PGID`) never takes the
//!   reaper down with `run`.
//!
//! Deliberately not done here: the cgroup containment (with a leaf, the daemon empties it when
//! `run` dies, so `run` starts no reaper) and the reaper's command line (`cli::reap`).

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process::Command;
use std::sync::Arc;

use super::tree::{Linger, Supervisor, TreeError, TreeReport};

/// The hidden subcommand that runs the reaper.
pub const SUBCOMMAND: &str = "reap";

/// `run`'s side: the reaper's report, once it has exited.
#[derive(Debug)]
pub struct Reaper {
    report: io::PipeReader,
    /// The reaper's end, until the reaper is spawned (it inherits it).
    writer: Option<io::PipeWriter>,
}

/// A command that runs `argv` below a reaper that watches this process and applies `linger`
/// to what the agent leaves; the [`Reaper`] gives its report once it has exited.
pub fn wrap(argv: &[String], linger: Linger) -> io::Result<(Command, Reaper)> {
    let exe = std::env::current_exe()?;
    let (report, writer) = io::pipe()?;
    let fd = writer.as_raw_fd();
    let linger = match linger {
        Linger::Wait => "wait",
        Linger::Kill => "kill",
    };
    let mut cmd = Command::new(exe);
    cmd.arg(SUBCOMMAND)
        // SAFETY: getpid has no preconditions.
        .arg(format!("--watch={}", unsafe { libc::getpid() }))
        .arg(format!("--report={fd}"))
        .arg(format!("--linger={linger}"))
        .arg("--")
        .args(argv);
    // SAFETY: fcntl is async-signal-safe; the reaper inherits its end of the pipe.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let writer = Some(writer);
    Ok((cmd, Reaper { report, writer }))
}

impl Reaper {
    /// The reaper's report; `None` when it was killed before it could send one. Call it once
    /// the reaper has exited.
    pub fn report(mut self) -> Option<TreeReport> {
        drop(self.writer.take());
        let mut text = String::new();
        self.report.read_to_string(&mut text).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// The reaper's side, in the process `ftsb-fs reap` runs.
#[derive(Debug)]
pub struct Watch {
    supervisor: Arc<Supervisor>,
    report: std::fs::File,
    /// The process group the agent joins (`run`'s, on a terminal), if the reaper left it.
    group: Option<libc::pid_t>,
    /// The nested ruleset the agent restricts itself with, when there is one.
    scope: Option<OwnedFd>,
}

impl Watch {
    /// Becomes the subreaper of the agent's tree and starts watching `run` (`watch`, this
    /// process's parent); `report` is the fd [`wrap`] passed. Fails when `run` is already gone.
    pub fn start(watch: libc::pid_t, report: RawFd) -> io::Result<Watch> {
        // SAFETY: fcntl on an fd number; fails with EBADF if it is not open.
        if unsafe { libc::fcntl(report, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the fd is open (checked above) and owned by nothing else in this process.
        let report = unsafe { std::fs::File::from_raw_fd(report) };
        // SAFETY: pidfd_open takes integers and returns a new fd or -1.
        let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, watch, 0 as libc::c_uint) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pidfd_open returned a new fd that nothing else owns.
        let pidfd = unsafe { OwnedFd::from_raw_fd(raw as RawFd) };
        // Checked after the pidfd is open: a pid reused after `run` died is not taken for it,
        // since the parent is then no longer `watch`.
        // SAFETY: getppid has no preconditions.
        if unsafe { libc::getppid() } != watch {
            return Err(io::Error::other("the session's run is gone"));
        }
        let supervisor =
            Arc::new(Supervisor::start().map_err(|TreeError::Subreaper { source }| source)?);
        let held = Arc::clone(&supervisor);
        std::thread::Builder::new()
            .name("ftsb-fs-reaper".into())
            .spawn(move || {
                wait_readable(&pidfd);
                // `run` is gone: nothing may outlive it.
                held.kill_all();
                // SAFETY: _exit ends the process at once, as the agent's parent.
                unsafe { libc::_exit(128 + libc::SIGKILL) };
            })?;
        Ok(Watch {
            supervisor,
            report,
            group: leave_group(watch),
            scope: scope_ruleset(),
        })
    }

    /// Prepares the agent's command: it dies with the reaper, joins `run`'s process group
    /// when the reaper left it, and cannot signal the reaper.
    pub fn prepare(&self, cmd: &mut Command) {
        let group = self.group.unwrap_or(0);
        let scope = self.scope.as_ref().map_or(-1, |fd| fd.as_raw_fd());
        // SAFETY: prctl, setpgid and landlock_restrict_self are raw syscalls taking integers,
        // async-signal-safe.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(cmd, move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0
                    || (group > 0 && libc::setpgid(0, group) != 0)
                    || (scope >= 0
                        && libc::syscall(libc::SYS_landlock_restrict_self, scope, 0) != 0)
                {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }

    /// Settles what the agent left with `linger` and sends the report to `run`.
    pub fn settle(self, linger: Linger) -> io::Result<TreeReport> {
        let report = self.supervisor.settle(linger);
        let mut out = self.report;
        out.write_all(serde_json::to_string(&report)?.as_bytes())?;
        Ok(report)
    }
}

/// Blocks until `fd` (a pidfd) is readable: its process has ended.
fn wait_readable(fd: &OwnedFd) {
    loop {
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, -1) };
        if n > 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return;
        }
    }
}

/// On a terminal (the reaper shares `run`'s process group), moves the reaper into a group of
/// its own and returns `run`'s, for the agent to join.
fn leave_group(run: libc::pid_t) -> Option<libc::pid_t> {
    // SAFETY: getpgid and setpgid take integers only.
    unsafe {
        let group = libc::getpgid(run);
        if group <= 0 || group != libc::getpgid(0) || libc::setpgid(0, 0) != 0 {
            return None;
        }
        Some(group)
    }
}

/// `struct landlock_ruleset_attr` (ABI 6: with `scoped`).
#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

/// `LANDLOCK_SCOPE_SIGNAL`.
const SCOPE_SIGNAL: u64 = 1 << 1;

/// A ruleset that only scopes signals, when this process runs with `no_new_privs` (so the
/// agent can restrict itself with it) and the kernel has ABI 6; else `None`.
fn scope_ruleset() -> Option<OwnedFd> {
    // SAFETY: prctl(PR_GET_NO_NEW_PRIVS) takes integers only.
    if unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) } != 1 {
        return None;
    }
    let attr = RulesetAttr {
        handled_access_fs: 0,
        handled_access_net: 0,
        scoped: SCOPE_SIGNAL,
    };
    // SAFETY: the kernel reads `size_of::<RulesetAttr>()` bytes of `attr`, which lives across
    // the call, and returns a new fd or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &attr as *const RulesetAttr,
            size_of::<RulesetAttr>(),
            0u32,
        )
    };
    // SAFETY: a new fd that nothing else owns.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}
