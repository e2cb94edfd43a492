//! Partial commit and abort: publishing or discarding only the changes under some paths.
//!
//! The overlay's sealed [`Snapshot`] is split in two by `split.rs` (which says how a
//! selection is closed so that neither half is left dangling); the selected half is
//! published through the full commit's plan and engine, the other stays in the overlay.
//!
//! Crash safety is the full commit's: the plan goes through the same journaled engine, and
//! the overlay that stays is recorded durably before the workspace is touched, so recovery
//! that finishes an interrupted partial commit installs it instead of clearing the overlay.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::Host;
use super::commit::{CommitError, CommitOutcome, log_commit, mark_started, placements, since};
use super::filter::Filter;
use super::split::{Purpose, split};
use crate::overlay::{Change, Ino, Invalidation, Origin, RelPath, Snapshot, stamp_at, stamp_of};

// `PARTIAL_REST`: the key-value entry that holds the overlay a partial commit in flight
// leaves behind.
use crate::meta::keys::{self, PARTIAL_REST};

/// What stays in the overlay after a partial commit, recorded before the workspace changes.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    rest: Snapshot,
    made_dirs: Vec<(Ino, RelPath)>,
    /// Workspace paths the commit changes (the objects its steps act on and their
    /// directories): what stays in the overlay takes their new stamps, so the commit's own
    /// changes are not taken for outside ones by the next commit.
    #[serde(default)]
    touched: Vec<RelPath>,
}

/// The changes a partial commit or abort of `filter` would take, without doing it.
pub fn preview(ov: &dyn Host, filter: &Filter, purpose: Purpose) -> Result<Vec<Change>, String> {
    let snap = ov.peek();
    let split = split(&snap, ov.workspace(), filter, purpose)?;
    let changes = ov.changes().map_err(|e| e.to_string())?;
    Ok(changes
        .into_iter()
        .filter(|c| split.paths.contains(&c.raw_path))
        .collect())
}

/// Publishes the changes `filter` selects into the workspace `ws`, atomically and durably
/// like [`super::commit`]; the rest stays in the overlay. Returns the outcome and the changes
/// that went.
pub fn commit_paths(
    ov: &mut dyn Host,
    ws: &super::Workspace,
    message: &str,
    force: bool,
    filter: &Filter,
) -> Result<(CommitOutcome, Vec<Change>), CommitError> {
    if ov.store().db.kv_get(keys::TXN_STARTED)?.is_none() {
        mark_started(ov)?;
    }
    let all = ov.changes()?;
    let snap = ov.seal()?;
    let split =
        split(&snap, ov.workspace(), filter, Purpose::Commit).map_err(CommitError::Select)?;
    let went: Vec<Change> = all
        .into_iter()
        .filter(|c| split.paths.contains(&c.raw_path))
        .collect();
    let (plan, relinked) = super::planner::plan_with_links(&split.sel, ov.workspace(), since(ov)?);
    let mut touched: HashSet<RelPath> = HashSet::new();
    for step in &plan.steps {
        let mut add = |p: &super::RelPath| {
            touched.insert(RelPath(p.0.clone()));
            if let Some((parent, _)) = p.split() {
                touched.insert(RelPath(parent.0));
            }
        };
        add(step.path());
        if let super::Step::Hardlink { to, .. } = step {
            add(to);
        }
    }
    let pending = Pending {
        rest: split.rest,
        made_dirs: split.made_dirs,
        touched: touched.into_iter().collect(),
    };
    ov.store().db.kv_set(
        PARTIAL_REST,
        &serde_json::to_string(&pending).expect("snapshots are plain data"),
    )?;
    let applied = match super::apply(ws, ov.store().blobs, ov.store().db, &plan, force) {
        Ok(a) => a,
        Err(e) => {
            ov.store().db.kv_del(PARTIAL_REST)?;
            return Err(match e {
                super::TxnError::Conflicts(list) => CommitError::Conflicts(list),
                e => e.into(),
            });
        }
    };
    drop(plan);
    let placed: Vec<_> = placements(&split.sel);
    let mut invalidation = install(ov, pending, &placed, applied.journal_id)?;
    invalidation.entries.extend(relinked);
    log_commit(ov, message, went.len(), applied.journal_id)?;
    super::finish(ws, ov.store().db, applied.journal_id)?;
    // Finish changed the workspace too (it removed the stash): the next transaction begins
    // after it, so nothing the commit did is taken for an outside change.
    mark_started(ov)?;
    Ok((
        CommitOutcome {
            journal: applied.journal_id,
            changes: went.len(),
            steps: applied.steps,
            bytes: applied.bytes,
            invalidation,
        },
        went,
    ))
}

/// Makes what stays the overlay once commit `journal` reached the workspace: directories
/// made for selected entries now merge their workspace directory.
fn install(
    ov: &mut dyn Host,
    mut pending: Pending,
    placed: &[(Ino, Ino, Vec<u8>, RelPath)],
    journal: u64,
) -> Result<Invalidation, CommitError> {
    for (ino, path) in &pending.made_dirs {
        let st = ov
            .workspace()
            .stat(path)
            .map_err(|e| CommitError::Select(format!("stat {}: {e}", path.display())))?;
        let Some(st) = st else { continue };
        if let Some((_, node)) = pending.rest.nodes.iter_mut().find(|(i, _)| i == ino) {
            node.origin = Some(Origin {
                path: path.clone(),
                stamp: stamp_of(&st),
            });
            node.merge = Some(path.clone());
            node.xattrs = None;
        }
    }
    let touched: HashSet<&RelPath> = pending.touched.iter().collect();
    for (_, node) in pending.rest.nodes.iter_mut() {
        if let Some(o) = &mut node.origin
            && touched.contains(&o.path)
            && let Ok(Some(st)) = ov.workspace().stat(&o.path)
            && st.st_ino == o.stamp.ino
        {
            o.stamp = stamp_at(ov.workspace(), &o.path, &st);
        }
    }
    let inval = ov.reset_after_commit(&pending.rest, placed)?;
    ov.store().db.kv_set(keys::EPOCH, &journal.to_string())?;
    ov.store().db.kv_del(PARTIAL_REST)?;
    Ok(inval)
}

/// After recovery: a partial commit that recovery finished (`finished`: its journal, when
/// the overlay does not reflect it yet) leaves its recorded rest as the overlay (returns
/// true); one it undid, or one whose rest is installed already, leaves the overlay as it is.
/// Either way the record goes.
pub fn after_recovery(ov: &mut dyn Host, finished: Option<u64>) -> Result<bool, CommitError> {
    let Some(text) = ov.store().db.kv_get(PARTIAL_REST)? else {
        return Ok(false);
    };
    let pending: Pending = serde_json::from_str(&text).map_err(|e| {
        CommitError::Select(format!("the partial commit record is unreadable: {e}"))
    })?;
    match finished {
        Some(id) => {
            install(ov, pending, &[], id)?;
            Ok(true)
        }
        _ => {
            ov.store().db.kv_del(PARTIAL_REST)?;
            Ok(false)
        }
    }
}

/// Discards the changes `filter` selects; the rest stays. The state before is kept as an
/// `abort` checkpoint. Returns what the kernel must forget and the changes discarded.
pub fn abort_paths(
    ov: &mut dyn Host,
    filter: &Filter,
) -> Result<(Invalidation, Vec<Change>), super::CheckpointError> {
    let select = |e: String| super::CheckpointError::Select(e);
    let went = preview(ov, filter, Purpose::Abort).map_err(select)?;
    super::checkpoint(ov, "abort", "state before a partial abort", None)?;
    let snap = ov.seal()?;
    let split = split(&snap, ov.workspace(), filter, Purpose::Abort).map_err(select)?;
    Ok((ov.restore(&split.rest)?, went))
}
