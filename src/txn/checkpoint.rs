//! Checkpoints, rollback and abort: sealed states of the overlay and returning to them.
//!
//! A checkpoint is a snapshot blob (the overlay's nodes and entries, referencing blobs and
//! workspace files only) plus a log row. It costs what changed since the last seal, never
//! what the workspace holds. Rollback and abort first record the state they discard as a
//! checkpoint of their own, so both can be undone by rolling forward to it.
//!
//! Checkpoints belong to an epoch (the number of commits before them): after a commit the
//! workspace is different, and an older snapshot no longer describes a state of the view.

use super::Host;
use crate::meta::{LogRow, MetaError, keys};
use crate::overlay::{FsError, Invalidation, Snapshot, Time};
use crate::store::{BlobId, StoreError};

/// Errors of checkpoint, rollback and abort.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("no checkpoint {id} (see `ftsb-fs log`)")]
    NoSuch { id: u64 },
    #[error("checkpoint {id} was taken before a commit and cannot be restored")]
    OtherEpoch { id: u64 },
    #[error("log entry {id} is a {kind} record, not a restorable state")]
    NotAState { id: u64, kind: String },
    #[error("snapshot of checkpoint {id} is unreadable: {detail}")]
    BadSnapshot { id: u64, detail: String },
    /// The paths of a partial abort select nothing.
    #[error("{0}")]
    Select(String),
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The number of commits so far.
pub fn epoch(ov: &dyn Host) -> Result<u64, MetaError> {
    Ok(ov
        .store()
        .db
        .kv_get(keys::EPOCH)?
        .and_then(|s| s.parse().ok())
        .unwrap_or(0))
}

/// Seals the overlay and records it as log entry of `kind`; returns the new id.
pub fn checkpoint(
    ov: &mut dyn Host,
    kind: &str,
    message: &str,
    command: Option<&str>,
) -> Result<u64, CheckpointError> {
    let snap = ov.seal()?;
    let body = serde_json::to_vec(&snap).expect("snapshots are plain data and always serialize");
    // Unsynced: a checkpoint is kept across crashes of the daemon; after a power loss a
    // torn snapshot fails its hash check and the checkpoint is reported unreadable.
    let blob = ov.store().blobs.put_bytes_unsynced(&body)?;
    let row = LogRow {
        id: 0,
        kind: kind.to_owned(),
        created_ns: now_ns(),
        message: message.to_owned(),
        command: command.map(str::to_owned),
        exit_code: None,
        snapshot: blob.to_string(),
        entries: ov.size() as u64,
        epoch: epoch(ov)?,
    };
    Ok(ov.store().db.add_log(&row)?)
}

/// Makes the overlay equal checkpoint `to` (0: no changes). The state it replaces is kept as
/// a `rollback` checkpoint first. Returns what the kernel must forget.
pub fn rollback(ov: &mut dyn Host, to: u64) -> Result<Invalidation, CheckpointError> {
    let snap = if to == 0 {
        Snapshot::default()
    } else {
        load(ov, to)?
    };
    checkpoint(
        ov,
        "rollback",
        &format!("state before rollback to {to}"),
        None,
    )?;
    Ok(ov.restore(&snap)?)
}

/// Discards the overlay; the discarded state is kept as an `abort` checkpoint.
pub fn abort(ov: &mut dyn Host) -> Result<Invalidation, CheckpointError> {
    checkpoint(ov, "abort", "state before abort", None)?;
    Ok(ov.restore(&Snapshot::default())?)
}

/// Reads the snapshot of checkpoint `id`, checking it belongs to the current epoch.
pub fn load(ov: &dyn Host, id: u64) -> Result<Snapshot, CheckpointError> {
    let row = ov
        .store()
        .db
        .log_entry(id)?
        .ok_or(CheckpointError::NoSuch { id })?;
    if row.snapshot.is_empty() {
        return Err(CheckpointError::NotAState { id, kind: row.kind });
    }
    if row.epoch != epoch(ov)? {
        return Err(CheckpointError::OtherEpoch { id });
    }
    let blob: BlobId = row.snapshot.parse()?;
    let bytes = ov.store().blobs.read_verified(blob)?;
    serde_json::from_slice(&bytes).map_err(|e| CheckpointError::BadSnapshot {
        id,
        detail: e.to_string(),
    })
}

fn now_ns() -> i64 {
    let t = Time::now();
    t.sec * 1_000_000_000 + i64::from(t.nsec)
}

/// What `gc` removed.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct GcReport {
    pub checkpoints: usize,
    pub blobs: usize,
}

/// Drops the restorable states of earlier epochs and those older than `max_age_ns`
/// (when given), then every blob that neither the overlay, a remaining checkpoint, nor an
/// open commit journal references.
pub fn gc(ov: &mut dyn Host, max_age_ns: Option<i64>) -> Result<GcReport, CheckpointError> {
    ov.flush()?;
    let cutoff = max_age_ns.map_or(i64::MIN, |age| now_ns() - age);
    let checkpoints = ov.store().db.prune_log(epoch(ov)?, cutoff)?;
    if ov.store().db.journal_open()?.is_some() {
        // An interrupted commit's plan names blobs; recovery needs them.
        return Ok(GcReport {
            checkpoints,
            blobs: 0,
        });
    }
    let mut live: std::collections::HashSet<BlobId> = ov.live_blobs().into_iter().collect();
    for row in ov.store().db.log()? {
        if row.snapshot.is_empty() {
            continue;
        }
        let id: BlobId = row.snapshot.parse()?;
        live.insert(id);
        let snap = load_any(ov, row.id, id)?;
        live.extend(snap.nodes.iter().filter_map(|(_, n)| match n.data {
            crate::overlay::Data::Blob(b) => Some(b),
            _ => None,
        }));
    }
    let blobs = ov.store().blobs.gc(&live)?;
    Ok(GcReport { checkpoints, blobs })
}

/// The snapshot in blob `blob` of log entry `id`, whatever its epoch.
fn load_any(ov: &dyn Host, id: u64, blob: BlobId) -> Result<Snapshot, CheckpointError> {
    let bytes = ov.store().blobs.read_verified(blob)?;
    serde_json::from_slice(&bytes).map_err(|e| CheckpointError::BadSnapshot {
        id,
        detail: e.to_string(),
    })
}
