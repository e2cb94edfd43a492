//! `ftsb-fs reap` (hidden): the reaper `run` starts its agent below when it has no cgroup
//! leaf (`confine::reaper`). Not for users: `run` passes every argument.

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
    /// The session's `run`, this process's parent: when it ends, the agent's tree is killed.
    #[arg(long, value_name = "PID")]
    pub watch: libc::pid_t,
    /// The fd the report goes to.
    #[arg(long, value_name = "FD")]
    pub report: i32,
    /// What to do with what the agent leaves running.
    #[arg(long, value_name = "MODE")]
    pub linger: Linger,
    /// The agent command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<OsString>,
}

pub fn reap(a: ReapArgs) -> anyhow::Result<i32> {
    let watch = Watch::start(a.watch, a.report).context("start the session's reaper")?;
    let mut cmd = Command::new(&a.command[0]);
    cmd.args(&a.command[1..]);
    watch.prepare(&mut cmd);
    let outcome = run_forwarding_signals(&mut cmd);
    if let Err(e) = &outcome {
        eprintln!("error: cannot run {}: {e}", a.command[0].to_string_lossy());
    }
    watch
        .settle(a.linger)
        .context("report to the session's run")?;
    Ok(exit_code(&outcome))
}
