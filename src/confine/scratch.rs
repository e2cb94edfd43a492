//! The private scratch directory (`TMPDIR`) of a confined command, and sweeping the ones a
//! killed supervisor left behind.
//!
//! Owns: creating `BASE/ftsb-fs-exec-PID-START-XXXXXX` ([`create`]), where `PID` and `START`
//! (its start time in clock ticks since boot) name the process that owns it, and removing
//! such directories whose owner is gone ([`sweep`]).
//!
//! Invariants:
//! - A directory is swept only if its name has this exact form, it is a real directory (not a
//!   symlink) owned by our uid, and no process with that pid and that start time exists; so a
//!   live owner's directory is never removed, even if its pid was reused before.
//! - Removal does not follow symlinks inside the directory.
//!
//! Deliberately not done here: removing the directory of a supervisor that ends normally (the
//! returned [`tempfile::TempDir`] does that when dropped).

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The common prefix of scratch directory names.
pub const PREFIX: &str = "ftsb-fs-exec-";

/// The start time of process `pid` (field 22 of `/proc/PID/stat`), if it exists.
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Creates this process's scratch directory under `base`.
pub fn create(base: &Path) -> io::Result<tempfile::TempDir> {
    let pid = std::process::id();
    let start = start_time(pid).unwrap_or(0);
    tempfile::Builder::new()
        .prefix(&format!("{PREFIX}{pid}-{start}-"))
        .tempdir_in(base)
}

/// The owner recorded in a scratch directory's name.
pub(crate) fn owner(name: &str) -> Option<(u32, u64)> {
    let mut parts = name.strip_prefix(PREFIX)?.splitn(3, '-');
    let pid = parts.next()?.parse().ok()?;
    let start = parts.next()?.parse().ok()?;
    parts.next().filter(|rest| !rest.is_empty())?;
    Some((pid, start))
}

/// Removes the scratch directories under `base` whose owning process is gone; returns the
/// ones removed. Errors on single entries are skipped: sweeping is best effort.
pub fn sweep(base: &Path) -> Vec<PathBuf> {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let mut removed = Vec::new();
    let Ok(dir) = std::fs::read_dir(base) else {
        return removed;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some((pid, start)) = name.to_str().and_then(owner) else {
            continue;
        };
        if start_time(pid) == Some(start) {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = path.symlink_metadata() else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != uid {
            continue;
        }
        if std::fs::remove_dir_all(&path).is_ok() {
            removed.push(path);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_parses_only_the_exact_form() {
        assert_eq!(owner("ftsb-fs-exec-42-1234-abc"), Some((42, 1234)));
        assert_eq!(owner("ftsb-fs-exec-42-1234-"), None);
        assert_eq!(owner("ftsb-fs-exec-abcdef"), None);
        assert_eq!(owner("other-42-1234-abc"), None);
    }

    #[test]
    fn sweep_keeps_live_owners_and_removes_dead_ones() {
        let base = tempfile::tempdir().expect("tempdir");
        let mine = create(base.path()).expect("create");
        std::fs::write(mine.path().join("f"), "x").expect("write");
        // A pid above the kernel's maximum never exists.
        let dead = base.path().join(format!("{PREFIX}99999999-5-abc"));
        std::fs::create_dir_all(dead.join("sub")).expect("mkdir");
        // Our pid with another start time: a previous owner of the pid.
        let reused = base
            .path()
            .join(format!("{PREFIX}{}-1-abc", std::process::id()));
        std::fs::create_dir(&reused).expect("mkdir");
        // A symlink named like a scratch dir is left alone.
        let link = base.path().join(format!("{PREFIX}99999998-5-lnk"));
        std::os::unix::fs::symlink(mine.path(), &link).expect("symlink");
        let mut removed = sweep(base.path());
        removed.sort();
        let mut expected = vec![dead, reused];
        expected.sort();
        assert_eq!(removed, expected);
        assert!(mine.path().join("f").exists());
        assert!(link.symlink_metadata().is_ok());
    }
}
