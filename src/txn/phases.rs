//! How long each phase of a commit took, for one debug-level log line per commit
//! (`RUST_LOG=ftsb_fs::txn=debug` on the daemon), so where a slow commit spends its time is
//! visible without a profiler.

use std::fmt;
use std::time::Instant;

/// The phases timed so far, in order.
pub(super) struct Phases {
    last: Instant,
    done: Vec<(&'static str, f64)>,
}

impl Phases {
    pub fn start() -> Phases {
        Phases {
            last: Instant::now(),
            done: Vec::new(),
        }
    }

    /// Ends phase `name`, which began where the previous one ended.
    pub fn end(&mut self, name: &'static str) {
        let now = Instant::now();
        self.done
            .push((name, now.duration_since(self.last).as_secs_f64()));
        self.last = now;
    }
}

impl fmt::Display for Phases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, secs)) in self.done.iter().enumerate() {
            let sep = if i == 0 { "" } else { " " };
            write!(f, "{sep}{name}={secs:.3}s")?;
        }
        Ok(())
    }
}
