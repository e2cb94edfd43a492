//! Per-command isolation on a real mount: a failing `exec` rolls back only what its own
//! process tree wrote, while a second `exec` runs in parallel and the user edits the view.
//!
//! The outcome table (what each test asserts, path by path):
//!
//! | path          | written by                     | after session A fails       |
//! |---------------|--------------------------------|-----------------------------|
//! | `a.txt`       | A (append)                     | reverted to the checkpoint  |
//! | `a_new.txt`   | A (create)                     | gone again                  |
//! | `gone.txt`    | A (delete)                     | back                        |
//! | `b.txt`       | B (append), B succeeds         | kept                        |
//! | `b_new.txt`   | B (create)                     | kept                        |
//! | `c.txt`       | the user (append)              | kept                        |
//! | `user.txt`    | the user (create)              | kept                        |
//! | `shared.txt`  | A, then B                      | kept, reported as conflict  |
//! | `mixed.txt`   | A, then the user               | kept, reported as conflict  |
//! | `held.txt`    | A (chmod), the user through a descriptor opened before A began | kept, reported as conflict |

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;
use ftsb_fs::confine::cgroup;

fn fill(ws: &std::path::Path) {
    for (name, body) in [
        ("a.txt", "a\n"),
        ("b.txt", "b\n"),
        ("c.txt", "c\n"),
        ("shared.txt", "s\n"),
        ("mixed.txt", "m\n"),
        ("gone.txt", "g\n"),
        ("held.txt", "h\n"),
    ] {
        std::fs::write(ws.join(name), body).unwrap();
    }
}

/// `exec --json WS -- sh -c SCRIPT`, started in the background.
fn spawn_exec(m: &Mounted, script: &str, env: &[(&str, &str)]) -> Child {
    let mut c = m.cmd();
    c.args(["--json", "exec"])
        .arg(&m.ws)
        .args(["--", "sh", "-c", script])
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c.spawn().unwrap()
}

fn finish(child: Child) -> serde_json::Value {
    let out = child.wait_with_output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"))
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(30), "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read(m: &Mounted, rel: &str) -> Option<String> {
    std::fs::read_to_string(m.v(rel)).ok()
}

/// Runs the scenario of the module's table with `env` given to both `exec`s.
fn two_sessions_and_the_user(env: &[(&str, &str)]) -> serde_json::Value {
    let m = Mounted::at(fill);
    // The user's editor holds a file open for writing from before A begins: its writes may
    // pass through the kernel without a request (a file the view already changed has a
    // working file, which the kernel is given to write itself).
    std::fs::write(m.v("held.txt"), "h\n").unwrap();
    let mut held = std::fs::OpenOptions::new()
        .append(true)
        .open(m.v("held.txt"))
        .unwrap();
    let a = spawn_exec(
        &m,
        "echo A > a_new.txt; echo A >> a.txt; rm gone.txt; echo A > shared.txt; \
         echo A >> mixed.txt; chmod 600 held.txt; touch a.ready; \
         while [ ! -e go ]; do sleep 0.05; done; exit 1",
        env,
    );
    wait_for("session A wrote", || m.v("a.ready").exists());
    // Session B, in parallel with A, succeeds.
    let b = finish(spawn_exec(
        &m,
        "echo B >> b.txt; echo B > b_new.txt; echo B >> shared.txt",
        env,
    ));
    assert_eq!(b["exit_code"], 0, "{b}");
    assert_eq!(b["rolled_back"], false, "{b}");
    // The user edits the view meanwhile.
    std::fs::write(m.v("user.txt"), "U\n").unwrap();
    let append = |rel: &str, what: &str| {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(m.v(rel))
            .unwrap();
        f.write_all(what.as_bytes()).unwrap();
    };
    std::io::Write::write_all(&mut held, b"U\n").unwrap();
    append("c.txt", "U\n");
    append("mixed.txt", "U\n");
    std::fs::write(m.v("go"), "").unwrap();
    let a = finish(a);
    // Closed only after A's rollback: only the descriptor held across A's start says the
    // user may have written it.
    drop(held);

    let table = [
        ("a.txt", read(&m, "a.txt"), Some("a\n")),
        ("a_new.txt", read(&m, "a_new.txt"), None),
        ("a.ready", read(&m, "a.ready"), None),
        ("gone.txt", read(&m, "gone.txt"), Some("g\n")),
        ("b.txt", read(&m, "b.txt"), Some("b\nB\n")),
        ("b_new.txt", read(&m, "b_new.txt"), Some("B\n")),
        ("c.txt", read(&m, "c.txt"), Some("c\nU\n")),
        ("user.txt", read(&m, "user.txt"), Some("U\n")),
        ("shared.txt", read(&m, "shared.txt"), Some("A\nB\n")),
        ("mixed.txt", read(&m, "mixed.txt"), Some("m\nA\nU\n")),
        ("held.txt", read(&m, "held.txt"), Some("h\nU\n")),
        ("go", read(&m, "go"), Some("")),
    ];
    eprintln!("path        | after A failed");
    for (path, got, _) in &table {
        eprintln!("{path:<11} | {got:?}");
    }
    for (path, got, want) in &table {
        assert_eq!(got.as_deref(), *want, "{path} after A's rollback: {a}");
    }
    assert_eq!(a["exit_code"], 1, "{a}");
    assert_eq!(a["rolled_back"], true, "{a}");
    assert_eq!(a["rollback_scope"], "paths", "{a}");
    assert_eq!(
        a["conflicts"],
        serde_json::json!(["held.txt", "mixed.txt", "shared.txt"]),
        "{a}"
    );
    let reverted: Vec<&str> = a["reverted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for p in ["a.txt", "a_new.txt", "gone.txt", "a.ready"] {
        assert!(reverted.contains(&p), "{p} not reverted: {a}");
    }
    for p in ["b.txt", "b_new.txt", "c.txt", "user.txt", "go"] {
        assert!(!reverted.contains(&p), "{p} reverted: {a}");
    }
    m.abort();
    a
}

/// With a cgroup per command (where one is writable), writes are attributed by cgroup.
#[test]
fn a_failing_exec_reverts_only_its_own_writes() {
    let a = two_sessions_and_the_user(&[]);
    let m = Mounted::at(fill);
    let mut c = m.cmd();
    c.args(["--json", "exec"]).arg(&m.ws).args(["--", "true"]);
    let v: serde_json::Value = serde_json::from_slice(&run_ok(&mut c).stdout).unwrap();
    let cgroups = v["processes"]["containment"] == "cgroup";
    m.abort();
    require(
        cgroups,
        "attribution by cgroup",
        &format!("exec ran without a cgroup here: {a}"),
    );
}

/// Without cgroups, writes are attributed by process ancestry up to each `exec`.
#[test]
fn without_cgroups_attribution_follows_the_process_tree() {
    two_sessions_and_the_user(&[(cgroup::DISABLE_ENV, "off")]);
}

/// A failing exec that is the only writer since its checkpoint rolls the whole view back,
/// as before: nothing anyone else wrote can be lost.
#[test]
fn a_lone_failing_exec_rolls_everything_back() {
    let m = Mounted::at(fill);
    let before = tree(&m.view, EXACT);
    let v = finish(spawn_exec(&m, "echo x >> a.txt; rm b.txt; exit 2", &[]));
    assert_eq!(v["rolled_back"], true, "{v}");
    assert_eq!(v["rollback_scope"], "all", "{v}");
    assert_trees_eq(
        "view after a lone failed exec",
        &before,
        &tree(&m.view, EXACT),
    );
    m.abort();
}

/// The user writes while a session runs, then the session's `exec` is SIGKILLed: the daemon
/// rolls back only the session's paths (its cgroup killed first, where it has one).
#[test]
fn a_killed_exec_reverts_only_its_own_writes() {
    let m = Mounted::at(fill);
    let mut c = m.cmd();
    c.arg("exec")
        .arg(&m.ws)
        .args(["--", "sh", "-c"])
        .arg("echo A >> a.txt; echo A > a_new.txt; touch a.ready; exec sleep 60")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut exec = c.spawn().unwrap();
    wait_for("the session wrote", || m.v("a.ready").exists());
    std::fs::write(m.v("user.txt"), "U\n").unwrap();
    exec.kill().unwrap();
    exec.wait().unwrap();
    wait_for("the daemon rolled back", || !m.v("a.ready").exists());
    assert_eq!(read(&m, "a.txt").as_deref(), Some("a\n"));
    assert_eq!(read(&m, "a_new.txt"), None);
    assert_eq!(read(&m, "user.txt").as_deref(), Some("U\n"));
    m.abort();
}
