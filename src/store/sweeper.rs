//! Removal of doomed working files off the request path: a thread that unlinks the working
//! files of the inodes it is handed, so that a request (an `rm -rf` through the view, an
//! abort, the clearing after a commit) costs no system call for them.
//!
//! The thread lets a burst of dooms end before it unlinks (it waits until none came for
//! [`QUIET`], at most [`LONGEST_WAIT`]), and a doom wakes it only when it sleeps with nothing
//! to do: so an `rm -rf` through the view neither wakes it per file nor shares the CPUs with
//! its unlinks while the removals' requests still come.
//!
//! Invariant: the thread removes the file of an inode only while the inode is doomed, and
//! [`Sweeper::settle`] removes a doomed one at once and returns only once no removal of it is
//! under way, so the working file made again for a doomed inode (a restore brings inode
//! numbers back) is a new file, never the doomed one, and is never removed. A file the thread
//! has not removed when the process dies is owned by no node, and the overlay dooms it again
//! when it next opens.
//!
//! Deliberately not here: which files are doomed (the overlay knows which nodes went away).

use std::collections::HashSet;
use std::fmt;
use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long no doom must come before the thread unlinks: a burst has ended.
const QUIET: Duration = Duration::from_millis(20);

/// How long the thread waits at most for a burst to end before it unlinks anyway, so that
/// steady removals do not keep doomed files (and their space) for ever.
const LONGEST_WAIT: Duration = Duration::from_secs(2);

/// A thread removing doomed working files; dropping it waits until every one is removed.
pub(super) struct Sweeper {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    /// The path of an inode's working file.
    path: Box<dyn Fn(u64) -> PathBuf + Send + Sync>,
    state: Mutex<State>,
    /// Signalled when a removal ends.
    removed: Condvar,
    /// Signalled when the sleeping thread has work (or is to end).
    work: Condvar,
}

#[derive(Default)]
struct State {
    /// Inodes whose working file is to be removed.
    doomed: HashSet<u64>,
    /// The inode whose working file the thread is removing.
    removing: Option<u64>,
    /// Dooms so far (the thread sees from it whether a burst goes on).
    dooms: u64,
    /// Whether the thread sleeps with nothing to do (only then does a doom wake it).
    idle: bool,
    /// Whether the thread is to remove what is doomed at once and end.
    closing: bool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The thread: waits for dooms, lets each burst end, then removes what is doomed (and
    /// waits again if a new burst begins meanwhile, unless its first doom waited long enough).
    fn run(&self) {
        let mut s = self.state();
        loop {
            while s.doomed.is_empty() && !s.closing {
                s.idle = true;
                s = self.work.wait(s).unwrap_or_else(|e| e.into_inner());
            }
            s.idle = false;
            if s.doomed.is_empty() {
                return;
            }
            let began = Instant::now();
            let waiting = |s: &State| !s.closing && began.elapsed() < LONGEST_WAIT;
            'burst: loop {
                while waiting(&s) {
                    let seen = s.dooms;
                    s = self
                        .work
                        .wait_timeout(s, QUIET)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                    if s.dooms == seen {
                        break;
                    }
                }
                let seen = s.dooms;
                while let Some(&ino) = s.doomed.iter().next() {
                    if s.dooms != seen && waiting(&s) {
                        continue 'burst;
                    }
                    s.doomed.remove(&ino);
                    s.removing = Some(ino);
                    drop(s);
                    remove(&(self.path)(ino));
                    s = self.state();
                    s.removing = None;
                    self.removed.notify_all();
                }
                break;
            }
        }
    }
}

impl Sweeper {
    /// Starts the removing thread; `path` names an inode's working file.
    pub fn start(path: impl Fn(u64) -> PathBuf + Send + Sync + 'static) -> io::Result<Sweeper> {
        let shared = Arc::new(Shared {
            path: Box::new(path),
            state: Mutex::new(State::default()),
            removed: Condvar::new(),
            work: Condvar::new(),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("sweeper".into())
                .spawn(move || shared.run())?
        };
        Ok(Sweeper {
            shared,
            thread: Some(thread),
        })
    }

    /// Removes the working file of `ino` later (at once if the thread is gone).
    pub fn doom(&self, ino: u64) {
        if self.thread.as_ref().is_none_or(JoinHandle::is_finished) {
            remove(&(self.shared.path)(ino));
            return;
        }
        let mut s = self.shared.state();
        s.doomed.insert(ino);
        s.dooms += 1;
        if s.idle {
            s.idle = false;
            self.shared.work.notify_one();
        }
    }

    /// Removes the working file of `ino` now if it is doomed and waits for a removal of it
    /// under way, so that the file `ino` gets next is a new one, which no late removal takes.
    pub fn settle(&self, ino: u64) {
        let doomed = {
            let mut s = self.shared.state();
            let doomed = s.doomed.remove(&ino);
            while s.removing == Some(ino) {
                s = self
                    .shared
                    .removed
                    .wait(s)
                    .unwrap_or_else(|e| e.into_inner());
            }
            doomed
        };
        if doomed {
            remove(&(self.shared.path)(ino));
        }
    }
}

/// Unlinks `path`; a failure is logged and leaves a file no node owns, which the overlay
/// dooms again when it next opens.
fn remove(path: &std::path::Path) {
    if let Err(e) = fs::remove_file(path)
        && e.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!("remove {}: {e}", path.display());
    }
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        self.shared.state().closing = true;
        self.shared.work.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl fmt::Debug for Sweeper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sweeper")
    }
}
