//! git configuration files that exist before the line runs: the files `GIT_CONFIG_GLOBAL`,
//! `GIT_CONFIG_SYSTEM` and `GIT_CONFIG` name (and the global file of a `HOME` or
//! `XDG_CONFIG_HOME` the line sets), the repository's own `config`, and the files they
//! include.
//!
//! Owns the gate's only reads of the filesystem: a small regular file named on the line or
//! found as the repository's configuration is read (at most [`MAX_FILE`] bytes; never a
//! device, a FIFO, or a file under `/proc`, `/sys` or `/dev`, also through a link), and a
//! command-valued key found there is judged like `git -c KEY=VALUE` when the line runs git
//! with that file. A file git would read that the gate cannot (too big, not a regular file,
//! unreadable, or its name unknown) is `ask`; a file that does not exist holds nothing.
//! Settings already on disk are not new persistence: an include is followed, an alias is
//! expanded where a command names it, a hooks directory in the workspace is one.

use std::io::Read as _;

use crate::analyzer::Analyzer;
use crate::cmd::Cmd;
use crate::field::{Field, UNKNOWN};
use crate::generic::{
    command, git_config, git_ext_remotes, git_file, git_pairs, hooks_dir, insteadof_url, is_include,
};
use crate::paths::{Class, normalize};
use crate::state::Scope;
use crate::tables::GIT_COMMAND_KEYS;
use crate::text::glob_match;

/// Largest configuration file the gate reads.
pub(crate) const MAX_FILE: u64 = 256 * 1024;
/// Most configuration files read for one git command, includes followed (git's own bound
/// on the depth of includes is 10): past it, the command is `ask`.
const MAX_FILES: usize = 16;
/// Variables naming a configuration file every git command reads, with the file's path
/// below the value; `HOME` and `XDG_CONFIG_HOME` count only when the line sets them.
const CONFIG_VARS: &[(&str, &str)] = &[
    ("GIT_CONFIG_GLOBAL", ""),
    ("GIT_CONFIG_SYSTEM", ""),
    ("GIT_CONFIG", ""),
    ("HOME", "/.gitconfig"),
    ("XDG_CONFIG_HOME", "/git/config"),
];
/// Where no configuration file is read from: devices and kernel files.
const NEVER_READ: &[&str] = &["/proc", "/sys", "/dev"];

/// What reading a file gave.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Read {
    /// No such file: git reads nothing from it.
    Missing,
    Text(String),
    /// Why the gate cannot read it.
    Unreadable(&'static str),
}

/// Reads a small regular file, never a device or a kernel file (also through a link).
pub(crate) fn read_small(path: &str) -> Read {
    if path == "/dev/null" {
        return Read::Text(String::new());
    }
    let under = |p: &str| {
        NEVER_READ
            .iter()
            .any(|d| p == *d || p.starts_with(&format!("{d}/")))
    };
    if under(path) {
        return Read::Unreadable("a device or kernel file");
    }
    // One look, through any link; the file opened is looked at again.
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Read::Missing,
        Err(_) => return Read::Unreadable("cannot be read"),
    };
    if let Some(why) = refused(&meta) {
        return Read::Unreadable(why);
    }
    let mut bytes = Vec::new();
    let read = std::fs::File::open(path).and_then(|f| match f.metadata().map(|m| refused(&m)) {
        Ok(None) => f.take(MAX_FILE + 1).read_to_end(&mut bytes),
        _ => Err(std::io::ErrorKind::InvalidInput.into()),
    });
    match read {
        Ok(n) if n as u64 > MAX_FILE => Read::Unreadable("too big to read"),
        Ok(_) => Read::Text(String::from_utf8_lossy(&bytes).into_owned()),
        Err(_) => Read::Unreadable("cannot be read"),
    }
}

/// Why a file is not read: not a regular file, too big, or on the file system of `/proc`,
/// `/sys` or `/dev` (reached through a link).
fn refused(meta: &std::fs::Metadata) -> Option<&'static str> {
    use std::os::unix::fs::MetadataExt as _;
    static KERNEL: std::sync::OnceLock<Vec<u64>> = std::sync::OnceLock::new();
    let kernel = KERNEL.get_or_init(|| {
        let dev = |d: &&str| std::fs::metadata(d).ok().map(|m| m.dev());
        NEVER_READ.iter().filter_map(dev).collect()
    });
    if kernel.contains(&meta.dev()) {
        Some("a device or kernel file")
    } else if !meta.is_file() {
        Some("not a regular file")
    } else if meta.len() > MAX_FILE {
        Some("too big to read")
    } else {
        None
    }
}

/// Judges the configuration files a git command reads: those the environment names, those
/// its `-c` pairs (`globals`, and `GIT_CONFIG_PARAMETERS`) include, and the repository's own
/// (`repo` is the `-C`/`--git-dir` directory, or the working one).
pub(crate) fn config_files(c: &mut Cmd<'_, '_>, repo: Option<&Field>, globals: &[Field]) {
    let params = c.scope.vars.get("GIT_CONFIG_PARAMETERS").map(|v| Field {
        known: v.text.is_some(),
        text: v.text.clone().unwrap_or_else(|| UNKNOWN.to_string()),
        ..Field::default()
    });
    let pairs = globals
        .windows(2)
        .filter(|w| w[0].is("-c"))
        .map(|w| &w[1])
        .chain(params.as_ref());
    let mut seen = Vec::new();
    for pair in pairs {
        for (key, file) in git_pairs(&pair.text) {
            if is_include(&key) {
                let file = Field {
                    text: file,
                    ..pair.clone()
                };
                included(c.an, c.scope, &file, &mut seen);
            }
        }
    }
    for (var, below) in CONFIG_VARS {
        let Some(value) = c.scope.vars.get(*var) else {
            continue;
        };
        match value.text.as_deref().filter(|t| !t.contains(UNKNOWN)) {
            Some(path) => {
                let abs = c.an.paths.abs(&format!("{path}{below}"), c.scope);
                named_file(c, &abs);
            }
            None => unreadable(c.an, c.scope, var, "named at run time"),
        }
    }
    let dir = match repo {
        Some(d) if d.known => Some(c.abs(d)),
        Some(_) => None,
        None => c.scope.cwd.clone(),
    };
    if let Some(config) = dir.as_deref().and_then(repository_config) {
        on_disk(c.an, c.scope, &config, &mut Vec::new());
    }
}

/// A file a variable names: an input of the command (`/dev/stdin`, a descriptor), what
/// the line wrote there, else what is on disk.
fn named_file(c: &mut Cmd<'_, '_>, abs: &str) {
    let shown = match crate::cmd::opened_input(&Field::lit(abs), c.io, c.scope) {
        // The terminal gives git nothing to read.
        Some(s) if s.text.is_none() && !s.piped && !s.taint.hidden_code() => return,
        Some(s) => Some(s),
        // A process substitution was judged where it was assigned.
        None if abs.starts_with("/dev/fd/") || abs.starts_with("/proc/self/fd/") => return,
        None => c.an.written_at(abs),
    };
    match shown.map(|s| s.text) {
        // Shown on this line: judged as `git -c` pairs, includes are persistence.
        Some(Some(text)) => {
            for (key, val) in git_file(&text) {
                git_config(c.an, c.scope, &key, &Field::lit(&val));
            }
        }
        Some(None) => unreadable(c.an, c.scope, abs, "content the gate cannot see"),
        None => on_disk(c.an, c.scope, abs, &mut Vec::new()),
    }
}

/// A configuration file on disk, with the files it includes (each read once; `seen` holds
/// those read for this command).
fn on_disk(an: &mut Analyzer<'_>, scope: &Scope, abs: &str, seen: &mut Vec<String>) {
    if seen.iter().any(|f| f == abs) {
        return;
    }
    if seen.len() >= MAX_FILES {
        return unreadable(an, scope, abs, "too many included files");
    }
    seen.push(abs.to_owned());
    let text = match read_small(abs) {
        Read::Missing => return,
        Read::Text(t) => t,
        Read::Unreadable(why) => return unreadable(an, scope, abs, why),
    };
    for (key, val) in git_file(&text) {
        let lower = key.to_ascii_lowercase();
        let v = Field::lit(&val);
        if is_include(&lower) {
            on_disk(an, scope, &beside(an, abs, &val), seen);
        } else if let Some(name) = lower.strip_prefix("alias.") {
            // Expanded where a later git command names it; a line's own aliases win.
            let alias = (name.to_owned(), val);
            if !an.git_aliases.contains(&alias) {
                an.git_aliases.insert(0, alias);
            }
        } else if lower == "core.hookspath" {
            let inside = matches!(
                an.paths.classify(&val, false, scope),
                Class::Workspace | Class::WorkspaceRoot | Class::Build
            );
            if inside {
                hooks_dir(an, scope, &v);
            }
        } else if let Some(url) = insteadof_url(&key) {
            git_ext_remotes(an, &[Field::lit(url)], scope);
        } else if lower.starts_with("remote.") && lower.ends_with("url") {
            // Not a remote changed on this line, but an `ext::` one still runs its command.
            git_ext_remotes(an, &[v], scope);
        } else if GIT_COMMAND_KEYS.iter().any(|k| glob_match(k, &lower)) {
            command(an, scope, &format!("git config {lower} ({abs})"), &v);
        }
    }
}

/// The file an include in the configuration file `abs` names (relative to `abs`'s directory).
fn beside(an: &Analyzer<'_>, abs: &str, name: &str) -> String {
    let dir = abs.rsplit_once('/').map_or("/", |(d, _)| d);
    normalize(
        &an.paths
            .abs_from(name, Some(if dir.is_empty() { "/" } else { dir })),
    )
}

/// A file included for one command (`git -c include.path=FILE`): git reads it like its own
/// configuration, so its pairs are judged like `git -c KEY=VALUE`, and the files it includes
/// in turn (each once, at most [`MAX_FILES`]). What the line wrote there is judged as
/// written; a missing file holds nothing; a name or content the gate cannot see is `ask`.
fn included(an: &mut Analyzer<'_>, scope: &Scope, f: &Field, seen: &mut Vec<String>) {
    if !f.known || f.text.contains(UNKNOWN) {
        return unreadable(an, scope, &f.text, "named at run time");
    }
    let abs = normalize(&an.paths.abs(&f.text, scope));
    if seen.contains(&abs) {
        return;
    }
    if seen.len() >= MAX_FILES {
        return unreadable(an, scope, &abs, "too many included files");
    }
    seen.push(abs.clone());
    let text = match an.written_at(&abs).map(|s| s.text) {
        Some(Some(text)) => text,
        Some(None) => return unreadable(an, scope, &abs, "content the gate cannot see"),
        None => match read_small(&abs) {
            Read::Missing => return,
            Read::Text(t) => t,
            Read::Unreadable(why) => return unreadable(an, scope, &abs, why),
        },
    };
    for (key, val) in git_file(&text) {
        if is_include(&key.to_ascii_lowercase()) {
            let next = Field::lit(&beside(an, &abs, &val));
            included(an, scope, &next, seen);
        } else {
            git_config(an, scope, &key, &Field::lit(&val));
        }
    }
}

/// The `config` file of the repository `dir` is in: `dir` itself when it is a git directory
/// (`git -C repo.git`), else the nearest `.git` directory's, or that of the `gitdir:` a
/// `.git` file names. One look per directory up to the root.
fn repository_config(dir: &str) -> Option<String> {
    if dir.contains(UNKNOWN) {
        return None;
    }
    let is = |p: String, dir: bool| std::fs::metadata(p).is_ok_and(|m| m.is_dir() == dir);
    let mut d = normalize(dir).trim_end_matches('/').to_owned();
    if is(format!("{d}/HEAD"), false) && is(format!("{d}/objects"), true) {
        return Some(format!("{d}/config"));
    }
    loop {
        let dot = format!("{d}/.git");
        match std::fs::metadata(&dot) {
            Ok(m) if m.is_dir() => return Some(format!("{dot}/config")),
            Ok(_) => {
                let Read::Text(t) = read_small(&dot) else {
                    return None;
                };
                let gitdir = t.lines().find_map(|l| l.strip_prefix("gitdir:"))?.trim();
                let gitdir = if gitdir.starts_with('/') {
                    gitdir.to_owned()
                } else {
                    format!("{d}/{gitdir}")
                };
                return Some(common_config(&normalize(&gitdir)));
            }
            Err(_) => d = d.rsplit_once('/')?.0.to_owned(),
        }
    }
}

/// A linked worktree's git directory shares the main repository's `config` (`commondir`).
fn common_config(gitdir: &str) -> String {
    match read_small(&format!("{gitdir}/commondir")) {
        Read::Text(t) if t.trim().starts_with('/') => format!("{}/config", normalize(t.trim())),
        Read::Text(t) => format!("{}/config", normalize(&format!("{gitdir}/{}", t.trim()))),
        _ => format!("{gitdir}/config"),
    }
}

fn unreadable(an: &mut Analyzer<'_>, scope: &Scope, file: &str, why: &str) {
    let detail = format!("git reads a configuration file the gate cannot read ({file}: {why})");
    an.hit_plain(
        "gate.dynamic_code",
        scope,
        &format!("git ({file})"),
        Some(detail),
    );
}
