//! The store's SQLite database: the live overlay, checkpoints, the commit log and the journal.
//!
//! Only this module speaks SQL. It stores the overlay's rows as opaque bodies (the overlay
//! owns their encoding), so a schema change of the overlay never needs a migration here.
//!
//! The live overlay's row changes do not go through SQLite one operation at a time: each
//! operation appends one record to the operation log (`oplog.rs`), and the log is folded into
//! the tables in batches. The overlay is the tables plus the log; [`Db::load_overlay`] reads
//! both.
//!
//! Durability: the database runs in WAL mode with `synchronous=NORMAL`, so every transaction
//! survives a crash of the daemon process (the WAL is in the OS page cache) and costs no
//! fsync; so does every log record. What must survive a power loss (a journal state change,
//! `fsync` through the view) goes through [`Db::barrier`] or the journal calls, which fsync
//! the log and commit with `synchronous=FULL`, fsyncing the WAL with everything committed
//! before it.
//!
//! Deliberately not here: deciding what a row means, and blobs (see `store`).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

pub mod keys;
mod oplog;

pub use oplog::Row;
use oplog::{Folded, OpLog};

/// Identifies this program's databases (`PRAGMA application_id`), so a foreign file is refused.
const APPLICATION_ID: i32 = 0x4654_5342; // "FTSB"
/// The schema this code writes; older ones are migrated on open.
const SCHEMA_VERSION: i32 = 1;
/// The operation log is folded into the tables once it holds this many bytes.
const FOLD_AT: u64 = 8 << 20;
/// The `kv` key recording which log records the tables hold ([`Folded`]).
const FOLDED_KEY: &str = keys::OPLOG_FOLDED;

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
    #[error("operation log {path}: {source}")]
    Log {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl MetaError {
    /// Whether SQLite failed because the disk (or its quota) is full.
    pub fn is_disk_full(&self) -> bool {
        match self {
            MetaError::Sql {
                source: rusqlite::Error::SqliteFailure(f, _),
                ..
            } => f.code == rusqlite::ErrorCode::DiskFull,
            MetaError::Log { source, .. } => {
                matches!(source.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
            }
            _ => false,
        }
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

/// The live overlay as stored: the tables with the operation log's records applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverlayRows {
    pub nodes: Vec<NodeRow>,
    pub dentries: Vec<DentryRow>,
    /// The next inode number the overlay may hand out, if one was recorded.
    pub next_ino: Option<u64>,
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
    log: RefCell<OpLog>,
}

impl Db {
    /// Opens or creates the database at `path` for `workspace`. Refuses a file that is not
    /// ours, one that fails `quick_check`, and one that belongs to another workspace.
    pub fn open(path: &Path, workspace: &Path) -> Result<Db, MetaError> {
        let db = Db::open_existing(path)?;
        match db.kv_get(keys::WORKSPACE)? {
            None => db.kv_set(keys::WORKSPACE, &workspace.to_string_lossy())?,
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
        let mut db = Db {
            conn,
            path: path.to_owned(),
            // Read once the tables say where the log continues them (below).
            log: RefCell::new(OpLog::unread(&log_path(path))),
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
        let folded = db.folded()?;
        db.log = RefCell::new(db.open_log(folded, drop)?);
        Ok(db)
    }

    fn log_err(&self) -> impl FnOnce(std::io::Error) -> MetaError + '_ {
        move |source| MetaError::Log {
            path: log_path(&self.path),
            source,
        }
    }

    /// Which log records the tables hold.
    fn folded(&self) -> Result<Folded, MetaError> {
        Ok(self
            .kv_get(FOLDED_KEY)?
            .and_then(|v| Folded::from_kv(&v))
            .unwrap_or_default())
    }

    /// The operation log on top of the tables at `folded`; `each` gets its rows in order.
    fn open_log(&self, folded: Folded, each: impl FnMut(Row)) -> Result<OpLog, MetaError> {
        OpLog::open(&log_path(&self.path), folded, each).map_err(self.log_err())
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

    /// Makes everything committed or recorded so far survive a power loss (fsyncs the
    /// operation log and the WAL).
    ///
    /// The barrier transaction must really change a page: SQLite skips rewriting a cell whose
    /// content is unchanged, and a commit that wrote no frame syncs nothing. So it bumps a
    /// counter rather than rewriting a constant.
    pub fn barrier(&self) -> Result<(), MetaError> {
        self.log.borrow_mut().sync().map_err(self.log_err())?;
        self.conn
            .execute_batch(
                "PRAGMA synchronous=FULL;
                 INSERT INTO kv (key, value) VALUES ('barrier', '1')
                     ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1;
                 PRAGMA synchronous=NORMAL;",
            )
            .map_err(self.sql())
    }

    /// The whole live overlay: the tables, with the operation log's records applied.
    pub fn load_overlay(&self) -> Result<OverlayRows, MetaError> {
        let mut nodes: BTreeMap<u64, Vec<u8>> = self
            .conn
            .prepare("SELECT ino, body FROM node")
            .and_then(|mut stmt| {
                stmt.query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))?
                    .collect()
            })
            .map_err(self.sql())?;
        let mut dentries: BTreeMap<(u64, Vec<u8>), Vec<u8>> = self
            .conn
            .prepare("SELECT dir, name, body FROM dentry")
            .and_then(|mut stmt| {
                stmt.query_map([], |r| {
                    Ok(((r.get::<_, i64>(0)? as u64, r.get(1)?), r.get(2)?))
                })?
                .collect()
            })
            .map_err(self.sql())?;
        let mut next_ino = self.kv_get(keys::NEXT_INO)?.and_then(|s| s.parse().ok());
        self.open_log(self.folded()?, |row| match row {
            Row::Node { ino, body: Some(b) } => {
                nodes.insert(ino, b);
            }
            Row::Node { ino, body: None } => {
                nodes.remove(&ino);
                let doomed: Vec<_> = dentries
                    .range((ino, Vec::new())..)
                    .take_while(|((dir, _), _)| *dir == ino)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in doomed {
                    dentries.remove(&k);
                }
            }
            Row::Dentry {
                dir,
                name,
                body: Some(b),
            } => {
                dentries.insert((dir, name), b);
            }
            Row::Dentry {
                dir,
                name,
                body: None,
            } => {
                dentries.remove(&(dir, name));
            }
            Row::NextIno(n) => next_ino = Some(n),
        })?;
        Ok(OverlayRows {
            nodes: nodes
                .into_iter()
                .map(|(ino, body)| NodeRow { ino, body })
                .collect(),
            dentries: dentries
                .into_iter()
                .map(|((dir, name), body)| DentryRow { dir, name, body })
                .collect(),
            next_ino,
        })
    }

    /// Records one operation's row changes: one append to the operation log. On failure
    /// nothing of them is recorded. Folds the log into the tables when it has grown large.
    pub fn record(&self, rows: &[Row]) -> Result<(), MetaError> {
        let len = {
            let mut log = self.log.borrow_mut();
            log.append(rows).map_err(self.log_err())?;
            log.bytes()
        };
        if len >= FOLD_AT
            && let Err(e) = self.fold()
        {
            // The records stay in the log, which remains the truth; the next append retries.
            tracing::warn!("folding the operation log into the database failed: {e}");
        }
        Ok(())
    }

    /// Applies the operation log to the tables, durably, and empties it.
    pub fn fold(&self) -> Result<(), MetaError> {
        let folded = self.folded()?;
        let last = self.transaction(|db| {
            let mut failed = None;
            let log = db.open_log(folded, |row| {
                if failed.is_none() {
                    failed = db.apply(&row).err();
                }
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
            db.kv_set(FOLDED_KEY, &log.last().to_kv())?;
            Ok(log.last())
        })?;
        // The log may only lose records the tables hold durably.
        self.barrier()?;
        self.log.borrow_mut().reset(last).map_err(self.log_err())
    }

    fn apply(&self, row: &Row) -> Result<(), MetaError> {
        match row {
            Row::Node { ino, body: Some(b) } => self.put_node(*ino, b),
            Row::Node { ino, body: None } => {
                self.del_node(*ino)?;
                self.del_dentries_of(*ino)
            }
            Row::Dentry {
                dir,
                name,
                body: Some(b),
            } => self.put_dentry(*dir, name, b),
            Row::Dentry {
                dir,
                name,
                body: None,
            } => self.del_dentry(*dir, name),
            Row::NextIno(n) => self.kv_set(keys::NEXT_INO, &n.to_string()),
        }
    }

    /// Inserts or replaces one inode row.
    fn put_node(&self, ino: u64, body: &[u8]) -> Result<(), MetaError> {
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO node (ino, body) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![ino as i64, body]))
            .map(drop)
            .map_err(self.sql())
    }

    /// Deletes one inode row.
    fn del_node(&self, ino: u64) -> Result<(), MetaError> {
        self.conn
            .prepare_cached("DELETE FROM node WHERE ino = ?1")
            .and_then(|mut s| s.execute(params![ino as i64]))
            .map(drop)
            .map_err(self.sql())
    }

    /// Inserts or replaces one directory entry.
    fn put_dentry(&self, dir: u64, name: &[u8], body: &[u8]) -> Result<(), MetaError> {
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO dentry (dir, name, body) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![dir as i64, name, body]))
            .map(drop)
            .map_err(self.sql())
    }

    /// Deletes one directory entry.
    fn del_dentry(&self, dir: u64, name: &[u8]) -> Result<(), MetaError> {
        self.conn
            .prepare_cached("DELETE FROM dentry WHERE dir = ?1 AND name = ?2")
            .and_then(|mut s| s.execute(params![dir as i64, name]))
            .map(drop)
            .map_err(self.sql())
    }

    /// Deletes every entry of directory `dir`.
    fn del_dentries_of(&self, dir: u64) -> Result<(), MetaError> {
        self.conn
            .prepare_cached("DELETE FROM dentry WHERE dir = ?1")
            .and_then(|mut s| s.execute(params![dir as i64]))
            .map(drop)
            .map_err(self.sql())
    }

    /// Replaces the whole live overlay, in one transaction, and starts a new generation of
    /// the operation log (so no earlier record can ever apply on top of these rows).
    pub fn replace_overlay(
        &self,
        nodes: &[NodeRow],
        dentries: &[DentryRow],
    ) -> Result<(), MetaError> {
        let next = Folded {
            generation: self.log.borrow().last().generation + 1,
            seq: 0,
        };
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
            db.kv_set(FOLDED_KEY, &next.to_kv())
        })?;
        self.log.borrow_mut().reset(next).map_err(self.log_err())
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

/// The operation log beside the database file `db`.
fn log_path(db: &Path) -> PathBuf {
    db.with_extension("oplog")
}

#[cfg(test)]
mod tests;
