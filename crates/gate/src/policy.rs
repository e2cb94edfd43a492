//! The exec policy: rule metadata, decisions, the policy's own rules, and loading.
//!
//! Owns the default policy (`default-policy.toml`, compiled into the binary), how a TOML
//! policy file extends or overrides it, the checking of every rule's `match`/`not_match`
//! examples at load time, and turning hits into a [`Verdict`].
//! Errors name the file and the line.
//!
//! The rule logic itself lives in code (`rules/`, `interp.rs`, `unwrap.rs`); the policy says
//! what each rule id decides, why, and what to do instead.
//! A file can change a built-in rule's decision, reason or alternative, add examples, and
//! add simple rules that match a program and argument patterns.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::text::glob_match;
use crate::decision::{Context, Decision, Verdict};
use crate::field::Field;
use crate::state::Hit;

/// The policy compiled into the binary.
const DEFAULT_POLICY: &str = include_str!("default-policy.toml");
const DEFAULT_NAME: &str = "<default policy>";

/// Errors loading a policy.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("cannot read policy {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    Syntax {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{file}:{line}: rule {rule}: {message}")]
    Invalid {
        file: String,
        line: usize,
        rule: String,
        message: String,
    },
    #[error("{file}:{line}: rule {rule}: example {example:?} {problem}")]
    Example {
        file: String,
        line: usize,
        rule: String,
        example: String,
        problem: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    settings: Option<Settings>,
    #[serde(default)]
    rule: Vec<RuleDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// What `ask` becomes: `ask` (default, blocks headless), `deny` or `allow`.
    ask: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDef {
    id: String,
    category: Option<String>,
    decision: Option<String>,
    reason: Option<String>,
    alternative: Option<String>,
    #[serde(default, rename = "match")]
    matches: Vec<String>,
    #[serde(default)]
    not_match: Vec<String>,
    /// For a rule of the file's own: the normalized program names it applies to.
    #[serde(default)]
    programs: Vec<String>,
    /// Shell patterns that must each match one argument.
    #[serde(default)]
    args: Vec<String>,
}

/// What a rule id decides and says.
#[derive(Debug, Clone)]
struct RuleMeta {
    category: String,
    decision: Decision,
    reason: String,
    alternative: Option<String>,
}

/// A rule defined by a policy file: a program and argument patterns.
#[derive(Debug, Clone)]
struct CustomRule {
    id: String,
    programs: Vec<String>,
    args: Vec<String>,
}

#[derive(Debug, Clone)]
struct Example {
    file: String,
    line: usize,
    rule: String,
    text: String,
    should_fire: bool,
    /// From the compiled-in policy: checked by the test suite, not at every load (a file
    /// that overrides a rule may legitimately change what its built-in examples get).
    builtin: bool,
}

/// A loaded policy.
#[derive(Debug)]
pub(crate) struct Policy {
    rules: HashMap<String, RuleMeta>,
    custom: Vec<CustomRule>,
    ask_as: Decision,
    examples: Vec<Example>,
}

fn parse_decision(s: &str) -> Option<Decision> {
    match s {
        "allow" => Some(Decision::Allow),
        "deny" => Some(Decision::Deny),
        "ask" => Some(Decision::Ask),
        _ => None,
    }
}

/// The 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count() + 1
}

/// The line where rule `id` is defined (its `id = "..."` line).
fn rule_line(text: &str, id: &str) -> usize {
    let needle = format!("\"{id}\"");
    text.find(&needle).map_or(1, |at| line_of(text, at))
}

impl Policy {
    /// The default policy, then `file` on top of it.
    pub fn load(file: Option<&Path>) -> Result<Policy, GateError> {
        let mut p = Policy {
            rules: HashMap::new(),
            custom: Vec::new(),
            ask_as: Decision::Ask,
            examples: Vec::new(),
        };
        p.merge(DEFAULT_POLICY, DEFAULT_NAME, true)?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| GateError::Read {
                path: path.to_owned(),
                source,
            })?;
            p.merge(&text, &path.display().to_string(), false)?;
        }
        Ok(p)
    }

    fn merge(&mut self, text: &str, name: &str, builtin: bool) -> Result<(), GateError> {
        let parsed: PolicyFile = toml::from_str(text).map_err(|e| GateError::Syntax {
            file: name.to_owned(),
            line: e.span().map_or(1, |s| line_of(text, s.start)),
            message: e.message().to_owned(),
        })?;
        if let Some(ask) = parsed.settings.and_then(|s| s.ask) {
            self.ask_as = parse_decision(&ask).ok_or_else(|| GateError::Syntax {
                file: name.to_owned(),
                line: text.find("ask").map_or(1, |at| line_of(text, at)),
                message: format!("settings.ask must be allow, deny or ask, not {ask:?}"),
            })?;
        }
        for def in parsed.rule {
            let meta = self.rule_meta(&def, text, name, builtin)?;
            self.rules.insert(def.id.clone(), meta);
            self.add_examples(&def, text, name, builtin);
        }
        Ok(())
    }

    /// The metadata one rule definition gives: a built-in rule's, changed where the
    /// definition says, or a new rule's (which needs `programs` and every field).
    fn rule_meta(
        &mut self,
        def: &RuleDef,
        text: &str,
        name: &str,
        builtin: bool,
    ) -> Result<RuleMeta, GateError> {
        // Line numbers are only looked up when needed: searching the text for every
        // rule and example costs more than the rest of loading the policy.
        let invalid = |message: String| GateError::Invalid {
            file: name.to_owned(),
            line: rule_line(text, &def.id),
            rule: def.id.clone(),
            message,
        };
        let decision = match &def.decision {
            Some(d) => Some(parse_decision(d).ok_or_else(|| {
                invalid(format!("decision must be allow, deny or ask, not {d:?}"))
            })?),
            None => None,
        };
        let existing = self.rules.get(&def.id).cloned();
        let meta = match (existing, def.programs.is_empty()) {
            (Some(mut m), true) => {
                if let Some(d) = decision {
                    m.decision = d;
                }
                if let Some(c) = &def.category {
                    m.category = c.clone();
                }
                if let Some(r) = &def.reason {
                    m.reason = r.clone();
                }
                if def.alternative.is_some() {
                    m.alternative = def.alternative.clone();
                }
                m
            }
            (None, true) if !builtin => {
                return Err(invalid(
                    "no built-in rule has this id; a new rule needs `programs`".into(),
                ));
            }
            (_, programs_empty) => {
                if !programs_empty {
                    self.custom.retain(|c| c.id != def.id);
                    self.custom.push(CustomRule {
                        id: def.id.clone(),
                        programs: def.programs.clone(),
                        args: def.args.clone(),
                    });
                }
                RuleMeta {
                    category: def
                        .category
                        .clone()
                        .ok_or_else(|| invalid("missing category".into()))?,
                    decision: decision.ok_or_else(|| invalid("missing decision".into()))?,
                    reason: def
                        .reason
                        .clone()
                        .ok_or_else(|| invalid("missing reason".into()))?,
                    alternative: def.alternative.clone(),
                }
            }
        };
        Ok(meta)
    }

    /// Records a rule definition's `match`/`not_match` examples.
    fn add_examples(&mut self, def: &RuleDef, text: &str, name: &str, builtin: bool) {
        for (list, should_fire) in [(&def.matches, true), (&def.not_match, false)] {
            for ex in list {
                // The built-in examples are checked by the test suite, which can afford
                // the search; a policy file's are checked at load and named exactly.
                let at = if builtin {
                    0
                } else {
                    text.find(ex.as_str())
                        .map_or_else(|| rule_line(text, &def.id), |at| line_of(text, at))
                };
                self.examples.push(Example {
                    file: name.to_owned(),
                    line: at,
                    rule: def.id.clone(),
                    text: ex.clone(),
                    should_fire,
                    builtin,
                });
            }
        }
    }

    /// Judges the policy file's example lines; the first that does not behave is an error.
    /// `fired` judges a line and returns the ids of the rules that fire on it.
    pub fn check_examples(
        &self,
        fired: impl Fn(&str, &Context) -> Vec<String>,
    ) -> Result<(), GateError> {
        match self.example_failures(fired, false).into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Every example that does not behave (with `builtin`, the compiled-in ones too).
    pub fn example_failures(
        &self,
        fired: impl Fn(&str, &Context) -> Vec<String>,
        builtin: bool,
    ) -> Vec<GateError> {
        let ctx = example_context();
        let mut out = Vec::new();
        for ex in self.examples.iter().filter(|e| builtin || !e.builtin) {
            let fired = fired(&ex.text, &ctx);
            let did = fired.contains(&ex.rule);
            if did != ex.should_fire {
                // Built-in examples carry no line (see merge); look it up now.
                let line = if ex.builtin {
                    DEFAULT_POLICY
                        .find(ex.text.as_str())
                        .map_or(1, |at| line_of(DEFAULT_POLICY, at))
                } else {
                    ex.line
                };
                out.push(GateError::Example {
                    file: ex.file.clone(),
                    line,
                    rule: ex.rule.clone(),
                    example: ex.text.clone(),
                    problem: if ex.should_fire {
                        format!("should fire this rule, but fired [{}]", fired.join(", "))
                    } else {
                        "should not fire this rule, but does".into()
                    },
                });
            }
        }
        out
    }

    /// The decision of rule `id`; an id without metadata fails closed.
    pub fn decision_of(&self, id: &str) -> Decision {
        self.rules.get(id).map_or(Decision::Ask, |m| m.decision)
    }

    /// Every rule id the policy knows.
    #[cfg(test)]
    pub fn ids(&self) -> Vec<String> {
        self.rules.keys().cloned().collect()
    }

    /// The ids of the file's own rules that match one unwrapped command: its program is one
    /// the rule names, and every argument pattern matches some known argument.
    pub fn custom_matches<'p>(
        &'p self,
        name: &'p str,
        fields: &'p [Field],
    ) -> impl Iterator<Item = &'p str> + 'p {
        self.custom.iter().filter_map(move |rule| {
            let args = fields.get(1..).unwrap_or_default();
            let all = rule
                .args
                .iter()
                .all(|pat| args.iter().any(|a| a.known && glob_match(pat, &a.text)));
            (rule.programs.iter().any(|p| p == name) && all).then_some(rule.id.as_str())
        })
    }

    /// The verdict over all hits: the strictest decision wins, the first hit breaks ties.
    pub fn verdict(&self, hits: Vec<Hit>) -> Verdict {
        let mut best: Option<(Decision, Hit)> = None;
        for h in hits {
            let d = self.effective(&h);
            if best
                .as_ref()
                .is_none_or(|(b, _)| d.severity() > b.severity())
            {
                best = Some((d, h));
            }
        }
        let Some((decision, hit)) = best else {
            return Verdict {
                decision: Decision::Allow,
                rule: None,
                category: None,
                reason: "no rule matched".into(),
                command: None,
                wrappers: Vec::new(),
                alternative: None,
            };
        };
        let meta = self.rules.get(&hit.rule);
        let mut reason = meta.map_or_else(|| "unknown rule".to_owned(), |m| m.reason.clone());
        if let Some(d) = &hit.detail {
            reason = format!("{reason} ({d})");
        }
        Verdict {
            decision,
            rule: Some(hit.rule.clone()),
            category: meta.map(|m| m.category.clone()),
            reason,
            command: (!hit.command.is_empty()).then(|| hit.command.clone()),
            wrappers: hit.wrappers,
            alternative: meta.and_then(|m| m.alternative.clone()),
        }
    }

    /// The decision a hit stands for once `settings.ask` is applied. The gate's own
    /// fail-closed asks never become allow.
    fn effective(&self, h: &Hit) -> Decision {
        if h.decision != Decision::Ask {
            return h.decision;
        }
        match (self.ask_as, h.rule.starts_with("gate.")) {
            (Decision::Allow, true) => Decision::Ask,
            (d, _) => d,
        }
    }
}

/// The context examples are judged in: a project in an ordinary user's home.
pub(crate) fn example_context() -> Context {
    Context {
        cwd: PathBuf::from("/home/dev/project"),
        workspace: Some(PathBuf::from("/home/dev/project")),
        home: Some(PathBuf::from("/home/dev")),
    }
}
