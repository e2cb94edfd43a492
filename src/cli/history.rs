//! The audit log on the command line: recording what the daemon cannot see (a gate refusal,
//! an agent session), and one text line per `log` entry.

use std::path::Path;

use serde_json::{Value, json};

use super::call;
use crate::control::Request;

/// Records that the gate refused `command` (`verdict` is the gate's JSON verdict). A failure
/// to record is a warning: the refusal itself stands.
pub fn record_refusal(ws: &Path, command: &str, verdict: &Value) {
    let event = json!({
        "kind": "refused",
        "command": command,
        "verdict": verdict["decision"],
        "rule": verdict["rule"],
        "reason": verdict["reason"],
    });
    record(ws, event);
}

/// Appends `event` (an audit event as JSON) to the audit log of `ws`; warns on failure.
pub fn record(ws: &Path, event: Value) {
    if let Err(e) = call(ws, &Request::Record { event }) {
        eprintln!("ftsb-fs: warning: not recorded in the audit log: {e}");
    }
}

/// One `log` entry as a text line: id, time, kind, outcome, duration, diffstat, command or
/// message.
pub fn entry_line(e: &Value) -> String {
    let id = e["id"].as_u64().map_or("-".to_string(), |i| i.to_string());
    let mut parts = vec![
        format!("{id:>5}"),
        e["time"].as_str().unwrap_or_default().to_string(),
        format!("{:<10}", e["kind"].as_str().unwrap_or_default()),
    ];
    if let Some(v) = e["verdict"].as_str().filter(|v| *v != "allow") {
        let rule = e["rule"].as_str().unwrap_or("?");
        parts.push(format!("{v} ({rule})"));
    }
    if let Some(c) = e["exit_code"].as_i64() {
        parts.push(format!("exit={c}"));
    } else if e["kind"] == "exec" {
        parts.push("exit=signal".to_string());
    }
    if let Some(ms) = e["duration_ms"].as_u64() {
        parts.push(crate::review::format_ms(ms));
    }
    if e["rolled_back"] == true {
        parts.push("rolled-back".to_string());
    }
    if let Some(c) = e.get("changes").filter(|c| c.is_object()) {
        let n = |k: &str| c[k].as_u64().unwrap_or(0);
        parts.push(format!(
            "+{} ~{} -{}",
            n("added"),
            n("modified"),
            n("deleted")
        ));
    }
    if e["from_session"] == true {
        parts.push("(agent)".to_string());
    }
    match e["command"].as_str() {
        Some(c) => parts.push(format!("`{c}`")),
        None => parts.push(e["message"].as_str().unwrap_or_default().to_string()),
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_line_shows_outcome_duration_and_diffstat() {
        let e = json!({
            "id": 7, "time": "2026-12-05T12:00:00Z", "kind": "exec", "exit_code": 3,
            "duration_ms": 1500, "rolled_back": true, "command": "make test",
            "changes": {"added": 1, "modified": 2, "deleted": 0}, "verdict": "allow",
        });
        assert_eq!(
            entry_line(&e),
            "    7 2026-12-05T12:00:00Z exec       exit=3 1.5s rolled-back +1 ~2 -0 `make test`"
        );
        let refused = json!({
            "id": null, "time": "2026-12-05T12:00:01Z", "kind": "refused", "verdict": "deny",
            "rule": "fs.rm_protected", "command": "rm -rf ~",
        });
        assert_eq!(
            entry_line(&refused),
            "    - 2026-12-05T12:00:01Z refused    deny (fs.rm_protected) `rm -rf ~`"
        );
    }
}
