//! The daemon's answers: one type per request, produced by the daemon and read by the command
//! line, so a field that one side drops or renames is a compile error on the other.
//!
//! Each type serializes to exactly the JSON object that the command line prints for `--json`
//! (keys sorted, as `serde_json` prints maps): `docs/CLI.md` and `docs/SEMANTICS.md` describe
//! those shapes and tests pin them. Where the printed shape is not the answer itself (`status`
//! filters its changes, `diff` answers a range and the working state differently), the command
//! line maps explicitly.
//!
//! [`Kind`] and [`ChangeKind`] mirror the overlay's types of the same names on purpose:
//! `control` imports nothing else from the crate, so the wire format changes only when this
//! file does, and the daemon maps the overlay's values here one by one.
//!
//! | request | answer |
//! |---|---|
//! | `info` | [`Info`] |
//! | `status` | [`Status`] |
//! | `diff` | [`Diff`] |
//! | `commit` | [`Commit`] |
//! | `abort` | [`Aborted`] |
//! | `abort_paths` | [`AbortPaths`] |
//! | `checkpoint` | [`Checkpoint`] |
//! | `log` | `Vec<`[`LogEntry`]`>` |
//! | `rollback` | [`RolledBack`] |
//! | `gc` | [`Gc`] |
//! | `unmount` | [`Unmounted`] |
//! | `exec_begin` | [`ExecBegun`] |
//! | `exec_end` | [`ExecEnded`] |
//! | `run_begin` | [`RunBegun`] |
//! | `record` | [`Recorded`] |
//!
//! Longer than 500 lines on purpose: it is the whole wire format of the answers, one type per
//! request (the table above), and a fifth of it is the test that pins every type's JSON
//! shape; split, the table would point into several files for no gain.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where the workspace, the view and the store are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    pub workspace: PathBuf,
    pub view: PathBuf,
    pub store: PathBuf,
}

/// The state of a mount: its places, the overlay's size, the current checkpoint, the conflicts
/// and the changed paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub workspace: PathBuf,
    pub view: PathBuf,
    pub store: PathBuf,
    pub mounted: bool,
    /// Whether the kernel reads and writes working files itself (FUSE passthrough).
    pub passthrough: bool,
    /// Changed paths in the overlay.
    pub entries: u64,
    /// Bytes of the files the overlay holds.
    pub bytes: u64,
    /// The newest restorable checkpoint (0: none).
    pub checkpoint: u64,
    /// Commits so far.
    pub epoch: u64,
    /// Workspace paths changed outside the view since the overlay read them: commit refuses
    /// them unless `--force`, and `status` must show them.
    pub conflicts: Vec<Conflict>,
    /// The changes, a rename once (at its new path).
    pub changes: Vec<Change>,
    /// The `run` and `exec` sessions still running in the view, oldest first.
    #[serde(default)]
    pub sessions: Vec<Session>,
}

/// A live `run` or `exec` session: what still runs in the view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// `run` or `exec`.
    pub kind: String,
    /// The pid of its `run` or `exec` process.
    pub pid: i32,
    /// The agent's or the command's line.
    pub command: String,
    /// When it began, in seconds since the Unix epoch.
    pub since: u64,
    /// What holds its processes: `cgroup` or `subreaper`.
    pub containment: String,
}

/// A path where the workspace no longer matches what the overlay saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    pub path: String,
    pub reason: String,
}

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub path: String,
    pub change: ChangeKind,
    /// The type of what the view holds at `path` (none for a deletion).
    pub kind: Option<Kind>,
}

/// How a path of the view differs from the workspace (or a state from another).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Modified,
    /// Only metadata (mode, owner, times, xattrs) changed.
    Metadata,
    Deleted,
    /// Moved here from `from` (possibly also changed).
    Renamed {
        from: String,
    },
}

impl ChangeKind {
    /// The change in one word: `added`, `modified`, `metadata`, `deleted` or `renamed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Modified => "modified",
            ChangeKind::Metadata => "metadata",
            ChangeKind::Deleted => "deleted",
            ChangeKind::Renamed { .. } => "renamed",
        }
    }
}

/// The type of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    CharDev,
    BlockDev,
}

/// The answer to `diff`: the overlay's changes against the workspace, or (with `from`/`to`)
/// what differs between two states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Diff {
    Working(Vec<DiffEntry>),
    Range(Vec<RangeEntry>),
}

/// One change of the overlay with its patch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffEntry {
    #[serde(flatten)]
    pub change: Change,
    /// The raw name in base64, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_b64: Option<String>,
    /// The name quoted as git prints it.
    pub git_path: String,
    /// For a rename: the old name quoted as git prints it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_from: Option<String>,
    /// For a rename: how similar the contents are, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similarity: Option<usize>,
    #[serde(flatten)]
    pub sides: Sides,
    /// The change in git's extended patch format.
    pub diff: String,
}

/// What an entry held before and after: modes (six octal digits, as git), symlink targets,
/// and for files and symlinks the changed line counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insertions: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletions: Option<usize>,
}

/// One path that differs between two states (`added`, `deleted` or `modified`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeEntry {
    pub path: String,
    pub change: ChangeKind,
    #[serde(flatten)]
    pub sides: Sides,
    /// The patch, for files small enough to compare.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// The answer to `commit`: what would go (`dry_run`), or what went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Commit {
    DryRun {
        /// Always true.
        dry_run: bool,
        would_commit: Vec<Change>,
    },
    Done(CommitOutcome),
}

/// What a commit did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitOutcome {
    /// The commit journal's id.
    pub journal: u64,
    /// Changed paths published.
    pub changes: u64,
    /// Workspace steps applied.
    pub steps: u64,
    /// Bytes written.
    pub bytes: u64,
    /// For a partial commit, the changes that went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed: Option<Vec<Change>>,
}

/// The answer to `abort`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aborted {
    /// Always true.
    pub aborted: bool,
}

/// The answer to `abort PATH...`: what would be discarded (`dry_run`), or what was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AbortPaths {
    DryRun {
        /// Always true.
        dry_run: bool,
        would_abort: Vec<Change>,
    },
    Done {
        /// Always true.
        aborted: bool,
        discarded: Vec<Change>,
    },
}

/// The answer to `checkpoint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub checkpoint: u64,
}

/// One entry of the `log` timeline: a row of the checkpoint log (with the audit event of its
/// command merged in), or an audit event without a row (`id` none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogEntry {
    pub id: Option<u64>,
    /// `checkpoint`, `exec`, `refused`, `rollback`, `abort`, `commit`, `run`.
    pub kind: String,
    pub created_ns: i64,
    /// `created_ns` as `YYYY-MM-DDTHH:MM:SSZ` (UTC).
    pub time: String,
    pub message: String,
    pub command: Option<String>,
    pub exit_code: Option<i32>,
    /// Whether its state can be rolled back to.
    pub restorable: bool,
    /// A row's snapshot blob (empty for a commit record); none for an event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// A row's count of overlay entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
    /// A row's epoch (commits before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
    /// The diffstat of the step from this state to the next restorable one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<Stat>,
    #[serde(flatten)]
    pub audit: Audit,
}

/// What the audit log adds to a log entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audit {
    /// The checkpoint taken before the command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<u64>,
    /// The gate's decision: `allow`, `deny` or `ask`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// The rule that fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Why (the gate's reason, or what ended a session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back: Option<bool>,
    /// Accesses the kernel denied the command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denials: Vec<String>,
    /// Recorded through a `run` session's socket, that is by the agent's side.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_session: bool,
}

/// Paths added, modified and deleted by a step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stat {
    pub added: u64,
    pub modified: u64,
    pub deleted: u64,
}

/// The answer to `rollback`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolledBack {
    pub rolled_back_to: u64,
}

/// What `gc` removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gc {
    pub checkpoints: u64,
    pub blobs: u64,
}

/// The answer to `unmount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unmounted {
    /// Always true.
    pub unmounted: bool,
}

/// The answer to `exec_begin`: the checkpoint taken before the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecBegun {
    pub checkpoint: u64,
}

/// The answer to `run_begin`: the session's id in this daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunBegun {
    pub session: u64,
}

/// The answer to `exec_end`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecEnded {
    pub checkpoint: u64,
    pub rolled_back: bool,
    /// What the rollback covered: `all` (nobody else wrote since the checkpoint: the whole
    /// view went back), `paths` (only the command's own paths), `none` (kept).
    #[serde(default)]
    pub scope: RollbackScope,
    /// With scope `paths`: the paths returned to the checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverted: Option<Vec<String>>,
    /// Paths the command wrote that another command or the user also wrote since its
    /// checkpoint: left as they are.
    #[serde(default)]
    pub conflicts: Vec<String>,
}

/// What an `exec` rollback covered (see [`ExecEnded::scope`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackScope {
    /// Nothing was rolled back.
    #[default]
    None,
    /// The whole view went back to the checkpoint.
    All,
    /// Only the command's own paths went back.
    Paths,
}

/// The answer to `record`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// Always true.
    pub recorded: bool,
}

/// Every answer, as the daemon sends it: one variant per request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Reply {
    Info(Info),
    Status(Status),
    Diff(Diff),
    Commit(Commit),
    Aborted(Aborted),
    AbortPaths(AbortPaths),
    Checkpoint(Checkpoint),
    Log(Vec<LogEntry>),
    RolledBack(RolledBack),
    Gc(Gc),
    Unmounted(Unmounted),
    ExecBegun(ExecBegun),
    ExecEnded(ExecEnded),
    RunBegun(RunBegun),
    Recorded(Recorded),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(path: &str, change: ChangeKind, kind: Option<Kind>) -> Change {
        Change {
            path: path.into(),
            change,
            kind,
        }
    }

    /// The shapes the command line prints (and `docs/` describe) are the answers' own.
    #[test]
    fn answers_serialize_to_the_documented_shapes_and_read_back() {
        let renamed = change(
            "b",
            ChangeKind::Renamed { from: "a".into() },
            Some(Kind::File),
        );
        assert_eq!(
            serde_json::to_value(&renamed).expect("plain data"),
            json!({"path": "b", "change": {"renamed": {"from": "a"}}, "kind": "File"})
        );
        let gone = change("c", ChangeKind::Deleted, None);
        assert_eq!(
            serde_json::to_value(&gone).expect("plain data"),
            json!({"path": "c", "change": "deleted", "kind": null})
        );
        let entry = DiffEntry {
            change: renamed.clone(),
            path_b64: None,
            git_path: "b".into(),
            git_from: Some("a".into()),
            similarity: Some(100),
            sides: Sides {
                old_mode: Some("100644".into()),
                new_mode: Some("100644".into()),
                insertions: Some(0),
                deletions: Some(0),
                ..Sides::default()
            },
            diff: String::new(),
        };
        assert_eq!(
            serde_json::to_value(&entry).expect("plain data"),
            json!({"path": "b", "change": {"renamed": {"from": "a"}}, "kind": "File",
                "git_path": "b", "git_from": "a", "similarity": 100, "old_mode": "100644",
                "new_mode": "100644", "insertions": 0, "deletions": 0, "diff": ""})
        );
        let dry = Commit::DryRun {
            dry_run: true,
            would_commit: vec![gone.clone()],
        };
        let done = Commit::Done(CommitOutcome {
            journal: 3,
            changes: 1,
            steps: 2,
            bytes: 5,
            committed: None,
        });
        assert_eq!(
            serde_json::to_value(&done).expect("plain data"),
            json!({"journal": 3, "changes": 1, "steps": 2, "bytes": 5})
        );
        let event = LogEntry {
            id: None,
            kind: "refused".into(),
            created_ns: 1,
            time: "1970-01-01T00:00:00Z".into(),
            command: Some("rm -rf ~".into()),
            audit: Audit {
                verdict: Some("deny".into()),
                ..Audit::default()
            },
            ..LogEntry::default()
        };
        assert_eq!(
            serde_json::to_value(&event).expect("plain data"),
            json!({"id": null, "kind": "refused", "created_ns": 1,
                "time": "1970-01-01T00:00:00Z", "message": "", "command": "rm -rf ~",
                "exit_code": null, "restorable": false, "verdict": "deny"})
        );
        let back: Commit = serde_json::from_value(json!(dry)).expect("dry run");
        assert_eq!(back, dry);
        let back: Commit = serde_json::from_value(json!(done)).expect("done");
        assert_eq!(back, done);
        let back: DiffEntry = serde_json::from_value(json!(entry)).expect("entry");
        assert_eq!(back, entry);
        let back: LogEntry = serde_json::from_value(json!(event)).expect("event");
        assert_eq!(back, event);
        let range = Diff::Range(vec![RangeEntry {
            path: "x".into(),
            change: ChangeKind::Added,
            sides: Sides::default(),
            diff: None,
        }]);
        let back: Diff = serde_json::from_value(json!(range)).expect("range");
        assert_eq!(back, range);
    }
}
