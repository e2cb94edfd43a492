//! `run` on a terminal, in tmux: the agent keeps the terminal (raw mode works) but cannot
//! inject input into it (`TIOCSTI` is denied), and when it exits `run` asks what to do with
//! the session's changes.
//!
//! Needs tmux and python3 (both installed by `scripts/install-deps`); without tmux the test
//! says so and skips, and fails under CI or with `FTSB_REQUIRE_ALL=1`.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::tmux::{Tmux, tmux_or_skip};
use common::*;

#[test]
fn run_on_a_terminal_keeps_it_safe_and_asks_before_committing() {
    if !tmux_or_skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().canonicalize().unwrap();
    let (ws, state) = (base.join("ws"), base.join("state"));
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::create_dir_all(&state).unwrap();
    let agent = base.join("agent");
    std::fs::write(
        &agent,
        r#"#!/bin/sh
stty raw -echo && stty sane && echo RAW-OK
python3 - <<'PY'
import fcntl, termios
try:
    fcntl.ioctl(0, termios.TIOCSTI, b"x")
    print("ATTACK-TIOCSTI")
except OSError as e:
    print("TIOCSTI-DENIED", e.errno)
PY
echo made > made
"#,
    )
    .unwrap();
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    let t = Tmux::new("run");
    t.start(&format!(
        "env XDG_STATE_HOME='{}' '{}' run '{}' -- '{}'; echo RUN-EXIT=$?; sleep 60",
        state.display(),
        BIN,
        ws.display(),
        agent.display()
    ));
    let screen = t.wait_for("the prompt", |s| s.contains("[c]ommit"));
    eprintln!("{screen}");
    assert!(screen.contains("RAW-OK"), "{screen}");
    assert!(screen.contains("TIOCSTI-DENIED"), "{screen}");
    assert!(!screen.contains("ATTACK"), "{screen}");
    assert!(screen.contains("1 added"), "{screen}");
    t.keys(&["c", "Enter"]);
    let screen = t.wait_for("run's end", |s| s.contains("RUN-EXIT="));
    assert!(screen.contains("changes committed"), "{screen}");
    assert!(screen.contains("RUN-EXIT=0"), "{screen}");
    assert!(
        ftsb_fs::daemon::mounted_workspace(&ws).is_none(),
        "{screen}"
    );
    assert_eq!(std::fs::read_to_string(ws.join("made")).unwrap(), "made\n");
}
