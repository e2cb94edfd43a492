//! What a confined command is granted: the [`Spec`], its defaults for a command run in a view,
//! and the carving that keeps protected paths (the store, system secrets) outside every grant.
//!
//! Invariant: after [`Spec::for_view`], [`Spec::add_writable`] or [`Spec::add_readable`], no
//! granted root contains a protected path and none lies inside one.
//! Landlock grants whole trees and cannot carve a hole inside a granted one, so a grant that
//! contains a protected path is replaced by its entries beside the path to it (a snapshot of the
//! directory taken now: entries created there later are not granted), or dropped when that is
//! not possible; either way a note says so.
//! A narrowed grant stays listable (names only, see [`Spec::listable`]), so that a command
//! confined below this spec (`exec` inside `run`) can narrow it again the same way.
//! The one exception is [`Spec::add_readable_file`]: one regular file granted read inside a
//! deny root, for files there that hold nothing to protect (the workspace configuration
//! `mount` pins in the store, which `exec` must read under `run`).
//!
//! This module only computes paths; it opens nothing for Landlock and never touches the
//! kernel's Landlock interface (that is `apply`).
//!
//! Longer than 500 lines on purpose: a fifth is the tables of system and home paths granted
//! or denied, and a sixth the carving tests; the code itself is one invariant (no grant
//! contains or lies inside a protected path) that every `add_*` method keeps through the
//! same `carve`, so it stays in one file.

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

/// System directories a build needs to read and execute from.
/// `/dev` is deliberately absent: as root, reading a raw block device such as `/dev/sda1`
/// would bypass every file rule, so only the harmless devices below are granted.
const SYSTEM_READ: &[&str] = &[
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc",
    "/opt",
    "/proc",
    "/sys",
    "/nix/store",
    "/run/systemd/resolve",
];

/// Devices a command may read and write (no device ioctls, see `apply`).
/// No terminal: `/dev/tty`, `/dev/pts/*` and `/dev/ptmx` are absent, so a command cannot open
/// another terminal of the user to read it or write into it, nor allocate a pty.
const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/tty",
    "/dev/random",
    "/dev/urandom",
    "/dev/shm",
];

/// Secrets inside the granted `/etc` that root could otherwise read.
const SYSTEM_SECRETS: &[&str] = &[
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/ssl/private",
    "/etc/security/opasswd",
];

/// Toolchain homes and caches under `$HOME`, granted read and execute when they exist.
/// `~/.cargo` is absent on purpose: it is granted through [`Spec::add_cargo_home`], which leaves
/// out `credentials.toml`. Never `~/.ssh`, `~/.aws`, `~/.gnupg`, `~/.config/gh`, `~/.npmrc`,
/// `~/.gem` (holds credentials), browser profiles or `~/.local/state`.
const HOME_READ: &[&str] = &[
    ".rustup",
    ".npm",
    ".cache",
    ".gitconfig",
    ".config/git",
    ".local/bin",
    ".local/lib",
    ".pyenv",
    ".nvm",
    ".volta",
    ".bun",
    ".deno",
    ".rbenv",
    ".nix-profile",
    "go/pkg/mod",
    ".m2/repository",
    ".gradle/caches",
    ".gradle/wrapper",
];

/// Secrets under `$HOME` carved out of any grant that would cover them.
const HOME_SECRETS: &[&str] = &[
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".kube",
    ".docker",
    ".config/gh",
    ".config/gcloud",
    ".config/hub",
    ".netrc",
    ".git-credentials",
    ".npmrc",
    ".pypirc",
    ".gem/credentials",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".vault-token",
    ".password-store",
    ".local/share/keyrings",
    ".mozilla",
    ".config/google-chrome",
    ".config/chromium",
    ".config/BraveSoftware",
    ".config/microsoft-edge",
    ".thunderbird",
];

/// Entries of a cargo home that hold no credentials.
const CARGO_HOME_READ: &[&str] = &["bin", "registry", "git", "config.toml", "config", "env"];

/// Network policy for a confined command (Landlock TCP rules, ABI 4 and later).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Net {
    /// No network restriction.
    Allow,
    /// No TCP bind or connect at all.
    Deny,
    /// TCP connect only to these ports; no bind.
    AllowPorts(Vec<u16>),
}

/// What a confined command may touch. Paths not listed are neither readable nor writable.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Spec {
    /// Trees (or files) granted read, write and execute.
    pub writable: Vec<PathBuf>,
    /// Trees (or files) granted read and execute.
    pub readable: Vec<PathBuf>,
    /// Trees granted listing only (names, no content): the grants narrowed around a protected
    /// path, so that a process confined by this spec can list them to narrow them again for a
    /// command it confines in turn (`exec` inside `run`, as root, narrows `/etc` again).
    pub listable: Vec<PathBuf>,
    /// TCP policy.
    pub net: Net,
    /// Scope abstract unix sockets and signals to the command's own domain, which makes the
    /// daemon's abstract control socket unreachable and the daemon unkillable from the command.
    pub scope_ipc: bool,
    /// Paths that must stay outside every grant (the store); a note names each grant they
    /// narrow or drop.
    pub deny_roots: Vec<PathBuf>,
    /// System secrets (e.g. `/etc/shadow`) carved out of the grants silently, since narrowing
    /// `/etc` around them is expected on every run as root.
    pub secrets: Vec<PathBuf>,
    /// Empty the capability bounding set of a command started as root, so that it runs without
    /// capabilities (Landlock does not restrict them). On by default.
    pub drop_capabilities: bool,
    /// Exported as `TMPDIR` to the command when set.
    pub tmpdir: Option<PathBuf>,
    /// Start the command in a new session (`setsid`), without a controlling terminal, so that
    /// it cannot reach the caller's terminal through `/dev/tty` or job control. On by default;
    /// a caller that gives the command a pty of its own turns it off.
    pub detach_terminal: bool,
    /// What was dropped or narrowed while building the spec; copied into the report's warnings.
    pub notes: Vec<String>,
    /// Directories beneath which the command may connect to pathname unix sockets (the view,
    /// its `TMPDIR`); every other socket path is refused by the connect broker.
    pub sockets: Vec<PathBuf>,
    /// Let the command reach services of this host: local TCP and UDP destinations (loopback,
    /// or an address of the host) that no process of the command's tree holds. On by default;
    /// `run` turns it off unless `--allow-host-services`.
    pub host_services: bool,
}

impl Spec {
    /// A spec that grants nothing, leaves the network alone, scopes IPC and drops root's
    /// capabilities; the start of custom specs.
    pub fn empty() -> Spec {
        Spec {
            writable: Vec::new(),
            readable: Vec::new(),
            listable: Vec::new(),
            net: Net::Allow,
            scope_ipc: true,
            deny_roots: Vec::new(),
            secrets: Vec::new(),
            drop_capabilities: true,
            tmpdir: None,
            detach_terminal: true,
            notes: Vec::new(),
            sockets: Vec::new(),
            host_services: true,
        }
    }

    /// Default for a command run in `view` (the agent's mounted workspace view).
    ///
    /// Writable: the view, `tmpdir` and `/dev/null`-style devices. Readable and executable:
    /// system directories, the toolchain homes listed in this module under `home` (and the
    /// credential-free part of `$CARGO_HOME`, `$RUSTUP_HOME` when those variables are set),
    /// and the view. Never `home` as a whole. `deny_roots` (e.g. the store) and the system
    /// secrets are carved out of every grant, with a note for each grant narrowed or dropped;
    /// so are the user's secrets under `home` and the default stores
    /// (`home/.local/state/ftsb-fs`, `$XDG_STATE_HOME/ftsb-fs`).
    /// Paths that do not exist are left out silently.
    pub fn for_view(
        view: &Path,
        tmpdir: &Path,
        home: Option<&Path>,
        deny_roots: &[PathBuf],
    ) -> Spec {
        let mut spec = Spec::empty();
        spec.tmpdir = Some(tmpdir.to_path_buf());
        spec.deny_roots = deny_roots.to_vec();
        spec.secrets = system_secrets();
        if let Some(home) = home {
            // The default store lives here; protect it even when the caller forgot to pass it.
            spec.deny_roots.push(home.join(".local/state/ftsb-fs"));
            // The user's secrets are deny roots too, so that a view or a policy grant that
            // covers the whole home (an agent working in `~`) is narrowed around them.
            spec.deny_roots.extend(
                HOME_SECRETS
                    .iter()
                    .map(|rel| home.join(rel))
                    .filter(|p| p.symlink_metadata().is_ok()),
            );
        }
        if let Some(state) = std::env::var_os("XDG_STATE_HOME").filter(|s| !s.is_empty()) {
            spec.deny_roots.push(PathBuf::from(state).join("ftsb-fs"));
        }

        spec.add_writable(view);
        spec.add_writable(tmpdir);
        spec.sockets = vec![view.to_path_buf(), tmpdir.to_path_buf()];
        for dev in DEVICES {
            spec.add_existing(Path::new(dev), true);
        }
        for dir in SYSTEM_READ {
            spec.add_existing(Path::new(dir), false);
        }
        if let Some(home) = home {
            for rel in HOME_READ {
                spec.add_existing(&home.join(rel), false);
            }
            spec.add_cargo_home(&home.join(".cargo"));
        }
        for var in ["CARGO_HOME", "RUSTUP_HOME"] {
            let Some(dir) = std::env::var_os(var).map(PathBuf::from) else {
                continue;
            };
            if !dir.is_absolute() {
                continue;
            }
            if var == "CARGO_HOME" {
                spec.add_cargo_home(&dir);
            } else {
                spec.add_existing(&dir, false);
            }
        }
        spec
    }

    /// Grants `path` read, write and execute, carving out the deny roots.
    pub fn add_writable(&mut self, path: impl Into<PathBuf>) {
        let path = path.into();
        let carved = carve(&path, &self.deny_roots, &self.secrets);
        let kept = self.take(carved);
        self.writable.extend(kept);
    }

    /// Grants `path` read and execute, carving out the deny roots.
    pub fn add_readable(&mut self, path: impl Into<PathBuf>) {
        let path = path.into();
        let carved = carve(&path, &self.deny_roots, &self.secrets);
        let kept = self.take(carved);
        self.readable.extend(kept);
    }

    /// Grants read on the one regular file `path`, even inside a deny root: only for a file
    /// that holds nothing to protect. A missing path is left out quietly; anything but a
    /// regular file (a directory, a symlink) is refused with a note.
    pub fn add_readable_file(&mut self, path: &Path) {
        match path.symlink_metadata() {
            Err(_) => {}
            Ok(m) if m.is_file() => self.readable.push(path.to_path_buf()),
            Ok(_) => self.notes.push(format!(
                "not granted {}: not a regular file",
                path.display()
            )),
        }
    }

    /// Protects `path` from now on and carves it out of the grants made so far.
    pub fn add_deny_root(&mut self, path: impl Into<PathBuf>) {
        let deny = vec![path.into()];
        for writable in [true, false] {
            let list = std::mem::take(if writable {
                &mut self.writable
            } else {
                &mut self.readable
            });
            let mut kept = Vec::new();
            for grant in list {
                let carved = carve(&grant, &deny, &[]);
                kept.extend(self.take(carved));
            }
            if writable {
                self.writable = kept;
            } else {
                self.readable = kept;
            }
        }
        self.deny_roots.extend(deny);
    }

    /// Keeps the notes and the narrowed directories of `carved`; returns its grants.
    fn take(&mut self, carved: Carved) -> Vec<PathBuf> {
        self.notes.extend(carved.notes);
        self.listable.extend(carved.listable);
        carved.grants
    }

    /// Grants read and execute on the parts of a cargo home that hold no credentials
    /// (`bin`, `registry`, `git`, its config and env files), never `credentials.toml`.
    pub fn add_cargo_home(&mut self, cargo_home: &Path) {
        for rel in CARGO_HOME_READ {
            self.add_existing(&cargo_home.join(rel), false);
        }
    }

    /// Adds a default grant only when the path exists, so defaults stay quiet on machines
    /// without that toolchain.
    fn add_existing(&mut self, path: &Path, writable: bool) {
        if !path.exists() {
            return;
        }
        if writable {
            self.add_writable(path);
        } else {
            self.add_readable(path);
        }
    }
}

/// System secrets that exist on this machine, including each private ssh host key.
/// Empty unless running as root: for anyone else file modes already keep them unreadable, and
/// carving costs one rule per entry of `/etc`.
fn system_secrets() -> Vec<PathBuf> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Vec::new();
    }
    let mut out: Vec<PathBuf> = SYSTEM_SECRETS.iter().map(PathBuf::from).collect();
    if let Ok(entries) = std::fs::read_dir("/etc/ssh") {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("ssh_host_") && !name.ends_with(".pub") {
                out.push(entry.path());
            }
        }
    }
    out.retain(|p| p.symlink_metadata().is_ok());
    out
}

/// Resolves `path` to an absolute path without symlinks, so that containment can be compared
/// by components. The part that does not exist yet is appended as written (after lexical
/// clean-up of `.` and `..`).
pub(crate) fn resolve(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest: Vec<OsString> = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            let mut out = real;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return lexical_clean(&out);
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent.to_path_buf();
            }
            _ => return lexical_clean(path),
        }
    }
}

fn lexical_clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for comp in path.components() {
        match comp {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// What [`carve`] makes of one grant.
#[derive(Debug)]
pub(crate) struct Carved {
    /// The grants that replace it; no deny root or secret lies inside any of them.
    pub(crate) grants: Vec<PathBuf>,
    /// The directories that were narrowed, to stay listable ([`Spec::listable`]).
    pub(crate) listable: Vec<PathBuf>,
    /// What changed and why (for secrets, only a grant dropped because it could not be
    /// narrowed).
    pub(crate) notes: Vec<String>,
}

/// Carves every deny root and secret out of `grant`.
pub(crate) fn carve(grant: &Path, deny_roots: &[PathBuf], secrets: &[PathBuf]) -> Carved {
    let mut grants = vec![resolve(grant)];
    let mut listable = Vec::new();
    let mut notes = Vec::new();
    let mut secret_notes = Vec::new();
    let all = deny_roots
        .iter()
        .map(|d| (d, false))
        .chain(secrets.iter().map(|d| (d, true)));
    let mut unnarrowed = Vec::new();
    for (deny, secret) in all {
        let notes = if secret {
            &mut secret_notes
        } else {
            &mut notes
        };
        let deny = resolve(deny);
        // Nothing to protect yet (e.g. no store created at the default place): narrowing a
        // grant around a missing path would only take away from the command, or drop the view.
        if deny.symlink_metadata().is_err() {
            continue;
        }
        let mut next = Vec::new();
        for g in grants {
            if g.starts_with(&deny) {
                notes.push(format!(
                    "dropped grant {}: it lies inside protected {}",
                    g.display(),
                    deny.display()
                ));
            } else if deny.starts_with(&g) {
                match narrow(&g, &deny) {
                    Ok(parts) => {
                        notes.push(format!(
                            "narrowed grant {} to {} entries beside protected {}; entries created there later are not granted",
                            g.display(),
                            parts.len(),
                            deny.display()
                        ));
                        next.extend(parts);
                        listable.push(g);
                    }
                    // Failing closed, and never silently, not even for a secret: the command
                    // would miss the whole grant without a word why.
                    Err(e) => unnarrowed.push(format!(
                        "dropped grant {}: it contains protected {} and could not be narrowed: {e}",
                        g.display(),
                        deny.display()
                    )),
                }
            } else {
                next.push(g);
            }
        }
        grants = next;
    }
    notes.extend(unnarrowed);
    Carved {
        grants,
        listable,
        notes,
    }
}

/// Lists the entries of `grant` that lead away from `deny`, descending along the path to it.
/// Symlinks are skipped: Landlock would follow them when the rule is opened, and one could
/// point into the protected tree.
fn narrow(grant: &Path, deny: &Path) -> std::io::Result<Vec<PathBuf>> {
    let rel = deny.strip_prefix(grant).map_err(std::io::Error::other)?;
    let mut out = Vec::new();
    let mut dir = grant.to_path_buf();
    for comp in rel.components() {
        let Component::Normal(name) = comp else {
            continue;
        };
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_name() == name || entry.file_type()?.is_symlink() {
                continue;
            }
            out.push(entry.path());
        }
        dir.push(name);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carve_keeps_unrelated_grants() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let a = tmp.path().join("a");
        let b = tmp.path().join("b");
        std::fs::create_dir_all(&a).expect("mkdir");
        std::fs::create_dir_all(&b).expect("mkdir");
        let Carved {
            grants: kept,
            notes,
            ..
        } = carve(&a, std::slice::from_ref(&b), &[]);
        assert_eq!(kept, vec![resolve(&a)]);
        assert!(notes.is_empty());
    }

    #[test]
    fn carve_drops_grant_inside_deny_root() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = tmp.path().join("store");
        std::fs::create_dir_all(store.join("blobs")).expect("mkdir");
        let Carved {
            grants: kept,
            notes,
            ..
        } = carve(&store.join("blobs"), std::slice::from_ref(&store), &[]);
        assert!(kept.is_empty());
        assert!(notes[0].starts_with("dropped grant"), "{notes:?}");
    }

    /// A secret that cannot be carved out of a grant (a directory on the way to it cannot be
    /// listed, here for want of the capabilities that let root list any directory) takes the
    /// grant with it, and says so: a grant is never given with a secret inside, nor dropped
    /// without a word.
    #[test]
    fn a_grant_a_secret_cannot_be_carved_out_of_is_dropped_with_a_note() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tempdir");
        let grant = tmp.path().join("etc");
        let locked = grant.join("locked");
        std::fs::create_dir_all(locked.join("sub")).expect("mkdir");
        let secret = locked.join("sub/shadow");
        std::fs::write(&secret, b"hash").expect("write");
        // Searchable, not listable: the secret can be found, its siblings not listed.
        let mode = |m| std::fs::Permissions::from_mode(m);
        std::fs::set_permissions(&locked, mode(0o111)).expect("chmod");
        let (g, s) = (grant.clone(), secret.clone());
        // Capabilities are per thread: only this one loses them.
        let carved = std::thread::spawn(move || {
            drop_capabilities();
            carve(&g, &[], &[s])
        })
        .join()
        .expect("carve");
        std::fs::set_permissions(&locked, mode(0o755)).expect("chmod");
        assert!(carved.grants.is_empty(), "{:?}", carved.grants);
        assert_eq!(carved.notes.len(), 1, "{:?}", carved.notes);
        let note = &carved.notes[0];
        assert!(
            note.starts_with(&format!("dropped grant {}: ", resolve(&grant).display()))
                && note.contains(&resolve(&secret).display().to_string()),
            "{note}"
        );
    }

    /// Drops every capability of the calling thread.
    fn drop_capabilities() {
        #[repr(C)]
        struct Header {
            version: u32,
            pid: i32,
        }
        let header = Header {
            version: 0x2008_0522,
            pid: 0,
        };
        let data = [0u32; 6];
        // SAFETY: capset reads the header and two data structs (three u32 each), which live
        // across the call.
        let rc = unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) };
        assert_eq!(rc, 0, "capset: {}", std::io::Error::last_os_error());
    }

    #[test]
    fn carve_narrows_grant_containing_deny_root() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        for d in ["x/store", "x/sib", "y"] {
            std::fs::create_dir_all(root.join(d)).expect("mkdir");
        }
        std::fs::write(root.join("f"), b"").expect("write");
        std::os::unix::fs::symlink(root.join("x/store"), root.join("link")).expect("symlink");
        let Carved {
            grants: mut kept,
            listable,
            notes,
        } = carve(root, &[root.join("x/store")], &[]);
        kept.sort();
        let real = resolve(root);
        assert_eq!(
            kept,
            vec![real.join("f"), real.join("x/sib"), real.join("y")]
        );
        // The narrowed directory stays listable, so a nested confinement can narrow it again.
        assert_eq!(listable, vec![real]);
        assert!(notes[0].starts_with("narrowed grant"), "{notes:?}");
    }

    #[test]
    fn add_deny_root_recarves_earlier_grants() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = tmp.path().join("store");
        std::fs::create_dir_all(&store).expect("mkdir");
        let mut spec = Spec::empty();
        spec.add_writable(tmp.path());
        spec.add_readable(&store);
        spec.add_deny_root(&store);
        let store = resolve(&store);
        assert!(
            spec.writable.iter().all(|g| !store.starts_with(g)),
            "{spec:?}"
        );
        assert!(spec.readable.is_empty(), "{spec:?}");
        assert_eq!(spec.notes.len(), 2, "{:?}", spec.notes);
        spec.add_readable(&store);
        assert!(spec.readable.is_empty(), "{spec:?}");
    }

    #[test]
    fn carve_ignores_a_missing_deny_root() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let Carved {
            grants: kept,
            notes,
            ..
        } = carve(tmp.path(), &[tmp.path().join(".local/state/ftsb-fs")], &[]);
        assert_eq!(kept, vec![resolve(tmp.path())]);
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn resolve_handles_missing_tail() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let real = tmp.path().canonicalize().expect("canonicalize");
        assert_eq!(
            resolve(&tmp.path().join("no/such/../dir")),
            real.join("no/dir")
        );
    }

    #[test]
    fn for_view_never_grants_home_or_secrets() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let home = tmp.path().join("home");
        for d in [
            ".ssh",
            ".cargo/bin",
            ".local/state/ftsb-fs",
            ".cache",
            "view",
            "tmp",
        ] {
            std::fs::create_dir_all(home.join(d)).expect("mkdir");
        }
        std::fs::write(home.join(".cargo/credentials.toml"), b"token").expect("write");
        let spec = Spec::for_view(&home.join("view"), &home.join("tmp"), Some(&home), &[]);
        let home = resolve(&home);
        let all: Vec<&PathBuf> = spec.writable.iter().chain(&spec.readable).collect();
        assert!(!all.contains(&&home));
        for p in &all {
            assert!(!p.starts_with(home.join(".ssh")), "{p:?}");
            assert!(!p.starts_with(home.join(".local/state")), "{p:?}");
            assert!(!p.ends_with("credentials.toml"), "{p:?}");
            assert!(!Path::new("/etc/shadow").starts_with(p), "{p:?}");
        }
        assert!(spec.readable.contains(&home.join(".cache")));
        assert!(spec.readable.contains(&home.join(".cargo/bin")));
        assert!(spec.writable.contains(&home.join("view")));
    }
}
