//! The seccomp filters of a confined command: what Landlock cannot say about sockets,
//! terminals, the kernel's shared IPC objects and keyrings, and set-id modes.
//!
//! Owns: building the BPF programs in the parent ([`build`]) and installing them in the
//! child ([`install`], called from the `pre_exec` hook of `apply`).
//!
//! Invariants:
//! - Terminal filter (always): `ioctl` `TIOCSTI` (inject input), `TIOCLINUX` (the console's
//!   selection and input) and `TIOCSCTTY` (take a controlling terminal) fail with `EPERM`, on
//!   any fd, inherited ones included, since Landlock does not recheck inherited fds.
//! - Socket filter (unless [`Net::Allow`]): `socket()` succeeds only for `AF_UNIX`, plain TCP
//!   (`AF_INET`/`AF_INET6`, `SOCK_STREAM`, protocol 0 or `IPPROTO_TCP`, which Landlock's TCP
//!   rules govern) and `AF_NETLINK` with `NETLINK_ROUTE`; every other family, type or
//!   protocol (MPTCP, UDP, SCTP, raw, packet, other netlink, vsock, ...) fails with `EACCES`.
//!   `socketpair()` succeeds only for `AF_UNIX`. `io_uring_setup` fails with `EACCES`, since
//!   io_uring can create sockets without the `socket()` syscall.
//! - IPC filter (always): SysV IPC (`shmget`, `shmat`, `msgsnd`, `semop`, ...), POSIX message
//!   queues by name (`mq_open`, `mq_unlink`) and the kernel keyrings (`add_key`,
//!   `request_key`, `keyctl`) fail with `EPERM`. Landlock governs none of them (it refuses
//!   to open a queue, but not to create or remove one): their objects are shared by every
//!   process of the uid and outlive the command, so a command could write into another
//!   process's shared memory segment, queue messages for it, remove its queue, read the
//!   user's keys or plant one for another program.
//! - Set-id filter (always): `chmod`, `fchmod`, `fchmodat` and `fchmodat2` with `S_ISUID` or
//!   `S_ISGID` in the mode fail with `EPERM`. Landlock does not govern changing a file's
//!   mode, so a command could otherwise make any file it owns set-id, outside its grants too
//!   (as root: every system binary).
//! - Cgroup filter (always): `clone3` fails with `ENOSYS`, so that C libraries fall back to
//!   `clone`. Its `CLONE_INTO_CGROUP` takes a cgroup directory fd, which Landlock does not
//!   check (an `O_PATH` open is not an access), and would let a command started as root put a
//!   child outside its exec cgroup leaf; seccomp cannot read `clone3`'s flags, which are
//!   behind a pointer, so the whole call goes.
//! - On x86_64, every x32 syscall fails with `ENOSYS` (their numbers differ, so the rules above
//!   would not see them), and every filter kills a process that makes a syscall of another
//!   architecture (`int 0x80`), whose `socketcall` would bypass them too.
//!
//! Fork safety: the programs are built here, in the parent; [`install`] only makes `seccomp`
//! syscalls on memory prepared before fork, which allocates nothing.
//!
//! Crate choice: `seccompiler` (rust-vmm, used by Firecracker) is pure Rust and compiles rules
//! to plain BPF in memory we own, so installing is one raw syscall; libseccomp bindings would
//! add a C library and allocate when loading, which is not allowed after fork.

use std::collections::BTreeMap;
use std::io;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch, sock_filter,
};

use super::metadata::SYS_FCHMODAT2;
use super::spec::Net;

/// `SOCK_STREAM` and the mask of the socket type without its flags.
const SOCK_TYPE_MASK: u64 = 0xf;

/// The programs to install, in order.
#[derive(Debug, Default)]
pub(crate) struct Filters {
    progs: Vec<BpfProgram>,
    /// The terminal filter is among them.
    pub(crate) terminal: bool,
    /// The socket filter is among them.
    pub(crate) sockets: bool,
}

/// Why a filter could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// The crate rejected a rule or the filter.
    #[error("building the seccomp filter failed: {0}")]
    Build(String),
}

fn cond(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition, SeccompError> {
    SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value)
        .map_err(|e| SeccompError::Build(e.to_string()))
}

fn rule(conds: Vec<SeccompCondition>) -> Result<SeccompRule, SeccompError> {
    SeccompRule::new(conds).map_err(|e| SeccompError::Build(e.to_string()))
}

fn compile(
    rules: BTreeMap<i64, Vec<SeccompRule>>,
    errno: i32,
    arch: TargetArch,
) -> Result<BpfProgram, SeccompError> {
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno as u32),
        arch,
    )
    .map_err(|e| SeccompError::Build(e.to_string()))?;
    BpfProgram::try_from(filter).map_err(|e| SeccompError::Build(e.to_string()))
}

/// The architecture of this build, if the crate supports it.
fn arch() -> Option<TargetArch> {
    TargetArch::try_from(std::env::consts::ARCH).ok()
}

/// Whether this build can install the filters (the report's `seccomp` for `probe`).
pub(crate) fn supported() -> bool {
    arch().is_some()
}

fn terminal_rules() -> Result<BTreeMap<i64, Vec<SeccompRule>>, SeccompError> {
    let ioctls = [libc::TIOCSTI, libc::TIOCLINUX, libc::TIOCSCTTY]
        .into_iter()
        .map(|req| rule(vec![cond(1, SeccompCmpOp::Eq, req)?]))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(BTreeMap::from([(libc::SYS_ioctl, ioctls)]))
}

/// The SysV IPC, POSIX message queue and keyring syscalls, each denied whatever its
/// arguments.
fn ipc_rules() -> BTreeMap<i64, Vec<SeccompRule>> {
    [
        libc::SYS_shmget,
        libc::SYS_shmat,
        libc::SYS_shmctl,
        libc::SYS_msgget,
        libc::SYS_msgsnd,
        libc::SYS_msgrcv,
        libc::SYS_msgctl,
        libc::SYS_semget,
        libc::SYS_semop,
        libc::SYS_semtimedop,
        libc::SYS_semctl,
        libc::SYS_mq_open,
        libc::SYS_mq_unlink,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_keyctl,
    ]
    .into_iter()
    // An empty chain matches every call.
    .map(|nr| (nr, Vec::new()))
    .collect()
}

/// The rules that deny a mode change that makes a file set-user-id or set-group-id.
fn setid_rules() -> Result<BTreeMap<i64, Vec<SeccompRule>>, SeccompError> {
    let setid = |arg| -> Result<Vec<SeccompRule>, SeccompError> {
        [libc::S_ISUID, libc::S_ISGID]
            .into_iter()
            .map(|bit| {
                let bit = u64::from(bit);
                rule(vec![cond(arg, SeccompCmpOp::MaskedEq(bit), bit)?])
            })
            .collect()
    };
    let mut rules = BTreeMap::from([
        (libc::SYS_fchmod, setid(1)?),
        (libc::SYS_fchmodat, setid(2)?),
        (SYS_FCHMODAT2, setid(2)?),
    ]);
    #[cfg(target_arch = "x86_64")]
    rules.insert(libc::SYS_chmod, setid(1)?);
    Ok(rules)
}

/// The rules that deny a `socket()` call (any matching rule denies it).
fn socket_rules() -> Result<BTreeMap<i64, Vec<SeccompRule>>, SeccompError> {
    use SeccompCmpOp::{Eq, MaskedEq, Ne};
    let dom = |op, v: libc::c_int| cond(0, op, v as u64);
    let mut socket = vec![
        // A family Landlock and this filter know nothing about.
        rule(vec![
            dom(Ne, libc::AF_UNIX)?,
            dom(Ne, libc::AF_INET)?,
            dom(Ne, libc::AF_INET6)?,
            dom(Ne, libc::AF_NETLINK)?,
        ])?,
        // Netlink other than routing (audit, netfilter, kobject, ...).
        rule(vec![
            dom(Eq, libc::AF_NETLINK)?,
            cond(2, Ne, libc::NETLINK_ROUTE as u64)?,
        ])?,
    ];
    for family in [libc::AF_INET, libc::AF_INET6] {
        // Any type but a stream: UDP, raw, SCTP's seqpacket, DCCP, packet.
        for ty in (0..=SOCK_TYPE_MASK).filter(|t| *t != libc::SOCK_STREAM as u64) {
            socket.push(rule(vec![
                dom(Eq, family)?,
                cond(1, MaskedEq(SOCK_TYPE_MASK), ty)?,
            ])?);
        }
        // A stream of another protocol than TCP: MPTCP, SCTP.
        socket.push(rule(vec![
            dom(Eq, family)?,
            cond(2, Ne, 0)?,
            cond(2, Ne, libc::IPPROTO_TCP as u64)?,
        ])?);
    }
    let socketpair = vec![rule(vec![dom(Ne, libc::AF_UNIX)?])?];
    Ok(BTreeMap::from([
        (libc::SYS_socket, socket),
        (libc::SYS_socketpair, socketpair),
        // An empty chain matches every call.
        (libc::SYS_io_uring_setup, Vec::new()),
    ]))
}

/// A hand-written program that makes every x32 syscall fail with `ENOSYS` (x86_64 only).
#[cfg(target_arch = "x86_64")]
fn x32_program() -> BpfProgram {
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const JGE_K: u16 = 0x35;
    const RET_K: u16 = 0x06;
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;
    let op = |code, jt, jf, k| sock_filter { code, jt, jf, k };
    vec![
        // seccomp_data.arch is at offset 4, .nr at 0.
        op(LD_W_ABS, 0, 0, 4),
        op(JEQ_K, 0, 3, AUDIT_ARCH_X86_64),
        op(LD_W_ABS, 0, 0, 0),
        op(JGE_K, 0, 1, X32_SYSCALL_BIT),
        op(RET_K, 0, 0, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
        op(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW),
    ]
}

/// Builds the filters for a command with network policy `net`, in the parent.
/// On an architecture the crate does not support, returns no filter (the report says so).
pub(crate) fn build(net: &Net) -> Result<Filters, SeccompError> {
    let Some(arch) = arch() else {
        return Ok(Filters::default());
    };
    let mut filters = Filters::default();
    #[cfg(target_arch = "x86_64")]
    filters.progs.push(x32_program());
    filters
        .progs
        .push(compile(terminal_rules()?, libc::EPERM, arch)?);
    filters.terminal = true;
    let mut denied = ipc_rules();
    denied.extend(setid_rules()?);
    filters.progs.push(compile(denied, libc::EPERM, arch)?);
    // An empty chain matches every call.
    filters.progs.push(compile(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        libc::ENOSYS,
        arch,
    )?);
    if *net != Net::Allow {
        filters
            .progs
            .push(compile(socket_rules()?, libc::EACCES, arch)?);
        filters.sockets = true;
    }
    Ok(filters)
}

/// Installs `filters` on the calling thread. Runs in the child after fork: raw `seccomp`
/// syscalls on programs built before fork, nothing else. The caller has set `no_new_privs`.
pub(crate) fn install(filters: &Filters) -> io::Result<()> {
    for prog in &filters.progs {
        let fprog = libc::sock_fprog {
            len: prog.len() as libc::c_ushort,
            // The crate's `sock_filter` is `repr(C)` with the kernel's layout.
            filter: prog.as_ptr().cast::<libc::sock_filter>().cast_mut(),
        };
        // SAFETY: `fprog` points into `prog`, which outlives the call; the kernel copies the
        // program and does not keep the pointer. The flags are 0.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0 as libc::c_uint,
                &fprog as *const libc::sock_fprog,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_build_for_each_net_policy() {
        let allow = build(&Net::Allow).expect("build");
        assert!(allow.terminal && !allow.sockets);
        let deny = build(&Net::Deny).expect("build");
        assert!(deny.terminal && deny.sockets);
        assert!(deny.progs.len() > allow.progs.len());
        // BPF programs are limited to 4096 instructions.
        assert!(deny.progs.iter().all(|p| p.len() < 4096));
    }
}
