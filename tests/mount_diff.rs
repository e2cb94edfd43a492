//! `diff` speaks git's extended patch format: `ftsb-fs diff --binary | git apply` on a clone
//! of the workspace gives exactly the view's tree, and the one-line formats list each change
//! once.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;

use common::*;

/// Whether git is here; without it the test cannot run (a failure in CI).
fn need_git() -> bool {
    if have("git") {
        return true;
    }
    eprintln!("SKIPPED: git is not installed; the patch tests need it");
    assert!(
        std::env::var_os("CI").is_none() && std::env::var("FTSB_REQUIRE_ALL").as_deref() != Ok("1"),
        "git is required here"
    );
    false
}

fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    run_ok(
        Command::new("git")
            .args(["-c", "user.email=t@example.org", "-c", "user.name=t"])
            .args(["-c", "core.autocrlf=false"])
            .arg("-C")
            .arg(dir)
            .args(args),
    )
}

/// A git checkout with one of everything.
fn repo(ws: &Path) {
    fs::write(ws.join("a.txt"), "alpha\n").unwrap();
    fs::write(ws.join("b.txt"), "bravo\n").unwrap();
    fs::write(ws.join("script.sh"), "#!/bin/sh\necho hi\n").unwrap();
    fs::write(
        ws.join("old.txt"),
        "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\n",
    )
    .unwrap();
    fs::write(ws.join("same.txt"), "moves unchanged\n").unwrap();
    fs::write(ws.join("noeol.txt"), "no newline at the end").unwrap();
    let mut bin: Vec<u8> = (0..4000u32).map(|i| (i * 7 % 251) as u8).collect();
    bin[10] = 0;
    fs::write(ws.join("bin.dat"), &bin).unwrap();
    fs::create_dir_all(ws.join("tree/inner")).unwrap();
    fs::write(ws.join("tree/keep.txt"), "kept as is\n").unwrap();
    fs::write(ws.join("tree/edit.txt"), "edit me\n").unwrap();
    fs::write(ws.join("tree/gone.txt"), "delete me\n").unwrap();
    fs::write(ws.join("tree/inner/deep.txt"), "deep\n").unwrap();
    symlink("keep.txt", ws.join("tree/inner/up")).unwrap();
    fs::create_dir_all(ws.join("olddir/nested")).unwrap();
    fs::write(ws.join("olddir/x.txt"), "x\n").unwrap();
    fs::write(ws.join("olddir/nested/y.txt"), "y\n").unwrap();
    symlink("a.txt", ws.join("link")).unwrap();
    symlink("b.txt", ws.join("oldlink")).unwrap();
    git(ws, &["init", "-q"]);
    git(ws, &["add", "-A"]);
    git(ws, &["commit", "-q", "-m", "base"]);
}

/// Every object but `.git` and the root itself.
fn files(dir: &Path) -> BTreeMap<String, String> {
    tree(dir, SHAPE)
        .into_iter()
        .filter(|(k, _)| k != "." && k != ".git" && !k.starts_with(".git/"))
        .collect()
}

#[test]
fn diff_binary_applies_with_git_and_gives_the_view_exactly() {
    if !need_git() {
        return;
    }
    let m = Mounted::at(repo);
    let clone = m.root.path().join("clone");
    run_ok(
        Command::new("git")
            .args(["clone", "-q"])
            .arg(&m.ws)
            .arg(&clone),
    );

    // Adds (a file, a file in new directories, a binary file, a symlink, an odd name).
    fs::write(m.v("new.txt"), "brand new\n").unwrap();
    fs::create_dir_all(m.v("newdir/deep")).unwrap();
    fs::write(m.v("newdir/deep/n.txt"), "deep\n").unwrap();
    fs::write(m.v("newbin.dat"), [0u8, 1, 2, 255, 0, 9]).unwrap();
    symlink("renamed.txt", m.v("newlink")).unwrap();
    fs::write(m.v("we\tird \"name\".txt"), "odd\n").unwrap();
    // Deletes: a file, a symlink, a whole directory.
    fs::remove_file(m.v("b.txt")).unwrap();
    fs::remove_file(m.v("oldlink")).unwrap();
    fs::remove_dir_all(m.v("olddir")).unwrap();
    // A mode change, a rename with a change, a pure rename, content without a final newline.
    fs::set_permissions(m.v("script.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::rename(m.v("old.txt"), m.v("renamed.txt")).unwrap();
    fs::write(
        m.v("renamed.txt"),
        "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\n",
    )
    .unwrap();
    fs::rename(m.v("same.txt"), m.v("moved.txt")).unwrap();
    // A new file at a renamed file's old path.
    fs::write(m.v("same.txt"), "a newcomer\n").unwrap();
    fs::write(m.v("noeol.txt"), "still no newline, changed").unwrap();
    // A renamed directory, with a change, a deletion and an addition inside.
    fs::rename(m.v("tree"), m.v("forest")).unwrap();
    fs::write(m.v("forest/edit.txt"), "edited\n").unwrap();
    fs::remove_file(m.v("forest/gone.txt")).unwrap();
    fs::write(m.v("forest/inner/added.txt"), "added\n").unwrap();
    // A binary change and a symlink change.
    let mut bin = fs::read(m.v("bin.dat")).unwrap();
    bin[100] ^= 0xff;
    bin.extend_from_slice(&[0, 0, 7]);
    fs::write(m.v("bin.dat"), &bin).unwrap();
    fs::remove_file(m.v("link")).unwrap();
    symlink("new.txt", m.v("link")).unwrap();

    let patch = run_ok(m.cmd().args(["diff", "--binary"]).arg(&m.ws)).stdout;
    let patch_file = m.root.path().join("view.patch");
    fs::write(&patch_file, &patch).unwrap();
    let text = String::from_utf8_lossy(&patch);
    for needle in [
        "diff --git a/script.sh b/script.sh\nold mode 100644\nnew mode 100755\n",
        "similarity index 100%\nrename from same.txt\nrename to moved.txt\n",
        "rename from old.txt\nrename to renamed.txt\n",
        "--- /dev/null\n+++ b/new.txt\n",
        "deleted file mode 100644\n",
        "new file mode 120000\n",
        "GIT binary patch\nliteral ",
        "-a.txt\n\\ No newline at end of file\n+new.txt\n\\ No newline at end of file\n",
        "diff --git \"a/we\\tird \\\"name\\\".txt\" \"b/we\\tird \\\"name\\\".txt\"\n",
        "diff --git a/olddir/nested/y.txt b/olddir/nested/y.txt\ndeleted file mode 100644\n",
        "rename from tree/inner/deep.txt\nrename to forest/inner/deep.txt\n",
        "diff --git a/tree/gone.txt b/tree/gone.txt\ndeleted file mode 100644\n",
    ] {
        assert!(text.contains(needle), "the patch lacks {needle:?}:\n{text}");
    }
    assert!(
        !text.contains("diff --git a/old.txt b/old.txt"),
        "the rename's source is listed again as deleted:\n{text}"
    );

    run_ok(
        Command::new("git")
            .arg("-C")
            .arg(&clone)
            .args(["apply", "--check"])
            .arg(&patch_file),
    );
    run_ok(
        Command::new("git")
            .arg("-C")
            .arg(&clone)
            .arg("apply")
            .arg(&patch_file),
    );
    assert_trees_eq(
        "the clone after git apply vs the view",
        &files(&m.view),
        &files(&clone),
    );
}

#[test]
fn a_rename_is_listed_once_in_every_format() {
    let m = Mounted::at(sample_tree);
    fs::rename(m.v("a.txt"), m.v("renamed.txt")).unwrap();
    fs::write(m.v("b.txt"), "changed\n").unwrap();
    fs::write(m.v("ctl\x1b[31mname"), "x\n").unwrap();

    let ns = m.ok(&["diff", "--name-status"]);
    let lines: Vec<&str> = ns.lines().collect();
    assert_eq!(
        lines,
        [
            "M\tb.txt",
            "A\t\"ctl\\033[31mname\"",
            "R100\ta.txt\trenamed.txt"
        ],
        "{ns}"
    );
    let stat = m.ok(&["diff", "--stat"]);
    assert_eq!(stat.matches("a.txt").count(), 1, "{stat}");
    assert!(
        !stat.contains('\x1b'),
        "a control character went raw to the terminal: {stat:?}"
    );
    let text = m.ok(&["diff"]);
    assert_eq!(text.matches("diff --git").count(), 3, "{text}");
    assert!(
        !text.contains('\x1b'),
        "a control character went raw to the terminal"
    );
    let json: serde_json::Value = serde_json::from_str(&m.ok(&["--json", "diff"])).unwrap();
    let paths: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["b.txt", "ctl\x1b[31mname", "renamed.txt"]);
    let renamed = &json[2];
    assert_eq!(renamed["change"]["renamed"]["from"], "a.txt");
    assert_eq!(renamed["similarity"], 100);
}

#[test]
fn json_keeps_names_that_are_not_utf8() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let m = Mounted::at(sample_tree);
    let name = OsStr::from_bytes(b"caf\xe9.txt");
    fs::write(m.view.join(name), "x\n").unwrap();
    let json: serde_json::Value = serde_json::from_str(&m.ok(&["--json", "diff"])).unwrap();
    let e = &json[0];
    assert_eq!(e["path_b64"], "Y2Fm6S50eHQ=", "{e}");
    let text = m.ok(&["diff"]);
    assert!(
        text.contains("diff --git \"a/caf\\351.txt\" \"b/caf\\351.txt\""),
        "{text}"
    );
}

#[test]
fn gitignore_hides_changes_from_diff_and_status_but_not_from_commit() {
    let m = Mounted::at(|ws: &Path| {
        fs::write(ws.join(".gitignore"), "target/\n*.log\n").unwrap();
        fs::create_dir(ws.join("sub")).unwrap();
        fs::write(ws.join("sub/.gitignore"), "!keep.log\n").unwrap();
        fs::write(ws.join("src.rs"), "fn a() {}\n").unwrap();
    });
    fs::create_dir_all(m.v("target/debug")).unwrap();
    fs::write(m.v("target/debug/app"), "binary\n").unwrap();
    fs::write(m.v("build.log"), "noise\n").unwrap();
    fs::write(m.v("sub/keep.log"), "kept by a negation\n").unwrap();
    fs::write(m.v("sub/other.log"), "noise\n").unwrap();
    fs::write(m.v("src.rs"), "fn a() { b() }\n").unwrap();

    let lines = |out: String| -> Vec<String> { out.lines().map(str::to_owned).collect() };
    assert_eq!(
        lines(m.ok(&["diff", "--name-status"])),
        ["M\tsrc.rs", "A\tsub/keep.log"]
    );
    let all = lines(m.ok(&["diff", "--name-status", "--ignored"]));
    for p in ["A\tbuild.log", "A\ttarget/debug/app", "A\tsub/other.log"] {
        assert!(all.contains(&p.to_owned()), "--ignored lacks {p}: {all:?}");
    }
    // Path filters (the workspace comes first).
    let sub = run_ok(
        m.cmd()
            .args(["diff", "--name-status"])
            .arg(&m.ws)
            .arg("sub"),
    );
    assert_eq!(String::from_utf8_lossy(&sub.stdout), "A\tsub/keep.log\n");
    let text = m.ok(&["diff"]);
    assert!(!text.contains("target/"), "{text}");
    let status = m.ok(&["status"]);
    assert!(
        status.contains("  M src.rs\n") && status.contains("  A sub/keep.log\n"),
        "{status}"
    );
    assert!(
        status.contains("5 changes hidden by .gitignore"),
        "{status}"
    );
    let s: serde_json::Value = serde_json::from_str(&m.ok(&["--json", "status"])).unwrap();
    assert_eq!(s["changes"].as_array().unwrap().len(), 2, "{s}");
    // build.log, sub/other.log, and target, target/debug, target/debug/app.
    assert_eq!(s["hidden_by_gitignore"], 5, "{s}");

    // Unless asked, commit publishes what .gitignore hides; asked, it leaves it in the view.
    m.ok(&["commit", "--exclude-ignored"]);
    assert_eq!(
        fs::read_to_string(m.w("src.rs")).unwrap(),
        "fn a() { b() }\n"
    );
    assert!(m.w("sub/keep.log").exists());
    for p in ["build.log", "sub/other.log", "target"] {
        assert!(!m.w(p).exists(), "--exclude-ignored published {p}");
    }
    assert_eq!(
        fs::read_to_string(m.v("target/debug/app")).unwrap(),
        "binary\n"
    );
    m.commit();
    assert_eq!(
        fs::read_to_string(m.w("target/debug/app")).unwrap(),
        "binary\n"
    );
    assert_eq!(fs::read_to_string(m.w("build.log")).unwrap(), "noise\n");
}

#[test]
fn a_rename_over_save_is_a_modification_without_a_false_conflict() {
    if !have("sed") {
        eprintln!("SKIPPED: sed is not installed");
        return;
    }
    let m = Mounted::at(sample_tree);
    // sed -i writes a temporary file next to the original and renames it over it, as
    // editors and formatters do.
    run_ok(
        Command::new("sed")
            .args(["-i", "s/alpha/ALPHA/"])
            .arg(m.v("a.txt")),
    );
    fs::write(m.v(".b.txt.swp"), "bravo, saved\n").unwrap();
    fs::rename(m.v(".b.txt.swp"), m.v("b.txt")).unwrap();

    let s: serde_json::Value = serde_json::from_str(&m.ok(&["--json", "status"])).unwrap();
    assert_eq!(s["conflicts"], serde_json::json!([]), "{s}");
    let d: serde_json::Value = serde_json::from_str(&m.ok(&["--json", "diff"])).unwrap();
    let changes: Vec<(&str, &str)> = d
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap(),
                e["change"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [("a.txt", "modified"), ("b.txt", "modified")],
        "{d}"
    );
    let text = m.ok(&["diff"]);
    assert!(
        text.contains("--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-alpha\n+ALPHA\n"),
        "{text}"
    );
    assert!(!text.contains("new file mode"), "{text}");
    m.commit();
    assert_eq!(fs::read_to_string(m.w("a.txt")).unwrap(), "ALPHA\n");
}

#[test]
fn a_real_conflict_is_listed_and_blocks_commit_unless_forced() {
    let m = Mounted::at(sample_tree);
    fs::write(m.v("a.txt"), "from the view\n").unwrap();
    // Someone edits the workspace file directly after the view copied it.
    fs::write(m.w("a.txt"), "from outside\n").unwrap();
    let status = m.ok(&["status"]);
    assert!(status.contains("conflicts  1"), "{status}");
    assert!(status.contains("  a.txt ("), "{status}");
    let s: serde_json::Value = serde_json::from_str(&m.ok(&["--json", "status"])).unwrap();
    assert_eq!(s["conflicts"][0]["path"], "a.txt", "{s}");
    assert_error(
        &m.try_(&["commit"]),
        "changed in the workspace outside the view: a.txt",
    );
    assert_eq!(fs::read_to_string(m.w("a.txt")).unwrap(), "from outside\n");
    m.ok(&["commit", "--force"]);
    assert_eq!(fs::read_to_string(m.w("a.txt")).unwrap(), "from the view\n");
}
