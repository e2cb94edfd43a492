//! Interpreter one-liners and mini-languages: python -c, perl -e, ruby -e, node -e,
//! deno eval, php -r, lua -e, awk programs, sed scripts.
//!
//! Owns finding the code in the arguments (or on stdin), and a lexical scan of it for
//! process calls (whose command strings are judged as shell lines), deletions, file writes,
//! network use, dynamic code execution and fork loops, with the string literals each call
//! receives classified as paths.
//! A snippet whose quotes or brackets do not balance is `ask`.
//!
//! It is a scan, not a parser of each language: it reads the calls and literals that
//! matter, and fails closed when a process or deletion target is not a literal.

use crate::args::{Parsed, Spec, parse};
use crate::cmd::{Cmd, check_write, nested_line};
use crate::field::Field;
use crate::paths::Class;
use crate::state::Stream;

mod awk;
mod calls;
mod dynamic;
mod names;

use calls::{DELETE_CALLS, EXEC_TOKENS, HOME_TOKENS, WRITE_CALLS, process_calls};

/// Stands for a string literal in scanned code.
const LIT: char = '\u{3}';

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    Python,
    Perl,
    Ruby,
    Js,
    Php,
    Lua,
    Awk,
    R,
    AppleScript,
}

/// Judges an interpreter command.
/// Where an interpreter's code comes from: its language, code given on the command line,
/// and a script operand.
type Source = (Lang, Vec<Field>, Option<Field>);

/// One row per interpreter family: its names and how its arguments say where code comes
/// from (`None`: nothing to scan, or judged already).
#[allow(clippy::type_complexity)] // reason: a table of names and handlers
const SOURCES: &[(&[&str], fn(&mut Cmd<'_, '_>, &[Field]) -> Option<Source>)] = &[
    (&["python", "pypy"], python_source),
    (&["perl"], perl_source),
    (&["ruby"], ruby_source),
    (&["node", "bun"], node_source),
    (&["deno"], deno_source),
    (&["php"], php_source),
    (&["lua"], lua_source),
    (&["Rscript"], rscript_source),
    (&["osascript"], osascript_source),
    (&["awk", "gawk", "mawk", "nawk"], awk_source),
    (&["pwsh", "powershell"], pwsh_source),
    (&["sed"], sed_source),
];

pub(crate) fn judge(c: &mut Cmd<'_, '_>) {
    let name = c.prog.name.clone();
    let args = c.args().to_vec();
    let Some((_, source)) = SOURCES
        .iter()
        .find(|(names, _)| names.contains(&name.as_str()))
    else {
        return;
    };
    let Some((lang, code, script)) = source(c, &args) else {
        return;
    };
    let Some(snippets) = snippets(c, &name, lang, code, script) else {
        return;
    };
    for s in &snippets {
        scan(c, lang, s);
    }
}

/// The snippets to scan: code from the command line, or the program read from stdin; a
/// script operand is judged here (downloaded, staged, or `-`) and yields none.
fn snippets(
    c: &mut Cmd<'_, '_>,
    name: &str,
    lang: Lang,
    code: Vec<Field>,
    script: Option<Field>,
) -> Option<Vec<Field>> {
    if code.is_empty() && script.is_none() {
        // The program comes from stdin.
        let stdin = c.io.stdin.clone();
        if stdin.taint.hidden_code() {
            c.hit(
                "rce.pipe_shell",
                Some(format!("{name} runs downloaded or decoded code")),
            );
            return None;
        }
        match stdin.text {
            Some(t) => Some(vec![Field::lit(&t)]),
            None if stdin.piped => {
                c.hit(
                    "gate.dynamic_code",
                    Some(format!("{name} reads a program the gate cannot see")),
                );
                None
            }
            None => None,
        }
    } else if let Some(s) = script {
        if s.taint.hidden_code() {
            c.hit(
                "rce.pipe_shell",
                Some(format!("{name} runs downloaded or decoded code")),
            );
        } else if let Some(input) = (s.text == "-")
            .then(|| c.io.stdin.clone())
            .or_else(|| crate::cmd::opened_input(&s, c.io, c.scope))
        {
            // `-`, `/dev/stdin`, `/dev/fd/N`: the program is what that input holds.
            if input.taint.hidden_code() {
                c.hit("rce.pipe_shell", None);
            } else if let Some(t) = input.text {
                scan(c, lang, &Field::lit(&t));
            }
        } else if let Some(body) = s.body.clone().filter(|_| s.procsub) {
            // `python3 <(echo CODE)`: the program is the substitution's output.
            scan(c, lang, &Field::lit(&body));
        } else if s.procsub {
            c.hit(
                "gate.dynamic_code",
                Some(format!("{name} runs a program the gate cannot see")),
            );
        } else {
            let abs = c.abs(&s);
            if c.an.fetched.contains(&abs) {
                c.hit("rce.staged", None);
            }
            // A script the line wrote is scanned as the code it holds.
            let written = c.an.written_at(&abs);
            if written.as_ref().is_some_and(|w| w.taint.hidden_code()) {
                c.hit("rce.staged", None);
            } else if let Some(w) = written {
                match w.text {
                    Some(text) => scan(c, lang, &Field::lit(&text)),
                    None => c.hit(
                        "gate.dynamic_code",
                        Some(format!("{name} runs a script the gate cannot see")),
                    ),
                }
            }
        }
        None
    } else {
        Some(code)
    }
}

/// `python`, `pypy`: where the program's code comes from.
fn python_source(c: &mut Cmd<'_, '_>, args: &[Field]) -> Option<Source> {
    let a = parse(args, Spec::wrapper("cmWXQ", &["check-hash-based-pycs"]));
    // Options after `-m MODULE` are the module's (`python -m IPython -c CODE`).
    let at = |flag: &str| args.iter().position(|f| f.text.starts_with(flag));
    let module_first = at("-m").is_some_and(|m| at("-c").is_none_or(|c| m < c));
    Some(
        if let Some(code) = a.value('c', "").filter(|_| !module_first) {
            (Lang::Python, vec![code.clone()], None)
        } else if let Some(module) = a.value('m', "") {
            if !module.is("timeit") {
                // `python -m twine upload`, `python -m pip install`: the module's command-line
                // tool is the program of the same name.
                let at = args.iter().position(|f| f == module).unwrap_or(0);
                let mut argv: Vec<Field> = args[at..].to_vec();
                // Its program is named in lower case (`python -m IPython` is `ipython`).
                argv[0].text = argv[0].text.to_ascii_lowercase();
                crate::cmd::inner(c.an, "python -m", &argv, c.io, c.scope, false);
                // A module the line wrote in the working directory is its code (`python -m a`).
                let file = Field::lit(&format!("{}.py", module.text.replace('.', "/")));
                let written = c.an.written_at(&c.abs(&file)).is_some();
                return written.then(|| (Lang::Python, Vec::new(), Some(file)));
            }
            (Lang::Python, timeit_code(args), None)
        } else {
            (Lang::Python, Vec::new(), a.operands.first().cloned())
        },
    )
}

/// `python -m timeit [-s SETUP] STATEMENT...`: the setup and the statements are code.
fn timeit_code(args: &[Field]) -> Vec<Field> {
    let Some(at) = args.iter().position(|a| a.is("timeit")) else {
        return Vec::new();
    };
    let mut code = Vec::new();
    let mut rest = args[at + 1..].iter();
    while let Some(a) = rest.next() {
        match a.text.as_str() {
            "-s" | "--setup" => code.extend(rest.next().cloned()),
            "-n" | "-r" | "-u" | "--number" | "--repeat" | "--unit" => {
                rest.next();
            }
            t if t.starts_with('-') => {}
            _ => code.push(a.clone()),
        }
    }
    code
}

/// `perl`: where the program's code comes from.
fn perl_source(c: &mut Cmd<'_, '_>, args: &[Field]) -> Option<Source> {
    let a = parse(&perl_args(args), Spec::new("eE", &[]));
    let mut code: Vec<Field> = a
        .values('e', "")
        .into_iter()
        .chain(a.values('E', ""))
        .cloned()
        .collect();
    let given = !code.is_empty();
    // `-MMOD` is `use MOD;`: code after a `;` in it runs (`-Mstrict;system(...)`).
    code.extend(args.iter().filter_map(|f| {
        let module = f.text.strip_prefix("-M").or(f.text.strip_prefix("-m"))?;
        module.contains(';').then(|| Field {
            text: format!("use {module};"),
            ..f.clone()
        })
    }));
    if a.has('i', "") {
        let skip = usize::from(!given);
        for f in a.operands.iter().skip(skip) {
            crate::cmd::edit_in_place(c.an, c.scope, f, "perl -i", &|_| None);
        }
    }
    let script = if !given {
        a.operands.first().cloned()
    } else {
        None
    };
    Some((Lang::Perl, code, script))
}

/// Code given with `-e`, or else the first operand as a script file.
fn code_or_script(lang: Lang, a: &Parsed) -> Source {
    let code: Vec<Field> = a.values('e', "").into_iter().cloned().collect();
    let script = if code.is_empty() {
        a.operands.first().cloned()
    } else {
        None
    };
    (lang, code, script)
}

/// `ruby`: where the program's code comes from.
fn ruby_source(c: &mut Cmd<'_, '_>, args: &[Field]) -> Option<Source> {
    let a = parse(args, Spec::new("erICEF", &[]));
    let mut source = code_or_script(Lang::Ruby, &a);
    source.1.extend(preloaded(c, a.values('r', "").into_iter()));
    Some(source)
}

/// Modules an interpreter loads before its program (`node -r M`, `--import M`,
/// `ruby -r M`): a `data:` URL (`data:text/javascript,CODE`) is code, and so is a file the
/// line wrote.
fn preloaded<'f>(c: &Cmd<'_, '_>, modules: impl Iterator<Item = &'f Field>) -> Vec<Field> {
    modules
        .filter_map(|m| {
            if let Some(d) = m.text.strip_prefix("data:") {
                let code = d.split_once(',').map_or("", |(_, code)| code);
                return Some(Field {
                    text: code.to_owned(),
                    ..m.clone()
                });
            }
            let text = c.an.written_at(&c.abs(m))?.text?;
            Some(Field::lit(&text))
        })
        .collect()
}

/// `node`, `bun`: where the program's code comes from.
fn node_source(c: &mut Cmd<'_, '_>, args: &[Field]) -> Option<Source> {
    // `-pe CODE` and `-ep CODE` print what CODE evaluates to.
    let args: Vec<Field> = args
        .iter()
        .map(|a| match a.text.as_str() {
            "-pe" | "-ep" => Field::lit("-e"),
            _ => a.clone(),
        })
        .collect();
    let a = parse(
        &args,
        Spec::new(
            "epr",
            &[
                "eval",
                "print",
                "require",
                "input-type",
                "import",
                "loader",
                "env-file",
            ],
        ),
    );
    let modules = a
        .values('r', "require")
        .into_iter()
        .chain(a.values('\0', "import"))
        .chain(a.values('\0', "loader"));
    let code: Vec<Field> = a
        .values('e', "eval")
        .into_iter()
        .chain(a.values('p', "print"))
        .cloned()
        .chain(preloaded(c, modules))
        .collect();
    let script = if code.is_empty() {
        a.operands
            .first()
            .filter(|o| !o.is("run") && !o.is("test"))
            .cloned()
    } else {
        None
    };
    if code.is_empty() && script.is_none() && !a.operands.is_empty() {
        return None;
    }
    Some((Lang::Js, code, script))
}

/// `deno`: where the program's code comes from.
fn deno_source(c: &mut Cmd<'_, '_>, args: &[Field]) -> Option<Source> {
    let a = parse(args, Spec::new("", &[]));
    Some(match a.operands.first().map(|o| o.text.as_str()) {
        Some("eval") => (
            Lang::Js,
            a.operands.get(1).cloned().into_iter().collect(),
            None,
        ),
        Some("run") => {
            if a.operands
                .get(1)
                .is_some_and(|u| u.text.starts_with("http:") || u.text.starts_with("https:"))
            {
                c.hit("rce.remote_script", None);
            }
            // `deno run -` reads its program from stdin.
            let script = a
                .operands
                .get(1)
                .filter(|s| s.is("-") || s.is("/dev/stdin"));
            return script.map(|s| (Lang::Js, Vec::new(), Some(s.clone())));
        }
        _ => return None,
    })
}

/// `php`: where the program's code comes from.
fn php_source(_c: &mut Cmd<'_, '_>, args: &[Field]) -> Option<Source> {
    let a = parse(args, Spec::new("rdcfBRFE", &[]));
    let code: Vec<Field> = ['r', 'B', 'R', 'E']
        .iter()
        .flat_map(|f| a.values(*f, ""))
        .cloned()
        .collect();
    Some(match code.is_empty() {
        false => (Lang::Php, code, None),
        true => (
            Lang::Php,
            Vec::new(),
            a.value('f', "").or(a.operands.first()).cloned(),
        ),
    })
}

/// `lua`: where the program's code comes from.
fn lua_source(_c: &mut Cmd<'_, '_>, args: &[Field]) -> Option<Source> {
    Some(code_or_script(
        Lang::Lua,
        &parse(args, Spec::new("el", &[])),
    ))
}

/// `Rscript`: where the program's code comes from.
fn rscript_source(_c: &mut Cmd<'_, '_>, args: &[Field]) -> Option<Source> {
    let a = parse(args, Spec::new("e", &[]));
    Some((
        Lang::R,
        a.values('e', "").into_iter().cloned().collect(),
        None,
    ))
}

/// `osascript`: where the program's code comes from.
fn osascript_source(_c: &mut Cmd<'_, '_>, args: &[Field]) -> Option<Source> {
    let a = parse(args, Spec::new("el", &[]));
    Some((
        Lang::AppleScript,
        a.values('e', "").into_iter().cloned().collect(),
        None,
    ))
}

/// `awk`, `gawk`, `mawk`, `nawk`: where the program's code comes from.
fn awk_source(c: &mut Cmd<'_, '_>, args: &[Field]) -> Option<Source> {
    let a = parse(
        args,
        Spec::new(
            "fvFWi",
            &["file", "assign", "field-separator", "source", "include"],
        ),
    );
    // gawk's `-i inplace` rewrites each input file with what the program prints.
    if a.values('i', "include")
        .iter()
        .any(|v| v.text.starts_with("inplace"))
    {
        let program =
            usize::from(a.value('f', "file").is_none() && a.values('\0', "source").is_empty());
        for f in a.operands.iter().skip(program) {
            crate::cmd::edit_in_place(c.an, c.scope, f, "awk -i inplace", &|_| None);
        }
    }
    if let Some(f) = a.value('f', "file") {
        // `awk -f <(...)`: the program is the substitution's output.
        return Some((Lang::Awk, Vec::new(), Some(f.clone())));
    }
    let code: Vec<Field> = a
        .values('\0', "source")
        .into_iter()
        .cloned()
        .chain(a.operands.first().cloned())
        .collect();
    Some((Lang::Awk, code, None))
}

/// `pwsh`, `powershell`: where the program's code comes from.
fn pwsh_source(c: &mut Cmd<'_, '_>, args: &[Field]) -> Option<Source> {
    powershell(c, args);
    None
}

/// `sed`: where the program's code comes from.
fn sed_source(c: &mut Cmd<'_, '_>, args: &[Field]) -> Option<Source> {
    super::sed::sed(c, args);
    None
}

/// Splits perl's flag clusters the way perl reads them: `-M`, `-m`, `-I`, `-x`, `-d`
/// take the rest of the cluster, `-i`, `-l`, `-0` an optional inline value; so in
/// `-MLWP::Simple -e CODE` the `e` inside the module name is not `-e`.
fn perl_args(args: &[Field]) -> Vec<Field> {
    let mut out = Vec::new();
    for a in args {
        let t = a.text.as_str();
        if !a.known || !t.starts_with('-') || t.starts_with("--") || t == "-" {
            out.push(a.clone());
            continue;
        }
        let chars: Vec<char> = t.chars().skip(1).collect();
        let mut j = 0;
        while j < chars.len() {
            let ch = chars[j];
            if "l0".contains(ch) {
                // `-l` and `-0` take octal digits inline, then the cluster goes on (`-le`).
                out.push(Field {
                    text: format!("-{ch}"),
                    ..a.clone()
                });
                j += 1;
                let hex = ch == '0' && chars.get(j) == Some(&'x');
                j += usize::from(hex);
                while chars.get(j).is_some_and(|c| {
                    if hex {
                        c.is_ascii_hexdigit()
                    } else {
                        ('0'..='7').contains(c)
                    }
                }) {
                    j += 1;
                }
                continue;
            }
            if "MmIxdiC".contains(ch) {
                // The flag keeps its inline value; nothing after it is another flag.
                out.push(Field {
                    text: format!("-{ch}"),
                    ..a.clone()
                });
                break;
            }
            if ch == 'e' || ch == 'E' {
                out.push(Field {
                    text: format!("-{ch}"),
                    ..a.clone()
                });
                let rest: String = chars[j + 1..].iter().collect();
                if !rest.is_empty() {
                    out.push(Field {
                        text: rest,
                        ..a.clone()
                    });
                }
                break;
            }
            out.push(Field {
                text: format!("-{ch}"),
                ..a.clone()
            });
            j += 1;
        }
    }
    out
}

/// PowerShell: encoded commands hide their code; `iex` of a web request runs downloaded code.
fn powershell(c: &mut Cmd<'_, '_>, args: &[Field]) {
    let lower: Vec<String> = args.iter().map(|a| a.text.to_ascii_lowercase()).collect();
    if lower
        .iter()
        .any(|a| matches!(a.as_str(), "-e" | "-ec" | "-enc" | "-encodedcommand"))
    {
        c.hit(
            "rce.decoded_exec",
            Some("powershell -EncodedCommand".into()),
        );
    }
    let text = lower.join(" ");
    let exec = ["iex", "invoke-expression", "& ("]
        .iter()
        .any(|t| text.contains(t));
    let net = [
        "irm",
        "iwr",
        "invoke-webrequest",
        "invoke-restmethod",
        "downloadstring",
        "webclient",
        "http://",
        "https://",
    ]
    .iter()
    .any(|t| text.contains(t));
    if exec && net {
        c.hit(
            "rce.interp_exec",
            Some("powershell runs code it downloads".into()),
        );
    } else if text.contains("remove-item") && (text.contains("-recurse") || text.contains("-r ")) {
        c.hit(
            "gate.dynamic_code",
            Some("powershell deletes recursively".into()),
        );
    }
}

/// A snippet with its string literals pulled out.
pub(crate) struct Lexed {
    /// Code with each literal replaced by [`LIT`].
    pub code: String,
    pub lits: Vec<String>,
    pub balanced: bool,
}

pub(crate) fn lex(src: &str, lang: Lang) -> Lexed {
    let quotes: &[char] = match lang {
        Lang::Awk | Lang::AppleScript => &['"'],
        Lang::Python | Lang::Lua | Lang::R => &['"', '\''],
        _ => &['"', '\'', '`'],
    };
    let mut code = String::new();
    let mut lits = Vec::new();
    let mut chars = src.chars().peekable();
    let mut depth: i64 = 0;
    let mut balanced = true;
    while let Some(ch) = chars.next() {
        if ch == '#'
            && matches!(lang, Lang::Python | Lang::Ruby | Lang::Perl | Lang::R)
            && (lang != Lang::Perl
                || code.ends_with(|c: char| c.is_whitespace())
                || code.is_empty())
        {
            // A comment to the end of the line.
            for c in chars.by_ref() {
                if c == '\n' {
                    break;
                }
            }
            code.push('\n');
            continue;
        }
        if quotes.contains(&ch) {
            let mut lit = String::new();
            let mut closed = false;
            while let Some(c) = chars.next() {
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        lit.push(unescape(n, &mut chars));
                    }
                    continue;
                }
                if c == ch {
                    closed = true;
                    break;
                }
                lit.push(c);
            }
            balanced &= closed;
            if ch == '`' && lang == Lang::Js && !code.trim_end().ends_with('$') {
                balanced &= template(lit, &mut code, &mut lits);
                continue;
            }
            if ch == '`' {
                // A backtick literal runs a command in perl, ruby and php.
                code.push_str("`exec(");
                code.push(LIT);
                code.push(')');
            } else {
                code.push(LIT);
            }
            lits.push(lit);
            continue;
        }
        match ch {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
        balanced &= depth >= 0;
        code.push(ch);
    }
    Lexed {
        code,
        lits,
        balanced: balanced && depth == 0,
    }
}

/// A JavaScript template literal is a string (zx's `` $`CMD` `` runs one); the code of
/// its `${...}` parts is code. Returns whether that code balances.
fn template(lit: String, code: &mut String, lits: &mut Vec<String>) -> bool {
    code.push(LIT);
    let parts: Vec<String> = interpolations(&lit)
        .into_iter()
        .map(str::to_owned)
        .collect();
    lits.push(lit);
    let mut balanced = true;
    for part in parts {
        let inner = lex(&part, Lang::Js);
        balanced &= inner.balanced;
        code.push_str(&format!("+({})", inner.code));
        lits.extend(inner.lits);
    }
    balanced
}

/// The `${...}` parts of a JavaScript template literal, braces balanced.
fn interpolations(lit: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = lit;
    while let Some(start) = rest.find("${") {
        let body = &rest[start + 2..];
        let end = crate::text::closing(body, '{', '}').unwrap_or(body.len());
        out.push(&body[..end]);
        rest = &body[(end + 1).min(body.len())..];
    }
    out
}

/// The character an escape stands for, after its backslash and `n`: `\n`, `\t`,
/// `\xHH`, `\uHHHH`, `\u{H...}`, `\UHHHHHHHH`, octal `\NNN`; any other is itself.
fn unescape(n: char, chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> char {
    let code = match n {
        'n' => return '\n',
        't' => return '\t',
        'x' => digits(chars, 16, 2).map(|(v, _)| v),
        'u' if chars.peek() == Some(&'{') => {
            chars.next();
            let v = digits(chars, 16, 6).map(|(v, _)| v);
            if chars.peek() == Some(&'}') {
                chars.next();
            }
            v
        }
        'u' => digits(chars, 16, 4).map(|(v, _)| v),
        'U' => digits(chars, 16, 8).map(|(v, _)| v),
        '0'..='7' => {
            let first = n.to_digit(8).unwrap_or(0);
            Some(match digits(chars, 8, 2) {
                Some((v, taken)) => first * 8u32.pow(taken) + v,
                None => first,
            })
        }
        o => return o,
    };
    code.and_then(char::from_u32).unwrap_or(n)
}

/// Up to `max` digits of `radix` from `chars`: their value and how many there were.
fn digits(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    radix: u32,
    max: u32,
) -> Option<(u32, u32)> {
    let mut v = 0u32;
    let mut taken = 0;
    while taken < max {
        let Some(d) = chars.peek().and_then(|c| c.to_digit(radix)) else {
            break;
        };
        v = v.saturating_mul(radix).saturating_add(d);
        chars.next();
        taken += 1;
    }
    (taken > 0).then_some((v, taken))
}

/// Call tokens per kind, per language.
/// AppleScript that adds login items or powers off; in other languages, the same words in
/// the code (or its strings) that install launch agents or cron entries.
fn persistence(c: &mut Cmd<'_, '_>, lang: Lang, text: &str) {
    for (token, rule) in calls::PERSIST_TOKENS {
        let power = *rule == "power.off";
        if text.contains(token) && (!power || lang == Lang::AppleScript) {
            c.hit(rule, Some(format!("{lang:?} code mentions {token}")));
        }
    }
}

/// Scans one snippet and records what it would do.
pub(crate) fn scan(c: &mut Cmd<'_, '_>, lang: Lang, snippet: &Field) {
    if !snippet.known {
        let rule = if snippet.taint.hidden_code() {
            "rce.decoded_exec"
        } else {
            "gate.dynamic_code"
        };
        c.hit(
            rule,
            Some("interpreter code not known before the command runs".into()),
        );
        return;
    }
    if snippet.taint.hidden_code() {
        c.hit(
            "rce.decoded_exec",
            Some("interpreter code comes from decoded or downloaded data".into()),
        );
    }
    let lx = lex(&names::literal_members(&snippet.text), lang);
    if !lx.balanced {
        c.hit("interp.unparsed", None);
        return;
    }
    let resolved = names::resolve_aliases(&lx.code, lang);
    let code = resolved.as_str();
    let lit_is = |s: &str| lx.lits.iter().any(|l| l == s);
    let home = HOME_TOKENS.iter().any(|t| code.contains(t))
        || lit_is("HOME")
        || lx.lits.iter().any(|l| l == "~" || l.starts_with("~/"));
    dynamic::scan(c, lang, code, &lx);
    persistence(c, lang, &snippet.text);
    let loops = ["while", "for", "loop", "until", "each", "setInterval"]
        .iter()
        .any(|t| code.contains(t));
    if code.contains("fork") && loops {
        c.hit("fork_bomb.interp", None);
    }
    process_calls_in(c, lang, code, &lx);
    deletions(c, lang, code, &lx, home);
    writes(c, lang, code, &lx);
    network_use(c, lang, code, &lx);
}

/// Process calls: their command strings are shell lines.
fn process_calls_in(c: &mut Cmd<'_, '_>, lang: Lang, code: &str, lx: &Lexed) {
    for call in process_calls(lang) {
        for pos in find_all(code, call) {
            process_call(c, lang, code, lx, call, pos);
        }
    }
}

/// One process call at `pos`: judges the command it runs, or asks when it cannot be read.
fn process_call(c: &mut Cmd<'_, '_>, lang: Lang, code: &str, lx: &Lexed, call: &str, pos: usize) {
    // `POSIX::system`, `CORE::system` are the same call under its package name.
    let core = ["POSIX::", "CORE::", "GLOBAL::"]
        .iter()
        .any(|p| code[..pos].ends_with(p));
    if matches!(lang, Lang::Perl | Lang::Ruby)
        && (call == "system" || call == "exec")
        && !word_at(code, pos, call)
        && !core
    {
        return;
    }
    // A name in a destructuring or import list (`{execSync}`) is not a call.
    let next = code[pos + call.len()..].trim_start().chars().next();
    if matches!(next, Some('}' | ',')) && !call.contains("getline") {
        return;
    }
    if call == "open(" || call == "open " {
        perl_open(c, lang, code, lx, pos + call.len() - 1);
        return;
    }
    let start = pos + call.len();
    let mut region = region(code, start.saturating_sub(1).max(pos));
    if call.contains("getline") {
        // awk's `"CMD" | getline`: the command comes before the pipe.
        region = code[..pos].rfind([';', '{', '\n']).map_or(0, |i| i + 1)..pos;
    }
    region.end = options_start(code, region.clone());
    let mut lits: Vec<String> = lits_in(lx, code, region.clone())
        .iter()
        .map(|l| interpolated(lang, l))
        .collect();
    if lits.is_empty() {
        if !code[region].contains(LIT) && call_is_import(code, pos, call) {
            return;
        }
        c.hit(
            "gate.dynamic_code",
            Some(format!("{lang:?} runs a command the gate cannot read")),
        );
        return;
    }
    let paren = code[region.clone()].trim_start().starts_with('(');
    let args_text = if paren {
        &code[region.clone()]
    } else {
        statement_args(&code[start.clamp(region.start, region.end)..region.end])
    };
    if (paren || matches!(lang, Lang::Perl | Lang::Ruby)) && dynamic::computed(args_text) {
        c.hit(
            "gate.dynamic_code",
            Some(format!("{lang:?} runs a command built at run time")),
        );
        return;
    }
    // `os.execvp(path, [argv0, ...])`, `os.execl(path, argv0, ...)`: the path is not argv.
    if lang == Lang::Python && (call == "os.exec" || call == "spawn") && lits.len() > 1 {
        lits.remove(0);
    }
    // `subprocess.run([...])`, `spawn('sh', ['-c', ...])`, `system "rm", "-rf", $dir`:
    // the command as separate words.
    let argv_mode =
        code[region].contains('[') || lits.len() > 1 && !lits[0].contains(char::is_whitespace);
    let line = if argv_mode {
        lits.iter()
            .map(|l| crate::decision::quote(l))
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        lits[0].clone()
    };
    c.nested(&format!("{lang:?} process"), &Field::lit(&line));
}

/// The arguments of a call written without parentheses, without a trailing statement
/// modifier (`system "make", "-j4" or die`, `exec "x" if $y`).
fn statement_args(text: &str) -> &str {
    let end = [" or ", " and ", " if ", " unless ", "||", "&&"]
        .iter()
        .filter_map(|m| text.find(m))
        .min()
        .unwrap_or(text.len());
    &text[..end]
}

/// Where a call's option object or keyword arguments start (`{stdio: ...}`, `cwd='/'`):
/// the literals after it are settings, not the command.
fn options_start(code: &str, r: std::ops::Range<usize>) -> usize {
    let text = &code[r.clone()];
    // An object that holds the arguments (`new Deno.Command('rm', {args: [...]})`) is argv.
    let object = text.find('{').filter(|&i| {
        !["args", "argv", "cmd"]
            .iter()
            .any(|k| text[i..].contains(k))
    });
    let keyword = text.match_indices('=').map(|(i, _)| i).find(|&i| {
        let (before, after) = (&text[..i], &text[i + 1..]);
        !after.starts_with('=')
            && !before.ends_with(['=', '!', '<', '>'])
            && before
                .trim_end()
                .ends_with(|ch: char| ch.is_alphanumeric() || ch == '_')
    });
    let keyword = keyword.map(|i| {
        text[..i]
            .trim_end()
            .trim_end_matches(|ch: char| ch.is_alphanumeric() || ch == '_')
            .len()
    });
    let cut = match (object, keyword) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(text.len()),
    };
    r.start + cut
}

/// A string that interpolates code (`"#{ARGV[0]}"` in Ruby, `${x}` in a JS template)
/// stands for a command built at run time: each interpolation becomes an unknown variable.
fn interpolated(lang: Lang, lit: &str) -> String {
    let open = match lang {
        Lang::Ruby => "#{",
        Lang::Js => "${",
        _ => return lit.to_owned(),
    };
    let mut out = String::new();
    let mut rest = lit;
    while let Some(i) = rest.find(open) {
        out.push_str(&rest[..i]);
        out.push_str("${__computed}");
        rest = rest[i..].find('}').map_or("", |e| &rest[i + e + 1..]);
    }
    out.push_str(rest);
    out
}

/// Perl's `open`: it runs a command only with a pipe in the mode (`"cmd |"`, `"-|", CMD`).
fn perl_open(c: &mut Cmd<'_, '_>, lang: Lang, code: &str, lx: &Lexed, at: usize) {
    let r = region(code, at);
    let lits = lits_in(lx, code, r.clone());
    // A command opened for writing (`"| CMD"`, `"|-", CMD`) reads what the code prints to it,
    // which the gate does not follow.
    let run = |c: &mut Cmd<'_, '_>, line: &str, writing: bool| {
        let stdin = match writing {
            true => Stream {
                piped: true,
                ..Stream::default()
            },
            false => c.io.stdin.clone(),
        };
        let label = format!("{lang:?} open");
        nested_line(c.an, &label, &Field::lit(line), stdin, c.scope);
    };
    if let Some(mode) = lits.iter().position(|l| l == "-|" || l == "|-") {
        let rest: Vec<&String> = lits.iter().skip(mode + 1).collect();
        let after_mode = code[r.clone()]
            .match_indices(LIT)
            .nth(mode)
            .map_or(r.end, |(i, _)| r.start + i + 1);
        if rest.is_empty() || dynamic::computed(&code[after_mode..r.end]) {
            c.hit(
                "gate.dynamic_code",
                Some(format!("{lang:?} open runs a command the gate cannot read")),
            );
        } else {
            let line = rest
                .iter()
                .map(|l| crate::decision::quote(l))
                .collect::<Vec<_>>()
                .join(" ");
            run(c, &line, lits[mode] == "|-");
        }
    } else if let Some(cmdline) = lits
        .iter()
        .find(|l| l.trim_start().starts_with('|') || l.trim_end().ends_with('|'))
    {
        let line = cmdline.trim().trim_matches('|').trim().to_owned();
        run(c, &line, cmdline.trim_start().starts_with('|'));
    }
}

/// Deletions: judged by the literals each call receives.
fn deletions(c: &mut Cmd<'_, '_>, lang: Lang, code: &str, lx: &Lexed, home: bool) {
    for call in DELETE_CALLS {
        for pos in find_all(code, call) {
            let mut r = region(code, pos + call.len().saturating_sub(1));
            if call.starts_with('.') || code[..pos].ends_with('.') {
                // A method call deletes its receiver: `Path('dist/x').unlink()`.
                r.start = code[..pos].rfind([';', '\n', '=']).map_or(0, |i| i + 1);
            }
            let text = &code[r.clone()];
            let lits = lits_in(lx, code, r);
            // A string that interpolates (`"$ENV{HOME}/*"`, `"#{dir}/x"`) is no literal path.
            let interpolated = |l: &str| {
                matches!(lang, Lang::Perl | Lang::Ruby | Lang::Php) && l.contains(['$', '@'])
                    || lang == Lang::Ruby && l.contains("#{")
            };
            let home_here = HOME_TOKENS.iter().any(|t| text.contains(t))
                || lits.iter().any(|l| l == "HOME")
                || lits
                    .iter()
                    .any(|l| interpolated(l) && HOME_TOKENS.iter().any(|t| l.contains(t)));
            let dynamic = lits.iter().any(|l| interpolated(l));
            let lits = match lits.is_empty() && !home_here && lang == Lang::Python {
                true => loop_items(lx, code, text),
                false => lits,
            };
            let mut classes: Vec<Class> = lits
                .iter()
                .filter(|l| l.as_str() != "HOME" && !interpolated(l))
                .map(|l| c.class(&Field::lit(l)))
                .collect();
            if home_here || home && lits.is_empty() {
                classes.push(Class::Home);
            }
            if classes.iter().any(|k| k.precious()) {
                c.hit(
                    "fs.interp_delete",
                    Some(format!("{lang:?} deletes outside the workspace")),
                );
            } else if classes.is_empty() || dynamic {
                c.hit(
                    "fs.rm_dynamic",
                    Some(format!("{lang:?} deletes a path the gate cannot read")),
                );
            }
        }
    }
}

/// The paths a Python loop variable of `args` takes (`for f in os.listdir('out')`, also in
/// a comprehension): items below each literal directory the iterable names, or matching
/// its glob pattern (`~` when it names the home); none when the iterable has no literal.
fn loop_items(lx: &Lexed, code: &str, args: &str) -> Vec<String> {
    let word = |ch: char| ch.is_alphanumeric() || ch == '_';
    let names: Vec<&str> = args
        .split(|ch: char| !word(ch))
        .filter(|n| !n.is_empty())
        .collect();
    let mut items = Vec::new();
    for (at, _) in code.match_indices("for ").take(8) {
        let head = &code[at + 4..];
        let Some(sep) = head.find(" in ") else {
            continue;
        };
        let bound = head[..sep]
            .split(|ch: char| !word(ch))
            .any(|n| !n.is_empty() && names.contains(&n));
        if !bound {
            continue;
        }
        let from = at + 4 + sep + 4;
        let mut depth = 0i32;
        let mut end = code.len();
        for (i, ch) in code[from..].char_indices() {
            match ch {
                '(' | '[' => depth += 1,
                ')' | ']' if depth == 0 => (end, depth) = (from + i, -1),
                ')' | ']' => depth -= 1,
                ':' | ';' | '\n' if depth == 0 => (end, depth) = (from + i, -1),
                _ => {}
            }
            if depth < 0 || code[from + i..].starts_with(" if ") && depth == 0 {
                end = end.min(from + i);
                break;
            }
        }
        let iterable = &code[from..end];
        let lits = lits_in(lx, code, from..end);
        let home = ["expanduser", "Path.home", "home()"]
            .iter()
            .any(|t| iterable.contains(t))
            || lits.iter().any(|l| l == "HOME" || l == "~");
        if home {
            items.push("~/x".to_owned());
        } else if subscript(iterable) || OUTSIDE_VALUES.iter().any(|t| iterable.contains(t)) {
            // A directory named by a variable, an argument or input: unknown.
            return Vec::new();
        }
        for l in lits
            .into_iter()
            .filter(|l| !home || !matches!(l.as_str(), "~" | "HOME"))
        {
            match l.contains(['*', '?', '[']) {
                true => items.push(l),
                false => items.push(format!("{}/x", l.trim_end_matches('/'))),
            }
        }
    }
    items
}

/// True when `code` indexes something (`os.environ['D']`, `sys.argv[1:]`), as opposed to
/// writing a list (`['build', 'dist']`).
fn subscript(code: &str) -> bool {
    code.match_indices('[').any(|(i, _)| {
        code[..i]
            .trim_end()
            .ends_with(|ch: char| ch.is_alphanumeric() || "_)]".contains(ch))
    })
}

/// Values a Python program takes from outside its code.
const OUTSIDE_VALUES: &[&str] = &["getenv", "environ", "argv", "input(", "stdin"];

/// File writes: literal targets are write targets.
fn writes(c: &mut Cmd<'_, '_>, lang: Lang, code: &str, lx: &Lexed) {
    if lang == Lang::Awk {
        awk::redirections(c, code, lx);
    }
    for call in WRITE_CALLS {
        for pos in find_all(code, call) {
            let mut r = region(code, pos + call.len().saturating_sub(1));
            if call.starts_with('.') {
                // A method writes its receiver: `Path('/x').write_text(...)`.
                r.start = code[..pos].rfind([';', '\n', '=']).map_or(0, |i| i + 1);
            }
            // `Path.home().joinpath(".bashrc")`, `os.homedir() + "/.x"`: below the home.
            let home = HOME_TOKENS.iter().any(|t| code[r.clone()].contains(t));
            let lits = lits_in(lx, code, r);
            let writing = *call != "open("
                && *call != "File.open"
                && *call != "fopen("
                && *call != "io.open("
                || lits
                    .iter()
                    .skip(1)
                    .any(|m| m.len() <= 3 && m.contains(['w', 'a', 'x', '+']))
                || lang == Lang::Perl && lits.iter().any(|l| l.starts_with('>'));
            if !writing {
                continue;
            }
            for l in &lits {
                let l = home_interpolation(lang, l).unwrap_or_else(|| l.clone());
                let target = l.trim_start_matches(['>', '+', ' ']);
                if !(target.contains('/') || target.starts_with('.') || target.starts_with('~')) {
                    continue;
                }
                let target = match home && !target.starts_with(['/', '~']) {
                    true => format!("~/{target}"),
                    false => target.to_owned(),
                };
                check_write(c.an, c.scope, &Field::lit(&target), &format!("{lang:?}"));
            }
        }
    }
}

/// A Perl, Ruby or PHP string that starts by interpolating the home (`"$ENV{HOME}/.x"`,
/// `"#{Dir.home}/.x"`) as the path it names below the home (`~/.x`).
fn home_interpolation(lang: Lang, lit: &str) -> Option<String> {
    const HOMES: &[&str] = &[
        "$ENV{HOME}",
        "${HOME}",
        "$HOME",
        "#{Dir.home}",
        "#{ENV['HOME']}",
        "#{ENV[\"HOME\"]}",
        "{$_SERVER['HOME']}",
    ];
    if !matches!(lang, Lang::Perl | Lang::Ruby | Lang::Php) {
        return None;
    }
    let rest = HOMES.iter().find_map(|h| lit.strip_prefix(h))?;
    Some(format!("~{rest}"))
}

/// Network use: running downloaded code, sending secrets, or plain network access.
fn network_use(c: &mut Cmd<'_, '_>, lang: Lang, code: &str, lx: &Lexed) {
    let network = calls::uses_network(code, &lx.lits, lang);
    let exec = EXEC_TOKENS.iter().any(|t| {
        code.contains(t) && !code.contains(&format!(".{t}"))
            || *t == "exec(" && code.contains("exec(")
    });
    let secret = lx.lits.iter().any(|l| {
        let abs = c.abs(&Field::lit(l));
        c.an.paths.is_secret(&abs) || c.class(&Field::lit(l)) == Class::HomeSensitive
    });
    if network {
        if exec {
            c.hit(
                "rce.interp_exec",
                Some(format!("{lang:?} runs code it downloads")),
            );
        } else if secret
            || code.contains("environ")
            || code.contains("ENV")
            || code.contains("process.env")
        {
            c.hit("exfil.interp", None);
        } else if !calls::only_fetches(code, lang) {
            c.hit("net.interp", None);
        }
    }
}

/// Byte offsets of every occurrence of `pat`.
fn find_all(code: &str, pat: &str) -> Vec<usize> {
    code.match_indices(pat).map(|(i, _)| i).take(16).collect()
}

/// True when `word` at `pos` is a whole word (not part of `systems` or `$exec`).
pub(crate) fn word_at(code: &str, pos: usize, word: &str) -> bool {
    let before = code[..pos].chars().next_back();
    let after = code[pos + word.len()..].chars().next();
    !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$' || c == '.' || c == ':')
        && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// `import subprocess` names a module without calling anything.
fn call_is_import(code: &str, pos: usize, call: &str) -> bool {
    let line_start = code[..pos].rfind(['\n', ';']).map_or(0, |i| i + 1);
    let line = code[line_start..pos].trim();
    line.starts_with("import")
        || line.starts_with("from")
        || line.ends_with("require(")
        || call == "child_process"
        || call == "subprocess" && !code[pos..].starts_with("subprocess.")
}

/// The argument region of a call: from `start` (at or before its `(`) to the matching `)`,
/// or to the end of the statement when there are no parentheses.
pub(crate) fn region(code: &str, start: usize) -> std::ops::Range<usize> {
    let start = start.min(code.len());
    let rest = &code[start..];
    let open =
        rest.find(|c: char| !c.is_whitespace() && c != '.' && !c.is_alphanumeric() && c != '_');
    match open {
        Some(o) if rest[o..].starts_with('(') => {
            let mut depth = 0;
            for (i, ch) in rest[o..].char_indices() {
                match ch {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            return start + o..start + o + i + 1;
                        }
                    }
                    _ => {}
                }
            }
            start..code.len()
        }
        _ => {
            let end = rest
                .find([';', '\n', '}'])
                .map_or(code.len(), |e| start + e);
            start..end
        }
    }
}

/// The literals inside a region of lexed code, in order.
pub(crate) fn lits_in(lx: &Lexed, code: &str, r: std::ops::Range<usize>) -> Vec<String> {
    let before = code[..r.start].matches(LIT).count();
    let inside = code[r].matches(LIT).count();
    lx.lits.iter().skip(before).take(inside).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        let lits = |s| lex(s, Lang::Python).lits;
        assert_eq!(
            lits(r"x('\x72m', '\162m', '\u0072m', '\u{72}m', '\101\n')"),
            vec!["rm", "rm", "rm", "rm", "A\n"]
        );
    }

    #[test]
    fn lexing() {
        let lx = lex("import os; os.system('rm -rf ~')", Lang::Python);
        assert!(lx.balanced);
        assert_eq!(lx.lits, vec!["rm -rf ~"]);
        assert!(!lex("print('x", Lang::Python).balanced);
    }
}
