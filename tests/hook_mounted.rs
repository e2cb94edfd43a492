//! With the workspace mounted, the Claude Code and Gemini CLI hooks rewrite an allowed Bash
//! command to run through `ftsb-fs exec`; the rewritten command, run as the harness's shell
//! tool runs it, really goes through `exec`: it lands in the view (not the workspace), a
//! failing one is rolled back, and its words arrive exactly as the agent wrote them.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;
mod hook_common;

use std::process::Command;

use common::{BIN, Mounted};
use hook_common::{Ran, run};
use serde_json::{Value, json};

fn payload(m: &Mounted, tool: &str, input: Value) -> Vec<u8> {
    json!({
        "session_id": "s", "transcript_path": "/tmp/t.jsonl", "cwd": m.view,
        "permission_mode": "default", "hook_event_name": "PreToolUse",
        "tool_name": tool, "tool_input": input, "tool_use_id": "toolu_1",
    })
    .to_string()
    .into_bytes()
}

fn home(m: &Mounted) -> std::path::PathBuf {
    let h = m.root.path().join("home");
    std::fs::create_dir_all(&h).unwrap();
    h
}

fn hook(m: &Mounted, extra: &[&str], body: &[u8]) -> Ran {
    let mut c = Command::new(BIN);
    c.args(["gate", "hook", "claude"])
        .args(extra)
        .env("XDG_STATE_HOME", &m.state)
        .env("HOME", home(m))
        .env("CLAUDE_PROJECT_DIR", &m.view);
    run(c, body)
}

/// The hook's rewrite of `command`, checked to be `ask` (or `allow` with `--trust-exec`)
/// with the rest of the tool input kept.
fn rewrite(m: &Mounted, extra: &[&str], command: &str) -> String {
    let r = hook(
        m,
        extra,
        &payload(
            m,
            "Bash",
            json!({"command": command, "description": "d", "timeout": 5000}),
        ),
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    let h = &r.json()["hookSpecificOutput"];
    let expected = if extra.contains(&"--trust-exec") {
        "allow"
    } else {
        "ask"
    };
    assert_eq!(h["permissionDecision"], expected, "{r:?}");
    assert_eq!(
        h["updatedInput"]["description"], "d",
        "the other fields are kept: {r:?}"
    );
    assert_eq!(h["updatedInput"]["timeout"], 5000, "{r:?}");
    let new = h["updatedInput"]["command"].as_str().unwrap().to_owned();
    assert!(new.contains(" exec ") && new.contains("bash -c"), "{new}");
    new
}

/// Runs a command line as Claude Code's Bash tool does: `bash -c` in the view.
fn bash_in_view(m: &Mounted, line: &str) -> std::process::Output {
    Command::new("bash")
        .args(["-c", line])
        .current_dir(&m.view)
        .env("XDG_STATE_HOME", &m.state)
        .env("HOME", home(m))
        .output()
        .unwrap()
}

#[test]
fn a_rewritten_command_runs_through_exec_and_keeps_its_words_exactly() {
    let m = Mounted::at(|ws| std::fs::write(ws.join("a.txt"), "original\n").unwrap());
    let tricky =
        r#"printf '%s|%s\n' "it's \$HOME & \"q\"" $'tab\there' > q.txt; echo made > made.txt"#;
    let out = bash_in_view(&m, &rewrite(&m, &[], tricky));
    assert!(out.status.success(), "{out:?}");
    // The same line run by plain bash elsewhere writes the same bytes.
    let plain = tempfile::tempdir().unwrap();
    let direct = Command::new("bash")
        .args(["-c", tricky])
        .current_dir(plain.path())
        .output()
        .unwrap();
    assert!(direct.status.success());
    assert_eq!(
        std::fs::read(m.v("q.txt")).unwrap(),
        std::fs::read(plain.path().join("q.txt")).unwrap()
    );
    assert_eq!(std::fs::read_to_string(m.v("made.txt")).unwrap(), "made\n");
    assert!(!m.w("made.txt").exists(), "the change is in the view only");
    // `exec` logged it: it really went through the transaction.
    let log = m.ok(&["--json", "log"]);
    assert!(log.contains("made.txt"), "{log}");
}

/// Whatever shape a command line has (a leading `-`, several lines, non-ASCII text, a line of
/// 8 000 bytes), the rewrite runs exactly that line: what it writes in the view is what
/// the line writes when bash runs it directly. A line past the gate's 64 KiB bound is denied.
#[test]
fn a_rewritten_line_of_any_shape_runs_exactly_as_written() {
    let m = Mounted::at(|_| {});
    let long = format!("echo {} > long.txt", "a".repeat(8_000));
    let lines = [
        ("dash.txt", "-x 2>/dev/null; echo ran > dash.txt".to_owned()),
        (
            "lines.txt",
            "echo one > lines.txt\necho two >> lines.txt".to_owned(),
        ),
        (
            "utf8.txt",
            "printf '%s\\n' 'h\u{e9}llo \u{2713} \u{1f600}' > utf8.txt".to_owned(),
        ),
        ("long.txt", long),
    ];
    for (file, line) in lines {
        let out = bash_in_view(&m, &rewrite(&m, &[], &line));
        let plain = tempfile::tempdir().unwrap();
        let direct = Command::new("bash")
            .args(["-c", "--", &line])
            .current_dir(plain.path())
            .output()
            .unwrap();
        assert_eq!(
            std::fs::read(m.v(file)).ok(),
            std::fs::read(plain.path().join(file)).ok(),
            "{file}: {out:?} / {direct:?}"
        );
        assert!(m.v(file).exists(), "{file}: {out:?}");
    }
    let huge = format!("echo {} > huge.txt", "a".repeat(70_000));
    let r = hook(&m, &[], &payload(&m, "Bash", json!({"command": huge})));
    let h = &r.json()["hookSpecificOutput"];
    assert_eq!(h["permissionDecision"], "deny", "{r:?}");
    assert!(h.get("updatedInput").is_none(), "{r:?}");
}

/// Under `--trust-exec` a rewrite is approved only when the tool input has nothing but the
/// fields a rewrite keeps meaning the same; any other (a sandbox switch, another working
/// directory) goes to the user.
#[test]
fn trust_exec_never_approves_an_input_with_unknown_fields() {
    let m = Mounted::at(|_| {});
    for extra in [
        json!({"dangerouslyDisableSandbox": true}),
        json!({"workdir": "/"}),
    ] {
        let mut input = json!({"command": "ls", "description": "d"});
        input
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let r = hook(&m, &["--trust-exec"], &payload(&m, "Bash", input));
        assert_eq!(r.code, Some(0), "{r:?}");
        let h = &r.json()["hookSpecificOutput"];
        assert_eq!(h["permissionDecision"], "ask", "{extra}: {r:?}");
    }
}

#[test]
fn a_failing_rewritten_command_is_rolled_back() {
    let m = Mounted::at(|ws| std::fs::write(ws.join("a.txt"), "original\n").unwrap());
    let line = rewrite(
        &m,
        &["--trust-exec"],
        "echo junk > junk.txt; echo more >> a.txt; exit 7",
    );
    let out = bash_in_view(&m, &line);
    assert_eq!(
        out.status.code(),
        Some(7),
        "the command's status comes back: {out:?}"
    );
    assert!(!m.v("junk.txt").exists(), "rolled back");
    assert_eq!(
        std::fs::read_to_string(m.v("a.txt")).unwrap(),
        "original\n",
        "rolled back"
    );
}

#[test]
fn denied_and_asked_commands_are_not_rewritten_while_mounted() {
    let m = Mounted::at(|_| {});
    for (c, d) in [
        ("ftsb-fs commit", "deny"),
        ("rm -rf ~", "deny"),
        ("rm -rf \"$X\"", "ask"),
    ] {
        let r = hook(&m, &[], &payload(&m, "Bash", json!({"command": c})));
        let h = &r.json()["hookSpecificOutput"];
        assert_eq!(h["permissionDecision"], d, "{c}: {r:?}");
        assert!(h.get("updatedInput").is_none(), "{c}: {r:?}");
    }
}

#[test]
fn writing_the_workspace_behind_its_view_is_denied() {
    let m = Mounted::at(|ws| {
        std::fs::write(ws.join("a.txt"), "x").unwrap();
        std::fs::create_dir_all(ws.join("pkg")).unwrap();
    });
    // Also for an agent started in a directory of the workspace, behind the view.
    let r = in_project(
        &m,
        &m.w("pkg"),
        "Write",
        json!({"file_path": m.w("pkg/b.txt"), "content": "y"}),
    );
    assert_eq!(
        r.json()["hookSpecificOutput"]["permissionDecision"],
        "deny",
        "{r:?}"
    );
    let lower = m.w("a.txt");
    let r = hook(
        &m,
        &[],
        &payload(&m, "Write", json!({"file_path": lower, "content": "y"})),
    );
    assert_eq!(
        r.json()["hookSpecificOutput"]["permissionDecision"],
        "deny",
        "{r:?}"
    );
    let store = m.store.join("meta.db");
    let r = hook(
        &m,
        &[],
        &payload(
            &m,
            "Edit",
            json!({"file_path": store, "old_string": "a", "new_string": "b"}),
        ),
    );
    assert_eq!(
        r.json()["hookSpecificOutput"]["permissionDecision"],
        "deny",
        "{r:?}"
    );
    let r = hook(
        &m,
        &[],
        &payload(
            &m,
            "Write",
            json!({"file_path": m.v("a.txt"), "content": "y"}),
        ),
    );
    r.assert_silent();
}

#[test]
fn gemini_gets_the_same_rewrite_as_merged_tool_input() {
    let m = Mounted::in_place(|ws| std::fs::write(ws.join("a.txt"), "original\n").unwrap());
    let body = json!({
        "session_id": "s", "transcript_path": "t", "cwd": m.view, "hook_event_name": "BeforeTool",
        "timestamp": "2025-12-01T10:30:00Z", "tool_name": "run_shell_command",
        "tool_input": {"command": "echo changed > a.txt; false", "description": "d"},
    });
    let mut c = Command::new(BIN);
    c.args(["gate", "hook", "gemini"])
        .env("XDG_STATE_HOME", &m.state)
        .env("HOME", home(&m))
        .env("GEMINI_PROJECT_DIR", &m.view);
    let r = run(c, body.to_string().as_bytes());
    assert_eq!(r.code, Some(0), "{r:?}");
    let v = r.json();
    assert!(
        v.get("decision").is_none(),
        "no decision: Gemini's own confirmation still applies: {r:?}"
    );
    let line = v["hookSpecificOutput"]["tool_input"]["command"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = bash_in_view(&m, &line);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(m.v("a.txt")).unwrap(),
        "original\n",
        "rolled back"
    );
}

/// A view whose daemon is gone cannot route anything through `exec`: the hook must block
/// rather than let commands run unrouted.
#[test]
fn a_view_whose_daemon_is_gone_blocks() {
    let m = Mounted::at(|ws| std::fs::create_dir_all(ws.join("pkg")).unwrap());
    let pid = m.pid.expect("mount --json reports the daemon's pid");
    // SAFETY: kill(2) on the daemon this test started.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
    m.wait_daemon_gone();
    for project in [m.view.clone(), m.v("pkg")] {
        let r = in_project(&m, &project, "Bash", json!({"command": "ls"}));
        assert_eq!(r.code, Some(2), "{project:?}: {r:?}");
        assert!(r.stderr.contains("daemon cannot be reached"), "{r:?}");
    }
}

/// The hook run for an agent started in `project`, on a call of `tool`.
fn in_project(m: &Mounted, project: &std::path::Path, tool: &str, input: Value) -> Ran {
    let mut body: Value = serde_json::from_slice(&payload(m, tool, input)).unwrap();
    body["cwd"] = json!(project);
    let mut c = Command::new(BIN);
    c.args(["gate", "hook", "claude"])
        .env("XDG_STATE_HOME", &m.state)
        .env("HOME", home(m))
        .env("CLAUDE_PROJECT_DIR", project);
    run(c, body.to_string().as_bytes())
}

/// An agent started below the view's root (one package of a mounted repository) is still in
/// the view: its commands run through `exec` like any other, never around it.
#[test]
fn an_agent_started_below_the_view_root_is_routed_through_exec() {
    let m = Mounted::at(|ws| std::fs::create_dir_all(ws.join("pkg/src")).unwrap());
    let r = in_project(
        &m,
        &m.v("pkg"),
        "Bash",
        json!({"command": "echo made > made.txt"}),
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    let h = &r.json()["hookSpecificOutput"];
    assert_eq!(h["permissionDecision"], "ask", "{r:?}");
    let line = h["updatedInput"]["command"].as_str().unwrap().to_owned();
    assert!(line.contains(" exec "), "{line}");
    let out = Command::new("bash")
        .args(["-c", &line])
        .current_dir(m.v("pkg"))
        .env("XDG_STATE_HOME", &m.state)
        .env("HOME", home(&m))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(m.v("pkg/made.txt")).unwrap(),
        "made\n"
    );
    let log = m.ok(&["--json", "log"]);
    assert!(log.contains("made.txt"), "it went through exec: {log}");
}

/// Codex applies `updatedInput` only with `allow`: the rewrite is sent only under
/// `--trust-exec`, and then it runs through `exec` like Claude Code's.
#[test]
fn codex_rewrites_only_under_trust_exec() {
    let m = Mounted::at(|ws| std::fs::write(ws.join("a.txt"), "original\n").unwrap());
    let body = json!({
        "session_id": "s", "turn_id": "t", "transcript_path": null, "cwd": m.view,
        "hook_event_name": "PreToolUse", "model": "m", "permission_mode": "default",
        "tool_name": "Bash", "tool_input": {"command": "echo bad >> a.txt; exit 4"}, "tool_use_id": "c",
    });
    let codex = |extra: &[&str]| {
        let mut c = Command::new(BIN);
        c.args(["gate", "hook", "codex", "--workspace"])
            .arg(&m.view)
            .args(extra)
            .env("XDG_STATE_HOME", &m.state)
            .env("HOME", home(&m));
        run(c, body.to_string().as_bytes())
    };
    codex(&[]).assert_silent();
    let r = codex(&["--trust-exec"]);
    let h = &r.json()["hookSpecificOutput"];
    assert_eq!(h["permissionDecision"], "allow", "{r:?}");
    let out = bash_in_view(&m, h["updatedInput"]["command"].as_str().unwrap());
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(m.v("a.txt")).unwrap(),
        "original\n",
        "rolled back"
    );
    // An input with a field a rewrite may not keep the meaning of (another directory) cannot
    // be approved unseen, and Codex cannot ask: it is blocked, not run around `exec`.
    let mut odd = body.clone();
    odd["tool_input"]["workdir"] = json!("/");
    let mut c = Command::new(BIN);
    c.args(["gate", "hook", "codex", "--trust-exec", "--workspace"])
        .arg(&m.view)
        .env("XDG_STATE_HOME", &m.state)
        .env("HOME", home(&m));
    let r = run(c, odd.to_string().as_bytes());
    let h = &r.json()["hookSpecificOutput"];
    assert_eq!(h["permissionDecision"], "deny", "{r:?}");
    assert!(h.get("updatedInput").is_none(), "{r:?}");
}

/// `exec` runs a command started outside the view at the view's root. A command the agent
/// runs in another directory, named directly or through a symlink in the view, must not be
/// moved into the workspace: it goes back to the directory it was judged in.
#[test]
fn a_command_run_outside_the_view_is_not_moved_into_it() {
    let m = Mounted::at(|ws| std::fs::write(ws.join("victim.txt"), "keep me").unwrap());
    let elsewhere = m.root.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("victim.txt"), "scratch").unwrap();
    std::os::unix::fs::symlink(&elsewhere, m.v("out")).unwrap();
    for cwd in [elsewhere.clone(), m.v("out")] {
        let mut body: Value = serde_json::from_slice(&payload(
            &m,
            "Bash",
            json!({"command": "rm -f victim.txt; pwd > where.txt"}),
        ))
        .unwrap();
        body["cwd"] = json!(cwd);
        let r = hook(&m, &["--trust-exec"], body.to_string().as_bytes());
        let line = r.json()["hookSpecificOutput"]["updatedInput"]["command"]
            .as_str()
            .unwrap()
            .to_owned();
        let out = Command::new("bash")
            .args(["-c", &line])
            .current_dir(&cwd)
            .env("XDG_STATE_HOME", &m.state)
            .env("HOME", home(&m))
            .output()
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(m.v("victim.txt")).unwrap(),
            "keep me",
            "{cwd:?}: {out:?}"
        );
        assert!(!m.v("where.txt").exists(), "{cwd:?}: {out:?}");
    }
}

/// One agent session end to end, the way Claude Code drives it: `init` registers the hook
/// in the workspace, the workspace is mounted, and a stand-in harness reads the settings,
/// runs the matching hook for each tool call, honours its answer (exit 2 and `deny` block,
/// `ask` is approved as a user would, `updatedInput` replaces the input) and then runs the
/// tool. Afterwards the view holds exactly what the allowed calls did, the workspace and the
/// home nothing.
#[test]
fn an_agent_session_through_the_registered_hook() {
    let m = Mounted::at(|ws| {
        let out = Command::new(BIN)
            .args(["init", "claude"])
            .current_dir(ws)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    });
    let settings: Value =
        serde_json::from_slice(&std::fs::read(m.v(".claude/settings.json")).unwrap()).unwrap();
    let home = home(&m);

    // Runs one tool call through every matching hook; returns the input to run, or None.
    let gate = |tool: &str, input: Value| -> Option<Value> {
        let mut input = input;
        for group in settings["hooks"]["PreToolUse"].as_array().unwrap() {
            let matcher = group["matcher"].as_str().unwrap();
            let hit = matcher
                .split('|')
                .any(|p| p == tool || (p.ends_with(".*") && tool.starts_with(&p[..p.len() - 2])));
            if !hit {
                continue;
            }
            for h in group["hooks"].as_array().unwrap() {
                let mut c = Command::new("sh");
                c.args(["-c", h["command"].as_str().unwrap()])
                    .current_dir(&m.view)
                    .env("CLAUDE_PROJECT_DIR", &m.view)
                    .env("XDG_STATE_HOME", &m.state)
                    .env("HOME", &home);
                let r = run(c, &payload(&m, tool, input.clone()));
                match r.code {
                    Some(0) if r.stdout.trim().is_empty() => {}
                    Some(0) => {
                        let out = &r.json()["hookSpecificOutput"];
                        if out["permissionDecision"] == "deny" {
                            return None;
                        }
                        if let Some(new) = out.get("updatedInput") {
                            input = new.clone();
                        }
                    }
                    _ => return None,
                }
            }
        }
        Some(input)
    };
    let bash = |command: &str| -> Option<std::process::Output> {
        let input = gate("Bash", json!({"command": command, "description": "step"}))?;
        Some(bash_in_view(&m, input["command"].as_str().unwrap()))
    };
    let write = |path: String, content: &str| -> bool {
        match gate("Write", json!({"file_path": path, "content": content})) {
            Some(input) => {
                let p = input["file_path"].as_str().unwrap();
                std::fs::create_dir_all(std::path::Path::new(p).parent().unwrap()).unwrap();
                std::fs::write(p, content).unwrap();
                true
            }
            None => false,
        }
    };

    let ok = bash("echo hello > hello.txt").expect("an ordinary command runs");
    assert!(ok.status.success(), "{ok:?}");
    let failed = bash("echo junk > junk.txt; false").expect("a failing command runs");
    assert!(!failed.status.success());
    assert!(
        bash("ftsb-fs commit -m 'agent done'").is_none(),
        "the agent cannot commit"
    );
    assert!(bash(&format!("fusermount3 -u {}", m.view.display())).is_none());
    assert!(bash("rm -rf ~").is_none());
    assert!(write(
        m.v("src/lib.rs").to_string_lossy().into_owned(),
        "pub fn f() {}\n"
    ));
    assert!(!write(
        home.join(".bashrc").to_string_lossy().into_owned(),
        "curl x | sh\n"
    ));

    assert_eq!(
        std::fs::read_to_string(m.v("hello.txt")).unwrap(),
        "hello\n"
    );
    assert!(
        !m.v("junk.txt").exists(),
        "the failing command was rolled back"
    );
    assert!(!home.join(".bashrc").exists());
    let changed = m.ok(&["--json", "diff"]);
    let paths: Vec<String> = serde_json::from_str::<Value>(&changed)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        paths.iter().any(|p| p.ends_with("hello.txt"))
            && paths.iter().any(|p| p.ends_with("lib.rs")),
        "{changed}"
    );
    assert!(!paths.iter().any(|p| p.contains("junk")), "{changed}");
    assert!(
        !m.w("hello.txt").exists(),
        "nothing reached the workspace: no commit happened"
    );
}
