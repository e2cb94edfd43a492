//! Transactions over the overlay: checkpoints, rollback, abort and commit.

mod checkpoint;
mod fsck;

pub use checkpoint::{CheckpointError, abort, checkpoint, epoch, load, rollback};
pub use fsck::{FsckReport, fsck};

/// Finishes or undoes an interrupted commit in the store of `workspace`.
pub fn recover_store(
    _workspace: &std::path::Path,
    store: &std::path::Path,
) -> Result<String, crate::meta::MetaError> {
    let db = crate::meta::Db::open_existing(&store.join("meta.db"))?;
    Ok(match db.journal_open()? {
        None => "nothing to recover".to_owned(),
        Some(j) => format!("commit journal {} is {:?}", j.id, j.state),
    })
}
