//! Tests of the overlay core without a mount, driven with inode numbers as the kernel drives it.
//!
//! `examples` holds one test per operation and POSIX detail (tier 2 of the house style);
//! `model` is the proptest reference model (tier 3) and the `regression_*` cases it shrank to;
//! `sessions` is the property test of per-session rollback;
//! `harness` builds workspaces, walks the view and fingerprints the workspace for invariant 1.

mod examples;
mod harness;
mod model;
mod recording;
mod sessions;
