//! The connect broker: every connect and addressed send of a confined command, decided and
//! made outside it.
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
//! and the loop that reads each call's arguments from the caller ([`Caller`]) and answers it.
//! The decision is [`super::destination`]'s; the sends are [`super::relay`]'s.
//!
//! Invariants:
//! - The broker never acts on the address as the command's memory holds it after the check:
//!   it reads the address once, and connects with its own copy (no `SECCOMP_USER_NOTIF_FLAG_
//!   CONTINUE`, which would let another thread of the command swap the address in between).
//! - What was read of the caller counts only while its notification is still pending (its
//!   pid not reused meanwhile).
//! - `io_uring_setup` fails with `EACCES` (io_uring connects without the `connect` syscall).
//! - Fails closed: if the broker is gone, every `connect` and metadata change of the command
//!   fails (`ENOSYS`).
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
//! So do the calls that change a file's mode, owner or extended attributes, which Landlock
//! does not govern either: [`super::metadata`] decides and makes them.

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use super::destination::{Policy, connect_to};
use super::metadata;

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

/// What the child needs to hand its listener over, prepared in the parent.
#[derive(Debug)]
pub(crate) struct Child {
    /// The BPF program.
    prog: Vec<libc::sock_filter>,
    /// The child's end of the socket pair the listener is sent over.
    end: OwnedFd,
}

/// The program: `connect`, `sendmsg`, `sendmmsg`, `sendto` with an address and the metadata
/// calls ([`metadata::calls`]) notify the listener, `io_uring_setup` fails with `EACCES`,
/// [`metadata::UNBROKERED`] with `ENOSYS`, everything else (and every other architecture,
/// which the other filters kill) passes.
fn program() -> Vec<libc::sock_filter> {
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    let op = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let mut notified = vec![libc::SYS_connect, libc::SYS_sendmsg, libc::SYS_sendmmsg];
    notified.extend(metadata::calls());
    let unbrokered = metadata::UNBROKERED;
    // The three loads and checks before the list, one check per call listed, the four
    // instructions that look at sendto's address: then NOTIF, EACCES, ENOSYS, ALLOW.
    let notif = 3 + notified.len() + 1 + unbrokered.len() + 1 + 4;
    let (eacces, enosys, allow) = (notif + 1, notif + 2, notif + 3);
    // A jump from instruction `at` to `to` counts from the next instruction.
    let jump = |at: usize, to: usize| (to - at - 1) as u8;
    let mut prog = vec![
        // seccomp_data.arch is at offset 4, .nr at 0, args[4] at 48 (low word) and 52.
        op(LD_W_ABS, 0, 0, 4),
        op(JEQ_K, 0, jump(1, allow), AUDIT_ARCH),
        op(LD_W_ABS, 0, 0, 0),
    ];
    let mut check = |nr: i64, to: usize| {
        let at = prog.len();
        prog.push(op(JEQ_K, jump(at, to), 0, nr as u32));
    };
    for nr in notified {
        check(nr, notif);
    }
    check(libc::SYS_io_uring_setup, eacces);
    for nr in unbrokered {
        check(nr, enosys);
    }
    // sendto: only with a destination address (send() is sendto with none).
    let at = prog.len();
    prog.extend([
        op(JEQ_K, 0, jump(at, allow), libc::SYS_sendto as u32),
        op(LD_W_ABS, 0, 0, 48),
        op(JEQ_K, 0, jump(at + 2, notif), 0),
        op(LD_W_ABS, 0, 0, 52),
        op(JEQ_K, jump(at + 4, allow), 0, 0),
        op(RET_K, 0, 0, libc::SECCOMP_RET_USER_NOTIF),
        op(RET_K, 0, 0, libc::SECCOMP_RET_ERRNO | libc::EACCES as u32),
        op(RET_K, 0, 0, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
        op(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW),
    ]);
    debug_assert_eq!(prog.len(), allow + 1);
    prog
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

    /// The caller's thread id.
    pub(crate) fn tid(&self) -> libc::pid_t {
        self.tid
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

    /// The object `path` names for the caller, resolved as the kernel resolves it for the
    /// caller's call: from its fd `dir` (else its working directory; `dir` itself when `path`
    /// is empty and `empty`), following a final symlink only when `follow`, `/proc/self`
    /// being the caller's. Pinned by an `O_PATH` fd: what is checked is what is acted on,
    /// whatever the caller changes meanwhile.
    pub(crate) fn resolve(
        &self,
        dir: Option<u64>,
        path: &[u8],
        follow: bool,
        empty: bool,
    ) -> Result<OwnedFd, i32> {
        let open = |dir, path: &[u8], follow| {
            crate::sys::open_named(dir, path, follow).map_err(metadata::errno)
        };
        let base = match dir {
            Some(fd) => self.fd(fd)?,
            None => open(None, format!("/proc/{}/cwd", self.tid).as_bytes(), true)?,
        };
        if path.is_empty() && empty {
            return Ok(base);
        }
        open(Some(base.as_fd()), &self.own_proc(path), follow)
    }

    /// `path` as the caller means it: `/proc/self` and `/proc/thread-self` name the caller
    /// (glibc changes a mode through `/proc/self/fd/N` of an `O_PATH` fd), not the broker.
    fn own_proc(&self, path: &[u8]) -> Vec<u8> {
        for own in [&b"/proc/self"[..], b"/proc/thread-self"] {
            if let Some(rest) = path.strip_prefix(own)
                && (rest.is_empty() || rest[0] == b'/')
            {
                return [format!("/proc/{}", self.tid).as_bytes(), rest].concat();
            }
        }
        path.to_vec()
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

/// Decides one notified call (`connect`, `sendto`, `sendmsg`, `sendmmsg`, a metadata change)
/// and, when allowed, makes it on the caller's socket or file with the broker's own copy of
/// its arguments.
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
        nr if metadata::calls().contains(&nr) => {
            metadata::change(policy, &caller, nr, &args, &still)
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
