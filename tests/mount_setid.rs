//! Privileges at commit: a file that gained setuid, setgid, sticky or a file capability in
//! the view is not published unless `commit --allow-setid`, and `diff` shows mode changes and
//! symlink targets so a reviewer sees them.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::*;

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().mode()
}

/// The failure of a plain `commit`: its one error line.
fn refused_commit(m: &Mounted) -> String {
    let out = m.try_(&["commit"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "the commit went through: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--allow-setid"), "{stderr}");
    stderr
}

#[test]
fn commit_refuses_setuid_setgid_and_sticky_files_until_allowed() {
    let m = Mounted::at(sample_tree);
    let before = tree(&m.ws, EXACT);
    std::fs::write(m.v("rootshell"), "#!/bin/sh\nexec sh\n").unwrap();
    chmod(&m.v("rootshell"), 0o4755);
    std::fs::write(m.v("groupy"), "x").unwrap();
    chmod(&m.v("groupy"), 0o2755);
    std::fs::write(m.v("sticky"), "x").unwrap();
    chmod(&m.v("sticky"), 0o1644);
    // A workspace file that gains the bit by chmod alone.
    chmod(&m.v("run.sh"), 0o4755);
    // Directories may carry setgid and sticky: mkdir inherits setgid, and neither grants
    // anything.
    std::fs::create_dir(m.v("shared")).unwrap();
    chmod(&m.v("shared"), 0o3775);
    let err = refused_commit(&m);
    for p in ["rootshell", "groupy", "sticky", "run.sh"] {
        assert!(err.contains(p), "{p} not named: {err}");
    }
    assert!(!err.contains("shared"), "{err}");
    assert_trees_eq("workspace", &before, &tree(&m.ws, EXACT));
    // Dropping the bits makes the commit go through.
    for p in ["groupy", "sticky", "run.sh"] {
        chmod(&m.v(p), 0o755);
    }
    assert!(refused_commit(&m).contains("rootshell"));
    m.ok(&["commit", "--allow-setid"]);
    assert_eq!(mode(&m.w("rootshell")) & 0o7777, 0o4755);
    assert_eq!(mode(&m.w("shared")) & 0o7777, 0o3775);
}

#[test]
fn a_setuid_workspace_file_may_move_but_not_change_its_code() {
    let m = Mounted::at(|ws| {
        sample_tree(ws);
        std::fs::write(ws.join("tool"), "old code").unwrap();
        chmod(&ws.join("tool"), 0o4755);
    });
    if mode(&m.w("tool")) & 0o4000 == 0 {
        panic!("the workspace's filesystem dropped setuid at setup");
    }
    // Renaming keeps the bit it already had: nothing gained.
    std::fs::rename(m.v("tool"), m.v("tool2")).unwrap();
    m.commit();
    assert_eq!(mode(&m.w("tool2")) & 0o7777, 0o4755);
    // New code under a kept setuid bit (root's writes keep it) is a gain.
    std::fs::write(m.v("tool2"), "new code").unwrap();
    chmod(&m.v("tool2"), 0o4755);
    assert!(refused_commit(&m).contains("tool2"));
    assert_eq!(std::fs::read(m.w("tool2")).unwrap(), b"old code");
}

/// The entry of `path` in a `diff --json` answer.
fn entry(json: &serde_json::Value, path: &str) -> serde_json::Value {
    json.as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == path)
        .unwrap_or_else(|| panic!("{path} missing from {json}"))
        .clone()
}

/// A version-2 `security.capability` value granting CAP_NET_RAW (13), effective.
fn cap_net_raw() -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&(0x0200_0000u32 | 1).to_le_bytes());
    v.extend_from_slice(&(1u32 << 13).to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v
}

#[test]
fn commit_refuses_files_that_gained_a_capability() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP: setting security.capability needs root (CAP_SETFCAP)");
        assert!(
            std::env::var_os("CI").is_none() && std::env::var_os("FTSB_REQUIRE_ALL").is_none(),
            "this test must run in CI"
        );
        return;
    }
    let m = Mounted::at(|ws| {
        sample_tree(ws);
        std::fs::write(ws.join("capped"), "old code").unwrap();
        set_xattr(&ws.join("capped"), "security.capability", &cap_net_raw());
    });
    // Renaming a workspace file that has a capability gains nothing.
    std::fs::rename(m.v("capped"), m.v("capped2")).unwrap();
    m.commit();
    // A write drops the capability, as on Linux; new code given the same one again is a gain.
    std::fs::write(m.v("capped2"), "new code").unwrap();
    assert!(!xattrs(&m.v("capped2")).contains_key("security.capability"));
    set_xattr(&m.v("capped2"), "security.capability", &cap_net_raw());
    let err = refused_commit(&m);
    assert!(err.contains("capped2"), "{err}");
    m.abort();
    let before = tree(&m.ws, EXACT);
    std::fs::write(m.v("pinger"), "#!/bin/sh\n").unwrap();
    set_xattr(&m.v("pinger"), "security.capability", &cap_net_raw());
    set_xattr(&m.v("a.txt"), "security.capability", &cap_net_raw());
    let err = refused_commit(&m);
    assert!(err.contains("pinger") && err.contains("a.txt"), "{err}");
    assert_trees_eq("workspace", &before, &tree(&m.ws, EXACT));
    m.ok(&["commit", "--allow-setid"]);
    assert_eq!(xattrs(&m.w("pinger"))["security.capability"], cap_net_raw());
}

#[test]
fn diff_shows_mode_changes_and_symlink_targets() {
    let m = Mounted::at(sample_tree);
    chmod(&m.v("a.txt"), 0o4755);
    std::fs::write(m.v("new.sh"), "echo\n").unwrap();
    chmod(&m.v("new.sh"), 0o2755);
    std::fs::remove_file(m.v("link")).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", m.v("link")).unwrap();
    std::os::unix::fs::symlink("b.txt", m.v("link2")).unwrap();

    let json: serde_json::Value = serde_json::from_str(&m.ok(&["--json", "diff"])).unwrap();
    let by_path = |p: &str| entry(&json, p);
    let a = by_path("a.txt");
    assert_eq!(a["old_mode"], "100644", "{a}");
    assert_eq!(a["new_mode"], "104755", "{a}");
    let n = by_path("new.sh");
    assert!(n["old_mode"].is_null(), "{n}");
    assert_eq!(n["new_mode"], "102755", "{n}");
    let l = by_path("link");
    assert_eq!(l["old_target"], "a.txt", "{l}");
    assert_eq!(l["new_target"], "/etc/shadow", "{l}");
    assert_eq!(by_path("link2")["new_target"], "b.txt");

    let text = m.ok(&["diff"]);
    assert!(
        text.contains("diff --git a/a.txt b/a.txt\nold mode 100644\nnew mode 104755\n"),
        "{text}"
    );
    assert!(text.contains("new file mode 102755"), "{text}");
    assert!(
        text.contains("-a.txt") && text.contains("+/etc/shadow"),
        "{text}"
    );
    assert!(text.contains("+b.txt"), "{text}");

    let stat = m.ok(&["diff", "--stat"]);
    let line = |p: &str| {
        stat.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(p))
            .unwrap_or_else(|| panic!("{p} missing from {stat}"))
            .to_owned()
    };
    assert!(
        line("a.txt").contains("mode change 100644 => 104755"),
        "{stat}"
    );
    assert!(line("new.sh").contains("create mode 102755"), "{stat}");
    assert!(line("link").contains("a.txt => /etc/shadow"), "{stat}");
}

#[test]
fn checkpoint_range_diffs_show_modes_and_targets_too() {
    let m = Mounted::at(sample_tree);
    std::fs::write(m.v("a.txt"), "edited\n").unwrap();
    let one = m.ok(&["checkpoint"]).trim().to_owned();
    chmod(&m.v("a.txt"), 0o4755);
    std::fs::remove_file(m.v("link")).unwrap();
    std::os::unix::fs::symlink("b.txt", m.v("link")).unwrap();
    let two = m.ok(&["checkpoint"]).trim().to_owned();
    let json: serde_json::Value =
        serde_json::from_str(&m.ok(&["--json", "diff", "--from", &one, "--to", &two])).unwrap();
    let by_path = |p: &str| entry(&json, p);
    let a = by_path("a.txt");
    assert_eq!(
        (a["old_mode"].as_str(), a["new_mode"].as_str()),
        (Some("100644"), Some("104755")),
        "{a}"
    );
    let l = by_path("link");
    assert_eq!(
        (l["old_target"].as_str(), l["new_target"].as_str()),
        (Some("a.txt"), Some("b.txt")),
        "{l}"
    );
    // From "no changes" (0): the old side is the workspace.
    let stat = m.ok(&["diff", "--stat", "--from", "0"]);
    assert!(stat.contains("mode change 100644 => 104755"), "{stat}");
    let text = m.ok(&["diff", "--from", "0"]);
    assert!(
        text.contains("old mode 100644\nnew mode 104755\n"),
        "{text}"
    );
}
