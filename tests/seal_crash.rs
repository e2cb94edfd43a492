//! Crashes inside a sealing batch: a child process seals files into a store with
//! `put_files_unsynced` and one `sync`, and is killed with SIGKILL at each of the batch's
//! failpoints (`seal.blob.<i>`, `seal.synced`). Whatever the kill left, the store opens clean
//! (no temporaries) and sealing the same files again yields each file's own blob, intact.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::fs::File;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;

use ftsb_fs::store::{BlobId, BlobStore};

const FILES: usize = 24;

fn bodies() -> Vec<Vec<u8>> {
    (0..FILES)
        .map(|i| match i % 3 {
            0 => format!("small file {i}").into_bytes(),
            1 => vec![i as u8; (1 << 20) + 3 * i],
            _ => Vec::new(),
        })
        .collect()
}

fn seal_all(dir: &Path) -> Vec<BlobId> {
    let blobs = BlobStore::open(&dir.join("blobs")).unwrap();
    let files: Vec<File> = (0..FILES)
        .map(|i| File::open(dir.join("src").join(i.to_string())).unwrap())
        .collect();
    let refs: Vec<&File> = files.iter().collect();
    let ids = blobs.put_files_unsynced(&refs).unwrap();
    blobs.sync().unwrap();
    ids
}

/// The child's side: seal every source file of the directory `FTSB_SEAL_CHILD` names.
#[test]
fn child_entry() {
    if let Some(dir) = std::env::var_os("FTSB_SEAL_CHILD") {
        seal_all(Path::new(&dir));
    }
}

#[test]
fn killed_at_every_point_of_a_sealing_batch_seals_intact_again() {
    let mut points: Vec<String> = (0..FILES).map(|i| format!("seal.blob.{i}")).collect();
    points.push("seal.synced".into());
    for point in points {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        for (i, body) in bodies().iter().enumerate() {
            std::fs::write(dir.path().join("src").join(i.to_string()), body).unwrap();
        }
        let status = Command::new(std::env::current_exe().unwrap())
            .args(["child_entry", "--exact", "--test-threads=1"])
            .env("FTSB_SEAL_CHILD", dir.path())
            .env("FTSB_FS_FAILPOINT", &point)
            .env_remove("FTSB_FS_FAILPOINT_TRACE")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "the child was not killed at {point}: the failpoint is missing"
        );
        let ids = seal_all(dir.path());
        let blobs = BlobStore::open(&dir.path().join("blobs")).unwrap();
        let tmp = std::fs::read_dir(dir.path().join("blobs").join("tmp")).unwrap();
        assert_eq!(tmp.count(), 0, "temporaries left after {point}");
        for (id, body) in ids.iter().zip(bodies()) {
            assert_eq!(*id, BlobId::of(&body), "after a kill at {point}");
            assert_eq!(
                blobs.read_verified(*id).unwrap(),
                body,
                "after a kill at {point}"
            );
        }
    }
}
