//! `ftsb-fs gate hook HARNESS`: adapters for agent harnesses' pre-tool hooks.
//!
//! Each harness gets one file that turns its documented payload into an [`core::Call`] and
//! renders the [`core::Answer`] in its documented reply; the judging is shared (`core`).
//! See `docs/AGENTS.md` for each protocol and its source.
//!
//! Architecture invariant: a hook fails closed. Whatever goes wrong (a payload that is not
//! JSON, too large, of an unknown event or of the wrong shape, a policy that does not load, a
//! daemon that does not answer, a panic, running out of time) the reply is the harness's
//! documented "block" with the reason, never an exit code the harness would take as
//! "go ahead". This module owns that guarantee: adapters return errors, [`run`] blocks.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Subcommand;
use serde_json::Value;

mod claude;
mod cline;
mod codex;
pub mod core;
mod cursor;
mod gemini;
pub mod init;
mod places;
mod strict;

use self::core::{Answer, Call, Judge, Setup};

/// Why a hook blocks: one line, lowercase, handed to the harness as the block's reason
/// (shown to the agent, so it can choose another way). Every error in the hooks is one,
/// because every error ends as a block.
pub type Reason = String;

/// The largest payload a hook reads; a larger one is blocked, not truncated.
pub const MAX_PAYLOAD: u64 = 4 << 20;

/// Hook adapters, one per harness.
#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Claude Code: a PreToolUse payload on stdin; answers in its hook JSON or exit 2.
    Claude(HookArgs),
    /// Gemini CLI: a BeforeTool payload on stdin; answers in its hook JSON or exit 2.
    Gemini(HookArgs),
    /// Cursor: a beforeShellExecution, beforeMCPExecution or beforeReadFile payload.
    Cursor(HookArgs),
    /// Codex CLI: a PreToolUse payload on stdin; answers in its hook JSON or exit 2.
    Codex(HookArgs),
    /// Cline: a PreToolUse payload on stdin; answers with `cancel`.
    Cline(HookArgs),
}

/// What every hook adapter takes.
#[derive(Debug, Clone, clap::Args)]
pub struct HookArgs {
    /// A TOML policy file that extends or overrides the default policy.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// The agent's workspace (default: the harness's project directory, else `$FTSB_FS_VIEW`,
    /// else the payload's).
    #[arg(long)]
    pub workspace: Option<PathBuf>,
    /// Approve commands rewritten through `ftsb-fs exec` where the harness can only rewrite
    /// a command together with an approval (Claude Code, Codex CLI); without it Claude Code
    /// asks the user about each rewritten command and Codex runs commands unrewritten.
    #[arg(long)]
    pub trust_exec: bool,
    /// Block (with a reason) when the hook has not answered within this many milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
}

/// What a hook process prints and how it exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Printed to stdout (nothing when empty).
    pub stdout: String,
    /// Printed to stderr (nothing when empty).
    pub stderr: String,
    /// The exit code.
    pub code: i32,
}

impl Reply {
    /// Exit 0 and print nothing: no opinion.
    fn silent() -> Reply {
        Reply::out(String::new())
    }

    /// Exit 0 with `stdout`.
    fn out(stdout: String) -> Reply {
        Reply {
            stdout,
            stderr: String::new(),
            code: 0,
        }
    }

    /// Exit 2 with the reason on stderr: the block every supported harness documents.
    fn exit2(reason: &str) -> Reply {
        Reply {
            stdout: String::new(),
            stderr: format!("{reason}\n"),
            code: 2,
        }
    }
}

/// One harness's protocol: decode its payload, render an answer, render a failure.
trait Adapter: Sync {
    /// The environment variable naming the project directory, if the harness sets one.
    fn project_env(&self) -> Option<&'static str>;
    /// Decodes a payload; an event or shape the adapter does not know is an error.
    fn parse(&self, payload: Value) -> Result<Call, Reason>;
    /// Renders an answer.
    fn render(&self, answer: &Answer, call: &Call, judge: &Judge) -> Reply;
    /// Renders a failure as a block.
    fn fail(&self, reason: &str) -> Reply {
        Reply::exit2(reason)
    }
}

fn adapter(cmd: &HookCommand) -> (&'static dyn Adapter, &HookArgs) {
    match cmd {
        HookCommand::Claude(a) => (&claude::Claude, a),
        HookCommand::Gemini(a) => (&gemini::Gemini, a),
        HookCommand::Cursor(a) => (&cursor::Cursor, a),
        HookCommand::Codex(a) => (&codex::Codex, a),
        HookCommand::Cline(a) => (&cline::Cline, a),
    }
}

/// Runs a hook on stdin and returns its exit code; never returns an error.
pub fn run(cmd: &HookCommand) -> i32 {
    let (adapter, args) = adapter(cmd);
    // A hook the harness kills for taking too long counts as a non-blocking error in every
    // harness: block before that can happen.
    let limit = Duration::from_millis(args.timeout_ms);
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        if ANSWERED.swap(true, Ordering::SeqCst) {
            // The answer is being printed: let it finish.
            return;
        }
        emit(&adapter.fail(&format!(
            "ftsb-fs hook: no answer within {} ms; blocked",
            limit.as_millis()
        )));
        std::process::exit(2);
    });
    let reply = guarded(adapter, args, &mut std::io::stdin());
    if ANSWERED.swap(true, Ordering::SeqCst) {
        // Too late: the timer has blocked the call and is exiting.
        loop {
            std::thread::park();
        }
    }
    emit(&reply);
    reply.code
}

/// Set by whichever answers first, the hook or its timer, so only one answer is printed.
static ANSWERED: AtomicBool = AtomicBool::new(false);

/// The reply to the payload on `input`; a panic anywhere in it is a block.
fn guarded(adapter: &dyn Adapter, args: &HookArgs, input: &mut dyn Read) -> Reply {
    // The adapters are stateless unit structs, so nothing is left half-updated by a panic.
    let attempt = std::panic::AssertUnwindSafe(|| answer(adapter, args, input));
    std::panic::catch_unwind(attempt)
        .unwrap_or_else(|_| adapter.fail("ftsb-fs hook: internal error (panic); blocked"))
}

/// The reply to the payload on `input`.
fn answer(adapter: &dyn Adapter, args: &HookArgs, input: &mut dyn Read) -> Reply {
    match decide(adapter, args, input) {
        Ok(r) => r,
        Err(reason) => adapter.fail(&format!("ftsb-fs hook: {reason}; blocked")),
    }
}

fn decide(adapter: &dyn Adapter, args: &HookArgs, input: &mut dyn Read) -> Result<Reply, Reason> {
    let mut bytes = Vec::new();
    input
        .take(MAX_PAYLOAD + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the payload: {e}"))?;
    if bytes.len() as u64 > MAX_PAYLOAD {
        return Err(format!("payload larger than {MAX_PAYLOAD} bytes"));
    }
    let payload = strict::parse(&bytes).map_err(|e| format!("payload is not valid JSON ({e})"))?;
    if !payload.is_object() {
        return Err("payload is not a JSON object".into());
    }
    let call = adapter.parse(payload)?;
    let workspace = args
        .workspace
        .clone()
        .or_else(|| {
            adapter
                .project_env()
                .and_then(std::env::var_os)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        // Set by `ftsb-fs run` for the agent it starts.
        .or_else(|| {
            std::env::var_os("FTSB_FS_VIEW")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .or_else(|| call.workspace.clone())
        .or_else(|| call.cwd.clone())
        .ok_or("no workspace: neither --workspace, the project directory nor the payload's cwd")?;
    let setup = Setup {
        policy: args.policy.clone(),
        trust_exec: args.trust_exec,
    };
    let judge = Judge::load(&setup, workspace)?;
    let answer = judge.judge(&call);
    record_refusal(&judge, &call, &answer);
    Ok(adapter.render(&answer, &call, &judge))
}

/// Records a refused or questioned shell command in the audit log of the mounted workspace,
/// so `log` and `run`'s summary show what the hook stopped. Best effort and silent: the
/// answer stands whether or not the daemon takes the record.
fn record_refusal(judge: &Judge, call: &Call, answer: &Answer) {
    let (Some(m), self::core::Action::Shell { command }) = (&judge.mount, &call.action) else {
        return;
    };
    let (verdict, reason) = match answer {
        Answer::Deny(r) => ("deny", r),
        Answer::Ask(r) => ("ask", r),
        _ => return,
    };
    // The rule is the bracketed id the reason names (`... [fs.rm_protected]; instead: ...`).
    let rule = reason
        .split_once(" [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(id, _)| id.to_owned());
    let event = crate::control::Event {
        kind: "refused".into(),
        command: Some(command.clone()),
        audit: crate::control::reply::Audit {
            verdict: Some(verdict.into()),
            rule,
            reason: Some(reason.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    let _ = crate::cli::history::send(&m.workspace, event);
}

/// Prints a reply; a closed pipe loses the output but not the exit code.
fn emit(r: &Reply) {
    if !r.stdout.is_empty() {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", r.stdout.trim_end());
        let _ = out.flush();
    }
    if !r.stderr.is_empty() {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{}", r.stderr);
        let _ = err.flush();
    }
}

/// A required string field of an object; missing or of another type is an error.
fn string_field(v: &Value, key: &str, what: &str) -> Result<String, Reason> {
    match v.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!(
            "{what}.{key} is {}, not a string",
            type_name(other)
        )),
        None => Err(format!("{what} has no {key}")),
    }
}

/// An optional string field; present with another type is an error.
fn opt_string(v: &Value, key: &str, what: &str) -> Result<Option<String>, Reason> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => string_field(v, key, what).map(Some),
    }
}

/// A required object field.
fn object_field<'a>(v: &'a Value, key: &str, what: &str) -> Result<&'a Value, Reason> {
    match v.get(key) {
        Some(o @ Value::Object(_)) => Ok(o),
        Some(other) => Err(format!(
            "{what}.{key} is {}, not an object",
            type_name(other)
        )),
        None => Err(format!("{what} has no {key}")),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The fields of a `tool_name`/`tool_input` payload (Claude Code, Codex CLI, Gemini CLI):
/// checks that it is `event`, returns the tool's name, its input and the cwd.
fn tool_payload(p: &Value, event: &str) -> Result<(String, Value, Option<PathBuf>), Reason> {
    let got = string_field(p, "hook_event_name", "payload")?;
    if got != event {
        return Err(format!("unexpected hook event {got:?} (expected {event})"));
    }
    let tool = string_field(p, "tool_name", "payload")?;
    let input = object_field(p, "tool_input", "payload")?.clone();
    let cwd = opt_string(p, "cwd", "payload")?.map(PathBuf::from);
    Ok((tool, input, cwd))
}

/// A PreToolUse `hookSpecificOutput` reply, the shape Claude Code and Codex CLI share.
fn pre_tool_use(decision: &str, reason: &str, updated_input: Option<Value>) -> Reply {
    let mut out = serde_json::json!({
        "hookEventName": "PreToolUse",
        "permissionDecision": decision,
        "permissionDecisionReason": reason,
    });
    if let Some(i) = updated_input {
        out["updatedInput"] = i;
    }
    Reply::out(serde_json::json!({ "hookSpecificOutput": out }).to_string())
}

/// An answer in the PreToolUse shape: `deny`; `ask`, or where the harness cannot ask
/// (`cannot_ask` names it) a `deny` that says so; a rewrite as `updatedInput` with `allow`
/// under `--trust-exec`, else with `ask`, else (a harness that cannot ask) not at all.
fn render_pre_tool_use(
    answer: &Answer,
    call: &Call,
    judge: &Judge,
    cannot_ask_in: Option<&str>,
) -> Reply {
    match (answer, cannot_ask_in) {
        (Answer::Pass, _) => Reply::silent(),
        (Answer::Deny(r), _) => pre_tool_use("deny", r, None),
        (Answer::Ask(r), None) => pre_tool_use("ask", r, None),
        (Answer::Ask(r), Some(h)) => pre_tool_use("deny", &cannot_ask(r, h), None),
        (Answer::Rewrite { command, reason }, h) => {
            // An input with fields we do not know (a sandbox switch, another working
            // directory) is never approved on the agent's word: it goes to the user.
            let known = call
                .tool_input
                .as_object()
                .is_some_and(|o| o.keys().all(|k| REWRITE_FIELDS.contains(&k.as_str())));
            let decision = match (judge.trust_exec(), h) {
                (true, _) if known => "allow",
                (true, None) => "ask",
                // The user asked for every command to go through `exec`, and this one cannot
                // be approved unseen nor asked about: running it unrouted would fail open.
                (true, Some(h)) => {
                    return pre_tool_use(
                        "deny",
                        &cannot_ask(
                            &format!(
                                "ftsb-fs: this command's input has fields besides {}, so it is not run through `exec` unseen [hook.unknown_fields]",
                                REWRITE_FIELDS.join(", ")
                            ),
                            h,
                        ),
                        None,
                    );
                }
                (false, None) => "ask",
                (false, Some(_)) => return Reply::silent(),
            };
            pre_tool_use(
                decision,
                reason,
                Some(with_command(&call.tool_input, command)),
            )
        }
    }
}

/// The fields of a shell tool's input a rewrite through `exec` keeps meaning the same; an
/// input with any other field is not approved under `--trust-exec`.
const REWRITE_FIELDS: &[&str] = &["command", "description", "timeout", "run_in_background"];

/// The sentence an adapter adds where its harness cannot ask the user.
fn cannot_ask(reason: &str, harness: &str) -> String {
    format!(
        "{reason}; this needs a human's approval, which {harness} hooks cannot ask for: ask the user to run it"
    )
}

/// A write to the file named by `input.key`.
fn write_to(input: &Value, key: &str, what: &str) -> Result<core::Action, Reason> {
    Ok(core::Action::Write {
        paths: vec![PathBuf::from(string_field(input, key, what)?)],
    })
}

/// A call of a harness that names no workspace in its payload.
fn call(action: core::Action, cwd: Option<PathBuf>, tool_input: Value) -> Call {
    Call {
        action,
        cwd,
        workspace: None,
        tool_input,
    }
}

/// `input` with its `command` replaced by `command`, every other field kept.
fn with_command(input: &Value, command: &str) -> Value {
    let mut v = input.clone();
    if let Some(o) = v.as_object_mut() {
        o.insert("command".into(), Value::String(command.to_owned()));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An adapter whose every step panics, as a bug in the judgement would.
    struct Panics;

    impl Adapter for Panics {
        fn project_env(&self) -> Option<&'static str> {
            None
        }
        fn parse(&self, _: Value) -> Result<Call, Reason> {
            panic!("a bug")
        }
        fn render(&self, _: &Answer, _: &Call, _: &Judge) -> Reply {
            panic!("a bug")
        }
    }

    #[test]
    fn a_panic_blocks_with_exit_2() {
        let args = HookArgs {
            policy: None,
            workspace: Some("/".into()),
            trust_exec: false,
            timeout_ms: 10_000,
        };
        let reply = guarded(&Panics, &args, &mut &b"{}"[..]);
        assert_eq!(reply.code, 2, "{reply:?}");
        assert!(reply.stderr.contains("panic"), "{reply:?}");
        assert!(reply.stdout.is_empty(), "{reply:?}");
    }
}
