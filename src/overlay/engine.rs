//! The overlay as the transaction engine's [`Host`]: what `txn` may ask of it.
//!
//! Owns nothing but the mapping of the engine's operations onto the overlay's own; this is
//! the one place where the overlay hands out its store and workspace reader, and only to
//! the engine, by the trait's terms.

use std::collections::HashSet;

use super::{Change, FsError, Ino, Invalidation, Lower, Overlay, Snapshot};
use crate::store::BlobId;
use crate::txn::{Host, Placement, Store, Unstored};

impl Host for Overlay {
    fn store(&self) -> Store<'_> {
        Store {
            db: &self.db,
            blobs: &self.blobs,
        }
    }

    fn workspace(&self) -> &Lower {
        &self.lower
    }

    fn seal(&mut self) -> Result<Snapshot, FsError> {
        Overlay::seal(self)
    }

    fn seal_for_commit(&mut self) -> Result<(Snapshot, Unstored), FsError> {
        Overlay::seal_for_commit(self)
    }

    fn peek(&self) -> Snapshot {
        Overlay::peek(self)
    }

    fn changes(&self) -> Result<Vec<Change>, FsError> {
        Overlay::changes(self)
    }

    fn size(&self) -> usize {
        self.node_count()
    }

    fn live_blobs(&self) -> Vec<BlobId> {
        Overlay::live_blobs(self)
    }

    fn flush(&mut self) -> Result<(), FsError> {
        Overlay::flush(self)
    }

    fn restore(&mut self, snap: &Snapshot) -> Result<Invalidation, FsError> {
        Overlay::restore(self, snap)
    }

    fn restore_scoped(
        &mut self,
        snap: &Snapshot,
        scope: &HashSet<Ino>,
    ) -> Result<Invalidation, FsError> {
        Overlay::restore_scoped(self, snap, scope)
    }

    fn reset_after_commit(
        &mut self,
        rest: &Snapshot,
        placed: &[Placement],
    ) -> Result<Invalidation, FsError> {
        Overlay::reset_after_commit(self, rest, placed)
    }
}
