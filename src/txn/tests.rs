//! Unit tests of the commit engine: plan encoding and validation, and each step's apply and
//! undo (undo is driven through [`recover`] on a journal put back to `Applying`, which is
//! exactly the state a crash after the last phase-2 step leaves).

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::plan::Loc;
use super::*;
use crate::meta::{Db, JournalState};
use crate::store::BlobStore;

struct Env {
    _dir: tempfile::TempDir,
    ws_path: std::path::PathBuf,
    ws: Workspace,
    blobs: BlobStore,
    db: Db,
}

fn env(setup: impl FnOnce(&Path)) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let ws_path = dir.path().join("ws");
    std::fs::create_dir(&ws_path).expect("mkdir ws");
    setup(&ws_path);
    // Fixed times everywhere, so that any time the engine forgets to restore shows.
    for (p, _) in snapshot(&ws_path).iter().rev() {
        let full = ws_path.join(std::ffi::OsStr::from_bytes(p.as_bytes()));
        let f = std::fs::File::open(&full);
        if let Ok(f) = f
            && !std::fs::symlink_metadata(&full).expect("stat").is_symlink()
        {
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
            f.set_times(std::fs::FileTimes::new().set_modified(t).set_accessed(t))
                .expect("times");
        }
    }
    let blobs = BlobStore::open(&dir.path().join("blobs")).expect("blobs");
    let db = Db::open(&dir.path().join("meta.db"), &ws_path).expect("db");
    let ws = Workspace::open(&ws_path).expect("ws");
    Env {
        _dir: dir,
        ws_path,
        ws,
        blobs,
        db,
    }
}

/// path -> description of everything a commit must get exactly right.
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(p) = todo.pop() {
        let md = std::fs::symlink_metadata(&p).expect("stat");
        let rel = p
            .strip_prefix(root)
            .expect("under root")
            .to_string_lossy()
            .into_owned();
        let what = if md.is_dir() {
            for e in std::fs::read_dir(&p).expect("readdir") {
                todo.push(e.expect("entry").path());
            }
            "dir".to_owned()
        } else if md.is_symlink() {
            format!("link -> {:?}", std::fs::read_link(&p).expect("readlink"))
        } else if md.is_file() {
            format!(
                "file {:?} nlink={}",
                std::fs::read(&p).expect("read"),
                md.nlink()
            )
        } else {
            format!("special {:o}", md.mode() & libc::S_IFMT)
        };
        let mode = if md.is_symlink() {
            0
        } else {
            md.mode() & 0o7777
        };
        let xattr = xattr_get(&p);
        out.insert(
            rel,
            format!(
                "{what} mode={mode:o} mtime={}.{} xattr={xattr:?}",
                md.mtime(),
                md.mtime_nsec()
            ),
        );
    }
    out
}

fn xattr_get(p: &Path) -> Option<Vec<u8>> {
    let dir = sys::open_dir_path(p.parent().expect("parent")).expect("open parent");
    let name = p.file_name().expect("name").as_bytes();
    sys::xattr(dir.as_fd(), name, b"user.t").ok().flatten()
}

fn meta(mode: u32, t: i64) -> Meta {
    // SAFETY: geteuid and getegid have no preconditions.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    Meta {
        mode,
        uid,
        gid,
        atime: (t, 0),
        mtime: (t, 7),
        xattrs: None,
    }
}

fn p(s: &str) -> RelPath {
    RelPath::new(s)
}

fn stash(path: &str, slot: u32) -> Step {
    Step::Stash {
        path: p(path),
        slot,
        expect: Expect::Nothing,
    }
}

/// Applies `plan`, checks `after`, puts the journal back to `Applying`, recovers, and checks the
/// workspace is exactly as before; then applies and finishes for good and checks `after` again.
fn roundtrip(e: &Env, plan: &Plan, after: impl Fn(&Path)) {
    let before = snapshot(&e.ws_path);
    let applied = apply(&e.ws, &e.blobs, &e.db, plan, false).expect("apply");
    after(&e.ws_path);
    e.db.journal_set_state(applied.journal_id, JournalState::Applying)
        .expect("back to applying");
    let rec = recover(&e.ws, &e.db).expect("recover");
    assert_eq!(
        rec,
        Recovery::UndoneCommit {
            id: applied.journal_id
        }
    );
    assert_eq!(snapshot(&e.ws_path), before, "undo is not exact");
    // Undo is idempotent: running it again on the closed journal changes nothing.
    assert_eq!(recover(&e.ws, &e.db).expect("again"), Recovery::Nothing);
    let applied = apply(&e.ws, &e.blobs, &e.db, plan, false).expect("apply again");
    finish(&e.ws, &e.db, applied.journal_id).expect("finish");
    after(&e.ws_path);
    let names: Vec<_> = std::fs::read_dir(&e.ws_path)
        .expect("readdir")
        .map(|d| d.expect("entry").file_name())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.as_bytes().starts_with(STASH_PREFIX.as_bytes())),
        "stash left behind: {names:?}"
    );
}

#[test]
fn text_encoding_round_trips_any_bytes() {
    for bytes in [
        &b"plain/path"[..],
        b"100%",
        b"\xff\xfe/x",
        b"caf\xc3\xa9",
        b"%41",
        b"",
    ] {
        let text = plan::encode_text(bytes);
        assert_eq!(plan::decode_text(&text).expect("decode"), bytes);
    }
    assert!(plan::decode_text("%4").is_err());
}

#[test]
fn plan_json_round_trips() {
    let mut m = meta(0o4755, 5);
    m.xattrs = Some(vec![(b"user.a".to_vec(), b"\x00\xff".to_vec())]);
    let plan = Plan {
        steps: vec![
            stash("a\u{e9}", 3),
            Step::Symlink {
                path: RelPath(b"l\xff".to_vec()),
                target: b"../\xfe".to_vec(),
                meta: m.clone(),
            },
            Step::SetMeta {
                path: p(""),
                meta: m,
                expect: Expect::UnchangedSince((1, 2)),
            },
        ],
    };
    let json = serde_json::to_string(&plan).expect("encode");
    let back: Plan = serde_json::from_str(&json).expect("decode");
    assert_eq!(back, plan);
}

#[test]
fn invalid_plans_are_refused() {
    let m = meta(0o644, 1);
    let cases: Vec<(Vec<Step>, &str)> = vec![
        (vec![stash("a/../b", 0)], "clean"),
        (vec![stash("/abs", 0)], "clean"),
        (vec![stash("a", 0), stash("a/b", 1)], "after a descendant"),
        (vec![stash("a", 0), stash("b", 0)], "twice"),
        (
            vec![Step::Unstash {
                slot: 9,
                path: p("x"),
            }],
            "never stashed",
        ),
        (
            vec![
                Step::Mkdir {
                    path: p("d/e"),
                    meta: m.clone(),
                },
                Step::Mkdir {
                    path: p("d"),
                    meta: m.clone(),
                },
            ],
            "before its placed parent",
        ),
        (
            vec![Step::Mkdir {
                path: p(".ftsb-fs-stash-3"),
                meta: m.clone(),
            }],
            "reserved",
        ),
        (
            vec![Step::Mkdir {
                path: p(""),
                meta: m.clone(),
            }],
            "root",
        ),
        (
            vec![
                stash("x", 0),
                Step::SetMeta {
                    path: p("x"),
                    meta: m.clone(),
                    expect: Expect::Nothing,
                },
            ],
            "removed by this plan",
        ),
        (
            vec![
                Step::Mkdir {
                    path: p("d"),
                    meta: m.clone(),
                },
                stash("x", 0),
            ],
            "after phase 2",
        ),
    ];
    for (steps, why) in cases {
        let plan = Plan { steps };
        match plan.layout() {
            Err(TxnError::InvalidPlan { reason, .. }) => {
                assert!(reason.contains(why), "{reason:?} lacks {why:?}")
            }
            other => panic!("{plan:?} was not refused: {other:?}"),
        }
    }
}

#[test]
fn locate_follows_moves_and_stashes() {
    let m = meta(0o755, 1);
    let plan = Plan {
        steps: vec![
            stash("d/gone", 0),
            stash("d", 1),
            stash("f", 2),
            Step::Unstash {
                slot: 1,
                path: p("e"),
            },
            Step::Mkdir {
                path: p("n"),
                meta: m.clone(),
            },
            Step::SetMeta {
                path: p("e/kept"),
                meta: m,
                expect: Expect::Nothing,
            },
        ],
    };
    let l = plan.layout().expect("valid");
    assert_eq!(l.locate(b"e/kept", 5, true), Loc::Pre(p("d/kept")));
    assert_eq!(l.locate(b"e/gone", 5, false), Loc::Free);
    assert_eq!(l.locate(b"n/x", 5, false), Loc::New);
    assert_eq!(l.locate(b"f", 5, false), Loc::Free);
    assert_eq!(l.locate(b"other/x", 5, false), Loc::Pre(p("other/x")));
    // Before the unstash ran, "e" is still just a pre-commit path.
    assert_eq!(l.locate(b"e/kept", 3, true), Loc::Pre(p("e/kept")));
}

#[test]
fn modify_file_and_create_new_one() {
    let e = env(|ws| {
        std::fs::create_dir(ws.join("d")).expect("mkdir");
        std::fs::write(ws.join("d/f"), b"old").expect("write");
    });
    let new = e.blobs.put_bytes(b"new content").expect("blob");
    let plan = Plan {
        steps: vec![
            stash("d/f", 0),
            Step::File {
                path: p("d/f"),
                blob: new,
                meta: meta(0o600, 50),
            },
            Step::File {
                path: p("g"),
                blob: new,
                meta: meta(0o4755, 60),
            },
        ],
    };
    roundtrip(&e, &plan, |ws| {
        assert_eq!(std::fs::read(ws.join("d/f")).expect("read"), b"new content");
        let md = std::fs::metadata(ws.join("g")).expect("stat");
        assert_eq!(md.mode() & 0o7777, 0o4755);
        assert_eq!((md.mtime(), md.mtime_nsec()), (60, 7));
    });
}

#[test]
fn rename_file_and_directory_and_delete_subtree() {
    let e = env(|ws| {
        std::fs::create_dir_all(ws.join("a/b/c")).expect("mkdir");
        std::fs::write(ws.join("a/b/c/deep"), b"deep").expect("write");
        std::fs::write(ws.join("a/b/x"), b"x").expect("write");
        std::fs::write(ws.join("f"), b"f").expect("write");
        std::fs::create_dir_all(ws.join("gone/sub")).expect("mkdir");
        std::fs::write(ws.join("gone/sub/y"), b"y").expect("write");
    });
    let plan = Plan {
        steps: vec![
            stash("a/b/x", 0),
            stash("a/b", 1),
            stash("gone", 2),
            stash("f", 3),
            Step::Unstash {
                slot: 1,
                path: p("moved"),
            },
            Step::Unstash {
                slot: 3,
                path: p("moved/f2"),
            },
        ],
    };
    roundtrip(&e, &plan, |ws| {
        assert_eq!(
            std::fs::read(ws.join("moved/c/deep")).expect("read"),
            b"deep"
        );
        assert_eq!(std::fs::read(ws.join("moved/f2")).expect("read"), b"f");
        assert!(!ws.join("moved/x").exists() && !ws.join("gone").exists());
        assert!(!ws.join("a/b").exists() && !ws.join("f").exists());
    });
}

#[test]
fn mkdir_symlink_hardlink_special() {
    let e = env(|ws| std::fs::write(ws.join("t"), b"target").expect("write"));
    let blob = e.blobs.put_bytes(b"inside").expect("blob");
    let plan = Plan {
        steps: vec![
            Step::Mkdir {
                path: p("n"),
                meta: meta(0o1750, 70),
            },
            Step::File {
                path: p("n/f"),
                blob,
                meta: meta(0o644, 71),
            },
            Step::Symlink {
                path: p("n/l"),
                target: b"../t".to_vec(),
                meta: meta(0o777, 72),
            },
            Step::Special {
                path: p("n/fifo"),
                kind: SpecialKind::Fifo,
                rdev: 0,
                meta: meta(0o620, 73),
            },
            Step::Hardlink {
                path: p("n/h"),
                to: p("t"),
            },
        ],
    };
    roundtrip(&e, &plan, |ws| {
        let md = std::fs::metadata(ws.join("n")).expect("stat");
        assert_eq!(md.mode() & 0o7777, 0o1750);
        assert_eq!(
            md.mtime(),
            70,
            "a new directory's times are set after its entries"
        );
        assert_eq!(
            std::fs::read_link(ws.join("n/l")).expect("link"),
            Path::new("../t")
        );
        let l = std::fs::symlink_metadata(ws.join("n/l")).expect("lstat");
        assert_eq!(l.mtime(), 72);
        use std::os::unix::fs::FileTypeExt;
        assert!(
            std::fs::symlink_metadata(ws.join("n/fifo"))
                .expect("fifo")
                .file_type()
                .is_fifo()
        );
        assert_eq!(
            std::fs::metadata(ws.join("n/h")).expect("h").ino(),
            std::fs::metadata(ws.join("t")).expect("t").ino()
        );
    });
}

#[test]
fn set_meta_changes_mode_times_xattrs_and_root() {
    let e = env(|ws| {
        std::fs::write(ws.join("f"), b"f").expect("write");
        std::fs::set_permissions(ws.join("f"), std::fs::Permissions::from_mode(0o640))
            .expect("chmod");
        std::fs::create_dir(ws.join("d")).expect("mkdir");
    });
    let mut m = meta(0o2711, 80);
    m.xattrs = Some(vec![(b"user.t".to_vec(), b"v".to_vec())]);
    let mut root_meta = meta(0o755, 82);
    root_meta.xattrs = Some(vec![(b"user.t".to_vec(), b"root".to_vec())]);
    let plan = Plan {
        steps: vec![
            Step::SetMeta {
                path: p("f"),
                meta: m,
                expect: Expect::Nothing,
            },
            Step::SetMeta {
                path: p("d"),
                meta: meta(0o700, 81),
                expect: Expect::Nothing,
            },
            Step::SetMeta {
                path: p(""),
                meta: root_meta,
                expect: Expect::Nothing,
            },
        ],
    };
    roundtrip(&e, &plan, |ws| {
        let md = std::fs::metadata(ws.join("f")).expect("stat");
        assert_eq!(md.mode() & 0o7777, 0o2711);
        assert_eq!(xattr_get(&ws.join("f")), Some(b"v".to_vec()));
        // The root's xattrs go through its own descriptor, not the /proc link to it.
        assert_eq!(xattr_get(ws), Some(b"root".to_vec()));
        assert_eq!(std::fs::metadata(ws.join("d")).expect("d").mtime(), 81);
        assert_eq!(std::fs::metadata(ws).expect("root").mtime(), 82);
    });
}

#[test]
fn a_journal_begun_but_not_acted_on_is_undone_to_nothing() {
    let e = env(|ws| std::fs::write(ws.join("f"), b"f").expect("write"));
    let before = snapshot(&e.ws_path);
    let plan = Plan {
        steps: vec![stash("f", 0)],
    };
    let layout = plan.layout().expect("valid");
    let body = journal::Journal::prepare(&e.ws, &layout)
        .expect("prepare")
        .encode();
    let id = e.db.journal_begin(&body).expect("begin");
    assert_eq!(
        apply(&e.ws, &e.blobs, &e.db, &plan, false)
            .expect_err("a commit is pending")
            .to_string(),
        TxnError::Pending { id }.to_string()
    );
    assert!(matches!(
        finish(&e.ws, &e.db, id),
        Err(TxnError::NotApplied { .. })
    ));
    assert_eq!(
        recover(&e.ws, &e.db).expect("recover"),
        Recovery::UndoneCommit { id }
    );
    assert_eq!(snapshot(&e.ws_path), before);
}

#[test]
fn a_failing_step_undoes_the_steps_before_it() {
    let e = env(|ws| {
        std::fs::write(ws.join("f"), b"f").expect("write");
        std::fs::write(ws.join("g"), b"g").expect("write");
    });
    let before = snapshot(&e.ws_path);
    let blob = e.blobs.put_bytes(b"x").expect("blob");
    let plan = Plan {
        steps: vec![
            stash("f", 0),
            Step::File {
                path: p("new"),
                blob,
                meta: meta(0o644, 1),
            },
            // Fails: the parent does not exist (and check cannot see it as a conflict).
            Step::File {
                path: p("g/under-a-file"),
                blob,
                meta: meta(0o644, 1),
            },
        ],
    };
    let err = apply(&e.ws, &e.blobs, &e.db, &plan, false).expect_err("must fail");
    assert!(err.to_string().contains("g/under-a-file"), "{err}");
    assert_eq!(snapshot(&e.ws_path), before);
    assert!(e.db.journal_open().expect("journal").is_none());
}

#[test]
fn a_missing_blob_is_refused_before_the_journal() {
    let e = env(|_| {});
    let plan = Plan {
        steps: vec![Step::File {
            path: p("x"),
            blob: crate::store::BlobId::of(b"never stored"),
            meta: meta(0o644, 1),
        }],
    };
    assert!(matches!(
        apply(&e.ws, &e.blobs, &e.db, &plan, false),
        Err(TxnError::Store(crate::store::StoreError::Missing { .. }))
    ));
    assert!(e.db.journal_open().expect("journal").is_none());
}

#[test]
fn remove_tree_removes_deep_read_only_trees() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut p = dir.path().join("top");
    std::fs::create_dir(&p).expect("mkdir");
    for i in 0..300 {
        p = p.join(format!("level{i}"));
        std::fs::create_dir(&p).expect("mkdir");
        std::fs::write(p.join("f"), b"x").expect("write");
    }
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o500)).expect("chmod");
    let root = std::fs::File::open(dir.path()).expect("open");
    use std::os::fd::AsFd;
    sys::remove_tree(root.as_fd(), b"top").expect("remove");
    assert!(!dir.path().join("top").exists());
    sys::remove_tree(root.as_fd(), b"top").expect("nothing there is fine");
}

#[test]
fn undo_refuses_to_delete_what_an_outsider_put_in_a_new_directory() {
    let e = env(|_| {});
    let blob = e.blobs.put_bytes(b"x").expect("blob");
    let plan = Plan {
        steps: vec![
            Step::Mkdir {
                path: p("n"),
                meta: meta(0o755, 1),
            },
            Step::File {
                path: p("n/f"),
                blob,
                meta: meta(0o644, 1),
            },
        ],
    };
    let applied = apply(&e.ws, &e.blobs, &e.db, &plan, false).expect("apply");
    e.db.journal_set_state(applied.journal_id, JournalState::Applying)
        .expect("back to applying");
    std::fs::write(e.ws_path.join("n/outsider"), b"theirs").expect("outside write");
    match recover(&e.ws, &e.db) {
        Err(err @ TxnError::UndoBlocked { .. }) => assert!(err.to_string().contains('n'), "{err}"),
        other => panic!("expected UndoBlocked, got {other:?}"),
    }
    assert_eq!(
        std::fs::read(e.ws_path.join("n/outsider")).expect("kept"),
        b"theirs"
    );
    std::fs::rename(e.ws_path.join("n/outsider"), e.ws_path.join("moved-away")).expect("mv");
    assert!(matches!(
        recover(&e.ws, &e.db).expect("recover"),
        Recovery::UndoneCommit { .. }
    ));
    assert!(!e.ws_path.join("n").exists());
}

#[test]
fn non_utf8_names_round_trip() {
    let name = std::ffi::OsStr::from_bytes(b"caf\xff");
    let e = env(|ws| std::fs::write(ws.join(name), b"old").expect("write"));
    let blob = e.blobs.put_bytes(b"new").expect("blob");
    let plan = Plan {
        steps: vec![
            Step::Stash {
                path: RelPath(b"caf\xff".to_vec()),
                slot: 0,
                expect: Expect::Nothing,
            },
            Step::File {
                path: RelPath(b"caf\xff".to_vec()),
                blob,
                meta: meta(0o644, 3),
            },
            Step::Symlink {
                path: RelPath(b"\xfe%link".to_vec()),
                target: b"caf\xff".to_vec(),
                meta: meta(0o777, 4),
            },
        ],
    };
    roundtrip(&e, &plan, |ws| {
        assert_eq!(std::fs::read(ws.join(name)).expect("read"), b"new");
        let link = ws.join(std::ffi::OsStr::from_bytes(b"\xfe%link"));
        assert_eq!(
            std::fs::read_link(link)
                .expect("link")
                .as_os_str()
                .as_bytes(),
            b"caf\xff"
        );
    });
}

#[test]
fn paths_longer_than_path_max_work() {
    let e = env(|_| {});
    let blob = e.blobs.put_bytes(b"deep down").expect("blob");
    let mut steps = Vec::new();
    let mut path: Vec<u8> = Vec::new();
    // 45 levels of 200-byte names: about 9 KiB, more than twice PATH_MAX.
    for i in 0..45 {
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend(
            format!("{i:03}")
                .bytes()
                .chain(std::iter::repeat_n(b'd', 197)),
        );
        steps.push(Step::Mkdir {
            path: RelPath(path.clone()),
            meta: meta(0o755, 9),
        });
    }
    let file = RelPath(path.clone()).join(b"f");
    steps.push(Step::File {
        path: file.clone(),
        blob,
        meta: meta(0o644, 9),
    });
    assert!(file.0.len() > 2 * libc::PATH_MAX as usize);
    let plan = Plan { steps };
    let applied = apply(&e.ws, &e.blobs, &e.db, &plan, false).expect("apply");
    let (parent, name) = sys::open_parent(e.ws.root(), &file.0).expect("walk down");
    use std::os::fd::AsFd;
    let st = sys::lstat(parent.as_fd(), name)
        .expect("stat")
        .expect("the file is there");
    assert_eq!(st.st_size, 9);
    drop(parent);
    e.db.journal_set_state(applied.journal_id, JournalState::Applying)
        .expect("back to applying");
    assert!(matches!(
        recover(&e.ws, &e.db).expect("recover"),
        Recovery::UndoneCommit { .. }
    ));
    assert_eq!(
        std::fs::read_dir(&e.ws_path).expect("readdir").count(),
        0,
        "undo removed the whole deep tree"
    );
}

#[test]
fn a_workspace_can_come_from_a_descriptor() {
    let e = env(|ws| std::fs::write(ws.join("f"), b"f").expect("write"));
    let fd: std::os::fd::OwnedFd = std::fs::File::open(&e.ws_path).expect("open").into();
    let ws = Workspace::from_fd(fd, &e.ws_path).expect("from fd");
    let plan = Plan {
        steps: vec![stash("f", 0)],
    };
    let applied = apply(&ws, &e.blobs, &e.db, &plan, false).expect("apply");
    finish(&ws, &e.db, applied.journal_id).expect("finish");
    assert!(!e.ws_path.join("f").exists());
    let file: std::os::fd::OwnedFd = std::fs::File::open(e.ws_path.join("..").join("blobs"))
        .expect("open")
        .into();
    assert!(
        Workspace::from_fd(file, Path::new("blobs")).is_ok(),
        "a directory is fine"
    );
    let not_dir: std::os::fd::OwnedFd = std::fs::File::open(e.db.path()).expect("open").into();
    assert!(matches!(
        Workspace::from_fd(not_dir, Path::new("db")),
        Err(TxnError::OpenWorkspace { .. })
    ));
}
