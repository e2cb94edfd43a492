//! Making what a commit, its undo or its finish did to the workspace durable: fsyncing one
//! object, a directory, or the pending paths below one that is about to move.
//!
//! Shared by the forward half (`apply`) and the backward half (`undo`) of the commit protocol,
//! so neither imports the other for it. Nothing here changes the workspace.

use std::collections::BTreeSet;
use std::os::fd::AsFd;

use super::check;
use super::plan::{RelPath, is_ancestor};
use super::{IoCtx, TxnError, Workspace};
use crate::sys;

/// Fsyncs directory `path` of the workspace; nothing there is not an error.
pub(super) fn sync_dir(ws: &Workspace, path: &RelPath) -> Result<(), TxnError> {
    match sys::open_dir(ws.root(), &path.0, true) {
        Ok(fd) => sys::fsync(fd.as_fd()).ctx("fsync", path),
        Err(e) if check::missing(&e) => Ok(()),
        Err(e) => Err(TxnError::io("open", path, e)),
    }
}

/// Fsyncs the object at `path` so its metadata is durable: a directory or regular file
/// through its own descriptor, anything else (or a file we may not open) through its parent,
/// which on a journaling file system commits the inode change with it.
pub(super) fn sync_object(ws: &Workspace, path: &RelPath) -> Result<(), TxnError> {
    let Some(st) = check::stat(ws, path)? else {
        return Ok(());
    };
    match sys::file_type(&st) {
        libc::S_IFDIR => return sync_dir(ws, path),
        libc::S_IFREG => {
            let (parent, name) =
                sys::open_parent(ws.root(), &path.0).ctx("open parent of", path)?;
            if let Ok(fd) = sys::open_at(
                parent.as_fd(),
                name,
                sys::Open::RDONLY | sys::Open::NONBLOCK,
                0,
            ) {
                return sys::fsync(fd.as_fd()).ctx("fsync", path);
            }
        }
        _ => {}
    }
    let parent = path.split().map(|(p, _)| p).unwrap_or_default();
    sync_dir(ws, &parent)
}

/// Fsyncs and forgets every pending path at or below `path`, which is about to move: once it
/// moved, the pending paths no longer lead to it.
pub(super) fn flush_below(
    ws: &Workspace,
    pending: &mut BTreeSet<RelPath>,
    path: &RelPath,
) -> Result<(), TxnError> {
    let below: Vec<RelPath> = pending
        .range(path.clone()..)
        .take_while(|p| p.0.starts_with(&path.0))
        .filter(|p| p.0 == path.0 || is_ancestor(&path.0, &p.0))
        .cloned()
        .collect();
    for p in below {
        sync_object(ws, &p)?;
        pending.remove(&p);
    }
    Ok(())
}
