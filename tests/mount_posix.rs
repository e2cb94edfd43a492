//! Each POSIX detail through the real mount. Every case runs on a view mounted with `--at`,
//! then checks isolation (the workspace is bit-identical to before) and that abort makes the
//! view equal to the workspace again.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::Path;

use common::*;

/// Mounts the sample tree, runs `body` on it, then checks isolation and abort.
fn case(body: impl FnOnce(&Mounted)) {
    case_with(sample_tree, body);
}

fn case_with(fill: impl FnOnce(&Path), body: impl FnOnce(&Mounted)) {
    let m = Mounted::at(fill);
    let before = tree(&m.ws, EXACT);
    assert_trees_eq("fresh view vs workspace", &before, &tree(&m.view, EXACT));
    body(&m);
    check_isolation_then_abort(&m, &before);
}

fn raw_err(r: std::io::Result<impl std::fmt::Debug>) -> i32 {
    r.expect_err("expected an error").raw_os_error().unwrap()
}

#[test]
fn create_write_read() {
    case(|m| {
        std::fs::write(m.v("new.txt"), "hello").unwrap();
        assert_eq!(std::fs::read_to_string(m.v("new.txt")).unwrap(), "hello");
        std::fs::write(m.v("a.txt"), "rewritten").unwrap();
        assert_eq!(std::fs::read_to_string(m.v("a.txt")).unwrap(), "rewritten");
        let mut f = OpenOptions::new()
            .write(true)
            .open(m.v("dir/c.txt"))
            .unwrap();
        f.seek(SeekFrom::Start(2)).unwrap();
        f.write_all(b"XY").unwrap();
        drop(f);
        assert_eq!(
            std::fs::read_to_string(m.v("dir/c.txt")).unwrap(),
            "chXYlie\n"
        );
        assert_eq!(std::fs::metadata(m.v("new.txt")).unwrap().len(), 5);
    });
}

#[test]
fn o_append() {
    case(|m| {
        let mut f1 = OpenOptions::new().append(true).open(m.v("a.txt")).unwrap();
        let mut f2 = OpenOptions::new().append(true).open(m.v("a.txt")).unwrap();
        f1.write_all(b"one\n").unwrap();
        f2.write_all(b"two\n").unwrap();
        f1.write_all(b"three\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(m.v("a.txt")).unwrap(),
            "alpha\none\ntwo\nthree\n"
        );
    });
}

#[test]
fn o_trunc() {
    case(|m| {
        let mut f = OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(m.v("a.txt"))
            .unwrap();
        assert_eq!(f.metadata().unwrap().len(), 0);
        f.write_all(b"z").unwrap();
        drop(f);
        assert_eq!(std::fs::read(m.v("a.txt")).unwrap(), b"z");
        // O_TRUNC without writing anything.
        OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(m.v("b.txt"))
            .unwrap();
        assert_eq!(std::fs::metadata(m.v("b.txt")).unwrap().len(), 0);
        assert_eq!(std::fs::read(m.v("b.txt")).unwrap(), b"");
    });
}

#[test]
fn o_excl() {
    case(|m| {
        let excl = |p: &Path| OpenOptions::new().write(true).create_new(true).open(p);
        assert_eq!(raw_err(excl(&m.v("a.txt"))), libc::EEXIST);
        assert_eq!(raw_err(excl(&m.v("link"))), libc::EEXIST);
        assert_eq!(raw_err(excl(&m.v("dir"))), libc::EEXIST);
        excl(&m.v("fresh")).unwrap().write_all(b"1").unwrap();
        assert_eq!(raw_err(excl(&m.v("fresh"))), libc::EEXIST);
        assert_eq!(std::fs::read(m.v("fresh")).unwrap(), b"1");
    });
}

#[test]
fn truncate_and_extend() {
    case(|m| {
        let f = OpenOptions::new()
            .write(true)
            .open(m.v("dir/c.txt"))
            .unwrap();
        f.set_len(3).unwrap();
        assert_eq!(std::fs::read(m.v("dir/c.txt")).unwrap(), b"cha");
        f.set_len(10).unwrap();
        assert_eq!(
            std::fs::read(m.v("dir/c.txt")).unwrap(),
            b"cha\0\0\0\0\0\0\0"
        );
        drop(f);
        // truncate(2) by path on an untouched workspace file.
        let c = cpath(&m.v("b.txt"));
        // SAFETY: valid path.
        assert_eq!(unsafe { libc::truncate(c.as_ptr(), 2) }, 0);
        assert_eq!(std::fs::read(m.v("b.txt")).unwrap(), b"br");
    });
}

#[test]
fn sparse_file() {
    case(|m| {
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(m.v("sparse"))
            .unwrap();
        let off = 8 * 1024 * 1024 + 7;
        f.seek(SeekFrom::Start(off)).unwrap();
        f.write_all(b"end").unwrap();
        f.sync_all().unwrap();
        assert_eq!(f.metadata().unwrap().len(), off + 3);
        let data = std::fs::read(m.v("sparse")).unwrap();
        assert_eq!(data.len() as u64, off + 3);
        assert!(
            data[..off as usize].iter().all(|b| *b == 0),
            "hole is not zeros"
        );
        assert_eq!(&data[off as usize..], b"end");
    });
}

#[test]
fn sparse_file_reports_allocated_blocks() {
    case(|m| {
        let mut f = File::create(m.v("sparse")).unwrap();
        f.seek(SeekFrom::Start(8 << 20)).unwrap();
        f.write_all(b"end").unwrap();
        drop(f);
        let st = std::fs::metadata(m.v("sparse")).unwrap();
        assert!(st.blocks() * 512 < 1024 * 1024, "blocks {}", st.blocks());
    });
}

#[test]
fn chmod_chown_utimens() {
    case(|m| {
        let p = m.v("a.txt");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().mode() & 0o7777, 0o600);
        std::os::unix::fs::chown(&p, Some(1234), Some(5678)).unwrap();
        let st = std::fs::metadata(&p).unwrap();
        assert_eq!((st.uid(), st.gid()), (1234, 5678));
        // chown with -1 leaves that id alone.
        std::os::unix::fs::chown(&p, None, Some(42)).unwrap();
        let st = std::fs::metadata(&p).unwrap();
        assert_eq!((st.uid(), st.gid()), (1234, 42));

        let c = cpath(&p);
        let utimens = |times: [libc::timespec; 2]| {
            // SAFETY: valid path and a two-element array as utimensat expects.
            let r = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), 0) };
            assert_eq!(r, 0, "utimensat: {}", std::io::Error::last_os_error());
        };
        let ts = |sec, nsec| libc::timespec {
            tv_sec: sec,
            tv_nsec: nsec,
        };
        utimens([ts(1_000_000_000, 123), ts(1_500_000_000, 456_789)]);
        let st = std::fs::metadata(&p).unwrap();
        assert_eq!((st.atime(), st.atime_nsec()), (1_000_000_000, 123));
        assert_eq!((st.mtime(), st.mtime_nsec()), (1_500_000_000, 456_789));
        // UTIME_OMIT keeps atime, a new mtime is set.
        utimens([ts(0, libc::UTIME_OMIT), ts(1_600_000_000, 0)]);
        let st = std::fs::metadata(&p).unwrap();
        assert_eq!((st.atime(), st.atime_nsec()), (1_000_000_000, 123));
        assert_eq!((st.mtime(), st.mtime_nsec()), (1_600_000_000, 0));
        // UTIME_NOW sets mtime to about now, atime omitted.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        utimens([ts(0, libc::UTIME_OMIT), ts(0, libc::UTIME_NOW)]);
        let st = std::fs::metadata(&p).unwrap();
        assert_eq!((st.atime(), st.atime_nsec()), (1_000_000_000, 123));
        assert!(
            (st.mtime() - now).abs() <= 5,
            "mtime {} now {now}",
            st.mtime()
        );
        // futimens through File::set_times on another file.
        let f = File::options().write(true).open(m.v("b.txt")).unwrap();
        let t = std::time::UNIX_EPOCH + std::time::Duration::new(1_234_567_890, 5);
        f.set_times(std::fs::FileTimes::new().set_modified(t))
            .unwrap();
        drop(f);
        let st = std::fs::metadata(m.v("b.txt")).unwrap();
        assert_eq!((st.mtime(), st.mtime_nsec()), (1_234_567_890, 5));
        // chmod of a directory and of a new file.
        std::fs::set_permissions(m.v("dir"), std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(
            std::fs::metadata(m.v("dir")).unwrap().mode() & 0o7777,
            0o700
        );
    });
}

#[test]
fn mkdir_rmdir() {
    case(|m| {
        std::fs::create_dir(m.v("nd")).unwrap();
        assert!(m.v("nd").is_dir());
        assert_eq!(raw_err(std::fs::create_dir(m.v("nd"))), libc::EEXIST);
        assert_eq!(raw_err(std::fs::create_dir(m.v("a.txt"))), libc::EEXIST);
        std::fs::remove_dir(m.v("nd")).unwrap();
        assert!(!m.v("nd").exists());
        assert_eq!(raw_err(std::fs::remove_dir(m.v("dir"))), libc::ENOTEMPTY);
        assert_eq!(raw_err(std::fs::remove_dir(m.v("a.txt"))), libc::ENOTDIR);
        assert_eq!(raw_err(std::fs::remove_dir(m.v("nope"))), libc::ENOENT);
        std::fs::remove_dir(m.v("empty")).unwrap();
        assert!(!m.v("empty").exists());
        // A workspace dir emptied through the view can be removed.
        std::fs::remove_file(m.v("dir/sub/d.txt")).unwrap();
        std::fs::remove_dir(m.v("dir/sub")).unwrap();
        // A removed dir can be made again, and is empty.
        std::fs::create_dir(m.v("dir/sub")).unwrap();
        assert_eq!(std::fs::read_dir(m.v("dir/sub")).unwrap().count(), 0);
        // The nlink of a directory counts its subdirectories.
        assert_eq!(std::fs::metadata(m.v("dir")).unwrap().nlink(), 3);
    });
}

#[test]
fn unlink_open_file() {
    case(|m| {
        for name in ["a.txt", "created"] {
            if name == "created" {
                std::fs::write(m.v(name), "made in the view").unwrap();
            }
            let want = std::fs::read(m.v(name)).unwrap();
            let mut f = OpenOptions::new()
                .read(true)
                .write(true)
                .open(m.v(name))
                .unwrap();
            std::fs::remove_file(m.v(name)).unwrap();
            assert!(!m.v(name).exists());
            let mut got = Vec::new();
            f.read_to_end(&mut got).unwrap();
            assert_eq!(got, want, "{name}: fd no longer reads");
            assert_eq!(f.metadata().unwrap().nlink(), 0, "{name}: fstat nlink");
            f.write_all(b"+").unwrap();
            f.seek(SeekFrom::Start(0)).unwrap();
            got.clear();
            f.read_to_end(&mut got).unwrap();
            assert_eq!(got.len(), want.len() + 1);
        }
        assert_eq!(raw_err(std::fs::remove_file(m.v("a.txt"))), libc::ENOENT);
        assert_eq!(raw_err(std::fs::remove_file(m.v("dir"))), libc::EISDIR);
    });
}

#[test]
fn rename_variants() {
    case(|m| {
        // Over an existing file.
        std::fs::rename(m.v("b.txt"), m.v("a.txt")).unwrap();
        assert_eq!(std::fs::read_to_string(m.v("a.txt")).unwrap(), "bravo\n");
        assert!(!m.v("b.txt").exists());
        assert_eq!(xattrs(&m.v("a.txt")).get("user.tag").unwrap(), b"orig");
        // Across directories.
        std::fs::rename(m.v("dir/c.txt"), m.v("empty/c2.txt")).unwrap();
        assert_eq!(
            std::fs::read_to_string(m.v("empty/c2.txt")).unwrap(),
            "charlie\n"
        );
        assert!(!m.v("dir/c.txt").exists());
        // A directory over an empty directory.
        std::fs::create_dir(m.v("target")).unwrap();
        std::fs::rename(m.v("dir/sub"), m.v("target")).unwrap();
        assert_eq!(
            std::fs::read_to_string(m.v("target/d.txt")).unwrap(),
            "delta\n"
        );
        assert!(!m.v("dir/sub").exists());
        // A directory over a non-empty one, a file over a dir, a dir over a file.
        assert_eq!(
            raw_err(std::fs::rename(m.v("dir"), m.v("target"))),
            libc::ENOTEMPTY
        );
        assert_eq!(
            raw_err(std::fs::rename(m.v("a.txt"), m.v("dir"))),
            libc::EISDIR
        );
        assert_eq!(
            raw_err(std::fs::rename(m.v("dir"), m.v("a.txt"))),
            libc::ENOTDIR
        );
        // A directory into its own subtree.
        assert_eq!(
            raw_err(std::fs::rename(m.v("target"), m.v("target/x"))),
            libc::EINVAL
        );
        // Onto itself (a hard link pair too) is a no-op.
        std::fs::rename(m.v("h1"), m.v("dir/h2")).unwrap();
        assert!(m.v("h1").exists() && m.v("dir/h2").exists());
        // A symlink keeps its target.
        std::fs::rename(m.v("link"), m.v("dir/link")).unwrap();
        assert_eq!(
            std::fs::read_link(m.v("dir/link")).unwrap(),
            Path::new("a.txt")
        );
        let names: Vec<_> = std::fs::read_dir(m.v("dir"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        let mut names = names;
        names.sort();
        assert_eq!(names, ["h2", "link"]);
    });
}

fn renameat2(from: &Path, to: &Path, flags: libc::c_uint) -> i32 {
    let (f, t) = (cpath(from), cpath(to));
    // SAFETY: valid NUL-terminated paths; renameat2 takes (int, char*, int, char*, uint).
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            f.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            flags,
        )
    };
    if r == 0 { 0 } else { errno() }
}

#[test]
fn renameat2_noreplace_and_exchange() {
    case(|m| {
        assert_eq!(
            renameat2(&m.v("a.txt"), &m.v("b.txt"), libc::RENAME_NOREPLACE),
            libc::EEXIST
        );
        assert_eq!(std::fs::read_to_string(m.v("a.txt")).unwrap(), "alpha\n");
        assert_eq!(std::fs::read_to_string(m.v("b.txt")).unwrap(), "bravo\n");
        assert_eq!(
            renameat2(&m.v("a.txt"), &m.v("a2"), libc::RENAME_NOREPLACE),
            0
        );
        assert!(!m.v("a.txt").exists());
        assert_eq!(std::fs::read_to_string(m.v("a2")).unwrap(), "alpha\n");

        assert_eq!(
            renameat2(&m.v("a2"), &m.v("b.txt"), libc::RENAME_EXCHANGE),
            0
        );
        assert_eq!(std::fs::read_to_string(m.v("a2")).unwrap(), "bravo\n");
        assert_eq!(std::fs::read_to_string(m.v("b.txt")).unwrap(), "alpha\n");
        assert_eq!(xattrs(&m.v("a2")).get("user.tag").unwrap(), b"orig");
        // A file with a directory, across parents.
        assert_eq!(
            renameat2(&m.v("b.txt"), &m.v("dir/sub"), libc::RENAME_EXCHANGE),
            0
        );
        assert!(m.v("b.txt").is_dir());
        assert_eq!(
            std::fs::read_to_string(m.v("b.txt/d.txt")).unwrap(),
            "delta\n"
        );
        assert_eq!(std::fs::read_to_string(m.v("dir/sub")).unwrap(), "alpha\n");
        // Exchange needs both.
        assert_eq!(
            renameat2(&m.v("a2"), &m.v("missing"), libc::RENAME_EXCHANGE),
            libc::ENOENT
        );
    });
}

#[test]
fn big_directory_rename_keeps_children() {
    let fill = |ws: &Path| {
        for d in 0..20 {
            let dir = ws.join(format!("big/d{d:02}"));
            std::fs::create_dir_all(&dir).unwrap();
            for f in 0..100 {
                std::fs::write(dir.join(format!("f{f:03}")), format!("{d}/{f}")).unwrap();
            }
        }
    };
    case_with(fill, |m| {
        // Touch a few children first, so both copied-up and untouched ones move.
        std::fs::write(m.v("big/d03/f007"), "changed").unwrap();
        std::fs::remove_file(m.v("big/d04/f000")).unwrap();
        std::fs::rename(m.v("big"), m.v("moved")).unwrap();
        assert!(!m.v("big").exists());
        for d in 0..20 {
            for f in 0..100 {
                let p = m.v(&format!("moved/d{d:02}/f{f:03}"));
                match (d, f) {
                    (3, 7) => assert_eq!(std::fs::read_to_string(&p).unwrap(), "changed"),
                    (4, 0) => assert!(!p.exists()),
                    _ => assert_eq!(std::fs::read_to_string(&p).unwrap(), format!("{d}/{f}")),
                }
            }
        }
        // And back into a new parent.
        std::fs::create_dir(m.v("p")).unwrap();
        std::fs::rename(m.v("moved/d05"), m.v("p/d05")).unwrap();
        assert_eq!(std::fs::read_to_string(m.v("p/d05/f099")).unwrap(), "5/99");
        assert_eq!(std::fs::read_dir(m.v("p/d05")).unwrap().count(), 100);
    });
}

#[test]
fn symlink_readlink() {
    case(|m| {
        assert_eq!(std::fs::read_link(m.v("link")).unwrap(), Path::new("a.txt"));
        assert_eq!(std::fs::read_to_string(m.v("link")).unwrap(), "alpha\n");
        std::os::unix::fs::symlink("dir/c.txt", m.v("l2")).unwrap();
        assert_eq!(
            std::fs::read_link(m.v("l2")).unwrap(),
            Path::new("dir/c.txt")
        );
        assert_eq!(std::fs::read_to_string(m.v("l2")).unwrap(), "charlie\n");
        std::os::unix::fs::symlink("../nowhere", m.v("dir/dangling")).unwrap();
        assert_eq!(raw_err(std::fs::read(m.v("dir/dangling"))), libc::ENOENT);
        let st = std::fs::symlink_metadata(m.v("dir/dangling")).unwrap();
        assert!(st.file_type().is_symlink());
        assert_eq!(st.len(), "../nowhere".len() as u64);
        assert_eq!(
            raw_err(std::os::unix::fs::symlink("x", m.v("a.txt"))),
            libc::EEXIST
        );
        // Writing through a symlink changes the target.
        std::fs::write(m.v("link"), "via link").unwrap();
        assert_eq!(std::fs::read_to_string(m.v("a.txt")).unwrap(), "via link");
        assert!(
            std::fs::symlink_metadata(m.v("link"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
    });
}

#[test]
fn hard_links() {
    case(|m| {
        // A link to an unchanged workspace file.
        std::fs::hard_link(m.v("a.txt"), m.v("dir/a-link")).unwrap();
        let (s1, s2) = (
            std::fs::metadata(m.v("a.txt")).unwrap(),
            std::fs::metadata(m.v("dir/a-link")).unwrap(),
        );
        assert_eq!((s1.nlink(), s2.nlink()), (2, 2));
        assert_eq!(s1.ino(), s2.ino());
        std::fs::set_permissions(m.v("dir/a-link"), std::fs::Permissions::from_mode(0o640))
            .unwrap();
        assert_eq!(
            std::fs::metadata(m.v("a.txt")).unwrap().mode() & 0o7777,
            0o640
        );
        std::fs::write(m.v("a.txt"), "shared").unwrap();
        assert_eq!(
            std::fs::read_to_string(m.v("dir/a-link")).unwrap(),
            "shared"
        );
        std::fs::remove_file(m.v("a.txt")).unwrap();
        assert_eq!(std::fs::metadata(m.v("dir/a-link")).unwrap().nlink(), 1);
        // A pair already hard-linked in the workspace shows as one inode, and stays one
        // through a write.
        let (h1, h2) = (
            std::fs::metadata(m.v("h1")).unwrap(),
            std::fs::metadata(m.v("dir/h2")).unwrap(),
        );
        assert_eq!((h1.nlink(), h2.nlink()), (2, 2));
        assert_eq!(h1.ino(), h2.ino());
        OpenOptions::new()
            .append(true)
            .open(m.v("h1"))
            .unwrap()
            .write_all(b"more\n")
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(m.v("dir/h2")).unwrap(),
            "hard\nmore\n"
        );
        // A link of a new file; linking a directory is refused.
        std::fs::write(m.v("n"), "n").unwrap();
        std::fs::hard_link(m.v("n"), m.v("empty/n2")).unwrap();
        assert_eq!(std::fs::metadata(m.v("n")).unwrap().nlink(), 2);
        assert_eq!(
            raw_err(std::fs::hard_link(m.v("dir"), m.v("dir2"))),
            libc::EPERM
        );
        assert_eq!(
            raw_err(std::fs::hard_link(m.v("n"), m.v("b.txt"))),
            libc::EEXIST
        );
    });
}

fn setxattr_flags(p: &Path, name: &str, v: &[u8], flags: i32) -> i32 {
    let (c, n) = (cpath(p), std::ffi::CString::new(name).unwrap());
    // SAFETY: valid strings and buffer.
    let r = unsafe { libc::setxattr(c.as_ptr(), n.as_ptr(), v.as_ptr().cast(), v.len(), flags) };
    if r == 0 { 0 } else { errno() }
}

fn getxattr_errno(p: &Path, name: &str) -> i32 {
    let (c, n) = (cpath(p), std::ffi::CString::new(name).unwrap());
    let mut buf = [0u8; 64];
    // SAFETY: valid strings and a writable buffer.
    let r = unsafe { libc::getxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), 64) };
    if r >= 0 { 0 } else { errno() }
}

#[test]
fn user_xattrs() {
    case(|m| {
        assert_eq!(xattrs(&m.v("b.txt")).get("user.tag").unwrap(), b"orig");
        set_xattr(&m.v("a.txt"), "user.one", b"1");
        set_xattr(&m.v("a.txt"), "user.two", b"");
        let x = xattrs(&m.v("a.txt"));
        assert_eq!(x.get("user.one").unwrap(), b"1");
        assert_eq!(x.get("user.two").unwrap(), b"");
        assert_eq!(
            setxattr_flags(&m.v("a.txt"), "user.one", b"x", libc::XATTR_CREATE),
            libc::EEXIST
        );
        assert_eq!(
            setxattr_flags(&m.v("a.txt"), "user.no", b"x", libc::XATTR_REPLACE),
            libc::ENODATA
        );
        assert_eq!(
            setxattr_flags(&m.v("b.txt"), "user.tag", b"new", libc::XATTR_REPLACE),
            0
        );
        assert_eq!(xattrs(&m.v("b.txt")).get("user.tag").unwrap(), b"new");
        assert_eq!(getxattr_errno(&m.v("a.txt"), "user.missing"), libc::ENODATA);
        let (c, n) = (
            cpath(&m.v("b.txt")),
            std::ffi::CString::new("user.tag").unwrap(),
        );
        // SAFETY: valid strings.
        assert_eq!(unsafe { libc::removexattr(c.as_ptr(), n.as_ptr()) }, 0);
        assert!(xattrs(&m.v("b.txt")).is_empty());
        // SAFETY: valid strings.
        assert_eq!(unsafe { libc::removexattr(c.as_ptr(), n.as_ptr()) }, -1);
        assert_eq!(errno(), libc::ENODATA);
        set_xattr(&m.v("dir"), "user.d", b"on a dir");
        assert_eq!(xattrs(&m.v("dir")).get("user.d").unwrap(), b"on a dir");
    });
}

#[test]
fn statfs_works() {
    case(|m| {
        let c = cpath(&m.view);
        // SAFETY: statvfs fills the zeroed struct.
        let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: valid path and out-pointer.
        assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut s) }, 0);
        assert!(
            s.f_bsize > 0 && s.f_blocks > 0,
            "{}/{}",
            s.f_bsize,
            s.f_blocks
        );
        assert!(s.f_bavail <= s.f_blocks);
        assert_eq!(s.f_namemax, 255);
    });
}

#[test]
fn fallocate_modes() {
    case(|m| {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(m.v("fa"))
            .unwrap();
        // SAFETY: valid fd.
        let r = unsafe { libc::fallocate(f.as_raw_fd(), 0, 0, 1 << 20) };
        assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
        assert_eq!(f.metadata().unwrap().len(), 1 << 20);
        // KEEP_SIZE allocates past the end without growing the file.
        // SAFETY: valid fd.
        let r =
            unsafe { libc::fallocate(f.as_raw_fd(), libc::FALLOC_FL_KEEP_SIZE, 1 << 20, 1 << 20) };
        assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
        assert_eq!(f.metadata().unwrap().len(), 1 << 20);
        let data = std::fs::read(m.v("fa")).unwrap();
        assert!(data.iter().all(|b| *b == 0));
        // On a workspace file: grows it, keeps the old bytes.
        let g = OpenOptions::new().write(true).open(m.v("a.txt")).unwrap();
        // SAFETY: valid fd.
        assert_eq!(unsafe { libc::fallocate(g.as_raw_fd(), 0, 0, 100) }, 0);
        let a = std::fs::read(m.v("a.txt")).unwrap();
        assert_eq!(a.len(), 100);
        assert_eq!(&a[..6], b"alpha\n");
        assert!(a[6..].iter().all(|b| *b == 0));
    });
}

/// Writes `edits` (offset, byte) through a shared mapping of the first `len` bytes of `f`,
/// then msyncs and unmaps it.
fn poke_through_mmap(f: &File, len: usize, edits: &[(usize, u8)]) {
    // SAFETY: a fresh shared mapping of `len` bytes of an open file.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        )
    };
    assert_ne!(
        p,
        libc::MAP_FAILED,
        "mmap: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: the mapping is `len` bytes long and writable until the munmap below.
    let s = unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), len) };
    for (off, b) in edits {
        s[*off] = *b;
    }
    // SAFETY: msync/munmap of the mapping made above; `s` is not used afterwards.
    unsafe {
        let r = libc::msync(p, len, libc::MS_SYNC);
        assert_eq!(r, 0, "msync: {}", std::io::Error::last_os_error());
        libc::munmap(p, len);
    }
}

#[test]
fn shared_writable_mmap() {
    case(|m| {
        for (name, len) in [("mm", 8192usize), ("a.txt", 6)] {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(m.v(name))
                .unwrap();
            if name == "mm" {
                f.set_len(len as u64).unwrap();
            }
            poke_through_mmap(&f, len, &[(0, b'M'), (len - 1, b'Z')]);
            drop(f);
            let got = std::fs::read(m.v(name)).unwrap();
            assert_eq!(got.len(), len);
            assert_eq!((got[0], got[len - 1]), (b'M', b'Z'), "{name}");
        }
        assert_eq!(std::fs::read(m.v("a.txt")).unwrap(), b"Mlpha\x5a");
    });
}

#[test]
fn name_too_long() {
    case(|m| {
        let long = "n".repeat(256);
        assert_eq!(raw_err(std::fs::write(m.v(&long), "x")), libc::ENAMETOOLONG);
        assert_eq!(raw_err(std::fs::create_dir(m.v(&long))), libc::ENAMETOOLONG);
        assert_eq!(
            raw_err(std::fs::rename(m.v("a.txt"), m.v(&long))),
            libc::ENAMETOOLONG
        );
        let ok = "n".repeat(255);
        std::fs::write(m.v(&ok), "x").unwrap();
        assert_eq!(std::fs::read(m.v(&ok)).unwrap(), b"x");
    });
}

#[test]
fn path_deeper_than_path_max() {
    case(|m| {
        let name = std::ffi::CString::new("d".repeat(200)).unwrap();
        let root = File::open(&m.view).unwrap();
        let mut fds = vec![];
        let mut cur = root.as_raw_fd();
        for _ in 0..25 {
            // SAFETY: valid dir fd and name.
            let r = unsafe { libc::mkdirat(cur, name.as_ptr(), 0o755) };
            assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
            // SAFETY: as above.
            let fd =
                unsafe { libc::openat(cur, name.as_ptr(), libc::O_DIRECTORY | libc::O_RDONLY) };
            assert!(fd >= 0, "{}", std::io::Error::last_os_error());
            fds.push(fd);
            cur = fd;
        }
        // 25 * 201 bytes > PATH_MAX.
        let leaf = std::ffi::CString::new("leaf").unwrap();
        // SAFETY: valid dir fd and name.
        let fd = unsafe {
            libc::openat(
                cur,
                leaf.as_ptr(),
                libc::O_CREAT | libc::O_RDWR | libc::O_EXCL,
                0o644,
            )
        };
        assert!(fd >= 0, "{}", std::io::Error::last_os_error());
        // SAFETY: valid fds and buffers.
        unsafe {
            assert_eq!(libc::write(fd, b"deep".as_ptr().cast(), 4), 4);
            libc::close(fd);
            let fd = libc::openat(cur, leaf.as_ptr(), libc::O_RDONLY);
            let mut buf = [0u8; 8];
            assert_eq!(libc::read(fd, buf.as_mut_ptr().cast(), 8), 4);
            assert_eq!(&buf[..4], b"deep");
            libc::close(fd);
            for fd in fds {
                libc::close(fd);
            }
        }
    });
}

#[test]
fn readdir_consistent_under_changes() {
    case_with(fill_many, list_while_changing);
}

fn fill_many(ws: &Path) {
    std::fs::create_dir(ws.join("many")).unwrap();
    for i in 0..3000 {
        std::fs::write(
            ws.join(format!("many/entry-with-a-longish-name-{i:05}")),
            "",
        )
        .unwrap();
    }
}

fn list_while_changing(m: &Mounted) {
    let mut it = std::fs::read_dir(m.v("many")).unwrap();
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for e in it.by_ref().take(1000) {
        *seen
            .entry(e.unwrap().file_name().into_string().unwrap())
            .or_default() += 1;
    }
    // Change the directory in the middle of the listing.
    for i in 0..500 {
        std::fs::write(m.v(&format!("many/added-{i}")), "").unwrap();
    }
    for i in (0..3000).step_by(7) {
        let _ = std::fs::remove_file(m.v(&format!("many/entry-with-a-longish-name-{i:05}")));
    }
    for e in it {
        *seen
            .entry(e.unwrap().file_name().into_string().unwrap())
            .or_default() += 1;
    }
    let dups: Vec<_> = seen.iter().filter(|(_, c)| **c > 1).collect();
    assert!(dups.is_empty(), "entries listed twice: {dups:?}");
    for i in 0..3000 {
        let name = format!("entry-with-a-longish-name-{i:05}");
        if i % 7 != 0 {
            assert!(seen.contains_key(&name), "untouched entry {name} missing");
        }
    }
    // A fresh listing shows the new state exactly.
    let now = std::fs::read_dir(m.v("many")).unwrap().count();
    assert_eq!(now, 3000 - 3000usize.div_ceil(7) + 500);
}

#[test]
fn stable_inode_numbers() {
    case(|m| {
        let ino = |p: &str| std::fs::symlink_metadata(m.v(p)).unwrap().ino();
        let names = ["a.txt", "b.txt", "dir", "dir/sub/d.txt", "link", "h1"];
        let first: Vec<_> = names.iter().map(|n| ino(n)).collect();
        assert_eq!(first, names.iter().map(|n| ino(n)).collect::<Vec<_>>());
        let mut uniq = first.clone();
        uniq.sort_unstable();
        uniq.dedup();
        assert_eq!(
            uniq.len(),
            first.len(),
            "distinct objects share an inode number"
        );
        // Copy-up of metadata, then of data, keeps the number.
        std::fs::set_permissions(m.v("a.txt"), std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(ino("a.txt"), first[0]);
        std::fs::write(m.v("a.txt"), "changed").unwrap();
        assert_eq!(ino("a.txt"), first[0]);
        set_xattr(&m.v("dir"), "user.x", b"1");
        assert_eq!(ino("dir"), first[2]);
        std::fs::write(m.v("dir/sub/d.txt"), "changed").unwrap();
        assert_eq!(ino("dir/sub/d.txt"), first[3]);
        // A rename keeps it.
        std::fs::rename(m.v("b.txt"), m.v("dir/b-moved")).unwrap();
        assert_eq!(ino("dir/b-moved"), first[1]);
        // After the kernel forgets every inode, the numbers are the same.
        std::fs::write("/proc/sys/vm/drop_caches", "2").unwrap();
        assert_eq!(ino("a.txt"), first[0]);
        assert_eq!(ino("dir/b-moved"), first[1]);
        assert_eq!(ino("dir/sub/d.txt"), first[3]);
        assert_eq!(ino("link"), first[4]);
        assert_eq!(ino("h1"), first[5]);
    });
}

#[test]
fn attributes_not_stale_after_writes_from_another_fd() {
    case(|m| {
        let reader = File::open(m.v("a.txt")).unwrap();
        let before = std::fs::metadata(m.v("a.txt")).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut w = OpenOptions::new().append(true).open(m.v("a.txt")).unwrap();
        w.write_all(b"more bytes\n").unwrap();
        assert_eq!(reader.metadata().unwrap().len(), 17);
        assert_eq!(std::fs::metadata(m.v("a.txt")).unwrap().len(), 17);
        let after = std::fs::metadata(m.v("a.txt")).unwrap();
        assert!(
            (after.mtime(), after.mtime_nsec()) > (before.mtime(), before.mtime_nsec()),
            "mtime did not advance"
        );
        let mut s = String::new();
        (&reader).read_to_string(&mut s).unwrap();
        assert_eq!(s, "alpha\nmore bytes\n");
        // A truncate through another fd is seen at once too.
        w.set_len(2).unwrap();
        assert_eq!(reader.metadata().unwrap().len(), 2);
        let mut s = String::new();
        (&reader).seek(SeekFrom::Start(0)).unwrap();
        (&reader).read_to_string(&mut s).unwrap();
        assert_eq!(s, "al");
    });
}

#[test]
fn workspace_hard_link_pair_after_copy_up() {
    case(|m| {
        let ino = std::fs::metadata(m.v("h1")).unwrap().ino();
        std::fs::rename(m.v("h1"), m.v("h1-moved")).unwrap();
        let (a, b) = (
            std::fs::metadata(m.v("h1-moved")).unwrap(),
            std::fs::metadata(m.v("dir/h2")).unwrap(),
        );
        assert_eq!((a.ino(), b.ino()), (ino, ino));
        assert_eq!((a.nlink(), b.nlink()), (2, 2));
        std::fs::set_permissions(m.v("dir/h2"), std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            std::fs::metadata(m.v("h1-moved")).unwrap().mode() & 0o7777,
            0o600
        );
    });
}

#[test]
fn workspace_hard_link_write_then_unlink_keeps_the_bytes() {
    case(|m| {
        std::fs::write(m.v("h1"), "written via h1").unwrap();
        assert_eq!(
            std::fs::read_to_string(m.v("dir/h2")).unwrap(),
            "written via h1"
        );
        std::fs::remove_file(m.v("h1")).unwrap();
        assert_eq!(
            std::fs::read_to_string(m.v("dir/h2")).unwrap(),
            "written via h1"
        );
        // Once the kernel forgets the inode, the overlay must still know the bytes.
        std::fs::write("/proc/sys/vm/drop_caches", "2").unwrap();
        assert_eq!(
            std::fs::read_to_string(m.v("dir/h2")).unwrap(),
            "written via h1"
        );
    });
}

/// Names and pages the kernel cached while the overlay held changes: stats of removed and
/// created names and reads of rewritten files, all made warm before `undo` runs.
fn warm_caches_then(m: &Mounted, undo: impl FnOnce(&Mounted)) {
    // Cache a negative entry for a name the workspace has, a positive one for a name it
    // lacks, and pages of a rewritten file.
    std::fs::remove_file(m.v("a.txt")).unwrap();
    assert!(!m.v("a.txt").exists());
    std::fs::write(m.v("created"), "new").unwrap();
    assert!(m.v("created").exists());
    std::fs::write(m.v("b.txt"), "rewritten, and longer than before").unwrap();
    assert_eq!(
        std::fs::read_to_string(m.v("b.txt")).unwrap(),
        "rewritten, and longer than before"
    );
    std::fs::rename(m.v("dir"), m.v("dir-moved")).unwrap();
    assert!(m.v("dir-moved/sub/d.txt").exists() && !m.v("dir").exists());
    let held = File::open(m.v("run.sh")).unwrap();
    std::fs::write(m.v("run.sh"), "#!/bin/sh\necho changed\n").unwrap();
    undo(m);
    assert_eq!(std::fs::read_to_string(m.v("a.txt")).unwrap(), "alpha\n");
    assert_eq!(
        std::fs::metadata(m.v("created"))
            .map_err(|e| e.raw_os_error())
            .err(),
        Some(Some(libc::ENOENT)),
        "a name created before the undo is still there"
    );
    assert_eq!(std::fs::read_to_string(m.v("b.txt")).unwrap(), "bravo\n");
    assert_eq!(std::fs::metadata(m.v("b.txt")).unwrap().len(), 6);
    assert!(!m.v("dir-moved").exists());
    assert_eq!(
        std::fs::read_to_string(m.v("dir/sub/d.txt")).unwrap(),
        "delta\n"
    );
    assert_eq!(
        std::fs::read_to_string(m.v("run.sh")).unwrap(),
        "#!/bin/sh\necho hi\n"
    );
    drop(held);
}

#[test]
fn abort_forgets_cached_names_and_pages() {
    case(|m| warm_caches_then(m, |m| m.abort()));
}

#[test]
fn rollback_to_a_checkpoint_forgets_cached_names_and_pages() {
    case(|m| {
        std::fs::write(m.v("kept"), "before the checkpoint").unwrap();
        let id = m.ok(&["checkpoint", "-m", "first"]).trim().to_owned();
        let at_checkpoint = tree(&m.view, EXACT);
        warm_caches_then(m, |m| {
            m.ok(&["rollback", "--to", &id]);
        });
        assert_trees_eq("view after rollback", &at_checkpoint, &tree(&m.view, EXACT));
        assert_eq!(
            std::fs::read_to_string(m.v("kept")).unwrap(),
            "before the checkpoint"
        );
        // Rollback to 0: no changes at all.
        m.ok(&["rollback", "--to", "0"]);
        assert!(!m.v("kept").exists());
        assert_trees_eq(
            "view at checkpoint 0",
            &tree(&m.ws, EXACT),
            &tree(&m.view, EXACT),
        );
    });
}

#[test]
fn in_place_view_is_isolated_until_abort() {
    let mut before = None;
    let mut m = Mounted::in_place(|ws| {
        sample_tree(ws);
        before = Some(tree(ws, EXACT));
    });
    let before = before.unwrap();
    assert_trees_eq("fresh in-place view", &before, &tree(&m.view, EXACT));
    std::fs::write(m.v("a.txt"), "changed in place").unwrap();
    std::fs::remove_file(m.v("b.txt")).unwrap();
    std::fs::rename(m.v("dir"), m.v("dir2")).unwrap();
    std::fs::set_permissions(m.v("run.sh"), std::fs::Permissions::from_mode(0o700)).unwrap();
    set_xattr(&m.v("h1"), "user.new", b"1");
    // Commands find the workspace from the current directory inside the view.
    let out = run_ok(
        m.cmd()
            .args(["--json", "status"])
            .current_dir(m.v("dir2/sub")),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["workspace"].as_str().unwrap(), m.ws.to_str().unwrap());
    // A rename is two entries: the old name deleted, the new one renamed from it.
    assert_eq!(v["entries"], 6, "{v}");
    let out = run_ok(m.cmd().args(["--json", "diff"]).current_dir(m.v("dir2")));
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut paths: Vec<_> = d
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_owned())
        .collect();
    paths.sort();
    // h1 and dir/h2 are one inode: a kernel request names the inode, not the name, so the
    // change to it is listed under whichever of its names the overlay copied up.
    let link_names: Vec<_> = paths
        .iter()
        .filter(|p| *p == "h1" || *p == "dir2/h2")
        .cloned()
        .collect();
    assert_eq!(link_names.len(), 1, "{paths:?}");
    paths.retain(|p| p != "h1" && p != "dir2/h2");
    // `diff` lists a rename once, at its new name (dir was renamed to dir2).
    assert_eq!(paths, ["a.txt", "b.txt", "dir2", "run.sh"]);
    let out = m.unmount_abort();
    assert!(out.status.success(), "{out:?}");
    assert!(!is_mounted(&m.ws));
    assert_trees_eq(
        "workspace after an in-place abort",
        &before,
        &tree(&m.ws, EXACT),
    );
}

#[test]
fn commands_accept_the_view_path_or_a_directory_inside_it() {
    let m = Mounted::at(sample_tree);
    std::fs::write(m.v("x"), "x").unwrap();
    let by_view = run_ok(m.cmd().args(["--json", "status"]).arg(&m.view));
    let inside = run_ok(
        m.cmd()
            .args(["--json", "status"])
            .current_dir(m.v("dir/sub")),
    );
    for out in [by_view, inside] {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["workspace"].as_str().unwrap(), m.ws.to_str().unwrap());
        assert_eq!(v["entries"], 1, "{v}");
    }
}

#[test]
fn rollback_returns_to_the_checkpoint_despite_open_fds_and_mappings() {
    case(|m| {
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(m.v("a.txt"))
            .unwrap();
        f.write_all(b"ALPHA").unwrap();
        let id = m.ok(&["checkpoint", "-m", "sealed"]).trim().to_owned();
        let sealed = tree(&m.view, EXACT);
        // Keep writing through the fd that was open across the checkpoint, and through a
        // shared mapping.
        f.write_all(b" and more after the checkpoint").unwrap();
        f.sync_all().unwrap();
        let len = f.metadata().unwrap().len() as usize;
        poke_through_mmap(&f, len, &[(0, b'#')]);
        std::fs::write(m.v("b.txt"), "after").unwrap();
        assert!(
            std::fs::read_to_string(m.v("a.txt"))
                .unwrap()
                .starts_with("#LPHA")
        );
        m.ok(&["rollback", "--to", &id]);
        assert_trees_eq("view after rollback", &sealed, &tree(&m.view, EXACT));
        assert_eq!(std::fs::read_to_string(m.v("a.txt")).unwrap(), "ALPHA\n");
        drop(f);
        assert_trees_eq("after closing the fd", &sealed, &tree(&m.view, EXACT));
    });
}

/// A file the view made is read and written by the kernel itself (passthrough): a handle
/// held open across a rollback is revoked (its writes do not land in the view); across a
/// commit its writes belong to the next transaction and never reach the workspace
/// by themselves; its size and mtime show through the view while it is written.
#[test]
fn passed_through_files_follow_rollback_and_commit() {
    case(|m| {
        let status =
            || -> serde_json::Value { serde_json::from_str(&m.ok(&["--json", "status"])).unwrap() };
        assert_eq!(
            status()["passthrough"],
            true,
            "the kernel here passes files through"
        );
        std::fs::write(m.v("made.txt"), "zero").unwrap();
        assert_eq!(std::fs::read_to_string(m.v("made.txt")).unwrap(), "zero");
        // Written by the kernel itself, past the page cache the read above filled (in place:
        // a truncate would drop that cache anyway).
        let w = OpenOptions::new()
            .write(true)
            .open(m.v("made.txt"))
            .unwrap();
        w.write_all_at(b"ZERO", 0).unwrap();
        drop(w);
        assert_eq!(std::fs::read_to_string(m.v("made.txt")).unwrap(), "ZERO");
        std::fs::write(m.v("made.txt"), "one").unwrap();
        let id = m.ok(&["checkpoint", "-m", "one"]).trim().to_owned();
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(m.v("made.txt"))
            .unwrap();
        let past = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1 << 30);
        f.set_modified(past).unwrap();
        f.write_all_at(b"TWO, longer", 0).unwrap();
        let seen = std::fs::metadata(m.v("made.txt")).unwrap();
        assert_eq!(seen.len(), 11, "size of a file being written");
        assert!(
            seen.modified().unwrap() > past,
            "mtime of a file being written"
        );
        m.ok(&["rollback", "--to", &id]);
        assert_eq!(std::fs::read_to_string(m.v("made.txt")).unwrap(), "one");
        // The rollback revoked the held handle: what it writes does not reach the view
        // (tests/mount_revoke.rs tries harder); a new one works.
        let _ = f.write_all_at(b"revoked", 0);
        assert_eq!(std::fs::read_to_string(m.v("made.txt")).unwrap(), "one");
        drop(f);
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(m.v("made.txt"))
            .unwrap();
        let read_fd = || {
            let mut buf = vec![0u8; 64];
            let n = f.read_at(&mut buf, 0).unwrap();
            String::from_utf8(buf[..n].to_vec()).unwrap()
        };
        assert_eq!(read_fd(), "one");
        f.write_all_at(b"333", 0).unwrap();
        assert_eq!(std::fs::read_to_string(m.v("made.txt")).unwrap(), "333");
        m.ok(&["commit", "-m", "333"]);
        assert_eq!(std::fs::read_to_string(m.w("made.txt")).unwrap(), "333");
        f.write_all_at(b"4444", 0).unwrap();
        assert_eq!(std::fs::read_to_string(m.v("made.txt")).unwrap(), "4444");
        assert_eq!(read_fd(), "4444");
        assert_eq!(
            std::fs::read_to_string(m.w("made.txt")).unwrap(),
            "333",
            "a write after the commit waits for the next one"
        );
        assert!(
            m.ok(&["diff"]).contains("made.txt"),
            "the write is a change"
        );
        drop(f);
        m.ok(&["commit", "-m", "4444"]);
        assert_eq!(std::fs::read_to_string(m.w("made.txt")).unwrap(), "4444");
        std::fs::remove_file(m.v("made.txt")).unwrap();
        m.ok(&["commit", "-m", "gone"]);
    });
}

#[test]
fn large_file_round_trip() {
    case(|m| {
        let data: Vec<u8> = (0..40u32 << 20)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        std::fs::write(m.v("big.bin"), &data).unwrap();
        let back = std::fs::read(m.v("big.bin")).unwrap();
        assert!(back == data, "40 MiB file read back differently");
        // Overwrite a range in the middle that spans several max_write chunks.
        let mut f = OpenOptions::new().write(true).open(m.v("big.bin")).unwrap();
        f.seek(SeekFrom::Start(3 << 20)).unwrap();
        f.write_all(&vec![7u8; 5 << 20]).unwrap();
        drop(f);
        let back = std::fs::read(m.v("big.bin")).unwrap();
        assert!(back[..3 << 20] == data[..3 << 20]);
        assert!(back[3 << 20..8 << 20].iter().all(|b| *b == 7));
        assert!(back[8 << 20..] == data[8 << 20..]);
    });
}

#[test]
fn rename_over_an_open_file_keeps_the_old_contents_on_its_fd() {
    case(|m| {
        let old = File::open(m.v("a.txt")).unwrap();
        std::fs::write(m.v("new"), "replacement").unwrap();
        std::fs::rename(m.v("new"), m.v("a.txt")).unwrap();
        let mut s = String::new();
        (&old).read_to_string(&mut s).unwrap();
        assert_eq!(s, "alpha\n");
        assert_eq!(old.metadata().unwrap().nlink(), 0);
        assert_eq!(
            std::fs::read_to_string(m.v("a.txt")).unwrap(),
            "replacement"
        );
    });
}

#[test]
fn odd_names() {
    use std::os::unix::ffi::OsStrExt;
    case(|m| {
        let names: [&[u8]; 5] = [
            b"with space",
            b"-leading-dash",
            b"new\nline",
            b"\xff\xfe not utf-8",
            "ünïcødé ✓".as_bytes(),
        ];
        for n in names {
            let p = m.view.join(std::ffi::OsStr::from_bytes(n));
            std::fs::write(&p, n).unwrap();
            assert_eq!(std::fs::read(&p).unwrap(), n);
        }
        let mut listed: Vec<Vec<u8>> = std::fs::read_dir(&m.view)
            .unwrap()
            .map(|e| e.unwrap().file_name().as_bytes().to_vec())
            .filter(|n| names.contains(&n.as_slice()))
            .collect();
        listed.sort();
        let mut want: Vec<Vec<u8>> = names.iter().map(|n| n.to_vec()).collect();
        want.sort();
        assert_eq!(listed, want);
        // diff and status cope with them.
        m.ok(&["diff"]);
        m.ok(&["--json", "diff"]);
    });
}

#[test]
fn fifos_and_sockets() {
    case(|m| {
        let c = cpath(&m.v("fifo"));
        // SAFETY: valid path.
        let r = unsafe { libc::mkfifo(c.as_ptr(), 0o640) };
        assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
        let st = std::fs::symlink_metadata(m.v("fifo")).unwrap();
        assert!(std::os::unix::fs::FileTypeExt::is_fifo(&st.file_type()));
        assert_eq!(st.mode() & 0o7777, 0o640);
        let writer = std::thread::spawn({
            let p = m.v("fifo");
            move || std::fs::write(p, "through the pipe").unwrap()
        });
        assert_eq!(
            std::fs::read_to_string(m.v("fifo")).unwrap(),
            "through the pipe"
        );
        writer.join().unwrap();
        let sock = m.v("sock");
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let mut client = std::os::unix::net::UnixStream::connect(&sock).unwrap();
        client.write_all(b"hi").unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let mut buf = [0u8; 2];
        server.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hi");
        drop(listener);
        std::fs::remove_file(&sock).unwrap();
    });
}

#[test]
fn workspace_paths_with_spaces_and_unicode() {
    for at in [true, false] {
        let mut before = None;
        let mut m = Mounted::named(
            "my work space ✓",
            |ws| {
                sample_tree(ws);
                before = Some(tree(ws, EXACT));
            },
            at,
        );
        let before = before.unwrap();
        assert!(is_mounted(&m.view));
        std::fs::write(m.v("a.txt"), "changed").unwrap();
        let out = run_ok(m.cmd().args(["--json", "status"]).current_dir(m.v("dir")));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["workspace"].as_str().unwrap(), m.ws.to_str().unwrap());
        assert_eq!(v["entries"], 1);
        m.abort();
        assert_trees_eq("view after abort", &before, &tree(&m.view, EXACT));
        let out = m.unmount_abort();
        assert!(out.status.success(), "{out:?}");
        assert!(!is_mounted(&m.view));
        assert_trees_eq("workspace", &before, &tree(&m.ws, EXACT));
    }
}

#[test]
fn fds_held_across_abort_never_reach_the_workspace() {
    case(|m| {
        let mut changed = OpenOptions::new()
            .read(true)
            .write(true)
            .open(m.v("a.txt"))
            .unwrap();
        changed.write_all(b"ALPHA").unwrap();
        let mut created = File::create(m.v("created")).unwrap();
        created.write_all(b"new").unwrap();
        let mut untouched = OpenOptions::new()
            .write(true)
            .open(m.v("dir/c.txt"))
            .unwrap();
        m.abort();
        // Whatever these writes answer (success lands in the new transaction, or ESTALE),
        // the daemon keeps serving and the workspace never sees them.
        let _ = changed.write_all(b"after abort");
        let _ = created.write_all(b"after abort");
        let _ = untouched.write_all(b"after abort");
        let _ = changed.sync_all();
        drop((changed, created, untouched));
        assert_eq!(std::fs::read_to_string(m.w("a.txt")).unwrap(), "alpha\n");
        assert_eq!(
            std::fs::read_to_string(m.w("dir/c.txt")).unwrap(),
            "charlie\n"
        );
        assert!(!m.w("created").exists());
        let v: serde_json::Value = serde_json::from_str(&m.ok(&["--json", "status"])).unwrap();
        assert!(v["mounted"].as_bool().unwrap());
    });
}

#[test]
fn concurrent_churn_gives_only_expected_errors() {
    case(|m| {
        std::fs::create_dir(m.v("churn")).unwrap();
        let unexpected = std::sync::Mutex::new(Vec::<String>::new());
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let unexpected = &unexpected;
                let dir = m.v("churn");
                let ws_file = m.v("dir/c.txt");
                s.spawn(move || {
                    let mut x = t + 1;
                    for i in 0..1500u64 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let a = dir.join(format!("f{}", x % 16));
                        let b = dir.join(format!("f{}", (x >> 8) % 16));
                        let r = match x % 6 {
                            0 => std::fs::write(&a, format!("{t}-{i}")),
                            1 => std::fs::remove_file(&a),
                            2 => std::fs::rename(&a, &b),
                            3 => std::fs::metadata(&a).map(drop),
                            4 => std::fs::read(&a).map(drop),
                            _ => std::fs::read(&ws_file).map(drop),
                        };
                        if let Err(e) = r
                            && e.raw_os_error() != Some(libc::ENOENT)
                        {
                            unexpected
                                .lock()
                                .unwrap()
                                .push(format!("op {} on {a:?}: {e}", x % 6));
                        }
                    }
                });
            }
            // Make the kernel forget inodes while the others work.
            s.spawn(|| {
                for _ in 0..10 {
                    let _ = std::fs::write("/proc/sys/vm/drop_caches", "2");
                    std::thread::sleep(std::time::Duration::from_millis(30));
                }
            });
        });
        let unexpected = unexpected.into_inner().unwrap();
        assert!(
            unexpected.is_empty(),
            "{} unexpected errors: {:?}",
            unexpected.len(),
            &unexpected[..unexpected.len().min(10)]
        );
        // Every remaining file reads whole.
        for e in std::fs::read_dir(m.v("churn")).unwrap() {
            let data = std::fs::read_to_string(e.unwrap().path()).unwrap();
            assert!(data.contains('-'), "{data:?}");
        }
    });
}

#[test]
fn copy_up_of_a_sparse_workspace_file_keeps_its_holes() {
    let fill = |ws: &Path| {
        let f = File::create(ws.join("image")).unwrap();
        f.set_len(64 << 20).unwrap();
        f.write_at(b"head", 0).unwrap();
    };
    case_with(fill, |m| {
        let f = OpenOptions::new().write(true).open(m.v("image")).unwrap();
        f.write_at(b"tail", (64 << 20) - 4).unwrap();
        drop(f);
        let st = std::fs::metadata(m.v("image")).unwrap();
        assert_eq!(st.len(), 64 << 20);
        assert!(
            st.blocks() * 512 < 16 << 20,
            "copy-up filled the holes: {} blocks",
            st.blocks()
        );
        let mut head = [0u8; 4];
        File::open(m.v("image"))
            .unwrap()
            .read_exact_at(&mut head, 0)
            .unwrap();
        assert_eq!(&head, b"head");
    });
}

#[test]
fn attributes_of_the_view_root() {
    case(|m| {
        std::fs::set_permissions(&m.view, std::fs::Permissions::from_mode(0o711)).unwrap();
        std::os::unix::fs::chown(&m.view, Some(1000), Some(1000)).unwrap();
        set_xattr(&m.view, "user.root", b"r");
        let st = std::fs::metadata(&m.view).unwrap();
        assert_eq!(
            (st.mode() & 0o7777, st.uid(), st.gid()),
            (0o711, 1000, 1000)
        );
        assert_eq!(xattrs(&m.view).get("user.root").unwrap(), b"r");
    });
}

#[test]
fn commit_keeps_the_xattrs_of_a_rewritten_workspace_file() {
    let m = Mounted::at(sample_tree);
    std::fs::write(m.v("b.txt"), "rewritten").unwrap();
    std::fs::write(m.v("dir/c.txt"), "rewritten").unwrap();
    set_xattr(&m.v("dir/c.txt"), "user.new", b"n");
    let shown = tree(&m.view, EXACT);
    m.commit();
    assert_eq!(xattrs(&m.w("b.txt")).get("user.tag").unwrap(), b"orig");
    assert_trees_eq("workspace after commit", &shown, &tree(&m.ws, EXACT));
    assert_trees_eq("view after commit", &shown, &tree(&m.view, EXACT));
}

#[test]
fn commit_of_a_write_through_a_workspace_hard_link_pair() {
    let m = Mounted::at(sample_tree);
    OpenOptions::new()
        .append(true)
        .open(m.v("h1"))
        .unwrap()
        .write_all(b"appended\n")
        .unwrap();
    let shown = tree(&m.view, EXACT);
    m.commit();
    assert_trees_eq("workspace after commit", &shown, &tree(&m.ws, EXACT));
}

#[test]
fn concurrent_directory_walks_and_changes_never_hang() {
    // Opening, listing and changing directories from several threads at once: the request
    // threads take the overlay's lock and the directory handles' lock, and must never wait
    // for each other in opposite orders.
    case_with(
        |ws| {
            for d in 0..40 {
                let dir = ws.join(format!("d{d:02}"));
                std::fs::create_dir(&dir).unwrap();
                for f in 0..10 {
                    std::fs::write(dir.join(format!("f{f}")), "x").unwrap();
                }
            }
        },
        |m| {
            let (done, finished) = std::sync::mpsc::channel();
            for t in 0..4 {
                let view = m.view.clone();
                let done = done.clone();
                std::thread::spawn(move || {
                    for round in 0..30 {
                        for d in 0..40 {
                            let dir = view.join(format!("d{d:02}"));
                            // A change drops the kept listing, so the next walk reads it anew.
                            let mine = dir.join(format!("t{t}-{round}"));
                            std::fs::write(&mine, "y").unwrap();
                            let mut n = 0;
                            for e in std::fs::read_dir(&dir).unwrap() {
                                let e = e.unwrap();
                                // Other walkers' files come and go; the workspace's stay.
                                if e.file_name().to_string_lossy().starts_with('f') {
                                    e.metadata().unwrap();
                                    n += 1;
                                }
                            }
                            assert_eq!(n, 10, "{} lists {n} of its files", dir.display());
                            std::fs::remove_file(&mine).unwrap();
                        }
                    }
                    let _ = done.send(t);
                });
            }
            drop(done);
            for _ in 0..4 {
                if finished
                    .recv_timeout(std::time::Duration::from_secs(120))
                    .is_err()
                {
                    // A hung daemon would hang the unmount too: take it down first.
                    if let Some(pid) = m.pid {
                        // SAFETY: kill has no memory preconditions; the pid is our daemon's.
                        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                    }
                    panic!("a walker hung or failed: the view deadlocked or errored");
                }
            }
        },
    );
}
