//! Commit: turns the overlay into a [`Plan`] (`planner`), applies it with the journaled
//! engine, and clears the overlay once the workspace durably holds it. What runs at mount
//! after a crash is `recovery`.
//!
use std::collections::HashMap;

use super::Host;
use super::phases::Phases;
use super::planner::{plan, plan_with_links};
use super::{RelPath, Workspace};
use crate::meta::LogRow;
use crate::meta::keys::{self, TXN_STARTED};
use crate::overlay::{Dentry, Ino, ROOT, Snapshot, Time};

/// Errors of a commit.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("commit refused: {} path(s) changed in the workspace outside the view: {}; nothing was written (use --force to overwrite them)", .0.len(), .0.iter().map(|c| format!("{} ({})", c.path, c.reason)).collect::<Vec<_>>().join(", "))]
    Conflicts(Vec<super::Conflict>),
    /// The paths of a partial commit select nothing, or its record is unreadable.
    #[error("{0}")]
    Select(String),
    #[error(transparent)]
    Txn(#[from] super::TxnError),
    #[error(transparent)]
    Fs(#[from] crate::overlay::FsError),
    #[error(transparent)]
    Meta(#[from] crate::meta::MetaError),
}

/// What a commit did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CommitOutcome {
    pub journal: u64,
    pub changes: usize,
    pub steps: usize,
    pub bytes: u64,
    /// What the kernel must forget (not serialized).
    #[serde(skip)]
    pub invalidation: crate::overlay::Invalidation,
}

pub(super) fn since(ov: &dyn Host) -> Result<Time, crate::meta::MetaError> {
    let ns: i64 = ov
        .store()
        .db
        .kv_get(TXN_STARTED)?
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(Time {
        sec: ns.div_euclid(1_000_000_000),
        nsec: ns.rem_euclid(1_000_000_000) as u32,
    })
}

/// Records that a transaction begins now, on the workspace file system's own clock, and
/// strictly after every change made before (a commit's own placements included).
pub(super) fn mark_started(ov: &dyn Host) -> Result<(), crate::meta::MetaError> {
    let now = ov.workspace().ctime_boundary();
    ov.store().db.kv_set(
        TXN_STARTED,
        &(now.sec * 1_000_000_000 + i64::from(now.nsec)).to_string(),
    )
}

/// Publishes the whole overlay into the workspace `ws`, atomically and durably, and clears
/// the overlay. On a conflict (and without `force`) nothing is written and the overlay stays.
///
/// After a crash at any point, [`super::recover_at_mount`] leaves the workspace exactly as before or
/// exactly as committed; the overlay is cleared only once the workspace durably holds it.
pub fn commit(
    ov: &mut dyn Host,
    ws: &Workspace,
    message: &str,
    force: bool,
) -> Result<CommitOutcome, CommitError> {
    if ov.store().db.kv_get(TXN_STARTED)?.is_none() {
        mark_started(ov)?;
    }
    let mut phases = Phases::start();
    let changes = ov.changes()?.len();
    // Working files are hashed, not stored: phase 2 copies them from where they are.
    let (snap, unstored) = ov.seal_for_commit()?;
    phases.end("seal");
    let (plan, relinked) = plan_with_links(&snap, ov.workspace(), since(ov)?);
    phases.end("plan");
    let contents = super::Contents {
        blobs: ov.store().blobs,
        unstored: &unstored,
    };
    let applied = match super::apply_from(ws, contents, ov.store().db, &plan, force) {
        Ok(a) => a,
        Err(super::TxnError::Conflicts(list)) => return Err(CommitError::Conflicts(list)),
        Err(e) => return Err(e.into()),
    };
    drop((plan, unstored));
    phases.end("apply");
    let mut invalidation = clear(ov, &snap, applied.journal_id)?;
    invalidation.entries.extend(relinked);
    log_commit(ov, message, changes, applied.journal_id)?;
    phases.end("clear");
    super::finish(ws, ov.store().db, applied.journal_id)?;
    // Finish changed the workspace too (it removed the stash): the next transaction begins
    // after it, so nothing the commit did is taken for an outside change.
    mark_started(ov)?;
    phases.end("finish");
    tracing::debug!(
        journal = applied.journal_id,
        changes,
        "commit took {phases}"
    );
    Ok(CommitOutcome {
        journal: applied.journal_id,
        changes,
        steps: applied.steps,
        bytes: applied.bytes,
        invalidation,
    })
}

/// Records commit `journal` of `changes` changes in the log.
pub(super) fn log_commit(
    ov: &dyn Host,
    message: &str,
    changes: usize,
    journal: u64,
) -> Result<(), crate::meta::MetaError> {
    ov.store().db.add_log(&LogRow {
        id: 0,
        kind: "commit".into(),
        created_ns: now_ns(),
        message: message.to_owned(),
        command: None,
        exit_code: None,
        snapshot: String::new(),
        entries: changes as u64,
        epoch: journal,
    })?;
    Ok(())
}

/// What a commit now would refuse for: workspace objects changed outside the view since the
/// overlay copied, replaced or deleted them. Read-only for the workspace and the store: the
/// plan is built from the overlay's shape ([`Host::peek`]), so nothing is hashed or sealed
/// and it costs the same after gigabytes of writes as after none.
pub fn conflicts(ov: &dyn Host, ws: &Workspace) -> Result<Vec<super::Conflict>, CommitError> {
    let snap = ov.peek();
    let plan = plan(&snap, ov.workspace(), since(ov)?);
    Ok(super::check(ws, &plan))
}

/// Clears the overlay after commit `journal` reached the workspace: the view now shows the
/// workspace, the kernel's references follow their objects to their new paths, and a new
/// transaction (epoch) begins.
pub(super) fn clear(
    ov: &mut dyn Host,
    snap: &Snapshot,
    journal: u64,
) -> Result<crate::overlay::Invalidation, CommitError> {
    let placed = placements(snap);
    let inval = ov.reset_after_commit(&Snapshot::default(), &placed)?;
    ov.store().db.kv_set(keys::EPOCH, &journal.to_string())?;
    mark_started(ov)?;
    Ok(inval)
}

/// Where each node of `snap` is in the workspace after the commit: (inode, parent, name, path).
pub(super) fn placements(snap: &Snapshot) -> Vec<(Ino, Ino, Vec<u8>, RelPath)> {
    let mut dirs: HashMap<Ino, Vec<(&Vec<u8>, Ino)>> = HashMap::new();
    for (dir, name, d) in &snap.dentries {
        if let Dentry::Child(ino) = d {
            dirs.entry(*dir).or_default().push((name, *ino));
        }
    }
    let mut out = Vec::new();
    let mut stack = vec![(ROOT, RelPath::default())];
    while let Some((dir, at)) = stack.pop() {
        for (name, ino) in dirs.get(&dir).map(Vec::as_slice).unwrap_or(&[]) {
            let path = at.join(name);
            out.push((*ino, dir, name.to_vec(), path.clone()));
            if dirs.contains_key(ino) {
                stack.push((*ino, path));
            }
        }
    }
    out
}

fn now_ns() -> i64 {
    let t = Time::now();
    t.sec * 1_000_000_000 + i64::from(t.nsec)
}
