//! The harness-neutral core of the hook adapters: what a tool call would do ([`Action`]),
//! and what the gate says about it ([`Answer`]).
//!
//! Invariant: the core only ever makes a call stricter than the harness's own permissions.
//! A command or path no rule objects to gets [`Answer::Pass`] (no opinion), never an allow;
//! the only other non-blocking answer is [`Answer::Rewrite`], which runs the same command
//! through `ftsb-fs exec` (checkpoint, rollback on failure, confinement).
//!
//! It knows nothing of any harness's JSON: the adapters turn payloads into actions and
//! answers into replies.
//!
//! Longer than 500 lines on purpose: a tenth is the hook rules' policy text (`HOOK_RULES`);
//! the rest is one judgement ([`Judge`]) whose kinds of call (shell commands, file writes and
//! reads, MCP tools) share the mount, the gate, the policy floor and the places (the store,
//! the workspace), so a split would only move helpers away from their one user. Where a path
//! leads and what kind of place it is are in `places`; each harness's payloads in its own file.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Reason;
use super::places::{in_hooks_path, is_scratch, normalize, resolve_links};
use crate::control::{Client, Request};
use crate::gate::{Context, Decision, Gate, Verdict};
use ftsb_gate::{quote_argv, runs_agent_code};

/// Rules the hooks add to every policy: the agent may not end, publish, discard or rewind its
/// own transaction, nor take the view away. Loaded through the gate's policy format, so they
/// see through `sudo`, `sh -c`, `xargs` and every other wrapper the gate unwraps.
const HOOK_RULES: &str = r#"
[[rule]]
id = "hook.ftsb_commit"
category = "session"
decision = "deny"
reason = "the agent may not publish its own changes"
alternative = "leave `ftsb-fs commit` to the user; `ftsb-fs diff` shows what changed"
programs = ["ftsb-fs"]
args = ["commit"]
match = ["ftsb-fs commit", "sudo ftsb-fs commit -m done .", "sh -c 'ftsb-fs --json commit'"]
not_match = ["ftsb-fs diff"]

[[rule]]
id = "hook.ftsb_abort"
category = "session"
decision = "deny"
reason = "the agent may not discard the session's changes"
alternative = "undo one step with a failing command's automatic rollback, or ask the user to abort"
programs = ["ftsb-fs"]
args = ["abort"]
match = ["ftsb-fs abort", "ftsb-fs abort /home/dev/project"]

[[rule]]
id = "hook.ftsb_unmount"
category = "session"
decision = "deny"
reason = "the agent may not unmount its own view"
alternative = "leave `ftsb-fs unmount` to the user"
programs = ["ftsb-fs"]
args = ["unmount"]
match = ["ftsb-fs unmount --abort", "ftsb-fs unmount --keep ."]

[[rule]]
id = "hook.ftsb_rollback"
category = "session"
decision = "deny"
reason = "the agent may not rewind the session's history"
alternative = "fix the files forward, or ask the user to roll back"
programs = ["ftsb-fs"]
args = ["rollback"]
match = ["ftsb-fs rollback --to 0"]

[[rule]]
id = "hook.ftsb_gc"
category = "session"
decision = "deny"
reason = "the agent may not prune the session's restorable states"
alternative = "leave `ftsb-fs gc` to the user"
programs = ["ftsb-fs"]
args = ["gc"]
match = ["ftsb-fs gc --older-than 1"]

[[rule]]
id = "hook.fusermount_unmount"
category = "session"
decision = "deny"
reason = "unmounting a FUSE view takes the transaction away from under the session"
alternative = "leave unmounting to the user (`ftsb-fs unmount`)"
programs = ["fusermount", "fusermount3"]
args = ["-*u*"]
match = ["fusermount3 -u /home/dev/project", "fusermount -uz /home/dev/project"]
not_match = ["fusermount3 -V"]

[[rule]]
id = "hook.umount"
category = "session"
decision = "deny"
reason = "unmounting takes the view (and its transaction) away from under the session"
alternative = "leave unmounting to the user (`ftsb-fs unmount`)"
programs = ["umount"]
match = ["umount /home/dev/project", "umount -l /home/dev/project"]
"#;

/// What a tool call would do, whatever the harness calls it.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Run a shell command line.
    Shell {
        /// The command line, exactly as the shell will get it.
        command: String,
    },
    /// Create, overwrite, edit or delete these files.
    Write {
        /// The files, as the payload names them (relative ones resolve against the cwd).
        paths: Vec<PathBuf>,
    },
    /// Read this file, or search this directory.
    Read {
        /// The file or directory, as the payload names it.
        path: PathBuf,
    },
    /// Call a tool of an MCP server with these arguments.
    Mcp {
        /// The tool's full name (`mcp__server__tool`).
        name: String,
        /// Its arguments.
        input: Value,
    },
    /// A tool the hooks do not judge (reads, searches, web fetches, sub-agents).
    Other,
}

/// One tool call, decoded from a payload.
#[derive(Debug, Clone)]
pub struct Call {
    /// What it would do.
    pub action: Action,
    /// The directory it runs in, if the payload says.
    pub cwd: Option<PathBuf>,
    /// The workspace the payload names (`workspace_roots`), if any.
    pub workspace: Option<PathBuf>,
    /// The tool's input object, for adapters that answer with a rewritten one.
    pub tool_input: Value,
}

/// What the hook answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// No opinion: the harness's own permissions decide.
    Pass,
    /// No objection, but run this command line instead (the original through `ftsb-fs exec`).
    Rewrite {
        /// The replacement command line.
        command: String,
        /// Why, for the user.
        reason: String,
    },
    /// A human must decide.
    Ask(String),
    /// Never run it.
    Deny(String),
}

/// Where the workspace's view is and where its daemon keeps its store.
#[derive(Debug, Clone)]
pub struct Mount {
    /// The workspace (the lower directory).
    pub workspace: PathBuf,
    /// Where the view is mounted (the workspace itself in place).
    pub view: PathBuf,
    /// The daemon's store.
    pub store: PathBuf,
}

/// The gates a hook judges with: the user's policy with the hook rules and, when that file is
/// one the agent can change without anyone's approval, the default policy with them too (the
/// floor): such a file may make the gate stricter, never looser.
#[derive(Debug)]
pub struct Gates {
    gate: Gate,
    floor: Option<Gate>,
}

impl Gates {
    /// Loads `policy` with the hook rules; `agent_writes` says whether the agent may change
    /// the file (given where it leads, symlinks followed).
    pub fn load(
        policy: Option<&Path>,
        agent_writes: impl FnOnce(&Path) -> bool,
    ) -> Result<Gates, Reason> {
        let gate = load_gate(policy)?;
        let floor = match policy.map(|p| resolve_links(&normalize(p))) {
            Some(p) if agent_writes(&p) => Some(load_gate(None)?),
            _ => None,
        };
        Ok(Gates { gate, floor })
    }

    /// The verdict on `line`: the gate's, or the floor's where that is stricter.
    pub fn judge(&self, line: &str, ctx: &Context) -> Verdict {
        let v = self.gate.judge(line, ctx);
        let rank = |d: Decision| match d {
            Decision::Allow => 0,
            Decision::Ask => 1,
            Decision::Deny => 2,
        };
        match self.floor.as_ref().map(|f| f.judge(line, ctx)) {
            Some(f) if rank(f.decision) > rank(v.decision) => f,
            _ => v,
        }
    }
}

/// Whether the agent may change `p` without anyone's approval: it is in the workspace (or
/// its view), or in a temp directory outside the home.
pub fn agent_writes(p: &Path, workspace: &Path, view: Option<&Path>, home: Option<&Path>) -> bool {
    let in_home = home.is_some_and(|h| p.starts_with(h));
    p.starts_with(workspace)
        || view.is_some_and(|v| p.starts_with(v))
        || (is_scratch(p) && !in_home)
}

/// Everything a judgement needs, loaded once per hook call.
#[derive(Debug)]
pub struct Judge {
    gates: Gates,
    /// The agent's workspace (the directory it was started in: the view when mounted).
    pub workspace: PathBuf,
    home: Option<PathBuf>,
    /// The mounted view of the workspace, if any.
    pub mount: Option<Mount>,
    policy: Option<PathBuf>,
    exe: PathBuf,
    trust_exec: bool,
}

/// How a judge is set up.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// The user's policy file, if any.
    pub policy: Option<PathBuf>,
    /// Auto-approve commands rewritten through `exec`, where the harness can only rewrite
    /// with an approval.
    pub trust_exec: bool,
}

impl Judge {
    /// Loads the policy (the user's, with the hook rules added) and asks the workspace's
    /// daemon, if one runs, where its view and store are.
    pub fn load(setup: &Setup, workspace: PathBuf) -> Result<Judge, Reason> {
        let workspace = std::path::absolute(&workspace).unwrap_or(workspace);
        let workspace = resolve_links(&normalize(&workspace));
        let mount = find_mount(&workspace)?;
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from);
        let view = mount.as_ref().map(|m| m.view.as_path());
        let gates = Gates::load(setup.policy.as_deref(), |p| {
            agent_writes(p, &workspace, view, home.as_deref())
        })?;
        let exe = std::env::current_exe().map_err(|e| {
            format!("cannot find the ftsb-fs binary to route commands through: {e}")
        })?;
        Ok(Judge {
            gates,
            workspace,
            home,
            mount,
            policy: setup.policy.as_ref().map(|p| resolve_links(&normalize(p))),
            exe,
            trust_exec: setup.trust_exec,
        })
    }

    /// The gates' verdict on `line` run in `cwd`.
    fn verdict(&self, line: &str, cwd: &Path) -> Verdict {
        self.gates.judge(line, &self.ctx(cwd))
    }

    /// Whether the harness may turn a rewrite into an approval (`--trust-exec`).
    pub fn trust_exec(&self) -> bool {
        self.trust_exec
    }

    /// The answer for one call.
    pub fn judge(&self, call: &Call) -> Answer {
        // Where the command really runs: a symlinked directory in the workspace that points
        // outside it must not pass for the workspace.
        let cwd = call
            .cwd
            .as_ref()
            .map(|c| resolve_links(&self.absolute(c, &self.workspace)))
            .unwrap_or_else(|| self.workspace.clone());
        match &call.action {
            Action::Shell { command } => self.shell(command, &cwd),
            Action::Write { paths } => strictest(paths.iter().map(|p| self.write(p, &cwd))),
            Action::Read { path } => self.read(path, &cwd),
            Action::Mcp { name, input } => self.mcp(name, input, &cwd),
            Action::Other => Answer::Pass,
        }
    }

    fn ctx(&self, cwd: &Path) -> Context {
        Context {
            cwd: cwd.to_owned(),
            workspace: Some(self.workspace.clone()),
            home: self.home.clone(),
        }
    }

    /// A shell command: the gate's verdict; what it lets through runs through `exec` when the
    /// workspace is mounted.
    fn shell(&self, command: &str, cwd: &Path) -> Answer {
        // bash drops NUL bytes from a script it reads (`r<NUL>m` runs `rm`) and an argv
        // ends at one: what would run is not the line the gate reads.
        if command.contains('\0') {
            return Answer::Deny(
                "ftsb-fs: the command contains a NUL byte, which shells drop or cut at, so what would run is not what was judged [hook.nul_byte]; instead: send the command without NUL bytes".into(),
            );
        }
        let v = self.verdict(command, cwd);
        match v.decision {
            Decision::Deny => Answer::Deny(explain(&v)),
            // The gate does not know where the store and the policy are: a line that names
            // them is refused (the agent has no business there, reading or writing), whatever
            // else the gate would have asked about.
            _ if let Some(what) = self.names_protected(command, cwd) => {
                Answer::Deny(format!(
                    "ftsb-fs: the command names {what} [hook.protected_path]; instead: leave ftsb-fs's own files to the user"
                ))
            }
            Decision::Ask => Answer::Ask(explain(&v)),
            Decision::Allow => match &self.mount {
                Some(m) => Answer::Rewrite {
                    command: self.through_exec(m, command, cwd),
                    reason: "ftsb-fs: runs through `ftsb-fs exec` (checkpoint before, rollback if it fails, confined to the view)".into(),
                },
                None => Answer::Pass,
            },
        }
    }

    /// `command` as one `ftsb-fs exec WS -- bash -c -- '...'` line, every word quoted.
    /// `exec` runs a command from outside the view at the view's root; one judged in a
    /// directory outside first goes back there, so it acts where it was judged.
    fn through_exec(&self, m: &Mount, command: &str, cwd: &Path) -> String {
        let mut words = vec![self.exe.to_string_lossy().into_owned(), "exec".to_owned()];
        if let Some(p) = &self.policy {
            words.push("--policy".to_owned());
            words.push(p.to_string_lossy().into_owned());
        }
        words.push(m.workspace.to_string_lossy().into_owned());
        let script = if cwd.starts_with(&m.view) || cwd.starts_with(&m.workspace) {
            command.to_owned()
        } else {
            let dir = quote_argv(&[cwd.to_string_lossy().into_owned()]);
            format!("cd -- {dir} || exit 1\n{command}")
        };
        // `bash -c -- SCRIPT`: a script that starts with `-` is a script, not bash's options.
        words.extend(["--", "bash", "-c", "--"].map(str::to_owned));
        words.push(script);
        quote_argv(&words)
    }

    /// A file the agent would create, change or delete.
    fn write(&self, path: &Path, cwd: &Path) -> Answer {
        let abs = self.resolve(path, cwd);
        strictest(
            self.landings(path, cwd)
                .iter()
                .map(|real| self.write_at(&abs, real, cwd)),
        )
    }

    /// A write of `abs` (as named, made absolute) that lands at `real`.
    fn write_at(&self, abs: &Path, real: &Path, cwd: &Path) -> Answer {
        let shown = abs.display();
        for p in [abs, real] {
            if let Some(why) = self.forbidden(p) {
                return Answer::Deny(format!(
                    "ftsb-fs: {why} ({shown}) [hook.protected_path]; instead: change files inside the workspace only"
                ));
            }
        }
        // The gate knows the shell start-up files, ~/.ssh, system and device paths: ask it
        // about a plain write to the same file.
        let v = self.verdict(
            &quote_argv(&["tee".into(), real.to_string_lossy().into_owned()]),
            cwd,
        );
        if v.decision == Decision::Deny {
            return Answer::Deny(explain(&v));
        }
        // A file with other names (`ln ~/.bashrc x`) is changed under all of them, wherever
        // they are: no path tells where.
        if std::fs::symlink_metadata(real).is_ok_and(|m| m.is_file() && m.nlink() > 1) {
            return Answer::Ask(format!(
                "ftsb-fs: {shown} has other hard links, which a write changes too, wherever they are [hook.hard_link]; instead: write a new file and rename it over this one"
            ));
        }
        if in_hooks_path(real) {
            return Answer::Ask(format!(
                "ftsb-fs: {shown} is in the directory its repository's core.hooksPath names, whose scripts git runs at the user's next commit [hook.git_hooks_path]; instead: ask the user to change git hooks"
            ));
        }
        if [abs, real].iter().any(|p| runs_agent_code(p)) {
            return Answer::Ask(format!(
                "ftsb-fs: {shown} defines commands, skills, sub-agents or tool servers the harness runs on its own, outside this hook [hook.agent_code]; instead: ask the user to add it"
            ));
        }
        let in_home = self.home.as_ref().is_some_and(|h| real.starts_with(h));
        if !self.inside_workspace(real) && (in_home || !is_scratch(real)) {
            return Answer::Ask(format!(
                "ftsb-fs: {shown} is outside the workspace {} [hook.outside_workspace]; instead: keep changes inside the workspace, where they are undoable",
                self.workspace.display()
            ));
        }
        match v.decision {
            Decision::Ask => Answer::Ask(explain(&v)),
            _ => Answer::Pass,
        }
    }

    /// A file the agent would read, or a directory it would search: the store is off limits,
    /// and credentials in the home need a human (what the agent reads goes to its model's
    /// provider: it has left the machine).
    fn read(&self, path: &Path, cwd: &Path) -> Answer {
        strictest(
            self.landings(path, cwd)
                .iter()
                .map(|real| self.read_at(real, cwd)),
        )
    }

    /// A read that lands at `abs`.
    fn read_at(&self, abs: &Path, cwd: &Path) -> Answer {
        if self.in_store(abs) {
            return Answer::Deny(format!(
                "ftsb-fs: {} is inside ftsb-fs's store [hook.protected_path]; instead: read the workspace, or `ftsb-fs diff` for what changed",
                abs.display()
            ));
        }
        let above_home = self.home.as_ref().is_some_and(|h| h.starts_with(abs));
        // A process's environment holds its keys (the harness's own API key among them).
        let environ = abs.starts_with("/proc") && abs.file_name().is_some_and(|n| n == "environ");
        if above_home || environ || ftsb_gate::reads_credentials(abs, &self.ctx(cwd)) {
            return Answer::Ask(format!(
                "ftsb-fs: {} holds credentials, and what the agent reads is sent to its model's provider [hook.read_credentials]; instead: ask the user for what you need from it",
                abs.display()
            ));
        }
        Answer::Pass
    }

    /// An MCP tool: its command-like arguments are judged as shell lines (a string, an argv
    /// array, or a program with an `args` array beside it) and its path-like arguments as
    /// files it may write; anything else is the harness's business.
    fn mcp(&self, name: &str, input: &Value, cwd: &Path) -> Answer {
        let mut answers = Vec::new();
        self.mcp_value(input, None, cwd, &mut answers);
        match strictest(answers) {
            Answer::Deny(r) => Answer::Deny(format!("{r} (in MCP tool {name})")),
            Answer::Ask(r) => Answer::Ask(format!("{r} (in MCP tool {name})")),
            _ => Answer::Pass,
        }
    }

    /// Judges one value of an MCP tool's arguments, found under `key`.
    fn mcp_value(&self, v: &Value, key: Option<&str>, cwd: &Path, out: &mut Vec<Answer>) {
        let key_is = |f: fn(&str) -> bool| key.is_some_and(|k| f(&k.to_ascii_lowercase()));
        match v {
            // Arguments handed over as JSON text (Cline's `arguments`) are those arguments.
            Value::String(s) if let Some(inner) = json_text(s) => match inner {
                Ok(inner) => self.mcp_value(&inner, key, cwd, out),
                Err(e) => out.push(Answer::Deny(format!(
                    "ftsb-fs: an argument's JSON text can be read two ways ({e}) [hook.ambiguous_json]; instead: name each key once"
                ))),
            },
            Value::String(s) if key_is(command_key) => out.push(self.mcp_command(s, cwd)),
            Value::String(s) => {
                let path = as_path(s).or_else(|| key_is(path_key).then_some(s.as_str()));
                if let Some(s) = path {
                    let p = match (s.strip_prefix("~/"), &self.home) {
                        (Some(rest), Some(h)) => h.join(rest),
                        _ => PathBuf::from(s),
                    };
                    out.push(self.write(&p, cwd));
                }
            }
            Value::Array(a) => {
                if key_is(command_key) && !a.is_empty() && a.iter().all(Value::is_string) {
                    // An argv: `{"command": ["rm", "-rf", "~"]}`.
                    out.push(self.mcp_command(&quote_argv(&strings(a)), cwd));
                }
                a.iter().for_each(|x| self.mcp_value(x, key, cwd, out));
            }
            Value::Object(o) => {
                // A program and its arguments side by side: `{"command": "rm", "args": [...]}`.
                let program = o.iter().find(|(k, _)| command_key(&k.to_ascii_lowercase()));
                let args = o.iter().find(|(k, _)| {
                    matches!(
                        k.to_ascii_lowercase().as_str(),
                        "args" | "argv" | "arguments"
                    )
                });
                if let (Some((_, Value::String(p))), Some((_, Value::Array(a)))) = (program, args) {
                    let mut argv = vec![p.clone()];
                    argv.extend(strings(a));
                    out.push(self.mcp_command(&quote_argv(&argv), cwd));
                }
                o.iter()
                    .for_each(|(k, x)| self.mcp_value(x, Some(k), cwd, out));
            }
            _ => {}
        }
    }

    /// A command an MCP server runs: the server runs it, not the agent's shell, so there is
    /// nothing to route through `exec`.
    fn mcp_command(&self, line: &str, cwd: &Path) -> Answer {
        match self.shell(line, cwd) {
            Answer::Rewrite { .. } => Answer::Pass,
            a => a,
        }
    }

    /// Why the agent may never write `p`, if so.
    fn forbidden(&self, p: &Path) -> Option<String> {
        if self.in_store(p) {
            return Some("the agent may not write ftsb-fs's store".into());
        }
        if self.policy.as_deref() == Some(p) {
            return Some("the agent may not change its own exec policy".into());
        }
        if let Some(m) = &self.mount
            && m.view != m.workspace
            && p.starts_with(&m.workspace)
        {
            return Some(format!(
                "writing the workspace {} directly bypasses its view {}",
                m.workspace.display(),
                m.view.display()
            ));
        }
        if let Some(rel) = self.home.as_ref().and_then(|h| p.strip_prefix(h).ok()) {
            if rel.starts_with(".ssh") {
                return Some("changing ~/.ssh grants or redirects remote access".into());
            }
            if ftsb_gate::runs_at_shell_start(rel) {
                return Some(
                    "changing shell start-up files runs code in every future shell".into(),
                );
            }
        }
        let names: Vec<_> = p.components().collect();
        for (i, c) in names.iter().enumerate() {
            if c.as_os_str() == ".git" {
                match names.get(i + 1).map(|n| n.as_os_str()) {
                    Some(n) if n == "hooks" => {
                        return Some("git hooks run code at the user's next git command".into());
                    }
                    Some(n) if n == "config" && i + 2 == names.len() => {
                        return Some(
                            "a repository's config can make git run arbitrary programs".into(),
                        );
                    }
                    _ => {}
                }
            }
        }
        None
    }

    /// What protected place a command line names literally, if any: a store or the policy.
    fn names_protected(&self, line: &str, cwd: &Path) -> Option<&'static str> {
        let mut stores: Vec<String> = vec![".local/state/ftsb-fs".into()];
        stores.extend(
            self.stores()
                .iter()
                .map(|s| s.to_string_lossy().into_owned()),
        );
        if stores.iter().any(|s| line.contains(s.as_str())) {
            return Some("ftsb-fs's store");
        }
        // The policy by its absolute path, relative to the cwd or the workspace, or to the
        // home (`~/`, `$HOME/`, `${HOME}/`).
        let policy = self.policy.as_deref()?;
        let mut names = vec![policy.to_path_buf()];
        for base in [cwd, self.workspace.as_path()] {
            if let Ok(rel) = policy.strip_prefix(base) {
                names.push(rel.to_path_buf());
            }
        }
        if let Some(rel) = self.home.as_ref().and_then(|h| policy.strip_prefix(h).ok()) {
            names.extend(["~", "$HOME", "${HOME}"].map(|h| Path::new(h).join(rel)));
        }
        names
            .iter()
            .any(|n| !n.as_os_str().is_empty() && line.contains(n.to_string_lossy().as_ref()))
            .then_some("the exec policy")
    }

    /// The daemon's store and where stores live by default.
    fn stores(&self) -> Vec<PathBuf> {
        let mut stores: Vec<PathBuf> = self.mount.iter().map(|m| m.store.clone()).collect();
        if let Some(s) = std::env::var_os("XDG_STATE_HOME").filter(|s| !s.is_empty()) {
            stores.push(PathBuf::from(s).join("ftsb-fs"));
        }
        if let Some(h) = &self.home {
            stores.push(h.join(".local/state/ftsb-fs"));
        }
        stores
            .iter()
            .map(|s| resolve_links(&normalize(s)))
            .collect()
    }

    /// Whether `p` is in the daemon's store or where stores live by default.
    fn in_store(&self, p: &Path) -> bool {
        self.stores().iter().any(|s| p.starts_with(s))
    }

    fn inside_workspace(&self, p: &Path) -> bool {
        p.starts_with(&self.workspace)
            || self.mount.as_ref().is_some_and(|m| p.starts_with(&m.view))
    }

    /// `p` made absolute against `cwd` (and `~/` against the home), without `.` or `..`.
    fn resolve(&self, p: &Path, cwd: &Path) -> PathBuf {
        normalize(&self.absolute(p, cwd))
    }

    /// `p` made absolute against `cwd` (and `~/` against the home), `..` and all.
    fn absolute(&self, p: &Path, cwd: &Path) -> PathBuf {
        match (p.strip_prefix("~"), &self.home) {
            (Ok(rest), Some(h)) => h.join(rest),
            _ => cwd.join(p),
        }
    }

    /// Where a file tool's `p` lands: with its `..` taken lexically (as a harness that
    /// normalizes the path first opens it) or after the symlinks before them (as the kernel
    /// takes the path as given), symlinks resolved either way.
    fn landings(&self, p: &Path, cwd: &Path) -> Vec<PathBuf> {
        let mut at = vec![resolve_links(&self.resolve(p, cwd))];
        let raw = resolve_links(&self.absolute(p, cwd));
        if raw != at[0] {
            at.push(raw);
        }
        at
    }
}

/// The gate with the hook rules added to the user's policy (or to the default one).
pub fn load_gate(policy: Option<&Path>) -> Result<Gate, Reason> {
    let user = match policy {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| format!("cannot read policy {}: {e}", p.display()))?,
        None => String::new(),
    };
    let mut file = tempfile::Builder::new()
        .prefix("ftsb-fs-hook-policy-")
        .suffix(".toml")
        .tempfile()
        .map_err(|e| format!("cannot write the hook policy: {e}"))?;
    // The user's text first, so its line numbers stay right in any error.
    std::io::Write::write_all(&mut file, format!("{user}\n{HOOK_RULES}").as_bytes())
        .map_err(|e| format!("cannot write the hook policy: {e}"))?;
    match Gate::load(Some(file.path())) {
        Ok(g) => Ok(g),
        // Report the user's own file and line where the fault is theirs.
        Err(e) => Err(match policy.map(|p| Gate::load(Some(p))) {
            Some(Err(user_err)) => user_err.to_string(),
            _ => format!("the hook rules do not load over this policy: {e}"),
        }),
    }
}

/// Asks the daemon of `dir` (a workspace, its view, or a directory in either: the agent may
/// be started below the root) where its view and store are.
/// No daemon means not mounted; a daemon that answers wrongly is an error.
fn find_mount(dir: &Path) -> Result<Option<Mount>, Reason> {
    let (ws, mut client) = match dir.ancestors().find_map(crate::daemon::mounted_workspace) {
        // A view whose daemon cannot be reached (dead, or walled off) cannot route commands
        // through `exec`: letting them run unrouted would fail open.
        Some(ws) => match Client::connect(&ws) {
            Ok(c) => (ws, c),
            Err(e) => {
                return Err(format!(
                    "{} is in a mounted view but its daemon cannot be reached ({e})",
                    dir.display()
                ));
            }
        },
        // A workspace mounted elsewhere (`--at`) is found by its daemon's socket.
        None => match dir
            .ancestors()
            .find_map(|a| Client::connect(a).ok().map(|c| (a.to_owned(), c)))
        {
            Some(found) => found,
            None => return Ok(None),
        },
    };
    let info: crate::control::reply::Info = client.call(&Request::Info).map_err(|e| {
        format!(
            "the daemon of {} does not say where its view is: {e}",
            ws.display()
        )
    })?;
    Ok(Some(Mount {
        workspace: normalize(&info.workspace),
        view: normalize(&info.view),
        store: normalize(&info.store),
    }))
}

/// The verdict in one line a model can act on: the reason, the rule, a safer way.
fn explain(v: &Verdict) -> String {
    let mut s = format!("ftsb-fs gate: {}", v.reason);
    if let Some(r) = &v.rule {
        s.push_str(&format!(" [{r}]"));
    }
    match (&v.alternative, v.decision) {
        (Some(a), _) => s.push_str(&format!("; instead: {a}")),
        // A refusal always says what to do instead.
        (None, Decision::Deny) => s.push_str(
            "; instead: find a way that stays inside the workspace, or ask the user to run it",
        ),
        (None, _) => {}
    }
    s
}

/// The strictest of several answers (deny over ask over anything else); the first wins ties.
pub fn strictest(answers: impl IntoIterator<Item = Answer>) -> Answer {
    let rank = |a: &Answer| match a {
        Answer::Deny(_) => 2,
        Answer::Ask(_) => 1,
        _ => 0,
    };
    let mut best = Answer::Pass;
    for a in answers {
        if rank(&a) > rank(&best) {
            best = a;
        }
    }
    best
}

/// The path a string argument names: absolute, `~/...`, or a `file://` URI.
fn as_path(s: &str) -> Option<&str> {
    let s = s.strip_prefix("file://").unwrap_or(s);
    (s.starts_with('/') || s.starts_with("~/")).then_some(s)
}

/// An MCP argument name that holds a command (`command`, `cmd`, `shellCommand`, `script`).
fn command_key(k: &str) -> bool {
    k.contains("command")
        || k.contains("cmd")
        || matches!(k, "shell" | "script" | "bash" | "sh" | "exec")
}

/// An MCP argument name that holds a path, relative ones included (`path`, `file_path`,
/// `destination`, `outputDir`).
fn path_key(k: &str) -> bool {
    ["path", "file", "filename", "dir", "directory", "folder"]
        .iter()
        .any(|s| k.ends_with(s))
        || matches!(
            k,
            "destination" | "dest" | "target" | "output" | "to" | "uri"
        )
}

/// The object or array a string holds as JSON text, if it does; an error where an object in
/// it repeats a key (which of the values the server reads is its parser's choice).
fn json_text(s: &str) -> Option<Result<Value, serde_json::Error>> {
    let t = s.trim_start();
    if !t.starts_with(['{', '[']) {
        return None;
    }
    serde_json::from_str::<Value>(t)
        .ok()
        .filter(|v| v.is_object() || v.is_array())?;
    Some(super::strict::parse(t.as_bytes()))
}

/// The strings of a JSON array (others are skipped).
fn strings(a: &[Value]) -> Vec<String> {
    a.iter()
        .filter_map(|x| x.as_str().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hook_rules_load_and_their_examples_hold() {
        let gate = load_gate(None).expect("hook rules load over the default policy");
        let ctx = Context {
            cwd: "/home/dev/project".into(),
            workspace: Some("/home/dev/project".into()),
            home: Some("/home/dev".into()),
        };
        for line in [
            "ftsb-fs commit",
            "fusermount3 -u /x",
            "umount /x",
            "sudo ftsb-fs abort",
        ] {
            assert_eq!(gate.judge(line, &ctx).decision, Decision::Deny, "{line}");
        }
        assert_eq!(gate.judge("ftsb-fs diff", &ctx).decision, Decision::Allow);
    }

    #[test]
    fn strictest_prefers_deny_then_ask() {
        let a = strictest([
            Answer::Pass,
            Answer::Ask("a".into()),
            Answer::Deny("d".into()),
            Answer::Ask("b".into()),
        ]);
        assert_eq!(a, Answer::Deny("d".into()));
        assert_eq!(strictest([]), Answer::Pass);
    }
}
