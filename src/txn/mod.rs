//! Transactions over the overlay: checkpoints, rollback and abort (`checkpoint.rs`), commit
//! (`planner.rs` turns the overlay into a [`Plan`], `commit.rs` publishes it, `partial.rs`
//! publishes or discards some paths only, `recovery.rs` follows up a crash at mount), and the
//! commit engine below it: the journaled, crash-atomic application of a [`Plan`] to the
//! workspace (`apply.rs` forward, `undo.rs` backward, `durable.rs` the fsyncs both share).
//!
//! Owns the commit protocol (`docs/COMMIT.md` numbers its steps and names their failpoints):
//! [`check`] every expectation read-only, write the plan and everything undo needs to the
//! journal (durable), move what goes away into a stash directory on the workspace's file
//! system (phase 1, durable phase marker), build the new state (phase 2), fsync, mark the
//! journal applied (durable); [`finish`] then removes the stash. [`recover`] undoes a commit
//! interrupted before it was applied and finishes one interrupted after.
//!
//! Invariants: the workspace is never touched before the journal is durable; after a crash at
//! any instant, [`recover`] leaves the workspace exactly as before the commit or exactly as
//! the plan says, never a mix; undo and finish are idempotent, so recovery itself may be
//! killed and rerun; every I/O goes through directory descriptors and `*at()` calls.
//!
//! The engine works on the overlay only through [`Host`] (`host.rs`), the trait the overlay
//! implements: it seals, peeks, restores and resets it and records in its store by the
//! trait's terms, never through the overlay's fields.
//!
//! Deliberately not here: the overlay's inner state (nodes, working files, the kernel's
//! references), blobs' lifetime (see `store`), SQL (see `meta`).

mod apply;
mod attrs;
mod check;
mod checkpoint;
mod commit;
mod durable;
pub(crate) mod failpoint;
mod filter;
mod fsck;
mod host;
mod journal;
mod partial;
mod phases;
mod plan;
mod planner;
mod recovery;
mod session;
mod split;
mod temps;
mod undo;
pub mod writers;

pub use apply::{Applied, Contents, apply, apply_from};
pub use check::{Conflict, check};
pub use checkpoint::{CheckpointError, GcReport, abort, checkpoint, epoch, gc, load, rollback};
pub use commit::{CommitError, CommitOutcome, commit, conflicts};
pub use filter::Filter;
pub use fsck::{FsckReport, fsck};
pub use host::{Host, Placement, Store, Unstored};
pub use partial::{abort_paths, commit_paths, preview};
pub use plan::{Expect, Meta, Plan, RelPath, STASH_PREFIX, SpecialKind, Stamp, Step};
pub use planner::plan;
pub use recovery::{after_recovery, recover_at_mount, recover_store, workspace_of};
pub use session::{SessionRollback, rollback_session};
pub use split::Purpose;
pub use undo::{Recovery, finish, recover};

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::meta::MetaError;
use crate::store::{BlobId, StoreError};
use crate::sys;

/// Errors of the commit engine.
#[derive(Debug, thiserror::Error)]
pub enum TxnError {
    #[error("cannot open workspace {path}: {source}")]
    OpenWorkspace { path: PathBuf, source: io::Error },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: RelPath,
        source: io::Error,
    },
    #[error("no space left on the workspace's file system ({op} {path}); the commit was undone")]
    NoSpace { op: &'static str, path: RelPath },
    #[error("the workspace changed outside the view: {}", conflict_summary(.0))]
    Conflicts(Vec<Conflict>),
    #[error("invalid commit plan at step {step}: {reason}")]
    InvalidPlan { step: usize, reason: String },
    #[error(
        "blob {id} is corrupt (its content hashes to {actual}); refusing to write it to {path}"
    )]
    CorruptBlob {
        id: BlobId,
        actual: BlobId,
        path: RelPath,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error("commit journal {id} cannot be read: {reason}")]
    Journal { id: u64, reason: String },
    #[error("commit {id} was interrupted and must be recovered first (ftsb-fs recover)")]
    Pending { id: u64 },
    #[error(
        "the workspace {} was removed while mounted; nothing was written and the overlay is kept (unmount --keep, make the directory again and mount it)",
        .0.display()
    )]
    Removed(PathBuf),
    #[error("commit {id} is not applied yet and cannot be finished")]
    NotApplied { id: u64 },
    #[error(
        "cannot undo commit: {path} was placed by the commit but now holds entries it did not put there; move them away and run recover again"
    )]
    UndoBlocked { path: RelPath },
    #[error("{cause}; undoing the commit also failed ({undo}): run ftsb-fs recover")]
    UndoFailed {
        cause: Box<TxnError>,
        undo: Box<TxnError>,
    },
}

fn conflict_summary(list: &[Conflict]) -> String {
    let shown: Vec<String> = list.iter().take(5).map(|c| c.to_string()).collect();
    let more = list.len().saturating_sub(shown.len());
    let mut s = format!("{} conflict(s): {}", list.len(), shown.join("; "));
    if more > 0 {
        s.push_str(&format!("; and {more} more"));
    }
    s
}

impl TxnError {
    /// The error of I/O call `op` on `path`; ENOSPC becomes [`TxnError::NoSpace`].
    pub(crate) fn io(op: &'static str, path: &RelPath, source: io::Error) -> TxnError {
        if source.raw_os_error() == Some(libc::ENOSPC) {
            TxnError::NoSpace {
                op,
                path: path.clone(),
            }
        } else {
            TxnError::Io {
                op,
                path: path.clone(),
                source,
            }
        }
    }
}

/// Shorthand: map an `io::Result` to a [`TxnError`] naming `op` and `path`.
pub(crate) trait IoCtx<T> {
    fn ctx(self, op: &'static str, path: &RelPath) -> Result<T, TxnError>;
}

impl<T> IoCtx<T> for io::Result<T> {
    fn ctx(self, op: &'static str, path: &RelPath) -> Result<T, TxnError> {
        self.map_err(|e| TxnError::io(op, path, e))
    }
}

/// An open workspace: a directory descriptor of its root, through which all I/O goes.
#[derive(Debug)]
pub struct Workspace {
    root: OwnedFd,
    path: PathBuf,
}

impl Workspace {
    /// Opens the workspace directory `path`.
    pub fn open(path: &Path) -> Result<Workspace, TxnError> {
        let err = |source| TxnError::OpenWorkspace {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(err)?;
        if !file.metadata().map_err(err)?.is_dir() {
            return Err(err(io::Error::from_raw_os_error(libc::ENOTDIR)));
        }
        Ok(Workspace {
            root: file.into(),
            path: path.to_owned(),
        })
    }

    /// A workspace from an open directory descriptor of its root, for in-place mode, where the
    /// view is mounted over `path` and only a descriptor opened before mounting reaches the real
    /// directory. `path` is only used in messages.
    pub fn from_fd(root: OwnedFd, path: &Path) -> Result<Workspace, TxnError> {
        let ws = Workspace {
            root,
            path: path.to_owned(),
        };
        match sys::lstat(ws.root(), b"") {
            Ok(Some(st)) if sys::file_type(&st) == libc::S_IFDIR => Ok(ws),
            Ok(_) => Err(TxnError::OpenWorkspace {
                path: path.to_owned(),
                source: io::Error::from_raw_os_error(libc::ENOTDIR),
            }),
            Err(source) => Err(TxnError::OpenWorkspace {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// The path the workspace was opened at (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    /// Whether the directory was removed since it was opened: its descriptor then names a
    /// directory no path reaches, where nothing can be created.
    pub(crate) fn removed(&self) -> bool {
        matches!(sys::lstat(self.root(), b""), Ok(Some(st)) if st.st_nlink == 0)
    }
}

pub(crate) use crate::sys::stash_name;

#[cfg(test)]
mod tests;
