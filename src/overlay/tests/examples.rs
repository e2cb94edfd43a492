//! Example tests of the overlay core: one per operation and POSIX detail (tier 2). Each also
//! checks that the workspace did not change (invariant 1).
//!
//! Longer than 500 lines on purpose: one short test per operation and POSIX detail, in the
//! order of the operations; splitting would only scatter the fixtures.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

use super::harness::*;
use crate::overlay::*;

fn errno<T: std::fmt::Debug>(r: Result<T, FsError>) -> i32 {
    r.expect_err("the call must fail").errno()
}

/// A workspace with `f` ("hello"), `dir/x` ("x"), `dir/sub/y` ("y") and `link -> f`.
fn sample() -> Fx {
    Fx::new(|ws| {
        fs::write(ws.join("f"), "hello").expect("write");
        fs::create_dir_all(ws.join("dir/sub")).expect("mkdir");
        fs::write(ws.join("dir/x"), "x").expect("write");
        fs::write(ws.join("dir/sub/y"), "y").expect("write");
        symlink("f", ws.join("link")).expect("symlink");
    })
}

fn set(fx: &mut Fx, path: &str, set: SetAttr) -> Attr {
    let ino = fx.ino(path);
    fx.ov().setattr(ino, set).expect("setattr")
}

fn rename(fx: &mut Fx, from: &str, to: &str, mode: RenameMode) -> Result<(), FsError> {
    let (p, n) = fx.parent(from);
    let (q, m) = fx.parent(to);
    fx.ov().rename(p, &n, q, &m, mode)
}

#[test]
fn first_write_copies_up_and_leaves_the_workspace_untouched() {
    let mut fx = sample();
    let before = fx.ws_state();
    let lower_ino = fs::metadata(fx.ws.join("f")).expect("stat").ino();
    assert_eq!(
        fx.attr("f").ino,
        Ino(lower_ino),
        "a workspace file keeps its inode"
    );
    fx.write("f", 0, b"J");
    fx.write("f", 5, b"!");
    assert_eq!(fx.read("f"), b"Jello!");
    assert_eq!(fx.attr("f").size, 6);
    assert_eq!(
        fx.attr("f").ino,
        Ino(lower_ino),
        "and keeps it after copy-up"
    );
    assert_eq!(fs::read(fx.ws.join("f")).expect("read"), b"hello");
    assert_eq!(fx.ws_state(), before);
}

#[test]
fn lookup_finds_overlay_entries_then_workspace_entries() {
    let mut fx = sample();
    let before = fx.ws_state();
    fx.make("dir/new", Kind::File, None).expect("create");
    assert_eq!(fx.names("dir"), ["new", "sub", "x"]);
    assert!(fx.attr("dir/new").ino.0 >= FIRST_NEW_INO);
    assert_eq!(fx.read("dir/x"), b"x");
    assert_eq!(errno(fx.ov().lookup(ROOT, b"missing")), libc::ENOENT);
    assert_eq!(fx.ws_state(), before);
}

#[test]
fn whiteout_hides_a_workspace_file_until_it_is_created_again() {
    let mut fx = sample();
    let before = fx.ws_state();
    let old = fx.attr("f").ino;
    let (root, name) = fx.parent("f");
    fx.ov().unlink(root, &name).expect("unlink");
    assert!(!fx.exists("f"));
    assert_eq!(fx.names(""), ["dir", "link"]);
    assert_eq!(errno(fx.ov().unlink(root, b"f")), libc::ENOENT);
    fx.make("f", Kind::File, None).expect("create again");
    assert_ne!(fx.attr("f").ino, old);
    assert_eq!(fx.read("f"), b"");
    assert_eq!(fx.names(""), ["dir", "f", "link"]);
    assert_eq!(fx.ws_state(), before);
}

#[test]
fn a_directory_made_where_one_was_removed_is_opaque() {
    let mut fx = sample();
    let before = fx.ws_state();
    let (dir, _) = fx.parent("dir/sub/y");
    fx.ov().unlink(dir, b"y").expect("unlink");
    let (d, _) = fx.parent("dir/sub");
    fx.ov().rmdir(d, b"sub").expect("rmdir");
    fx.make("dir/sub", Kind::Dir, None).expect("mkdir");
    assert!(
        fx.names("dir/sub").is_empty(),
        "the old y must not show through"
    );
    assert!(!fx.exists("dir/sub/y"));
    assert_eq!(fx.ws_state(), before);
}

#[test]
fn rmdir_of_a_non_empty_directory_is_enotempty() {
    let mut fx = sample();
    let before = fx.ws_state();
    let root = fx.ino("");
    assert_eq!(errno(fx.ov().rmdir(root, b"dir")), libc::ENOTEMPTY);
    assert_eq!(errno(fx.ov().rmdir(root, b"f")), libc::ENOTDIR);
    assert_eq!(errno(fx.ov().unlink(root, b"dir")), libc::EISDIR);
    fx.make("made", Kind::Dir, None).expect("mkdir");
    fx.make("made/in", Kind::File, None).expect("create");
    assert_eq!(errno(fx.ov().rmdir(root, b"made")), libc::ENOTEMPTY);
    // A workspace directory emptied through the view is empty.
    let (sub, _) = fx.parent("dir/sub/y");
    fx.ov().unlink(sub, b"y").expect("unlink");
    let dir = fx.ino("dir");
    fx.ov()
        .rmdir(dir, b"sub")
        .expect("rmdir of the emptied directory");
    assert_eq!(fx.names("dir"), ["x"]);
    assert_eq!(fx.ws_state(), before);
}

#[test]
fn rename_replaces_files_and_empty_directories() {
    let mut fx = sample();
    let before = fx.ws_state();
    rename(&mut fx, "dir/x", "f", RenameMode::Replace).expect("rename over a file");
    assert_eq!(fx.read("f"), b"x");
    assert_eq!(fx.attr("f").nlink, 1);
    assert!(!fx.exists("dir/x"));
    fx.make("empty", Kind::Dir, None).expect("mkdir");
    assert_eq!(
        errno(rename(&mut fx, "f", "empty", RenameMode::Replace)),
        libc::EISDIR
    );
    assert_eq!(
        errno(rename(&mut fx, "empty", "f", RenameMode::Replace)),
        libc::ENOTDIR
    );
    assert_eq!(
        errno(rename(&mut fx, "empty", "dir", RenameMode::Replace)),
        libc::ENOTEMPTY
    );
    assert_eq!(
        errno(rename(&mut fx, "dir", "dir/sub/z", RenameMode::Replace)),
        libc::EINVAL
    );
    rename(&mut fx, "dir/sub", "empty", RenameMode::Replace).expect("over an empty dir");
    assert_eq!(fx.read("empty/y"), b"y");
    assert_eq!(fx.names("dir"), Vec::<String>::new());
    assert_eq!(fx.ws_state(), before);
}

#[test]
fn rename_noreplace_and_exchange() {
    let mut fx = sample();
    let before = fx.ws_state();
    assert_eq!(
        errno(rename(&mut fx, "f", "dir/x", RenameMode::NoReplace)),
        libc::EEXIST
    );
    rename(&mut fx, "f", "dir/g", RenameMode::NoReplace).expect("to a free name");
    assert_eq!(fx.read("dir/g"), b"hello");
    assert_eq!(
        errno(rename(&mut fx, "dir/g", "nothing", RenameMode::Exchange)),
        libc::ENOENT
    );
    // A file and a directory trade places.
    rename(&mut fx, "dir/g", "dir/sub", RenameMode::Exchange).expect("exchange");
    assert_eq!(fx.read("dir/sub"), b"hello");
    assert_eq!(fx.read("dir/g/y"), b"y");
    assert_eq!(fx.attr("dir/g").kind, Kind::Dir);
    assert_eq!(fx.ws_state(), before);
}

#[test]
fn directory_rename_moves_the_subtree_without_copying_it() {
    let mut fx = sample();
    let before = fx.ws_state();
    let x_ino = fx.attr("dir/x").ino;
    let nodes = fx.ov().node_count();
    rename(&mut fx, "dir", "moved", RenameMode::Replace).expect("rename");
    // The moved directory becomes a node; nothing below it does.
    assert_eq!(fx.ov().node_count(), nodes + 1);
    assert_eq!(fx.names("moved"), ["sub", "x"]);
    assert_eq!(fx.attr("moved/x").ino, x_ino);
    assert_eq!(fx.read("moved/sub/y"), b"y");
    fx.write("moved/sub/y", 1, b"es");
    assert_eq!(fx.read("moved/sub/y"), b"yes");
    assert!(!fx.exists("dir"));
    assert_eq!(fx.ws_state(), before);
}

#[test]
fn a_hard_link_is_one_node_under_two_names() {
    let mut fx = Fx::new(|ws| {
        fs::write(ws.join("a"), "aaa").expect("write");
        fs::hard_link(ws.join("a"), ws.join("b")).expect("link");
        fs::write(ws.join("f"), "fff").expect("write");
        fs::write(ws.join("p"), "ppp").expect("write");
        fs::hard_link(ws.join("p"), ws.join("q")).expect("link");
    });
    let before = fx.ws_state();
    // A link made through the view to a workspace file.
    let f = fx.ino("f");
    let root = fx.ino("");
    fx.ov().link(f, root, b"g").expect("link");
    assert_eq!(fx.attr("g").ino, f);
    assert_eq!(fx.attr("f").nlink, 2);
    set(
        &mut fx,
        "g",
        SetAttr {
            perm: Some(0o600),
            ..SetAttr::default()
        },
    );
    assert_eq!(fx.attr("f").perm, 0o600);
    fx.write("f", 0, b"F");
    assert_eq!(fx.read("g"), b"Fff");
    fx.ov().unlink(root, b"f").expect("unlink");
    assert_eq!(fx.attr("g").nlink, 1);
    assert_eq!(fx.read("g"), b"Fff");
    // A pair linked in the workspace.
    assert_eq!(fx.attr("a").ino, fx.attr("b").ino);
    assert_eq!(fx.attr("a").nlink, 2);
    fx.write("a", 0, b"A");
    assert_eq!(fx.read("b"), b"Aaa");
    assert_eq!(fx.attr("b").nlink, 2);
    fx.ov().unlink(root, b"a").expect("unlink");
    assert_eq!(fx.attr("b").nlink, 1);
    assert_eq!(fx.read("b"), b"Aaa", "the change made through a stays");
    // A pair linked in the workspace, one name removed before anything was changed.
    assert_eq!(fx.attr("q").nlink, 2);
    fx.ov().unlink(root, b"p").expect("unlink");
    assert_eq!(fx.attr("q").nlink, 1);
    fx.write("q", 0, b"Q");
    assert_eq!(fx.read("q"), b"Qpp");
    assert_eq!(fx.attr("q").nlink, 1);
    assert_eq!(fx.ws_state(), before);
}

#[test]
fn an_unlinked_open_file_still_reads_and_reports_nlink_0() {
    let mut fx = sample();
    let before = fx.ws_state();
    let root = fx.ino("");
    // A workspace file.
    let f = fx.ino("f");
    fx.ov().open_handle(f).expect("open");
    fx.ov().unlink(root, b"f").expect("unlink");
    assert_eq!(fx.ov().getattr(f).expect("getattr").nlink, 0);
    assert_eq!(read_ino(fx.ov(), f), b"hello");
    fx.ov()
        .write(f, 5, b"!")
        .expect("write to the unlinked file");
    assert_eq!(read_ino(fx.ov(), f), b"hello!");
    fx.ov().release_handle(f, Handle::CACHED).expect("release");
    // A file made through the view.
    let made = fx.make("new", Kind::File, None).expect("create").ino;
    fx.ov().write(made, 0, b"data").expect("write");
    fx.ov().open_handle(made).expect("open");
    fx.ov().unlink(root, b"new").expect("unlink");
    assert_eq!(fx.ov().getattr(made).expect("getattr").nlink, 0);
    assert_eq!(read_ino(fx.ov(), made), b"data");
    fx.ov()
        .release_handle(made, Handle::CACHED)
        .expect("release");
    fx.ov().forget(made, 1);
    assert!(
        fx.ov().node(made).is_none(),
        "dropped once nothing holds it"
    );
    assert!(!fx.exists("new"));
    assert_eq!(fx.ws_state(), before);
}

#[test]
fn names_of_256_bytes_are_enametoolong() {
    let mut fx = sample();
    let long = "n".repeat(256);
    let ok = "n".repeat(255);
    let root = fx.ino("");
    assert_eq!(errno(fx.make(&long, Kind::File, None)), libc::ENAMETOOLONG);
    assert_eq!(errno(fx.make(&long, Kind::Dir, None)), libc::ENAMETOOLONG);
    assert_eq!(
        errno(fx.ov().lookup(root, long.as_bytes())),
        libc::ENAMETOOLONG
    );
    assert_eq!(
        errno(
            fx.ov()
                .rename(root, b"f", root, long.as_bytes(), RenameMode::Replace)
        ),
        libc::ENAMETOOLONG
    );
    let f = fx.ino("f");
    assert_eq!(
        errno(fx.ov().link(f, root, long.as_bytes())),
        libc::ENAMETOOLONG
    );
    fx.make(&ok, Kind::File, None).expect("255 bytes is fine");
    assert_eq!(fx.ov().statfs().expect("statfs").namelen, 255);
}

#[test]
fn sparse_writes_leave_holes_that_read_as_zeros() {
    let mut fx = sample();
    let ino = fx.make("sparse", Kind::File, None).expect("create").ino;
    fx.ov().write(ino, 1 << 20, b"end").expect("write");
    let attr = fx.ov().getattr(ino).expect("getattr");
    assert_eq!(attr.size, (1 << 20) + 3);
    let data = read_ino(fx.ov(), ino);
    assert_eq!(data.len(), (1 << 20) + 3);
    assert!(data[..1 << 20].iter().all(|b| *b == 0));
    assert_eq!(&data[1 << 20..], b"end");
}

#[test]
fn truncate_shrinks_and_grows_with_zeros() {
    let mut fx = sample();
    let before = fx.ws_state();
    set(
        &mut fx,
        "f",
        SetAttr {
            size: Some(2),
            ..SetAttr::default()
        },
    );
    assert_eq!(fx.read("f"), b"he");
    let attr = set(
        &mut fx,
        "f",
        SetAttr {
            size: Some(4),
            ..SetAttr::default()
        },
    );
    assert_eq!(attr.size, 4);
    assert_eq!(fx.read("f"), b"he\0\0");
    let ino = fx.ino("f");
    fx.ov()
        .fallocate(ino, 0, 10, 0)
        .expect("fallocate extends the file");
    assert_eq!(fx.attr("f").size, 10);
    assert_eq!(fx.ws_state(), before);
}

/// An access ACL `[(tag, perm)]` in the kernel's `posix_acl_xattr` form (ids unused).
fn acl(entries: &[(u16, u16)]) -> Vec<u8> {
    let mut v = 2u32.to_le_bytes().to_vec();
    for (tag, perm) in entries {
        v.extend(tag.to_le_bytes());
        v.extend(perm.to_le_bytes());
        v.extend(u32::MAX.to_le_bytes());
    }
    v
}

/// `cp -p` sets a copy's mode by setting its access ACL: the ACL's owner, mask (or group) and
/// other entries are the mode's permission bits, an ACL that says no more than the mode is
/// not kept, and a malformed one is refused.
#[test]
fn an_access_acl_sets_the_mode_bits() {
    const ACL: &[u8] = b"system.posix_acl_access";
    let mut fx = Fx::new(|ws| fs::write(ws.join("f"), "f").expect("write"));
    let before = fx.ws_state();
    let f = fx.ino("f");
    fx.ov()
        .setattr(
            f,
            SetAttr {
                perm: Some(0o4600),
                ..SetAttr::default()
            },
        )
        .expect("chmod");
    let minimal = acl(&[(0x01, 6), (0x04, 4), (0x20, 0)]);
    fx.ov().setxattr(f, ACL, &minimal, 0).expect("minimal ACL");
    assert_eq!(fx.attr("f").perm, 0o4640, "the mode follows, setuid kept");
    assert_eq!(errno(fx.ov().getxattr(f, ACL)), libc::ENODATA);
    let extended = acl(&[(0x01, 7), (0x02, 4), (0x04, 4), (0x10, 5), (0x20, 1)]);
    fx.ov()
        .setxattr(f, ACL, &extended, 0)
        .expect("extended ACL");
    assert_eq!(fx.attr("f").perm, 0o4751, "the mask is the group's bits");
    assert_eq!(fx.ov().getxattr(f, ACL).expect("kept"), extended);
    assert_eq!(errno(fx.ov().setxattr(f, ACL, b"junk", 0)), libc::EINVAL);
    assert_eq!(fx.attr("f").perm, 0o4751, "a refused ACL changes nothing");
    fx.reopen();
    assert_eq!(fx.attr("f").perm, 0o4751);
    assert_eq!(fx.ws_state(), before);
}

#[test]
fn xattrs_set_get_remove_list_with_create_and_replace() {
    const XATTR_CREATE: i32 = 1;
    const XATTR_REPLACE: i32 = 2;
    let mut fx = Fx::new(|ws| {
        fs::write(ws.join("f"), "f").expect("write");
        set_lxattr(&ws.join("f"), "user.a", b"1");
    });
    let before = fx.ws_state();
    let f = fx.ino("f");
    let ov = fx.ov();
    assert_eq!(ov.getxattr(f, b"user.a").expect("get"), b"1");
    assert_eq!(
        errno(ov.setxattr(f, b"user.a", b"2", XATTR_CREATE)),
        libc::EEXIST
    );
    assert_eq!(
        errno(ov.setxattr(f, b"user.b", b"2", XATTR_REPLACE)),
        libc::ENODATA
    );
    ov.setxattr(f, b"user.b", b"2", XATTR_CREATE)
        .expect("create");
    ov.setxattr(f, b"user.a", b"3", XATTR_REPLACE)
        .expect("replace");
    let names: Vec<Vec<u8>> = ov
        .xattrs(f)
        .expect("list")
        .into_keys()
        .filter(|k| k.starts_with(b"user."))
        .collect();
    assert_eq!(names, [b"user.a".to_vec(), b"user.b".to_vec()]);
    ov.removexattr(f, b"user.a").expect("remove");
    assert_eq!(errno(ov.getxattr(f, b"user.a")), libc::ENODATA);
    assert_eq!(errno(ov.removexattr(f, b"user.a")), libc::ENODATA);
    fx.reopen();
    let f = fx.ino("f");
    assert_eq!(fx.ov().getxattr(f, b"user.b").expect("kept"), b"2");
    assert_eq!(errno(fx.ov().getxattr(f, b"user.a")), libc::ENODATA);
    assert_eq!(fx.ws_state(), before);
}

#[test]
fn setattr_times_at_now_and_omit() {
    let mut fx = sample();
    let before = fx.ws_state();
    let old = fx.attr("f");
    let t = Time {
        sec: 1_000_000_000,
        nsec: 123,
    };
    let a = set(
        &mut fx,
        "f",
        SetAttr {
            atime: Some(SetTime::At(t)),
            ..SetAttr::default()
        },
    );
    assert_eq!(a.atime, t);
    assert_eq!(a.mtime, old.mtime, "an omitted mtime is left alone");
    assert!(a.ctime >= old.ctime);
    let start = Time::now();
    let a = set(
        &mut fx,
        "f",
        SetAttr {
            mtime: Some(SetTime::Now),
            ..SetAttr::default()
        },
    );
    assert_eq!(a.atime, t, "an omitted atime is left alone");
    assert!(a.mtime >= start && a.mtime <= Time::now());
    let a = set(
        &mut fx,
        "f",
        SetAttr {
            mtime: Some(SetTime::At(t)),
            atime: Some(SetTime::Now),
            ..SetAttr::default()
        },
    );
    assert_eq!(a.mtime, t);
    assert!(a.atime >= start);
    fx.reopen();
    assert_eq!(fx.attr("f").mtime, t, "times survive a reopen");
    assert_eq!(fx.ws_state(), before);
}

#[test]
fn chmod_and_chown_copy_up_metadata_only() {
    let mut fx = sample();
    let before = fx.ws_state();
    let a = set(
        &mut fx,
        "dir/x",
        SetAttr {
            perm: Some(0o4755),
            ..SetAttr::default()
        },
    );
    assert_eq!(a.perm, 0o4755);
    let a = set(
        &mut fx,
        "dir/x",
        SetAttr {
            uid: Some(1000),
            ..SetAttr::default()
        },
    );
    assert_eq!(a.uid, 1000);
    assert_eq!(a.perm, 0o755, "chown clears setuid");
    assert_eq!(fx.read("dir/x"), b"x");
    let mode = fs::metadata(fx.ws.join("dir/x"))
        .expect("stat")
        .permissions();
    assert_eq!(mode.mode() & 0o7777, 0o644);
    assert_eq!(fx.ws_state(), before);
}

#[test]
fn symlinks_made_and_shown_through() {
    let mut fx = sample();
    let before = fx.ws_state();
    let l = fx.ino("link");
    assert_eq!(fx.ov().readlink(l).expect("readlink"), b"f");
    let a = fx
        .make("dir/s", Kind::Symlink, Some("../f"))
        .expect("symlink");
    assert_eq!(a.kind, Kind::Symlink);
    assert_eq!(a.size, 4);
    assert_eq!(fx.ov().readlink(a.ino).expect("readlink"), b"../f");
    assert_eq!(
        errno(fx.make("link", Kind::Symlink, Some("x"))),
        libc::EEXIST
    );
    assert_eq!(fx.ws_state(), before);
}

#[test]
fn checkpoint_rollback_and_abort_restore_the_view() {
    let mut fx = sample();
    let before = fx.ws_state();
    let f_mtime = fx.attr("f").mtime;
    fx.write("dir/x", 1, b"1");
    let cp = fx.ov().seal().expect("seal");
    fx.write("dir/x", 1, b"2");
    let root = fx.ino("");
    fx.ov().unlink(root, b"f").expect("unlink");
    fx.make("new", Kind::File, None).expect("create");
    fx.ov().restore(&cp).expect("rollback");
    assert_eq!(fx.read("dir/x"), b"x1");
    assert_eq!(fx.read("f"), b"hello");
    assert!(!fx.exists("new"));
    fx.ov().restore(&Snapshot::default()).expect("abort");
    assert_eq!(fx.read("dir/x"), b"x");
    assert_eq!(fx.attr("f").mtime, f_mtime);
    assert_eq!(fx.ov().node_count(), 0);
    assert!(fx.ov().changes().expect("changes").is_empty());
    assert_eq!(fx.ws_state(), before);
}

#[test]
fn reopen_keeps_the_overlay() {
    let mut fx = sample();
    fx.write("f", 0, b"J");
    fx.make("dir/new", Kind::Dir, None).expect("mkdir");
    let root = fx.ino("");
    fx.ov().unlink(root, b"link").expect("unlink");
    fx.reopen();
    assert_eq!(fx.read("f"), b"Jello");
    assert_eq!(fx.names("dir"), ["new", "sub", "x"]);
    assert!(!fx.exists("link"));
}

#[test]
fn creating_and_removing_names_touches_the_parent_not_the_workspace() {
    let mut fx = sample();
    let before = fx.ws_state();
    let old = fx.attr("dir");
    std::thread::sleep(std::time::Duration::from_millis(10));
    fx.make("dir/new", Kind::File, None).expect("create");
    let made = fx.attr("dir");
    assert!(made.mtime > old.mtime && made.ctime > old.ctime);
    std::thread::sleep(std::time::Duration::from_millis(10));
    let dir = fx.ino("dir");
    fx.ov().unlink(dir, b"x").expect("unlink");
    assert!(fx.attr("dir").mtime > made.mtime);
    assert_eq!(fx.ws_state(), before);
}

#[test]
fn fsync_makes_writes_survive_a_reopen() {
    let mut fx = sample();
    let ino = fx.make("new", Kind::File, None).expect("create").ino;
    fx.ov().open_handle(ino).expect("open");
    fx.ov().write(ino, 0, b"durable").expect("write");
    fx.ov().fsync(ino, false).expect("fsync");
    fx.ov()
        .release_handle(ino, Handle::CACHED)
        .expect("release");
    fx.reopen();
    assert_eq!(fx.read("new"), b"durable");
    assert_eq!(fx.attr("new").size, 7);
}

/// Only open handles keep files open: sealing, truncating and writing closed files leaves
/// no descriptor behind (a checkpoint after extracting tens of thousands of files would
/// otherwise run out of them).
#[test]
fn files_stay_open_only_while_handles_are_open() {
    let mut fx = Fx::new(|_| {});
    let mut made = Vec::new();
    for i in 0..20 {
        let name = format!("f{i}");
        let ino = fx.make(&name, Kind::File, None).expect("create").ino;
        fx.ov().write(ino, 0, b"data").expect("write");
        let set = SetAttr {
            size: Some(2),
            ..SetAttr::default()
        };
        fx.ov().setattr(ino, set).expect("truncate");
        made.push(ino);
    }
    let held = made[0];
    fx.ov().open_handle(held).expect("open");
    fx.ov().write(held, 0, b"held").expect("write");
    fx.ov().seal().expect("seal");
    assert_eq!(
        fx.ov().files.keys().copied().collect::<Vec<_>>(),
        vec![held],
        "open files after a seal"
    );
    fx.ov()
        .release_handle(held, Handle::CACHED)
        .expect("release");
    assert!(fx.ov().files.is_empty(), "the last release closes the file");
}

/// Writers of a working file are passed through, readers only of large ones; the kernel
/// keeps one mode per inode, so while direct handles are open every handle is direct, and
/// while others are open none is.
#[test]
fn writers_of_working_files_are_passed_through_readers_are_not() {
    fn open(fx: &mut Fx, ino: Ino, write: bool) -> &'static str {
        match fx.ov().open_file(ino, write, true).expect("open") {
            (_, Access::Direct(_)) => "direct",
            (_, Access::Cached) => "cached",
        }
    }
    fn close(fx: &mut Fx, ino: Ino, direct: bool, write: bool) -> bool {
        let ov = fx.ov();
        ov.release_handle(
            ino,
            Handle {
                direct,
                write,
                epoch: 0,
                generation: 0,
            },
        )
        .expect("release");
        !ov.is_direct(ino)
    }
    let mut fx = Fx::new(|ws| fs::write(ws.join("lower"), "workspace").expect("write"));
    let made = fx.make("made", Kind::File, None).expect("create").ino;
    let lower = fx.ino("lower");
    let fx = &mut fx;
    assert_eq!(
        open(fx, lower, true),
        "cached",
        "a workspace file has no working file"
    );
    close(fx, lower, false, true);
    assert_eq!(open(fx, made, false), "cached", "a reader");
    assert_eq!(
        open(fx, made, true),
        "cached",
        "a writer while a reader is served"
    );
    close(fx, made, false, false);
    close(fx, made, false, true);
    assert_eq!(open(fx, made, true), "direct", "a writer");
    assert_eq!(
        open(fx, made, false),
        "direct",
        "a reader while a writer is direct"
    );
    assert!(!close(fx, made, true, true), "not the last direct handle");
    assert!(close(fx, made, true, false), "the last direct handle");
    assert_eq!(open(fx, made, false), "cached");
    close(fx, made, false, false);
    fx.ov().write(made, 2 << 20, b"!").expect("write");
    assert_eq!(open(fx, made, false), "direct", "a reader of a large file");
    close(fx, made, true, false);
    let (_, without) = fx.ov().open_file(made, true, false).expect("open");
    assert!(
        matches!(without, Access::Cached),
        "nothing is direct without passthrough"
    );
}

/// A restore revokes handles: a passed-through writer's working file is detached (what it
/// writes no longer shows, and its release does not touch the inode's new direct handles),
/// a request-served writer is refused, and a passed-through reader stays on its file (its
/// release still ends the inode's direct mode).
#[test]
fn a_restore_revokes_writers_and_keeps_readers() {
    use std::os::unix::fs::FileExt;
    let mut fx = Fx::new(|_| {});
    let w = fx.make("w", Kind::File, None).expect("create").ino;
    let r = fx.make("r", Kind::File, None).expect("create").ino;
    fx.ov().write(w, 0, b"checkpointed").expect("write");
    fx.ov().write(r, 2 << 20, b"!").expect("write");
    let snap = fx.ov().seal().expect("seal");
    let handle = |ov: &Overlay, ino, direct, write| Handle {
        direct,
        write,
        epoch: ov.restores(),
        generation: ov.generation(ino),
    };
    let Ok((_, Access::Direct(wfile))) = fx.ov().open_file(w, true, true) else {
        panic!("a writer of a working file is direct");
    };
    let wh = handle(fx.ov(), w, true, true);
    let Ok((_, Access::Direct(_))) = fx.ov().open_file(r, false, true) else {
        panic!("a reader of a large working file is direct");
    };
    let rh = handle(fx.ov(), r, true, false);
    fx.ov().restore(&snap).expect("restore");
    // The kernel writes the detached file: nothing shows it.
    wfile
        .write_all_at(b"LEAKED", 0)
        .expect("write the detached file");
    assert_eq!(read_ino(fx.ov(), w), b"checkpointed");
    assert_ne!(
        fx.ov().generation(w),
        wh.generation,
        "the writer's inode is new"
    );
    assert_eq!(fx.ov().generation(r), rh.generation, "the reader's is not");
    assert!(!fx.ov().is_direct(w));
    assert!(fx.ov().is_direct(r), "the reader keeps its file");
    assert_eq!(
        fx.ov().check_handle(wh).map_err(|e| e.errno()),
        Err(libc::EIO)
    );
    // While the revoked handle is open, a new writer is served by requests (the kernel's
    // new inode cannot share the detached file); once it is closed, passthrough again.
    fx.ov().write(w, 0, b"new").expect("write");
    let Ok((_, Access::Cached)) = fx.ov().open_file(w, true, true) else {
        panic!("a new writer beside a revoked one is served by requests");
    };
    let nh = handle(fx.ov(), w, false, true);
    fx.ov().release_handle(w, wh).expect("release");
    fx.ov().release_handle(w, nh).expect("release");
    let Ok((_, Access::Direct(_))) = fx.ov().open_file(w, true, true) else {
        panic!("a writer is direct again");
    };
    assert!(fx.ov().is_direct(w));
    assert_eq!(read_ino(fx.ov(), w), b"newckpointed");
    fx.ov().release_handle(r, rh).expect("release");
    assert!(
        !fx.ov().is_direct(r),
        "the reader's release ends direct mode"
    );
}

/// How many working files the store holds.
fn work_files(fx: &Fx) -> usize {
    fs::read_dir(fx.store.join("work")).expect("read").count()
}

/// Working files an abort or an unlink drops are removed off the request path, and the disk
/// gets their space back: none is left once the overlay is closed.
#[test]
fn dropped_working_files_are_removed() {
    let mut fx = sample();
    fx.write("f", 0, b"J");
    fx.make("new", Kind::File, None).expect("create");
    fx.write("new", 0, &[1; 65536]);
    let ino = fx.make("gone", Kind::File, None).expect("create").ino;
    fx.write("gone", 0, b"bytes");
    assert_eq!(work_files(&fx), 3);
    let root = fx.ino("");
    fx.ov().unlink(root, b"gone").expect("unlink");
    fx.ov().forget(ino, u64::MAX);
    fx.reopen();
    assert_eq!(work_files(&fx), 2);
    fx.ov().restore(&Snapshot::default()).expect("abort");
    fx.reopen();
    assert_eq!(work_files(&fx), 0);
    assert_eq!(fx.read("f"), b"hello");
}

/// A node dropped at the kernel's FORGET has its row written with the next record, not at
/// once: a crash before that record leaves the row of an orphan, which the next open drops
/// (with its working file), so the removed file stays removed.
#[test]
fn a_node_dropped_just_before_a_crash_stays_dropped() {
    let mut fx = sample();
    let ino = fx.make("gone", Kind::File, None).expect("create").ino;
    fx.write("gone", 0, b"bytes");
    let root = fx.ino("");
    fx.ov().unlink(root, b"gone").expect("unlink");
    fx.ov().forget(ino, u64::MAX);
    fx.crash();
    assert!(fx.ov().node(ino).is_none(), "the orphan is dropped at open");
    assert!(!fx.exists("gone"));
    fx.reopen();
    assert!(fx.ov().node(ino).is_none(), "and its drop recorded");
    assert_eq!(work_files(&fx), 0);
}

/// A working file whose node went away just before a crash, before the sweeper removed it,
/// is removed once the overlay opens again.
#[test]
fn a_working_file_doomed_before_a_crash_is_removed_at_open() {
    let mut fx = sample();
    fx.write("f", 0, b"J");
    fs::write(fx.store.join("work").join("7fff0001"), b"left").expect("write");
    fx.crash();
    fx.reopen();
    assert_eq!(work_files(&fx), 1);
    assert_eq!(fx.read("f"), b"Jello");
}
