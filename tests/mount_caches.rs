//! What the kernel keeps of the view (names, attributes, listings, which it may keep for an
//! hour, and directories it opens without asking the daemon) never outlives a change the
//! daemon makes behind its back: abort, a partial abort, rollback and commit. Each case warms
//! every cache with the changed state (a full walk lists every directory twice, stats every
//! name and reads every xattr), undoes or publishes, and walks again.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::DirEntry;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;

/// Changes names, a listing, a mode, an mtime and an xattr through the view, and walks the
/// view twice so the kernel holds all of it.
fn change_and_warm(m: &Mounted) -> BTreeMap<String, String> {
    std::fs::write(m.v("dir/new.txt"), "new\n").unwrap();
    std::fs::remove_file(m.v("dir/c.txt")).unwrap();
    std::fs::create_dir(m.v("empty/made")).unwrap();
    std::fs::set_permissions(m.v("a.txt"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let f = std::fs::File::options()
        .write(true)
        .open(m.v("h1"))
        .unwrap();
    f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000))
        .unwrap();
    drop(f);
    set_xattr(&m.v("b.txt"), "user.tag", b"changed");
    set_xattr(&m.v("run.sh"), "user.added", b"1");
    let changed = tree(&m.view, EXACT);
    assert_eq!(
        changed,
        tree(&m.view, EXACT),
        "two walks of an idle view differ"
    );
    assert!(changed.contains_key("dir/new.txt") && !changed.contains_key("dir/c.txt"));
    changed
}

/// After `undo`, the view equals the workspace again, however warm the kernel's caches were.
fn undone_by(undo: impl FnOnce(&Mounted)) {
    let m = Mounted::at(sample_tree);
    let before = tree(&m.ws, EXACT);
    change_and_warm(&m);
    undo(&m);
    assert_trees_eq("view after the undo", &before, &tree(&m.view, EXACT));
    // And the caches filled just now are the restored state's.
    assert_trees_eq("second walk after the undo", &before, &tree(&m.view, EXACT));
}

#[test]
fn abort_shows_no_kept_listing_attribute_or_xattr() {
    undone_by(|m| m.abort());
}

#[test]
fn partial_abort_shows_no_kept_listing_attribute_or_xattr() {
    undone_by(|m| {
        for paths in [&["dir", "empty", "a.txt", "h1"][..], &["b.txt", "run.sh"]] {
            let mut c = m.cmd();
            c.arg("abort").arg(&m.ws).args(paths);
            run_ok(&mut c);
        }
    });
}

#[test]
fn rollback_shows_no_kept_listing_attribute_or_xattr() {
    undone_by(|m| {
        m.ok(&["rollback", "--to", "0"]);
    });
}

#[test]
fn rollback_to_a_checkpoint_shows_its_listings_attributes_and_xattrs() {
    let m = Mounted::at(sample_tree);
    let at_checkpoint = change_and_warm(&m);
    let id = m.ok(&["checkpoint", "-m", "changed"]).trim().to_owned();
    // Undo every change of `change_and_warm` through the view, warm again, roll forward.
    std::fs::remove_file(m.v("dir/new.txt")).unwrap();
    std::fs::write(m.v("dir/c.txt"), "charlie\n").unwrap();
    std::fs::remove_dir(m.v("empty/made")).unwrap();
    std::fs::set_permissions(m.v("a.txt"), std::fs::Permissions::from_mode(0o644)).unwrap();
    set_xattr(&m.v("b.txt"), "user.tag", b"orig");
    let _ = tree(&m.view, EXACT);
    let _ = tree(&m.view, EXACT);
    m.ok(&["rollback", "--to", &id]);
    assert_trees_eq("view after rollback", &at_checkpoint, &tree(&m.view, EXACT));
    m.abort();
}

#[test]
fn commit_then_abort_shows_the_committed_state() {
    let m = Mounted::at(sample_tree);
    let changed = change_and_warm(&m);
    m.commit();
    assert_trees_eq("workspace after commit", &changed, &tree(&m.ws, EXACT));
    assert_trees_eq("view after commit", &changed, &tree(&m.view, EXACT));
    // What the kernel cached before the commit names nodes the commit replaced: a change and
    // an abort after it must land on, and return to, the committed state.
    std::fs::write(m.v("dir/new.txt"), "rewritten after the commit\n").unwrap();
    std::fs::remove_file(m.v("a.txt")).unwrap();
    set_xattr(&m.v("b.txt"), "user.tag", b"after");
    let _ = tree(&m.view, EXACT);
    m.abort();
    assert_trees_eq(
        "view after commit and abort",
        &changed,
        &tree(&m.view, EXACT),
    );
}

/// The names `it` yields, counted into `seen`.
fn drain(it: impl Iterator<Item = std::io::Result<DirEntry>>, seen: &mut BTreeMap<String, usize>) {
    for e in it {
        *seen
            .entry(e.unwrap().file_name().into_string().unwrap())
            .or_default() += 1;
    }
}

/// A reader half way through a listing the kernel kept, whose copy the kernel then drops
/// (memory pressure; here `drop_caches`), while the directory changes: the kernel asks the
/// daemon to continue from the offset it reached, and the reader still sees every entry that
/// was neither added nor removed exactly once.
#[test]
fn a_reader_continues_its_listing_after_the_kernel_dropped_its_copy() {
    let drop_caches = Path::new("/proc/sys/vm/drop_caches");
    let writable = std::fs::OpenOptions::new()
        .write(true)
        .open(drop_caches)
        .is_ok();
    if !require(
        writable,
        "evicted listing",
        "needs root to write /proc/sys/vm/drop_caches",
    ) {
        return;
    }
    let names: Vec<String> = (0..3000).map(|i| format!("entry-{i:05}")).collect();
    let m = Mounted::at(|ws: &Path| {
        std::fs::create_dir(ws.join("many")).unwrap();
        for n in &names {
            std::fs::write(ws.join("many").join(n), "").unwrap();
        }
    });
    // The first full read leaves the listing with the kernel; the reader is served from it.
    assert_eq!(std::fs::read_dir(m.v("many")).unwrap().count(), 3000);
    let mut it = std::fs::read_dir(m.v("many")).unwrap();
    let mut seen = BTreeMap::new();
    drain(it.by_ref().take(1000), &mut seen);
    for i in (0..3000).step_by(3) {
        std::fs::remove_file(m.v(&format!("many/{}", names[i]))).unwrap();
    }
    for i in 0..400 {
        std::fs::write(m.v(&format!("many/added-{i}")), "").unwrap();
    }
    std::fs::write(drop_caches, "1").unwrap();
    drain(it, &mut seen);
    let dups: Vec<_> = seen.iter().filter(|(_, c)| **c > 1).collect();
    assert!(dups.is_empty(), "entries seen twice: {dups:?}");
    for (i, n) in names.iter().enumerate() {
        if i % 3 != 0 {
            assert!(seen.contains_key(n), "untouched entry {n} missed");
        }
    }
    m.abort();
}

/// Two readers of one directory, interleaved with changes to it: each sees every entry that
/// was neither added nor removed exactly once, though both read with the same (kernel-opened,
/// handle-less) directory and the second's fresh listing is taken while the first is half
/// way through its own.
#[test]
fn interleaved_readers_of_a_changing_directory_each_see_every_entry_once() {
    let names: Vec<String> = (0..3000).map(|i| format!("entry-{i:05}")).collect();
    let fill = |ws: &Path| {
        std::fs::create_dir(ws.join("many")).unwrap();
        for n in &names {
            std::fs::write(ws.join("many").join(n), "").unwrap();
        }
    };
    let m = Mounted::at(fill);
    let mut first = std::fs::read_dir(m.v("many")).unwrap();
    let mut seen_first = BTreeMap::new();
    drain(first.by_ref().take(1000), &mut seen_first);
    // Remove entries the first reader has already passed and some it has not, add others.
    let removed: BTreeSet<usize> = (0..3000).step_by(5).collect();
    for i in &removed {
        std::fs::remove_file(m.v(&format!("many/{}", names[*i]))).unwrap();
    }
    for i in 0..700 {
        std::fs::write(m.v(&format!("many/added-{i}")), "").unwrap();
    }
    let mut second = std::fs::read_dir(m.v("many")).unwrap();
    let mut seen_second = BTreeMap::new();
    drain(second.by_ref().take(1500), &mut seen_second);
    for i in (1..3000).step_by(5) {
        std::fs::remove_file(m.v(&format!("many/{}", names[i]))).unwrap();
    }
    drain(first, &mut seen_first);
    drain(second, &mut seen_second);
    for (who, seen, gone) in [
        ("first", &seen_first, &BTreeSet::new()),
        ("second", &seen_second, &removed),
    ] {
        let dups: Vec<_> = seen.iter().filter(|(_, c)| **c > 1).collect();
        assert!(dups.is_empty(), "{who} reader saw entries twice: {dups:?}");
        for (i, n) in names.iter().enumerate() {
            // Entries removed before a reader's listing, or at any time: either way.
            if i % 5 > 1 && !gone.contains(&i) {
                assert!(seen.contains_key(n), "{who} reader missed {n}");
            }
        }
    }
    // A fresh listing shows exactly what is there.
    let now: BTreeSet<String> = std::fs::read_dir(m.v("many"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let expected: BTreeSet<String> = names
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 5 > 1)
        .map(|(_, n)| n.clone())
        .chain((0..700).map(|i| format!("added-{i}")))
        .collect();
    assert_eq!(now, expected);
    m.abort();
}

/// A listing abandoned half read (`ls | head`) is not what the next reader from the start
/// gets: it sees a change made since, through the view or by an abort.
#[test]
fn a_listing_abandoned_half_read_is_not_read_again() {
    let m = Mounted::at(|ws: &Path| {
        std::fs::create_dir(ws.join("many")).unwrap();
        for i in 0..3000 {
            std::fs::write(ws.join(format!("many/entry-{i:05}")), "").unwrap();
        }
    });
    let half_read = |m: &Mounted| {
        let mut it = std::fs::read_dir(m.v("many")).unwrap();
        assert_eq!(it.by_ref().take(100).count(), 100);
    };
    half_read(&m);
    std::fs::write(m.v("many/late"), "").unwrap();
    let names: BTreeSet<String> = std::fs::read_dir(m.v("many"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.contains("late"),
        "a name made after a half read is missing"
    );
    assert_eq!(names.len(), 3001);
    half_read(&m);
    m.abort();
    let names: BTreeSet<String> = std::fs::read_dir(m.v("many"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        !names.contains("late"),
        "a name the abort removed is still listed"
    );
    assert_eq!(names.len(), 3000);
}
