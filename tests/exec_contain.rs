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
/// where `SSH_AUTH_SOCK` is not passed, nor when it is passed by name (`--env`).
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
    let (agent, sock) = common::procs::ssh_agent_with_key(&dir, "contain-test-key");
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
    // Passed by name, the variable arrives, but the socket lies outside the view: the connect
    // broker refuses it (tests/run_escape.rs tries more such channels).
    let named = exec_with(
        &m,
        &["--env", "SSH_AUTH_SOCK"],
        &env,
        "echo \"sock=$SSH_AUTH_SOCK\"; ssh-add -l",
    );
    assert!(
        stdout(&named).contains(&format!("sock={sock_s}\n")),
        "{named:?}"
    );
    assert!(
        !stdout(&named).contains("contain-test-key"),
        "the agent was usable when named: {named:?}"
    );
    drop(agent);
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
        // A loop that keeps forking while it is killed; from a script, which the gate does
        // not read (it refuses such a loop on the command line).
        "forking loop",
        "sh ./forker.sh \"$T\" >/dev/null 2>&1 &",
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
    let m = Mounted::at(|ws| {
        sample_tree(ws);
        std::fs::write(
            ws.join("forker.sh"),
            "while :; do ( sleep 2; rm -rf \"$1\"; echo late > \"$1.late\" ) & sleep 0.05; done\n",
        )
        .unwrap();
    });
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

/// `exec` started with a pty as its controlling terminal and stdin: the command has no
/// controlling terminal and its stdin is not the terminal, yet what is typed reaches it.
#[test]
fn the_command_gets_no_terminal_but_typed_input_is_relayed() {
    use std::io::Write;
    use std::os::unix::process::CommandExt;
    let m = Mounted::at(sample_tree);
    let (mut master, slave, _) = open_pty();
    let mut c = m.cmd();
    c.arg("exec").arg(&m.ws).args([
        "--",
        "sh",
        "-c",
        "{ tty; awk '{print \"ctty=\" $7}' /proc/self/stat; } > seen; head -n 1 > typed",
    ]);
    c.stdin(slave.try_clone().unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid and ioctl(TIOCSCTTY) are async-signal-safe: the pty becomes exec's
    // controlling terminal, as in a user's shell.
    unsafe {
        c.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = c.spawn().unwrap();
    master.write_all(b"typed line\n").unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    drop(slave);
    let seen = std::fs::read_to_string(m.v("seen")).unwrap();
    assert!(seen.contains("not a tty"), "{seen}");
    assert!(seen.contains("ctty=0\n"), "{seen}");
    assert_eq!(
        std::fs::read_to_string(m.v("typed")).unwrap(),
        "typed line\n"
    );
    m.abort();
}

/// `exec -- sh -c 'echo > /dev/pts/N'` cannot write into another terminal.
#[test]
fn exec_cannot_write_into_another_terminal() {
    use std::io::Read;
    let m = Mounted::at(sample_tree);
    let (master, _slave, path) = open_pty();
    let script = format!("echo pwned > '{}'", path.display());
    let out = exec_with(&m, &[], &[], &script);
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    // Nothing arrived on the terminal.
    // SAFETY: fcntl on an fd we own.
    unsafe {
        libc::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&master),
            libc::F_SETFL,
            libc::O_NONBLOCK,
        )
    };
    let mut buf = [0u8; 64];
    let got = (&master).read(&mut buf);
    assert!(
        got.is_err() || got.as_ref().is_ok_and(|n| *n == 0),
        "the terminal received {got:?}"
    );
    m.abort();
}

/// `--net MODE` takes one word: the workspace after it is never eaten as a value.
#[test]
fn net_takes_one_word_and_leaves_the_workspace_alone() {
    let m = Mounted::at(sample_tree);
    for (mode, network) in [
        ("deny", true),
        ("allow", false),
        ("allow-ports:443,8443", true),
    ] {
        let mut c = m.cmd();
        c.args(["--json", "exec", "--net", mode]).arg(&m.ws).args([
            "--",
            "sh",
            "-c",
            "echo ok > netmark",
        ]);
        let out = run_ok(&mut c);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["exit_code"], 0, "{mode}: {v}");
        assert_eq!(v["confinement"]["network"], network, "{mode}: {v}");
        assert_eq!(v["confinement"]["sockets_filtered"], network, "{mode}: {v}");
        assert_eq!(std::fs::read_to_string(m.v("netmark")).unwrap(), "ok\n");
        std::fs::remove_file(m.v("netmark")).unwrap();
    }
    for bad in [
        "allow-ports",
        "allow-ports:",
        "allow-ports:http",
        "allow-ports:0",
        "open",
    ] {
        let mut c = m.cmd();
        c.args(["exec", "--net", bad])
            .arg(&m.ws)
            .args(["--", "sh", "-c", "echo ran > ran"]);
        let out = output(&mut c);
        assert_eq!(out.status.code(), Some(2), "{bad}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--net"), "{bad}: {err}");
        assert!(!m.v("ran").exists(), "{bad}: the command ran");
    }
    m.abort();
}

/// An `exec` killed with SIGKILL leaves its TMPDIR; the next `exec` removes it, and never
/// the TMPDIR of a process still running.
#[test]
fn a_killed_exec_leaves_no_tmpdir_behind() {
    let m = Mounted::at(sample_tree);
    let base = m.root.path().join("tmp");
    std::fs::create_dir(&base).unwrap();
    let scratch_dirs = || -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(&base)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("ftsb-fs-exec-")
            })
            .collect();
        v.sort();
        v
    };
    // The scratch dir of a live owner: this test process, named as exec names its own.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let start = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .to_owned();
    let live = base.join(format!("ftsb-fs-exec-{}-{start}-live", std::process::id()));
    std::fs::create_dir(&live).unwrap();

    let mut c = m.cmd();
    c.arg("exec")
        .arg(&m.ws)
        .args(["--", "sh", "-c", "touch \"$TMPDIR/mine\"; exec sleep 60"])
        .env("TMPDIR", &base)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut killed = c.spawn().unwrap();
    let started = std::time::Instant::now();
    let left = loop {
        if let Some(d) = scratch_dirs().into_iter().find(|d| d.join("mine").exists()) {
            break d;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the command never ran"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    killed.kill().unwrap();
    killed.wait().unwrap();
    assert!(
        left.exists(),
        "the killed exec's TMPDIR should still be there"
    );

    let mut c = m.cmd();
    c.arg("exec")
        .arg(&m.ws)
        .args(["--", "true"])
        .env("TMPDIR", &base);
    run_ok(&mut c);
    assert_eq!(
        scratch_dirs(),
        vec![live],
        "only the live owner's dir may stay"
    );
    m.abort();
}

/// An interrupted `--linger wait` stops waiting: what is left is killed and `exec` returns.
#[test]
fn interrupting_linger_wait_kills_what_is_left() {
    let m = Mounted::at(sample_tree);
    let mut c = m.cmd();
    c.args(["--json", "exec"])
        .arg(&m.ws)
        .args(["--linger", "wait", "--", "sh", "-c"])
        .arg("( sleep 60; rm -rf dir ) >/dev/null 2>&1 & touch started")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    let started = std::time::Instant::now();
    while !m.v("started").exists() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "never ran"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Until exec ends: the first interrupt may still reach the command itself.
    let pid = child.id() as libc::pid_t;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "exec kept waiting after SIGINT"
        );
        // SAFETY: kill takes integers only; `pid` is our child, not yet reaped.
        unsafe { libc::kill(pid, libc::SIGINT) };
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {status:?} {out}"));
    assert!(v["processes"]["killed"].as_u64() >= Some(1), "{v}");
    assert!(m.v("dir/c.txt").exists());
    m.abort();
}
