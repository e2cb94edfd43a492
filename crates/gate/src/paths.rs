//! Path classification relative to the working directory, the workspace and the home.
//!
//! Owns lexical resolution (`..`, `.`, `//`, `~`) and the classes rules judge by: the root,
//! system directories, devices, the home and its secrets, the workspace root, `.git`,
//! build outputs, scratch space, and partly unknown paths.
//! It never touches the filesystem: symlinks are not followed.

use crate::decision::Context;
use crate::field::{DESCENDANT, UNKNOWN};
use crate::state::Scope;
use crate::text::glob_match;

/// Directories inside a workspace that hold build outputs, safe to delete.
pub(crate) const BUILD_DIRS: &[&str] = &[
    "target",
    "node_modules",
    "dist",
    "build",
    "out",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
    ".nox",
    ".venv",
    "venv",
    ".next",
    ".nuxt",
    ".cache",
    "coverage",
    ".gradle",
    ".parcel-cache",
    ".turbo",
    "_build",
    ".eggs",
    "htmlcov",
    ".angular",
    ".svelte-kit",
    "obj",
    "tmp",
    ".terraform",
    "vendor",
    "deps",
    ".dart_tool",
    "cmake-build-debug",
];

/// Top-level directories of the system.
const SYSTEM: &[&str] = &[
    "/etc",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/boot",
    "/sys",
    "/proc",
    "/dev",
    "/var",
    "/opt",
    "/root",
    "/srv",
    "/snap",
    "/run",
    "/home",
    "/mnt",
    "/media",
    "/nix",
    "/Applications",
    "/System",
    "/Library",
    "/Users",
    "/private",
];

/// File names that hold credentials wherever they are.
const SECRET_NAMES: &[&str] = &[
    "credentials",
    "master.key",
    "credentials.json",
    "client_secret.json",
    "service-account.json",
    "token.json",
    "secrets.json",
    "secrets.yml",
    "secrets.yaml",
    ".netrc",
    ".pgpass",
    ".git-credentials",
    ".htpasswd",
    ".vault-token",
];

/// True when `base` is a glob pattern with a letter or digit of its own (`.en?`, `*.pe[m]`,
/// `id_*`) that matches a credential file name; `*` and `.*` are left to the directory.
fn secret_pattern(base: &str) -> bool {
    if !base.contains(['*', '?', '[']) || !base.chars().any(|c| c.is_ascii_alphanumeric()) {
        return false;
    }
    let keys = [".env", ".env.local", "id_rsa", "id_ed25519", "id_ecdsa"];
    let endings = SECRET_SUFFIXES.iter().map(|s| format!("server{s}"));
    keys.iter()
        .chain(SECRET_NAMES)
        .map(|k| k.to_string())
        .chain(endings)
        .any(|name| glob_match(base, &name))
}

/// Name endings of key stores and private keys.
const SECRET_SUFFIXES: &[&str] = &[
    ".pem",
    ".key",
    ".p12",
    ".pfx",
    ".jks",
    ".keystore",
    ".kdbx",
    ".ppk",
    // Terraform state holds every secret of the infrastructure it describes.
    ".tfstate",
];

/// Files and directories under the home that hold credentials.
const HOME_SECRETS: &[&str] = &[
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".kube",
    ".docker/config.json",
    ".config/gh",
    ".config/gcloud",
    ".netrc",
    ".git-credentials",
    ".pypirc",
    ".npmrc",
    ".cargo/credentials",
    ".password-store",
    ".vault-token",
    ".pgpass",
    ".my.cnf",
    ".config/hub",
    ".config/rclone",
    ".terraform.d/credentials.tfrc.json",
    ".m2/settings.xml",
    ".gradle/gradle.properties",
    ".gem/credentials",
    ".config/op",
    ".config/doppler",
    ".local/share/keyrings",
    "Library/Keychains",
    "Library/Cookies",
    ".config/google-chrome",
    ".config/chromium",
    ".config/BraveSoftware",
    ".mozilla/firefox",
    ".bash_history",
    ".zsh_history",
    ".history",
    ".python_history",
    ".psql_history",
    ".mysql_history",
    ".node_repl_history",
    ".lesshst",
];

/// Files a shell runs at start-up.
pub(crate) const RC_FILES: &[&str] = &[
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".profile",
    ".zshrc",
    ".zprofile",
    ".zshenv",
    ".zlogin",
    ".kshrc",
    ".cshrc",
    ".tcshrc",
];

/// Whether `rel` (a path below the home) is a file a shell or login runs at start-up.
pub(crate) fn shell_start_up(rel: &str) -> bool {
    RC_FILES.contains(&rel) || rel.starts_with(".config/fish")
}

/// Other configuration under the home that runs code later or holds sessions.
const HOME_CONFIG: &[&str] = &[
    ".docker",
    ".config/fish",
    ".config/systemd",
    ".config/autostart",
    ".local/share/systemd",
    ".gitconfig",
    ".config/git",
    ".terraform.d",
    ".local/share/keyrings",
    ".mozilla",
    ".config/google-chrome",
    ".config/chromium",
    ".config/environment.d",
    ".pam_environment",
    ".xprofile",
    ".xinitrc",
    ".xsessionrc",
    "Library/LaunchAgents",
    "Library/LaunchDaemons",
    "Library/Application Support/com.apple.backgroundtaskmanagementagent",
];

/// What holds a repository's history inside `.git`: deleting it (or `.git` itself, or
/// whatever a pattern or unknown name below `.git` may be) loses the history.
const GIT_HISTORY: &[&str] = &["objects", "refs", "packed-refs"];

/// True when `abs` (a path of class [`Class::Git`]) is the git directory or holds its
/// history: `.git`, `.git/objects/...`, `.git/refs`, `.git/*`, `.git/{}` below a find;
/// lock files aside.
pub(crate) fn git_history(abs: &str) -> bool {
    let Some(at) = abs.rfind("/.git") else {
        return false;
    };
    let rest = &abs[at + 5..];
    let Some(first) = rest
        .strip_prefix('/')
        .map(|r| r.split('/').next().unwrap_or(""))
    else {
        return rest.is_empty();
    };
    // A stale lock (`refs/heads/x.lock`) is git's own leftover.
    !abs.ends_with(".lock")
        && (first.is_empty()
            || first.contains([UNKNOWN, DESCENDANT])
            || GIT_HISTORY.iter().any(|h| glob_match(first, h)))
}

/// Agent harness settings that register hooks and grant permissions, in a project or in the
/// home: whoever changes them decides what the agent may run, so they are written or deleted
/// only by a human, like the shell's start-up files.
const AGENT_SETTINGS: &[&str] = &[
    ".claude/settings.json",
    ".claude/settings.local.json",
    ".claude.json",
    ".codex/hooks.json",
    ".codex/config.toml",
    ".gemini/settings.json",
    ".cursor/hooks.json",
    ".clinerules/hooks",
];

/// True when `rel` is, is below, or is a directory holding one of [`AGENT_SETTINGS`].
pub(crate) fn agent_settings(rel: &str) -> bool {
    under_any(rel, AGENT_SETTINGS)
        || AGENT_SETTINGS
            .iter()
            .any(|s| s.strip_prefix(rel).is_some_and(|r| r.starts_with('/')))
}

/// Where a harness finds code it runs without a command the gate judges: Claude Code's
/// slash commands (their `!` lines run bash), skills and sub-agents (which may carry hooks of
/// their own), Gemini CLI's commands (`!{...}` runs a shell) and extensions, and the
/// projects' MCP server lists. Matched as a run of names anywhere in a path.
const AGENT_CODE: &[&[&str]] = &[
    &[".claude", "commands"],
    &[".claude", "skills"],
    &[".claude", "agents"],
    &[".gemini", "commands"],
    &[".gemini", "extensions"],
    &[".mcp.json"],
    &[".cursor", "mcp.json"],
];

/// True when writing `abs` changes code a harness runs on its own ([`AGENT_CODE`]).
pub(crate) fn agent_code(abs: &str) -> bool {
    let names: Vec<&str> = abs.split('/').collect();
    AGENT_CODE.iter().any(|run| {
        names
            .windows(run.len())
            .any(|w| w.iter().zip(*run).all(|(a, b)| a == b))
    })
}

/// True when `rel` (relative to the home) is or is below one of `list`.
fn under_any(rel: &str, list: &[&str]) -> bool {
    list.iter().any(|s| {
        rel == *s
            || rel
                .strip_prefix(s)
                .is_some_and(|r| r.starts_with('/') || r.starts_with('.'))
    })
}

/// Caches under the home: deleting them costs a download, nothing else.
const HOME_CACHES: &[&str] = &[
    ".cache",
    ".npm/_cacache",
    ".npm/_logs",
    ".cargo/registry",
    ".cargo/git",
    ".gradle/caches",
    ".m2/repository",
    ".pnpm-store",
    ".yarn/cache",
    ".bun/install/cache",
    "go/pkg/mod",
    ".local/share/pnpm/store",
    "Library/Caches",
    ".rustup/tmp",
    ".nuget/packages",
];

/// Credentials, start-up files and code-running configuration under the home.
fn home_sensitive(rel: &str) -> bool {
    under_any(rel, HOME_SECRETS) || under_any(rel, RC_FILES) || under_any(rel, HOME_CONFIG)
}

/// What a path is, for the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Root,
    System,
    /// A block or memory device.
    Device,
    /// `/dev/null`, `/dev/stdout` and the like.
    HarmlessDev,
    /// `/dev/tcp/...`, `/dev/udp/...`: a network connection.
    NetDev,
    Home,
    /// A directory that contains the workspace (other than `/` and the home).
    Ancestor,
    HomeChild,
    /// Credentials, shell start-up files, user units under the home.
    HomeSensitive,
    WorkspaceRoot,
    /// Everything in the workspace root (`./*`).
    WorkspaceAll,
    Git,
    Build,
    Workspace,
    Tmp,
    Outside,
    Unknown,
}

impl Class {
    /// Deleting or overwriting this recursively destroys something outside the transaction.
    pub fn precious(self) -> bool {
        !matches!(
            self,
            Class::Build | Class::Workspace | Class::Tmp | Class::HarmlessDev | Class::Unknown
        )
    }
}

/// The three directories paths are judged against, as normalized strings.
#[derive(Debug, Clone)]
pub(crate) struct Paths {
    pub cwd: String,
    pub workspace: String,
    pub home: Option<String>,
}

impl Paths {
    pub fn new(ctx: &Context) -> Paths {
        let cwd = normalize(&ctx.cwd.to_string_lossy());
        let workspace = ctx
            .workspace
            .as_ref()
            .map(|w| normalize(&w.to_string_lossy()))
            .unwrap_or_else(|| cwd.clone());
        let home = ctx.home.as_ref().map(|h| normalize(&h.to_string_lossy()));
        Paths {
            cwd,
            workspace,
            home,
        }
    }

    /// Resolves `text` against the scope's working directory, lexically.
    pub fn abs(&self, text: &str, scope: &Scope) -> String {
        self.abs_from(text, scope.cwd.as_deref())
    }

    pub fn abs_from(&self, text: &str, cwd: Option<&str>) -> String {
        if text.starts_with('/') {
            return normalize(text);
        }
        if text == "~" || text.starts_with("~/") {
            return match &self.home {
                Some(h) => normalize(&format!("{h}/{}", &text[1..])),
                None => text.to_owned(),
            };
        }
        match cwd {
            Some(c) => normalize(&format!("{c}/{text}")),
            None => format!("{UNKNOWN}/{text}"),
        }
    }

    /// Classifies a path operand (a glob is judged by the directory it expands in).
    pub fn classify(&self, text: &str, glob: bool, scope: &Scope) -> Class {
        let abs = self.abs(text, scope);
        self.classify_abs(&abs, glob)
    }

    pub fn classify_abs(&self, abs: &str, glob: bool) -> Class {
        let glob_at = if glob {
            abs.find(['*', '?', '['])
        } else {
            None
        };
        let marker = abs.find([UNKNOWN, DESCENDANT]);
        let cut = match (glob_at, marker) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let Some(cut) = cut else {
            return self.exact(abs);
        };
        // Something below a known directory: judge by that directory.
        let Some(slash) = abs[..cut].rfind('/') else {
            return Class::Unknown;
        };
        let dir = if slash == 0 { "/" } else { &abs[..slash] };
        if !dir.starts_with('/') && !dir.starts_with('~') {
            return Class::Unknown;
        }
        let arbitrary = abs[cut..].contains(UNKNOWN);
        let tail = &abs[slash + 1..];
        let match_all = !arbitrary && matches!(tail, "*" | ".*" | "*.*" | "?*" | "**");
        if matches!(dir, "/tmp" | "/var/tmp" | "/dev/shm") {
            return Class::Tmp;
        }
        match self.exact(dir) {
            Class::Root | Class::System | Class::Device => Class::System,
            Class::Home => {
                // `~/.ba*` may be `~/.bashrc`; `~/.ssh/{}` is below `~/.ssh`.
                let lit = &tail[..tail
                    .find(['*', '?', '[', UNKNOWN, DESCENDANT])
                    .unwrap_or(tail.len())];
                let all = [HOME_SECRETS, RC_FILES, HOME_CONFIG];
                let hit = !lit.is_empty()
                    && all
                        .iter()
                        .flat_map(|l| l.iter())
                        .any(|s| s.starts_with(lit) || lit.starts_with(&format!("{s}/")));
                if hit {
                    Class::HomeSensitive
                } else {
                    Class::HomeChild
                }
            }
            Class::HomeChild => Class::HomeChild,
            Class::HomeSensitive => Class::HomeSensitive,
            Class::Ancestor | Class::Outside => Class::Outside,
            Class::WorkspaceRoot if match_all => Class::WorkspaceAll,
            Class::Git => Class::Git,
            Class::Tmp => Class::Tmp,
            _ if arbitrary => Class::Unknown,
            Class::WorkspaceRoot | Class::Workspace => Class::Workspace,
            Class::Build => Class::Build,
            _ => Class::Unknown,
        }
    }

    fn exact(&self, p: &str) -> Class {
        if p == "/" {
            return Class::Root;
        }
        if let Some(dev) = p.strip_prefix("/dev/") {
            if dev.starts_with("tcp/") || dev.starts_with("udp/") {
                return Class::NetDev;
            }
            let harmless = [
                "null", "zero", "full", "random", "urandom", "stdout", "stderr", "stdin", "tty",
                "ptmx",
            ];
            if harmless.contains(&dev)
                || ["fd/", "pts/", "shm/", "tty", "mqueue/"]
                    .iter()
                    .any(|h| dev.starts_with(h))
            {
                return Class::HarmlessDev;
            }
            return Class::Device;
        }
        let ws = self.workspace.as_str();
        if p == ws {
            return Class::WorkspaceRoot;
        }
        if let Some(rel) = p.strip_prefix(ws).and_then(|r| r.strip_prefix('/'))
            && ws != "/"
        {
            if agent_settings(rel) {
                return Class::HomeSensitive;
            }
            let comps: Vec<&str> = rel.split('/').collect();
            if comps.contains(&".git") {
                return Class::Git;
            }
            if comps
                .iter()
                .any(|c| BUILD_DIRS.contains(c) || c.ends_with(".egg-info"))
            {
                return Class::Build;
            }
            return Class::Workspace;
        }
        let home = self.home.as_deref().unwrap_or("~");
        if p == home || p == "~" {
            return Class::Home;
        }
        if ws.starts_with(&format!("{p}/")) {
            return Class::Ancestor;
        }
        for tmp in ["/tmp/", "/var/tmp/", "/dev/shm/"] {
            if p.starts_with(tmp) {
                return Class::Tmp;
            }
        }
        if let Some(rel) = p.strip_prefix(home).and_then(|r| r.strip_prefix('/')) {
            if under_any(rel, HOME_CACHES) {
                return Class::Tmp;
            }
            if home_sensitive(rel) || agent_settings(rel) {
                return Class::HomeSensitive;
            }
            return Class::HomeChild;
        }
        if SYSTEM
            .iter()
            .any(|s| p == *s || p.starts_with(&format!("{s}/")))
        {
            return Class::System;
        }
        Class::Outside
    }

    /// True when `abs` is a directory in the home that holds credential files
    /// (`~/.config` holds `~/.config/gh`), or the home itself.
    pub fn holds_secrets(&self, abs: &str) -> bool {
        let home = self.home.as_deref().unwrap_or("~");
        let Some(rel) = abs.strip_prefix(home) else {
            return false;
        };
        let rel = rel.trim_matches('/');
        rel.is_empty()
            || HOME_SECRETS
                .iter()
                .any(|s| s.strip_prefix(rel).is_some_and(|r| r.starts_with('/')))
    }

    /// A credential store in the home outside the workspace, or a directory that holds one:
    /// what a copy of it carries is credentials (public keys and host lists aside).
    pub fn credentials(&self, abs: &str) -> bool {
        let ws = self.workspace.trim_end_matches('/');
        if abs == ws || abs.starts_with(&format!("{ws}/")) {
            return false;
        }
        let home = self.home.as_deref().unwrap_or("~");
        let Some(rel) = abs.strip_prefix(home).and_then(|r| r.strip_prefix('/')) else {
            return false;
        };
        let base = rel.rsplit('/').next().unwrap_or(rel);
        let public = base.ends_with(".pub")
            || matches!(base, "known_hosts" | "authorized_keys")
            || rel == ".ssh/config";
        !public && (self.holds_secrets(abs) || self.is_secret(abs) || under_any(rel, HOME_SECRETS))
    }

    /// Files whose content is a secret (read by exfiltration).
    pub fn is_secret(&self, abs: &str) -> bool {
        let base = abs.rsplit('/').next().unwrap_or(abs);
        if secret_pattern(base) {
            return true;
        }
        if base == ".env"
            || base.starts_with(".env.")
                && !["example", "sample", "template", "dist"]
                    .iter()
                    .any(|s| base.ends_with(s))
        {
            return true;
        }
        if ["id_rsa", "id_ed25519", "id_ecdsa", "id_dsa"]
            .iter()
            .any(|k| base.starts_with(k) && !base.ends_with(".pub"))
            || SECRET_NAMES.contains(&base)
            || SECRET_SUFFIXES.iter().any(|s| base.ends_with(s))
            || base == "hosts.yml" && abs.contains("/gh/")
        {
            return true;
        }
        if matches!(
            abs,
            "/etc/shadow" | "/etc/gshadow" | "/etc/sudoers" | "/etc/master.passwd"
        ) || abs.starts_with("/proc/") && abs.ends_with("/environ")
        {
            return true;
        }
        let home = self.home.as_deref().unwrap_or("~");
        if let Some(rel) = abs.strip_prefix(home).and_then(|r| r.strip_prefix('/')) {
            return under_any(rel, HOME_SECRETS);
        }
        false
    }
}

/// Lexical normalization: collapses `//`, `.` and `..` (never above `/`).
pub(crate) fn normalize(p: &str) -> String {
    let absolute = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !absolute {
                    out.push("..");
                }
            }
            c => out.push(c),
        }
    }
    let joined = out.join("/");
    if absolute {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

/// A program as the gate judges it.
#[derive(Debug, Clone)]
pub(crate) struct Program {
    /// Normalized name (`rm`, `python`, `mkfs`).
    pub name: String,
    /// Found through `$PATH` or a system directory; an unknown path that shadows a known
    /// name gets its deny rules but never its allow rules.
    pub trusted: bool,
}

/// Normalizes a program word: basename, version suffixes, tool families.
pub(crate) fn normalize_program(text: &str) -> Program {
    let trusted = if text.contains('/') {
        let n = normalize(text);
        let dir = n.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        matches!(
            dir,
            "/bin" | "/usr/bin" | "/sbin" | "/usr/sbin" | "/usr/local/bin" | "/usr/local/sbin"
        )
    } else {
        true
    };
    let base = text.rsplit('/').next().unwrap_or(text);
    let mut name = base.strip_suffix(".sh").unwrap_or(base).to_owned();
    for family in ["mkfs", "fsck", "mkswap"] {
        if name.starts_with(&format!("{family}.")) {
            name = family.to_owned();
        }
    }
    for family in [
        "python", "pypy", "pip", "perl", "ruby", "php", "node", "nodejs", "lua", "irb", "gem",
    ] {
        if let Some(rest) = name.strip_prefix(family)
            && rest.chars().all(|c| c.is_ascii_digit() || c == '.')
        {
            name = if family == "nodejs" {
                "node".into()
            } else {
                family.to_owned()
            };
            break;
        }
    }
    if name == "mke2fs" {
        name = "mkfs".into();
    }
    Program { name, trusted }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn agent_code_is_a_run_of_names_anywhere() {
        assert!(agent_code("/p/.claude/skills/x/SKILL.md"));
        assert!(agent_code("/h/.mcp.json"));
        assert!(agent_code(".gemini/commands"));
        assert!(!agent_code("/p/.claude/notes.md"));
        assert!(!agent_code("/p/claude/commands/x.md"));
        assert!(!agent_code("/p/.mcp.json.bak"));
    }

    fn paths() -> Paths {
        Paths::new(&Context {
            cwd: PathBuf::from("/home/dev/proj"),
            workspace: None,
            home: Some(PathBuf::from("/home/dev")),
        })
    }

    #[test]
    fn classes() {
        let p = paths();
        let s = Scope {
            cwd: Some(p.cwd.clone()),
            ..Scope::default()
        };
        let c = |t: &str| p.classify(t, t.contains('*'), &s);
        assert_eq!(c("/"), Class::Root);
        assert_eq!(c("//bin/../etc"), Class::System);
        assert_eq!(c("target"), Class::Build);
        assert_eq!(c("./.git"), Class::Git);
        assert_eq!(c("."), Class::WorkspaceRoot);
        assert_eq!(c("*"), Class::WorkspaceAll);
        assert_eq!(c("src/*"), Class::Workspace);
        assert_eq!(c(".."), Class::Home);
        assert_eq!(c("../"), Class::Home);
        assert_eq!(c("~/.ssh"), Class::HomeSensitive);
        assert_eq!(c("/tmp/x"), Class::Tmp);
        assert_eq!(c("/dev/sda"), Class::Device);
        assert_eq!(c("/dev/null"), Class::HarmlessDev);
        assert_eq!(c("/*"), Class::System);
        assert_eq!(c("/srv/data"), Class::System);
    }
}
