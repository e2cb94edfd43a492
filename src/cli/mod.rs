//! The command line: clap definitions and dispatch. Only this module (and `main.rs`) uses
//! `anyhow`; every command prints one `error: ...` line on failure and exits non-zero
//! (`report` says how, `output` where results go; `docs/CLI.md` lists the exit statuses).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::control::{Client, Code, Request};

mod changes;
mod completions;
pub mod config;
mod exec;
mod gate;
mod history;
mod mount;
pub mod output;
mod procs;
mod reap;
pub mod report;
mod review;
mod run;
mod txn;

use output::ColorWhen;
use report::coded;

/// Transactional view of a workspace for AI coding agents.
#[derive(Debug, Parser)]
#[command(name = "ftsb-fs", version, about, styles = styles())]
pub struct Cli {
    /// Print machine-readable JSON instead of text (errors too: one JSON line on stdout).
    #[arg(long, global = true)]
    pub json: bool,
    /// When to colour the output: auto (a terminal, unless NO_COLOR), always, never.
    #[arg(long, global = true, value_enum, default_value_t, value_name = "WHEN")]
    pub color: ColorWhen,
    /// Never page long output (diff, log); pagers run only on a terminal anyway.
    #[arg(long, global = true)]
    pub no_pager: bool,
    /// Log more on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Print only results and errors: no warnings, hints or progress.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// Every verb of the command line.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the daemon and mount the view (over the workspace itself unless --at is given).
    Mount(mount::MountArgs),
    /// Unmount the view; refuses while changes are uncommitted unless --abort or --keep.
    Unmount(mount::UnmountArgs),
    /// Mount state, overlay size, current checkpoint, conflicts.
    Status(txn::StatusArgs),
    /// What the overlay changes: unified diff, --stat, or JSON entries.
    Diff(txn::DiffArgs),
    /// Publish all changes (or only the named paths) into the workspace.
    Commit(txn::CommitArgs),
    /// Discard the overlay (undoable: the discarded state stays in the log).
    Abort(txn::AbortArgs),
    /// Seal the current state as a new checkpoint and print its id.
    Checkpoint(txn::CheckpointArgs),
    /// Checkpoints, commits, rollbacks and commands, newest first.
    Log(WsArg),
    /// Make the view equal checkpoint N (undoable: the replaced state stays in the log).
    Rollback(txn::RollbackArgs),
    /// Drop restorable states of earlier commits (and, with --older-than, old ones) and unreferenced blobs.
    Gc(txn::GcArgs),
    /// Gate check, checkpoint, run a command confined in the view, roll back if it fails.
    Exec(exec::ExecArgs),
    /// Run a whole agent session in the view, then summarize (and commit or abort if asked).
    Run(run::RunArgs),
    /// Review the session in a terminal UI: timeline, diffstats, diffs; roll back, commit, abort.
    Review(WsArg),
    /// Finish or undo an interrupted commit (also runs automatically at mount).
    Recover(mount::StoreArgs),
    /// Check a store: blob hashes, database integrity, journal state.
    Fsck(mount::StoreArgs),
    /// Write (or print) the hook settings that make an agent harness ask the gate.
    Init(gate::hook::init::InitArgs),
    /// Judge shell command lines against the exec policy.
    #[command(subcommand)]
    Gate(gate::GateCommand),
    /// Show the effective configuration and the file each value comes from.
    Config(config::ConfigArgs),
    /// Print a shell completion script (bash, zsh, fish, ...) to standard output.
    Completions(completions::CompletionsArgs),
    /// Write the man pages (ftsb-fs.1 and one per command) into a directory.
    Manpages(completions::ManpagesArgs),
    /// The reaper `run` and `exec` start their command below without a cgroup (internal).
    #[command(hide = true)]
    Reap(reap::ReapArgs),
}

/// A workspace argument; left out, the mount holding the current directory is meant.
#[derive(Debug, clap::Args)]
pub struct WsArg {
    /// The workspace (or its view); default: the mount holding the current directory.
    pub workspace: Option<PathBuf>,
}

/// clap's help and errors in the same colours as the rest.
fn styles() -> clap::builder::Styles {
    use anstyle::AnsiColor;
    clap::builder::Styles::styled()
        .header(AnsiColor::Yellow.on_default().bold())
        .usage(AnsiColor::Yellow.on_default().bold())
        .literal(AnsiColor::Green.on_default())
        .placeholder(AnsiColor::Cyan.on_default())
}

/// `--json` and `--color` as given before `--`, for reporting a command line clap rejects.
fn early_flags(args: &[OsString]) -> (bool, ColorWhen) {
    let mut json = false;
    let mut color = ColorWhen::Auto;
    let mut it = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(a) = it.next() {
        let value = match a.as_ref() {
            "--" => break,
            "--json" => {
                json = true;
                continue;
            }
            "--color" => it.next().map(|v| v.into_owned()),
            a => a.strip_prefix("--color=").map(str::to_owned),
        };
        if let Some(c) = value.and_then(|v| clap::ValueEnum::from_str(&v, true).ok()) {
            color = c;
        }
    }
    (json, color)
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    quiet_on_broken_pipe_panics();
    let args: Vec<OsString> = std::env::args_os().collect();
    let (json, color) = early_flags(&args);
    output::init(color, 1);
    let parsed = Cli::command()
        .color(color.for_clap())
        .try_get_matches_from(&args)
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let code = report::clap_error(&e, json);
            output::finish();
            return code;
        }
    };
    let verbosity = if cli.quiet {
        0
    } else {
        cli.verbose.saturating_add(1)
    };
    output::init(cli.color, verbosity);
    // A daemon in the foreground logs what it does; a command only what goes wrong.
    let foreground = matches!(&cli.command, Command::Mount(m) if m.foreground);
    output::init_tracing(if foreground { "info" } else { "warn" });
    let json = cli.json;
    let result = dispatch(cli.command, json, cli.no_pager);
    output::finish();
    let result = match (result, output::take_write_error()) {
        (Ok(_), Some(e)) => Err(anyhow::Error::from(e).context("writing standard output")),
        (r, _) => r,
    };
    match result {
        Ok(code) => code,
        // Output cut short: end as a pipeline writer killed by SIGPIPE would, without a word.
        Err(err) if report::is_broken_pipe(&err) => 128 + libc::SIGPIPE,
        Err(err) => {
            let status = report::render(&report::one_line(&err), report::code_of(&err), json);
            output::finish();
            status
        }
    }
}

fn dispatch(command: Command, json: bool, no_pager: bool) -> anyhow::Result<i32> {
    let page = !json && !no_pager;
    match command {
        Command::Mount(a) => mount::mount(a, json),
        Command::Unmount(a) => mount::unmount(a, json),
        Command::Status(a) => txn::status(a, json),
        Command::Diff(a) => txn::diff(a, json, page),
        Command::Commit(a) => txn::commit(a, json),
        Command::Abort(a) => txn::abort(a, json),
        Command::Checkpoint(a) => txn::checkpoint(a, json),
        Command::Log(a) => txn::log(a, json, page),
        Command::Rollback(a) => txn::rollback(a, json),
        Command::Gc(a) => txn::gc(a, json),
        Command::Exec(a) => exec::exec(a, json),
        Command::Run(a) => run::run(a, json),
        Command::Review(a) => review::review(a, json),
        Command::Recover(a) => mount::recover(a, json),
        Command::Fsck(a) => mount::fsck(a, json),
        Command::Init(a) => gate::hook::init::init(a, json),
        Command::Gate(cmd) => gate::run(cmd, json),
        Command::Config(a) => config::show(a, json),
        Command::Completions(a) => completions::completions(a),
        Command::Manpages(a) => completions::manpages(a, json),
        Command::Reap(a) => reap::reap(a),
    }
}

/// A `println!` that meets a closed pipe panics; every command prints through `output`, but
/// should one slip through, end quietly with the status of a SIGPIPE-killed writer.
fn quiet_on_broken_pipe_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if text.starts_with("failed printing to stdout") && text.contains("Broken pipe") {
            std::process::exit(128 + libc::SIGPIPE);
        }
        default(info);
    }));
}

/// An absolute, normalized form of `p` that works even where `canonicalize` cannot reach
/// (a stale mount answers ENOTCONN).
fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    if let Ok(c) = p.canonicalize() {
        return Ok(c);
    }
    let abs = std::path::absolute(p).with_context(|| format!("path {}", p.display()))?;
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    Ok(out)
}

/// The workspace meant by `arg`: a view's workspace, the workspace itself, or (without an
/// argument) the mount that holds the current directory.
pub fn resolve_workspace(arg: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = arg {
        let p = absolute(p)?;
        return Ok(crate::daemon::mounted_workspace(&p).unwrap_or(p));
    }
    let cwd = std::env::current_dir().context("current directory")?;
    for dir in cwd.ancestors() {
        if let Some(ws) = crate::daemon::mounted_workspace(dir) {
            return Ok(ws);
        }
    }
    Err(coded(
        Code::NotMounted,
        format!(
            "{} is not inside a mounted workspace; name the workspace",
            cwd.display()
        ),
    ))
}

/// Sends `req` to the daemon of `ws` and returns its answer, of the type `control::reply`
/// lists for the request.
pub fn call<T: DeserializeOwned>(ws: &Path, req: &Request) -> anyhow::Result<T> {
    let mut client = connect(ws)?;
    call_on(&mut client, req)
}

/// Connects to the daemon of `ws`, with an error that says what to do.
pub fn connect(ws: &Path) -> anyhow::Result<Client> {
    Client::connect(ws).map_err(|e| {
        coded(
            Code::NotMounted,
            format!(
                "no ftsb-fs daemon serves {} ({e}); mount it first",
                ws.display()
            ),
        )
    })
}

/// Sends `req` on an open connection; a refusal keeps the daemon's code.
pub fn call_on<T: DeserializeOwned>(client: &mut Client, req: &Request) -> anyhow::Result<T> {
    let started = std::time::Instant::now();
    let r = client.call(req);
    tracing::debug!(
        request = ?req,
        error = r.as_ref().err().map(|e| e.code.as_str()),
        ms = started.elapsed().as_millis() as u64,
        "the daemon answered"
    );
    Ok(r?)
}

/// Prints `v` as pretty JSON (keys sorted, as every JSON document the command line prints); a
/// failed write fails the command at its end (see `output`).
fn print_json(v: &impl Serialize) -> anyhow::Result<()> {
    let v = serde_json::to_value(v).context("the result cannot be written as JSON")?;
    let _ = output::json(&v);
    Ok(())
}
