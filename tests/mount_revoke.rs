//! A descriptor held open across a rollback or abort must not write into the restored state:
//! the restore revokes every handle open at that moment (its writes fail with EIO, or land in
//! a detached working file nothing shows), with FUSE passthrough on and off. A commit keeps
//! held handles working: what they write belongs to the next transaction.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;

use common::*;

/// A mounted sample workspace; passthrough as asked (the daemon's environment decides).
fn mounted(passthrough: bool) -> Option<Mounted> {
    let mut m = Mounted::at(sample_tree);
    m.unmount_abort();
    let mut c = m.mount_cmd();
    if !passthrough {
        c.env("FTSB_FS_PASSTHROUGH", "0");
    }
    let out = run_ok(&mut c);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    m.pid = v["pid"].as_u64().map(|p| p as u32);
    m.mounted = true;
    let status: serde_json::Value = serde_json::from_str(&m.ok(&["--json", "status"])).unwrap();
    if status["passthrough"] != passthrough {
        eprintln!("SKIP: FUSE passthrough is not available here (needs Linux 6.9+ and root)");
        assert!(
            std::env::var_os("CI").is_none() && std::env::var_os("FTSB_REQUIRE_ALL").is_none(),
            "this test must run in CI"
        );
        return None;
    }
    Some(m)
}

fn rw(p: &std::path::Path) -> File {
    OpenOptions::new().read(true).write(true).open(p).unwrap()
}

/// A write through a revoked descriptor: refused with EIO, or accepted into a detached file.
fn write_revoked(f: &File, data: &[u8], at: u64) {
    if let Err(e) = f.write_all_at(data, at) {
        assert_eq!(e.raw_os_error(), Some(libc::EIO), "{e}");
    }
}

fn held_descriptors_cannot_write_into_a_restored_state(passthrough: bool, abort: bool) {
    let Some(m) = mounted(passthrough) else {
        return;
    };
    std::fs::write(m.v("f"), "checkpointed content\n").unwrap();
    let cp = m.ok(&["checkpoint"]).trim().to_owned();
    let restored = if abort {
        tree(&m.ws, SHAPE)
    } else {
        tree(&m.view, SHAPE)
    };
    // Held: a file of the checkpoint, a file made after it, a workspace file.
    let f = rw(&m.v("f"));
    f.write_all_at(b"XXXX", 0).unwrap();
    std::fs::write(m.v("g"), "made after the checkpoint\n").unwrap();
    let g = rw(&m.v("g"));
    let a = rw(&m.v("a.txt"));
    a.write_all_at(b"written", 0).unwrap();
    if abort {
        m.abort();
    } else {
        m.ok(&["rollback", "--to", &cp]);
    }
    // Through the held descriptors, before and after the kernel looks the names up again.
    for round in 0..2 {
        write_revoked(&f, b"YYYYYYYY", 0);
        write_revoked(&f, b"appended past the end\n", 4096);
        write_revoked(&g, b"ZZZZ", 0);
        write_revoked(&a, b"AAAA", 2);
        if let Err(e) = f.set_len(3) {
            assert_eq!(e.raw_os_error(), Some(libc::EIO), "{e}");
        }
        assert_trees_eq(
            &format!("view after writes through revoked descriptors (round {round})"),
            &restored,
            &tree(&m.view, SHAPE),
        );
    }
    drop((f, g, a));
    assert_trees_eq("view after close", &restored, &tree(&m.view, SHAPE));
    // New opens work as usual.
    std::fs::write(m.v("b.txt"), "fresh\n").unwrap();
    let fresh = rw(&m.v("b.txt"));
    fresh.write_all_at(b"FRESH", 0).unwrap();
    drop(fresh);
    assert_eq!(std::fs::read(m.v("b.txt")).unwrap(), b"FRESH\n");
    if !abort {
        assert_eq!(std::fs::read(m.v("f")).unwrap(), b"checkpointed content\n");
        let again = rw(&m.v("f"));
        again.write_all_at(b"new", 0).unwrap();
        drop(again);
        assert_eq!(std::fs::read(m.v("f")).unwrap(), b"newckpointed content\n");
    }
}

#[test]
fn rollback_revokes_held_descriptors_with_passthrough() {
    held_descriptors_cannot_write_into_a_restored_state(true, false);
}

#[test]
fn rollback_revokes_held_descriptors_without_passthrough() {
    held_descriptors_cannot_write_into_a_restored_state(false, false);
}

#[test]
fn abort_revokes_held_descriptors_with_passthrough() {
    held_descriptors_cannot_write_into_a_restored_state(true, true);
}

#[test]
fn abort_revokes_held_descriptors_without_passthrough() {
    held_descriptors_cannot_write_into_a_restored_state(false, true);
}

fn commit_keeps_held_descriptors(passthrough: bool) {
    let Some(m) = mounted(passthrough) else {
        return;
    };
    let f = rw(&m.v("a.txt"));
    f.write_all_at(b"A", 0).unwrap();
    m.commit();
    assert_eq!(std::fs::read(m.w("a.txt")).unwrap(), b"Alpha\n");
    f.write_all_at(b"B", 1).unwrap();
    drop(f);
    assert_eq!(std::fs::read(m.v("a.txt")).unwrap(), b"ABpha\n");
    assert_eq!(std::fs::read(m.w("a.txt")).unwrap(), b"Alpha\n");
    m.commit();
    assert_eq!(std::fs::read(m.w("a.txt")).unwrap(), b"ABpha\n");
}

#[test]
fn commit_keeps_held_descriptors_with_passthrough() {
    commit_keeps_held_descriptors(true);
}

#[test]
fn commit_keeps_held_descriptors_without_passthrough() {
    commit_keeps_held_descriptors(false);
}
