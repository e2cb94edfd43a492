//! The audit log on the command line: recording what the daemon cannot see (a gate refusal,
//! an agent session), and one text line per `log` entry.

use std::path::Path;

use serde_json::Value;

use super::call;
use crate::control::Event;
use crate::control::Request;
use crate::control::reply::{self, LogEntry};

/// Records that the gate refused `command` (`verdict` is the gate's JSON verdict). A failure
/// to record is a warning: the refusal itself stands.
pub fn record_refusal(ws: &Path, command: &str, verdict: &Value) {
    let text = |key: &str| verdict.get(key).and_then(Value::as_str).map(str::to_owned);
    record(
        ws,
        Event {
            kind: "refused".into(),
            command: Some(command.to_owned()),
            audit: reply::Audit {
                verdict: text("decision"),
                rule: text("rule"),
                reason: text("reason"),
                ..Default::default()
            },
            ..Event::default()
        },
    );
}

/// Appends `event` to the audit log of `ws`; warns on failure.
pub fn record(ws: &Path, event: Event) {
    if let Err(e) = send(ws, event) {
        eprintln!("ftsb-fs: warning: not recorded in the audit log: {e}");
    }
}

/// Appends `event` to the audit log of `ws`.
pub fn send(ws: &Path, event: Event) -> anyhow::Result<()> {
    call::<reply::Recorded>(ws, &Request::Record { event }).map(drop)
}

/// One `log` entry as a text line: id, time, kind, outcome, duration, diffstat, command or
/// message.
pub fn entry_line(e: &LogEntry) -> String {
    let id = e.id.map_or("-".to_string(), |i| i.to_string());
    let mut parts = vec![
        format!("{id:>5}"),
        e.time.clone(),
        format!("{:<10}", e.kind),
    ];
    if let Some(v) = e.audit.verdict.as_deref().filter(|v| *v != "allow") {
        let rule = e.audit.rule.as_deref().unwrap_or("?");
        parts.push(format!("{v} ({rule})"));
    }
    if let Some(c) = e.exit_code {
        parts.push(format!("exit={c}"));
    } else if e.kind == "exec" {
        parts.push("exit=signal".to_string());
    }
    if let Some(ms) = e.audit.duration_ms {
        parts.push(crate::review::format_ms(ms));
    }
    if e.audit.rolled_back == Some(true) {
        parts.push("rolled-back".to_string());
    }
    if !e.audit.denials.is_empty() {
        parts.push(format!("denied={}", e.audit.denials.len()));
    }
    if let Some(c) = e.changes {
        parts.push(format!("+{} ~{} -{}", c.added, c.modified, c.deleted));
    }
    if e.audit.from_session {
        parts.push("(agent)".to_string());
    }
    match &e.command {
        Some(c) => parts.push(format!("`{c}`")),
        None => parts.push(e.message.clone()),
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_line_shows_outcome_duration_and_diffstat() {
        let e = LogEntry {
            id: Some(7),
            time: "2026-12-05T12:00:00Z".into(),
            kind: "exec".into(),
            exit_code: Some(3),
            command: Some("make test".into()),
            changes: Some(reply::Stat {
                added: 1,
                modified: 2,
                deleted: 0,
            }),
            audit: reply::Audit {
                duration_ms: Some(1500),
                rolled_back: Some(true),
                verdict: Some("allow".into()),
                ..reply::Audit::default()
            },
            ..LogEntry::default()
        };
        assert_eq!(
            entry_line(&e),
            "    7 2026-12-05T12:00:00Z exec       exit=3 1.5s rolled-back +1 ~2 -0 `make test`"
        );
        let refused = LogEntry {
            time: "2026-12-05T12:00:01Z".into(),
            kind: "refused".into(),
            command: Some("rm -rf ~".into()),
            audit: reply::Audit {
                verdict: Some("deny".into()),
                rule: Some("fs.rm_protected".into()),
                ..reply::Audit::default()
            },
            ..LogEntry::default()
        };
        assert_eq!(
            entry_line(&refused),
            "    - 2026-12-05T12:00:01Z refused    deny (fs.rm_protected) `rm -rf ~`"
        );
    }
}
