//! Crash and fault tests of the commit engine (issue 3).
//!
//! A child process (this test binary re-run with `FTSB_CRASH_CHILD` naming a job file, which
//! makes the otherwise empty test `child_entry` do the work) applies a generated plan and is
//! killed with SIGKILL at a named failpoint, at the N-th failpoint, or by the parent at a
//! random moment; sometimes the recovery is killed too. The parent then recovers and checks
//! that the workspace equals exactly the tree before the commit or the tree after it, and
//! that recovery says which. Power loss is approximated on an ext4 image on a loop device (root
//! only): the image is copied at the instant of the kill and the copy is recovered. Also:
//! conflicts, a full disk, a corrupted blob.
//!
//! `FTSB_CRASH_TRIALS` sets the number of random trials (default 200; `scripts/crash-trials`
//! runs more), `FTSB_CRASH_SEED` their first seed, `FTSB_CRASH_DIR` where trials live.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{Rng, Size, Tree, Trial, diff, scan, trial, trial_in};
use ftsb_fs::meta::Db;
use ftsb_fs::store::BlobStore;
use ftsb_fs::txn::{self, Plan, Recovery, TxnError, Workspace};

const READY: &str = "FTSB-CHILD-READY";

#[derive(serde::Serialize, serde::Deserialize)]
struct Job {
    ws: PathBuf,
    store: PathBuf,
    plan: Plan,
    recover: bool,
}

fn open(ws: &Path, store: &Path) -> (Workspace, BlobStore, Db) {
    (
        Workspace::open(ws).expect("open workspace"),
        BlobStore::open(&store.join("blobs")).expect("open blobs"),
        Db::open(&store.join("meta.db"), ws).expect("open db"),
    )
}

/// The child's side: apply + finish, or recover, as the job file says.
#[test]
fn child_entry() {
    let Some(job) = std::env::var_os("FTSB_CRASH_CHILD") else {
        return;
    };
    let job: Job = serde_json::from_slice(&std::fs::read(job).expect("job")).expect("job json");
    let (ws, blobs, db) = open(&job.ws, &job.store);
    println!("{READY}");
    std::io::stdout().flush().expect("flush");
    if job.recover {
        txn::recover(&ws, &db).expect("recover");
    } else {
        let applied = txn::apply(&ws, &blobs, &db, &job.plan, false).expect("apply");
        txn::finish(&ws, &db, applied.journal_id).expect("finish");
    }
}

/// How to end a child.
#[derive(Clone, Debug)]
enum Kill {
    None,
    At(String),
    Timer(Duration),
}

/// Runs a child on `t` and returns its exit status and how long it ran after it was ready.
fn run_child_timed(
    t: &Trial,
    recover: bool,
    kill: &Kill,
    trace: Option<&Path>,
) -> (ExitStatus, Duration) {
    let job_path = t.store.join(if recover {
        "job-recover.json"
    } else {
        "job.json"
    });
    let job = Job {
        ws: t.ws.clone(),
        store: t.store.clone(),
        plan: t.change.plan.clone(),
        recover,
    };
    std::fs::write(&job_path, serde_json::to_vec(&job).expect("json")).expect("write job");
    let mut cmd = Command::new(std::env::current_exe().expect("exe"));
    cmd.args(["child_entry", "--exact", "--nocapture", "--test-threads=1"])
        .env("FTSB_CRASH_CHILD", &job_path)
        .env_remove("FTSB_FS_FAILPOINT")
        .env_remove("FTSB_FS_FAILPOINT_TRACE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Kill::At(name) = kill {
        cmd.env("FTSB_FS_FAILPOINT", name);
    }
    if let Some(trace) = trace {
        cmd.env("FTSB_FS_FAILPOINT_TRACE", trace);
    }
    let mut child = cmd.spawn().expect("spawn child");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    while out.read_line(&mut line).expect("read child") > 0 && line.trim() != READY {
        line.clear();
    }
    let ready = Instant::now();
    if let Kill::Timer(d) = kill {
        std::thread::sleep(*d);
        // Our own child, by its id; if it already exited it is a zombie until waited for.
        let _ = child.kill();
    }
    let _ = std::io::copy(&mut out, &mut std::io::sink());
    let status = child.wait().expect("wait child");
    (status, ready.elapsed())
}

fn run_child(t: &Trial, recover: bool, kill: &Kill, trace: Option<&Path>) -> ExitStatus {
    run_child_timed(t, recover, kill, trace).0
}

fn killed(s: &ExitStatus) -> bool {
    s.signal() == Some(libc::SIGKILL)
}

/// Which of the two allowed states the workspace is in.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Outcome {
    Before,
    After,
}

/// Recovers in-process and checks the workspace is exactly before or after, consistently
/// with what recovery reports.
fn recover_and_check(t: &Trial, what: &str) -> Outcome {
    recover_and_check_at(&t.ws, &t.store, &t.before, &t.change.after, what)
}

fn recover_and_check_at(
    ws_path: &Path,
    store: &Path,
    before: &Tree,
    after: &Tree,
    what: &str,
) -> Outcome {
    let ws = Workspace::open(ws_path).expect("open workspace");
    // Not bound to the path: a power-loss image is mounted elsewhere than where it was made.
    let db = Db::open_existing(&store.join("meta.db")).expect("open db");
    if std::env::var_os("FTSB_CRASH_SHOW").is_some() {
        let j = db.journal_open().expect("journal");
        eprintln!("{what}: journal {:?}", j.as_ref().map(|j| (j.id, j.state)));
        if let Some(j) = j {
            for k in ["stashed", "unbuilt", "failed_at", "root_times"] {
                eprintln!(
                    "  {k}: {:?}",
                    db.kv_get(&format!("txn.{}.{k}", j.id)).expect("kv")
                );
            }
        }
        let names: Vec<_> = std::fs::read_dir(ws_path)
            .expect("ls")
            .map(|e| e.expect("e").file_name())
            .collect();
        eprintln!("  root: {names:?}");
    }
    let rec = txn::recover(&ws, &db).unwrap_or_else(|e| panic!("{what}: recover failed: {e}"));
    assert!(
        db.journal_open().expect("journal").is_none(),
        "{what}: journal still open"
    );
    assert_eq!(
        txn::recover(&ws, &db).expect("recover again"),
        Recovery::Nothing,
        "{what}"
    );
    let now = scan(ws_path);
    let to_before = diff(before, &now);
    let to_after = diff(after, &now);
    let outcome = if to_before.is_empty() {
        Outcome::Before
    } else if to_after.is_empty() {
        Outcome::After
    } else {
        panic!(
            "{what}: workspace is neither before nor after ({rec:?})\nvs before:\n{}\nvs after:\n{}",
            to_before.join("\n"),
            to_after.join("\n")
        );
    };
    match rec {
        Recovery::UndoneCommit { .. } => {
            assert_eq!(outcome, Outcome::Before, "{what}: undone but after")
        }
        Recovery::FinishedCommit { .. } => {
            assert_eq!(outcome, Outcome::After, "{what}: finished but before")
        }
        Recovery::Nothing => {}
    }
    outcome
}

fn small() -> Size {
    Size::default()
}

#[test]
fn clean_apply_yields_exactly_after() {
    for seed in 0..20 {
        let t = trial(seed, small());
        let (ws, blobs, db) = open(&t.ws, &t.store);
        assert!(
            txn::check(&ws, &t.change.plan).is_empty(),
            "seed {seed}: conflicts"
        );
        let applied = txn::apply(&ws, &blobs, &db, &t.change.plan, false)
            .unwrap_or_else(|e| panic!("seed {seed}: {e}\n{:#?}", t.change.plan));
        txn::finish(&ws, &db, applied.journal_id).expect("finish");
        let d = diff(&t.change.after, &scan(&t.ws));
        assert!(
            d.is_empty(),
            "seed {seed}:\n{}\nplan: {:#?}",
            d.join("\n"),
            t.change.plan
        );
        assert!(db.journal_open().expect("journal").is_none());
    }
}

/// The failpoints a clean run of `t`'s commit (or recovery) passes, in order.
fn trace_points(t: &Trial, recover: bool) -> Vec<String> {
    let trace = t
        .store
        .join(if recover { "trace-recover" } else { "trace" });
    let status = run_child(t, recover, &Kill::None, Some(&trace));
    assert!(status.success(), "clean child failed: {status:?}");
    std::fs::read_to_string(&trace)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn killed_at_every_failpoint_recovers_exactly() {
    let mut kills = 0;
    for seed in [7, 11, 23] {
        let t = trial(seed, small());
        let points = trace_points(&t, false);
        assert_eq!(recover_and_check(&t, "clean child"), Outcome::After);
        let applied_at = points
            .iter()
            .position(|p| p == "commit.applied")
            .expect("commit.applied");
        for (i, point) in points.iter().enumerate() {
            let t = trial(seed, small());
            let status = run_child(&t, false, &Kill::At(point.clone()), None);
            assert!(
                killed(&status),
                "seed {seed}: not killed at {point}: {status:?}"
            );
            let want = if i < applied_at {
                Outcome::Before
            } else {
                Outcome::After
            };
            assert_eq!(
                recover_and_check(&t, &format!("seed {seed} at {point}")),
                want,
                "seed {seed} at {point}"
            );
            kills += 1;
        }
    }
    eprintln!("killed at {kills} failpoints, every one recovered exactly");
}

#[test]
fn killed_during_recovery_recovers_exactly() {
    let mut kills = 0;
    // Killed after phase 2 (the most to undo), and after applied (finish to redo).
    for (seed, at, want) in [
        (5, "commit.synced", Outcome::Before),
        (9, "commit.applied", Outcome::After),
    ] {
        let t = trial(seed, small());
        assert!(killed(&run_child(&t, false, &Kill::At(at.into()), None)));
        let points = trace_points(&t, true);
        assert_eq!(recover_and_check(&t, "clean recovery"), want);
        for point in &points {
            let t = trial(seed, small());
            assert!(killed(&run_child(&t, false, &Kill::At(at.into()), None)));
            let status = run_child(&t, true, &Kill::At(point.clone()), None);
            assert!(killed(&status), "recovery not killed at {point}");
            assert_eq!(
                recover_and_check(&t, &format!("seed {seed}: {at} then {point}")),
                want
            );
            kills += 1;
        }
    }
    eprintln!("killed recovery at {kills} failpoints, every one recovered exactly");
}

#[test]
fn random_crash_trials() {
    let trials: u64 = std::env::var("FTSB_CRASH_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let first: u64 = std::env::var("FTSB_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let mut apply_time = Duration::from_millis(20);
    let (mut before, mut after, mut recovery_kills) = (0, 0, 0);
    let started = Instant::now();
    for seed in first..first + trials {
        let t = trial(seed, small());
        if std::env::var_os("FTSB_CRASH_SHOW").is_some() {
            eprintln!("seed {seed}: {:#?}", t.change.plan);
        }
        let mut rng = Rng::new(seed.wrapping_mul(31));
        let steps = t.change.plan.steps.len();
        let kill = if rng.chance(50) {
            // A commit passes about steps + 12 failpoints (see docs/COMMIT.md).
            Kill::At(format!("@{}", 1 + rng.below(steps + 12)))
        } else {
            Kill::Timer(Duration::from_micros(
                rng.below(apply_time.as_micros() as usize + 1) as u64,
            ))
        };
        let (status, ran) = run_child_timed(&t, false, &kill, None);
        if status.success() {
            apply_time = (apply_time + ran) / 2;
        }
        if rng.chance(50) {
            let (_ws, _b, db) = open(&t.ws, &t.store);
            if db.journal_open().expect("journal").is_some() {
                drop(db);
                let k = Kill::At(format!("@{}", 1 + rng.below(steps + 6)));
                if killed(&run_child(&t, true, &k, None)) {
                    recovery_kills += 1;
                }
            }
        }
        match recover_and_check(&t, &format!("seed {seed} ({kill:?})")) {
            Outcome::Before => before += 1,
            Outcome::After => after += 1,
        }
    }
    eprintln!(
        "{trials} random crash trials (seeds {first}..{}) in {:.1}s: {before} recovered to before, {after} to after, {recovery_kills} recoveries killed too",
        first + trials,
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn conflicts_refuse_untouched_and_force_overwrites() {
    let mut seen = 0;
    for seed in 100..130 {
        let t = trial(seed, small());
        // An outside edit of something the plan stashes with a stamp.
        let moved: Vec<u32> = t
            .change
            .plan
            .steps
            .iter()
            .filter_map(|s| match s {
                txn::Step::Unstash { slot, .. } => Some(*slot),
                _ => None,
            })
            .collect();
        // A deleted or replaced object (a moved one would carry the outside edit along).
        let Some(path) = t.change.plan.steps.iter().find_map(|s| match s {
            txn::Step::Stash {
                path,
                slot,
                expect: txn::Expect::Stamp(_),
            } if !moved.contains(slot) => Some(path.clone()),
            _ => None,
        }) else {
            continue;
        };
        let full =
            t.ws.join(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&path.0));
        let md = std::fs::symlink_metadata(&full).expect("stat");
        // A single-named file: an edit through one of several names shows through the others.
        if !md.is_file() || std::os::unix::fs::MetadataExt::nlink(&md) != 1 {
            continue;
        }
        std::fs::write(&full, b"edited outside the view").expect("outside edit");
        let edited = scan(&t.ws);
        let (ws, blobs, db) = open(&t.ws, &t.store);
        let conflicts = txn::check(&ws, &t.change.plan);
        assert!(
            conflicts.iter().any(|c| c.path == path),
            "seed {seed}: {conflicts:?}"
        );
        match txn::apply(&ws, &blobs, &db, &t.change.plan, false) {
            Err(TxnError::Conflicts(list)) => assert!(list.iter().any(|c| c.path == path)),
            other => panic!("seed {seed}: expected conflicts, got {other:?}"),
        }
        assert!(
            diff(&edited, &scan(&t.ws)).is_empty(),
            "seed {seed}: refused commit changed the workspace"
        );
        assert!(db.journal_open().expect("journal").is_none());
        let applied = txn::apply(&ws, &blobs, &db, &t.change.plan, true).expect("forced apply");
        txn::finish(&ws, &db, applied.journal_id).expect("finish");
        let d = diff(&t.change.after, &scan(&t.ws));
        assert!(
            d.is_empty(),
            "seed {seed}: forced commit:\n{}",
            d.join("\n")
        );
        seen += 1;
    }
    assert!(seen >= 5, "only {seen} conflict trials");
}

#[test]
fn outside_creation_at_a_new_path_conflicts_and_force_replaces_it() {
    let found = (0..50).find_map(|seed| {
        let t = trial(seed, small());
        let path = t.change.plan.steps.iter().find_map(|s| match s {
            txn::Step::File { path, .. }
                if !t.before.contains_key(&path.0)
                    && path
                        .split()
                        .is_some_and(|(p, _)| t.before.contains_key(&p.0)) =>
            {
                Some(path.clone())
            }
            _ => None,
        })?;
        Some((t, path))
    });
    let (t, path) = found.expect("a trial with a new file in an existing directory");
    let full =
        t.ws.join(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&path.0));
    std::fs::write(&full, b"created outside").expect("outside create");
    let edited: Tree = scan(&t.ws);
    let (ws, blobs, db) = open(&t.ws, &t.store);
    match txn::apply(&ws, &blobs, &db, &t.change.plan, false) {
        Err(TxnError::Conflicts(list)) => assert!(list.iter().any(|c| c.path == path), "{list:?}"),
        other => panic!("expected conflicts, got {other:?}"),
    }
    assert!(diff(&edited, &scan(&t.ws)).is_empty());
    let applied = txn::apply(&ws, &blobs, &db, &t.change.plan, true).expect("forced");
    txn::finish(&ws, &db, applied.journal_id).expect("finish");
    assert!(diff(&t.change.after, &scan(&t.ws)).is_empty());
}

#[test]
fn corrupted_blob_is_refused_and_named() {
    for seed in 200..240 {
        let t = trial(seed, small());
        let Some(blob) = t.change.plan.steps.iter().rev().find_map(|s| match s {
            txn::Step::File { blob, .. } => Some(*blob),
            _ => None,
        }) else {
            continue;
        };
        let (ws, blobs, db) = open(&t.ws, &t.store);
        let p = blobs.path(blob);
        let mut bytes = std::fs::read(&p).expect("blob");
        bytes.push(b'!');
        std::fs::write(&p, &bytes).expect("corrupt");
        match txn::apply(&ws, &blobs, &db, &t.change.plan, false) {
            Err(e @ TxnError::CorruptBlob { .. }) => {
                assert!(e.to_string().contains(&blob.to_string()), "{e}");
            }
            other => panic!("seed {seed}: expected a corrupt blob error, got {other:?}"),
        }
        let d = diff(&t.before, &scan(&t.ws));
        assert!(
            d.is_empty(),
            "seed {seed}: workspace changed:\n{}",
            d.join("\n")
        );
        assert!(db.journal_open().expect("journal").is_none());
        return;
    }
    panic!("no trial with a file to corrupt");
}

/// Mounts a small tmpfs at `dir` (root only); `false` with a note when it cannot.
fn mount_small_tmpfs(dir: &Path, size: &str) -> bool {
    if !common::is_root() {
        common::skip("the disk-full test", "not root (it mounts a small tmpfs)");
        return false;
    }
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success());
    common::require(ok, "the disk-full test", "cannot mount a tmpfs here")
}

#[test]
fn disk_full_during_commit_leaves_workspace_as_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ws = dir.path().join("ws");
    let store = dir.path().join("store");
    std::fs::create_dir(&ws).expect("ws");
    std::fs::create_dir(&store).expect("store");
    if !mount_small_tmpfs(&ws, "2m") {
        return;
    }
    let result = std::panic::catch_unwind(|| {
        std::fs::write(ws.join("keep"), b"precious").expect("write");
        std::fs::write(ws.join("filler"), vec![7u8; 1 << 20]).expect("filler");
        let before = scan(&ws);
        let (w, blobs, db) = open(&ws, &store);
        let big = blobs.put_bytes(&vec![1u8; 3 << 20]).expect("blob");
        let meta = txn::Meta {
            mode: 0o644,
            uid: 0,
            gid: 0,
            atime: (1, 0),
            mtime: (1, 0),
            xattrs: None,
        };
        let plan = |blob, name: &str| Plan {
            steps: vec![
                txn::Step::Stash {
                    path: txn::RelPath::new("keep"),
                    slot: 0,
                    expect: txn::Expect::Nothing,
                },
                txn::Step::File {
                    path: txn::RelPath::new(name),
                    blob,
                    meta: meta.clone(),
                },
            ],
        };
        match txn::apply(&w, &blobs, &db, &plan(big, "big"), false) {
            Err(e @ TxnError::NoSpace { .. }) => {
                assert!(e.to_string().contains("no space left"), "{e}")
            }
            other => panic!("expected no space, got {other:?}"),
        }
        assert!(
            diff(&before, &scan(&ws)).is_empty(),
            "disk full left the workspace changed"
        );
        assert!(db.journal_open().expect("journal").is_none());
        std::fs::remove_file(ws.join("filler")).expect("free space");
        let small = blobs.put_bytes(&vec![2u8; 512 << 10]).expect("blob");
        let applied =
            txn::apply(&w, &blobs, &db, &plan(small, "fits"), false).expect("apply after freeing");
        txn::finish(&w, &db, applied.journal_id).expect("finish");
        assert!(ws.join("fits").exists() && !ws.join("keep").exists());
    });
    let _ = Command::new("umount").arg(&ws).status();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

/// An ext4 file system in an image file on a loop device, mounted at `mnt` (root only).
struct LoopFs {
    dev: String,
    mnt: PathBuf,
}

fn run(cmd: &str, args: &[&std::ffi::OsStr]) -> Option<String> {
    let out = Command::new(cmd)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

impl LoopFs {
    /// Attaches `img` and mounts it at `mnt`; `commit=600` keeps ext4 from committing its journal
    /// on a timer, so what was not fsynced really is not on the "disk" yet.
    fn mount(img: &Path, mnt: &Path) -> Option<LoopFs> {
        let dev = run(
            "losetup",
            &["-f".as_ref(), "--show".as_ref(), img.as_os_str()],
        )?;
        std::fs::create_dir_all(mnt).ok()?;
        let ok = run(
            "mount",
            &[
                "-t".as_ref(),
                "ext4".as_ref(),
                "-o".as_ref(),
                "commit=600".as_ref(),
                dev.as_ref(),
                mnt.as_os_str(),
            ],
        );
        if ok.is_none() {
            let _ = run("losetup", &["-d".as_ref(), dev.as_ref()]);
            return None;
        }
        Some(LoopFs {
            dev,
            mnt: mnt.to_owned(),
        })
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        // The file system can be briefly busy after its last user went; never leave a mount
        // behind (a lazy unmount as the last resort).
        let unmounted = (0..20).any(|_| {
            run("umount", &[self.mnt.as_os_str()]).is_some() || {
                std::thread::sleep(Duration::from_millis(50));
                false
            }
        });
        if !unmounted {
            let _ = run("umount", &["-l".as_ref(), self.mnt.as_os_str()]);
        }
        let _ = run("losetup", &["-d".as_ref(), self.dev.as_ref()]);
    }
}

/// A trial whose workspace holds the link group `a` = `b` = `sub/c` and whose plan rewrites
/// it as a commit of a write through `a` does: all three names stashed, the new bytes placed
/// at `a`, `b` and `sub/c` linked to it. Its expected after-tree is what a clean apply of the
/// same plan in a scratch trial gives, checked to be one inode of three names.
fn link_group_trial(base: &Path) -> Trial {
    let make = || {
        let dir = tempfile::Builder::new()
            .prefix("ftsb-links-")
            .tempdir_in(base)
            .expect("tempdir");
        let (ws, store) = (dir.path().join("ws"), dir.path().join("store"));
        std::fs::create_dir_all(ws.join("sub")).expect("ws");
        std::fs::create_dir(&store).expect("store");
        std::fs::write(ws.join("a"), "old bytes\n").expect("write");
        std::fs::hard_link(ws.join("a"), ws.join("b")).expect("link");
        std::fs::hard_link(ws.join("a"), ws.join("sub/c")).expect("link");
        let blob = BlobStore::open(&store.join("blobs"))
            .expect("blobs")
            .put_bytes(b"new bytes, one inode\n")
            .expect("blob");
        let p = |s: &str| txn::RelPath::new(s);
        let meta = txn::Meta {
            mode: 0o640,
            uid: own_uid(),
            gid: own_gid(),
            atime: (1_600_000_000, 0),
            mtime: (1_600_000_000, 5),
            xattrs: None,
        };
        // Directory times fixed by the plan, so the scratch apply and the trial agree.
        let dir_meta = |path: &str| txn::Step::SetMeta {
            path: p(path),
            meta: txn::Meta {
                mode: 0o755,
                ..meta.clone()
            },
            expect: txn::Expect::Nothing,
        };
        let stash = |path: &str, slot| txn::Step::Stash {
            path: p(path),
            slot,
            expect: txn::Expect::Nothing,
        };
        let plan = Plan {
            steps: vec![
                stash("sub/c", 0),
                stash("a", 1),
                stash("b", 2),
                txn::Step::File {
                    path: p("a"),
                    blob,
                    meta: meta.clone(),
                },
                txn::Step::Hardlink {
                    path: p("b"),
                    to: p("a"),
                },
                txn::Step::Hardlink {
                    path: p("sub/c"),
                    to: p("a"),
                },
                dir_meta("sub"),
                dir_meta(""),
            ],
        };
        let before = scan(&ws);
        (dir, ws, store, before, plan)
    };
    let (_scratch, ws, store, _, plan) = make();
    let (w, blobs, db) = open(&ws, &store);
    let applied = txn::apply(&w, &blobs, &db, &plan, false).expect("apply");
    txn::finish(&w, &db, applied.journal_id).expect("finish");
    let after = scan(&ws);
    {
        use std::os::unix::fs::MetadataExt;
        let inos: Vec<(u64, u64)> = ["a", "b", "sub/c"]
            .iter()
            .map(|n| std::fs::metadata(ws.join(n)).expect("stat"))
            .map(|m| (m.ino(), m.nlink()))
            .collect();
        assert!(
            inos.iter().all(|i| *i == (inos[0].0, 3)),
            "the group is not one inode of three names: {inos:?}"
        );
    }
    let (dir, ws, store, before, plan) = make();
    Trial {
        _dir: dir,
        ws,
        store,
        before,
        change: common::changes::Change { plan, after },
    }
}

fn own_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

fn own_gid() -> u32 {
    // SAFETY: getgid has no preconditions and cannot fail.
    unsafe { libc::getgid() }
}

/// Power loss, approximated: the child is killed at a failpoint and, at that instant, the
/// image file under the loop device is copied. The copy holds what the block device had
/// received (what was fsynced, and whatever writeback happened to send), not what sat dirty in
/// the page cache, which is what a power loss keeps. The copy is mounted (ext4 replays its
/// journal) and recovered; it must hold exactly the tree before, or, once `commit.applied`
/// was reached, exactly the tree after.
#[test]
fn power_loss_at_every_failpoint_recovers_exactly() {
    if !common::is_root() {
        common::skip("the power-loss test", "not root (it needs a loop device)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let img = dir.path().join("disk.img");
    std::fs::File::create(&img)
        .and_then(|f| f.set_len(64 << 20))
        .expect("image");
    if run(
        "mkfs.ext4",
        &["-q".as_ref(), "-F".as_ref(), img.as_os_str()],
    )
    .is_none()
    {
        common::skip("the power-loss test", "no mkfs.ext4 (package e2fsprogs)");
        return;
    }
    let Some(fs) = LoopFs::mount(&img, &dir.path().join("mnt")) else {
        common::skip("the power-loss test", "cannot use a loop device here");
        return;
    };
    // The image as the block device has it right now, mounted at `dir/lost`, then checked.
    let check_image = |t: &Trial, what: &str, want: Outcome| {
        let snap = dir.path().join("snap.img");
        let copied = run(
            "cp",
            &[
                "--sparse=always".as_ref(),
                img.as_os_str(),
                snap.as_os_str(),
            ],
        );
        assert!(copied.is_some(), "copy the image");
        {
            let lost = LoopFs::mount(&snap, &dir.path().join("lost")).expect("mount the image");
            let rel = |p: &Path| {
                lost.mnt
                    .join(p.strip_prefix(&fs.mnt).expect("under the mount"))
            };
            let (before, after) = (&t.before, &t.change.after);
            let got = recover_and_check_at(&rel(&t.ws), &rel(&t.store), before, after, what);
            assert_eq!(got, want, "{what}");
        }
        std::fs::remove_file(&snap).expect("remove snapshot");
    };
    // The before state is durable, as it would be long before any commit.
    let sync_all = || {
        let root = std::fs::File::open(&fs.mnt).expect("open mount");
        let fd = std::os::fd::AsRawFd::as_raw_fd(&root);
        // SAFETY: syncfs on an open descriptor has no memory-safety preconditions.
        let r = unsafe { libc::syncfs(fd) };
        assert_eq!(r, 0, "syncfs");
    };
    let mut checked = 0;
    // FTSB_POWER_PLANS=N tries N plans (from seed 17, every other one with a large file).
    let plans: u64 = std::env::var("FTSB_POWER_PLANS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    for (seed, large_percent) in (0..plans).map(|i| (17 + 12 * i, if i % 2 == 1 { 100 } else { 0 }))
    {
        let size = Size {
            files: 10,
            changes: 6,
            large_percent,
        };
        let points = trace_points(&trial_in(&fs.mnt, seed, size), false);
        let applied_at = points
            .iter()
            .position(|p| p == "commit.applied")
            .expect("commit.applied");
        for (i, point) in points.iter().enumerate() {
            let t = trial_in(&fs.mnt, seed, size);
            sync_all();
            let status = run_child(&t, false, &Kill::At(point.clone()), None);
            assert!(killed(&status), "not killed at {point}");
            let want = if i < applied_at {
                Outcome::Before
            } else {
                Outcome::After
            };
            check_image(&t, &format!("seed {seed}: power loss at {point}"), want);
            checked += 1;
        }
    }
    // A plan that keeps a workspace link group: every name stashed, the new file placed under
    // one, the others linked to it.
    let points = trace_points(&link_group_trial(&fs.mnt), false);
    let applied_at = points
        .iter()
        .position(|p| p == "commit.applied")
        .expect("commit.applied");
    for (i, point) in points.iter().enumerate() {
        let t = link_group_trial(&fs.mnt);
        sync_all();
        let status = run_child(&t, false, &Kill::At(point.clone()), None);
        assert!(killed(&status), "not killed at {point}");
        let want = if i < applied_at {
            Outcome::Before
        } else {
            Outcome::After
        };
        check_image(&t, &format!("link group: power loss at {point}"), want);
        checked += 1;
    }
    // Power loss during the recovery of a commit killed after phase 2.
    let size = Size {
        files: 10,
        changes: 6,
        large_percent: 0,
    };
    let synced = Kill::At("commit.synced".into());
    let t = trial_in(&fs.mnt, 41, size);
    assert!(killed(&run_child(&t, false, &synced, None)));
    for point in trace_points(&t, true) {
        let t = trial_in(&fs.mnt, 41, size);
        sync_all();
        assert!(killed(&run_child(&t, false, &synced, None)));
        let status = run_child(&t, true, &Kill::At(point.clone()), None);
        assert!(killed(&status), "recovery not killed at {point}");
        check_image(
            &t,
            &format!("power loss in recovery at {point}"),
            Outcome::Before,
        );
        checked += 1;
    }
    eprintln!("power loss at {checked} failpoints, every one recovered exactly");
}

/// The child's side of the partial-commit crash test: recovery as at mount, then a partial
/// commit of the overlay kept in the store (`FTSB_PARTIAL_CHILD` names a file: workspace,
/// store, then one path per line).
#[test]
fn partial_child_entry() {
    let Some(spec) = std::env::var_os("FTSB_PARTIAL_CHILD") else {
        return;
    };
    let text = std::fs::read_to_string(spec).expect("spec");
    let mut lines = text.lines();
    let ws = PathBuf::from(lines.next().expect("workspace"));
    let store = PathBuf::from(lines.next().expect("store"));
    let paths: Vec<String> = lines.map(str::to_owned).collect();
    let parts = ftsb_fs::overlay::open_parts(&ws, &store).expect("open store");
    let rec = txn::recover_at_mount(&parts, &ws).expect("recover");
    let mut ov = ftsb_fs::overlay::Overlay::open(parts).expect("open overlay");
    txn::after_recovery(&mut ov, &rec).expect("after recovery");
    let fd = ov.workspace_fd().expect("workspace descriptor");
    let w = txn::Workspace::from_fd(fd, &ws).expect("workspace");
    if paths.is_empty() {
        txn::commit(&mut ov, &w, "full", false).expect("commit");
        return;
    }
    let filter = txn::Filter::new(&paths).expect("filter");
    txn::commit_paths(&mut ov, &w, "partial", false, &filter).expect("partial commit");
}

/// A mounted workspace with changes to commit in part, unmounted with `--keep`; and what
/// the view showed.
fn partial_setup() -> (common::Mounted, std::collections::BTreeMap<String, String>) {
    let mut m = common::Mounted::at(common::sample_tree);
    std::fs::write(m.v("a.txt"), "alpha, fixed\n").expect("write");
    std::fs::write(m.v("b.txt"), "bravo, scratch\n").expect("write");
    std::fs::create_dir(m.v("new")).expect("mkdir");
    std::fs::write(m.v("new/keep.rs"), "fn main() {}\n").expect("write");
    std::fs::write(m.v("new/scratch.txt"), "notes\n").expect("write");
    std::fs::rename(m.v("dir/c.txt"), m.v("dir/moved.txt")).expect("rename");
    std::fs::remove_file(m.v("run.sh")).expect("rm");
    let view = common::tree(&m.view, common::SHAPE);
    m.ok(&["unmount", "--keep"]);
    m.mounted = false;
    m.wait_daemon_gone();
    (m, view)
}

const PARTIAL_PATHS: [&str; 3] = ["a.txt", "new/keep.rs", "dir/moved.txt"];

/// Runs the partial commit in a child, killed at `point` (or not); returns its status.
fn run_partial_child(m: &common::Mounted, point: Option<&str>, trace: Option<&Path>) -> ExitStatus {
    run_commit_child(m, &PARTIAL_PATHS, point, trace)
}

/// Runs a commit of `paths` (none: a full commit) in a child, killed at `point` (or not).
fn run_commit_child(
    m: &common::Mounted,
    paths: &[&str],
    point: Option<&str>,
    trace: Option<&Path>,
) -> ExitStatus {
    let spec = m.root.path().join("partial-spec");
    let mut text = format!("{}\n{}\n", m.ws.display(), m.store.display());
    for p in paths {
        text.push_str(p);
        text.push('\n');
    }
    std::fs::write(&spec, text).expect("write spec");
    let mut cmd = Command::new(std::env::current_exe().expect("exe"));
    cmd.args([
        "partial_child_entry",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("FTSB_PARTIAL_CHILD", &spec)
    .env_remove("FTSB_FS_FAILPOINT")
    .env_remove("FTSB_FS_FAILPOINT_TRACE")
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    if let Some(p) = point {
        cmd.env("FTSB_FS_FAILPOINT", p);
    }
    if let Some(t) = trace {
        cmd.env("FTSB_FS_FAILPOINT_TRACE", t);
    }
    cmd.status().expect("run child")
}

/// The workspace as it is before (`partial == false`) or after the partial commit, built by
/// hand; compared without the root's own entry (the trees live in different directories).
fn partial_expected(partial: bool) -> std::collections::BTreeMap<String, String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let ws = dir.path().join("ws");
    std::fs::create_dir(&ws).expect("mkdir");
    common::sample_tree(&ws);
    if partial {
        std::fs::write(ws.join("a.txt"), "alpha, fixed\n").expect("write");
        std::fs::create_dir(ws.join("new")).expect("mkdir");
        std::fs::write(ws.join("new/keep.rs"), "fn main() {}\n").expect("write");
        std::fs::rename(ws.join("dir/c.txt"), ws.join("dir/moved.txt")).expect("rename");
    }
    without_root(common::tree(&ws, common::SHAPE))
}

fn without_root(
    mut t: std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, String> {
    t.remove(".");
    t
}

/// Runs a clean commit of `paths` on `m` in a child, checks the workspace is `after`, and
/// returns the failpoints it passed and the index of `commit.applied` among them.
fn clean_trace(
    m: common::Mounted,
    paths: &[&str],
    after: &std::collections::BTreeMap<String, String>,
) -> (Vec<String>, usize) {
    let trace = m.root.path().join("clean-trace");
    let status = run_commit_child(&m, paths, None, Some(&trace));
    assert!(
        status.success(),
        "clean commit of {paths:?} failed: {status:?}"
    );
    assert_eq!(
        &without_root(common::tree(&m.ws, common::SHAPE)),
        after,
        "a clean commit of {paths:?} published something else"
    );
    let points: Vec<String> = std::fs::read_to_string(&trace)
        .expect("trace")
        .lines()
        .map(str::to_owned)
        .collect();
    let applied_at = points
        .iter()
        .position(|p| p == "commit.applied")
        .expect("commit.applied");
    (points, applied_at)
}

#[test]
fn partial_commit_killed_at_every_failpoint_keeps_the_rest() {
    let (before, after) = (partial_expected(false), partial_expected(true));
    let (points, applied_at) = clean_trace(partial_setup().0, &PARTIAL_PATHS, &after);
    for (i, point) in points.iter().enumerate() {
        let (mut m, view) = partial_setup();
        let status = run_partial_child(&m, Some(point), None);
        assert!(killed(&status), "not killed at {point}: {status:?}");
        // Mounting recovers: the workspace is exactly before or exactly after the partial
        // commit, and the view shows every change either way.
        m.mount();
        let ws = without_root(common::tree(&m.ws, common::SHAPE));
        let want = if i < applied_at { &before } else { &after };
        common::assert_trees_eq(&format!("workspace killed at {point}"), want, &ws);
        common::assert_trees_eq(
            &format!("view killed at {point}"),
            &view,
            &common::tree(&m.view, common::SHAPE),
        );
        // What stayed in the overlay commits later, and the workspace becomes the view. An
        // undone commit moved workspace objects out and back, which changes their ctime, and
        // the conflict check (stamps, not contents) takes that for an outside change: after
        // an undo the rest needs --force (a known gap of the conflict check, not of the
        // partial commit).
        let args: &[&str] = if i < applied_at {
            &["commit", "--force"]
        } else {
            &["commit"]
        };
        let out = m.try_(args);
        assert!(
            out.status.success(),
            "killed at {point} ({i} of {}): {}",
            points.len(),
            String::from_utf8_lossy(&out.stderr)
        );
        common::assert_trees_eq(
            &format!("workspace after the rest, killed at {point}"),
            &without_root(view.clone()),
            &without_root(common::tree(&m.ws, common::SHAPE)),
        );
    }
    eprintln!(
        "partial commit killed at {} failpoints, every one recovered exactly",
        points.len()
    );
}

/// A mounted workspace whose hard-link pair `h1` = `dir/h2` was written through `h1`, with a
/// link made in the view (`a.txt` = `a-link`) and an unrelated change, unmounted with
/// `--keep`; and what the view showed.
fn links_setup() -> (common::Mounted, std::collections::BTreeMap<String, String>) {
    let mut m = common::Mounted::at(common::sample_tree);
    std::fs::write(m.v("h1"), "rewritten pair\n").expect("write");
    std::fs::hard_link(m.v("a.txt"), m.v("a-link")).expect("link");
    std::fs::write(m.v("b.txt"), "bravo, scratch\n").expect("write");
    let view = common::tree(&m.view, common::SHAPE);
    m.ok(&["unmount", "--keep"]);
    m.mounted = false;
    m.wait_daemon_gone();
    (m, view)
}

/// The workspace before, after a full commit of `links_setup`, or after a partial one of `h1`.
fn links_expected(full: Option<bool>) -> std::collections::BTreeMap<String, String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let ws = dir.path().join("ws");
    std::fs::create_dir(&ws).expect("mkdir");
    common::sample_tree(&ws);
    if let Some(full) = full {
        // Written in place: the pair stays one inode.
        std::fs::write(ws.join("h1"), "rewritten pair\n").expect("write");
        if full {
            std::fs::hard_link(ws.join("a.txt"), ws.join("a-link")).expect("link");
            std::fs::write(ws.join("b.txt"), "bravo, scratch\n").expect("write");
        }
    }
    without_root(common::tree(&ws, common::SHAPE))
}

/// A commit whose plan keeps a workspace link group (the pair re-linked to the new file) and
/// publishes a link made in the view, killed at each of its failpoints, fully and in part:
/// the workspace is exactly before or exactly after, link groups included.
#[test]
fn commit_keeping_link_groups_killed_at_every_failpoint_recovers_exactly() {
    let before = links_expected(None);
    for (paths, after) in [
        (&[][..], links_expected(Some(true))),
        (&["h1"][..], links_expected(Some(false))),
    ] {
        let (points, applied_at) = clean_trace(links_setup().0, paths, &after);
        for (i, point) in points.iter().enumerate() {
            let (mut m, view) = links_setup();
            let status = run_commit_child(&m, paths, Some(point), None);
            assert!(killed(&status), "not killed at {point}: {status:?}");
            m.mount();
            let want = if i < applied_at { &before } else { &after };
            common::assert_trees_eq(
                &format!("workspace, commit of {paths:?} killed at {point}"),
                want,
                &without_root(common::tree(&m.ws, common::SHAPE)),
            );
            common::assert_trees_eq(
                &format!("view, commit of {paths:?} killed at {point}"),
                &view,
                &common::tree(&m.view, common::SHAPE),
            );
        }
        eprintln!(
            "commit of {paths:?} with link groups killed at {} failpoints, every one recovered exactly",
            points.len()
        );
    }
}
