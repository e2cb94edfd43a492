//! `mount.ftsb WS DIR [-o OPTIONS]`: the mount(8)-style helper, so fstab or a systemd mount
//! unit can mount an ftsb-fs view of workspace WS at DIR (DIR may be WS itself).
//!
//! Cargo cannot name a binary with a dot, so it builds `mount-ftsb`; `scripts/install` puts it
//! in place as `/sbin/mount.ftsb`, the name mount(8) looks for (`mount -t ftsb`).
//!
//! Options (comma-separated after `-o`, applied left to right): `store=DIR` (the store;
//! default per workspace), `allow_other`, `ro`/`rw` (`ftsb-fs mount --read-only`),
//! `noexec`/`exec` (`--noexec`), `uring` (`--uring`), `defaults` (rw,exec); `nosuid` and `nodev` are always in
//! effect, so `suid` and `dev` are refused; the options only mount(8) and fstab act on
//! (`auto`, `noauto`, `user`, `nouser`, `users`, `_netdev`, `nofail`, `x-*`, `comment=`) are
//! accepted and ignored. The flags `-n`, `-s`, `-v`, `-t TYPE` are accepted; `-f` (fake)
//! checks the arguments and does nothing.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use mount_helper::parse;

/// The `ftsb-fs` binary: beside this one if it is there, else from PATH.
fn ftsb_fs() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("ftsb-fs")))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("ftsb-fs"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let req = match parse(&args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: mount.ftsb: {e}");
            return ExitCode::from(1);
        }
    };
    if req.fake {
        return ExitCode::SUCCESS;
    }
    let mut cmd = Command::new(ftsb_fs());
    cmd.arg("mount").arg(&req.workspace);
    if req.dir != req.workspace {
        cmd.arg("--at").arg(&req.dir);
    }
    if let Some(s) = &req.store {
        cmd.arg("--store").arg(s);
    }
    if req.allow_other {
        cmd.arg("--allow-other");
    }
    if req.noexec {
        cmd.arg("--noexec");
    }
    if req.read_only {
        cmd.arg("--read-only");
    }
    if req.uring {
        cmd.arg("--uring");
    }
    match cmd.status() {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => ExitCode::from(s.code().unwrap_or(1).clamp(1, 255) as u8),
        Err(e) => {
            eprintln!(
                "error: mount.ftsb: cannot run {}: {e}",
                OsString::from(ftsb_fs()).to_string_lossy()
            );
            ExitCode::from(1)
        }
    }
}
