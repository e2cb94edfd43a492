//! The session socket: how an agent confined by `run` still reaches the daemon for the
//! requests its commands need, and only those.
//!
//! Under `run` the agent cannot connect to the daemon's abstract socket (Landlock IPC scoping).
//! Its shell commands, rewritten by the hooks to `ftsb-fs exec`, still need a per-command
//! checkpoint and rollback. So `run` binds a pathname socket in a private directory and passes
//! its path in [`CONTROL_ENV`]; [`Client::connect`](super::Client::connect) uses it when
//! [`WORKSPACE_ENV`] names the workspace asked for. Each connection to the session socket gets
//! its own connection to the daemon, so an `exec` that dies mid-command still has its changes
//! rolled back when its connection closes.
//!
//! Invariant: only [`allowed`] requests pass: reading (info, status, diff, log), checkpoints,
//! and the exec transaction. Commit, abort, rollback, gc and unmount are answered with an
//! error (code `refused_by_session`) and never reach the daemon: deciding about the session is
//! the user's, not the agent's. An exec's cgroup leaf is never relayed: the daemon would kill
//! whatever runs in the leaf named. The daemon's answers are relayed as they come, version and all.
//!
//! Deliberately not done here: authenticating the agent beyond the peer's uid (anything the
//! agent starts may use the socket; the allow list is what protects), or choosing where the
//! socket lives (that is `run`).

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use super::{Client, Code, Error, Frame, Request, parse_request, peer_uid};

/// Environment variable holding the session socket's path.
pub const CONTROL_ENV: &str = "FTSB_FS_CONTROL";
/// Environment variable holding the workspace of the session (set by `run`).
pub const WORKSPACE_ENV: &str = "FTSB_FS_WORKSPACE";

/// The session socket to use for `workspace`, when this process runs inside a session of it.
pub fn session_socket(workspace: &Path) -> Option<PathBuf> {
    let ws = std::env::var_os(WORKSPACE_ENV)?;
    let socket = std::env::var_os(CONTROL_ENV)?;
    (Path::new(&ws) == workspace).then(|| PathBuf::from(socket))
}

/// Whether a request from inside a session may reach the daemon.
pub fn allowed(req: &Request) -> bool {
    match req {
        Request::Info
        | Request::Status
        | Request::Diff { .. }
        | Request::Log
        | Request::Checkpoint { .. }
        | Request::ExecBegin { .. }
        | Request::ExecEnd { .. }
        | Request::Record { .. } => true,
        Request::Commit { .. }
        | Request::Abort
        | Request::AbortPaths { .. }
        | Request::Rollback { .. }
        | Request::Gc { .. }
        | Request::Unmount { .. }
        | Request::RunBegin { .. } => false,
    }
}

/// Serves `listener` for the daemon of `workspace` on a background thread, one thread per
/// connection, until the process exits.
pub fn spawn(listener: UnixListener, workspace: PathBuf) -> io::Result<()> {
    std::thread::Builder::new()
        .name("session-socket".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let ws = workspace.clone();
                let _ = std::thread::Builder::new()
                    .name("session-conn".into())
                    .spawn(move || relay(stream, &ws));
            }
        })
        .map(drop)
}

/// Relays one connection's allowed requests to the daemon; the daemon connection closes with
/// it.
fn relay(stream: UnixStream, workspace: &Path) {
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if !peer_uid(&stream).is_ok_and(|uid| uid == me || uid == 0) {
        return;
    }
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut upstream: Option<Client> = None;
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let response = match parse_request(&line) {
            Err(e) => refusal(e),
            Ok(req) if !allowed(&req) => refusal(Error::new(
                Code::RefusedBySession,
                format!(
                    "{} is not allowed inside an agent session; run it outside the agent",
                    op_name(&req)
                ),
            )),
            Ok(mut req) => {
                match &mut req {
                    // The agent's side could forge events: say where they came from.
                    Request::Record { event } => event.audit.from_session = true,
                    // The daemon checks a named leaf against `run`'s cgroup, which also holds
                    // the leaves of the user's other commands and sessions: it would kill
                    // what runs in any of them. An `exec` inside a session has no leaf of its
                    // own (`/sys` is read-only to the agent); what it starts stays in the
                    // session's.
                    Request::ExecBegin { cgroup, .. } => *cgroup = None,
                    _ => {}
                }
                if upstream.is_none() {
                    match Client::connect_daemon(workspace) {
                        Ok(c) => upstream = Some(c),
                        Err(e) => {
                            let _ = send(&mut writer, &refusal(Error::io("daemon", &e)));
                            return;
                        }
                    }
                }
                match upstream.as_mut().map(|c| c.frame(&req)) {
                    Some(Ok(r)) => r,
                    Some(Err(e)) => {
                        let _ = send(&mut writer, &refusal(Error::io("daemon", &e)));
                        return;
                    }
                    None => return,
                }
            }
        };
        if send(&mut writer, &response).is_err() {
            return;
        }
    }
}

fn op_name(req: &Request) -> String {
    serde_json::to_value(req)
        .ok()
        .and_then(|v| v["op"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "this request".into())
}

fn refusal(error: Error) -> Frame {
    Frame::answer::<()>(Err(error))
}

fn send(w: &mut UnixStream, r: &Frame) -> io::Result<()> {
    w.write_all(&r.to_line())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::UnmountMode;

    #[test]
    fn only_reading_checkpoints_and_exec_pass() {
        let pass = [
            Request::Info,
            Request::Status,
            Request::Log,
            Request::Diff {
                from: None,
                to: None,
                binary: true,
            },
            Request::Checkpoint {
                message: String::new(),
            },
            Request::ExecBegin {
                command: "true".into(),
                cgroup: None,
                pid: None,
            },
            Request::ExecEnd {
                exit_code: Some(0),
                rollback: false,
                denials: Vec::new(),
            },
        ];
        let refused = [
            Request::Commit {
                message: String::new(),
                paths: vec![],
                force: true,
                allow_setid: true,
                dry_run: false,
                exclude: vec![],
            },
            Request::Abort,
            Request::AbortPaths {
                paths: vec!["src".into()],
                dry_run: false,
            },
            Request::Rollback { to: 0 },
            Request::Gc { max_age_secs: None },
            Request::Unmount {
                mode: UnmountMode::Abort,
            },
            Request::RunBegin {
                cgroup: Some("/sys/fs/cgroup/ftsb-fs-exec-1-2-3".into()),
                command: String::new(),
            },
        ];
        assert!(pass.iter().all(allowed));
        assert!(!refused.iter().any(allowed));
        assert_eq!(op_name(&Request::Abort), "abort");
    }

    /// The session socket's refusals reach the agent with their codes, before any daemon is
    /// asked (none serves this workspace).
    #[test]
    fn refusals_carry_their_codes() {
        let (ours, theirs) = UnixStream::pair().expect("socketpair");
        let relayed = std::thread::spawn(move || relay(theirs, Path::new("/no/such/workspace")));
        let mut agent = Client::on(ours).expect("client");
        let e = agent.call::<crate::control::reply::Aborted>(&Request::Abort);
        assert_eq!(e.expect_err("refused").code, Code::RefusedBySession);
        let e = agent.call::<crate::control::reply::RolledBack>(&Request::Rollback { to: 1 });
        let e = e.expect_err("refused");
        assert_eq!(e.code, Code::RefusedBySession);
        assert!(e.message.contains("rollback is not allowed"), "{e}");
        // A frame of another version is refused as such, not relayed.
        agent
            .writer
            .write_all(b"{\"op\":\"status\"}\n")
            .expect("send");
        let mut line = String::new();
        agent.reader.read_line(&mut line).expect("answer");
        let frame: Frame = serde_json::from_str(&line).expect("frame");
        assert_eq!(frame.code, Some(Code::VersionMismatch), "{line}");
        drop(agent);
        relayed.join().expect("relay thread");
    }
}
