//! The architecture's API boundaries, checked: only `fuse/` speaks fuser, only `meta/` speaks
//! SQL through rusqlite, only the command line (`cli/`, `main.rs`) uses anyhow, only `sys/`
//! makes path-relative system calls, and `sys/` depends on no other module of the crate.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Files under `src/` that mention `needle` outside the allowed prefixes.
fn offenders(needle: &str, allowed: &[&str]) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files
        .iter()
        .filter(|f| {
            let rel = f
                .strip_prefix(&src)
                .expect("under src")
                .to_string_lossy()
                .into_owned();
            !allowed.iter().any(|a| rel.starts_with(a))
                && std::fs::read_to_string(f).expect("read").contains(needle)
        })
        .map(|f| f.display().to_string())
        .collect()
}

#[test]
fn only_fuse_imports_fuser() {
    assert_eq!(offenders("fuser::", &["fuse/"]), Vec::<String>::new());
}

#[test]
fn only_meta_imports_rusqlite() {
    assert_eq!(offenders("rusqlite", &["meta/"]), Vec::<String>::new());
}

#[test]
fn only_the_command_line_uses_anyhow() {
    assert_eq!(
        offenders("anyhow", &["cli/", "main.rs"]),
        Vec::<String>::new()
    );
}

/// The path-relative calls and the crate that wraps them; only `sys/` may use them.
const PATH_CALLS: &[&str] = &[
    "rustix::",
    "libc::openat",
    "libc::fstatat",
    "libc::statx",
    "libc::renameat",
    "libc::linkat",
    "libc::unlinkat",
    "libc::mkdirat",
    "libc::mknodat",
    "libc::symlinkat",
    "libc::readlinkat",
    "libc::fchownat",
    "libc::fchmodat",
    "libc::utimensat",
    "libc::fdopendir",
    "libc::lgetxattr",
    "libc::lsetxattr",
    "libc::llistxattr",
    "libc::getxattr",
    "libc::listxattr",
    "libc::umount2",
];

#[test]
fn only_sys_makes_path_relative_system_calls() {
    for call in PATH_CALLS {
        assert_eq!(offenders(call, &["sys/"]), Vec::<String>::new(), "{call}");
    }
}

#[test]
fn sys_is_the_bottom_layer() {
    let sys = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/sys");
    let mut files = Vec::new();
    rust_files(&sys, &mut files);
    assert!(!files.is_empty(), "src/sys holds the system-call layer");
    let upward: Vec<String> = files
        .iter()
        .filter(|f| {
            std::fs::read_to_string(f)
                .expect("read")
                .contains("crate::")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert_eq!(upward, Vec::<String>::new());
}

/// Files under `dir` (inside `src/`) that mention `needle`.
fn mentions(dir: &str, needle: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir);
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(!files.is_empty(), "src/{dir} exists");
    files
        .iter()
        .filter(|f| std::fs::read_to_string(f).expect("read").contains(needle))
        .map(|f| f.display().to_string())
        .collect()
}

#[test]
fn the_kernel_adapter_and_the_daemon_reach_the_overlay_only_through_its_operations() {
    for dir in ["fuse", "daemon"] {
        for back_door in [
            ".db()",
            ".blobs()",
            ".lower()",
            "overlay::Lower",
            "meta::Db",
        ] {
            assert_eq!(
                mentions(dir, back_door),
                Vec::<String>::new(),
                "{dir} uses {back_door}"
            );
        }
    }
    assert_eq!(mentions("daemon", "fuse::lock"), Vec::<String>::new());
}

/// The transaction engine reaches the overlay only through `txn::Host`, the trait the
/// overlay implements: it names no accessor of the overlay's database, blob store or
/// workspace reader, and takes no `Overlay` as an argument; the overlay offers no such
/// accessor to anyone.
#[test]
fn the_engine_reaches_the_overlay_only_through_its_host_trait() {
    for back_door in [".db()", ".blobs()", ".lower()", "&Overlay", "&mut Overlay"] {
        assert_eq!(
            mentions("txn", back_door),
            Vec::<String>::new(),
            "txn uses {back_door}"
        );
    }
    for accessor in ["pub fn db(", "pub fn blobs(", "pub fn lower("] {
        assert_eq!(
            mentions("overlay", accessor),
            Vec::<String>::new(),
            "overlay offers {accessor}"
        );
    }
}

/// Every key of the kv table is named in `meta::keys`, never spelled out where it is used.
#[test]
fn kv_keys_are_named_in_one_module() {
    for dir in ["txn", "overlay", "daemon", "store", "cli"] {
        for literal in ["kv_get(\"", "kv_set(\"", "kv_del(\""] {
            assert_eq!(
                mentions(dir, literal),
                Vec::<String>::new(),
                "{dir} spells out a kv key ({literal}...)"
            );
        }
    }
}
