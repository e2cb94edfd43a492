//! sed scripts: the `e` command and the `e` flag of `s` run shell commands, `w FILE` and
//! `-i` write files; a `-f` script is read when the line shows it. Addresses and regular expressions are skipped, so a pattern that
//! mentions `chmod -R 777` is text, not a command.

use crate::args::{Spec, parse};
use crate::cmd::{Cmd, check_write};
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
        for f in &files {
            check_write(c.an, c.scope, f, "sed -i");
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
}
