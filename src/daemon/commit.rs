//! `commit` and `abort PATH...`: publish the overlay (all of it, or the changes under some
//! paths) into the workspace through the journaled commit engine, or discard some of it.

use super::Daemon;
use super::failure::failure;
use crate::control::reply;
use crate::control::{Code, Error};
use crate::overlay::{Change, Overlay, lock};
use crate::txn;

/// Publishes the overlay into the workspace; with `paths`, only the changes under them (see
/// `txn::split` for what a named change takes along), the rest stays in the overlay; with
/// `exclude`, not the changes under those paths.
/// Writers through the view wait while it runs, so each write lands either in this commit or
/// in the next transaction. Refuses, unless `allow_setid`, when a file would reach the
/// workspace with a privilege it did not have there (setuid, setgid, sticky, a file
/// capability; see `Overlay::gained_privileges`). With `dry_run`, lists what would go.
pub fn commit(
    daemon: &Daemon,
    message: &str,
    paths: &[String],
    exclude: &[String],
    force: bool,
    allow_setid: bool,
    dry_run: bool,
) -> Result<reply::Commit, Error> {
    let filter = (!paths.is_empty() || !exclude.is_empty())
        .then(|| txn::Filter::new(paths).map(|f| f.excluding(exclude)))
        .transpose()
        .map_err(bad_paths)?;
    let outcome = {
        let mut ov = lock(&daemon.overlay);
        let changes = match &filter {
            Some(f) => txn::preview(&*ov, f, txn::Purpose::Commit).map_err(daemon_said)?,
            None => ov.changes().map_err(failure)?,
        };
        if dry_run {
            return Ok(reply::Commit::DryRun {
                dry_run: true,
                would_commit: listed(&changes),
            });
        }
        if !allow_setid {
            let gained = ov.gained_privileges(&changes).map_err(failure)?;
            if !gained.is_empty() {
                return Err(Error::new(
                    Code::GainedPrivileges,
                    format!(
                        "refusing to commit files that gained setuid, setgid, sticky or file capabilities: {} (review them, then commit with --allow-setid)",
                        gained.join(", ")
                    ),
                ));
            }
        }
        // Not held through the commit: at ten thousand changes every copy counts.
        drop(changes);
        let ws = workspace(&ov, daemon)?;
        match &filter {
            Some(f) => {
                let (outcome, went) =
                    txn::commit_paths(&mut *ov, &ws, message, force, f).map_err(failure)?;
                (outcome, Some(went))
            }
            None => (
                txn::commit(&mut *ov, &ws, message, force).map_err(failure)?,
                None,
            ),
        }
    };
    let (outcome, went) = outcome;
    daemon.invalidate(&outcome.invalidation);
    Ok(reply::Commit::Done(reply::CommitOutcome {
        journal: outcome.journal,
        changes: outcome.changes as u64,
        steps: outcome.steps as u64,
        bytes: outcome.bytes,
        committed: went.as_deref().map(listed),
    }))
}

/// Discards the changes under `paths` (with what they take along, as for a partial commit);
/// the state before is kept as an `abort` checkpoint. With `dry_run`, lists them.
pub fn abort_paths(
    daemon: &Daemon,
    paths: &[String],
    dry_run: bool,
) -> Result<reply::AbortPaths, Error> {
    let filter = txn::Filter::new(paths).map_err(bad_paths)?;
    let mut ov = lock(&daemon.overlay);
    if dry_run {
        let changes = txn::preview(&*ov, &filter, txn::Purpose::Abort).map_err(daemon_said)?;
        return Ok(reply::AbortPaths::DryRun {
            dry_run: true,
            would_abort: listed(&changes),
        });
    }
    let (inval, went) = txn::abort_paths(&mut *ov, &filter).map_err(failure)?;
    drop(ov);
    daemon.invalidate(&inval);
    Ok(reply::AbortPaths::Done {
        aborted: true,
        discarded: listed(&went),
    })
}

/// Paths or globs that cannot name anything in the workspace (absolute, leaving it).
fn bad_paths(message: String) -> Error {
    Error::new(Code::BadRequest, message)
}

/// A failure the engine reports as text only.
fn daemon_said(message: String) -> Error {
    Error::new(Code::Daemon, message)
}

/// Changes as the protocol lists them.
pub(super) fn listed(changes: &[Change]) -> Vec<reply::Change> {
    changes.iter().map(super::diff::change).collect()
}

/// The commit engine's view of the workspace beneath the overlay, through the descriptor the
/// daemon opened before mounting (the path may be covered by the view).
pub(super) fn workspace(ov: &Overlay, daemon: &Daemon) -> Result<txn::Workspace, Error> {
    let path = &daemon.config.workspace;
    let fd = ov.workspace_fd().map_err(|source| {
        failure(txn::TxnError::OpenWorkspace {
            path: path.clone(),
            source,
        })
    })?;
    txn::Workspace::from_fd(fd, path).map_err(failure)
}
