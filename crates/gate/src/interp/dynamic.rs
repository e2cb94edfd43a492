//! Code that builds code or callees at run time, and calls whose targets are computed:
//! the gate cannot read what they do, so they are `ask` (fail closed).
//! Literal code handed to `exec`/`eval` is read and scanned like the snippet itself.

use super::calls::{DYNAMIC_CALLEES, EVAL_CALLS, SELF_PIDS, TARGETED_CALLS, process_calls};
use super::{LIT, Lang, Lexed, lits_in, region, scan as scan_snippet};
use crate::cmd::Cmd;
use crate::field::Field;

/// Scans lexed code for dynamic code, dynamic callees and computed targets.
pub(crate) fn scan(c: &mut Cmd<'_, '_>, lang: Lang, code: &str, lx: &Lexed) {
    eval_calls(c, lang, code, lx);
    dynamic_callees(c, lang, code);
    targeted_calls(c, lang, code, lx);
    if lang == Lang::Php && variable_call(code) {
        dynamic(c, lang, "a function called through a variable");
    }
    if computed_subscript_call(code) {
        dynamic(c, lang, "a callee picked by a computed subscript");
    }
    if passed_callee(lang, code, lx) {
        dynamic(c, lang, "a process function handed over as a value");
    }
}

/// PHP functions that call a function named by a string.
const PHP_CALLBACKS: &[&str] = &[
    "call_user_func",
    "array_map",
    "array_walk",
    "array_filter",
    "array_reduce",
    "usort",
    "register_shutdown_function",
    "forward_static_call",
    "ReflectionFunction",
    "fromCallable",
];

/// PHP functions that delete or change files: named by a string to a callback taker
/// (`array_filter($files, 'unlink')`), their targets are decided where they are called.
const PHP_FILE_FUNCS: &[&str] = &[
    "unlink",
    "rmdir",
    "chmod",
    "chown",
    "rename",
    "file_put_contents",
    "fwrite",
];

/// A process function given as an argument (`map(os.system, cmds)`) or, in PHP, a process
/// or file function ([`PHP_FILE_FUNCS`]) named by a string handed to a callback taker
/// (`array_map("system", $cmds)`, `array_filter($files, "unlink")`): what it runs or changes
/// is decided where it is called.
fn passed_callee(lang: Lang, code: &str, lx: &Lexed) -> bool {
    let names: Vec<&str> = process_calls(lang)
        .iter()
        .map(|n| n.trim_end_matches('('))
        .filter(|n| {
            !n.is_empty()
                && n.chars()
                    .all(|ch| ch.is_alphanumeric() || "._".contains(ch))
        })
        .collect();
    if lang == Lang::Php
        && PHP_CALLBACKS.iter().any(|f| code.contains(f))
        && lx
            .lits
            .iter()
            .any(|l| names.contains(&l.as_str()) || PHP_FILE_FUNCS.contains(&l.as_str()))
    {
        return true;
    }
    let word = |ch: char| ch.is_alphanumeric() || ch == '_';
    names.iter().any(|name| {
        code.match_indices(name).take(16).any(|(i, _)| {
            let end = i + name.len();
            if code[..i].ends_with(word) || code[end..].starts_with(word) {
                return false;
            }
            // The whole dotted name (`s.getoutput`), then what surrounds it.
            let start = code[..i]
                .trim_end_matches(|ch: char| word(ch) || ch == '.')
                .len();
            let before = code[..start].trim_end().chars().next_back();
            let after = code[end..].trim_start().chars().next();
            let line = code[..i].rfind(['\n', ';']).map_or(0, |s| s + 1);
            let import = ["import", "from", "use "]
                .iter()
                .any(|k| code[line..i].contains(k));
            matches!(before, Some('(' | ',' | '['))
                && matches!(after, Some(',' | ')' | ']'))
                && !import
        })
    })
}

/// `exec`/`eval` and friends: a literal is scanned as code, anything else is `ask`.
fn eval_calls(c: &mut Cmd<'_, '_>, lang: Lang, code: &str, lx: &Lexed) {
    for call in EVAL_CALLS {
        for pos in occurrences(code, call) {
            let r = arg_region(code, pos, call);
            let lits = lits_in(lx, code, r.clone());
            if script_read(c, lang, &code[r.clone()], &lits) {
                continue;
            }
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
}

/// Calls that read a whole file, and what may follow them.
const FILE_READS: &[&str] = &[
    "io.open(",
    "open(",
    "File.read(",
    "fs.readFileSync(",
    "readFileSync(",
    "file_get_contents(",
    "require(",
    ".read()",
    ".toString()",
    "fs.",
];

/// `exec(open('tools/gen.py').read())`: code read from one literal file of the workspace
/// that the line did not write runs that script file, as `python tools/gen.py` would (script
/// files are not read); a file the line wrote is scanned as what it wrote.
fn script_read(c: &mut Cmd<'_, '_>, lang: Lang, args: &str, lits: &[String]) -> bool {
    let lits: Vec<&String> = lits
        .iter()
        .filter(|l| !matches!(l.as_str(), "fs" | "node:fs"))
        .collect();
    let modes = lits
        .iter()
        .skip(1)
        .all(|m| matches!(m.as_str(), "r" | "rb" | "utf8" | "utf-8"));
    let Some(path) = lits.first().filter(|_| modes && lits.len() <= 2) else {
        return false;
    };
    if !FILE_READS[..6].iter().any(|r| args.contains(r)) {
        return false;
    }
    let rest = FILE_READS
        .iter()
        .fold(args.to_owned(), |rest, r| rest.replace(r, " "))
        .replace('.', " ");
    let file = Field::lit(path);
    let inside = matches!(
        c.class(&file),
        crate::paths::Class::Workspace | crate::paths::Class::Build
    );
    if computed(&rest) || !inside {
        return false;
    }
    let abs = c.abs(&file);
    if c.an.fetched.contains(&abs) {
        return false;
    }
    if let Some(written) = c.an.written_at(&abs) {
        return written.text.is_some_and(|text| {
            scan_snippet(c, lang, &Field::lit(&text));
            true
        });
    }
    true
}

/// Loaders and reflection: a computed name, or the loader used under another name, is `ask`.
fn dynamic_callees(c: &mut Cmd<'_, '_>, lang: Lang, code: &str) {
    for (call, only) in DYNAMIC_CALLEES {
        if only.is_some_and(|l| l != lang) {
            continue;
        }
        for pos in occurrences(code, call)
            .into_iter()
            .chain(methods(code, call))
        {
            let r = arg_region(code, pos, call);
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
}

/// Kill, chmod, chown, truncate, unlink: a computed target is `ask`; killing init or every
/// process is `kill.system`.
fn targeted_calls(c: &mut Cmd<'_, '_>, lang: Lang, code: &str, lx: &Lexed) {
    for call in TARGETED_CALLS {
        for pos in occurrences(code, call)
            .into_iter()
            .chain(methods(code, call))
        {
            let r = arg_region(code, pos, call);
            let kill = call.contains("kill");
            let pid_file = lits_in(lx, code, r.clone())
                .iter()
                .any(|l| l.contains("pid"))
                || SELF_PIDS.iter().any(|p| code[r.clone()].contains(p));
            // A Python loop deleting the paths a literal listing names: judged as deletions.
            let listed = call.contains("unlink")
                && lang == Lang::Python
                && !super::loop_items(lx, code, &code[r.clone()]).is_empty();
            if computed(&code[r.clone()]) && !(kill && pid_file) && !listed {
                dynamic(c, lang, &format!("{} with a computed target", call.trim()));
            } else if kill && everyone(&code[r], signal_first(lang, call)) {
                c.hit(
                    "kill.system",
                    Some(format!("{lang:?} signals init or every process")),
                );
            }
        }
    }
}

/// The arguments of a call at `pos`: its parentheses, or, for a call written without them
/// (`eval decode(...)`, `kill 9, -1`), the rest of the statement.
fn arg_region(code: &str, pos: usize, call: &str) -> std::ops::Range<usize> {
    let after = pos + call.len();
    let bare =
        !call.ends_with(['(', '[']) && !code[after.min(code.len())..].trim_start().starts_with('(');
    if bare && call.ends_with(' ') {
        let end = code[after..]
            .find([';', '\n', '}'])
            .map_or(code.len(), |e| after + e);
        return after..end;
    }
    region(code, after.saturating_sub(1))
}

/// True when a kill call names its signal before its pids (Perl's `kill SIG, PIDS`, Ruby's
/// `Process.kill(SIG, PIDS)`), not after (`os.kill(pid, sig)`, `posix_kill`).
fn signal_first(lang: Lang, call: &str) -> bool {
    lang == Lang::Perl || lang == Lang::Ruby && call.starts_with("Process")
}

/// A call through a subscript that is computed (`cp['exec'+'Sync'](`, `m[name](`): the
/// callee is chosen at run time. Literal subscripts were rewritten to members before.
fn computed_subscript_call(code: &str) -> bool {
    code.match_indices("](").take(16).any(|(close, _)| {
        let mut depth = 0usize;
        for (i, ch) in code[..close].char_indices().rev() {
            match ch {
                ']' => depth += 1,
                '[' if depth == 0 => return computed(&code[i + 1..close]),
                '[' => depth -= 1,
                _ => {}
            }
        }
        false
    })
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

/// True when a kill call's pid is 1, 0 or -1: its first argument, or with the signal
/// first, any later one.
fn everyone(args: &str, signal_first: bool) -> bool {
    let args = args.replace("=>", ",");
    let mut pids = args
        .trim_start_matches(['(', ' '])
        .trim_end_matches([')', ' '])
        .split([',', ')'])
        .map(str::trim);
    let all = |p: &str| matches!(p, "1" | "0" | "-1");
    if signal_first {
        pids.skip(1).any(all)
    } else {
        pids.next().is_some_and(all)
    }
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
        .replace("=>", ",");
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
