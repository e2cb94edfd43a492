//! Content-addressed blobs: every sealed file content lives once, named by its blake3 hash.
//!
//! Owns the `blobs/` directory of a store. A blob is written to a temporary file, hashed
//! while it is written, and renamed to `blobs/<2 hex>/<62 hex>`. Either the temporary and the
//! directory are fsynced first, so a blob that has a name is complete and durable, or (sealing,
//! [`BlobStore::put_files_unsynced`] and [`BlobStore::put_bytes_unsynced`]) a whole batch is
//! made durable by one [`BlobStore::sync`] before anything records its ids: until then a power
//! loss may tear a named blob, reads detect that, and sealing the same content again replaces
//! a torn name. Blobs are immutable: nothing
//! here ever writes to a named blob again (a torn one is replaced whole, by rename). Reads that must be trusted go through
//! [`BlobStore::open_verified`] or [`BlobStore::read_verified`], which re-hash the content and
//! refuse a blob whose bytes no longer match its name.
//!
//! Deliberately not here: which blobs are live (the callers' metadata knows that; [`BlobStore::gc`]
//! takes the live set), and mutable working files (see [`WorkDir`]).

pub mod batch;
pub mod layout;
mod reserve;
pub mod sparse;
mod sweeper;
mod work;

pub use reserve::Reserve;
pub use work::WorkDir;

use std::collections::HashSet;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

/// The blake3 hash that names a blob.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId([u8; 32]);

impl BlobId {
    /// Stands for content not sealed yet in a state built only to be inspected (see
    /// `Overlay::peek`): all zero bits, which no content hashes to in practice, so no store
    /// holds it and a plan that names it fails rather than publishing wrong bytes.
    pub const UNSEALED: BlobId = BlobId([0; 32]);

    /// The id of `bytes`, without storing them.
    pub fn of(bytes: &[u8]) -> BlobId {
        BlobId(*blake3::hash(bytes).as_bytes())
    }

    /// The id of `file`'s content (holes read as zeros), without storing it.
    pub fn of_file(file: &File) -> io::Result<BlobId> {
        let mut hasher = blake3::Hasher::new();
        sparse::hash_copy(file, None, &mut hasher)?;
        Ok(BlobId(*hasher.finalize().as_bytes()))
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobId({self})")
    }
}

impl FromStr for BlobId {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<BlobId, StoreError> {
        let hex =
            blake3::Hash::from_hex(s).map_err(|_| StoreError::BadId { text: s.to_owned() })?;
        Ok(BlobId(*hex.as_bytes()))
    }
}

impl serde::Serialize for BlobId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for BlobId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<BlobId, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Errors of the blob store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("blob {id} is corrupt: its content hashes to {actual}")]
    Corrupt { id: BlobId, actual: BlobId },
    #[error("blob {id} is missing from the store")]
    Missing { id: BlobId },
    #[error("'{text}' is not a blob id (64 hex digits)")]
    BadId { text: String },
    #[error("{path} is not an ftsb-fs store and not empty; refusing to use it as a store")]
    NotAStore { path: PathBuf },
    #[error("no ftsb-fs store at {path} (pass --store)")]
    NoStore { path: PathBuf },
    #[error("the store {path} has format {format}, which this build does not know")]
    Format { path: PathBuf, format: u32 },
    #[error("refusing the store {path}: it {why}")]
    Location { path: PathBuf, why: String },
}

impl StoreError {
    /// The OS error behind this one, if any (ENOSPC, EIO, ...), for errno mapping.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            StoreError::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// The blob directory of a store.
#[derive(Debug)]
pub struct BlobStore {
    dir: PathBuf,
    tmp_seq: AtomicU64,
}

const COPY_CHUNK: usize = 1 << 20;

impl BlobStore {
    /// Opens (creating if needed) the blob directory `dir`, removing temporaries left by a crash.
    pub fn open(dir: &Path) -> Result<BlobStore, StoreError> {
        fs::create_dir_all(dir.join("tmp")).map_err(io_err("create", dir))?;
        for entry in fs::read_dir(dir.join("tmp"))
            .map_err(io_err("read", dir))?
            .flatten()
        {
            // A temporary is never referenced: it either became a blob by rename or was abandoned.
            let _ = fs::remove_file(entry.path());
        }
        Ok(BlobStore {
            dir: dir.to_owned(),
            tmp_seq: AtomicU64::new(0),
        })
    }

    /// The path of blob `id` (which may not exist).
    pub fn path(&self, id: BlobId) -> PathBuf {
        let hex = id.to_string();
        self.dir.join(&hex[..2]).join(&hex[2..])
    }

    /// Whether blob `id` is stored.
    pub fn contains(&self, id: BlobId) -> bool {
        self.path(id).exists()
    }

    /// Stores `bytes` and returns their id. Durable on return: content, name and directory entry
    /// have been fsynced.
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<BlobId, StoreError> {
        self.put_reader(&mut &bytes[..], true)
    }

    /// Stores `bytes` without fsync: the blob survives a crash of the process, and after a
    /// power loss it is either intact or fails its hash check when read (never served
    /// wrong). For data whose loss is tolerable and detected, such as checkpoint snapshots,
    /// where an fsync per command would cost more than the command.
    pub fn put_bytes_unsynced(&self, bytes: &[u8]) -> Result<BlobId, StoreError> {
        // The same state sealed twice (a command that changed nothing) is already stored.
        let id = BlobId::of(bytes);
        if self.contains(id) {
            return Ok(id);
        }
        self.put_reader(&mut &bytes[..], false)
    }

    /// Stores the whole content of `file` and returns its id. Durable on return, like
    /// [`BlobStore::put_bytes`]. Holes stay holes: only the data regions are read and written
    /// (see [`sparse`]), so a sparse file costs its data, not its length. The caller must keep
    /// `file` from changing meanwhile.
    pub fn put_file(&self, file: &File) -> Result<BlobId, StoreError> {
        self.put_with(true, |out, hasher| {
            sparse::hash_copy(file, Some(out), hasher)
                .map(|_| ())
                .map_err(io::Error::from)
        })
    }

    /// Stores the whole content of each of `files`, several at once, without fsync; returns
    /// their ids in order. Not durable until [`BlobStore::sync`]: call it before anything
    /// records these ids. Holes stay holes, as in [`BlobStore::put_file`].
    ///
    /// The files are spread over a few threads ([`batch::ordered`]). A name that already
    /// exists with another length is a blob a power loss tore before it was synced: it is
    /// replaced, so sealing again heals it.
    pub fn put_files_unsynced(&self, files: &[&File]) -> Result<Vec<BlobId>, StoreError> {
        let put = |i: usize| {
            let id = self.put_with(false, |out, hasher| {
                sparse::hash_copy(files[i], Some(out), hasher)
                    .map(|_| ())
                    .map_err(io::Error::from)
            });
            crate::txn::failpoint::hit(|| format!("seal.blob.{i}"));
            id
        };
        let ids: Vec<Result<BlobId, StoreError>> =
            batch::ordered(files.len(), put, |results| results.collect());
        if ids.len() < files.len() {
            // A panicking job leaves its file unsealed: reported, never taken for sealed.
            return Err(io_err("seal into", &self.dir)(io::Error::other(
                "a sealing thread panicked",
            )));
        }
        ids.into_iter().collect()
    }

    /// Makes every blob written so far durable, with their names: one `syncfs(2)` of the
    /// store's file system rather than an fsync per blob (since Linux 5.8 it reports writeback
    /// errors of the file system, so a failed write is not taken for durable).
    pub fn sync(&self) -> Result<(), StoreError> {
        let dir = File::open(&self.dir).map_err(io_err("open", &self.dir))?;
        syncfs(std::os::fd::AsFd::as_fd(&dir)).map_err(io_err("syncfs", &self.dir))?;
        crate::txn::failpoint::hit(|| "seal.synced".into());
        Ok(())
    }

    fn put_reader(&self, reader: &mut dyn Read, sync: bool) -> Result<BlobId, StoreError> {
        self.put_with(sync, |mut out, hasher| {
            let mut buf = vec![0u8; COPY_CHUNK];
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) => return Ok(()),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                hasher.update(&buf[..n]);
                out.write_all(&buf[..n])?;
            }
        })
    }

    /// Writes a temporary with `fill` (which also feeds the hasher), then names it after its
    /// hash (fsynced first when `sync`).
    fn put_with(
        &self,
        sync: bool,
        fill: impl FnOnce(&File, &mut blake3::Hasher) -> io::Result<()>,
    ) -> Result<BlobId, StoreError> {
        let seq = self.tmp_seq.fetch_add(1, Ordering::Relaxed);
        let tmp = self
            .dir
            .join("tmp")
            .join(format!("{}-{seq}", std::process::id()));
        let out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        let result = (|| {
            let mut hasher = blake3::Hasher::new();
            fill(&out, &mut hasher).map_err(io_err("write", &tmp))?;
            let id = BlobId(*hasher.finalize().as_bytes());
            let dest = self.path(id);
            let len = out.metadata().map_err(io_err("stat", &tmp))?.len();
            // A name of another length was torn by a power loss before it was synced: it is
            // renamed over below, so sealing the content again heals it.
            if fs::symlink_metadata(&dest).is_ok_and(|m| m.len() == len) {
                return Ok(id);
            }
            if sync {
                out.sync_all().map_err(io_err("fsync", &tmp))?;
            }
            let parent = dest.parent().expect("a blob path has a fan-out directory");
            let fresh_dir = !parent.exists();
            if fresh_dir {
                fs::create_dir_all(parent).map_err(io_err("create", parent))?;
            }
            fs::rename(&tmp, &dest).map_err(io_err("rename", &dest))?;
            if sync {
                fsync_dir(parent)?;
                if fresh_dir {
                    fsync_dir(&self.dir)?;
                }
            }
            Ok(id)
        })();
        let _ = fs::remove_file(&tmp);
        result
    }

    /// Opens blob `id` for reading, after checking that its content still hashes to `id`.
    pub fn open_verified(&self, id: BlobId) -> Result<File, StoreError> {
        let path = self.path(id);
        let mut file = File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::Missing { id },
            _ => io_err("open", &path)(e),
        })?;
        let mut hasher = blake3::Hasher::new();
        hasher
            .update_reader(&mut file)
            .map_err(io_err("read", &path))?;
        let actual = BlobId(*hasher.finalize().as_bytes());
        if actual != id {
            return Err(StoreError::Corrupt { id, actual });
        }
        file.seek(SeekFrom::Start(0))
            .map_err(io_err("seek", &path))?;
        Ok(file)
    }

    /// Reads all of blob `id`, checking its hash.
    pub fn read_verified(&self, id: BlobId) -> Result<Vec<u8>, StoreError> {
        let path = self.path(id);
        let bytes = fs::read(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::Missing { id },
            _ => io_err("read", &path)(e),
        })?;
        let actual = BlobId::of(&bytes);
        if actual != id {
            return Err(StoreError::Corrupt { id, actual });
        }
        Ok(bytes)
    }

    /// Every stored blob id.
    pub fn list(&self) -> Result<Vec<BlobId>, StoreError> {
        let mut ids = Vec::new();
        for fan in fs::read_dir(&self.dir)
            .map_err(io_err("read", &self.dir))?
            .flatten()
        {
            let fan_name = fan.file_name().to_string_lossy().into_owned();
            if fan_name.len() != 2 {
                continue;
            }
            for entry in fs::read_dir(fan.path())
                .map_err(io_err("read", &fan.path()))?
                .flatten()
            {
                let name = format!("{fan_name}{}", entry.file_name().to_string_lossy());
                if let Ok(id) = name.parse() {
                    ids.push(id);
                }
            }
        }
        Ok(ids)
    }

    /// Removes every blob not in `live`; returns how many were removed.
    pub fn gc(&self, live: &HashSet<BlobId>) -> Result<usize, StoreError> {
        let mut removed = 0;
        for id in self.list()? {
            if !live.contains(&id) {
                let path = self.path(id);
                fs::remove_file(&path).map_err(io_err("remove", &path))?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

pub use crate::sys::syncfs;

/// Fsyncs directory `dir`, so that entries created or renamed in it survive a power loss.
pub fn fsync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync", dir))
}

#[cfg(test)]
mod tests;
