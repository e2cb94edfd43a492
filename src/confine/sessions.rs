//! The live agent sessions (`run`) a daemon serves, and what holds each one's processes: a
//! cgroup leaf, else the process tree below its `run`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::cgroup::Leaf;
use super::tree::Subtree;

/// What emptying leaves did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Emptied {
    /// Processes that were in the leaves when they were killed.
    pub killed: usize,
    /// Processes still listed when killing gave up (stuck in the kernel).
    pub survivors: usize,
}

/// What holds a live agent session's processes.
#[derive(Debug)]
pub enum Held {
    /// Its cgroup leaf.
    Leaf(Leaf),
    /// The process tree below its `run`, when there is no cgroup.
    Tree(Subtree),
}

impl Held {
    /// The live processes it holds.
    pub fn pids(&self) -> Vec<libc::pid_t> {
        match self {
            Held::Leaf(leaf) => leaf.pids(),
            Held::Tree(tree) => tree.pids(),
        }
    }

    /// Kills what it holds and waits until nothing is left.
    fn empty(&self, give_up: Duration) -> Emptied {
        match self {
            Held::Leaf(leaf) => {
                let killed = leaf.pids().len();
                let survivors = leaf.kill_and_wait(give_up);
                Emptied { killed, survivors }
            }
            Held::Tree(tree) => {
                let (killed, survivors) = tree.kill_and_wait(give_up);
                Emptied { killed, survivors }
            }
        }
    }
}

/// The live agent sessions (`run`) a daemon serves, by session id, with what holds their
/// processes: a cgroup leaf, else the process tree below their `run`.
///
/// The daemon empties a session's leaf when the session's control connection closes (its
/// `run` ended or was killed) and empties every session before the transaction ends (commit,
/// abort, unmount), so nothing an agent started outlives the transaction it worked in or
/// changes the view after it ended. Without a leaf, a session whose `run` is gone holds
/// nothing any more (see [`Subtree`]).
#[derive(Debug, Default)]
pub struct Sessions {
    next: AtomicU64,
    held: Mutex<BTreeMap<u64, Held>>,
}

impl Sessions {
    /// Registers a new session; returns its id.
    pub fn add(&self, held: Held) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, held);
        id
    }

    /// Ends session `id`: kills what is left of it, waits until nothing is (at most
    /// `give_up`), and removes its leaf.
    pub fn end(&self, id: u64, give_up: Duration) -> Emptied {
        let Some(held) = self.lock().remove(&id) else {
            return Emptied::default();
        };
        let emptied = held.empty(give_up);
        if let Held::Leaf(leaf) = held {
            leaf.remove_quietly();
        }
        emptied
    }

    /// Kills everything of every session and waits until nothing is left (at most `give_up`
    /// each). The sessions stay registered: their `run` still settles and reports.
    pub fn empty_all(&self, give_up: Duration) -> Emptied {
        let held = self.lock();
        held.values()
            .map(|h| h.empty(give_up))
            .fold(Emptied::default(), |a, b| Emptied {
                killed: a.killed + b.killed,
                survivors: a.survivors + b.survivors,
            })
    }

    /// The leaves of the live sessions that have one.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.lock()
            .values()
            .filter_map(|h| match h {
                Held::Leaf(l) => Some(l.path().to_owned()),
                Held::Tree(_) => None,
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Held>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
