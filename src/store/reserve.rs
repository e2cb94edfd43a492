//! Room kept back on the store's disk, so that a full disk can still be freed through the view.
//!
//! Owns the `reserve` file of a store: [`RESERVE_BYTES`] allocated while the disk has room.
//! Removing a file through the view records the removal (an operation-log append) before its
//! working file is unlinked, so on a disk filled to the last block the removal itself would
//! fail with ENOSPC and nothing could ever be freed. The overlay retries such a removal once
//! after [`Reserve::release`] gave the reserve's blocks back, and re-arms the reserve
//! ([`Reserve::arm`]) when the disk has room again.
//!
//! Invariant: the reserve holds no data; losing it (a crash, a store copied without it) only
//! means it is allocated again at the next open.

use std::fs::{File, OpenOptions};
use std::path::Path;

use super::{StoreError, io_err};

/// How much room is kept back: many operation-log records.
pub const RESERVE_BYTES: u64 = 512 << 10;

/// The store's kept-back room.
#[derive(Debug)]
pub struct Reserve {
    file: File,
    armed: bool,
}

impl Reserve {
    /// Opens (creating if needed) the reserve file at `path` and allocates it if the disk has
    /// room.
    pub fn open(path: &Path) -> Result<Reserve, StoreError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_err("open", path))?;
        let mut reserve = Reserve { file, armed: false };
        reserve.arm();
        Ok(reserve)
    }

    /// Whether the reserve's room is held (not given back by [`Reserve::release`]).
    pub fn armed(&self) -> bool {
        self.armed
    }

    /// Allocates the reserve again if it was released and the disk has room; a disk still
    /// full leaves it released (and allocates nothing).
    pub fn arm(&mut self) {
        if self.armed {
            return;
        }
        match crate::sys::fallocate(&self.file, 0, 0, RESERVE_BYTES) {
            Ok(()) => self.armed = true,
            // A partial allocation would keep blocks back without the whole reserve.
            Err(_) => {
                let _ = self.file.set_len(0);
            }
        }
    }

    /// Gives the reserve's room back to the disk; false if it was not held.
    pub fn release(&mut self) -> bool {
        if !self.armed {
            return false;
        }
        self.armed = false;
        self.file.set_len(0).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn allocated(path: &Path) -> u64 {
        std::fs::metadata(path).expect("stat").blocks() * 512
    }

    #[test]
    fn the_reserve_holds_room_until_released_and_takes_it_again_when_armed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("reserve");
        let mut r = Reserve::open(&path).expect("open");
        assert!(r.armed());
        assert!(allocated(&path) >= RESERVE_BYTES, "nothing allocated");
        assert!(r.release());
        assert!(!r.armed());
        assert_eq!(allocated(&path), 0, "release kept blocks");
        assert!(!r.release(), "a released reserve released again");
        r.arm();
        assert!(r.armed());
        assert!(allocated(&path) >= RESERVE_BYTES, "arm allocated nothing");
    }
}
