//! Mutable working files: the bytes of overlay files that changed since they were last sealed.
//!
//! A working file belongs to exactly one overlay inode and is named after it. It is written in
//! place through the view; sealing (see `txn`) copies it into an immutable blob. Nothing here
//! hashes or fsyncs on the write path: that is left to `fsync` through the view and to sealing.
//!
//! A working file no node owns any more is doomed ([`WorkDir::doom`]) and removed later by a
//! [`Sweeper`] thread; making or opening the working file of an inode removes a doomed one
//! first, as an unlink at once would have, so a late removal never takes a file in use.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::sweeper::Sweeper;
use super::{StoreError, io_err};

/// The `work/` directory of a store.
#[derive(Debug)]
pub struct WorkDir {
    dir: PathBuf,
    sweeper: Sweeper,
}

impl WorkDir {
    /// Opens (creating if needed) the working-file directory `dir`.
    pub fn open(dir: &Path) -> Result<WorkDir, StoreError> {
        fs::create_dir_all(dir).map_err(io_err("create", dir))?;
        let owned = dir.to_owned();
        let sweeper = Sweeper::start(move |ino| path_in(&owned, ino))
            .map_err(io_err("start sweeping", dir))?;
        Ok(WorkDir {
            dir: dir.to_owned(),
            sweeper,
        })
    }

    /// The path of the working file of overlay inode `ino`.
    pub fn path(&self, ino: u64) -> PathBuf {
        path_in(&self.dir, ino)
    }

    /// Creates an empty working file for `ino`, replacing any stale one.
    pub fn create(&self, ino: u64) -> Result<File, StoreError> {
        self.sweeper.settle(ino);
        let path = self.path(ino);
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(io_err("create", &path))
    }

    /// Opens the existing working file of `ino` for reading and writing.
    pub fn open_file(&self, ino: u64) -> Result<File, StoreError> {
        self.sweeper.settle(ino);
        let path = self.path(ino);
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_err("open", &path))
    }

    /// Removes the working file of `ino` (if it has one) later, off the caller's path; closing
    /// the `WorkDir` waits until it is gone.
    pub fn doom(&self, ino: u64) {
        self.sweeper.doom(ino);
    }

    /// Makes every working file durable: one `syncfs(2)` of the file system they are on,
    /// rather than an fsync each.
    pub fn sync(&self) -> Result<(), StoreError> {
        let dir = File::open(&self.dir).map_err(io_err("open", &self.dir))?;
        super::syncfs(std::os::fd::AsFd::as_fd(&dir)).map_err(io_err("syncfs", &self.dir))
    }

    /// The inodes that have a working file.
    pub fn list(&self) -> Result<Vec<u64>, StoreError> {
        let entries = fs::read_dir(&self.dir).map_err(io_err("read", &self.dir))?;
        Ok(entries
            .flatten()
            .filter_map(|e| u64::from_str_radix(&e.file_name().to_string_lossy(), 16).ok())
            .collect())
    }
}

fn path_in(dir: &Path, ino: u64) -> PathBuf {
    dir.join(format!("{ino:x}"))
}
