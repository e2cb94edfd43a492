//! The command gate: judges a shell command line against an exec policy before it runs.
//!
//! Owns: parsing a line into a bash syntax tree (`walk`), evaluating its words statically
//! (`words`, `text`), unwrapping wrappers and nested shells (`unwrap`, `fanout`), the rule
//! families (`rules`, `interp`, `sed`), the per-tool tables (`tables`) and the general rules
//! over them (`generic`), path classification (`paths`) and the policy
//! (`policy`, `default-policy.toml`). See `docs/GATE.md`.
//! The verdict is the strictest over every simple command the line would run.
//!
//! Architecture invariant: the gate fails closed.
//! A line that does not parse, a program name that cannot be known statically, or a snippet
//! that cannot be read is `ask`; a line past a size, depth or time bound is `deny`.
//! [`Gate::judge`] never panics and returns within its time bound.
//!
//! It does not run anything; every judgement is made from the text, the [`Context`] and the
//! policy, except that a git command's configuration files are read from disk
//! (`rules::git_files`: small regular files only, never devices or `/proc`).//!
//! Layers, lowest first; a module imports only modules in lower layers, never one above it
//! (`tests/layers.rs` checks this), and a rule that must judge a nested line recurses
//! through the `analyzer::Judge` trait object that `walk` installs instead of importing it:
//! 1. `text`, `tables`, `urls`
//! 2. `decision`
//! 3. `state`
//! 4. `field`
//! 5. `args`
//! 6. `paths`
//! 7. `policy`
//! 8. `analyzer`
//! 9. `words`
//! 10. `cmd`
//! 11. `sed`
//! 12. `interp`
//! 13. `generic`
//! 14. `rules`
//! 15. `fanout`
//! 16. `unwrap`
//! 17. `walk`
//! 18. `lib`

mod analyzer;
mod args;
mod cmd;
mod decision;
mod fanout;
mod field;
mod generic;
mod interp;
mod paths;
mod policy;
mod rules;
mod sed;
mod state;
mod tables;
mod text;
mod unwrap;
mod urls;
mod walk;
mod words;

use std::path::Path;

pub use decision::{Context, Decision, Verdict, quote, quote_argv};
pub use policy::GateError;
use policy::Policy;

/// Whether reading `path` (absolute) reads credentials: a credential store in the home outside
/// the workspace (`~/.ssh/id_ed25519`, `~/.aws/credentials`, `~/.netrc`; public keys and host
/// lists aside), or a directory that holds one (`~/.config`, the home itself).
pub fn reads_credentials(path: &Path, ctx: &Context) -> bool {
    let p = paths::Paths::new(ctx);
    let abs = paths::normalize(&path.to_string_lossy());
    p.credentials(&abs) || p.holds_secrets(&abs)
}

/// Whether writing `path` changes code an agent's harness runs on its own, outside any hook:
/// slash commands, skills, sub-agents, extensions and MCP server lists (`paths::AGENT_CODE`).
pub fn runs_agent_code(path: &Path) -> bool {
    paths::agent_code(&path.to_string_lossy())
}

/// Whether `rel`, a path below the home, is a file a shell or login runs at start-up
/// (`.bashrc`, `.profile`, fish's configuration, ...).
pub fn runs_at_shell_start(rel: &Path) -> bool {
    paths::shell_start_up(&rel.to_string_lossy())
}

/// The value a git configuration text gives `key` (`section.name`, any case) last, if any,
/// read as the gate reads configuration files.
pub fn git_config_value(config: &str, key: &str) -> Option<String> {
    generic::git_file(config)
        .into_iter()
        .rev()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// A loaded policy, ready to judge lines.
#[derive(Debug)]
pub struct Gate {
    policy: Policy,
}

impl Gate {
    /// Loads the default policy, extended or overridden by `policy_file` when given.
    /// The file's `match`/`not_match` examples are checked; a failing one is an error naming
    /// the file and line. (The compiled-in examples are checked by the test suite.)
    pub fn load(policy_file: Option<&Path>) -> Result<Gate, GateError> {
        let policy = Policy::load(policy_file)?;
        let gate = Gate { policy };
        gate.policy.check_examples(|l, c| gate.fired(l, c))?;
        Ok(gate)
    }

    /// Loads without checking examples (to list every failing example at once).
    #[doc(hidden)]
    pub fn load_unchecked(policy_file: Option<&Path>) -> Result<Gate, GateError> {
        Ok(Gate {
            policy: Policy::load(policy_file)?,
        })
    }

    /// Every policy example that does not behave, as errors naming file and line.
    #[doc(hidden)]
    pub fn example_failures(&self) -> Vec<String> {
        self.policy
            .example_failures(|l, c| self.fired(l, c), true)
            .into_iter()
            .map(|e| e.to_string())
            .collect()
    }

    /// The ids of every rule the loaded policy knows.
    #[cfg(test)]
    pub(crate) fn rule_ids(&self) -> Vec<String> {
        self.policy.ids()
    }

    /// Judges one command line. Never panics; bounded in time and memory.
    pub fn judge(&self, line: &str, ctx: &Context) -> Verdict {
        let hits = walk::analyze(&self.policy, line, ctx);
        self.policy.verdict(hits)
    }

    /// Judges an argv as `exec` would run it: each word is quoted, then the line is judged.
    pub fn judge_argv(&self, argv: &[String], ctx: &Context) -> Verdict {
        let line = argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ");
        self.judge(&line, ctx)
    }

    /// The ids of every rule that fires on `line` (used to check policy examples).
    pub(crate) fn fired(&self, line: &str, ctx: &Context) -> Vec<String> {
        walk::analyze(&self.policy, line, ctx)
            .into_iter()
            .map(|h| h.rule)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every rule id the code can fire has metadata in the default policy, so no hit falls
    /// back to the fail-closed `ask` of an unknown id.
    #[test]
    fn every_fired_rule_id_is_in_the_default_policy() {
        let gate = Gate::load_unchecked(None).expect("default policy parses");
        let ids = gate.rule_ids();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![dir.clone()];
        let mut missing = Vec::new();
        while let Some(d) = files.pop() {
            for entry in std::fs::read_dir(&d)
                .expect("source dir readable")
                .flatten()
            {
                let p = entry.path();
                if p.is_dir() {
                    files.push(p.clone());
                }
                if p.extension().is_some_and(|e| e == "rs") {
                    let src = std::fs::read_to_string(&p).expect("source readable");
                    for cap in src.split('"').skip(1).step_by(2) {
                        let looks_like_id = cap.contains('.')
                            && cap.split('.').count() == 2
                            && !cap.ends_with('.')
                            && cap
                                .chars()
                                .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
                            && ids
                                .iter()
                                .any(|i| i.split('.').next() == cap.split('.').next());
                        if looks_like_id && !ids.iter().any(|i| i == cap) {
                            missing.push(format!("{}: {cap}", p.display()));
                        }
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "rule ids without policy metadata: {missing:#?}"
        );
    }

    #[test]
    fn quoting_round_trips() {
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("src/lib.rs"), "src/lib.rs");
    }
}
