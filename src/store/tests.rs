//! The blob store's conformance tests.

use super::*;

fn store() -> (tempfile::TempDir, BlobStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = BlobStore::open(&dir.path().join("blobs")).expect("open");
    (dir, store)
}

#[test]
fn put_is_content_addressed_and_deduplicated() {
    let (_d, s) = store();
    let a = s.put_bytes(b"hello").expect("put");
    let b = s.put_bytes(b"hello").expect("put");
    let c = s.put_bytes(b"world").expect("put");
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a, BlobId::of(b"hello"));
    assert_eq!(s.list().expect("list").len(), 2);
    assert_eq!(s.read_verified(a).expect("read"), b"hello");
}

#[test]
fn put_file_reads_from_the_start() {
    let (d, s) = store();
    let path = d.path().join("f");
    fs::write(&path, vec![7u8; 3 * COPY_CHUNK + 5]).expect("write");
    let mut f = File::open(&path).expect("open");
    f.seek(SeekFrom::End(0)).expect("seek");
    let id = s.put_file(&f).expect("put");
    assert_eq!(s.read_verified(id).expect("read").len(), 3 * COPY_CHUNK + 5);
}

#[test]
fn corruption_is_detected_not_served() {
    let (_d, s) = store();
    let id = s.put_bytes(b"precious").expect("put");
    let path = s.path(id);
    let mut perms = fs::metadata(&path).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
    fs::set_permissions(&path, perms).expect("chmod");
    fs::write(&path, b"tampered").expect("tamper");
    assert!(matches!(
        s.read_verified(id),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(matches!(
        s.open_verified(id),
        Err(StoreError::Corrupt { .. })
    ));
    let msg = s.read_verified(id).expect_err("corrupt").to_string();
    assert!(msg.contains(&id.to_string()), "error names the blob: {msg}");
}

#[test]
fn missing_blob_is_named() {
    let (_d, s) = store();
    let id = BlobId::of(b"never stored");
    assert!(matches!(
        s.read_verified(id),
        Err(StoreError::Missing { .. })
    ));
}

#[test]
fn gc_keeps_live_blobs_only() {
    let (_d, s) = store();
    let keep = s.put_bytes(b"keep").expect("put");
    let drop = s.put_bytes(b"drop").expect("put");
    let removed = s.gc(&HashSet::from([keep])).expect("gc");
    assert_eq!(removed, 1);
    assert!(s.contains(keep));
    assert!(!s.contains(drop));
}

#[test]
fn ids_round_trip_and_bad_ids_are_refused() {
    let id = BlobId::of(b"x");
    assert_eq!(id.to_string().parse::<BlobId>().expect("parse"), id);
    assert!("nothex".parse::<BlobId>().is_err());
    let json = serde_json::to_string(&id).expect("json");
    assert_eq!(serde_json::from_str::<BlobId>(&json).expect("json"), id);
}

#[test]
fn stale_temporaries_are_cleared_on_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blobs = dir.path().join("blobs");
    BlobStore::open(&blobs).expect("open");
    fs::write(blobs.join("tmp").join("123-0"), b"half").expect("write");
    BlobStore::open(&blobs).expect("reopen");
    assert_eq!(fs::read_dir(blobs.join("tmp")).expect("read").count(), 0);
}

#[test]
fn work_files_are_named_by_inode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = WorkDir::open(&dir.path().join("work")).expect("open");
    w.create(0x1_0000_0000_0001).expect("create");
    assert_eq!(w.list().expect("list"), vec![0x1_0000_0000_0001]);
    w.doom(0x1_0000_0000_0001);
    w.doom(0x1_0000_0000_0001);
    drop(w);
    let w = WorkDir::open(&dir.path().join("work")).expect("reopen");
    assert!(w.list().expect("list").is_empty());
}

/// The sweeper removes doomed files while the directory stays open (once their burst of
/// dooms has ended), and a doom after it went idle wakes it again.
#[test]
fn doomed_work_files_are_removed_while_the_directory_is_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = WorkDir::open(&dir.path().join("work")).expect("open");
    for ino in [7, 8] {
        w.create(ino).expect("create");
        w.doom(ino);
        // Not a timing: the deadline only keeps a sweeper that never removes from hanging.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while w.path(ino).exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "doomed working file {ino} never removed"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

#[test]
fn doomed_work_files_are_removed_and_one_made_again_is_a_new_file() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().join("work");
    let w = WorkDir::open(&work).expect("open");
    let mut held = Vec::new();
    for ino in 1..=400 {
        let mut old = w.create(ino).expect("create");
        old.write_all(&[7; 8192]).expect("write");
        w.doom(ino);
        // Every other inode gets a working file again (a restore brings inode numbers back)
        // while its doom may still be waiting or under way; a revoked handle still holds the
        // old file and must not reach the new one.
        if ino % 2 == 0 {
            let new = w.create(ino).expect("create");
            assert_ne!(
                new.metadata().expect("stat").ino(),
                old.metadata().expect("stat").ino()
            );
            old.write_all(b"revoked").expect("write");
            (&new).write_all(b"new").expect("write");
            held.push(old);
        }
    }
    drop(w);
    let mut left = WorkDir::open(&work).expect("open").list().expect("list");
    left.sort();
    assert_eq!(left, (2..=400).step_by(2).collect::<Vec<u64>>());
    for ino in left {
        assert_eq!(
            fs::read(work.join(format!("{ino:x}"))).expect("read"),
            b"new"
        );
    }
}

#[test]
fn unsynced_blobs_are_named_and_verified_like_synced_ones() {
    let (_d, s) = store();
    let id = s.put_bytes_unsynced(b"snapshot").expect("put");
    assert_eq!(id, BlobId::of(b"snapshot"));
    assert_eq!(s.read_verified(id).expect("read"), b"snapshot");
    assert_eq!(s.put_bytes(b"snapshot").expect("put again"), id);
}

mod layout_tests {
    use super::super::layout::{self, StoreKind};
    use std::fs;

    /// A SQLite header (100 bytes) with application id `app`.
    fn sqlite_header(app: u32) -> Vec<u8> {
        let mut h = vec![0u8; 4096];
        h[..16].copy_from_slice(b"SQLite format 3\0");
        h[68..72].copy_from_slice(&app.to_be_bytes());
        h
    }

    #[test]
    fn identify_tells_stores_from_everything_else() {
        let t = tempfile::tempdir().expect("tempdir");
        let d = |n: &str| t.path().join(n);
        assert_eq!(
            layout::identify(&d("absent")).expect("id"),
            StoreKind::Absent
        );
        fs::create_dir(d("empty")).expect("mkdir");
        assert_eq!(layout::identify(&d("empty")).expect("id"), StoreKind::Empty);
        fs::create_dir(d("logonly")).expect("mkdir");
        fs::write(d("logonly/daemon.log"), "x").expect("write");
        assert_eq!(
            layout::identify(&d("logonly")).expect("id"),
            StoreKind::Empty
        );
        fs::write(d("file"), "x").expect("write");
        assert_eq!(
            layout::identify(&d("file")).expect("id"),
            StoreKind::Foreign
        );
        // An ftsb-fs database without a marker: by its application id, or (header not yet
        // written back from the log) beside the blob and work directories.
        fs::create_dir(d("old")).expect("mkdir");
        fs::write(d("old/meta.db"), sqlite_header(0x4654_5342)).expect("write");
        assert_eq!(
            layout::identify(&d("old")).expect("id"),
            StoreKind::Unmarked
        );
        fs::create_dir_all(d("young/blobs")).expect("mkdir");
        fs::create_dir_all(d("young/work")).expect("mkdir");
        fs::write(d("young/meta.db"), sqlite_header(0)).expect("write");
        assert_eq!(
            layout::identify(&d("young")).expect("id"),
            StoreKind::Unmarked
        );
        // Another program's database, and a database of an unknown application.
        fs::create_dir(d("theirs")).expect("mkdir");
        fs::write(d("theirs/meta.db"), sqlite_header(0)).expect("write");
        assert_eq!(
            layout::identify(&d("theirs")).expect("id"),
            StoreKind::Foreign
        );
        fs::create_dir(d("other")).expect("mkdir");
        fs::write(d("other/meta.db"), sqlite_header(7)).expect("write");
        assert_eq!(
            layout::identify(&d("other")).expect("id"),
            StoreKind::Foreign
        );
        // A marker that is not ours.
        fs::create_dir(d("fake")).expect("mkdir");
        fs::write(d("fake/ftsb-fs-store"), "hello").expect("write");
        assert_eq!(
            layout::identify(&d("fake")).expect("id"),
            StoreKind::Foreign
        );
    }

    #[test]
    fn claim_marks_new_and_old_stores_and_touches_nothing_else() {
        let t = tempfile::tempdir().expect("tempdir");
        let new = t.path().join("a/b");
        layout::claim(&new).expect("claim");
        assert_eq!(
            layout::identify(&new).expect("id"),
            StoreKind::Marked(layout::FORMAT)
        );
        layout::claim(&new).expect("claim again");
        layout::require(&new).expect("require");
        let old = t.path().join("old");
        fs::create_dir(&old).expect("mkdir");
        fs::write(old.join("meta.db"), sqlite_header(0x4654_5342)).expect("write");
        layout::require(&old).expect("require an unmarked store");
        assert!(old.join(layout::MARKER).exists());
        let mine = t.path().join("mine");
        fs::create_dir(&mine).expect("mkdir");
        fs::write(mine.join("notes"), "x").expect("write");
        assert!(layout::claim(&mine).is_err());
        assert!(layout::require(&mine).is_err());
        assert!(layout::require(&t.path().join("none")).is_err());
        let names: Vec<_> = fs::read_dir(&mine).expect("read").flatten().collect();
        assert_eq!(names.len(), 1, "a refused directory was written");
    }

    #[test]
    fn check_location_refuses_what_can_never_be_a_store() {
        let t = tempfile::tempdir().expect("tempdir");
        let base = t.path().canonicalize().expect("canonical");
        let ws = base.join("ws");
        let home = base.join("home");
        fs::create_dir_all(&ws).expect("mkdir");
        fs::create_dir_all(&home).expect("mkdir");
        std::os::unix::fs::symlink(&ws, base.join("via")).expect("symlink");
        let check = |s: &std::path::Path| layout::check_location(s, &ws, Some(&home));
        assert!(check(std::path::Path::new("/")).is_err());
        assert!(check(&home).is_err());
        assert!(check(&ws).is_err());
        assert!(check(&ws.join("x/y")).is_err());
        assert!(check(&base.join("via/store")).is_err(), "through a symlink");
        assert!(check(&base).is_err(), "holds the workspace");
        check(&base.join("store")).expect("a sibling is fine");
        check(&home.join(".local/state/ftsb-fs/ws-1")).expect("below home is fine");
    }
}

#[test]
fn a_batch_seals_each_file_under_its_own_id_in_order() {
    let (d, s) = store();
    // Enough files for several threads, of sizes from empty to past one copy chunk, some
    // identical (two threads may name the same blob at once).
    let mut files = Vec::new();
    let mut want = Vec::new();
    for i in 0..64usize {
        let body: Vec<u8> = match i % 4 {
            0 => Vec::new(),
            1 => format!("small {i}").into_bytes(),
            2 => vec![i as u8; COPY_CHUNK + i],
            _ => b"the same in every fourth file".to_vec(),
        };
        let path = d.path().join(format!("f{i}"));
        fs::write(&path, &body).expect("write");
        files.push(File::open(&path).expect("open"));
        want.push(body);
    }
    let refs: Vec<&File> = files.iter().collect();
    let ids = s.put_files_unsynced(&refs).expect("put");
    s.sync().expect("sync");
    assert_eq!(ids.len(), want.len());
    for (id, body) in ids.iter().zip(&want) {
        assert_eq!(*id, BlobId::of(body));
        assert_eq!(&s.read_verified(*id).expect("read"), body);
    }
    assert_eq!(fs::read_dir(s.dir.join("tmp")).expect("tmp").count(), 0);
}

#[test]
fn sealing_again_replaces_a_blob_torn_before_its_sync() {
    let (d, s) = store();
    let path = d.path().join("f");
    fs::write(&path, b"content that a power loss tore").expect("write");
    let file = File::open(&path).expect("open");
    let id = s.put_files_unsynced(&[&file]).expect("put")[0];
    // What a power loss between the rename and the sync can leave: the name, not the bytes.
    File::create(s.path(id)).expect("truncate");
    assert!(matches!(
        s.read_verified(id),
        Err(StoreError::Corrupt { .. })
    ));
    assert_eq!(s.put_files_unsynced(&[&file]).expect("put again")[0], id);
    s.sync().expect("sync");
    assert_eq!(
        s.read_verified(id).expect("healed"),
        b"content that a power loss tore"
    );
}
