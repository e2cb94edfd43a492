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

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

struct Tmux(String);

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.0]);
        c
    }

    fn screen(&self) -> String {
        let out = output(self.cmd().args(["capture-pane", "-p", "-t", "review"]));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        run_ok(self.cmd().args(["send-keys", "-t", "review"]).args(keys));
    }

    /// Waits (bounded) until `done` holds for the screen; panics with the screen otherwise.
    fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "timed out waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn alive(&self) -> bool {
        self.cmd()
            .args(["has-session", "-t", "review"])
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

fn tmux_or_skip() -> bool {
    if have("tmux") {
        return true;
    }
    let strict = std::env::var_os("CI").is_some()
        || std::env::var_os("FTSB_REQUIRE_ALL").is_some_and(|v| v == "1");
    assert!(
        !strict,
        "tmux is required under CI (scripts/install-deps installs it)"
    );
    false
}

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
    let t = Tmux(format!("ftsb-review-{}", std::process::id()));
    let line = format!(
        "env XDG_STATE_HOME='{}' '{}' review '{}'",
        m.state.display(),
        BIN,
        m.ws.display()
    );
    run_ok(t.cmd().args([
        "new-session",
        "-d",
        "-s",
        "review",
        "-x",
        "120",
        "-y",
        "30",
        &line,
    ]));
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
    let started = Instant::now();
    while t.alive() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!t.alive(), "q leaves the review");
}
