//! The [`Analyzer`]: the state of one judgement (hits, the time and step budget, what the
//! line has downloaded, written, defined or linked), and the [`Judge`] it recurses through.
//!
//! A rule that must judge a nested command line (`sh -c`, `eval`, a substitution, a command
//! an option runs) calls [`Analyzer::run_line`] or [`Analyzer::dispatch`]; both go through
//! the [`Judge`] trait object the walk installs, so no rule module imports the walk above it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::decision::Context;
use crate::field::{DESCENDANT, Field, display, has_glob};
use crate::paths::{Class, Paths};
use crate::policy::Policy;
use crate::state::{Hit, Io, MAX_DEPTH, Scope, Stream};
use crate::text::glob_match;

/// Most simple commands judged for one line judged for one line, counting every unwrapping.
const MAX_STEPS: usize = 4000;
/// Wall-clock bound for one line.
const TIME_BOUND: Duration = Duration::from_millis(200);

/// How a judgement recurses: the walk implements it and installs itself in the [`Analyzer`].
pub(crate) trait Judge {
    /// Parses `text` as a shell program, walks it, and returns what it writes to stdout.
    fn line(&self, an: &mut Analyzer<'_>, text: &str, scope: &mut Scope, stdin: Stream) -> Stream;
    /// Judges one simple command given as fields (`fields[0]` is the program word).
    fn command(
        &self,
        an: &mut Analyzer<'_>,
        fields: Vec<Field>,
        io: &Io,
        scope: &mut Scope,
    ) -> Stream;
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
    /// What each function's body did where it was defined, its arguments unknown: kept
    /// only for functions the line never calls, as a call judges the body with its own.
    pub deferred: Vec<(String, Vec<Hit>)>,
    /// Remotes added on this line (`git remote add`): pushing there sends the repository to
    /// a place nobody reviewed.
    pub remotes: Vec<(String, String)>,
    /// Symbolic links made on this line (link, target), both absolute: a path through the
    /// link is judged as the path it reaches.
    pub links: Vec<(String, String)>,
    /// Shell aliases defined on this line (name, text): a later command named like one is
    /// judged as what it expands to too.
    pub aliases: Vec<(String, String)>,
    /// git aliases defined on this line (`-c alias.X=...`, `git config alias.X ...`): a
    /// later git command naming one is judged as what it expands to.
    pub git_aliases: Vec<(String, String)>,
    /// Variables declared integer on this line (`declare -i N`): assigning one evaluates
    /// the value as arithmetic.
    pub integers: Vec<String>,
    /// Directories made git's hooks directory on this line (`core.hooksPath`), absolute:
    /// a file written there runs on later git commands, like one in `.git/hooks`.
    pub hooks_dirs: Vec<String>,
    stopped: bool,
    judge: &'a dyn Judge,
}

impl<'a> Analyzer<'a> {
    /// A fresh judgement of one line in `ctx`, recursing through `judge`.
    pub fn new(policy: &'a Policy, ctx: &Context, judge: &'a dyn Judge) -> Analyzer<'a> {
        Analyzer {
            policy,
            paths: Paths::new(ctx),
            hits: Vec::new(),
            deadline: Instant::now() + TIME_BOUND,
            steps: 0,
            fetched: Vec::new(),
            written: Vec::new(),
            functions: Vec::new(),
            bodies: HashMap::new(),
            deferred: Vec::new(),
            remotes: Vec::new(),
            links: Vec::new(),
            aliases: Vec::new(),
            git_aliases: Vec::new(),
            integers: Vec::new(),
            hooks_dirs: Vec::new(),
            stopped: false,
            judge,
        }
    }
}

impl Analyzer<'_> {
    /// Parses `text` as a shell program and walks it; returns what it writes to stdout.
    pub fn run_line(&mut self, text: &str, scope: &mut Scope, stdin: Stream) -> Stream {
        let judge = self.judge;
        judge.line(self, text, scope, stdin)
    }

    /// Judges one simple command given as fields; returns what it writes to stdout.
    pub fn dispatch(&mut self, fields: Vec<Field>, io: &Io, scope: &mut Scope) -> Stream {
        let judge = self.judge;
        judge.command(self, fields, io, scope)
    }

    /// Records that `rule` fired on `command`.
    pub fn hit(&mut self, rule: &str, scope: &Scope, cmd: &[Field], detail: Option<String>) {
        let command = display(cmd);
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

    /// Defines a shell alias for the rest of the line (`alias`, `hash -p`, `BASH_ALIASES`);
    /// a text the gate cannot know expands to an unknown program.
    pub fn define_alias(&mut self, name: &str, text: Option<String>) {
        let text = text.unwrap_or_else(|| "\"$UNKNOWN\"".to_owned());
        self.aliases.retain(|(n, _)| n != name);
        self.aliases.push((name.to_owned(), text));
    }

    /// True when `abs` holds secrets: a credential file, or a file this line wrote secrets to.
    pub fn secret_file(&self, abs: &str) -> bool {
        self.paths.is_secret(abs) || self.written.iter().any(|(p, s)| p == abs && s.taint.secret)
    }

    /// What the line wrote last at `abs`, if it wrote there; a write through a pattern
    /// (`sed -i ... *.sh`) or to paths below a directory (`find DIR -exec sed -i ...`) may
    /// have been to `abs`.
    pub fn written_at(&self, abs: &str) -> Option<Stream> {
        let covers = |p: &str| match p.split_once(DESCENDANT) {
            Some((dir, end)) => abs.starts_with(dir) && abs.ends_with(end),
            None => has_glob(p) && glob_match(p, abs),
        };
        let found = self
            .written
            .iter()
            .rev()
            .find(|(p, _)| p == abs || covers(p));
        found.map(|(_, s)| s.clone())
    }

    /// True when a secret was written earlier on the line at `abs` or below it.
    pub fn secret_below(&self, abs: &str) -> bool {
        let dir = format!("{}/", abs.trim_end_matches('/'));
        self.written
            .iter()
            .any(|(p, s)| s.taint.secret && (p == abs || p.starts_with(&dir)))
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
        // A pid file of this work (`xargs kill < tmp/server.pid`), as `cat` of it is.
        let own = matches!(
            self.paths.classify_abs(&abs, false),
            Class::Workspace | Class::Build | Class::Tmp
        );
        s.taint.pids = f.known && own && abs.rsplit('/').next().is_some_and(|n| n.contains("pid"));
        // A file written earlier on the line holds what was written (`cat > x <<< T; sh < x`).
        if let Some(w) = self.written_at(&abs) {
            s.text.clone_from(&w.text);
            s.taint = s.taint.merge(w.taint);
        }
        s
    }
}
