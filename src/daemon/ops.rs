//! The control socket's requests, served one connection per thread.
//!
//! Each request is answered with its type from `control::reply`, or with a `control::Error`
//! whose code `failure` takes from the first cause in the error's chain that names one.
//!
//! Longer than 500 lines on purpose: `handle` is the one dispatch of every request (a match
//! arm each, most of them one call), and the session bookkeeping it needs (the connection's
//! cgroup leaf, rolling back one session, stopping sessions at unmount) lives beside it
//! because each arm's cleanup depends on the connection state it holds.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::Ordering;

use super::Daemon;
use super::failure::failure;
use crate::confine::cgroup::Leaf;
use crate::confine::sessions::Held;
use crate::confine::tree::{GIVE_UP, Subtree};
use crate::control::reply::{self, Reply};
use crate::control::{
    Code, Error, Event, Frame, Request, UnmountMode, parse_request, peer_pid, peer_uid,
};
use crate::overlay::Data;
use crate::overlay::lock;
use crate::txn;

/// Serves one connection until it closes.
pub fn serve(daemon: &Daemon, stream: UnixStream) {
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    match peer_uid(&stream) {
        Ok(uid) if uid == me || uid == 0 => {}
        Ok(uid) => {
            tracing::warn!("control: refused a connection from uid {uid}");
            return;
        }
        Err(e) => {
            tracing::warn!("control: no peer credentials: {e}");
            return;
        }
    }
    let Ok(writer) = stream.try_clone() else {
        return;
    };
    let mut conn = Conn {
        reader: BufReader::new(stream),
        writer,
        exec: None,
        exec_started: None,
        exec_leaf: None,
        session: None,
        live_exec: None,
        live_run: None,
    };
    while let Some(req) = conn.next() {
        let _exiting = matches!(req, Ok(Request::Unmount { .. })).then(|| {
            daemon
                .exit_gate
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        });
        let answer = req.and_then(|req| handle(daemon, &mut conn, req));
        if !conn.send(&Frame::answer(answer)) {
            break;
        }
    }
    if let Some(id) = conn.exec.take() {
        // The `exec` process went away in the middle of its command: undo what it did.
        tracing::warn!(
            "exec connection closed before the command ended: rolling back to checkpoint {id}"
        );
        // Whatever the command left running dies before the rollback, so nothing writes into
        // the view once it is restored.
        stop_leaf(&conn);
        let undone = rollback_session(daemon, id);
        if let Err(e) = &undone {
            tracing::error!("rollback of an interrupted exec failed: {e}");
        }
        record_exec(
            daemon,
            &mut conn,
            id,
            None,
            undone.is_ok(),
            Some("interrupted"),
            Vec::new(),
        );
        daemon.writers.end(id);
        remove_leaf(&mut conn);
    }
    for id in [conn.live_exec.take(), conn.live_run.take()]
        .into_iter()
        .flatten()
    {
        daemon.live.remove(id);
    }
    if let Some(id) = conn.session.take() {
        // The `run` session ended, or its `run` was killed: what its agent left dies now.
        let emptied = daemon.sessions.end(id, GIVE_UP);
        report_emptied(&format!("run session {id} ended"), emptied);
    }
}

/// Empties the cgroup leaves of every live `run` session before the transaction ends (`why`),
/// so nothing an agent started changes the view after that. Call it without the overlay's
/// lock: a process being killed may wait for an answer of the view.
pub(super) fn stop_sessions(daemon: &Daemon, why: &str) {
    report_emptied(why, daemon.sessions.empty_all(GIVE_UP));
}

fn report_emptied(why: &str, emptied: crate::confine::sessions::Emptied) {
    if emptied.killed > 0 {
        tracing::warn!(
            "{why}: killed {} process(es) of an agent session",
            emptied.killed
        );
    }
    if emptied.survivors > 0 {
        tracing::error!(
            "{why}: {} process(es) of an agent session could not be killed",
            emptied.survivors
        );
    }
}

/// Kills every process in the exec's cgroup leaf and waits until it is empty.
fn stop_leaf(conn: &Conn) {
    if let Some(leaf) = &conn.exec_leaf {
        let left = leaf.kill_and_wait(GIVE_UP);
        if left > 0 {
            tracing::error!(
                "{left} process(es) of cgroup {} could not be killed",
                leaf.path().display()
            );
        }
    }
}

/// Removes the exec's cgroup leaf (`exec` removes it too; whoever comes second finds it gone).
fn remove_leaf(conn: &mut Conn) {
    if let Some(leaf) = conn.exec_leaf.take()
        && let Err(e) = leaf.remove()
    {
        tracing::warn!("cannot remove cgroup {}: {e}", leaf.path().display());
    }
}

struct Conn {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    /// The checkpoint of an `exec` in progress on this connection.
    exec: Option<u64>,
    /// The command of that `exec` and when it began, for the audit log.
    exec_started: Option<(String, std::time::Instant)>,
    /// The cgroup leaf that `exec` runs its command in, when it has one.
    exec_leaf: Option<Leaf>,
    /// The `run` session registered on this connection (its id in `Daemon::sessions`).
    session: Option<u64>,
    /// This connection's `exec` and `run` sessions in `Daemon::live`.
    live_exec: Option<u64>,
    live_run: Option<u64>,
}

/// The `run` and `exec` sessions in progress, for `status`, by registration order.
#[derive(Debug, Default)]
pub(super) struct Live {
    next: std::sync::atomic::AtomicU64,
    sessions: std::sync::Mutex<std::collections::BTreeMap<u64, reply::Session>>,
}

impl Live {
    fn add(&self, kind: &str, pid: i32, command: &str, cgroup: bool) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.lock().insert(
            id,
            reply::Session {
                kind: kind.to_string(),
                pid,
                command: command.to_string(),
                since,
                containment: if cgroup { "cgroup" } else { "subreaper" }.to_string(),
            },
        );
        id
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    fn list(&self) -> Vec<reply::Session> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<u64, reply::Session>> {
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Conn {
    fn next(&mut self) -> Option<Result<Request, Error>> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(parse_request(&line)),
        }
    }

    fn send(&mut self, r: &Frame) -> bool {
        self.writer.write_all(&r.to_line()).is_ok()
    }
}

fn handle(daemon: &Daemon, conn: &mut Conn, req: Request) -> Result<Reply, Error> {
    Ok(match req {
        Request::Info => Reply::Info(info(daemon)),
        Request::Status => Reply::Status(status(daemon)?),
        Request::Diff { from, to, binary } => {
            Reply::Diff(super::diff::diff(daemon, from, to, binary)?)
        }
        Request::Commit {
            message,
            paths,
            force,
            allow_setid,
            dry_run,
            exclude,
        } => Reply::Commit({
            if paths.is_empty() && !dry_run {
                // Publishing everything ends the transaction the agents worked in.
                stop_sessions(daemon, "commit");
            }
            super::commit::commit(
                daemon,
                &message,
                &paths,
                &exclude,
                force,
                allow_setid,
                dry_run,
            )?
        }),
        Request::AbortPaths { paths, dry_run } => {
            Reply::AbortPaths(super::commit::abort_paths(daemon, &paths, dry_run)?)
        }
        Request::Abort => {
            stop_sessions(daemon, "abort");
            let inval = txn::abort(&mut *lock(&daemon.overlay)).map_err(failure)?;
            daemon.invalidate(&inval);
            Reply::Aborted(reply::Aborted { aborted: true })
        }
        Request::Checkpoint { message } => {
            let id = txn::checkpoint(&mut *lock(&daemon.overlay), "checkpoint", &message, None)
                .map_err(failure)?;
            Reply::Checkpoint(reply::Checkpoint { checkpoint: id })
        }
        Request::Log => Reply::Log(super::audit::log(daemon)?),
        Request::Record { event } => {
            daemon
                .audit
                .record(event)
                .map_err(|e| Error::io("audit log", &e))?;
            Reply::Recorded(reply::Recorded { recorded: true })
        }
        Request::Rollback { to } => {
            rollback(daemon, to)?;
            Reply::RolledBack(reply::RolledBack { rolled_back_to: to })
        }
        Request::Unmount { mode } => Reply::Unmounted(unmount(daemon, mode)?),
        Request::Gc { max_age_secs } => {
            let age = max_age_secs.map(|s| {
                i64::try_from(s)
                    .unwrap_or(i64::MAX / 2)
                    .saturating_mul(1_000_000_000)
            });
            let report = txn::gc(&mut *lock(&daemon.overlay), age).map_err(failure)?;
            Reply::Gc(reply::Gc {
                checkpoints: report.checkpoints as u64,
                blobs: report.blobs as u64,
            })
        }
        Request::ExecBegin {
            command,
            cgroup,
            pid,
        } => {
            if conn.exec.is_some() {
                return Err(Error::new(
                    Code::BadRequest,
                    "an exec is already in progress on this connection",
                ));
            }
            if let Some(path) = cgroup {
                // Checked before anything else: a client names only a cgroup of its own.
                let owner = peer_pid(&conn.writer).map_err(failure)?;
                conn.exec_leaf = Some(
                    Leaf::adopt(&path, owner)
                        .map_err(|e| Error::new(Code::BadRequest, e.to_string()))?,
                );
            }
            let peer = peer_pid(&conn.writer).ok();
            let supervisor = match (pid, peer) {
                // Only a process of the peer's own tree (exec inside a `run` session reaches
                // us through `run`'s relay).
                (Some(p), Some(peer)) if p == peer || descends(p, peer) => Some(p),
                (_, peer) => peer,
            };
            let leaf = conn
                .exec_leaf
                .as_ref()
                .zip(crate::confine::cgroup::mount_point())
                .map(|(l, m)| (m, l.path().to_owned()));
            // Attribution starts before the checkpoint, so no write after it goes unnoted;
            // the session is keyed by its checkpoint once there is one.
            static PENDING: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let pending = u64::MAX - PENDING.fetch_add(1, Ordering::Relaxed);
            // `exec` itself, when its reaper is the supervisor: its broker acts for the command.
            // Not `run` relaying for an `exec` inside it (the reaper's parent is that `exec`).
            let broker = peer.filter(|&peer| {
                supervisor
                    .is_some_and(|p| p != peer && crate::txn::writers::parent_of(p) == Some(peer))
            });
            daemon.writers.begin(pending, leaf, supervisor, broker);
            let id = txn::checkpoint(
                &mut *lock(&daemon.overlay),
                "exec",
                &format!("before: {command}"),
                Some(&command),
            )
            .map_err(|e| {
                daemon.writers.end(pending);
                failure(e)
            })?;
            daemon.writers.rekey(pending, id);
            conn.live_exec = Some(daemon.live.add(
                "exec",
                supervisor.unwrap_or(0),
                &command,
                conn.exec_leaf.is_some(),
            ));
            conn.exec = Some(id);
            conn.exec_started = Some((command, std::time::Instant::now()));
            Reply::ExecBegun(reply::ExecBegun { checkpoint: id })
        }
        Request::RunBegin { cgroup, command } => {
            if conn.session.is_some() {
                return Err(Error::new(
                    Code::BadRequest,
                    "a run session is already registered on this connection",
                ));
            }
            let owner = peer_pid(&conn.writer).map_err(failure)?;
            let held = match cgroup {
                // A client names only a cgroup of its own.
                Some(cgroup) => Held::Leaf(
                    Leaf::adopt(&cgroup, owner)
                        .map_err(|e| Error::new(Code::BadRequest, e.to_string()))?,
                ),
                // Without one, the tree below the client, which `run` keeps as its subreaper.
                None => Held::Tree(Subtree::adopt(owner).ok_or_else(|| {
                    Error::new(Code::BadRequest, "the run session's process is gone")
                })?),
            };
            let cgroup = matches!(held, Held::Leaf(_));
            let id = daemon.sessions.add(held);
            conn.session = Some(id);
            conn.live_run = Some(daemon.live.add("run", owner, &command, cgroup));
            Reply::RunBegun(reply::RunBegun { session: id })
        }
        Request::ExecEnd {
            exit_code,
            rollback: undo,
            denials,
        } => {
            for d in &denials {
                tracing::warn!("exec at checkpoint {:?}: {d}", conn.exec);
            }
            let id = conn.exec.take().ok_or_else(|| {
                Error::new(Code::BadRequest, "no exec in progress on this connection")
            })?;
            if let Some(live) = conn.live_exec.take() {
                daemon.live.remove(live);
            }
            {
                let ov = lock(&daemon.overlay);
                let cmd = ov
                    .log_entry(id)
                    .ok()
                    .flatten()
                    .and_then(|r| r.command)
                    .unwrap_or_default();
                ov.set_log_outcome(id, &cmd, exit_code).map_err(failure)?;
            }
            // `exec` has settled the command's processes already; this catches any it missed.
            stop_leaf(conn);
            let undone = if undo {
                rollback_session(daemon, id).map(Some)
            } else {
                Ok(None)
            };
            daemon.writers.end(id);
            remove_leaf(conn);
            let undone = undone?;
            record_exec(daemon, conn, id, exit_code, undo, None, denials);
            let (scope, reverted, conflicts) = match undone {
                None => (reply::RollbackScope::None, None, Vec::new()),
                Some(u) if u.reverted.is_none() => (reply::RollbackScope::All, None, Vec::new()),
                Some(u) => (reply::RollbackScope::Paths, u.reverted, u.conflicts),
            };
            Reply::ExecEnded(reply::ExecEnded {
                checkpoint: id,
                rolled_back: undo,
                scope,
                reverted,
                conflicts,
            })
        }
    })
}

fn info(daemon: &Daemon) -> reply::Info {
    reply::Info {
        workspace: daemon.config.workspace.clone(),
        view: daemon.config.view.clone(),
        store: daemon.config.store.clone(),
    }
}

/// Appends the audit event of the `exec` that began at checkpoint `id` on `conn`. The command
/// passed the gate (`exec` asks it before beginning), so its verdict is `allow`. A failure to
/// record is logged, not returned: the command's transaction is already decided.
fn record_exec(
    daemon: &Daemon,
    conn: &mut Conn,
    id: u64,
    exit_code: Option<i32>,
    rolled_back: bool,
    reason: Option<&str>,
    denials: Vec<String>,
) {
    let (command, started) = conn
        .exec_started
        .take()
        .map_or((None, None), |(c, t)| (Some(c), Some(t)));
    let event = Event {
        kind: "exec".into(),
        command,
        exit_code,
        audit: reply::Audit {
            checkpoint: Some(id),
            verdict: Some("allow".into()),
            reason: reason.map(str::to_owned),
            duration_ms: started
                .map(|t| u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)),
            rolled_back: Some(rolled_back),
            denials,
            ..Default::default()
        },
        ..Default::default()
    };
    if let Err(e) = daemon.audit.record(event) {
        tracing::error!("audit log: {e}");
    }
}

/// What a session rollback reverted: `reverted` is `None` when no one else wrote since its
/// checkpoint and the whole view went back to it.
struct Undone {
    reverted: Option<Vec<String>>,
    conflicts: Vec<String>,
}

/// Rolls back the `exec` session of checkpoint `id`: the whole view when no one else wrote
/// since the checkpoint (everything that changed is the session's), else only the paths the
/// session wrote, keeping (and reporting) those another writer wrote too.
///
/// After an abort (of everything or of some paths) since the checkpoint, nothing is rolled
/// back: the checkpoint holds work the abort discarded, and restoring it would bring that work
/// back. What the command wrote after the abort stays in the overlay, for review.
fn rollback_session(daemon: &Daemon, id: u64) -> Result<Undone, Error> {
    let mut ov = lock(&daemon.overlay);
    let aborted = ov
        .log()
        .map_err(failure)?
        .iter()
        .take_while(|r| r.id > id)
        .any(|r| r.kind == "abort");
    if aborted {
        tracing::warn!(
            "exec of checkpoint {id}: not rolled back, the overlay was aborted since it began"
        );
        return Ok(Undone {
            reverted: Some(Vec::new()),
            conflicts: Vec::new(),
        });
    }
    // Read with the overlay locked: every change the overlay holds was noted before it
    // reached it.
    let (own, others) = daemon.writers.touched_since(id);
    if others.is_empty() {
        let inval = txn::rollback(&mut *ov, id).map_err(failure)?;
        drop(ov);
        daemon.invalidate(&inval);
        return Ok(Undone {
            reverted: None,
            conflicts: Vec::new(),
        });
    }
    let done = txn::rollback_session(&mut *ov, id, &own, &others).map_err(failure)?;
    drop(ov);
    daemon.invalidate(&done.invalidation);
    if !done.conflicts.is_empty() {
        tracing::warn!(
            "exec of checkpoint {id}: kept {} path(s) another writer also changed: {}",
            done.conflicts.len(),
            done.conflicts.join(", ")
        );
    }
    Ok(Undone {
        reverted: Some(done.reverted),
        conflicts: done.conflicts,
    })
}

/// Whether process `pid` descends from `ancestor` (read from `/proc`).
fn descends(pid: i32, ancestor: i32) -> bool {
    let mut at = pid;
    for _ in 0..4096 {
        let Some(parent) = std::fs::read_to_string(format!("/proc/{at}/stat"))
            .ok()
            .and_then(|s| {
                s.rfind(')')
                    .and_then(|i| s[i + 1..].split_whitespace().nth(1)?.parse::<i32>().ok())
            })
        else {
            return false;
        };
        if parent == ancestor {
            return true;
        }
        if parent <= 1 {
            return false;
        }
        at = parent;
    }
    false
}

/// Rolls the view back to checkpoint `id` and makes the kernel forget what changed.
fn rollback(daemon: &Daemon, id: u64) -> Result<(), Error> {
    let inval = txn::rollback(&mut *lock(&daemon.overlay), id).map_err(failure)?;
    daemon.invalidate(&inval);
    Ok(())
}

fn status(daemon: &Daemon) -> Result<reply::Status, Error> {
    // Answered from the overlay's index: nothing is sealed, hashed or written.
    let ov = lock(&daemon.overlay);
    let ws = super::commit::workspace(&ov, daemon)?;
    let conflicts = txn::conflicts(&*ov, &ws)
        .map_err(failure)?
        .iter()
        .map(|c| reply::Conflict {
            path: c.path.to_string(),
            reason: c.reason.clone(),
        })
        .collect();
    let changes = ov.changes().map_err(failure)?;
    let mut bytes = 0u64;
    for c in &changes {
        if let Some(ino) = c.ino
            && ov
                .node(ino)
                .is_some_and(|n| matches!(n.data, Data::Work | Data::Blob(_)))
        {
            // The attributes as the view shows them (a file the kernel writes directly
            // knows its size best).
            bytes += ov.getattr(ino).map_or(0, |a| a.size);
        }
    }
    let log = ov.log().map_err(failure)?;
    let checkpoint = log
        .iter()
        .find(|r| !r.snapshot.is_empty() && r.kind != "rollback" && r.kind != "abort")
        .map(|r| r.id);
    Ok(reply::Status {
        workspace: daemon.config.workspace.clone(),
        view: daemon.config.view.clone(),
        store: daemon.config.store.clone(),
        mounted: true,
        passthrough: daemon.passthrough.load(Ordering::Relaxed),
        entries: changes.len() as u64,
        bytes,
        checkpoint: checkpoint.unwrap_or(0),
        epoch: txn::epoch(&*ov).map_err(failure)?,
        conflicts,
        changes: super::diff::listed(&ov, &changes),
        sessions: daemon.live.list(),
    })
}

fn unmount(daemon: &Daemon, mode: UnmountMode) -> Result<reply::Unmounted, Error> {
    let refuse = |pending: usize| {
        Error::new(
            Code::UncommittedChanges,
            format!(
                "{pending} uncommitted changes; commit or abort them, or unmount with --keep or --abort"
            ),
        )
    };
    if mode == UnmountMode::Refuse {
        let pending = lock(&daemon.overlay).changes().map_err(failure)?.len();
        if pending > 0 {
            return Err(refuse(pending));
        }
    }
    // Once the view is gone, an agent left running would write into the workspace itself.
    stop_sessions(daemon, "unmount");
    {
        let mut ov = lock(&daemon.overlay);
        let pending = ov.changes().map_err(failure)?.len();
        match mode {
            UnmountMode::Refuse if pending > 0 => return Err(refuse(pending)),
            UnmountMode::Abort if pending > 0 => {
                txn::abort(&mut *ov).map_err(failure)?;
            }
            _ => {}
        }
        ov.flush().map_err(failure)?;
    }
    daemon
        .unmount()
        .map_err(|e| Error::io(format_args!("unmount {}", daemon.config.view.display()), &e))?;
    Ok(reply::Unmounted { unmounted: true })
}
