//! Which processes hold a directory (from `/proc`), for refusals that say what to do: an
//! `unmount` of a busy view names who keeps it busy, and an in-place `mount` warns about
//! shells that stay in the real directory under the view. Also whether this user may use
//! `/dev/fuse` at all, checked before a daemon is started.
//!
//! Best effort by nature: processes of other users are invisible without privileges, and a
//! process may move between the scan and the message.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::output::count;
use super::report::{Code, code_of, coded};

/// Refuses early, with what to do, when this user may not open `/dev/fuse`.
///
/// `fusermount3` opens the device with the calling user's rights too (deliberately: the
/// device's mode decides who may use FUSE), so where it is root's alone (mode 0600) no
/// unprivileged mount can work, whatever the path to it.
pub fn check_fuse_device() -> anyhow::Result<()> {
    const DEV: &std::ffi::CStr = c"/dev/fuse";
    // SAFETY: `DEV` is a valid NUL-terminated path; access has no other preconditions.
    if unsafe { libc::access(DEV.as_ptr(), libc::R_OK | libc::W_OK) } == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    if err.kind() == std::io::ErrorKind::NotFound {
        return Err(coded(
            Code::NotFound,
            "there is no /dev/fuse: load the fuse module (modprobe fuse)",
        ));
    }
    let mode = std::fs::metadata("/dev/fuse")
        .map(|m| {
            format!(
                "mode {:o}",
                std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777
            )
        })
        .unwrap_or_else(|_| "unknown mode".into());
    Err(coded(
        Code::PermissionDenied,
        format!(
            "this user may not open /dev/fuse ({mode}: {err}), and fusermount3 opens it as this user too; make it usable (chmod 0666 /dev/fuse, the usual mode) or mount as root"
        ),
    ))
}

/// A process that holds something below a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    /// Its command name (`/proc/PID/comm`).
    pub name: String,
    /// Its working directory is inside (else: only an open file is).
    pub cwd: bool,
}

/// The processes other than this one whose working directory, or (with `files`) an open
/// file, lies at or below `dir`.
pub fn holders(dir: &Path, files: bool) -> Vec<Holder> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let inside = |link: PathBuf| is_below(&link, dir);
    let mut out = Vec::new();
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let proc_dir = e.path();
        let cwd = std::fs::read_link(proc_dir.join("cwd")).is_ok_and(inside);
        let file = files
            && !cwd
            && std::fs::read_dir(proc_dir.join("fd")).is_ok_and(|fds| {
                fds.flatten()
                    .any(|fd| std::fs::read_link(fd.path()).is_ok_and(inside))
            });
        if cwd || file {
            let name = std::fs::read_to_string(proc_dir.join("comm"))
                .map(|n| n.trim().to_owned())
                .unwrap_or_else(|_| "?".into());
            out.push(Holder { pid, name, cwd });
        }
    }
    out.sort_by_key(|h| h.pid);
    out
}

/// Whether `p` is `dir` or below it (by path; `/proc` links name paths, never follow them).
fn is_below(p: &Path, dir: &Path) -> bool {
    p.starts_with(dir) && !p.as_os_str().as_bytes().ends_with(b" (deleted)")
}

/// This process's parent: usually the shell the command was typed in.
fn parent_pid() -> u32 {
    // SAFETY: getppid has no preconditions and cannot fail.
    let ppid = unsafe { libc::getppid() };
    u32::try_from(ppid).unwrap_or(0)
}

/// `name (pid N)`, with `your shell` for this command's parent.
fn describe(h: &Holder) -> String {
    if h.pid == parent_pid() {
        format!("{} (pid {}, your shell)", h.name, h.pid)
    } else {
        format!("{} (pid {})", h.name, h.pid)
    }
}

fn list(hs: &[Holder]) -> String {
    const SHOWN: usize = 5;
    let mut s = hs
        .iter()
        .take(SHOWN)
        .map(describe)
        .collect::<Vec<_>>()
        .join(", ");
    if hs.len() > SHOWN {
        s.push_str(&format!(" and {} more", hs.len() - SHOWN));
    }
    s
}

/// Moves this process out of `view`, so its own working directory does not keep it busy.
pub fn leave(view: &Path) {
    if std::env::current_dir().is_ok_and(|c| c.starts_with(view)) {
        let _ = std::env::set_current_dir("/");
    }
}

/// Turns an unmount refused because the view is busy into an error that names who holds
/// it and what to do; other errors pass through unchanged.
pub fn explain_busy(err: anyhow::Error, view: &Path) -> anyhow::Error {
    if code_of(&err) != Code::Busy {
        return err;
    }
    let hs = holders(view, true);
    let shell_inside = hs.iter().any(|h| h.cwd && h.pid == parent_pid());
    let (cwd, files): (Vec<_>, Vec<_>) = hs.into_iter().partition(|h| h.cwd);
    let mut msg = format!("the view {} is busy", view.display());
    if shell_inside {
        msg.push_str(&format!(
            ": your shell's working directory is inside it; cd out of it first (cd {}) and unmount again",
            view.parent().unwrap_or(Path::new("/")).display()
        ));
    } else if !cwd.is_empty() {
        msg.push_str(&format!(
            ": {} working directory inside it ({}); cd them out of it or end them, then unmount again",
            count(cwd.len() as u64, "process has its", "processes have their"),
            list(&cwd)
        ));
    } else if !files.is_empty() {
        msg.push_str(&format!(
            ": {} open inside it ({}); close them or end those processes, then unmount again",
            count(
                files.len() as u64,
                "process has files",
                "processes have files"
            ),
            list(&files)
        ));
    } else {
        msg.push_str(&format!(
            " ({}); close what uses it and unmount again",
            super::report::one_line(&err)
        ));
    }
    if shell_inside && (cwd.len() > 1 || !files.is_empty()) {
        let others: Vec<_> = cwd
            .iter()
            .chain(&files)
            .filter(|h| h.pid != parent_pid())
            .cloned()
            .collect();
        msg.push_str(&format!("; also held by {}", list(&others)));
    }
    coded(Code::Busy, msg)
}

/// With an in-place mount, processes already inside the workspace directory keep seeing the
/// real files, not the view: warn about them (call right after mounting).
pub fn warn_left_behind(ws: &Path, left: &[Holder]) {
    if left.is_empty() {
        return;
    }
    let shell = left.iter().any(|h| h.pid == parent_pid());
    let what = count(left.len() as u64, "process has its", "processes have their");
    super::output::warn(&format!(
        "{what} working directory inside {} from before the mount ({}) and keeps seeing the real files, not the view; {}",
        ws.display(),
        list(left),
        if shell {
            "run `cd \"$PWD\"` in your shell to enter the view"
        } else {
            "they enter the view by changing directory into it again"
        }
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_in_a_directory_is_found_and_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dir = dir.path().canonicalize().expect("canonical");
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .current_dir(&dir)
            .spawn()
            .expect("sleep");
        let found = holders(&dir, false);
        let _ = child.kill();
        let _ = child.wait();
        let h = found
            .iter()
            .find(|h| h.pid == child.id())
            .expect("the sleeper is found");
        assert_eq!(h.name, "sleep");
        assert!(h.cwd);
        assert!(describe(h).contains(&format!("pid {}", child.id())));
        // A sibling directory with a common prefix is not inside.
        assert!(!is_below(Path::new("/a/bc"), Path::new("/a/b")));
        assert!(is_below(Path::new("/a/b/c"), Path::new("/a/b")));
    }
}
