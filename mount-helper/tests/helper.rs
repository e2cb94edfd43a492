//! `mount.ftsb` mounts a real view with the standard options mapped onto it.
//!
//! It runs the helper built by this package and the `ftsb-fs` built beside it (as
//! `cargo test --workspace` does), as root, like mount(8) would.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const HELPER: &str = env!("CARGO_BIN_EXE_mount-ftsb");

fn ftsb_fs() -> PathBuf {
    Path::new(HELPER).with_file_name("ftsb-fs")
}

fn run(c: &mut Command) -> Output {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{c:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The mount options of whatever is mounted at `dir`, from mountinfo.
fn mount_options(dir: &Path) -> Option<Vec<String>> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let want = dir.to_string_lossy().replace(' ', "\\040");
    info.lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .find(|f| f.get(4) == Some(&want.as_str()))
        .map(|f| f[5].split(',').map(str::to_owned).collect())
}

/// Unmounts (discarding changes) on drop, so a failing test leaves no mount behind.
struct Unmount<'a>(&'a Path, &'a Path);

impl Drop for Unmount<'_> {
    fn drop(&mut self) {
        let _ = Command::new(ftsb_fs())
            .env("XDG_STATE_HOME", self.1)
            .args(["unmount", "--abort"])
            .arg(self.0)
            .output();
    }
}

#[test]
fn standard_options_reach_the_view() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        let strict = ["CI", "FTSB_REQUIRE_ALL"]
            .iter()
            .any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty() && s != "0" && s != "false"));
        assert!(!strict, "the mount helper test could not run: not root");
        eprintln!("\n==== SKIP: the mount helper test did not run: not root\n");
        return;
    }
    assert!(
        ftsb_fs().exists(),
        "{} is not built: run cargo test --workspace",
        ftsb_fs().display()
    );
    let t = tempfile::tempdir().unwrap();
    let base = t.path().canonicalize().unwrap();
    let (ws, view, store, state) = (
        base.join("ws"),
        base.join("view"),
        base.join("store"),
        base.join("state"),
    );
    for d in [&ws, &view, &state] {
        std::fs::create_dir(d).unwrap();
    }
    std::fs::write(ws.join("tool.sh"), "#!/bin/sh\necho ran\n").unwrap();
    run(Command::new("chmod").arg("755").arg(ws.join("tool.sh")));
    let mount = |opts: &str| {
        Command::new(HELPER)
            .env("XDG_STATE_HOME", &state)
            .arg(&ws)
            .arg(&view)
            .args(["-t", "ftsb", "-o"])
            .arg(format!("{opts},store={}", store.display()))
            .output()
            .unwrap()
    };
    // Mounts with `opts`, asserting success; the guard unmounts, the list is the view's options.
    let mounted = |opts: &str| {
        let out = mount(opts);
        assert!(
            out.status.success(),
            "{opts}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let guard = Unmount(&ws, &state);
        (guard, mount_options(&view).expect("the view is mounted"))
    };
    // Refused before anything is mounted.
    let out = mount("suid");
    assert!(!out.status.success());
    assert!(mount_options(&view).is_none());
    // ro and noexec are mapped; nosuid and nodev hold anyway.
    let (guard, opts) = mounted("defaults,nosuid,nodev,noexec,ro,noauto,user,_netdev");
    for o in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(opts.iter().any(|x| x == o), "{o} missing from {opts:?}");
    }
    let err = std::fs::write(view.join("new"), "x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{err}");
    let err = Command::new(view.join("tool.sh")).output().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EACCES), "{err}");
    assert_eq!(
        std::fs::read_to_string(view.join("tool.sh")).unwrap(),
        "#!/bin/sh\necho ran\n"
    );
    drop(guard);
    // Without them, the view is writable and runs programs.
    let (_guard, opts) = mounted("rw,exec");
    assert!(opts.iter().any(|x| x == "rw"), "{opts:?}");
    let ran = run(&mut Command::new(view.join("tool.sh")));
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "ran\n");
}
