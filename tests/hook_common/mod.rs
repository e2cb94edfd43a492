//! Shared support for the hook tests: a sandbox (home, project, state home, outside the
//! system temp dir so the home is not mistaken for scratch space) and a runner that starts
//! the real binary the way a harness does: payload on stdin, environment, exit code,
//! stdout and stderr.

#![allow(
    dead_code,
    reason = "each hook test file uses a different subset of the helpers"
)]
#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_ftsb-fs");

/// A home with a project in it, and a state home of its own.
pub struct Sandbox {
    _root: tempfile::TempDir,
    /// `$HOME`.
    pub home: PathBuf,
    /// The project (workspace) directory, inside the home.
    pub project: PathBuf,
    /// `$XDG_STATE_HOME`.
    pub state: PathBuf,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let root = tempfile::Builder::new()
            .prefix("hook-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        let base = root.path().canonicalize().unwrap();
        let home = base.join("home");
        let project = home.join("project");
        let state = home.join(".local/state");
        for d in [&project, &state] {
            std::fs::create_dir_all(d).unwrap();
        }
        Sandbox {
            _root: root,
            home,
            project,
            state,
        }
    }

    /// `ftsb-fs ARGS` with this sandbox's home and state, and no harness variables.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .env("HOME", &self.home)
            .env("XDG_STATE_HOME", &self.state)
            .env_remove("CLAUDE_PROJECT_DIR")
            .env_remove("GEMINI_PROJECT_DIR")
            .env_remove("FTSB_FS_VIEW");
        c
    }

    /// Runs `ftsb-fs gate hook HARNESS EXTRA...` on `payload`, with `env` added.
    pub fn hook(
        &self,
        harness: &str,
        extra: &[&str],
        env: &[(&str, &Path)],
        payload: &[u8],
    ) -> Ran {
        let mut args = vec!["gate", "hook", harness];
        args.extend_from_slice(extra);
        let mut c = self.cmd(&args);
        for (k, v) in env {
            c.env(k, v);
        }
        run(c, payload)
    }

    /// `p` relative to the project.
    pub fn p(&self, rel: &str) -> String {
        self.project.join(rel).to_string_lossy().into_owned()
    }

    /// `p` relative to the home.
    pub fn h(&self, rel: &str) -> String {
        self.home.join(rel).to_string_lossy().into_owned()
    }
}

/// What a hook process did.
#[derive(Debug)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// The stdout as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    /// Asserts the hook blocked by exit 2 with a reason on stderr.
    pub fn assert_blocked_exit2(&self, needle: &str) {
        assert_eq!(self.code, Some(2), "{self:?}");
        assert!(
            self.stderr.contains(needle) && self.stderr.contains("blocked"),
            "stderr should say why ({needle}): {self:?}"
        );
    }

    /// Asserts no opinion: exit 0 and nothing printed.
    pub fn assert_silent(&self) {
        assert_eq!(self.code, Some(0), "{self:?}");
        assert_eq!(self.stdout, "", "{self:?}");
        assert_eq!(self.stderr, "", "{self:?}");
    }
}

/// Runs `c` with `payload` on stdin, then closes stdin.
pub fn run(mut c: Command, payload: &[u8]) -> Ran {
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // A hook may stop reading early (oversized payloads): a broken pipe is fine.
    let _ = stdin.write_all(payload);
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
