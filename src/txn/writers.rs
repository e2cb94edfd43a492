//! Who wrote what while `exec` sessions are open: the attribution per-command rollback needs.
//!
//! Owns: the open sessions ([`Writers::begin`], [`Writers::end`]), deciding which session a
//! request's process belongs to ([`Writers::writer_of`]: its cgroup v2 leaf, else its
//! ancestry up to the session's supervisor), and the record of what each writer touched
//! since each session began ([`Writers::note`], [`Writers::touched_since`]).
//!
//! Invariants:
//! - Nothing is recorded or looked up while no session is open: the cost outside `exec` is
//!   one atomic load per mutating request, and one uncontended lock per open and release of
//!   a handle that may write (which are counted always, so a session knows what is held
//!   open when it begins).
//! - A touch is noted before the operation reaches the overlay (the file system layer calls
//!   [`Writers::note`] first), so a caller that holds the overlay's lock and then reads the
//!   record sees every change the overlay holds. A failed operation leaves a touch behind,
//!   which only ever makes a rollback keep more (a conflict), never revert more.
//! - A process that belongs to no session is the user ([`Writer::User`]); so are requests the
//!   kernel makes on nobody's behalf (pid 0).
//! - Files held open for writing count as written by their opener for as long as they are
//!   open during a session, since the kernel may write a passed-through file without any
//!   request: a handle open when a session begins, and every handle opened or closed while
//!   one is open, is a touch of its inode.
//!
//! - Each node is also known by every name it had while a session was open (the file system
//!   layer notes names on create, link, rename and unlink: [`Writers::note_name`]), and a
//!   touch of the node counts at each of them.
//!
//! Deliberately not done here: turning touches into paths or restoring anything (that is
//! `session`), or caching across sessions (the pid cache is dropped whenever the set of
//! sessions changes, so a reused pid is looked up afresh).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::overlay::Ino;

/// Who made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Writer {
    /// The `exec` session with this id (its checkpoint).
    Session(u64),
    /// Anything else: the user, an editor, an agent outside `exec`.
    User,
}

/// What a request changes: a node's data or attributes, or a name in a directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Touch {
    Node(Ino),
    Entry(Ino, Vec<u8>),
}

#[derive(Debug)]
struct Session {
    /// The sequence number when it began: touches at or after it are since its checkpoint.
    start: u64,
    /// Its cgroup v2 leaf, as `/proc/PID/cgroup` names it (relative to the hierarchy).
    cgroup: Option<String>,
    /// The pid of its supervisor (`exec`), the root of its process tree.
    supervisor: Option<i32>,
    /// The pid of `exec` where its supervisor is the reaper below it: `exec`'s broker changes
    /// metadata in the view for the command, so what that process does is the session's.
    broker: Option<i32>,
}

#[derive(Debug, Default)]
struct Inner {
    seq: u64,
    sessions: HashMap<u64, Session>,
    /// pid → its writer, for the sessions open now.
    pids: HashMap<u32, Writer>,
    /// Each touch, by writer, with the sequence number of the latest.
    touched: HashMap<Touch, HashMap<Writer, u64>>,
    /// Open handles that may write, by inode and opener.
    open_writes: HashMap<Ino, HashMap<Writer, u32>>,
    /// Every name each node had while a session was open (created, linked, renamed from or
    /// to, unlinked): a touch of the node counts at each, so a node whose names are gone or
    /// moved by the end still counts where it was written.
    names: HashMap<Ino, HashSet<(Ino, Vec<u8>)>>,
}

/// The attribution record of one mounted view, shared by the file system and the daemon.
#[derive(Debug, Default)]
pub struct Writers {
    open_sessions: AtomicUsize,
    inner: Mutex<Inner>,
}

impl Writers {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether any session is open (no attribution is done otherwise).
    pub fn active(&self) -> bool {
        self.open_sessions.load(Ordering::Acquire) > 0
    }

    /// Opens session `id`, whose processes are those in `cgroup` (a cgroup v2 directory of
    /// the hierarchy mounted at `mount`) or, without one, the descendants of `supervisor`;
    /// and `broker`, the process whose broker acts for them, if not one of those.
    /// Handles open for writing now count as touches of their openers from here on.
    pub fn begin(
        &self,
        id: u64,
        cgroup: Option<(PathBuf, PathBuf)>,
        supervisor: Option<i32>,
        broker: Option<i32>,
    ) {
        let mut g = self.lock();
        g.seq += 1;
        let start = g.seq;
        let cgroup = cgroup.and_then(|(mount, dir)| {
            let rel = dir.strip_prefix(&mount).ok()?;
            Some(format!("/{}", rel.display()))
        });
        g.sessions.insert(
            id,
            Session {
                start,
                cgroup,
                supervisor,
                broker,
            },
        );
        g.pids.clear();
        let held: Vec<(Ino, Writer)> = g
            .open_writes
            .iter()
            .flat_map(|(ino, by)| by.keys().map(|w| (*ino, *w)))
            .collect();
        for (ino, w) in held {
            record(&mut g, Touch::Node(ino), w, start);
        }
        self.open_sessions
            .store(g.sessions.len(), Ordering::Release);
    }

    /// Renames session `from` to `to` (its checkpoint, known once taken), touches included.
    pub fn rekey(&self, from: u64, to: u64) {
        let mut g = self.lock();
        if let Some(sess) = g.sessions.remove(&from) {
            g.sessions.insert(to, sess);
        }
        g.pids.clear();
        for by in g.touched.values_mut() {
            if let Some(seq) = by.remove(&Writer::Session(from)) {
                by.insert(Writer::Session(to), seq);
            }
        }
        for by in g.open_writes.values_mut() {
            if let Some(n) = by.remove(&Writer::Session(from)) {
                by.insert(Writer::Session(to), n);
            }
        }
    }

    /// Closes session `id`; when none is left, forgets every touch.
    pub fn end(&self, id: u64) {
        let mut g = self.lock();
        g.sessions.remove(&id);
        g.pids.clear();
        if g.sessions.is_empty() {
            g.touched.clear();
            g.names.clear();
        }
        self.open_sessions
            .store(g.sessions.len(), Ordering::Release);
    }

    /// Notes that the process `pid` is about to change `touch`.
    pub fn note(&self, pid: u32, touch: Touch) {
        if !self.active() {
            return;
        }
        let mut g = self.lock();
        let w = writer_locked(&mut g, pid);
        g.seq += 1;
        let seq = g.seq;
        record(&mut g, touch, w, seq);
    }

    /// [`Writers::note`] for a writer already known (tests drive the record this way).
    pub fn note_as(&self, w: Writer, touch: Touch) {
        if !self.active() {
            return;
        }
        let mut g = self.lock();
        g.seq += 1;
        let seq = g.seq;
        record(&mut g, touch, w, seq);
    }

    /// Notes that node `ino` is or was named `name` in `dir` (created, linked, renamed,
    /// unlinked).
    pub fn note_name(&self, ino: Ino, dir: Ino, name: &[u8]) {
        if !self.active() {
            return;
        }
        self.lock()
            .names
            .entry(ino)
            .or_default()
            .insert((dir, name.to_vec()));
    }

    /// Notes that `pid` opened (`open`) or a handle closed (`!open`) a handle of `ino` that
    /// may write. Opens are counted whether or not a session is open, so that a session
    /// beginning later knows what is held open.
    pub fn note_handle(&self, pid: u32, ino: Ino, open: bool) {
        let active = self.active();
        let mut g = self.lock();
        if open {
            let w = if active {
                writer_locked(&mut g, pid)
            } else {
                Writer::User
            };
            *g.open_writes.entry(ino).or_default().entry(w).or_insert(0) += 1;
            if active {
                g.seq += 1;
                let seq = g.seq;
                record(&mut g, Touch::Node(ino), w, seq);
            }
            return;
        }
        // A release does not say whose handle closes: every opener still counted may have
        // written until now.
        let by: Vec<Writer> = g
            .open_writes
            .get(&ino)
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default();
        if active {
            g.seq += 1;
            let seq = g.seq;
            for w in &by {
                record(&mut g, Touch::Node(ino), *w, seq);
            }
        }
        if let Some(m) = g.open_writes.get_mut(&ino) {
            // Charge the close to the user first: the opener of a handle that is closed is
            // not known, and a user's handle is the longest lived.
            let pick = if m.contains_key(&Writer::User) {
                Some(Writer::User)
            } else {
                m.keys().next().copied()
            };
            if let Some(w) = pick
                && let Some(n) = m.get_mut(&w)
            {
                *n -= 1;
                if *n == 0 {
                    m.remove(&w);
                }
            }
            if m.is_empty() {
                g.open_writes.remove(&ino);
            }
        }
    }

    /// The writer process `pid` belongs to.
    pub fn writer_of(&self, pid: u32) -> Writer {
        if !self.active() {
            return Writer::User;
        }
        writer_locked(&mut self.lock(), pid)
    }

    /// What session `id` touched since it began, and what every other writer touched since
    /// then.
    pub fn touched_since(&self, id: u64) -> (HashSet<Touch>, HashSet<Touch>) {
        let g = self.lock();
        let Some(start) = g.sessions.get(&id).map(|s| s.start) else {
            return Default::default();
        };
        let mut own = HashSet::new();
        let mut others = HashSet::new();
        for (touch, by) in &g.touched {
            // A node touched counts at every name it had too.
            let named: Vec<Touch> = match touch {
                Touch::Node(ino) => g
                    .names
                    .get(ino)
                    .into_iter()
                    .flatten()
                    .map(|(d, n)| Touch::Entry(*d, n.clone()))
                    .collect(),
                Touch::Entry(..) => Vec::new(),
            };
            for (w, seq) in by {
                let set = if *w == Writer::Session(id) {
                    &mut own
                } else if *seq >= start {
                    &mut others
                } else {
                    continue;
                };
                set.insert(touch.clone());
                set.extend(named.iter().cloned());
            }
        }
        (own, others)
    }
}

fn record(g: &mut Inner, touch: Touch, w: Writer, seq: u64) {
    let at = g.touched.entry(touch).or_default().entry(w).or_insert(seq);
    *at = (*at).max(seq);
}

fn writer_locked(g: &mut Inner, pid: u32) -> Writer {
    if pid == 0 {
        return Writer::User;
    }
    if let Some(w) = g.pids.get(&pid) {
        return *w;
    }
    let w = lookup(&g.sessions, pid);
    g.pids.insert(pid, w);
    w
}

/// The session of `pid`: the one whose broker's process it is, else the one whose cgroup
/// holds it (at any depth), else the one whose supervisor is among its ancestors.
fn lookup(sessions: &HashMap<u64, Session>, pid: u32) -> Writer {
    // From the process, not the thread: a thread of a supervisor or broker (the broker, which
    // changes metadata in the view for the command) has the process's parent, not the process.
    let thread = i32::try_from(pid).unwrap_or(0);
    let process = process_of(thread).unwrap_or(thread);
    if let Some((id, _)) = sessions.iter().find(|(_, s)| s.broker == Some(process)) {
        return Writer::Session(*id);
    }
    if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        && let Some(cg) = text.lines().find_map(|l| l.strip_prefix("0::"))
    {
        for (id, s) in sessions {
            if let Some(leaf) = &s.cgroup
                && (cg == leaf || cg.starts_with(&format!("{leaf}/")))
            {
                return Writer::Session(*id);
            }
        }
    }
    let supervisors: HashMap<i32, u64> = sessions
        .iter()
        .filter_map(|(id, s)| s.supervisor.map(|p| (p, *id)))
        .collect();
    if supervisors.is_empty() {
        return Writer::User;
    }
    let mut at = process;
    // Bounded: a pid's ancestry ends at 1 (or at a process we cannot read).
    for _ in 0..4096 {
        if at <= 1 {
            break;
        }
        if let Some(id) = supervisors.get(&at) {
            return Writer::Session(*id);
        }
        match parent_of(at) {
            Some(p) => at = p,
            None => break,
        }
    }
    Writer::User
}

/// The process (thread group) of thread `pid`, from `/proc/PID/status`.
fn process_of(pid: i32) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))?
        .trim()
        .parse()
        .ok()
}

/// The parent of process (or thread) `pid`, from `/proc/PID/stat`.
pub(crate) fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_recorded_without_a_session_and_touches_split_by_writer() {
        let w = Writers::default();
        w.note(std::process::id(), Touch::Node(Ino(5)));
        assert!(!w.active());
        // SAFETY: getppid has no preconditions.
        let parent = unsafe { libc::getppid() };
        // Our parent is the supervisor of session 1: we belong to it.
        w.begin(1, None, Some(parent), None);
        assert_eq!(w.writer_of(std::process::id()), Writer::Session(1));
        w.note(std::process::id(), Touch::Node(Ino(7)));
        // Pid 1 is no session's: the user.
        w.note(1, Touch::Entry(Ino(1), b"u".to_vec()));
        w.note(0, Touch::Node(Ino(7)));
        let (own, others) = w.touched_since(1);
        assert_eq!(own, HashSet::from([Touch::Node(Ino(7))]));
        assert_eq!(
            others,
            HashSet::from([Touch::Entry(Ino(1), b"u".to_vec()), Touch::Node(Ino(7))])
        );
        assert!(!own.contains(&Touch::Node(Ino(5))));
        w.end(1);
        assert!(!w.active());
        assert_eq!(w.touched_since(1), Default::default());
    }

    #[test]
    fn a_handle_held_open_across_the_start_of_a_session_counts_for_its_opener() {
        let w = Writers::default();
        w.note_handle(1, Ino(9), true);
        w.begin(2, None, Some(999_999_999), None);
        let (own, others) = w.touched_since(2);
        assert!(own.is_empty());
        assert_eq!(others, HashSet::from([Touch::Node(Ino(9))]));
        w.note_handle(0, Ino(9), false);
        assert!(w.lock().open_writes.is_empty());
    }
}
