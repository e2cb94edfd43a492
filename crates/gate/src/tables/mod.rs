//! Per-tool knowledge as data: which options and variables take commands or write paths,
//! which subcommands destroy something the view cannot undo, which programs reach the
//! network, which read secrets, and which only print their arguments.
//!
//! Owns nothing but tables; `generic` evaluates them for every simple command.
//! Adding a tool is adding a row, not a branch.
//! Patterns (`alias.*`, `scripts.*`) are shell globs, matched case-insensitively.
//! `options`: command- and write-valued options and variables; `programs`: what programs
//! are (network, secret sources, data only, wrappers, runners); `destructive`: subcommands
//! that destroy.

mod destructive;
mod options;
mod programs;

pub(crate) use destructive::*;
pub(crate) use options::*;
pub(crate) use programs::*;

/// What the value of an option or variable is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Value {
    /// A shell command line (a leading `!`, as in git aliases, is dropped).
    Command,
    /// `KEY=VALUE` (or `KEY VALUE`) where keys matching one of the patterns are commands.
    KeyCommand(&'static [&'static str]),
    /// A git configuration `key=value` pair, judged by its key (see `generic::git_config`).
    GitConfig,
    /// A git configuration pair for one command (`git -c`): as [`Value::GitConfig`], but a
    /// file it includes is read and its keys judged (`rules::git_files::included`).
    GitConfigOnce,
    /// A configuration file of `KEY VALUE` lines where keys matching one of the patterns
    /// are commands (`ssh -F <(...)`); only its text from a process substitution is known.
    ConfigFile(&'static [&'static str]),
    /// A git configuration file (`GIT_CONFIG_GLOBAL=FILE`): its text, from a process
    /// substitution or a file the line wrote, is judged key by key like `git -c KEY=VALUE`.
    GitConfigFile,
    /// `KEY=VAR`: a git configuration key whose value is the environment variable VAR.
    GitConfigEnv,
    /// A script file the tool runs or sources (a process substitution is judged as code).
    Script,
    /// A directory of hooks or templates git copies hooks from.
    HooksDir,
    /// A file the tool writes.
    Write,
    /// A file the tool writes its results to or, after a leading `|`, a command it pipes
    /// them into (`psql -o '|CMD'`).
    Output,
    /// A library loaded into every process (`LD_PRELOAD`).
    Library,
    /// The remaining arguments after the option are a command (`git bisect run CMD ...`).
    Argv,
    /// A program the tool starts, with the arguments after `--` (`start-stop-daemon --exec`).
    Program,
    /// A file of the tool's own options, one `key = value` per line (`curl -K`); only its
    /// text from a process substitution or a known stdin (`-`) is known.
    OptionsFile,
    /// Command-line options of the named interpreter, given in a variable (`PERL5OPT`).
    Flags(&'static str),
    /// Options the named tool reads from a variable before its own (`TAR_OPTIONS`,
    /// `MAKEFLAGS`, `LESS`): judged as the tool given them, as words and as one word.
    ToolOptions(&'static str),
    /// Flags of the shell a tool runs its commands with: what follows the flags is a
    /// command (make's `.SHELLFLAGS='-c CMD;'`).
    ShellFlags,
    /// A prompt string: the shell expands it, running its substitutions, each time it is
    /// shown (`PS4` before every traced command).
    Prompt,
}

/// One tool's command-valued and write-valued options.
#[derive(Debug)]
pub(crate) struct Options {
    /// The program, and optionally its subcommand (`"git rebase"`).
    pub tool: &'static str,
    /// Options (`-e`, `--rsh`, `-fprint`) or subcommand words (`run`) and what they take.
    pub opts: &'static [(&'static str, Value)],
}
