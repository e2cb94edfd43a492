//! awk's own redirections: `print ... > "FILE"` writes FILE, and `print ... | CMD` runs CMD
//! with what is printed on its stdin (so `print "CMD" | "sh"` runs CMD).
//! `"CMD" | getline` is a process call of the scan ([`super::calls`]).

use super::{LIT, Lexed, lits_in};
use crate::cmd::{Cmd, check_write, nested_line};
use crate::field::Field;
use crate::state::Stream;

/// Judges the writes and output pipes of an awk program (`code` with literals lexed out).
pub(super) fn redirections(c: &mut Cmd<'_, '_>, code: &str, lx: &Lexed) {
    files(c, code, lx);
    pipes(c, code, lx);
}

/// `print ... > "FILE"` and `>> "FILE"`: the file is a write target.
fn files(c: &mut Cmd<'_, '_>, code: &str, lx: &Lexed) {
    for (i, _) in code.match_indices('>').take(16) {
        let rest = code[i + 1..].trim_start_matches('>').trim_start();
        if !rest.starts_with(LIT) || code[..i].ends_with(['>', '=', '!', '<']) {
            continue;
        }
        let at = code.len() - rest.len();
        if let Some(target) = lits_in(lx, code, at..at + LIT.len_utf8()).first() {
            check_write(c.an, c.scope, &Field::lit(target), "awk");
        }
    }
}

/// `print DATA | CMD`, `printf DATA | CMD`: CMD is a shell line reading DATA. A command
/// built from variables is `ask`; data that is not all literals is unknown, so a shell
/// reading it asks too.
fn pipes(c: &mut Cmd<'_, '_>, code: &str, lx: &Lexed) {
    for (i, _) in code.match_indices('|').take(16) {
        let after = &code[i + 1..];
        if code[..i].ends_with('|') || after.starts_with('|') {
            continue;
        }
        if after.trim_start().starts_with("getline") {
            continue;
        }
        let start = code[..i].rfind([';', '{', '\n']).map_or(0, |s| s + 1);
        let Some(print) = code[start..i].rfind("print").map(|p| start + p) else {
            continue;
        };
        let data_start = print
            + if code[print..].starts_with("printf") {
                6
            } else {
                5
            };
        let end = i + 1 + after.find([';', '}', '\n']).unwrap_or(after.len());
        let command = concatenation(lx, code, i + 1..end)
            .or_else(|| assigned(lx, code, code[i + 1..end].trim()));
        let Some(command) = command else {
            c.hit(
                "gate.dynamic_code",
                Some("awk pipes into a command the gate cannot read".into()),
            );
            continue;
        };
        let stdin = Stream {
            text: concatenation(lx, code, data_start..i).map(|t| t + "\n"),
            piped: true,
            ..Stream::default()
        };
        nested_line(c.an, "awk print |", &Field::lit(&command), stdin, c.scope);
    }
}

/// The string a variable holds when the program assigns it once, a literal
/// (`cmd = "sort"; print ... | cmd`).
fn assigned(lx: &Lexed, code: &str, name: &str) -> Option<String> {
    if name.is_empty() || !name.chars().all(|ch| ch.is_alphanumeric() || ch == '_') {
        return None;
    }
    let word = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut values = code.match_indices(name).filter_map(|(i, _)| {
        let after = code[i + name.len()..].trim_start();
        let bounded = !code[..i].ends_with(word) && !after.starts_with(word);
        let rhs = after
            .strip_prefix('=')
            .filter(|r| bounded && !r.starts_with('='))?;
        let start = code.len() - rhs.len();
        let end = start + rhs.find([';', '}', '\n']).unwrap_or(rhs.len());
        Some(concatenation(lx, code, start..end))
    });
    match (values.next(), values.next()) {
        (Some(v), None) => v,
        _ => None,
    }
}

/// The string an awk expression makes when it is only literals put side by side
/// (`"rm -rf " "/"`), in parentheses or not.
fn concatenation(lx: &Lexed, code: &str, r: std::ops::Range<usize>) -> Option<String> {
    let rest = code[r.clone()].replace([LIT, '(', ')'], "");
    let lits = lits_in(lx, code, r);
    (rest.trim().is_empty() && !lits.is_empty()).then(|| lits.concat())
}
