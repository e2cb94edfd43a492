//! Removal of doomed working files off the request path: a thread that unlinks the working
//! files of the inodes it is handed, so that a request (an `rm -rf` through the view, an
//! abort, the clearing after a commit) costs no system call for them.
//!
//! Invariant: the thread removes the file of an inode only while the inode is doomed, and
//! [`Sweeper::settle`] removes a doomed one at once and returns only once no removal of it is
//! under way, so the working file made again for a doomed inode (a restore brings inode
//! numbers back) is a new file, never the doomed one, and is never removed. A file the thread has not removed when the process dies is owned by
//! no node, and the overlay dooms it again when it next opens.
//!
//! Deliberately not here: which files are doomed (the overlay knows which nodes went away).

use std::collections::HashSet;
use std::fmt;
use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// A thread removing doomed working files; dropping it waits until every one is removed.
pub(super) struct Sweeper {
    shared: Arc<Shared>,
    tx: Option<Sender<u64>>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    /// The path of an inode's working file.
    path: Box<dyn Fn(u64) -> PathBuf + Send + Sync>,
    state: Mutex<State>,
    /// Signalled when a removal ends.
    removed: Condvar,
}

#[derive(Default)]
struct State {
    /// Inodes whose working file is to be removed.
    doomed: HashSet<u64>,
    /// The inode whose working file the thread is removing.
    removing: Option<u64>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Removes the working file of `ino` if it is still doomed.
    fn sweep(&self, ino: u64) {
        {
            let mut s = self.state();
            if !s.doomed.remove(&ino) {
                return;
            }
            s.removing = Some(ino);
        }
        remove(&(self.path)(ino));
        self.state().removing = None;
        self.removed.notify_all();
    }
}

impl Sweeper {
    /// Starts the removing thread; `path` names an inode's working file.
    pub fn start(path: impl Fn(u64) -> PathBuf + Send + Sync + 'static) -> io::Result<Sweeper> {
        let shared = Arc::new(Shared {
            path: Box::new(path),
            state: Mutex::new(State::default()),
            removed: Condvar::new(),
        });
        let (tx, rx) = mpsc::channel::<u64>();
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("sweeper".into())
                .spawn(move || {
                    for ino in rx {
                        shared.sweep(ino);
                    }
                })?
        };
        Ok(Sweeper {
            shared,
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Removes the working file of `ino` later (at once if the thread is gone).
    pub fn doom(&self, ino: u64) {
        self.shared.state().doomed.insert(ino);
        if let Some(Err(mpsc::SendError(ino))) = self.tx.as_ref().map(|tx| tx.send(ino)) {
            self.shared.sweep(ino);
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
        drop(self.tx.take());
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
