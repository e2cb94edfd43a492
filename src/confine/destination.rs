//! Where a confined command's connect or addressed send may go: the connect broker's decision
//! ([`Policy`]), and the connect it makes once it allows one ([`connect_to`]).
//!
//! Invariants:
//! - A pathname unix socket is connected only when the file the kernel would connect to
//!   (resolved from the caller's working directory, through every symlink and `..`, pinned by
//!   an `O_PATH` fd) lies beneath one of the policy's roots (the view, the command's `TMPDIR`, a
//!   `run` session's socket directory), or is one of [`NAME_SERVICES`]; it is connected
//!   through `/proc/self/fd/N` of the fd that was checked. Anything else fails with `EACCES`.
//! - Abstract unix addresses fail with `EPERM`: the broker is not in the command's Landlock
//!   domain, so it cannot tell the command's own abstract sockets from the daemon's.
//! - TCP follows the spec's [`Net`] exactly as Landlock would (`EACCES` when denied), since the
//!   broker, not the command, makes the connection.
//! - Without `host_services` (under `run`), a destination on this host is reached only when
//!   only the session holds what listens there ([`hostnet::reachable`]), and a TCP connection
//!   to it is kept only when its other end is the session's ([`hostnet::peer_is_sessions`],
//!   after the connect, waited for even when the socket does not block); else
//!   `ECONNREFUSED` (TCP, the connection broken first) or `EACCES` (a datagram).
//! - Every refusal is noted once ([`take_refused`]), for the audit log.

use std::ffi::OsStr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::broker::{Caller, last_errno};
use super::hostnet::{self, Reach};
use super::spec::Net;

/// Sockets any confined command may connect to: name services that answer lookups only.
pub const NAME_SERVICES: &[&str] = &[
    "/run/systemd/resolve/io.systemd.Resolve",
    "/run/nscd/socket",
];

/// The connects the broker refused in this process, one line each, for the audit log.
static REFUSED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// At most this many refusals are kept (the first ones).
const REFUSED_MAX: usize = 32;

/// Notes a refused connect.
pub(crate) fn refused(line: String) {
    let mut list = REFUSED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if list.len() < REFUSED_MAX && !list.contains(&line) {
        list.push(line);
    }
}

/// The connects refused so far in this process (and forgets them).
pub fn take_refused() -> Vec<String> {
    std::mem::take(
        &mut *REFUSED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
}

/// What a command may connect to.
#[derive(Debug)]
pub(crate) struct Policy {
    /// Directories (canonical) beneath which pathname sockets are allowed.
    roots: Vec<PathBuf>,
    /// Trees and files (canonical) whose metadata the command may change.
    writable: Vec<PathBuf>,
    /// Single sockets allowed wherever they are.
    files: Vec<PathBuf>,
    /// TCP policy.
    net: Net,
    /// Whether local destinations the command's tree does not own are reachable.
    host_services: bool,
}

impl Policy {
    /// The policy for socket `roots`, `writable` roots (missing ones are left out of both),
    /// `net` and `host_services`.
    pub(crate) fn new(
        roots: &[PathBuf],
        writable: &[PathBuf],
        net: &Net,
        host_services: bool,
    ) -> Policy {
        let canonical = |paths: &[PathBuf]| {
            paths
                .iter()
                .filter_map(|r| std::fs::canonicalize(r).ok())
                .collect()
        };
        Policy {
            roots: canonical(roots),
            writable: canonical(writable),
            files: NAME_SERVICES.iter().map(PathBuf::from).collect(),
            net: net.clone(),
            host_services,
        }
    }

    /// Whether the socket file open as `file` may be connected to: where it really is (its
    /// path after every symlink and `..`, as the kernel resolved it) lies beneath a root, or
    /// is one of the single files. Else the errno.
    fn check(&self, file: &OwnedFd) -> Result<(), i32> {
        let at = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
            .map_err(|_| libc::EACCES)?;
        let beneath = self
            .roots
            .iter()
            .any(|r| at.starts_with(r) && at.as_path() != r.as_path());
        if beneath || self.files.contains(&at) {
            Ok(())
        } else {
            Err(libc::EACCES)
        }
    }
}

impl Policy {
    /// Whether the command may change the metadata (`verb`) of the object `file` pins: where
    /// it really is lies in a writable root (or is one). Else `EPERM`, noted.
    pub(crate) fn may_change(&self, file: &OwnedFd, verb: &str) -> Result<(), i32> {
        let at = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
            .map_err(|_| libc::EPERM)?;
        if self.writable.iter().any(|r| at.starts_with(r)) {
            return Ok(());
        }
        refused(format!("{verb} {} refused: outside the view", at.display()));
        Err(libc::EPERM)
    }
}

/// Where a brokered call may go: the address to use (a pathname socket is reached through
/// `/proc/self/fd/N` of the `O_PATH` fd that was checked, which `_pin` keeps open).
pub(crate) struct Target {
    pub(crate) addr: Vec<u8>,
    _pin: Option<OwnedFd>,
    /// A local TCP destination whose connection must end at the session's
    /// ([`connect_to`]).
    pub(crate) session_peer: Option<std::net::SocketAddr>,
}

/// Connects `sock` to `to`. A connection that must end at the session's is waited for (also
/// on a socket that does not block), then checked, and broken with `ECONNREFUSED` when its
/// other end is not the session's.
pub(crate) fn connect_to(sock: &OwnedFd, to: &Target) -> Result<(), i32> {
    match connect_raw(sock, &to.addr) {
        Err(libc::EINPROGRESS) if to.session_peer.is_some() => wait_connected(sock)?,
        done => done?,
    }
    let Some(dest) = to.session_peer else {
        return Ok(());
    };
    if hostnet::peer_is_sessions(sock) {
        return Ok(());
    }
    refused(format!(
        "connect to host service {dest} refused: the connection reached a socket not the session's"
    ));
    // Dissolves the connection (a reset to the other end); the socket can connect again.
    let unspec = (libc::AF_UNSPEC as libc::sa_family_t).to_ne_bytes();
    let _ = connect_raw(sock, &unspec);
    Err(libc::ECONNREFUSED)
}

/// Waits until the connection `sock` started is made: its outcome.
fn wait_connected(sock: &OwnedFd) -> Result<(), i32> {
    loop {
        let mut pfd = libc::pollfd {
            fd: sock.as_raw_fd(),
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, -1) } > 0 {
            break;
        }
        if last_errno() != libc::EINTR {
            return Err(last_errno());
        }
    }
    match socket_option(sock, libc::SO_ERROR) {
        Some(0) => Ok(()),
        Some(errno) => Err(errno),
        None => Err(last_errno()),
    }
}

impl Policy {
    /// Whether `sock` of `caller` may connect or send (`verb`) to `addr` (a socket address of
    /// at least its family), and where to.
    pub(crate) fn target(
        &self,
        caller: &Caller,
        sock: &OwnedFd,
        addr: &[u8],
        verb: &str,
    ) -> Result<Target, i32> {
        if addr.len() < size_of::<libc::sa_family_t>() {
            return Err(libc::EINVAL);
        }
        let family = libc::sa_family_t::from_ne_bytes([addr[0], addr[1]]) as i32;
        let plain = || Target {
            addr: addr.to_vec(),
            _pin: None,
            session_peer: None,
        };
        match family {
            libc::AF_UNIX => self.unix_target(caller, &addr[2..], verb),
            libc::AF_INET | libc::AF_INET6 => {
                let Some((ip, port)) = inet(addr) else {
                    return Err(libc::EINVAL);
                };
                let allowed = match &self.net {
                    Net::Allow => true,
                    Net::Deny => false,
                    Net::AllowPorts(ports) => ports.contains(&port),
                };
                if !allowed {
                    refused(format!("{verb} tcp port {port} refused by --net"));
                    return Err(libc::EACCES);
                }
                let udp = datagram(sock);
                let reach = (!self.host_services && hostnet::is_local(ip))
                    .then(|| hostnet::reachable(ip, port, udp));
                if reach == Some(Reach::No) {
                    refused(format!(
                        "{verb} host service {} refused: not the session's",
                        std::net::SocketAddr::new(ip, port)
                    ));
                    // For TCP, as if nothing listened there: a client waiting for the
                    // session's own server to come up retries.
                    return Err(if udp {
                        libc::EACCES
                    } else {
                        libc::ECONNREFUSED
                    });
                }
                let stream = socket_option(sock, libc::SO_TYPE) == Some(libc::SOCK_STREAM);
                Ok(Target {
                    session_peer: (reach == Some(Reach::Session) && stream)
                        .then(|| std::net::SocketAddr::new(ip, port)),
                    ..plain()
                })
            }
            // AF_UNSPEC (dissolves a datagram association), netlink and the families the socket
            // filter lets through reach nothing outside by a path.
            _ => Ok(plain()),
        }
    }

    /// The pathname unix address `path` (the bytes after the family) of `caller`, if the
    /// policy allows it.
    fn unix_target(&self, caller: &Caller, path: &[u8], verb: &str) -> Result<Target, i32> {
        match path.first() {
            // Unnamed: nothing to connect to.
            None => return Err(libc::EINVAL),
            // Abstract: see the module's invariants.
            Some(0) => {
                let name = String::from_utf8_lossy(&path[1..]);
                refused(format!("{verb} abstract unix socket @{name} refused"));
                return Err(libc::EPERM);
            }
            Some(_) => {}
        }
        let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
        let name = &path[..end];
        // The file the kernel would connect to, resolved as the caller would (following
        // symlinks), pinned: what is checked is what gets connected.
        let file = caller.resolve(None, name, true, false)?;
        if let Err(errno) = self.check(&file) {
            let at = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
                .unwrap_or_else(|_| PathBuf::from(OsStr::from_bytes(name)));
            refused(format!(
                "{verb} unix socket {} refused: outside the view",
                at.display()
            ));
            return Err(errno);
        }
        // SAFETY: a zeroed stat is valid; fstat fills it from an fd we own.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        if unsafe { libc::fstat(file.as_raw_fd(), &mut st) } != 0 {
            return Err(last_errno());
        }
        if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
            return Err(libc::ECONNREFUSED);
        }
        let via = format!("/proc/self/fd/{}", file.as_raw_fd());
        let mut addr = (libc::AF_UNIX as libc::sa_family_t).to_ne_bytes().to_vec();
        addr.extend_from_slice(via.as_bytes());
        addr.push(0);
        Ok(Target {
            addr,
            _pin: Some(file),
            session_peer: None,
        })
    }
}

/// The IP address and port of an `AF_INET` or `AF_INET6` socket address.
fn inet(addr: &[u8]) -> Option<(std::net::IpAddr, u16)> {
    let port = u16::from_be_bytes([*addr.get(2)?, *addr.get(3)?]);
    let family = libc::sa_family_t::from_ne_bytes([addr[0], addr[1]]) as i32;
    let ip = if family == libc::AF_INET {
        let b: [u8; 4] = addr.get(4..8)?.try_into().ok()?;
        std::net::IpAddr::from(b)
    } else {
        let b: [u8; 16] = addr.get(8..24)?.try_into().ok()?;
        std::net::IpAddr::from(b)
    };
    Some((ip, port))
}

/// Whether `sock` is a datagram socket (UDP, for inet).
fn datagram(sock: &OwnedFd) -> bool {
    socket_option(sock, libc::SO_TYPE) == Some(libc::SOCK_DGRAM)
}

/// The integer socket option `opt` (`SOL_SOCKET` level) of `sock`.
pub(crate) fn socket_option(sock: &OwnedFd, opt: libc::c_int) -> Option<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `value`.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&raw mut value).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(value)
}

/// `connect(sock, addr)`.
fn connect_raw(sock: &OwnedFd, addr: &[u8]) -> Result<(), i32> {
    loop {
        // SAFETY: `addr` holds a socket address of `addr.len()` bytes, valid for the call.
        let rc = unsafe {
            libc::connect(
                sock.as_raw_fd(),
                addr.as_ptr().cast(),
                addr.len() as libc::socklen_t,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        match last_errno() {
            // Interrupted here, not in the caller: the connection attempt goes on.
            libc::EINTR => continue,
            errno => return Err(errno),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sockets_beneath_a_root_are_allowed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("view");
        std::fs::create_dir_all(root.join("sub")).expect("mkdir");
        let outside = dir.path().join("outside.sock");
        let _out = std::os::unix::net::UnixListener::bind(&outside).expect("bind");
        let inside = root.join("sub/in.sock");
        let _ins = std::os::unix::net::UnixListener::bind(&inside).expect("bind");
        std::os::unix::fs::symlink(&outside, root.join("out-link.sock")).expect("symlink");
        std::os::unix::fs::symlink(&inside, root.join("in-link.sock")).expect("symlink");
        let policy = Policy::new(std::slice::from_ref(&root), &[], &Net::Allow, true);
        let open = |p: &std::path::Path| {
            crate::sys::open_named(None, p.as_os_str().as_bytes(), true).expect("open")
        };
        for good in [
            inside.clone(),
            root.join("in-link.sock"),
            root.join("sub/../sub/in.sock"),
        ] {
            assert_eq!(policy.check(&open(&good)), Ok(()), "{good:?}");
        }
        for bad in [
            outside.clone(),
            root.join("out-link.sock"),
            root.join("../outside.sock"),
            root.clone(),
        ] {
            assert_eq!(policy.check(&open(&bad)), Err(libc::EACCES), "{bad:?}");
        }
    }
}
