//! `run`: a whole agent session in the view (mounting it in place first), then a summary,
//! and a commit or an abort when asked.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn ftsb(state: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env("XDG_STATE_HOME", state);
    c
}

#[test]
fn run_mounts_runs_and_commits_on_success_or_aborts() {
    let t = tempfile::tempdir().unwrap();
    let (ws, state) = (t.path().join("ws"), t.path().join("state"));
    std::fs::create_dir(&ws).unwrap();
    std::fs::write(ws.join("kept"), "workspace\n").unwrap();
    let agent = "echo made by the agent > new && rm kept";

    let out = run_ok(
        ftsb(&state)
            .arg("run")
            .arg(&ws)
            .arg("--commit-on-success")
            .args(["--", "sh", "-c", agent]),
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("committed"),
        "{out:?}"
    );
    run_ok(ftsb(&state).arg("unmount").arg(&ws));
    assert_eq!(
        std::fs::read_to_string(ws.join("new")).unwrap(),
        "made by the agent\n"
    );
    assert!(!ws.join("kept").exists());

    std::fs::write(ws.join("kept"), "workspace\n").unwrap();
    let out = run_ok(ftsb(&state).arg("run").arg(&ws).arg("--abort").args([
        "--",
        "sh",
        "-c",
        "echo junk > junk && rm kept",
    ]));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("aborted"),
        "{out:?}"
    );
    run_ok(ftsb(&state).arg("unmount").arg(&ws));
    assert!(!ws.join("junk").exists());
    assert_eq!(
        std::fs::read_to_string(ws.join("kept")).unwrap(),
        "workspace\n"
    );

    // A failing agent is not committed: its changes wait for review.
    let out = output(
        ftsb(&state)
            .arg("run")
            .arg(&ws)
            .arg("--commit-on-success")
            .args(["--", "sh", "-c", "echo half > half; exit 7"]),
    );
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert!(
        ws.join("half").exists(),
        "the view shows the agent's change for review"
    );
    run_ok(ftsb(&state).arg("unmount").arg(&ws).arg("--abort"));
    assert!(!ws.join("half").exists());
}
