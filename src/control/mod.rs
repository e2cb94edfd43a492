//! The control protocol between the command line and the mount daemon.
//!
//! One JSON request per line over a Unix socket in the abstract namespace, named after the
//! workspace's canonical path, so any command finds the daemon from the workspace path alone
//! whatever `--store` the mount used. An abstract socket has no file to protect; instead the
//! daemon checks each peer's credentials (same user, or root), and `exec` confines commands
//! with Landlock's abstract-socket scoping so they cannot reach it at all.

use std::io::{self, BufRead, BufReader, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixStream};
use std::path::Path;

use serde::{Deserialize, Serialize};

pub mod proxy;

/// A request to the daemon.
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
    },
    /// Appends an event (`daemon::audit::Event` as JSON) to the audit log.
    Record {
        event: serde_json::Value,
    },
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

/// The daemon's answer: `{"ok": true, "result": ...}` or `{"ok": false, "error": "..."}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
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

    fn on(stream: UnixStream) -> io::Result<Client> {
        let writer = stream.try_clone()?;
        Ok(Client {
            reader: BufReader::new(stream),
            writer,
        })
    }

    /// Sends `req` and waits for the answer.
    pub fn call(&mut self, req: &Request) -> io::Result<Response> {
        let mut line = serde_json::to_vec(req).map_err(io::Error::other)?;
        line.push(b'\n');
        self.writer.write_all(&line)?;
        let mut answer = String::new();
        if self.reader.read_line(&mut answer)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the daemon closed the connection",
            ));
        }
        serde_json::from_str(&answer).map_err(io::Error::other)
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
