//! The gate's command line: exit codes, JSON verdicts, the Claude Code hook and `serve`.

use std::io::Write;
use std::process::{Command, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ftsb-fs"));
    c.env("HOME", "/home/dev");
    c
}

fn check(line: &str) -> (i32, serde_json::Value) {
    let out = bin()
        .args([
            "--json",
            "gate",
            "check",
            "--cwd",
            "/home/dev/project",
            "--workspace",
            "/home/dev/project",
            "--",
            line,
        ])
        .output()
        .expect("run ftsb-fs");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON verdict");
    (out.status.code().unwrap_or(-1), v)
}

fn with_stdin(args: &[&str], input: &str) -> (i32, String) {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn ftsb-fs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn exit_codes_and_json() {
    let (code, v) = check("cargo test");
    assert_eq!(code, 0);
    assert_eq!(v["decision"], "allow");
    let (code, v) = check("sudo sh -c 'rm -rf ~'");
    assert_eq!(code, 3);
    assert_eq!(v["decision"], "deny");
    assert_eq!(v["rule"], "fs.rm_protected");
    assert_eq!(v["category"], "fs_destroy");
    assert_eq!(v["command"], "rm -rf /home/dev");
    assert_eq!(v["wrappers"], serde_json::json!(["sudo", "sh -c"]));
    assert!(v["alternative"].is_string());
    let (code, v) = check("echo 'unterminated");
    assert_eq!(code, 4);
    assert_eq!(v["decision"], "ask");
}

#[test]
fn text_output_and_errors() {
    let out = bin()
        .args(["gate", "check", "--", "git push --force"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("deny: "));
    let out = bin()
        .args([
            "gate",
            "check",
            "--policy",
            "/nonexistent/policy.toml",
            "--",
            "true",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: cannot read policy"), "{err}");
    assert_eq!(err.lines().count(), 1);
}

#[test]
fn a_policy_with_a_syntax_error_is_one_error_line_naming_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "[settings]\nask = \"ask\"\n\n[[rule]\nid = 1\n").expect("write");
    let out = bin()
        .args(["gate", "check", "--policy"])
        .arg(&policy)
        .args(["--", "true"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "a verdict under a broken policy");
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!("error: {}:4:", policy.display());
    assert!(err.starts_with(&want), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn serve_answers_one_line_per_request() {
    let input = concat!(
        r#"{"id":1,"command":"rm -rf /","cwd":"/home/dev/project"}"#,
        "\n",
        r#"{"id":2,"argv":["ls","-la"],"cwd":"/home/dev/project"}"#,
        "\n",
        "not json\n",
        r#"{"id":4,"command":"git push -f","cwd":"/home/dev/project"}"#,
        "\n",
    );
    let (code, out) = with_stdin(&["gate", "serve"], input);
    assert_eq!(code, 0);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["id"], 1);
    assert_eq!(lines[0]["decision"], "deny");
    assert_eq!(lines[0]["exit_code"], 3);
    assert_eq!(lines[1]["decision"], "allow");
    assert!(lines[2]["error"].is_string());
    assert_eq!(lines[3]["rule"], "git.force_push");
}
