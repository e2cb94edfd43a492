//! Bad input: each case must answer one clear `error: ...` line on stderr and a non-zero
//! exit, and lose nothing (the workspace, the store and the overlay's changes stay as they were).

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;

use common::*;

/// An ftsb-fs command with a private state home below `root`.
fn bare(root: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env("XDG_STATE_HOME", root.join("state"));
    c
}

#[test]
fn mount_a_missing_path_or_a_file() {
    let t = tempfile::tempdir().unwrap();
    let missing = t.path().join("nope");
    let out = output(bare(t.path()).arg("mount").arg(&missing));
    assert_error(&out, "does not exist");
    assert!(!missing.exists());
    let file = t.path().join("file");
    std::fs::write(&file, "keep me").unwrap();
    let out = output(bare(t.path()).arg("mount").arg(&file));
    assert_error(&out, "not a directory");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
    assert!(!is_mounted(&file));
    // A mount point that is not a directory.
    let ws = t.path().join("ws");
    std::fs::create_dir(&ws).unwrap();
    let out = output(bare(t.path()).arg("mount").arg(&ws).arg("--at").arg(&file));
    assert_error(&out, "not a directory");
    assert!(!is_mounted(&file) && !is_mounted(&ws));
}

#[test]
fn mount_the_same_workspace_twice() {
    let m = Mounted::at(sample_tree);
    std::fs::write(m.v("new"), "first mount's change").unwrap();
    // Again at the same view, at another dir, and in place.
    let other = m.root.path().join("view2");
    std::fs::create_dir(&other).unwrap();
    for at in [Some(m.view.clone()), Some(other.clone()), None] {
        let mut c = m.cmd();
        c.arg("mount").arg(&m.ws);
        if let Some(at) = &at {
            c.arg("--at").arg(at);
        }
        c.arg("--store").arg(m.root.path().join("store2"));
        assert_error(&output(&mut c), "already mounted");
    }
    assert!(!is_mounted(&other) && !is_mounted(&m.ws));
    // The first mount still serves, with its change.
    assert_eq!(
        std::fs::read_to_string(m.v("new")).unwrap(),
        "first mount's change"
    );
    let status = m.ok(&["--json", "status"]);
    let v: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(v["entries"], 1, "{status}");
    assert!(!m.w("new").exists());
}

/// The workspace is removed while its view is mounted elsewhere: commit, forced or not,
/// says so and writes nothing; the overlay is kept and comes back over a new directory.
#[test]
fn a_workspace_that_vanished_keeps_the_overlay() {
    let mut m = Mounted::at(sample_tree);
    std::fs::write(m.v("new"), "made in the view").unwrap();
    std::fs::create_dir(m.v("newdir")).unwrap();
    std::fs::write(m.v("newdir/x"), "x").unwrap();
    std::fs::write(m.v("a.txt"), "edited").unwrap();
    std::fs::remove_dir_all(&m.ws).unwrap();
    // The workspace path is gone: commands reach the daemon through the view.
    let at_view = |args: &[&str]| output(m.cmd().args(args).arg(&m.view));
    for args in [&["commit"][..], &["commit", "--force"]] {
        assert_error(&at_view(args), "was removed");
        assert!(!m.ws.exists(), "{args:?} recreated the workspace");
    }
    let out = at_view(&["--json", "status"]);
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["entries"], 4, "{v}");
    assert_eq!(
        std::fs::read_to_string(m.v("new")).unwrap(),
        "made in the view"
    );
    // Keep the overlay, put a directory back where the workspace was, mount again: the
    // changes are all there and commit into it.
    let out = at_view(&["unmount", "--keep"]);
    assert!(out.status.success(), "{out:?}");
    m.mounted = false;
    m.wait_daemon_gone();
    std::fs::create_dir(&m.ws).unwrap();
    m.mount();
    assert_eq!(std::fs::read_to_string(m.v("newdir/x")).unwrap(), "x");
    m.ok(&["commit", "--force"]);
    assert_eq!(
        std::fs::read_to_string(m.w("new")).unwrap(),
        "made in the view"
    );
    assert_eq!(std::fs::read_to_string(m.w("a.txt")).unwrap(), "edited");
    assert_eq!(std::fs::read_to_string(m.w("newdir/x")).unwrap(), "x");
}

#[test]
fn a_store_that_is_not_ours() {
    let t = tempfile::tempdir().unwrap();
    let ws = t.path().join("ws");
    std::fs::create_dir(&ws).unwrap();
    sample_tree(&ws);
    let before = tree(&ws, EXACT);
    let view = t.path().join("view");
    std::fs::create_dir(&view).unwrap();
    let store = t.path().join("store");
    std::fs::create_dir(&store).unwrap();
    let garbage: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + 3) as u8).collect();
    std::fs::write(store.join("meta.db"), &garbage).unwrap();
    let mount = |store: &Path| {
        output(
            bare(t.path())
                .arg("mount")
                .arg(&ws)
                .arg("--at")
                .arg(&view)
                .arg("--store")
                .arg(store),
        )
    };
    assert_error(&mount(&store), "not an ftsb-fs store");
    assert_eq!(std::fs::read(store.join("meta.db")).unwrap(), garbage);
    assert!(!is_mounted(&view));
    // Another program's SQLite database.
    let other = t.path().join("other");
    std::fs::create_dir(&other).unwrap();
    if have("sqlite3") {
        run_ok(
            Command::new("sqlite3")
                .arg(other.join("meta.db"))
                .arg("CREATE TABLE mine(x); INSERT INTO mine VALUES(1);"),
        );
        let theirs = std::fs::read(other.join("meta.db")).unwrap();
        assert_error(&mount(&other), "not an ftsb-fs store");
        assert_eq!(std::fs::read(other.join("meta.db")).unwrap(), theirs);
        assert!(!is_mounted(&view));
    }
    assert_trees_eq("workspace", &before, &tree(&ws, EXACT));
}

/// Unmounts keeping the overlay and moves what the daemon left in the WAL into the database
/// file, so the file alone is the store's state; its path, or `None` (skipped) without
/// `sqlite3`.
fn unmounted_database(m: &mut Mounted) -> Option<std::path::PathBuf> {
    m.ok(&["unmount", "--keep"]);
    m.mounted = false;
    m.wait_daemon_gone();
    if !have("sqlite3") {
        return None;
    }
    let db = m.store.join("meta.db");
    run_ok(
        Command::new("sqlite3")
            .arg(&db)
            .arg("PRAGMA wal_checkpoint(TRUNCATE);"),
    );
    assert!(!m.store.join("meta.db-wal").exists());
    Some(db)
}

#[test]
fn a_store_that_fails_its_integrity_check() {
    let mut m = Mounted::at(sample_tree);
    for i in 0..300 {
        std::fs::write(m.v(&format!("f{i}")), format!("change {i}")).unwrap();
    }
    let Some(db) = unmounted_database(&mut m) else {
        return;
    };
    // Scribble over the middle of every page but the header page.
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(
        bytes.len() >= 4 * 4096,
        "meta.db is only {} bytes",
        bytes.len()
    );
    let page = u16::from_be_bytes([bytes[16], bytes[17]]) as usize;
    for p in 1..bytes.len() / page {
        for b in &mut bytes[p * page + 200..p * page + 400] {
            *b = 0x5a;
        }
    }
    std::fs::write(&db, &bytes).unwrap();
    let before = tree(&m.ws, EXACT);
    let out = output(&mut m.mount_cmd());
    let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(
        stderr.contains("integrity") || stderr.contains("malformed"),
        "{stderr}"
    );
    assert_error(&out, "meta.db");
    assert!(!is_mounted(&m.view));
    assert_eq!(std::fs::read(&db).unwrap(), bytes, "the store was changed");
    assert_trees_eq("workspace", &before, &tree(&m.ws, EXACT));
    // fsck reports it too, without repairing anything behind our back.
    let out = output(m.cmd().arg("fsck").arg(&m.ws).arg("--store").arg(&m.store));
    assert!(!out.status.success());
    assert_eq!(std::fs::read(&db).unwrap(), bytes);
}

/// Damage that only the integrity check at opening sees: one page in the middle of the
/// history's table, which mounting does not read. The mount must refuse rather than serve a
/// store that fails later (at `log`, or at a commit's log row).
#[test]
fn a_store_damaged_where_mounting_does_not_read_is_refused() {
    let mut m = Mounted::at(sample_tree);
    let long = "a checkpoint message long enough that the history spans many pages ".repeat(3);
    for i in 0..60 {
        std::fs::write(m.v("x"), format!("{i}")).unwrap();
        m.ok(&["checkpoint", "-m", &format!("{i} {long}")]);
    }
    let Some(db) = unmounted_database(&mut m) else {
        return;
    };
    // A leaf of the history table that is neither its first nor its last.
    let out = run_ok(Command::new("sqlite3").arg(&db).arg(
        "SELECT pageno FROM dbstat WHERE name = 'log' AND pagetype = 'leaf' ORDER BY path LIMIT 1 OFFSET 1;",
    ));
    let leaf: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let mut bytes = std::fs::read(&db).unwrap();
    let page = u16::from_be_bytes([bytes[16], bytes[17]]) as usize;
    // Cells fill a page from its end: scribble over some of them.
    let cells = leaf * page - 400;
    for b in &mut bytes[cells..cells + 200] {
        *b = 0x5a;
    }
    std::fs::write(&db, &bytes).unwrap();
    let before = tree(&m.ws, EXACT);
    let out = output(&mut m.mount_cmd());
    assert_error(&out, "failed its integrity check");
    assert!(!is_mounted(&m.view));
    assert_eq!(std::fs::read(&db).unwrap(), bytes, "the store was changed");
    assert_trees_eq("workspace", &before, &tree(&m.ws, EXACT));
}

#[test]
fn commands_without_a_daemon() {
    let t = tempfile::tempdir().unwrap();
    let ws = t.path().join("ws");
    std::fs::create_dir(&ws).unwrap();
    std::fs::write(ws.join("a"), "a").unwrap();
    for args in [
        vec!["commit"],
        vec!["abort"],
        vec!["status"],
        vec!["unmount"],
        vec!["checkpoint"],
        vec!["log"],
        vec!["diff"],
    ] {
        let out = output(bare(t.path()).args(&args).arg(&ws));
        assert_error(&out, "no ftsb-fs daemon serves");
    }
    let out = output(bare(t.path()).args(["exec"]).arg(&ws).args(["--", "true"]));
    assert_error(&out, "no ftsb-fs daemon serves");
    assert_eq!(std::fs::read(ws.join("a")).unwrap(), b"a");
    assert_eq!(std::fs::read_dir(&ws).unwrap().count(), 1);
}

#[test]
fn unmount_with_uncommitted_changes_is_refused_and_keep_keeps_them() {
    let mut m = Mounted::at(sample_tree);
    std::fs::write(m.v("new"), "pending").unwrap();
    set_xattr(&m.v("a.txt"), "user.pending", b"yes");
    std::fs::remove_file(m.v("b.txt")).unwrap();
    let out = m.try_(&["unmount"]);
    assert_error(&out, "uncommitted");
    assert!(is_mounted(&m.view));
    assert_eq!(std::fs::read_to_string(m.v("new")).unwrap(), "pending");
    // --keep unmounts and leaves the overlay in the store for the next mount.
    m.ok(&["unmount", "--keep"]);
    m.mounted = false;
    m.wait_daemon_gone();
    assert!(!is_mounted(&m.view));
    assert!(!m.w("new").exists() && m.w("b.txt").exists());
    m.mount();
    assert_eq!(std::fs::read_to_string(m.v("new")).unwrap(), "pending");
    assert_eq!(xattrs(&m.v("a.txt")).get("user.pending").unwrap(), b"yes");
    assert!(!m.v("b.txt").exists());
}

#[test]
fn stale_mount_after_sigkill_keeps_synced_changes() {
    for in_place in [false, true] {
        let fill = |ws: &Path| sample_tree(ws);
        let mut m = if in_place {
            Mounted::in_place(fill)
        } else {
            Mounted::at(fill)
        };
        let before_ws = {
            // In place, the workspace is only readable again after the unmount below.
            (!in_place).then(|| tree(&m.ws, EXACT))
        };
        let mut f = std::fs::File::create(m.v("synced")).unwrap();
        f.write_all(b"fsynced before the crash").unwrap();
        f.sync_all().unwrap();
        drop(f);
        std::fs::write(m.v("a.txt"), "closed before the crash").unwrap();
        std::fs::create_dir(m.v("newdir")).unwrap();
        std::fs::rename(m.v("dir/c.txt"), m.v("newdir/c.txt")).unwrap();
        // Written but neither closed nor synced when the daemon dies: the daemon wrote the
        // bytes to its working file, whose size the next start trusts.
        let mut open = std::fs::File::create(m.v("open")).unwrap();
        open.write_all(b"written, still open").unwrap();
        let pid = m.pid.expect("mount --json reports the daemon's pid");
        // SAFETY: kill has no memory preconditions; the pid is our daemon's.
        assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
        m.wait_daemon_gone();
        let err = std::fs::metadata(&m.view).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTCONN), "{err}");
        // The next mount notices the stale view, detaches it and serves the overlay again.
        m.mount();
        assert_eq!(
            std::fs::read_to_string(m.v("synced")).unwrap(),
            "fsynced before the crash"
        );
        assert_eq!(
            std::fs::read_to_string(m.v("a.txt")).unwrap(),
            "closed before the crash"
        );
        assert_eq!(
            std::fs::read_to_string(m.v("newdir/c.txt")).unwrap(),
            "charlie\n"
        );
        assert!(!m.v("dir/c.txt").exists());
        drop(open);
        assert_eq!(
            std::fs::read_to_string(m.v("open")).unwrap(),
            "written, still open"
        );
        if let Some(before) = before_ws {
            assert_trees_eq("workspace", &before, &tree(&m.ws, EXACT));
        }
        // Abort and unmount: the workspace never saw any of it.
        let out = m.unmount_abort();
        assert!(out.status.success(), "{out:?}");
        assert!(!is_mounted(&m.view));
        assert_eq!(std::fs::read_to_string(m.w("a.txt")).unwrap(), "alpha\n");
        assert!(!m.w("synced").exists() && m.w("dir/c.txt").exists());
    }
}

#[test]
fn unmount_of_a_busy_view_fails_clearly_and_a_later_one_works() {
    let mut m = Mounted::at(sample_tree);
    std::fs::write(m.v("new"), "pending").unwrap();
    let busy = std::fs::File::open(m.v("a.txt")).unwrap();
    let out = m.try_(&["unmount", "--keep"]);
    assert_error(&out, "busy");
    assert!(is_mounted(&m.view));
    assert_eq!(std::fs::read_to_string(m.v("new")).unwrap(), "pending");
    drop(busy);
    m.ok(&["unmount", "--keep"]);
    m.mounted = false;
    assert!(
        !is_mounted(&m.view),
        "unmount said it unmounted, but the view is still there"
    );
    m.wait_daemon_gone();
    m.mount();
    assert_eq!(std::fs::read_to_string(m.v("new")).unwrap(), "pending");
}

/// A small tmpfs, unmounted on drop.
struct SmallFs(std::path::PathBuf);

impl Drop for SmallFs {
    fn drop(&mut self) {
        detach(&self.0);
    }
}

/// A view whose store lies on a 3 MiB tmpfs, with two small changes made, after a write
/// that filled the store's disk failed with ENOSPC. `None` if no tmpfs can be mounted.
fn full_store() -> Option<(Mounted, SmallFs, std::collections::BTreeMap<String, String>)> {
    let t = tempfile::tempdir().unwrap();
    let small = t.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let st = output(
        Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=3m", "tmpfs"])
            .arg(&small),
    );
    if !st.status.success() {
        skip(
            "a full-store-disk test",
            &format!(
                "cannot mount a tmpfs: {}",
                String::from_utf8_lossy(&st.stderr).trim()
            ),
        );
        return None;
    }
    let guard = SmallFs(small.clone());
    let ws = t.path().join("ws");
    std::fs::create_dir(&ws).unwrap();
    sample_tree(&ws);
    let before = tree(&ws, EXACT);
    let view = t.path().join("view");
    std::fs::create_dir(&view).unwrap();
    let mut m = Mounted {
        root: t,
        ws,
        view,
        store: small.join("store"),
        state: small.join("state"),
        pid: None,
        mounted: false,
        mount_args: Vec::new(),
        mount_env: Vec::new(),
    };
    std::fs::create_dir(&m.state).unwrap();
    m.mount();
    std::fs::write(m.v("small-change"), "kept").unwrap();
    std::fs::write(m.v("a.txt"), "edited").unwrap();
    let err = std::fs::write(m.v("huge"), vec![1u8; 8 << 20]).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "{err}");
    Some((m, guard, before))
}

#[test]
fn a_full_store_disk_gives_enospc_and_loses_nothing() {
    let Some((mut m, small, before)) = full_store() else {
        return;
    };
    // The daemon still serves, with every earlier change.
    let check = |m: &Mounted| {
        assert_eq!(
            std::fs::read_to_string(m.v("small-change")).unwrap(),
            "kept"
        );
        assert_eq!(std::fs::read_to_string(m.v("a.txt")).unwrap(), "edited");
        assert_eq!(std::fs::read_to_string(m.v("b.txt")).unwrap(), "bravo\n");
        assert_trees_eq("workspace", &before, &tree(&m.ws, EXACT));
    };
    check(&m);
    // Abort keeps the discarded state in the log, which needs room: a clear error.
    assert_error(&m.try_(&["abort"]), "no space left on device");
    check(&m);
    // Once there is room again (the disk grows), abort works.
    run_ok(
        Command::new("mount")
            .args(["-o", "remount,size=64m"])
            .arg(&small.0),
    );
    check_isolation_then_abort(&m, &before);
    let out = m.unmount_abort();
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn a_full_store_disk_frees_space_on_unlink() {
    let Some((m, _small, _)) = full_store() else {
        return;
    };
    std::fs::remove_file(m.v("huge")).unwrap();
    std::fs::write(m.v("after"), "room again").unwrap();
    assert_eq!(std::fs::read_to_string(m.v("after")).unwrap(), "room again");
    assert_eq!(
        std::fs::read_to_string(m.v("small-change")).unwrap(),
        "kept"
    );
}

#[test]
fn sigterm_unmounts_cleanly_and_keeps_the_overlay() {
    let mut m = Mounted::at(sample_tree);
    std::fs::write(m.v("new"), "pending").unwrap();
    let pid = m.pid.unwrap();
    // SAFETY: kill has no memory preconditions; the pid is our daemon's.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGTERM) }, 0);
    m.wait_daemon_gone();
    assert!(
        !is_mounted(&m.view),
        "the view is still mounted after SIGTERM"
    );
    assert!(!m.w("new").exists());
    m.mount();
    assert_eq!(std::fs::read_to_string(m.v("new")).unwrap(), "pending");
}

#[test]
fn mount_right_after_unmount_works() {
    let mut m = Mounted::at(sample_tree);
    for i in 0..8 {
        std::fs::write(m.v(&format!("f{i}")), "x").unwrap();
        m.ok(&["unmount", "--keep"]);
        m.mounted = false;
        // No waiting for the old daemon: the unmount command has done that.
        m.mount();
    }
    // The sample tree's 7 root entries and the 8 files, all kept across the remounts.
    assert_eq!(std::fs::read_dir(&m.view).unwrap().count(), 7 + 8);
}

#[test]
fn commit_refuses_when_the_workspace_changed_outside_the_view() {
    let m = Mounted::at(sample_tree);
    std::fs::write(m.v("a.txt"), "from the view").unwrap();
    std::fs::remove_file(m.v("b.txt")).unwrap();
    // Meanwhile the user edits the same files in the workspace directly.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(m.w("a.txt"), "from outside").unwrap();
    std::fs::write(m.w("b.txt"), "also from outside").unwrap();
    let outside = tree(&m.ws, EXACT);
    let out = m.try_(&["commit"]);
    assert_error(&out, "a.txt");
    // Neither side lost anything.
    assert_trees_eq(
        "workspace after a refused commit",
        &outside,
        &tree(&m.ws, EXACT),
    );
    assert_eq!(
        std::fs::read_to_string(m.v("a.txt")).unwrap(),
        "from the view"
    );
    assert!(!m.v("b.txt").exists());
    // --force publishes the view's version.
    m.ok(&["commit", "--force"]);
    assert_eq!(
        std::fs::read_to_string(m.w("a.txt")).unwrap(),
        "from the view"
    );
    assert!(!m.w("b.txt").exists());
}

#[test]
fn commit_of_an_in_place_view() {
    let mut before = None;
    let mut m = Mounted::in_place(|ws| {
        sample_tree(ws);
        before = Some(tree(ws, EXACT));
    });
    std::fs::write(m.v("a.txt"), "committed in place").unwrap();
    std::fs::rename(m.v("dir"), m.v("dir2")).unwrap();
    std::fs::remove_file(m.v("link")).unwrap();
    std::fs::create_dir(m.v("new")).unwrap();
    std::fs::write(m.v("new/file"), "n").unwrap();
    let shown = tree(&m.view, EXACT);
    m.commit();
    assert_trees_eq("view after commit", &shown, &tree(&m.view, EXACT));
    let out = m.unmount_abort();
    assert!(out.status.success(), "{out:?}");
    assert_trees_eq(
        "workspace after commit and unmount",
        &shown,
        &tree(&m.ws, EXACT),
    );
    assert_ne!(before.unwrap(), shown);
}
