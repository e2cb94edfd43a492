//! `ftsb-fs init`: writes each harness's hook settings, merges into an existing file without
//! losing anything, adds nothing the second time, and refuses (leaving it untouched) a file
//! it cannot read as settings.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod hook_common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use hook_common::*;
use serde_json::{Value, json};

fn init(s: &Sandbox, args: &[&str]) -> std::process::Output {
    let mut a = vec!["init"];
    a.extend_from_slice(args);
    s.cmd(&a).current_dir(&s.project).output().unwrap()
}

fn read(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// Every hook command in a settings value that runs `gate hook HARNESS`.
fn ours(v: &Value, harness: &str) -> Vec<String> {
    let mut found = Vec::new();
    fn walk(v: &Value, needle: &str, found: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(c)) = o.get("command")
                    && c.contains(needle)
                {
                    found.push(c.clone());
                }
                o.values().for_each(|x| walk(x, needle, found));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, needle, found)),
            _ => {}
        }
    }
    walk(v, &format!("gate hook {harness}"), &mut found);
    found
}

#[test]
fn init_writes_each_harness_in_its_own_place_and_shape() {
    let s = Sandbox::new();
    for (h, file) in [
        ("claude", ".claude/settings.json"),
        ("codex", ".codex/hooks.json"),
        ("gemini", ".gemini/settings.json"),
        ("cursor", ".cursor/hooks.json"),
    ] {
        let out = init(&s, &[h]);
        assert!(out.status.success(), "{h}: {out:?}");
        let v = read(&s.project.join(file));
        let cmds = ours(&v, h);
        assert!(!cmds.is_empty(), "{h}: {v}");
        let exe = cmds[0]
            .split_whitespace()
            .next()
            .unwrap()
            .trim_matches('\'');
        assert!(
            Path::new(exe).is_absolute() && Path::new(exe).exists(),
            "{h}: {exe}"
        );
    }
    let claude = read(&s.project.join(".claude/settings.json"));
    let group = &claude["hooks"]["PreToolUse"][0];
    assert_eq!(
        group["matcher"],
        "Bash|Write|Edit|MultiEdit|NotebookEdit|Read|Grep|mcp__.*"
    );
    assert_eq!(group["hooks"][0]["type"], "command");
    let codex = read(&s.project.join(".codex/hooks.json"));
    assert_eq!(
        codex["hooks"]["PreToolUse"][0]["matcher"],
        "Bash|apply_patch|mcp__.*"
    );
    let gemini = read(&s.project.join(".gemini/settings.json"));
    assert_eq!(gemini["tools"]["enableHooks"], true);
    assert_eq!(
        gemini["hooks"]["BeforeTool"][0]["hooks"][0]["name"],
        "ftsb-fs-gate"
    );
    let cursor = read(&s.project.join(".cursor/hooks.json"));
    assert_eq!(cursor["version"], 1);
    for e in [
        "beforeShellExecution",
        "beforeMCPExecution",
        "beforeReadFile",
    ] {
        assert_eq!(cursor["hooks"][e][0]["failClosed"], true, "{cursor}");
    }
}

#[test]
fn init_merges_without_losing_anything_and_twice_adds_nothing() {
    let s = Sandbox::new();
    let file = s.project.join(".claude/settings.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let user = json!({
        "model": "opus",
        "permissions": {"allow": ["Bash(npm test)"], "deny": ["Read(./.env)"]},
        "hooks": {
            "PreToolUse": [
                {"matcher": "Bash", "hooks": [{"type": "command", "command": "my-linter", "timeout": 5}]},
                {"matcher": "Write", "hooks": [{"type": "command", "command": "fmt-check"}]}
            ],
            "PostToolUse": [{"matcher": "Edit", "hooks": [{"type": "command", "command": "prettier"}]}],
            "Stop": [{"hooks": [{"type": "command", "command": "notify"}]}]
        },
        "env": {"FOO": "1"}
    });
    std::fs::write(&file, serde_json::to_string_pretty(&user).unwrap()).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();

    assert!(init(&s, &["claude"]).status.success());
    let merged = read(&file);
    for key in ["model", "permissions", "env"] {
        assert_eq!(merged[key], user[key], "{key} kept");
    }
    for event in ["PostToolUse", "Stop"] {
        assert_eq!(merged["hooks"][event], user["hooks"][event], "{event} kept");
    }
    let pre = merged["hooks"]["PreToolUse"].as_array().unwrap();
    assert_eq!(pre.len(), 3, "{merged}");
    assert_eq!(
        pre[..2],
        user["hooks"]["PreToolUse"].as_array().unwrap()[..],
        "the user's groups kept, first"
    );
    assert_eq!(ours(&merged, "claude").len(), 1);
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600,
        "mode kept"
    );

    let once = std::fs::read(&file).unwrap();
    let out = init(&s, &["claude"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        once,
        "a second init changes nothing"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nothing changed"),
        "{out:?}"
    );
}

#[test]
fn init_refuses_a_malformed_or_misshapen_file_and_leaves_it_untouched() {
    let s = Sandbox::new();
    let cases: [(&str, &str, &str); 5] = [
        (
            "claude",
            "{ \"hooks\": { \"PreToolUse\": [ }",
            "not valid JSON",
        ),
        ("claude", "[1, 2]", "not a JSON object"),
        (
            "claude",
            "{\"hooks\": [\"x\"]}",
            "\"hooks\" is not an object",
        ),
        (
            "codex",
            "{\"hooks\": {\"PreToolUse\": {\"matcher\": \"Bash\"}}}",
            "\"hooks.PreToolUse\" is not an array",
        ),
        (
            "gemini",
            "{\"tools\": \"all\"}",
            "\"tools\" is not an object",
        ),
    ];
    for (h, text, needle) in cases {
        let file = s.project.join(format!("{h}-settings.json"));
        std::fs::write(&file, text).unwrap();
        let out = init(&s, &[h, "--settings", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{h} {text}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error: ") && err.contains(needle), "{err}");
        assert!(
            err.contains(file.to_str().unwrap()),
            "the error names the file: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), text, "untouched");
        let names: Vec<_> = std::fs::read_dir(&s.project)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(
            !names
                .iter()
                .any(|n| n.to_string_lossy().starts_with(".ftsb-fs-init-")),
            "no temp file left: {names:?}"
        );
    }
}

#[test]
fn print_writes_nothing_and_prints_the_snippet() {
    let s = Sandbox::new();
    let out = init(&s, &["gemini", "--print", "--policy", "rules.toml"]);
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cmd = &ours(&v, "gemini")[0];
    assert!(
        cmd.contains(&format!("--policy {}", s.p("rules.toml"))),
        "the policy is made absolute: {cmd}"
    );
    assert!(
        !s.project.join(".gemini").exists(),
        "--print writes nothing"
    );
}

#[test]
fn cline_gets_an_executable_script_and_another_script_is_not_replaced() {
    let s = Sandbox::new();
    let script = s.project.join(".clinerules/hooks/PreToolUse");
    assert!(init(&s, &["cline"]).status.success());
    let text = std::fs::read_to_string(&script).unwrap();
    assert!(
        text.starts_with("#!/bin/sh\nexec ") && text.contains("gate hook cline"),
        "{text}"
    );
    assert_eq!(
        std::fs::metadata(&script).unwrap().permissions().mode() & 0o111,
        0o111
    );
    assert!(init(&s, &["cline"]).status.success());
    assert_eq!(
        std::fs::read_to_string(&script).unwrap(),
        text,
        "twice adds nothing"
    );

    std::fs::write(&script, "#!/bin/sh\nmy-own-check\n").unwrap();
    let out = init(&s, &["cline"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(&script).unwrap(),
        "#!/bin/sh\nmy-own-check\n"
    );
}

/// The settings `init` writes, used as the harness uses them: the registered command, run
/// through `sh -c` with a payload, blocks a denied call. For Cline, the script itself runs.
#[test]
fn the_written_settings_block_a_denied_call_when_run_as_the_harness_runs_them() {
    let s = Sandbox::new();
    assert!(init(&s, &["codex"]).status.success());
    assert!(init(&s, &["cline"]).status.success());
    let codex = read(&s.project.join(".codex/hooks.json"));
    let command = ours(&codex, "codex")[0].clone();
    let payload = json!({
        "hook_event_name": "PreToolUse", "tool_name": "Bash", "cwd": s.p(""),
        "tool_input": {"command": "ftsb-fs unmount --abort"}, "model": "m",
        "permission_mode": "default", "session_id": "s", "tool_use_id": "t", "transcript_path": null,
    });
    let mut c = std::process::Command::new("sh");
    c.args(["-c", &command])
        .current_dir(&s.project)
        .env("HOME", &s.home)
        .env("XDG_STATE_HOME", &s.state);
    let r = run(c, payload.to_string().as_bytes());
    assert_eq!(
        r.json()["hookSpecificOutput"]["permissionDecision"],
        "deny",
        "{r:?}"
    );

    let mut c = std::process::Command::new(s.project.join(".clinerules/hooks/PreToolUse"));
    c.current_dir(&s.project)
        .env("HOME", &s.home)
        .env("XDG_STATE_HOME", &s.state);
    let payload = json!({"hookName": "PreToolUse", "workspaceRoots": [s.p("")],
        "preToolUse": {"toolName": "execute_command", "parameters": {"command": "ftsb-fs commit"}}});
    let r = run(c, payload.to_string().as_bytes());
    assert_eq!(r.json()["cancel"], true, "{r:?}");
}

#[test]
fn a_symlinked_settings_file_is_updated_where_it_points() {
    let s = Sandbox::new();
    let real = s.home.join("dotfiles/claude-settings.json");
    std::fs::create_dir_all(real.parent().unwrap()).unwrap();
    std::fs::write(&real, "{\"model\": \"opus\"}").unwrap();
    let link = s.project.join(".claude/settings.json");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    assert!(init(&s, &["claude"]).status.success());
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link stays a link"
    );
    let v = read(&real);
    assert_eq!(v["model"], "opus");
    assert_eq!(ours(&v, "claude").len(), 1, "{v}");
}

#[test]
fn trust_exec_is_passed_on_where_the_harness_needs_it_and_refused_elsewhere() {
    let s = Sandbox::new();
    let out = init(&s, &["claude", "--print", "--trust-exec"]);
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(ours(&v, "claude")[0].ends_with(" --trust-exec"), "{v}");
    let out = init(&s, &["gemini", "--trust-exec"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(!s.project.join(".gemini").exists());
}

/// The harness runs the hook by the path `init` writes: an `ftsb-fs` inside the project (a
/// build of it there) is one the agent can replace with a program that approves itself, so
/// `init` refuses to register it (and `--print` warns).
#[test]
fn init_refuses_a_binary_inside_the_project() {
    let s = Sandbox::new();
    std::fs::create_dir_all(s.p("bin")).unwrap();
    let inside = s.project.join("bin/ftsb-fs");
    std::fs::hard_link(BIN, &inside).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(&inside)
            .args(args)
            .current_dir(&s.project)
            .env("HOME", &s.home)
            .output()
            .unwrap()
    };
    let out = run(&["init", "claude"]);
    assert!(!out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("where the agent can replace the hook"),
        "{err}"
    );
    assert!(!s.project.join(".claude/settings.json").exists());
    let out = run(&["init", "claude", "--print"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("warning"),
        "{out:?}"
    );
}
