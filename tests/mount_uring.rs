//! `mount --uring`: kernel requests come through FUSE-over-io_uring queues when the kernel
//! allows it (the fuse module's `enable_uring`), and through /dev/fuse otherwise, with one
//! log line saying why. The tests set the module parameter (root) and put it back.
//!
//! The whole mounted suite runs under the io_uring transport with `FTSB_FS_URING=1` (see
//! `scripts/test`); these tests prove that the rings, not /dev/fuse, carried the requests,
//! that large requests and replies cross them intact, and that the fallback is loud.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Mutex;

use common::*;

const PARAM: &str = "/sys/module/fuse/parameters/enable_uring";
/// 2: no process may set up an io_uring.
const IO_URING_DISABLED: &str = "/proc/sys/kernel/io_uring_disabled";

/// The kernel's settings are one for the machine: the tests that set them take turns.
static PARAM_LOCK: Mutex<()> = Mutex::new(());

/// Kernel settings changed for as long as it lives, then put back as they were.
struct Param {
    previous: Vec<(&'static str, String)>,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl Param {
    /// Sets `enable_uring` to `value`; `None` (after a loud skip) when the kernel has no
    /// FUSE-over-io_uring or the parameter cannot be written (not root).
    fn set(value: &str, what: &str) -> Option<Param> {
        let turn = PARAM_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut p = Param {
            previous: Vec::new(),
            _turn: turn,
        };
        p.also(PARAM, value, what, "the kernel has no FUSE over io_uring")
            .then_some(p)
    }

    /// Sets `file` to `value` too; `false` after a loud skip when it cannot.
    fn also(&mut self, file: &'static str, value: &str, what: &str, absent: &str) -> bool {
        let Ok(previous) = std::fs::read_to_string(file) else {
            skip(what, &format!("{absent} (no {file})"));
            return false;
        };
        if let Err(e) = std::fs::write(file, value) {
            skip(what, &format!("cannot write {file} (needs root): {e}"));
            return false;
        }
        self.previous.push((file, previous.trim().to_owned()));
        true
    }
}

impl Drop for Param {
    fn drop(&mut self) {
        for (file, value) in self.previous.iter().rev() {
            let _ = std::fs::write(file, value);
        }
    }
}

fn fill(ws: &Path) {
    std::fs::write(ws.join("a.txt"), "alpha\n").unwrap();
    std::fs::create_dir(ws.join("dir")).unwrap();
    std::fs::write(ws.join("dir/b.txt"), "beta\n").unwrap();
}

fn daemon_log(m: &Mounted) -> String {
    std::fs::read_to_string(m.store.join("daemon.log")).unwrap_or_default()
}

/// Lines of the daemon's log about the io_uring transport.
fn uring_lines(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains("io_uring")).collect()
}

/// Metadata and data requests of many kinds, checked as they go.
fn workload(m: &Mounted) {
    assert_eq!(std::fs::read_to_string(m.v("a.txt")).unwrap(), "alpha\n");
    for i in 0..200 {
        std::fs::write(m.v(&format!("dir/f{i:03}")), format!("file {i}\n")).unwrap();
    }
    let long = "n".repeat(255);
    std::fs::write(m.v(&format!("dir/{long}")), "long name").unwrap();
    assert_eq!(
        std::fs::read_to_string(m.v(&format!("dir/{long}"))).unwrap(),
        "long name"
    );
    std::fs::rename(m.v("dir/f000"), m.v("dir/renamed")).unwrap();
    std::fs::set_permissions(m.v("dir/f001"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::File::options()
        .write(true)
        .open(m.v("dir/f002"))
        .unwrap()
        .set_len(3)
        .unwrap();
    std::os::unix::fs::symlink("a.txt", m.v("link")).unwrap();
    assert_eq!(std::fs::read_link(m.v("link")).unwrap(), Path::new("a.txt"));
    std::fs::remove_file(m.v("dir/f003")).unwrap();
    let names: Vec<_> = std::fs::read_dir(m.v("dir"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    // b.txt, 200 files less the renamed and the removed one, the renamed one, the long one.
    assert_eq!(names.len(), 1 + 198 + 1 + 1, "{names:?}");
    let md = std::fs::metadata(m.v("dir/f001")).unwrap();
    assert_eq!(md.permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(m.v("dir/f002")).unwrap().len(), 3);
    // Extended attributes: a name in, a value out.
    let out = sh(
        &m.view,
        "setfattr -n user.k -v value a.txt 2>/dev/null && getfattr --only-values -n user.k a.txt \
         || echo no-xattr-tools",
    );
    let got = String::from_utf8_lossy(&out.stdout);
    assert!(got == "value" || got.trim() == "no-xattr-tools", "{got:?}");
}

/// Requests of up to 1 MiB each way (writes, reads), with passthrough off so the bytes
/// cross the transport rather than going to the backing file in the kernel.
fn large_io(m: &Mounted) {
    let mut data = vec![0u8; 3 << 20];
    let mut x: u32 = 0x1234_5678;
    for b in &mut data {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    let mut f = std::fs::File::create(m.v("big")).unwrap();
    f.write_all(&data).unwrap();
    f.sync_all().unwrap();
    drop(f);
    // Drop the page cache of the view, so the read goes to the daemon.
    let _ = std::fs::write("/proc/sys/vm/drop_caches", "1");
    assert!(
        std::fs::read(m.v("big")).unwrap() == data,
        "big file differs"
    );
}

/// The number in the daemon's last "N requests came through io_uring" line.
fn served_through_rings(log: &str) -> Option<u64> {
    log.lines()
        .rev()
        .find(|l| l.contains("requests came through io_uring"))
        .and_then(|l| {
            l.split_whitespace()
                .rev()
                .nth(4)
                .and_then(|n| n.parse().ok())
        })
}

#[test]
fn requests_come_through_the_rings_when_the_kernel_allows_it() {
    let what = "the io_uring transport";
    let Some(_param) = Param::set("Y", what) else {
        return;
    };
    let mut m = Mounted::with(
        "ws",
        fill,
        true,
        &["--uring"],
        &[("FTSB_FS_PASSTHROUGH", "0")],
    );
    workload(&m);
    large_io(&m);
    m.commit();
    assert_eq!(
        std::fs::read_to_string(m.w("dir/renamed")).unwrap(),
        "file 0\n"
    );
    let out = m.unmount_abort();
    assert!(out.status.success(), "{out:?}");
    let log = daemon_log(&m);
    let lines = uring_lines(&log);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("serving through FUSE over io_uring")),
        "the rings were not set up:\n{log}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("not used")),
        "fell back:\n{log}"
    );
    // Every request above went through the rings: 200 creates alone take 600 requests
    // (lookup, create, write/flush/release); the 3 MiB each way at most 1 MiB per request.
    let served = served_through_rings(&log).unwrap_or_else(|| panic!("no count:\n{log}"));
    assert!(
        served >= 600,
        "only {served} requests came through io_uring:\n{log}"
    );
}

/// Mounts with `--uring` while `param` holds (the kernel's settings then go back), runs the
/// workload, unmounts, and checks the daemon logged exactly one line about io_uring: a WARN
/// that it falls back to /dev/fuse, saying `why`.
fn falls_back_saying(param: Param, why: &str) {
    let mut m = Mounted::with("ws", fill, true, &["--uring"], &[]);
    drop(param);
    workload(&m);
    let out = m.unmount_abort();
    assert!(out.status.success(), "{out:?}");
    let log = daemon_log(&m);
    let lines = uring_lines(&log);
    assert_eq!(lines.len(), 1, "expected one line about io_uring:\n{log}");
    assert!(
        lines[0].contains("WARN")
            && lines[0].contains("FUSE over io_uring not used")
            && lines[0].contains(why)
            && lines[0].contains("serving through /dev/fuse"),
        "the line does not say why ({why}): {}",
        lines[0]
    );
}

#[test]
fn without_the_module_parameter_the_view_falls_back_to_dev_fuse_and_says_why() {
    if let Some(param) = Param::set("N", "the io_uring fallback") {
        falls_back_saying(param, "enable_uring parameter is off");
    }
}

#[test]
fn when_no_ring_can_be_set_up_the_view_falls_back_to_dev_fuse_and_says_why() {
    let what = "the io_uring setup fallback";
    let Some(mut param) = Param::set("Y", what) else {
        return;
    };
    let disabled = "the kernel cannot disable io_uring";
    if param.also(IO_URING_DISABLED, "2", what, disabled) {
        falls_back_saying(param, "cannot set up the rings");
    }
}

#[test]
fn without_uring_asked_for_nothing_is_said_about_it() {
    let what = "the default transport";
    let Some(_param) = Param::set("Y", what) else {
        return;
    };
    let mut m = Mounted::at(fill);
    workload(&m);
    let out = m.unmount_abort();
    assert!(out.status.success(), "{out:?}");
    let log = daemon_log(&m);
    if std::env::var_os("FTSB_FS_URING").is_none() {
        assert_eq!(uring_lines(&log), Vec::<&str>::new(), "{log}");
    }
}
