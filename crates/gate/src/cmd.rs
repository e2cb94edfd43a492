//! What a rule sees of the command it judges ([`Cmd`]), the judgement of write targets
//! ([`check_write`]), and the two ways a rule hands a nested command back to the gate
//! ([`inner`], [`nested_line`]).
//!
//! Owns which places may never be written from the workspace: block devices, system
//! directories (`/etc`, `/boot`, `/usr`, `/sys`, `/proc/sys`, ...), shell start-up files,
//! `~/.ssh`, cron and systemd directories, and `/dev/tcp` (a network connection).
//! A write into a git directory's hooks or config is persistence; any other write outside
//! the workspace and the scratch directories is `syswrite.outside` (ask), because the view
//! cannot undo it. Writes inside are left to the transactional view.
//!
//! It sits below every rule family (`sed`, `interp`, `generic`, `rules`, `fanout`,
//! `unwrap`), so they share it without importing each other.

use crate::analyzer::Analyzer;
use crate::args::{Spec, parse};
use crate::field::{Field, display};
use crate::paths::{Class, Program, agent_code, agent_settings, normalize, shell_start_up};
use crate::state::{Io, Scope, Stream};

/// What rules see of the command being judged.
pub(crate) struct Cmd<'x, 'a> {
    pub an: &'x mut Analyzer<'a>,
    pub scope: &'x Scope,
    pub fields: &'x [Field],
    pub io: &'x Io,
    pub prog: &'x Program,
}

impl Cmd<'_, '_> {
    pub fn args(&self) -> &[Field] {
        &self.fields[1..]
    }

    pub fn hit(&mut self, rule: &str, detail: Option<String>) {
        self.an.hit(rule, self.scope, self.fields, detail);
    }

    pub fn class(&self, f: &Field) -> Class {
        // The link itself (`rm link`) is the link; `link/` and below are the target.
        let abs = self.abs(f);
        let follows =
            |rest: &str| rest.starts_with('/') || rest.is_empty() && f.text.ends_with('/');
        let through = self.an.links.iter().rev().find_map(|(link, target)| {
            let rest = abs.strip_prefix(link.as_str())?;
            follows(rest).then(|| format!("{target}{rest}"))
        });
        match through {
            Some(real) => self.an.paths.classify_abs(&normalize(&real), f.glob),
            None => self.an.paths.classify(&f.text, f.glob, self.scope),
        }
    }

    pub fn abs(&self, f: &Field) -> String {
        self.an.paths.abs(&f.text, self.scope)
    }

    /// Judges `text` as a shell line this command runs (`tar --checkpoint-action=exec=...`);
    /// it inherits the command's stdin (`... | python3 -c "os.system('sh')"`).
    pub fn nested(&mut self, label: &str, text: &Field) {
        let stdin = self.io.stdin.clone();
        nested_line(self.an, label, text, stdin, self.scope);
    }
}

/// Judges `inner` as the command a wrapper runs.
pub(crate) fn inner(
    an: &mut Analyzer<'_>,
    label: &str,
    inner: &[Field],
    io: &Io,
    scope: &Scope,
    privileged: bool,
) -> Stream {
    let mut s = scope.clone();
    s.wrappers.push(label.to_owned());
    s.privileged |= privileged;
    s.depth += 1;
    an.dispatch(inner.to_vec(), io, &mut s)
}

/// Judges `text` as a shell line run by a wrapper.
pub(crate) fn nested_line(
    an: &mut Analyzer<'_>,
    label: &str,
    text: &Field,
    stdin: Stream,
    scope: &Scope,
) -> Stream {
    let mut s = scope.clone();
    s.wrappers.push(label.to_owned());
    s.depth += 1;
    if text.taint.hidden_code() {
        // Decoded or downloaded code never runs, even when the gate can read it.
        an.hit("rce.decoded_exec", &s, std::slice::from_ref(text), None);
    }
    if !text.known {
        if !text.taint.hidden_code() {
            an.hit("gate.dynamic_code", &s, std::slice::from_ref(text), None);
        }
        return Stream::default();
    }
    an.run_line(&text.text, &mut s, stdin)
}

/// Judges `text` as a shell line run in the current shell (`eval`, `source`, a `DEBUG`
/// trap): its assignments and `cd` carry to the rest of the line.
pub(crate) fn nested_here(
    an: &mut Analyzer<'_>,
    label: &str,
    text: &Field,
    stdin: Stream,
    scope: &mut Scope,
) -> Stream {
    if !text.known || text.taint.hidden_code() {
        return nested_line(an, label, text, stdin, scope);
    }
    scope.wrappers.push(label.to_owned());
    scope.depth += 1;
    let out = an.run_line(&text.text, scope, stdin);
    scope.depth -= 1;
    scope.wrappers.pop();
    out
}

/// What a path that names an input of the command reads: its stdin (`/dev/stdin`,
/// `/dev/fd/0`), or a descriptor opened earlier on the line (`/dev/fd/3` after `3<<< TEXT`).
pub(crate) fn opened_input(f: &Field, io: &Io, scope: &Scope) -> Option<Stream> {
    let n = ["/dev/fd/", "/proc/self/fd/"]
        .iter()
        .find_map(|p| f.text.strip_prefix(p))
        .or((f.text == "/dev/stdin").then_some("0"))?;
    match n {
        "0" => Some(io.stdin.clone()),
        _ => scope.fds.get(n).cloned(),
    }
}

/// A file edited in place (`sed -i`, `perl -pi`, `awk -i inplace`): a write, after which
/// the file holds what `edit` makes of the text the line wrote there, or something the gate
/// cannot see (running it later on the line is then `ask`, as for any unseen script).
pub(crate) fn edit_in_place(
    an: &mut Analyzer<'_>,
    scope: &Scope,
    f: &Field,
    via: &str,
    edit: &dyn Fn(&str) -> Option<String>,
) {
    check_write(an, scope, f, via);
    let abs = an.paths.abs(&f.text, scope);
    let before = an.written_at(&abs).unwrap_or_default();
    let after = Stream {
        text: before.text.as_deref().and_then(edit),
        taint: before.taint,
        ..Stream::default()
    };
    an.written.push((abs, after));
}

/// Records a hit when `f` is a protected write target; `via` names the writer.
pub(crate) fn check_write(an: &mut Analyzer<'_>, scope: &Scope, f: &Field, via: &str) {
    let abs = through_links(an, an.paths.abs(&f.text, scope));
    // A copy into a scratch directory itself (`cp x /tmp/`) lands inside it.
    if matches!(abs.trim_end_matches('/'), "/tmp" | "/var/tmp" | "/dev/shm") {
        return;
    }
    let class = an.paths.classify_abs(&abs, false);
    let hooks = an.hooks_dirs.iter().any(|d| {
        abs.strip_prefix(d.as_str())
            .is_some_and(|r| r.starts_with('/'))
    });
    let rule = match class {
        _ if hooks => "persist.git",
        Class::NetDev => "rce.dev_tcp",
        Class::Device => "disk.write_device",
        Class::Root | Class::System => system_rule(&abs),
        Class::HomeSensitive if agent_settings_path(an, &abs) => "persist.agent",
        Class::HomeSensitive => home_rule(&abs, an.paths.home.as_deref().unwrap_or("~")),
        Class::Git if git_runs(&abs) => "persist.git",
        _ if agent_code(&abs) => "persist.agent_code",
        // Outside the workspace and the scratch space the view cannot undo a write.
        Class::Home | Class::HomeChild | Class::Ancestor | Class::Outside => "syswrite.outside",
        _ => return,
    };
    let shown = display(std::slice::from_ref(f));
    an.hit_plain(rule, scope, &format!("{via} > {shown}"), Some(abs));
}

/// A path written through a link made earlier on the line (`ln -s ~/.bashrc l; echo >> l`,
/// or a hard link) is a write to what the link reaches.
fn through_links(an: &Analyzer<'_>, abs: String) -> String {
    let real = an.links.iter().rev().find_map(|(link, target)| {
        let rest = abs.strip_prefix(link.as_str())?;
        (rest.is_empty() || rest.starts_with('/')).then(|| format!("{target}{rest}"))
    });
    real.map_or(abs, |r| normalize(&r))
}

/// An agent's hook or permission settings, in the workspace or the home.
fn agent_settings_path(an: &Analyzer<'_>, abs: &str) -> bool {
    let roots = [Some(an.paths.workspace.as_str()), an.paths.home.as_deref()];
    roots.into_iter().flatten().any(|root| {
        abs.strip_prefix(root)
            .and_then(|r| r.strip_prefix('/'))
            .is_some_and(agent_settings)
    })
}

/// Files in a repository's git directory that make git run programs: hooks, and the
/// config file (whose command-valued keys a plain write cannot be told apart from), of the
/// repository or of a submodule's (`.git/modules/NAME/hooks/...`) or worktree's.
fn git_runs(abs: &str) -> bool {
    let Some((_, mut rel)) = abs.split_once("/.git/") else {
        return false;
    };
    while let Some(r) = rel
        .strip_prefix("modules/")
        .or_else(|| rel.strip_prefix("worktrees/"))
    {
        // `modules/NAME/` (submodules nest: `modules/a/modules/b/`).
        let Some((_, below)) = r.split_once('/') else {
            return false;
        };
        rel = below;
    }
    matches!(rel, "config" | "config.worktree" | "hooks") || rel.starts_with("hooks/")
}

fn system_rule(abs: &str) -> &'static str {
    if abs.starts_with("/etc/cron")
        || abs.starts_with("/var/spool/cron")
        || abs.starts_with("/etc/anacrontab")
    {
        "persist.cron"
    } else if abs.contains("/systemd/")
        || abs.starts_with("/etc/init.d")
        || abs.starts_with("/etc/rc")
    {
        "persist.systemd"
    } else if abs.starts_with("/etc/sudoers")
        || abs == "/etc/passwd"
        || abs == "/etc/shadow"
        || abs == "/etc/group"
    {
        "privesc.sudoers"
    } else if abs.starts_with("/etc/profile")
        || abs.starts_with("/etc/bash")
        || abs == "/etc/environment"
        || abs.starts_with("/etc/zsh")
    {
        "persist.rc"
    } else if abs.starts_with("/proc/sysrq") {
        "power.sysrq"
    } else {
        "syswrite.system"
    }
}

fn home_rule(abs: &str, home: &str) -> &'static str {
    let rel = abs
        .strip_prefix(home)
        .unwrap_or(abs)
        .trim_start_matches('/');
    if rel.starts_with(".ssh") {
        "persist.ssh"
    } else if rel.contains("systemd") || rel.contains("autostart") || rel.contains("Launch") {
        "persist.systemd"
    } else if rel.starts_with(".git") {
        "persist.git"
    } else if shell_start_up(rel) {
        "persist.rc"
    } else {
        "syswrite.home_sensitive"
    }
}

/// `tee FILE...` and `sponge FILE` write each file with their stdin.
pub(crate) fn tee(c: &mut Cmd<'_, '_>) {
    let a = parse(c.args(), Spec::new("", &["output-error"]));
    let stdin = c.io.stdin.clone();
    for f in &a.operands {
        check_write(c.an, c.scope, f, "tee");
        // What tee copies into a file is what the line reads back from it later.
        if f.known {
            let abs = c.abs(f);
            c.an.written.push((abs, stdin.clone()));
        }
    }
}
