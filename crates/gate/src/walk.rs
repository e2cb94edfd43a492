//! Walks a bash syntax tree and judges every simple command in it.
//!
//! Owns the [`Analyzer`] (hits found so far, the time and step budget, what the line has
//! downloaded or defined) and the [`Scope`] (variables assigned earlier on the line, the
//! effective working directory, the wrappers around the current command).
//! Pipelines carry a [`Stream`]: what the previous command writes, when the gate can tell
//! (static text, or data tainted as downloaded, decoded or secret).
//!
//! It does not decide anything itself: simple commands go to [`super::unwrap::dispatch`].

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use brush_parser::ast::{
    Command, CommandPrefixOrSuffixItem, CompoundCommand, CompoundList, IoFileRedirectKind,
    IoFileRedirectTarget, IoRedirect, Pipeline, SeparatorOperator, SimpleCommand,
};

use super::policy::Policy;
use super::words::Field;
use super::{Context, Decision, paths::Paths};

/// Longest line the gate reads; longer is denied (a bound, not a judgement).
pub(crate) const MAX_LINE: usize = 64 * 1024;
/// Deepest nesting of `sh -c`, `eval`, substitutions and wrappers.
pub(crate) const MAX_DEPTH: usize = 12;
/// Most simple commands judged for one line, counting every unwrapping.
const MAX_STEPS: usize = 4000;
/// Deepest bracket nesting handed to the parser.
const MAX_NESTING: usize = 48;
/// Wall-clock bound for one line.
const TIME_BOUND: Duration = Duration::from_millis(200);
/// Longest literal `for` list expanded value by value.
const MAX_LOOP_VALUES: usize = 32;

/// One rule that fired on one simple command.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub rule: String,
    pub decision: Decision,
    pub command: String,
    pub wrappers: Vec<String>,
    pub detail: Option<String>,
}

/// Where data came from, as far as the gate can tell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Taint {
    /// Fetched from the network.
    pub net: bool,
    /// Decoded, decompressed or transformed so that its text is hidden from the gate.
    pub decoded: bool,
    /// Holds secrets (key files, environment, tokens).
    pub secret: bool,
    /// Shell code printed by a tool made to be `eval`ed (`direnv export bash`).
    pub shellenv: bool,
    /// Secret material read from a credential file or store (not a token variable, which
    /// may go to the API it is for): it goes to no network program at all.
    pub stored: bool,
    /// Ids of processes or containers this work started, or that hold a given port
    /// (`$!`, `cat app.pid`, `lsof -t -i:3000`, `docker ps -q`): ordinary to stop.
    pub pids: bool,
}

impl Taint {
    pub fn merge(self, o: Taint) -> Taint {
        Taint {
            net: self.net || o.net,
            decoded: self.decoded || o.decoded,
            secret: self.secret || o.secret,
            shellenv: self.shellenv || o.shellenv,
            stored: self.stored || o.stored,
            pids: self.pids || o.pids,
        }
    }
    /// Code from here must never reach a shell or interpreter.
    pub fn hidden_code(self) -> bool {
        self.net || self.decoded
    }
}

/// What a command writes to its stdout (and the next command of a pipeline reads).
#[derive(Debug, Clone, Default)]
pub(crate) struct Stream {
    /// The exact text, when static.
    pub text: Option<String>,
    pub taint: Taint,
    /// Endless data (`/dev/zero`, `yes`).
    pub endless: bool,
    /// Comes from a pipe, file or here-string (not the terminal).
    pub piped: bool,
    /// One path per line, each below this directory (`find DIR`, `git ls-files`).
    pub paths_under: Option<String>,
    /// The output of an interactive shell.
    pub from_shell: bool,
}

impl Stream {
    pub fn text(t: String) -> Stream {
        Stream {
            text: Some(t),
            ..Stream::default()
        }
    }
    pub fn tainted(taint: Taint) -> Stream {
        Stream {
            taint,
            ..Stream::default()
        }
    }
}

/// A variable's value as far as the gate knows it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Value {
    pub text: Option<String>,
    pub taint: Taint,
}

/// Per-command state: it is cloned into subshells and substitutions.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    pub vars: HashMap<String, Value>,
    /// The effective working directory; `None` once a `cd` went somewhere unknown.
    pub cwd: Option<String>,
    pub depth: usize,
    pub wrappers: Vec<String>,
    /// Under sudo, doas, su or pkexec.
    pub privileged: bool,
    /// Inside a loop whose iteration count is unknown.
    pub in_loop: bool,
    /// Inside a pipeline of several commands or a background job.
    pub concurrent: bool,
    /// The function whose body is being walked.
    pub function: Option<String>,
}

/// Input and output of the simple command being judged.
#[derive(Debug, Clone, Default)]
pub(crate) struct Io {
    pub stdin: Stream,
    /// Files stdout is redirected to.
    pub stdout_files: Vec<String>,
}

/// State of one judgement.
pub(crate) struct Analyzer<'a> {
    pub policy: &'a Policy,
    pub paths: Paths,
    pub hits: Vec<Hit>,
    deadline: Instant,
    steps: usize,
    /// Files this line downloads (absolute), so running them later on the line is caught.
    pub fetched: Vec<String>,
    /// Files this line writes with content the gate knows (`echo ... > x.sh`).
    pub written: Vec<(String, Stream)>,
    /// Functions defined on this line, with their bodies (re-walked where they are called,
    /// so that `cd` and assignments inside them carry to the caller).
    pub functions: Vec<String>,
    pub bodies: HashMap<String, String>,
    /// Remotes added on this line (`git remote add`): pushing there sends the repository to
    /// a place nobody reviewed.
    pub remotes: Vec<(String, String)>,
    /// Symbolic links made on this line (link, target), both absolute: a path through the
    /// link is judged as the path it reaches.
    pub links: Vec<(String, String)>,
    stopped: bool,
}

/// Judges `line` and returns every hit, in the order found.
pub(crate) fn analyze(policy: &Policy, line: &str, ctx: &Context) -> Vec<Hit> {
    let paths = Paths::new(ctx);
    let mut an = Analyzer {
        policy,
        paths,
        hits: Vec::new(),
        deadline: Instant::now() + TIME_BOUND,
        steps: 0,
        fetched: Vec::new(),
        written: Vec::new(),
        functions: Vec::new(),
        bodies: HashMap::new(),
        remotes: Vec::new(),
        links: Vec::new(),
        stopped: false,
    };
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
    /// Records that `rule` fired on `command`.
    pub fn hit(&mut self, rule: &str, scope: &Scope, cmd: &[Field], detail: Option<String>) {
        let command = super::words::display(cmd);
        self.hit_plain(rule, scope, &command, detail);
    }

    pub fn hit_plain(&mut self, rule: &str, scope: &Scope, command: &str, detail: Option<String>) {
        let decision = self.policy.decision_of(rule);
        self.hits.push(Hit {
            rule: rule.to_owned(),
            decision,
            command: command.to_owned(),
            wrappers: scope.wrappers.clone(),
            detail,
        });
    }

    /// Counts one step; false once a bound is exceeded (and records the bound once).
    pub fn budget(&mut self, scope: &Scope) -> bool {
        if self.stopped {
            return false;
        }
        self.steps += 1;
        if self.steps > MAX_STEPS || scope.depth > MAX_DEPTH || Instant::now() > self.deadline {
            self.stopped = true;
            self.hit_plain(
                "gate.bound",
                scope,
                "",
                Some("depth, size or time bound".into()),
            );
            return false;
        }
        true
    }

    /// Parses `text` as a shell program and walks it; returns what it writes to stdout.
    pub fn run_line(&mut self, text: &str, scope: &mut Scope, stdin: Stream) -> Stream {
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
        let mut out = Stream::default();
        let mut stdin = Some(stdin);
        for list in &program.complete_commands {
            out = self.walk_list(list, scope, stdin.take().unwrap_or_default());
        }
        out
    }

    pub fn walk_list(&mut self, list: &CompoundList, scope: &mut Scope, stdin: Stream) -> Stream {
        let mut out = Stream::default();
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
                out = self.walk_pipeline(pipeline, scope, input.clone());
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
                self.check_endless(scope, &out, &io);
                out
            }
            Command::Function(f) => {
                let name = super::words::literal(&f.fname.value);
                self.functions.push(name.clone());
                self.bodies.insert(name.clone(), f.body.to_string());
                let mut inner = scope.clone();
                inner.function = Some(name);
                self.compound(&f.body.0, &mut inner, Stream::default());
                Stream::default()
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
                    let mut out = Stream::default();
                    for v in values {
                        scope.vars.insert(
                            f.variable_name.clone(),
                            Value {
                                text: Some(v.text),
                                taint: v.taint,
                            },
                        );
                        out = self.walk_list(&f.body.list, scope, stdin.clone());
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
            CompoundCommand::ArithmeticForClause(f) => self.in_loop(&f.body.list, scope, stdin),
            CompoundCommand::WhileClause(w) | CompoundCommand::UntilClause(w) => {
                self.walk_list(&w.0, scope, Stream::default());
                self.in_loop(&w.1.list, scope, stdin)
            }
            CompoundCommand::CaseClause(c) => {
                self.eval_word(&c.value, scope);
                let mut out = Stream::default();
                for item in &c.cases {
                    if let Some(list) = &item.cmd {
                        out = self.walk_list(list, scope, stdin.clone());
                    }
                }
                out
            }
            CompoundCommand::IfClause(i) => {
                self.walk_list(&i.condition, scope, Stream::default());
                let mut out = self.walk_list(&i.then, scope, stdin.clone());
                for e in i.elses.iter().flatten() {
                    if let Some(c) = &e.condition {
                        self.walk_list(c, scope, Stream::default());
                    }
                    out = self.walk_list(&e.body, scope, stdin.clone());
                }
                out
            }
            CompoundCommand::Coprocess(c) => self.walk_command(&c.body, scope, stdin),
            CompoundCommand::Arithmetic(a) => {
                self.expand_embedded(&a.expr.value, scope);
                Stream::default()
            }
        }
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
            // `$(<file)` prints the file.
            return io.stdin;
        }
        let out = super::unwrap::dispatch(self, fields, &io, scope);
        self.check_endless(scope, &out, &io);
        for f in &io.stdout_files {
            if out.text.is_some() || out.taint.hidden_code() || out.taint.secret {
                self.written.push((f.clone(), out.clone()));
            }
        }
        out
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
            CommandPrefixOrSuffixItem::ProcessSubstitution(_, sub) => {
                let mut inner = scope.clone();
                inner.depth += 1;
                let out = self.walk_list(&sub.list, &mut inner, Stream::default());
                fields.push(Field::procsub(out));
            }
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
        let name = match &a.name {
            AssignmentName::VariableName(n) => n.clone(),
            AssignmentName::ArrayElementName(n, _) => n.clone(),
        };
        let value = match &a.value {
            AssignmentValue::Scalar(w) => {
                let f = self.eval_single(w, scope);
                Value {
                    text: super::words::partial_text(&f),
                    taint: f.taint,
                }
            }
            AssignmentValue::Array(_) => Value::default(),
        };
        let field = Field {
            text: value
                .text
                .clone()
                .unwrap_or_else(|| super::words::UNKNOWN.to_string()),
            known: value.text.is_some(),
            taint: value.taint,
            ..Field::default()
        };
        super::generic::assignment(self, scope, &name, &field);
        scope.vars.insert(name, value);
    }

    fn redirect(&mut self, r: &IoRedirect, scope: &mut Scope, io: &mut Io) {
        match r {
            IoRedirect::File(_, kind, target) => match target {
                IoFileRedirectTarget::Filename(w) | IoFileRedirectTarget::Duplicate(w) => {
                    let dup = matches!(target, IoFileRedirectTarget::Duplicate(_));
                    let f = self.eval_single(w, scope);
                    if dup && (f.text == "-" || f.text.chars().all(|c| c.is_ascii_digit())) {
                        return;
                    }
                    match kind {
                        IoFileRedirectKind::Read | IoFileRedirectKind::DuplicateInput => {
                            if f.text.starts_with("/dev/tcp/") || f.text.starts_with("/dev/udp/") {
                                super::rules::writes::check_write(self, scope, &f, "redirect");
                            }
                            io.stdin = self.file_stream(&f, scope);
                        }
                        _ => {
                            super::rules::writes::check_write(self, scope, &f, "redirect");
                            io.stdout_files.push(self.paths.abs(&f.text, scope));
                        }
                    }
                }
                IoFileRedirectTarget::ProcessSubstitution(_, sub) => {
                    let mut inner = scope.clone();
                    inner.depth += 1;
                    let out = self.walk_list(&sub.list, &mut inner, Stream::default());
                    if matches!(kind, IoFileRedirectKind::Read) {
                        io.stdin = out;
                    }
                }
                IoFileRedirectTarget::Fd(_) => {}
            },
            IoRedirect::OutputAndError(w, _) => {
                let f = self.eval_single(w, scope);
                super::rules::writes::check_write(self, scope, &f, "redirect");
                io.stdout_files.push(self.paths.abs(&f.text, scope));
            }
            IoRedirect::HereString(_, w) => {
                let f = self.eval_single(w, scope);
                io.stdin = Stream {
                    text: f.known.then(|| format!("{}\n", f.text)),
                    taint: f.taint,
                    piped: true,
                    ..Stream::default()
                };
            }
            IoRedirect::HereDocument(_, doc) => {
                io.stdin = if doc.requires_expansion {
                    self.eval_heredoc(&doc.doc.value, scope)
                } else {
                    Stream::text(doc.doc.value.clone())
                };
                io.stdin.piped = true;
            }
        }
    }

    /// True when `abs` holds secrets: a credential file, or a file this line wrote secrets to.
    pub fn secret_file(&self, abs: &str) -> bool {
        self.paths.is_secret(abs) || self.written.iter().any(|(p, s)| p == abs && s.taint.secret)
    }

    /// What reading a file gives: secrets for key files, endless data for `/dev/zero`.
    pub fn file_stream(&mut self, f: &Field, scope: &Scope) -> Stream {
        let abs = self.paths.abs(&f.text, scope);
        let mut s = Stream {
            piped: true,
            ..Stream::default()
        };
        if matches!(abs.as_str(), "/dev/zero" | "/dev/urandom" | "/dev/random") {
            s.endless = true;
        }
        if self.secret_file(&abs) {
            s.taint.secret = true;
            s.taint.stored = true;
        }
        if self.fetched.contains(&abs) {
            s.taint.net = true;
        }
        s
    }
}
