//! The store's SQLite database: the live overlay, checkpoints, the commit log and the journal.
//!
//! Only this module speaks SQL. It stores the overlay's rows as opaque bodies (the overlay
//! owns their encoding), so a schema change of the overlay never needs a migration here.
//!
//! Durability: the database runs in WAL mode with `synchronous=NORMAL`, so every transaction
//! survives a crash of the daemon process (the WAL is in the OS page cache) and costs no
//! fsync. What must survive a power loss (a journal state change, `fsync` through the view)
//! goes through [`Db::barrier`] or the journal calls, which commit with `synchronous=FULL`
//! and so fsync the WAL with everything committed before it.
//!
//! Deliberately not here: deciding what a row means, and blobs (see `store`).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

/// Identifies this program's databases (`PRAGMA application_id`), so a foreign file is refused.
const APPLICATION_ID: i32 = 0x4654_5342; // "FTSB"
/// The schema this code writes; older ones are migrated on open.
const SCHEMA_VERSION: i32 = 1;

/// Errors of the metadata database.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("database {path}: {source}")]
    Sql {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{path} is not an ftsb-fs store database")]
    Foreign { path: PathBuf },
    #[error(
        "store database {path} has schema {found}, newer than this ftsb-fs understands ({SCHEMA_VERSION})"
    )]
    TooNew { path: PathBuf, found: i32 },
    #[error("store database {path} failed its integrity check: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error("store belongs to workspace {found}, not {wanted}")]
    OtherWorkspace { found: PathBuf, wanted: PathBuf },
}

impl MetaError {
    /// Whether SQLite failed because the disk (or its quota) is full.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, MetaError::Sql { source: rusqlite::Error::SqliteFailure(f, _), .. }
            if f.code == rusqlite::ErrorCode::DiskFull)
    }
}

/// A row of the live overlay's inode table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    pub ino: u64,
    pub body: Vec<u8>,
}

/// A row of the live overlay's directory entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DentryRow {
    pub dir: u64,
    pub name: Vec<u8>,
    pub body: Vec<u8>,
}

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

/// An open store database.
#[derive(Debug)]
pub struct Db {
    conn: Connection,
    path: PathBuf,
}

impl Db {
    /// Opens or creates the database at `path` for `workspace`. Refuses a file that is not
    /// ours, one that fails `quick_check`, and one that belongs to another workspace.
    pub fn open(path: &Path, workspace: &Path) -> Result<Db, MetaError> {
        let db = Db::open_existing(path)?;
        match db.kv_get("workspace")? {
            None => db.kv_set("workspace", &workspace.to_string_lossy())?,
            Some(found) if Path::new(&found) != workspace => {
                return Err(MetaError::OtherWorkspace {
                    found: found.into(),
                    wanted: workspace.to_owned(),
                });
            }
            Some(_) => {}
        }
        Ok(db)
    }

    /// Opens a database without binding it to a workspace (for `fsck` and `recover`).
    pub fn open_existing(path: &Path) -> Result<Db, MetaError> {
        let sql = |source| MetaError::Sql {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(sql)?;
        let db = Db {
            conn,
            path: path.to_owned(),
        };
        let app: i32 = db
            .conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _)
                    if f.code == rusqlite::ErrorCode::NotADatabase =>
                {
                    MetaError::Foreign {
                        path: path.to_owned(),
                    }
                }
                e => sql(e),
            })?;
        let version: i32 = db
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sql)?;
        let tables: i64 = db
            .conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(sql)?;
        if app != APPLICATION_ID && (app != 0 || tables != 0) {
            return Err(MetaError::Foreign {
                path: path.to_owned(),
            });
        }
        if version > SCHEMA_VERSION {
            return Err(MetaError::TooNew {
                path: path.to_owned(),
                found: version,
            });
        }
        db.conn
            .execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF;",
            )
            .map_err(sql)?;
        if tables != 0 {
            let problems = db.integrity_problems()?;
            if !problems.is_empty() {
                return Err(MetaError::Corrupt {
                    path: path.to_owned(),
                    detail: problems.join("; "),
                });
            }
        }
        db.migrate(version)?;
        Ok(db)
    }

    fn sql(&self) -> impl FnOnce(rusqlite::Error) -> MetaError + '_ {
        move |source| MetaError::Sql {
            path: self.path.clone(),
            source,
        }
    }

    fn migrate(&self, from: i32) -> Result<(), MetaError> {
        if from < 1 {
            self.conn
                .execute_batch(&format!(
                    "BEGIN;
                     CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
                     CREATE TABLE node (ino INTEGER PRIMARY KEY, body BLOB NOT NULL);
                     CREATE TABLE dentry (dir INTEGER NOT NULL, name BLOB NOT NULL, body BLOB NOT NULL,
                                          PRIMARY KEY (dir, name)) WITHOUT ROWID;
                     CREATE TABLE log (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, created_ns INTEGER NOT NULL,
                                       message TEXT NOT NULL, command TEXT, exit_code INTEGER,
                                       snapshot TEXT NOT NULL, entries INTEGER NOT NULL, epoch INTEGER NOT NULL);
                     CREATE TABLE journal (id INTEGER PRIMARY KEY, state TEXT NOT NULL, body BLOB NOT NULL);
                     PRAGMA application_id={APPLICATION_ID};
                     PRAGMA user_version={SCHEMA_VERSION};
                     COMMIT;"
                ))
                .map_err(self.sql())?;
        }
        Ok(())
    }

    /// SQLite's `quick_check` findings; empty when the database is sound.
    pub fn integrity_problems(&self) -> Result<Vec<String>, MetaError> {
        let mut stmt = self
            .conn
            .prepare("PRAGMA quick_check")
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(self.sql())?;
        let mut out = Vec::new();
        for row in rows {
            let line = row.map_err(self.sql())?;
            if line != "ok" {
                out.push(line);
            }
        }
        Ok(out)
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads a value of the key-value table.
    pub fn kv_get(&self, key: &str) -> Result<Option<String>, MetaError> {
        self.conn
            .query_row("SELECT value FROM kv WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(self.sql())
    }

    /// Writes a value of the key-value table.
    pub fn kv_set(&self, key: &str, value: &str) -> Result<(), MetaError> {
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO kv (key, value) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![key, value]))
            .map(drop)
            .map_err(self.sql())
    }

    /// Deletes a key of the key-value table (nothing happens if it is not there).
    pub fn kv_del(&self, key: &str) -> Result<(), MetaError> {
        self.conn
            .prepare_cached("DELETE FROM kv WHERE key = ?1")
            .and_then(|mut s| s.execute([key]))
            .map(drop)
            .map_err(self.sql())
    }

    /// Runs `f` inside one SQLite transaction: all of its writes land together or not at all.
    pub fn transaction<T, E: From<MetaError>>(
        &self,
        f: impl FnOnce(&Db) -> Result<T, E>,
    ) -> Result<T, E> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(self.sql())?;
        match f(self) {
            Ok(v) => {
                self.conn.execute_batch("COMMIT").map_err(self.sql())?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Makes everything committed so far survive a power loss (fsyncs the WAL).
    ///
    /// The barrier transaction must really change a page: SQLite skips rewriting a cell whose
    /// content is unchanged, and a commit that wrote no frame syncs nothing. So it bumps a
    /// counter rather than rewriting a constant.
    pub fn barrier(&self) -> Result<(), MetaError> {
        self.conn
            .execute_batch(
                "PRAGMA synchronous=FULL;
                 INSERT INTO kv (key, value) VALUES ('barrier', '1')
                     ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1;
                 PRAGMA synchronous=NORMAL;",
            )
            .map_err(self.sql())
    }

    /// The whole live overlay.
    pub fn load_overlay(&self) -> Result<(Vec<NodeRow>, Vec<DentryRow>), MetaError> {
        let mut stmt = self
            .conn
            .prepare("SELECT ino, body FROM node")
            .map_err(self.sql())?;
        let nodes = stmt
            .query_map([], |r| {
                Ok(NodeRow {
                    ino: r.get::<_, i64>(0)? as u64,
                    body: r.get(1)?,
                })
            })
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(self.sql())?;
        let mut stmt = self
            .conn
            .prepare("SELECT dir, name, body FROM dentry")
            .map_err(self.sql())?;
        let dentries = stmt
            .query_map([], |r| {
                Ok(DentryRow {
                    dir: r.get::<_, i64>(0)? as u64,
                    name: r.get(1)?,
                    body: r.get(2)?,
                })
            })
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(self.sql())?;
        Ok((nodes, dentries))
    }

    /// Inserts or replaces one inode row.
    pub fn put_node(&self, ino: u64, body: &[u8]) -> Result<(), MetaError> {
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO node (ino, body) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![ino as i64, body]))
            .map(drop)
            .map_err(self.sql())
    }

    /// Deletes one inode row.
    pub fn del_node(&self, ino: u64) -> Result<(), MetaError> {
        self.conn
            .prepare_cached("DELETE FROM node WHERE ino = ?1")
            .and_then(|mut s| s.execute(params![ino as i64]))
            .map(drop)
            .map_err(self.sql())
    }

    /// Inserts or replaces one directory entry.
    pub fn put_dentry(&self, dir: u64, name: &[u8], body: &[u8]) -> Result<(), MetaError> {
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO dentry (dir, name, body) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![dir as i64, name, body]))
            .map(drop)
            .map_err(self.sql())
    }

    /// Deletes one directory entry.
    pub fn del_dentry(&self, dir: u64, name: &[u8]) -> Result<(), MetaError> {
        self.conn
            .prepare_cached("DELETE FROM dentry WHERE dir = ?1 AND name = ?2")
            .and_then(|mut s| s.execute(params![dir as i64, name]))
            .map(drop)
            .map_err(self.sql())
    }

    /// Deletes every entry of directory `dir`.
    pub fn del_dentries_of(&self, dir: u64) -> Result<(), MetaError> {
        self.conn
            .prepare_cached("DELETE FROM dentry WHERE dir = ?1")
            .and_then(|mut s| s.execute(params![dir as i64]))
            .map(drop)
            .map_err(self.sql())
    }

    /// Replaces the whole live overlay, in one transaction.
    pub fn replace_overlay(
        &self,
        nodes: &[NodeRow],
        dentries: &[DentryRow],
    ) -> Result<(), MetaError> {
        self.transaction(|db| {
            db.conn
                .execute_batch("DELETE FROM node; DELETE FROM dentry;")
                .map_err(db.sql())?;
            for n in nodes {
                db.put_node(n.ino, &n.body)?;
            }
            for d in dentries {
                db.put_dentry(d.dir, &d.name, &d.body)?;
            }
            Ok::<_, MetaError>(())
        })
    }

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

#[cfg(test)]
mod tests;
