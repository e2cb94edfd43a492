//! Phase 2's file contents: the temporary `t<k>` of each `File` step k, written into the
//! stash by a few threads ahead of its placement ([`crate::store::batch::ordered`]), while
//! `apply` places the steps one by one in plan order.
//!
//! Invariants: a temporary is reported written only once its bytes hash to the step's blob
//! and its metadata is set; a failed write leaves no temporary; nothing here touches the
//! workspace outside the stash, so what phase 2 placed is still exactly the steps before the
//! one `apply` is at (the temporaries of later steps are removed with the stash by undo).
//!
//! Deliberately not here: placing anything (`apply` renames each temporary into place) and
//! making it durable (one `syncfs` after phase 2).

use std::fs::File;
use std::io;
use std::os::fd::BorrowedFd;

use super::apply::Contents;
use super::attrs;
use super::failpoint::hit;
use super::plan::{RelPath, Step};
use super::{IoCtx, TxnError, stash_name};
use crate::store::sparse::CopyError;
use crate::store::{BlobId, StoreError};
use crate::sys;

/// The name in the stash of the temporary of step `k`.
pub(super) fn name(k: usize) -> Vec<u8> {
    format!("t{k}").into_bytes()
}

/// What writing temporaries needs: shared by the threads, so no database handle.
pub(super) struct Temps<'a> {
    pub contents: Contents<'a>,
    /// The commit's stash directory.
    pub stash: BorrowedFd<'a>,
    /// The commit's journal id (names the stash in errors).
    pub id: u64,
    pub steps: &'a [Step],
}

impl Temps<'_> {
    /// Writes the temporary of `File` step `k`: copies the data regions of its contents (holes
    /// stay holes) while hashing them, refuses bytes that do not hash to the blob id
    /// ([`TxnError::CorruptBlob`]), and sets the step's metadata. Returns the data bytes
    /// written. Not fsynced: phase 2 is made durable as a whole, after it.
    pub fn write(&self, k: usize) -> Result<u64, TxnError> {
        let Step::File { path, blob, meta } = &self.steps[k] else {
            unreachable!("only File steps have temporaries");
        };
        let src_path = match self.contents.unstored.get(blob) {
            Some(path) => path.clone(),
            None => self.contents.blobs.path(*blob),
        };
        let src = File::open(&src_path).map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => StoreError::Missing { id: *blob },
            _ => StoreError::Io {
                op: "open",
                path: src_path.clone(),
                source,
            },
        })?;
        let tmp = name(k);
        let tmp_rel = RelPath(stash_name(self.id)).join(&tmp);
        let out = match sys::create_file(self.stash, &tmp) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                sys::unlink(self.stash, &tmp, false).ctx("remove", &tmp_rel)?;
                sys::create_file(self.stash, &tmp)
            }
            r => r,
        }
        .ctx("create", &tmp_rel)?;
        let result = (|| {
            let mut hasher = blake3::Hasher::new();
            let written = match crate::store::sparse::hash_copy(&src, Some(&out), &mut hasher) {
                Ok(n) => n,
                Err(CopyError::Read(source)) => {
                    return Err(StoreError::Io {
                        op: "read",
                        path: src_path.clone(),
                        source,
                    }
                    .into());
                }
                Err(CopyError::Write(e)) => return Err(e).ctx("write", path),
            };
            let actual: BlobId = hasher.finalize().to_hex().parse()?;
            if actual != *blob {
                return Err(TxnError::CorruptBlob {
                    id: *blob,
                    actual,
                    path: path.clone(),
                });
            }
            attrs::set_meta(self.stash, &tmp, meta).ctx("set metadata of", path)?;
            hit(|| format!("commit.build.{k}.written"));
            Ok(written)
        })();
        if result.is_err() {
            drop(out);
            let _ = sys::unlink(self.stash, &tmp, false);
        }
        result
    }
}
