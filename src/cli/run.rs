//! `run`: a whole agent session in the view.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Context;
use serde_json::json;

use super::exec::{command_cwd, quote_argv, run_forwarding_signals};
use super::{call, print_json};
use crate::control::Request;

/// `ftsb-fs run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The workspace; mounted in place first if it is not mounted yet.
    pub workspace: PathBuf,
    /// Commit everything if the agent exits 0.
    #[arg(long, conflicts_with = "abort")]
    pub commit_on_success: bool,
    /// Discard everything when the agent exits.
    #[arg(long)]
    pub abort: bool,
    /// The agent command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

pub fn run(a: RunArgs, json: bool) -> anyhow::Result<i32> {
    let ws = super::absolute(&a.workspace)?;
    if crate::control::Client::connect(&ws).is_err() {
        super::mount::mount(
            super::mount::MountArgs {
                workspace: ws.clone(),
                at: None,
                store: None,
                foreground: false,
                allow_other: false,
            },
            false,
        )?;
    }
    let status = call(&ws, &Request::Info)?;
    let view = PathBuf::from(status["view"].as_str().unwrap_or_default());
    let before = call(
        &ws,
        &Request::Checkpoint {
            message: format!("before run: {}", quote_argv(&a.command)),
        },
    )?;
    let mut cmd = Command::new(&a.command[0]);
    cmd.args(&a.command[1..])
        .current_dir(command_cwd(&view, &ws));
    let outcome =
        run_forwarding_signals(&mut cmd).with_context(|| format!("cannot run {}", a.command[0]))?;
    let changes = call(
        &ws,
        &Request::Diff {
            from: None,
            to: None,
            binary: false,
        },
    )?;
    let n = changes.as_array().map_or(0, Vec::len);
    let mut done = "left for review (ftsb-fs diff / commit / abort)";
    if a.abort {
        call(&ws, &Request::Abort)?;
        done = "aborted";
    } else if a.commit_on_success && outcome.success() {
        call(
            &ws,
            &Request::Commit {
                message: format!("run: {}", quote_argv(&a.command)),
                paths: vec![],
                force: false,
                dry_run: false,
                exclude: vec![],
            },
        )?;
        done = "committed";
    }
    if json {
        print_json(
            &json!({ "exit_code": outcome.code(), "checkpoint": before["checkpoint"], "changes": changes, "outcome": done }),
        );
    } else {
        eprintln!("ftsb-fs: agent exited ({outcome}); {n} changed paths {done}");
    }
    Ok(outcome.code().unwrap_or(1))
}
