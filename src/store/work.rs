//! Mutable working files: the bytes of overlay files that changed since they were last sealed.
//!
//! A working file belongs to exactly one overlay inode and is named after it. It is written in
//! place through the view; sealing (see `txn`) copies it into an immutable blob. Nothing here
//! hashes or fsyncs on the write path: that is left to `fsync` through the view and to sealing.
//!
//! A working file no node owns any more is doomed ([`WorkDir::doom`]): renamed into `doomed/`
//! at once, which frees its name for a new file of the same inode, and unlinked later by a
//! [`Reaper`]. Opening a `WorkDir` hands over whatever a crash left in `doomed/`.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use std::sync::atomic::{AtomicU64, Ordering};

use super::reaper::Reaper;
use super::{StoreError, io_err};

/// The subdirectory of doomed working files (not a hex number, so never an inode's file).
const DOOMED: &str = "doomed";

/// The `work/` directory of a store.
#[derive(Debug)]
pub struct WorkDir {
    dir: PathBuf,
    doomed: PathBuf,
    /// Numbers the doomed files of this process (an inode may be doomed more than once).
    doomed_seq: AtomicU64,
    reaper: Reaper,
}

impl WorkDir {
    /// Opens (creating if needed) the working-file directory `dir`, and hands the files a
    /// crash left doomed to the reaper.
    pub fn open(dir: &Path) -> Result<WorkDir, StoreError> {
        let doomed = dir.join(DOOMED);
        fs::create_dir_all(&doomed).map_err(io_err("create", &doomed))?;
        let reaper = Reaper::start().map_err(io_err("start the reaper for", dir))?;
        let left = fs::read_dir(&doomed).map_err(io_err("read", &doomed))?;
        for entry in left.flatten() {
            reaper.reap(entry.path());
        }
        Ok(WorkDir {
            dir: dir.to_owned(),
            doomed,
            doomed_seq: AtomicU64::new(0),
            reaper,
        })
    }

    /// The path of the working file of overlay inode `ino`.
    pub fn path(&self, ino: u64) -> PathBuf {
        self.dir.join(format!("{ino:x}"))
    }

    /// Creates an empty working file for `ino`, replacing any stale one.
    pub fn create(&self, ino: u64) -> Result<File, StoreError> {
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
        let path = self.path(ino);
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_err("open", &path))
    }

    /// Removes the working file of `ino` from its name at once and from the disk later (see
    /// the module doc); a missing one is not an error.
    pub fn doom(&self, ino: u64) -> Result<(), StoreError> {
        let path = self.path(ino);
        let seq = self.doomed_seq.fetch_add(1, Ordering::Relaxed);
        let to = self
            .doomed
            .join(format!("{ino:x}.{}.{seq}", std::process::id()));
        match fs::rename(&path, &to) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("remove", &path)(e)),
            Ok(()) => {
                self.reaper.reap(to);
                Ok(())
            }
        }
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
