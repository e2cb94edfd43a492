//! The live overlay's tables (`node`, `dentry`): loading them with the operation log's
//! records applied, recording one operation's rows, folding the log into the tables, and
//! replacing the whole overlay (a new log generation).
//!
//! The bodies are opaque: the overlay owns their encoding.

use std::collections::BTreeMap;

use rusqlite::params;

use super::oplog::{Folded, Row};
use super::{Db, FOLD_AT, FOLDED_KEY, MetaError, keys};

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

impl Db {
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
    pub(super) fn put_node(&self, ino: u64, body: &[u8]) -> Result<(), MetaError> {
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
}
