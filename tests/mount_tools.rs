//! Real tools through the view. Each workflow runs twice: once followed by abort (the
//! workspace stays bit-identical before the abort, and the view equals it again after), and
//! once followed by a commit (the workspace then equals what the view showed).
//! A tool whose binary is missing skips its test loudly (and fails it under CI; see `common::skip`).

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use common::*;

/// A command in `dir` with a private HOME (outside the view) and no system git config.
fn cmd(m: &Mounted, dir: &Path, prog: &str, args: &[&str]) -> Command {
    let home = m.root.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut c = Command::new(prog);
    c.args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", home.join("gitconfig"))
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("npm_config_cache", home.join("npm-cache"))
        .env("npm_config_update_notifier", "false")
        .env("PIP_NO_CACHE_DIR", "1")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1");
    c
}

/// Runs `prog args` in `dir`, asserting success; returns stdout.
fn run(m: &Mounted, dir: &Path, prog: &str, args: &[&str]) -> String {
    let out = run_ok(&mut cmd(m, dir, prog, args));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What to do with the view's changes at the end of a workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Abort,
    Commit,
}

/// Mounts a workspace filled by `fill`, runs `body` in the view, checks isolation, then
/// aborts or commits and checks the result.
fn workflow(end: End, tools: &[&str], fill: impl FnOnce(&Path), body: impl FnOnce(&Mounted)) {
    if !tools.iter().all(|t| have(t)) {
        return;
    }
    let m = Mounted::at(fill);
    let before = tree(&m.ws, EXACT);
    body(&m);
    assert_trees_eq(
        "workspace changed before commit",
        &before,
        &tree(&m.ws, EXACT),
    );
    match end {
        End::Abort => check_isolation_then_abort(&m, &before),
        End::Commit => {
            let shown = tree(&m.view, EXACT);
            m.commit();
            assert_trees_eq(
                "workspace after commit vs view before",
                &shown,
                &tree(&m.ws, EXACT),
            );
            assert_trees_eq("view after commit", &shown, &tree(&m.view, EXACT));
        }
    }
}

/// Two tests per workflow: `NAME_abort` and `NAME_commit`.
macro_rules! tool_tests {
    ($abort:ident, $commit:ident, $tools:expr, $fill:expr, $body:expr) => {
        #[test]
        fn $abort() {
            workflow(End::Abort, $tools, $fill, $body);
        }

        #[test]
        fn $commit() {
            workflow(End::Commit, $tools, $fill, $body);
        }
    };
}

fn nothing(_: &Path) {}

fn git_workflow(m: &Mounted) {
    let r = m.v("repo");
    std::fs::create_dir(&r).unwrap();
    run(m, &r, "git", &["init", "-q", "-b", "main"]);
    std::fs::write(r.join("a.txt"), "one\ntwo\nthree\n").unwrap();
    std::fs::write(r.join("b.txt"), "b\n").unwrap();
    run(m, &r, "git", &["add", "."]);
    run(m, &r, "git", &["commit", "-q", "-m", "first"]);
    run(m, &r, "git", &["branch", "topic"]);
    run(m, &r, "git", &["checkout", "-q", "topic"]);
    std::fs::write(r.join("c.txt"), "topic\n").unwrap();
    run(m, &r, "git", &["add", "c.txt"]);
    run(m, &r, "git", &["commit", "-q", "-m", "topic work"]);
    run(m, &r, "git", &["checkout", "-q", "main"]);
    std::fs::write(r.join("a.txt"), "one\n2\nthree\n").unwrap();
    run(m, &r, "git", &["commit", "-q", "-am", "main work"]);
    run(m, &r, "git", &["checkout", "-q", "topic"]);
    run(m, &r, "git", &["rebase", "-q", "main"]);
    assert_eq!(
        std::fs::read_to_string(r.join("a.txt")).unwrap(),
        "one\n2\nthree\n"
    );
    assert_eq!(std::fs::read_to_string(r.join("c.txt")).unwrap(), "topic\n");
    let log = run(m, &r, "git", &["log", "--format=%s"]);
    assert_eq!(log, "topic work\nmain work\nfirst\n");
    run(m, &r, "git", &["gc", "-q", "--aggressive", "--prune=now"]);
    run(m, &r, "git", &["fsck", "--strict", "--no-progress"]);
    assert_eq!(run(m, &r, "git", &["status", "--porcelain"]), "");
    assert_eq!(run(m, &r, "git", &["rev-list", "--count", "HEAD"]), "3\n");
}

tool_tests!(
    git_init_commit_rebase_gc_abort,
    git_init_commit_rebase_gc_commit,
    &["git"],
    nothing,
    git_workflow
);

/// A workspace holding a git repository with a few commits.
fn repo_in_workspace(ws: &Path) {
    let r = ws.join("src");
    std::fs::create_dir(&r).unwrap();
    let git = |args: &[&str]| {
        run_ok(
            Command::new("git")
                .args(args)
                .current_dir(&r)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@example.com")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@example.com"),
        )
    };
    git(&["init", "-q", "-b", "main"]);
    for i in 0..5 {
        std::fs::write(r.join(format!("f{i}.txt")), format!("file {i}\n")).unwrap();
        git(&["add", "."]);
        git(&["commit", "-q", "-m", &format!("c{i}")]);
    }
}

fn git_clone_workflow(m: &Mounted) {
    // A local clone hard-links the objects: link(2) of unchanged workspace files.
    run(m, &m.view, "git", &["clone", "-q", "src", "dst"]);
    let d = m.v("dst");
    assert_eq!(run(m, &d, "git", &["rev-list", "--count", "HEAD"]), "5\n");
    assert_eq!(
        std::fs::read_to_string(d.join("f3.txt")).unwrap(),
        "file 3\n"
    );
    run(m, &d, "git", &["fsck", "--strict", "--no-progress"]);
    // And one that copies, then work in it.
    run(
        m,
        &m.view,
        "git",
        &["clone", "-q", "--no-hardlinks", "src", "dst2"],
    );
    let d2 = m.v("dst2");
    std::fs::write(d2.join("f0.txt"), "changed\n").unwrap();
    run(m, &d2, "git", &["commit", "-q", "-am", "in the clone"]);
    assert_eq!(run(m, &d2, "git", &["rev-list", "--count", "HEAD"]), "6\n");
    run(m, &d2, "git", &["fsck", "--strict", "--no-progress"]);
}

tool_tests!(
    git_clone_local_abort,
    git_clone_local_commit,
    &["git"],
    repo_in_workspace,
    git_clone_workflow
);

fn cargo_workflow(m: &Mounted) {
    let c = m.v("tiny");
    std::fs::create_dir_all(c.join("src")).unwrap();
    std::fs::write(
        c.join("Cargo.toml"),
        "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n",
    )
    .unwrap();
    std::fs::write(
        c.join("src/main.rs"),
        "fn main() { println!(\"tiny says {}\", 6 * 7); }\n",
    )
    .unwrap();
    let mut build = cmd(m, &c, "cargo", &["build", "--offline", "--quiet"]);
    build.env_remove("CARGO_TARGET_DIR").env_remove("RUSTFLAGS");
    run_ok(&mut build);
    let out = run(m, &c, "target/debug/tiny", &[]);
    assert_eq!(out, "tiny says 42\n");
    // An incremental rebuild after an edit.
    std::fs::write(
        c.join("src/main.rs"),
        "fn main() { println!(\"edited\"); }\n",
    )
    .unwrap();
    run_ok(&mut build);
    assert_eq!(run(m, &c, "target/debug/tiny", &[]), "edited\n");
}

tool_tests!(
    cargo_build_offline_abort,
    cargo_build_offline_commit,
    &["cargo"],
    nothing,
    cargo_workflow
);

/// A wheel for package `tinypkg`, written by hand (a wheel is a zip with metadata).
const MAKE_WHEEL: &str = r#"
import base64, hashlib, sys, zipfile
files = {
    "tinypkg/__init__.py": b"ANSWER = 42\n",
    "tinypkg-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n",
    "tinypkg-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = ""
for name, data in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record += f"{name},sha256={digest},{len(data)}\n"
record += "tinypkg-1.0.dist-info/RECORD,,\n"
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for name, data in files.items():
        z.writestr(name, data)
    z.writestr("tinypkg-1.0.dist-info/RECORD", record)
"#;

fn pip_workflow(m: &Mounted) {
    let whl = m.v("tinypkg-1.0-py3-none-any.whl");
    run(
        m,
        &m.view,
        "python3",
        &["-c", MAKE_WHEEL, whl.to_str().unwrap()],
    );
    run(m, &m.view, "python3", &["-m", "venv", "venv"]);
    run(
        m,
        &m.view,
        "venv/bin/python",
        &[
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--no-deps",
            whl.to_str().unwrap(),
        ],
    );
    let out = run(
        m,
        &m.view,
        "venv/bin/python",
        &["-c", "import tinypkg; print(tinypkg.ANSWER)"],
    );
    assert_eq!(out, "42\n");
    let list = run(
        m,
        &m.view,
        "venv/bin/python",
        &["-m", "pip", "list", "--format=freeze"],
    );
    assert!(list.contains("tinypkg==1.0"), "{list}");
}

tool_tests!(
    python_venv_pip_install_abort,
    python_venv_pip_install_commit,
    &["python3"],
    nothing,
    pip_workflow
);

fn npm_workflow(m: &Mounted) {
    let pkg = m.v("tinypkg");
    std::fs::create_dir(&pkg).unwrap();
    std::fs::write(
        pkg.join("package.json"),
        r#"{"name":"tinypkg","version":"1.0.0","main":"index.js"}"#,
    )
    .unwrap();
    std::fs::write(pkg.join("index.js"), "module.exports = { answer: 42 };\n").unwrap();
    let app = m.v("app");
    std::fs::create_dir(&app).unwrap();
    std::fs::write(
        app.join("package.json"),
        r#"{"name":"app","version":"1.0.0","private":true}"#,
    )
    .unwrap();
    let quiet = ["--offline", "--no-audit", "--no-fund", "--loglevel=error"];
    // A packed tarball (extracted by npm through the view) and a linked directory.
    run(
        m,
        &pkg,
        "npm",
        &["pack", "--silent", "--pack-destination", ".."],
    );
    let mut args = vec!["install"];
    args.extend(quiet);
    args.push("../tinypkg-1.0.0.tgz");
    run(m, &app, "npm", &args);
    let out = run(
        m,
        &app,
        "node",
        &["-e", "console.log(require('tinypkg').answer)"],
    );
    assert_eq!(out, "42\n");
    assert!(app.join("package-lock.json").is_file());
    std::fs::write(app.join("node_modules/tinypkg/index.js"), "stale").unwrap();
    let mut args = vec!["install", "--install-links=false"];
    args.extend(quiet);
    args.push("../tinypkg");
    run(m, &app, "npm", &args);
    let link = std::fs::read_link(app.join("node_modules/tinypkg")).unwrap();
    assert_eq!(link, Path::new("../../tinypkg"));
    let out = run(
        m,
        &app,
        "node",
        &["-e", "console.log(require('tinypkg').answer)"],
    );
    assert_eq!(out, "42\n");
}

tool_tests!(
    npm_install_local_abort,
    npm_install_local_commit,
    &["npm", "node"],
    nothing,
    npm_workflow
);

fn tar_workflow(m: &Mounted) {
    run(
        m,
        &m.view,
        "tar",
        &[
            "--xattrs",
            "--xattrs-include=user.*",
            "-cpf",
            "out.tar",
            "-C",
            "tree",
            ".",
        ],
    );
    std::fs::create_dir(m.v("x")).unwrap();
    run(
        m,
        &m.view,
        "tar",
        &[
            "--xattrs",
            "--xattrs-include=user.*",
            "-xpf",
            "out.tar",
            "-C",
            "x",
        ],
    );
    assert_trees_eq(
        "tar round trip",
        &tree(&m.v("tree"), EXACT),
        &tree(&m.v("x"), EXACT),
    );
    // An archive of the view equals one of the workspace, extracted outside.
    let outside = m.root.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let tarball = m.v("out.tar");
    run(
        m,
        &outside,
        "tar",
        &[
            "--xattrs",
            "--xattrs-include=user.*",
            "-xpf",
            tarball.to_str().unwrap(),
        ],
    );
    assert_trees_eq(
        "extracted outside",
        &tree(&m.w("tree"), EXACT),
        &tree(&outside, EXACT),
    );
}

fn tree_in_workspace(ws: &Path) {
    let t = ws.join("tree");
    std::fs::create_dir(&t).unwrap();
    sample_tree(&t);
}

tool_tests!(
    tar_create_extract_abort,
    tar_create_extract_commit,
    &["tar"],
    tree_in_workspace,
    tar_workflow
);

fn rsync_workflow(m: &Mounted) {
    run(m, &m.view, "rsync", &["-aHX", "tree/", "copy/"]);
    assert_trees_eq(
        "rsync within the view",
        &tree(&m.v("tree"), EXACT),
        &tree(&m.v("copy"), EXACT),
    );
    // Into the view from outside, then an update pass that only changes one file.
    let outside = m.root.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    sample_tree(&outside);
    std::fs::write(outside.join("a.txt"), "from outside\n").unwrap();
    // Other times than the view's files (rsync compares mtimes in whole seconds), so rsync
    // must set them through the view.
    sh(&outside, "find . -exec touch -h -d @1500000000 {} +");
    let src = format!("{}/", outside.display());
    run(m, &m.view, "rsync", &["-aHX", "--delete", &src, "tree/"]);
    assert_trees_eq(
        "rsync into the view",
        &tree(&outside, EXACT),
        &tree(&m.v("tree"), EXACT),
    );
    std::fs::write(outside.join("dir/c.txt"), "changed again\n").unwrap();
    std::fs::remove_file(outside.join("b.txt")).unwrap();
    run(m, &m.view, "rsync", &["-aHX", "--delete", &src, "tree/"]);
    assert_trees_eq(
        "rsync update",
        &tree(&outside, EXACT),
        &tree(&m.v("tree"), EXACT),
    );
}

tool_tests!(
    rsync_archive_abort,
    rsync_archive_commit,
    &["rsync"],
    tree_in_workspace,
    rsync_workflow
);

/// `cp -p` and `cp -a` set a copy's mode through its access ACL (`fsetxattr` of
/// `system.posix_acl_access`), not `chmod`: the copy must show the original's mode at once.
fn cp_workflow(m: &Mounted) {
    use std::os::unix::fs::PermissionsExt;
    let modes = [("a.txt", 0o640), ("b.txt", 0o751), ("dir", 0o750)];
    for (name, mode) in modes {
        let p = m.v("tree").join(name);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    run(m, &m.view, "cp", &["-a", "tree", "copy"]);
    run(m, &m.view, "cp", &["-p", "tree/a.txt", "kept.txt"]);
    assert_trees_eq(
        "cp -a within the view",
        &tree(&m.v("tree"), EXACT),
        &tree(&m.v("copy"), EXACT),
    );
    let mode = std::fs::metadata(m.v("kept.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o640, "cp -p");
}

tool_tests!(
    cp_preserving_abort,
    cp_preserving_commit,
    &["cp"],
    tree_in_workspace,
    cp_workflow
);

fn sqlite_workflow(m: &Mounted) {
    let db = m.v("db.sqlite");
    let sql = |script: &str| {
        let out = run_ok(
            cmd(m, &m.view, "sqlite3", &["-batch", db.to_str().unwrap()])
                .stdin(std::process::Stdio::piped())
                .arg(script),
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(sql("PRAGMA journal_mode=WAL;"), "wal");
    sql("CREATE TABLE t(writer INTEGER, n INTEGER, pad TEXT);");
    // Two writer processes at once, each committing many small transactions.
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let mut script = String::from(".timeout 20000\n");
            for n in 0..150 {
                script.push_str(&format!(
                    "BEGIN IMMEDIATE; INSERT INTO t VALUES({w}, {n}, hex(randomblob(200))); COMMIT;\n"
                ));
            }
            let mut c = cmd(m, &m.view, "sqlite3", &["-batch", "-bail", db.to_str().unwrap()]);
            c.stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            let mut child = c.spawn().unwrap();
            child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
            child
        })
        .collect();
    for child in writers {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "writer failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        sql("SELECT count(*), count(DISTINCT writer || '-' || n) FROM t;"),
        "300|300"
    );
    assert_eq!(sql("PRAGMA integrity_check;"), "ok");
    assert_eq!(sql("PRAGMA wal_checkpoint(TRUNCATE);"), "0|0|0");
    assert_eq!(sql("PRAGMA journal_mode;"), "wal");
}

tool_tests!(
    sqlite_wal_two_writers_abort,
    sqlite_wal_two_writers_commit,
    &["sqlite3"],
    nothing,
    sqlite_workflow
);

fn editor_save(m: &Mounted) {
    // Save-by-rename as editors do it: write a temp file, fsync it, give it the original's
    // mode, rename it over the original, fsync the directory.
    for name in ["run.sh", "a.txt"] {
        let orig = m.v(name);
        let mode = std::fs::metadata(&orig).unwrap().mode() & 0o7777;
        let tmp = m.v(&format!(".{name}.swp"));
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .unwrap();
        f.write_all(b"saved by the editor\n").unwrap();
        f.sync_all().unwrap();
        f.set_permissions(std::fs::Permissions::from_mode(mode))
            .unwrap();
        drop(f);
        std::fs::rename(&tmp, &orig).unwrap();
        std::fs::File::open(&m.view).unwrap().sync_all().unwrap();
        assert_eq!(
            std::fs::read_to_string(&orig).unwrap(),
            "saved by the editor\n"
        );
        assert_eq!(std::fs::metadata(&orig).unwrap().mode() & 0o7777, mode);
        assert!(!tmp.exists());
    }
    assert_eq!(
        std::fs::metadata(m.v("run.sh")).unwrap().mode() & 0o7777,
        0o755
    );
}

tool_tests!(
    editor_save_by_rename_abort,
    editor_save_by_rename_commit,
    &["sh"],
    sample_tree,
    editor_save
);

#[test]
fn rollback_to_a_checkpoint_in_the_middle_of_a_git_session() {
    if !have("git") {
        return;
    }
    let m = Mounted::at(repo_in_workspace);
    let before = tree(&m.ws, EXACT);
    let r = m.v("src");
    std::fs::write(r.join("f1.txt"), "edited\n").unwrap();
    run(&m, &r, "git", &["commit", "-q", "-am", "edit"]);
    let id = m.ok(&["checkpoint", "-m", "after edit"]).trim().to_owned();
    let at_checkpoint = tree(&m.view, EXACT);
    // More work: a branch, a rebase, a gc that repacks every object, a new clone.
    run(&m, &r, "git", &["checkout", "-q", "-b", "side", "HEAD~2"]);
    std::fs::write(r.join("side.txt"), "side\n").unwrap();
    run(&m, &r, "git", &["add", "side.txt"]);
    run(&m, &r, "git", &["commit", "-q", "-m", "side"]);
    run(&m, &r, "git", &["rebase", "-q", "main"]);
    run(&m, &r, "git", &["gc", "-q", "--prune=now"]);
    run(&m, &m.view, "git", &["clone", "-q", "src", "clone"]);
    m.ok(&["rollback", "--to", &id]);
    assert_trees_eq("view after rollback", &at_checkpoint, &tree(&m.view, EXACT));
    assert_eq!(run(&m, &r, "git", &["log", "-1", "--format=%s"]), "edit\n");
    run(&m, &r, "git", &["fsck", "--strict", "--no-progress"]);
    assert_trees_eq("workspace", &before, &tree(&m.ws, EXACT));
    check_isolation_then_abort(&m, &before);
}
