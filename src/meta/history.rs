//! The history tables: the log (checkpoints, commits, aborts, rollbacks, exec outcomes) and
//! the commit journal (one row per commit, its state and the plan `txn` encoded).

use rusqlite::{OptionalExtension, params};

use super::{Db, MetaError};

/// One entry of the log: a checkpoint, or the record of a commit, abort or rollback.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogRow {
    pub id: u64,
    /// `checkpoint`, `commit`, `abort`, `rollback` or `exec`.
    pub kind: String,
    pub created_ns: i64,
    pub message: String,
    pub command: Option<String>,
    pub exit_code: Option<i32>,
    /// The blob holding the overlay's state at this point (empty for a commit record).
    pub snapshot: String,
    pub entries: u64,
    /// Commits before this entry: checkpoints can only be restored within their epoch.
    pub epoch: u64,
}

/// The state of a commit's journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum JournalState {
    /// The plan is durable; the workspace may be partly changed.
    Applying,
    /// Every step is durable in the workspace; cleanup may remain.
    Applied,
    /// Finished: the workspace holds the commit and the overlay was cleared.
    Done,
    /// Undone by recovery: the workspace is as before the commit.
    Undone,
}

impl JournalState {
    fn as_str(self) -> &'static str {
        match self {
            JournalState::Applying => "applying",
            JournalState::Applied => "applied",
            JournalState::Done => "done",
            JournalState::Undone => "undone",
        }
    }

    fn parse(s: &str) -> Option<JournalState> {
        Some(match s {
            "applying" => JournalState::Applying,
            "applied" => JournalState::Applied,
            "done" => JournalState::Done,
            "undone" => JournalState::Undone,
            _ => return None,
        })
    }
}

/// A commit journal: its id, state and the plan (encoded by `txn`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRow {
    pub id: u64,
    pub state: JournalState,
    pub body: Vec<u8>,
}

impl Db {
    /// Appends a log entry and returns its id.
    pub fn add_log(&self, row: &LogRow) -> Result<u64, MetaError> {
        self.conn
            .prepare_cached(
                "INSERT INTO log (kind, created_ns, message, command, exit_code, snapshot, entries, epoch)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    row.kind,
                    row.created_ns,
                    row.message,
                    row.command,
                    row.exit_code,
                    row.snapshot,
                    row.entries as i64,
                    row.epoch as i64
                ])
            })
            .map_err(self.sql())?;
        Ok(self.conn.last_insert_rowid() as u64)
    }

    /// Sets the command and exit code of log entry `id` (for `exec`).
    pub fn set_log_outcome(
        &self,
        id: u64,
        command: &str,
        exit_code: Option<i32>,
    ) -> Result<(), MetaError> {
        self.conn
            .execute(
                "UPDATE log SET command = ?2, exit_code = ?3 WHERE id = ?1",
                params![id as i64, command, exit_code],
            )
            .map(drop)
            .map_err(self.sql())
    }

    /// The whole log, newest first.
    pub fn log(&self) -> Result<Vec<LogRow>, MetaError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, kind, created_ns, message, command, exit_code, snapshot, entries, epoch
                 FROM log ORDER BY id DESC",
            )
            .map_err(self.sql())?;
        stmt.query_map([], |r| {
            Ok(LogRow {
                id: r.get::<_, i64>(0)? as u64,
                kind: r.get(1)?,
                created_ns: r.get(2)?,
                message: r.get(3)?,
                command: r.get(4)?,
                exit_code: r.get(5)?,
                snapshot: r.get(6)?,
                entries: r.get::<_, i64>(7)? as u64,
                epoch: r.get::<_, i64>(8)? as u64,
            })
        })
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(self.sql())
    }

    /// Log entry `id`, if it exists.
    pub fn log_entry(&self, id: u64) -> Result<Option<LogRow>, MetaError> {
        Ok(self.log()?.into_iter().find(|r| r.id == id))
    }

    /// Deletes the restorable states (checkpoints, and the states abort and rollback kept)
    /// of epochs other than `epoch`, and those created before `created_before_ns`; commit
    /// records stay. Returns how many rows went.
    pub fn prune_log(&self, epoch: u64, created_before_ns: i64) -> Result<usize, MetaError> {
        self.conn
            .execute(
                "DELETE FROM log WHERE snapshot != '' AND (epoch != ?1 OR created_ns < ?2)",
                params![epoch as i64, created_before_ns],
            )
            .map_err(self.sql())
    }

    /// Writes a new journal in state [`JournalState::Applying`], durably (fsynced before return).
    pub fn journal_begin(&self, body: &[u8]) -> Result<u64, MetaError> {
        self.conn
            .execute(
                "INSERT INTO journal (state, body) VALUES (?1, ?2)",
                params![JournalState::Applying.as_str(), body],
            )
            .map_err(self.sql())?;
        let id = self.conn.last_insert_rowid() as u64;
        self.barrier()?;
        Ok(id)
    }

    /// Moves journal `id` to `state`, durably (fsynced before return).
    pub fn journal_set_state(&self, id: u64, state: JournalState) -> Result<(), MetaError> {
        self.conn
            .execute(
                "UPDATE journal SET state = ?2 WHERE id = ?1",
                params![id as i64, state.as_str()],
            )
            .map_err(self.sql())?;
        self.barrier()
    }

    /// The newest journal that is neither done nor undone: an interrupted commit.
    pub fn journal_open(&self) -> Result<Option<JournalRow>, MetaError> {
        let row = self
            .conn
            .query_row(
                "SELECT id, state, body FROM journal WHERE state IN ('applying', 'applied') ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, Vec<u8>>(2)?)),
            )
            .optional()
            .map_err(self.sql())?;
        Ok(row.and_then(|(id, state, body)| {
            JournalState::parse(&state).map(|state| JournalRow {
                id: id as u64,
                state,
                body,
            })
        }))
    }
}
