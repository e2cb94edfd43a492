//! Containment of what `exec` runs, attacked through the real CLI on a real mount: the
//! environment it gets (no secrets, no agent sockets), the processes it leaves behind, the
//! terminals it can reach, the sockets it can make, the temp dirs it leaves, and how its
//! command line parses.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::process::{Command, Output, Stdio};

use common::*;

/// Whether tests that cannot run here must fail instead of skipping.
fn required() -> bool {
    std::env::var_os("CI").is_some()
        || std::env::var_os("FTSB_REQUIRE_ALL").is_some_and(|v| v == "1")
}

/// Skips loudly, or fails under CI, when `tool` is missing.
fn need(tool: &str) -> bool {
    if have(tool) {
        return true;
    }
    assert!(
        !required(),
        "{tool} is required under CI (scripts/install-deps installs it)"
    );
    eprintln!("SKIP: this test needs {tool}");
    false
}

/// `ftsb-fs exec WS FLAGS -- sh -c SCRIPT`, with `env` added to exec's own environment.
fn exec_with(m: &Mounted, flags: &[&str], env: &[(&str, &str)], script: &str) -> Output {
    let mut c = m.cmd();
    c.arg("exec")
        .arg(&m.ws)
        .args(flags)
        .args(["--", "sh", "-c", script])
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    output(&mut c)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const SECRETS: &[(&str, &str)] = &[
    ("GITHUB_TOKEN", "ghp-secret-1"),
    ("AWS_SECRET_ACCESS_KEY", "aws-secret-2"),
    ("AWS_ACCESS_KEY_ID", "aws-id-3"),
    ("OPENAI_API_KEY", "sk-secret-4"),
    ("DB_PASSWORD", "hunter2-5"),
    ("MY_APP_SECRET", "app-secret-6"),
    ("CARGO_REGISTRY_TOKEN", "cargo-secret-7"),
    ("SSH_AUTH_SOCK", "/tmp/agent-secret-8"),
    ("GPG_AGENT_INFO", "/tmp/gpg-secret-9"),
    ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/tmp/dbus-secret-10"),
    ("SIGNING_KEY", "key-secret-11"),
];

#[test]
fn secrets_in_the_environment_do_not_reach_the_command() {
    let m = Mounted::at(sample_tree);
    let mut env: Vec<(&str, &str)> = SECRETS.to_vec();
    env.push(("CARGO_TARGET_DIR", "/tmp/kept-target"));
    env.push(("SOME_UNLISTED_VAR", "unlisted-value"));
    for flags in [&[][..], &["--env-all"][..], &["--no-confine"][..]] {
        let out = exec_with(&m, flags, &env, "env");
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let seen = stdout(&out);
        for (name, value) in SECRETS {
            assert!(
                !seen.contains(value),
                "{name} reached the command with {flags:?}:\n{seen}"
            );
        }
        assert!(seen.contains("CARGO_TARGET_DIR=/tmp/kept-target"), "{seen}");
        assert!(seen.contains("PATH="), "{seen}");
        let unlisted = seen.contains("unlisted-value");
        assert_eq!(unlisted, flags == ["--env-all"], "{flags:?}: {seen}");
    }
    // Named variables pass, secret or not; the others stay out.
    let out = exec_with(
        &m,
        &["--env", "GITHUB_TOKEN", "--env", "SSH_AUTH_SOCK"],
        &env,
        "env",
    );
    let seen = stdout(&out);
    assert!(seen.contains("GITHUB_TOKEN=ghp-secret-1"), "{seen}");
    assert!(seen.contains("SSH_AUTH_SOCK=/tmp/agent-secret-8"), "{seen}");
    assert!(!seen.contains("aws-secret-2"), "{seen}");
    // The json report names what was dropped, never the values.
    let mut c = m.cmd();
    c.args(["--json", "exec"])
        .arg(&m.ws)
        .args(["--", "true"])
        .envs(env.iter().copied());
    let out = run_ok(&mut c);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dropped = v["env"]["dropped"].to_string();
    assert!(dropped.contains("\"GITHUB_TOKEN\""), "{v}");
    assert!(!dropped.contains("ghp-secret-1"), "{v}");
    m.abort();
}

/// An ssh-agent holding a key: `ssh-add -l` lists it outside, but not from inside `exec`,
/// where `SSH_AUTH_SOCK` is not passed. Passing it by name (`--env`) shows the probe works.
#[test]
fn an_ssh_agent_cannot_be_used_from_inside() {
    for tool in ["ssh-agent", "ssh-keygen", "ssh-add"] {
        if !need(tool) {
            return;
        }
    }
    let m = Mounted::at(sample_tree);
    let dir = m.root.path().join("agent");
    std::fs::create_dir(&dir).unwrap();
    let sock = dir.join("agent.sock");
    let key = dir.join("id_ed25519");
    let mut agent = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !sock.exists() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "ssh-agent never made its socket"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    run_ok(
        Command::new("ssh-keygen")
            .args([
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "contain-test-key",
                "-f",
            ])
            .arg(&key),
    );
    run_ok(
        Command::new("ssh-add")
            .arg(&key)
            .env("SSH_AUTH_SOCK", &sock),
    );
    let outside = run_ok(
        Command::new("ssh-add")
            .arg("-l")
            .env("SSH_AUTH_SOCK", &sock),
    );
    assert!(stdout(&outside).contains("contain-test-key"));

    let sock_s = sock.to_str().unwrap();
    let env = [("SSH_AUTH_SOCK", sock_s)];
    let inside = exec_with(&m, &[], &env, "ssh-add -l; echo \"sock=$SSH_AUTH_SOCK\"");
    assert!(
        !stdout(&inside).contains("contain-test-key"),
        "the agent was usable from inside: {inside:?}"
    );
    assert!(stdout(&inside).contains("sock=\n"), "{inside:?}");
    let named = exec_with(&m, &["--env", "SSH_AUTH_SOCK"], &env, "ssh-add -l");
    assert!(
        stdout(&named).contains("contain-test-key"),
        "asked by name, the agent should be reachable: {named:?}"
    );
    agent.kill().unwrap();
    agent.wait().unwrap();
    m.abort();
}

/// Ways a command leaves a process behind, each of which deletes `$1` and writes
/// `$1.late` two seconds later (`$1` is a file of the sample tree).
const LEFT_BEHIND: &[(&str, &str)] = &[
    (
        "background job",
        "( sleep 2; rm -rf \"$T\"; echo late > \"$T.late\" ) >/dev/null 2>&1 &",
    ),
    (
        "double fork",
        "sh -c '( sleep 2; rm -rf \"$T\"; echo late > \"$T.late\" ) &' >/dev/null 2>&1",
    ),
    (
        "setsid",
        "setsid -f sh -c 'sleep 2; rm -rf \"$T\"; echo late > \"$T.late\"' >/dev/null 2>&1",
    ),
    (
        "nohup",
        "nohup sh -c 'sleep 2; rm -rf \"$T\"; echo late > \"$T.late\"' >/dev/null 2>&1 &",
    ),
];

/// `exec` with `--json`: the parsed result.
fn exec_json(m: &Mounted, flags: &[&str], script: &str) -> serde_json::Value {
    let mut c = m.cmd();
    c.args(["--json", "exec"])
        .arg(&m.ws)
        .args(flags)
        .args(["--", "sh", "-c", script])
        .stdin(Stdio::null());
    let out = output(&mut c);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"))
}

/// Whatever a command leaves running, nothing changes the view after `exec` returned: not
/// after a kept command, not after a rolled-back one.
#[test]
fn nothing_a_command_left_running_changes_the_view_after_exec() {
    let m = Mounted::at(sample_tree);
    for exit in [0, 1] {
        for (how, script) in LEFT_BEHIND {
            let target = m.v("a.txt");
            let script = format!("T='{}'\n{script}\nexit {exit}", target.display());
            let before = tree(&m.view, EXACT);
            let v = exec_json(&m, &[], &script);
            assert_eq!(v["exit_code"], exit, "{how}: {v}");
            assert_eq!(v["processes"]["linger"], "kill", "{how}: {v}");
            assert!(
                v["processes"]["killed"].as_u64() >= Some(1),
                "{how}: nothing was killed: {v}"
            );
            // Longer than the left-behind process sleeps: it would have acted by now.
            std::thread::sleep(std::time::Duration::from_secs(3));
            assert_trees_eq(
                &format!("view after exec with a {how} (exit {exit})"),
                &before,
                &tree(&m.view, EXACT),
            );
        }
    }
    m.abort();
}

/// `--linger wait` keeps the transaction open until the background job is done, so its
/// changes are the command's: kept when it succeeds, rolled back when it fails.
#[test]
fn linger_wait_makes_background_work_part_of_the_transaction() {
    let m = Mounted::at(sample_tree);
    let before = tree(&m.view, EXACT);
    let job = "( sleep 1; echo late > late; rm b.txt ) >/dev/null 2>&1 &";
    let v = exec_json(&m, &["--linger", "wait"], &format!("{job} exit 1"));
    assert_eq!(v["rolled_back"], true, "{v}");
    assert!(v["processes"]["lingering"].as_u64() >= Some(1), "{v}");
    assert_eq!(v["processes"]["killed"], 0, "{v}");
    assert_trees_eq("view after a failed exec", &before, &tree(&m.view, EXACT));
    let v = exec_json(&m, &["--linger", "wait"], job);
    assert_eq!(v["exit_code"], 0, "{v}");
    assert_eq!(
        std::fs::read_to_string(m.v("late")).unwrap(),
        "late\n",
        "{v}"
    );
    assert!(!m.v("b.txt").exists());
    m.abort();
}
