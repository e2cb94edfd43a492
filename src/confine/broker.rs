//! The connect broker: which sockets a confined command may connect to, decided outside it.
//!
//! Landlock (up to ABI 7) does not govern `connect()` to a pathname unix socket, and neither
//! file rights nor scoping apply to it: a confined command could reach any socket whose path it
//! knows, and through it a process outside its cgroup leaf and its view (D-Bus and systemd, so
//! `systemd-run`; `docker.sock`; a `tmux` or `screen` server; an ssh-agent; any daemon of the
//! user). Such a process would run what the command asks after the transaction ended and write
//! where the command cannot. So every `connect()` of a confined command is handed to a thread
//! of the process that started it (seccomp user notification), which decides and, when it
//! allows, connects the command's own socket itself.
//!
//! Owns: the seccomp program that turns `connect` into a notification ([`program`]), the
//! listener's journey from the child to this process ([`install`], then [`spawn`]'s thread),
//! and the decision ([`Policy`]).
//!
//! Invariants:
//! - A pathname unix socket is connected only when it lies beneath one of the policy's roots
//!   (the view, the command's `TMPDIR`, a `run` session's socket directory), reached with no
//!   symlink and no `..` out of the root (`openat2` with `RESOLVE_BENEATH |
//!   RESOLVE_NO_SYMLINKS`), or is one of [`NAME_SERVICES`]. Anything else fails with `EACCES`.
//! - Abstract unix addresses fail with `EPERM`: the broker is not in the command's Landlock
//!   domain, so it cannot tell the command's own abstract sockets from the daemon's.
//! - TCP follows the spec's [`Net`] exactly as Landlock would (`EACCES` when denied), since the
//!   broker, not the command, makes the connection.
//! - Without `host_services` (under `run`), a destination on this host is reached only when
//!   only the session holds what listens there ([`hostnet::reachable`]), and a TCP connection
//!   to it is kept only when its other end is the session's ([`hostnet::peer_is_sessions`],
//!   after the connect, waited for even when the socket does not block); else
//!   `ECONNREFUSED` (TCP, the connection broken first) or `EACCES` (a datagram).
//! - The broker never acts on the address as the command's memory holds it after the check:
//!   it reads the address once, and connects with its own copy (no `SECCOMP_USER_NOTIF_FLAG_
//!   CONTINUE`, which would let another thread of the command swap the address in between).
//!   A pathname socket is connected through `/proc/self/fd/N` of the `O_PATH` fd it checked.
//! - `io_uring_setup` fails with `EACCES` (io_uring connects without the `connect` syscall).
//! - Fails closed: if the broker is gone, every `connect` of the command fails (`ENOSYS`).
//! - The listener fd never reaches the command (it is close-on-exec, and taken by this process
//!   with `pidfd_getfd` before `execve`); were it inherited, the command could answer its own
//!   notifications.
//!
//! A command whose chain of filters already has a listener (an `exec` inside a `run` session)
//! cannot get one of its own (`EBUSY`): the enclosing broker, which allows at most the
//! session's roots, decides for it.
//!
//! The send calls that carry an address (`sendto` with one, every `sendmsg` and `sendmmsg`)
//! come here too and go through the same decision; [`super::relay`] makes them.
//!
//! Longer than 500 lines on purpose: it is one security boundary, and each piece relies on
//! the others' invariants (the filter that makes the notification, the listener's passage out
//! of the child, the loop that reads an address once and connects its own copy, the decision
//! on the fd it checked), stated once at the top of this file.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
fn refused(line: String) {
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

/// `sizeof(struct sockaddr_storage)`: the largest address `connect` takes.
const ADDR_MAX: usize = 128;

/// The native `AUDIT_ARCH_*` value the program checks.
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xc000_00b7;
#[cfg(target_arch = "riscv64")]
const AUDIT_ARCH: u32 = 0xc000_00f3;

/// Whether this build and kernel can run the broker: seccomp user notifications (5.0) and
/// `pidfd_getfd` (5.6). Without them the broker is left out (the report says so) rather than
/// making every `connect` fail.
pub(crate) fn supported() -> bool {
    static SUPPORTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        let arch = cfg!(any(
            target_arch = "x86_64",
            target_arch = "aarch64",
            target_arch = "riscv64"
        ));
        let action = libc::SECCOMP_RET_USER_NOTIF;
        // SAFETY: SECCOMP_GET_ACTION_AVAIL reads the u32 it is given and changes nothing.
        let notif = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_GET_ACTION_AVAIL,
                0 as libc::c_uint,
                &action as *const libc::c_uint,
            )
        } == 0;
        // SAFETY: with pidfd -1 the call fails at once: EBADF where it exists, ENOSYS where not.
        let getfd = unsafe { libc::syscall(libc::SYS_pidfd_getfd, -1, 0, 0) } == 0
            || last_errno() != libc::ENOSYS;
        arch && notif && getfd
    })
}

/// What a command may connect to.
#[derive(Debug)]
pub(crate) struct Policy {
    /// Directories (canonical) beneath which pathname sockets are allowed.
    roots: Vec<PathBuf>,
    /// Single sockets allowed wherever they are.
    files: Vec<PathBuf>,
    /// TCP policy.
    net: Net,
    /// Whether local destinations the command's tree does not own are reachable.
    host_services: bool,
}

impl Policy {
    /// The policy for `roots` (missing ones are left out), `net` and `host_services`.
    pub(crate) fn new(roots: &[PathBuf], net: &Net, host_services: bool) -> Policy {
        Policy {
            roots: roots
                .iter()
                .filter_map(|r| std::fs::canonicalize(r).ok())
                .collect(),
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

/// What the child needs to hand its listener over, prepared in the parent.
#[derive(Debug)]
pub(crate) struct Child {
    /// The BPF program.
    prog: Vec<libc::sock_filter>,
    /// The child's end of the socket pair the listener is sent over.
    end: OwnedFd,
}

/// The program: `connect`, `sendmsg`, `sendmmsg` and `sendto` with an address notify the
/// listener, `io_uring_setup` fails with `EACCES`, everything else (and every other
/// architecture, which the other filters kill) passes.
fn program() -> Vec<libc::sock_filter> {
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    let op = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    // Jump offsets count from the next instruction: NOTIF is at 12, ERRNO at 13, ALLOW at 14.
    vec![
        // seccomp_data.arch is at offset 4, .nr at 0, args[4] at 48 (low word) and 52.
        op(LD_W_ABS, 0, 0, 4),
        op(JEQ_K, 0, 12, AUDIT_ARCH),
        op(LD_W_ABS, 0, 0, 0),
        op(JEQ_K, 8, 0, libc::SYS_connect as u32),
        op(JEQ_K, 7, 0, libc::SYS_sendmsg as u32),
        op(JEQ_K, 6, 0, libc::SYS_sendmmsg as u32),
        op(JEQ_K, 6, 0, libc::SYS_io_uring_setup as u32),
        // sendto: only with a destination address (send() is sendto with none).
        op(JEQ_K, 0, 6, libc::SYS_sendto as u32),
        op(LD_W_ABS, 0, 0, 48),
        op(JEQ_K, 0, 2, 0),
        op(LD_W_ABS, 0, 0, 52),
        op(JEQ_K, 2, 0, 0),
        op(RET_K, 0, 0, libc::SECCOMP_RET_USER_NOTIF),
        op(RET_K, 0, 0, libc::SECCOMP_RET_ERRNO | libc::EACCES as u32),
        op(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW),
    ]
}

/// Prepares the broker for one command, in the parent: the program, the socket pair, and the
/// thread that receives the listener once the child has installed the filter and serves it
/// until no process of the command is left. The thread ends without serving if the command
/// never starts or an enclosing broker decides for it.
pub(crate) fn spawn(policy: Policy) -> io::Result<Child> {
    let mut fds = [-1; 2];
    // SAFETY: socketpair writes two new fds into `fds`.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are owned by nothing else.
    let (ours, end) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    std::thread::Builder::new()
        .name("ftsb-fs-connect".into())
        .spawn(move || {
            if let Some(listener) = recv_fd(&ours) {
                drop(ours);
                serve(Arc::new(policy), Arc::new(listener));
            }
        })?;
    Ok(Child {
        prog: program(),
        end,
    })
}

/// Installs the program with a new listener and sends the listener to the parent. Runs in
/// the child after fork: raw syscalls on memory prepared before fork, nothing else. The caller
/// has set `no_new_privs`. `EBUSY` (a listener already in the chain) is not an error.
pub(crate) fn install(child: &Child) -> io::Result<()> {
    let fprog = libc::sock_fprog {
        len: child.prog.len() as libc::c_ushort,
        filter: child.prog.as_ptr().cast_mut(),
    };
    let mut flags =
        libc::SECCOMP_FILTER_FLAG_NEW_LISTENER | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    let listener = loop {
        // SAFETY: `fprog` points into `child.prog`, which outlives the call; the kernel copies
        // the program. With NEW_LISTENER the call returns a new fd.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                flags as libc::c_uint,
                &fprog as *const libc::sock_fprog,
            )
        };
        if rc >= 0 {
            break rc as RawFd;
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            // Before 5.19: no killable wait; a signal may then interrupt a brokered connect.
            Some(libc::EINVAL) if flags & libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV != 0 => {
                flags = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
            }
            // An enclosing broker already decides for this process and its descendants.
            Some(libc::EBUSY) => return Ok(()),
            _ => return Err(err),
        }
    };
    let sent = send_fd(child.end.as_raw_fd(), listener);
    // SAFETY: `listener` is ours; the parent holds its own copy once sent.
    unsafe { libc::close(listener) };
    sent
}

/// Hands `listener` over to the parent: writes this process's pid and the fd's number on
/// `sock`, then waits until the parent has taken its copy (`pidfd_getfd`) and answered.
/// Async-signal-safe: raw syscalls on the stack. Not `sendmsg` with `SCM_RIGHTS`: the filter
/// just installed hands every `sendmsg` to the listener, which nobody would serve yet.
fn send_fd(sock: RawFd, listener: RawFd) -> io::Result<()> {
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    let mut msg = [0u8; 8];
    msg[..4].copy_from_slice(&pid.to_ne_bytes());
    msg[4..].copy_from_slice(&listener.to_ne_bytes());
    // SAFETY: writes the 8 bytes of `msg`, which lives across the call.
    if unsafe { libc::write(sock, msg.as_ptr().cast(), msg.len()) } != msg.len() as isize {
        return Err(io::Error::last_os_error());
    }
    let mut ack = 0u8;
    loop {
        // SAFETY: reads at most one byte into `ack`.
        let n = unsafe { libc::read(sock, (&raw mut ack).cast(), 1) };
        if n == 1 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if n < 0 && err.kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return Err(if n == 0 {
            io::Error::from(io::ErrorKind::UnexpectedEof)
        } else {
            err
        });
    }
}

/// Takes the listener the child announced with [`send_fd`] and lets it go on; `None` if the
/// child never announced one (it did not start, or an enclosing broker decides for it).
fn recv_fd(sock: &OwnedFd) -> Option<OwnedFd> {
    let mut msg = [0u8; 8];
    let n = loop {
        // SAFETY: reads at most 8 bytes into `msg`.
        let n = unsafe { libc::read(sock.as_raw_fd(), msg.as_mut_ptr().cast(), msg.len()) };
        if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        break n;
    };
    if n != msg.len() as isize {
        return None;
    }
    let pid = i32::from_ne_bytes([msg[0], msg[1], msg[2], msg[3]]);
    let fd = i32::from_ne_bytes([msg[4], msg[5], msg[6], msg[7]]);
    // The child waits for the answer below, so `pid` is still the child.
    // SAFETY: pidfd_open takes integers and returns a new fd or -1.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0 as libc::c_uint) };
    if raw < 0 {
        return None;
    }
    // SAFETY: a new fd that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(raw as RawFd) };
    // SAFETY: pidfd_getfd takes a pidfd we own, an fd number and flags 0.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    if raw < 0 {
        // No answer: the child sees the socket close and fails to start.
        return None;
    }
    // SAFETY: a new fd (the listener) that nothing else owns.
    let listener = unsafe { OwnedFd::from_raw_fd(raw as RawFd) };
    let ack = 1u8;
    // SAFETY: writes one byte, which lets the child go on.
    unsafe { libc::write(sock.as_raw_fd(), (&raw const ack).cast(), 1) };
    Some(listener)
}

/// Serves notifications until no process uses the filter any more (`POLLHUP`).
fn serve(policy: Arc<Policy>, listener: Arc<OwnedFd>) {
    loop {
        let mut pfd = libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, -1) };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if pfd.revents & libc::POLLIN == 0 {
            // POLLHUP: every process of the command has exited.
            return;
        }
        // SAFETY: the kernel requires a zeroed seccomp_notif for RECV.
        let mut notif: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: RECV fills `notif`, which lives across the call.
        let rc = unsafe {
            libc::ioctl(
                listener.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_RECV,
                &mut notif,
            )
        };
        if rc != 0 {
            // ENOENT: the caller died before we received; EINTR: retry.
            continue;
        }
        // A blocking connect may take long: one thread per call, so that others go on.
        let (p, l) = (Arc::clone(&policy), Arc::clone(&listener));
        let worker = std::thread::Builder::new()
            .name("ftsb-fs-connect".into())
            .spawn(move || respond(&l, notif.id, decide(&p, &l, &notif)));
        if worker.is_err() {
            respond(&listener, notif.id, Err(libc::EAGAIN));
        }
    }
}

/// What the broker answers for a call: its return value, or the errno.
pub(crate) type Answer = Result<i64, i32>;

/// Answers notification `id`.
fn respond(listener: &OwnedFd, id: u64, answer: Answer) {
    let (val, error) = match answer {
        Ok(val) => (val, 0),
        Err(errno) => (0, -errno),
    };
    let mut resp = libc::seccomp_notif_resp {
        id,
        val,
        error,
        flags: 0,
    };
    // SAFETY: SEND reads `resp`, which lives across the call. An error means the caller is
    // gone (ENOENT); nothing is left to answer.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SEND,
            &mut resp,
        )
    };
}

/// Whether notification `id` is still pending (its caller alive and waiting).
fn valid(listener: &OwnedFd, id: u64) -> bool {
    let mut id = id;
    // SAFETY: ID_VALID reads the u64, which lives across the call.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_ID_VALID,
            &mut id,
        ) == 0
    }
}

/// The errno of the last failed call.
pub(crate) fn last_errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// The thread that made a notified call, for reading its memory and taking its fds.
pub(crate) struct Caller {
    tid: libc::pid_t,
    pidfd: OwnedFd,
}

impl Caller {
    /// The caller of `notif`: a pidfd of its thread, which pins it while the notification is
    /// pending (checked with [`Caller::still`] after reading its memory).
    fn open(notif: &libc::seccomp_notif) -> Result<Caller, i32> {
        let tid = notif.pid as libc::pid_t;
        // SAFETY: pidfd_open takes integers; PIDFD_THREAD (O_EXCL) accepts a thread's id.
        let mut raw = unsafe { libc::syscall(libc::SYS_pidfd_open, tid, libc::O_EXCL) };
        if raw < 0 {
            // SAFETY: as above, without the flag (kernels before 6.9; a process's main thread).
            raw = unsafe { libc::syscall(libc::SYS_pidfd_open, tid, 0) };
        }
        if raw < 0 {
            return Err(libc::ESRCH);
        }
        // SAFETY: pidfd_open returned a new fd that nothing else owns.
        let pidfd = unsafe { OwnedFd::from_raw_fd(raw as RawFd) };
        Ok(Caller { tid, pidfd })
    }

    /// `len` bytes of the caller's memory at `addr`.
    pub(crate) fn read(&self, addr: u64, len: usize) -> Result<Vec<u8>, i32> {
        let mut buf = vec![0u8; len];
        if len == 0 {
            return Ok(buf);
        }
        let local = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: len,
        };
        let remote = libc::iovec {
            iov_base: addr as *mut libc::c_void,
            iov_len: len,
        };
        // SAFETY: reads `len` bytes of the caller into `buf`, which holds `len`.
        let read = unsafe { libc::process_vm_readv(self.tid, &local, 1, &remote, 1, 0) };
        if read != len as isize {
            return Err(libc::EFAULT);
        }
        Ok(buf)
    }

    /// Writes `data` into the caller's memory at `addr`.
    pub(crate) fn write(&self, addr: u64, data: &[u8]) -> Result<(), i32> {
        let local = libc::iovec {
            iov_base: data.as_ptr().cast_mut().cast(),
            iov_len: data.len(),
        };
        let remote = libc::iovec {
            iov_base: addr as *mut libc::c_void,
            iov_len: data.len(),
        };
        // SAFETY: writes `data.len()` bytes of `data` into the caller.
        let written = unsafe { libc::process_vm_writev(self.tid, &local, 1, &remote, 1, 0) };
        if written != data.len() as isize {
            return Err(libc::EFAULT);
        }
        Ok(())
    }

    /// A copy of the caller's fd `fd`.
    pub(crate) fn fd(&self, fd: u64) -> Result<OwnedFd, i32> {
        // SAFETY: pidfd_getfd takes a pidfd we own, an fd number and flags 0; it returns a
        // new fd.
        let raw =
            unsafe { libc::syscall(libc::SYS_pidfd_getfd, self.pidfd.as_raw_fd(), fd as i32, 0) };
        if raw < 0 {
            return Err(last_errno());
        }
        // SAFETY: pidfd_getfd returned a new fd that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(raw as RawFd) })
    }
}

/// Decides one notified call (`connect`, `sendto`, `sendmsg`, `sendmmsg`) and, when allowed,
/// makes it on the caller's socket with the broker's own copy of its arguments.
fn decide(policy: &Policy, listener: &OwnedFd, notif: &libc::seccomp_notif) -> Answer {
    let caller = Caller::open(notif)?;
    let args = notif.data.args;
    // What was read of the caller is the caller's only if its notification is still pending.
    let still = || {
        if valid(listener, notif.id) {
            Ok(())
        } else {
            Err(libc::ESRCH)
        }
    };
    let target = |sock: &OwnedFd, addr: &[u8], verb: &str| policy.target(&caller, sock, addr, verb);
    match i64::from(notif.data.nr) {
        libc::SYS_connect => {
            let len = args[2] as usize;
            if len < size_of::<libc::sa_family_t>() || len > ADDR_MAX {
                return Err(libc::EINVAL);
            }
            let addr = caller.read(args[1], len);
            still()?;
            let sock = caller.fd(args[0])?;
            let to = target(&sock, &addr?, "connect to")?;
            connect_to(&sock, &to).map(|()| 0)
        }
        nr => {
            // The pidfd is the caller's (its pid not reused) while the notification pends.
            still()?;
            let sock = caller.fd(args[0])?;
            super::relay::send(nr, &caller, &sock, &args, &|addr| {
                target(&sock, addr, "send to")
            })
        }
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
    fn target(
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
            libc::AF_UNIX => self.unix_target(caller.tid, &addr[2..], verb),
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

    /// The pathname unix address `path` (the bytes after the family) of the caller `tid`, if
    /// the policy allows it.
    fn unix_target(&self, tid: libc::pid_t, path: &[u8], verb: &str) -> Result<Target, i32> {
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
        let name = Path::new(OsStr::from_bytes(&path[..end]));
        // The file the kernel would connect to, resolved as the caller would (from its working
        // directory, following symlinks), pinned by an `O_PATH` fd: what is checked is what
        // gets connected, whatever the caller changes meanwhile.
        let mut full = if name.is_absolute() {
            PathBuf::new()
        } else {
            PathBuf::from(format!("/proc/{tid}/cwd"))
        };
        full.push(name);
        let file = open_path(&full)?;
        if let Err(errno) = self.check(&file) {
            let at = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
                .unwrap_or_else(|_| full.clone());
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

/// `open(path, O_PATH)`, following symlinks as `connect` does: the fd or the errno.
fn open_path(path: &Path) -> Result<OwnedFd, i32> {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| libc::EINVAL)?;
    // SAFETY: `c` is a valid NUL-terminated path; open returns a new fd or -1.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(last_errno());
    }
    // SAFETY: `fd` was just opened and is owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
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
        let policy = Policy::new(std::slice::from_ref(&root), &Net::Allow, true);
        let open = |p: &Path| open_path(p).expect("open");
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
