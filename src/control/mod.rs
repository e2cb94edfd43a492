//! The control protocol between the command line and the mount daemon.
//!
//! One JSON request per line over a Unix socket in the abstract namespace, named after the
//! workspace's canonical path, so any command finds the daemon from the workspace path alone
//! whatever `--store` the mount used. An abstract socket has no file to protect; instead the
//! daemon checks each peer's credentials (same user, or root), and `exec` confines commands
//! with Landlock's abstract-socket scoping so they cannot reach it at all.
//!
//! Every frame carries the protocol version `v` ([`PROTOCOL`]): a request is
//! `{"v":2,"op":"status",...}` ([`Request`]), an answer `{"v":2,"ok":true,"result":...}` (the
//! result is the request's type in [`reply`]) or `{"v":2,"ok":false,"code":"...","error":"..."}`
//! ([`Error`]). Each side checks the other's version before reading anything else, so a
//! command line and a daemon of different versions fail with `version_mismatch` naming both
//! instead of misreading each other. An error frame keeps `error` a plain string, so even a
//! command line from before versioning prints the daemon's refusal as it is.

use std::io::{self, BufRead, BufReader, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixStream};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

mod error;
pub mod proxy;
pub mod reply;

pub use error::{Code, EXIT_ERROR, EXIT_USAGE, Error};

/// The version of the protocol this build speaks. Version 1 was the protocol before frames
/// carried a version; a frame without `v` is version 1.
pub const PROTOCOL: u32 = 2;

/// A request to the daemon; each is answered with the type [`reply`] lists for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Where the workspace, the view and the store are (cheap: no change list).
    Info,
    Status,
    Diff {
        from: Option<u64>,
        to: Option<u64>,
        /// Git binary patches for binary files (`diff --binary`).
        #[serde(default)]
        binary: bool,
    },
    Commit {
        message: String,
        paths: Vec<String>,
        force: bool,
        /// Also publish files that gained setuid, setgid, sticky or a file capability
        /// (`commit --allow-setid`); without it such files are refused.
        #[serde(default)]
        allow_setid: bool,
        /// List what would go, change nothing.
        #[serde(default)]
        dry_run: bool,
        /// Paths (with what is under them) not to publish unless a published change needs
        /// them (`commit --exclude-ignored`).
        #[serde(default)]
        exclude: Vec<String>,
    },
    Abort,
    /// Discards only the changes under `paths` (`abort PATH...`); with `dry_run`, lists them.
    AbortPaths {
        paths: Vec<String>,
        #[serde(default)]
        dry_run: bool,
    },
    Checkpoint {
        message: String,
    },
    Log,
    Rollback {
        to: u64,
    },
    /// Drops old restorable states and the blobs nothing references any more.
    Gc {
        max_age_secs: Option<u64>,
    },
    Unmount {
        mode: UnmountMode,
    },
    /// Starts a per-command transaction; the connection stays open until `ExecEnd`, and if it
    /// closes first (the `exec` process died), the daemon rolls the command's changes back.
    ExecBegin {
        command: String,
        /// The cgroup v2 leaf the command runs in, when `exec` could create one: the daemon
        /// kills everything in it before rolling back or ending the transaction.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cgroup: Option<std::path::PathBuf>,
        /// The pid of `exec` itself, the root of the command's process tree, for attributing
        /// writes where there is no cgroup (default: the peer's pid).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pid: Option<i32>,
    },
    ExecEnd {
        exit_code: Option<i32>,
        rollback: bool,
        /// What the confinement refused the command (the connect broker's refusals), for the
        /// audit log.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        denials: Vec<String>,
    },
    /// Registers an agent session (`run`): the cgroup v2 leaf it runs its agent in, or without
    /// one the process tree below the peer (`run`, a child subreaper); the connection stays
    /// open for the session. When it closes (`run` ended or was killed), and before any
    /// commit of everything, abort or unmount, the daemon kills everything in the leaf (or
    /// below `run`) and waits until nothing is left.
    RunBegin {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cgroup: Option<std::path::PathBuf>,
        /// The agent's command line, for `status`.
        #[serde(default)]
        command: String,
    },
    /// Appends an event to the audit log.
    Record {
        event: Event,
    },
}

/// One event of the audit log, as `record` carries it and `audit.jsonl` keeps it: one JSON
/// object, the audit fields ([`reply::Audit`]) at its top level.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// `exec` (a command ran), `refused` (the gate refused it), `run` (an agent session).
    pub kind: String,
    /// When it ended (nanoseconds since the epoch); set by the daemon.
    #[serde(default)]
    pub created_ns: i64,
    /// The command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The exit status, absent when a signal ended it or it never started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Checkpoint, verdict, rule, reason, duration, rollback, denials, origin.
    #[serde(flatten)]
    pub audit: reply::Audit,
}

/// What `unmount` does with uncommitted changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnmountMode {
    /// Refuse while the overlay holds changes.
    Refuse,
    /// Discard them first.
    Abort,
    /// Keep them in the store for the next mount.
    Keep,
}

/// A request as it goes over the socket: the version, then the request's own fields.
#[derive(Debug, Serialize)]
struct RequestFrame<'a> {
    v: u32,
    #[serde(flatten)]
    request: &'a Request,
}

/// The version field of any frame, read before the rest.
#[derive(Debug, Deserialize)]
struct Version {
    #[serde(default)]
    v: Option<u32>,
}

/// The daemon's answer as it goes over the socket: `{"v":2,"ok":true,"result":...}` or
/// `{"v":2,"ok":false,"code":"...","error":"..."}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Frame {
    /// The protocol version of the side that answered (none: version 1).
    #[serde(default)]
    pub v: Option<u32>,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Code>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Frame {
    /// The frame answering with `answer`.
    pub fn answer<T: Serialize>(answer: Result<T, Error>) -> Frame {
        let answer = answer.and_then(|r| {
            serde_json::to_value(r)
                .map_err(|e| Error::new(Code::Daemon, format!("the answer cannot be written: {e}")))
        });
        match answer {
            Ok(result) => Frame {
                v: Some(PROTOCOL),
                ok: true,
                result: Some(result),
                code: None,
                error: None,
            },
            Err(e) => Frame {
                v: Some(PROTOCOL),
                ok: false,
                result: None,
                code: Some(e.code),
                error: Some(e.message),
            },
        }
    }

    /// One line of the socket.
    pub fn to_line(&self) -> Vec<u8> {
        // A frame is a few plain fields and a value that was already serialized.
        let mut line = serde_json::to_vec(self).unwrap_or_else(|_| {
            format!(
                r#"{{"v":{PROTOCOL},"ok":false,"code":"daemon","error":"the answer cannot be written"}}"#
            )
            .into_bytes()
        });
        line.push(b'\n');
        line
    }

    /// The answer this frame carries, as the type `T` the request is answered with.
    pub fn into_result<T: DeserializeOwned>(self) -> Result<T, Error> {
        let theirs = self.v.unwrap_or(1);
        if theirs != PROTOCOL {
            return Err(Error::new(
                Code::VersionMismatch,
                format!(
                    "the daemon speaks control protocol {theirs} and this ftsb-fs ({}) speaks {PROTOCOL}; unmount with the ftsb-fs that mounted the workspace, then mount it again with this one",
                    env!("CARGO_PKG_VERSION")
                ),
            ));
        }
        if !self.ok {
            return Err(Error::new(
                self.code.unwrap_or(Code::Daemon),
                self.error
                    .unwrap_or_else(|| "the daemon failed without saying why".into()),
            ));
        }
        serde_json::from_value(self.result.unwrap_or_default()).map_err(|e| {
            Error::new(
                Code::Daemon,
                format!("the daemon's answer does not have the expected shape: {e}"),
            )
        })
    }
}

/// Reads one request line: its version first (a different one is refused with
/// `version_mismatch`, naming both), then the request (`bad_request` if it does not parse).
pub fn parse_request(line: &str) -> Result<Request, Error> {
    let theirs = serde_json::from_str::<Version>(line)
        .map_err(|e| Error::new(Code::BadRequest, format!("bad request: {e}")))?
        .v
        .unwrap_or(1);
    if theirs != PROTOCOL {
        return Err(Error::new(
            Code::VersionMismatch,
            format!(
                "this command line speaks control protocol {theirs} and the daemon (ftsb-fs {}) speaks {PROTOCOL}; use the ftsb-fs that mounted the workspace, or unmount and mount it again with the new one",
                env!("CARGO_PKG_VERSION")
            ),
        ));
    }
    serde_json::from_str(line)
        .map_err(|e| Error::new(Code::BadRequest, format!("bad request: {e}")))
}

/// The abstract socket name of the daemon serving `workspace` (a canonical path).
pub fn socket_name(workspace: &Path) -> String {
    let hash = blake3::hash(workspace.as_os_str().as_encoded_bytes());
    format!("ftsb-fs/{}", &hash.to_hex()[..32])
}

/// The socket address of the daemon serving `workspace`.
pub fn socket_addr(workspace: &Path) -> io::Result<SocketAddr> {
    SocketAddr::from_abstract_name(socket_name(workspace).as_bytes())
}

/// A connection to a daemon.
#[derive(Debug)]
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    /// Connects to the daemon of `workspace`; `ECONNREFUSED` means none is running.
    /// Inside a `run` session of that workspace this is the session socket ([`proxy`]).
    pub fn connect(workspace: &Path) -> io::Result<Client> {
        match proxy::session_socket(workspace) {
            Some(path) => Client::on(UnixStream::connect(path)?),
            None => Client::connect_daemon(workspace),
        }
    }

    /// Connects to the daemon's own socket, never to a session socket.
    pub fn connect_daemon(workspace: &Path) -> io::Result<Client> {
        Client::on(UnixStream::connect_addr(&socket_addr(workspace)?)?)
    }

    /// The connection's socket, for a process that must keep it open (`confine::reaper`).
    pub fn socket(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.writer)
    }

    fn on(stream: UnixStream) -> io::Result<Client> {
        let writer = stream.try_clone()?;
        Ok(Client {
            reader: BufReader::new(stream),
            writer,
        })
    }

    /// Sends `req` and returns the daemon's answer frame as it came.
    pub fn frame(&mut self, req: &Request) -> io::Result<Frame> {
        let mut line = serde_json::to_vec(&RequestFrame {
            v: PROTOCOL,
            request: req,
        })
        .map_err(io::Error::other)?;
        line.push(b'\n');
        self.writer.write_all(&line)?;
        let mut answer = String::new();
        if self.reader.read_line(&mut answer)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the daemon closed the connection",
            ));
        }
        serde_json::from_str(&answer).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the daemon's answer is not a frame: {e}"),
            )
        })
    }

    /// Sends `req` and reads the answer as `T`, the type [`reply`] lists for the request.
    pub fn call<T: DeserializeOwned>(&mut self, req: &Request) -> Result<T, Error> {
        self.frame(req)
            .map_err(|e| Error::io("control socket", &e))?
            .into_result()
    }
}

/// The user id of the process at the other end of `stream`.
pub fn peer_uid(stream: &UnixStream) -> io::Result<u32> {
    peer_cred(stream).map(|c| c.uid)
}

/// The process id of the process that connected `stream` (as of `connect`).
pub fn peer_pid(stream: &UnixStream) -> io::Result<libc::pid_t> {
    peer_cred(stream).map(|c| c.pid)
}

fn peer_cred(stream: &UnixStream) -> io::Result<libc::ucred> {
    use std::os::fd::AsRawFd;
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: the fd is an open socket; `cred`/`len` are valid for writing a ucred.
    let ret = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(cred)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client whose daemon is a thread answering each request line with `answer`.
    fn client_answering(answer: &'static str) -> (Client, std::thread::JoinHandle<String>) {
        let (ours, theirs) = UnixStream::pair().expect("socketpair");
        let daemon = std::thread::spawn(move || {
            let mut reader = BufReader::new(theirs.try_clone().expect("clone"));
            let mut line = String::new();
            reader.read_line(&mut line).expect("request");
            let mut w = theirs;
            w.write_all(answer.as_bytes()).expect("answer");
            line
        });
        (Client::on(ours).expect("client"), daemon)
    }

    #[test]
    fn requests_carry_the_version_and_the_daemon_reads_them_back() {
        let (mut client, daemon) = client_answering(
            r#"{"v":2,"ok":true,"result":{"workspace":"/w","view":"/v","store":"/s"}}
"#,
        );
        let info: reply::Info = client.call(&Request::Info).expect("answer");
        assert_eq!(info.view, Path::new("/v"));
        let line = daemon.join().expect("daemon thread");
        let sent: serde_json::Value = serde_json::from_str(&line).expect("one JSON line");
        assert_eq!(sent["v"], PROTOCOL, "{line}");
        assert_eq!(sent["op"], "info", "{line}");
        assert!(matches!(parse_request(&line), Ok(Request::Info)));
        let commit = serde_json::to_string(&RequestFrame {
            v: PROTOCOL,
            request: &Request::Rollback { to: 3 },
        })
        .expect("serialize");
        assert!(matches!(
            parse_request(&commit),
            Ok(Request::Rollback { to: 3 })
        ));
    }

    #[test]
    fn a_daemon_of_another_version_is_named_not_misread() {
        // A daemon from before versioning answers without `v`, in a shape this version would
        // misread (no `store`): the version is checked first.
        let (mut client, _daemon) =
            client_answering("{\"ok\":true,\"result\":{\"workspace\":\"/w\",\"view\":\"/v\"}}\n");
        let e = client
            .call::<reply::Info>(&Request::Info)
            .expect_err("another version");
        assert_eq!(e.code, Code::VersionMismatch, "{e}");
        assert!(
            e.message.contains("protocol 1") && e.message.contains(&format!("speaks {PROTOCOL}")),
            "{e}"
        );
        let (mut client, _daemon) =
            client_answering("{\"v\":3,\"ok\":false,\"code\":\"conflict\",\"error\":\"x\"}\n");
        let e = client
            .call::<reply::Info>(&Request::Info)
            .expect_err("another version");
        assert_eq!(e.code, Code::VersionMismatch, "{e}");
        assert!(e.message.contains("protocol 3"), "{e}");
    }

    #[test]
    fn a_command_line_of_another_version_is_refused_by_name() {
        for line in [r#"{"op":"info"}"#, r#"{"v":1,"op":"status"}"#] {
            let e = parse_request(line).expect_err("another version");
            assert_eq!(e.code, Code::VersionMismatch, "{line}: {e}");
            assert!(e.message.contains("protocol 1"), "{e}");
            assert!(e.message.contains(&format!("speaks {PROTOCOL}")), "{e}");
        }
        let e = parse_request(r#"{"v":2,"op":"no_such_op"}"#).expect_err("unknown op");
        assert_eq!(e.code, Code::BadRequest, "{e}");
        let e = parse_request("not json").expect_err("not json");
        assert_eq!(e.code, Code::BadRequest, "{e}");
    }

    #[test]
    fn refusals_keep_their_code_and_stay_readable_without_it() {
        let frame = Frame::answer::<reply::Info>(Err(Error::new(
            Code::Conflict,
            "commit refused: a changed",
        )));
        let line = String::from_utf8(frame.to_line()).expect("utf-8");
        // `error` stays a plain string: a command line from before versioning prints it.
        let v: serde_json::Value = serde_json::from_str(&line).expect("one JSON line");
        assert_eq!(v["error"], "commit refused: a changed", "{line}");
        assert_eq!(v["code"], "conflict", "{line}");
        let back: Frame = serde_json::from_str(&line).expect("frame");
        let e = back.into_result::<reply::Info>().expect_err("refusal");
        assert_eq!(e, Error::new(Code::Conflict, "commit refused: a changed"));
    }
}
