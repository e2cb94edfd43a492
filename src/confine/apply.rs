//! Applying a [`Spec`] with Landlock: the kernel ABI probe, the ruleset built in the parent,
//! and the `pre_exec` hook that enforces it in the child.
//!
//! Invariant (fork safety): everything that allocates, opens files or may fail for reasons other
//! than the kernel refusing (building the ruleset, opening each granted path) happens in the
//! parent before `spawn`. After `fork` the hook only calls `setsid`, `prctl` (capability drop,
//! `PR_SET_NO_NEW_PRIVS`), `landlock_restrict_self` on the ruleset fd prepared before and
//! `seccomp` on the programs built before, raw
//! syscalls that allocate nothing and take no lock, so the hook is async-signal-safe even when the parent has threads.
//! We do not call `RulesetCreated::restrict_self` in the hook: it builds status structs and may
//! build `std::io::Error` values and compatibility state, which we cannot show to be
//! allocation-free across crate versions.
//!
//! This module does not decide what is granted (that is `spec`) nor what the report says
//! (that is `mod.rs`); it grants exactly what the spec lists and reports paths it could not open.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, NetPort, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreatedAttr, Scope,
};

use super::ConfineError;
use super::broker;
use super::seccomp::{self, Filters};
use super::spec::{Net, Spec};

/// The newest ABI whose rights this module requests and has been tested against.
/// Newer kernels are used at this level; older ones get the best subset (best-effort mode).
pub(crate) const TARGET_ABI: ABI = ABI::V7;

/// `LANDLOCK_CREATE_RULESET_VERSION` from the kernel UAPI.
const CREATE_RULESET_VERSION: libc::c_uint = 1;

/// The Landlock ABI version of the running kernel, 0 when Landlock is missing or disabled.
pub(crate) fn kernel_abi() -> u32 {
    // SAFETY: with a null attribute pointer, size 0 and the VERSION flag the kernel reads no
    // memory and only returns the ABI version (or -1 with EOPNOTSUPP/ENOSYS).
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    u32::try_from(v).unwrap_or(0)
}

/// File rights granted on writable paths. Withheld everywhere:
/// - device ioctls: with `dev.tty.legacy_tiocsti=1` a command that could open a terminal with
///   ioctl rights could inject keystrokes into it (TIOCSTI);
/// - making character and block devices: as root, `mknod $TMPDIR/disk b 8 0` would give raw
///   read access to a disk, and with it to every file Landlock protects. No build needs it.
fn write_access() -> BitFlags<AccessFs> {
    AccessFs::from_all(TARGET_ABI)
        & !(AccessFs::IoctlDev | AccessFs::MakeBlock | AccessFs::MakeChar)
}

/// The highest capability number of this kernel, read before fork.
fn last_cap() -> libc::c_int {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(63)
}

/// Whether this process can and should empty the child's capability bounding set: only a
/// process with capabilities has any to drop (others get none at exec, and no_new_privs stops
/// file capabilities), and dropping needs CAP_SETPCAP. A root process that already runs
/// without it (a command of an agent confined by `run`) has nothing left to drop and could not.
pub(crate) fn should_drop_capabilities(spec: &Spec) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    spec.drop_capabilities && unsafe { libc::geteuid() } == 0 && has_setpcap()
}

/// `CAP_SETPCAP` from `linux/capability.h` (the libc crate does not export it).
const CAP_SETPCAP: u32 = 8;

/// Whether CAP_SETPCAP is in this process's effective set (`CapEff` in `/proc/self/status`).
fn has_setpcap() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|eff| eff & (1 << CAP_SETPCAP) != 0)
}

fn read_access() -> BitFlags<AccessFs> {
    AccessFs::from_read(TARGET_ABI)
}

/// A ruleset ready to enforce, plus the grants that could not be opened.
pub(crate) struct Prepared {
    pub(crate) fd: Option<OwnedFd>,
    pub(crate) warnings: Vec<String>,
}

/// Builds the ruleset for `spec` in the calling (parent) process, best effort by ABI.
pub(crate) fn prepare(spec: &Spec) -> Result<Prepared, ConfineError> {
    let mut ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(TARGET_ABI))
        .map_err(|source| ConfineError::Ruleset { source })?;
    if spec.net != Net::Allow {
        ruleset = ruleset
            .handle_access(AccessNet::from_all(TARGET_ABI))
            .map_err(|source| ConfineError::Ruleset { source })?;
    }
    if spec.scope_ipc {
        ruleset = ruleset
            .scope(Scope::from_all(TARGET_ABI))
            .map_err(|source| ConfineError::Ruleset { source })?;
    }
    let mut created = ruleset
        .create()
        .map_err(|source| ConfineError::Ruleset { source })?;

    let mut warnings = Vec::new();
    let grants = spec
        .writable
        .iter()
        .map(|p| (p, write_access()))
        .chain(spec.readable.iter().map(|p| (p, read_access())))
        .chain(spec.listable.iter().map(|p| (p, AccessFs::ReadDir.into())));
    for (path, access) in grants {
        // A missing or unopenable grant only narrows what the command may do, so it is a
        // warning, not a reason to run unconfined or to refuse.
        let fd = match PathFd::new(path) {
            Ok(fd) => fd,
            Err(e) => {
                warnings.push(format!("not granted {}: {e}", path.display()));
                continue;
            }
        };
        // Best-effort mode masks directory-only rights off rules on files.
        created = created
            .add_rule(PathBeneath::new(fd, access))
            .map_err(|source| ConfineError::Ruleset { source })?;
    }
    if let Net::AllowPorts(ports) = &spec.net {
        for port in ports {
            created = created
                .add_rule(NetPort::new(*port, AccessNet::ConnectTcp))
                .map_err(|source| ConfineError::Ruleset { source })?;
        }
    }
    Ok(Prepared {
        fd: created.into(),
        warnings,
    })
}

/// What the `pre_exec` hook does, all prepared in the parent.
pub(crate) struct Hook {
    /// The Landlock ruleset to enforce, when Landlock is in use.
    pub(crate) ruleset: Option<OwnedFd>,
    /// Empty the capability bounding and ambient sets first.
    pub(crate) drop_caps: bool,
    /// Start a new session (no controlling terminal).
    pub(crate) setsid: bool,
    /// The seccomp programs to install last.
    pub(crate) filters: Filters,
    /// The connect broker's program and socket, installed after the filters.
    pub(crate) broker: Option<broker::Child>,
}

/// Arranges for the child spawned from `cmd` to run `hook` before `execve`: `setsid`, the
/// capability drop, `no_new_privs`, the Landlock ruleset, the seccomp filters, then the
/// connect broker's filter, whose listener goes to the broker's thread in this process.
///
/// The hook owns the ruleset fd, which stays open for as long as `cmd` lives; the kernel
/// created it with `O_CLOEXEC`, so the command itself never inherits it.
///
/// With `drop_caps`, the hook first empties the capability bounding set and the ambient set, so
/// that a command started as root holds no capability after `execve` (root's capabilities at
/// exec are bounded by that set). Landlock confines files and sockets but not capabilities: as
/// root a command could otherwise load a kernel module, reconfigure the network or reboot.
pub(crate) fn install(cmd: &mut Command, hook: Hook) {
    let Hook {
        ruleset,
        drop_caps,
        setsid,
        filters,
        broker,
    } = hook;
    let raw = ruleset.as_ref().map(AsRawFd::as_raw_fd);
    let last_cap = last_cap();
    let hook = move || -> io::Result<()> {
        // Keeps the ruleset open until the Command is dropped; the closure is what owns it.
        let _owner = &ruleset;
        // SAFETY: setsid takes no argument. It fails only for a process group leader, which
        // a freshly forked child is not.
        if setsid && unsafe { libc::setsid() } < 0 {
            return Err(io::Error::last_os_error());
        }
        if drop_caps {
            for cap in 0..=last_cap {
                // SAFETY: prctl(PR_CAPBSET_DROP, cap) takes integers only and touches no memory.
                let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong) };
                if rc != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            // SAFETY: as above, integers only.
            let rc = unsafe {
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
                    0 as libc::c_ulong,
                    0 as libc::c_ulong,
                    0 as libc::c_ulong,
                )
            };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        // SAFETY: prctl with PR_SET_NO_NEW_PRIVS takes plain integer arguments and touches no
        // memory of ours. Landlock and seccomp require no_new_privs for an unprivileged caller,
        // and it also stops a setuid binary from gaining privileges the domain could not
        // restrict.
        let nnp = unsafe {
            libc::prctl(
                libc::PR_SET_NO_NEW_PRIVS,
                1 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            )
        };
        if nnp != 0 {
            return Err(io::Error::last_os_error());
        }
        if let Some(raw) = raw {
            // SAFETY: `raw` is the ruleset fd owned by this closure, still open here; the
            // syscall takes an fd and flags only. Flags 0: default audit logging.
            let rc =
                unsafe { libc::syscall(libc::SYS_landlock_restrict_self, raw, 0 as libc::c_uint) };
            if rc != 0 {
                // `last_os_error` wraps errno without allocating. Returning an error makes spawn
                // fail, so a child that could not be confined never runs the command.
                return Err(io::Error::last_os_error());
            }
        }
        seccomp::install(&filters)?;
        match &broker {
            Some(b) => broker::install(b),
            None => Ok(()),
        }
    };
    // SAFETY: the hook runs between fork and exec in the child. It only makes raw syscalls
    // (setsid, prctl, landlock_restrict_self, seccomp) on values computed before fork, and
    // reads errno: no allocation, no lock, no access to state shared with other threads of
    // the parent, so it is async-signal-safe as `pre_exec` requires.
    unsafe {
        cmd.pre_exec(hook);
    }
}
