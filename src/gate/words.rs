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
    BraceExpressionMember, BraceExpressionOrText, Parameter, ParameterExpr, TildeExpr, WordPiece,
    WordPieceWithSource,
};

use super::walk::{Analyzer, Scope, Stream, Taint, Value};

/// Stands for text the gate cannot know.
pub(crate) const UNKNOWN: char = '\u{1}';
/// Stands for "some path below this directory" (what `find` passes to `-exec`).
pub(crate) const DESCENDANT: char = '\u{2}';
/// Most words one brace expansion may produce.
const MAX_BRACE: usize = 256;

/// One argument after expansion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Field {
    pub text: String,
    /// False when any part of the text is [`UNKNOWN`] or [`DESCENDANT`].
    pub known: bool,
    /// Holds unquoted glob characters.
    pub glob: bool,
    pub taint: Taint,
    /// Stands for a process substitution (`<(...)`), whose output is [`Field::taint`].
    pub procsub: bool,
    /// The static output of a process substitution, when known.
    pub body: Option<String>,
}

/// True when `s` holds a glob: `*`, `?`, or a bracket expression with its `]`.
pub(crate) fn has_glob(s: &str) -> bool {
    s.contains(['*', '?']) || s.find('[').is_some_and(|i| s[i + 1..].contains(']'))
}

impl Field {
    pub fn lit(s: &str) -> Field {
        Field {
            text: s.to_owned(),
            known: true,
            ..Field::default()
        }
    }

    pub fn unknown(taint: Taint) -> Field {
        Field {
            text: UNKNOWN.to_string(),
            known: false,
            taint,
            ..Field::default()
        }
    }

    pub fn procsub(out: Stream) -> Field {
        Field {
            text: "/dev/fd/63".into(),
            known: true,
            taint: out.taint,
            procsub: true,
            glob: false,
            body: out.text,
        }
    }

    /// True when the field is exactly the literal `s`.
    pub fn is(&self, s: &str) -> bool {
        self.known && self.text == s
    }
}

/// Shows fields as a command line, with unknown parts as `…`.
pub(crate) fn display(fields: &[Field]) -> String {
    fields
        .iter()
        .map(|f| {
            let t = f.text.replace(UNKNOWN, "…").replace(DESCENDANT, "{}");
            if t.is_empty() || t.contains([' ', '\t', '\n', '\'', '"']) {
                format!("'{}'", t.replace('\'', r"'\''"))
            } else {
                t
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The literal text of a raw word with quotes removed (function names).
pub(crate) fn literal(raw: &str) -> String {
    match brush_parser::word::parse(raw, &ParserOptions::default()) {
        Ok(pieces) => pieces
            .iter()
            .map(|p| match &p.piece {
                WordPiece::Text(s) | WordPiece::SingleQuotedText(s) => s.clone(),
                WordPiece::EscapeSequence(s) => s.chars().skip(1).collect(),
                _ => UNKNOWN.to_string(),
            })
            .collect(),
        Err(_) => raw.to_owned(),
    }
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
                WordPiece::ArithmeticExpression(_) => b.unknown(Taint::default()),
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

    fn lookup(&self, p: &Parameter, scope: &Scope) -> Value {
        let Parameter::Named(name) = p else {
            return Value::default();
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

    fn param(&mut self, e: &ParameterExpr, scope: &Scope) -> Value {
        match e {
            ParameterExpr::Parameter {
                parameter,
                indirect: false,
            }
            | ParameterExpr::IndicateErrorIfNullOrUnset {
                parameter,
                indirect: false,
                ..
            } => self.lookup(parameter, scope),
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
                let v = self.lookup(parameter, scope);
                match (&v.text, default_value) {
                    (Some(t), _) if !t.is_empty() => v,
                    (Some(_), Some(d)) => {
                        let f = self.eval_single(&Word::new(d), scope);
                        Value {
                            text: f.known.then_some(f.text),
                            taint: f.taint,
                        }
                    }
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
                let v = self.lookup(parameter, scope);
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
                let v = self.lookup(parameter, scope);
                Value {
                    text: v.text.map(|t| t.chars().count().to_string()),
                    taint: Taint::default(),
                }
            }
            _ => Value::default(),
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

/// Variable names that usually hold credentials.
pub(crate) fn secret_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    [
        "KEY",
        "TOKEN",
        "SECRET",
        "PASSW",
        "CREDENTIAL",
        "AUTH",
        "COOKIE",
        "SESSION",
    ]
    .iter()
    .any(|s| n.contains(s))
        || n.starts_with("AWS_")
}

fn substring(t: &str, offset: &str, length: Option<&str>) -> Option<String> {
    let chars: Vec<char> = t.chars().collect();
    let len = i64::try_from(chars.len()).ok()?;
    let mut off: i64 = offset
        .trim()
        .trim_matches(|c| c == '(' || c == ')')
        .trim()
        .parse()
        .ok()?;
    if off < 0 {
        off = (len + off).max(0);
    }
    let off = off.min(len);
    let end = match length {
        None => len,
        Some(l) => {
            let l: i64 = l
                .trim()
                .trim_matches(|c| c == '(' || c == ')')
                .trim()
                .parse()
                .ok()?;
            if l < 0 {
                (len + l).max(off)
            } else {
                (off + l).min(len)
            }
        }
    };
    let (off, end) = (usize::try_from(off).ok()?, usize::try_from(end).ok()?);
    Some(chars.get(off..end)?.iter().collect())
}

fn strip_pattern(t: &str, pat: &str, prefix: bool, largest: bool) -> String {
    let idx: Vec<usize> = t
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(t.len()))
        .collect();
    let candidates: Box<dyn Iterator<Item = &usize>> = match (prefix, largest) {
        (true, false) | (false, true) => Box::new(idx.iter()),
        (true, true) | (false, false) => Box::new(idx.iter().rev()),
    };
    for &i in candidates {
        let (head, tail) = t.split_at(i);
        if prefix && glob_match(pat, head) {
            return tail.to_owned();
        }
        if !prefix && glob_match(pat, tail) {
            return head.to_owned();
        }
    }
    t.to_owned()
}

/// Decodes the body of a `$'...'` word.
pub(crate) fn decode_ansi_c(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = it.next() else {
            out.push('\\');
            break;
        };
        let simple = match e {
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'e' | 'E' => Some('\x1b'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            '\\' | '\'' | '"' | '?' => Some(e),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            continue;
        }
        let (radix, max) = match e {
            'x' => (16, 2),
            'u' => (16, 4),
            'U' => (16, 8),
            '0'..='7' => (8, 2),
            'c' => {
                if let Some(c) = it.next() {
                    out.push(char::from((c as u32 & 0x1f) as u8));
                }
                continue;
            }
            _ => {
                out.push('\\');
                out.push(e);
                continue;
            }
        };
        let mut digits = String::new();
        if radix == 8 {
            digits.push(e);
        }
        while digits.len() < max + usize::from(radix == 8) {
            match it.peek() {
                Some(d) if d.is_digit(radix) => {
                    digits.push(*d);
                    it.next();
                }
                _ => break,
            }
        }
        match u32::from_str_radix(&digits, radix)
            .ok()
            .and_then(char::from_u32)
        {
            Some(c) => out.push(c),
            None => {
                out.push('\\');
                out.push(e);
            }
        }
    }
    out
}

/// Brace expansion of a raw word (quotes respected by the parser); bounded in count.
pub(crate) fn brace_expand(raw: &str) -> Vec<String> {
    if !raw.contains('{') {
        return vec![raw.to_owned()];
    }
    match brush_parser::word::parse_brace_expansions(raw, &ParserOptions::default()) {
        Ok(Some(pieces)) => {
            let mut out = vec![String::new()];
            expand_seq(&pieces, &mut out);
            out.truncate(MAX_BRACE);
            out
        }
        _ => vec![raw.to_owned()],
    }
}

fn expand_seq(pieces: &[BraceExpressionOrText], acc: &mut Vec<String>) {
    for p in pieces {
        let alts: Vec<String> = match p {
            BraceExpressionOrText::Text(t) => vec![t.clone()],
            BraceExpressionOrText::Expr(members) => {
                let mut alts = Vec::new();
                for m in members {
                    alts.extend(expand_member(m));
                    if alts.len() > MAX_BRACE {
                        break;
                    }
                }
                alts
            }
        };
        let mut next = Vec::new();
        for a in acc.iter() {
            for b in &alts {
                if next.len() >= MAX_BRACE {
                    break;
                }
                next.push(format!("{a}{b}"));
            }
        }
        *acc = next;
    }
}

fn expand_member(m: &BraceExpressionMember) -> Vec<String> {
    match m {
        BraceExpressionMember::Child(c) => {
            let mut out = vec![String::new()];
            expand_seq(c, &mut out);
            out
        }
        BraceExpressionMember::NumberSequence {
            start,
            end,
            increment,
        } => {
            let step = increment.unsigned_abs().max(1);
            let (lo, hi) = (*start.min(end), *start.max(end));
            let mut v: Vec<String> = (lo..=hi)
                .step_by(usize::try_from(step).unwrap_or(1))
                .take(MAX_BRACE)
                .map(|n| n.to_string())
                .collect();
            if start > end {
                v.reverse();
            }
            v
        }
        BraceExpressionMember::CharSequence { start, end, .. } => {
            let (lo, hi) = (*start.min(end), *start.max(end));
            (lo..=hi).take(MAX_BRACE).map(String::from).collect()
        }
    }
}

/// Shell pattern matching (`*`, `?`, `[...]`), iterative with backtracking on `*`.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, len)) = class_match(&p[pi..], t[ti]) {
                        if matched {
                            pi += len;
                            ti += 1;
                            continue;
                        }
                    } else if t[ti] == '[' {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                c if c == t[ti] => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the bracket expression at the start of `p`: (matched, length).
fn class_match(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(1), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&e| e != ']') {
            if p[i] <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("r[m]", "rm"));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("r?", "rm"));
        assert!(glob_match("*.log", "a.log"));
        assert!(!glob_match("*.log", "a.txt"));
        assert!(glob_match("[!a]m", "rm"));
    }

    #[test]
    fn ansi_c() {
        assert_eq!(decode_ansi_c(r"\x2f"), "/");
        assert_eq!(decode_ansi_c(r"\162\155"), "rm");
        assert_eq!(decode_ansi_c(r"a\nb"), "a\nb");
        assert_eq!(decode_ansi_c(r"\u0072m"), "rm");
    }

    #[test]
    fn braces() {
        assert_eq!(brace_expand("{rm,-rf,/}"), vec!["rm", "-rf", "/"]);
        assert_eq!(brace_expand("{/etc,/usr}"), vec!["/etc", "/usr"]);
        assert_eq!(brace_expand("a{1..3}"), vec!["a1", "a2", "a3"]);
        assert_eq!(brace_expand("'{a,b}'"), vec!["'{a,b}'"]);
    }

    #[test]
    fn substrings() {
        assert_eq!(substring("mr", "1", None).as_deref(), Some("r"));
        assert_eq!(substring("mr", "0", Some("1")).as_deref(), Some("m"));
        assert_eq!(strip_pattern("file.tar.gz", ".*", false, false), "file.tar");
        assert_eq!(strip_pattern("file.tar.gz", ".*", false, true), "file");
    }
}
