//! The rule families: what one unwrapped simple command would do, judged by its arguments.
//!
//! Owns the dispatch from a normalized program name to its family (`fs`, `git`, `system`,
//! `net`, `writes`, and interpreters in [`super::interp`]), the policy's own rules, and
//! the static output of a command (what the next command of a pipeline reads).
//! Family functions only record hits; the policy turns rule ids into decisions.
//!
//! It does not unwrap wrappers or parse the line: that is done before a command gets here.

pub(crate) mod fs;
pub(crate) mod git;
pub(crate) mod net;
pub(crate) mod output;
pub(crate) mod system;
pub(crate) mod writes;

use super::paths::Class;
use super::unwrap::Program;
use super::walk::{Analyzer, Io, Scope, Stream};
use super::words::Field;

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
            Some(real) => self
                .an
                .paths
                .classify_abs(&crate::paths::normalize(&real), f.glob),
            None => self.an.paths.classify(&f.text, f.glob, self.scope),
        }
    }

    pub fn abs(&self, f: &Field) -> String {
        self.an.paths.abs(&f.text, self.scope)
    }

    /// Judges `text` as a shell line this command runs (`tar --checkpoint-action=exec=...`).
    pub fn nested(&mut self, label: &str, text: &Field) {
        super::unwrap::nested_line(self.an, label, text, Stream::default(), self.scope);
    }
}

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
    super::generic::probe(c.an, prog, fields, io, scope);
    let name = prog.name.as_str();
    match name {
        "rm" | "rmdir" | "unlink" | "shred" | "truncate" | "srm" | "wipe" => fs::delete(&mut c),
        "mv" | "cp" | "install" | "ln" => fs::copy_move(&mut c),
        "dd" => fs::dd(&mut c),
        "chmod" | "chown" | "chgrp" | "setfacl" | "chattr" => fs::perms(&mut c),
        "rsync" | "scp" => fs::rsync(&mut c),
        "unzip" | "tar" | "7z" | "cpio" => fs::extract(&mut c),
        "tee" => writes::tee(&mut c),
        "git" => git::git(&mut c),
        "gh" => git::gh(&mut c),
        "curl" | "wget" | "nc" | "ncat" | "netcat" | "socat" | "telnet" | "http" | "https"
        | "xh" | "aria2c" => net::net(&mut c),
        "sed" | "awk" | "gawk" | "mawk" | "nawk" | "perl" | "python" | "pypy" | "ruby" | "node"
        | "deno" | "bun" | "php" | "lua" | "Rscript" | "osascript" | "jq" | "pwsh"
        | "powershell" => super::interp::judge(&mut c),
        _ => system::system(&mut c),
    }
    secret_read(&mut c);
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
    if super::generic::secret_source(name, c.args())
        || super::generic::code_reads_secret(c.an, name, c.args(), scope)
    {
        out.taint.secret = true;
        out.taint.stored = true;
    }
    c.an.policy
        .custom_rules(c.an, prog, fields, scope, first_hit);
    out
}

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
