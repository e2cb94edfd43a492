//! Removal of doomed files off the request path: a thread that unlinks the files it is
//! handed, so that a request (an `rm -rf` through the view, an abort, the end of a commit)
//! pays one rename into a doomed directory rather than the unlink and the freeing of blocks.
//!
//! Invariant: only files already renamed out of every live name are handed over, so removing
//! them late loses nothing; a file the thread has not removed when the process dies stays in
//! its doomed directory, and the owner hands it over again when it next opens.
//!
//! Deliberately not here: what is doomed and where it waits ([`super::WorkDir`]).

use std::fmt;
use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::mpsc::{self, Sender};
use std::thread::JoinHandle;

/// A thread removing the files sent to it; dropping the reaper waits for it to finish them.
pub struct Reaper {
    tx: Option<Sender<PathBuf>>,
    thread: Option<JoinHandle<()>>,
}

impl Reaper {
    /// Starts the removing thread.
    pub fn start() -> io::Result<Reaper> {
        let (tx, rx) = mpsc::channel::<PathBuf>();
        let thread = std::thread::Builder::new()
            .name("reaper".into())
            .spawn(move || {
                for path in rx {
                    remove(&path);
                }
            })?;
        Ok(Reaper {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Removes the file at `path` later (at once if the thread is gone).
    pub fn reap(&self, path: PathBuf) {
        if let Some(Err(mpsc::SendError(path))) = self.tx.as_ref().map(|tx| tx.send(path)) {
            remove(&path);
        }
    }
}

/// Unlinks `path`; a failure is logged and leaves the file for the next open to hand over.
fn remove(path: &std::path::Path) {
    if let Err(e) = fs::remove_file(path)
        && e.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!("remove {}: {e}", path.display());
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl fmt::Debug for Reaper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Reaper")
    }
}
