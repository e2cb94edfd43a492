//! Where a store may live, and what `--store` accepts: an absent or empty directory, or an
//! ftsb-fs store. Everything else is refused with one error line and left exactly as it was;
//! so are nested mounts of a workspace that is already mounted.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

/// A workspace and a view dir in a fresh temp dir, with a private state home.
struct Setup {
    t: tempfile::TempDir,
    ws: PathBuf,
    view: PathBuf,
}

fn setup() -> Setup {
    let t = tempfile::tempdir().unwrap();
    let base = t.path().canonicalize().unwrap();
    let ws = base.join("ws");
    let view = base.join("view");
    std::fs::create_dir(&ws).unwrap();
    std::fs::create_dir(&view).unwrap();
    sample_tree(&ws);
    Setup { t, ws, view }
}

impl Setup {
    fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env("XDG_STATE_HOME", self.t.path().join("state"));
        c
    }

    /// `mount WS --at VIEW --store STORE`; unmounts again if it unexpectedly succeeded.
    fn mount_with(&self, store: &Path) -> Output {
        let out = output(
            self.cmd()
                .arg("mount")
                .arg(&self.ws)
                .arg("--at")
                .arg(&self.view)
                .arg("--store")
                .arg(store),
        );
        if out.status.success() {
            let _ = output(self.cmd().args(["unmount", "--abort"]).arg(&self.ws));
        }
        out
    }
}

/// A directory that is not a store but has the shapes a store's start-up cleans: temporaries
/// under `blobs/tmp` and hex-named files under `work`.
fn plant_lookalike(dir: &Path) {
    std::fs::create_dir_all(dir.join("blobs/tmp")).unwrap();
    std::fs::create_dir_all(dir.join("work")).unwrap();
    std::fs::write(dir.join("blobs/tmp/123-0"), "someone's temp file").unwrap();
    std::fs::write(dir.join("work/1f"), "someone's hex-named file").unwrap();
    std::fs::write(dir.join("work/cafe"), "another").unwrap();
    std::fs::write(dir.join("notes.txt"), "my notes").unwrap();
}

#[test]
fn a_directory_that_is_not_a_store_is_refused_and_left_intact() {
    let s = setup();
    let dir = s.t.path().join("mine");
    plant_lookalike(&dir);
    let before = tree(&dir, EXACT);
    let ws_before = tree(&s.ws, EXACT);
    assert_error(&s.mount_with(&dir), "not an ftsb-fs store");
    assert!(!is_mounted(&s.view));
    assert_trees_eq("the refused directory", &before, &tree(&dir, EXACT));
    assert_trees_eq("workspace", &ws_before, &tree(&s.ws, EXACT));
    // recover and fsck refuse it too, and touch nothing.
    for verb in ["recover", "fsck"] {
        let out = output(s.cmd().arg(verb).arg(&s.ws).arg("--store").arg(&dir));
        assert_error(&out, "not an ftsb-fs store");
        assert_trees_eq(verb, &before, &tree(&dir, EXACT));
    }
    // An empty directory is not a store to recover either.
    let empty = s.t.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = output(s.cmd().arg("recover").arg(&s.ws).arg("--store").arg(&empty));
    assert_error(&out, "no ftsb-fs store");
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
}

#[test]
fn an_empty_or_absent_directory_becomes_a_marked_store_and_is_accepted_again() {
    let s = setup();
    for store in [s.t.path().join("empty"), s.t.path().join("absent/deeper")] {
        if store.ends_with("empty") {
            std::fs::create_dir(&store).unwrap();
        }
        let out = s.mount_with(&store);
        assert!(out.status.success(), "{out:?}");
        let marker = std::fs::read_to_string(store.join("ftsb-fs-store")).unwrap();
        assert!(marker.contains("format 1"), "{marker}");
        // The same store again, now holding a database and a marker.
        let out = s.mount_with(&store);
        assert!(out.status.success(), "{out:?}");
    }
}

#[test]
fn a_store_without_a_marker_gets_one_on_first_open() {
    let s = setup();
    let store = s.t.path().join("store");
    assert!(s.mount_with(&store).status.success());
    std::fs::write(store.join("work/not-hex"), "x").unwrap();
    std::fs::remove_file(store.join("ftsb-fs-store")).unwrap();
    // A store written by an earlier version: database, no marker.
    let out = s.mount_with(&store);
    assert!(out.status.success(), "{out:?}");
    assert!(store.join("ftsb-fs-store").exists());
    // A marker of an unknown format is refused.
    std::fs::write(store.join("ftsb-fs-store"), "ftsb-fs store\nformat 99\n").unwrap();
    assert_error(&s.mount_with(&store), "format 99");
}

#[test]
fn impossible_store_locations_are_refused() {
    let s = setup();
    let home = s.t.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let ws_before = tree(&s.ws, EXACT);
    let cases: Vec<(PathBuf, &str)> = vec![
        (PathBuf::from("/"), "root directory"),
        (home.clone(), "home directory"),
        (s.ws.clone(), "inside the workspace"),
        (s.ws.join("sub/store"), "inside the workspace"),
        (s.t.path().to_path_buf(), "holds the workspace"),
    ];
    for (store, why) in cases {
        let out = output(
            s.cmd()
                .env("HOME", &home)
                .arg("mount")
                .arg(&s.ws)
                .arg("--at")
                .arg(&s.view)
                .arg("--store")
                .arg(&store),
        );
        assert_error(&out, why);
        assert!(!is_mounted(&s.view), "mounted with --store {store:?}");
    }
    assert!(!s.ws.join("sub").exists());
    assert_eq!(std::fs::read_dir(&home).unwrap().count(), 0);
    assert_trees_eq("workspace", &ws_before, &tree(&s.ws, EXACT));
    // Through a symbolic link into the workspace.
    let link = s.t.path().join("link");
    std::os::unix::fs::symlink(&s.ws, &link).unwrap();
    assert_error(&s.mount_with(&link.join("st")), "inside the workspace");
    assert_trees_eq("workspace", &ws_before, &tree(&s.ws, EXACT));
}

#[test]
fn nested_mounts_of_a_mounted_workspace_are_refused() {
    let m = Mounted::at(|ws| {
        sample_tree(ws);
        std::fs::create_dir_all(ws.join("deep/er")).unwrap();
    });
    let spare = m.root.path().join("spare");
    std::fs::create_dir(&spare).unwrap();
    let attempt = |ws: &Path, at: Option<&Path>| {
        let mut c = m.cmd();
        c.arg("mount")
            .arg(ws)
            .arg("--store")
            .arg(m.root.path().join("store2"));
        if let Some(at) = at {
            c.arg("--at").arg(at);
        }
        output(&mut c)
    };
    // A subfolder of the workspace, in place and elsewhere; a subfolder of its view; the
    // workspace's parent.
    let parent = m.ws.parent().unwrap().to_path_buf();
    for (ws, at) in [
        (m.ws.join("deep"), None),
        (m.ws.join("deep"), Some(spare.as_path())),
        (m.v("deep"), None),
        (parent.clone(), Some(spare.as_path())),
    ] {
        let out = attempt(&ws, at);
        assert_error(&out, "nested mounts are refused");
        assert!(!is_mounted(&ws) && !is_mounted(&spare), "{ws:?}");
    }
    // Another workspace whose view would land inside this one's view.
    let other = m.root.path().join("other");
    std::fs::create_dir(&other).unwrap();
    assert_error(
        &attempt(&other, Some(&m.v("deep"))),
        "nested mounts are refused",
    );
    assert!(!m.root.path().join("store2").exists());
    // The first mount still serves.
    assert!(m.v("deep/er").is_dir());
}
