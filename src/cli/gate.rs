//! `ftsb-fs gate ...`: the command gate's verbs.

use clap::Subcommand;

/// The gate's verbs.
#[derive(Debug, Subcommand)]
pub enum GateCommand {
    /// Print the verdict for one command line: exit 0 allow, 3 deny, 4 ask.
    Check {
        /// The command line to judge.
        #[arg(last = true)]
        line: Vec<String>,
    },
}

/// Runs a gate verb and returns its exit code.
pub fn run(cmd: GateCommand, _json: bool) -> anyhow::Result<i32> {
    match cmd {
        GateCommand::Check { line } => {
            anyhow::bail!("gate check is not built yet: {}", line.join(" "))
        }
    }
}
