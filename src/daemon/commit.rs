//! `commit`: publish the overlay into the workspace through the journaled commit engine.

use serde_json::Value;

use super::Daemon;

/// Publishes the overlay (or the named paths) into the workspace.
pub fn commit(
    _daemon: &Daemon,
    _message: &str,
    _paths: &[String],
    _force: bool,
) -> Result<Value, String> {
    Err("commit is not available in this build".into())
}
