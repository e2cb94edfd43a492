//! The cgroup containment of `exec`, attacked on a real mount: a background writer that left
//! the command's process tree outlives neither a SIGKILLed `exec` nor the daemon's rollback;
//! the command cannot leave or remove its cgroup; and no cgroup is left behind.
//!
//! Needs a writable cgroup v2 hierarchy (root here and under CI): without one these tests
//! skip loudly, and fail under `CI` or `FTSB_REQUIRE_ALL=1`.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::process::{Output, Stdio};
use std::time::Duration;

use common::procs::*;
use common::*;
use ftsb_fs::confine::cgroup;

/// `exec --json WS -- sh -c SCRIPT`: the parsed result.
fn exec_json(m: &Mounted, script: &str) -> (serde_json::Value, Output) {
    let (v, out, _) = exec_json_pid(m, script);
    (v, out)
}

/// [`exec_json`], with the pid `exec` ran as (it names the cgroup leaf `exec` made).
fn exec_json_pid(m: &Mounted, script: &str) -> (serde_json::Value, Output, u32) {
    let mut c = m.cmd();
    c.args(["--json", "exec"])
        .arg(&m.ws)
        .args(["--", "sh", "-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {c:?}: {e}"));
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    // What the command printed comes first; the result is the JSON object after it.
    let text = String::from_utf8_lossy(&out.stdout);
    let json = text.rfind("\n{\n").map_or(&text[..], |at| &text[at + 1..]);
    let v = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    (v, out, pid)
}

/// Whether `exec` runs its commands in a cgroup here; skips loudly (or fails when required)
/// when it cannot.
fn cgroups_usable(m: &Mounted) -> bool {
    let (v, out) = exec_json(m, "true");
    let ok = v["processes"]["containment"] == "cgroup";
    require(
        ok,
        "cgroup containment",
        &format!(
            "exec fell back to {} (no writable cgroup v2 hierarchy): {}",
            v["processes"]["containment"],
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Starts `exec` (with cgroups forced off unless `cgroups`) of a command that leaves a
/// double-forked, `setsid` writer behind, which appends to a log in the view and deletes
/// `b.txt` every 50 ms; returns `exec` and the writer's pid once it writes.
fn start_writer(m: &Mounted, cgroups: bool) -> (std::process::Child, i32) {
    let mut c = m.cmd();
    c.arg("exec")
        .arg(&m.ws)
        .args(["--", "sh", "-c"])
        .arg(
            "( setsid sh -c 'echo $$ > writer.pid; \
               while :; do echo x >> bg.log; rm -f b.txt; sleep 0.05; done' & ) ; \
             echo started > started; exec sleep 60",
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if !cgroups {
        c.env(cgroup::DISABLE_ENV, "off");
    }
    let exec = c.spawn().unwrap();
    wait_for("the writer runs", || {
        m.v("started").exists() && m.v("bg.log").exists()
    });
    let writer = read_pid(&m.v("writer.pid")).unwrap();
    assert!(alive(writer), "the writer should be running");
    (exec, writer)
}

/// SIGKILLs `exec`: the daemon rolls back, the writer is dead by then, and the view is
/// `before` and stays so.
fn kill_and_check(
    m: &Mounted,
    mut exec: std::process::Child,
    writer: i32,
    before: &std::collections::BTreeMap<String, String>,
    what: &str,
) {
    exec.kill().unwrap();
    exec.wait().unwrap();
    wait_for("the daemon rolled back", || !m.v("started").exists());
    assert!(!alive(writer), "{what}: the writer outlived the rollback");
    std::thread::sleep(Duration::from_millis(2500));
    assert_trees_eq(
        &format!("view 2.5 s after the rollback of a {what}"),
        before,
        &tree(&m.view, EXACT),
    );
}

/// The attack of the known gap of the subreaper alone: `exec` is SIGKILLed while its command
/// has a double-forked, `setsid` writer that left its process tree. The daemon sees the
/// connection close, kills the cgroup and only then rolls back: the writer is dead, the view
/// is the one before the command and stays so, and the cgroup is gone.
#[test]
fn a_sigkilled_exec_leaves_no_writer_behind_its_rollback() {
    let m = Mounted::at(sample_tree);
    if !cgroups_usable(&m) {
        return;
    }
    let before = tree(&m.view, EXACT);
    let (exec, writer) = start_writer(&m, true);
    let exec_pid = exec.id();
    assert_eq!(leaves_of(exec_pid).len(), 1, "exec made no cgroup");
    // The daemon rolls back once the cgroup is empty, then removes it.
    kill_and_check(&m, exec, writer, &before, "killed exec");
    wait_for("the cgroup is removed", || leaves_of(exec_pid).is_empty());
    m.abort();
}

/// From inside, the command tries to leave its cgroup (write its pid into the parent's or
/// the root's `cgroup.procs`, `clone3` into the parent with `CLONE_INTO_CGROUP`) and to
/// remove or kill its cgroup: every attempt fails, and nothing it started survives `exec`.
#[test]
fn the_command_cannot_leave_or_remove_its_cgroup() {
    let root = cgroup::mount_point().unwrap_or_default();
    // The leaf is the command's own cgroup; its parent is exec's.
    let script = format!(
        r#"
leaf=/{root}$(sed -n 's/^0:://p' /proc/self/cgroup)
case "$leaf" in */ftsb-fs-exec-*) echo in-leaf ;; esac
parent=$(dirname "$leaf")
for target in "$parent" "/{root}"; do
  (echo $$ > "$target/cgroup.procs") 2>/dev/null && echo escaped-by-procs
done
rmdir "$leaf" 2>/dev/null && echo removed
mkdir "$leaf/sub" 2>/dev/null && echo nested
(echo 1 > "$leaf/cgroup.kill") 2>/dev/null && echo self-kill
perl -e '
  use POSIX; use Fcntl;
  sysopen(my $d, $ARGV[0], O_RDONLY | O_DIRECTORY) or die "open: $!";
  # struct clone_args: flags, pidfd, child_tid, parent_tid, exit_signal, stack,
  # stack_size, tls, set_tid, set_tid_size, cgroup.
  my $args = pack("Q11", 0x200000000, 0, 0, 0, 17, 0, 0, 0, 0, 0, fileno($d));
  my $pid = syscall(435, $args, length $args);
  if ($pid == 0) {{ sleep 3; open(my $f, ">", "escaped.late"); POSIX::_exit(0) }}
  if ($pid > 0) {{ print "escaped-by-clone3\n" }} else {{ print "clone3: ", $!+0, "\n" }}
' "$parent"
sed -n 's/^0:://p' /proc/self/cgroup
exit 1
"#,
        root = root.display().to_string().trim_start_matches('/'),
    );
    // A script file, so the gate (which would refuse these redirections on the command line)
    // lets it through to the kernel's protections.
    let m = Mounted::at(|ws| {
        sample_tree(ws);
        std::fs::write(ws.join("escape.sh"), &script).unwrap();
    });
    if !cgroups_usable(&m) || !have("perl") {
        return;
    }
    let before = tree(&m.view, EXACT);
    let (v, out) = exec_json(&m, "sh escape.sh");
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(v["processes"]["containment"], "cgroup", "{v}");
    assert!(
        said.contains("in-leaf"),
        "the command ran outside its leaf: {said}"
    );
    for escape in [
        "escaped-by-procs",
        "removed",
        "nested",
        "self-kill",
        "escaped-by-clone3",
    ] {
        assert!(!said.contains(escape), "{escape}: {said}");
    }
    assert!(
        said.contains(&format!("clone3: {}", libc::ENOSYS)),
        "clone3 should fail with ENOSYS: {said}"
    );
    std::thread::sleep(Duration::from_secs(4));
    assert_trees_eq(
        "view after the escape attempts",
        &before,
        &tree(&m.view, EXACT),
    );
    m.abort();
}

/// Every exec, whatever its end (success, failure, a killed exec swept by the next one),
/// leaves no cgroup behind.
#[test]
fn exec_leaves_no_cgroup_behind() {
    let m = Mounted::at(sample_tree);
    if !cgroups_usable(&m) {
        return;
    }
    let (v, _, first) = exec_json_pid(&m, "( setsid sleep 30 & ) ; exit 0");
    assert!(v["processes"]["killed"].as_u64() >= Some(1), "{v}");
    let (v, _, second) = exec_json_pid(&m, "( setsid sleep 30 & ) ; exit 3");
    assert_eq!(v["rolled_back"], true, "{v}");
    // A leaf left by a dead supervisor (as if killed between creating it and beginning):
    // the next exec sweeps it.
    let home = cgroup::cgroup_of("self").unwrap();
    let stale = home.join("ftsb-fs-exec-99999999-5-abc");
    std::fs::create_dir(&stale).unwrap();
    let (v, _, third) = exec_json_pid(&m, "true");
    assert_eq!(v["exit_code"], 0, "{v}");
    assert!(!stale.exists(), "a stale leaf was not swept");
    // This test's leaves only: other tests of this binary run (and SIGKILL) execs in
    // parallel, whose leaves wait for the next exec's sweep.
    let ours: Vec<_> = leaves()
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let pid: u32 = name["ftsb-fs-exec-".len()..]
                .split('-')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            [first, second, third].contains(&pid)
        })
        .collect();
    assert!(ours.is_empty(), "leaves of finished execs: {ours:?}");
    m.abort();
}

/// Where no cgroup can be used (here forced with `FTSB_FS_CGROUP=off`), the subreaper still
/// contains what a living `exec` started: the result says which containment ran, and a
/// `setsid` writer is killed before the rollback.
#[test]
fn without_cgroups_the_subreaper_contains_and_says_so() {
    let m = Mounted::at(sample_tree);
    let before = tree(&m.view, EXACT);
    let mut c = m.cmd();
    c.args(["--json", "exec"])
        .arg(&m.ws)
        .args(["--", "sh", "-c"])
        .arg("( setsid sh -c 'sleep 1; rm -f b.txt; echo late > late' & ) ; exit 1")
        .env(cgroup::DISABLE_ENV, "off")
        .stdin(Stdio::null());
    let out = output(&mut c);
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    assert_eq!(v["processes"]["containment"], "subreaper", "{v}");
    assert!(v["processes"]["killed"].as_u64() >= Some(1), "{v}");
    assert_eq!(v["rolled_back"], true, "{v}");
    std::thread::sleep(Duration::from_millis(2500));
    assert_trees_eq("view after exec", &before, &tree(&m.view, EXACT));
    m.abort();
}

/// Without cgroups, `exec` is SIGKILLed while its command has a double-forked `setsid`
/// writer: the command's reaper (a subreaper between `exec` and the command, watching `exec`)
/// kills it, and holds the transaction's connection until then, so the daemon rolls back only
/// once the writer is dead and the view stays as it was. The command cannot kill its reaper
/// first, nor use the connection it holds.
#[test]
fn without_cgroups_a_sigkilled_exec_leaves_no_writer_behind_its_rollback() {
    // A script file, so the gate (which would refuse the kill on the command line) lets it
    // through to the kernel's protections.
    let m = Mounted::at(|ws| {
        sample_tree(ws);
        let probe = "kill -9 $PPID; echo kill=$?; ls -l /proc/self/fd/ | grep -c socket; exit 1";
        std::fs::write(ws.join("probe.sh"), probe).unwrap();
    });
    let mut c = m.cmd();
    c.arg("exec")
        .arg(&m.ws)
        .args(["--", "sh", "probe.sh"])
        .env(cgroup::DISABLE_ENV, "off")
        .stdin(Stdio::null());
    let out = output(&mut c);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("kill=1"),
        "the command killed its reaper: {out:?}"
    );
    assert!(
        said.contains("\n0\n"),
        "the command holds a socket: {out:?}"
    );

    let before = tree(&m.view, EXACT);
    let (exec, writer) = start_writer(&m, false);
    let _reap = KillOnDrop(vec![writer]);
    kill_and_check(&m, exec, writer, &before, "killed exec without cgroups");
    m.abort();
}
