//! Filesystem destruction and damage: rm, shred, truncate, mv, cp, dd, chmod/chown, rsync,
//! archive extraction.
//!
//! Owns the deletion policy: recursive or forced deletion of `/`, `~`, anything outside the
//! workspace, the workspace root or `.git` is denied; deleting inside the workspace (build
//! outputs or not) and in scratch space is allowed, because the view makes it undoable.
//! A path the gate cannot know is `ask`.

use crate::args::{Parsed, Spec, parse};
use crate::cmd::Cmd;
use crate::cmd::check_write;
use crate::field::Field;
use crate::paths::{Class, git_history};
use crate::tables::SOURCE_REMOVERS;

/// rm, rmdir, unlink, shred, truncate, srm, wipe.
pub(crate) fn delete(c: &mut Cmd<'_, '_>) {
    let name = c.prog.name.clone();
    let spec = match name.as_str() {
        "truncate" => Spec::new("sr", &["size", "reference"]),
        "shred" => Spec::new("nsx", &["iterations", "size", "random-source"]),
        _ => Spec::new("", &[]),
    };
    let a = parse(c.args(), spec);
    if a.has_long("no-preserve-root") {
        c.hit("fs.rm_protected", Some("--no-preserve-root".into()));
    }
    let recursive = a.has('r', "recursive") || a.has('R', "");
    let force = a.has('f', "force");
    for op in &a.operands {
        let class = c.class(op);
        let detail = Some(format!("{} is {}", shown(op), describe(class)));
        match name.as_str() {
            "shred" | "srm" | "wipe" | "truncate" => {
                if class == Class::Device {
                    c.hit("disk.write_device", detail);
                } else if class.precious() && class != Class::Build {
                    c.hit("fs.overwrite_outside", detail);
                } else if class == Class::Unknown {
                    c.hit("fs.rm_dynamic", detail);
                }
            }
            _ => match class {
                Class::HomeSensitive => c.hit("fs.rm_sensitive", detail),
                // Files inside `.git` (a stale `index.lock`) are the view's to undo; its
                // history is not.
                Class::Git if !git_history(&c.abs(op)) => {}
                Class::Git | Class::WorkspaceAll | Class::WorkspaceRoot
                    if !recursive && (force || class != Class::Git) =>
                {
                    c.hit("fs.rm_outside", detail);
                }
                Class::Unknown => c.hit("fs.rm_dynamic", detail),
                class if class.precious() => {
                    if recursive || force {
                        c.hit("fs.rm_protected", detail);
                    } else {
                        c.hit("fs.rm_outside", detail);
                    }
                }
                _ => {}
            },
        }
    }
}

/// Shows an operand for a reason string.
pub(crate) fn shown(f: &Field) -> String {
    crate::field::display(std::slice::from_ref(f))
}

/// A human name for a path class.
pub(crate) fn describe(class: Class) -> &'static str {
    match class {
        Class::Root => "the root directory",
        Class::System => "a system path",
        Class::Device => "a device",
        Class::HarmlessDev => "a harmless device",
        Class::NetDev => "a network connection",
        Class::Home => "the home directory",
        Class::Ancestor => "a directory containing the workspace",
        Class::HomeChild => "in the home, outside the workspace",
        Class::HomeSensitive => "credentials or start-up files in the home",
        Class::WorkspaceRoot => "the workspace root",
        Class::WorkspaceAll => "everything in the workspace",
        Class::Git => "the git directory",
        Class::Build => "a build output",
        Class::Workspace => "inside the workspace",
        Class::Tmp => "scratch space",
        Class::Outside => "outside the workspace",
        Class::Unknown => "not known before the command runs",
    }
}

/// mv, cp, install, ln: destinations are write targets; moving precious sources away is
/// destruction.
/// A copy (or move, or link) holds what its source holds, as far as the line shows: a secret
/// stays a secret (sending the copy is exfiltration), a script written earlier on the line
/// stays that script (running the copy runs it). `dest` may be a directory: both it and the
/// source's name below it get the content.
fn copied_content(c: &mut Cmd<'_, '_>, sources: &[Field], dest: &str) {
    for s in sources {
        let src = c.abs(s);
        let content = match c.an.written_at(&src) {
            Some(w) => w,
            None if c.an.secret_file(&src) => crate::state::Stream::tainted(crate::state::Taint {
                secret: true,
                stored: true,
                ..Default::default()
            }),
            None => continue,
        };
        let base = src.rsplit('/').next().unwrap_or("");
        c.an.written
            .push((format!("{dest}/{base}"), content.clone()));
        c.an.written.push((dest.to_owned(), content));
    }
}

pub(crate) fn copy_move(c: &mut Cmd<'_, '_>) {
    let name = c.prog.name.clone();
    let spec = match name.as_str() {
        "install" => Spec::new(
            "tSmogC",
            &["target-directory", "suffix", "mode", "owner", "group"],
        ),
        _ => Spec::new("tS", &["target-directory", "suffix"]),
    };
    let a = parse(c.args(), spec);
    let mut sources = a.operands.clone();
    let dest = match a.value('t', "target-directory") {
        Some(d) => Some(d.clone()),
        None if sources.len() >= 2 => sources.pop(),
        None => None,
    };
    let hard = match name.as_str() {
        "ln" => !a.has('s', "symbolic"),
        "cp" => a.has('l', "link"),
        _ => name == "link",
    };
    if hard {
        hard_links_out(c, &sources);
    }
    if let Some(mode) = a.value('m', "mode").filter(|m| setuid(&m.text)) {
        let shown = format!("mode {}", mode.text);
        c.hit("privesc.setuid", Some(shown));
    }
    let Some(dest) = dest else {
        return;
    };
    let dest_abs = c.abs(&dest);
    copied_content(c, &sources, &dest_abs);
    if name == "mv" && dest_abs == "/dev/null" {
        c.hit(
            "fs.mv_devnull",
            Some(format!(
                "moves {} to /dev/null",
                sources.iter().map(shown).collect::<Vec<_>>().join(" ")
            )),
        );
    }
    check_write(c.an, c.scope, &dest, &name);
    // The link is made after its own path is judged: later paths through it reach its target.
    if name == "ln"
        && let [target] = sources.as_slice()
    {
        let target_abs = c.abs(target);
        c.an.links.push((dest_abs.clone(), target_abs));
    }
    if name == "mv" {
        moved_away(c, &sources);
    }
}

/// Paths moved away from where they were: system files, the home or the workspace root
/// break; anything else outside the workspace and the scratch space is deleted where the
/// view cannot bring it back.
fn moved_away(c: &mut Cmd<'_, '_>, sources: &[Field]) {
    for s in sources {
        let class = c.class(s);
        if matches!(
            class,
            Class::Root
                | Class::System
                | Class::Home
                | Class::Ancestor
                | Class::WorkspaceRoot
                | Class::HomeSensitive
                | Class::Device
        ) || class == Class::Git && c.abs(s).ends_with(".git")
        {
            c.hit(
                "fs.mv_protected",
                Some(format!("{} is {}", shown(s), describe(class))),
            );
        } else if matches!(class, Class::HomeChild | Class::Outside) {
            c.hit("fs.rm_outside", Some(format!("moves {} away", shown(s))));
        }
    }
}

/// `rsync --remove-source-files`, `tar --remove-files`, `zip -m` ([`SOURCE_REMOVERS`]):
/// the path operands are moved away.
pub(crate) fn removed_sources(c: &mut Cmd<'_, '_>) {
    let name = c.prog.name.as_str();
    let removes = SOURCE_REMOVERS.iter().any(|(tool, flags)| {
        *tool == name
            && c.args().iter().any(|a| {
                flags
                    .iter()
                    .any(|f| a.is(f) || f.len() == 2 && bundled_flag(&a.text, f))
            })
    });
    if !removes {
        return;
    }
    let operands: Vec<Field> = c
        .args()
        .iter()
        .filter(|a| a.known && !a.text.starts_with('-') && !a.text.contains("::"))
        .cloned()
        .collect();
    moved_away(c, &operands);
}

/// True when a one-letter flag (`-m`) is among bundled short options (`-rm`).
fn bundled_flag(word: &str, flag: &str) -> bool {
    let (Some(letter), Some(rest)) = (flag.strip_prefix('-'), word.strip_prefix('-')) else {
        return false;
    };
    !rest.starts_with('-') && rest.chars().all(|c| c.is_ascii_alphabetic()) && rest.contains(letter)
}

/// A hard link (`ln`, `link`, `cp -l`) of a file outside the workspace and the scratch
/// directories is that file under a second name: a write through it, by a later command or a
/// tool that edits in place, changes the outside file, which no view can undo; so does a
/// hard link of git's own files (`.git/hooks/...`, `.git/config`), which run code.
fn hard_links_out(c: &mut Cmd<'_, '_>, sources: &[Field]) {
    for s in sources {
        let class = c.class(s);
        // The workspace's own files (`ln * dir/`) are the view's to undo.
        if class.precious() && !matches!(class, Class::WorkspaceRoot | Class::WorkspaceAll) {
            c.hit(
                "syswrite.hard_link",
                Some(format!("{} is {}", shown(s), describe(class))),
            );
        }
    }
}

/// `bs=` times `count=` of 10 GB or more: bounded only on paper.
fn huge_copy(args: &[Field]) -> bool {
    let size = |key: &str| {
        args.iter()
            .find_map(|a| a.text.strip_prefix(key))
            .and_then(bytes)
    };
    let total = size("bs=")
        .unwrap_or(512)
        .saturating_mul(size("count=").unwrap_or(0));
    total >= 10 << 30
}

/// A dd size (`1G`, `4M`, `512`, `1k`) in bytes.
fn bytes(s: &str) -> Option<u64> {
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    let n: u64 = digits.parse().ok()?;
    let shift = match s[digits.len()..]
        .chars()
        .next()
        .map(|c| c.to_ascii_uppercase())
    {
        None | Some('C') => 0,
        Some('K') => 10,
        Some('M') => 20,
        Some('G') => 30,
        Some('T') => 40,
        Some('P') => 50,
        _ => return None,
    };
    Some(n.saturating_mul(1 << shift))
}

/// dd: `of=` is a destructive write target; `if=/dev/zero` without `count=` is endless.
pub(crate) fn dd(c: &mut Cmd<'_, '_>) {
    let args: Vec<Field> = c.args().to_vec();
    let endless_in = args.iter().any(|a| {
        matches!(
            a.text.as_str(),
            "if=/dev/zero" | "if=/dev/urandom" | "if=/dev/random"
        )
    });
    let bounded = args.iter().any(|a| a.text.starts_with("count=")) && !huge_copy(&args);
    if endless_in && !bounded {
        let to_file = args.iter().any(|a| {
            a.text
                .strip_prefix("of=")
                .is_some_and(|o| !o.starts_with("/dev/"))
        });
        if to_file {
            c.hit(
                "resource.fill_disk",
                Some("dd from an endless source without count=".into()),
            );
        }
    }
    for a in &args {
        if let Some(of) = a.text.strip_prefix("of=") {
            let f = Field {
                text: of.to_owned(),
                ..a.clone()
            };
            let class = c.class(&f);
            match class {
                Class::Device
                | Class::NetDev
                | Class::Root
                | Class::System
                | Class::HomeSensitive => {
                    check_write(c.an, c.scope, &f, "dd");
                }
                class if class.precious() => c.hit(
                    "fs.overwrite_outside",
                    Some(format!("{} is {}", shown(&f), describe(class))),
                ),
                // A workspace file a harness runs (`.mcp.json`) is still code for later.
                _ => check_write(c.an, c.scope, &f, "dd"),
            }
            // `dd if=A of=B` copies A to B; without `if=`, stdin.
            let input: Vec<Field> = args
                .iter()
                .filter_map(|i| i.text.strip_prefix("if=").map(Field::lit))
                .collect();
            let dest = c.abs(&f);
            if input.is_empty() {
                let stdin = c.io.stdin.clone();
                c.an.written.push((dest, stdin));
            } else {
                copied_content(c, &input, &dest);
            }
        }
    }
}

/// chmod, chown, chgrp, setfacl, chattr: recursive changes outside the workspace, changes to
/// system files, and setuid bits.
pub(crate) fn perms(c: &mut Cmd<'_, '_>) {
    let name = c.prog.name.clone();
    let spec = match name.as_str() {
        "setfacl" => Spec::new(
            "mMxX",
            &[
                "modify",
                "modify-file",
                "remove",
                "remove-file",
                "set",
                "set-file",
            ],
        ),
        _ => Spec::new("", &["reference", "from"]),
    };
    let a = parse(c.args(), spec);
    let recursive = a.has('R', "recursive") || name == "setfacl" && a.has('r', "");
    let mut targets: Vec<Field> = a.operands.clone();
    let mut loosens = name != "chmod";
    let mut locks = false;
    let mut world_writable = false;
    let takes_mode = matches!(name.as_str(), "chmod" | "chown" | "chgrp")
        && a.value('\0', "reference").is_none();
    if name == "chattr" {
        targets.retain(|t| !t.text.starts_with(['+', '=']));
    } else if takes_mode && !targets.is_empty() {
        let mode = targets.remove(0);
        if name == "chmod" && setuid(&mode.text) {
            c.hit("privesc.setuid", Some(format!("mode {}", mode.text)));
        }
        loosens |= name == "chmod" && grants_others(&mode.text);
        locks |= name == "chmod" && locks_owner_out(&mode.text);
        world_writable |= name == "chmod" && others_write(&mode.text);
    }
    // Short flags like `-w` in `chmod -w file` are modes, not options: fine either way.
    for t in &targets {
        let class = c.class(t);
        let detail = Some(format!("{} is {}", shown(t), describe(class)));
        // `find DIR -exec chmod MODE {} +` reaches everything below DIR.
        let recursive = recursive || t.text.contains(crate::field::DESCENDANT);
        match class {
            Class::Root | Class::System | Class::Device => c.hit("perms.system", detail),
            // Tightening `chmod 600 ~/.ssh/config` is hygiene; loosening or re-owning is not.
            Class::HomeSensitive if loosens || recursive => c.hit("perms.system", detail),
            Class::Home | Class::Ancestor | Class::Outside | Class::HomeChild if recursive => {
                c.hit("perms.system", detail)
            }
            // The home itself: world-writable, or closed to its owner.
            Class::Home if locks || world_writable => c.hit("perms.system", detail),
            Class::Unknown if recursive => c.hit("fs.rm_dynamic", detail),
            _ => {}
        }
    }
}

/// A chmod mode that lets others write (`777`, `o+w`, `a+rwx`).
fn others_write(mode: &str) -> bool {
    if mode.chars().all(|c| c.is_ascii_digit()) {
        return mode
            .chars()
            .last()
            .and_then(|d| d.to_digit(8))
            .is_some_and(|d| d & 2 != 0);
    }
    mode.split(',').any(|m| match m.find(['+', '=']) {
        Some(i) => (m[..i].is_empty() || m[..i].contains(['o', 'a'])) && m[i..].contains('w'),
        None => false,
    })
}

/// A chmod mode that takes read or execute away from the owner (`000`, `u-rwx`, `a=`).
fn locks_owner_out(mode: &str) -> bool {
    if mode.chars().all(|c| c.is_ascii_digit()) && mode.len() >= 3 {
        let owner = mode.chars().rev().nth(2).and_then(|d| d.to_digit(8));
        return owner.is_some_and(|d| d & 0o5 != 0o5);
    }
    mode.split(',').any(|m| {
        let (who, perms) = m.split_at(m.find(['-', '=']).unwrap_or(m.len()));
        let owner = who.is_empty() || who.contains(['u', 'a']);
        owner
            && (perms.starts_with('=') && !perms.contains('r')
                || perms.starts_with('-') && perms.contains(['r', 'x']))
    })
}

/// A chmod mode that gives the group or others any permission.
fn grants_others(mode: &str) -> bool {
    if mode.chars().all(|c| c.is_ascii_digit()) {
        return mode.chars().rev().take(2).any(|d| d != '0');
    }
    mode.split(',').any(|m| match m.find(['+', '=']) {
        Some(i) => {
            let who = &m[..i];
            let perms = &m[i + 1..];
            !perms.is_empty() && (who.is_empty() || who.contains(['g', 'o', 'a']))
        }
        None => false,
    })
}

/// A chmod mode that sets the setuid or setgid bit.
fn setuid(mode: &str) -> bool {
    if mode.chars().all(|c| c.is_ascii_digit()) {
        return mode.len() >= 4 && mode.chars().next().is_some_and(|d| matches!(d, '2'..='7'));
    }
    mode.split(',').any(|m| {
        m.split_once(['+', '='])
            .is_some_and(|(_, perms)| perms.contains('s'))
    })
}

/// rsync and scp: secrets sent to another host; `--delete` onto precious directories.
pub(crate) fn rsync(c: &mut Cmd<'_, '_>) {
    let a = parse(
        c.args(),
        Spec::new(
            "efTcFiJloPS",
            &[
                "rsh",
                "exclude",
                "include",
                "filter",
                "files-from",
                "rsync-path",
                "temp-dir",
                "partial-dir",
                "backup-dir",
                "suffix",
                "chmod",
                "chown",
                "log-file",
                "password-file",
                "port",
                "compare-dest",
                "link-dest",
                "copy-dest",
                "max-size",
                "min-size",
                "timeout",
                "bwlimit",
            ],
        ),
    );
    let mut ops = a.operands.clone();
    let Some(dest) = ops.pop() else {
        return;
    };
    let remote = |f: &Field| {
        f.text.starts_with("rsync://") || f.text.split('/').next().is_some_and(|h| h.contains(':'))
    };
    if remote(&dest) {
        for s in &ops {
            let abs = c.abs(s);
            let class = c.class(s);
            if c.an.paths.is_secret(&abs) || class == Class::HomeSensitive {
                c.hit(
                    "exfil.upload_secret",
                    Some(format!("sends {} to {}", shown(s), shown(&dest))),
                );
            } else if matches!(class, Class::Home | Class::System | Class::Root) {
                c.hit(
                    "exfil.upload_outside",
                    Some(format!("sends {} to {}", shown(s), shown(&dest))),
                );
            }
        }
        return;
    }
    let delete = a
        .longs
        .iter()
        .any(|(l, _)| l.starts_with("del") || l == "remove-source-files");
    let class = c.class(&dest);
    if delete && class.precious() {
        c.hit(
            "fs.rsync_delete",
            Some(format!("{} is {}", shown(&dest), describe(class))),
        );
    }
    check_write(c.an, c.scope, &dest, "rsync");
}

/// Long options of the archivers that take a value.
const ARCHIVE_VALUED: &[&str] = &[
    "file",
    "directory",
    "checkpoint-action",
    "to-command",
    "use-compress-program",
    "info-script",
    "new-volume-script",
    "exclude",
    "transform",
    "owner",
    "group",
    "mode",
    "format",
    "exdir",
];

/// The commands tar runs for its options (`--checkpoint-action=exec=`, `--to-command`,
/// `-I PROG`, ...): each is judged as a shell line.
fn tar_commands(c: &mut Cmd<'_, '_>, a: &Parsed) {
    for v in a.values('\0', "checkpoint-action") {
        if let Some(cmd) = v.text.strip_prefix("exec=") {
            c.nested(
                "tar --checkpoint-action",
                &Field {
                    text: cmd.to_owned(),
                    ..v.clone()
                },
            );
        }
    }
    for long in [
        "to-command",
        "use-compress-program",
        "info-script",
        "new-volume-script",
    ] {
        for v in a.values('\0', long) {
            c.nested("tar", &v.clone());
        }
    }
    for short in ['I', 'F'] {
        for v in a.values(short, "") {
            c.nested("tar", &v.clone());
        }
    }
}

/// unzip, tar, 7z, cpio: extraction into system directories or, by absolute member names,
/// anywhere; and tar's command hooks.
pub(crate) fn extract(c: &mut Cmd<'_, '_>) {
    let name = c.prog.name.clone();
    let mut args: Vec<Field> = c.args().to_vec();
    if name == "tar"
        && let Some(first) = args.first_mut()
        && first.known
        && !first.text.starts_with('-')
        && first.text.chars().all(|ch| ch.is_ascii_alphabetic())
    {
        // Old-style bundled options: `tar xzf file`.
        first.text = format!("-{}", first.text);
    }
    let short_val = if name == "tar" { "fCbFgHIKLNTVX" } else { "dP" };
    let a = parse(&args, Spec::new(short_val, ARCHIVE_VALUED));
    if name == "tar" {
        tar_commands(c, &a);
    }
    let extracting = match name.as_str() {
        "tar" => a.has('x', "extract") || a.has_long("get"),
        // Listing, testing or printing to stdout extracts nothing.
        "unzip" => !"ltZpvz".chars().any(|f| a.has(f, "")),
        "cpio" => a.has('i', "extract") || a.has('p', "pass-through"),
        _ => a.operands.first().is_some_and(|o| o.is("x") || o.is("e")),
    };
    let dir = match name.as_str() {
        "tar" => a.value('C', "directory"),
        "unzip" => a.value('d', "exdir"),
        // `cpio -p DIR` copies the files named on stdin into DIR.
        "cpio" if a.has('p', "pass-through") => a.operands.first(),
        _ => None,
    };
    // Members named by absolute paths land where they say (`tar -P`, and cpio unless told
    // otherwise): anywhere, which the view cannot undo.
    let absolute = match name.as_str() {
        "tar" => a.has('P', "absolute-names"),
        "cpio" => a.has('i', "extract") && !a.has_long("no-absolute-filenames"),
        _ => false,
    };
    if extracting && absolute {
        c.hit(
            "syswrite.outside",
            Some("archive members with absolute names land anywhere".into()),
        );
    }
    // Extraction writes into its directory (the working directory when none is given):
    // outside the workspace and the scratch space that is a write the view cannot undo.
    if extracting {
        let mut member = dir.cloned().unwrap_or_else(|| Field::lit("."));
        // Members land beneath the directory: extracting into `/` writes system files.
        let abs = c.abs(&member);
        if !matches!(
            c.an.paths.classify_abs(&abs, false),
            Class::Root | Class::System
        ) {
            member.text = format!("{}/archive-member", member.text.trim_end_matches('/'));
        }
        crate::cmd::check_write(c.an, c.scope, &member, &name);
    }
}
