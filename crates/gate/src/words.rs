//! Static word evaluation: what a shell word becomes before the command runs.
//!
//! Owns quote removal, backslashes, `$'...'`, brace and tilde expansion, parameter expansion
//! of variables assigned earlier on the line (with `${v:1}`, `${v%pat}`, `${v:?}` and the
//! like), field splitting of unquoted expansions, and command substitution (the inner line
//! is judged, and its output is known when the gate can compute it).
//! A part that cannot be known is written as [`UNKNOWN`] and clears [`Field::known`]:
//! callers must treat such a field as anything at all.
//!
//! It does not expand globs against the filesystem: a glob stays a pattern ([`Field::glob`]).

use brush_parser::ParserOptions;
use brush_parser::ast::Word;
use brush_parser::word::{
    Parameter, ParameterExpr, ParameterTransformOp, TildeExpr, WordPiece, WordPieceWithSource,
};

use super::text::{brace_expand, decode_ansi_c, strip_pattern, substring};
use crate::analyzer::Analyzer;
use crate::field::{DESCENDANT, Field, UNKNOWN, has_glob, secret_name};
use crate::state::{Scope, Stream, Taint, Value};

/// The shell variable names in an arithmetic expression.
fn identifiers(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'))
}

/// Builds the fields of one word, splitting unquoted expansions when asked.
struct Builder {
    fields: Vec<Field>,
    cur: Field,
    /// The current field exists even if empty (it had quotes or literal text).
    started: bool,
    split: bool,
    /// Field separators (`$IFS`).
    ifs: String,
}

impl Builder {
    fn new(split: bool, ifs: &str) -> Builder {
        Builder {
            ifs: ifs.to_owned(),
            fields: Vec::new(),
            cur: Field {
                known: true,
                ..Field::default()
            },
            started: false,
            split,
        }
    }

    fn literal(&mut self, s: &str, glob_chars: bool) {
        if glob_chars && has_glob(s) {
            self.cur.glob = true;
        }
        // Static output may carry unknown parts (`mktemp` names a file below /tmp).
        if s.contains([UNKNOWN, DESCENDANT]) {
            self.cur.known = false;
        }
        self.cur.text.push_str(s);
        self.started = true;
    }

    fn unknown(&mut self, taint: Taint) {
        self.cur.text.push(UNKNOWN);
        self.cur.known = false;
        self.cur.taint = self.cur.taint.merge(taint);
        self.started = true;
    }

    /// Appends an expansion's value; unquoted values are split on blanks.
    fn expansion(&mut self, v: Value, quoted: bool) {
        self.cur.taint = self.cur.taint.merge(v.taint);
        let Some(text) = v.text else {
            self.unknown(v.taint);
            return;
        };
        if quoted || !self.split {
            self.literal(&text, false);
            return;
        }
        if has_glob(&text) {
            self.cur.glob = true;
        }
        let ifs: Vec<char> = self.ifs.chars().collect();
        let mut parts = text.split(ifs.as_slice()).peekable();
        let leading_blank = text.starts_with(ifs.as_slice());
        if leading_blank && self.started {
            self.finish();
        }
        while let Some(p) = parts.next() {
            if !p.is_empty() {
                if p.contains([UNKNOWN, DESCENDANT]) {
                    self.cur.known = false;
                }
                self.cur.text.push_str(p);
                self.started = true;
            }
            if parts.peek().is_some() && self.started {
                self.finish();
            }
        }
    }

    fn finish(&mut self) {
        let taint = self.cur.taint;
        let done = std::mem::replace(
            &mut self.cur,
            Field {
                known: true,
                taint,
                ..Field::default()
            },
        );
        self.fields.push(done);
        self.started = false;
    }

    fn done(mut self) -> Vec<Field> {
        if self.started {
            self.finish();
        }
        self.fields
    }
}

impl Analyzer<'_> {
    /// Expands a word into fields, as the shell would before running the command.
    pub fn eval_word(&mut self, w: &Word, scope: &Scope) -> Vec<Field> {
        let mut out = Vec::new();
        for raw in brace_expand(&w.value) {
            out.extend(self.eval_raw(&raw, scope, true));
        }
        out
    }

    /// Expands a word into exactly one field (assignments, redirection targets).
    pub fn eval_single(&mut self, w: &Word, scope: &Scope) -> Field {
        let mut fields = self.eval_raw(&w.value, scope, false);
        match fields.len() {
            0 => Field::lit(""),
            1 => fields.remove(0),
            _ => {
                let mut f = fields.remove(0);
                for g in fields {
                    f.text.push(' ');
                    f.text.push_str(&g.text);
                    f.known &= g.known;
                    f.taint = f.taint.merge(g.taint);
                }
                f
            }
        }
    }

    /// Evaluates a here-document body with expansion.
    pub fn eval_heredoc(&mut self, body: &str, scope: &Scope) -> Stream {
        let Ok(pieces) = brush_parser::word::parse_heredoc(body, &ParserOptions::default()) else {
            return Stream::default();
        };
        let mut b = Builder::new(false, " ");
        self.pieces(&pieces, scope, &mut b, true);
        let f = b
            .done()
            .into_iter()
            .next()
            .unwrap_or_else(|| Field::lit(""));
        Stream {
            text: f.known.then_some(f.text),
            taint: f.taint,
            ..Stream::default()
        }
    }

    /// Judges the command substitutions inside text that is not itself a word (an
    /// arithmetic expression, a `[[ ... ]]` test) and returns the taint of their output.
    pub fn expand_embedded(&mut self, text: &str, scope: &Scope) -> Taint {
        let mut taint = self.substitutions_in(text, scope);
        // Arithmetic evaluates a variable's value as an expression in turn, so `a[$(CMD)]`
        // in a value runs CMD (`x='a[$(CMD)]'; echo $((x))`): follow each name once.
        let mut seen: Vec<&str> = Vec::new();
        let mut names: Vec<&str> = identifiers(text).collect();
        while let Some(name) = names.pop() {
            if seen.contains(&name) {
                continue;
            }
            seen.push(name);
            if let Some(v) = scope.vars.get(name).and_then(|v| v.text.as_deref()) {
                taint = taint.merge(self.substitutions_in(v, scope));
                names.extend(identifiers(v));
            }
        }
        taint
    }

    /// Judges the command substitutions inside `text` and returns their output's taint.
    fn substitutions_in(&mut self, text: &str, scope: &Scope) -> Taint {
        if !text.contains("$(") && !text.contains('`') && !text.contains("<(") {
            return Taint::default();
        }
        let quoted = format!("\"{}\"", text.replace('"', "\\\""));
        self.eval_raw(&quoted, scope, false)
            .iter()
            .fold(Taint::default(), |t, f| t.merge(f.taint))
    }

    fn eval_raw(&mut self, raw: &str, scope: &Scope, split: bool) -> Vec<Field> {
        match brush_parser::word::parse(raw, &ParserOptions::default()) {
            Ok(pieces) => {
                let ifs = scope
                    .vars
                    .get("IFS")
                    .and_then(|v| v.text.clone())
                    .unwrap_or_else(|| " \t\n".to_owned());
                let mut b = Builder::new(split, &ifs);
                self.pieces(&pieces, scope, &mut b, false);
                b.done()
            }
            // A word the expansion parser rejects is unknown, never literal.
            Err(_) => vec![Field::unknown(Taint::default())],
        }
    }

    fn pieces(
        &mut self,
        pieces: &[WordPieceWithSource],
        scope: &Scope,
        b: &mut Builder,
        quoted: bool,
    ) {
        for p in pieces {
            match &p.piece {
                WordPiece::Text(s) => b.literal(s, !quoted),
                WordPiece::SingleQuotedText(s) => b.literal(s, false),
                WordPiece::AnsiCQuotedText(s) => b.literal(&decode_ansi_c(s), false),
                WordPiece::DoubleQuotedSequence(inner)
                | WordPiece::GettextDoubleQuotedSequence(inner) => {
                    b.started = true;
                    self.pieces(inner, scope, b, true);
                }
                WordPiece::TildeExpansion(t) => match t {
                    TildeExpr::Home => match &self.paths.home {
                        Some(h) => b.literal(&h.clone(), false),
                        None => b.literal("~", false),
                    },
                    TildeExpr::UserHome(u) if u == "root" => b.literal("/root", false),
                    TildeExpr::UserHome(u) => b.literal(&format!("/home/{u}"), false),
                    TildeExpr::WorkingDir => match &scope.cwd {
                        Some(c) => b.literal(&c.clone(), false),
                        None => b.unknown(Taint::default()),
                    },
                    _ => b.unknown(Taint::default()),
                },
                WordPiece::ParameterExpansion(e) => {
                    let v = self.param(e, scope);
                    b.expansion(v, quoted);
                }
                WordPiece::CommandSubstitution(s) => {
                    let v = self.substitute(s, scope);
                    b.expansion(v, quoted);
                }
                WordPiece::BackquotedCommandSubstitution(s) => {
                    let inner = s
                        .replace("\\`", "`")
                        .replace("\\$", "$")
                        .replace("\\\\", "\\");
                    let v = self.substitute(&inner, scope);
                    b.expansion(v, quoted);
                }
                WordPiece::EscapeSequence(s) => {
                    let c: String = s.chars().skip(1).collect();
                    b.literal(&c, false);
                }
                WordPiece::ArithmeticExpression(e) => {
                    // Substitutions inside the expression run before the arithmetic.
                    let inner = self.expand_embedded(&e.value, scope);
                    b.unknown(inner);
                }
            }
        }
    }

    /// Runs a command substitution through the gate and returns its output when static.
    fn substitute(&mut self, text: &str, scope: &Scope) -> Value {
        let mut inner = scope.clone();
        inner.depth += 1;
        let out = self.run_line(text, &mut inner, Stream::default());
        Value {
            text: out.text.map(|t| t.trim_end_matches('\n').to_owned()),
            taint: out.taint,
        }
    }

    /// [`Self::lookup`], after judging an array subscript (an arithmetic expression).
    fn fetch(&mut self, p: &Parameter, scope: &Scope) -> Value {
        if let Parameter::NamedWithIndex { index, .. } = p {
            self.expand_embedded(index, scope);
        }
        self.lookup(p, scope)
    }

    fn lookup(&self, p: &Parameter, scope: &Scope) -> Value {
        if let Parameter::NamedWithIndex { name, .. }
        | Parameter::NamedWithAllIndices { name, .. } = p
        {
            // An element of an array: its text is not followed, its taint is the array's.
            let v = self.lookup(&Parameter::Named(name.clone()), scope);
            return Value {
                text: None,
                taint: v.taint,
            };
        }
        // `$1`...`$9` inside a function body judged at its call.
        if let Parameter::Positional(n @ 1..=9) = p {
            return scope.vars.get(&n.to_string()).cloned().unwrap_or_default();
        }
        let Parameter::Named(name) = p else {
            // `$!` and `$$`: a job this line started, and the shell running it.
            let pids = matches!(
                p,
                Parameter::Special(
                    brush_parser::word::SpecialParameter::LastBackgroundProcessId
                        | brush_parser::word::SpecialParameter::ProcessId
                )
            );
            return Value {
                text: None,
                taint: Taint {
                    pids,
                    ..Taint::default()
                },
            };
        };
        if let Some(v) = scope.vars.get(name) {
            return v.clone();
        }
        match name.as_str() {
            "HOME" => Value {
                text: self.paths.home.clone(),
                taint: Taint::default(),
            },
            "PWD" => Value {
                text: scope.cwd.clone(),
                taint: Taint::default(),
            },
            // Scratch directories: their value is not known, their kind is.
            "TMPDIR" | "TMP" | "TEMP" => Value {
                text: Some("/tmp".to_owned()),
                taint: Taint::default(),
            },
            _ => Value {
                text: None,
                taint: Taint {
                    secret: secret_name(name),
                    ..Taint::default()
                },
            },
        }
    }

    /// The value of a parameter expansion, one arm per form of `${...}` the parser knows.
    // long: an exhaustive match over the parser's expansion forms, each arm a few lines.
    fn param(&mut self, e: &ParameterExpr, scope: &Scope) -> Value {
        match e {
            ParameterExpr::Parameter {
                parameter,
                indirect: false,
            } => self.fetch(parameter, scope),
            ParameterExpr::IndicateErrorIfNullOrUnset {
                parameter,
                indirect: false,
                ..
            } => {
                let v = self.fetch(parameter, scope);
                self.embedded(e, scope);
                v
            }
            ParameterExpr::UseDefaultValues {
                parameter,
                indirect: false,
                default_value,
                ..
            }
            | ParameterExpr::AssignDefaultValues {
                parameter,
                indirect: false,
                default_value,
                ..
            } => {
                let v = self.fetch(parameter, scope);
                match (&v.text, default_value) {
                    (Some(t), _) if !t.is_empty() => v,
                    (Some(_), Some(d)) => {
                        let f = self.eval_single(&Word::new(d), scope);
                        Value {
                            text: f.known.then_some(f.text),
                            taint: f.taint,
                        }
                    }
                    (None, Some(d)) => Value {
                        // The default runs when the value turns out empty.
                        text: None,
                        taint: v.taint.merge(self.substitutions_in(d, scope)),
                    },
                    _ => Value {
                        text: None,
                        taint: v.taint,
                    },
                }
            }
            ParameterExpr::Substring {
                parameter,
                indirect: false,
                offset,
                length,
            } => {
                let v = self.fetch(parameter, scope);
                // The offset and length are arithmetic expressions.
                self.expand_embedded(&offset.value, scope);
                if let Some(l) = length {
                    self.expand_embedded(&l.value, scope);
                }
                let text = v.text.as_deref().and_then(|t| {
                    substring(t, &offset.value, length.as_ref().map(|l| l.value.as_str()))
                });
                Value {
                    text,
                    taint: v.taint,
                }
            }
            ParameterExpr::RemoveSmallestSuffixPattern {
                parameter,
                indirect: false,
                pattern,
            } => self.strip(parameter, pattern, scope, false, false),
            ParameterExpr::RemoveLargestSuffixPattern {
                parameter,
                indirect: false,
                pattern,
            } => self.strip(parameter, pattern, scope, false, true),
            ParameterExpr::RemoveSmallestPrefixPattern {
                parameter,
                indirect: false,
                pattern,
            } => self.strip(parameter, pattern, scope, true, false),
            ParameterExpr::RemoveLargestPrefixPattern {
                parameter,
                indirect: false,
                pattern,
            } => self.strip(parameter, pattern, scope, true, true),
            ParameterExpr::ParameterLength {
                parameter,
                indirect: false,
            } => {
                let v = self.fetch(parameter, scope);
                Value {
                    text: v.text.map(|t| t.chars().count().to_string()),
                    taint: Taint::default(),
                }
            }
            ParameterExpr::Transform {
                parameter,
                indirect: false,
                op: ParameterTransformOp::PromptExpand,
            } => {
                let v = self.fetch(parameter, scope);
                self.prompt_expand(&v, scope)
            }
            ParameterExpr::Parameter {
                parameter,
                indirect: true,
            } => self.indirect(parameter, scope),
            _ => Value {
                text: None,
                taint: self.embedded(e, scope),
            },
        }
    }

    /// Judges the command substitutions in the words an expansion may expand besides its
    /// parameter (`${x:+$(CMD)}`, `${x/a/$(CMD)}`, `${x:?$(CMD)}`), whose values the gate
    /// does not follow.
    fn embedded(&mut self, e: &ParameterExpr, scope: &Scope) -> Taint {
        let words: Vec<&str> = match e {
            ParameterExpr::UseAlternativeValue {
                alternative_value: w,
                ..
            }
            | ParameterExpr::IndicateErrorIfNullOrUnset {
                error_message: w, ..
            }
            | ParameterExpr::UppercaseFirstChar { pattern: w, .. }
            | ParameterExpr::UppercasePattern { pattern: w, .. }
            | ParameterExpr::LowercaseFirstChar { pattern: w, .. }
            | ParameterExpr::LowercasePattern { pattern: w, .. } => {
                w.iter().map(|w| w.as_str()).collect()
            }
            ParameterExpr::ReplaceSubstring {
                pattern,
                replacement,
                ..
            } => std::iter::once(pattern.as_str())
                .chain(replacement.as_deref())
                .collect(),
            _ => Vec::new(),
        };
        words.iter().fold(Taint::default(), |t, w| {
            t.merge(self.substitutions_in(w, scope))
        })
    }

    /// `${!name}`: the variable named by `name`'s value; a name the gate cannot know may be
    /// any variable of the environment, credentials included.
    fn indirect(&self, p: &Parameter, scope: &Scope) -> Value {
        match self.lookup(p, scope).text {
            Some(name) => self.lookup(&Parameter::Named(name), scope),
            None => Value {
                text: None,
                taint: Taint {
                    secret: true,
                    ..Taint::default()
                },
            },
        }
    }

    /// A value expanded as a prompt (`${v@P}`, `PS4`): its substitutions run, so they are
    /// judged; a value the gate cannot know is code it cannot see.
    pub fn prompt_expand(&mut self, v: &Value, scope: &Scope) -> Value {
        let Some(text) = &v.text else {
            let why = Some("expands a prompt the gate cannot see".into());
            self.hit_plain("gate.dynamic_code", scope, "${...@P}", why);
            return Value::default();
        };
        let out = self.eval_heredoc(text, scope);
        Value {
            text: out.text,
            taint: out.taint.merge(v.taint),
        }
    }

    fn strip(
        &mut self,
        p: &Parameter,
        pattern: &Option<String>,
        scope: &Scope,
        prefix: bool,
        largest: bool,
    ) -> Value {
        let v = self.lookup(p, scope);
        let pat = pattern
            .as_deref()
            .map(|s| self.eval_single(&Word::new(s), scope));
        let text = match (&v.text, pat) {
            (Some(t), Some(pat)) if pat.known => Some(strip_pattern(t, &pat.text, prefix, largest)),
            (Some(t), None) => Some(t.clone()),
            _ => None,
        };
        Value {
            text,
            taint: v.taint,
        }
    }
}
