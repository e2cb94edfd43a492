//! git and gh: remote history rewrites, remote deletions, local changes thrown away, and
//! configuration that runs code later.
//!
//! Owns git's global options (`-C`, `-c`, `--git-dir`, ...), skipped to find the
//! subcommand; `-c alias.X=!cmd` is judged as the shell line it runs.
//! Ordinary work (commit, push without force, pull, rebase, switch) is allowed: the view
//! keeps the local repository undoable, a remote is not.

use crate::args::{Parsed, Spec, parse};
use crate::cmd::Cmd;
use crate::field::{Field, UNKNOWN};
use crate::paths::Class;
use crate::tables::GIT_COMMAND_KEYS;
use crate::text::glob_match;

/// Global options of git that take a value.
const GLOBAL_VAL: &[&str] = &[
    "-C",
    "-c",
    "--git-dir",
    "--work-tree",
    "--namespace",
    "--exec-path",
    "--config-env",
    "--super-prefix",
];

pub(crate) fn git(c: &mut Cmd<'_, '_>) {
    let args: Vec<Field> = c.args().to_vec();
    let (i, dir) = globals(&args, c.scope);
    let Some(sub) = args.get(i) else {
        return;
    };
    super::git_files::config_files(c, dir.as_ref(), &args[..i]);
    if !sub.known {
        c.hit(
            "gate.dynamic_program",
            Some("git subcommand not known".into()),
        );
        return;
    }
    if alias(c, &args[..i], sub, &args[i + 1..], dir.as_ref()) {
        return;
    }
    let rest = &args[i + 1..];
    if rest.iter().any(|a| a.is("-h") || a.is("--help")) {
        return;
    }
    // `git -C DIR`, `--git-dir`, `--work-tree`, `GIT_DIR=` (or a `cd` earlier on the line):
    // a repository outside the workspace is not undoable by the view.
    let repo = dir.unwrap_or_else(|| Field::lit("."));
    let elsewhere = !matches!(
        c.class(&repo),
        Class::Workspace | Class::WorkspaceRoot | Class::Build | Class::Tmp | Class::Git
    );
    let g = Sub { rest, elsewhere };
    if let Some((_, handler)) = SUBCOMMANDS
        .iter()
        .find(|(names, _)| names.contains(&sub.text.as_str()))
    {
        handler(c, &g);
    }
}

/// Options that name the repository or work tree git acts on (`-C` is a directory).
const REPO_OPTS: &[&str] = &["-C", "--git-dir", "--work-tree"];
/// Variables that name the repository or work tree.
const REPO_VARS: &[&str] = &["GIT_DIR", "GIT_WORK_TREE"];

/// Skips git's global options: the index of the subcommand, and the repository they name
/// (the last of `-C DIR`, `--git-dir`, `--work-tree` in either spelling, or `GIT_DIR=`).
fn globals(args: &[Field], scope: &crate::state::Scope) -> (usize, Option<Field>) {
    let mut dir = REPO_VARS.iter().find_map(|v| {
        let value = scope.vars.get(*v)?;
        let text = value.text.clone().unwrap_or_else(|| UNKNOWN.to_string());
        Some(Field {
            known: !text.contains(UNKNOWN),
            text,
            taint: value.taint,
            ..Field::default()
        })
    });
    let mut i = 0;
    while i < args.len() && args[i].text.starts_with('-') {
        let t = args[i].text.as_str();
        let inline = t.split_once('=').filter(|(o, _)| REPO_OPTS.contains(o));
        if let Some((_, v)) = inline {
            dir = Some(Field {
                text: v.to_owned(),
                ..args[i].clone()
            });
        } else if GLOBAL_VAL.contains(&t) {
            if REPO_OPTS.contains(&t) {
                dir = args.get(i + 1).cloned().or(dir);
            }
            i += 1;
        }
        i += 1;
    }
    (i, dir)
}

/// A git alias defined on this line (`-c alias.X=...` or `git config alias.X ...`) is the
/// command it expands to, run with the same global options: `git -c alias.r='reset --hard'
/// -C ../other r` resets the other repository, and `!CMD` runs in that repository.
fn alias(
    c: &mut Cmd<'_, '_>,
    globals: &[Field],
    sub: &Field,
    rest: &[Field],
    dir: Option<&Field>,
) -> bool {
    let Some(value) =
        c.an.git_aliases
            .iter()
            .rev()
            .find(|(n, _)| sub.known && sub.text.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    else {
        return false;
    };
    if let Some(shell) = value.trim_start().strip_prefix('!') {
        let mut s = c.scope.clone();
        s.cwd = dir.filter(|d| d.known).map(|d| c.abs(d)).or(s.cwd);
        let line = Field::lit(shell);
        crate::cmd::nested_line(
            c.an,
            &format!("git alias {}", sub.text),
            &line,
            Default::default(),
            &s,
        );
        return true;
    }
    let mut argv = vec![c.fields[0].clone()];
    argv.extend(globals.iter().cloned());
    argv.extend(
        crate::text::split_cmdline(&value)
            .iter()
            .map(|w| Field::lit(w)),
    );
    argv.extend(rest.iter().cloned());
    let label = format!("git alias {}", sub.text);
    crate::cmd::inner(c.an, &label, &argv, c.io, c.scope, false);
    true
}

/// A git subcommand as its handler sees it.
struct Sub<'s> {
    /// The arguments after the subcommand.
    rest: &'s [Field],
    /// Run with `-C DIR` on a repository outside the workspace.
    elsewhere: bool,
}

/// One row per subcommand family: its names and the handler that judges it.
#[allow(clippy::type_complexity)] // reason: a table of names and handlers
const SUBCOMMANDS: &[(&[&str], fn(&mut Cmd<'_, '_>, &Sub<'_>))] = &[
    (&["push"], |c, g| push(c, g.rest)),
    (&["remote"], |c, g| remote(c, g.rest)),
    (&["add", "commit"], |c, g| stage(c, g.rest)),
    (&["reset"], sub_reset),
    (&["checkout"], sub_checkout),
    (&["switch"], sub_switch),
    (&["restore"], sub_restore),
    (&["clean"], sub_clean),
    (&["stash"], sub_stash),
    (&["worktree"], sub_worktree),
    (&["branch"], sub_branch),
    (&["filter-branch", "filter-repo"], |c, _| {
        c.hit("git.rewrite_history", None)
    }),
    (&["reflog"], sub_reflog),
    (&["gc"], sub_gc),
    (&["prune"], sub_prune),
    (&["update-ref"], sub_update_ref),
    (&["config"], config),
    (&["clone"], sub_clone),
];

/// `git clone URL DIR`: the clone is written into DIR.
fn sub_clone(c: &mut Cmd<'_, '_>, g: &Sub<'_>) {
    let a = parse(
        g.rest,
        Spec::new(
            "obucj",
            &[
                "origin",
                "branch",
                "upload-pack",
                "config",
                "jobs",
                "depth",
                "reference",
                "reference-if-able",
                "separate-git-dir",
                "template",
                "filter",
                "shallow-since",
                "shallow-exclude",
                "server-option",
                "bundle-uri",
                "ref-format",
            ],
        ),
    );
    if let Some(dir) = a.operands.get(1) {
        let mut member = dir.clone();
        member.text = format!("{}/.git", dir.text.trim_end_matches('/'));
        crate::cmd::check_write(c.an, c.scope, &member, "git clone");
    }
}

/// Local changes thrown away inside the workspace are undoable by the view's checkpoints,
/// like any other edit there; in another repository they are not.
fn discard(c: &mut Cmd<'_, '_>, g: &Sub<'_>, what: &str) {
    if g.elsewhere {
        c.hit("git.discard_changes", Some(what.to_owned()));
    }
}

/// `git reset`.
fn sub_reset(c: &mut Cmd<'_, '_>, g: &Sub<'_>) {
    let rest = g.rest;
    if !(rest
        .iter()
        .any(|a| a.is("--hard") || a.is("--merge") || a.is("--keep")))
    {
        return;
    }
    discard(c, g, "git reset --hard");
}

/// `git checkout`.
fn sub_checkout(c: &mut Cmd<'_, '_>, g: &Sub<'_>) {
    let rest = g.rest;
    let a = parse(
        rest,
        Spec::new("bBp", &["orphan", "conflict", "pathspec-from-file"]),
    );
    // `git checkout -- FILE` and `git checkout .` discard edits; `git checkout
    // BRANCH -- FILE` fetches a file from another revision on purpose.
    let dashdash = rest.iter().position(|r| r.is("--"));
    let tree_ish = dashdash.is_some_and(|d| rest[..d].iter().any(|r| !r.text.starts_with('-')));
    let paths_mode =
        dashdash.is_some() && !tree_ish || a.operands.iter().any(|o| o.is(".") || o.glob);
    if a.has('f', "force") || a.has_long("discard-changes") || paths_mode && !a.has('b', "") {
        discard(c, g, "checkout overwrites working-tree files");
    }
}

/// `git switch`.
fn sub_switch(c: &mut Cmd<'_, '_>, g: &Sub<'_>) {
    let rest = g.rest;
    let a = parse(rest, Spec::new("cC", &["create", "force-create", "orphan"]));
    if a.has('f', "force") || a.has_long("discard-changes") {
        discard(c, g, "switch throws away local changes");
    }
}

/// `git restore`.
fn sub_restore(c: &mut Cmd<'_, '_>, g: &Sub<'_>) {
    let rest = g.rest;
    let a = parse(rest, Spec::new("s", &["source", "pathspec-from-file"]));
    if !a.has('S', "staged") || a.has('W', "worktree") {
        discard(c, g, "restore overwrites working-tree files");
    }
}

/// `git clean`.
fn sub_clean(c: &mut Cmd<'_, '_>, g: &Sub<'_>) {
    let rest = g.rest;
    let elsewhere = g.elsewhere;
    let a = parse(rest, Spec::new("e", &["exclude"]));
    if a.has('n', "dry-run") {
        return;
    }
    let outside = a.operands.iter().any(|o| {
        let class = c.class(o);
        !matches!(
            class,
            Class::Workspace | Class::Build | Class::WorkspaceRoot | Class::WorkspaceAll
        )
    });
    if outside || elsewhere {
        c.hit("git.clean_outside", None);
    } else if a.has('f', "force")
        && (a.has('x', "") || a.has('d', ""))
        && (a.operands.is_empty()
            || a.operands
                .iter()
                .any(|o| c.class(o) == Class::WorkspaceRoot))
    {
        c.hit("git.clean", None);
    }
}

/// `git stash`.
fn sub_stash(c: &mut Cmd<'_, '_>, g: &Sub<'_>) {
    let rest = g.rest;
    let elsewhere = g.elsewhere;
    if !(elsewhere) {
        return;
    }
    match rest.first().map(|f| f.text.as_str()) {
        Some("clear") => c.hit("git.stash_drop", Some("git stash clear".into())),
        Some("drop") => c.hit("git.stash_drop", Some("git stash drop".into())),
        _ => {}
    };
}

/// `git worktree`.
fn sub_worktree(c: &mut Cmd<'_, '_>, g: &Sub<'_>) {
    let rest = g.rest;
    if !(rest
        .first()
        .is_some_and(|f| f.is("remove") || f.is("prune"))
        && rest.iter().any(|a| a.is("--force") || a.is("-f")))
    {
        return;
    }
    c.hit(
        "git.discard_changes",
        Some("worktree remove --force".into()),
    );
}

/// `git branch`.
fn sub_branch(c: &mut Cmd<'_, '_>, g: &Sub<'_>) {
    let rest = g.rest;
    let a = parse(
        rest,
        Spec::new(
            "u",
            &[
                "set-upstream-to",
                "contains",
                "merged",
                "no-merged",
                "points-at",
                "format",
                "sort",
            ],
        ),
    );
    if a.has('D', "") || (a.has('d', "delete") && a.has('f', "force")) {
        c.hit("git.branch_force_delete", None);
    }
}

/// `git reflog`.
fn sub_reflog(c: &mut Cmd<'_, '_>, g: &Sub<'_>) {
    let rest = g.rest;
    if !(rest
        .first()
        .is_some_and(|f| f.is("expire") || f.is("delete")))
    {
        return;
    }
    c.hit(
        "git.rewrite_history",
        Some("reflog expire drops recovery points".into()),
    );
}

/// `git gc`.
fn sub_gc(c: &mut Cmd<'_, '_>, g: &Sub<'_>) {
    let rest = g.rest;
    if !(rest
        .iter()
        .any(|a| a.text.starts_with("--prune=now") || a.is("--prune=all")))
    {
        return;
    }
    c.hit(
        "git.rewrite_history",
        Some("gc --prune=now drops unreachable objects".into()),
    );
}

/// `git prune --expire=now`: like `gc --prune=now`, it drops unreachable objects at once.
fn sub_prune(c: &mut Cmd<'_, '_>, g: &Sub<'_>) {
    let now = |w: &[Field]| w[0].is("--expire") && (w[1].is("now") || w[1].is("all"));
    let inline = g.rest.iter().any(|a| {
        a.text
            .strip_prefix("--expire=")
            .is_some_and(|v| v == "now" || v == "all")
    });
    if inline || g.rest.windows(2).any(now) {
        c.hit(
            "git.rewrite_history",
            Some("prune --expire=now drops unreachable objects".into()),
        );
    }
}

/// `git update-ref`.
fn sub_update_ref(c: &mut Cmd<'_, '_>, g: &Sub<'_>) {
    let rest = g.rest;
    if !(rest.iter().any(|a| a.is("-d"))) {
        return;
    }
    c.hit("git.rewrite_history", None);
}

fn push(c: &mut Cmd<'_, '_>, rest: &[Field]) {
    if rest.iter().any(|r| r.is("--dry-run") || r.is("-n")) {
        return;
    }
    let a: Parsed = parse(
        rest,
        Spec::new(
            "o",
            &["repo", "receive-pack", "exec", "push-option", "signed"],
        ),
    );
    let force = a.has('f', "force") || a.has_long("force-if-includes");
    let lease = a
        .longs
        .iter()
        .any(|(l, _)| l.starts_with("force-with-lease"));
    if force {
        c.hit("git.force_push", None);
    } else if lease {
        c.hit("git.force_push_lease", None);
    }
    if a.has_long("mirror") || a.has('d', "delete") || a.has_long("prune") {
        c.hit("git.remote_delete", None);
    }
    if c.an.secret_file(STAGED) {
        c.hit(
            "exfil.upload_secret",
            Some("pushes secrets added on this line".into()),
        );
    }
    let repo = a.value('\0', "repo").or(a.operands.first());
    if repo.is_none() && c.an.remotes.iter().any(|(_, u)| !forge_url(u)) {
        c.hit(
            "exfil.git_push",
            Some("pushes to a remote changed on this line".into()),
        );
    }
    if let Some(repo) = repo {
        let url = repo.text.contains("://") || repo.text.contains('@') && repo.text.contains(':');
        let new = url || c.an.remotes.iter().any(|(name, _)| *name == repo.text);
        let forge = url && forge_url(&repo.text)
            || c.an
                .remotes
                .iter()
                .any(|(name, u)| *name == repo.text && forge_url(u));
        if new && !forge || !repo.known {
            c.hit("exfil.git_push", Some(format!("pushes to {}", repo.text)));
        }
    }
    // Refspecs: `+src:dst` forces, `:dst` deletes.
    for r in a.operands.iter().skip(1) {
        if r.text.starts_with('+') {
            c.hit("git.force_push", Some(format!("refspec {}", r.text)));
        } else if r.text.starts_with(':') && r.text.len() > 1 {
            c.hit("git.remote_delete", Some(format!("refspec {}", r.text)));
        } else if !r.known {
            c.hit("gate.dynamic_code", Some("refspec not known".into()));
        }
    }
}

/// `git config KEY VALUE`: each pair is judged by what its key makes git do
/// ([`crate::generic::git_config`]); settings that run nothing are ordinary, even global.
fn config(c: &mut Cmd<'_, '_>, g: &Sub<'_>) {
    let rest = g.rest;
    let a = parse(
        rest,
        Spec::new("f", &["file", "blob", "type", "default", "comment"]),
    );
    let reading = a.has('l', "list")
        || a.has_long("get")
        || a.has_long("get-all")
        || a.has_long("get-regexp")
        || a.has_long("unset")
        || a.operands.len() < 2;
    if reading {
        return;
    }
    // The system file and a named file are writes like any other; the user's own file is
    // judged by the key alone.
    if a.has_long("system") {
        crate::cmd::check_write(c.an, c.scope, &Field::lit("/etc/gitconfig"), "git config");
    }
    if let Some(f) = a.value('f', "file") {
        let f = f.clone();
        crate::cmd::check_write(c.an, c.scope, &f, "git config");
    }
    let key = a.operands[0].text.clone();
    let user_file = a.has_long("global") || a.has_long("system") || a.has('f', "file");
    if g.elsewhere && !user_file {
        // Another repository's own configuration: a command there runs in its next git
        // call, out of the view's reach.
        let lower = key.to_ascii_lowercase();
        let command =
            !lower.starts_with("alias.") && GIT_COMMAND_KEYS.iter().any(|k| glob_match(k, &lower));
        let rule = if command {
            "persist.git"
        } else {
            "syswrite.outside"
        };
        c.hit(
            rule,
            Some(format!("git config {key} in another repository")),
        );
    }
    crate::generic::git_config(c.an, c.scope, &key, &a.operands[1]);
}

/// Public forges where a new remote is the project's own repository, not a drop box.
const FORGES: &[&str] = &[
    "github.com",
    "gitlab.com",
    "bitbucket.org",
    "codeberg.org",
    "git.sr.ht",
    "dev.azure.com",
    "ssh.dev.azure.com",
];

/// True when a remote URL (`https://github.com/...`, `git@github.com:...`) is on a forge.
fn forge_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', ':']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    FORGES.contains(&host)
}

/// Where the gate notes that secrets were staged on this line (not a real path).
const STAGED: &str = "\u{1}git index";

/// `git add .env`, `git commit -a` after it: secrets in the index leave with the next push.
fn stage(c: &mut Cmd<'_, '_>, rest: &[Field]) {
    // A directory stages what was written below it earlier on the line; `add -A`, `add -u`
    // and `commit -a` (`-am`) the workspace's files.
    let all = rest.iter().any(|a| {
        ["-A", "--all", "-u", "--update"].iter().any(|f| a.is(f))
            || a.text.strip_prefix('-').is_some_and(|f| {
                !f.starts_with('-')
                    && f.contains('a')
                    && f.chars().all(|ch| ch.is_ascii_alphabetic())
            })
    });
    let secret = all && c.an.secret_below(&c.an.paths.workspace.clone())
        || rest.iter().any(|a| {
            let abs = c.abs(a);
            a.known
                && !a.text.starts_with('-')
                && (c.an.secret_file(&abs) || c.an.secret_below(&abs))
        });
    if secret {
        let s = crate::state::Stream::tainted(crate::state::Taint {
            secret: true,
            stored: true,
            ..Default::default()
        });
        c.an.written.push((STAGED.to_owned(), s));
    }
}

/// `git remote add NAME URL` and `set-url`: NAME now points somewhere new.
fn remote(c: &mut Cmd<'_, '_>, rest: &[Field]) {
    let words: Vec<&Field> = rest.iter().filter(|a| !a.text.starts_with('-')).collect();
    if let [verb, name, ..] = words.as_slice()
        && (verb.is("add") || verb.is("set-url"))
    {
        let url = words.get(2).map_or(String::new(), |u| u.text.clone());
        c.an.remotes.push((name.text.clone(), url));
    }
}

/// gh: deleting repositories, releases and the like on the platform.
pub(crate) fn gh(c: &mut Cmd<'_, '_>) {
    let args: Vec<Field> = c.args().to_vec();
    let words: Vec<&str> = args.iter().map(|a| a.text.as_str()).collect();
    let destructive = matches!(words.as_slice(), [_, "delete", ..] | [_, _, "delete", ..])
        || words.first() == Some(&"api")
            && words.windows(2).any(|w| {
                (w[0] == "-X" || w[0] == "--method") && w[1].eq_ignore_ascii_case("DELETE")
            });
    if destructive {
        c.hit("git.platform_delete", None);
    }
    // `gh gist create FILE`, `gh release upload TAG FILE`: uploads.
    if matches!(words.first(), Some(&"gist") | Some(&"release")) {
        super::system::upload_secrets(c, &args);
    }
    if words.len() >= 2
        && words[0] == "repo"
        && (words[1] == "archive"
            || words[1] == "edit" && words.iter().any(|w| w.starts_with("--visibility")))
    {
        c.hit("git.platform_delete", None);
    }
}
