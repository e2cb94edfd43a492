//! The command line: clap definitions and dispatch. Only this module (and `main.rs`) uses
//! `anyhow`; every command prints one `error: ...` line on failure and exits non-zero.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use serde_json::Value;

use crate::control::{Client, Request};

mod exec;
mod gate;
mod mount;
mod run;
mod txn;

/// Transactional view of a workspace for AI coding agents.
#[derive(Debug, Parser)]
#[command(name = "ftsb-fs", version, about)]
pub struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
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
    /// Finish or undo an interrupted commit (also runs automatically at mount).
    Recover(mount::StoreArgs),
    /// Check a store: blob hashes, database integrity, journal state.
    Fsck(mount::StoreArgs),
    /// Judge shell command lines against the exec policy.
    #[command(subcommand)]
    Gate(gate::GateCommand),
}

/// A workspace argument; left out, the mount holding the current directory is meant.
#[derive(Debug, clap::Args)]
pub struct WsArg {
    /// The workspace (or its view); default: the mount holding the current directory.
    pub workspace: Option<PathBuf>,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let json = cli.json;
    let result = match cli.command {
        Command::Mount(a) => mount::mount(a, json),
        Command::Unmount(a) => mount::unmount(a, json),
        Command::Status(a) => txn::status(a, json),
        Command::Diff(a) => txn::diff(a, json),
        Command::Commit(a) => txn::commit(a, json),
        Command::Abort(a) => txn::abort(a, json),
        Command::Checkpoint(a) => txn::checkpoint(a, json),
        Command::Log(a) => txn::log(a, json),
        Command::Rollback(a) => txn::rollback(a, json),
        Command::Gc(a) => txn::gc(a, json),
        Command::Exec(a) => exec::exec(a, json),
        Command::Run(a) => run::run(a, json),
        Command::Recover(a) => mount::recover(a, json),
        Command::Fsck(a) => mount::fsck(a, json),
        Command::Gate(cmd) => gate::run(cmd, json),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", one_line(&err));
            1
        }
    }
}

/// Joins an error and its causes into one line, as every command promises.
fn one_line(err: &anyhow::Error) -> String {
    err.chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
        .replace('\n', " ")
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
    bail!(
        "{} is not inside a mounted workspace; name the workspace",
        cwd.display()
    )
}

/// Sends `req` to the daemon of `ws` and returns its result.
pub fn call(ws: &Path, req: &Request) -> anyhow::Result<Value> {
    let mut client = connect(ws)?;
    call_on(&mut client, req)
}

/// Connects to the daemon of `ws`, with an error that says what to do.
pub fn connect(ws: &Path) -> anyhow::Result<Client> {
    Client::connect(ws).map_err(|e| {
        anyhow::anyhow!(
            "no ftsb-fs daemon serves {} ({e}); mount it first",
            ws.display()
        )
    })
}

/// Sends `req` on an open connection.
pub fn call_on(client: &mut Client, req: &Request) -> anyhow::Result<Value> {
    let r = client.call(req).context("control socket")?;
    if r.ok {
        Ok(r.result.unwrap_or(Value::Null))
    } else {
        bail!(
            "{}",
            r.error
                .unwrap_or_else(|| "the daemon failed without saying why".into())
        )
    }
}

/// Prints `v` as pretty JSON.
fn print_json(v: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).expect("JSON values always serialize")
    );
}
