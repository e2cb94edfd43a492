//! Processes and cgroup leaves, for the tests of process-tree containment.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ftsb_fs::confine::cgroup;

/// Whether process `pid` is alive (a zombie has ended).
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        let state = s[s.rfind(')').unwrap() + 1..].split_whitespace().next();
        !matches!(state, Some("Z" | "X"))
    })
}

/// Waits (at most 30 s) until `cond` holds; panics naming `what` if it never does.
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(30), "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pid written in file `p`, once it is there.
pub fn read_pid(p: &Path) -> Option<i32> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

/// The cgroup leaves (`ftsb-fs-exec-*`) under this test's own cgroup.
pub fn leaves() -> Vec<PathBuf> {
    let Some(home) = cgroup::cgroup_of("self") else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = std::fs::read_dir(home)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(cgroup_prefix())
        })
        .collect();
    v.sort();
    v
}

/// The leaves created by process `pid` (an `exec` or `run` the test started).
pub fn leaves_of(pid: u32) -> Vec<PathBuf> {
    let prefix = format!("{}{pid}-", cgroup_prefix());
    leaves()
        .into_iter()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&prefix)
        })
        .collect()
}

/// The name prefix of every leaf.
pub fn cgroup_prefix() -> &'static str {
    ftsb_fs::confine::scratch::PREFIX
}

/// The cgroup v2 directory of process `pid`, as `/proc/PID/cgroup` names it.
pub fn cgroup_of(pid: i32) -> Option<PathBuf> {
    cgroup::cgroup_of(&pid.to_string())
}

/// A process killed and waited for when dropped.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An ssh-agent listening on `dir/agent.sock` and holding a new ed25519 key whose comment is
/// `comment`; the socket's path.
pub fn ssh_agent_with_key(dir: &Path, comment: &str) -> (Killed, PathBuf) {
    use std::process::{Command, Stdio};
    let sock = dir.join("agent.sock");
    let key = dir.join("id_ed25519");
    let agent = Killed(
        Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("ssh-agent listens", || sock.exists());
    super::run_ok(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
            .arg(&key),
    );
    super::run_ok(
        Command::new("ssh-add")
            .arg(&key)
            .env("SSH_AUTH_SOCK", &sock),
    );
    (agent, sock)
}

/// Kills the pids it holds when dropped: a failed test leaves no writer running.
pub struct KillOnDrop(pub Vec<i32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for pid in &self.0 {
            if alive(*pid) {
                // SAFETY: kill takes integers only.
                unsafe { libc::kill(*pid, libc::SIGKILL) };
            }
        }
    }
}
