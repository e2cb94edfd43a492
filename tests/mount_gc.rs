//! `gc` drops the restorable states of earlier commits and the blobs nothing references,
//! and keeps what the current transaction can still roll back to.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use common::*;

fn blobs(m: &Mounted) -> usize {
    let dir = m.store.join("blobs");
    std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().len() == 2)
        .map(|e| std::fs::read_dir(e.path()).unwrap().count())
        .sum()
}

#[test]
fn gc_drops_states_of_earlier_commits_and_keeps_the_current_ones() {
    let m = Mounted::at(sample_tree);
    std::fs::write(m.v("old"), "a state the first commit leaves behind").unwrap();
    m.ok(&["checkpoint", "-m", "before commit"]);
    m.ok(&["commit"]);
    std::fs::write(m.v("new"), "kept by the current checkpoint").unwrap();
    let id = m.ok(&["checkpoint"]).trim().to_owned();
    let before = blobs(&m);
    let out = m.ok(&["--json", "gc"]);
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["checkpoints"], 1, "{r}");
    assert!(r["blobs"].as_u64().unwrap() >= 1, "{r}");
    assert_eq!(blobs(&m), before - r["blobs"].as_u64().unwrap() as usize);
    // The current transaction's checkpoint still restores, blobs and all.
    std::fs::write(m.v("new"), "changed after").unwrap();
    m.ok(&["rollback", "--to", &id]);
    assert_eq!(
        std::fs::read_to_string(m.v("new")).unwrap(),
        "kept by the current checkpoint"
    );
    let fsck = m.ok(&["fsck", "--store", m.store.to_str().unwrap()]);
    assert!(fsck.contains(" 0 problems"), "{fsck}");
}
