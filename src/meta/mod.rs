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
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

mod history;
pub mod keys;
mod oplog;
mod overlay;

pub use history::{JournalRow, JournalState, LogRow};
pub use oplog::Row;
use oplog::{Folded, OpLog};
pub use overlay::{DentryRow, NodeRow, OverlayRows};

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
}

/// The operation log beside the database file `db`.
fn log_path(db: &Path) -> PathBuf {
    db.with_extension("oplog")
}

#[cfg(test)]
mod tests;
