//! `mount`, `unmount`, `recover`, `fsck`: bringing a view up and down, and checking a store.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;

use super::output::outln;
use super::{absolute, call, print_json, resolve_workspace};
use crate::control::{Client, Request, UnmountMode, reply};
use crate::daemon;

/// `ftsb-fs mount`.
#[derive(Debug, clap::Args)]
pub struct MountArgs {
    /// The workspace directory.
    pub workspace: PathBuf,
    /// Mount the view here instead of over the workspace itself.
    #[arg(long)]
    pub at: Option<PathBuf>,
    /// The store directory (default: $XDG_STATE_HOME/ftsb-fs/NAME-HASH).
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Keep the daemon attached to this terminal (logs to stderr; filter with RUST_LOG).
    #[arg(long)]
    pub foreground: bool,
    /// Let other users use the view (non-root needs user_allow_other in /etc/fuse.conf).
    #[arg(long)]
    pub allow_other: bool,
    /// Mount the view noexec: no program in it can be executed directly.
    #[arg(long)]
    pub noexec: bool,
    /// Mount the view read-only (to look, not to change: writes fail with EROFS).
    #[arg(long)]
    pub read_only: bool,
    /// Take kernel requests through FUSE-over-io_uring (Linux 6.14+, the fuse module's
    /// enable_uring on); falls back to /dev/fuse, saying why in the daemon's log.
    #[arg(long)]
    pub uring: bool,
}

/// `ftsb-fs unmount`.
#[derive(Debug, clap::Args)]
pub struct UnmountArgs {
    pub workspace: Option<PathBuf>,
    /// Discard uncommitted changes first.
    #[arg(long, conflicts_with = "keep")]
    pub abort: bool,
    /// Keep uncommitted changes in the store for the next mount.
    #[arg(long)]
    pub keep: bool,
}

/// `ftsb-fs recover` and `ftsb-fs fsck`.
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    pub workspace: PathBuf,
    /// The store directory, when not in its default place.
    #[arg(long)]
    pub store: Option<PathBuf>,
}

/// The default store of `workspace`: one per workspace, outside it, under the configured
/// store root (`$XDG_STATE_HOME/ftsb-fs` unless a configuration file says otherwise).
pub fn default_store(workspace: &Path) -> anyhow::Result<PathBuf> {
    let root = super::config::Config::load(workspace, None)?
        .store_root
        .value;
    let name = workspace
        .file_name()
        .map_or_else(|| "root".into(), |n| n.to_string_lossy().into_owned());
    let hash = blake3::hash(workspace.as_os_str().as_encoded_bytes()).to_hex();
    Ok(root.join(format!("{name}-{}", &hash[..16])))
}

fn checked_workspace(p: &Path) -> anyhow::Result<PathBuf> {
    let ws = absolute(p)?;
    match std::fs::metadata(&ws) {
        Ok(m) if m.is_dir() => Ok(ws),
        Ok(_) => bail!("workspace {} is not a directory", ws.display()),
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => Ok(ws),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("workspace {} does not exist", ws.display())
        }
        Err(e) => bail!("workspace {}: {e}", ws.display()),
    }
}

pub fn mount(a: MountArgs, json: bool) -> anyhow::Result<i32> {
    let ws = checked_workspace(&a.workspace)?;
    // A live daemon answers on the workspace's socket wherever its view is (with --at the
    // workspace itself is no mount point); otherwise the wait below would mistake the first
    // daemon's answer for the new one's.
    if Client::connect(&ws).is_ok() {
        bail!("workspace {} is already mounted", ws.display());
    }
    let view = match &a.at {
        Some(at) => {
            let v = absolute(at)?;
            match std::fs::metadata(&v) {
                Ok(m) if m.is_dir() => {}
                // A view left behind by a killed daemon: the daemon detaches it.
                Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {}
                _ => bail!("mount point {} is not a directory", v.display()),
            }
            v
        }
        None => ws.clone(),
    };
    let store = match a.store {
        Some(s) => absolute(&s)?,
        None => default_store(&ws)?,
    };
    if let Some(mounted) = daemon::nested_mount(&ws, &view) {
        bail!(
            "workspace {} overlaps the mounted workspace {}; nested mounts are refused",
            ws.display(),
            mounted.display()
        );
    }
    // Before the store is claimed: a user who cannot mount leaves nothing behind.
    super::procs::check_fuse_device()?;
    let home = std::env::var_os("HOME").map(PathBuf::from);
    crate::store::layout::check_location(&store, &ws, home.as_deref())?;
    // Before anything is written into it (the daemon's log, below): a directory that is
    // neither empty nor a store is refused untouched.
    crate::store::layout::claim(&store)?;
    let config = daemon::Config {
        workspace: ws.clone(),
        view: view.clone(),
        store: store.clone(),
        allow_other: a.allow_other,
        noexec: a.noexec,
        read_only: a.read_only,
        uring: a.uring,
    };
    if a.foreground {
        init_tracing();
        // Before the view covers the workspace: its configuration as the user left it.
        std::fs::create_dir_all(&store)
            .with_context(|| format!("create store {}", store.display()))?;
        super::config::pin(&ws, &store)?;
        daemon::run(config)?;
        return Ok(0);
    }
    // In place, whoever is in the directory now stays below the view, on the real files.
    let left_behind = if a.at.is_none() {
        super::procs::holders(&ws, false)
    } else {
        Vec::new()
    };
    std::fs::create_dir_all(&store).with_context(|| format!("create store {}", store.display()))?;
    let log_path = store.join("daemon.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("open {}", log_path.display()))?;
    let exe = std::env::current_exe().context("locate the ftsb-fs binary")?;
    let mut cmd = Command::new(exe);
    cmd.arg("mount")
        .arg(&ws)
        .arg("--store")
        .arg(&store)
        .arg("--foreground");
    cmd.arg("--at").arg(&view);
    if a.allow_other {
        cmd.arg("--allow-other");
    }
    if a.noexec {
        cmd.arg("--noexec");
    }
    if a.read_only {
        cmd.arg("--read-only");
    }
    if a.uring {
        cmd.arg("--uring");
    }
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .current_dir("/");
    // SAFETY: setsid is async-signal-safe and only detaches the child from our session.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn().context("start the daemon")?;
    let started = Instant::now();
    loop {
        if let Ok(mut c) = Client::connect(&ws)
            && c.call::<reply::Info>(&Request::Info).is_ok()
        {
            break;
        }
        if let Some(status) = child.try_wait()? {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            let last = text
                .lines()
                .rev()
                .find(|l| l.contains("error"))
                .unwrap_or("see the daemon log");
            let last = last.split("error: ").last().unwrap_or(last);
            bail!("the daemon exited ({status}): {}", last.trim());
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            bail!(
                "the daemon did not answer within 20 s; see {}",
                log_path.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    super::procs::warn_left_behind(&ws, &left_behind);
    if json {
        print_json(&json!({ "workspace": ws, "view": view, "store": store, "pid": child.id() }))?;
    } else {
        outln!(
            "mounted {} at {} (store {})",
            ws.display(),
            view.display(),
            store.display()
        )?;
    }
    Ok(0)
}

fn init_tracing() {
    super::output::init_tracing("info");
}

pub fn unmount(a: UnmountArgs, json: bool) -> anyhow::Result<i32> {
    let ws = resolve_workspace(a.workspace.as_deref())?;
    let mode = if a.abort {
        UnmountMode::Abort
    } else if a.keep {
        UnmountMode::Keep
    } else {
        UnmountMode::Refuse
    };
    let reply::Info { view, .. } = call(&ws, &Request::Info)?;
    // Our own working directory must not be what keeps the view busy.
    super::procs::leave(&view);
    call::<reply::Unmounted>(&ws, &Request::Unmount { mode })
        .map_err(|e| super::procs::explain_busy(e, &view))?;
    // The daemon exits once the kernel lets go of the view.
    // ... and its socket is gone with it, so a `mount` right after this one does not find
    // the exiting daemon still listening and call the workspace mounted.
    let started = Instant::now();
    while (daemon::mounted_workspace(&view).is_some() || Client::connect(&ws).is_ok())
        && started.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    if json {
        print_json(&json!({ "unmounted": ws }))?;
    } else {
        outln!("unmounted {}", ws.display())?;
    }
    Ok(0)
}

fn store_of(a: &StoreArgs) -> anyhow::Result<(PathBuf, PathBuf)> {
    let ws = absolute(&a.workspace)?;
    let store = match &a.store {
        Some(s) => absolute(s)?,
        None => default_store(&ws)?,
    };
    let home = std::env::var_os("HOME").map(PathBuf::from);
    crate::store::layout::check_location(&store, &ws, home.as_deref())?;
    crate::store::layout::require(&store)?;
    Ok((ws, store))
}

pub fn recover(a: StoreArgs, json: bool) -> anyhow::Result<i32> {
    let (ws, store) = store_of(&a)?;
    if Client::connect(&ws).is_ok() {
        bail!(
            "workspace {} is mounted; its daemon ran recovery at mount",
            ws.display()
        );
    }
    let outcome = crate::txn::recover_store(&ws, &store)?;
    if json {
        print_json(&json!({ "workspace": ws, "recovery": outcome.to_string() }))?;
    } else {
        outln!("{outcome}")?;
    }
    Ok(0)
}

pub fn fsck(a: StoreArgs, json: bool) -> anyhow::Result<i32> {
    let (ws, store) = store_of(&a)?;
    let report = super::output::progress("checking the store", || crate::txn::fsck(&ws, &store))?;
    if json {
        print_json(&serde_json::to_value(&report)?)?;
    } else {
        for p in &report.problems {
            outln!("problem: {p}")?;
        }
        outln!(
            "{} checked, {}",
            super::output::count(report.blobs as u64, "blob", "blobs"),
            super::output::count(report.problems.len() as u64, "problem", "problems")
        )?;
    }
    Ok(if report.problems.is_empty() { 0 } else { 2 })
}
