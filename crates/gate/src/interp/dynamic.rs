//! Code that builds code or callees at run time, and calls whose targets are computed:
//! the gate cannot read what they do, so they are `ask` (fail closed).
//! Literal code handed to `exec`/`eval` is read and scanned like the snippet itself.

use super::calls::{DYNAMIC_CALLEES, EVAL_CALLS, TARGETED_CALLS};
use super::{LIT, Lang, Lexed, lits_in, region, scan as scan_snippet};
use crate::cmd::Cmd;
use crate::field::Field;

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
            } else if c.scope.depth < crate::state::MAX_DEPTH {
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
        if let Some(name) = call.strip_suffix('(')
            && aliased(code, name)
        {
            dynamic(c, lang, &format!("{name} used under another name"));
        }
    }
    for call in TARGETED_CALLS {
        for pos in occurrences(code, call)
            .into_iter()
            .chain(methods(code, call))
        {
            let r = region(code, pos + call.len().saturating_sub(1));
            let pid_file = lits_in(lx, code, r.clone())
                .iter()
                .any(|l| l.contains("pid"));
            if computed(&code[r.clone()]) && !(call.contains("kill") && pid_file) {
                dynamic(c, lang, &format!("{} with a computed target", call.trim()));
            } else if call.contains("kill") && everyone(&code[r]) {
                c.hit(
                    "kill.system",
                    Some(format!("{lang:?} signals init or every process")),
                );
            }
        }
    }
    if lang == Lang::Php && variable_call(code) {
        dynamic(c, lang, "a function called through a variable");
    }
}

/// Positions where `call` is a method (`fs.chmodSync(`, `process.kill(`).
fn methods(code: &str, call: &str) -> Vec<usize> {
    if call.contains('.') {
        return Vec::new();
    }
    code.match_indices(call)
        .map(|(i, _)| i)
        .filter(|&i| code[..i].ends_with('.'))
        .take(16)
        .collect()
}

/// True when the first argument of a kill call is pid 1, 0 or -1.
fn everyone(args: &str) -> bool {
    let first = args
        .trim_start_matches(['(', ' '])
        .split([',', ')', ' '])
        .next();
    matches!(first, Some("1" | "0" | "-1"))
}

/// PHP's `$f(...)`: the function's name is a value.
fn variable_call(code: &str) -> bool {
    code.match_indices('$').any(|(i, _)| {
        let rest = &code[i + 1..];
        let name = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        name > 0 && rest[name..].trim_start().starts_with('(')
    })
}

/// Rewrites names imported from process and file modules to their qualified form, so that
/// `from os import system as s; s('x')` is scanned as `os.system('x')`.
pub(crate) fn resolve_aliases(code: &str, lang: Lang) -> String {
    if lang != Lang::Python {
        return code.to_owned();
    }
    let mut out = code.to_owned();
    for stmt in code.split([';', '\n']) {
        // `import subprocess as sp`: `sp.run(...)` is `subprocess.run(...)`.
        if let Some((module, alias)) = stmt
            .trim()
            .strip_prefix("import ")
            .and_then(|r| r.split_once(" as "))
            .filter(|(m, _)| ALIASED_MODULES.contains(&m.trim()))
        {
            out = replace_word(&out, alias.trim(), module.trim(), '.');
            continue;
        }
        let Some(rest) = stmt.trim().strip_prefix("from ") else {
            continue;
        };
        let Some((module, names)) = rest.split_once(" import ") else {
            continue;
        };
        if !ALIASED_MODULES.contains(&module.trim()) {
            continue;
        }
        for item in names.trim_matches(['(', ')', ' ']).split(',') {
            let (name, alias) = match item.split_once(" as ") {
                Some((n, a)) => (n.trim(), a.trim()),
                None => (item.trim(), item.trim()),
            };
            if name.is_empty() || alias.is_empty() {
                continue;
            }
            out = replace_word(&out, alias, &format!("{}.{name}", module.trim()), '(');
        }
    }
    out
}

/// Modules whose functions run processes, delete, or change permissions.
const ALIASED_MODULES: &[&str] = &["os", "subprocess", "shutil", "pty", "commands", "os.path"];

/// `name` followed by `after` (a call `name(` or a receiver `name.`), where it is not part
/// of a longer name, replaced by `with`.
fn replace_word(code: &str, name: &str, with: &str, after: char) -> String {
    let pat = format!("{name}{after}");
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(i) = rest.find(&pat) {
        let before = rest[..i].chars().next_back();
        let own = !before.is_some_and(|b| b.is_alphanumeric() || b == '_' || b == '.');
        out.push_str(&rest[..i]);
        out.push_str(if own { with } else { name });
        out.push(after);
        rest = &rest[i + pat.len()..];
    }
    out.push_str(rest);
    out
}

/// True when a loader such as `require` or `getattr` is referenced without being called
/// (`const r = require`), which hides the calls made through it.
fn aliased(code: &str, name: &str) -> bool {
    occurrences(code, name).into_iter().any(|pos| {
        let next = code[pos + name.len()..].chars().next();
        !next.is_some_and(|n| n == '(' || n == '.' || n == '_' || n.is_alphanumeric())
    })
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
    let inner = without_numbers(&without_options(&inner));
    if inner.trim().is_empty() {
        return false;
    }
    inner.chars().any(|ch| {
        !(ch == LIT || ch.is_ascii_digit() || ch.is_whitespace() || ",()[]{}:-".contains(ch))
    })
}

/// Drops number literals (`0o755`, `0x1f`, `1e3`), whose letters compute nothing.
fn without_numbers(args: &str) -> String {
    let mut out = String::with_capacity(args.len());
    let mut in_number = false;
    let mut prev: Option<char> = None;
    for ch in args.chars() {
        let starts = ch.is_ascii_digit() && !prev.is_some_and(|p| p.is_alphanumeric() || p == '_');
        in_number = starts || in_number && (ch.is_ascii_alphanumeric() || ch == '_');
        if !in_number {
            out.push(ch);
        }
        prev = Some(ch);
    }
    out
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
