//! Commands that multiply another command over inputs: `xargs`, `parallel`, and `find`
//! with `-exec`/`-execdir`/`-ok`/`-delete`.
//!
//! Owns how inputs become operands: known stdin text is split into items, paths printed by
//! `find DIR` or `git ls-files` stand for "something below DIR", anything else is unknown.
//! Each resulting command is judged through `Analyzer::dispatch`.

use super::analyzer::Analyzer;
use super::args::{Spec, parse};
use super::cmd::{inner, nested_line};
use super::field::{DESCENDANT, Field, UNKNOWN, join};
use super::paths::{Class, git_history};
use super::state::{Io, Scope, Stream, Taint};
use super::text::{glob_match, split_cmdline};

/// Most values `xargs`, `parallel` or `find` multiply a command into.
const MAX_ITEMS: usize = 16;

/// How xargs or parallel cut their input into items.
#[derive(Clone, Copy)]
enum Split {
    /// Blank-separated words, quotes and backslashes removed (xargs splits as git splits an
    /// alias: [`split_cmdline`]).
    Words,
    /// One item per line, leading blanks dropped, quotes removed (`xargs -I`).
    Lines,
    /// One item per line, as it is (`parallel`).
    RawLines,
    /// Items ended by this character, taken as they are (`-0`, `-d`).
    Delimiter(char),
}

/// Items xargs or parallel read from stdin: known words, or one unknown item.
fn stdin_items(stdin: &Stream, split: Split) -> Vec<Field> {
    match &stdin.text {
        Some(t) => {
            let items: Vec<String> = match split {
                Split::Words => split_cmdline(t),
                Split::Lines => t
                    .lines()
                    .flat_map(|l| split_cmdline(l).into_iter().reduce(|a, b| a + " " + &b))
                    .collect(),
                Split::RawLines => t.lines().map(str::to_owned).collect(),
                Split::Delimiter(d) => t.split(d).map(str::to_owned).collect(),
            };
            items
                .iter()
                .filter(|i| !i.is_empty())
                .take(MAX_ITEMS)
                .map(|i| Field::lit(i))
                .collect()
        }
        None => match &stdin.paths_under {
            Some(dir) => vec![descendant(&Field::lit(dir))],
            None => vec![Field::unknown(stdin.taint)],
        },
    }
}

pub(crate) fn xargs(an: &mut Analyzer<'_>, args: &[Field], io: &Io, scope: &mut Scope) -> Stream {
    let a = parse(
        args,
        // `-e`, `-i`, `-l` and `--eof`, `--replace`, `--max-lines` take a value only when it
        // is attached (`-i{}`, `--replace=X`): the next word is the command.
        Spec::wrapper(
            "dEInPsa",
            &[
                "delimiter",
                "max-args",
                "max-procs",
                "max-chars",
                "arg-file",
                "process-slot-var",
            ],
        ),
    );
    // `-iR` is `-I R`; a bare `-i` or `--replace` is `-I {}`.
    let attached = args[..a.rest.min(args.len())]
        .iter()
        .find_map(|f| f.text.strip_prefix("-i").filter(|r| !r.is_empty()));
    let replace = a
        .value('I', "replace")
        .map(|f| f.text.clone())
        .or_else(|| attached.map(str::to_owned))
        .or_else(|| a.has('i', "replace").then(|| "{}".to_owned()));
    let mut template = a.operands.clone();
    if template.is_empty() {
        template.push(Field::lit("echo"));
    }
    // Items read from a file carry what the file holds (a key file's lines are secrets).
    let stdin = if let Some(f) = a.value('a', "arg-file") {
        let f = f.clone();
        let file = an.file_stream(&f, scope);
        Stream {
            text: None,
            piped: true,
            ..file
        }
    } else {
        io.stdin.clone()
    };
    let split = match a.value('d', "delimiter") {
        _ if a.has('0', "null") => Split::Delimiter('\0'),
        Some(d) => Split::Delimiter(delimiter(&d.text)),
        None if replace.is_some() => Split::Lines,
        None => Split::Words,
    };
    let items = stdin_items(&stdin, split);
    let quiet = Io::default();
    let mut out = Stream::default();
    // Endless input (`yes | xargs ...`) runs the command without end: a loop, and with no
    // bound on parallel runs (`-P 0`), a fork bomb.
    if stdin.endless && a.value('P', "max-procs").is_some_and(|p| p.is("0")) {
        an.hit(
            "fork_bomb.loop",
            scope,
            args,
            Some("xargs -P 0 over endless input".into()),
        );
    }
    let saved_loop = scope.in_loop;
    scope.in_loop |= stdin.endless;
    match replace {
        Some(r) => {
            for item in items {
                let argv: Vec<Field> = template.iter().map(|t| substitute(t, &r, &item)).collect();
                out = inner(an, "xargs", &argv, &quiet, scope, false);
            }
        }
        None => {
            let mut argv = template;
            argv.extend(items);
            out = inner(an, "xargs", &argv, &quiet, scope, false);
        }
    }
    scope.in_loop = saved_loop;
    out
}

/// xargs's `-d` argument: one character, or an escape (`\n`, `\t`, `\0`, `\\`).
fn delimiter(spec: &str) -> char {
    let escaped = spec.strip_prefix('\\').and_then(|e| match e {
        "n" => Some('\n'),
        "t" => Some('\t'),
        "0" => Some('\0'),
        "\\" => Some('\\'),
        _ => None,
    });
    escaped.unwrap_or_else(|| spec.chars().next().unwrap_or('\n'))
}

/// Replaces `pat` in a template field with an item (xargs -I, parallel {}, find {}).
fn substitute(t: &Field, pat: &str, item: &Field) -> Field {
    if pat.is_empty() || !t.text.contains(pat) {
        return t.clone();
    }
    Field {
        text: t.text.replace(pat, &item.text),
        known: t.known && item.known,
        glob: t.glob || item.glob,
        taint: t.taint.merge(item.taint),
        procsub: false,
        body: None,
    }
}

pub(crate) fn parallel(
    an: &mut Analyzer<'_>,
    args: &[Field],
    io: &Io,
    scope: &mut Scope,
) -> Stream {
    let split = args.iter().position(|a| a.is(":::") || a.is("::::"));
    let (head, values) = match split {
        Some(i) => (&args[..i], args[i + 1..].to_vec()),
        None => (args, stdin_items(&io.stdin, Split::RawLines)),
    };
    let a = parse(
        head,
        Spec::wrapper(
            "jSaI",
            &[
                "jobs", "sshlogin", "arg-file", "joblog", "results", "delay", "timeout",
            ],
        ),
    );
    if a.has_long("pipe") || a.has_long("pipepart") {
        // `--pipe`: blocks of stdin are each command's stdin, not its arguments.
        let stdin = Stream {
            piped: true,
            ..io.stdin.clone()
        };
        nested_line(an, "parallel --pipe", &join(&a.operands), stdin, scope);
        return Stream::default();
    }
    if a.operands.is_empty() {
        // Each input line is a command.
        for v in values.iter().take(MAX_ITEMS) {
            nested_line(an, "parallel", v, Stream::default(), scope);
        }
        return Stream::default();
    }
    for v in values.iter().take(MAX_ITEMS) {
        let mut argv: Vec<Field> = a.operands.iter().map(|t| substitute(t, "{}", v)).collect();
        if !a.operands.iter().any(|t| t.text.contains("{}")) {
            argv.push(v.clone());
        }
        let line = join(&argv);
        nested_line(an, "parallel", &line, Stream::default(), scope);
    }
    Stream::default()
}

pub(crate) fn find(an: &mut Analyzer<'_>, fields: &[Field], scope: &mut Scope) -> Stream {
    let args = &fields[1..];
    let mut i = 0;
    // Global options before the starting points.
    while i < args.len()
        && matches!(
            args[i].text.as_str(),
            "-H" | "-L" | "-P" | "-O0" | "-O1" | "-O2" | "-O3"
        )
    {
        i += 1;
    }
    let mut starts: Vec<Field> = Vec::new();
    while i < args.len()
        && !args[i].text.starts_with('-')
        && !matches!(args[i].text.as_str(), "(" | "!" | ")")
    {
        starts.push(args[i].clone());
        i += 1;
    }
    if starts.is_empty() {
        starts.push(Field::lit("."));
    }
    // What the commands of `-exec` print is find's output too.
    let mut printed = Taint::default();
    while i < args.len() {
        let t = args[i].text.as_str();
        match t {
            "-exec" | "-execdir" | "-ok" | "-okdir" => {
                let items = found(args, i, &starts);
                i = find_exec(an, args, i, &items, scope, &mut printed);
            }
            "-delete" => {
                for below in found(args, i, &starts) {
                    // -delete removes what is found below the starting point.
                    let class = an.paths.classify(&below.text, below.glob, scope);
                    let history =
                        class == Class::Git && git_history(&an.paths.abs(&below.text, scope));
                    // Deleting below the workspace root is undoable; the root itself and the
                    // repository's history stay.
                    if class.precious() && class != Class::Git
                        || history
                        || class == Class::Unknown && below.text.contains(UNKNOWN)
                    {
                        an.hit(
                            "fs.find_delete",
                            scope,
                            fields,
                            Some(format!("{} is {class:?}", below.text)),
                        );
                    }
                }
                i += 1;
            }
            "-fprint" | "-fprint0" | "-fprintf" | "-fls" => {
                if let Some(f) = args.get(i + 1) {
                    super::cmd::check_write(an, scope, f, "find");
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
    // find prints paths below its starting point (xargs may turn them into operands).
    Stream {
        paths_under: match starts.as_slice() {
            [s] if s.known => Some(an.paths.abs(&s.text, scope)),
            _ => None,
        },
        ..Stream::tainted(printed)
    }
}

/// fd's options that take a value (other than `-x`/`-X`, which take the command).
const FD_VALUED: &[&str] = &[
    "-e",
    "--extension",
    "-t",
    "--type",
    "-d",
    "--max-depth",
    "--min-depth",
    "--exact-depth",
    "-E",
    "--exclude",
    "-S",
    "--size",
    "-j",
    "--threads",
    "-c",
    "--color",
    "--changed-within",
    "--changed-before",
    "-o",
    "--owner",
    "--base-directory",
    "--search-path",
    "--ignore-file",
    "--max-results",
    "--format",
    "--path-separator",
];

/// `fd [PATTERN] [PATH...] -x|-X CMD...`: like `find -exec`, CMD runs on paths below each
/// PATH (the working directory by default); `--search-path` adds one.
pub(crate) fn fd(an: &mut Analyzer<'_>, fields: &[Field], scope: &mut Scope) -> Stream {
    let args = &fields[1..];
    let exec = args
        .iter()
        .position(|a| matches!(a.text.as_str(), "-x" | "-X" | "--exec" | "--exec-batch"));
    let own = &args[..exec.unwrap_or(args.len())];
    let mut operands: Vec<Field> = Vec::new();
    let mut starts: Vec<Field> = Vec::new();
    let mut i = 0;
    while i < own.len() {
        let a = &own[i];
        if a.is("--search-path") {
            starts.extend(own.get(i + 1).cloned());
        }
        if FD_VALUED.contains(&a.text.as_str()) {
            i += 2;
            continue;
        }
        if !a.text.starts_with('-') {
            operands.push(a.clone());
        }
        i += 1;
    }
    let pattern = operands.first().map(|p| p.text.clone()).unwrap_or_default();
    starts.extend(operands.into_iter().skip(1));
    if starts.is_empty() {
        starts.push(Field::lit("."));
    }
    // With hidden files searched, a pattern that may match `.git` (and no extension filter)
    // reaches the history.
    let hidden = own.iter().any(|a| {
        a.is("-H") || a.is("--hidden") || a.text.starts_with("-u") || a.is("--unrestricted")
    });
    let glob = own.iter().any(|a| a.is("-g") || a.is("--glob"));
    let extension = own.iter().any(|a| a.is("-e") || a.is("--extension"));
    let git = hidden && !extension && fd_may_match_git(&pattern, glob);
    // What the commands of `-x` print is fd's output too.
    let mut printed = Taint::default();
    if let Some(at) = exec {
        let mut template: Vec<Field> = args[at + 1..]
            .iter()
            .take_while(|a| !a.is(";"))
            .cloned()
            .collect();
        if !template.iter().any(|t| t.text.contains('{')) {
            template.push(Field::lit("{}"));
        }
        let mut items: Vec<Field> = starts.iter().map(descendant).collect();
        if git {
            items.extend(starts.iter().map(|s| Field {
                text: format!("{}/.git", s.text.trim_end_matches('/')),
                ..s.clone()
            }));
        }
        for item in items.iter().take(MAX_ITEMS) {
            let argv: Vec<Field> = template.iter().map(|f| substitute(f, "{}", item)).collect();
            let out = inner(an, "fd -x", &argv, &Io::default(), scope, false);
            printed = printed.merge(out.taint);
        }
    }
    // Without `-x`, fd prints paths below its search paths (xargs may take them).
    Stream {
        paths_under: match starts.as_slice() {
            [s] if s.known && exec.is_none() => Some(an.paths.abs(&s.text, scope)),
            _ => None,
        },
        ..Stream::tainted(printed)
    }
}

/// True when fd's pattern (a regular expression searched in names, or a glob with `-g`)
/// may match `.git`.
fn fd_may_match_git(pattern: &str, glob: bool) -> bool {
    if glob {
        return glob_match(pattern, ".git");
    }
    let p = pattern.trim_matches(['^', '$']).replace("\\.", ".");
    matches!(p.as_str(), "" | "." | ".*" | ".+") || ".git".contains(p.as_str()) || p.contains("git")
}

/// Find's tests that match a name or path against a pattern.
const NAME_TESTS: &[&str] = &[
    "-name",
    "-iname",
    "-path",
    "-ipath",
    "-wholename",
    "-iwholename",
];

/// What an action at `args[at]` acts on: a path below each starting point, and the
/// starting point's `.git` when a name test of the action's clause (after the last `-o`)
/// may match it (`find . -name .git -exec rm -rf {} +`).
fn found(args: &[Field], at: usize, starts: &[Field]) -> Vec<Field> {
    let clause = args[..at]
        .iter()
        .rposition(|a| a.is("-o") || a.is("-or") || a.is("("))
        .map_or(0, |p| p + 1);
    let tests = &args[clause..at];
    // The patterns every found path matches (name tests that are not negated).
    let patterns: Vec<&Field> = tests
        .windows(2)
        .enumerate()
        .filter(|(k, w)| {
            let negated = k
                .checked_sub(1)
                .is_some_and(|p| tests[p].is("!") || tests[p].is("-not"));
            NAME_TESTS.contains(&w[0].text.as_str()) && !negated
        })
        .map(|(_, w)| &w[1])
        .collect();
    let git = patterns
        .iter()
        .any(|p| glob_match(p.text.rsplit('/').next().unwrap_or(""), ".git"));
    let ending = patterns.iter().find_map(|p| fixed_ending(&p.text));
    let mut items: Vec<Field> = starts
        .iter()
        .map(|s| {
            let mut d = descendant(s);
            d.text.push_str(ending.unwrap_or(""));
            d
        })
        .collect();
    if git {
        let git_dirs = starts.iter().map(|s| Field {
            text: format!("{}/.git", s.text.trim_end_matches('/')),
            ..s.clone()
        });
        items.extend(git_dirs.collect::<Vec<_>>());
    }
    items
}

/// The literal end of a case-sensitive name pattern that every match has (`.lock` of
/// `*.lock`), when it names no directory.
fn fixed_ending(pattern: &str) -> Option<&str> {
    let at = pattern.rfind(['*', '?', '[', ']', '\\'])?;
    let end = &pattern[at + 1..];
    (!end.is_empty() && !end.contains('/')).then_some(end)
}

/// What `{}` stands for below a find starting point.
fn descendant(start: &Field) -> Field {
    let base = start.text.trim_end_matches('/');
    let text = format!("{base}/{DESCENDANT}");
    Field {
        text,
        known: false,
        glob: false,
        taint: start.taint,
        procsub: false,
        body: None,
    }
}

/// `find ... -exec CMD {} ;` from `args[at]`: the command runs on a path below each starting
/// point; returns the index after its terminator.
fn find_exec(
    an: &mut Analyzer<'_>,
    args: &[Field],
    at: usize,
    items: &[Field],
    scope: &mut Scope,
    printed: &mut Taint,
) -> usize {
    let i = at;
    let t = args[i].text.as_str();
    let end = args[i + 1..]
        .iter()
        .position(|a| a.is(";") || a.is("+"))
        .map(|p| i + 1 + p)
        .unwrap_or(args.len());
    let template = &args[i + 1..end];
    for item in items.iter().take(MAX_ITEMS) {
        let argv: Vec<Field> = template.iter().map(|f| substitute(f, "{}", item)).collect();
        if !argv.is_empty() {
            let out = inner(
                an,
                &format!("find {t}"),
                &argv,
                &Io::default(),
                scope,
                false,
            );
            *printed = printed.merge(out.taint);
        }
    }

    end + 1
}
