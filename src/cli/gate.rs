//! `ftsb-fs gate ...`: the command gate's verbs and its adapters for agent harnesses.
//!
//! `check` judges one line; `hook HARNESS` speaks an agent harness's hook protocol (see
//! [`hook`]); `serve` answers one JSON request per line. The judging itself is
//! [`ftsb_fs::gate`].

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use serde::Deserialize;

use crate::gate::{Context, Decision, Gate, Verdict};
use hook::HookCommand;

pub mod hook;

/// The gate's verbs.
#[derive(Debug, Subcommand)]
pub enum GateCommand {
    /// Print the verdict for one command line: exit 0 allow, 3 deny, 4 ask.
    Check {
        /// A TOML policy file that extends or overrides the default policy.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// The directory the line would run in (default: the current directory).
        #[arg(long)]
        cwd: Option<PathBuf>,
        /// The agent's workspace (default: the working directory).
        #[arg(long)]
        workspace: Option<PathBuf>,
        /// The command line to judge (several words are joined with spaces).
        #[arg(last = true, required = true)]
        line: Vec<String>,
    },
    /// Adapters for agent harnesses' hook protocols.
    #[command(subcommand)]
    Hook(HookCommand),
    /// Answer one JSON request per line on stdin with one JSON verdict per line on stdout
    /// (for agent harnesses without a hook adapter: the hooks' `hook.*` rules apply too).
    Serve {
        /// A TOML policy file that extends or overrides the default policy.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// The agent's workspace (default: each request's cwd).
        #[arg(long)]
        workspace: Option<PathBuf>,
    },
}

/// Runs a gate verb and returns its exit code.
pub fn run(cmd: GateCommand, json: bool) -> anyhow::Result<i32> {
    match cmd {
        GateCommand::Check {
            policy,
            cwd,
            workspace,
            line,
        } => {
            let policy = match policy {
                Some(p) => Some(p),
                None => super::config::configured_policy(workspace.as_deref())?,
            };
            let gate = Gate::load(policy.as_deref())?;
            let mut ctx = Context::from_env();
            if let Some(c) = cwd {
                ctx.cwd = c;
            }
            ctx.workspace = workspace.or_else(|| Some(ctx.cwd.clone()));
            let verdict = gate.judge(&line.join(" "), &ctx);
            let shown = if json {
                serde_json::to_string(&verdict)?
            } else {
                text(&verdict)
            };
            // A reader that went away changes nothing: the verdict is the exit status.
            super::output::outln!("{shown}").context("writing the verdict")?;
            Ok(verdict.decision.exit_code())
        }
        GateCommand::Hook(cmd) => Ok(hook::run(&cmd)),
        GateCommand::Serve { policy, workspace } => {
            // `serve` is for agent harnesses without an adapter: it gets the hooks' rules too,
            // and a policy in its workspace (or a temp directory) only tightens, as theirs.
            let ctx = Context::from_env();
            let ws = workspace.clone().unwrap_or_else(|| ctx.cwd.clone());
            let gates = hook::core::Gates::load(policy.as_deref(), |p| {
                hook::core::agent_writes(p, &ws, None, ctx.home.as_deref())
            })
            .map_err(anyhow::Error::msg)?;
            let stdin = std::io::stdin();
            let mut out = std::io::stdout().lock();
            for line in stdin.lock().lines() {
                let line = line.context("reading a request")?;
                if line.trim().is_empty() {
                    continue;
                }
                let reply = serve_one(&gates, &line, workspace.as_ref());
                writeln!(out, "{reply}")?;
                out.flush()?;
            }
            Ok(0)
        }
    }
}

/// One line of human output.
fn text(v: &Verdict) -> String {
    use super::output::{paint, style};
    let shade = match v.decision {
        Decision::Allow => style::ADDED,
        Decision::Deny => style::ERROR,
        Decision::Ask => style::WARNING,
    };
    let mut s = format!("{}: {}", paint(shade, v.decision.as_str()), v.reason);
    if let Some(r) = &v.rule {
        s.push_str(&format!(" [{r}]"));
    }
    if let Some(c) = &v.command {
        s.push_str(&format!("\n  command: {c}"));
    }
    if !v.wrappers.is_empty() {
        s.push_str(&format!("\n  inside: {}", v.wrappers.join(" > ")));
    }
    if let Some(a) = &v.alternative {
        s.push_str(&format!("\n  instead: {a}"));
    }
    s
}

#[derive(Debug, Deserialize)]
struct ServeRequest {
    id: Option<serde_json::Value>,
    command: Option<String>,
    #[serde(default)]
    argv: Vec<String>,
    cwd: Option<PathBuf>,
    workspace: Option<PathBuf>,
    home: Option<PathBuf>,
}

/// Answers one `serve` request line; a malformed request gets an error object, not a crash.
pub fn serve_one(gates: &hook::core::Gates, line: &str, workspace: Option<&PathBuf>) -> String {
    let req: ServeRequest = match serde_json::from_str(line) {
        Ok(r) => r,
        Err(e) => return serde_json::json!({ "error": format!("bad request: {e}") }).to_string(),
    };
    let mut ctx = Context::from_env();
    if let Some(c) = req.cwd {
        ctx.cwd = c;
    }
    if req.home.is_some() {
        ctx.home = req.home;
    }
    ctx.workspace = req
        .workspace
        .or_else(|| workspace.cloned())
        .or_else(|| Some(ctx.cwd.clone()));
    let verdict = match (&req.command, req.argv.is_empty()) {
        (Some(c), _) => gates.judge(c, &ctx),
        (None, false) => gates.judge(&ftsb_gate::quote_argv(&req.argv), &ctx),
        (None, true) => return serde_json::json!({ "id": req.id, "error": "request needs `command` or `argv`" }).to_string(),
    };
    let mut v = serde_json::to_value(&verdict).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("id".into(), req.id.unwrap_or(serde_json::Value::Null));
        obj.insert("exit_code".into(), verdict.decision.exit_code().into());
    }
    v.to_string()
}

/// The gate's verdict on the command `exec` is about to run: `None` to run it, or the
/// verdict (deny or ask; headless, ask blocks) as JSON.
pub fn check_exec(
    argv: &[String],
    policy: Option<&std::path::Path>,
    cwd: &std::path::Path,
    workspace: &std::path::Path,
) -> anyhow::Result<Option<serde_json::Value>> {
    let gate = Gate::load(policy)?;
    let ctx = Context {
        cwd: cwd.to_owned(),
        workspace: Some(workspace.to_owned()),
        home: std::env::var_os("HOME").map(std::path::PathBuf::from),
    };
    let verdict = gate.judge_argv(argv, &ctx);
    Ok(match verdict.decision {
        Decision::Allow => None,
        Decision::Deny | Decision::Ask => Some(serde_json::to_value(&verdict)?),
    })
}
