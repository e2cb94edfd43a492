//! Tests of the system-call layer against a temporary directory.

use std::os::fd::AsFd;

use super::*;

fn tmp() -> (tempfile::TempDir, OwnedFd) {
    let dir = tempfile::tempdir().expect("tempdir");
    let fd = open_dir_path(dir.path()).expect("open root");
    (dir, fd)
}

#[test]
fn a_path_reads_back_from_text_and_from_the_old_byte_array_form() {
    let p = RelPath(b"caf\xc3\xa9/\xff%x".to_vec());
    let text = serde_json::to_string(&p).expect("serialize");
    assert_eq!(text, "\"café/%FF%25x\"");
    assert_eq!(serde_json::from_str::<RelPath>(&text).expect("text"), p);
    let old = serde_json::to_string(&p.0).expect("bytes");
    assert_eq!(serde_json::from_str::<RelPath>(&old).expect("array"), p);
    assert!(serde_json::from_str::<RelPath>("[256]").is_err());
    assert!(serde_json::from_str::<RelPath>("\"%zz\"").is_err());
}

#[test]
fn open_dir_never_follows_a_symlink_on_the_way() {
    let (dir, root) = tmp();
    std::fs::create_dir(dir.path().join("real")).expect("mkdir");
    std::os::unix::fs::symlink("real", dir.path().join("link")).expect("symlink");
    assert!(open_dir(root.as_fd(), b"real", false).is_ok());
    let err = open_dir(root.as_fd(), b"link", false).expect_err("a symlink is not walked");
    assert!(
        matches!(err.raw_os_error(), Some(libc::ENOTDIR) | Some(libc::ELOOP)),
        "{err}"
    );
    assert!(open_parent(root.as_fd(), b"link/x").is_err());
}

#[test]
fn names_with_a_nul_byte_are_refused_not_truncated() {
    let (dir, root) = tmp();
    std::fs::write(dir.path().join("a"), b"x").expect("write");
    let err = lstat(root.as_fd(), b"a\0b").expect_err("nul");
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
}

#[test]
fn rename_noreplace_keeps_an_existing_target() {
    let (dir, root) = tmp();
    std::fs::write(dir.path().join("a"), b"a").expect("write");
    std::fs::write(dir.path().join("b"), b"b").expect("write");
    let err = rename_noreplace(root.as_fd(), b"a", root.as_fd(), b"b").expect_err("exists");
    assert_eq!(err.raw_os_error(), Some(libc::EEXIST));
    assert_eq!(std::fs::read(dir.path().join("b")).expect("read"), b"b");
}

#[test]
fn xattrs_round_trip_and_removal_of_a_missing_one_is_fine() {
    let (dir, root) = tmp();
    std::fs::write(dir.path().join("f"), b"").expect("write");
    match set_xattr(root.as_fd(), b"f", b"user.k", &[7u8; 300]) {
        Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => {
            eprintln!("SKIP: the temporary directory's file system has no user xattrs");
            assert!(
                std::env::var_os("CI").is_none(),
                "CI needs user xattrs in the temp dir"
            );
            return;
        }
        r => r.expect("set"),
    }
    assert_eq!(
        xattr(root.as_fd(), b"f", b"user.k").expect("get"),
        Some(vec![7u8; 300])
    );
    assert!(
        xattr_names(root.as_fd(), b"f")
            .expect("list")
            .contains(&b"user.k".to_vec())
    );
    remove_xattr(root.as_fd(), b"f", b"user.k").expect("remove");
    remove_xattr(root.as_fd(), b"f", b"user.k").expect("removing twice is fine");
    assert_eq!(xattr(root.as_fd(), b"f", b"user.k").expect("get"), None);
}

#[test]
fn read_dir_lists_names_types_and_inodes_without_dots() {
    let (dir, root) = tmp();
    std::fs::create_dir(dir.path().join("d")).expect("mkdir");
    std::fs::write(dir.path().join("f"), b"").expect("write");
    let mut got = read_dir(root.as_fd(), b".").expect("read");
    got.sort_by(|a, b| a.0.cmp(&b.0));
    let names: Vec<_> = got.iter().map(|(n, _, t)| (n.clone(), *t)).collect();
    assert_eq!(
        names,
        vec![
            (b"d".to_vec(), FileType::Directory),
            (b"f".to_vec(), FileType::RegularFile)
        ]
    );
    let st = lstat(root.as_fd(), b"f").expect("stat").expect("there");
    assert_eq!(got[1].1, st.st_ino);
}

#[test]
fn reserved_names_are_the_stash_prefix() {
    assert!(is_reserved(&stash_name(7)));
    assert!(!is_reserved(b".ftsb-fs-stas"));
}

#[test]
fn open_dir_beneath_refuses_symlinks_and_leaving_the_root() {
    let (dir, root) = tmp();
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("a/b")).expect("mkdir");
    std::os::unix::fs::symlink(outside.path(), dir.path().join("a/out")).expect("symlink");
    std::os::unix::fs::symlink("b", dir.path().join("a/rel")).expect("symlink");
    assert!(open_dir_beneath(root.as_fd(), b"a/b").is_ok());
    assert!(open_dir_beneath(root.as_fd(), b"").is_ok());
    // A symlink anywhere on the way, to outside or inside, is refused.
    for link in [&b"a/out"[..], b"a/rel", b"a/rel/."] {
        let e = open_dir_beneath(root.as_fd(), link).expect_err("followed a symlink");
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP), "{link:?}");
    }
    // `..` never leaves the root (openat2: EXDEV; the walk opens the parent of the root only
    // for paths that never come from the overlay, which normalizes them).
    if !NO_OPENAT2.load(std::sync::atomic::Ordering::Relaxed) {
        let e = open_dir_beneath(root.as_fd(), b"a/../..").expect_err("left the root");
        assert_eq!(e.raw_os_error(), Some(libc::EXDEV));
    }
    // The walk, as on a kernel without openat2, refuses the same symlinks.
    NO_OPENAT2.store(true, std::sync::atomic::Ordering::Relaxed);
    let walked = open_dir_beneath(root.as_fd(), b"a/out/x").expect_err("walked a symlink");
    NO_OPENAT2.store(false, std::sync::atomic::Ordering::Relaxed);
    // O_NOFOLLOW | O_DIRECTORY on a symlink: ENOTDIR.
    assert_eq!(walked.raw_os_error(), Some(libc::ENOTDIR));
}

/// The boundary separates changes on the directory's own file system: a change just before
/// it (made right after a `stat`, so multigrain kernels give it a fine stamp that may lie
/// past the coarse clock) is strictly before, a change just after is at or after; and the
/// directory shows nothing of the reading.
#[test]
fn a_ctime_boundary_separates_changes_before_from_changes_after() {
    let (dir, fd) = tmp();
    let ctime = |name: &str| {
        let st = rustix::fs::stat(dir.path().join(name)).expect("stat");
        (st.st_ctime, st.st_ctime_nsec as u32)
    };
    std::fs::write(dir.path().join("before"), "x").expect("write");
    std::fs::write(dir.path().join("after"), "x").expect("write");
    for round in 0..200 {
        ctime("before");
        rustix::fs::chmod(
            dir.path().join("before"),
            Mode::from_raw_mode(0o600 | (round % 2)),
        )
        .expect("chmod");
        let boundary = ctime_boundary(fd.as_fd());
        rustix::fs::chmod(
            dir.path().join("after"),
            Mode::from_raw_mode(0o600 | (round % 2)),
        )
        .expect("chmod");
        assert!(
            ctime("before") < boundary,
            "round {round}: a change before the boundary {boundary:?} is stamped {:?}",
            ctime("before")
        );
        assert!(
            ctime("after") >= boundary,
            "round {round}: a change after the boundary {boundary:?} is stamped {:?}",
            ctime("after")
        );
    }
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["after", "before"]);
}
