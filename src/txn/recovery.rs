//! What runs when a store is opened: recovery of a commit a crash interrupted (`undo`), then
//! the overlay's follow-up: cleared after a finished full commit, replaced by what stays after
//! a finished partial commit (`partial`), left as it is after an undone one.
//!
//! Owns the mount-time entry points ([`recover_at_mount`], [`after_recovery`]) and the
//! daemonless `recover` ([`recover_store`]), so that neither `commit` nor `partial` needs the
//! other for them.

use super::Host;
use super::Workspace;
use super::commit::{CommitError, clear, mark_started};
use crate::meta::keys::{self, TXN_STARTED};
use crate::overlay::Lower;

/// Runs recovery for the daemon at mount, before the overlay is loaded: an interrupted
/// commit is undone (the overlay stays) or finished (the overlay is cleared). Returns what
/// happened, for the log.
pub fn recover_at_mount(
    parts: &crate::overlay::Parts,
    ws_path: &std::path::Path,
) -> Result<super::Recovery, super::TxnError> {
    let ws = workspace_of(&parts.lower, ws_path)?;
    super::recover(&ws, &parts.db)
}

/// The engine's view of the workspace the overlay reads, through the same directory fd (the
/// path may be covered by the view).
pub fn workspace_of(lower: &Lower, path: &std::path::Path) -> Result<Workspace, super::TxnError> {
    let owned =
        lower
            .root()
            .try_clone_to_owned()
            .map_err(|source| super::TxnError::OpenWorkspace {
                path: path.to_owned(),
                source,
            })?;
    Workspace::from_fd(owned, path)
}

/// `ftsb-fs recover` without a daemon: recovery on the store at `store`, and the overlay
/// cleared if the interrupted commit turned out complete.
pub fn recover_store(
    workspace: &std::path::Path,
    store: &std::path::Path,
) -> Result<String, CommitError> {
    let parts = crate::overlay::open_parts(workspace, store)?;
    let outcome = recover_at_mount(&parts, workspace)?;
    let mut ov = crate::overlay::Overlay::open(parts)?;
    after_recovery(&mut ov, &outcome)?;
    Ok(match outcome {
        super::Recovery::Nothing => "nothing to recover".to_owned(),
        super::Recovery::UndoneCommit { id } => {
            format!(
                "commit {id} was interrupted and is undone: the workspace is as before it, the changes are still in the overlay"
            )
        }
        super::Recovery::FinishedCommit { id } => {
            format!("commit {id} had reached the workspace and is finished")
        }
    })
}

/// After recovery finished a commit, the overlay it published is cleared (or, for a partial
/// commit, replaced by what stays); runs at every mount.
pub fn after_recovery(ov: &mut dyn Host, outcome: &super::Recovery) -> Result<(), CommitError> {
    let finished = match outcome {
        super::Recovery::FinishedCommit { id }
            if ov.store().db.kv_get(keys::EPOCH)?.as_deref() != Some(&id.to_string()) =>
        {
            Some(*id)
        }
        _ => None,
    };
    if !super::partial::after_recovery(ov, finished)?
        && let Some(id) = finished
    {
        let snap = ov.seal()?;
        clear(ov, &snap, id)?;
    }
    // The transaction of a store mounted for the first time begins now: a workspace object
    // the view replaces without copying it (a file saved by renaming a new one over it) is
    // a conflict only if it changed after this.
    if ov.store().db.kv_get(TXN_STARTED)?.is_none() {
        mark_started(ov)?;
    }
    Ok(())
}
