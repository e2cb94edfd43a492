//! ftsb-fs: a transactional view of a workspace for AI coding agents.
//!
//! Reading order (see `docs/ARCHITECTURE.md`): `store` and `meta` hold the state,
//! `overlay` is the copy-on-write namespace, `txn` seals checkpoints and publishes commits,
//! `fuse` adapts the overlay to the kernel, `daemon` serves the mount and its control socket,
//! `gate` judges command lines, `confine` restricts what `exec` runs, `review` is the terminal UI over a session, `cli` is
//! the command line.

pub mod cli;
pub mod confine;
pub mod control;
pub mod daemon;
pub mod fuse;
pub mod meta;
pub mod overlay;
pub mod review;
pub mod store;
pub mod sys;
pub mod txn;

/// The command gate lives in its own crate; it stays reachable as `crate::gate`.
pub use ftsb_gate as gate;
