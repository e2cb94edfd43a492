//! Kernel confinement of the commands `exec` runs, with Landlock.
//!
//! Owns: what a confined command is granted ([`Spec`], defaults in `spec`), enforcing it on a
//! child process ([`confine_command`], in `apply`), and saying which protections are active
//! ([`Report`], [`probe`]); the environment the command receives ([`mod@env`]); the processes it
//! leaves behind ([`tree`]).
//!
//! Invariants:
//! - A confined command can write only inside `Spec::writable`, read only inside
//!   `Spec::writable` and `Spec::readable`; no deny root (the store) lies inside a grant.
//! - With `Spec::scope_ipc` and ABI 6 or later, the command cannot connect to abstract unix
//!   sockets (the daemon's control socket) nor signal processes outside its own domain.
//! - A command started as root runs with an empty capability bounding set (unless
//!   `Spec::drop_capabilities` is off), and always with `no_new_privs`.
//! - The report never claims a protection the kernel does not enforce: `status` is `full` only
//!   when everything the spec asks is enforced, and each gap is a warning.
//! - With `require`, a command that cannot be fully confined is never started.
//! - `FTSB_FS_LANDLOCK=off` forces the no-Landlock fallback (for tests of that path).
//!
//! Deliberately not done here: choosing the view, creating the private temp dir, running the
//! command or reading a policy file (that is `exec`); observing denials in the kernel's audit
//! log (audit is often disabled; [`denials_in`] reads the command's stderr instead). See
//! `docs/CONFINEMENT.md` for the known gaps.

mod apply;
mod broker;
pub mod cgroup;
mod destination;
pub mod env;
mod hostnet;
mod metadata;
mod profile;
pub mod reaper;
mod relay;
pub mod scratch;
mod seccomp;
pub mod sessions;
mod sockdiag;
mod spec;
pub mod tree;

use std::process::Command;

pub use destination::take_refused;
pub use profile::{AgentSetup, Harness, Profile};
pub use spec::{Net, Spec};

/// Environment variable that, set to `off`, disables Landlock (the fallback path).
pub const DISABLE_ENV: &str = "FTSB_FS_LANDLOCK";

/// Errors of the confinement module.
#[derive(Debug, thiserror::Error)]
pub enum ConfineError {
    /// `require` was set and the kernel cannot enforce everything the spec asks.
    #[error("confinement required but not enforceable ({reason}): missing {missing}")]
    Unenforceable {
        /// Why (Landlock off, or the kernel's ABI version).
        reason: String,
        /// The protections that would be missing, comma separated.
        missing: String,
    },
    /// The seccomp filter could not be built.
    #[error(transparent)]
    Seccomp(#[from] seccomp::SeccompError),
    /// The connect broker could not be started.
    #[error("cannot start the connect broker: {0}")]
    Broker(#[source] std::io::Error),
    /// The landlock crate refused to build the ruleset.
    #[error("building the landlock ruleset failed: {source}")]
    Ruleset {
        /// The crate's error.
        #[source]
        source: landlock::RulesetError,
    },
}

/// How much of the requested confinement is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Everything asked is enforced.
    Full,
    /// Landlock is active but some protection is missing (see the warnings).
    Partial,
    /// No Landlock at all: the command runs unconfined.
    None,
}

/// Which protections are active for a command (or, from [`probe`], available on this kernel).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// Landlock ABI version in use, 0 when Landlock is unavailable or disabled.
    pub abi: u32,
    /// Filesystem rules are enforced.
    pub filesystem: bool,
    /// TCP rules are enforced (false when the spec allows all network).
    pub network: bool,
    /// Abstract unix sockets outside the domain are unreachable.
    pub abstract_unix_scoped: bool,
    /// Processes outside the domain cannot be signalled.
    pub signals_scoped: bool,
    /// The command started as root and runs with an empty capability bounding set.
    pub capabilities_dropped: bool,
    /// A seccomp filter limits `socket()` to what Landlock governs (plain TCP), unix sockets
    /// and `NETLINK_ROUTE` (false when the spec allows all network).
    pub sockets_filtered: bool,
    /// Every `connect()` goes through the broker: pathname unix sockets only beneath the view,
    /// the command's `TMPDIR` (and a `run` session's socket directory), no abstract ones.
    pub unix_connect_brokered: bool,
    /// A seccomp filter denies the terminal ioctls `TIOCSTI`, `TIOCLINUX` and `TIOCSCTTY`.
    pub terminal_ioctls_denied: bool,
    /// A seccomp filter denies SysV IPC, POSIX message queues and the kernel keyrings.
    pub ipc_denied: bool,
    /// The command runs in a new session without a controlling terminal.
    pub terminal_detached: bool,
    /// Overall state.
    pub status: Status,
    /// Every gap, narrowed grant and unopenable path, one line each.
    pub warnings: Vec<String>,
}

/// What was asked of the kernel.
#[derive(Debug, Clone, Copy)]
struct Wanted {
    net: bool,
    scope: bool,
    /// Seccomp filters can be installed on this build.
    seccomp: bool,
}

/// The ABI to use and, when it is 0, why.
fn effective_abi() -> (u32, Option<String>) {
    if std::env::var_os(DISABLE_ENV).is_some_and(|v| v == "off") {
        return (0, Some(format!("landlock disabled by {DISABLE_ENV}=off")));
    }
    match apply::kernel_abi() {
        0 => (
            0,
            Some("landlock is not available on this kernel".to_string()),
        ),
        abi => (abi, None),
    }
}

/// Computes the report for `wanted` at `abi`, and the list of missing protections.
fn assess(abi: u32, wanted: Wanted) -> (Report, Vec<&'static str>) {
    let mut missing = Vec::new();
    let mut warnings = Vec::new();
    if abi < 1 {
        missing.push("filesystem rules");
    }
    if (1..3).contains(&abi) {
        missing.push("truncate rules (abi 3)");
    }
    if (1..5).contains(&abi) {
        missing.push("device ioctl rules (abi 5)");
    }
    if abi == 1 {
        warnings.push(
            "landlock abi 1 refuses every rename or link across directories (refer needs abi 2)"
                .to_string(),
        );
    }
    if wanted.net && abi < 4 {
        missing.push("tcp rules (abi 4)");
    }
    if wanted.scope && abi < 6 {
        missing.push("abstract unix socket scoping (abi 6)");
        missing.push("signal scoping (abi 6)");
    }
    if !wanted.seccomp || !broker::supported() {
        missing.push(
            "pathname unix socket and file metadata broker (seccomp user notification, pidfd_getfd: 5.6)",
        );
    }
    if !wanted.seccomp {
        missing.push("terminal ioctl filter (seccomp)");
        missing.push("ipc and keyring filter (seccomp)");
        if wanted.net {
            missing.push("socket family filter (seccomp)");
        }
    }
    let status = if abi == 0 {
        Status::None
    } else if missing.is_empty() {
        Status::Full
    } else {
        Status::Partial
    };
    warnings.extend(missing.iter().map(|m| format!("not enforced: {m}")));
    let report = Report {
        abi,
        filesystem: abi >= 1,
        network: wanted.net && abi >= 4,
        abstract_unix_scoped: wanted.scope && abi >= 6,
        signals_scoped: wanted.scope && abi >= 6,
        capabilities_dropped: false,
        sockets_filtered: wanted.net && wanted.seccomp,
        unix_connect_brokered: wanted.seccomp && broker::supported(),
        terminal_ioctls_denied: wanted.seccomp,
        ipc_denied: wanted.seccomp,
        terminal_detached: false,
        status,
        warnings,
    };
    (report, missing)
}

/// What this kernel can enforce (every protection this module knows), for `status --json`.
pub fn probe() -> Report {
    let (abi, reason) = effective_abi();
    let (mut report, _) = assess(
        abi,
        Wanted {
            net: true,
            scope: true,
            seccomp: seccomp::supported(),
        },
    );
    report.terminal_detached = true;
    if let Some(reason) = reason {
        report.warnings.insert(0, reason);
    }
    report
}

/// Arranges for the child spawned from `cmd` to run confined by `spec`, and exports
/// `spec.tmpdir` as `TMPDIR`.
///
/// The ruleset is built here, in the parent; a `pre_exec` hook only enforces it (see `apply`
/// for why that is fork-safe). If enforcing fails in the child, `spawn` fails and the command
/// never runs. With `require`, returns [`ConfineError::Unenforceable`] unless the report's
/// status would be `full`; otherwise missing protections are warnings and Landlock is used as
/// far as the kernel goes (status `partial` or `none`).
pub fn confine_command(
    cmd: &mut Command,
    spec: &Spec,
    require: bool,
) -> Result<Report, ConfineError> {
    let (abi, reason) = effective_abi();
    let wanted = Wanted {
        net: spec.net != Net::Allow,
        scope: spec.scope_ipc,
        seccomp: seccomp::supported(),
    };
    let (mut report, missing) = assess(abi, wanted);
    if require && report.status != Status::Full {
        return Err(ConfineError::Unenforceable {
            reason: reason.unwrap_or_else(|| format!("kernel landlock abi {abi}")),
            missing: missing.join(", "),
        });
    }
    if let Some(tmpdir) = &spec.tmpdir {
        cmd.env("TMPDIR", tmpdir);
    }
    if let Some(reason) = reason {
        report
            .warnings
            .insert(0, format!("{reason}: the command runs unconfined"));
    }
    report.warnings.extend(spec.notes.iter().cloned());
    let filters = seccomp::build(&spec.net)?;
    let broker = if report.unix_connect_brokered {
        let policy =
            destination::Policy::new(&spec.sockets, &spec.writable, &spec.net, spec.host_services);
        Some(broker::spawn(policy).map_err(ConfineError::Broker)?)
    } else {
        None
    };
    let drop_caps = apply::should_drop_capabilities(spec);
    let mut ruleset = None;
    if abi > 0 {
        let prepared = apply::prepare(spec)?;
        report.warnings.extend(prepared.warnings);
        ruleset = prepared.fd;
        // The crate found no usable Landlock although the probe did: never claim confinement.
        if ruleset.is_none() {
            if require {
                return Err(ConfineError::Unenforceable {
                    reason: format!("kernel landlock abi {abi} but no ruleset could be created"),
                    missing: "filesystem rules".to_string(),
                });
            }
            report.filesystem = false;
            report.network = false;
            report.abstract_unix_scoped = false;
            report.signals_scoped = false;
            report.status = Status::None;
            report.warnings.push(
                "no landlock ruleset could be created: the command runs unconfined".to_string(),
            );
        }
    }
    // Without Landlock the hook still detaches the terminal, drops capabilities and installs
    // the seccomp filters: they do not depend on it.
    report.capabilities_dropped = drop_caps;
    report.terminal_detached = spec.detach_terminal;
    apply::install(
        cmd,
        apply::Hook {
            ruleset,
            drop_caps,
            setsid: spec.detach_terminal,
            filters,
            broker,
        },
    );
    Ok(report)
}

/// The lines of a confined command's stderr that report a denied access, at most `max`, for
/// the `exec` report. Landlock denials surface as EACCES ("Permission denied") for files and
/// EPERM ("Operation not permitted") for scoped IPC; other causes of those errors show up too.
pub fn denials_in(stderr: &[u8], max: usize) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| l.contains("Permission denied") || l.contains("Operation not permitted"))
        .take(max)
        .map(|l| l.trim().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Wanted = Wanted {
        net: true,
        scope: true,
        seccomp: true,
    };

    #[test]
    fn assess_full_at_abi_7() {
        let (r, missing) = assess(7, ALL);
        assert_eq!(r.status, Status::Full);
        assert!(missing.is_empty() && r.warnings.is_empty());
        assert!(r.filesystem && r.network && r.abstract_unix_scoped && r.signals_scoped);
    }

    #[test]
    fn assess_partial_without_scoping() {
        let (r, missing) = assess(4, ALL);
        assert_eq!(r.status, Status::Partial);
        assert!(r.network && !r.abstract_unix_scoped);
        assert!(missing.contains(&"abstract unix socket scoping (abi 6)"));
    }

    #[test]
    fn assess_none_without_landlock() {
        let (r, missing) = assess(
            0,
            Wanted {
                net: false,
                scope: true,
                seccomp: true,
            },
        );
        assert_eq!(r.status, Status::None);
        assert!(!r.filesystem);
        assert_eq!(missing[0], "filesystem rules");
    }

    #[test]
    fn report_serializes_status_lowercase() {
        let (r, _) = assess(
            7,
            Wanted {
                net: false,
                scope: true,
                seccomp: true,
            },
        );
        let json = serde_json::to_string(&r).expect("serialize");
        assert!(json.contains("\"status\":\"full\""), "{json}");
    }

    #[test]
    fn denials_in_picks_eacces_lines() {
        let err = b"ok\nsh: 1: cannot create /etc/x: Permission denied\nother\n";
        assert_eq!(
            denials_in(err, 5),
            vec!["sh: 1: cannot create /etc/x: Permission denied".to_string()]
        );
    }
}
