//! The general rules, evaluated over [`super::tables`] for every simple command before its
//! per-tool rules: command-valued options and variables are judged as command lines,
//! write-valued ones as writes; destructive subcommands from the table fire their rule;
//! secrets reaching a network program are denied; and a program the gate does not model
//! that is handed a string (or a trailing argv) that parses as a dangerous command is
//! judged as if it ran it.
//!
//! It does not know any tool by name: every tool-specific fact is a row in the tables.

use super::analyzer::Analyzer;
use super::cmd::{check_write, nested_line};
use super::field::Field;
use super::paths::Class;
use super::paths::{Program, normalize_program};
use super::state::{Io, Scope, Stream, Taint};
use super::tables::{ARGUMENT_FILES, INSTALLS, PACKAGE_SOURCES, REGISTRY_VARS};
use super::tables::{
    ARGV_RUNNERS, AUTH_FILE_OPTS, BOUND_ACTIONS, CODE_EQUIVALENTS, DATA_ONLY, DBUS,
    DESKTOP_COMMAND_KEYS, DESKTOP_SETTERS, DESTRUCTIVE, ENV_VALUES, ENVIRONMENT_VARS, FILE_SERVERS,
    GIT_COMMAND_KEYS, GIT_INCLUDE_KEYS, HOOKS_SETTERS, NETWORK, OFFLINE_OPTS, OPTIONS, Operands,
    PACKERS, POWER_METHODS, PRODUCTION_ONLY, PROJECT_FILES, QUERY_CHANNELS, READ_MODES,
    REMOTE_ONLY, SECRET_SOURCES, SHELL_ESCAPES, STDIN_DATA, STDIN_NETWORK, SUBCOMMAND_WORDS,
    TEXT_OPTIONS, VARIABLE_OPERANDS, Value, WRITTEN_OPERANDS,
};
use super::text::glob_match;
use super::urls::{other_host, remote_url, this_machine};

/// Most string arguments of one command probed as shell lines.
const MAX_PROBES: usize = 8;

/// Applies the table rules to one simple command (`fields[0]` is the program word),
/// wrappers included.
pub(crate) fn judge(an: &mut Analyzer<'_>, p: &Program, fields: &[Field], io: &Io, scope: &Scope) {
    options(an, &p.name, fields, io, scope);
    variable_operands(an, &p.name, &fields[1..], scope);
    desktop_setting(an, &p.name, fields, scope);
    destructive(an, &p.name, fields, scope);
    power_dbus(an, &p.name, fields, scope);
    egress(an, &p.name, fields, io, scope);
    served_dir(an, &p.name, &fields[1..], scope);
    if PACKERS.contains(&p.name.as_str()) {
        packed_secrets(an, fields, scope);
    }
    if p.name == "git" {
        git_ext_remotes(an, &fields[1..], scope);
    }
    written_operands(an, &p.name, &fields[1..], scope);
    project_files(an, &p.name, scope);
    hooks_setter(an, &p.name, &fields[1..], scope);
    global_install(an, &p.name, fields, scope);
}

/// A tool starting in a directory where the line wrote its recipe or script file
/// ([`PROJECT_FILES`]: `printf 'x:\n\tCMD' > Makefile; make`) runs the commands in it: each
/// string that parses as a dangerous command counts.
fn project_files(an: &mut Analyzer<'_>, name: &str, scope: &Scope) {
    let Some((_, files)) = PROJECT_FILES.iter().find(|(t, _)| *t == name) else {
        return;
    };
    let Some(cwd) = scope.cwd.clone() else {
        return;
    };
    for file in *files {
        let text = an.written_at(&format!("{cwd}/{file}")).and_then(|s| s.text);
        if let Some(text) = text {
            probe_strings(
                an,
                &format!("{name} ({file})"),
                &[Field::lit(&text)],
                scope,
                true,
            );
        }
    }
}

/// Files a program writes as its operands ([`WRITTEN_OPERANDS`]): each is a write target.
fn written_operands(an: &mut Analyzer<'_>, name: &str, args: &[Field], scope: &Scope) {
    for (tool, short_val, long_val, which) in WRITTEN_OPERANDS {
        let mut words = tool.split(' ');
        if words.next() != Some(name) {
            continue;
        }
        let a = super::args::parse(args, super::args::Spec::new(short_val, long_val));
        // The subcommand words of `"docker cp"` are the leading operands to the parser.
        let sub: Vec<&str> = words.collect();
        if !sub.iter().zip(&a.operands).all(|(w, f)| f.is(w)) || a.operands.len() < sub.len() {
            continue;
        }
        let ops = &a.operands[sub.len()..];
        let written = match which {
            Operands::All => ops,
            Operands::Nth(i) => ops.get(*i..=*i).unwrap_or_default(),
            Operands::Last if ops.len() >= 2 => &ops[ops.len() - 1..],
            Operands::Last => &[],
        };
        for f in written {
            check_write(an, scope, f, name);
        }
    }
}

/// Probes the arguments of a program that is not a wrapper and whose arguments are not
/// known to be data; `modelled` says whether a rule family knows the program, otherwise
/// its trailing argv is probed too (`tsp rm -rf X`, `pueue add -- CMD`).
pub(crate) fn probe(
    an: &mut Analyzer<'_>,
    p: &Program,
    fields: &[Field],
    io: &Io,
    scope: &Scope,
    modelled: bool,
) {
    let args = &fields[1..];
    let unmodelled = !modelled
        && !DATA_ONLY.contains(&p.name.as_str())
        && !super::tables::KNOWN.contains(&p.name.as_str());
    if !DATA_ONLY.contains(&p.name.as_str()) {
        probe_strings(an, &p.name, args, scope, unmodelled);
        // A console reading its commands from stdin (`sqlite3 db <<< '.shell CMD'`).
        let console = !STDIN_DATA.contains(&p.name.as_str())
            && !super::tables::FILTERS.contains(&p.name.as_str());
        if let Some(text) = io.stdin.text.as_deref().filter(|_| console) {
            let lines: Vec<Field> = text.lines().map(Field::lit).take(MAX_PROBES).collect();
            probe_strings(an, &p.name, &lines, scope, unmodelled);
        }
        // A script handed over as a process substitution or as a file the line wrote
        // (`sqlite3 -init <(echo CMD)`, `vim -s FILE`).
        let texts: Vec<String> = args
            .iter()
            .filter_map(|a| match a.procsub {
                true => a.body.clone(),
                false => a
                    .known
                    .then(|| an.written_at(&an.paths.abs(&a.text, scope))?.text)
                    .flatten(),
            })
            .collect();
        let scripts: Vec<Field> = texts
            .iter()
            .flat_map(|t| t.lines())
            .map(Field::lit)
            .take(MAX_PROBES)
            .collect();
        probe_strings(an, &p.name, &scripts, scope, unmodelled);
    } else if let Some(script) = args.iter().position(script_file) {
        // `python tool.py --hook 'CMD'`: the script is a program the gate does not know.
        probe_strings(an, &p.name, &args[script + 1..], scope, false);
    }
    // A runner's argv is a command for sure; only an unmodelled program's is a guess.
    let runner = ARGV_RUNNERS.iter().any(|r| tool_matches(r, &p.name, args));
    if unmodelled || runner {
        probe_argv(an, &p.name, args, io, scope, unmodelled && !runner);
    }
}

/// True when `args[i]` is the value of an option that takes prose ([`TEXT_OPTIONS`]:
/// `--message 'sudo reboot fixed'` is a message, not a command).
fn text_valued(args: &[Field], i: usize) -> bool {
    let inline = TEXT_OPTIONS.iter().any(|o| {
        args[i]
            .text
            .strip_prefix(o)
            .is_some_and(|r| r.starts_with('=') && o.starts_with("--"))
    });
    let after = i
        .checked_sub(1)
        .is_some_and(|p| TEXT_OPTIONS.contains(&args[p].text.as_str()));
    inline || after
}

/// True when `tool` (`"git"` or `"git rebase"`) names this command.
fn tool_matches(tool: &str, name: &str, args: &[Field]) -> bool {
    let mut words = tool.split(' ');
    if words.next() != Some(name) {
        return false;
    }
    words.all(|w| args.iter().any(|a| a.is(w)))
}

/// The values `opt` takes in `args`: `-e V`, `-eV`, `-ae V`, `-aeV`, `--opt=V`,
/// `--opt V`, `-opt=V`, `KEY=V`.
fn values_of(args: &[Field], opt: &str) -> Vec<Field> {
    let mut out = Vec::new();
    let letter = opt.strip_prefix('-').filter(|l| l.len() == 1);
    for (i, a) in args.iter().enumerate() {
        let t = a.text.as_str();
        let inline = if t == opt {
            args.get(i + 1).cloned()
        } else if let Some(v) = t.strip_prefix(opt).and_then(|r| r.strip_prefix('=')) {
            // `=` joins a long option to its value (`--out=V`, Go's `-out=V`), never a
            // one-letter one (`-o=V` is the value `=V`).
            Some(v)
                .filter(|_| letter.is_none())
                .map(|v| with_text(a, v))
        } else if let Some(v) = letter.and_then(|l| bundled_value(t, l)) {
            match v {
                "" => args.get(i + 1).cloned(),
                v => Some(with_text(a, v)),
            }
        } else if let Some(v) = abbreviated(t, opt) {
            match v {
                None => args.get(i + 1).cloned(),
                Some(v) => Some(with_text(a, v)),
            }
        } else {
            None
        };
        out.extend(inline);
    }
    out
}

/// A long option spelled as an unambiguous prefix, as getopt takes it (`--rs=V` for
/// `--rsh`): `Some(Some(V))` with an attached value, `Some(None)` when it is the next word.
fn abbreviated<'a>(word: &'a str, opt: &str) -> Option<Option<&'a str>> {
    let (name, value) = match word.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (word, None),
    };
    let long = name.strip_prefix("--").filter(|n| n.len() >= 2)?;
    (opt.starts_with("--") && opt[2..].starts_with(long) && name != opt).then_some(value)
}

/// A field with the same provenance as `f` and the text `text`.
fn with_text(f: &Field, text: &str) -> Field {
    Field {
        text: text.to_owned(),
        procsub: false,
        body: None,
        ..f.clone()
    }
}

/// `set KEY VALUE` given as two words: the key's word followed by the next one.
fn key_and_value(v: Field, args: &[Field]) -> Field {
    if v.text.contains(['=', ' ']) {
        return v;
    }
    let next = args
        .iter()
        .position(|a| a.text == v.text)
        .and_then(|i| args.get(i + 1));
    match next {
        Some(n) => with_text(&v, &format!("{} {}", v.text, n.text)),
        None => v,
    }
}

/// The values of `opt` keep the process substitution they came from (`make -f <(...)`).
fn keep_procsub(v: Field, args: &[Field]) -> Field {
    args.iter()
        .find(|a| a.procsub && a.text == v.text)
        .cloned()
        .unwrap_or(v)
}

/// A script or configuration file named as stdin (`-`, `/dev/stdin`), as a descriptor the
/// line opened (`/dev/fd/3`) or as a file the line wrote is what that input holds, as a
/// process substitution's is; unknown input piped in is `ask`.
fn read_input(an: &mut Analyzer<'_>, scope: &Scope, v: Field, io: &Io) -> Field {
    let input = match v.text.as_str() {
        "-" => Some(io.stdin.clone()),
        _ => crate::cmd::opened_input(&v, io, scope)
            .or_else(|| an.written_at(&an.paths.abs(&v.text, scope))),
    };
    let Some(s) = input.filter(|s| s.piped || s.text.is_some()) else {
        return v;
    };
    if s.text.is_none() && !s.taint.hidden_code() {
        let why = Some("reads a file the gate cannot see".into());
        an.hit("gate.dynamic_code", scope, std::slice::from_ref(&v), why);
    }
    Field {
        procsub: true,
        body: s.text,
        taint: v.taint.merge(s.taint),
        ..v
    }
}

/// Command- and write-valued options of the tools in [`OPTIONS`].
fn options(an: &mut Analyzer<'_>, name: &str, fields: &[Field], io: &Io, scope: &Scope) {
    let args = &fields[1..];
    let reads = READ_MODES.iter().any(|(tool, flags)| {
        *tool == name
            && args
                .iter()
                .any(|a| flags.iter().any(|f| a.is(f) || bundled(&a.text, f)))
    });
    for row in OPTIONS.iter().filter(|r| tool_matches(r.tool, name, args)) {
        for (opt, kind) in row.opts {
            if reads && *kind == Value::Write {
                continue;
            }
            if *kind == Value::Argv {
                if let Some(pos) = args.iter().position(|a| a.is(opt)) {
                    run_argv(an, &format!("{name} {opt}"), &args[pos + 1..], scope);
                }
                continue;
            }
            if *kind == Value::OptionsFile {
                options_file(an, fields, opt, io, scope);
                continue;
            }
            if *kind == Value::Program {
                let after = args
                    .iter()
                    .position(|a| a.is("--"))
                    .map_or(&[][..], |p| &args[p + 1..]);
                for v in values_of(args, opt) {
                    let argv: Vec<Field> =
                        std::iter::once(v).chain(after.iter().cloned()).collect();
                    run_argv(an, &format!("{name} {opt}"), &argv, scope);
                }
                continue;
            }
            for v in values_of(args, opt) {
                let v = keep_procsub(v, args);
                let v = match kind {
                    Value::Script | Value::ConfigFile(_) | Value::GitConfigFile => {
                        read_input(an, scope, v, io)
                    }
                    _ => v,
                };
                let v = match kind {
                    Value::KeyCommand(_) => key_and_value(v, args),
                    _ => v,
                };
                value(an, scope, &format!("{name} {opt}"), *kind, &v);
            }
        }
    }
}

/// Judges one option or variable value of the given kind.
pub(crate) fn value(an: &mut Analyzer<'_>, scope: &Scope, label: &str, kind: Value, v: &Field) {
    match kind {
        Value::Command => command(an, scope, label, v),
        Value::KeyCommand(keys) => key_command(an, scope, label, keys, v),
        Value::ConfigFile(keys) => {
            for line in v
                .body
                .as_deref()
                .filter(|_| v.procsub)
                .unwrap_or("")
                .lines()
            {
                key_command(an, scope, label, keys, &with_text(v, line.trim()));
            }
        }
        Value::GitConfig | Value::GitConfigOnce | Value::GitConfigFile | Value::GitConfigEnv => {
            git_value(an, scope, kind, v)
        }
        Value::Script => match &v.body {
            Some(body) if v.procsub => command(an, scope, label, &with_text(v, body)),
            _ => command(an, scope, label, v),
        },
        Value::HooksDir => git_config(an, scope, "core.hookspath", v),
        Value::Write => check_write(an, scope, v, label),
        Value::Output => output(an, scope, label, v),
        Value::Library => library(an, scope, label, v),
        Value::Argv | Value::Program => run_argv(an, label, std::slice::from_ref(v), scope),
        Value::Flags(program) => {
            // As if given on the interpreter's command line, with an empty program.
            let words: Vec<String> = v
                .text
                .split_whitespace()
                .map(crate::decision::quote)
                .collect();
            let line = format!("{program} {} -e ''", words.join(" "));
            nested_line(an, label, &with_text(v, &line), Stream::default(), scope);
        }
        Value::ToolOptions(tool) => tool_options(an, scope, label, tool, v),
        Value::Prompt => {
            let text = v.known.then(|| v.text.clone());
            let value = crate::state::Value {
                text,
                taint: v.taint,
            };
            an.prompt_expand(&value, scope);
        }
        // Read with the tool's other arguments, in `options_file`.
        Value::OptionsFile => {}
        Value::ShellFlags => {
            // Shell options (`-e`, `-o pipefail`) end at the first word that is neither.
            let words: Vec<&str> = v.text.split_whitespace().collect();
            let mut i = 0;
            while i < words.len() && words[i].starts_with(['-', '+']) {
                i += if words[i].ends_with('o') { 2 } else { 1 };
            }
            let rest = words.get(i..).unwrap_or_default().join(" ");
            command(an, scope, label, &with_text(v, &rest));
        }
    }
}

/// A git configuration value: `key=value` pairs, a configuration file's text, or
/// `--config-env KEY=VAR`; each key is judged like `git -c KEY=VALUE`.
fn git_value(an: &mut Analyzer<'_>, scope: &Scope, kind: Value, v: &Field) {
    match kind {
        Value::GitConfig | Value::GitConfigOnce => {
            // For one command, a file an include names is read where git runs it (`rules`).
            for (key, val) in git_pairs(&v.text) {
                if kind == Value::GitConfig || !is_include(&key) {
                    git_config(an, scope, &key, &with_text(v, &val));
                }
            }
        }
        Value::GitConfigFile => {
            let text = v.body.as_deref().filter(|_| v.procsub).unwrap_or("");
            for (key, val) in git_file(text) {
                git_config(an, scope, &key, &with_text(v, &val));
            }
        }
        Value::GitConfigEnv => {
            // `--config-env KEY=VAR`: the value is what the variable holds.
            let (key, var) = split_key(&v.text);
            git_config(
                an,
                scope,
                &key,
                &with_text(v, &format!("${{{}}}", var.trim())),
            );
        }
        _ => {}
    }
}

/// Options a tool reads from a variable (`TAR_OPTIONS`), as words and as one word.
fn tool_options(an: &mut Analyzer<'_>, scope: &Scope, label: &str, tool: &str, v: &Field) {
    let quoted = crate::decision::quote(&v.text);
    for line in [format!("{tool} {}", v.text), format!("{tool} {quoted}")] {
        nested_line(an, label, &with_text(v, &line), Stream::default(), scope);
    }
}

/// A results file, or after a leading `|` a command that reads the tool's results, which
/// the gate does not know (`psql -o '|sh'`).
fn output(an: &mut Analyzer<'_>, scope: &Scope, label: &str, v: &Field) {
    let Some(cmd) = v.text.strip_prefix('|') else {
        return check_write(an, scope, v, label);
    };
    let results = Stream {
        piped: true,
        ..Stream::default()
    };
    nested_line(an, label, &with_text(v, cmd), results, scope);
}

/// `curl -K <(...)`, `curl -K -` with a known stdin: the tool is judged again with the
/// file's lines as its own options (`output = FILE` is `--output FILE`).
fn options_file(an: &mut Analyzer<'_>, fields: &[Field], opt: &str, io: &Io, scope: &Scope) {
    let args = &fields[1..];
    for v in values_of(args, opt) {
        let v = keep_procsub(v, args);
        let text = match (&v.body, v.procsub) {
            (Some(body), true) => body.clone(),
            _ if v.is("-") => io.stdin.text.clone().unwrap_or_default(),
            // A file written earlier on the line holds what was written.
            _ => match an
                .written_at(&an.paths.abs(&v.text, scope))
                .and_then(|s| s.text)
            {
                Some(text) => text,
                None => continue,
            },
        };
        let mut argv = vec![fields[0].clone()];
        argv.extend(
            text.lines()
                .flat_map(config_line)
                .map(|w| with_text(&v, &w)),
        );
        // The option is dropped with its value: the file is judged once.
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            i += if a.text == opt { 2 } else { 1 };
            if !a.text.starts_with(opt) {
                argv.push(a.clone());
            }
        }
        let label = format!("{} {opt}", fields[0].text);
        run_argv(an, &label, &argv, scope);
    }
}

/// One line of an options file as command-line words: `key = value`, `key: value`,
/// `--key value` and `-k value` are `--key value` (or `-k value`); `#` starts a comment.
fn config_line(line: &str) -> Vec<String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Vec::new();
    }
    let bare = line.trim_start_matches('-');
    let cut = bare.find(['=', ':', ' ', '\t']).unwrap_or(bare.len());
    let key = &bare[..cut];
    let value = bare[cut..].trim_start_matches(['=', ':', ' ', '\t']).trim();
    let dashes = if key.chars().count() == 1 { "-" } else { "--" };
    let mut out = vec![format!("{dashes}{key}")];
    if !value.is_empty() {
        out.push(value.trim_matches('"').to_owned());
    }
    out
}

/// `gsettings set ... command 'CMD'`: a desktop setting whose value is a command
/// ([`DESKTOP_COMMAND_KEYS`]) is persistence, and its value is judged as the line it runs.
fn desktop_setting(an: &mut Analyzer<'_>, name: &str, fields: &[Field], scope: &Scope) {
    let Some((_, verb, key_at, value_at)) = DESKTOP_SETTERS.iter().find(|r| r.0 == name) else {
        return;
    };
    let ops: Vec<&Field> = fields[1..]
        .iter()
        .filter(|a| !a.text.starts_with('-'))
        .collect();
    let Some(at) = ops.iter().position(|a| a.is(verb)) else {
        return;
    };
    let (Some(key), Some(v)) = (ops.get(at + 1 + key_at), ops.get(at + 1 + value_at)) else {
        return;
    };
    let last = key
        .text
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("");
    let last = last.to_ascii_lowercase();
    if !key.known || DESKTOP_COMMAND_KEYS.iter().any(|k| glob_match(k, &last)) {
        an.hit(
            "persist.desktop",
            scope,
            fields,
            Some(format!("{name} {}", key.text)),
        );
        // GVariant strings keep their own quotes (`"'CMD'"`).
        let cmd = v.text.trim().trim_matches(['"', '\'']);
        command(an, scope, &format!("{name} {last}"), &with_text(v, cmd));
    }
}

/// `make CC='...'`: variables given as operands of the tools in [`VARIABLE_OPERANDS`] are
/// judged like the environment assignments of the same names.
fn variable_operands(an: &mut Analyzer<'_>, name: &str, args: &[Field], scope: &Scope) {
    if !VARIABLE_OPERANDS.contains(&name) {
        return;
    }
    for a in args.iter().filter(|a| !a.text.starts_with('-')) {
        let Some((var, val)) = a.text.split_once('=') else {
            continue;
        };
        let var = var.trim_end_matches([':', '+', '?', '!']);
        if !var.is_empty() && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            assignment(an, scope, var, &with_text(a, val));
        }
    }
}

/// A workspace directory made git's hooks directory: files the line wrote there before
/// are hooks, and so are the ones it writes there later ([`check_write`]).
pub(crate) fn hooks_dir(an: &mut Analyzer<'_>, scope: &Scope, v: &Field) {
    let dir = an.paths.abs(&v.text, scope);
    let dir = dir.trim_end_matches('/');
    let hooks = an
        .written
        .iter()
        .any(|(p, _)| p.strip_prefix(dir).is_some_and(|r| r.starts_with('/')));
    if hooks {
        let shown = format!("git config core.hooksPath {}", v.text);
        an.hit_plain("persist.git", scope, &shown, Some(dir.to_owned()));
    }
    an.hooks_dirs.push(dir.to_owned());
}

/// A tool that sets git's hooks directory itself ([`HOOKS_SETTERS`]: `husky install`)
/// makes that directory one, as `git config core.hooksPath DIR` does.
fn hooks_setter(an: &mut Analyzer<'_>, name: &str, args: &[Field], scope: &Scope) {
    let operands: Vec<&Field> = args.iter().filter(|a| !a.text.starts_with('-')).collect();
    let row = HOOKS_SETTERS.iter().find_map(|(tool, default)| {
        let mut words = tool.split(' ');
        let sub: Vec<&str> = words
            .next()
            .filter(|t| *t == name)
            .map(|_| words.collect())?;
        let prefix = operands.len() >= sub.len() && sub.iter().zip(&operands).all(|(w, a)| a.is(w));
        prefix.then(|| (operands.get(sub.len()).copied(), *default))
    });
    match row {
        Some((Some(dir), _)) => hooks_dir(an, scope, dir),
        Some((None, default)) => hooks_dir(an, scope, &Field::lit(default)),
        None => {}
    }
}

/// Judges `v` as a command line (a leading `!` is dropped, as git does).
pub(crate) fn command(an: &mut Analyzer<'_>, scope: &Scope, label: &str, v: &Field) {
    let text = v.text.trim_start();
    let text = text.strip_prefix('!').unwrap_or(text);
    nested_line(an, label, &with_text(v, text), Stream::default(), scope);
}

/// The pairs of a `GIT_CONFIG_PARAMETERS` value (or a `-c` word): git quotes each pair as
/// `'key'='value'` or `'key=value'` and separates them with blanks; an unquoted text is one
/// pair.
pub(crate) fn git_pairs(text: &str) -> Vec<(String, String)> {
    let mut rest = text.trim_start();
    if !rest.starts_with('\'') {
        return vec![git_pair(text)];
    }
    let mut out = Vec::new();
    while rest.starts_with('\'') {
        // A word ends at the first quote that is not followed by `='`.
        let mut end = 1;
        while let Some(q) = rest[end..].find('\'') {
            end += q + 1;
            if !rest[end..].starts_with("='") {
                break;
            }
            end += 2;
        }
        out.push(git_pair(&rest[..end]));
        rest = rest[end..].trim_start();
    }
    out
}

fn git_pair(text: &str) -> (String, String) {
    let Some(rest) = text.strip_prefix('\'') else {
        let (key, value) = text.split_once('=').unwrap_or((text, ""));
        return (key.to_ascii_lowercase(), value.to_owned());
    };
    let (key, value) = rest.split_once('\'').unwrap_or((rest, ""));
    // git's older form quotes the pair as one word: `'key=value'`.
    if value.is_empty()
        && let Some((key, value)) = key.split_once('=')
    {
        return (key.to_ascii_lowercase(), value.to_owned());
    }
    let value = value.strip_prefix('=').unwrap_or(value);
    let value = value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .unwrap_or(value);
    (key.to_ascii_lowercase(), value.to_owned())
}

/// True when the configuration key (lower case) includes another file.
pub(crate) fn is_include(key: &str) -> bool {
    key == "include.path" || key.starts_with("includeif.") && key.ends_with(".path")
}

/// Splits `KEY=VALUE` or `KEY VALUE`; the key is lowercased.
/// The `section.sub.key`, value pairs of a git configuration file (`[diff "x"]` then
/// `textconv = CMD` is `diff.x.textconv`; a key without a value is `true`).
pub(crate) fn git_file(text: &str) -> Vec<(String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(head) = line.strip_prefix('[') {
            let head = head.split(']').next().unwrap_or("");
            let (name, sub) = head.split_once(char::is_whitespace).unwrap_or((head, ""));
            let sub = sub.trim().trim_matches('"');
            section = match sub {
                "" => name.to_owned(),
                sub => format!("{name}.{sub}"),
            };
        } else if !line.is_empty() && !line.starts_with(['#', ';']) {
            let (key, val) = line.split_once('=').unwrap_or((line, "true"));
            let val = val.trim().trim_matches('"');
            out.push((format!("{section}.{}", key.trim()), val.to_owned()));
        }
    }
    out
}

fn split_key(text: &str) -> (String, String) {
    let cut = text.find(['=', ' ', '\t']).unwrap_or(text.len());
    let key = text[..cut].to_ascii_lowercase();
    let val = text.get(cut + 1..).unwrap_or("").to_owned();
    (key, val)
}

fn key_command(an: &mut Analyzer<'_>, scope: &Scope, label: &str, keys: &[&str], v: &Field) {
    let (key, val) = split_key(&v.text);
    // TOML and INI values may be quoted (`runner="cmd"`).
    let val = val.trim().trim_matches(['"', '\'']);
    if keys.iter().any(|k| glob_match(k, &key)) {
        let label = format!("{label} {key}");
        command(an, scope, &label, &with_text(v, val));
        // A cmake list (`rm;-rf;DIR`) is the words of one command.
        if val.contains(';') {
            command(an, scope, &label, &with_text(v, &val.replace(';', " ")));
        }
    }
}

/// One git configuration pair, from `git -c`, `git config` or the environment: a command
/// value is judged as the line git would run; an alias without `!` as the git command it
/// expands to; an include or hooks path outside the workspace is persistence.
pub(crate) fn git_config(an: &mut Analyzer<'_>, scope: &Scope, key: &str, v: &Field) {
    // `remote.NAME.url` and `pushurl` point NAME somewhere new, as `git remote set-url` does,
    // from `git config` or for one command (`git -c remote.origin.url=URL push`).
    let lower = key.to_ascii_lowercase();
    if let Some(name) = lower.strip_prefix("remote.").and_then(|r| {
        r.strip_suffix(".url")
            .or_else(|| r.strip_suffix(".pushurl"))
    }) {
        let name = key["remote.".len().."remote.".len() + name.len()].to_owned();
        an.remotes.push((name, v.text.clone()));
    }
    if let Some(url) = insteadof_url(key) {
        // `url.<ext::CMD>.insteadOf=X`: fetching X runs the replacement.
        git_ext_remotes(an, &[with_text(v, url)], scope);
    }
    let key = key.to_ascii_lowercase();
    if GIT_INCLUDE_KEYS.iter().any(|k| glob_match(k, &key)) {
        let inside = matches!(
            an.paths.classify(&v.text, v.glob, scope),
            Class::Workspace | Class::WorkspaceRoot | Class::Build
        );
        if !inside || key != "core.hookspath" {
            an.hit_plain("persist.git", scope, &format!("git config {key}"), None);
        } else {
            hooks_dir(an, scope, v);
        }
        return;
    }
    if !GIT_COMMAND_KEYS.iter().any(|k| glob_match(k, &key)) {
        return;
    }
    let label = format!("git config {key}");
    if let Some(name) = key.strip_prefix("alias.") {
        an.git_aliases.push((name.to_owned(), v.text.clone()));
    }
    if key.starts_with("alias.") && !v.text.trim_start().starts_with('!') {
        let line = format!("git {}", v.text);
        nested_line(an, &label, &with_text(v, &line), Stream::default(), scope);
    } else {
        command(an, scope, &label, v);
    }
}

/// A library injected into every process: only system library directories are ordinary.
fn library(an: &mut Analyzer<'_>, scope: &Scope, label: &str, v: &Field) {
    let system = [
        "/lib/",
        "/lib64/",
        "/usr/lib/",
        "/usr/lib64/",
        "/usr/local/lib/",
    ];
    for lib in v.text.split([':', ' ']).filter(|l| !l.is_empty()) {
        let abs = an.paths.abs(lib, scope);
        if !v.known || !system.iter().any(|s| abs.starts_with(s)) {
            an.hit_plain("rce.preload", scope, &format!("{label}={}", v.text), None);
            return;
        }
    }
}

/// An environment assignment (`VAR=value cmd`, `export VAR=value`, `env VAR=value`).
pub(crate) fn assignment(an: &mut Analyzer<'_>, scope: &Scope, name: &str, v: &Field) {
    if name.starts_with("GIT_CONFIG_VALUE_") {
        command(an, scope, name, v);
        return;
    }
    if let Some((_, kind)) = ENV_VALUES.iter().find(|(n, _)| glob_match(n, name)) {
        // A script the line wrote is judged as what it holds (`BASH_ENV=FILE`).
        let v = match kind {
            Value::Script | Value::GitConfigFile => {
                read_input(an, scope, v.clone(), &Io::default())
            }
            _ => v.clone(),
        };
        value(an, scope, name, *kind, &v);
    }
}

/// Judges `argv` as the command a tool runs.
fn run_argv(an: &mut Analyzer<'_>, label: &str, argv: &[Field], scope: &Scope) {
    let argv = match argv {
        [dashes, rest @ ..] if dashes.is("--") => rest,
        _ => argv,
    };
    if argv.is_empty() {
        return;
    }
    // One word with blanks is a command line (`git submodule foreach 'rm -rf x'`).
    if let [line] = argv
        && line.text.contains(char::is_whitespace)
    {
        command(an, scope, label, line);
        return;
    }
    let mut s = scope.clone();
    s.wrappers.push(label.to_owned());
    s.depth += 1;
    an.dispatch(argv.to_vec(), &Io::default(), &mut s);
}

/// The subcommands of [`DESTRUCTIVE`], of [`PRODUCTION_ONLY`] when the line points the
/// application at production, and of [`REMOTE_ONLY`] unless it addresses this machine.
fn destructive(an: &mut Analyzer<'_>, name: &str, fields: &[Field], scope: &Scope) {
    rows(an, DESTRUCTIVE, name, fields, scope);
    if production(&fields[1..], scope) {
        rows(an, PRODUCTION_ONLY, name, fields, scope);
    }
    let args = &fields[1..];
    // Every host named must be this machine; an unknown word may name any.
    let elsewhere = |a: &Field| {
        other_host(&a.text)
            || !a.known && !a.text.contains(char::is_whitespace) && !this_machine(&a.text)
    };
    let local = args.iter().any(|a| this_machine(&a.text)) && !args.iter().any(elsewhere);
    if !local {
        rows(an, REMOTE_ONLY, name, fields, scope);
    }
}

/// True when an environment variable, a settings option or a safety override on the line
/// names production (`RAILS_ENV=production`, `--settings=app.settings.prod`).
fn production(args: &[Field], scope: &Scope) -> bool {
    let prod = |v: &str| v.to_ascii_lowercase().contains("prod");
    let from_vars = ENVIRONMENT_VARS.iter().any(|n| {
        scope
            .vars
            .get(*n)
            .and_then(|v| v.text.as_deref())
            .is_some_and(prod)
    });
    let from_args = args.iter().any(|a| {
        a.text.starts_with("DISABLE_DATABASE_ENVIRONMENT_CHECK=")
            || a.text.split_once('=').is_some_and(|(k, v)| {
                (k == "--settings" || k == "--env" || ENVIRONMENT_VARS.contains(&k)) && prod(v)
            })
    });
    from_vars || from_args
}

/// An install into the user's or the system's tools ([`INSTALLS`]: `npm i -g`, `pip install
/// --user`, `cargo install`) from a registry other than the tool's default: what it installs
/// runs on later commands, outside the view. From the default registry it is everyday work.
fn global_install(an: &mut Analyzer<'_>, name: &str, fields: &[Field], scope: &Scope) {
    let args = &fields[1..];
    let has = |w: &str| args.iter().any(|a| a.is(w));
    let Some(row) = INSTALLS
        .iter()
        .find(|r| r.tool == name && r.subs.iter().any(|s| s.split(' ').all(has)))
    else {
        return;
    };
    let places: Vec<Field> = row.places.iter().flat_map(|o| values_of(args, o)).collect();
    // A destination of its own decides; else its global flags, or root, do.
    let outside = |p: &Field| {
        let class = an.paths.classify(&p.text, p.glob, scope);
        !matches!(
            class,
            Class::Workspace | Class::WorkspaceRoot | Class::Build
        )
    };
    let global = if places.is_empty() {
        scope.privileged || row.global.is_empty() || row.global.iter().any(|g| has(g))
    } else {
        places.iter().any(outside)
    };
    if let Some(from) = install_sources(an, row.sources, name, args, scope)
        .iter()
        .find(|v| !default_registry(v))
        .filter(|_| global)
    {
        let why = format!(
            "installs outside the workspace from {}",
            super::field::display(std::slice::from_ref(from))
        );
        an.hit("persist.global_install", scope, fields, Some(why));
    }
}

/// Where an install takes packages from: its source options and URL operands, also in an
/// argument file the line wrote ([`ARGUMENT_FILES`]: an unseen one may name any), and the
/// variables that steer the tool ([`REGISTRY_VARS`]).
fn install_sources(
    an: &Analyzer<'_>,
    opts: &[&str],
    name: &str,
    args: &[Field],
    scope: &Scope,
) -> Vec<Field> {
    let mut words = args.to_vec();
    let mut sources = Vec::new();
    let files = ARGUMENT_FILES.iter().filter(|(t, _)| *t == name);
    for file in files.flat_map(|(_, o)| o.iter().flat_map(|o| values_of(args, o))) {
        match an
            .written_at(&an.paths.abs(&file.text, scope))
            .map(|s| s.text)
        {
            Some(Some(text)) => words.extend(text.split_whitespace().map(Field::lit)),
            Some(None) => sources.push(Field::unknown(Taint::default())),
            None => {}
        }
    }
    sources.extend(opts.iter().flat_map(|o| source_values(&words, o)));
    sources.extend(words.iter().filter(|a| a.text.contains("://")).cloned());
    for (var, _) in REGISTRY_VARS.iter().filter(|(_, t)| *t == name) {
        if let Some(value) = scope.vars.get(*var) {
            let text = value.text.as_deref();
            sources.push(text.map_or_else(|| Field::unknown(value.taint), Field::lit));
        }
    }
    sources
}

/// The values of a source option; a glob (`--@*:registry`) matches `--NAME=VALUE` names.
fn source_values(args: &[Field], opt: &str) -> Vec<Field> {
    if !opt.contains('*') {
        return values_of(args, opt);
    }
    args.iter()
        .filter_map(|a| {
            let (name, value) = a.text.split_once('=')?;
            glob_match(opt, name).then(|| with_text(a, value))
        })
        .collect()
}

/// True when every entry of a source value is a default registry or a public forge
/// ([`PACKAGE_SOURCES`]), a path, or a registry named in the tool's own configuration
/// (`GOPROXY=https://proxy.golang.org,direct`).
fn default_registry(v: &Field) -> bool {
    v.known
        && v.text
            .split([',', '|', ' '])
            .filter(|e| !e.is_empty())
            .all(|e| {
                let host = crate::urls::host(e);
                PACKAGE_SOURCES.contains(&host) || !other_host(e)
            })
}

fn rows(
    an: &mut Analyzer<'_>,
    table: &[super::tables::Destructive],
    name: &str,
    fields: &[Field],
    scope: &Scope,
) {
    let args = &fields[1..];
    let words: Vec<&str> = args
        .iter()
        .filter(|a| !a.text.starts_with('-'))
        .map(|a| a.text.as_str())
        .collect();
    for row in table.iter().filter(|r| r.tool == name) {
        let mut rest = words.iter();
        let in_order = row
            .words
            .iter()
            .all(|w| rest.any(|x| x.eq_ignore_ascii_case(w)));
        let flagged = row.flags.is_empty() || row.flags.iter().any(|f| has_flag(args, f));
        let dry = args.iter().any(|a| {
            a.text.starts_with("--dry-run") || a.is("-n") && !matches!(name, "gsutil" | "ssh")
        });
        if in_order && flagged && !dry {
            an.hit(row.rule, scope, fields, None);
        }
    }
}

/// True when `flag` is present. A plain flag (`--delete`) matches itself or `--delete=...`;
/// a flag with a value (`-X=DELETE`, `--method=DELETE`) matches `-X DELETE`, `-XDELETE`,
/// `--method=delete` and the like, the value in any case.
fn has_flag(args: &[Field], flag: &str) -> bool {
    let Some((name, value)) = flag.split_once('=') else {
        return args.iter().any(|a| {
            a.text == flag || a.text.starts_with(&format!("{flag}=")) || bundled(&a.text, flag)
        });
    };
    let letter = name.strip_prefix('-').filter(|l| l.len() == 1);
    args.iter().enumerate().any(|(i, a)| {
        let t = a.text.as_str();
        let inline = match letter {
            Some(l) => bundled_value(t, l),
            None => t.strip_prefix(name).and_then(|r| r.strip_prefix('=')),
        }
        .map(|r| r.strip_prefix('=').unwrap_or(r));
        let separate =
            (t == name || inline == Some("")).then(|| args.get(i + 1).map(|n| n.text.as_str()));
        let inline = inline.filter(|r| !r.is_empty());
        // A `KEY=VALUE` value matches its key too (`-o RemoteForward=9000:h:22`).
        let keyed = |v: &str| {
            v.get(..value.len())
                .is_some_and(|k| k.eq_ignore_ascii_case(value))
                && v[value.len()..].starts_with(['=', ' '])
        };
        inline
            .or(separate.flatten())
            .is_some_and(|v| v.eq_ignore_ascii_case(value) || keyed(v))
    })
}

/// What follows a one-letter flag among bundled short options: `DELETE` of `-sXDELETE`,
/// empty for `-sX` (the value is the next word).
fn bundled_value<'a>(word: &'a str, letter: &str) -> Option<&'a str> {
    let rest = word.strip_prefix('-').filter(|r| !r.starts_with('-'))?;
    let flags = rest
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    let at = rest[..flags].find(letter)?;
    Some(&rest[at + 1..])
}

/// True when a one-letter flag (`-R`) is among bundled short options (`-NfR`, `-R9000:h:22`):
/// the letters before the first character that is not one.
fn bundled(word: &str, flag: &str) -> bool {
    let (Some(letter), Some(rest)) = (flag.strip_prefix('-'), word.strip_prefix('-')) else {
        return false;
    };
    let letters: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
    letter.len() == 1 && !rest.starts_with('-') && letters.contains(letter)
}

/// D-Bus calls that power off, reboot or end sessions.
fn power_dbus(an: &mut Analyzer<'_>, name: &str, fields: &[Field], scope: &Scope) {
    if !DBUS.contains(&name) {
        return;
    }
    let power = fields[1..].iter().any(|a| {
        let last = a.text.rsplit(['.', '/', ' ']).next().unwrap_or("");
        POWER_METHODS.iter().any(|m| m.eq_ignore_ascii_case(last))
    });
    if power {
        an.hit(
            "power.off",
            scope,
            fields,
            Some("a D-Bus power or session call".into()),
        );
    }
}

/// Secrets reaching a network program: piped in, redirected in, expanded into an argument
/// (stored secrets go nowhere, even to well-known hosts), or named as a file it sends.
fn egress(an: &mut Analyzer<'_>, name: &str, fields: &[Field], io: &Io, scope: &Scope) {
    let args = &fields[1..];
    // A program not listed that is given a remote URL reaches the network all the same.
    let remote = !DATA_ONLY.contains(&name)
        && !super::tables::FILTERS.contains(&name)
        && args.iter().any(|a| remote_url(&a.text));
    if STDIN_NETWORK
        .iter()
        .any(|row| tool_matches(row, name, args))
        && !offline(args)
    {
        if io.stdin.taint.stored {
            let detail = Some("secret data on the stdin of a container or pod".into());
            an.hit("exfil.upload_secret", scope, fields, detail);
        }
        return;
    }
    if !remote && !NETWORK.iter().any(|row| tool_matches(row, name, args)) {
        return;
    }
    let login = args
        .iter()
        .any(|a| a.is("login") || a.is("--with-token") || a.is("--password-stdin"));
    if io.stdin.taint.stored || io.stdin.taint.secret && !login {
        an.hit(
            "exfil.upload_secret",
            scope,
            fields,
            Some("secret data on stdin".into()),
        );
    }
    // Console commands on stdin (`sftp host <<< 'put FILE'`) name the files they send.
    if let Some(text) = io.stdin.text.as_deref()
        && let Some(path) = embedded_secret(an, scope, &Field::lit(text))
    {
        an.hit(
            "exfil.upload_secret",
            scope,
            fields,
            Some(format!("sends {path}")),
        );
    }
    let query = QUERY_CHANNELS.contains(&name);
    if let Some(f) = args
        .iter()
        .find(|a| a.taint.stored || query && a.taint.secret)
    {
        let shown = super::field::display(std::slice::from_ref(f));
        an.hit("exfil.secret_arg", scope, fields, Some(shown));
    }
    sent_files(an, name, fields, scope);
    if let Some(var) = sent_variable(args) {
        an.hit(
            "exfil.secret_arg",
            scope,
            fields,
            Some(format!("sends ${var}")),
        );
    }
}

/// ssh's `-o SendEnv=NAMES`: a credential variable, or a pattern that may match one (`*`,
/// `AWS_*`), handed to the remote side.
fn sent_variable(args: &[Field]) -> Option<String> {
    let values = args.iter().enumerate().filter_map(|(i, a)| {
        let t = a.text.strip_prefix("-o").unwrap_or(&a.text);
        let t = match t.is_empty() {
            true => args.get(i + 1)?.text.as_str(),
            false => t,
        };
        let (key, value) = t.split_once(['=', ' '])?;
        key.eq_ignore_ascii_case("sendenv").then_some(value)
    });
    values
        .flat_map(|v| v.split([' ', ',']))
        .find(|n| {
            let fixed = n.replace(['*', '?'], "");
            fixed.is_empty() && !n.is_empty() || super::field::secret_name(&fixed)
        })
        .map(str::to_owned)
}

/// Secret files named in a network program's arguments (`-T ~/.ssh/id_rsa`, `@.env`),
/// credential options (`AUTH_FILE_OPTS`) aside.
fn sent_files(an: &mut Analyzer<'_>, name: &str, fields: &[Field], scope: &Scope) {
    let args = &fields[1..];
    let auth: Vec<&str> = AUTH_FILE_OPTS
        .iter()
        .filter(|(tool, _)| *tool == name || *tool == "*")
        .flat_map(|(_, opts)| opts.iter().copied())
        .collect();
    let mut skip_next = false;
    for a in args {
        if std::mem::take(&mut skip_next) {
            continue;
        }
        if auth.contains(&a.text.as_str()) {
            skip_next = true;
            continue;
        }
        if auth
            .iter()
            .any(|o| o.starts_with("--") && a.text.starts_with(&format!("{o}=")))
        {
            continue;
        }
        // A remote command names the remote's files, not ours.
        let remote_command = name == "ssh" && a.text.contains(char::is_whitespace);
        if let Some(path) = embedded_secret(an, scope, a).filter(|_| !remote_command) {
            an.hit(
                "exfil.upload_secret",
                scope,
                fields,
                Some(format!("sends {path}")),
            );
        }
    }
}

/// True when a container is started without network (`--network none`, `--net=none`).
fn offline(args: &[Field]) -> bool {
    OFFLINE_OPTS
        .iter()
        .any(|o| values_of(args, o).iter().any(|v| v.is("none")))
}

/// A file server ([`FILE_SERVERS`]) started on the root, a system directory, the home, a
/// directory holding credentials or one that contains the workspace hands them to anyone.
fn served_dir(an: &mut Analyzer<'_>, name: &str, args: &[Field], scope: &Scope) {
    let Some((tool, opts, positional)) = FILE_SERVERS
        .iter()
        .find(|(tool, _, _)| tool_matches(tool, name, args))
    else {
        return;
    };
    // The subcommand words among the operands (`http.server`, not `-m`).
    let words = tool
        .split(' ')
        .skip(1)
        .filter(|w| !w.starts_with('-'))
        .count();
    let given = opts
        .iter()
        .find_map(|o| values_of(args, o).pop())
        .or_else(|| {
            let mut operands = args.iter().filter(|a| !a.text.starts_with('-'));
            positional.then(|| operands.nth(words).cloned()).flatten()
        });
    let dir = given.unwrap_or_else(|| Field::lit("."));
    let class = an.paths.classify(&dir.text, dir.glob, scope);
    if matches!(
        class,
        Class::Root | Class::System | Class::Home | Class::HomeSensitive | Class::Ancestor
    ) {
        let shown = super::field::display(std::slice::from_ref(&dir));
        an.hit_plain("exfil.serve_files", scope, &format!("{tool} {shown}"), None);
    }
}

/// An archive or copy made from secrets holds them: its other path operands are recorded as
/// secret files written on this line.
fn packed_secrets(an: &mut Analyzer<'_>, fields: &[Field], scope: &Scope) {
    let args = &fields[1..];
    let secret = |an: &Analyzer<'_>, a: &Field| {
        a.known
            && (embedded_secret(an, scope, a).is_some()
                || matches!(
                    an.paths.classify(&a.text, a.glob, scope),
                    Class::Home | Class::HomeSensitive
                ))
    };
    if !args.iter().any(|a| secret(an, a)) {
        return;
    }
    let outputs: Vec<String> = args
        .iter()
        .filter(|a| a.known && !a.text.starts_with('-') && !secret(an, a))
        .map(|a| an.paths.abs(a.text.trim_start_matches("of="), scope))
        .collect();
    // A copy of a credential store is staged to leave later (`cp -r ~/.ssh .`, then a push);
    // a symbolic link carries no content.
    let store = args
        .iter()
        .find(|a| a.known && an.paths.credentials(&an.paths.abs(&a.text, scope)));
    if let Some(store) = store.filter(|_| !outputs.is_empty() && fields[0].text != "ln") {
        let detail = Some(format!("copies {}", store.text));
        an.hit("exfil.stage_secrets", scope, fields, detail);
    }
    for out in outputs {
        let s = Stream::tainted(Taint {
            secret: true,
            stored: true,
            ..Default::default()
        });
        an.written.push((out, s));
    }
}

/// What separates file names inside an argument or a console's command text.
const BETWEEN_PATHS: &[char] = &[
    ':', '=', '@', ',', '<', '>', ' ', '\t', '\n', ';', '|', '&', '\'', '"', '(', ')',
];

/// A secret file named inside an argument (`FILE:~/.ssh/id_rsa`, `@.env`, `x=@key.pem`).
fn embedded_secret(an: &Analyzer<'_>, scope: &Scope, a: &Field) -> Option<String> {
    // A process substitution's file is what its command prints (`sftp -b <(echo 'put K')`).
    let text = match &a.body {
        Some(body) if a.procsub => body.as_str(),
        _ => a.text.as_str(),
    };
    if !a.known || text.contains("://") {
        return None;
    }
    text.split(BETWEEN_PATHS)
        .filter(|p| !p.is_empty())
        .find(|p| {
            let abs = an.paths.abs(p, scope);
            an.secret_file(&abs)
        })
        .map(str::to_owned)
}

/// `ext::` remotes run their command to talk to the repository.
/// The words are split at spaces; `% ` is a space inside a word and `%%` a percent sign.
/// The replacement URL of a `url.<URL>.insteadOf` or `pushInsteadOf` key.
pub(crate) fn insteadof_url(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("url.")?;
    let lower = rest.to_ascii_lowercase();
    [".insteadof", ".pushinsteadof"]
        .iter()
        .find(|s| lower.ends_with(*s))
        .map(|s| &rest[..rest.len() - s.len()])
}

pub(crate) fn git_ext_remotes(an: &mut Analyzer<'_>, args: &[Field], scope: &Scope) {
    for a in args {
        if let Some(cmd) = a.text.strip_prefix("ext::") {
            let words = cmd
                .replace("%%", "\u{4}")
                .replace("% ", "\u{5}")
                .split(' ')
                .filter(|w| !w.is_empty())
                .map(|w| crate::decision::quote(&w.replace('\u{5}', " ").replace('\u{4}', "%")))
                .collect::<Vec<_>>()
                .join(" ");
            command(an, scope, "git ext::", &with_text(a, &words));
        }
    }
}

/// True when the command is a [`SECRET_SOURCES`] row: its output is a secret.
pub(crate) fn secret_source(name: &str, args: &[Field]) -> bool {
    SECRET_SOURCES.iter().any(|row| {
        let mut words = row.split(' ');
        words.next() == Some(name) && words.all(|w| args.iter().any(|a| a.is(w)))
    })
}

/// True when the command prints ids of processes or containers that are ordinary to stop:
/// a pid file in the workspace or scratch space, the holders of a port, this project's
/// containers, or background jobs.
pub(crate) fn pid_source(name: &str, args: &[Field], class: impl Fn(&Field) -> Class) -> bool {
    let has = |w: &str| {
        args.iter()
            .any(|a| a.is(w) || a.text.starts_with(w) && w.len() > 2)
    };
    match name {
        "cat" => args.iter().all(|a| {
            a.known
                && a.text.contains("pid")
                && matches!(class(a), Class::Workspace | Class::Build | Class::Tmp)
        }),
        "lsof" => args.iter().any(|a| {
            a.text.starts_with("-t")
                || a.text.starts_with("-") && a.text.contains('t') && !a.text.starts_with("--")
        }),
        "docker" | "podman" => {
            (has("ps") || has("images") || has("image") && has("ls"))
                && args
                    .iter()
                    .any(|a| a.text.starts_with('-') && a.text.contains('q'))
        }
        "jobs" => has("-p"),
        _ => false,
    }
}

/// A script file an interpreter runs (`tool.py`, `bin/cli.js`).
fn script_file(a: &Field) -> bool {
    let exts = [
        ".py", ".js", ".mjs", ".cjs", ".ts", ".rb", ".pl", ".php", ".lua", ".sh",
    ];
    a.known && !a.text.starts_with('-') && exts.iter().any(|e| a.text.ends_with(e))
}

/// Interpreter code that names a credential file (`open('~/.aws/credentials').read()`):
/// what it prints is a secret.
pub(crate) fn code_reads_secret(
    an: &Analyzer<'_>,
    name: &str,
    args: &[Field],
    scope: &Scope,
) -> bool {
    let interpreters = [
        "python", "node", "ruby", "perl", "php", "lua", "deno", "bun",
    ];
    interpreters.contains(&name)
        && args.iter().filter(|a| a.known).any(|a| {
            a.text
                .split(['\'', '"', '`', '(', ')', ',', ' ', '=', ';'])
                .filter(|p| p.contains('/') || p.starts_with('.'))
                .any(|p| an.secret_file(&an.paths.abs(p, scope)))
        })
}

/// Hits found by a probe that show real danger (not the gate's own fail-closed answers,
/// which a string that merely looks like code would raise).
fn keep_danger(an: &mut Analyzer<'_>, start: usize) {
    let mut i = start;
    while i < an.hits.len() {
        let h = &an.hits[i];
        let own =
            h.rule.starts_with("gate.") && h.rule != "gate.bound" || h.rule == "interp.unparsed";
        if own || h.decision == crate::decision::Decision::Allow {
            an.hits.remove(i);
        } else {
            i += 1;
        }
    }
}

/// The shell lines a string argument may hold: itself, the value after `=`, and the text
/// after a console's shell escape (`!cmd`, `.shell cmd`).
fn candidates(text: &str) -> Vec<String> {
    let mut out = vec![text.to_owned()];
    if let Some((k, v)) = text.split_once('=')
        && !k.contains(char::is_whitespace)
    {
        out.push(v.to_owned());
    }
    // Keystrokes typed into a terminal or console (`tmux send-keys`, `screen -X stuff`) end
    // each command with a written newline; a pager's `+CMD` runs CMD at start (`less +!CMD`).
    for t in out.clone() {
        let typed = t.replace("\\r", "\\n").replace("^M", "\\n");
        let keys: Vec<&str> = typed
            .split("\\n")
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .collect();
        if keys.len() > 1 || keys.first().is_some_and(|k| *k != t) {
            out.extend(keys.iter().map(|k| k.to_string()));
        }
    }
    for t in out.clone() {
        if let Some(rest) = t.strip_prefix('+') {
            out.push(rest.to_owned());
        }
    }
    for t in out.clone() {
        let trimmed = t.trim_start();
        for esc in SHELL_ESCAPES {
            if let Some(rest) = trimmed.strip_prefix(esc) {
                // `(shell-command "CMD")`, `system('CMD')`: the call's closing is not shell.
                let rest = if esc.ends_with(['(', '"', '\'']) {
                    rest.trim_end()
                        .trim_end_matches([')', ';'])
                        .trim_end_matches(['"', '\''])
                } else {
                    rest
                };
                out.push(rest.to_owned());
            }
        }
    }
    for t in out.clone() {
        out.extend(bound_actions(&t));
        out.extend(equivalents(&t));
    }
    out.retain(|c| c.contains(char::is_whitespace));
    out
}

/// A package runner's package as the program it installs (`npm:rimraf`, `rimraf@5`).
fn package_name(text: &str) -> &str {
    let t = ["npm:", "jsr:", "pypi:"]
        .iter()
        .find_map(|p| text.strip_prefix(p))
        .unwrap_or(text);
    match t[1.min(t.len())..].find('@') {
        Some(i) => &t[..i + 1.min(t.len())],
        None => t,
    }
}

/// The quoted strings inside `text` (in `'`, `"` or backticks), each and all joined as
/// one command's words, when there are several.
fn quoted_literals(text: &str) -> Vec<String> {
    let mut lits = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if matches!(c, '"' | '\'' | '`') {
            let lit: String = chars.by_ref().take_while(|&n| n != c).collect();
            lits.push(lit);
        }
    }
    let mut out: Vec<String> = lits
        .iter()
        .filter(|l| l.contains(char::is_whitespace))
        .take(MAX_PROBES)
        .cloned()
        .collect();
    if lits.len() > 1 {
        out.push(lits.join(" "));
    }
    out
}

/// Shell commands equivalent to editor calls in `text` ([`CODE_EQUIVALENTS`]).
pub(crate) fn equivalents(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (call, shell) in CODE_EQUIVALENTS {
        for (i, _) in text.match_indices(call).take(MAX_PROBES) {
            let rest = &text[i + call.len()..];
            let quote = call.chars().last().filter(|q| *q == '"' || *q == '\'');
            // Without a quote, the call's argument is the next word (`.load ./ext.so`).
            let arg = match quote {
                Some(q) => rest.split(q).next().unwrap_or(""),
                None => rest.split_whitespace().next().unwrap_or(""),
            };
            out.push(format!("{shell}{}", crate::decision::quote(arg)));
        }
    }
    out
}

/// The commands of key-binding actions in `text` (`enter:execute(CMD)+abort`).
fn bound_actions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for action in BOUND_ACTIONS {
        for (i, _) in text.match_indices(action).take(MAX_PROBES) {
            let body = &text[i + action.len()..];
            let body = &body[..super::text::closing(body, '(', ')').unwrap_or(body.len())];
            let m4 = body.strip_prefix('`').and_then(|b| b.strip_suffix('\''));
            out.push(m4.unwrap_or(body).to_owned());
        }
    }
    out
}

/// A program the gate does not model, given a string that parses as a dangerous command,
/// is judged as running it.
/// For a program no rule family models, the string literals inside an argument are probed
/// too, one by one and joined (`groovy -e '"rm -rf ~".execute()'`,
/// `elixir -e 'System.cmd("rm", ["-rf", "~"])'`): code of a language the gate does not
/// read still names the command it runs.
fn probe_strings(an: &mut Analyzer<'_>, name: &str, args: &[Field], scope: &Scope, literals: bool) {
    let strings = args
        .iter()
        .enumerate()
        .filter(|(i, a)| a.known && a.text.contains(char::is_whitespace) && !text_valued(args, *i))
        .map(|(_, a)| a)
        .take(MAX_PROBES);
    for a in strings {
        let mut lines = candidates(&a.text);
        if literals {
            lines.extend(quoted_literals(&a.text));
        }
        for line in lines {
            let start = an.hits.len();
            let mut s = scope.clone();
            s.wrappers.push(format!("argument of {name}"));
            s.depth += 1;
            an.run_line(&line, &mut s, Stream::default());
            keep_danger(an, start);
        }
    }
}

/// A program that runs the rest of its arguments ([`ARGV_RUNNERS`]) runs them from the
/// first known program name on (`entr rm -rf X`, `npx rimraf X`, `screen -dm bash -c ...`).
/// For a program the gate does not model, a word that is also a common subcommand
/// ([`SUBCOMMAND_WORDS`]: `tool init`, `tool install X`) starts no command.
fn probe_argv(
    an: &mut Analyzer<'_>,
    name: &str,
    args: &[Field],
    io: &Io,
    scope: &Scope,
    unmodelled: bool,
) {
    let known = |a: &Field| {
        let n = normalize_program(package_name(&a.text)).name;
        a.known
            && !a.text.starts_with('-')
            && !(unmodelled && SUBCOMMAND_WORDS.contains(&n.as_str()))
            && (super::tables::KNOWN.contains(&n.as_str())
                || super::tables::ALIASES.iter().any(|(x, _)| *x == n)
                || DESTRUCTIVE.iter().any(|r| r.tool == n)
                || FILE_SERVERS
                    .iter()
                    .any(|(t, _, _)| t.split(' ').next() == Some(&n))
                // A runner's package (`npx husky`), not a guessed start: setting a hooks
                // directory is a lasting effect, kept even when nothing is denied.
                || !unmodelled
                    && HOOKS_SETTERS
                        .iter()
                        .any(|(t, _)| t.split(' ').next() == Some(&n)))
    };
    let Some(pos) = args.iter().position(known) else {
        return;
    };
    let start = an.hits.len();
    let mut s = scope.clone();
    s.wrappers.push(format!("arguments of {name}"));
    s.depth += 1;
    let mut argv = args[pos..].to_vec();
    argv[0].text = package_name(&argv[0].text).to_owned();
    an.dispatch(argv, io, &mut s);
    keep_danger(an, start);
    if unmodelled {
        // A guessed command start is evidence only when what it would run is denied.
        let found = an.hits.split_off(start);
        an.hits.extend(
            found
                .into_iter()
                .filter(|h| h.decision == crate::decision::Decision::Deny),
        );
    }
}
