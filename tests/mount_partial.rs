//! Partial commit and abort (`commit WS PATH...`, `abort WS PATH...`): only the named changes
//! (and what they need) reach the workspace or go away; everything else stays in the view.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::fs;
use std::process::Output;

use common::*;

/// `ftsb-fs [--json] SUB WS ARGS...` (the workspace comes before the paths).
fn run(m: &Mounted, json: bool, sub: &str, args: &[&str]) -> Output {
    let mut c = m.cmd();
    if json {
        c.arg("--json");
    }
    c.arg(sub).arg(&m.ws).args(args);
    output(&mut c)
}

fn run_ok_json(m: &Mounted, sub: &str, args: &[&str]) -> serde_json::Value {
    let out = run(m, true, sub, args);
    assert!(
        out.status.success(),
        "{sub} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The changed paths `status --json` / `diff --json` report, sorted.
fn changed(m: &Mounted) -> Vec<String> {
    listed(&run_ok_json(m, "diff", &[]))
}

fn listed(v: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

/// Changes of every kind, some to commit and some to keep.
fn make_changes(m: &Mounted) {
    fs::write(m.v("a.txt"), "alpha, fixed\n").unwrap();
    fs::write(m.v("b.txt"), "bravo, scratch\n").unwrap();
    fs::create_dir(m.v("new")).unwrap();
    fs::write(m.v("new/keep.rs"), "fn main() {}\n").unwrap();
    fs::write(m.v("new/scratch.txt"), "notes\n").unwrap();
    fs::rename(m.v("dir/c.txt"), m.v("dir/moved.txt")).unwrap();
    fs::remove_file(m.v("run.sh")).unwrap();
    fs::write(m.v("scratch.log"), "log\n").unwrap();
}

#[test]
fn partial_commit_publishes_only_the_named_changes_and_the_view_stays() {
    let m = Mounted::at(sample_tree);
    make_changes(&m);
    let view_before = tree(&m.view, EXACT);
    let ws_before = tree(&m.ws, EXACT);

    let r = run_ok_json(&m, "commit", &["a.txt", "new/keep.rs", "dir/moved.txt"]);
    assert_eq!(
        listed(&r["committed"]),
        ["a.txt", "dir/c.txt", "dir/moved.txt", "new", "new/keep.rs"],
        "{r}"
    );

    // The workspace: exactly the named changes, with the rename's source gone and the new
    // directory made for the named file, and nothing else.
    assert_eq!(fs::read_to_string(m.w("a.txt")).unwrap(), "alpha, fixed\n");
    assert_eq!(
        fs::read_to_string(m.w("new/keep.rs")).unwrap(),
        "fn main() {}\n"
    );
    assert_eq!(
        fs::read_to_string(m.w("dir/moved.txt")).unwrap(),
        "charlie\n"
    );
    assert!(!m.w("dir/c.txt").exists());
    assert!(!m.w("new/scratch.txt").exists(), "an unnamed file went");
    assert!(!m.w("scratch.log").exists(), "an unnamed file went");
    assert_eq!(fs::read_to_string(m.w("b.txt")).unwrap(), "bravo\n");
    assert!(m.w("run.sh").exists(), "an unnamed deletion went");
    let ws_after = tree(&m.ws, EXACT);
    let touched: Vec<&String> = ws_before
        .keys()
        .chain(ws_after.keys())
        .filter(|k| ws_before.get(*k) != ws_after.get(*k))
        .collect();
    for k in &touched {
        assert!(
            [
                "a.txt",
                "dir/c.txt",
                "dir/moved.txt",
                "new",
                "new/keep.rs",
                "dir",
                "."
            ]
            .contains(&k.as_str()),
            "the partial commit touched {k}"
        );
    }

    // The view is exactly what it was, and lists only the rest.
    assert_trees_eq(
        "view across a partial commit",
        &view_before,
        &tree(&m.view, EXACT),
    );
    assert_eq!(
        changed(&m),
        ["b.txt", "new/scratch.txt", "run.sh", "scratch.log"]
    );

    // The rest commits later, and the workspace ends up as the view.
    m.commit();
    assert_trees_eq(
        "workspace after committing the rest",
        &tree(&m.view, SHAPE),
        &tree(&m.ws, SHAPE),
    );
    assert!(changed(&m).is_empty());
}

#[test]
fn naming_either_end_of_a_rename_takes_the_whole_rename() {
    let m = Mounted::at(sample_tree);
    fs::rename(m.v("b.txt"), m.v("renamed.txt")).unwrap();
    fs::rename(m.v("dir/sub"), m.v("sub2")).unwrap();
    fs::write(m.v("sub2/d.txt"), "delta, changed\n").unwrap();
    fs::write(m.v("a.txt"), "other\n").unwrap();
    // The old name only.
    let r = run_ok_json(&m, "commit", &["b.txt"]);
    assert_eq!(listed(&r["committed"]), ["b.txt", "renamed.txt"]);
    assert!(!m.w("b.txt").exists());
    assert_eq!(fs::read_to_string(m.w("renamed.txt")).unwrap(), "bravo\n");
    assert_eq!(
        xattrs(&m.w("renamed.txt"))
            .get("user.tag")
            .map(Vec::as_slice),
        Some(&b"orig"[..]),
        "the renamed object is the workspace's own"
    );
    // A file inside a moved directory takes the directory's move along.
    run_ok_json(&m, "commit", &["sub2/d.txt"]);
    assert!(!m.w("dir/sub").exists());
    assert_eq!(
        fs::read_to_string(m.w("sub2/d.txt")).unwrap(),
        "delta, changed\n"
    );
    assert_eq!(fs::read_to_string(m.w("a.txt")).unwrap(), "alpha\n");
    assert_eq!(changed(&m), ["a.txt"]);
}

#[test]
fn globs_select_and_a_pattern_that_matches_nothing_changes_nothing() {
    let m = Mounted::at(sample_tree);
    fs::write(m.v("a.txt"), "1\n").unwrap();
    fs::write(m.v("b.txt"), "2\n").unwrap();
    fs::write(m.v("dir/c.txt"), "3\n").unwrap();
    let ws_before = tree(&m.ws, EXACT);
    let view_before = tree(&m.view, EXACT);

    let out = run(&m, false, "commit", &["a.txt", "nope/*"]);
    assert_error(&out, "no change in the view matches nope/*");
    let out = run(&m, false, "commit", &["../etc"]);
    assert_error(&out, "leaves the workspace");

    // A dry run lists and changes nothing.
    let r = run_ok_json(&m, "commit", &["--dry-run", "*.txt"]);
    assert_eq!(listed(&r["would_commit"]), ["a.txt", "b.txt"]);
    let text = run(&m, false, "commit", &["--dry-run", "*.txt"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("would commit 2 changes"));
    assert_trees_eq("workspace after refusals", &ws_before, &tree(&m.ws, EXACT));
    assert_trees_eq("view after refusals", &view_before, &tree(&m.view, EXACT));

    run_ok_json(&m, "commit", &["*.txt"]);
    assert_eq!(fs::read_to_string(m.w("a.txt")).unwrap(), "1\n");
    assert_eq!(fs::read_to_string(m.w("b.txt")).unwrap(), "2\n");
    assert_eq!(fs::read_to_string(m.w("dir/c.txt")).unwrap(), "charlie\n");
    assert_eq!(changed(&m), ["dir/c.txt"]);
}

#[test]
fn partial_abort_discards_only_the_named_changes() {
    let m = Mounted::at(sample_tree);
    make_changes(&m);
    let ws_before = tree(&m.ws, EXACT);
    let r = run_ok_json(&m, "abort", &["--dry-run", "new", "dir/c.txt"]);
    assert_eq!(
        listed(&r["would_abort"]),
        [
            "dir/c.txt",
            "dir/moved.txt",
            "new",
            "new/keep.rs",
            "new/scratch.txt"
        ]
    );
    assert_eq!(changed(&m).len(), 8, "a dry run discarded something");

    run_ok_json(&m, "abort", &["new", "dir/c.txt"]);
    assert!(!m.v("new").exists());
    assert_eq!(fs::read_to_string(m.v("dir/c.txt")).unwrap(), "charlie\n");
    assert!(!m.v("dir/moved.txt").exists());
    assert_eq!(
        fs::read_to_string(m.v("a.txt")).unwrap(),
        "alpha, fixed\n",
        "an unnamed change was discarded"
    );
    assert_eq!(changed(&m), ["a.txt", "b.txt", "run.sh", "scratch.log"]);
    assert_trees_eq(
        "workspace after abort PATH",
        &ws_before,
        &tree(&m.ws, EXACT),
    );
    // The discarded state is a checkpoint: rollback brings it back.
    let log = run_ok_json(&m, "log", &[]);
    let id = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "abort")
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    run_ok_json(&m, "rollback", &["--to", &id.to_string()]);
    assert_eq!(
        fs::read_to_string(m.v("new/scratch.txt")).unwrap(),
        "notes\n"
    );
}

#[test]
fn paths_named_inside_the_view_are_relative_to_the_current_directory() {
    let m = Mounted::at(sample_tree);
    fs::write(m.v("dir/c.txt"), "changed\n").unwrap();
    fs::write(m.v("c.txt"), "a new file at the top\n").unwrap();
    let mut c = m.cmd();
    c.current_dir(m.v("dir")).args(["commit", "c.txt"]);
    run_ok(&mut c);
    assert_eq!(fs::read_to_string(m.w("dir/c.txt")).unwrap(), "changed\n");
    assert!(!m.w("c.txt").exists(), "the top-level c.txt went instead");
    assert_eq!(changed(&m), ["c.txt"]);
}

#[test]
fn changes_that_depend_on_each_other_go_together() {
    let m = Mounted::at(sample_tree);
    // A file renamed out of a directory that is then deleted: committing the deletion must
    // take the rename (or the renamed file would lose its workspace object).
    fs::rename(m.v("dir/sub/d.txt"), m.v("rescued.txt")).unwrap();
    fs::remove_dir_all(m.v("dir/sub")).unwrap();
    // A hard link made in the view: both names are one object.
    fs::hard_link(m.v("b.txt"), m.v("b-link.txt")).unwrap();
    fs::write(m.v("b.txt"), "bravo, linked\n").unwrap();
    fs::write(m.v("a.txt"), "unrelated\n").unwrap();

    let r = run_ok_json(&m, "commit", &["dir/sub"]);
    assert_eq!(listed(&r["committed"]), ["dir/sub", "rescued.txt"], "{r}");
    assert!(!m.w("dir/sub").exists());
    assert_eq!(fs::read_to_string(m.w("rescued.txt")).unwrap(), "delta\n");

    let r = run_ok_json(&m, "commit", &["b-link.txt"]);
    assert_eq!(listed(&r["committed"]), ["b-link.txt", "b.txt"], "{r}");
    use std::os::unix::fs::MetadataExt;
    let (a, b) = (
        fs::metadata(m.w("b.txt")).unwrap(),
        fs::metadata(m.w("b-link.txt")).unwrap(),
    );
    assert_eq!((a.dev(), a.ino()), (b.dev(), b.ino()), "the link was split");
    assert_eq!(
        fs::read_to_string(m.w("b-link.txt")).unwrap(),
        "bravo, linked\n"
    );
    assert_eq!(changed(&m), ["a.txt"]);
}

#[test]
fn a_conflict_blocks_only_the_partial_commit_that_includes_it() {
    let m = Mounted::at(sample_tree);
    fs::write(m.v("a.txt"), "from the view\n").unwrap();
    fs::write(m.v("b.txt"), "bravo, changed\n").unwrap();
    fs::write(m.w("a.txt"), "from outside\n").unwrap();
    let out = run(&m, false, "commit", &["a.txt"]);
    assert_error(&out, "changed in the workspace outside the view: a.txt");
    assert_eq!(fs::read_to_string(m.w("a.txt")).unwrap(), "from outside\n");
    run_ok_json(&m, "commit", &["b.txt"]);
    assert_eq!(
        fs::read_to_string(m.w("b.txt")).unwrap(),
        "bravo, changed\n"
    );
    assert_eq!(fs::read_to_string(m.w("a.txt")).unwrap(), "from outside\n");
    run_ok_json(&m, "commit", &["--force", "a.txt"]);
    assert_eq!(fs::read_to_string(m.w("a.txt")).unwrap(), "from the view\n");
    assert!(changed(&m).is_empty());
}

/// Every object in the view below `dir`, relative, with whether it is a directory (symlinks
/// are not followed).
fn listing(dir: &std::path::Path, rel: &str, out: &mut Vec<(String, bool)>) {
    for e in fs::read_dir(dir.join(rel)).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        let p = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let is_dir = e.file_type().unwrap().is_dir();
        out.push((p.clone(), is_dir));
        if is_dir {
            listing(dir, &p, out);
        }
    }
}

/// One random change through the view.
fn random_change(m: &Mounted, rng: &mut Rng, n: usize) {
    use std::os::unix::fs::PermissionsExt;
    let mut all = Vec::new();
    listing(&m.view, "", &mut all);
    let root = String::new();
    let dirs: Vec<&String> = std::iter::once(&root)
        .chain(all.iter().filter(|(_, d)| *d).map(|(p, _)| p))
        .collect();
    // The workspace's hard-link pair is not written, under any name: a write through one
    // name splits it at commit (a known gap, not this test's subject).
    use std::os::unix::fs::MetadataExt;
    let pair = fs::symlink_metadata(m.w("h1")).unwrap().ino();
    let files: Vec<&String> = all
        .iter()
        .filter(|(p, d)| {
            !*d && fs::symlink_metadata(m.v(p)).is_ok_and(|md| md.is_file() && md.ino() != pair)
        })
        .map(|(p, _)| p)
        .collect();
    let at = |dir: &String, name: String| {
        if dir.is_empty() {
            name
        } else {
            format!("{dir}/{name}")
        }
    };
    match rng.below(8) {
        0 if !files.is_empty() => {
            let f = rng.pick(&files).unwrap();
            fs::write(m.v(f), format!("rewritten {n}\n")).unwrap();
        }
        1 => {
            let d = rng.pick(&dirs).unwrap();
            fs::write(m.v(&at(d, format!("new{n}.txt"))), format!("new {n}\n")).unwrap();
        }
        2 => {
            let d = at(rng.pick(&dirs).unwrap(), format!("nd{n}"));
            fs::create_dir(m.v(&d)).unwrap();
            fs::write(m.v(&format!("{d}/in.txt")), "inside\n").unwrap();
            fs::write(m.v(&format!("{d}/other.txt")), "other\n").unwrap();
        }
        3 if !all.is_empty() => {
            let (from, _) = rng.pick(&all).unwrap().clone();
            let to_dir = rng.pick(&dirs).unwrap();
            let to = at(to_dir, format!("mv{n}"));
            if !to_dir.starts_with(&from) {
                fs::rename(m.v(&from), m.v(&to)).unwrap();
            }
        }
        4 if !files.is_empty() => {
            let f = rng.pick(&files).unwrap();
            fs::remove_file(m.v(f)).unwrap()
        }
        5 if dirs.len() > 1 => {
            let d = dirs[1 + rng.below(dirs.len() - 1)];
            fs::remove_dir_all(m.v(d)).unwrap();
        }
        6 if !files.is_empty() => {
            let f = rng.pick(&files).unwrap();
            fs::set_permissions(m.v(f), fs::Permissions::from_mode(0o700)).unwrap();
        }
        _ => {
            let d = rng.pick(&dirs).unwrap();
            std::os::unix::fs::symlink("a.txt", m.v(&at(d, format!("ln{n}")))).unwrap();
        }
    }
}

/// A tree entry without its hard-link bookkeeping (which names the group's first path).
fn bare(entry: Option<&String>) -> Option<String> {
    entry.map(|e| {
        e.split(' ')
            .filter(|w| !w.starts_with("linkgroup=") && !w.starts_with("nlink="))
            .collect::<Vec<_>>()
            .join(" ")
    })
}

#[test]
fn random_partial_commits_publish_exactly_their_paths_and_keep_the_view() {
    // FTSB_PARTIAL_SEEDS runs more (240 pass).
    let seeds = std::env::var("FTSB_PARTIAL_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40u64);
    for seed in 0..seeds {
        let mut rng = Rng::new(seed);
        let m = Mounted::at(sample_tree);
        for n in 0..7 {
            random_change(&m, &mut rng, n);
        }
        let changed_now = changed(&m);
        if changed_now.is_empty() {
            continue;
        }
        let mut pick: Vec<&str> = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let p = rng.pick(&changed_now).unwrap().as_str();
            if !pick.contains(&p) {
                pick.push(p);
            }
        }
        let view_before = tree(&m.view, EXACT);
        let r = run_ok_json(&m, "commit", &pick);
        assert_trees_eq(
            &format!("seed {seed}: the view across commit {pick:?} of {changed_now:?}"),
            &view_before,
            &tree(&m.view, EXACT),
        );
        // What went is in the workspace exactly as the view shows it.
        let ws = tree(&m.ws, SHAPE);
        let view = tree(&m.view, SHAPE);
        for p in listed(&r["committed"]) {
            assert_eq!(
                bare(ws.get(&p)),
                bare(view.get(&p)),
                "seed {seed}: {p} after commit {pick:?} ({r})"
            );
        }
        // And the rest follows.
        m.commit();
        assert_trees_eq(
            &format!("seed {seed}: the workspace after the rest"),
            &tree(&m.view, SHAPE),
            &tree(&m.ws, SHAPE),
        );
    }
}
