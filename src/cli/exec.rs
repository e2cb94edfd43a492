//! `exec`: one command as one transaction.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicI32, Ordering};

use anyhow::{Context, bail};
use serde_json::json;

use ftsb_gate::quote_argv;

use super::{call, call_on, connect, print_json, resolve_workspace};
use crate::confine::reaper;
use crate::confine::tree::{Linger, Supervisor};
use crate::confine::{self, Net, Spec};
use crate::control::{Request, reply};

/// `ftsb-fs exec`.
#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// The workspace (default: the mount holding the current directory).
    pub workspace: Option<PathBuf>,
    /// A policy file extending the built-in exec policy.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Keep the command's changes even if it fails.
    #[arg(long)]
    pub keep_on_failure: bool,
    /// Refuse to run when the kernel cannot enforce the confinement.
    #[arg(long)]
    pub require_confinement: bool,
    /// Network access: `allow`, `deny`, or `allow-ports:PORT[,PORT...]` (TCP connect to those
    /// ports only). One word, so the workspace after it is never taken for a port. Default:
    /// the configuration's `net`, else `allow`.
    #[arg(long, value_name = "MODE", value_parser = parse_net)]
    pub net: Option<Net>,
    /// Pass this environment variable to the command too (repeatable); the only way to pass
    /// one that looks like a secret or an agent socket (`SSH_AUTH_SOCK`).
    #[arg(long = "env", value_name = "NAME")]
    pub env: Vec<String>,
    /// Pass every environment variable except those that look like secrets or agent sockets.
    #[arg(long)]
    pub env_all: bool,
    /// What to do with processes the command leaves running when it ends: `kill` (after a
    /// short grace) or `wait` for them. Either way none outlives the transaction. Default:
    /// the configuration's `linger`, else `kill`.
    #[arg(long, value_name = "MODE")]
    pub linger: Option<Linger>,
    /// Run without Landlock confinement (changes still roll back on failure).
    #[arg(long, conflicts_with = "require_confinement")]
    pub no_confine: bool,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// Parses `--net`: `allow`, `deny` or `allow-ports:PORT[,PORT...]`.
fn parse_net(word: &str) -> Result<Net, String> {
    const USAGE: &str = "--net takes allow, deny or allow-ports:PORT[,PORT...]";
    match word.split_once(':') {
        None if word == "allow" => Ok(Net::Allow),
        None if word == "deny" => Ok(Net::Deny),
        Some(("allow-ports", ports)) if !ports.is_empty() => ports
            .split(',')
            .map(|p| match p.parse::<u16>() {
                Ok(port) if port > 0 => Ok(port),
                _ => Err(format!("--net allow-ports: '{p}' is not a port")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Net::AllowPorts),
        _ => Err(format!("'{word}': {USAGE}")),
    }
}

/// The directory the command runs in: the caller's directory inside the view, or the view.
pub(super) fn command_cwd(view: &Path, workspace: &Path) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| view.to_owned());
    if cwd.starts_with(view) {
        return cwd;
    }
    match cwd.strip_prefix(workspace) {
        Ok(rel) => view.join(rel),
        Err(_) => view.to_owned(),
    }
}

pub fn exec(a: ExecArgs, json: bool) -> anyhow::Result<i32> {
    let ws = resolve_workspace(a.workspace.as_deref())?;
    let line = quote_argv(&a.command);
    let reply::Info { view, store, .. } = call(&ws, &Request::Info)?;
    let cwd = command_cwd(&view, &ws);
    // The command runs in the view: that is the workspace the gate must protect.
    let config = super::config::Config::load(&ws, Some(&store))?;
    let policy = config.policy_or(a.policy.as_deref());
    // A flag beats the configuration, which beats the built-in default.
    let net = config
        .net
        .or_flag("net", a.net.clone(), parse_net)?
        .unwrap_or(Net::Allow);
    let linger = config
        .linger
        .or_flag("linger", a.linger, str::parse)?
        .unwrap_or_default();
    let verdict = super::gate::check_exec(&a.command, policy.as_deref(), &cwd, &view)?;
    if let Some(denied) = verdict {
        super::history::record_refusal(&ws, &line, &denied);
        if json {
            print_json(&json!({ "ran": false, "verdict": denied }))?;
        } else {
            eprintln!(
                "ftsb-fs: refused by the gate: {}",
                denied["reason"].as_str().unwrap_or("denied")
            );
        }
        return Ok(if denied["decision"] == "ask" { 4 } else { 3 });
    }
    // A killed exec cannot remove its TMPDIR: the next one removes those whose owner is gone.
    let tmp_base = std::env::temp_dir();
    confine::scratch::sweep(&tmp_base);
    let tmp = confine::scratch::create(&tmp_base).context("create the command's TMPDIR")?;
    let mut client = connect(&ws)?;
    let mut cmd = Command::new(&a.command[0]);
    cmd.args(&a.command[1..]);
    // First: the child joins its cgroup leaf before the confinement hooks forbid it.
    let supervisor = Supervisor::for_command(&mut cmd)?;
    // Without a leaf, a reaper between `exec` and the command kills the command's tree when
    // `exec` dies, and holds the transaction's connection until then: the daemon rolls back
    // only once nothing of the command is left.
    let mut reaper = if supervisor.fallback().is_some() {
        let (wrapped, reaper) = reaper::wrap(&a.command, linger, Some(client.socket()))
            .context("start the command's reaper")?;
        cmd = wrapped;
        Some(reaper)
    } else {
        None
    };
    cmd.current_dir(&cwd);
    relay_terminal_stdin(&mut cmd).context("relay the terminal to the command")?;
    // Before confine_command, which sets TMPDIR on the cleared environment.
    let env = confine::env::Scrub {
        keep: a.env.clone(),
        pass_all: a.env_all,
    }
    .apply(&mut cmd);
    // The command dies with us, so a killed `exec` never leaves it writing after the daemon
    // rolled back (a reaper kills the command's whole tree instead, and must outlive `exec`).
    if reaper.is_none() {
        // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and takes integers only.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
    }
    let confinement = if a.no_confine {
        None
    } else {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let mut spec = Spec::for_view(&view, tmp.path(), home.as_deref(), &[store]);
        spec.net = net;
        if reaper.is_some()
            && let Ok(exe) = std::env::current_exe()
        {
            // The reaper is this binary, confined like the command.
            spec.add_readable(exe);
        }
        Some(confine::confine_command(
            &mut cmd,
            &spec,
            a.require_confinement,
        )?)
    };
    if let Some(r) = &confinement {
        for w in &r.warnings {
            eprintln!("ftsb-fs: warning: {w}");
        }
    }
    // The reaper starts first, so that the daemon knows it as the root of the command's tree
    // (it stays so when `exec` dies); it runs the command once the transaction has begun.
    let reaping = match &reaper {
        Some(_) => Some(cmd.spawn().context("start the command's reaper")?),
        None => None,
    };
    let root = reaping.as_ref().map_or(std::process::id(), Child::id);
    let cgroup = supervisor.leaf().map(|l| l.path().to_owned());
    let begun = call_on::<reply::ExecBegun>(
        &mut client,
        &Request::ExecBegin {
            command: line.clone(),
            cgroup,
            pid: i32::try_from(root).ok(),
        },
    );
    // On an error, dropping the supervisor removes the (empty) leaf, and dropping the reaper
    // ends it without running the command.
    let checkpoint = begun?.checkpoint;
    let outcome = match (reaping, &mut reaper) {
        (Some(child), Some(r)) => r.release().and_then(|()| forward_signals(child)),
        _ => run_forwarding_signals(&mut cmd),
    };
    // Nothing the command started may change the view once its transaction has ended.
    let mut processes = supervisor.settle(linger);
    // The reaper settled the command's tree; `exec` only what a killed reaper left.
    if let Some(report) = reaper.and_then(reaper::Reaper::report) {
        processes = report;
    }
    let (code, signal) = match &outcome {
        Ok(s) => (s.code(), std::os::unix::process::ExitStatusExt::signal(s)),
        Err(_) => (None, None),
    };
    let failed = !outcome.as_ref().is_ok_and(ExitStatus::success);
    let undo = failed && !a.keep_on_failure;
    let ended = call_on::<reply::ExecEnded>(
        &mut client,
        &Request::ExecEnd {
            exit_code: code,
            rollback: undo,
            denials: confine::take_refused(),
        },
    );
    supervisor.remove_leaf();
    let ended = ended?;
    let conflicts = ended.conflicts;
    let spawn_error = outcome.as_ref().err().map(ToString::to_string);
    if json {
        print_json(&json!({
            "ran": spawn_error.is_none(),
            "command": line,
            "checkpoint": checkpoint,
            "exit_code": code,
            "signal": signal,
            "rolled_back": undo,
            "rollback_scope": ended.scope,
            "reverted": ended.reverted,
            "conflicts": conflicts,
            "error": spawn_error,
            "confinement": confinement,
            "env": env,
            "processes": processes,
        }))?;
    } else if processes.killed > 0 || processes.survivors > 0 {
        eprintln!(
            "ftsb-fs: killed {} process(es) the command left running{}",
            processes.killed,
            if processes.survivors > 0 {
                format!("; {} could not be killed", processes.survivors)
            } else {
                String::new()
            }
        );
    }
    if !json && undo {
        let why = match (&spawn_error, code, signal) {
            (Some(e), ..) => format!("could not start: {e}"),
            (None, Some(c), _) => format!("exit {c}"),
            (None, None, Some(s)) => format!("signal {s}"),
            _ => "failed".into(),
        };
        eprintln!(
            "ftsb-fs: command failed ({why}); its changes were rolled back to checkpoint {checkpoint}"
        );
        if !conflicts.is_empty() {
            eprintln!(
                "ftsb-fs: kept {} path(s) that another command or the user also changed since: {}",
                conflicts.len(),
                conflicts.join(", ")
            );
        }
    }
    if let Some(e) = spawn_error {
        bail!("cannot run {}: {e}", a.command[0]);
    }
    Ok(code.unwrap_or_else(|| 128 + signal.unwrap_or(0)))
}

/// If our stdin is a terminal, gives the command a pipe instead and copies what is typed into
/// it: the command never holds an fd of the terminal to read from, so it cannot use it for
/// ioctls or keep reading it after it ends. Its stdout and stderr stay as they are (a seccomp
/// filter denies the dangerous terminal ioctls on them).
fn relay_terminal_stdin(cmd: &mut Command) -> std::io::Result<()> {
    // SAFETY: isatty takes an fd and reads nothing of ours.
    if unsafe { libc::isatty(0) } != 1 {
        return Ok(());
    }
    // SAFETY: tcgetpgrp and getpgrp take no pointers.
    let foreground = unsafe { libc::tcgetpgrp(0) == libc::getpgrp() };
    if !foreground {
        // A background job reading its terminal is stopped (SIGTTIN): the relay would stop
        // exec even when the command never reads. The command reads nothing instead.
        cmd.stdin(std::process::Stdio::null());
        return Ok(());
    }
    // Both ends are close-on-exec: only the command's stdin (a dup) survives its execve.
    let (reader, mut writer) = std::io::pipe()?;
    cmd.stdin(reader);
    std::thread::spawn(move || {
        // Ends at end of input (^D) or when the command has closed its end.
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut writer);
    });
    Ok(())
}

/// Runs `cmd`, passing SIGINT, SIGTERM and SIGHUP on to it, and returns how it ended.
pub(super) fn run_forwarding_signals(cmd: &mut Command) -> std::io::Result<ExitStatus> {
    forward_signals(cmd.spawn()?)
}

/// The child signals are passed on to (0: none).
static CHILD: AtomicI32 = AtomicI32::new(0);

/// Waits for `child`, passing SIGINT, SIGTERM and SIGHUP on to it, and returns how it ended.
fn forward_signals(mut child: Child) -> std::io::Result<ExitStatus> {
    extern "C" fn forward(sig: libc::c_int) {
        let pid = CHILD.load(Ordering::SeqCst);
        if pid > 0 {
            // SAFETY: kill is async-signal-safe.
            unsafe { libc::kill(pid, sig) };
        } else {
            // The command has ended: an interrupt stops waiting for what it left running.
            crate::confine::tree::interrupt();
        }
    }
    CHILD.store(child.id() as i32, Ordering::SeqCst);
    let handler: extern "C" fn(libc::c_int) = forward;
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: installing a handler that only calls kill(2) with an atomic pid.
        unsafe { libc::signal(sig, handler as libc::sighandler_t) };
    }
    let status = child.wait();
    CHILD.store(0, Ordering::SeqCst);
    status
}
