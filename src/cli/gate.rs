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

/// The gate's verdict on an `exec` command line: `None` to run it, or the verdict as JSON.
pub fn check_exec(
    _argv: &[String],
    _policy: Option<&std::path::Path>,
    _cwd: &std::path::Path,
    _workspace: &std::path::Path,
) -> anyhow::Result<Option<serde_json::Value>> {
    Ok(None)
}
