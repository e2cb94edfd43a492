//! The seam between the engine and the overlay it checkpoints, rolls back and publishes.
//!
//! Owns [`Host`], every operation `txn` needs of the state it works on, named by what the
//! engine does with it: take a sealed snapshot (or the shape of one), list the changes,
//! read the workspace beneath the view, record in the store (journal, log, key-values,
//! blobs), and replace the state after a rollback or a commit. `overlay::Overlay` implements
//! it; the engine's unit tests implement it with an in-memory fake.
//!
//! **API boundary:** `txn` reaches the overlay only through this trait; it never names the
//! overlay's database, blob store or workspace reader as fields or accessors of the
//! overlay (`tests/tidy.rs`). It does use the overlay's vocabulary (`Snapshot`, `Node`,
//! `Change`, `Invalidation`, `Lower`), which is plain data and a read-only reader.
//!
//! Deliberately not here: which records the engine keeps under which key (`meta::keys`).

use std::collections::HashSet;

use crate::meta::Db;
use crate::overlay::{Change, FsError, Ino, Invalidation, Lower, RelPath, Snapshot};
use crate::store::{BlobId, BlobStore};

/// Contents a commit publishes that are not in the store: blob id -> the file holding them.
pub type Unstored = std::collections::HashMap<BlobId, std::path::PathBuf>;

/// Where an object of a committed snapshot is in the workspace after the commit: (inode,
/// parent, name, path).
pub type Placement = (Ino, Ino, Vec<u8>, RelPath);

/// The store the engine records in, shared with the state it works on: the database (commit
/// journal, log, key-values in `meta::keys`) and the content-addressed blobs (sealed file
/// contents, checkpoint snapshots).
#[derive(Clone, Copy)]
pub struct Store<'a> {
    pub db: &'a Db,
    pub blobs: &'a BlobStore,
}

/// What the engine needs of the state it checkpoints, rolls back and commits.
pub trait Host {
    /// The store the engine records in.
    fn store(&self) -> Store<'_>;

    /// The workspace beneath the view, read-only (plans stat and list it; the commit itself
    /// writes through its own [`super::Workspace`]).
    fn workspace(&self) -> &Lower;

    /// Makes every change durable as blobs and returns the whole state.
    fn seal(&mut self) -> Result<Snapshot, FsError>;

    /// The whole state for a commit to publish: as [`Host::seal`] returns it, except that
    /// contents may be hashed without being stored. The map names, for each such id, the file
    /// that holds its bytes, which must not change while the caller holds the state.
    fn seal_for_commit(&mut self) -> Result<(Snapshot, Unstored), FsError>;

    /// The state's shape without sealing anything: contents not sealed yet are
    /// `BlobId::UNSEALED` (for read-only questions such as conflicts).
    fn peek(&self) -> Snapshot;

    /// Every path where the view differs from the workspace.
    fn changes(&self) -> Result<Vec<Change>, FsError>;

    /// How many changed objects the state holds (for the log).
    fn size(&self) -> usize;

    /// The blobs the live state references (kept by `gc`).
    fn live_blobs(&self) -> Vec<BlobId>;

    /// Records whatever the state holds only in memory.
    fn flush(&mut self) -> Result<(), FsError>;

    /// Replaces the whole state by `snap` (rollback, abort); returns what the kernel must
    /// forget.
    fn restore(&mut self, snap: &Snapshot) -> Result<Invalidation, FsError>;

    /// Replaces only the objects in `scope` by their state in `snap` (a session rollback).
    fn restore_scoped(
        &mut self,
        snap: &Snapshot,
        scope: &HashSet<Ino>,
    ) -> Result<Invalidation, FsError>;

    /// After a commit published the state: `rest` (empty after a full commit) becomes the
    /// state, and what the kernel holds of the published objects follows them to `placed`.
    fn reset_after_commit(
        &mut self,
        rest: &Snapshot,
        placed: &[Placement],
    ) -> Result<Invalidation, FsError>;
}

#[cfg(test)]
mod tests {
    //! The engine driven through a fake [`Host`]: a state held in memory, with its own store
    //! and a workspace in a temporary directory, so what the engine asks of its host is
    //! exactly what these tests see it ask.

    use std::os::unix::fs::MetadataExt;

    use super::*;
    use crate::overlay::{
        Attr, Data, Dentry, FIRST_NEW_INO, Kind, Node, Origin, ROOT, Time, stamp_of,
    };

    struct Fake {
        _dir: tempfile::TempDir,
        ws_path: std::path::PathBuf,
        db: Db,
        blobs: BlobStore,
        lower: Lower,
        state: Snapshot,
        /// Every `restore` and `reset_after_commit` the engine asked for.
        restored: Vec<Snapshot>,
        reset: Vec<(Snapshot, Vec<Placement>)>,
    }

    fn attr_of(md: &std::fs::Metadata, ino: Ino, kind: Kind) -> Attr {
        Attr {
            ino,
            kind,
            perm: md.mode() & 0o7777,
            uid: md.uid(),
            gid: md.gid(),
            size: md.size(),
            blocks: md.blocks(),
            atime: Time::from_parts(md.atime(), md.atime_nsec() as u64),
            mtime: Time::from_parts(md.mtime(), md.mtime_nsec() as u64),
            ctime: Time::from_parts(md.ctime(), md.ctime_nsec() as u64),
            rdev: 0,
            nlink: md.nlink() as u32,
            generation: 0,
        }
    }

    /// A fake host over an empty workspace whose state adds the file `new.txt`.
    fn fake() -> Fake {
        let dir = tempfile::tempdir().expect("tempdir");
        let ws_path = dir.path().join("ws");
        std::fs::create_dir(&ws_path).expect("mkdir");
        let db = Db::open(&dir.path().join("meta.db"), &ws_path).expect("db");
        let blobs = BlobStore::open(&dir.path().join("blobs")).expect("blobs");
        let lower = Lower::open(&ws_path).expect("lower");
        let root_md = std::fs::metadata(&ws_path).expect("stat");
        let st = lower
            .stat(&RelPath::default())
            .expect("stat")
            .expect("root");
        let root = Node {
            attr: attr_of(&root_md, ROOT, Kind::Dir),
            links: 1,
            data: Data::None,
            target: None,
            merge: Some(RelPath::default()),
            origin: Some(Origin {
                path: RelPath::default(),
                stamp: stamp_of(&st),
            }),
            xattrs: None,
            sealed: None,
        };
        let id = blobs.put_bytes(b"from the fake\n").expect("blob");
        let ino = Ino(FIRST_NEW_INO);
        let mut attr = attr_of(&root_md, ino, Kind::File);
        (attr.perm, attr.size, attr.nlink) = (0o640, 14, 1);
        attr.mtime = Time::from_parts(1_000_000, 0);
        let file = Node {
            attr,
            links: 1,
            data: Data::Blob(id),
            target: None,
            merge: None,
            origin: None,
            xattrs: None,
            sealed: None,
        };
        let mut h = Fake {
            _dir: dir,
            ws_path,
            db,
            blobs,
            lower,
            state: Snapshot {
                nodes: vec![(ROOT, root), (ino, file)],
                dentries: vec![(ROOT, b"new.txt".to_vec(), Dentry::Child(ino))],
                next_ino: FIRST_NEW_INO + 1,
            },
            restored: Vec::new(),
            reset: Vec::new(),
        };
        // The transaction begins now, as at a mount.
        crate::txn::after_recovery(&mut h, &crate::txn::Recovery::Nothing).expect("begin");
        h
    }

    impl Host for Fake {
        fn store(&self) -> Store<'_> {
            Store {
                db: &self.db,
                blobs: &self.blobs,
            }
        }
        fn workspace(&self) -> &Lower {
            &self.lower
        }
        fn seal(&mut self) -> Result<Snapshot, FsError> {
            Ok(self.state.clone())
        }
        fn seal_for_commit(&mut self) -> Result<(Snapshot, Unstored), FsError> {
            Ok((self.state.clone(), Unstored::new()))
        }
        fn peek(&self) -> Snapshot {
            self.state.clone()
        }
        fn changes(&self) -> Result<Vec<Change>, FsError> {
            Ok(Vec::new())
        }
        fn size(&self) -> usize {
            self.state.nodes.len().saturating_sub(1)
        }
        fn live_blobs(&self) -> Vec<BlobId> {
            Vec::new()
        }
        fn flush(&mut self) -> Result<(), FsError> {
            Ok(())
        }
        fn restore(&mut self, snap: &Snapshot) -> Result<Invalidation, FsError> {
            self.restored.push(snap.clone());
            self.state = snap.clone();
            Ok(Invalidation::default())
        }
        fn restore_scoped(
            &mut self,
            snap: &Snapshot,
            _scope: &HashSet<Ino>,
        ) -> Result<Invalidation, FsError> {
            self.restore(snap)
        }
        fn reset_after_commit(
            &mut self,
            rest: &Snapshot,
            placed: &[Placement],
        ) -> Result<Invalidation, FsError> {
            self.reset.push((rest.clone(), placed.to_vec()));
            self.state = rest.clone();
            Ok(Invalidation::default())
        }
    }

    #[test]
    fn a_commit_through_a_fake_host_publishes_its_state_and_resets_it() {
        let mut h = fake();
        let ws = crate::txn::Workspace::open(&h.ws_path).expect("workspace");
        let out = crate::txn::commit(&mut h, &ws, "fake", false).expect("commit");
        let path = h.ws_path.join("new.txt");
        assert_eq!(std::fs::read(&path).expect("published"), b"from the fake\n");
        let md = std::fs::metadata(&path).expect("stat");
        assert_eq!((md.mode() & 0o7777, md.mtime()), (0o640, 1_000_000));
        // The engine reset its host once, to nothing, with the file's new place.
        assert_eq!(h.reset.len(), 1);
        let (rest, placed) = &h.reset[0];
        assert_eq!(rest, &Snapshot::default());
        assert_eq!(
            placed,
            &vec![(
                Ino(FIRST_NEW_INO),
                ROOT,
                b"new.txt".to_vec(),
                RelPath(b"new.txt".to_vec())
            )]
        );
        // It recorded in the host's store: the journal is closed and the commit is logged.
        assert_eq!(h.db.journal_open().expect("journal"), None);
        let log = h.db.log().expect("log");
        assert!(
            log.iter()
                .any(|r| r.kind == "commit" && r.epoch == out.journal),
            "{log:?}"
        );
        assert_eq!(crate::txn::epoch(&h).expect("epoch"), out.journal);
    }

    #[test]
    fn a_conflict_leaves_the_fake_host_and_the_workspace_alone() {
        let mut h = fake();
        // Made outside the view after the transaction began, where the state adds a file.
        std::fs::write(h.ws_path.join("new.txt"), "made outside\n").expect("write");
        let ws = crate::txn::Workspace::open(&h.ws_path).expect("workspace");
        let before = h.state.clone();
        match crate::txn::commit(&mut h, &ws, "fake", false) {
            Err(crate::txn::CommitError::Conflicts(list)) => {
                assert_eq!(list.len(), 1, "{list:?}");
                assert_eq!(list[0].path, RelPath(b"new.txt".to_vec()));
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert_eq!(h.state, before);
        assert!(h.reset.is_empty());
        assert_eq!(
            std::fs::read(h.ws_path.join("new.txt")).expect("read"),
            b"made outside\n"
        );
    }

    #[test]
    fn a_rollback_through_a_fake_host_restores_the_checkpointed_state() {
        let mut h = fake();
        let id = crate::txn::checkpoint(&mut h, "checkpoint", "one file", None).expect("cp");
        let sealed = h.state.clone();
        h.state = Snapshot::default();
        crate::txn::rollback(&mut h, id).expect("rollback");
        // First the state it replaces is kept (an empty one), then the checkpoint comes back.
        assert_eq!(h.restored, vec![sealed.clone()]);
        assert_eq!(h.state, sealed);
        let kinds: Vec<String> =
            h.db.log()
                .expect("log")
                .into_iter()
                .map(|r| r.kind)
                .collect();
        assert!(kinds.contains(&"rollback".to_owned()), "{kinds:?}");
    }
}
