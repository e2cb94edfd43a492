//! Code that builds code or callees at run time, and calls whose targets are computed:
//! the gate cannot read what they do, so they are `ask` (fail closed).
//! Literal code handed to `exec`/`eval` is read and scanned like the snippet itself.

use super::calls::{DYNAMIC_CALLEES, EVAL_CALLS, TARGETED_CALLS};
use super::{LIT, Lang, Lexed, lits_in, region, scan as scan_snippet};
use crate::rules::Cmd;
use crate::words::Field;

/// Scans lexed code for dynamic code, dynamic callees and computed targets.
pub(crate) fn scan(c: &mut Cmd<'_, '_>, lang: Lang, code: &str, lx: &Lexed) {
    for call in EVAL_CALLS {
        for pos in occurrences(code, call) {
            let r = region(code, pos + call.len().saturating_sub(1));
            let lits = lits_in(lx, code, r.clone());
            if computed(&code[r]) || lits.len() != 1 {
                dynamic(
                    c,
                    lang,
                    &format!("{} of a computed value", call.trim_end_matches('(')),
                );
            } else if c.scope.depth < crate::walk::MAX_DEPTH {
                scan_snippet(c, lang, &Field::lit(&lits[0]));
            }
        }
    }
    for (call, only) in DYNAMIC_CALLEES {
        if only.is_some_and(|l| l != lang) {
            continue;
        }
        for pos in occurrences(code, call) {
            let r = region(code, pos + call.len().saturating_sub(1));
            if computed(&code[r]) || call.ends_with('[') || !call.ends_with('(') {
                dynamic(c, lang, &format!("callee built at run time ({call})"));
            }
        }
    }
    for call in TARGETED_CALLS {
        for pos in occurrences(code, call) {
            let r = region(code, pos + call.len().saturating_sub(1));
            if computed(&code[r]) {
                dynamic(c, lang, &format!("{} with a computed target", call.trim()));
            }
        }
    }
}

fn dynamic(c: &mut Cmd<'_, '_>, lang: Lang, what: &str) {
    c.hit("gate.dynamic_code", Some(format!("{lang:?}: {what}")));
}

/// Positions of `call` where it is a call of its own, not the tail of a longer name
/// (`re.compile(`, `myeval(`, `$exec`).
fn occurrences(code: &str, call: &str) -> Vec<usize> {
    let word_start = call.starts_with(|ch: char| ch.is_alphanumeric() || ch == '_');
    code.match_indices(call)
        .map(|(i, _)| i)
        .filter(|&i| {
            let before = code[..i].chars().next_back();
            let glued = before.is_some_and(|b| b.is_alphanumeric() || b == '_' || b == '$');
            let method = before == Some('.') && !call.contains('.');
            !word_start || !glued && !method
        })
        .take(16)
        .collect()
}

/// True when an argument region holds more than literals, numbers and punctuation: a
/// name, a call, or an operator that computes the value.
pub(crate) fn computed(args: &str) -> bool {
    let mut inner = args
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .to_owned();
    for name in LITERAL_WRAPPERS {
        inner = inner.replace(name, " ");
    }
    let inner = without_options(&inner);
    if inner.trim().is_empty() {
        return false;
    }
    inner.chars().any(|ch| {
        !(ch == LIT || ch.is_ascii_digit() || ch.is_whitespace() || ",()[]{}:".contains(ch))
    })
}

/// Drops keyword arguments, option-object keys and constants (`check=True`,
/// `{stdio: 'inherit'}`, `None`), which
/// configure a call without naming its target.
fn without_options(args: &str) -> String {
    let mut out = String::new();
    for part in args.split(',') {
        let part = part.trim().trim_start_matches('{').trim_end_matches('}');
        let value = match part.split_once(['=', ':']) {
            Some((k, v)) if k.trim().chars().all(|c| c.is_alphanumeric() || c == '_') => v,
            _ => part,
        };
        let t = value.trim();
        if !matches!(
            t,
            "True" | "False" | "None" | "true" | "false" | "null" | "nil"
        ) {
            out.push_str(value);
            out.push(',');
        }
    }
    out
}

/// Names that turn a literal into a path or a signal without hiding it: their result is
/// judged by the literal (the delete rules classify `glob "~/*"` as the home).
const LITERAL_WRAPPERS: &[&str] = &[
    "pathlib.Path",
    "Path",
    "glob.glob",
    "glob",
    "os.path.join",
    "File.join",
    "path.join",
    "signal.SIGTERM",
    "signal.SIGKILL",
    "signal.SIGINT",
    "SIGTERM",
    "SIGKILL",
    "SIGINT",
];
