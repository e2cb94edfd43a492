//! Test support for the commit engine: a seeded random workspace and change set expressed as a
//! [`Plan`](ftsb_fs::txn::Plan) with its expected "after" tree ([`changes`]), and a tree scanner
//! that compares workspaces exactly ([`tree`]).

#![allow(dead_code)] // reason: each test binary uses a different part of this module

pub mod changes;
pub mod tree;

pub use changes::{Size, Trial, trial, trial_in};
pub use tree::{Tree, diff, is_root, scan};

/// A small deterministic PRNG (SplitMix64), so a seed names a trial forever.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            Some(&items[self.below(items.len())])
        }
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(n);
        out
    }
    fn time(&mut self) -> (i64, u32) {
        (
            1_600_000_000 + self.below(100_000_000) as i64,
            self.below(1_000_000_000) as u32,
        )
    }
}
