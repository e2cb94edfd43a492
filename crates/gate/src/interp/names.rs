//! Names that stand for other names in interpreter code: modules imported under another
//! name, functions imported from a module (`from os import system as s`, `from os import *`),
//! and members reached by a literal subscript (`cp['execSync'](...)`).
//! Rewriting them to their qualified, dotted form lets the call tables see the calls.

use super::Lang;

/// Per Python module, the functions that run processes, delete, signal or change
/// permissions: what `from MODULE import *` brings in unqualified.
const MODULE_FUNCS: &[(&str, &[&str])] = &[
    (
        "os",
        &[
            "system",
            "popen",
            "remove",
            "unlink",
            "rmdir",
            "removedirs",
            "kill",
            "killpg",
            "chmod",
            "chown",
            "truncate",
            "execv",
            "execve",
            "execvp",
            "execvpe",
            "execl",
            "execle",
            "execlp",
            "execlpe",
            "spawnv",
            "spawnl",
            "spawnvp",
            "spawnlp",
            "posix_spawn",
            "posix_spawnp",
        ],
    ),
    (
        "subprocess",
        &[
            "run",
            "call",
            "check_call",
            "check_output",
            "Popen",
            "getoutput",
            "getstatusoutput",
        ],
    ),
    ("shutil", &["rmtree", "move", "copy", "copyfile", "chown"]),
    ("pty", &["spawn"]),
];

/// Rewrites names imported from modules to their qualified form, so that
/// `from os import system as s; s('x')` is scanned as `os.system('x')` and
/// `import urllib.request as u; u.urlopen(x)` as `urllib.request.urlopen(x)`.
pub(crate) fn resolve_aliases(code: &str, lang: Lang) -> String {
    if lang != Lang::Python {
        return code.to_owned();
    }
    let mut out = code.to_owned();
    for stmt in code.split([';', '\n']) {
        let stmt = stmt.trim();
        if let Some(list) = stmt.strip_prefix("import ") {
            for (module, alias) in list.split(',').filter_map(|i| i.split_once(" as ")) {
                out = replace_word(&out, alias.trim(), module.trim(), '.');
            }
        } else if let Some((module, names)) = stmt
            .strip_prefix("from ")
            .and_then(|r| r.split_once(" import "))
        {
            out = from_import(&out, module.trim(), names);
        }
    }
    out
}

/// `from MODULE import a, b as c` or `from MODULE import *`.
fn from_import(code: &str, module: &str, names: &str) -> String {
    let mut out = code.to_owned();
    let names = names.trim_matches(['(', ')', ' ']);
    if names == "*" {
        let funcs = MODULE_FUNCS
            .iter()
            .find(|(m, _)| *m == module)
            .map_or(&[][..], |(_, f)| *f);
        for f in funcs {
            out = replace_word(&out, f, &format!("{module}.{f}"), '(');
        }
        return out;
    }
    for item in names.split(',') {
        let (name, alias) = match item.split_once(" as ") {
            Some((n, a)) => (n.trim(), a.trim()),
            None => (item.trim(), item.trim()),
        };
        if name.is_empty() || alias.is_empty() {
            continue;
        }
        // `from os import path as p`: `p.x` is `os.path.x`; `from os import system as s`:
        // `s(...)` is `os.system(...)`.
        out = replace_word(&out, alias, &format!("{module}.{name}"), '(');
        out = replace_word(&out, alias, &format!("{module}.{name}"), '.');
    }
    out
}

/// `name` followed by `after` (a call `name(` or a receiver `name.`), where it is not part
/// of a longer name, replaced by `with`.
fn replace_word(code: &str, name: &str, with: &str, after: char) -> String {
    if name.is_empty() || name == with {
        return code.to_owned();
    }
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

/// Rewrites members reached by a literal name to dotted members, in source text: a called
/// literal subscript (`x['execSync'](` to `x.execSync(`), `getattr(os, 'system')` and
/// `os.__getattribute__('system')` (to `os.system`).
pub(crate) fn literal_members(src: &str) -> String {
    let src = literal_getattr(&literal_callbacks(src));
    let mut rest = src.as_str();
    let mut out = String::with_capacity(src.len());
    while let Some(i) = rest.find('[') {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 1..];
        match member_name(tail) {
            Some((name, used)) => {
                out.push('.');
                out.push_str(name);
                rest = &tail[used..];
            }
            None => {
                out.push('[');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Functions that call the function their first argument names (PHP callables).
const CALLBACK_TAKERS: &[&str] = &[
    "array_map(",
    "array_walk(",
    "array_filter(",
    "call_user_func(",
    "call_user_func_array(",
    "register_shutdown_function(",
    "forward_static_call(",
];

/// A function passed by its literal name as the call itself: `array_map('unlink', $f)` is
/// `unlink($f)`, `call_user_func('system', $c)` is `system($c)`; not over an array literal.
fn literal_callbacks(src: &str) -> String {
    let mut out = src.to_owned();
    for taker in CALLBACK_TAKERS {
        let mut from = 0;
        while let Some(i) = out[from..].find(taker).map(|i| from + i) {
            let args = i + taker.len();
            let tail = out[args..].trim_start();
            let skipped = out.len() - args - tail.len();
            // Over an array (`array_map('system', ['a', 'b'])`) the function runs once per
            // element: left to the callee tables.
            let called = quoted_ident(tail, ",")
                .filter(|(_, used)| {
                    let next = tail[used + 1..].trim_start();
                    !next.starts_with('[') && !next.starts_with("array(")
                })
                .map(|(name, used)| (name, used + 1))
                .or_else(|| quoted_ident(tail, ")"));
            match called {
                Some((name, used)) => {
                    let call = format!("{name}(");
                    out.replace_range(i..args + skipped + used, &call);
                    from = i + call.len();
                }
                None => from = args,
            }
        }
    }
    out
}

/// `getattr(RECEIVER, 'name')` and `RECEIVER.__getattribute__('name')` as `RECEIVER.name`.
fn literal_getattr(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(i) = rest.find("getattr") {
        let (head, tail) = rest.split_at(i);
        let method = head.ends_with(".__") && tail.starts_with("getattribute__(");
        let call = tail.starts_with("getattr(")
            && !head.ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '.');
        let parsed = if method {
            let recv = receiver_end(head.trim_end_matches(".__"));
            quoted_name(&tail["getattribute__(".len()..])
                .map(|(n, used)| (recv, n, "getattribute__(".len() + used))
        } else if call {
            getattr_args(&tail["getattr(".len()..])
                .map(|(r, n, used)| (r, n, "getattr(".len() + used))
        } else {
            None
        };
        match parsed {
            Some((recv, name, used)) if method => {
                out.push_str(&head[..head.len() - 3 - recv.len()]);
                out.push_str(&format!("{recv}.{name}"));
                rest = &tail[used..];
            }
            Some((recv, name, used)) => {
                out.push_str(head);
                out.push_str(&format!("{recv}.{name}"));
                rest = &tail[used..];
            }
            None => {
                out.push_str(head);
                out.push_str("getattr");
                rest = &tail["getattr".len()..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The dotted name that ends `head` (`os.path` in `x = os.path`).
fn receiver_end(head: &str) -> &str {
    let start = head
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
        .map_or(0, |i| i + 1);
    &head[start..]
}

/// `RECEIVER, 'name')`: the receiver, the name and the bytes used.
fn getattr_args(tail: &str) -> Option<(&str, &str, usize)> {
    let comma = tail.find(',')?;
    let recv = tail[..comma].trim();
    let dotted = !recv.is_empty()
        && recv
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.');
    let after = &tail[comma + 1..];
    let lead = after.len() - after.trim_start().len();
    let (name, used) = quoted_name(after.trim_start())?;
    dotted.then_some((recv, name, comma + 1 + lead + used))
}

/// `'name')` at the start of `tail`: the name and the bytes up to and with the `)`.
fn quoted_name(tail: &str) -> Option<(&str, usize)> {
    quoted_ident(tail, ")").map(|(name, closing)| (name, closing + 1))
}

/// `'name'](` at the start of `tail`: the name and the bytes up to the `(`.
fn member_name(tail: &str) -> Option<(&str, usize)> {
    quoted_ident(tail, "](").map(|(name, closing)| (name, closing + 1))
}

/// A quoted identifier at the start of `tail` followed by `after`: the identifier and the
/// offset of the byte after its closing quote.
fn quoted_ident<'t>(tail: &'t str, after: &str) -> Option<(&'t str, usize)> {
    let q = tail.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let body = &tail[1..];
    let end = body.find(q)?;
    let name = &body[..end];
    let ident = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    (ident && body[end + 1..].starts_with(after)).then_some((name, end + 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_and_members() {
        let py = |s| resolve_aliases(s, Lang::Python);
        assert_eq!(
            py("from os import *; system(x)"),
            "from os import *; os.system(x)"
        );
        assert_eq!(
            py("import urllib.request as u; u.urlopen(x)"),
            "import urllib.request as u; urllib.request.urlopen(x)"
        );
        assert_eq!(
            py("from os import system as s; s(x)"),
            "from os import system as s; os.system(x)"
        );
        assert_eq!(literal_members("cp['execSync']('x')"), "cp.execSync('x')");
        assert_eq!(
            literal_members("array_map('unlink', glob('x/*'));"),
            "unlink( glob('x/*'));"
        );
        assert_eq!(
            literal_members("call_user_func(\"system\", $c)"),
            "system( $c)"
        );
        assert_eq!(literal_members("a['b'] + c[\"d\"](1)"), "a['b'] + c.d(1)");
        assert_eq!(literal_members("x['a b'](1)"), "x['a b'](1)");
        assert_eq!(
            literal_members("getattr(os, 'system')('x')"),
            "os.system('x')"
        );
        assert_eq!(
            literal_members("os.__getattribute__('system')('x')"),
            "os.system('x')"
        );
        assert_eq!(
            literal_members("getattr(os, n)('x')"),
            "getattr(os, n)('x')"
        );
    }
}
