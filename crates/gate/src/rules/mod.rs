//! The rule families: what one unwrapped simple command would do, judged by its arguments.
//!
//! Owns the dispatch from a normalized program name to its family (`fs`, `git`, `system`,
//! `net`, `writes`, and interpreters in [`super::interp`]), the policy's own rules, and
//! the static output of a command (what the next command of a pipeline reads).
//! Family functions only record hits; the policy turns rule ids into decisions.
//!
//! It does not unwrap wrappers or parse the line: that is done before a command gets here.

pub(crate) mod container;
pub(crate) mod fs;
pub(crate) mod git;
pub(crate) mod git_files;
pub(crate) mod net;
pub(crate) mod output;
pub(crate) mod system;

use crate::analyzer::Analyzer;
use crate::cmd::{Cmd, tee};
use crate::decision::Decision;
use crate::field::Field;
use crate::paths::Program;
use crate::state::{Io, Scope, Stream};

/// Judges one unwrapped simple command and returns what it writes to stdout.
pub(crate) fn judge(
    an: &mut Analyzer<'_>,
    prog: &Program,
    fields: &[Field],
    io: &Io,
    scope: &Scope,
) -> Stream {
    let first_hit = an.hits.len();
    let mut c = Cmd {
        an,
        scope,
        fields,
        io,
        prog,
    };
    let name = prog.name.as_str();
    let family = FAMILIES.iter().find(|(names, _)| names.contains(&name));
    let modelled = family.is_some() || system::knows(name);
    super::generic::probe(c.an, prog, fields, io, scope, modelled);
    match family {
        Some((_, handler)) => handler(&mut c),
        None => system::system(&mut c),
    }
    secret_read(&mut c);
    fs::removed_sources(&mut c);
    let mut out = output::output(&mut c);
    out.endless |= io.stdin.endless && crate::tables::FILTERS.contains(&name);
    // Run inside the workspace, the repository's top level is the workspace.
    let words: Vec<&str> = c.args().iter().map(|a| a.text.as_str()).collect();
    let inside = scope
        .cwd
        .as_deref()
        .is_some_and(|d| d.starts_with(c.an.paths.workspace.as_str()));
    if name == "git" && inside && words.contains(&"rev-parse") && words.contains(&"--show-toplevel")
    {
        out.text = Some(format!("{}\n", c.an.paths.workspace));
    }
    if super::generic::pid_source(name, c.args(), |f| {
        c.an.paths.classify(&f.text, false, scope)
    }) {
        out.taint.pids = true;
    }
    match system::selected_pids(&mut c) {
        Some(true) => out.taint.system_pids = true,
        Some(false) => out.taint.pids = true,
        None => {}
    }
    if super::generic::secret_source(name, c.args())
        || super::generic::code_reads_secret(c.an, name, c.args(), scope)
    {
        out.taint.secret = true;
        out.taint.stored = true;
    }
    custom_rules(c.an, prog, fields, scope, first_hit);
    out
}

/// The rule family of each program name; any other name goes to `system`.
#[allow(clippy::type_complexity)] // reason: a table of names and handlers
const FAMILIES: &[(&[&str], fn(&mut Cmd<'_, '_>))] = &[
    (
        &["rm", "rmdir", "unlink", "shred", "truncate", "srm", "wipe"],
        fs::delete,
    ),
    (&["mv", "cp", "install", "ln", "link"], fs::copy_move),
    (&["dd"], fs::dd),
    (&["chmod", "chown", "chgrp", "setfacl", "chattr"], fs::perms),
    (&["rsync", "scp"], fs::rsync),
    (&["unzip", "tar", "7z", "cpio"], fs::extract),
    (&["tee", "sponge"], tee),
    (&["git"], git::git),
    (&["gh"], git::gh),
    (
        &[
            "curl", "wget", "nc", "ncat", "netcat", "socat", "telnet", "http", "https", "xh",
            "aria2c",
        ],
        net::net,
    ),
    (
        &[
            "sed",
            "awk",
            "gawk",
            "mawk",
            "nawk",
            "perl",
            "python",
            "pypy",
            "ruby",
            "node",
            "deno",
            "bun",
            "php",
            "lua",
            "Rscript",
            "osascript",
            "jq",
            "pwsh",
            "powershell",
        ],
        super::interp::judge,
    ),
];

/// Reading the password database needs root and yields hashes to crack.
fn secret_read(c: &mut Cmd<'_, '_>) {
    if !matches!(
        c.prog.name.as_str(),
        "cat"
            | "less"
            | "more"
            | "head"
            | "tail"
            | "cp"
            | "grep"
            | "base64"
            | "xxd"
            | "strings"
            | "tac"
            | "nl"
            | "od"
    ) {
        return;
    }
    let hit = c.args().iter().any(|a| {
        matches!(
            c.abs(a).as_str(),
            "/etc/shadow" | "/etc/gshadow" | "/etc/master.passwd"
        )
    });
    if hit {
        c.hit("exfil.shadow", None);
    }
}

/// Applies the policy file's own rules to one unwrapped command. An `allow` rule on a
/// trusted program removes the hits recorded for that command since `first_hit`.
fn custom_rules(
    an: &mut Analyzer<'_>,
    prog: &Program,
    fields: &[Field],
    scope: &Scope,
    first_hit: usize,
) {
    let policy = an.policy;
    for id in policy.custom_matches(&prog.name, fields) {
        if policy.decision_of(id) == Decision::Allow {
            if prog.trusted {
                an.hits.truncate(first_hit);
            }
            continue;
        }
        an.hit(id, scope, fields, None);
    }
}
