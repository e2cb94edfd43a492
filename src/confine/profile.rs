//! Per-harness profiles: what the agent itself (not the commands it runs) is granted under
//! `run`.
//!
//! An agent harness is a program that must keep working while confined: it writes its own state
//! under `$HOME`, talks to its model's API and reads its own key from the environment. A
//! [`Profile`] names those needs per harness; [`Profile::spec`] turns one into a [`Spec`] on top
//! of the strict defaults of [`Spec::for_view`], so everything else stays as denied as for
//! `exec`: the rest of `$HOME` (shell rc files), the credential directories, the store, and (by
//! IPC scoping) the daemon's control socket.
//!
//! Invariants:
//! - A profile only ever adds grants below the user's home that are the harness's own state
//!   or install directories; the deny roots of [`Spec::for_view`] (the store, `~/.ssh`, ...)
//!   are carved out of them like out of any grant.
//! - The network is left alone (an agent must reach its API); IPC scoping stays on.
//!
//! Deliberately not done here: scrubbing the environment (the caller keeps [`Profile::keys`]),
//! running the agent, or judging the commands it runs (they go through `exec`).

use std::path::{Path, PathBuf};

use super::spec::Spec;

/// The agent harnesses `run` knows by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Harness {
    /// Claude Code (`claude`).
    Claude,
    /// OpenAI Codex CLI (`codex`).
    Codex,
    /// Gemini CLI (`gemini`).
    Gemini,
    /// Cursor's CLI agent (`cursor-agent`).
    Cursor,
    /// Any other program: no state directory, no key.
    Generic,
}

/// What one harness needs besides the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// Which harness.
    pub harness: Harness,
    /// State paths relative to `$HOME`, granted read and write. Directories are created when
    /// missing, so a first run works; missing files cannot be granted (a note says so).
    pub state: &'static [&'static str],
    /// Install directories relative to `$HOME`, granted read and execute when they exist.
    pub installs: &'static [&'static str],
    /// Environment variables the harness reads its key and endpoint from; passed to it.
    pub keys: &'static [&'static str],
    /// A variable that, when set to an absolute path, moves the state directory there.
    pub state_env: Option<&'static str>,
}

const CLAUDE: Profile = Profile {
    harness: Harness::Claude,
    state: &[".claude", ".claude.json", ".claude.json.backup"],
    installs: &[".local/share/claude", ".npm-global"],
    keys: &[
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "ANTHROPIC_BASE_URL",
        "ANTHROPIC_MODEL",
        "CLAUDE_CODE_OAUTH_TOKEN",
        "CLAUDE_CONFIG_DIR",
    ],
    state_env: Some("CLAUDE_CONFIG_DIR"),
};

const CODEX: Profile = Profile {
    harness: Harness::Codex,
    state: &[".codex"],
    installs: &[".npm-global"],
    keys: &["OPENAI_API_KEY", "OPENAI_BASE_URL", "CODEX_HOME"],
    state_env: Some("CODEX_HOME"),
};

const GEMINI: Profile = Profile {
    harness: Harness::Gemini,
    state: &[".gemini"],
    installs: &[".npm-global"],
    keys: &[
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "GOOGLE_CLOUD_PROJECT",
        "GOOGLE_GENAI_USE_VERTEXAI",
    ],
    state_env: None,
};

const CURSOR: Profile = Profile {
    harness: Harness::Cursor,
    state: &[".cursor", ".config/cursor"],
    installs: &[".local/share/cursor-agent"],
    keys: &["CURSOR_API_KEY"],
    state_env: None,
};

const GENERIC: Profile = Profile {
    harness: Harness::Generic,
    state: &[],
    installs: &[],
    keys: &[],
    state_env: None,
};

impl Harness {
    /// Every harness, for `--harness` and the docs.
    pub const ALL: [Harness; 5] = [
        Harness::Claude,
        Harness::Codex,
        Harness::Gemini,
        Harness::Cursor,
        Harness::Generic,
    ];

    /// The name `--harness` takes.
    pub fn name(self) -> &'static str {
        match self {
            Harness::Claude => "claude",
            Harness::Codex => "codex",
            Harness::Gemini => "gemini",
            Harness::Cursor => "cursor",
            Harness::Generic => "generic",
        }
    }

    /// The harness named `name` (as `--harness` takes it).
    pub fn from_name(name: &str) -> Option<Harness> {
        Harness::ALL.into_iter().find(|h| h.name() == name)
    }

    /// The harness a command starts, from its program's basename; `Generic` when unknown.
    pub fn detect(program: &str) -> Harness {
        let base = Path::new(program)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        match base {
            "claude" => Harness::Claude,
            "codex" => Harness::Codex,
            "gemini" => Harness::Gemini,
            "cursor-agent" | "cursor" => Harness::Cursor,
            _ => Harness::Generic,
        }
    }

    /// This harness's profile.
    pub fn profile(self) -> Profile {
        match self {
            Harness::Claude => CLAUDE,
            Harness::Codex => CODEX,
            Harness::Gemini => GEMINI,
            Harness::Cursor => CURSOR,
            Harness::Generic => GENERIC,
        }
    }
}

/// What the agent's confinement is built from, besides the profile.
#[derive(Debug, Clone, Default)]
pub struct AgentSetup {
    /// The mounted view the agent works in.
    pub view: PathBuf,
    /// The agent's private temp dir (exported as `TMPDIR`).
    pub tmpdir: PathBuf,
    /// The user's home, if known.
    pub home: Option<PathBuf>,
    /// Paths that must stay outside every grant: the store.
    pub deny_roots: Vec<PathBuf>,
    /// `--allow-write` paths.
    pub extra_writable: Vec<PathBuf>,
    /// Single files the agent must read and execute although they lie outside the defaults:
    /// its own program, the `ftsb-fs` binary its hooks call.
    pub executables: Vec<PathBuf>,
    /// Directories the agent may read (e.g. where `run` keeps its session socket).
    pub extra_readable: Vec<PathBuf>,
    /// Leave the agent in the caller's session, with its controlling terminal: an interactive
    /// harness needs job control and window-size signals. The seccomp filter still denies the
    /// terminal ioctls that inject input (`TIOCSTI`, `TIOCLINUX`, `TIOCSCTTY`).
    pub keep_terminal: bool,
}

impl Profile {
    /// The state paths of this profile for `home`, honouring `state_env` when the environment
    /// (as read by `var`) moves the state elsewhere.
    pub fn state_paths(
        &self,
        home: Option<&Path>,
        var: impl Fn(&str) -> Option<String>,
    ) -> Vec<PathBuf> {
        let moved = self
            .state_env
            .and_then(&var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute());
        let mut out: Vec<PathBuf> = moved.into_iter().collect();
        if let Some(home) = home {
            out.extend(self.state.iter().map(|rel| home.join(rel)));
        }
        out
    }

    /// The agent's confinement: [`Spec::for_view`] plus this profile's state (writable, created
    /// when a directory is missing), its installs (readable), `setup.extra_writable`, and the
    /// single executables. The network is allowed; IPC stays scoped; the terminal is kept only
    /// with `setup.keep_terminal`.
    pub fn spec(&self, setup: &AgentSetup) -> Spec {
        let home = setup.home.as_deref();
        let mut spec = Spec::for_view(&setup.view, &setup.tmpdir, home, &setup.deny_roots);
        spec.detach_terminal = !setup.keep_terminal;
        let var = |name: &str| std::env::var(name).ok();
        for path in self.state_paths(home, var) {
            let is_file = path
                .extension()
                .is_some_and(|e| e == "json" || e == "backup");
            if !is_file && !path.exists() {
                // The harness creates its state directory on first run, but could not create
                // it under a home it may not write: create it now, private to the user.
                if let Err(e) = create_private_dir(&path) {
                    spec.notes.push(format!(
                        "state directory {} could not be created: {e}",
                        path.display()
                    ));
                    continue;
                }
            }
            // A state file the harness has not written yet cannot be granted (Landlock rules
            // need an existing path); it is left out quietly, as the defaults are.
            if path.symlink_metadata().is_err() {
                continue;
            }
            spec.add_writable(path);
        }
        if let Some(home) = home {
            for rel in self.installs {
                let path = home.join(rel);
                if path.exists() {
                    spec.add_readable(path);
                }
            }
        }
        // The hooks the harness calls (`ftsb-fs gate hook`) read the user's exec policy there;
        // read-only, so the agent cannot loosen it.
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| home.map(|h| h.join(".config")));
        if let Some(dir) = config.map(|c| c.join("ftsb-fs")).filter(|d| d.exists()) {
            spec.add_readable(dir);
        }
        for path in &setup.extra_writable {
            spec.add_writable(path.clone());
        }
        for path in setup.executables.iter().chain(&setup.extra_readable) {
            if path.exists() {
                spec.add_readable(path.clone());
            }
        }
        spec
    }
}

fn create_private_dir(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::confine::spec::resolve;

    #[test]
    fn detects_harness_from_basename() {
        assert_eq!(Harness::detect("/usr/local/bin/claude"), Harness::Claude);
        assert_eq!(Harness::detect("codex"), Harness::Codex);
        assert_eq!(Harness::detect("gemini"), Harness::Gemini);
        assert_eq!(Harness::detect("cursor-agent"), Harness::Cursor);
        assert_eq!(Harness::detect("./my-agent.sh"), Harness::Generic);
        assert_eq!(Harness::detect("claude-helper"), Harness::Generic);
        for h in Harness::ALL {
            assert_eq!(Harness::from_name(h.name()), Some(h));
        }
        assert_eq!(Harness::from_name("vim"), None);
    }

    #[test]
    fn claude_profile_grants_its_state_but_not_the_rest_of_home() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let home = tmp.path().join("home");
        for d in [".ssh", "view", "tmp", ".local/state/ftsb-fs/s1"] {
            std::fs::create_dir_all(home.join(d)).expect("mkdir");
        }
        std::fs::write(home.join(".claude.json"), b"{}").expect("write");
        std::fs::write(home.join(".bashrc"), b"").expect("write");
        std::fs::create_dir_all(home.join(".config/ftsb-fs")).expect("mkdir");
        let spec = Harness::Claude.profile().spec(&AgentSetup {
            view: home.join("view"),
            tmpdir: home.join("tmp"),
            home: Some(home.clone()),
            ..AgentSetup::default()
        });
        let home = resolve(&home);
        assert!(
            home.join(".claude").is_dir(),
            "the missing state dir is created"
        );
        assert!(spec.writable.contains(&home.join(".claude")), "{spec:?}");
        assert!(spec.writable.contains(&home.join(".claude.json")));
        let all: Vec<&PathBuf> = spec.writable.iter().chain(&spec.readable).collect();
        for p in &all {
            assert!(!home.starts_with(p), "home itself granted: {p:?}");
            assert!(!p.starts_with(home.join(".ssh")), "{p:?}");
            assert!(!p.ends_with(".bashrc"), "{p:?}");
            assert!(!p.starts_with(home.join(".local/state")), "{p:?}");
        }
        assert!(!spec.writable.contains(&home.join(".claude.json.backup")));
        // The user's exec policy is readable (the hooks read it), never writable.
        assert!(
            spec.readable.contains(&home.join(".config/ftsb-fs")),
            "{spec:?}"
        );
        assert!(
            spec.writable
                .iter()
                .all(|p| !p.starts_with(home.join(".config")))
        );
    }

    #[test]
    fn state_env_moves_the_state_dir() {
        let p = CODEX.state_paths(Some(Path::new("/home/u")), |n| {
            (n == "CODEX_HOME").then(|| "/srv/codex".to_string())
        });
        assert_eq!(
            p,
            vec![PathBuf::from("/srv/codex"), PathBuf::from("/home/u/.codex")]
        );
        let relative = CODEX.state_paths(None, |_| Some("rel".to_string()));
        assert!(relative.is_empty(), "{relative:?}");
    }

    #[test]
    fn a_state_path_cannot_open_a_credential_dir() {
        // CODEX_HOME pointed at ~/.ssh must not make the keys writable.
        let tmp = tempfile::tempdir().expect("tempdir");
        let home = tmp.path().join("home");
        for d in [".ssh", "view", "tmp"] {
            std::fs::create_dir_all(home.join(d)).expect("mkdir");
        }
        let mut spec = Spec::for_view(&home.join("view"), &home.join("tmp"), Some(&home), &[]);
        spec.add_writable(home.join(".ssh"));
        assert!(
            spec.writable
                .iter()
                .all(|p| !p.starts_with(resolve(&home.join(".ssh")))),
            "{spec:?}"
        );
    }
}
