//! Every key of the database's `kv` table, in one place, so no two modules can pick the same
//! name for different things and a reader sees the whole persistent vocabulary at once.
//!
//! The values are text; what each means is said here, what writes it in brackets.

/// The workspace directory this store belongs to (`meta::Db::open`; `fsck` checks it).
pub const WORKSPACE: &str = "workspace";
/// The end of the inode-number batch reserved so far (the overlay's allocator).
pub const NEXT_INO: &str = "next_ino";
/// The id of the commit journal that started the current epoch (commit, partial commit);
/// checkpoints of other epochs cannot be rolled back to.
pub const EPOCH: &str = "epoch";
/// When the current transaction started, in nanoseconds since the epoch (the first change
/// after a commit or abort).
pub const TXN_STARTED: &str = "txn_started_ns";
/// The overlay state a partial commit keeps for after the commit (`txn::partial`).
pub const PARTIAL_REST: &str = "partial_commit_rest";
/// How far the operation log is folded into the tables (`meta::oplog`).
pub const OPLOG_FOLDED: &str = "oplog";
/// A counter bumped by every durability barrier, so its transaction always writes a page
/// (spelled out in the barrier's SQL).
pub const BARRIER: &str = "barrier";

/// The durable marker "phase 1 of commit `id` completed and is durable".
pub fn txn_stashed(id: u64) -> String {
    format!("txn.{id}.stashed")
}

/// The durable marker "undo of commit `id` removed everything phase 2 placed".
pub fn txn_unbuilt(id: u64) -> String {
    format!("txn.{id}.unbuilt")
}

/// "Phase 2 of commit `id` failed at step N": only steps before N placed anything.
pub fn txn_failed_at(id: u64) -> String {
    format!("txn.{id}.failed_at")
}

/// The root's (atime, mtime) once commit `id` is applied (restored by finish, because
/// creating and removing the stash directory moves them).
pub fn txn_root_times(id: u64) -> String {
    format!("txn.{id}.root_times")
}

/// Every marker key of commit `id`.
pub fn txn_markers(id: u64) -> [String; 4] {
    [
        txn_stashed(id),
        txn_unbuilt(id),
        txn_failed_at(id),
        txn_root_times(id),
    ]
}
