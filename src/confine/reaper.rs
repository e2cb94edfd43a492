//! The reaper: a command's process tree ends when the `run` or `exec` that started it does,
//! whichever way it ends, also without a cgroup leaf.
//!
//! Without a leaf, `run` (or `exec`) holds its command's tree as a child subreaper, which
//! holds only while it lives: killed with SIGKILL, its orphans would go to init and go on
//! writing into the view. So it starts the command (the agent, for `run`) below a reaper
//! ([`wrap`]: the hidden `ftsb-fs reap`), a child subreaper of its own between it and the
//! command, which (the [`Watch`] side):
//! - runs the command once its parent releases it (`exec` first tells the daemon the reaper's
//!   pid, the root of the command's tree), settles what it leaves with the `--linger` policy, sends the
//!   [`TreeReport`] to its parent over a socket pair and exits as the command did (with its status,
//!   or by its signal);
//! - watches its parent through a pidfd: when the parent ends first, it kills its whole tree
//!   and exits;
//! - holds the parent's connection to the daemon (`exec`'s, which has the command's
//!   transaction) until then: the daemon sees the connection close, and rolls back, only
//!   once nothing of the command is left to write into the view.
//!
//! Invariants:
//! - While the reaper lives, every process the command starts is below it (orphans are
//!   reparented to the nearest subreaper), so [`Supervisor::kill_all`] finds them all.
//! - The held connection never reaches the command (close-on-exec in the reaper).
//! - The command cannot signal or trace the reaper: it runs in a Landlock domain nested below
//!   the reaper's, scoped for signals (ABI 6), whenever the reaper runs with `no_new_privs`
//!   (every confined command). Should the reaper die anyway, the command dies with it
//!   (`PR_SET_PDEATHSIG`) and the orphans are the parent's to settle.
//! - On a terminal, the reaper leaves its parent's process group (the agent stays in it, in
//!   the foreground), so that a signal to the group (`^C`, `^\`, `kill -- -PGID`) never takes
//!   the reaper down with `run`.
//!
//! Deliberately not done here: the cgroup containment (with a leaf, the daemon empties it when
//! its owner dies, so no reaper is started) and the reaper's command line (`cli::reap`).

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::sync::Arc;

use super::tree::{Linger, Supervisor, TreeError, TreeReport};

/// The hidden subcommand that runs the reaper.
pub const SUBCOMMAND: &str = "reap";

/// The parent's side (`run` or `exec`): the command's release, and the reaper's report once
/// it has exited.
#[derive(Debug)]
pub struct Reaper {
    link: UnixStream,
    /// The reaper's end, until the reaper is spawned (it inherits it).
    theirs: Option<UnixStream>,
}

/// A command that runs `argv` below a reaper that watches this process and applies `linger`
/// to what the command leaves; the reaper keeps `hold` (a connection to the daemon) open until
/// nothing of the command is left. The [`Reaper`] gives its report once it has exited.
pub fn wrap(
    argv: &[String],
    linger: Linger,
    hold: Option<BorrowedFd<'_>>,
) -> io::Result<(Command, Reaper)> {
    let exe = std::env::current_exe()?;
    let (link, theirs) = UnixStream::pair()?;
    let fd = theirs.as_raw_fd();
    let held = hold.map_or(-1, |h| h.as_raw_fd());
    let linger = match linger {
        Linger::Wait => "wait",
        Linger::Kill => "kill",
    };
    let mut cmd = Command::new(exe);
    cmd.arg(SUBCOMMAND)
        // SAFETY: getpid has no preconditions.
        .arg(format!("--watch={}", unsafe { libc::getpid() }))
        .arg(format!("--link={fd}"))
        .arg(format!("--linger={linger}"));
    if held >= 0 {
        cmd.arg(format!("--hold={held}"));
    }
    cmd.arg("--").args(argv);
    // SAFETY: fcntl is async-signal-safe; the reaper inherits its end of the link and the
    // held connection (which `hold` keeps open until the spawn).
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            if libc::fcntl(fd, libc::F_SETFD, 0) != 0
                || (held >= 0 && libc::fcntl(held, libc::F_SETFD, 0) != 0)
            {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let theirs = Some(theirs);
    Ok((cmd, Reaper { link, theirs }))
}

impl Reaper {
    /// Lets the reaper run the command (it waits for this, before or after its spawn).
    pub fn release(&mut self) -> io::Result<()> {
        self.link.write_all(&[1])
    }

    /// The reaper's report; `None` when it was killed before it could send one. Call it once
    /// the reaper has exited.
    pub fn report(mut self) -> Option<TreeReport> {
        drop(self.theirs.take());
        let mut text = String::new();
        self.link.read_to_string(&mut text).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// The reaper's side, in the process `ftsb-fs reap` runs.
#[derive(Debug)]
pub struct Watch {
    supervisor: Arc<Supervisor>,
    link: UnixStream,
    /// The process group the agent joins (`run`'s, on a terminal), if the reaper left it.
    group: Option<libc::pid_t>,
    /// The nested ruleset the command restricts itself with, when there is one.
    scope: Option<OwnedFd>,
    /// The parent's connection to the daemon, open until nothing of the command is left.
    _hold: Option<OwnedFd>,
}

impl Watch {
    /// Becomes the subreaper of the command's tree and starts watching its parent (`watch`,
    /// `run` or `exec`); `link` and `hold` are the fds [`wrap`] passed. Fails when the parent
    /// is already gone.
    pub fn start(watch: libc::pid_t, link: RawFd, hold: Option<RawFd>) -> io::Result<Watch> {
        let link = UnixStream::from(inherited(link)?);
        let hold = hold.map(inherited).transpose()?;
        // SAFETY: pidfd_open takes integers and returns a new fd or -1.
        let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, watch, 0 as libc::c_uint) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pidfd_open returned a new fd that nothing else owns.
        let pidfd = unsafe { OwnedFd::from_raw_fd(raw as RawFd) };
        // Checked after the pidfd is open: a pid reused after the parent died is not taken for it,
        // since the parent is then no longer `watch`.
        // SAFETY: getppid has no preconditions.
        if unsafe { libc::getppid() } != watch {
            return Err(io::Error::other("the reaper's parent is gone"));
        }
        let supervisor =
            Arc::new(Supervisor::start().map_err(|TreeError::Subreaper { source }| source)?);
        let held = Arc::clone(&supervisor);
        std::thread::Builder::new()
            .name("ftsb-fs-reaper".into())
            .spawn(move || {
                wait_readable(&pidfd);
                // The parent is gone: nothing may outlive it. Exiting closes the held
                // connection: the daemon rolls back only now.
                held.kill_all();
                // SAFETY: _exit ends the process at once, as the command's parent.
                unsafe { libc::_exit(128 + libc::SIGKILL) };
            })?;
        Ok(Watch {
            supervisor,
            link,
            group: leave_group(watch),
            scope: scope_ruleset(),
            _hold: hold,
        })
    }

    /// Waits until the parent releases the command ([`Reaper::release`]); fails when it never
    /// will (it closed the link: the command must not run).
    pub fn released(&mut self) -> io::Result<()> {
        let mut go = [0u8; 1];
        self.link.read_exact(&mut go)
    }

    /// Prepares the command: it dies with the reaper, joins `run`'s process group when the
    /// reaper left it, and cannot signal the reaper.
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

    /// Settles what the command left with `linger` and sends the report to the parent.
    pub fn settle(self, linger: Linger) -> io::Result<TreeReport> {
        let report = self.supervisor.settle(linger);
        let mut out = self.link;
        out.write_all(serde_json::to_string(&report)?.as_bytes())?;
        Ok(report)
    }
}

/// The fd `fd` the parent passed, made close-on-exec so that the command does not inherit it.
fn inherited(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl on an fd number; fails with EBADF if it is not open.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the fd is open (checked above) and owned by nothing else in this process.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
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
/// command can restrict itself with it) and the kernel has ABI 6; else `None`.
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
