//! `status` lists what still runs in the view: every live `run` and `exec` session with its
//! pid, command line, start and containment, in text and in `--json`, and forgets a session
//! once it ended (normally, killed, or ended by an abort).

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::process::{Child, Stdio};

use common::procs::wait_for;
use common::*;

fn sessions(m: &Mounted) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(&m.ok(&["--json", "status"])).unwrap();
    v["sessions"].as_array().cloned().unwrap_or_default()
}

fn spawn(m: &Mounted, args: &[&str], home: &std::path::Path) -> Child {
    let mut c = m.cmd();
    c.env("HOME", home)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c.spawn().unwrap()
}

#[test]
fn status_lists_live_run_and_exec_sessions() {
    let m = Mounted::at(sample_tree);
    let home = m.root.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let ws = m.ws.to_str().unwrap();
    assert!(sessions(&m).is_empty());
    let mut run = spawn(
        &m,
        &[
            "run",
            ws,
            "--",
            "sh",
            "-c",
            "echo agent > agent-started; exec sleep 60 # agent-marker",
        ],
        &home,
    );
    wait_for("the agent runs", || m.v("agent-started").exists());
    let mut exec = spawn(
        &m,
        &[
            "exec",
            ws,
            "--",
            "sh",
            "-c",
            "echo cmd > exec-started; exec sleep 60 # exec-marker",
        ],
        &home,
    );
    wait_for("the command runs", || m.v("exec-started").exists());

    let live = sessions(&m);
    let find = |kind: &str| {
        live.iter()
            .find(|s| s["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} session: {live:?}"))
            .clone()
    };
    let (r, e) = (find("run"), find("exec"));
    assert_eq!(r["pid"], run.id(), "{r}");
    assert!(
        r["command"].as_str().unwrap().contains("agent-marker"),
        "{r}"
    );
    assert_eq!(e["pid"], exec.id(), "{e}");
    assert!(
        e["command"].as_str().unwrap().contains("exec-marker"),
        "{e}"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for s in [&r, &e] {
        let since = s["since"].as_u64().unwrap();
        assert!(since > 0 && since <= now, "{s}");
        assert!(["cgroup", "subreaper"].contains(&s["containment"].as_str().unwrap()));
    }
    let text = m.ok(&["status"]);
    assert!(text.contains("2 still running"), "{text}");
    for pid in [run.id(), exec.id()] {
        assert!(text.contains(&format!("pid {pid},")), "{text}");
    }
    assert!(
        text.contains("exec-marker") && text.contains("agent-marker"),
        "{text}"
    );

    // A killed exec is forgotten once the daemon has rolled it back.
    exec.kill().unwrap();
    exec.wait().unwrap();
    wait_for("the killed exec leaves the list", || {
        sessions(&m).iter().all(|s| s["kind"] != "exec")
    });
    // An abort ends the agent; its session leaves the list when `run` is done.
    m.abort();
    run.wait().unwrap();
    wait_for("the run session leaves the list", || {
        sessions(&m).is_empty()
    });
    m.abort();
}
