//! Argument parsing as GNU getopt does it: combined short flags (`-rf`), flags with values
//! (`-n 5`, `-n5`), long flags with `=` or a separate value, unambiguous long prefixes
//! (`--rec`), flags after operands (permutation), and `--` ending the flags.
//!
//! It does not know any command: callers say which flags take a value.

use crate::field::Field;

/// Flags and operands of one command.
#[derive(Debug, Default, Clone)]
pub(crate) struct Parsed {
    pub shorts: Vec<(char, Option<Field>)>,
    pub longs: Vec<(String, Option<Field>)>,
    pub operands: Vec<Field>,
    /// Index in the input of the first operand when parsing stopped there (wrappers).
    pub rest: usize,
}

/// How to parse one command's arguments.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec<'a> {
    /// Short flags that take a value.
    pub short_val: &'a str,
    /// Long flags (without `--`) that take a value.
    pub long_val: &'a [&'a str],
    /// Stop at the first operand (wrappers: the rest is the wrapped command).
    pub stop: bool,
}

impl<'a> Spec<'a> {
    pub const fn new(short_val: &'a str, long_val: &'a [&'a str]) -> Spec<'a> {
        Spec {
            short_val,
            long_val,
            stop: false,
        }
    }
    pub const fn wrapper(short_val: &'a str, long_val: &'a [&'a str]) -> Spec<'a> {
        Spec {
            short_val,
            long_val,
            stop: true,
        }
    }
}

/// Parses `args` (without the program name).
// long: one pass over the words whose index, option cluster and `--` state every branch shares.
pub(crate) fn parse(args: &[Field], spec: Spec<'_>) -> Parsed {
    let mut p = Parsed {
        rest: args.len(),
        ..Parsed::default()
    };
    let mut i = 0;
    let mut flags_done = false;
    while i < args.len() {
        let a = &args[i];
        let t = a.text.as_str();
        if flags_done || !a.known && !t.starts_with('-') || t == "-" || !t.starts_with('-') {
            if spec.stop {
                p.rest = i;
                p.operands.extend(args[i..].iter().cloned());
                return p;
            }
            p.operands.push(a.clone());
            i += 1;
            continue;
        }
        if t == "--" {
            flags_done = true;
            i += 1;
            if spec.stop {
                p.rest = i;
                p.operands.extend(args[i..].iter().cloned());
                return p;
            }
            continue;
        }
        if let Some(long) = t.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (
                    n,
                    Some(Field {
                        text: v.to_owned(),
                        ..a.clone()
                    }),
                ),
                None => (long, None),
            };
            let takes = spec
                .long_val
                .iter()
                .any(|l| *l == name || (name.len() >= 3 && l.starts_with(name)));
            let value = if inline.is_some() {
                inline
            } else if takes {
                i += 1;
                args.get(i).cloned()
            } else {
                None
            };
            p.longs.push((name.to_owned(), value));
            i += 1;
            continue;
        }
        // A cluster of short flags: the first one that takes a value eats the rest.
        let chars: Vec<char> = t.chars().skip(1).collect();
        let mut j = 0;
        while j < chars.len() {
            let c = chars[j];
            if spec.short_val.contains(c) {
                let rest: String = chars[j + 1..].iter().collect();
                let value = if rest.is_empty() {
                    i += 1;
                    args.get(i).cloned()
                } else {
                    Some(Field {
                        text: rest,
                        ..a.clone()
                    })
                };
                p.shorts.push((c, value));
                break;
            }
            p.shorts.push((c, None));
            j += 1;
        }
        i += 1;
    }
    p
}

impl Parsed {
    /// True when short flag `c` or long flag `long` (or an unambiguous prefix) was given.
    pub fn has(&self, c: char, long: &str) -> bool {
        self.shorts.iter().any(|(s, _)| *s == c && c != '\0') || self.has_long(long)
    }

    pub fn has_long(&self, long: &str) -> bool {
        !long.is_empty()
            && self
                .longs
                .iter()
                .any(|(l, _)| l == long || (l.len() >= 3 && long.starts_with(l.as_str())))
    }

    /// The value of short flag `c` or long flag `long`, last one wins.
    pub fn value(&self, c: char, long: &str) -> Option<&Field> {
        let s = self
            .shorts
            .iter()
            .rev()
            .find(|(s, _)| *s == c)
            .and_then(|(_, v)| v.as_ref());
        let l = self
            .longs
            .iter()
            .rev()
            .find(|(l, _)| {
                !long.is_empty() && (l == long || (l.len() >= 3 && long.starts_with(l.as_str())))
            })
            .and_then(|(_, v)| v.as_ref());
        s.or(l)
    }

    /// Every value given to short flag `c` or long flag `long`.
    pub fn values(&self, c: char, long: &str) -> Vec<&Field> {
        let mut out: Vec<&Field> = self
            .shorts
            .iter()
            .filter(|(s, _)| *s == c)
            .filter_map(|(_, v)| v.as_ref())
            .collect();
        out.extend(
            self.longs
                .iter()
                .filter(|(l, _)| {
                    !long.is_empty()
                        && (l == long || (l.len() >= 3 && long.starts_with(l.as_str())))
                })
                .filter_map(|(_, v)| v.as_ref()),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: &[&str]) -> Vec<Field> {
        v.iter().map(|s| Field::lit(s)).collect()
    }

    #[test]
    fn gnu_style() {
        let p = parse(&f(&["/", "-rf"]), Spec::new("", &[]));
        assert!(p.has('r', "recursive") && p.has('f', "force"));
        assert_eq!(p.operands.len(), 1);
        let p = parse(&f(&["--rec", "--force", "--", "-x"]), Spec::new("", &[]));
        assert!(p.has('r', "recursive"));
        assert_eq!(p.operands[0].text, "-x");
        let p = parse(&f(&["-n5", "-s", "0", "x"]), Spec::new("ns", &["size"]));
        assert_eq!(p.value('n', "").map(|v| v.text.as_str()), Some("5"));
        assert_eq!(p.value('s', "size").map(|v| v.text.as_str()), Some("0"));
        let p = parse(&f(&["-n", "5", "rm", "-rf"]), Spec::wrapper("n", &[]));
        assert_eq!(p.rest, 2);
    }
}
