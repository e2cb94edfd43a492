//! The environment a confined command receives: an allow list, with secrets and agent sockets
//! removed even where a pattern of the list admits them.
//!
//! Owns: deciding, name by name, which variables of the caller pass to the command
//! ([`Scrub::decide`], [`Scrub::apply`]), and saying which were dropped ([`EnvReport`]).
//!
//! Invariants:
//! - A name that looks like a secret ([`looks_secret`]: `*_TOKEN`, `*SECRET*`, `*PASSWORD*`,
//!   `*_API_KEY`, `*_KEY`, `AWS_*`, ...) never passes unless it is named in [`Scrub::keep`].
//! - An agent socket ([`is_agent_socket`]: `SSH_AUTH_SOCK`, `GPG_AGENT_INFO`,
//!   `DBUS_SESSION_BUS_ADDRESS`, ...) never passes unless it is named in [`Scrub::keep`], not
//!   even with [`Scrub::pass_all`].
//! - A name in [`Scrub::keep`] always passes (the caller asked for it by name).
//!
//! Deliberately not done here: reading values (only names decide, so a secret under an
//! innocent name passes), and stopping a command from finding an agent socket by its path
//! (Landlock cannot restrict pathname unix sockets below ABI 9; see `docs/CONFINEMENT.md`).

use std::ffi::{OsStr, OsString};
use std::process::Command;

/// Names passed as they are.
const ALLOWED: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LANGUAGE",
    "TERM",
    "COLORTERM",
    "NO_COLOR",
    "COLUMNS",
    "LINES",
    "USER",
    "LOGNAME",
    "SHELL",
    "TMPDIR",
    "TZ",
    "HOSTNAME",
    "CI",
    "SOURCE_DATE_EPOCH",
    "DEBIAN_FRONTEND",
    "EDITOR",
    "VISUAL",
    "PAGER",
    "XDG_CONFIG_HOME",
    "XDG_CACHE_HOME",
    "XDG_DATA_HOME",
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    "RUSTC",
    "RUSTC_WRAPPER",
    "RUST_BACKTRACE",
    "RUST_LOG",
    "RUST_TEST_THREADS",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "JAVA_HOME",
    "MAVEN_OPTS",
    "GRADLE_USER_HOME",
    "CC",
    "CXX",
    "AR",
    "LD",
    "CFLAGS",
    "CXXFLAGS",
    "CPPFLAGS",
    "LDFLAGS",
    "MAKEFLAGS",
    "PKG_CONFIG_PATH",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_CONFIG_NOSYSTEM",
    "GIT_CONFIG_GLOBAL",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "CURL_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
    "NIX_SSL_CERT_FILE",
    "GIT_SSL_CAINFO",
    "RES_OPTIONS",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
];

/// Prefixes of names passed as they are (unless they look like secrets).
const ALLOWED_PREFIXES: &[&str] = &[
    "LC_",
    "CARGO_",
    "RUSTUP_",
    "npm_config_",
    "NPM_CONFIG_",
    "PIP_",
    "PYTHON",
    "NODE_",
    "GO",
    "FTSB_FS_",
];

/// Sockets and handles of agents that act with the user's credentials: whoever can reach
/// them can sign, decrypt or run commands as the user.
const AGENT_SOCKETS: &[&str] = &[
    "SSH_AUTH_SOCK",
    "SSH_AGENT_PID",
    "GPG_AGENT_INFO",
    "GNUPGHOME",
    "DBUS_SESSION_BUS_ADDRESS",
    "DBUS_SYSTEM_BUS_ADDRESS",
    "XDG_RUNTIME_DIR",
    "DOCKER_HOST",
    "CONTAINER_HOST",
    "KRB5CCNAME",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XAUTHORITY",
];

/// Prefixes of names that hold credentials whatever their suffix.
const SECRET_PREFIXES: &[&str] = &["AWS_", "AZURE_", "GOOGLE_", "GCP_", "VAULT_"];

/// Parts of a name (upper-cased) that mark it as a secret wherever they appear.
const SECRET_PARTS: &[&str] = &[
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "CREDENTIAL",
    "API_KEY",
    "APIKEY",
    "PRIVATE",
    "COOKIE",
    "SESSION",
];

/// Endings of a name (upper-cased) that mark it as a secret.
const SECRET_SUFFIXES: &[&str] = &["_KEY", "_AUTH", "_PASS", "_PW", "_PWD", "_SOCK", "_SOCKET"];

/// Whether `name` is an agent socket or handle (see the module invariants).
pub fn is_agent_socket(name: &str) -> bool {
    AGENT_SOCKETS.contains(&name)
}

/// Whether `name` looks like it holds a secret: such names are dropped even when the allow
/// list admits them (`CARGO_REGISTRY_TOKEN`, `npm_config__authToken`, `GOOGLE_API_KEY`).
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    is_agent_socket(name)
        || SECRET_PREFIXES.iter().any(|p| upper.starts_with(p))
        || SECRET_PARTS.iter().any(|p| upper.contains(p))
        || SECRET_SUFFIXES.iter().any(|s| upper.ends_with(s))
}

/// Whether the allow list admits `name` (before secrets are taken out).
pub fn is_allowed(name: &str) -> bool {
    ALLOWED.contains(&name) || ALLOWED_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// How to scrub: which names to keep beyond the allow list.
#[derive(Debug, Clone, Default)]
pub struct Scrub {
    /// Names that always pass, secrets and agent sockets included (`exec --env NAME`; `run`
    /// passes its agent's API key here).
    pub keep: Vec<String>,
    /// Pass every variable except secrets and agent sockets (`exec --env-all`).
    pub pass_all: bool,
}

/// What the scrub did, for `exec --json`.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct EnvReport {
    /// How many variables passed.
    pub passed: usize,
    /// The names that were dropped, sorted (names only, never values).
    pub dropped: Vec<String>,
}

impl Scrub {
    /// The default scrub: the allow list only.
    pub fn new() -> Scrub {
        Scrub::default()
    }

    /// Adds names that always pass.
    pub fn keep<I, S>(mut self, names: I) -> Scrub
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.keep.extend(names.into_iter().map(Into::into));
        self
    }

    /// Whether the variable `name` passes.
    pub fn passes(&self, name: &OsStr) -> bool {
        // A name that is not UTF-8 is nothing a tool looks for by name: drop it.
        let Some(name) = name.to_str() else {
            return false;
        };
        if self.keep.iter().any(|k| k == name) {
            return true;
        }
        if looks_secret(name) {
            return false;
        }
        self.pass_all || is_allowed(name)
    }

    /// Splits `vars` into what passes and the report.
    pub fn decide<I>(&self, vars: I) -> (Vec<(OsString, OsString)>, EnvReport)
    where
        I: IntoIterator<Item = (OsString, OsString)>,
    {
        let mut passed = Vec::new();
        let mut report = EnvReport::default();
        for (name, value) in vars {
            if self.passes(&name) {
                passed.push((name, value));
            } else {
                report.dropped.push(name.to_string_lossy().into_owned());
            }
        }
        report.passed = passed.len();
        report.dropped.sort();
        (passed, report)
    }

    /// Replaces `cmd`'s environment with the scrubbed environment of this process.
    ///
    /// Call it before anything sets variables on `cmd` (`confine_command` sets `TMPDIR`):
    /// it clears what was set before.
    pub fn apply(&self, cmd: &mut Command) -> EnvReport {
        let (passed, report) = self.decide(std::env::vars_os());
        cmd.env_clear().envs(passed);
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passes(s: &Scrub, name: &str) -> bool {
        s.passes(OsStr::new(name))
    }

    #[test]
    fn allow_list_passes_build_variables() {
        let s = Scrub::new();
        for name in [
            "PATH",
            "HOME",
            "LC_ALL",
            "CARGO_HOME",
            "RUSTUP_TOOLCHAIN",
            "npm_config_cache",
            "PIP_INDEX_URL",
            "PYTHONPATH",
            "NODE_OPTIONS",
            "GOPATH",
            "VIRTUAL_ENV",
            "JAVA_HOME",
        ] {
            assert!(passes(&s, name), "{name} should pass");
        }
    }

    #[test]
    fn secrets_are_dropped_even_when_a_pattern_admits_them() {
        let s = Scrub::new();
        for name in [
            "CARGO_REGISTRY_TOKEN",
            "npm_config__authToken",
            "npm_config__auth",
            "GOOGLE_API_KEY",
            "GOPROXY_PASSWORD",
            "PIP_PASSWORD",
            "NODE_AUTH_TOKEN",
            "PYTHON_SECRET",
        ] {
            assert!(!passes(&s, name), "{name} should be dropped");
        }
    }

    #[test]
    fn env_all_passes_more_but_never_secrets_or_agent_sockets() {
        let s = Scrub {
            pass_all: true,
            ..Scrub::default()
        };
        assert!(passes(&s, "MY_BUILD_FLAG"));
        for name in [
            "GITHUB_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_PROFILE",
            "DB_PASSWORD",
            "OPENAI_API_KEY",
            "SIGNING_KEY",
            "SSH_AUTH_SOCK",
            "GPG_AGENT_INFO",
            "DBUS_SESSION_BUS_ADDRESS",
            "MY_APP_SECRET_VALUE",
        ] {
            assert!(!passes(&s, name), "{name} should be dropped");
        }
    }

    #[test]
    fn named_variables_pass_even_when_secret() {
        let s = Scrub::new().keep(["ANTHROPIC_API_KEY", "SSH_AUTH_SOCK"]);
        assert!(passes(&s, "ANTHROPIC_API_KEY"));
        assert!(passes(&s, "SSH_AUTH_SOCK"));
        assert!(!passes(&s, "OPENAI_API_KEY"));
    }

    #[test]
    fn decide_reports_dropped_names_sorted() {
        let vars = [("Z_TOKEN", "1"), ("PATH", "/bin"), ("A_SECRET", "2")]
            .map(|(n, v)| (OsString::from(n), OsString::from(v)));
        let (passed, report) = Scrub::new().decide(vars);
        assert_eq!(
            passed,
            vec![(OsString::from("PATH"), OsString::from("/bin"))]
        );
        assert_eq!(report.passed, 1);
        assert_eq!(report.dropped, vec!["A_SECRET", "Z_TOKEN"]);
    }
}
