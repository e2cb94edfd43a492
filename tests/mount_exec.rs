//! `exec`: one command as one transaction. A failing command's changes are rolled back
//! bit-exactly, a succeeding one's are kept, `--keep-on-failure` keeps them, a killed `exec`
//! rolls back, and the log names the command and its exit code.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::process::Output;
use std::time::{Duration, Instant};

use common::*;

const FAILING: &str = "echo x > f; echo more >> a.txt; chmod 600 b.txt; rm -rf dir; exit 3";

/// `ftsb-fs exec WS [flags] -- sh -c SCRIPT`.
fn exec(m: &Mounted, flags: &[&str], script: &str) -> Output {
    let mut c = m.cmd();
    c.arg("exec")
        .arg(&m.ws)
        .args(flags)
        .args(["--", "sh", "-c", script]);
    output(&mut c)
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

/// The log row of the command whose line contains `needle`.
fn logged(m: &Mounted, needle: &str) -> serde_json::Value {
    let out = m.ok(&["--json", "log"]);
    serde_json::from_str::<serde_json::Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["command"].as_str().is_some_and(|c| c.contains(needle)))
        .unwrap_or_else(|| panic!("the log does not list {needle:?}: {out}"))
        .clone()
}

#[test]
fn failing_command_is_rolled_back_bit_exactly() {
    for confine in [true, false] {
        let m = Mounted::at(sample_tree);
        let ws_before = tree(&m.ws, EXACT);
        // A change made before the command stays: rollback returns to the state before it.
        std::fs::write(m.v("earlier"), "made before exec").unwrap();
        let view_before = tree(&m.view, EXACT);
        let flags: &[&str] = if confine { &[] } else { &["--no-confine"] };
        let out = exec(&m, flags, FAILING);
        assert_eq!(code(&out), Some(3), "{out:?}");
        assert_trees_eq(
            "view after a failed exec",
            &view_before,
            &tree(&m.view, EXACT),
        );
        assert_trees_eq("workspace", &ws_before, &tree(&m.ws, EXACT));
        let entry = logged(&m, "rm -rf dir");
        assert_eq!(entry["exit_code"], 3, "{entry}");
        let text = m.ok(&["log"]);
        assert!(
            text.contains("exit=3") && text.contains("rm -rf dir"),
            "{text}"
        );
        check_isolation_then_abort(&m, &ws_before);
    }
}

#[test]
fn succeeding_command_keeps_its_changes() {
    let m = Mounted::at(sample_tree);
    let ws_before = tree(&m.ws, EXACT);
    let out = exec(&m, &[], "echo y > g; mkdir d2; mv a.txt d2/; rm -rf dir");
    assert_eq!(code(&out), Some(0), "{out:?}");
    assert_eq!(std::fs::read_to_string(m.v("g")).unwrap(), "y\n");
    assert_eq!(std::fs::read_to_string(m.v("d2/a.txt")).unwrap(), "alpha\n");
    assert!(!m.v("dir").exists() && !m.v("a.txt").exists());
    let entry = logged(&m, "echo y > g");
    assert_eq!(entry["exit_code"], 0, "{entry}");
    check_isolation_then_abort(&m, &ws_before);
}

#[test]
fn keep_on_failure_keeps_the_changes() {
    let m = Mounted::at(sample_tree);
    let ws_before = tree(&m.ws, EXACT);
    let out = exec(&m, &["--keep-on-failure"], FAILING);
    assert_eq!(code(&out), Some(3), "{out:?}");
    assert_eq!(std::fs::read_to_string(m.v("f")).unwrap(), "x\n");
    assert_eq!(
        std::fs::read_to_string(m.v("a.txt")).unwrap(),
        "alpha\nmore\n"
    );
    assert!(!m.v("dir").exists());
    check_isolation_then_abort(&m, &ws_before);
}

#[test]
fn killed_exec_rolls_back() {
    let m = Mounted::at(sample_tree);
    let ws_before = tree(&m.ws, EXACT);
    let view_before = tree(&m.view, EXACT);
    let mut c = m.cmd();
    c.arg("exec").arg(&m.ws).args([
        "--",
        "sh",
        "-c",
        "echo partial > p; rm dir/c.txt; echo more >> a.txt; exec sleep 60",
    ]);
    // A killed exec cannot remove its TMPDIR: keep it inside this test's temp dir.
    c.env("TMPDIR", m.root.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = c.spawn().unwrap();
    let started = Instant::now();
    while !m.v("p").exists() || m.v("dir/c.txt").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the command never ran"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    child.kill().unwrap();
    child.wait().unwrap();
    let started = Instant::now();
    loop {
        // The rollback runs while this walks the view: a name listed just before it goes
        // may be gone when it is looked at, which only means "not yet".
        let Ok(now) = std::panic::catch_unwind(|| tree(&m.view, EXACT)) else {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "the view never settled"
            );
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        if now == view_before {
            break;
        }
        if started.elapsed() > Duration::from_secs(15) {
            assert_trees_eq("view after killing exec", &view_before, &now);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check_isolation_then_abort(&m, &ws_before);
}

#[test]
fn rollback_of_a_failed_exec_forgets_cached_names_and_pages() {
    let m = Mounted::at(sample_tree);
    // Warm the kernel's caches of what the command will change.
    assert_eq!(std::fs::read_to_string(m.v("a.txt")).unwrap(), "alpha\n");
    assert!(!m.v("f").exists());
    assert!(m.v("dir/c.txt").exists());
    let out = exec(
        &m,
        &[],
        "echo x > f; cat f; echo more >> a.txt; cat a.txt; rm -rf dir; ls dir; exit 3",
    );
    assert_eq!(code(&out), Some(3), "{out:?}");
    assert!(
        !m.v("f").exists(),
        "a file made by the failed command is still there"
    );
    assert_eq!(std::fs::read_to_string(m.v("a.txt")).unwrap(), "alpha\n");
    assert_eq!(
        std::fs::read_to_string(m.v("dir/c.txt")).unwrap(),
        "charlie\n"
    );
}

/// The names in directory `dir`, sorted (read through the kernel, which may keep listings).
fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn rollback_and_abort_drop_the_directory_listings_the_kernel_keeps() {
    let m = Mounted::at(sample_tree);
    let ws_before = tree(&m.ws, EXACT);
    // Warm the kernel's kept listings of the directories the commands change.
    let (root, sub) = (listing(&m.view), listing(&m.v("dir")));
    for _ in 0..3 {
        assert_eq!(listing(&m.view), root);
    }
    let out = exec(
        &m,
        &[],
        "touch new; rm b.txt; mkdir d2; touch dir/x; rm dir/c.txt; ls; ls dir; exit 5",
    );
    assert_eq!(code(&out), Some(5), "{out:?}");
    assert_eq!(listing(&m.view), root, "root listing after the rollback");
    assert_eq!(listing(&m.v("dir")), sub, "dir listing after the rollback");
    // The same through a successful command, then abort.
    let out = exec(&m, &[], "touch new; rm b.txt; touch dir/x; ls; ls dir");
    assert_eq!(code(&out), Some(0), "{out:?}");
    assert!(listing(&m.view).contains(&"new".to_owned()));
    assert!(listing(&m.v("dir")).contains(&"x".to_owned()));
    m.ok(&["abort"]);
    assert_eq!(listing(&m.view), root, "root listing after abort");
    assert_eq!(listing(&m.v("dir")), sub, "dir listing after abort");
    check_isolation_then_abort(&m, &ws_before);
}

#[test]
fn failed_exec_of_a_real_tool_is_rolled_back_bit_exactly() {
    if !have("git") {
        return;
    }
    let m = Mounted::at(sample_tree);
    let ws_before = tree(&m.ws, EXACT);
    let view_before = tree(&m.view, EXACT);
    let script = "export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null \
        GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@e GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@e; \
        git init -q && git add . && git commit -qm one && mv dir moved && \
        git add -A && git commit -qm two && git gc -q && ls .git/objects/pack/*.pack && false";
    let out = exec(&m, &[], script);
    assert_eq!(code(&out), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(".pack"),
        "the command did not get as far as gc: {out:?}"
    );
    assert!(!m.v(".git").exists());
    assert_trees_eq(
        "view after the failed exec",
        &view_before,
        &tree(&m.view, EXACT),
    );
    // The same command, succeeding, keeps a working repository.
    let out = exec(&m, &[], &script.replace(" && false", ""));
    assert_eq!(code(&out), Some(0), "{out:?}");
    assert!(m.v(".git/HEAD").is_file() && m.v("moved/c.txt").is_file());
    check_isolation_then_abort(&m, &ws_before);
}

#[test]
fn exec_runs_in_the_matching_directory_of_the_view() {
    let m = Mounted::at(sample_tree);
    let ws_before = tree(&m.ws, EXACT);
    // From a directory of the view (the workspace found from it), and from the same
    // directory of the workspace (named, since with --at that is outside the view).
    for (cwd, name) in [(m.v("dir/sub"), "from-view"), (m.w("dir"), "from-ws")] {
        let mut c = m.cmd();
        c.arg("exec");
        if name == "from-ws" {
            c.arg(&m.ws);
        }
        c.args(["--", "sh", "-c"])
            .arg(format!("pwd > {name}"))
            .current_dir(&cwd);
        let out = output(&mut c);
        assert_eq!(code(&out), Some(0), "{out:?}");
    }
    assert_eq!(
        std::fs::read_to_string(m.v("dir/sub/from-view"))
            .unwrap()
            .trim(),
        m.v("dir/sub").to_str().unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(m.v("dir/from-ws")).unwrap().trim(),
        m.v("dir").to_str().unwrap()
    );
    check_isolation_then_abort(&m, &ws_before);
}

#[test]
fn kept_exec_changes_commit_to_the_workspace() {
    let m = Mounted::at(sample_tree);
    let out = exec(
        &m,
        &[],
        "echo y > g; mkdir d2; mv a.txt d2/; rm -rf dir; chmod 700 run.sh",
    );
    assert_eq!(code(&out), Some(0), "{out:?}");
    let out = exec(&m, &[], FAILING);
    assert_eq!(code(&out), Some(3), "{out:?}");
    let shown = tree(&m.view, EXACT);
    m.commit();
    assert_trees_eq("workspace after commit", &shown, &tree(&m.ws, EXACT));
    assert_eq!(std::fs::read_to_string(m.w("g")).unwrap(), "y\n");
    assert!(!m.w("f").exists() && !m.w("dir").exists());
}

/// A confined command has no CAP_FSETID, so the kernel flags its writes for the daemon to
/// clear setuid and setgid: a plain file must still take the write (it failed with EIO), and
/// a setuid one must lose the bit, as on a local filesystem.
#[test]
fn regression_confined_writes_kill_setuid_and_keep_plain_files_writable() {
    use std::os::unix::fs::PermissionsExt;
    let m = Mounted::at(|ws| {
        sample_tree(ws);
        std::fs::write(ws.join("tool"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(ws.join("tool"), std::fs::Permissions::from_mode(0o4755)).unwrap();
    });
    let ws_before = tree(&m.ws, EXACT);
    let out = exec(&m, &[], "echo more >> a.txt && echo '# patched' >> tool");
    assert_eq!(code(&out), Some(0), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(m.v("a.txt")).unwrap(),
        "alpha\nmore\n"
    );
    assert_eq!(
        std::fs::read_to_string(m.v("tool")).unwrap(),
        "#!/bin/sh\n# patched\n"
    );
    let mode = std::fs::metadata(m.v("tool")).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o7777,
        0o755,
        "setuid must be cleared by the write: {mode:o}"
    );
    check_isolation_then_abort(&m, &ws_before);
}

/// The gate judges what `exec` would run, before anything runs: a denied line exits 3 and
/// leaves no trace, an ordinary one runs.
#[test]
fn the_gate_stops_a_denied_command_before_it_runs() {
    let m = Mounted::at(sample_tree);
    let ws_before = tree(&m.ws, EXACT);
    let view_before = tree(&m.view, EXACT);
    let out = exec(&m, &[], "touch marker; r''m -rf ~");
    assert_eq!(code(&out), Some(3), "{out:?}");
    assert!(!m.v("marker").exists(), "a denied command must never run");
    assert_trees_eq(
        "view after a denied exec",
        &view_before,
        &tree(&m.view, EXACT),
    );
    let out = exec(&m, &[], "touch marker && rm -rf dir");
    assert_eq!(code(&out), Some(0), "{out:?}");
    assert!(m.v("marker").exists());
    check_isolation_then_abort(&m, &ws_before);
}

#[test]
fn a_policy_file_with_a_syntax_error_names_its_line_and_nothing_runs() {
    let m = Mounted::at(sample_tree);
    let ws_before = tree(&m.ws, EXACT);
    let view_before = tree(&m.view, EXACT);
    let policy = m.root.path().join("policy.toml");
    std::fs::write(&policy, "[settings]\nask = \"ask\"\n\n[[rule]\nid = 1\n").unwrap();
    let flag = policy.to_str().unwrap();
    let out = exec(&m, &["--policy", flag], "touch marker");
    assert_error(&out, &format!("{flag}:4:"));
    assert!(
        !m.v("marker").exists(),
        "the command ran under a broken policy"
    );
    assert_trees_eq(
        "view after a refused exec",
        &view_before,
        &tree(&m.view, EXACT),
    );
    assert_eq!(
        std::fs::read_to_string(&policy).unwrap(),
        "[settings]\nask = \"ask\"\n\n[[rule]\nid = 1\n"
    );
    check_isolation_then_abort(&m, &ws_before);
}
