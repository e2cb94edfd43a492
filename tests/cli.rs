//! The command line as a user meets it, through the real binary: closed pipes, JSON errors
//! with stable codes, colour that follows `--color`/`NO_COLOR`/`CLICOLOR_FORCE`, the pager.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::*;

/// `ftsb-fs ARGS...` with stdout a pipe whose reader is already gone: every write fails with
/// EPIPE, the worst case of `| head`.
fn with_closed_stdout(mut c: Command) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    c.stdout(Stdio::from(writer)).stderr(Stdio::piped());
    c.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A mount with a diff longer than a pipe's buffer and a few log entries.
fn busy_mount() -> Mounted {
    let m = Mounted::at(sample_tree);
    let long: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
    std::fs::write(m.v("a.txt"), long).unwrap();
    m.ok(&["checkpoint", "-m", "one"]);
    std::fs::write(m.v("new.txt"), "new\n").unwrap();
    m.ok(&["checkpoint", "-m", "two"]);
    m
}

fn ftsb(m: &Mounted, args: &[&str]) -> Command {
    let mut c = m.cmd();
    c.args(args).arg(&m.ws);
    c
}

#[test]
fn a_closed_pipe_ends_quietly_with_the_commands_status() {
    let m = busy_mount();
    for args in [
        &["diff"][..],
        &["diff", "--stat"],
        &["log"],
        &["status"],
        &["--json", "diff"],
        &["--json", "log"],
    ] {
        let out = with_closed_stdout(ftsb(&m, args));
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).is_empty(), "{args:?}: {}", stderr(&out));
    }
    // A reader that reads a little and goes away while the diff is being written.
    let mut child = ftsb(&m, &["diff"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    // The diff was not stopped on its way: the view still has it all.
    assert!(m.ok(&["diff", "--stat"]).contains("a.txt"));
}

#[test]
fn a_closed_pipe_keeps_the_gate_verdict() {
    for (line, code) in [("rm -rf ~", 3), ("ls", 0)] {
        for json in [false, true] {
            let mut c = Command::new(BIN);
            if json {
                c.arg("--json");
            }
            c.args(["gate", "check", "--", line]);
            let out = with_closed_stdout(c);
            assert_eq!(out.status.code(), Some(code), "{line}: {}", stderr(&out));
            assert!(stderr(&out).is_empty(), "{line}: {}", stderr(&out));
        }
    }
    let mut c = Command::new(BIN);
    c.arg("--help");
    let out = with_closed_stdout(c);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// Runs `ftsb-fs --json ARGS...` expecting failure: stdout is one JSON object naming `code`,
/// stderr one `error:` line; returns the object.
fn json_error(c: &mut Command, code: &str, exit: i32) -> serde_json::Value {
    let out = output(c);
    assert_eq!(out.status.code(), Some(exit), "{c:?}: {}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{c:?}: stdout is not one JSON value ({e}): {}",
            stdout(&out)
        )
    });
    assert_eq!(v["code"], code, "{c:?}: {v}");
    assert_eq!(v["exit_code"], exit, "{c:?}: {v}");
    assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
    let err = stderr(&out);
    assert!(err.starts_with("error: "), "{c:?}: {err}");
    v
}

#[test]
fn json_errors_are_json_with_a_stable_code() {
    let t = tempfile::tempdir().unwrap();
    let json = |args: &[&str]| {
        let mut c = Command::new(BIN);
        c.env("XDG_STATE_HOME", t.path()).arg("--json").args(args);
        c
    };
    let v = json_error(json(&["status"]).arg(t.path()), "not_mounted", 1);
    assert!(
        v["error"].as_str().unwrap().contains("mount it first"),
        "{v}"
    );
    json_error(json(&["status"]).current_dir(t.path()), "not_mounted", 1);
    json_error(&mut json(&["no-such-verb"]), "usage", 2);
    json_error(&mut json(&["rollback"]), "usage", 2);
    let bad = t.path().join("bad.toml");
    std::fs::write(&bad, "[[rule]\nname = ").unwrap();
    let v = json_error(
        json(&["gate", "check", "--policy"])
            .arg(&bad)
            .args(["--", "ls"]),
        "policy",
        1,
    );
    assert!(v["error"].as_str().unwrap().contains(":1"), "the line: {v}");
    json_error(json(&["fsck"]).arg(t.path().join("nowhere")), "failed", 1);
    // Without --json the error is one plain line on stderr and nothing on stdout.
    let out = output(Command::new(BIN).arg("status").arg(t.path()));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "{}", stdout(&out));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
}

#[test]
fn json_errors_from_the_daemon_have_codes() {
    let m = Mounted::at(sample_tree);
    std::fs::write(m.v("a.txt"), "changed").unwrap();
    json_error(
        m.cmd()
            .args(["--json", "rollback", "--to", "99"])
            .arg(&m.ws),
        "not_found",
        1,
    );
    json_error(
        m.cmd().args(["--json", "unmount"]).arg(&m.ws),
        "uncommitted_changes",
        1,
    );
    // A command that printed its JSON result and then failed prints no second document.
    let out = output(m.cmd().args(["--json", "exec"]).arg(&m.ws).args([
        "--no-confine",
        "--",
        "/no/such/program",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not one JSON value ({e}): {}", stdout(&out)));
    assert_eq!(v["ran"], false, "{v}");
}

/// A conflict is a typed part of `status` and of the daemon's refusal: the text shows it, the
/// JSON lists it, and `commit` fails with the code `conflict`, through the daemon's own error.
#[test]
fn a_conflict_reaches_status_and_commit_with_its_code() {
    let m = Mounted::at(sample_tree);
    std::fs::write(m.v("a.txt"), "changed through the view\n").unwrap();
    std::fs::write(m.w("a.txt"), "changed outside\n").unwrap();
    let text = m.ok(&["status"]);
    let line = text
        .lines()
        .find(|l| l.starts_with("conflicts"))
        .unwrap_or_else(|| panic!("no conflicts line: {text}"));
    assert!(line.contains(" 1 "), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("  a.txt (")),
        "the conflicting path is not listed: {text}"
    );
    let v = json_error(m.cmd().args(["--json", "commit"]).arg(&m.ws), "conflict", 1);
    assert!(v["error"].as_str().unwrap().contains("a.txt"), "{v}");
    assert_eq!(
        std::fs::read_to_string(m.w("a.txt")).unwrap(),
        "changed outside\n",
        "a refused commit wrote the workspace"
    );
}

/// Every error code the command line or the daemon can give is listed in `docs/CLI.md`, and
/// the table lists no code that does not exist.
#[test]
fn every_error_code_is_documented() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/CLI.md")).unwrap();
    // The rows of the table under the header `| code | what went wrong |`.
    let documented: std::collections::BTreeSet<&str> = doc
        .lines()
        .skip_while(|l| *l != "| code | what went wrong |")
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.strip_prefix("| `")?.split_once("` |"))
        .map(|(code, _)| code)
        .collect();
    assert!(documented.len() > 10, "no code table in docs/CLI.md");
    let codes: std::collections::BTreeSet<&str> = ftsb_fs::control::Code::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    let missing: Vec<_> = codes.difference(&documented).collect();
    assert!(missing.is_empty(), "codes not in docs/CLI.md: {missing:?}");
    let unknown: Vec<_> = documented.difference(&codes).collect();
    assert!(
        unknown.is_empty(),
        "docs/CLI.md lists codes that do not exist: {unknown:?}"
    );
}

/// A daemon of another protocol version (here one from before versioning, answering in a
/// shape this version would misread) fails the command with `version_mismatch` naming both
/// versions, and a request of another version gets the same from the real daemon.
#[test]
fn a_daemon_of_another_version_fails_with_both_versions_named() {
    use std::io::{BufRead, BufReader, Write};
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
    let t = tempfile::tempdir().unwrap();
    let ws = t.path().canonicalize().unwrap();
    let name = ftsb_fs::control::socket_name(&ws);
    let listener =
        UnixListener::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
    // The command line may probe the socket first (a connection that sends nothing).
    let old = std::thread::spawn(move || {
        for stream in listener.incoming() {
            let stream = stream.unwrap();
            let mut line = String::new();
            BufReader::new(stream.try_clone().unwrap())
                .read_line(&mut line)
                .unwrap();
            if line.is_empty() {
                continue;
            }
            let mut w = stream;
            w.write_all(b"{\"ok\":true,\"result\":{\"view\":7}}\n")
                .unwrap();
            return;
        }
    });
    let mut c = Command::new(BIN);
    c.env("XDG_STATE_HOME", t.path())
        .arg("--json")
        .arg("status")
        .arg(&ws);
    let v = json_error(&mut c, "version_mismatch", 1);
    let msg = v["error"].as_str().unwrap();
    assert!(
        msg.contains("protocol 1") && msg.contains("speaks 2"),
        "both versions are not named: {msg}"
    );
    old.join().unwrap();

    let m = Mounted::at(sample_tree);
    std::fs::write(m.v("a.txt"), "kept\n").unwrap();
    let mut daemon = UnixStream::connect_addr(
        &SocketAddr::from_abstract_name(ftsb_fs::control::socket_name(&m.ws).as_bytes()).unwrap(),
    )
    .unwrap();
    daemon.write_all(b"{\"op\":\"abort\"}\n").unwrap();
    let mut answer = String::new();
    BufReader::new(daemon.try_clone().unwrap())
        .read_line(&mut answer)
        .unwrap();
    let frame: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(frame["ok"], false, "{answer}");
    assert_eq!(frame["code"], "version_mismatch", "{answer}");
    let msg = frame["error"].as_str().unwrap();
    assert!(
        msg.contains("protocol 1") && msg.contains("speaks 2"),
        "{msg}"
    );
    assert_eq!(
        std::fs::read_to_string(m.v("a.txt")).unwrap(),
        "kept\n",
        "a request of another version was carried out"
    );
}

fn has_escapes(s: &[u8]) -> bool {
    s.contains(&0x1b)
}

#[test]
fn colour_follows_the_flag_then_the_environment() {
    let m = Mounted::at(sample_tree);
    std::fs::write(m.v("a.txt"), "changed\n").unwrap();
    let diff = |flags: &[&str], env: &[(&str, &str)]| {
        let mut c = m.cmd();
        c.env_remove("NO_COLOR")
            .env_remove("CLICOLOR")
            .env_remove("CLICOLOR_FORCE")
            .envs(env.iter().copied())
            .args(flags)
            .arg("diff")
            .arg(&m.ws);
        let out = run_ok(&mut c);
        assert!(stdout(&out).contains("+changed"), "{}", stdout(&out));
        has_escapes(&out.stdout)
    };
    assert!(!diff(&[], &[]), "a pipe gets no colour");
    assert!(diff(&["--color", "always"], &[]));
    assert!(
        diff(&["--color=always"], &[("NO_COLOR", "1")]),
        "the flag wins"
    );
    assert!(diff(&[], &[("CLICOLOR_FORCE", "1")]));
    assert!(!diff(&[], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]));
    assert!(!diff(&["--color", "never"], &[("CLICOLOR_FORCE", "1")]));
    // Errors follow the same rules on stderr.
    let out = output(
        Command::new(BIN)
            .env("NO_COLOR", "1")
            .env("CLICOLOR_FORCE", "1")
            .args(["status", "/nonexistent-ws"]),
    );
    assert!(!has_escapes(&out.stderr), "{}", stderr(&out));
    let out = output(Command::new(BIN).args(["--color", "always", "status", "/nonexistent-ws"]));
    assert!(has_escapes(&out.stderr), "{}", stderr(&out));
}

#[test]
fn the_daemon_log_has_no_escape_codes() {
    let mut m = Mounted::at(sample_tree);
    m.unmount_abort();
    // Whatever the environment asks of colour, a log file is plain text.
    let out = output(
        m.mount_cmd()
            .env("CLICOLOR_FORCE", "1")
            .env("RUST_LOG", "debug"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    m.adopt(&out);
    std::fs::write(m.v("x"), "x").unwrap();
    m.unmount_abort();
    let log = std::fs::read(m.store.join("daemon.log")).unwrap();
    assert!(!log.is_empty(), "the daemon logged nothing at debug");
    assert!(
        !has_escapes(&log),
        "{}",
        String::from_utf8_lossy(&log[..log.len().min(2000)])
    );
}

/// Runs `script` on a pseudo-terminal, so the command's stdout is a terminal.
fn on_terminal(m: &Mounted, line: &str, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new("script");
    c.args(["-qec", line, "/dev/null"])
        .env("XDG_STATE_HOME", &m.state)
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    output(&mut c)
}

fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

#[test]
fn long_output_is_paged_on_a_terminal_only() {
    if !have("script") {
        return;
    }
    let m = Mounted::at(sample_tree);
    std::fs::write(m.v("a.txt"), "paged line\n").unwrap();
    m.ok(&["checkpoint", "-m", "for the log"]);
    let paged = m.root.path().join("paged");
    let pager = format!("cat > {}", quote(&paged));
    let bin = quote(Path::new(BIN));
    let ws = quote(&m.ws);
    for verb in ["diff", "log"] {
        let _ = std::fs::remove_file(&paged);
        let out = on_terminal(&m, &format!("{bin} {verb} {ws}"), &[("PAGER", &pager)]);
        assert!(out.status.success(), "{verb}: {}", stdout(&out));
        let text = std::fs::read_to_string(&paged)
            .unwrap_or_else(|e| panic!("{verb} was not paged ({e}): {}", stdout(&out)));
        assert!(!text.is_empty(), "{verb}: the pager got nothing");
        if verb == "diff" {
            assert!(text.contains("+paged line"), "{text}");
        }
        // --no-pager, and a pipe, print directly.
        std::fs::remove_file(&paged).unwrap();
        let out = on_terminal(
            &m,
            &format!("{bin} --no-pager {verb} {ws}"),
            &[("PAGER", &pager)],
        );
        assert!(out.status.success());
        assert!(!paged.exists(), "{verb} --no-pager paged");
        run_ok(ftsb(&m, &[verb]).env("PAGER", &pager));
        assert!(!paged.exists(), "{verb} into a pipe paged");
    }
}

/// The child side of the next test: a test that cannot run.
#[test]
fn skip_child() {
    if std::env::var_os("FTSB_SKIP_CHILD").is_some() {
        skip("the child test", "it was asked to skip");
    }
}

#[test]
fn a_skipped_test_fails_under_ci_and_says_so_otherwise() {
    let child = |env: &[(&str, &str)]| {
        let mut c = Command::new(std::env::current_exe().unwrap());
        c.args(["skip_child", "--exact", "--nocapture"])
            .env("FTSB_SKIP_CHILD", "1")
            .env_remove("CI")
            .env_remove("FTSB_REQUIRE_ALL")
            .envs(env.iter().copied());
        let out = output(&mut c);
        (out.status.success(), stdout(&out) + &stderr(&out))
    };
    let (ok, text) = child(&[]);
    assert!(ok, "{text}");
    assert!(text.contains("SKIP: the child test did not run"), "{text}");
    for env in [[("CI", "true")], [("FTSB_REQUIRE_ALL", "1")]] {
        let (ok, text) = child(&env);
        assert!(!ok, "{env:?}: a skip passed: {text}");
        assert!(text.contains("the child test could not run"), "{text}");
    }
    let (ok, text) = child(&[("CI", "false")]);
    assert!(ok, "{text}");
}

#[test]
fn completions_generate_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run_ok(Command::new(BIN).args(["completions", shell]));
        let script = stdout(&out);
        for word in [
            "unmount",
            "checkpoint",
            "rollback",
            "no-pager",
            "completions",
        ] {
            assert!(script.contains(word), "{shell}: no {word}:\n{script}");
        }
        if shell == "bash" {
            // The script parses.
            let t = tempfile::tempdir().unwrap();
            let f = t.path().join("ftsb-fs.bash");
            std::fs::write(&f, &script).unwrap();
            run_ok(Command::new("bash").arg("-n").arg(&f));
        }
    }
    let out = output(Command::new(BIN).args(["completions", "tcsh"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn man_pages_generate_one_per_command() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("man1");
    let out = run_ok(Command::new(BIN).args(["--json", "manpages"]).arg(&dir));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let written = v["written"].as_array().unwrap();
    for (page, needle) in [
        ("ftsb-fs.1", "unmount"),
        ("ftsb-fs-mount.1", "\\-\\-at"),
        ("ftsb-fs-diff.1", "\\-\\-stat"),
        ("ftsb-fs-gate-check.1", "\\-\\-policy"),
    ] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        assert!(
            text.starts_with(".ie") || text.contains(".TH"),
            "{page}: {text}"
        );
        assert!(text.contains(needle), "{page} lacks {needle}: {text}");
        assert!(
            written.iter().any(|w| w.as_str().unwrap().ends_with(page)),
            "{v}"
        );
    }
    assert!(!dir.join("ftsb-fs-help.1").exists());
}

/// Kills and reaps a helper process on drop, so a failing test leaves no view busy.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn unmount_of_a_busy_view_names_who_holds_it() {
    let mut m = Mounted::at(sample_tree);
    // A process elsewhere sits in the view.
    let sleeper = Reaped(
        Command::new("sleep")
            .arg("600")
            .current_dir(m.v("dir"))
            .spawn()
            .unwrap(),
    );
    let out = output(m.cmd().args(["--json", "unmount", "--abort"]).arg(&m.ws));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["code"], "busy", "{v}");
    let msg = v["error"].as_str().unwrap();
    assert!(
        msg.contains(&format!("sleep (pid {})", sleeper.0.id())),
        "{msg}"
    );
    assert!(msg.contains("working directory inside it"), "{msg}");
    drop(sleeper);
    // The shell the command was typed in sits in the view (and the command itself, which
    // steps out of the way by itself).
    let script = format!(
        "cd {} && {} unmount --abort {}; echo rc=$?",
        quote(&m.v("dir")),
        quote(Path::new(BIN)),
        quote(&m.ws)
    );
    let out = output(
        Command::new("sh")
            .arg("-c")
            .arg(&script)
            .env("XDG_STATE_HOME", &m.state),
    );
    let text = stdout(&out) + &stderr(&out);
    assert!(text.contains("rc=1"), "{text}");
    assert!(
        text.contains("your shell's working directory is inside it"),
        "{text}"
    );
    assert!(text.contains("cd out of it first"), "{text}");
    assert_eq!(stderr(&out).lines().count(), 1, "{text}");
    // Out of the view, it unmounts.
    let out = m.unmount_abort();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn an_in_place_mount_warns_about_processes_left_on_the_real_files() {
    let mut m = Mounted::in_place(sample_tree);
    m.unmount_abort();
    let sleeper = Reaped(
        Command::new("sleep")
            .arg("600")
            .current_dir(m.ws.join("dir"))
            .spawn()
            .unwrap(),
    );
    let out = run_ok(&mut m.mount_cmd());
    m.adopt(&out);
    let err = stderr(&out);
    assert!(err.starts_with("warning: "), "{err}");
    assert!(
        err.contains(&format!("sleep (pid {})", sleeper.0.id())),
        "{err}"
    );
    assert!(err.contains("keeps seeing the real files"), "{err}");
    // Nobody inside: no warning.
    drop(sleeper);
    m.unmount_abort();
    let out = run_ok(&mut m.mount_cmd());
    m.adopt(&out);
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn a_user_who_may_not_open_dev_fuse_is_told_so_before_anything_starts() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if !require(
        is_root(),
        "the /dev/fuse refusal test",
        "not root (it runs the CLI as nobody)",
    ) || !have("setpriv")
    {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let base = t.path().canonicalize().unwrap();
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
    for d in ["ws", "view", "state"] {
        std::fs::create_dir(base.join(d)).unwrap();
        std::os::unix::fs::chown(base.join(d), Some(65534), Some(65534)).unwrap();
    }
    let out = output(
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
            .args(["--json", "mount"])
            .arg(base.join("ws"))
            .arg("--at")
            .arg(base.join("view"))
            .env("XDG_STATE_HOME", base.join("state"))
            .env("XDG_CONFIG_HOME", base.join("state")),
    );
    let dev = std::fs::metadata("/dev/fuse").unwrap();
    let others_may = dev.mode() & 0o006 == 0o006 || dev.uid() == 65534;
    if others_may {
        // Usable by everyone: no refusal (the mount itself then needs fusermount3).
        assert!(
            !stderr(&out).contains("may not open /dev/fuse"),
            "{}",
            stderr(&out)
        );
        if out.status.success() {
            let _ = Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
                .args(["unmount", "--abort"])
                .arg(base.join("ws"))
                .output();
        }
        return;
    }
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["code"], "permission_denied", "{v}");
    let msg = v["error"].as_str().unwrap();
    assert!(msg.contains("may not open /dev/fuse"), "{msg}");
    assert!(msg.contains("chmod 0666 /dev/fuse"), "{msg}");
    assert!(!is_mounted(&base.join("view")));
    // Refused before a daemon or a store was started.
    assert!(
        std::fs::read_dir(base.join("state"))
            .unwrap()
            .next()
            .is_none()
    );
}

#[test]
fn status_and_log_speak_plainly() {
    let m = Mounted::at(sample_tree);
    std::fs::write(m.v("a.txt"), "one change").unwrap();
    let status = m.ok(&["status"]);
    assert!(status.contains("1 changed path, "), "{status}");
    assert!(!status.contains("entries"), "{status}");
    run_ok(m.cmd().arg("exec").arg(&m.ws).args([
        "--no-confine",
        "--",
        "sh",
        "-c",
        "echo two > b.txt",
    ]));
    let log = m.ok(&["log"]);
    let exec = log
        .lines()
        .find(|l| l.contains(" exec "))
        .unwrap_or_else(|| panic!("no exec line: {log}"));
    assert_eq!(exec.matches("echo two > b.txt").count(), 1, "{exec}");
    assert!(!log.contains("entries="), "{log}");
    assert!(!log.contains(" 1 paths"), "{log}");
}

#[test]
fn verbosity_and_rust_log_reach_the_command_line() {
    let m = Mounted::at(sample_tree);
    let status = |flags: &[&str], env: &[(&str, &str)]| {
        let mut c = m.cmd();
        c.env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .args(flags)
            .arg("status")
            .arg(&m.ws);
        stderr(&run_ok(&mut c))
    };
    assert_eq!(status(&[], &[]), "");
    assert!(status(&["-vv"], &[]).contains("the daemon answered"));
    assert!(status(&[], &[("RUST_LOG", "debug")]).contains("the daemon answered"));
    assert_eq!(
        status(&["-vv"], &[("RUST_LOG", "error")]),
        "",
        "RUST_LOG wins"
    );
    assert_eq!(status(&["-q"], &[]), "");
    assert!(!has_escapes(
        status(&["-vv"], &[("CLICOLOR_FORCE", "1")]).as_bytes()
    ));
}
