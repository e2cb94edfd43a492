//! The backward half and the end of the commit protocol: undo, finish, recovery.
//!
//! Owns [`recover`], [`finish`] and the undo shared by `apply`'s error path and recovery.
//! Invariant: every operation here is idempotent and checks the state it finds, so each may
//! be killed at any instant and simply run again. Undo walks the plan backwards, so when it
//! reaches step k the workspace is as step k left it, or as it was before step k ran.
//!
//! Deliberately not here: the forward protocol (see `apply`).

use std::collections::BTreeSet;
use std::os::fd::AsFd;

use super::attrs;
use super::check::{missing, split_open};
use super::durable::{flush_below, sync_dir, sync_object};
use super::failpoint::hit;
use super::journal::{self, Journal};
use super::plan::{RelPath, Step};
use super::{IoCtx, TxnError, Workspace, stash_name};
use crate::meta::{Db, JournalState, keys};
use crate::sys;

/// What [`recover`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Recovery {
    /// No commit was open.
    Nothing,
    /// Commit `id` was interrupted before it was applied and is undone: the workspace is as
    /// before it; the caller keeps its overlay.
    UndoneCommit { id: u64 },
    /// Commit `id` was applied and is now finished: the workspace holds it; the caller must
    /// clear the overlay rows of that commit (if it had not yet).
    FinishedCommit { id: u64 },
}

/// Finishes or undoes an interrupted commit (at mount, and for `ftsb-fs recover`).
///
/// A journal in `Applying` is undone (the workspace exactly as before; journal `Undone`); one
/// in `Applied` is finished (journal `Done`). After a crash during recovery, run it again.
pub fn recover(ws: &Workspace, db: &Db) -> Result<Recovery, TxnError> {
    let Some(row) = db.journal_open()? else {
        return Ok(Recovery::Nothing);
    };
    match row.state {
        JournalState::Applying => {
            let journal = Journal::decode(row.id, &row.body)?;
            undo(ws, db, row.id, &journal)?;
            Ok(Recovery::UndoneCommit { id: row.id })
        }
        JournalState::Applied => {
            finish(ws, db, row.id)?;
            Ok(Recovery::FinishedCommit { id: row.id })
        }
        JournalState::Done | JournalState::Undone => Ok(Recovery::Nothing),
    }
}

/// Removes the stash of applied commit `journal_id`, restores the root's times and marks the
/// journal `Done`, durably.
///
/// The caller clears its overlay rows of this commit *before* calling `finish` (the journal
/// `Applied` is what tells a recovery that the workspace already holds them). After a crash,
/// the journal is still `Applied` and [`recover`] finishes again. Finishing a commit that is
/// already done is a no-op.
pub fn finish(ws: &Workspace, db: &Db, journal_id: u64) -> Result<(), TxnError> {
    match db.journal_open()? {
        Some(row) if row.id == journal_id => {
            if row.state == JournalState::Applying {
                return Err(TxnError::NotApplied { id: journal_id });
            }
        }
        _ => return Ok(()),
    }
    // Step 11: the stash goes, with what the commit removed or replaced.
    let stash_rel = RelPath(stash_name(journal_id));
    sys::remove_tree(ws.root(), &stash_rel.0).ctx("remove", &stash_rel)?;
    hit(|| "commit.finish.stash_removed".into());
    // Step 12: the root's times, which the stash moved.
    if let Some(text) = db.kv_get(&keys::txn_root_times(journal_id))? {
        let (atime, mtime): journal::Times =
            serde_json::from_str(&text).map_err(|e| TxnError::Journal {
                id: journal_id,
                reason: format!("bad root times {text:?}: {e}"),
            })?;
        sys::set_times(ws.root(), b"", atime, mtime).ctx("set times of", &RelPath::default())?;
    }
    sync_dir(ws, &RelPath::default())?;
    hit(|| "commit.finish.synced".into());
    // Step 13.
    db.journal_set_state(journal_id, JournalState::Done)?;
    hit(|| "commit.done".into());
    journal::clear_markers(db, journal_id)
}

/// Undoes commit `id`, whatever part of it ran; ends with the journal `Undone`.
///
/// Phase 2 is undone only if the durable phase marker says phase 1 completed (only then was
/// every phase-2 path free before phase 2), only for the steps before the recorded failed
/// step, if `apply` recorded one, and only until a durable marker says it is complete (after
/// that, phase-1 undo may have put original objects back at phase-2 paths). After a crash,
/// run it again: steps U1 to U6 of `docs/COMMIT.md`.
pub(crate) fn undo(
    ws: &Workspace,
    db: &Db,
    id: u64,
    journal: &Journal<'_>,
) -> Result<(), TxnError> {
    let layout = journal.plan.layout()?;
    let steps = &journal.plan.steps;
    let first_build = layout.first_build();
    let stashed = db.kv_get(&keys::txn_stashed(id))?.is_some();
    let failed_at: usize = match db.kv_get(&keys::txn_failed_at(id))? {
        Some(t) => t.parse().map_err(|_| TxnError::Journal {
            id,
            reason: format!("bad failed step {t:?}"),
        })?,
        None => steps.len(),
    };
    let stash_rel = RelPath(stash_name(id));
    let stash = match sys::open_dir(ws.root(), &stash_rel.0, true) {
        Ok(fd) => Some(fd),
        Err(e) if missing(&e) => None,
        Err(e) => return Err(TxnError::io("open", &stash_rel, e)),
    };
    let in_stash = |slot: u32| -> Result<bool, TxnError> {
        let Some(stash) = &stash else {
            return Ok(false);
        };
        let name = slot.to_string().into_bytes();
        Ok(sys::lstat(stash.as_fd(), &name)
            .ctx("stat", &stash_rel.join(&name))?
            .is_some())
    };

    // U1 and U2: phase-2 undo, unless a previous run completed it: once phase-1 undo began, the paths
    // phase 2 placed at may hold the original objects again, which must not be removed.
    if stashed && db.kv_get(&keys::txn_unbuilt(id))?.is_none() {
        // Paths whose entries or metadata changed, fsynced before they move and at the end.
        let mut pending: BTreeSet<RelPath> = BTreeSet::new();
        for k in (first_build..steps.len()).rev() {
            let step = &steps[k];
            let path = step.path();
            match step {
                Step::Unstash { slot, .. } => {
                    if let Some(stash) = &stash
                        && !in_stash(*slot)?
                        && let Some((parent, name)) = split_open(ws, path)?
                        && sys::lstat(parent.as_fd(), name)
                            .ctx("stat", path)?
                            .is_some()
                    {
                        flush_below(ws, &mut pending, path)?;
                        let slot_name = slot.to_string().into_bytes();
                        sys::rename_noreplace(parent.as_fd(), name, stash.as_fd(), &slot_name)
                            .ctx("move back into the stash", path)?;
                        pending.insert(path.split().map(|(p, _)| p).unwrap_or_default());
                    }
                }
                Step::SetMeta { .. } => {
                    if let Some(old) = journal.old_meta.get(&k)
                        && let Some((parent, name)) = split_open(ws, path)?
                    {
                        match attrs::set_meta(parent.as_fd(), name, old) {
                            Ok(()) => {
                                pending.insert(path.clone());
                            }
                            Err(e) if missing(&e) => {}
                            Err(e) => return Err(TxnError::io("restore metadata of", path, e)),
                        }
                    }
                }
                _ if k < failed_at => {
                    remove_placed(ws, path, matches!(step, Step::Mkdir { .. }))?;
                    pending.insert(path.split().map(|(p, _)| p).unwrap_or_default());
                }
                _ => {}
            }
            hit(|| format!("recover.undo.{k}"));
        }
        for p in &pending {
            sync_object(ws, p)?;
        }
        if let Some(stash) = &stash {
            sys::fsync(stash.as_fd()).ctx("fsync", &stash_rel)?;
        }
        db.kv_set(&keys::txn_unbuilt(id), "1")?;
        db.barrier()?;
        hit(|| "recover.unbuilt".into());
    }
    // U3: phase-1 undo.
    for k in (0..first_build).rev() {
        let Step::Stash { path, slot, .. } = &steps[k] else {
            continue;
        };
        if let Some(stash) = &stash
            && in_stash(*slot)?
        {
            let (parent, name) =
                sys::open_parent(ws.root(), &path.0).ctx("open parent of", path)?;
            let slot_name = slot.to_string().into_bytes();
            sys::rename_noreplace(stash.as_fd(), &slot_name, parent.as_fd(), name)
                .ctx("move back", path)?;
        }
        hit(|| format!("recover.undo.{k}"));
    }
    // U4.
    drop(stash);
    sys::remove_tree(ws.root(), &stash_rel.0).ctx("remove", &stash_rel)?;
    hit(|| "recover.undo.stash_removed".into());
    // U5: directory times, then everything durable.
    for (dir, (atime, mtime)) in &journal.dir_times {
        if let Some((parent, name)) = split_open(ws, dir)? {
            match sys::set_times(parent.as_fd(), name, *atime, *mtime) {
                Ok(()) => {}
                Err(e) if missing(&e) => {}
                Err(e) => return Err(TxnError::io("restore times of", dir, e)),
            }
        }
    }
    for dir in journal.dir_times.keys() {
        sync_dir(ws, dir)?;
    }
    sync_dir(ws, &RelPath::default())?;
    hit(|| "recover.undo.synced".into());
    // U6.
    db.journal_set_state(id, JournalState::Undone)?;
    hit(|| "recover.undone".into());
    journal::clear_markers(db, id)
}

/// Removes what phase 2 placed at `path` (a directory must be empty by now).
fn remove_placed(ws: &Workspace, path: &RelPath, is_dir: bool) -> Result<(), TxnError> {
    let Some((parent, name)) = split_open(ws, path)? else {
        return Ok(());
    };
    match sys::unlink(parent.as_fd(), name, is_dir) {
        Ok(()) => Ok(()),
        Err(e) if missing(&e) => Ok(()),
        Err(e)
            if is_dir && matches!(e.raw_os_error(), Some(libc::ENOTEMPTY) | Some(libc::EEXIST)) =>
        {
            Err(TxnError::UndoBlocked { path: path.clone() })
        }
        Err(e) => Err(TxnError::io("remove", path, e)),
    }
}
