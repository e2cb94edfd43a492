//! Requests the view does not implement are answered at once and logged once per kind: a
//! tool that probes an ioctl on every file must not flood the daemon's log.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::fs::File;
use std::os::fd::AsRawFd;

use common::*;

/// An ioctl no file system knows (`_IO('Z', 0x55)`), so the kernel forwards it to the view.
const UNKNOWN_IOCTL: libc::c_ulong = 0x5a55;

fn log_lines_naming(m: &Mounted, needle: &str) -> usize {
    let log = std::fs::read_to_string(m.store.join("daemon.log")).unwrap_or_default();
    log.lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn many_unknown_ioctls_fail_with_enotty_and_log_one_line() {
    let m = Mounted::at(|ws| std::fs::write(ws.join("f"), b"data").unwrap());
    std::fs::write(m.v("new"), b"copied up").unwrap();
    let before = log_lines_naming(&m, "ioctl");
    for name in ["f", "new"] {
        let file = File::open(m.v(name)).unwrap();
        for _ in 0..200 {
            // SAFETY: an argument-less ioctl on a descriptor `file` keeps open.
            let r = unsafe { libc::ioctl(file.as_raw_fd(), UNKNOWN_IOCTL as _) };
            assert_eq!(r, -1, "an unknown ioctl on {name} succeeded");
            assert_eq!(errno(), libc::ENOTTY, "an unknown ioctl on {name}");
        }
    }
    // The view still serves after them.
    assert_eq!(std::fs::read(m.v("f")).unwrap(), b"data");
    let after = log_lines_naming(&m, "ioctl");
    assert_eq!(
        after - before,
        1,
        "400 unknown ioctls must log exactly one line:\n{}",
        std::fs::read_to_string(m.store.join("daemon.log")).unwrap_or_default()
    );
}
