//! The cgroup containment of `run`, attacked on a real mount: an agent daemonizes writers
//! (`setsid` after a double fork, `nohup`, bash's `disown`), then its session ends from outside
//! (`run` is SIGKILLed, the user aborts, commits or unmounts). Every writer is dead before the
//! daemon acts, and the view shows none of its later writes. Without cgroups, `run` says that
//! only the subreaper holds the agent's tree, on stderr, in `--json` and in the audit log.
//!
//! The cgroup tests need a writable cgroup v2 hierarchy (root here and under CI): without one
//! they skip loudly, and fail under `CI` or `FTSB_REQUIRE_ALL=1`.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::path::PathBuf;
use std::process::{Child, Output, Stdio};
use std::time::Duration;

use common::procs::*;
use common::*;
use ftsb_fs::confine::cgroup;

/// The agent: three writers that leave its process tree, each recording its pid and then
/// appending to a log in the view every 50 ms; the `setsid` one first tries to move itself
/// out of the agent's cgroup. Then the agent says it started and waits.
const AGENT: &str = r#"
parent=$(dirname "$(cgroup_dir)")
( setsid sh -c 'echo $$ > w-setsid.pid; (echo $$ > "$1/cgroup.procs") 2>/dev/null && echo out > escaped; while :; do echo x >> setsid.log; sleep 0.05; done' sh "$parent" & )
nohup sh -c 'echo $$ > w-nohup.pid; while :; do echo x >> nohup.log; sleep 0.05; done' >/dev/null 2>&1 &
sh -c 'echo $$ > w-disown.pid; while :; do echo x >> disown.log; sleep 0.05; done' &
disown
echo started > started
exec sleep 60
"#;

const WRITERS: [&str; 3] = ["w-setsid.pid", "w-nohup.pid", "w-disown.pid"];

/// A mounted workspace and a fake `$HOME` for the agent's confinement.
fn mounted() -> (Mounted, PathBuf) {
    let m = Mounted::at(sample_tree);
    let home = m.root.path().join("home");
    std::fs::create_dir(&home).unwrap();
    (m, home)
}

/// `run WS -- bash -c SCRIPT`, where `cgroup_dir` prints the shell's own cgroup directory.
fn run_cmd(m: &Mounted, home: &std::path::Path, json: bool, script: &str) -> std::process::Command {
    let root = cgroup::mount_point().unwrap_or_default();
    let script = format!(
        "cgroup_dir() {{ echo \"{}$(sed -n 's/^0:://p' /proc/self/cgroup)\"; }}\n{script}",
        root.display().to_string().trim_end_matches('/')
    );
    let mut c = m.cmd();
    if json {
        c.arg("--json");
    }
    c.env("HOME", home)
        .arg("run")
        .arg(&m.ws)
        .args(["--", "bash", "-c", &script])
        .stdin(Stdio::null());
    c
}

/// `run --json` of `script`: the parsed result (the last JSON object of stdout) and the
/// output.
fn run_json(m: &Mounted, home: &std::path::Path, script: &str) -> (serde_json::Value, Output) {
    let out = output(&mut run_cmd(m, home, true, script));
    let text = String::from_utf8_lossy(&out.stdout);
    let json = text.rfind("\n{\n").map_or(&text[..], |at| &text[at + 1..]);
    let v = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    (v, out)
}

/// Whether `run` puts its agent in a cgroup here; skips loudly (or fails when required)
/// when it cannot. The agent's confinement must hold too: it is what keeps the agent from
/// writing its way out of the cgroup.
fn cgroups_usable(m: &Mounted, home: &std::path::Path) -> bool {
    if !have("bash")
        || !require(
            ftsb_fs::confine::probe().abi >= 1,
            "run's cgroup containment",
            "this kernel has no Landlock, which keeps the agent in its cgroup",
        )
    {
        return false;
    }
    let (v, out) = run_json(m, home, "true");
    require(
        v["processes"]["containment"] == "cgroup",
        "run's cgroup containment",
        &format!(
            "run fell back to {} (no writable cgroup v2 hierarchy): {}",
            v["processes"]["containment"],
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Starts `run` with [`AGENT`] in the background; returns it and the writers' pids once all
/// run, after checking they share the agent's cgroup leaf.
fn start_agent(m: &Mounted, home: &std::path::Path) -> (Child, Vec<i32>) {
    let mut c = run_cmd(m, home, false, AGENT);
    c.stdout(Stdio::null()).stderr(Stdio::null());
    let run = c.spawn().unwrap();
    wait_for("the agent and its writers run", || {
        m.v("started").exists() && WRITERS.iter().all(|w| read_pid(&m.v(w)).is_some())
    });
    let pids: Vec<i32> = WRITERS.iter().map(|w| read_pid(&m.v(w)).unwrap()).collect();
    let leaf = leaves_of(run.id());
    assert_eq!(leaf.len(), 1, "run made no cgroup leaf: {:?}", leaves());
    for pid in &pids {
        assert!(alive(*pid), "writer {pid} should be running");
        assert_eq!(
            cgroup_of(*pid).as_ref(),
            Some(&leaf[0]),
            "writer {pid} is not in the agent's leaf"
        );
    }
    (run, pids)
}

/// [`start_agent`] with cgroups disabled (the subreaper containment and the reaper).
fn start_agent_without_cgroups(m: &Mounted, home: &std::path::Path) -> (Child, Vec<i32>) {
    let mut c = run_cmd(m, home, false, AGENT);
    c.env(cgroup::DISABLE_ENV, "off")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let run = c.spawn().unwrap();
    wait_for("the agent and its writers run", || {
        m.v("started").exists() && WRITERS.iter().all(|w| read_pid(&m.v(w)).is_some())
    });
    let pids = WRITERS.iter().map(|w| read_pid(&m.v(w)).unwrap()).collect();
    (run, pids)
}

/// The view stays as it is now for 1.5 s: nothing writes into it any more.
fn assert_view_still(m: &Mounted, what: &str) {
    let now = tree(&m.view, EXACT);
    std::thread::sleep(Duration::from_millis(1500));
    assert_trees_eq(what, &now, &tree(&m.view, EXACT));
}

fn assert_all_dead(pids: &[i32], what: &str) {
    for pid in pids {
        assert!(!alive(*pid), "writer {pid} is alive {what}");
    }
}

/// `run` is SIGKILLed: it can neither settle nor tell anyone. The daemon sees the session's
/// connection close and empties the agent's leaf: the writers die, the view stops changing,
/// and the leaf is removed.
#[test]
fn a_sigkilled_run_leaves_no_writer_behind() {
    let (m, home) = mounted();
    if !cgroups_usable(&m, &home) {
        return;
    }
    let (mut run, pids) = start_agent(&m, &home);
    let run_pid = run.id();
    run.kill().unwrap();
    run.wait().unwrap();
    wait_for("the daemon killed the writers", || {
        pids.iter().all(|p| !alive(*p))
    });
    assert_view_still(&m, "view after the daemon emptied a killed run's cgroup");
    assert!(
        !m.v("escaped").exists(),
        "a writer moved itself out of the agent's cgroup"
    );
    wait_for("the leaf is removed", || leaves_of(run_pid).is_empty());
    m.abort();
}

/// The user aborts while the agent and its writers run: they are all dead by the time
/// `abort` answers, and the view is the workspace and stays so.
#[test]
fn abort_kills_the_agent_before_it_discards() {
    let (m, home) = mounted();
    if !cgroups_usable(&m, &home) {
        return;
    }
    let before = tree(&m.view, EXACT);
    let (mut run, pids) = start_agent(&m, &home);
    m.abort();
    assert_all_dead(&pids, "after abort answered");
    assert_trees_eq("view after abort", &before, &tree(&m.view, EXACT));
    assert_view_still(&m, "view after abort");
    // The agent itself was in the leaf too: `run` ends with its SIGKILL status.
    assert_eq!(run.wait().unwrap().code(), Some(128 + 9));
    assert_trees_eq("view after run ended", &before, &tree(&m.view, EXACT));
    m.abort();
}

/// A commit of everything ends the transaction the agent worked in: the agent dies first, so
/// what is published is what it had written, and nothing changes the view afterwards.
#[test]
fn commit_kills_the_agent_before_it_publishes() {
    let (m, home) = mounted();
    if !cgroups_usable(&m, &home) {
        return;
    }
    let (mut run, pids) = start_agent(&m, &home);
    m.commit();
    assert_all_dead(&pids, "after commit answered");
    let published = std::fs::read_to_string(m.w("setsid.log")).unwrap();
    assert_view_still(&m, "view after commit");
    assert_eq!(
        std::fs::read_to_string(m.v("setsid.log")).unwrap(),
        published,
        "the view changed after the commit"
    );
    run.wait().unwrap();
    m.abort();
}

/// An unmount that is refused leaves the session alone; one that goes ahead kills the agent
/// before the view goes, so no writer goes on writing into the directory under it.
#[test]
fn unmount_kills_the_agent_before_the_view_goes() {
    let (mut m, home) = mounted();
    if !cgroups_usable(&m, &home) {
        return;
    }
    let (mut run, pids) = start_agent(&m, &home);
    let refused = m.try_(&["unmount"]);
    assert!(!refused.status.success(), "{refused:?}");
    for pid in &pids {
        assert!(alive(*pid), "a refused unmount killed writer {pid}");
    }
    let out = m.unmount_abort();
    assert!(out.status.success(), "{out:?}");
    assert_all_dead(&pids, "after unmount answered");
    run.wait().unwrap();
    // With `--at`, the view's directory is empty once unmounted; a surviving writer whose
    // cwd was the view would now fail, one that reopened the path would fill it.
    std::thread::sleep(Duration::from_millis(1500));
    let left: Vec<_> = std::fs::read_dir(&m.view).unwrap().flatten().collect();
    assert!(
        left.is_empty(),
        "written under the unmounted view: {left:?}"
    );
}

/// Without cgroups (forced here with `FTSB_FS_CGROUP=off`), the subreaper alone contains the
/// agent while `run` lives, and `run` says so: a warning on stderr, `processes.containment`
/// in `--json`, and the session's entry in the audit log.
#[test]
fn without_cgroups_run_says_the_subreaper_alone_contains() {
    let (m, home) = mounted();
    if !have("bash") {
        return;
    }
    let out = output(
        run_cmd(&m, &home, true, "( setsid sleep 30 & ) ; true").env(cgroup::DISABLE_ENV, "off"),
    );
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    assert_eq!(v["processes"]["containment"], "subreaper", "{v}");
    assert!(v["processes"]["killed"].as_u64() >= Some(1), "{v}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("containment: subreaper only (cgroups disabled by FTSB_FS_CGROUP=off)"),
        "{stderr}"
    );
    let log: serde_json::Value = serde_json::from_str(&m.ok(&["--json", "log"])).unwrap();
    let entry = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "run")
        .unwrap_or_else(|| panic!("no run entry: {log}"));
    assert!(
        entry["reason"]
            .as_str()
            .is_some_and(|r| r.contains("containment subreaper")),
        "{entry}"
    );
    m.abort();
}

/// Without cgroups, `run` is SIGKILLed: nothing can tell the daemon, and the agent's orphans
/// would belong to init. The session's reaper (the agent's parent, a subreaper watching `run`)
/// kills them all when `run` dies, and the view stops changing. The agent cannot kill the
/// reaper first.
#[test]
fn without_cgroups_a_sigkilled_run_leaves_no_writer_behind() {
    let (m, home) = mounted();
    if !have("bash") {
        return;
    }
    let out = output(
        run_cmd(&m, &home, false, "kill -9 $PPID; echo kill=$?").env(cgroup::DISABLE_ENV, "off"),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("kill=1"),
        "the agent killed its reaper: {out:?}"
    );
    let (mut run, pids) = start_agent_without_cgroups(&m, &home);
    let _reap = KillOnDrop(pids.clone());
    run.kill().unwrap();
    run.wait().unwrap();
    wait_for("the writers died with run", || {
        pids.iter().all(|p| !alive(*p))
    });
    assert_view_still(&m, "view after a killed run without cgroups");
    m.abort();
}

/// Without cgroups the daemon still holds the session: `run` registers it, and the daemon
/// kills everything below `run` (its subreaper) before an abort or a commit of everything
/// goes ahead, so the writers the agent daemonized are dead when the abort answers.
#[test]
fn without_cgroups_abort_and_commit_still_kill_the_agent_first() {
    let (m, home) = mounted();
    if !have("bash") {
        return;
    }
    for end in ["abort", "commit"] {
        let (mut run, pids) = start_agent_without_cgroups(&m, &home);
        assert!(leaves_of(run.id()).is_empty(), "{end}: run made a leaf");
        for pid in &pids {
            assert!(alive(*pid), "{end}: writer {pid} should be running");
        }
        let before = tree(&m.view, EXACT);
        if end == "abort" {
            m.abort();
        } else {
            m.commit();
        }
        assert_all_dead(&pids, &format!("after {end} answered"));
        let status = run.wait().unwrap();
        if end == "abort" {
            // The agent itself was below `run` too: `run` ends with its SIGKILL status.
            assert_eq!(status.code(), Some(128 + 9));
        } else {
            // What the writers had written is published; nothing changes the view any more.
            assert!(before.len() > 1);
            assert_view_still(&m, "view after commit");
        }
        for w in WRITERS.iter().chain(&["started"]) {
            let _ = std::fs::remove_file(m.v(w));
        }
    }
    m.abort();
}

/// An `exec` begun before an abort and killed after it: the daemon's rollback of the killed
/// command must not restore its checkpoint, which holds the work the abort discarded.
/// (An agent's `exec` is in that case when the user aborts its session.)
#[test]
fn a_rollback_after_an_abort_does_not_bring_back_what_it_discarded() {
    let m = Mounted::at(sample_tree);
    let before = tree(&m.view, EXACT);
    std::fs::write(m.v("early"), "work the user will abort\n").unwrap();
    let mut c = m.cmd();
    c.arg("exec")
        .arg(&m.ws)
        .args(["--", "sh", "-c", "echo started > started; exec sleep 60"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut exec = c.spawn().unwrap();
    wait_for("the command runs", || m.v("started").exists());
    m.abort();
    assert_trees_eq("view after abort", &before, &tree(&m.view, EXACT));
    exec.kill().unwrap();
    exec.wait().unwrap();
    wait_for("the daemon ended the killed exec", || {
        let log: serde_json::Value = serde_json::from_str(&m.ok(&["--json", "log"])).unwrap();
        log.as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "exec" && e["reason"] == "interrupted")
    });
    assert_trees_eq(
        "view after the killed exec's rollback",
        &before,
        &tree(&m.view, EXACT),
    );
    m.abort();
}
