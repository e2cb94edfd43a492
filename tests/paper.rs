//! The paper's evaluation (arXiv 2512.12806), small enough for `cargo test`: `scripts/bench-paper`
//! against the debug binary with 55 seeded failing-change trials (every damage kind five times,
//! each rolled back bit-exactly), succeeding commands kept, one of each read-only command and
//! a round of blocked commands. The script's canary trial proves first that its checker sees
//! an unrolled change. The full run (1,000 trials and the overhead sweep) is in
//! docs/EVALUATION.md.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::path::Path;
use std::process::Command;

#[test]
fn paper_evaluation_small() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench-paper");
    let state = tempfile::tempdir().unwrap();
    let out = Command::new("python3")
        .arg(&script)
        .args(["--bin", env!("CARGO_BIN_EXE_ftsb-fs")])
        .args(["--seed", "7", "--trials", "55", "--keep-every", "11"])
        .args(["--read-only", "11", "--blocked", "20", "--sizes", ""])
        .env("XDG_STATE_HOME", state.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench-paper failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("| failing commands, rolled back exactly | 55 | 55 |"),
        "{text}"
    );
}
