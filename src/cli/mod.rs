//! The command line: clap definitions and dispatch. Only this module (and `main.rs`) uses
//! `anyhow`; every command prints one `error: ...` line on failure.

use clap::{Parser, Subcommand};

mod gate;

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
    /// Judge shell command lines against the exec policy.
    #[command(subcommand)]
    Gate(gate::GateCommand),
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let json = cli.json;
    let result = match cli.command {
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
