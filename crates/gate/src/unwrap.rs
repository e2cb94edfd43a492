//! Unwrapping: finds the command a wrapper would really run, and judges that.
//!
//! Owns program-name normalization (`/usr/bin/rm`, `python3.12`, `mkfs.ext4`, globbed
//! names), the wrappers (sudo, env, nice, timeout, xargs, find -exec, watch, script -c,
//! busybox, ...), nested shells (`sh -c`, `| sh`, `sh <(...)`), `eval`, `source`, `trap`
//! and `ssh host CMD`; each unwrapping is recorded in the scope's wrapper chain.
//! Argument-aware: each wrapper's own options are parsed, so `timeout -s 9 10 rm` finds `rm`.
//!
//! It does not judge what the final command does: that is [`super::rules`].

use super::analyzer::Analyzer;
use super::args::{Spec, parse};
use super::cmd::{inner, nested_here, nested_line, opened_input};
use super::field::{DESCENDANT, Field, UNKNOWN, join};
use super::paths::{Program, normalize_program};
use super::state::{Io, MAX_DEPTH, Scope, Stream, Taint, Value};
use super::text::glob_match;

/// Shells that run `-c` strings, script files, or their stdin.
const SHELLS: &[&str] = &[
    "sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "rbash", "yash", "posh", "csh",
    "tcsh",
];

/// Judges one simple command given as fields (`fields[0]` is the program word).
pub(crate) fn dispatch(
    an: &mut Analyzer<'_>,
    fields: Vec<Field>,
    io: &Io,
    scope: &mut Scope,
) -> Stream {
    if fields.is_empty() || !an.budget(scope) {
        return Stream::default();
    }
    let prog = &fields[0];
    if prog.glob && !prog.text.contains(UNKNOWN) {
        let pattern = prog.text.rsplit('/').next().unwrap_or("").to_owned();
        let names: Vec<&str> = super::tables::KNOWN
            .iter()
            .copied()
            .filter(|n| glob_match(&pattern, n))
            .collect();
        if names.is_empty() {
            an.hit("gate.dynamic_program", scope, &fields, None);
            return Stream::default();
        }
        let mut out = Stream::default();
        for n in names {
            let mut f = fields.clone();
            f[0] = Field::lit(n);
            out = named(
                an,
                Program {
                    name: n.to_owned(),
                    trusted: false,
                },
                &f,
                io,
                scope,
            );
        }
        return out;
    }
    if !prog.known {
        let rule = if prog.taint.hidden_code() {
            "rce.decoded_exec"
        } else {
            "gate.dynamic_program"
        };
        an.hit(rule, scope, &fields, None);
        return Stream::default();
    }
    if prog.taint.hidden_code() {
        // The program itself was decoded or downloaded: judge it, but never allow it.
        an.hit("rce.decoded_exec", scope, &fields, None);
    }
    if prog.text.contains('/') {
        // A script downloaded or written earlier on the line, run by its path.
        script_operand(an, &fields, prog, io, scope, false);
    }
    let program = normalize_program(&prog.text);
    named(an, program, &fields, io, scope)
}

fn named(
    an: &mut Analyzer<'_>,
    p: Program,
    fields: &[Field],
    io: &Io,
    scope: &mut Scope,
) -> Stream {
    let args = &fields[1..];
    let name = p.name.as_str();
    // A function that calls itself concurrently is a fork bomb. Any other call: the body was
    // judged where it was defined, and since the definition may sit in a branch that does
    // not run, a name that shadows a program is judged as that program too.
    if scope.concurrent
        && scope.function.as_deref() == Some(name)
        && an.functions.iter().any(|f| f == name)
    {
        an.hit("fork_bomb.recursive", scope, fields, None);
        return Stream::default();
    }
    if !args.is_empty()
        && args
            .iter()
            .all(|a| a.is("--version") || a.is("-V") || a.is("--help"))
    {
        // Prints its version or usage and exits.
        return Stream::default();
    }
    expand_alias(an, fields, io, scope);
    if let Some((_, prefix)) = super::tables::ALIASES.iter().find(|(n, _)| *n == name) {
        let mut expanded: Vec<Field> = prefix.iter().map(|w| Field::lit(w)).collect();
        expanded.extend(args.iter().cloned());
        return inner(an, name, &expanded, io, scope, false);
    }
    super::generic::judge(an, &p, fields, io, scope);
    if let Some(out) = shell_function(fields, scope)
        .then(|| call_function(an, name, args, io, scope))
        .flatten()
    {
        return out;
    }
    if let Some(out) = builtin(an, name, args, io, scope) {
        return out;
    }
    if let Some(out) = wrapper(an, &p, fields, io, scope) {
        return out;
    }
    if SHELLS.contains(&name) {
        return shell(an, fields, io, scope);
    }
    super::rules::judge(an, &p, fields, io, scope)
}

/// Shell builtins that change the line's state (variables, aliases, the directory):
/// what they print, or `None` when the command is judged further.
fn builtin(
    an: &mut Analyzer<'_>,
    name: &str,
    args: &[Field],
    io: &Io,
    scope: &mut Scope,
) -> Option<Stream> {
    match name {
        "read" | "mapfile" | "readarray" => {
            read_into(name, args, io, scope);
            return Some(Stream::default());
        }
        "alias" => define_aliases(an, args),
        "hash" => hash_path(an, args),
        // `let EXPR...` evaluates arithmetic (`declare -i` below).
        "let" => arithmetic_args(an, args, scope),
        "cd" | "pushd" => {
            let from = scope.cwd.clone();
            change_dir(an, args, scope);
            if name == "pushd" {
                scope.dirs.push(from);
            }
            return Some(Stream::default());
        }
        "shift" => {
            shift_positional(args, scope);
            return Some(Stream::default());
        }
        "set" if args.first().is_some_and(|a| a.is("--")) => {
            let values = args[1..].iter().map(|a| Value {
                text: a.known.then(|| a.text.clone()),
                taint: a.taint,
            });
            set_positional(scope, values.collect());
        }
        "popd" => {
            // Back to where the last `pushd` left; with no `pushd` seen, somewhere unknown.
            scope.cwd = scope.dirs.pop().unwrap_or(None);
            return Some(Stream::default());
        }
        "export" | "declare" | "typeset" | "local" | "readonly" => {
            // `export -p`, `declare -x`, bare `declare`: they print the environment.
            if args.iter().all(|a| a.text.starts_with('-')) {
                return Some(super::state::Stream::tainted(super::state::Taint {
                    secret: true,
                    stored: true,
                    ..Default::default()
                }));
            }
            // `declare -n REF=NAME` makes REF another name for NAME: its value is unknown here.
            let nameref = args
                .iter()
                .any(|a| a.text.starts_with('-') && a.text.contains('n'));
            // `declare -i N=EXPR` evaluates EXPR as arithmetic, now and on every later
            // assignment to N.
            if args
                .iter()
                .any(|a| a.text.starts_with('-') && a.text.contains('i'))
            {
                arithmetic_args(an, args, scope);
                let names = args.iter().filter(|a| !a.text.starts_with('-'));
                an.integers
                    .extend(names.map(|a| a.text.split('=').next().unwrap_or("").to_owned()));
            }
            for (k, field) in env_assignments(an, scope, args) {
                let value = Value {
                    text: super::field::partial_text(&field).filter(|_| !nameref),
                    taint: field.taint,
                };
                scope.vars.insert(k, value);
            }
            return Some(Stream::default());
        }
        _ => {}
    }
    None
}

/// `cd DIR`: the working directory for the rest of the line, and `$OLDPWD` for `cd -`.
/// A directory known only in part (`cd "$(mktemp -d)"`) keeps its known part: what is below
/// it is judged by that.
fn change_dir(an: &Analyzer<'_>, args: &[Field], scope: &mut Scope) {
    let target = args
        .iter()
        .find(|a| !a.text.starts_with('-') || a.text == "-");
    let old = scope.cwd.clone();
    scope.cwd = match target {
        None => an.paths.home.clone(),
        Some(a) if a.is("-") => scope.vars.get("OLDPWD").and_then(|v| v.text.clone()),
        // A relative name is looked up in `$CDPATH` first: where it leads is unknown.
        Some(a) if scope.vars.contains_key("CDPATH") && searched(&a.text) => None,
        Some(a) if a.known || !a.text.starts_with(UNKNOWN) && a.text.contains(UNKNOWN) => {
            Some(an.paths.abs(&a.text, scope))
        }
        Some(_) => None,
    };
    let value = Value {
        text: old,
        taint: Taint::default(),
    };
    scope.vars.insert("OLDPWD".to_owned(), value);
}

/// `$1`...`$9` become `values` (unset ones empty), as `set -- ARGS` or a function call
/// makes them; returns what they were.
fn set_positional(scope: &mut Scope, values: Vec<Value>) -> Vec<Option<Value>> {
    let mut values = values.into_iter();
    (1..=9)
        .map(|i| {
            let unset = Value {
                text: Some(String::new()),
                taint: Taint::default(),
            };
            scope
                .vars
                .insert(i.to_string(), values.next().unwrap_or(unset))
        })
        .collect()
}

/// `shift [N]`: `$N+1`... become `$1`...; past `$9`, or with an unknown N, unknown.
fn shift_positional(args: &[Field], scope: &mut Scope) {
    let n = match args.first() {
        None => Some(1),
        Some(a) => a.known.then(|| a.text.parse::<usize>().ok()).flatten(),
    };
    for i in 1..=9 {
        let moved = n.and_then(|n| scope.vars.get(&(i + n).to_string()).cloned());
        match moved {
            Some(v) => scope.vars.insert(i.to_string(), v),
            None => scope.vars.remove(&i.to_string()),
        };
    }
}

/// True when `cd DIR` looks DIR up in `$CDPATH` (a name not starting with `/`, `.` or `..`).
fn searched(dir: &str) -> bool {
    let first = dir.split('/').next().unwrap_or("");
    !dir.starts_with('/') && first != "." && first != ".."
}

/// `read VAR < FILE`: the variables hold what stdin held, taint included.
fn read_into(name: &str, args: &[Field], io: &Io, scope: &mut Scope) {
    // The options that take a value: `mapfile -t` only strips newlines, `read -t` waits.
    let valued: &[&str] = match name {
        "read" => &["-p", "-d", "-n", "-N", "-t", "-u", "-i"],
        _ => &["-d", "-n", "-O", "-s", "-u", "-C", "-c"],
    };
    let mut skip_next = false;
    let names = args.iter().filter(|a| !a.text.starts_with('-')).count();
    // One variable gets the whole first line of a known input (`read -r D <<< build`);
    // several are split by `$IFS`, which may have been changed: unknown.
    let line = io
        .stdin
        .text
        .as_deref()
        .filter(|_| names == 1 && !args.iter().any(|a| a.text.starts_with("-a")))
        .map(|t| t.lines().next().unwrap_or("").trim().to_owned())
        // A path below a known directory, from a lister (`find DIR | while read f`).
        .or_else(|| {
            let dir = io.stdin.paths_under.as_deref().filter(|_| names == 1)?;
            Some(format!("{}/{DESCENDANT}", dir.trim_end_matches('/')))
        });
    for a in args {
        if std::mem::take(&mut skip_next) {
            continue;
        }
        if valued.contains(&a.text.as_str()) {
            skip_next = true;
            continue;
        }
        let name = a.text.trim_start_matches("-a");
        if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            let value = Value {
                text: line.clone(),
                taint: io.stdin.taint,
            };
            scope.vars.insert(name.to_owned(), value);
        }
    }
}

/// `hash -p PATH NAME`: a later NAME runs PATH, as an alias would.
fn hash_path(an: &mut Analyzer<'_>, args: &[Field]) {
    if let [flag, path, name, ..] = args
        && flag.is("-p")
        && name.known
    {
        let target = path.known.then(|| crate::decision::quote(&path.text));
        an.define_alias(&name.text, target);
    }
}

/// Arguments evaluated as arithmetic expressions (`let`, `declare -i`): their substitutions
/// and the values of the variables they name are judged.
fn arithmetic_args(an: &mut Analyzer<'_>, args: &[Field], scope: &Scope) {
    for a in args.iter().filter(|a| !a.text.starts_with('-')) {
        an.expand_embedded(&a.text, scope);
    }
}

/// `alias NAME=TEXT ...`: remembered, so a later command named NAME is judged as TEXT.
fn define_aliases(an: &mut Analyzer<'_>, args: &[Field]) {
    for a in args.iter().filter(|a| a.known) {
        if let Some((name, text)) = a.text.split_once('=') {
            an.define_alias(name, Some(text.to_owned()));
        }
    }
}

/// A command whose first word is an alias defined earlier on the line is judged as the
/// alias expands (an alias is not expanded inside its own expansion).
fn expand_alias(an: &mut Analyzer<'_>, fields: &[Field], io: &Io, scope: &mut Scope) {
    let word = &fields[0];
    let Some((name, text)) = an.aliases.iter().find(|(n, _)| word.is(n)).cloned() else {
        return;
    };
    let label = format!("alias {name}");
    if scope.wrappers.contains(&label) {
        return;
    }
    let simple = text
        .chars()
        .all(|c| c.is_alphanumeric() || " -_./=~:@%+,".contains(c));
    // An alias is text the shell reads in place: one that changes the directory or the
    // variables (`alias c=cd`) changes them for the rest of the line.
    let first = text.split_whitespace().next().unwrap_or("");
    let stateful = STATE_BUILTINS.contains(&first);
    if simple && !stateful {
        let mut expanded: Vec<Field> = text.split_whitespace().map(Field::lit).collect();
        expanded.extend(fields[1..].iter().cloned());
        if !expanded.is_empty() {
            inner(an, &label, &expanded, io, scope, false);
        }
        return;
    }
    let mut words = vec![Field::lit(&text)];
    words.extend(fields[1..].iter().map(|f| Field {
        text: if f.known {
            crate::decision::quote(&f.text)
        } else {
            f.text.clone()
        },
        ..f.clone()
    }));
    match stateful {
        true => nested_here(an, &label, &join(&words), io.stdin.clone(), scope),
        false => nested_line(an, &label, &join(&words), io.stdin.clone(), scope),
    };
}

/// Builtins that change the shell's directory, variables, aliases or functions.
const STATE_BUILTINS: &[&str] = &[
    "cd",
    "pushd",
    "popd",
    "export",
    "declare",
    "typeset",
    "local",
    "readonly",
    "unset",
    "set",
    "alias",
    "source",
    ".",
    "eval",
    "read",
    "mapfile",
    "readarray",
    "shopt",
    "hash",
];

/// True when the shell itself runs the command, so a function of its name would run: not
/// a path (`/bin/rm`), and not under a wrapper that executes programs (`command rm`,
/// `sudo rm`, `xargs rm`); `time`, `eval`, `source` and traps run in the shell.
fn shell_function(fields: &[Field], scope: &Scope) -> bool {
    let execs = |w: &str| {
        !matches!(w, "time" | "eval" | "source" | "." | "trap")
            && UNWRAP.iter().any(|(names, _)| names.contains(&w))
    };
    !fields[0].text.contains('/') && !scope.wrappers.last().is_some_and(|w| execs(w))
}

/// A call of a function defined earlier on the line: its body runs here, in the caller's
/// scope, so a `cd` or an assignment inside it carries to the commands after the call.
/// A recursive call is not walked again (the outer call walks the body).
fn call_function(
    an: &mut Analyzer<'_>,
    name: &str,
    args: &[Field],
    io: &Io,
    scope: &mut Scope,
) -> Option<Stream> {
    let body = an.bodies.get(name).cloned()?;
    // A function calling its own name (`rm() { command rm "$@"; }`) reaches the program.
    if scope.function.as_deref() == Some(name) {
        return None;
    }
    if scope.depth + 2 >= MAX_DEPTH {
        return Some(Stream::default());
    }
    // The body is judged here with the call's arguments as `$1`...`$9` (an argument the
    // gate cannot read stays unknown), instead of as it was where it was defined.
    an.deferred.retain(|(n, _)| n != name);
    let values = args.iter().map(|a| Value {
        text: a.known.then(|| a.text.clone()),
        taint: a.taint,
    });
    let saved_args = set_positional(scope, values.collect());
    let saved = scope.function.replace(name.to_owned());
    scope.depth += 1;
    // What the body prints is what the call prints (`d=$(f)`).
    let out = an.run_line(&body, scope, io.stdin.clone());
    scope.depth -= 1;
    scope.function = saved;
    for (i, old) in (1..=9).zip(saved_args) {
        match old {
            Some(v) => scope.vars.insert(i.to_string(), v),
            None => scope.vars.remove(&i.to_string()),
        };
    }
    Some(out)
}

/// Environment assignments (`env VAR=value CMD`, `export VAR=value`): each value is
/// judged by what the variable makes programs do; returns the names and values.
fn env_assignments(an: &mut Analyzer<'_>, scope: &Scope, ops: &[Field]) -> Vec<(String, Field)> {
    let mut out = Vec::new();
    for f in ops {
        if let Some((k, v)) = f.text.split_once('=') {
            let field = Field {
                text: v.to_owned(),
                ..f.clone()
            };
            super::generic::assignment(an, scope, k, &field);
            out.push((k.to_owned(), field));
        }
    }
    out
}

/// `VAR=value` words before a wrapper's command (`env X=1 CMD`, `sudo GIT_CONFIG_GLOBAL=F
/// git log`): judged as assignments, and the command's environment.
fn command_environment(an: &mut Analyzer<'_>, ops: &[Field], scope: &mut Scope) {
    for (k, v) in env_assignments(an, scope, ops) {
        let text = crate::field::partial_text(&v);
        scope.vars.insert(
            k,
            Value {
                text,
                taint: v.taint,
            },
        );
    }
}

/// The command a wrapper was found in, as its handler sees it.
struct Wrapped<'w> {
    name: &'w str,
    fields: &'w [Field],
    args: &'w [Field],
    io: &'w Io,
}

/// A wrapper handler: `Some` output once it judged what the wrapper runs, `None` when the
/// command is to be judged as a program of its own.
type Unwrap = fn(&mut Analyzer<'_>, &Wrapped<'_>, &mut Scope) -> Option<Stream>;

/// Wrappers whose options need more than `tables::WRAPPERS` says: one row per wrapper family.
const UNWRAP: &[(&[&str], Unwrap)] = &[
    (&["sudo", "doas", "run0", "pkexec"], wrap_sudo),
    (&["su"], wrap_su),
    (&["env"], wrap_env),
    (&["command"], wrap_command),
    (&["taskset"], wrap_taskset),
    (&["valgrind", "perf"], wrap_valgrind),
    (&["busybox", "toybox"], wrap_busybox),
    (&["flock"], wrap_flock),
    (&["watch"], wrap_watch),
    (&["script"], wrap_script),
    (&["eval"], wrap_eval),
    (&["trap"], wrap_trap),
    (&["source", "."], wrap_source),
    (&["ssh"], wrap_ssh),
    (&["vim", "vi", "nvim", "view", "ex", "vimdiff"], wrap_vim),
    (&["xargs"], wrap_xargs),
    (&["parallel"], wrap_parallel),
    (&["find"], wrap_find),
    (&["fd", "fdfind"], |an, w, scope| {
        Some(super::fanout::fd(an, w.fields, scope))
    }),
];

/// Wrappers: returns `None` when `p` is not one.
fn wrapper(
    an: &mut Analyzer<'_>,
    p: &Program,
    fields: &[Field],
    io: &Io,
    scope: &mut Scope,
) -> Option<Stream> {
    let w = Wrapped {
        name: p.name.as_str(),
        fields,
        args: &fields[1..],
        io,
    };
    if let Some(t) = super::tables::WRAPPERS
        .iter()
        .find(|t| t.names.contains(&w.name))
    {
        let at = t.operands_first + parse(w.args, Spec::wrapper(t.short_val, t.long_val)).rest;
        if at == w.args.len() && super::tables::BARE_SHELLS.contains(&w.name) {
            let shell = [Field::lit("sh")];
            return Some(inner(an, w.name, &shell, w.io, scope, false));
        }
        return rest(an, &w, scope, at);
    }
    let (_, handler) = UNWRAP.iter().find(|(names, _)| names.contains(&w.name))?;
    handler(an, &w, scope)
}

/// Judges what a wrapper runs: its arguments from `rest` on.
fn rest(an: &mut Analyzer<'_>, w: &Wrapped<'_>, scope: &mut Scope, rest: usize) -> Option<Stream> {
    let rest = rest.min(w.args.len());
    if rest >= w.args.len() {
        return Some(Stream::default());
    }
    Some(inner(an, w.name, &w.args[rest..], w.io, scope, false))
}

/// `sudo`, `doas`, `run0`, `pkexec`.
fn wrap_sudo(an: &mut Analyzer<'_>, w: &Wrapped<'_>, scope: &mut Scope) -> Option<Stream> {
    let args = w.args;
    let fields = w.fields;
    let io = w.io;
    let name = w.name;
    let a = parse(
        args,
        Spec::wrapper(
            "ugUpCDrthTR",
            &[
                "user",
                "group",
                "other-user",
                "prompt",
                "close-from",
                "chdir",
                "role",
                "type",
                "host",
                "command-timeout",
                "chroot",
            ],
        ),
    );
    let shell = a.has('s', "shell") || a.has('i', "login");
    if a.has('e', "edit") {
        for f in &a.operands {
            super::cmd::check_write(an, scope, f, name);
        }
        return Some(Stream::default());
    }
    if a.operands.is_empty() {
        // Given no command, `pkexec` and `run0` start a root shell.
        if shell || name == "pkexec" || name == "run0" {
            an.hit("privesc.root_shell", scope, fields, None);
        }
        return Some(Stream::default());
    }
    let mut s = scope.clone();
    // `sudo -D DIR CMD`, `env -C DIR CMD`: the command runs in DIR.
    if let Some(d) = a.value('D', "chdir") {
        change_dir(an, std::slice::from_ref(d), &mut s);
    }
    if shell {
        // `sudo -s CMD` runs CMD through the root shell.
        s.wrappers.push(name.to_owned());
        s.privileged = true;
        let line = Field {
            text: a
                .operands
                .iter()
                .map(|f| f.text.clone())
                .collect::<Vec<_>>()
                .join(" "),
            known: a.operands.iter().all(|f| f.known),
            ..Field::default()
        };
        return Some(nested_line(an, "sh -c", &line, io.stdin.clone(), &s));
    }
    // `sudo VAR=value CMD`: assignments before the command, as with env.
    let skip = a
        .operands
        .iter()
        .take_while(|f| f.known && f.text.contains('=') && !f.text.starts_with(['=', '/', '.']))
        .count();
    command_environment(an, &a.operands[..skip], &mut s);
    if skip >= a.operands.len() {
        return Some(Stream::default());
    }
    Some(inner(an, name, &a.operands[skip..], io, &s, true))
}

/// `su`.
fn wrap_su(an: &mut Analyzer<'_>, w: &Wrapped<'_>, scope: &mut Scope) -> Option<Stream> {
    let args = w.args;
    let fields = w.fields;
    let io = w.io;
    if args
        .iter()
        .any(|a| a.is("--help") || a.is("-h") || a.is("--version"))
    {
        return Some(Stream::default());
    }
    an.hit("privesc.su", scope, fields, None);
    let a = parse(
        args,
        Spec::new(
            "csgw",
            &[
                "command",
                "shell",
                "group",
                "supp-group",
                "whitelist-environment",
            ],
        ),
    );
    if let Some(c) = a.value('c', "command") {
        let mut s = scope.clone();
        s.privileged = true;
        return Some(nested_line(an, "su -c", &c.clone(), io.stdin.clone(), &s));
    }
    Some(Stream::default())
}

/// `env`.
fn wrap_env(an: &mut Analyzer<'_>, w: &Wrapped<'_>, scope: &mut Scope) -> Option<Stream> {
    let args = w.args;
    let io = w.io;
    let a = parse(
        args,
        Spec::wrapper(
            "uSCP",
            &[
                "unset",
                "split-string",
                "chdir",
                "default-signal",
                "ignore-signal",
                "block-signal",
            ],
        ),
    );
    let mut cmd: Vec<Field> = Vec::new();
    if let Some(s) = a.value('S', "split-string") {
        cmd.extend(s.text.split_whitespace().map(|w| Field {
            text: w.to_owned(),
            ..s.clone()
        }));
    }
    let assigns = a
        .operands
        .iter()
        .take_while(|f| f.text.contains('=') && !f.text.starts_with('='))
        .count();
    // The variables are the command's environment (`env GIT_DIR=X git ...`).
    let mut scope = scope.clone();
    if let Some(d) = a.value('C', "chdir") {
        change_dir(an, std::slice::from_ref(d), &mut scope);
    }
    command_environment(an, &a.operands[..assigns], &mut scope);
    let scope = &mut scope;
    let ops: Vec<Field> = a.operands[assigns..].to_vec();
    cmd.extend(ops);
    if cmd.is_empty() {
        // `env` alone prints the environment.
        return Some(Stream::tainted(Taint {
            secret: true,
            stored: true,
            ..Taint::default()
        }));
    }
    Some(inner(an, "env", &cmd, io, scope, false))
}

/// `command`.
fn wrap_command(an: &mut Analyzer<'_>, w: &Wrapped<'_>, scope: &mut Scope) -> Option<Stream> {
    let args = w.args;
    let a = parse(args, Spec::wrapper("", &[]));
    if a.has('v', "") || a.has('V', "") {
        return Some(Stream::default());
    }
    rest(an, w, scope, a.rest)
}

/// `taskset`.
fn wrap_taskset(an: &mut Analyzer<'_>, w: &Wrapped<'_>, scope: &mut Scope) -> Option<Stream> {
    let args = w.args;
    let a = parse(args, Spec::wrapper("", &["cpu-list"]));
    if a.has('p', "pid") {
        return Some(Stream::default());
    }
    rest(an, w, scope, a.rest + 1)
}

/// `valgrind`, `perf`.
fn wrap_valgrind(an: &mut Analyzer<'_>, w: &Wrapped<'_>, scope: &mut Scope) -> Option<Stream> {
    let args = w.args;
    let name = w.name;
    let skip = usize::from(
        name == "perf"
            && args
                .first()
                .is_some_and(|a| a.is("record") || a.is("stat") || a.is("trace")),
    );
    rest(
        an,
        w,
        scope,
        skip + parse(&args[skip.min(args.len())..], Spec::wrapper("oe", &[])).rest,
    )
}

/// `busybox`, `toybox`.
fn wrap_busybox(an: &mut Analyzer<'_>, w: &Wrapped<'_>, scope: &mut Scope) -> Option<Stream> {
    rest(an, w, scope, 0)
}

/// `flock`.
fn wrap_flock(an: &mut Analyzer<'_>, w: &Wrapped<'_>, scope: &mut Scope) -> Option<Stream> {
    let args = w.args;
    let io = w.io;
    let a = parse(
        args,
        Spec::wrapper("wEc", &["timeout", "conflict-exit-code", "command"]),
    );
    if let Some(c) = a.value('c', "command") {
        return Some(nested_line(
            an,
            "flock -c",
            &c.clone(),
            io.stdin.clone(),
            scope,
        ));
    }
    if a.operands.len() > 1
        && a.operands[1].text == "-c"
        && let Some(c) = a.operands.get(2)
    {
        return Some(nested_line(an, "flock -c", c, io.stdin.clone(), scope));
    }
    rest(an, w, scope, a.rest + 1)
}

/// `watch`.
fn wrap_watch(an: &mut Analyzer<'_>, w: &Wrapped<'_>, scope: &mut Scope) -> Option<Stream> {
    let args = w.args;
    let io = w.io;
    let a = parse(args, Spec::wrapper("nd", &["interval", "differences"]));
    if a.operands.is_empty() {
        return Some(Stream::default());
    }
    if a.has('x', "exec") {
        return Some(inner(an, "watch", &a.operands, io, scope, false));
    }
    // The command inherits watch's stdin: a shell there reads it.
    Some(nested_line(
        an,
        "watch",
        &join(&a.operands),
        io.stdin.clone(),
        scope,
    ))
}

/// `script`.
fn wrap_script(an: &mut Analyzer<'_>, w: &Wrapped<'_>, scope: &mut Scope) -> Option<Stream> {
    let args = w.args;
    let io = w.io;
    let a = parse(
        args,
        Spec::new(
            "cEIOBTtm",
            &[
                "command",
                "echo",
                "log-in",
                "log-out",
                "log-io",
                "log-timing",
                "timing",
                "logging-format",
            ],
        ),
    );
    if let Some(c) = a.value('c', "command") {
        return Some(nested_line(
            an,
            "script -c",
            &c.clone(),
            io.stdin.clone(),
            scope,
        ));
    }
    // Without `-c`, script starts a shell that reads what is typed, here its stdin.
    read_script(an, "script", w.fields, &io.stdin, scope);
    Some(Stream::default())
}

/// `eval`.
fn wrap_eval(an: &mut Analyzer<'_>, w: &Wrapped<'_>, scope: &mut Scope) -> Option<Stream> {
    let args = w.args;
    let io = w.io;
    let text = join(args);
    if !text.known && !text.taint.hidden_code() && text.taint.shellenv {
        return Some(Stream::default());
    }
    Some(nested_here(an, "eval", &text, io.stdin.clone(), scope))
}

/// `trap`.
fn wrap_trap(an: &mut Analyzer<'_>, w: &Wrapped<'_>, scope: &mut Scope) -> Option<Stream> {
    let args = w.args;
    if let Some(c) = args.first().filter(|a| !a.text.starts_with('-')) {
        // A `DEBUG` or `RETURN` trap runs before later commands, in the current shell.
        if args[1..].iter().any(|s| s.is("DEBUG") || s.is("RETURN")) {
            return Some(nested_here(an, "trap", c, Stream::default(), scope));
        }
        return Some(nested_line(an, "trap", c, Stream::default(), scope));
    }
    Some(Stream::default())
}

/// `source`, `.`.
fn wrap_source(an: &mut Analyzer<'_>, w: &Wrapped<'_>, scope: &mut Scope) -> Option<Stream> {
    let args = w.args;
    let fields = w.fields;
    let stdin = &w.io.stdin;
    match args.first() {
        // `source /dev/stdin`: the script is what the pipe carries.
        Some(f)
            if matches!(
                f.text.as_str(),
                "/dev/stdin" | "/dev/fd/0" | "/proc/self/fd/0"
            ) =>
        {
            read_script(an, "source /dev/stdin", fields, stdin, scope);
        }
        Some(f) => script_operand(an, fields, f, w.io, scope, true),
        None => {}
    }
    Some(Stream::default())
}

/// `ssh`.
fn wrap_ssh(an: &mut Analyzer<'_>, w: &Wrapped<'_>, scope: &mut Scope) -> Option<Stream> {
    let args = w.args;
    let io = w.io;
    let a = parse(args, Spec::wrapper("BbcDEeFIiJLlmOopQRSWw", &[]));
    let mut s = scope.clone();
    s.cwd = None;
    if a.operands.len() > 1 {
        let line = join(&a.operands[1..]);
        return Some(nested_line(an, "ssh", &line, io.stdin.clone(), &s));
    }
    // Without a command, the remote shell reads its commands from stdin
    // (`echo CMD | ssh host`), unless stdin is not read (`-n`, `-N`, `-W`, `-s`).
    let reads = !['n', 'N', 'W', 's'].iter().any(|f| a.has(*f, ""));
    let text = io
        .stdin
        .text
        .as_deref()
        .filter(|_| reads && a.operands.len() == 1)?;
    let label = "ssh (commands on stdin)";
    Some(nested_line(
        an,
        label,
        &Field::lit(text),
        Stream::default(),
        &s,
    ))
}

/// `vim`, `vi`, `nvim`, `view`, `ex`, `vimdiff`.
fn wrap_vim(an: &mut Analyzer<'_>, w: &Wrapped<'_>, scope: &mut Scope) -> Option<Stream> {
    let args = w.args;
    let fields = w.fields;
    let io = w.io;
    editor_commands(an, fields, args, io, scope);
    None
}

/// `xargs`.
fn wrap_xargs(an: &mut Analyzer<'_>, w: &Wrapped<'_>, scope: &mut Scope) -> Option<Stream> {
    let args = w.args;
    let io = w.io;
    Some(super::fanout::xargs(an, args, io, scope))
}

/// `parallel`.
fn wrap_parallel(an: &mut Analyzer<'_>, w: &Wrapped<'_>, scope: &mut Scope) -> Option<Stream> {
    let args = w.args;
    let io = w.io;
    Some(super::fanout::parallel(an, args, io, scope))
}

/// `find`.
fn wrap_find(an: &mut Analyzer<'_>, w: &Wrapped<'_>, scope: &mut Scope) -> Option<Stream> {
    let fields = w.fields;
    Some(super::fanout::find(an, fields, scope))
}

/// Editor commands given on the command line (`vim -c ':!sh'`) that run a shell.
/// The lines of Vim's script files (`-s` typed keys, `-S` and `-u` Vim script) whose text the
/// line shows: a process substitution, stdin, a descriptor or a file it wrote. Each line is
/// a command.
fn vim_script_lines(an: &Analyzer<'_>, args: &[Field], io: &Io, scope: &Scope) -> Vec<Field> {
    args.windows(2)
        .filter(|w| w[0].is("-s") || w[0].is("-S") || w[0].is("-u"))
        .filter_map(|w| match &w[1].body {
            Some(body) if w[1].procsub => Some(body.clone()),
            // A descriptor, stdin, or a file the line wrote.
            _ => opened_input(&w[1], io, scope)
                .or_else(|| an.written_at(&an.paths.abs(&w[1].text, scope)))
                .and_then(|s| s.text),
        })
        .flat_map(|text| text.lines().map(Field::lit).collect::<Vec<_>>())
        .collect()
}

fn editor_commands(
    an: &mut Analyzer<'_>,
    fields: &[Field],
    args: &[Field],
    io: &Io,
    scope: &Scope,
) {
    let scripts = vim_script_lines(an, args, io, scope);
    let mut cmds: Vec<&Field> = scripts.iter().collect();
    let mut files: Vec<&Field> = Vec::new();
    let valued = |p: usize| {
        ["-c", "--cmd", "-s", "-S", "-u"]
            .iter()
            .any(|o| args[p].is(o))
    };
    for (i, a) in args.iter().enumerate() {
        if a.is("-c") || a.is("--cmd") {
            cmds.extend(args.get(i + 1));
        } else if a.text.starts_with('+') {
            cmds.push(a);
        } else if !a.text.starts_with('-') && i.checked_sub(1).is_none_or(|p| !valued(p)) {
            files.push(a);
        }
    }
    // A write command without a file (`+wq`, `-c '%s/a/b/|x'`) writes the files edited.
    if cmds.iter().any(|c| writes_buffer(&c.text)) {
        for f in files {
            super::cmd::check_write(an, scope, f, "vim :w");
        }
    }
    for c in cmds {
        let t = c.text.trim_start_matches(['+', ':', ' ']);
        if let Some(line) = t.strip_prefix('!') {
            let f = Field {
                text: line.to_owned(),
                ..c.clone()
            };
            nested_line(an, "vim :!", &f, io.stdin.clone(), scope);
        } else if let Some(line) = vim_system_call(t) {
            let f = Field {
                text: line,
                ..c.clone()
            };
            nested_line(an, "vim system()", &f, io.stdin.clone(), scope);
        } else if let Some(path) = vim_write_target(t) {
            if path.starts_with('!') {
                // `w !CMD` pipes the buffer, which the gate cannot see, into CMD.
                let why = Some("editor pipes its buffer into a command".into());
                an.hit("gate.dynamic_code", scope, fields, why);
            } else {
                super::cmd::check_write(an, scope, &Field::lit(path), "vim :w");
            }
        } else if let Some(line) = super::generic::equivalents(t).pop() {
            let f = Field {
                text: line,
                ..c.clone()
            };
            nested_line(an, "vim call", &f, io.stdin.clone(), scope);
        } else if t.starts_with("sh")
            || t.starts_with("terminal")
            || t.starts_with("py")
            || t.starts_with("lua")
            || t.contains("system(")
            || t.contains("exe")
        {
            an.hit(
                "gate.dynamic_code",
                scope,
                fields,
                Some("editor runs a shell or script".into()),
            );
        }
    }
}

/// True when a Vim command line writes the buffer back to its own file.
fn writes_buffer(cmd: &str) -> bool {
    cmd.trim_start_matches(['+', ':', ' '])
        .split('|')
        .any(|part| {
            let verb = part.trim().trim_end_matches('!');
            matches!(
                verb,
                "w" | "wq" | "x" | "xit" | "up" | "update" | "write" | "wa" | "wqa" | "xa" | "wall"
            )
        })
}

/// The file of a Vim write command (`w! FILE`, `wq FILE`, `saveas FILE`, `write >> FILE`).
fn vim_write_target(cmd: &str) -> Option<&str> {
    let (verb, rest) = cmd.split_once(' ')?;
    let verb = verb.trim_end_matches('!');
    let writes = matches!(
        verb,
        "w" | "wq" | "x" | "write" | "saveas" | "sav" | "up" | "update"
    );
    let path = rest.trim_start_matches(['>', ' ']).trim();
    (writes && !path.is_empty()).then_some(path)
}

/// The command of a Vim `system("...")` or `systemlist('...')` call with a literal string.
fn vim_system_call(cmd: &str) -> Option<String> {
    let at = cmd.find("system")?;
    let rest = cmd[at..].split_once('(')?.1.trim_start();
    let quote = rest.chars().next().filter(|q| *q == '"' || *q == '\'')?;
    let body = &rest[1..];
    let end = body.find(quote)?;
    Some(body[..end].to_owned())
}

/// A script file run by a shell or `source`: downloaded or decoded code is denied.
/// A shell or `source` reading its script from `input` (stdin or a descriptor): the script
/// when it is known, `ask` when it is piped in unseen; `None` when nothing is piped in.
fn read_script(
    an: &mut Analyzer<'_>,
    label: &str,
    fields: &[Field],
    input: &Stream,
    scope: &Scope,
) -> Option<Stream> {
    if input.taint.hidden_code() {
        an.hit("rce.pipe_shell", scope, fields, None);
        return Some(Stream::default());
    }
    if let Some(text) = &input.text {
        let f = Field::lit(text);
        return Some(nested_line(an, label, &f, Stream::default(), scope));
    }
    if input.piped {
        let why = Some("reads a script the gate cannot see".into());
        an.hit("gate.dynamic_code", scope, fields, why);
        return Some(Stream::default());
    }
    None
}

/// A script file run by its path or a shell, or sourced (`here`: in the current shell, so
/// what it sets carries).
fn script_operand(
    an: &mut Analyzer<'_>,
    fields: &[Field],
    f: &Field,
    io: &Io,
    scope: &mut Scope,
    here: bool,
) {
    if let Some(s) = opened_input(f, io, scope) {
        read_script(an, "script on a descriptor", fields, &s, scope);
        return;
    }
    if f.taint.hidden_code() {
        an.hit("rce.pipe_shell", scope, fields, None);
        return;
    }
    if f.procsub {
        let out = Stream {
            text: f.body.clone(),
            taint: f.taint,
            ..Stream::default()
        };
        unseen_script(an, "source <(...)", fields, out, scope, here);
        return;
    }
    let abs = an.paths.abs(&f.text, scope);
    if an.fetched.contains(&abs) {
        an.hit("rce.staged", scope, fields, None);
    }
    // A script written earlier on the line is judged as what it holds.
    if let Some(s) = an.written_at(&abs) {
        unseen_script(an, "script written on this line", fields, s, scope, here);
    }
}

/// A script the line produced (a file it wrote, a process substitution's output): its text
/// when known; decoded or downloaded code is denied, and any other unknown text is `ask`,
/// unless it is shell code printed by a tool made to be `eval`ed (`source <(pyenv init -)`).
fn unseen_script(
    an: &mut Analyzer<'_>,
    label: &str,
    fields: &[Field],
    s: Stream,
    scope: &mut Scope,
    here: bool,
) {
    if s.taint.hidden_code() {
        an.hit("rce.staged", scope, fields, None);
    } else if let Some(text) = s.text {
        let text = Field::lit(&text);
        if here {
            nested_here(an, label, &text, Stream::default(), scope);
        } else {
            nested_line(an, label, &text, Stream::default(), scope);
        }
    } else if !s.taint.shellenv {
        let why = Some(format!("{label}: a script the gate cannot see"));
        an.hit("gate.dynamic_code", scope, fields, why);
    }
}

fn shell(an: &mut Analyzer<'_>, fields: &[Field], io: &Io, scope: &mut Scope) -> Stream {
    let args = &fields[1..];
    let a = parse(args, Spec::new("oO", &["rcfile", "init-file"]));
    let label = format!("{} -c", fields[0].text.rsplit('/').next().unwrap_or("sh"));
    if a.has('n', "noexec") {
        return Stream::default();
    }
    if a.has('c', "") {
        return match a.operands.first() {
            Some(c) => nested_line(an, &label, c, io.stdin.clone(), scope),
            None => Stream::default(),
        };
    }
    let stdin_path = |o: &Field| {
        matches!(
            o.text.as_str(),
            "-" | "/dev/stdin" | "/dev/fd/0" | "/proc/self/fd/0"
        )
    };
    if let Some(script) = a
        .operands
        .first()
        .filter(|o| !a.has('s', "") && !stdin_path(o))
    {
        script_operand(an, fields, script, io, scope, false);
        return Stream::default();
    }
    // The shell reads its program from stdin.
    let label = format!("| {}", fields[0].text.rsplit('/').next().unwrap_or("sh"));
    if let Some(out) = read_script(an, &label, fields, &io.stdin, scope) {
        return out;
    }
    if scope.privileged {
        an.hit("privesc.root_shell", scope, fields, None);
    }
    // An interactive shell's output: wired to the network, it is a reverse shell.
    Stream {
        from_shell: true,
        ..Stream::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(normalize_program("//bin/../bin/rm").name, "rm");
        assert!(normalize_program("//bin/../bin/rm").trusted);
        assert!(!normalize_program("./rm").trusted);
        assert_eq!(normalize_program("python3.12").name, "python");
        assert_eq!(normalize_program("mkfs.ext4").name, "mkfs");
        assert_eq!(normalize_program("kafka-topics.sh").name, "kafka-topics");
        assert_eq!(normalize_program("base64").name, "base64");
    }
}
