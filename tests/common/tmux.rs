//! A terminal for end-to-end tests of interactive commands: a private tmux server with one
//! 120x30 window, its screen read with `capture-pane`, keys sent with `send-keys`.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::process::Command;
use std::time::{Duration, Instant};

use super::{have, output, run_ok};

/// A private tmux server (its own socket), killed on drop.
pub struct Tmux(String);

impl Tmux {
    /// A server named after `name` and this process.
    pub fn new(name: &str) -> Tmux {
        Tmux(format!("ftsb-{name}-{}", std::process::id()))
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.0]);
        c
    }

    /// Runs the shell command `line` in a new 120x30 window.
    pub fn start(&self, line: &str) {
        run_ok(self.cmd().args([
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "120",
            "-y",
            "30",
            line,
        ]));
    }

    /// The window's text.
    pub fn screen(&self) -> String {
        let out = output(self.cmd().args(["capture-pane", "-p", "-t", "t"]));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `keys` (tmux key names: `Enter`, `Up`, or text).
    pub fn keys(&self, keys: &[&str]) {
        run_ok(self.cmd().args(["send-keys", "-t", "t"]).args(keys));
    }

    /// Waits (bounded) until `done` holds for the screen; panics with the screen otherwise.
    pub fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
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

    /// Waits (bounded) until the window's command has exited.
    pub fn wait_gone(&self, what: &str) {
        let started = Instant::now();
        while self.alive() && started.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(!self.alive(), "{what}: still running:\n{}", self.screen());
    }

    fn alive(&self) -> bool {
        self.cmd()
            .args(["has-session", "-t", "t"])
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

/// Whether tmux is there; without it, says so, and fails under CI or `FTSB_REQUIRE_ALL=1`.
pub fn tmux_or_skip() -> bool {
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
