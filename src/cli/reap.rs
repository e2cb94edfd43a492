//! `ftsb-fs reap` (hidden): the reaper `run` starts its agent below, and `exec` its command,
//! when there is no cgroup leaf (`confine::reaper`). Not for users: the parent passes every
//! argument.

use std::ffi::OsString;
use std::process::Command;

use anyhow::Context;

use super::exec::run_forwarding_signals;
use super::run::exit_code;
use crate::confine::reaper::Watch;
use crate::confine::tree::Linger;

/// `ftsb-fs reap`.
#[derive(Debug, clap::Args)]
pub struct ReapArgs {
    /// The `run` or `exec` that started this process, its parent: when it ends, the command's
    /// tree is killed.
    #[arg(long, value_name = "PID")]
    pub watch: libc::pid_t,
    /// The socket the parent releases the command on and the report goes back over.
    #[arg(long, value_name = "FD")]
    pub link: i32,
    /// The parent's connection to the daemon, held open until nothing of the command is left.
    #[arg(long, value_name = "FD")]
    pub hold: Option<i32>,
    /// What to do with what the command leaves running.
    #[arg(long, value_name = "MODE")]
    pub linger: Linger,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<OsString>,
}

pub fn reap(a: ReapArgs) -> anyhow::Result<i32> {
    let mut watch = Watch::start(a.watch, a.link, a.hold).context("start the reaper")?;
    if watch.released().is_err() {
        // The parent gave up before the command's transaction began (and said why): the
        // command must not run.
        return Ok(125);
    }
    let mut cmd = Command::new(&a.command[0]);
    cmd.args(&a.command[1..]);
    watch.prepare(&mut cmd);
    let outcome = run_forwarding_signals(&mut cmd);
    if let Err(e) = &outcome {
        eprintln!("error: cannot run {}: {e}", a.command[0].to_string_lossy());
    }
    watch
        .settle(a.linger)
        .context("report to the reaper's parent")?;
    if let Ok(status) = &outcome
        && let Some(signal) = std::os::unix::process::ExitStatusExt::signal(status)
    {
        die_by(signal);
    }
    Ok(exit_code(&outcome))
}

/// Ends this process by `signal`, as the command ended, so that the parent sees the same
/// status (without a core dump of the reaper); returns if the signal does not end it.
fn die_by(signal: libc::c_int) {
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit reads the struct; signal, sigprocmask and raise take integers or
    // point at a set on the stack.
    unsafe {
        libc::setrlimit(libc::RLIMIT_CORE, &no_core);
        libc::signal(signal, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(signal);
    }
}
