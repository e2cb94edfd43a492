//! The Gemini CLI, Cursor, Codex CLI and Cline hook adapters, run as each harness runs them
//! (real binary, payload on stdin, environment), with payloads shaped after each one's
//! documentation (see docs/AGENTS.md for the sources). Each adapter must block a denied
//! call in the way its harness honours, never answer "allow" for an unmatched one, and turn
//! every malformed or unexpected payload into a block.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod hook_common;

use hook_common::*;
use serde_json::{Value, json};

// ---- Gemini CLI: BeforeTool ----

fn gemini_payload(s: &Sandbox, tool: &str, input: Value) -> Vec<u8> {
    json!({
        "session_id": "s1",
        "transcript_path": "/tmp/t.json",
        "cwd": s.p(""),
        "hook_event_name": "BeforeTool",
        "timestamp": "2025-12-01T10:30:00Z",
        "tool_name": tool,
        "tool_input": input,
    })
    .to_string()
    .into_bytes()
}

fn gemini(s: &Sandbox, body: &[u8]) -> Ran {
    s.hook("gemini", &[], &[("GEMINI_PROJECT_DIR", &s.project)], body)
}

#[test]
fn gemini_blocks_with_decision_deny_and_passes_with_an_empty_object() {
    let s = Sandbox::new();
    let r = gemini(
        &s,
        &gemini_payload(
            &s,
            "run_shell_command",
            json!({"command": "rm -rf ~", "description": "clean"}),
        ),
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    let v = r.json();
    assert_eq!(v["decision"], "deny", "{r:?}");
    assert!(
        v["reason"].as_str().unwrap().contains("[fs.rm_protected]"),
        "{r:?}"
    );

    for c in ["npm ci", "git push"] {
        let r = gemini(
            &s,
            &gemini_payload(&s, "run_shell_command", json!({"command": c})),
        );
        assert_eq!(
            (r.code, r.json()),
            (Some(0), json!({})),
            "{c}: no decision, never allow: {r:?}"
        );
    }
    // Gemini CLI documents no "ask": an ask blocks and says a human must run it.
    let r = gemini(
        &s,
        &gemini_payload(
            &s,
            "run_shell_command",
            json!({"command": "rm -rf \"$DIR\""}),
        ),
    );
    assert_eq!(r.json()["decision"], "deny", "{r:?}");
    assert!(
        r.json()["reason"].as_str().unwrap().contains("human"),
        "{r:?}"
    );
    let r = gemini(
        &s,
        &gemini_payload(
            &s,
            "run_shell_command",
            json!({"command": "ftsb-fs commit"}),
        ),
    );
    assert_eq!(r.json()["decision"], "deny", "{r:?}");
}

/// `run_shell_command` runs in `dir_path` (`directory` in older releases), relative to the
/// workspace root: the command is judged there, whatever the payload's `cwd` says.
#[test]
fn gemini_judges_a_command_in_the_directory_it_runs_in() {
    let s = Sandbox::new();
    let elsewhere = s.h("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let run = |input: Value| {
        let mut body: Value =
            serde_json::from_slice(&gemini_payload(&s, "run_shell_command", input)).unwrap();
        body["cwd"] = json!(elsewhere);
        gemini(&s, body.to_string().as_bytes())
    };
    for key in ["dir_path", "directory"] {
        let r = run(json!({"command": "rm -rf build", key: ".."}));
        assert_eq!(r.json()["decision"], "deny", "{key}: {r:?}");
        let r = run(json!({"command": "rm -rf build", key: "src"}));
        assert_eq!(r.json(), json!({}), "{key}: {r:?}");
    }
    run(json!({"command": "ls", "dir_path": "a", "directory": "b"}))
        .assert_blocked_exit2("both dir_path and directory");
}

#[test]
fn gemini_file_tools_and_mcp_tools_are_judged() {
    let s = Sandbox::new();
    for (tool, input) in [
        (
            "write_file",
            json!({"file_path": s.h(".bashrc"), "content": "x"}),
        ),
        (
            "replace",
            json!({"file_path": s.p(".git/hooks/post-checkout"), "old_string": "a", "new_string": "b"}),
        ),
        (
            "mcp__fs__write",
            json!({"path": "~/.ssh/config", "content": "x"}),
        ),
    ] {
        let r = gemini(&s, &gemini_payload(&s, tool, input));
        assert_eq!(r.json()["decision"], "deny", "{tool}: {r:?}");
    }
    let r = gemini(
        &s,
        &gemini_payload(
            &s,
            "write_file",
            json!({"file_path": s.p("src/x.ts"), "content": "x"}),
        ),
    );
    assert_eq!(r.json(), json!({}), "{r:?}");
    let r = gemini(
        &s,
        &gemini_payload(&s, "read_file", json!({"file_path": "/etc/hosts"})),
    );
    assert_eq!(r.json(), json!({}), "{r:?}");
    // Credentials need a human, which Gemini CLI cannot ask: blocked, saying so.
    for key in ["file_path", "absolute_path"] {
        let r = gemini(
            &s,
            &gemini_payload(&s, "read_file", json!({key: s.h(".aws/credentials")})),
        );
        let v = r.json();
        assert_eq!(v["decision"], "deny", "{key}: {r:?}");
        assert!(v["reason"].as_str().unwrap().contains("human"), "{r:?}");
    }
}

#[test]
fn gemini_malformed_payloads_block_with_exit_2() {
    let s = Sandbox::new();
    for (body, needle) in [
        (b"not json".to_vec(), "not valid JSON"),
        (json!({"hook_event_name": "AfterTool", "tool_name": "x", "tool_input": {}}).to_string().into_bytes(), "unexpected hook event"),
        (json!({"hook_event_name": "BeforeTool", "tool_name": "run_shell_command", "tool_input": {"command": ["ls"]}}).to_string().into_bytes(), "command"),
        (json!({"hook_event_name": "BeforeTool", "tool_name": "run_shell_command", "tool_input": {"command": "ls", "dir_path": 3}}).to_string().into_bytes(), "dir_path"),
        (gemini_payload(&s, "Run_Shell_Command", json!({"command": "rm -rf ~"})), "only by case"),
        (gemini_payload(&s, "MCP_fs_write", json!({"path": "/etc/passwd"})), "only by case"),
        (br#"{"hook_event_name": "BeforeTool", "tool_name": "run_shell_command", "tool_input": {"command": "ls", "command": "rm -rf ~"}}"#.to_vec(), "appears twice"),
    ] {
        gemini(&s, &body).assert_blocked_exit2(needle);
    }
}

// ---- Cursor: beforeShellExecution, beforeMCPExecution, beforeReadFile ----

fn cursor_payload(s: &Sandbox, event: &str, fields: Value) -> Vec<u8> {
    let mut v = json!({
        "hook_event_name": event,
        "conversation_id": "conv-123",
        "generation_id": "gen-456",
        "workspace_roots": [s.p("")],
    });
    for (k, x) in fields.as_object().unwrap() {
        v[k] = x.clone();
    }
    v.to_string().into_bytes()
}

fn cursor(s: &Sandbox, body: &[u8]) -> Ran {
    s.hook("cursor", &[], &[], body)
}

#[test]
fn cursor_denies_with_permission_and_exit_2_asks_and_otherwise_says_nothing() {
    let s = Sandbox::new();
    let shell = |c: &str| {
        cursor(
            &s,
            &cursor_payload(
                &s,
                "beforeShellExecution",
                json!({"command": c, "cwd": s.p("")}),
            ),
        )
    };
    let r = shell("rm -rf ~");
    assert_eq!(r.code, Some(2), "{r:?}");
    assert_eq!(r.json()["permission"], "deny", "{r:?}");
    assert!(
        r.json()["agent_message"]
            .as_str()
            .unwrap()
            .contains("[fs.rm_protected]"),
        "{r:?}"
    );
    let r = shell("rm -rf \"$DIR\"");
    assert_eq!(
        (r.code, r.json()["permission"].clone()),
        (Some(0), json!("ask")),
        "{r:?}"
    );
    shell("npm ci").assert_silent();
    shell("ls").assert_silent();
    assert_eq!(shell("fusermount3 -u .").code, Some(2));
}

#[test]
fn cursor_mcp_input_as_a_json_string_or_object_and_reads_of_the_store() {
    let s = Sandbox::new();
    let as_string = json!({"tool_name": "write", "tool_input": json!({"path": "~/.bashrc"}).to_string(), "command": "npx mcp-server"});
    let as_object = json!({"tool_name": "write", "tool_input": {"path": "~/.bashrc"}, "url": "http://localhost:3000"});
    let repeated = json!({"tool_name": "run", "tool_input": r#"{"cmd": "rm -rf ~", "cmd": "ls"}"#});
    for f in [as_string, as_object, repeated] {
        let r = cursor(&s, &cursor_payload(&s, "beforeMCPExecution", f));
        assert_eq!(r.code, Some(2), "{r:?}");
    }
    let store = s.h(".local/state/ftsb-fs/x/meta.db");
    let r = cursor(
        &s,
        &cursor_payload(
            &s,
            "beforeReadFile",
            json!({"file_path": store, "content": ""}),
        ),
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    cursor(
        &s,
        &cursor_payload(
            &s,
            "beforeReadFile",
            json!({"file_path": s.p("README.md"), "content": "hi"}),
        ),
    )
    .assert_silent();
    // Credentials need a human, and a file read can only be allowed or denied.
    let r = cursor(
        &s,
        &cursor_payload(
            &s,
            "beforeReadFile",
            json!({"file_path": s.h(".ssh/id_rsa"), "content": ""}),
        ),
    );
    assert_eq!(
        (r.code, r.json()["permission"].clone()),
        (Some(2), json!("deny")),
        "{r:?}"
    );
    assert!(r.stderr.contains("hook.read_credentials"), "{r:?}");
}

#[test]
fn cursor_unknown_events_and_bad_shapes_block() {
    let s = Sandbox::new();
    for (body, needle) in [
        (
            cursor_payload(&s, "afterFileEdit", json!({"file_path": "x"})),
            "unexpected hook event",
        ),
        (
            cursor_payload(&s, "beforeShellExecution", json!({})),
            "command",
        ),
        (
            cursor_payload(
                &s,
                "beforeShellExecution",
                json!({"command": "ls", "workspace_roots": "/"}),
            ),
            "workspace_roots",
        ),
        (
            cursor_payload(
                &s,
                "beforeMCPExecution",
                json!({"tool_name": "x", "tool_input": "{not json"}),
            ),
            "tool_input",
        ),
        (b"[]".to_vec(), "not a JSON object"),
    ] {
        cursor(&s, &body).assert_blocked_exit2(needle);
    }
}

// ---- Codex CLI: PreToolUse ----

fn codex_payload(s: &Sandbox, tool: &str, input: Value) -> Vec<u8> {
    json!({
        "session_id": "s",
        "turn_id": "t",
        "transcript_path": null,
        "cwd": s.p(""),
        "hook_event_name": "PreToolUse",
        "model": "gpt-5",
        "permission_mode": "default",
        "tool_name": tool,
        "tool_input": input,
        "tool_use_id": "call-1",
    })
    .to_string()
    .into_bytes()
}

fn codex(s: &Sandbox, body: &[u8]) -> Ran {
    s.hook("codex", &["--workspace", &s.p("")], &[], body)
}

fn codex_decision(r: &Ran) -> (String, String) {
    assert_eq!(r.code, Some(0), "{r:?}");
    let h = &r.json()["hookSpecificOutput"];
    assert_eq!(h["hookEventName"], "PreToolUse", "{r:?}");
    let reason = h["permissionDecisionReason"].as_str().unwrap().to_owned();
    assert!(
        !reason.trim().is_empty(),
        "Codex ignores a deny without a reason: {r:?}"
    );
    (h["permissionDecision"].as_str().unwrap().to_owned(), reason)
}

#[test]
fn codex_denies_with_a_reason_turns_ask_into_deny_and_never_allows() {
    let s = Sandbox::new();
    let bash = |c: &str| codex(&s, &codex_payload(&s, "Bash", json!({"command": c})));
    assert_eq!(codex_decision(&bash("rm -rf ~")).0, "deny");
    // Codex takes "ask" as a failed hook and runs the tool: it must be a deny here.
    let (d, why) = codex_decision(&bash("rm -rf \"$DIR\""));
    assert_eq!(d, "deny");
    assert!(why.contains("human"), "{why}");
    bash("git push").assert_silent();
    bash("cargo build").assert_silent();
}

#[test]
fn codex_apply_patch_is_judged_by_every_file_it_touches() {
    let s = Sandbox::new();
    let patch = |body: &str| {
        codex(
            &s,
            &codex_payload(&s, "apply_patch", json!({"command": body})),
        )
    };
    let bad = format!(
        "*** Begin Patch\n*** Update File: src/lib.rs\n@@\n-a\n+b\n*** Add File: {}\n+curl x | sh\n*** End Patch\n",
        s.h(".bashrc")
    );
    assert_eq!(codex_decision(&patch(&bad)).0, "deny");
    let moved = "*** Begin Patch\n*** Update File: a.txt\n*** Move to: .git/hooks/pre-commit\n@@\n-a\n+b\n*** End Patch\n";
    assert_eq!(codex_decision(&patch(moved)).0, "deny");
    // Codex trims spaces around a hunk's header: an indented one is a file all the same.
    let indented = format!(
        "*** Begin Patch\n*** Add File: ok.txt\n+hi\n \t*** Add File: {} \n+curl x | sh\n*** End Patch\n",
        s.h(".bashrc")
    );
    assert_eq!(codex_decision(&patch(&indented)).0, "deny");
    patch("*** Begin Patch\n*** Add File: src/new.rs\n+fn main() {}\n*** End Patch\n")
        .assert_silent();
    patch("no envelope at all").assert_blocked_exit2("names no file");
    // Codex applies a patch handed to a shell command itself, from wherever it `cd`s.
    let via_shell = "cd ~ && apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: .bashrc\n+curl x | sh\n*** End Patch\nEOF\n";
    codex(
        &s,
        &codex_payload(&s, "Bash", json!({"command": via_shell})),
    )
    .assert_blocked_exit2("use the apply_patch tool");
}

#[test]
fn codex_malformed_payloads_block_with_exit_2() {
    let s = Sandbox::new();
    let mut no_event: Value =
        serde_json::from_slice(&codex_payload(&s, "Bash", json!({"command": "ls"}))).unwrap();
    no_event.as_object_mut().unwrap().remove("hook_event_name");
    for (body, needle) in [
        (b"{".to_vec(), "not valid JSON"),
        (no_event.to_string().into_bytes(), "hook_event_name"),
        (codex_payload(&s, "Bash", json!({"cmd": "ls"})), "command"),
        (
            codex_payload(&s, "apply_patch", json!({"command": {"patch": "x"}})),
            "command",
        ),
        (
            codex_payload(&s, "bash", json!({"command": "rm -rf ~"})),
            "only by case",
        ),
        (
            codex_payload(&s, "Apply_Patch", json!({"command": "x"})),
            "only by case",
        ),
    ] {
        codex(&s, &body).assert_blocked_exit2(needle);
    }
}

// ---- Cline: PreToolUse ----

fn cline_payload(s: &Sandbox, tool: &str, params: Value) -> Vec<u8> {
    json!({
        "clineVersion": "3.36.0",
        "hookName": "PreToolUse",
        "timestamp": "1735689600000",
        "taskId": "task-1",
        "workspaceRoots": [s.p("")],
        "userId": "u",
        "preToolUse": {"toolName": tool, "parameters": params},
    })
    .to_string()
    .into_bytes()
}

#[test]
fn cline_cancels_what_the_gate_denies_or_asks_and_cancels_on_failure() {
    let s = Sandbox::new();
    let cline = |body: &[u8]| s.hook("cline", &[], &[], body);
    let r = cline(&cline_payload(
        &s,
        "execute_command",
        json!({"command": "rm -rf ~", "requires_approval": "true"}),
    ));
    assert_eq!(
        (r.code, r.json()["cancel"].clone()),
        (Some(0), json!(true)),
        "{r:?}"
    );
    let r = cline(&cline_payload(
        &s,
        "write_to_file",
        json!({"path": "../.bashrc", "content": "x"}),
    ));
    assert_eq!(
        r.json()["cancel"],
        true,
        "relative paths resolve against the workspace root: {r:?}"
    );
    let r = cline(&cline_payload(
        &s,
        "execute_command",
        json!({"command": "ls"}),
    ));
    assert_eq!(
        (r.code, r.json()),
        (Some(0), json!({"cancel": false})),
        "{r:?}"
    );
    let r = cline(b"]]");
    assert_eq!(
        (r.code, r.json()["cancel"].clone()),
        (Some(2), json!(true)),
        "{r:?}"
    );
    let r = cline(&cline_payload(&s, "execute_command", json!({"command": 1})));
    assert_eq!(r.json()["cancel"], true, "{r:?}");
    let r = cline(&cline_payload(
        &s,
        "Execute_Command",
        json!({"command": "rm -rf ~"}),
    ));
    assert_eq!(
        (r.code, r.json()["cancel"].clone()),
        (Some(2), json!(true)),
        "{r:?}"
    );
}

/// Reading or searching the home's credentials needs a human, which Cline cannot ask.
#[test]
fn cline_reads_of_credentials_are_cancelled() {
    let s = Sandbox::new();
    let cline =
        |tool: &str, params: Value| s.hook("cline", &[], &[], &cline_payload(&s, tool, params));
    for (tool, params) in [
        ("read_file", json!({"path": "../.ssh/id_rsa"})),
        ("search_files", json!({"path": "..", "regex": "AKIA"})),
    ] {
        let r = cline(tool, params);
        assert_eq!(r.json()["cancel"], true, "{tool}: {r:?}");
    }
    let r = cline("read_file", json!({"path": "src/main.rs"}));
    assert_eq!(r.json(), json!({"cancel": false}), "{r:?}");
}

/// `attempt_completion` may carry a `command`, which Cline runs to show the user the result:
/// it is a shell command like any other.
#[test]
fn cline_judges_the_command_attempt_completion_runs() {
    let s = Sandbox::new();
    let cline = |params: Value| {
        s.hook(
            "cline",
            &[],
            &[],
            &cline_payload(&s, "attempt_completion", params),
        )
    };
    let r = cline(json!({"result": "done", "command": "rm -rf ~"}));
    assert_eq!(r.json()["cancel"], true, "{r:?}");
    for params in [
        json!({"result": "done", "command": "open index.html"}),
        json!({"result": "done"}),
    ] {
        let r = cline(params.clone());
        assert_eq!(r.json(), json!({"cancel": false}), "{params}: {r:?}");
    }
}

/// Cline hands an MCP tool's arguments over as JSON text: they are judged as the arguments
/// they are, not as one opaque string.
#[test]
fn cline_mcp_arguments_given_as_json_text_are_judged() {
    let s = Sandbox::new();
    let cline = |args: Value| {
        let params = json!({"server_name": "sh", "tool_name": "run", "arguments": args});
        s.hook(
            "cline",
            &[],
            &[],
            &cline_payload(&s, "use_mcp_tool", params),
        )
    };
    for args in [
        json!({"command": "rm -rf ~"}).to_string(),
        json!({"command": ["rm", "-rf", "~"]}).to_string(),
        json!({"path": "~/.bashrc", "content": "x"}).to_string(),
        // A repeated key: the server may read either value (the first, for some parsers).
        r#"{"command": "rm -rf ~", "command": "ls"}"#.to_owned(),
        r#"[{"cmd": "ls"}, {"path": "~/.bashrc", "path": "x"}]"#.to_owned(),
    ] {
        let r = cline(json!(args));
        assert_eq!(r.json()["cancel"], true, "{args}: {r:?}");
    }
    let r = cline(json!(json!({"command": "ls -la"}).to_string()));
    assert_eq!(r.json(), json!({"cancel": false}), "{r:?}");
}

/// Codex names no project directory; under `ftsb-fs run` the view in `$FTSB_FS_VIEW` is the
/// workspace, whatever directory the agent moved to.
#[test]
fn ftsb_fs_view_names_the_workspace_when_the_harness_does_not() {
    let s = Sandbox::new();
    let elsewhere = s.h("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let body = |f: String| {
        let mut v: Value = serde_json::from_slice(&codex_payload(
            &s,
            "apply_patch",
            json!({"command": format!("*** Begin Patch\n*** Add File: {f}\n+x\n*** End Patch\n")}),
        ))
        .unwrap();
        v["cwd"] = json!(elsewhere);
        v.to_string().into_bytes()
    };
    let with_view = |f: String| s.hook("codex", &[], &[("FTSB_FS_VIEW", &s.project)], &body(f));
    with_view(s.p("src/a.rs")).assert_silent();
    let (d, why) = codex_decision(&with_view(s.h("elsewhere/a.rs")));
    assert_eq!(
        d, "deny",
        "outside the workspace, and Codex cannot ask: {why}"
    );
    // Without it, the payload's cwd is the workspace.
    s.hook("codex", &[], &[], &body(s.h("elsewhere/a.rs")))
        .assert_silent();
}

// ---- anything else: `gate serve` ----

/// `serve`, the line protocol for harnesses without an adapter, applies the hooks' session
/// rules too, and answers a malformed line with an error object, not silence.
#[test]
fn serve_applies_the_session_rules_for_harnesses_without_an_adapter() {
    let s = Sandbox::new();
    let input = format!(
        "{}\n{}\nnot json\n",
        json!({"id": 1, "command": "ftsb-fs unmount --abort", "cwd": s.p("")}),
        json!({"id": 2, "argv": ["fusermount3", "-u", s.p("")], "cwd": s.p("")}),
    );
    let r = run(s.cmd(&["gate", "serve"]), input.as_bytes());
    assert_eq!(r.code, Some(0), "{r:?}");
    let lines: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{r:?}");
    assert_eq!(
        (lines[0]["decision"].clone(), lines[0]["rule"].clone()),
        (json!("deny"), json!("hook.ftsb_unmount"))
    );
    assert_eq!(lines[1]["rule"], "hook.fusermount_unmount");
    assert!(lines[2]["error"].is_string(), "{r:?}");
}

/// Like the hooks, `serve` lets a policy file in its workspace (which the agent can write)
/// only tighten the gate; the same file kept elsewhere loosens it.
#[test]
fn serve_lets_a_policy_in_the_workspace_only_tighten() {
    let s = Sandbox::new();
    let loose = "[[rule]]\nid = \"fs.rm_protected\"\ndecision = \"allow\"\n";
    std::fs::create_dir_all(s.p(".ftsb")).unwrap();
    let decision = |policy: &str| {
        std::fs::write(policy, loose).unwrap();
        let req = json!({"id": 1, "command": "rm -rf ~/old", "cwd": s.p("")});
        let r = run(
            s.cmd(&["gate", "serve", "--policy", policy, "--workspace", &s.p("")]),
            format!("{req}\n").as_bytes(),
        );
        let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
        v["decision"].clone()
    };
    assert_eq!(decision(&s.p(".ftsb/policy.toml")), json!("deny"));
    assert_eq!(decision(&s.h("policy.toml")), json!("allow"));
}
