//! `run`: a whole agent session in the view.
//!
//! The session mounts the workspace if needed, puts a checkpoint at its start, runs the agent
//! confined by its harness's profile (`confine::Profile`) with `FTSB_FS_VIEW`,
//! `FTSB_FS_WORKSPACE` and `FTSB_FS_SESSION` set, serves the agent's `ftsb-fs exec` calls
//! through a session socket that refuses commit, abort and rollback (`control::proxy`), and
//! ends with a summary of this session only: what changed since its checkpoint, the commands
//! run through `exec`, failed and rolled-back steps. The agent's exit status is `run`'s.

use std::io::{BufRead, IsTerminal, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use anyhow::{Context, bail};
use serde_json::json;

use ftsb_gate::quote_argv;

use super::exec::{command_cwd, run_forwarding_signals};
use super::{call, call_on, connect, print_json};
use crate::confine::reaper;
use crate::confine::tree::{Linger, Supervisor};
use crate::confine::{self, AgentSetup, Harness};
use crate::control::proxy::{self, CONTROL_ENV, WORKSPACE_ENV};
use crate::control::{Request, UnmountMode, reply};

/// The view the agent works in.
const VIEW_ENV: &str = "FTSB_FS_VIEW";
/// The session's id: the checkpoint at its start.
const SESSION_ENV: &str = "FTSB_FS_SESSION";

/// `ftsb-fs run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The workspace; mounted in place first if it is not mounted yet.
    pub workspace: PathBuf,
    /// Commit everything if the agent exits 0, unless the session changed the workspace's
    /// `.ftsb-fs.toml` or the policy it names (then the changes are kept for review).
    #[arg(long, conflicts_with = "abort")]
    pub commit_on_success: bool,
    /// Discard everything when the agent exits.
    #[arg(long)]
    pub abort: bool,
    /// The agent's harness profile: claude, codex, gemini, cursor or generic (default: from
    /// the command's name).
    #[arg(long, value_name = "NAME")]
    pub harness: Option<String>,
    /// Let the agent write PATH too (repeatable).
    #[arg(long, value_name = "PATH")]
    pub allow_write: Vec<PathBuf>,
    /// Refuse to start the agent when the kernel cannot enforce its confinement.
    #[arg(long, conflicts_with = "no_confine")]
    pub require_confinement: bool,
    /// Run the agent without Landlock confinement.
    #[arg(long)]
    pub no_confine: bool,
    /// Pass this environment variable to the agent too (repeatable); its harness's key
    /// variables pass without it.
    #[arg(long = "env", value_name = "NAME")]
    pub env: Vec<String>,
    /// Pass every environment variable except those that look like secrets or agent sockets.
    #[arg(long)]
    pub env_all: bool,
    /// Let the agent reach services of this host (on loopback or the host's own addresses)
    /// that the session did not start: a local database, a Docker API on TCP, a dev server.
    #[arg(long)]
    pub allow_host_services: bool,
    /// What to do with processes the agent leaves running when it exits: `kill` (default,
    /// after a short grace) or `wait` for them. Either way none outlives the session.
    #[arg(long, value_name = "MODE", default_value = "kill")]
    pub linger: Linger,
    /// The agent command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// How the session ended for the user's changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Commit,
    Abort,
    Keep,
}

pub fn run(a: RunArgs, json: bool) -> anyhow::Result<i32> {
    let harness = match &a.harness {
        None => Harness::detect(&a.command[0]),
        Some(name) => Harness::from_name(name).with_context(|| {
            let names: Vec<_> = Harness::ALL.iter().map(|h| h.name()).collect();
            format!("unknown harness '{name}' (known: {})", names.join(", "))
        })?,
    };
    let ws = super::absolute(&a.workspace)?;
    let mounted_here = crate::control::Client::connect(&ws).is_err();
    if mounted_here {
        // A child `mount`, with its report on our stderr: stdout is for `--json` only.
        let exe = std::env::current_exe().context("locate the ftsb-fs binary")?;
        let status = Command::new(exe)
            .arg("mount")
            .arg(&ws)
            .stdout(std::io::stderr())
            .status()
            .context("start ftsb-fs mount")?;
        if !status.success() {
            bail!("cannot mount {} ({status})", ws.display());
        }
    }
    let reply::Info { view, store, .. } = call(&ws, &Request::Info)?;
    let line = quote_argv(&a.command);
    let start_ns = crate::daemon::audit::now_ns();
    let reply::Checkpoint { checkpoint: start } = call(
        &ws,
        &Request::Checkpoint {
            message: format!("run start: {line}"),
        },
    )?;

    let tmp = tempfile::Builder::new()
        .prefix("ftsb-fs-run-")
        .tempdir()
        .context("create the agent's TMPDIR")?;
    let session_dir = tempfile::Builder::new()
        .prefix("ftsb-fs-session-")
        .tempdir()
        .context("create the session socket's directory")?;
    let socket = session_dir.path().join("control.sock");
    let listener = UnixListener::bind(&socket)
        .with_context(|| format!("bind the session socket {}", socket.display()))?;
    proxy::spawn(listener, ws.clone()).context("serve the session socket")?;

    let mut cmd = Command::new(&a.command[0]);
    cmd.args(&a.command[1..]);
    // First: the agent joins its cgroup leaf before the confinement hooks forbid it.
    let supervisor = Supervisor::for_command(&mut cmd)?;
    // The daemon learns the leaf (or, without one, that the agent's tree is below this
    // process) on a connection held for the whole session: if `run` dies, even by SIGKILL,
    // the daemon empties the leaf; it also empties the session before any commit, abort or
    // unmount, so nothing the agent started outlives the transaction it worked in. Without a
    // leaf, a reaper between `run` and the agent kills the agent's tree when `run` dies.
    let reaper = if let Some(why) = supervisor.fallback() {
        eprintln!(
            "ftsb-fs: warning: containment: subreaper only ({why}): a reaper ends the agent's processes with run"
        );
        let (wrapped, mut reaper) =
            reaper::wrap(&a.command, a.linger, None).context("start the session's reaper")?;
        // The session is registered below, before the spawn: nothing to wait for.
        reaper.release().context("start the session's reaper")?;
        cmd = wrapped;
        Some(reaper)
    } else {
        None
    };
    cmd.current_dir(command_cwd(&view, &ws));
    let mut session = connect(&ws)?;
    call_on::<reply::RunBegun>(
        &mut session,
        &Request::RunBegin {
            cgroup: supervisor.leaf().map(|l| l.path().to_owned()),
            command: line.clone(),
        },
    )?;
    // First, since it clears what was set before: the allow list, the harness's own key
    // variables and what `--env` names.
    let profile = harness.profile();
    let env = confine::env::Scrub {
        keep: profile
            .keys
            .iter()
            .map(|k| (*k).to_string())
            .chain(a.env.iter().cloned())
            .collect(),
        pass_all: a.env_all,
    }
    .apply(&mut cmd);
    cmd.env(VIEW_ENV, &view)
        .env(WORKSPACE_ENV, &ws)
        .env(SESSION_ENV, start.to_string())
        .env(CONTROL_ENV, &socket);
    let confinement = if a.no_confine {
        None
    } else {
        let setup = AgentSetup {
            view: view.clone(),
            tmpdir: tmp.path().to_path_buf(),
            home: std::env::var_os("HOME").map(PathBuf::from),
            deny_roots: vec![store.clone()],
            extra_writable: a.allow_write.iter().map(|p| absolute_or(p)).collect(),
            executables: executables(&a.command[0]),
            extra_readable: vec![session_dir.path().to_path_buf()],
            keep_terminal: interactive(),
        };
        let mut spec = profile.spec(&setup);
        spec.host_services = a.allow_host_services;
        // The agent's `ftsb-fs exec` calls connect to the session socket.
        spec.sockets.push(session_dir.path().to_path_buf());
        // The agent's hooks start `exec`, which reads the workspace configuration `mount`
        // pinned in the store, and the policy it names: readable, one file each, never the
        // store itself.
        for pinned in super::config::pinned_files(&store) {
            spec.add_readable_file(&pinned);
        }
        if let Some(policy) = super::config::Config::load(&ws, Some(&store))?
            .policy
            .value
            .filter(|p| !p.starts_with(&store) && p.exists())
        {
            spec.add_readable(policy);
        }
        let report = confine::confine_command(&mut cmd, &spec, a.require_confinement)?;
        for w in &report.warnings {
            eprintln!("ftsb-fs: warning: {w}");
        }
        Some(report)
    };

    // If `run` itself is killed, the agent is too, rather than going on changing the view
    // unwatched (a reaper kills its whole tree instead, and must outlive `run` to do so).
    if reaper.is_none() {
        // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and takes integers only.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
    }
    let outcome = run_forwarding_signals(&mut cmd);
    // Nothing the agent started may go on changing the view once the session ends.
    let mut processes = supervisor.settle(a.linger);
    // The reaper settled the agent's tree; `run` only what a killed reaper left.
    if let Some(report) = reaper.and_then(reaper::Reaper::report) {
        processes = report;
    }
    supervisor.remove_leaf();
    let code = exit_code(&outcome);
    if let Err(e) = &outcome {
        eprintln!("error: cannot run {}: {e}", a.command[0]);
    }
    let summary = summarize(&ws, start, start_ns)?;
    let mut shown = false;
    let decision = if a.abort {
        Decision::Abort
    } else if a.commit_on_success && code == 0 {
        // The agent may have changed the workspace's own configuration or policy, which would
        // loosen every later session once published: that needs a human.
        let guarded = super::config::workspace_files(&ws, &store);
        let touched: Vec<&String> = summary
            .added
            .iter()
            .chain(&summary.modified)
            .chain(&summary.deleted)
            .filter(|p| guarded.iter().any(|g| Path::new(p) == g))
            .collect();
        if touched.is_empty() {
            Decision::Commit
        } else {
            eprintln!(
                "ftsb-fs: not committing: the session changed the workspace's configuration ({}); review and commit by hand",
                touched
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Decision::Keep
        }
    } else if !json && !a.commit_on_success && std::io::stdin().is_terminal() {
        print_summary(&summary, code, harness);
        shown = true;
        ask(&ws)?
    } else {
        Decision::Keep
    };
    let outcome_text = match decision {
        Decision::Abort => {
            call::<reply::Aborted>(&ws, &Request::Abort)?;
            "aborted"
        }
        Decision::Commit => {
            call::<reply::Commit>(
                &ws,
                &Request::Commit {
                    message: format!("run: {line}"),
                    paths: vec![],
                    force: false,
                    allow_setid: false,
                    dry_run: false,
                    exclude: vec![],
                },
            )?;
            "committed"
        }
        Decision::Keep => "kept for review",
    };
    let ran_ns = (crate::daemon::audit::now_ns() - start_ns).max(0);
    super::history::record(
        &ws,
        crate::control::Event {
            kind: "run".into(),
            command: Some(line.clone()),
            exit_code: Some(code),
            audit: reply::Audit {
                checkpoint: Some(start),
                duration_ms: Some(u64::try_from(ran_ns / 1_000_000).unwrap_or(0)),
                reason: Some(format!(
                    "harness {}, containment {}, changes {outcome_text}",
                    harness.name(),
                    processes.containment.as_str()
                )),
                denials: confine::take_refused(),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    let settled = decision != Decision::Keep || summary.changed() == 0;
    if mounted_here && settled {
        // Nothing is left to decide: the view this session mounted goes away with it.
        call::<reply::Unmounted>(
            &ws,
            &Request::Unmount {
                mode: UnmountMode::Keep,
            },
        )?;
        let started = std::time::Instant::now();
        while (crate::daemon::mounted_workspace(&view).is_some()
            || crate::control::Client::connect_daemon(&ws).is_ok())
            && started.elapsed() < std::time::Duration::from_secs(10)
        {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    if json {
        print_json(&json!({
            "exit_code": code,
            "harness": harness.name(),
            "checkpoint": start,
            "session": start,
            "view": view,
            "added": summary.added,
            "modified": summary.modified,
            "deleted": summary.deleted,
            "commands": summary.commands,
            "outcome": outcome_text,
            "confinement": confinement,
            "env": env,
            "processes": processes,
        }))?;
    } else {
        if processes.killed > 0 || processes.survivors > 0 {
            eprintln!(
                "ftsb-fs: killed {} process(es) the agent left running; {} could not be killed",
                processes.killed, processes.survivors
            );
        }
        if !shown {
            print_summary(&summary, code, harness);
        }
        match decision {
            Decision::Keep if summary.changed() > 0 => eprintln!(
                "ftsb-fs: changes {outcome_text}: `ftsb-fs diff {ws}` to see them, `ftsb-fs commit {ws}` to publish, `ftsb-fs abort {ws}` to discard",
                ws = ws.display()
            ),
            Decision::Keep => eprintln!("ftsb-fs: no changes"),
            _ => eprintln!("ftsb-fs: changes {outcome_text}"),
        }
    }
    Ok(code)
}

/// Whether the agent runs in the foreground of a terminal (an interactive harness).
fn interactive() -> bool {
    // SAFETY: isatty, tcgetpgrp and getpgrp take an fd or nothing and read nothing of ours.
    unsafe { libc::isatty(0) == 1 && libc::tcgetpgrp(0) == libc::getpgrp() }
}

/// `run`'s exit status: the agent's, 127 when it was not found, 126 when it could not be
/// executed, 128+N when a signal N ended it.
pub(super) fn exit_code(outcome: &std::io::Result<ExitStatus>) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match outcome {
        Ok(s) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 127,
        Err(_) => 126,
    }
}

fn absolute_or(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Files the agent must be able to execute although they may lie outside the default grants:
/// its own program (resolved through `PATH`) and this binary, which its hooks call.
fn executables(program: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if program.contains('/') {
        out.push(absolute_or(Path::new(program)));
    } else if let Some(path) = std::env::var_os("PATH") {
        out.extend(
            std::env::split_paths(&path)
                .map(|d| d.join(program))
                .find(|p| p.is_file()),
        );
    }
    out.extend(std::env::current_exe().ok());
    out
}

/// What one session did.
#[derive(Debug, Default)]
struct Summary {
    added: Vec<String>,
    modified: Vec<String>,
    deleted: Vec<String>,
    /// The `exec` and `refused` log entries since the session's start, oldest first.
    commands: Vec<reply::LogEntry>,
}

impl Summary {
    fn changed(&self) -> usize {
        self.added.len() + self.modified.len() + self.deleted.len()
    }
}

/// What changed since checkpoint `start`, and the commands run through `exec` (or refused by
/// the gate) since `start_ns`.
fn summarize(ws: &Path, start: u64, start_ns: i64) -> anyhow::Result<Summary> {
    let mut s = Summary::default();
    let changes = match call(
        ws,
        &Request::Diff {
            from: Some(start),
            to: None,
            binary: false,
        },
    )? {
        reply::Diff::Range(entries) => entries,
        reply::Diff::Working(_) => {
            anyhow::bail!("the daemon answered a range diff with the working diff")
        }
    };
    for c in changes {
        match c.change {
            reply::ChangeKind::Added => s.added.push(c.path),
            reply::ChangeKind::Deleted => s.deleted.push(c.path),
            _ => s.modified.push(c.path),
        }
    }
    let log: Vec<reply::LogEntry> = call(ws, &Request::Log)?;
    // Newest first: this session's entries are those from its start on.
    let mut steps: Vec<reply::LogEntry> = log
        .into_iter()
        .filter(|e| e.created_ns >= start_ns)
        .filter(|e| e.kind == "exec" || e.kind == "refused")
        .collect();
    steps.reverse();
    s.commands = steps;
    Ok(s)
}

fn print_summary(s: &Summary, code: i32, harness: Harness) {
    eprintln!(
        "ftsb-fs: agent ({}) exited with status {code}",
        harness.name()
    );
    eprintln!(
        "ftsb-fs: this session: {} added, {} changed, {} deleted",
        s.added.len(),
        s.modified.len(),
        s.deleted.len()
    );
    for (mark, list) in [("A", &s.added), ("M", &s.modified), ("D", &s.deleted)] {
        for p in list.iter().take(20) {
            eprintln!("  {mark} {p}");
        }
        if list.len() > 20 {
            eprintln!("  {mark} ... and {} more", list.len() - 20);
        }
    }
    let ran = s.commands.iter().filter(|c| c.kind == "exec");
    let failed = ran.clone().filter(|c| c.exit_code != Some(0)).count();
    let rolled_back = ran
        .clone()
        .filter(|c| c.audit.rolled_back == Some(true))
        .count();
    let refused = s.commands.iter().filter(|c| c.kind == "refused").count();
    eprintln!(
        "ftsb-fs: {} commands through exec, {failed} failed, {rolled_back} rolled back; {refused} refused by the gate",
        ran.count()
    );
    for c in &s.commands {
        eprintln!("  {}", super::history::entry_line(c));
    }
}

/// Asks on the terminal what to do with the session's changes.
fn ask(ws: &Path) -> anyhow::Result<Decision> {
    let stdin = std::io::stdin();
    loop {
        eprint!("ftsb-fs: [r]eview, [c]ommit, [a]bort, [k]eep for later? ");
        std::io::stderr().flush().ok();
        let mut answer = String::new();
        if stdin.lock().read_line(&mut answer)? == 0 {
            return Ok(Decision::Keep);
        }
        match answer.trim() {
            "c" | "commit" => return Ok(Decision::Commit),
            "a" | "abort" => return Ok(Decision::Abort),
            "k" | "keep" | "" => return Ok(Decision::Keep),
            "r" | "review" => super::review::run_tui(ws)?,
            other => eprintln!("ftsb-fs: '{other}' is not one of r, c, a, k"),
        }
    }
}
