//! The gate's vocabulary: where a line runs ([`Context`]), what the gate says ([`Decision`],
//! [`Verdict`]), and how a word is quoted back into a line ([`quote`]).
//!
//! It is the lowest layer above the plain text helpers: every other module may use it.

use std::path::PathBuf;

use serde::Serialize;

/// Where a line would run: the directories that relative paths and `~` resolve against.
#[derive(Debug, Clone)]
pub struct Context {
    /// The working directory the line starts in.
    pub cwd: PathBuf,
    /// The agent's workspace; when `None`, `cwd` is taken as the workspace.
    pub workspace: Option<PathBuf>,
    /// The user's home directory; when `None`, `~` stays an unknown home outside the workspace.
    pub home: Option<PathBuf>,
}

impl Context {
    /// A context for the current process: its cwd as workspace, `$HOME` as home.
    pub fn from_env() -> Context {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        Context {
            cwd,
            workspace: None,
            home: std::env::var_os("HOME").map(PathBuf::from),
        }
    }
}

/// What the gate says about a line.
#[derive(Debug, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Run it.
    Allow,
    /// Never run it.
    Deny,
    /// A human must decide; headless, this blocks.
    Ask,
}

impl Decision {
    /// The process exit code `gate check` uses for this decision.
    pub fn exit_code(self) -> i32 {
        match self {
            Decision::Allow => 0,
            Decision::Deny => 3,
            Decision::Ask => 4,
        }
    }

    /// How strict the decision is: the verdict of a line is the strictest over its commands.
    pub(crate) fn severity(self) -> u8 {
        match self {
            Decision::Allow => 0,
            Decision::Ask => 1,
            Decision::Deny => 2,
        }
    }

    /// The lowercase name used in JSON and policy files.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
            Decision::Ask => "ask",
        }
    }
}

/// The gate's answer for one line.
#[derive(Debug, Serialize, Clone)]
pub struct Verdict {
    /// Allow, deny or ask.
    pub decision: Decision,
    /// The id of the rule that fired, if any.
    pub rule: Option<String>,
    /// The rule's category (e.g. `fs_destroy`).
    pub category: Option<String>,
    /// Why, in one sentence a model can act on.
    pub reason: String,
    /// The simple command that triggered the rule, after unwrapping.
    pub command: Option<String>,
    /// The wrappers the command was found inside, outermost first (`sudo`, `sh -c`, ...).
    pub wrappers: Vec<String>,
    /// A safer way to reach the same goal, where one exists.
    pub alternative: Option<String>,
}

/// Quotes a word for a POSIX shell so that it stays exactly one literal word.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Quotes argv into one command line a POSIX shell splits back into the same words.
pub fn quote_argv(argv: &[String]) -> String {
    argv.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}
