//! sed scripts: the `e` command and the `e` flag of `s` run shell commands, `w FILE` and
//! `-i` write files; a `-f` script is read when the line shows it. Addresses and regular expressions are skipped, so a pattern that
//! mentions `chmod -R 777` is text, not a command.

use crate::args::{Spec, parse};
use crate::cmd::{Cmd, check_write, edit_in_place};
use crate::field::Field;

/// sed: the `e` command and `s///e` run shell commands; `w FILE` and `-i` write files.
pub(crate) fn sed(c: &mut Cmd<'_, '_>, args: &[Field]) {
    let a = parse(
        args,
        Spec::new("efl", &["expression", "file", "line-length"]),
    );
    let mut scripts: Vec<Field> = a.values('e', "expression").into_iter().cloned().collect();
    // A script file the line shows: a process substitution's output, or a file it wrote.
    for f in a.values('f', "file") {
        let written = c.an.written_at(&c.abs(f));
        match (&f.body, written) {
            (Some(body), _) if f.procsub => scripts.push(Field::lit(body)),
            (_, Some(w)) => scripts.push(w.text.map_or_else(Field::default, |t| Field::lit(&t))),
            _ if f.procsub => scripts.push(Field::default()),
            _ => {}
        }
    }
    let mut files = a.operands.clone();
    if scripts.is_empty() && a.value('f', "file").is_none() && !files.is_empty() {
        scripts.push(files.remove(0));
    }
    if a.has('i', "in-place")
        || a.longs.iter().any(|(l, _)| l.starts_with("in-place"))
        || a.shorts.iter().any(|(ch, _)| *ch == 'i')
    {
        // Only plain substitutions of literal text are followed; `-n`, `-z` or `-E` change
        // what a script means.
        let plain = !a
            .shorts
            .iter()
            .any(|(ch, _)| matches!(ch, 'n' | 'z' | 'E' | 'r'))
            && !["quiet", "silent", "null-data", "regexp-extended"]
                .iter()
                .any(|l| a.has_long(l));
        let edit = |text: &str| plain.then(|| substitute(&scripts, text)).flatten();
        for f in &files {
            edit_in_place(c.an, c.scope, f, "sed -i", &edit);
        }
    }
    for s in &scripts {
        if !s.known {
            c.hit("gate.dynamic_code", Some("sed script not known".into()));
            continue;
        }
        for cmd in sed_commands(&s.text) {
            match cmd {
                SedCmd::Exec(line) => c.nested("sed e", &Field::lit(&line)),
                SedCmd::Write(file) => check_write(c.an, c.scope, &Field::lit(&file), "sed w"),
                SedCmd::SubstExec => c.hit(
                    "gate.dynamic_code",
                    Some("sed e or s///e runs the pattern space as a command".into()),
                ),
            }
        }
    }
}

/// What a script of literal substitutions only (`s/OLD/NEW/`, `s|OLD|NEW|g`, one or more)
/// makes of `text`; `None` for any other script, or a pattern or replacement with special
/// characters.
fn substitute(scripts: &[Field], text: &str) -> Option<String> {
    let mut out = text.to_owned();
    for script in scripts {
        if !script.known {
            return None;
        }
        for cmd in script
            .text
            .split(['\n', ';'])
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            let (old, new, all) = literal_subst(cmd)?;
            out = out
                .split_inclusive('\n')
                .map(|line| {
                    if all {
                        line.replace(&old, &new)
                    } else {
                        line.replacen(&old, &new, 1)
                    }
                })
                .collect();
        }
    }
    Some(out)
}

/// `s/OLD/NEW/` or `s/OLD/NEW/g` with literal OLD and NEW: (OLD, NEW, global).
fn literal_subst(cmd: &str) -> Option<(String, String, bool)> {
    let rest = cmd.strip_prefix('s')?;
    let delim = rest
        .chars()
        .next()
        .filter(|d| !d.is_alphanumeric() && *d != '\\')?;
    let parts: Vec<&str> = rest[delim.len_utf8()..].split(delim).collect();
    let [old, new, flags] = parts.as_slice() else {
        return None;
    };
    let special = |s: &str, set: &str| s.chars().any(|ch| set.contains(ch));
    if old.is_empty() || special(old, "\\.[]*^$") || special(new, "\\&") {
        return None;
    }
    let all = match *flags {
        "" => false,
        "g" => true,
        _ => return None,
    };
    Some((old.to_string(), new.to_string(), all))
}

enum SedCmd {
    Exec(String),
    Write(String),
    SubstExec,
}

/// The commands of a sed script that run or write something.
// long: one pass over the script whose position, address and command state every branch shares.
fn sed_commands(script: &str) -> Vec<SedCmd> {
    let mut out = Vec::new();
    let chars: Vec<char> = script.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        // Skip blanks, separators and addresses.
        while i < chars.len()
            && (chars[i].is_whitespace()
                || matches!(chars[i], ';' | '{' | '}' | '!' | ',' | '$' | '~' | '+')
                || chars[i].is_ascii_digit())
        {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        if chars[i] == '/' || chars[i] == '\\' {
            let delim = if chars[i] == '\\' {
                i += 1;
                chars.get(i).copied().unwrap_or('/')
            } else {
                '/'
            };
            i += 1;
            while i < chars.len() && chars[i] != delim {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            while i < chars.len() && matches!(chars[i], 'I' | 'M') {
                i += 1;
            }
            continue;
        }
        let c = chars[i];
        i += 1;
        match c {
            'e' | 'w' | 'W' | 'r' | 'R' | 'a' | 'i' | 'c' | 'b' | 't' | 'T' | ':' | 'q' | 'Q'
            | 'l' | 'L' => {
                let start = i;
                while i < chars.len()
                    && chars[i] != '\n'
                    && !(matches!(c, 'b' | 't' | 'T' | 'q' | 'Q' | 'l' | 'L') && chars[i] == ';')
                {
                    i += 1;
                }
                let arg: String = chars[start..i].iter().collect::<String>().trim().to_owned();
                match c {
                    // A bare `e` runs the pattern space, which the gate does not follow.
                    'e' if arg.is_empty() => out.push(SedCmd::SubstExec),
                    'e' => out.push(SedCmd::Exec(arg)),
                    'w' | 'W' if !arg.is_empty() => out.push(SedCmd::Write(arg)),
                    _ => {}
                }
            }
            's' | 'y' => {
                let Some(&delim) = chars.get(i) else {
                    break;
                };
                i += 1;
                for _ in 0..2 {
                    while i < chars.len() && chars[i] != delim {
                        if chars[i] == '\\' {
                            i += 1;
                        }
                        i += 1;
                    }
                    i += 1;
                }
                let start = i;
                while i < chars.len() && chars[i].is_ascii_alphanumeric() {
                    i += 1;
                }
                let flags: String = chars[start.min(chars.len())..i.min(chars.len())]
                    .iter()
                    .collect();
                if c == 's' && flags.contains('e') {
                    out.push(SedCmd::SubstExec);
                }
                if c == 's' && flags.contains('w') {
                    let mut j = i;
                    while j < chars.len() && chars[j] != '\n' {
                        j += 1;
                    }
                    let file: String = chars[i..j].iter().collect::<String>().trim().to_owned();
                    if !file.is_empty() {
                        out.push(SedCmd::Write(file));
                    }
                    i = j;
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sed_scripts() {
        assert!(
            matches!(sed_commands("1e rm -rf ~").as_slice(), [SedCmd::Exec(l)] if l == "rm -rf ~")
        );
        assert!(sed_commands("/chmod -R 777/p").is_empty());
        assert!(matches!(sed_commands("e").as_slice(), [SedCmd::SubstExec]));
        assert!(sed_commands("s/foo/bar/g").is_empty());
        assert!(matches!(
            sed_commands("s/a/b/e").as_slice(),
            [SedCmd::SubstExec]
        ));
    }

    #[test]
    fn literal_substitutions() {
        let s = |t: &str| vec![Field::lit(t)];
        let text = "make a\nmake b make\n";
        let sub = |script: &str| substitute(&s(script), text);
        assert_eq!(sub("s/make/rm/").as_deref(), Some("rm a\nrm b make\n"));
        assert_eq!(sub("s|make|rm|g").as_deref(), Some("rm a\nrm b rm\n"));
        assert_eq!(
            sub("s/a/x/; s/b/y/").as_deref(),
            Some("mxke a\nmxke y make\n")
        );
        for script in [
            "s/m.ke/rm/",
            "s/make/&&/",
            "1s/make/rm/",
            "s/make/rm/e",
            "/a/d",
            "s/a/b",
        ] {
            assert_eq!(sub(script), None, "{script}");
        }
    }
}
