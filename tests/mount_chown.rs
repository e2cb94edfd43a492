//! chown through the view by a user without privileges: like a Linux filesystem, the view
//! clears setuid (and setgid where the group may execute) of every non-directory, not only
//! of regular files (pjdfstest chown/00 failed on fifos, devices and sockets).

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use common::*;

const NOBODY: u32 = 65534;
const GROUP: u32 = 65533;

fn mknod(p: &Path, mode: u32, dev: u64) {
    let c = cpath(p);
    // SAFETY: `c` is a valid NUL-terminated path.
    let r = unsafe { libc::mknod(c.as_ptr(), mode, dev) };
    assert_eq!(
        r,
        0,
        "mknod {}: {}",
        p.display(),
        std::io::Error::last_os_error()
    );
}

fn lchown(p: &Path, uid: u32, gid: u32) {
    let c = cpath(p);
    // SAFETY: `c` is a valid NUL-terminated path.
    let r = unsafe { libc::lchown(c.as_ptr(), uid, gid) };
    assert_eq!(
        r,
        0,
        "chown {}: {}",
        p.display(),
        std::io::Error::last_os_error()
    );
}

/// Skips loudly unless root (creating devices, and becoming another user, need it); fails
/// where every test must run.
fn root_or_skip() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    eprintln!("SKIP: the chown test needs root (mknod of devices, switching to uid {NOBODY})");
    assert!(
        std::env::var_os("CI").is_none() && std::env::var_os("FTSB_REQUIRE_ALL").is_none(),
        "this test must run in CI"
    );
    false
}

#[test]
fn an_unprivileged_chown_clears_setuid_and_setgid_of_every_non_directory() {
    if !root_or_skip() {
        return;
    }
    let mut m = Mounted::at(|_| {});
    // Another user must reach the view: remount with --allow-other, and open the temp dirs.
    m.unmount_abort();
    let out = run_ok(m.mount_cmd().arg("--allow-other"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    m.pid = v["pid"].as_u64().map(|p| p as u32);
    m.mounted = true;
    std::fs::set_permissions(m.root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&m.view, std::fs::Permissions::from_mode(0o777)).unwrap();

    std::fs::write(m.v("file"), "x").unwrap();
    mknod(&m.v("fifo"), libc::S_IFIFO | 0o644, 0);
    mknod(&m.v("chr"), libc::S_IFCHR | 0o644, libc::makedev(1, 3));
    mknod(&m.v("blk"), libc::S_IFBLK | 0o644, libc::makedev(7, 0));
    mknod(&m.v("sock"), libc::S_IFSOCK | 0o644, 0);
    std::fs::create_dir(m.v("dir")).unwrap();
    let names = ["file", "fifo", "chr", "blk", "sock", "dir"];
    for n in names {
        lchown(&m.v(n), NOBODY, GROUP);
        std::fs::set_permissions(m.v(n), std::fs::Permissions::from_mode(0o6555)).unwrap();
        assert_eq!(
            std::fs::metadata(m.v(n)).unwrap().mode() & 0o7777,
            0o6555,
            "{n}"
        );
        // The owner, without privileges, gives the object to its own group again.
        let out = output(
            Command::new("chown")
                .arg("-h")
                .arg(format!("{NOBODY}:{GROUP}"))
                .arg(m.v(n))
                .uid(NOBODY)
                .gid(GROUP),
        );
        assert!(out.status.success(), "{n}: {out:?}");
        let mode = std::fs::symlink_metadata(m.v(n)).unwrap().mode() & 0o7777;
        if n == "dir" {
            assert_eq!(mode, 0o6555, "a directory keeps setuid and setgid");
        } else {
            assert_eq!(mode, 0o0555, "{n}: chown kept setuid or setgid ({mode:o})");
        }
    }
    // Setgid without group execute marks mandatory locking, not privilege: it stays.
    std::fs::set_permissions(m.v("fifo"), std::fs::Permissions::from_mode(0o6644)).unwrap();
    let out = output(
        Command::new("chown")
            .arg(format!("{NOBODY}:{GROUP}"))
            .arg(m.v("fifo"))
            .uid(NOBODY)
            .gid(GROUP),
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        std::fs::metadata(m.v("fifo")).unwrap().mode() & 0o7777,
        0o2644
    );
}
