//! The differential test: seeded random op sequences applied to the mounted view and to a
//! plain temp dir holding the same starting tree; after every op both must give the same
//! result (success or the same errno) and the two trees must be equal.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::*;

/// A small deterministic generator (xorshift64*), so a failing seed replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

/// One operation, on paths relative to the root it is applied to.
#[derive(Debug, Clone)]
enum Op {
    Write {
        path: String,
        offset: u64,
        data: Bytes,
    },
    Create {
        path: String,
        data: Bytes,
    },
    Mkdir {
        path: String,
    },
    Unlink {
        path: String,
    },
    Rmdir {
        path: String,
    },
    Rename {
        from: String,
        to: String,
    },
    Truncate {
        path: String,
        len: u64,
    },
    Link {
        from: String,
        to: String,
    },
    Symlink {
        target: String,
        path: String,
    },
    Chmod {
        path: String,
        mode: u32,
    },
    /// utimensat(2) of the modification time (the access time left alone).
    SetMtime {
        path: String,
        sec: i64,
    },
    SetXattr {
        path: String,
        name: String,
        value: String,
    },
}

/// `len` copies of one byte, printed short.
#[derive(Debug, Clone, Copy)]
struct Bytes {
    byte: u8,
    len: usize,
}

impl Bytes {
    fn get(self) -> Vec<u8> {
        vec![self.byte; self.len]
    }
}

fn result<T>(r: std::io::Result<T>) -> Result<(), i32> {
    r.map(|_| ()).map_err(|e| e.raw_os_error().unwrap_or(-1))
}

impl Op {
    fn apply(&self, root: &Path) -> Result<(), i32> {
        let p = |rel: &str| root.join(rel);
        match self {
            Op::Write { path, offset, data } => result((|| {
                let mut f = OpenOptions::new().write(true).open(p(path))?;
                f.seek(SeekFrom::Start(*offset))?;
                f.write_all(&data.get())
            })()),
            Op::Create { path, data } => result(
                OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(p(path))
                    .and_then(|mut f| f.write_all(&data.get())),
            ),
            Op::Mkdir { path } => result(std::fs::create_dir(p(path))),
            Op::Unlink { path } => result(std::fs::remove_file(p(path))),
            Op::Rmdir { path } => result(std::fs::remove_dir(p(path))),
            Op::Rename { from, to } => result(std::fs::rename(p(from), p(to))),
            Op::Truncate { path, len } => result(
                OpenOptions::new()
                    .write(true)
                    .open(p(path))
                    .and_then(|f| f.set_len(*len)),
            ),
            Op::Link { from, to } => result(std::fs::hard_link(p(from), p(to))),
            Op::Symlink { target, path } => result(std::os::unix::fs::symlink(target, p(path))),
            Op::Chmod { path, mode } => result(std::fs::set_permissions(
                p(path),
                std::fs::Permissions::from_mode(*mode),
            )),
            Op::SetMtime { path, sec } => {
                let c = cpath(&p(path));
                let times = [
                    libc::timespec {
                        tv_sec: 0,
                        tv_nsec: libc::UTIME_OMIT,
                    },
                    libc::timespec {
                        tv_sec: *sec,
                        tv_nsec: 0,
                    },
                ];
                // SAFETY: a valid NUL-terminated path and a two-element array.
                let r = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), 0) };
                if r == 0 { Ok(()) } else { Err(errno()) }
            }
            Op::SetXattr { path, name, value } => {
                let (c, n) = (
                    cpath(&p(path)),
                    std::ffi::CString::new(name.as_str()).unwrap(),
                );
                // SAFETY: valid NUL-terminated strings and a readable buffer.
                let r = unsafe {
                    libc::lsetxattr(
                        c.as_ptr(),
                        n.as_ptr(),
                        value.as_ptr().cast(),
                        value.len(),
                        0,
                    )
                };
                if r == 0 { Ok(()) } else { Err(errno()) }
            }
        }
    }
}

/// Every path below `root` (relative), directories flagged.
fn paths(root: &Path) -> (Vec<String>, Vec<String>) {
    let (mut all, mut dirs) = (vec![], vec![String::new()]);
    fn walk(root: &Path, d: &Path, all: &mut Vec<String>, dirs: &mut Vec<String>) {
        let mut es: Vec<PathBuf> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        es.sort();
        for e in es {
            let rel = e.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            all.push(rel.clone());
            if std::fs::symlink_metadata(&e).unwrap().is_dir() {
                dirs.push(rel);
                walk(root, &e, all, dirs);
            }
        }
    }
    walk(root, root, &mut all, &mut dirs);
    (all, dirs)
}

/// A random op whose targets come from the reference tree's current paths (so most ops hit
/// something, and some deliberately fail the same way on both sides).
fn gen_op(rng: &mut Rng, root: &Path, counter: &mut u32) -> Op {
    let (all, dirs) = paths(root);
    let mut fresh = |rng: &mut Rng| {
        *counter += 1;
        let d = rng.pick(&dirs).clone();
        let name = format!("n{counter}");
        if d.is_empty() {
            name
        } else {
            format!("{d}/{name}")
        }
    };
    let any = |rng: &mut Rng| {
        if all.is_empty() {
            "missing".to_owned()
        } else {
            rng.pick(&all).clone()
        }
    };
    let data = |rng: &mut Rng| Bytes {
        len: rng.below(3000),
        byte: b'a' + rng.below(26) as u8,
    };
    match rng.below(12) {
        0 => Op::Write {
            path: any(rng),
            offset: rng.below(5000) as u64,
            data: data(rng),
        },
        1 => Op::Create {
            path: if rng.below(8) == 0 {
                any(rng)
            } else {
                fresh(rng)
            },
            data: data(rng),
        },
        2 => Op::Mkdir { path: fresh(rng) },
        3 => Op::Unlink { path: any(rng) },
        4 => Op::Rmdir { path: any(rng) },
        5 => Op::Rename {
            from: any(rng),
            to: if rng.below(2) == 0 {
                any(rng)
            } else {
                fresh(rng)
            },
        },
        6 => Op::Truncate {
            path: any(rng),
            len: rng.below(6000) as u64,
        },
        7 => Op::Link {
            from: any(rng),
            to: fresh(rng),
        },
        8 => Op::Symlink {
            target: any(rng),
            path: fresh(rng),
        },
        9 => Op::Chmod {
            path: any(rng),
            mode: *rng.pick(&[0o644, 0o600, 0o755, 0o700, 0o444, 0o4755]),
        },
        10 => Op::SetMtime {
            path: any(rng),
            sec: 1_000_000_000 + rng.below(1000) as i64,
        },
        _ => Op::SetXattr {
            path: any(rng),
            name: format!("user.k{}", rng.below(3)),
            value: "v".repeat(rng.below(4)),
        },
    }
}

/// Runs one seeded sequence on a workspace filled by `fill`; returns the mounted guard with
/// the view in its final state, and the reference directory.
fn run_sequence(seed: u64, ops: usize, fill: fn(&Path)) -> (Mounted, tempfile::TempDir) {
    let m = Mounted::at(fill);
    let ws_before = tree(&m.ws, EXACT);
    let reference = tempfile::tempdir().unwrap();
    fill(reference.path());
    assert_trees_eq(
        "start",
        &tree(reference.path(), SHAPE),
        &tree(&m.view, SHAPE),
    );
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut counter = 0;
    let mut history = vec![];
    for step in 0..ops {
        let op = gen_op(&mut rng, reference.path(), &mut counter);
        history.push(op.clone());
        let want = op.apply(reference.path());
        let got = op.apply(&m.view);
        assert_eq!(
            got, want,
            "seed {seed} step {step}: {op:?} gave a different result on the view\nhistory: {history:?}"
        );
        let (r, v) = (tree(reference.path(), SHAPE), tree(&m.view, SHAPE));
        if r != v {
            eprintln!("seed {seed} step {step}: history {history:?}");
            assert_trees_eq(&format!("seed {seed} step {step} after {op:?}"), &r, &v);
        }
    }
    // Isolation: not a byte, mode, time or name of the workspace changed.
    assert_trees_eq(
        &format!("seed {seed}: workspace before commit or abort"),
        &ws_before,
        &tree(&m.ws, EXACT),
    );
    (m, reference)
}

const SEQUENCES: u64 = 20;
const OPS: usize = 50;

#[test]
fn random_ops_match_a_plain_directory_then_abort() {
    for seed in 0..SEQUENCES {
        let (m, _reference) = run_sequence(seed, OPS, sample_tree);
        let exact = tree(&m.ws, EXACT);
        m.abort();
        assert_trees_eq(
            &format!("seed {seed}: view after abort"),
            &exact,
            &tree(&m.view, EXACT),
        );
        assert_trees_eq(
            &format!("seed {seed}: workspace after abort"),
            &exact,
            &tree(&m.ws, EXACT),
        );
    }
}

#[test]
fn random_ops_match_a_plain_directory_then_commit() {
    for seed in 100..100 + SEQUENCES / 2 {
        let (m, reference) = run_sequence(seed, OPS, sample_tree);
        let shown = tree(&m.view, EXACT);
        // The sequences chmod files setuid, which a plain commit refuses.
        m.ok(&["commit", "--allow-setid"]);
        assert_trees_eq(
            &format!("seed {seed}: workspace after commit"),
            &shown,
            &tree(&m.ws, EXACT),
        );
        assert_trees_eq(
            &format!("seed {seed}: workspace after commit vs reference"),
            &tree(reference.path(), SHAPE),
            &tree(&m.ws, SHAPE),
        );
        assert_trees_eq(
            &format!("seed {seed}: view after commit"),
            &shown,
            &tree(&m.view, EXACT),
        );
    }
}

/// The snapshot the isolation and abort checks compare must see every kind of change.
#[test]
fn tree_snapshot_sees_every_attribute() {
    let t = tempfile::tempdir().unwrap();
    sample_tree(t.path());
    let p = |r: &str| t.path().join(r);
    type Change<'a> = (&'a str, Box<dyn Fn() + 'a>);
    let changes: Vec<Change> = vec![
        (
            "contents",
            Box::new(|| std::fs::write(p("a.txt"), "alphA\n").unwrap()),
        ),
        (
            "mode",
            Box::new(|| {
                std::fs::set_permissions(p("a.txt"), std::fs::Permissions::from_mode(0o600))
                    .unwrap()
            }),
        ),
        (
            "owner",
            Box::new(|| std::os::unix::fs::chown(p("a.txt"), Some(4321), None).unwrap()),
        ),
        (
            "mtime",
            Box::new(|| {
                let f = std::fs::File::options()
                    .write(true)
                    .open(p("b.txt"))
                    .unwrap();
                let t = std::time::UNIX_EPOCH + std::time::Duration::new(1_000_000_000, 1);
                f.set_times(std::fs::FileTimes::new().set_modified(t))
                    .unwrap();
            }),
        ),
        (
            "xattr",
            Box::new(|| set_xattr(&p("b.txt"), "user.tag", b"other")),
        ),
        (
            "symlink target",
            Box::new(|| {
                std::fs::remove_file(p("link")).unwrap();
                std::os::unix::fs::symlink("b.txt", p("link")).unwrap();
            }),
        ),
        (
            "hard links",
            Box::new(|| {
                std::fs::remove_file(p("dir/h2")).unwrap();
                std::fs::write(p("dir/h2"), "hard\n").unwrap();
            }),
        ),
        (
            "type",
            Box::new(|| {
                std::fs::remove_dir(p("empty")).unwrap();
                std::fs::write(p("empty"), "").unwrap();
            }),
        ),
        (
            "name",
            Box::new(|| std::fs::rename(p("dir/c.txt"), p("dir/c2.txt")).unwrap()),
        ),
    ];
    for (what, change) in changes {
        let before = tree_hash(t.path());
        change();
        assert_ne!(
            before,
            tree_hash(t.path()),
            "the snapshot misses a change of {what}"
        );
    }
}
