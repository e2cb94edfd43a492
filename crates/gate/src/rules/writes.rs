//! Write targets: redirections, `tee`, `dd of=`, copy and move destinations, `sed -i` files.
//!
//! Owns which places may never be written from the workspace: block devices, system
//! directories (`/etc`, `/boot`, `/usr`, `/sys`, `/proc/sys`, ...), shell start-up files,
//! `~/.ssh`, cron and systemd directories, and `/dev/tcp` (a network connection).
//! A write into a git directory's hooks or config is persistence; any other write outside
//! the workspace and the scratch directories is `syswrite.outside` (ask), because the view
//! cannot undo it. Writes inside are left to the transactional view.

use super::Cmd;
use crate::args::{Spec, parse};
use crate::paths::{Class, RC_FILES};
use crate::walk::{Analyzer, Scope};
use crate::words::Field;

/// Records a hit when `f` is a protected write target; `via` names the writer.
pub(crate) fn check_write(an: &mut Analyzer<'_>, scope: &Scope, f: &Field, via: &str) {
    let abs = an.paths.abs(&f.text, scope);
    let class = an.paths.classify_abs(&abs, false);
    let rule = match class {
        Class::NetDev => "rce.dev_tcp",
        Class::Device => "disk.write_device",
        Class::Root | Class::System => system_rule(&abs),
        Class::HomeSensitive => home_rule(&abs, an.paths.home.as_deref().unwrap_or("~")),
        Class::Git if git_runs(&abs) => "persist.git",
        // Outside the workspace and the scratch space the view cannot undo a write.
        Class::Home | Class::HomeChild | Class::Ancestor | Class::Outside => "syswrite.outside",
        _ => return,
    };
    let shown = super::super::words::display(std::slice::from_ref(f));
    an.hit_plain(rule, scope, &format!("{via} > {shown}"), Some(abs));
}

/// Files in a repository's git directory that make git run programs: hooks, and the
/// config file (whose command-valued keys a plain write cannot be told apart from).
fn git_runs(abs: &str) -> bool {
    let Some((_, rel)) = abs.split_once("/.git/") else {
        return false;
    };
    rel == "config" || rel.starts_with("hooks/") || rel == "hooks"
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
    } else if RC_FILES.contains(&rel) || rel.starts_with(".config/fish") {
        "persist.rc"
    } else {
        "syswrite.home_sensitive"
    }
}

/// `tee FILE...` writes each file.
pub(crate) fn tee(c: &mut Cmd<'_, '_>) {
    let a = parse(c.args(), Spec::new("", &["output-error"]));
    for f in &a.operands {
        check_write(c.an, c.scope, f, "tee");
    }
}
