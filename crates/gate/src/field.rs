//! One argument after static evaluation ([`Field`]), with the markers for text the gate
//! cannot know ([`UNKNOWN`]) and for "some path below" ([`DESCENDANT`]).
//!
//! Plain data and pure helpers; the evaluation that produces fields is in `words`.

use brush_parser::ParserOptions;
use brush_parser::word::WordPiece;

use crate::state::{Stream, Taint};

/// Stands for text the gate cannot know.
pub(crate) const UNKNOWN: char = '\u{1}';
/// Stands for "some path below this directory" (what `find` passes to `-exec`).
pub(crate) const DESCENDANT: char = '\u{2}';

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

/// The text of a field to remember in a variable: with its unknown parts marked, unless
/// nothing of it is known (`$(mktemp)` keeps `/tmp/tmp.…`, which is still scratch space).
pub(crate) fn partial_text(f: &Field) -> Option<String> {
    let known_part = f.text.chars().any(|c| c != UNKNOWN && c != DESCENDANT);
    (f.known || known_part).then(|| f.text.clone())
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

/// Joins fields into one shell line (what `eval`, `watch` and `ssh` do).
pub(crate) fn join(fields: &[Field]) -> Field {
    let mut f = Field::lit("");
    for (i, g) in fields.iter().enumerate() {
        if i > 0 {
            f.text.push(' ');
        }
        f.text.push_str(&g.text);
        f.known &= g.known;
        f.taint = f.taint.merge(g.taint);
    }
    f
}
