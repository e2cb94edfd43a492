//! `fsck`: checks a store without a daemon: database integrity, every blob against its hash,
//! every reference from the overlay and the log to a blob, and the journal's state.

use std::collections::HashSet;
use std::path::Path;

use serde::Serialize;

use crate::meta::Db;
use crate::overlay::{Data, Node, Snapshot};
use crate::store::{BlobId, BlobStore, StoreError};

/// What `fsck` found.
#[derive(Debug, Serialize)]
pub struct FsckReport {
    pub blobs: usize,
    pub problems: Vec<String>,
}

/// Checks the store at `store` of workspace `workspace`.
pub fn fsck(workspace: &Path, store: &Path) -> Result<FsckReport, crate::meta::MetaError> {
    let mut problems = Vec::new();
    let db = Db::open_existing(&store.join("meta.db"))?;
    problems.extend(
        db.integrity_problems()?
            .into_iter()
            .map(|p| format!("database: {p}")),
    );
    if let Some(found) = db.kv_get(crate::meta::keys::WORKSPACE)?
        && Path::new(&found) != workspace
    {
        problems.push(format!(
            "store belongs to workspace {found}, not {}",
            workspace.display()
        ));
    }
    let mut blobs = 0;
    match BlobStore::open(&store.join("blobs")) {
        Err(e) => problems.push(format!("blobs: {e}")),
        Ok(bs) => {
            let ids = bs.list().unwrap_or_default();
            blobs = ids.len();
            let stored: HashSet<BlobId> = ids.iter().copied().collect();
            for id in &ids {
                if let Err(e) = bs.open_verified(*id) {
                    problems.push(e.to_string());
                }
            }
            let check_ref = |problems: &mut Vec<String>, what: String, id: BlobId| {
                if !stored.contains(&id) {
                    problems.push(format!("{what} references blob {id}, which is missing"));
                }
            };
            let nodes = db.load_overlay()?.nodes;
            for row in nodes {
                match serde_json::from_slice::<Node>(&row.body) {
                    Ok(n) => {
                        if let Data::Blob(id) = n.data {
                            check_ref(&mut problems, format!("overlay inode {}", row.ino), id);
                        }
                    }
                    Err(e) => {
                        problems.push(format!("overlay inode {} is unreadable: {e}", row.ino))
                    }
                }
            }
            for entry in db.log()? {
                if entry.snapshot.is_empty() {
                    continue;
                }
                match entry.snapshot.parse::<BlobId>() {
                    Ok(id) => match bs.read_verified(id) {
                        Ok(bytes) => match serde_json::from_slice::<Snapshot>(&bytes) {
                            Ok(snap) => {
                                for (ino, n) in snap.nodes {
                                    if let Data::Blob(b) = n.data {
                                        check_ref(
                                            &mut problems,
                                            format!("checkpoint {} inode {}", entry.id, ino.0),
                                            b,
                                        );
                                    }
                                }
                            }
                            Err(e) => problems.push(format!(
                                "checkpoint {} snapshot is unreadable: {e}",
                                entry.id
                            )),
                        },
                        Err(StoreError::Missing { .. }) => {
                            check_ref(&mut problems, format!("checkpoint {}", entry.id), id)
                        }
                        Err(e) => problems.push(format!("checkpoint {}: {e}", entry.id)),
                    },
                    Err(e) => problems.push(format!("checkpoint {}: {e}", entry.id)),
                }
            }
        }
    }
    if let Some(j) = db.journal_open()? {
        problems.push(format!(
            "commit journal {} is {:?}: run `ftsb-fs recover` or mount",
            j.id, j.state
        ));
    }
    Ok(FsckReport { blobs, problems })
}
