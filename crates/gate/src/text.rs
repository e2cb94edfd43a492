//! Pure text operations of the shell: pattern matching, brace expansion, `$'...'`
//! decoding, and the substring and pattern-removal forms of parameter expansion.
//!
//! Owns no state and knows nothing of commands; [`super::words`] calls these while it
//! evaluates a word.

use brush_parser::ParserOptions;
use brush_parser::word::{BraceExpressionMember, BraceExpressionOrText};

/// Most words one brace expansion may produce.
const MAX_BRACE: usize = 256;

/// `${v:offset:length}` on a known value; `None` when the arithmetic is not a literal.
pub(crate) fn substring(t: &str, offset: &str, length: Option<&str>) -> Option<String> {
    let chars: Vec<char> = t.chars().collect();
    let len = i64::try_from(chars.len()).ok()?;
    let mut off: i64 = offset
        .trim()
        .trim_matches(|c| c == '(' || c == ')')
        .trim()
        .parse()
        .ok()?;
    if off < 0 {
        off = (len + off).max(0);
    }
    let off = off.min(len);
    let end = match length {
        None => len,
        Some(l) => {
            let l: i64 = l
                .trim()
                .trim_matches(|c| c == '(' || c == ')')
                .trim()
                .parse()
                .ok()?;
            if l < 0 {
                (len + l).max(off)
            } else {
                (off + l).min(len)
            }
        }
    };
    let (off, end) = (usize::try_from(off).ok()?, usize::try_from(end).ok()?);
    Some(chars.get(off..end)?.iter().collect())
}

/// `${v#pat}`, `${v##pat}`, `${v%pat}`, `${v%%pat}` on a known value.
pub(crate) fn strip_pattern(t: &str, pat: &str, prefix: bool, largest: bool) -> String {
    let idx: Vec<usize> = t
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(t.len()))
        .collect();
    let candidates: Box<dyn Iterator<Item = &usize>> = match (prefix, largest) {
        (true, false) | (false, true) => Box::new(idx.iter()),
        (true, true) | (false, false) => Box::new(idx.iter().rev()),
    };
    for &i in candidates {
        let (head, tail) = t.split_at(i);
        if prefix && glob_match(pat, head) {
            return tail.to_owned();
        }
        if !prefix && glob_match(pat, tail) {
            return head.to_owned();
        }
    }
    t.to_owned()
}

/// Decodes the escapes of `echo -e` and printf's `%b`: as in `$'...'`, except that an
/// octal escape is `\0` and up to three digits (`\0162` is `r`).
pub(crate) fn decode_echo(s: &str) -> String {
    let mut plain = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        plain.push(c);
        if c == '\\' {
            match it.next() {
                // `\0NNN` is `\NNN`; a lone `\0` stays NUL.
                Some('0') if it.peek().is_some_and(|d| d.is_digit(8)) => {}
                Some(e) => plain.push(e),
                None => {}
            }
        }
    }
    decode_ansi_c(&plain)
}

/// Decodes the body of a `$'...'` word.
pub(crate) fn decode_ansi_c(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = it.next() else {
            out.push('\\');
            break;
        };
        let simple = match e {
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'e' | 'E' => Some('\x1b'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            '\\' | '\'' | '"' | '?' => Some(e),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            continue;
        }
        let (radix, max) = match e {
            'x' => (16, 2),
            'u' => (16, 4),
            'U' => (16, 8),
            '0'..='7' => (8, 2),
            'c' => {
                if let Some(c) = it.next() {
                    out.push(char::from((c as u32 & 0x1f) as u8));
                }
                continue;
            }
            _ => {
                out.push('\\');
                out.push(e);
                continue;
            }
        };
        let mut digits = String::new();
        if radix == 8 {
            digits.push(e);
        }
        while digits.len() < max + usize::from(radix == 8) {
            match it.peek() {
                Some(d) if d.is_digit(radix) => {
                    digits.push(*d);
                    it.next();
                }
                _ => break,
            }
        }
        match u32::from_str_radix(&digits, radix)
            .ok()
            .and_then(char::from_u32)
        {
            Some(c) => out.push(c),
            None => {
                out.push('\\');
                out.push(e);
            }
        }
    }
    out
}

/// Brace expansion of a raw word (quotes respected by the parser); bounded in count.
pub(crate) fn brace_expand(raw: &str) -> Vec<String> {
    if !raw.contains('{') {
        return vec![raw.to_owned()];
    }
    match brush_parser::word::parse_brace_expansions(raw, &ParserOptions::default()) {
        Ok(Some(pieces)) => {
            let mut out = vec![String::new()];
            expand_seq(&pieces, &mut out);
            out.truncate(MAX_BRACE);
            out
        }
        _ => vec![raw.to_owned()],
    }
}

fn expand_seq(pieces: &[BraceExpressionOrText], acc: &mut Vec<String>) {
    for p in pieces {
        let alts: Vec<String> = match p {
            BraceExpressionOrText::Text(t) => vec![t.clone()],
            BraceExpressionOrText::Expr(members) => {
                let mut alts = Vec::new();
                for m in members {
                    alts.extend(expand_member(m));
                    if alts.len() > MAX_BRACE {
                        break;
                    }
                }
                alts
            }
        };
        let mut next = Vec::new();
        for a in acc.iter() {
            for b in &alts {
                if next.len() >= MAX_BRACE {
                    break;
                }
                next.push(format!("{a}{b}"));
            }
        }
        *acc = next;
    }
}

fn expand_member(m: &BraceExpressionMember) -> Vec<String> {
    match m {
        BraceExpressionMember::Child(c) => {
            let mut out = vec![String::new()];
            expand_seq(c, &mut out);
            out
        }
        BraceExpressionMember::NumberSequence {
            start,
            end,
            increment,
        } => {
            let step = increment.unsigned_abs().max(1);
            let (lo, hi) = (*start.min(end), *start.max(end));
            let mut v: Vec<String> = (lo..=hi)
                .step_by(usize::try_from(step).unwrap_or(1))
                .take(MAX_BRACE)
                .map(|n| n.to_string())
                .collect();
            if start > end {
                v.reverse();
            }
            v
        }
        BraceExpressionMember::CharSequence { start, end, .. } => {
            let (lo, hi) = (*start.min(end), *start.max(end));
            (lo..=hi).take(MAX_BRACE).map(String::from).collect()
        }
    }
}

/// Shell pattern matching (`*`, `?`, `[...]`), iterative with backtracking on `*`.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, len)) = class_match(&p[pi..], t[ti]) {
                        if matched {
                            pi += len;
                            ti += 1;
                            continue;
                        }
                    } else if t[ti] == '[' {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                c if c == t[ti] => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the bracket expression at the start of `p`: (matched, length).
fn class_match(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(1), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&e| e != ']') {
            if p[i] <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

/// Where the bracket opened just before `body` closes (`close`, with `open` nesting).
pub(crate) fn closing(body: &str, open: char, close: char) -> Option<usize> {
    let mut depth = 1usize;
    body.char_indices().find_map(|(i, c)| {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
        }
        (depth == 0).then_some(i)
    })
}

/// Splits a git alias into words as git does: blanks separate, single and double quotes
/// group, a backslash escapes the next character.
pub(crate) fn split_cmdline(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(ch) = chars.next() {
        match (quote, ch) {
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, '\'' | '"') => {
                quote = Some(ch);
                word.get_or_insert_default();
            }
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => word.get_or_insert_default().push(c),
            (_, '\\') => word.get_or_insert_default().extend(chars.next()),
            (_, c) => word.get_or_insert_default().push(c),
        }
    }
    words.extend(word);
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("r[m]", "rm"));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("r?", "rm"));
        assert!(glob_match("*.log", "a.log"));
        assert!(!glob_match("*.log", "a.txt"));
        assert!(glob_match("[!a]m", "rm"));
    }

    #[test]
    fn ansi_c() {
        assert_eq!(decode_echo("\\0162\\0155 \\x72"), "rm r");
        assert_eq!(decode_ansi_c(r"\x2f"), "/");
        assert_eq!(decode_ansi_c(r"\162\155"), "rm");
        assert_eq!(decode_ansi_c(r"a\nb"), "a\nb");
        assert_eq!(decode_ansi_c(r"\u0072m"), "rm");
    }

    #[test]
    fn braces() {
        assert_eq!(brace_expand("{rm,-rf,/}"), vec!["rm", "-rf", "/"]);
        assert_eq!(brace_expand("{/etc,/usr}"), vec!["/etc", "/usr"]);
        assert_eq!(brace_expand("a{1..3}"), vec!["a1", "a2", "a3"]);
        assert_eq!(brace_expand("'{a,b}'"), vec!["'{a,b}'"]);
    }

    #[test]
    fn substrings() {
        assert_eq!(substring("mr", "1", None).as_deref(), Some("r"));
        assert_eq!(substring("mr", "0", Some("1")).as_deref(), Some("m"));
        assert_eq!(strip_pattern("file.tar.gz", ".*", false, false), "file.tar");
        assert_eq!(strip_pattern("file.tar.gz", ".*", false, true), "file");
    }
}
