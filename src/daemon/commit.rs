//! `commit` and `abort PATH...`: publish the overlay (all of it, or the changes under some
//! paths) into the workspace through the journaled commit engine, or discard some of it.

use serde_json::{Value, json};

use super::Daemon;
use crate::fuse::lock;
use crate::overlay::Change;
use crate::txn;

/// Publishes the overlay into the workspace; with `paths`, only the changes under them (see
/// `txn::partial` for what a named change takes along), the rest stays in the overlay; with
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
) -> Result<Value, String> {
    let filter = (!paths.is_empty() || !exclude.is_empty())
        .then(|| txn::Filter::new(paths).map(|f| f.excluding(exclude)))
        .transpose()?;
    let outcome = {
        let mut ov = lock(&daemon.overlay);
        let changes = match &filter {
            Some(f) => txn::preview(&ov, f, txn::Purpose::Commit)?,
            None => ov.changes().map_err(|e| e.to_string())?,
        };
        if dry_run {
            return Ok(json!({ "dry_run": true, "would_commit": listed(&changes) }));
        }
        if !allow_setid {
            let gained = ov.gained_privileges(&changes).map_err(|e| e.to_string())?;
            if !gained.is_empty() {
                return Err(format!(
                    "refusing to commit files that gained setuid, setgid, sticky or file capabilities: {} (review them, then commit with --allow-setid)",
                    gained.join(", ")
                ));
            }
        }
        // Not held through the commit: at ten thousand changes every copy counts (the daemon's
        // memory during a commit is bounded, see docs/COMMIT.md).
        drop(changes);
        let ws =
            txn::workspace_of(ov.lower(), &daemon.config.workspace).map_err(|e| e.to_string())?;
        match &filter {
            Some(f) => {
                let (outcome, went) = txn::commit_paths(&mut ov, &ws, message, force, f)
                    .map_err(|e| e.to_string())?;
                (outcome, Some(went))
            }
            None => (
                txn::commit(&mut ov, &ws, message, force).map_err(|e| e.to_string())?,
                None,
            ),
        }
    };
    let (outcome, went) = outcome;
    super::ops::invalidate(daemon, &outcome.invalidation);
    let mut v = serde_json::to_value(&outcome).expect("commit outcomes are plain data");
    if let Some(went) = went {
        v["committed"] = listed(&went);
    }
    Ok(v)
}

/// Discards the changes under `paths` (with what they take along, as for a partial commit);
/// the state before is kept as an `abort` checkpoint. With `dry_run`, lists them.
pub fn abort_paths(daemon: &Daemon, paths: &[String], dry_run: bool) -> Result<Value, String> {
    let filter = txn::Filter::new(paths)?;
    let mut ov = lock(&daemon.overlay);
    if dry_run {
        let changes = txn::preview(&ov, &filter, txn::Purpose::Abort)?;
        return Ok(json!({ "dry_run": true, "would_abort": listed(&changes) }));
    }
    let (inval, went) = txn::abort_paths(&mut ov, &filter).map_err(|e| e.to_string())?;
    drop(ov);
    super::ops::invalidate(daemon, &inval);
    Ok(json!({ "aborted": true, "discarded": listed(&went) }))
}

fn listed(changes: &[Change]) -> Value {
    serde_json::to_value(changes).expect("changes are plain data")
}
