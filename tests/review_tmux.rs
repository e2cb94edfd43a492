//! `review` end to end in a real terminal: tmux runs it on a mounted workspace with two
//! commands in its log; the test reads the screen, rolls the view back to the step before the
//! second command with `r` `y`, and quits with `q`.
//!
//! Needs tmux (installed by `scripts/install-deps`): without it the test says so and skips,
//! and fails under CI or with `FTSB_REQUIRE_ALL=1`.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use common::tmux::{Tmux, tmux_or_skip};
use common::*;

#[test]
fn review_in_tmux_rolls_back_a_step_and_quits() {
    if !tmux_or_skip() {
        return;
    }
    let m = Mounted::at(|ws| std::fs::write(ws.join("base"), "base\n").unwrap());
    for script in ["echo one > one", "echo two > two && echo changed >> base"] {
        run_ok(
            m.cmd()
                .arg("exec")
                .arg(&m.ws)
                .args(["--", "sh", "-c", script])
                .current_dir(&m.view),
        );
    }
    let t = Tmux::new("review");
    let line = format!(
        "env XDG_STATE_HOME='{}' '{}' review '{}'",
        m.state.display(),
        BIN,
        m.ws.display()
    );
    t.start(&line);
    let screen = t.wait_for("the timeline", |s| {
        s.contains("newest first") && s.contains("echo two")
    });
    eprintln!("review screen:\n{screen}");
    assert!(screen.contains("echo one > one"), "{screen}");
    assert!(screen.contains(">"), "a step is selected: {screen}");
    // The newest step is selected, `echo two`: its files are loaded.
    let screen = t.wait_for("the step's files", |s| {
        s.contains("M base") && s.contains("A two")
    });
    assert!(screen.contains("step 2: changed files"), "{screen}");
    assert!(screen.contains("+changed"), "the step's own diff: {screen}");
    // The older step: its own file and diff.
    t.keys(&["j"]);
    t.wait_for("step 1's files", |s| {
        s.contains("step 1: changed files") && s.contains("A one") && s.contains("+one")
    });
    t.keys(&["k"]);
    t.wait_for("step 2 again", |s| s.contains("step 2: changed files"));

    // `r` alone asks; `y` rolls the view back to the state before `echo two`.
    t.keys(&["r"]);
    t.wait_for("the confirmation", |s| {
        s.contains("roll the view back to checkpoint 2? (y/n)")
    });
    assert!(
        m.v("two").exists(),
        "nothing happens before the confirmation"
    );
    t.keys(&["y"]);
    t.wait_for("the rollback", |s| {
        s.contains("rolled back to checkpoint 2")
    });
    assert!(!m.v("two").exists());
    assert_eq!(std::fs::read_to_string(m.v("base")).unwrap(), "base\n");
    assert_eq!(std::fs::read_to_string(m.v("one")).unwrap(), "one\n");

    t.keys(&["q"]);
    t.wait_gone("q leaves the review");
}
