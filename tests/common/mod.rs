//! Shared test support.
//!
//! For the mounted test tier: a [`Mounted`] guard that mounts a temp workspace and always
//! takes the mount down again, a tree snapshot ([`tree()`]) for bit-exact comparisons, and
//! command runners that put the output into the failure message. Every test builds its own
//! temp dirs (workspace, view, store, state home), so tests can run in parallel and never
//! touch the real home.
//!
//! For the commit engine: a seeded random workspace and change set expressed as a
//! [`Plan`](ftsb_fs::txn::Plan) with its expected "after" tree ([`changes`]), and a tree scanner
//! that compares workspaces exactly ([`tree`]).

#![allow(
    dead_code,
    unused_imports,
    reason = "each test file uses a different subset of the helpers"
)]
#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_ftsb-fs");

/// A mounted workspace in temp dirs; dropping it unmounts with `--abort` (and detaches the
/// view lazily and kills the daemon if that fails), so a failing test never leaves a mount.
#[derive(Debug)]
pub struct Mounted {
    /// Holds every directory below; removed on drop after the unmount.
    pub root: tempfile::TempDir,
    /// The workspace (the lower directory).
    pub ws: PathBuf,
    /// Where the view is mounted: `--at` dir, or the workspace itself in-place.
    pub view: PathBuf,
    /// The `--store` directory.
    pub store: PathBuf,
    /// `XDG_STATE_HOME` for every ftsb-fs process of this test.
    pub state: PathBuf,
    /// The daemon's pid, as `mount --json` reported it.
    pub pid: Option<u32>,
    /// Whether the view is (believed to be) mounted.
    pub mounted: bool,
    /// More arguments for `mount` (and environment for the daemon it starts).
    pub mount_args: Vec<String>,
    pub mount_env: Vec<(String, String)>,
}

impl Mounted {
    /// A workspace filled by `fill`, mounted with `--at` a separate dir, so the workspace
    /// itself stays readable directly.
    pub fn at(fill: impl FnOnce(&Path)) -> Mounted {
        Self::new(fill, true)
    }

    /// A workspace filled by `fill`, mounted in place (the view hides the workspace).
    pub fn in_place(fill: impl FnOnce(&Path)) -> Mounted {
        Self::new(fill, false)
    }

    fn new(fill: impl FnOnce(&Path), at: bool) -> Mounted {
        Self::named("ws", fill, at)
    }

    /// Like [`Mounted::at`] or [`Mounted::in_place`], with the workspace directory named `name`.
    pub fn named(name: &str, fill: impl FnOnce(&Path), at: bool) -> Mounted {
        Self::with(name, fill, at, &[], &[])
    }

    /// Like [`Mounted::named`], with more `mount` arguments and daemon environment.
    pub fn with(
        name: &str,
        fill: impl FnOnce(&Path),
        at: bool,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Mounted {
        let root = tempfile::Builder::new()
            .prefix("ftsb-mnt-")
            .tempdir()
            .unwrap();
        let base = root.path().canonicalize().unwrap();
        let ws = base.join(name);
        let store = base.join("store");
        let state = base.join("state");
        std::fs::create_dir(&ws).unwrap();
        std::fs::create_dir(&state).unwrap();
        fill(&ws);
        let view = if at {
            let v = base.join(format!("view of {name}"));
            std::fs::create_dir(&v).unwrap();
            v
        } else {
            ws.clone()
        };
        let mut m = Mounted {
            root,
            ws,
            view,
            store,
            state,
            pid: None,
            mounted: false,
            mount_args: args.iter().map(|a| (*a).to_owned()).collect(),
            mount_env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        m.mount();
        m
    }

    /// An `ftsb-fs` command with this test's state home, and no user configuration file
    /// (the test's config home is empty).
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env("XDG_STATE_HOME", &self.state)
            .env("XDG_CONFIG_HOME", self.state.join("config"));
        c
    }

    /// The mount command line of this workspace.
    pub fn mount_cmd(&self) -> Command {
        let mut c = self.cmd();
        c.arg("--json")
            .arg("mount")
            .arg(&self.ws)
            .arg("--store")
            .arg(&self.store);
        if self.view != self.ws {
            c.arg("--at").arg(&self.view);
        }
        c.args(&self.mount_args);
        c.envs(self.mount_env.iter().map(|(k, v)| (k, v)));
        c
    }

    /// Mounts (again); panics with the output if that fails.
    pub fn mount(&mut self) {
        let out = run_ok(&mut self.mount_cmd());
        self.adopt(&out);
    }

    /// Takes over the mount a successful `mount --json` (run by the test itself) reported,
    /// so dropping `self` takes it down; returns the reported JSON.
    pub fn adopt(&mut self, out: &Output) -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        self.pid = v["pid"].as_u64().map(|p| p as u32);
        self.mounted = true;
        v
    }

    /// Runs `ftsb-fs ARGS... WS` and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let mut c = self.cmd();
        c.args(args).arg(&self.ws);
        String::from_utf8_lossy(&run_ok(&mut c).stdout).into_owned()
    }

    /// `ftsb-fs ARGS... WS` without asserting anything.
    pub fn try_(&self, args: &[&str]) -> Output {
        let mut c = self.cmd();
        c.args(args).arg(&self.ws);
        output(&mut c)
    }

    /// Discards the overlay.
    pub fn abort(&self) {
        self.ok(&["abort"]);
    }

    /// Publishes the overlay.
    pub fn commit(&self) {
        self.ok(&["commit"]);
    }

    /// A path inside the view.
    pub fn v(&self, rel: &str) -> PathBuf {
        self.view.join(rel)
    }

    /// A path inside the workspace (read directly; only meaningful with `--at`).
    pub fn w(&self, rel: &str) -> PathBuf {
        self.ws.join(rel)
    }

    /// Unmounts with `--abort` and waits for the daemon to exit.
    pub fn unmount_abort(&mut self) -> Output {
        let out = self.try_(&["unmount", "--abort"]);
        if out.status.success() {
            self.mounted = false;
            self.wait_daemon_gone();
        }
        out
    }

    /// Waits (bounded) for the daemon process to exit.
    pub fn wait_daemon_gone(&self) {
        if let Some(pid) = self.pid {
            let started = Instant::now();
            while Path::new(&format!("/proc/{pid}")).exists()
                && !is_zombie(pid)
                && started.elapsed() < Duration::from_secs(10)
            {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Whether `pid` is gone, or a zombie whose threads have all exited (a leader can be a zombie
/// while its other threads still run, holding the daemon's sockets).
fn is_zombie(pid: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return true;
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .unwrap_or("")
            .to_owned()
    };
    field("State:").starts_with('Z') && field("Threads:") == "1"
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if self.mounted {
            let _ = self.unmount_abort();
        }
        // Whatever the unmount said (or if a test gave the mount up early), leave nothing.
        if is_mounted(&self.view) {
            if let Some(pid) = self.pid.filter(|p| !is_zombie(*p)) {
                // SAFETY: kill has no memory preconditions; the pid is our own daemon's.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            }
            detach(&self.view);
        }
    }
}

/// Whether anything is mounted exactly at `path`.
pub fn is_mounted(path: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let want = path.to_string_lossy().replace(' ', "\\040");
    info.lines()
        .any(|l| l.split(' ').nth(4).is_some_and(|m| m == want))
}

/// Lazily detaches whatever is mounted at `path`.
pub fn detach(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
}

/// Asserts `out` is a failure with exactly one stderr line, `error: ...`, containing `needle`.
pub fn assert_error(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected a failure; stderr: {stderr}"
    );
    let lines: Vec<_> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one stderr line, got: {stderr}");
    assert!(
        lines[0].starts_with("error: "),
        "not an error line: {stderr}"
    );
    assert!(
        lines[0].to_lowercase().contains(&needle.to_lowercase()),
        "error does not say {needle:?}: {stderr}"
    );
}

/// Runs a command and captures its output.
pub fn output(c: &mut Command) -> Output {
    c.output()
        .unwrap_or_else(|e| panic!("cannot start {c:?}: {e}"))
}

/// Runs a command, asserting it succeeds; the failure message carries its output.
pub fn run_ok(c: &mut Command) -> Output {
    let out = output(c);
    assert!(
        out.status.success(),
        "{c:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `sh -c SCRIPT` in `dir`, asserting success.
pub fn sh(dir: &Path, script: &str) -> Output {
    run_ok(Command::new("sh").arg("-c").arg(script).current_dir(dir))
}

/// Whether every test must run: under CI (`CI` set, not `0`/`false`) or with
/// `FTSB_REQUIRE_ALL=1`, a test that cannot run fails instead of skipping.
pub fn require_all() -> bool {
    let set = |v: &str| std::env::var(v).is_ok_and(|s| !s.is_empty() && s != "0" && s != "false");
    set("CI") || set("FTSB_REQUIRE_ALL")
}

/// Says loudly that `what` cannot run here and why; panics (fails the test) when
/// [`require_all`]. The caller returns right after, so a skip never passes silently
/// unnoticed and never passes at all in CI.
pub fn skip(what: &str, why: &str) {
    if require_all() {
        panic!("{what} could not run: {why} (required: CI or FTSB_REQUIRE_ALL=1 is set)");
    }
    eprintln!(
        "\n==== SKIP: {what} did not run: {why}\n==== (it fails under CI or FTSB_REQUIRE_ALL=1; scripts/install-deps installs what tests need)\n"
    );
}

/// `true` when `ok`; otherwise [`skip`]s `what` for `why` and returns `false`:
/// `if !require(cond, "the x test", "needs y") { return; }`.
pub fn require(ok: bool, what: &str, why: &str) -> bool {
    if !ok {
        skip(what, why);
    }
    ok
}

/// Whether `tool` is on PATH; [`skip`]s the calling test if not.
pub fn have(tool: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()));
    require(
        found,
        &format!("a test that runs {tool}"),
        &format!("{tool} is not installed"),
    )
}

/// What [`tree`] records of each object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeOpts {
    /// Record file mtimes (not for comparing two independently built trees).
    pub mtimes: bool,
    /// Record owners.
    pub owners: bool,
}

/// For isolation and abort checks: everything, including file mtimes.
pub const EXACT: TreeOpts = TreeOpts {
    mtimes: true,
    owners: true,
};
/// For the differential test: everything but times.
pub const SHAPE: TreeOpts = TreeOpts {
    mtimes: false,
    owners: true,
};

/// A description of every object below `dir` (relative path → type, mode, size, contents
/// hash, link count and hard-link group, symlink target, xattrs, and optionally mtime and
/// owner). Two trees are equal exactly when these maps are.
pub fn tree(dir: &Path, opts: TreeOpts) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut inodes: BTreeMap<(u64, u64), Vec<String>> = BTreeMap::new();
    // The root itself: its mode, owner and xattrs belong to the tree too.
    let m = std::fs::metadata(dir).unwrap_or_else(|e| panic!("stat {}: {e}", dir.display()));
    let mut d = format!("dir mode={:o}", m.mode());
    if opts.owners {
        write!(d, " owner={}:{}", m.uid(), m.gid()).unwrap();
    }
    for (k, v) in xattrs(dir) {
        write!(d, " xattr:{k}={}", String::from_utf8_lossy(&v)).unwrap();
    }
    out.insert(".".to_owned(), d);
    walk(dir, dir, opts, &mut out, &mut inodes);
    // Hard-link structure: each name of a multiply-linked file names its first sibling.
    for names in inodes.values() {
        if names.len() > 1 {
            for n in names {
                let e = out.get_mut(n).unwrap();
                write!(e, " linkgroup={}", names[0]).unwrap();
            }
        }
    }
    out
}

/// One hash over [`tree`]`(dir, EXACT)`: equal exactly when the two trees are.
pub fn tree_hash(dir: &Path) -> String {
    let mut h = blake3::Hasher::new();
    for (k, v) in tree(dir, EXACT) {
        h.update(k.as_bytes());
        h.update(b"\0");
        h.update(v.as_bytes());
        h.update(b"\n");
    }
    h.finalize().to_hex().to_string()
}

fn walk(
    root: &Path,
    dir: &Path,
    opts: TreeOpts,
    out: &mut BTreeMap<String, String>,
    inodes: &mut BTreeMap<(u64, u64), Vec<String>>,
) {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for p in names {
        let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let m =
            std::fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("lstat {}: {e}", p.display()));
        let ft = m.file_type();
        let mut d = String::new();
        let kind = if ft.is_dir() {
            "dir"
        } else if ft.is_file() {
            "file"
        } else if ft.is_symlink() {
            "symlink"
        } else {
            "special"
        };
        write!(d, "{kind} mode={:o}", m.mode()).unwrap();
        if opts.owners {
            write!(d, " owner={}:{}", m.uid(), m.gid()).unwrap();
        }
        if ft.is_file() {
            let data = std::fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
            write!(
                d,
                " size={} nlink={} data={}",
                m.len(),
                m.nlink(),
                blake3::hash(&data).to_hex()
            )
            .unwrap();
            if opts.mtimes {
                write!(d, " mtime={}.{:09}", m.mtime(), m.mtime_nsec()).unwrap();
            }
            if m.nlink() > 1 {
                inodes
                    .entry((m.dev(), m.ino()))
                    .or_default()
                    .push(rel.clone());
            }
        }
        if ft.is_symlink() {
            let t = std::fs::read_link(&p).unwrap();
            write!(d, " target={}", t.display()).unwrap();
        }
        for (k, v) in xattrs(&p) {
            write!(d, " xattr:{k}={}", String::from_utf8_lossy(&v)).unwrap();
        }
        out.insert(rel, d);
        if ft.is_dir() {
            walk(root, &p, opts, out, inodes);
        }
    }
}

/// The xattrs of `p` (not following symlinks), sorted by name.
pub fn xattrs(p: &Path) -> BTreeMap<String, Vec<u8>> {
    let c = cpath(p);
    let mut out = BTreeMap::new();
    let mut buf = vec![0u8; 64 * 1024];
    // SAFETY: `c` is a valid path and `buf` is writable for its length.
    let n = unsafe { libc::llistxattr(c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n <= 0 {
        return out;
    }
    for name in buf[..n as usize]
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
    {
        let cname = CString::new(name).unwrap();
        let mut val = vec![0u8; 64 * 1024];
        // SAFETY: valid NUL-terminated strings and a writable buffer of the given length.
        let len = unsafe {
            libc::lgetxattr(
                c.as_ptr(),
                cname.as_ptr(),
                val.as_mut_ptr().cast(),
                val.len(),
            )
        };
        if len >= 0 {
            val.truncate(len as usize);
            out.insert(String::from_utf8_lossy(name).into_owned(), val);
        }
    }
    out
}

/// Asserts that two trees are equal, listing every difference.
pub fn assert_trees_eq(what: &str, a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) {
    if a == b {
        return;
    }
    let mut msg = format!("{what}: trees differ\n");
    for (k, v) in a {
        match b.get(k) {
            None => writeln!(msg, "  only left:  {k}: {v}").unwrap(),
            Some(w) if w != v => {
                writeln!(msg, "  changed:    {k}:\n    left:  {v}\n    right: {w}").unwrap()
            }
            _ => {}
        }
    }
    for (k, v) in b {
        if !a.contains_key(k) {
            writeln!(msg, "  only right: {k}: {v}").unwrap();
        }
    }
    panic!("{msg}");
}

/// A small starting workspace: files, a subdir, a symlink, a hard-linked pair, an xattr,
/// an executable, an empty dir.
pub fn sample_tree(ws: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(ws.join("a.txt"), "alpha\n").unwrap();
    std::fs::write(ws.join("b.txt"), "bravo\n").unwrap();
    std::fs::create_dir_all(ws.join("dir/sub")).unwrap();
    std::fs::write(ws.join("dir/c.txt"), "charlie\n").unwrap();
    std::fs::write(ws.join("dir/sub/d.txt"), "delta\n").unwrap();
    std::fs::create_dir(ws.join("empty")).unwrap();
    std::fs::write(ws.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(ws.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("a.txt", ws.join("link")).unwrap();
    std::fs::write(ws.join("h1"), "hard\n").unwrap();
    std::fs::hard_link(ws.join("h1"), ws.join("dir/h2")).unwrap();
    set_xattr(&ws.join("b.txt"), "user.tag", b"orig");
}

/// Sets an xattr, panicking on failure.
pub fn set_xattr(p: &Path, name: &str, value: &[u8]) {
    let c = cpath(p);
    let n = CString::new(name).unwrap();
    // SAFETY: valid NUL-terminated strings and a readable buffer of the given length.
    let r = unsafe {
        libc::lsetxattr(
            c.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    assert_eq!(
        r,
        0,
        "setxattr {} {name}: {}",
        p.display(),
        std::io::Error::last_os_error()
    );
}

/// The errno of the last failed libc call.
pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// A NUL-terminated copy of a path.
pub fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

/// The standard tail of a mounted test: the workspace is unchanged (`before`), then abort
/// makes the view equal to the workspace again.
pub fn check_isolation_then_abort(m: &Mounted, before: &BTreeMap<String, String>) {
    assert_trees_eq(
        "workspace changed before commit",
        before,
        &tree(&m.ws, EXACT),
    );
    m.abort();
    assert_trees_eq("workspace after abort", before, &tree(&m.ws, EXACT));
    assert_trees_eq(
        "view after abort vs workspace",
        before,
        &tree(&m.view, EXACT),
    );
}

// ---- Commit-engine support (tests/commit_crash.rs) ----

pub mod changes;
pub mod procs;
pub mod tmux;
pub mod tree;

pub use changes::{Size, Trial, trial, trial_in};
pub use tree::{Tree, diff, is_root, scan};

/// A small deterministic PRNG (SplitMix64), so a seed names a trial forever.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            Some(&items[self.below(items.len())])
        }
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(n);
        out
    }
    fn time(&mut self) -> (i64, u32) {
        (
            1_600_000_000 + self.below(100_000_000) as i64,
            self.below(1_000_000_000) as u32,
        )
    }
}

/// A new pty pair: master, slave and the slave's path.
pub fn open_pty() -> (std::fs::File, std::fs::File, std::path::PathBuf) {
    use std::os::fd::FromRawFd;
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two fds; the other pointers may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    let path = std::fs::read_link(format!("/proc/self/fd/{slave}")).unwrap();
    // SAFETY: both fds were just opened by openpty and are owned by nobody else.
    unsafe {
        (
            std::fs::File::from_raw_fd(master),
            std::fs::File::from_raw_fd(slave),
            path,
        )
    }
}
