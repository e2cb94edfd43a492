//! The state a judgement carries: hits found so far, where data came from ([`Taint`]), what a
//! command writes ([`Stream`]), variables and the working directory along a line ([`Scope`]).
//!
//! Plain data with no behaviour beyond merging: every module above it shares these types,
//! so none of them needs to import the walk that produces them.

use std::collections::HashMap;

use crate::decision::Decision;

/// Longest line the gate reads; longer is denied (a bound, not a judgement).
pub(crate) const MAX_LINE: usize = 64 * 1024;
/// Deepest nesting of `sh -c`, `eval`, substitutions and wrappers.
pub(crate) const MAX_DEPTH: usize = 12;

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
    /// Ids of processes selected by a name or pid file that [`pkill`] would refuse
    /// (`pgrep sshd`, `pidof Xorg`, `cat /run/sshd.pid`): stopping them is `kill.system`.
    pub system_pids: bool,
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
            system_pids: self.system_pids || o.system_pids,
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
    /// What a command that prints nothing writes: known to be empty.
    pub fn silent() -> Stream {
        Stream::text(String::new())
    }
    fn is_silent(&self) -> bool {
        self.text.as_deref() == Some("") && self.taint == Taint::default() && !self.endless
    }
    /// What two commands run one after the other write: the first's output, then the
    /// second's. The text is known only when both are; the taint is both taints.
    pub fn then(self, next: Stream) -> Stream {
        if self.is_silent() {
            return Stream {
                piped: self.piped || next.piped,
                ..next
            };
        }
        if next.is_silent() {
            return self;
        }
        let text = match (self.text, next.text) {
            (Some(a), Some(b)) => Some(a + &b),
            _ => None,
        };
        Stream {
            text,
            taint: self.taint.merge(next.taint),
            endless: self.endless || next.endless,
            piped: self.piped || next.piped,
            paths_under: self
                .paths_under
                .filter(|p| next.paths_under.as_ref() == Some(p)),
            from_shell: self.from_shell || next.from_shell,
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
    /// The directories `pushd` left, the last one first to come back with `popd`.
    pub dirs: Vec<Option<String>>,
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
    /// What numbered descriptors were opened on (`exec 3< FILE`, `3<<< TEXT`), read later
    /// with `<&3` or as `/dev/fd/3`.
    pub fds: HashMap<String, Stream>,
}

/// Input and output of the simple command being judged.
#[derive(Debug, Clone, Default)]
pub(crate) struct Io {
    pub stdin: Stream,
    /// Files stdout is redirected to.
    pub stdout_files: Vec<String>,
    /// Those of them opened for appending (`>>`): they hold what the line wrote before too.
    pub appended: Vec<String>,
    /// Standard output goes to a file or a process substitution, not down the pipeline.
    pub stdout_away: bool,
    /// Process substitutions that read standard output (`> >(CMD)`), as text.
    pub readers: Vec<String>,
}
