//! `run`: a whole agent session in the view (mounting it in place first), confined by its
//! harness's profile, then a summary of this session, and a commit or an abort when asked.
//!
//! The agent is a stand-in script named like a harness (`claude`): it does what a harness does
//! (writes its state dir, reads its key, runs commands through `ftsb-fs exec`) and what an
//! attacker would (appends to `~/.bashrc`, reads `~/.ssh`, deletes the store, commits from
//! inside). Each attack prints a marker only if it succeeded.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::procs::alive;
use common::*;

fn ftsb(state: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env("XDG_STATE_HOME", state);
    c
}

/// Landlock is what these tests are about: without it they cannot pass, so they fail under CI
/// and skip loudly elsewhere.
fn landlock_or_skip() -> bool {
    if ftsb_fs::confine::probe().abi >= 6 {
        return true;
    }
    let strict = std::env::var_os("CI").is_some()
        || std::env::var_os("FTSB_REQUIRE_ALL").is_some_and(|v| v == "1");
    assert!(!strict, "Landlock ABI 6 or later is required under CI");
    eprintln!("SKIP: this kernel lacks Landlock ABI 6; run's confinement is not tested");
    false
}

/// A session's temp dirs: the workspace, a state home (the default store lives under it), a
/// fake `$HOME` with secrets, and a bin dir for the stand-in agent.
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
            .prefix("ftsb-run-")
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
        for d in [&s.ws, &s.state, &s.bin, &s.home.join(".ssh")] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(s.ws.join("kept"), "workspace\n").unwrap();
        std::fs::write(s.home.join(".bashrc"), "# rc\n").unwrap();
        std::fs::write(s.home.join(".ssh/id_ed25519"), "PRIVATE-KEY\n").unwrap();
        std::fs::write(s.home.join(".claude.json"), "{}\n").unwrap();
        s
    }

    /// Writes an executable agent script named `name` into the bin dir.
    fn agent(&self, name: &str, body: &str) -> PathBuf {
        let p = self.bin.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn run(&self, args: &[&str], agent: &[&str]) -> Output {
        let out = output(
            ftsb(&self.state)
                .env("HOME", &self.home)
                .env("ANTHROPIC_API_KEY", "sk-ant-test")
                .env("OPENAI_API_KEY", "sk-other-harness")
                .env("AWS_SECRET_ACCESS_KEY", "aws-secret")
                .env("GITHUB_TOKEN", "ghp-secret")
                .env("SSH_AUTH_SOCK", "/tmp/ssh-agent.sock")
                .arg("run")
                .arg(&self.ws)
                .args(args)
                .arg("--")
                .args(agent),
        );
        eprintln!(
            "run: {:?}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn store(&self) -> PathBuf {
        self.state.join("ftsb-fs")
    }

    fn unmount_abort(&self) {
        if ftsb_fs::daemon::mounted_workspace(&self.ws).is_some() {
            run_ok(
                ftsb(&self.state)
                    .arg("unmount")
                    .arg("--abort")
                    .arg(&self.ws),
            );
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if ftsb_fs::daemon::mounted_workspace(&self.ws).is_some() {
            let _ = output(
                ftsb(&self.state)
                    .arg("unmount")
                    .arg("--abort")
                    .arg(&self.ws),
            );
        }
        if is_mounted(&self.ws) {
            detach(&self.ws);
        }
    }
}

fn blobs(store: &Path) -> usize {
    let mut n = 0;
    let mut dirs = vec![store.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().unwrap().is_dir() {
                dirs.push(e.path());
            } else {
                n += 1;
            }
        }
    }
    n
}

#[test]
fn run_confines_the_agent_to_its_harness_profile() {
    if !landlock_or_skip() {
        return;
    }
    let s = Session::new();
    let bin = BIN;
    let store = s.store();
    let agent = s.agent(
        "claude",
        &format!(
            r#"
echo "session" > "$HOME/.claude/session.json" && echo STATE-OK
echo '{{"n":1}}' > "$HOME/.claude.json" && echo JSON-OK
[ "$ANTHROPIC_API_KEY" = sk-ant-test ] && echo KEY-OK
[ -n "$AWS_SECRET_ACCESS_KEY$GITHUB_TOKEN$SSH_AUTH_SOCK$OPENAI_API_KEY" ] && echo ATTACK-ENV
echo work > agent-file && echo VIEW-OK
[ "$FTSB_FS_VIEW" = "$PWD" ] && [ -n "$FTSB_FS_SESSION" ] && echo ENV-OK
{bin} exec "$FTSB_FS_WORKSPACE" -- sh -c 'echo via exec > via-exec' && echo EXEC-OK
{bin} exec "$FTSB_FS_WORKSPACE" -- sh -c 'echo bad > bad; exit 3'
{bin} exec "$FTSB_FS_WORKSPACE" -- rm -rf / && echo ATTACK-GATE
{bin} exec "$FTSB_FS_WORKSPACE" --keep-on-failure -- sh -c 'echo "key=[$ANTHROPIC_API_KEY]"; echo x > "$HOME/.claude/evil" && echo ATTACK-STRICT-LAYER'
echo evil >> "$HOME/.bashrc" && echo ATTACK-BASHRC
cat "$HOME/.ssh/id_ed25519" && echo ATTACK-SSH
echo evil > "$HOME/.profile" && echo ATTACK-PROFILE
rm -rf "{store}"/* ; ls "{store}" && echo ATTACK-STORE-READ
{bin} commit "$FTSB_FS_WORKSPACE" && echo ATTACK-COMMIT-SESSION
env -u FTSB_FS_CONTROL {bin} commit "$FTSB_FS_WORKSPACE" && echo ATTACK-COMMIT-DAEMON
{bin} rollback "$FTSB_FS_WORKSPACE" --to 0 && echo ATTACK-ROLLBACK
exit 5
"#,
            store = store.display()
        ),
    );
    // Mounted beforehand, so the store exists (and `run` leaves the view mounted).
    run_ok(ftsb(&s.state).arg("mount").arg(&s.ws));
    let blobs_before = blobs(&store);
    assert!(blobs_before > 0, "the mount made a store at {store:?}");
    let out = s.run(&[], &[agent.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "run returns the agent's status");
    for ok in [
        "STATE-OK", "JSON-OK", "KEY-OK", "VIEW-OK", "ENV-OK", "EXEC-OK",
    ] {
        assert!(stdout.contains(ok), "the harness's own work failed: {ok}");
    }
    assert!(!stdout.contains("ATTACK"), "an attack succeeded: {stdout}");
    assert!(!stdout.contains("PRIVATE-KEY"));
    // The strict layer: a command the agent runs through exec gets neither the agent's key
    // nor its state directory.
    assert!(stdout.contains("key=[]"), "{stdout}");
    assert!(!s.home.join(".claude/evil").exists());
    assert_eq!(
        std::fs::read_to_string(s.home.join(".bashrc")).unwrap(),
        "# rc\n"
    );
    assert!(!s.home.join(".profile").exists());
    assert_eq!(
        std::fs::read_to_string(s.home.join(".claude/session.json")).unwrap(),
        "session\n"
    );
    assert!(blobs(&store) >= blobs_before, "the store lost files");
    assert!(
        stderr.contains("not allowed inside an agent session"),
        "the session socket refused commit: {stderr}"
    );
    // Headless: the changes are kept, the view stays mounted, and the summary covers them.
    assert!(
        stderr.contains("3 commands through exec, 2 failed, 1 rolled back; 1 refused by the gate"),
        "{stderr}"
    );
    assert!(stderr.contains("ftsb-fs commit"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(s.ws.join("via-exec")).unwrap(),
        "via exec\n"
    );
    assert!(
        !s.ws.join("bad").exists(),
        "the failed exec step was rolled back"
    );
    assert_eq!(
        std::fs::read_to_string(s.ws.join("agent-file")).unwrap(),
        "work\n"
    );
    s.unmount_abort();
    assert!(!s.ws.join("agent-file").exists());
}

#[test]
fn allow_write_opens_one_more_path_and_nothing_else() {
    if !landlock_or_skip() {
        return;
    }
    let s = Session::new();
    let (cache, other) = (s.home.join(".cache/pip"), s.home.join(".cache/other"));
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::create_dir_all(&other).unwrap();
    let agent = s.agent(
        "agent",
        &format!(
            "echo x > '{}/wheel' && echo CACHE-OK\necho x > '{}/f' && echo ATTACK-OTHER\nexit 0\n",
            cache.display(),
            other.display()
        ),
    );
    let out = s.run(
        &["--allow-write", cache.to_str().unwrap()],
        &[agent.to_str().unwrap()],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("CACHE-OK"), "{stdout}");
    assert!(!stdout.contains("ATTACK"), "{stdout}");
    assert!(!other.join("f").exists());
    // Without the flag the same write is denied.
    let out = s.run(&[], &[agent.to_str().unwrap()]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("CACHE-OK"));
    // An --allow-write cannot open a credential directory.
    let ssh = s.home.join(".ssh");
    let agent = s.agent(
        "agent2",
        &format!(
            "echo x >> '{}/id_ed25519' && echo ATTACK-SSH\nexit 0\n",
            ssh.display()
        ),
    );
    let out = s.run(
        &["--allow-write", ssh.to_str().unwrap()],
        &[agent.to_str().unwrap()],
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("ATTACK"));
    assert_eq!(
        std::fs::read_to_string(ssh.join("id_ed25519")).unwrap(),
        "PRIVATE-KEY\n"
    );
}

#[test]
fn an_unknown_harness_is_refused_before_anything_runs() {
    let s = Session::new();
    let out = s.run(&["--harness", "vim"], &["sh", "-c", "echo ran > ran"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: unknown harness 'vim'"),
        "{stderr}"
    );
    assert!(!s.ws.join("ran").exists());
    assert!(ftsb_fs::daemon::mounted_workspace(&s.ws).is_none());
}

#[test]
fn run_without_confinement_lets_the_attack_through() {
    // The counter-test: the same attack without Landlock does write ~/.bashrc, so the test
    // above proves the confinement, not a quirk of the script.
    let s = Session::new();
    let agent = s.agent(
        "claude",
        "echo evil >> \"$HOME/.bashrc\" && echo ATTACK-BASHRC\n",
    );
    let out = s.run(&["--no-confine"], &[agent.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("ATTACK-BASHRC"));
    assert_eq!(
        std::fs::read_to_string(s.home.join(".bashrc")).unwrap(),
        "# rc\nevil\n"
    );
}

#[test]
fn no_process_of_the_agent_outlives_run() {
    let s = Session::new();
    // A background job, a double fork and a setsid'd daemon, each recording its pid in the
    // view and then waiting long enough to write after the session.
    let agent = s.agent(
        "claude",
        r#"
sh -c 'echo $$ > "$FTSB_FS_VIEW/pid-bg"; sleep 60; echo late > "$FTSB_FS_VIEW/late-bg"' &
sh -c '( sh -c '"'"'echo $$ > "$FTSB_FS_VIEW/pid-double"; sleep 60; echo late > "$FTSB_FS_VIEW/late-double"'"'"' & )' 
setsid sh -c 'echo $$ > "$FTSB_FS_VIEW/pid-setsid"; exec sleep 60' &
while [ ! -s "$FTSB_FS_VIEW/pid-bg" ] || [ ! -s "$FTSB_FS_VIEW/pid-double" ] || [ ! -s "$FTSB_FS_VIEW/pid-setsid" ]; do sleep 0.05; done
exit 0
"#,
    );
    let out = s.run(&[], &[agent.to_str().unwrap()]);
    assert!(out.status.success());
    for name in ["pid-bg", "pid-double", "pid-setsid"] {
        let pid: i32 = std::fs::read_to_string(s.ws.join(name))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(!alive(pid), "{name} ({pid}) outlived run");
    }
    assert!(String::from_utf8_lossy(&out.stderr).contains("killed"));
    s.unmount_abort();
}

#[test]
fn a_killed_run_takes_its_agent_with_it() {
    let s = Session::new();
    let agent = s.agent("agent", "echo $$ > \"$FTSB_FS_VIEW/pid\"\nexec sleep 60\n");
    let mut run = ftsb(&s.state)
        .env("HOME", &s.home)
        .arg("run")
        .arg(&s.ws)
        .arg("--")
        .arg(&agent)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid_file = s.ws.join("pid");
    let started = std::time::Instant::now();
    let pid: i32 = loop {
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|p| p.trim().parse().ok())
        {
            break pid;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the agent never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(alive(pid));
    run.kill().unwrap();
    run.wait().unwrap();
    let started = std::time::Instant::now();
    while alive(pid) && started.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!alive(pid), "the agent outlived a killed run");
    s.unmount_abort();
}

#[test]
fn run_returns_the_agents_status() {
    let s = Session::new();
    let missing = s.run(&[], &["no-such-agent-anywhere"]);
    assert_eq!(missing.status.code(), Some(127));
    let not_exec = s.bin.join("not-executable");
    std::fs::write(&not_exec, "#!/bin/sh\n").unwrap();
    let out = s.run(&["--no-confine"], &[not_exec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(126));
    let killed = s.agent("killed", "kill -TERM $$\n");
    let out = s.run(&[], &[killed.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(128 + 15));
    let out = s.run(&[], &["sh", "-c", "exit 42"]);
    assert_eq!(out.status.code(), Some(42));
    assert!(
        ftsb_fs::daemon::mounted_workspace(&s.ws).is_none(),
        "a session without changes takes down the view it mounted"
    );
}

#[test]
fn run_summary_covers_only_this_session() {
    let s = Session::new();
    // Changes made before the session (and kept) are not its work.
    let out = s.run(&["--no-confine"], &["sh", "-c", "echo old > before"]);
    assert!(out.status.success());
    let out = s.run(
        &["--no-confine"],
        &[
            "sh",
            "-c",
            "echo new > during && rm kept && echo more >> before",
        ],
    );
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("this session: 1 added, 1 changed, 1 deleted"),
        "{stderr}"
    );
    let out = output(
        ftsb(&s.state)
            .env("HOME", &s.home)
            .args(["--json", "run"])
            .arg(&s.ws)
            .args(["--no-confine", "--", "sh", "-c", "echo x > json-only"]),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["added"], serde_json::json!(["json-only"]), "{v}");
    assert_eq!(v["modified"], serde_json::json!([]), "{v}");
    assert_eq!(v["outcome"], "kept for review");
    s.unmount_abort();
}

#[test]
fn run_mounts_runs_and_commits_on_success_or_aborts() {
    let s = Session::new();
    let agent = "echo made by the agent > new && rm kept";
    let out = s.run(&["--commit-on-success"], &["sh", "-c", agent]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("committed"));
    assert!(
        ftsb_fs::daemon::mounted_workspace(&s.ws).is_none(),
        "nothing left to decide: the session's view is unmounted"
    );
    assert_eq!(
        std::fs::read_to_string(s.ws.join("new")).unwrap(),
        "made by the agent\n"
    );
    assert!(!s.ws.join("kept").exists());

    std::fs::write(s.ws.join("kept"), "workspace\n").unwrap();
    let out = s.run(&["--abort"], &["sh", "-c", "echo junk > junk && rm kept"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("aborted"));
    assert!(ftsb_fs::daemon::mounted_workspace(&s.ws).is_none());
    assert!(!s.ws.join("junk").exists());
    assert_eq!(
        std::fs::read_to_string(s.ws.join("kept")).unwrap(),
        "workspace\n"
    );

    // A failing agent is not committed: its changes wait for review in the mounted view.
    let out = s.run(
        &["--commit-on-success"],
        &["sh", "-c", "echo half > half; exit 7"],
    );
    assert_eq!(out.status.code(), Some(7));
    assert!(s.ws.join("half").exists());
    s.unmount_abort();
    assert!(!s.ws.join("half").exists());
}
