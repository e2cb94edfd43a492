//! A workspace directory swapped for a symlink from outside the view, after the view looked
//! it up: reading through the view must not follow it out of the workspace.
//!
//! The view resolves what it shows from the workspace by relative paths; a directory it has
//! already looked up is replaced (`mv d d.old; ln -s /outside d`) directly in the workspace,
//! where the agent cannot reach but another process can. Every read through the view then
//! fails (`ELOOP`, or another error) instead of showing the outside file, and the daemon
//! stays up.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::os::fd::AsRawFd;

use common::*;

#[test]
fn a_directory_swapped_for_a_symlink_does_not_lead_outside() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(outside.path().join("sub")).unwrap();
    std::fs::write(outside.path().join("f"), "SECRET outside the workspace\n").unwrap();
    std::fs::write(outside.path().join("sub/g"), "SECRET deeper\n").unwrap();
    std::fs::write(outside.path().join("only-outside"), "").unwrap();
    let m = Mounted::at(|ws| {
        std::fs::create_dir_all(ws.join("d/sub")).unwrap();
        std::fs::write(ws.join("d/f"), "inside\n").unwrap();
        std::fs::write(ws.join("d/sub/g"), "inside deeper\n").unwrap();
    });
    // The view looks the directory up and the test holds it open, so what follows is
    // resolved from the view's inode of `d`, whatever the name `d` now is.
    let held = std::fs::File::open(m.v("d")).unwrap();
    let d = std::path::PathBuf::from(format!("/proc/self/fd/{}", held.as_raw_fd()));
    assert!(std::fs::metadata(m.v("d/sub/g")).is_ok());
    std::fs::rename(m.w("d"), m.w("d.old")).unwrap();
    std::os::unix::fs::symlink(outside.path(), m.w("d")).unwrap();
    for (rel, secret) in [("d/f", "SECRET outside"), ("d/sub/g", "SECRET deeper")] {
        match std::fs::read_to_string(d.join(rel.trim_start_matches("d/"))) {
            Ok(text) => assert!(
                !text.contains(secret),
                "{rel} shows a file outside the workspace: {text}"
            ),
            Err(e) => eprintln!("{rel}: refused as it should be: {e}"),
        }
    }
    let listed: Vec<_> = std::fs::read_dir(&d)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        !listed.iter().any(|n| n == "only-outside"),
        "the view lists the outside directory: {listed:?}"
    );
    // A new file under the swapped directory is not created outside either.
    let _ = std::fs::write(d.join("new"), "x");
    assert!(
        !outside.path().join("new").exists(),
        "a write through the view landed outside the workspace"
    );
    // The daemon is still up and answers.
    m.ok(&["status"]);
    m.abort();
}
