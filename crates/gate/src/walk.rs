//! Walks a bash syntax tree and judges every simple command in it.
//!
//! Owns the parse of a line and the walk of its tree: lists, pipelines, compound commands,
//! redirections and assignments, carrying the [`Scope`] (variables assigned earlier on the
//! line, the effective working directory, the wrappers around the current command).
//! It is the [`Judge`] the [`Analyzer`] recurses through.
//! Pipelines carry a [`Stream`]: what the previous command writes, when the gate can tell
//! (static text, or data tainted as downloaded, decoded or secret).
//!
//! It does not decide anything itself: simple commands go to [`super::unwrap::dispatch`].

use std::panic::{AssertUnwindSafe, catch_unwind};

use brush_parser::ast::{
    Command, CommandPrefixOrSuffixItem, CompoundCommand, CompoundList, IoFileRedirectKind,
    IoFileRedirectTarget, IoRedirect, Pipeline, SeparatorOperator, SimpleCommand,
};

use super::analyzer::{Analyzer, Judge};
use super::decision::{Context, Decision};
use super::field::Field;
use super::policy::Policy;
use super::state::{Hit, Io, MAX_LINE, Scope, Stream, Taint, Value};

/// Deepest bracket nesting handed to the parser.
const MAX_NESTING: usize = 48;
/// Longest literal `for` list expanded value by value.
const MAX_LOOP_VALUES: usize = 32;

/// The walk as the [`Judge`] nested lines and commands recurse through.
struct Walk;

impl Judge for Walk {
    fn line(&self, an: &mut Analyzer<'_>, text: &str, scope: &mut Scope, stdin: Stream) -> Stream {
        an.walk_line(text, scope, stdin)
    }

    fn command(
        &self,
        an: &mut Analyzer<'_>,
        fields: Vec<Field>,
        io: &Io,
        scope: &mut Scope,
    ) -> Stream {
        super::unwrap::dispatch(an, fields, io, scope)
    }
}

/// Judges `line` and returns every hit, in the order found.
pub(crate) fn analyze(policy: &Policy, line: &str, ctx: &Context) -> Vec<Hit> {
    let mut an = Analyzer::new(policy, ctx, &Walk);
    let mut scope = Scope {
        cwd: Some(an.paths.cwd.clone()),
        ..Scope::default()
    };
    if line.len() > MAX_LINE {
        an.hit_plain("gate.bound", &scope, "", Some("line too long".into()));
        return an.hits;
    }
    // A bug in the parser or in a rule must not take the caller down: it becomes a deny.
    let result = catch_unwind(AssertUnwindSafe(|| {
        an.run_line(line, &mut scope, Stream::default());
        // Functions never called are judged by their bodies as defined.
        for (_, found) in std::mem::take(&mut an.deferred) {
            an.hits.extend(found);
        }
        an.hits
    }));
    match result {
        Ok(hits) => hits,
        Err(_) => vec![Hit {
            rule: "gate.bound".into(),
            decision: Decision::Deny,
            command: String::new(),
            wrappers: Vec::new(),
            detail: Some("internal error while judging".into()),
        }],
    }
}

/// True for a builtin that prints nothing ([`SILENT`](super::tables::SILENT)), or one that
/// sets something and so prints nothing ([`SILENT_WHEN_SETTING`](super::tables::SILENT_WHEN_SETTING)).
fn prints_nothing(fields: &[Field]) -> bool {
    let name = fields[0].text.as_str();
    if super::tables::SILENT.contains(&name) {
        return true;
    }
    let (options, operands): (Vec<&Field>, Vec<&Field>) = fields[1..]
        .iter()
        .partition(|a| a.text.starts_with(['-', '+']));
    let prints = options.iter().any(|o| o.text.contains(['p', 'f', 'F']));
    let sets = match name {
        // `set -e` sets an option; `set -o` alone lists them.
        "set" => !fields[1..].iter().all(|a| a.is("-o") || a.is("+o")),
        // `alias NAME` prints the alias.
        "alias" => !operands.is_empty() && operands.iter().all(|o| o.text.contains('=')),
        _ => !operands.is_empty(),
    };
    super::tables::SILENT_WHEN_SETTING.contains(&name) && sets && !prints
}

/// A pipe whose text the gate does not follow (what a coprocess or `>(CMD)` reads).
fn unseen_pipe() -> Stream {
    Stream {
        piped: true,
        ..Stream::default()
    }
}

/// An input opened on descriptor `fd`: stdin, or a numbered descriptor read later on the line
/// (`exec 3<<< TEXT` ... `<&3`, `/dev/fd/3`).
fn input(fd: Option<i32>, s: Stream, scope: &mut Scope, io: &mut Io) {
    match fd.filter(|n| *n > 2) {
        Some(n) => {
            scope.fds.insert(n.to_string(), s);
        }
        None => io.stdin = s,
    }
}

/// The deepest nesting of brackets and backquotes in `text`, counted without regard to
/// quoting (an over-estimate, which is the safe side of a bound).
fn nesting(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for c in text.chars() {
        match c {
            '(' | '{' | '[' => {
                depth += 1;
                max = max.max(depth);
            }
            ')' | '}' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// The deepest nesting of compound commands in a token stream (`if`..`fi`, loops, `case`,
/// groups), and the longest run of `!`. Here-document bodies and quoted strings are single
/// tokens, so a file written by a here-document does not count.
fn keyword_depth(tokens: &[brush_parser::Token]) -> usize {
    use brush_parser::Token;
    let (mut depth, mut max, mut bangs) = (0usize, 0usize, 0usize);
    for t in tokens {
        let (open, close) = match t {
            Token::Word(w, _) => {
                bangs = if w == "!" { bangs + 1 } else { 0 };
                max = max.max(bangs);
                (
                    matches!(
                        w.as_str(),
                        "if" | "while" | "until" | "for" | "case" | "select" | "{" | "coproc"
                    ),
                    matches!(w.as_str(), "fi" | "done" | "esac" | "}"),
                )
            }
            Token::Operator(o, _) => (o == "(", o == ")"),
        };
        if open {
            depth += 1;
            max = max.max(depth);
        }
        if close {
            depth = depth.saturating_sub(1);
        }
    }
    max
}

impl Analyzer<'_> {
    /// Parses `text` as a shell program and walks it; returns what it writes to stdout.
    fn walk_line(&mut self, text: &str, scope: &mut Scope, stdin: Stream) -> Stream {
        if !self.budget(scope) {
            return Stream::default();
        }
        if text.len() > MAX_LINE {
            self.hit_plain("gate.bound", scope, "", Some("nested text too long".into()));
            return Stream::default();
        }
        // The parser recurses once per nesting level: refuse deep nesting before it does.
        let too_deep = nesting(text) > MAX_NESTING
            || brush_parser::tokenize_str(text).is_ok_and(|t| keyword_depth(&t) > MAX_NESTING);
        if too_deep {
            self.hit_plain("gate.bound", scope, "", Some("nesting too deep".into()));
            return Stream::default();
        }
        let options = brush_parser::ParserOptions::default();
        let mut parser = brush_parser::Parser::new(text.as_bytes(), &options);
        let program = match parser.parse_program() {
            Ok(p) => p,
            Err(e) => {
                self.hit_plain("gate.parse_error", scope, text, Some(e.to_string()));
                return Stream::default();
            }
        };
        let mut out = Stream::silent();
        let mut stdin = Some(stdin);
        for list in &program.complete_commands {
            out = out.then(self.walk_list(list, scope, stdin.take().unwrap_or_default()));
        }
        out
    }

    /// Walks a list; what it writes is what each of its commands writes, in order.
    fn walk_list(&mut self, list: &CompoundList, scope: &mut Scope, stdin: Stream) -> Stream {
        let mut out = Stream::silent();
        let mut stdin = Some(stdin);
        for item in &list.0 {
            let background = matches!(item.1, SeparatorOperator::Async);
            if background && scope.in_loop {
                self.hit_plain("fork_bomb.loop", scope, &item.0.to_string(), None);
            }
            let saved = scope.concurrent;
            scope.concurrent |= background;
            let input = stdin.take().unwrap_or_default();
            for (_, pipeline) in item.0.iter() {
                out = out.then(self.walk_pipeline(pipeline, scope, input.clone()));
            }
            scope.concurrent = saved;
        }
        out
    }

    fn walk_pipeline(&mut self, p: &Pipeline, scope: &mut Scope, stdin: Stream) -> Stream {
        let saved = scope.concurrent;
        scope.concurrent |= p.seq.len() > 1;
        let mut input = stdin;
        for (i, cmd) in p.seq.iter().enumerate() {
            if i > 0 {
                input.piped = true;
            }
            input = self.walk_command(cmd, scope, input);
        }
        scope.concurrent = saved;
        input
    }

    fn walk_command(&mut self, cmd: &Command, scope: &mut Scope, stdin: Stream) -> Stream {
        if !self.budget(scope) {
            return Stream::default();
        }
        match cmd {
            Command::Simple(sc) => self.simple(sc, scope, stdin),
            Command::Compound(c, redirects) => {
                let mut io = Io {
                    stdin,
                    ..Io::default()
                };
                for r in redirects.iter().flat_map(|l| l.0.iter()) {
                    self.redirect(r, scope, &mut io);
                }
                let out = self.compound(c, scope, io.stdin.clone());
                self.stdout_to(out, &io, scope)
            }
            Command::Function(f) => {
                let name = super::field::literal(&f.fname.value);
                self.functions.push(name.clone());
                self.bodies.insert(name.clone(), f.body.to_string());
                let mut inner = scope.clone();
                inner.function = Some(name.clone());
                let start = self.hits.len();
                self.compound(&f.body.0, &mut inner, Stream::default());
                let found = self.hits.split_off(start);
                self.deferred.push((name, found));
                Stream::silent()
            }
            Command::ExtendedTest(e, _) => {
                self.expand_embedded(&e.to_string(), scope);
                Stream::default()
            }
        }
    }

    fn compound(&mut self, c: &CompoundCommand, scope: &mut Scope, stdin: Stream) -> Stream {
        match c {
            CompoundCommand::BraceGroup(b) => self.walk_list(&b.list, scope, stdin),
            CompoundCommand::Subshell(s) => {
                let mut inner = scope.clone();
                self.walk_list(&s.list, &mut inner, stdin)
            }
            CompoundCommand::ForClause(f) => {
                let mut values = Vec::new();
                for w in f.values.iter().flatten() {
                    values.extend(self.eval_word(w, scope));
                }
                // A glob list is bounded by the files that exist: walk it once as a pattern.
                let finite = values.len() <= MAX_LOOP_VALUES && values.iter().all(|v| v.known);
                if finite {
                    let mut out = Stream::silent();
                    for v in values {
                        scope.vars.insert(
                            f.variable_name.clone(),
                            Value {
                                text: Some(v.text),
                                taint: v.taint,
                            },
                        );
                        out = out.then(self.walk_list(&f.body.list, scope, stdin.clone()));
                    }
                    out
                } else {
                    // Each value is unknown, but where they came from is not.
                    let taint = values
                        .iter()
                        .fold(Taint::default(), |t, v| t.merge(v.taint));
                    let value = Value { text: None, taint };
                    scope.vars.insert(f.variable_name.clone(), value);
                    self.in_loop(&f.body.list, scope, stdin)
                }
            }
            CompoundCommand::ArithmeticForClause(f) => self.arithmetic_for(f, scope, stdin),
            // A condition's output goes where the body's does; of branches that may run,
            // the output is taken as all of them, one after the other. A loop's condition
            // reads the loop's input (`... | while read f`).
            CompoundCommand::WhileClause(w) | CompoundCommand::UntilClause(w) => {
                let cond = self.walk_list(&w.0, scope, stdin.clone());
                cond.then(self.in_loop(&w.1.list, scope, stdin))
            }
            CompoundCommand::CaseClause(c) => {
                self.eval_word(&c.value, scope);
                let mut out = Stream::silent();
                for item in &c.cases {
                    if let Some(list) = &item.cmd {
                        out = out.then(self.walk_list(list, scope, stdin.clone()));
                    }
                }
                out
            }
            CompoundCommand::IfClause(i) => {
                let mut out = self.walk_list(&i.condition, scope, Stream::default());
                out = out.then(self.walk_list(&i.then, scope, stdin.clone()));
                for e in i.elses.iter().flatten() {
                    if let Some(c) = &e.condition {
                        out = out.then(self.walk_list(c, scope, Stream::default()));
                    }
                    out = out.then(self.walk_list(&e.body, scope, stdin.clone()));
                }
                out
            }
            // A coprocess reads what the line later writes to `${COPROC[1]}`: a pipe whose
            // text the gate does not follow.
            CompoundCommand::Coprocess(c) => {
                self.walk_command(&c.body, scope, stdin.then(unseen_pipe()))
            }
            CompoundCommand::Arithmetic(a) => {
                self.expand_embedded(&a.expr.value, scope);
                Stream::default()
            }
        }
    }

    /// `for ((INIT; COND; STEP))`: the three expressions are arithmetic, then the body loops.
    fn arithmetic_for(
        &mut self,
        f: &brush_parser::ast::ArithmeticForClauseCommand,
        scope: &mut Scope,
        stdin: Stream,
    ) -> Stream {
        let exprs = [&f.initializer, &f.condition, &f.updater];
        for e in exprs.into_iter().flatten() {
            self.expand_embedded(&e.value, scope);
        }
        self.in_loop(&f.body.list, scope, stdin)
    }

    fn in_loop(&mut self, list: &CompoundList, scope: &mut Scope, stdin: Stream) -> Stream {
        let saved = scope.in_loop;
        scope.in_loop = true;
        let out = self.walk_list(list, scope, stdin);
        scope.in_loop = saved;
        out
    }

    fn simple(&mut self, sc: &SimpleCommand, scope: &mut Scope, stdin: Stream) -> Stream {
        let mut io = Io {
            stdin,
            ..Io::default()
        };
        let mut fields: Vec<Field> = Vec::new();
        for item in sc.prefix.iter().flat_map(|p| p.0.iter()) {
            self.item(item, true, scope, &mut io, &mut fields);
        }
        if let Some(w) = &sc.word_or_name {
            fields.extend(self.eval_word(w, scope));
        }
        for item in sc.suffix.iter().flat_map(|s| s.0.iter()) {
            self.item(item, false, scope, &mut io, &mut fields);
        }
        if fields.is_empty() {
            // `$(<file)` prints the file; an assignment prints nothing.
            let prefix = sc.prefix.iter().flat_map(|p| p.0.iter());
            let suffix = sc.suffix.iter().flat_map(|s| s.0.iter());
            let redirected = prefix
                .chain(suffix)
                .any(|i| matches!(i, CommandPrefixOrSuffixItem::IoRedirect(_)));
            return if redirected {
                io.stdin
            } else {
                Stream::silent()
            };
        }
        let silent = prints_nothing(&fields);
        let mut out = self.dispatch(fields, &io, scope);
        let nothing = out.text.is_none() && out.taint == Taint::default() && !out.endless;
        if nothing && silent {
            out = Stream::silent();
        }
        self.stdout_to(out, &io, scope)
    }

    /// Where a command's standard output goes: into the files it is redirected to (read back
    /// later on the line), into process substitutions that read it (`> >(sh)`), or down the
    /// pipeline (what this returns: nothing when it went elsewhere).
    fn stdout_to(&mut self, out: Stream, io: &Io, scope: &Scope) -> Stream {
        self.check_endless(scope, &out, io);
        for f in &io.stdout_files {
            let before = io
                .appended
                .contains(f)
                .then(|| self.written_at(f))
                .flatten();
            let held = before.map_or_else(|| out.clone(), |b| b.then(out.clone()));
            self.written.push((f.clone(), held));
        }
        for reader in &io.readers {
            let mut inner = scope.clone();
            inner.depth += 1;
            let mut input = out.clone();
            input.piped = true;
            self.run_line(reader, &mut inner, input);
        }
        if io.stdout_away {
            Stream::silent()
        } else {
            out
        }
    }

    fn item(
        &mut self,
        item: &CommandPrefixOrSuffixItem,
        in_prefix: bool,
        scope: &mut Scope,
        io: &mut Io,
        fields: &mut Vec<Field>,
    ) {
        match item {
            CommandPrefixOrSuffixItem::IoRedirect(r) => self.redirect(r, scope, io),
            CommandPrefixOrSuffixItem::Word(w) => fields.extend(self.eval_word(w, scope)),
            CommandPrefixOrSuffixItem::AssignmentWord(a, w) => {
                if in_prefix {
                    self.assign(a, scope);
                } else {
                    fields.extend(self.eval_word(w, scope));
                }
            }
            CommandPrefixOrSuffixItem::ProcessSubstitution(kind, sub) => {
                let mut inner = scope.clone();
                inner.depth += 1;
                // `>(CMD)` as an argument: CMD reads what the command writes into that file.
                let stdin = match kind {
                    brush_parser::ast::ProcessSubstitutionKind::Write => unseen_pipe(),
                    brush_parser::ast::ProcessSubstitutionKind::Read => Stream::default(),
                };
                let out = self.walk_list(&sub.list, &mut inner, stdin);
                fields.push(Field::procsub(out));
            }
        }
    }

    /// A redirection to or from a process substitution: `> >(CMD)` reads the command's
    /// stdout, `3> >(CMD)` a descriptor the gate does not follow, `< <(CMD)` is an input.
    fn redirect_procsub(
        &mut self,
        fd: Option<i32>,
        kind: &IoFileRedirectKind,
        sub: &brush_parser::ast::SubshellCommand,
        scope: &mut Scope,
        io: &mut Io,
    ) {
        let reads = matches!(kind, IoFileRedirectKind::Read);
        if !reads && matches!(fd, None | Some(1)) {
            // `> >(CMD)`: CMD reads what the command writes, judged once it is known.
            io.readers.push(sub.list.to_string());
            io.stdout_away = true;
            return;
        }
        let mut inner = scope.clone();
        inner.depth += 1;
        // `3> >(CMD)`: CMD reads a descriptor the gate does not follow.
        let stdin = if reads {
            Stream::default()
        } else {
            unseen_pipe()
        };
        let s = self.walk_list(&sub.list, &mut inner, stdin);
        if reads {
            input(fd, s, scope, io);
        }
    }

    /// Endless data written into a regular file fills the disk.
    fn check_endless(&mut self, scope: &Scope, out: &Stream, io: &Io) {
        if out.endless
            && io.stdout_files.iter().any(|f| {
                !f.starts_with("/dev/") && !f.starts_with("/proc/") || f.starts_with("/dev/shm/")
            })
        {
            let files = io.stdout_files.join(" ");
            self.hit_plain("resource.fill_disk", scope, &files, None);
        }
    }

    fn assign(&mut self, a: &brush_parser::ast::Assignment, scope: &mut Scope) {
        use brush_parser::ast::{AssignmentName, AssignmentValue};
        let (name, index) = match &a.name {
            AssignmentName::VariableName(n) => (n.clone(), None),
            AssignmentName::ArrayElementName(n, i) => (n.clone(), Some(i.clone())),
        };
        let value = match &a.value {
            AssignmentValue::Scalar(w) => {
                let f = self.eval_single(w, scope);
                Value {
                    text: super::field::partial_text(&f),
                    taint: f.taint,
                }
            }
            // An array's elements are not followed one by one; their taint is the array's.
            AssignmentValue::Array(items) => {
                let taint = items
                    .iter()
                    .flat_map(|(_, w)| self.eval_word(w, scope))
                    .fold(Taint::default(), |t, f| t.merge(f.taint));
                Value { text: None, taint }
            }
        };
        let field = Field {
            text: value
                .text
                .clone()
                .unwrap_or_else(|| super::field::UNKNOWN.to_string()),
            known: value.text.is_some(),
            taint: value.taint,
            ..Field::default()
        };
        super::generic::assignment(self, scope, &name, &field);
        if self.integers.contains(&name) {
            self.expand_embedded(&field.text, scope);
        }
        if let Some(index) = index {
            self.shell_table(&name, &index, &field);
        }
        scope.vars.insert(name, value);
    }

    /// `BASH_ALIASES[NAME]=TEXT` defines an alias and `BASH_CMDS[NAME]=PATH` a hashed
    /// program, as `alias` and `hash -p` do.
    fn shell_table(&mut self, table: &str, index: &str, value: &Field) {
        let known = value.known.then_some(value.text.as_str());
        let text = match table {
            "BASH_ALIASES" => known.map(str::to_owned),
            "BASH_CMDS" => known.map(crate::decision::quote),
            _ => return,
        };
        self.define_alias(index.trim_matches(['\'', '"']), text);
    }

    fn redirect(&mut self, r: &IoRedirect, scope: &mut Scope, io: &mut Io) {
        match r {
            IoRedirect::File(fd, kind, target) => match target {
                IoFileRedirectTarget::Filename(w) | IoFileRedirectTarget::Duplicate(w) => {
                    let dup = matches!(target, IoFileRedirectTarget::Duplicate(_));
                    let f = self.eval_single(w, scope);
                    if dup && (f.text == "-" || f.text.chars().all(|c| c.is_ascii_digit())) {
                        let to_stdout = matches!(fd, None | Some(1));
                        if to_stdout && matches!(kind, IoFileRedirectKind::DuplicateOutput) {
                            io.stdout_away |= f.text != "1";
                        }
                        // `<&3`: what descriptor 3 was opened on, if this line opened it.
                        if let Some(s) = scope.fds.get(&f.text).cloned() {
                            io.stdin = s;
                        }
                        return;
                    }
                    match kind {
                        IoFileRedirectKind::Read | IoFileRedirectKind::DuplicateInput => {
                            if f.text.starts_with("/dev/tcp/") || f.text.starts_with("/dev/udp/") {
                                super::cmd::check_write(self, scope, &f, "redirect");
                            }
                            let s = self.file_stream(&f, scope);
                            input(*fd, s, scope, io);
                        }
                        _ => {
                            super::cmd::check_write(self, scope, &f, "redirect");
                            let abs = self.paths.abs(&f.text, scope);
                            if matches!(kind, IoFileRedirectKind::Append) {
                                io.appended.push(abs.clone());
                            }
                            io.stdout_files.push(abs);
                            io.stdout_away |= matches!(fd, None | Some(1));
                        }
                    }
                }
                IoFileRedirectTarget::ProcessSubstitution(_, sub) => {
                    self.redirect_procsub(*fd, kind, sub, scope, io);
                }
                IoFileRedirectTarget::Fd(_) => {}
            },
            IoRedirect::OutputAndError(w, _) => {
                let f = self.eval_single(w, scope);
                super::cmd::check_write(self, scope, &f, "redirect");
                io.stdout_files.push(self.paths.abs(&f.text, scope));
                io.stdout_away = true;
            }
            IoRedirect::HereString(fd, w) => {
                let f = self.eval_single(w, scope);
                let s = Stream {
                    text: f.known.then(|| format!("{}\n", f.text)),
                    taint: f.taint,
                    piped: true,
                    ..Stream::default()
                };
                input(*fd, s, scope, io);
            }
            IoRedirect::HereDocument(fd, doc) => {
                let mut s = if doc.requires_expansion {
                    self.eval_heredoc(&doc.doc.value, scope)
                } else {
                    Stream::text(doc.doc.value.clone())
                };
                s.piped = true;
                input(*fd, s, scope, io);
            }
        }
    }
}
