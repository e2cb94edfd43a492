//! `status` answers from the overlay's index without sealing (no blob is written, nothing is
//! hashed), and sealing keeps holes: a 2 GiB sparse file with 4 KiB of data costs about 4 KiB
//! of blob, and stays sparse through commit and rollback. Space is checked with `st_blocks`.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::fs::OpenOptions;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;

use common::*;

/// Every blob file of a store (not its temporaries): (path, length, bytes allocated).
fn blobs(store: &Path) -> Vec<(String, u64, u64)> {
    let mut out = Vec::new();
    for fan in std::fs::read_dir(store.join("blobs")).unwrap().flatten() {
        if fan.file_name().len() != 2 {
            continue;
        }
        for b in std::fs::read_dir(fan.path()).unwrap().flatten() {
            let m = b.metadata().unwrap();
            out.push((b.path().display().to_string(), m.len(), m.blocks() * 512));
        }
    }
    out.sort();
    out
}

#[test]
fn status_writes_no_blob_and_still_sees_changes_and_conflicts() {
    let m = Mounted::at(sample_tree);
    let before = blobs(&m.store);
    for i in 0..8u8 {
        std::fs::write(m.v(&format!("big{i}")), vec![i; 1 << 20]).unwrap();
    }
    std::fs::write(m.v("a.txt"), "changed through the view\n").unwrap();
    // A conflict: the workspace changes under the overlay's copy.
    std::fs::write(m.w("a.txt"), "changed outside\n").unwrap();
    let status: serde_json::Value = serde_json::from_str(&m.ok(&["--json", "status"])).unwrap();
    assert_eq!(status["entries"], 9, "{status}");
    assert_eq!(status["bytes"], 8 * (1 << 20) + 25, "{status}");
    let conflicts = status["conflicts"].as_array().unwrap();
    assert!(conflicts.iter().any(|c| c["path"] == "a.txt"), "{status}");
    assert_eq!(before, blobs(&m.store), "status wrote blobs");
    // A checkpoint seals, as before.
    m.ok(&["checkpoint"]);
    assert!(blobs(&m.store).len() >= before.len() + 9);
}

const GIB: u64 = 1 << 30;
/// Allowed allocation for a file with 4 KiB of data: its data plus filesystem slack.
const SPARSE_LIMIT: u64 = 256 * 1024;

fn allocated(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap().blocks() * 512
}

#[test]
fn sealing_committing_and_restoring_keep_holes() {
    let m = Mounted::at(|_| {});
    let data = vec![0xabu8; 4096];
    let f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(m.v("sparse"))
        .unwrap();
    f.set_len(2 * GIB).unwrap();
    f.write_all_at(&data, GIB).unwrap();
    drop(f);
    m.ok(&["checkpoint"]);
    let sealed = blobs(&m.store);
    let big = sealed
        .iter()
        .find(|b| b.1 == 2 * GIB)
        .unwrap_or_else(|| panic!("no 2 GiB blob in {sealed:?}"));
    assert!(big.2 <= SPARSE_LIMIT, "the blob allocates {} bytes", big.2);

    m.commit();
    let w = m.w("sparse");
    assert_eq!(std::fs::metadata(&w).unwrap().len(), 2 * GIB);
    assert!(
        allocated(&w) <= SPARSE_LIMIT,
        "committed: {}",
        allocated(&w)
    );
    let mut got = vec![0u8; 4096];
    std::fs::File::open(&w)
        .unwrap()
        .read_exact_at(&mut got, GIB)
        .unwrap();
    assert_eq!(got, data);

    // Copy-up of the committed sparse file, a checkpoint, more writes, a rollback.
    let f = OpenOptions::new().write(true).open(m.v("sparse")).unwrap();
    f.write_all_at(b"head", 0).unwrap();
    drop(f);
    assert!(allocated(&m.v("sparse")) <= SPARSE_LIMIT, "copied up");
    let cp: u64 = m.ok(&["checkpoint"]).trim().parse().unwrap();
    let f = OpenOptions::new().write(true).open(m.v("sparse")).unwrap();
    f.write_all_at(&vec![1u8; 1 << 20], GIB / 2).unwrap();
    drop(f);
    m.ok(&["rollback", "--to", &cp.to_string()]);
    let v = m.v("sparse");
    assert_eq!(std::fs::metadata(&v).unwrap().len(), 2 * GIB);
    assert!(allocated(&v) <= SPARSE_LIMIT, "restored: {}", allocated(&v));
    let f = std::fs::File::open(&v).unwrap();
    f.read_exact_at(&mut got, GIB).unwrap();
    assert_eq!(got, data);
    let mut mid = vec![9u8; 4096];
    f.read_exact_at(&mut mid, GIB / 2).unwrap();
    assert!(mid.iter().all(|b| *b == 0), "the rolled-back write shows");
    drop(f);
    // Writing the restored file gives it a working file: sparse too.
    let f = OpenOptions::new().write(true).open(&v).unwrap();
    f.write_all_at(b"more", 8192).unwrap();
    drop(f);
    assert!(
        allocated(&v) <= SPARSE_LIMIT,
        "rewritten: {}",
        allocated(&v)
    );
    let work_total: u64 = std::fs::read_dir(m.store.join("work"))
        .unwrap()
        .flatten()
        .map(|e| e.metadata().unwrap().blocks() * 512)
        .sum();
    assert!(
        work_total <= SPARSE_LIMIT,
        "working files allocate {work_total}"
    );
}
