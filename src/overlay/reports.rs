//! What the kernel and the daemon's reports (status, diff, log, exec outcomes) may ask of the
//! overlay besides the file operations: the workspace as it lies beneath the view, sealed
//! contents, the history rows, and a durability barrier.
//!
//! **API boundary:** these operations are the only way `fuse` and `daemon` reach the state the
//! overlay owns; the database, the blob store and the workspace descriptor stay inside it
//! (`tests/tidy.rs` checks that neither calls the accessors `txn` still uses).
//!
//! Deliberately not here: anything that changes the view (see `namespace`, `data`, `state`).

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;

use super::{Overlay, RelPath, Stat};
use crate::meta::{LogRow, MetaError};
use crate::store::{BlobId, StoreError};
use crate::sys::FileType;

impl Overlay {
    /// Makes everything recorded so far survive a power loss (what `fsyncdir` asks).
    pub fn barrier(&self) -> Result<(), MetaError> {
        self.db.barrier()
    }

    /// The history (checkpoints, rollbacks, aborts, commits, exec rows), newest first.
    pub fn log(&self) -> Result<Vec<LogRow>, MetaError> {
        self.db.log()
    }

    /// The history row `id`, if it exists.
    pub fn log_entry(&self, id: u64) -> Result<Option<LogRow>, MetaError> {
        self.db.log_entry(id)
    }

    /// Records the command and exit code of the `exec` whose checkpoint is row `id`.
    pub fn set_log_outcome(
        &self,
        id: u64,
        command: &str,
        exit_code: Option<i32>,
    ) -> Result<(), MetaError> {
        self.db.set_log_outcome(id, command, exit_code)
    }

    /// A new descriptor of the workspace root, the one opened before the view was mounted
    /// over it, for the commit engine.
    pub fn workspace_fd(&self) -> io::Result<OwnedFd> {
        self.lower.root().try_clone_to_owned()
    }

    /// `lstat` of `path` in the workspace beneath the view; `None` if nothing is there.
    pub fn workspace_stat(&self, path: &RelPath) -> io::Result<Option<Stat>> {
        self.lower.stat(path)
    }

    /// The target of the workspace's symlink `path`.
    pub fn workspace_read_link(&self, path: &RelPath) -> io::Result<Vec<u8>> {
        self.lower.read_link(path)
    }

    /// The entries of the workspace's directory `path`: name, inode number, type.
    pub fn workspace_read_dir(&self, path: &RelPath) -> io::Result<Vec<(Vec<u8>, u64, FileType)>> {
        self.lower.read_dir(path)
    }

    /// The workspace's regular file `path`, open for reading.
    pub fn workspace_open(&self, path: &RelPath) -> io::Result<File> {
        self.lower.open_file(path)
    }

    /// The bytes of sealed blob `id`, checked against its hash.
    pub fn sealed_bytes(&self, id: BlobId) -> Result<Vec<u8>, StoreError> {
        self.blobs.read_verified(id)
    }
}
