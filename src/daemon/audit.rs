//! The audit log: what was run in the view and how it ended, kept for as long as the store.
//!
//! The checkpoint log (`meta`) holds restorable states, and `gc` prunes it. The audit log is
//! history: one JSON line per event in `audit.jsonl` in the store, appended and never pruned,
//! so a command, its verdict, exit status, duration and rollback survive `gc`, and a command
//! the gate refused (which never got a checkpoint) is recorded too.
//!
//! [`log`] answers the `log` request: the checkpoint log's rows and the audit events merged
//! into one timeline, newest first, each row with a UTC time and the diffstat of its step.
//!
//! Durability: each event is one `write` of a whole line to a file opened `O_APPEND`, without
//! fsync: it survives a crash of the daemon, not a power loss (the last events may be lost).
//! A torn last line is skipped when read.
//!
//! Deliberately not done here: deciding what to record (the control requests do), or
//! trusting an event's origin: events recorded through a session socket are marked
//! `from_session`, since the agent could forge them.

use std::collections::BTreeMap;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::Daemon;
use super::failure::failure;
use crate::control::reply::{self, LogEntry};
use crate::control::{Error, Event};
use crate::overlay::lock;
use crate::overlay::{Overlay, Snapshot};

/// The file name of the audit log in the store.
pub const FILE: &str = "audit.jsonl";

/// The audit log of one store.
#[derive(Debug)]
pub struct Audit {
    path: PathBuf,
    /// Serializes appends, so lines never interleave.
    lock: Mutex<()>,
}

impl Audit {
    /// The audit log in `store` (created on the first event).
    pub fn new(store: &Path) -> Audit {
        Audit {
            path: store.join(FILE),
            lock: Mutex::new(()),
        }
    }

    /// Appends `event`, stamped with the current time.
    pub fn record(&self, mut event: Event) -> io::Result<()> {
        event.created_ns = now_ns();
        let mut line = serde_json::to_vec(&event).map_err(io::Error::other)?;
        line.push(b'\n');
        let _guard = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&self.path)?;
        // A line torn by a crash must not swallow this one.
        let len = f.metadata()?.len();
        let mut last = [b'\n'];
        if len > 0 {
            std::os::unix::fs::FileExt::read_exact_at(&f, &mut last, len - 1)?;
        }
        if last[0] != b'\n' {
            line.insert(0, b'\n');
        }
        // One write of the whole line: with O_APPEND it lands after every earlier line.
        f.write_all(&line)
    }

    /// Every event, oldest first; lines that do not parse (a torn last line) are skipped.
    pub fn events(&self) -> io::Result<Vec<Event>> {
        let f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for line in io::BufReader::new(f).lines() {
            if let Ok(event) = serde_json::from_str::<Event>(&line?) {
                out.push(event);
            }
        }
        Ok(out)
    }
}

/// Nanoseconds since the Unix epoch.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// `ns` since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub fn utc(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The timeline for `log`: checkpoint-log rows and audit events, newest first.
///
/// A row gets `time`, `restorable` (it holds a state of the current transaction), and
/// `changes`: the diffstat (`added`, `modified`, `deleted`) from its state to the next
/// restorable one, that is for an `exec` row what its command changed (the `rollback` row after a
/// rolled-back command holds the state it replaced). The newest state has no `changes`
/// (`diff` shows them). An `exec` row takes its event's verdict, duration and rollback.
/// Events whose row is gone (pruned by `gc`) or never existed (a refusal) are entries of their
/// own, with `id` null.
pub fn log(daemon: &Daemon) -> Result<Vec<LogEntry>, Error> {
    let ov = lock(&daemon.overlay);
    let rows = ov.log().map_err(failure)?;
    let epoch = crate::txn::epoch(&*ov).map_err(failure)?;
    let mut events: BTreeMap<u64, Event> = BTreeMap::new();
    let mut standalone = Vec::new();
    for e in daemon
        .audit
        .events()
        .map_err(|e| Error::io("audit log", &e))?
    {
        match e.audit.checkpoint {
            Some(id) if e.kind == "exec" && rows.iter().any(|r| r.id == id) => {
                events.insert(id, e);
            }
            _ => standalone.push(e),
        }
    }
    let stats = step_stats(&ov, &rows, epoch);
    drop(ov);
    let mut out: Vec<LogEntry> = Vec::new();
    for row in rows {
        out.push(LogEntry {
            id: Some(row.id),
            time: utc(row.created_ns),
            restorable: !row.snapshot.is_empty() && row.epoch == epoch,
            changes: stats.get(&row.id).copied(),
            audit: events.remove(&row.id).map(|e| e.audit).unwrap_or_default(),
            kind: row.kind,
            created_ns: row.created_ns,
            message: row.message,
            command: row.command,
            exit_code: row.exit_code,
            snapshot: Some(row.snapshot),
            entries: Some(row.entries),
            epoch: Some(row.epoch),
        });
    }
    for e in standalone {
        out.push(LogEntry {
            id: None,
            time: utc(e.created_ns),
            audit: e.audit,
            kind: e.kind,
            created_ns: e.created_ns,
            message: String::new(),
            command: e.command,
            exit_code: e.exit_code,
            restorable: false,
            ..LogEntry::default()
        });
    }
    out.sort_by_key(|e| std::cmp::Reverse((e.created_ns, e.id.unwrap_or(0))));
    Ok(out)
}

/// How many of the newest restorable states get a diffstat in `log` (older steps show none).
pub const STAT_STATES: usize = 100;

/// The diffstat of each restorable row's step: from its state to the next restorable one.
fn step_stats(
    ov: &Overlay,
    rows: &[crate::meta::LogRow],
    epoch: u64,
) -> BTreeMap<u64, reply::Stat> {
    let mut states: Vec<u64> = rows
        .iter()
        .filter(|r| !r.snapshot.is_empty() && r.epoch == epoch)
        .map(|r| r.id)
        .collect();
    states.sort_unstable();
    // Each state is a snapshot to load: bound the work to the newest ones.
    let skip = states.len().saturating_sub(STAT_STATES);
    states.drain(..skip);
    let load = |id: u64| crate::txn::load(ov, id).ok();
    let mut out = BTreeMap::new();
    let mut prev: Option<(u64, Snapshot)> = None;
    for id in states {
        let Some(snap) = load(id) else {
            prev = None;
            continue;
        };
        if let Some((pid, psnap)) = &prev {
            let mut n = reply::Stat::default();
            for (_, change) in
                super::range::changes_between(psnap, &snap, |p| super::range::lower_has(ov, p))
            {
                match change {
                    reply::ChangeKind::Added => n.added += 1,
                    reply::ChangeKind::Deleted => n.deleted += 1,
                    _ => n.modified += 1,
                }
            }
            out.insert(*pid, n);
        }
        prev = Some((id, snap));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400 * 1_000_000_000), "2000-02-29T00:00:00Z");
        assert_eq!(
            utc(1_764_892_800 * 1_000_000_000 + 45_296 * 1_000_000_000),
            "2025-12-05T12:34:56Z"
        );
    }

    #[test]
    fn events_survive_a_torn_line_and_keep_order() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let audit = Audit::new(tmp.path());
        assert!(audit.events().expect("read").is_empty());
        for cmd in ["a", "b"] {
            audit
                .record(Event {
                    kind: "exec".into(),
                    command: Some(cmd.into()),
                    ..Event::default()
                })
                .expect("record");
        }
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(tmp.path().join(FILE))
            .expect("open");
        f.write_all(b"{\"kind\":\"ex").expect("tear");
        audit
            .record(Event {
                kind: "exec".into(),
                command: Some("c".into()),
                ..Event::default()
            })
            .expect("record after a torn line");
        let got: Vec<_> = audit
            .events()
            .expect("read")
            .into_iter()
            .map(|e| e.command.unwrap_or_default())
            .collect();
        assert_eq!(got, ["a", "b", "c"]);
    }
}
