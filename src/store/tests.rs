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
    w.remove(0x1_0000_0000_0001).expect("remove");
    w.remove(0x1_0000_0000_0001).expect("remove twice");
    assert!(w.list().expect("list").is_empty());
}

#[test]
fn unsynced_blobs_are_named_and_verified_like_synced_ones() {
    let (_d, s) = store();
    let id = s.put_bytes_unsynced(b"snapshot").expect("put");
    assert_eq!(id, BlobId::of(b"snapshot"));
    assert_eq!(s.read_verified(id).expect("read"), b"snapshot");
    assert_eq!(s.put_bytes(b"snapshot").expect("put again"), id);
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
