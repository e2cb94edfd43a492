//! A batch of independent jobs run on a few threads, their results taken in order.
//!
//! Sealing and a commit's phase 2 are each a batch of small file jobs (a handful of system
//! calls and some hashing each): bound by system-call latency for small files and by hashing
//! for large ones, both of which overlap across threads. Invariants: at most [`THREADS`]
//! threads, never more than there are cores; the consumer sees results in job order however
//! the jobs finish; once the consumer returns, no job starts (those running finish, and their
//! results are dropped).
//!
//! Deliberately not here: what a job does, or what happens to the work of a job whose result
//! is dropped (the caller cleans up, e.g. the commit's stash is removed with its temporaries).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

/// At most this many threads run a batch.
pub const THREADS: usize = 4;

/// Runs `job(0)`, `job(1)`, ... `job(n - 1)` on a few threads and hands `consume` an iterator
/// over their results in that order. The iterator ends early only if a job panicked (the
/// panic is reported by the panic hook, not propagated): a consumer that needs every result
/// checks it got `n`. A batch of fewer than eight jobs, or a machine with one core, runs each
/// job on this thread when the iterator reaches it.
pub fn ordered<T: Send, R>(
    n: usize,
    job: impl Fn(usize) -> T + Sync,
    consume: impl FnOnce(&mut dyn Iterator<Item = T>) -> R,
) -> R {
    let threads = std::thread::available_parallelism()
        .map_or(1, |c| c.get())
        .min(THREADS)
        .min(n / 4 + 1);
    if threads <= 1 {
        let run = |i| std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(i))).ok();
        return consume(&mut (0..n).map_while(run));
    }
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel();
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (tx, job, next, stop) = (tx.clone(), &job, &next, &stop);
                s.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n || tx.send((i, job(i))).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        let mut early: HashMap<usize, T> = HashMap::new();
        let mut results = (0..n).map_while(|i| {
            loop {
                if let Some(v) = early.remove(&i) {
                    return Some(v);
                }
                // Disconnected: every thread is gone, so job `i` panicked.
                let (j, v) = rx.recv().ok()?;
                early.insert(j, v);
            }
        });
        let out = consume(&mut results);
        stop.store(true, Ordering::Relaxed);
        drop(results);
        for h in handles {
            // A panicked job was reported by the hook, and its result is missing above.
            let _ = h.join();
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_job_order_and_a_stopped_consumer_starts_no_more_jobs() {
        let started = AtomicUsize::new(0);
        let got: Vec<usize> = ordered(
            100,
            |i| {
                started.fetch_add(1, Ordering::Relaxed);
                // Later jobs finish first.
                std::thread::sleep(std::time::Duration::from_micros((100 - i as u64) * 10));
                i * 2
            },
            |it| it.collect(),
        );
        assert_eq!(got, (0..100).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(started.load(Ordering::Relaxed), 100);

        // Jobs after the first three wait until the consumer has those three and returns:
        // then no thread starts another job, so at most one is started per thread.
        let started = AtomicUsize::new(0);
        let taken = AtomicBool::new(false);
        let first: Vec<usize> = ordered(
            10_000,
            |i| {
                started.fetch_add(1, Ordering::Relaxed);
                while i >= 3 && !taken.load(Ordering::Relaxed) {
                    std::thread::yield_now();
                }
                i
            },
            |it| {
                let v = it.take(3).collect();
                taken.store(true, Ordering::Relaxed);
                v
            },
        );
        assert_eq!(first, vec![0, 1, 2]);
        assert!(started.load(Ordering::Relaxed) <= 3 + THREADS);
    }

    #[test]
    fn a_panicking_job_ends_the_results_early() {
        let got: Vec<usize> = ordered(
            50,
            |i| {
                assert!(i != 20, "job 20 fails");
                i
            },
            |it| it.collect(),
        );
        assert_eq!(got, (0..20).collect::<Vec<_>>());
    }
}
