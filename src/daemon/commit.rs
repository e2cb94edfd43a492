//! `commit`: publish the overlay into the workspace through the journaled commit engine.

use serde_json::Value;

use super::Daemon;
use crate::fuse::lock;
use crate::txn;

/// Publishes the overlay into the workspace. Writers through the view wait while it runs,
/// so each write lands either in this commit or in the next transaction. Refuses, unless
/// `allow_setid`, when a file would reach the workspace with a privilege it did not have
/// there (setuid, setgid, sticky, a file capability; see `Overlay::gained_privileges`).
pub fn commit(
    daemon: &Daemon,
    message: &str,
    paths: &[String],
    force: bool,
    allow_setid: bool,
) -> Result<Value, String> {
    if !paths.is_empty() {
        return Err(format!(
            "committing only some paths ({}) is not supported; commit everything, or roll back what should not go in first",
            paths.join(", ")
        ));
    }
    let outcome = {
        let mut ov = lock(&daemon.overlay);
        if !allow_setid {
            let changes = ov.changes().map_err(|e| e.to_string())?;
            let gained = ov.gained_privileges(&changes).map_err(|e| e.to_string())?;
            if !gained.is_empty() {
                return Err(format!(
                    "refusing to commit files that gained setuid, setgid, sticky or file capabilities: {} (review them, then commit with --allow-setid)",
                    gained.join(", ")
                ));
            }
        }
        let ws =
            txn::workspace_of(ov.lower(), &daemon.config.workspace).map_err(|e| e.to_string())?;
        txn::commit(&mut ov, &ws, message, force).map_err(|e| e.to_string())?
    };
    super::ops::invalidate(daemon, &outcome.invalidation);
    Ok(serde_json::to_value(&outcome).expect("commit outcomes are plain data"))
}
