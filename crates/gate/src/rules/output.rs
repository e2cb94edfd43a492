//! What a command writes to stdout, as far as the gate can compute it statically.
//!
//! Owns `echo`/`printf`/`pwd`/`seq` output, decoders and transforms (`base64 -d`, `rev`,
//! `tr`, `gunzip`, ...: their output is tainted as decoded, and computed when possible),
//! downloads (tainted as network data), secret sources (`env`, key files), endless sources
//! (`yes`, `/dev/zero`), and tools whose output is made to be `eval`ed.
//! Any other command passes its input's taint through, conservatively.

use crate::args::{Spec, parse};
use crate::cmd::Cmd;
use crate::field::Field;
use crate::field::{DESCENDANT, UNKNOWN};
use crate::paths::Class;
use crate::state::{Stream, Taint};
use crate::tables::RECURSIVE_READERS;
use crate::text::{decode_ansi_c, decode_echo};

/// Tools whose output is shell code meant for `eval "$(tool ...)"`.
const SHELLENV: &[&str] = &[
    "direnv",
    "ssh-agent",
    "pyenv",
    "rbenv",
    "nodenv",
    "goenv",
    "jenv",
    "conda",
    "starship",
    "zoxide",
    "brew",
    "opam",
    "fnm",
    "mise",
    "rtx",
    "dircolors",
    "keychain",
    "thefuck",
    "luarocks",
    "asdf",
    "atuin",
    "fzf",
    "gpg-agent",
    "rustup",
    "nvm",
    "minikube",
    "docker-machine",
    "pipenv",
    "pdm",
    "devbox",
    "nix",
    "flox",
];

/// Commands whose output is their input (or their files) transformed beyond reading.
const DECODERS: &[&str] = &[
    "base64",
    "base32",
    "basenc",
    "xxd",
    "uudecode",
    "openssl",
    "gunzip",
    "zcat",
    "gzip",
    "bunzip2",
    "bzcat",
    "bzip2",
    "xz",
    "unxz",
    "xzcat",
    "zstd",
    "unzstd",
    "zstdcat",
    "lz4",
    "brotli",
    "rev",
    "tr",
    "uncompress",
    "od",
    "hexdump",
    "iconv",
    "rot13",
    "caesar",
];

/// What a command writes to its stdout, as far as the gate can tell: text it generates,
/// or what it passes on from its input and the files it reads.
pub(crate) fn output(c: &mut Cmd<'_, '_>) -> Stream {
    let name = c.prog.name.clone();
    let args = c.args().to_vec();
    if let Some(s) = generated(c, &name, &args) {
        return s;
    }
    let (inherited, files_endless) = inherited(c, &name, &args);
    passed_on(c, &name, &args, inherited, files_endless)
}

/// What a command inherits from its input and the files it reads: their taint, and
/// whether one of them is endless (`cat /dev/zero`).
fn inherited(c: &mut Cmd<'_, '_>, name: &str, args: &[Field]) -> (Stream, bool) {
    let stdin = c.io.stdin.clone();
    let mut inherited = Stream::tainted(stdin.taint);
    let mut files_endless = false;
    for a in args {
        // A path the gate knows, or one below a directory it knows (`find DIR -exec cat {}`).
        let below = a.text.contains(DESCENDANT) && !a.text.contains(UNKNOWN);
        if (a.known || below)
            && (a.text.starts_with('/')
                || a.text.starts_with('.')
                || a.text.starts_with('~')
                || a.text.contains('/'))
        {
            let s = c.an.file_stream(a, c.scope);
            inherited.taint = inherited.taint.merge(s.taint);
            files_endless |= s.endless;
            inherited.endless |= s.endless && matches!(name, "cat" | "tac" | "tee");
        } else if a.known && c.an.paths.is_secret(&a.text) {
            inherited.taint.secret = true;
            inherited.taint.stored = true;
        }
        // Archiving the whole home or its credential directories packs secrets, and so does
        // reading recursively a directory that holds them (`grep -r x ~/.config`).
        let holds = RECURSIVE_READERS.contains(&name) && c.an.paths.holds_secrets(&c.abs(a));
        if a.known && (holds || matches!(c.class(a), Class::Home | Class::HomeSensitive)) {
            inherited.taint.secret = true;
            inherited.taint.stored = true;
        }
    }
    (inherited, files_endless)
}

/// The text of files the line wrote earlier, in order, when every operand is one.
fn written_text(c: &mut Cmd<'_, '_>, args: &[Field]) -> Option<String> {
    let files: Vec<&Field> = args.iter().filter(|a| !a.text.starts_with('-')).collect();
    if files.is_empty() {
        return None;
    }
    let texts: Option<Vec<String>> = files
        .iter()
        .map(|f| c.an.written_at(&c.abs(f)).and_then(|s| s.text))
        .collect();
    texts.map(|t| t.concat())
}

/// `PROGRAM completion[s] SHELL`: a program found through `$PATH` printing its shell
/// completion script.
fn completion(c: &Cmd<'_, '_>, args: &[Field]) -> bool {
    c.prog.trusted
        && args
            .first()
            .is_some_and(|a| a.is("completion") || a.is("completions"))
}

/// Text a command makes up itself (`echo`, `printf`, `seq`, `mktemp`, `env`), when it is one.
fn generated(c: &mut Cmd<'_, '_>, name: &str, args: &[Field]) -> Option<Stream> {
    match name {
        "echo" => Some(echo(args)),
        "printf" => {
            // `--` ends printf's options: the format is the next word.
            let args = args.strip_prefix(&[Field::lit("--")][..]).unwrap_or(args);
            let mut s =
                Stream::tainted(args.iter().fold(Taint::default(), |t, w| t.merge(w.taint)));
            let Some(fmt) = args.first().filter(|f| f.known && f.text != "-v") else {
                return Some(s);
            };
            let rest = &args[1..];
            if rest.iter().all(|w| w.known) {
                s.text = printf(
                    &fmt.text,
                    &rest.iter().map(|f| f.text.as_str()).collect::<Vec<_>>(),
                );
            }
            Some(s)
        }
        "pwd" => Some(Stream {
            text: c.scope.cwd.as_ref().map(|p| format!("{p}\n")),
            ..Stream::default()
        }),
        "seq" => {
            let nums: Vec<i64> = args.iter().filter_map(|a| a.text.parse().ok()).collect();
            let (lo, hi) = match nums.as_slice() {
                [n] => (1, *n),
                [a, b] => (*a, *b),
                _ => return None,
            };
            if hi - lo > 64 {
                return None;
            }
            Some(Stream::text((lo..=hi).map(|n| format!("{n}\n")).collect()))
        }
        "mktemp" => Some(mktemp(args)),
        "yes" => Some(Stream {
            endless: true,
            ..Stream::default()
        }),
        // `set` prints the variables only when bare (`set -e` sets an option).
        "set" if !args.is_empty() => None,
        "env" | "printenv" | "set" | "export" | "declare" | "compgen" => {
            Some(Stream::tainted(Taint {
                secret: true,
                stored: true,
                ..Taint::default()
            }))
        }
        // A tool's `completion` script (`kubectl completion bash`) is made to be sourced.
        n if SHELLENV.contains(&n) || completion(c, args) => Some(Stream::tainted(Taint {
            shellenv: true,
            ..Taint::default()
        })),
        _ => None,
    }
}

/// What a filter, reader or network client passes on from what it reads.
fn passed_on(
    c: &mut Cmd<'_, '_>,
    name: &str,
    args: &[Field],
    inherited: Stream,
    files_endless: bool,
) -> Stream {
    let stdin = c.io.stdin.clone();
    match name {
        // `head -c 100G /dev/zero` is bounded only on paper.
        "head"
            if (files_endless || stdin.endless)
                && super::system::huge_size(
                    &args.iter().map(|a| a.text.as_str()).collect::<Vec<_>>(),
                ) =>
        {
            Stream {
                endless: true,
                ..Stream::default()
            }
        }
        "curl" | "wget" | "nc" | "ncat" | "netcat" | "socat" | "telnet" | "http" | "https"
        | "xh" | "ssh" | "fetch" | "lynx" | "aria2c" => {
            let mut s = inherited;
            if super::net::to_stdout(name, c.fields) {
                s.taint.net = true;
            }
            s
        }
        "cat" | "tac" if args.iter().all(|a| a.text.starts_with('-')) => {
            let mut s = stdin;
            s.piped = false;
            s
        }
        // `cat FILE...` of files the line wrote prints what was written.
        "cat" if !args.is_empty() => Stream {
            text: written_text(c, args),
            ..inherited
        },
        "grep" | "egrep" | "fgrep" | "sort" | "uniq" | "head" | "tail" | "tac" | "cat" | "shuf"
            if args
                .iter()
                .all(|a| a.text.starts_with('-') || !a.known || !a.text.contains('/'))
                && stdin.paths_under.is_some()
                && !args.iter().any(|a| a.text.contains('/')) =>
        {
            Stream {
                paths_under: stdin.paths_under.clone(),
                ..inherited
            }
        }
        "ls" if args.iter().all(|a| {
            !a.text.contains("..") && !a.text.starts_with('/') && !a.text.starts_with('~')
        }) =>
        {
            Stream {
                paths_under: c.scope.cwd.clone(),
                ..inherited
            }
        }
        "git"
            if args
                .iter()
                .any(|a| a.is("ls-files") || a.is("--name-only") || a.is("--name-status")) =>
        {
            Stream {
                paths_under: c.scope.cwd.clone(),
                ..inherited
            }
        }
        n if DECODERS.contains(&n) => decoded(n, args, inherited, &stdin),
        _ => inherited,
    }
}

/// Computes simple decoders, so decoded text can be shown and judged.
fn decode(name: &str, input: &str, args: &[crate::field::Field]) -> Option<String> {
    match name {
        "base64" => base64(input.trim()).and_then(|b| String::from_utf8(b).ok()),
        "rev" => Some(
            input
                .lines()
                .map(|l| l.chars().rev().collect::<String>() + "\n")
                .collect(),
        ),
        "tr" => {
            let a = parse(args, Spec::new("", &[]));
            if a.shorts.iter().any(|(c, _)| *c != 's') {
                return None;
            }
            let from = expand_set(&a.operands.first()?.text);
            let to = expand_set(&a.operands.get(1)?.text);
            let last = *to.last()?;
            Some(
                input
                    .chars()
                    .map(|ch| {
                        from.iter()
                            .position(|f| *f == ch)
                            .map_or(ch, |i| *to.get(i).unwrap_or(&last))
                    })
                    .collect(),
            )
        }
        _ => None,
    }
}

fn expand_set(s: &str) -> Vec<char> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if i + 2 < chars.len() && chars[i + 1] == '-' && chars[i] <= chars[i + 2] {
            out.extend(chars[i]..=chars[i + 2]);
            i += 3;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for ch in s.bytes() {
        let v = match ch {
            b'A'..=b'Z' => ch - b'A',
            b'a'..=b'z' => ch - b'a' + 26,
            b'0'..=b'9' => ch - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' | b'\n' | b'\r' | b' ' => continue,
            _ => return None,
        };
        buf = (buf << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((buf >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// `printf FORMAT ARGS...` for `%s`, `%b`, `%d` and escapes; other directives are unknown.
fn printf(fmt: &str, args: &[&str]) -> Option<String> {
    let mut out = String::new();
    let mut i = 0;
    let mut rounds = 0;
    loop {
        // The format's own escapes are decoded; `%s` prints its argument as it is, `%b`
        // decodes the argument's escapes as `echo -e` does.
        let mut lit = String::new();
        let mut chars = fmt.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                lit.push(c);
                continue;
            }
            let conv = chars.next()?;
            if conv == '%' {
                lit.push('%');
                continue;
            }
            out.push_str(&decode_ansi_c(&std::mem::take(&mut lit)));
            let arg = args.get(i).copied().unwrap_or("");
            i += 1;
            match conv {
                'b' => out.push_str(&decode_echo(arg)),
                's' | 'd' | 'i' => out.push_str(arg),
                _ => return None,
            }
        }
        out.push_str(&decode_ansi_c(&lit));
        rounds += 1;
        if i >= args.len() || rounds > 64 {
            break;
        }
    }
    Some(out)
}

/// `echo`: its arguments, joined, with escapes decoded under `-e`.
fn echo(args: &[Field]) -> Stream {
    let mut i = 0;
    let (mut escapes, mut newline) = (false, "\n");
    // Flags are words of `n`, `e` and `E` only (`-n`, `-ne`, `-nE`); `-n` drops the newline.
    while let Some(flags) = args.get(i).and_then(|a| a.text.strip_prefix('-')) {
        if flags.is_empty() || !flags.chars().all(|c| matches!(c, 'n' | 'e' | 'E')) {
            break;
        }
        escapes |= flags.contains('e');
        if flags.contains('n') {
            newline = "";
        }
        i += 1;
    }
    let words = &args[i..];
    let mut s = Stream::tainted(words.iter().fold(Taint::default(), |t, w| t.merge(w.taint)));
    if words.iter().all(|w| w.known) {
        let text = words
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let text = if escapes { decode_echo(&text) } else { text };
        s.text = Some(format!("{text}{newline}"));
    }
    s
}

/// `mktemp`: a fresh name under the temp directory (or `-p DIR`), its random part unknown.
fn mktemp(args: &[Field]) -> Stream {
    let a = parse(args, Spec::new("p", &["tmpdir", "suffix"]));
    let dir = a.value('p', "tmpdir").map(|d| d.text.clone());
    let name = match (a.operands.first(), dir) {
        (Some(t), Some(d)) => format!("{d}/{}", t.text.replace('X', &UNKNOWN.to_string())),
        (Some(t), None) if !a.has('t', "") => t.text.replace('X', &UNKNOWN.to_string()),
        (Some(t), None) => format!("/tmp/{}", t.text.replace('X', &UNKNOWN.to_string())),
        (None, Some(d)) => format!("{d}/tmp.{UNKNOWN}"),
        (None, None) => format!("/tmp/tmp.{UNKNOWN}"),
    };
    Stream::text(format!("{name}\n"))
}

/// A decoder or decompressor: what it passes on is decoded (hidden from the gate), and
/// known when the gate can decode the static input itself.
fn decoded(n: &str, args: &[Field], inherited: Stream, stdin: &Stream) -> Stream {
    let decoding = !matches!(
        n,
        "gzip"
            | "bzip2"
            | "xz"
            | "zstd"
            | "lz4"
            | "brotli"
            | "base64"
            | "base32"
            | "basenc"
            | "xxd"
            | "openssl"
    ) || args.iter().any(|a| {
        matches!(
            a.text.as_str(),
            "-d" | "--decode" | "-D" | "-r" | "-revert" | "-dc" | "-cd"
        ) || a.text.starts_with("-d") && a.text.len() <= 3
    });
    if !decoding {
        return inherited;
    }
    let mut s = Stream::tainted(inherited.taint.merge(Taint {
        decoded: true,
        ..Taint::default()
    }));
    s.text = stdin.text.as_deref().and_then(|t| decode(n, t, args));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoders() {
        assert_eq!(
            base64("cm0gLXJmIC8=")
                .and_then(|b| String::from_utf8(b).ok())
                .as_deref(),
            Some("rm -rf /")
        );
        assert_eq!(printf("%s\\n", &["a", "b"]).as_deref(), Some("a\nb\n"));
        assert_eq!(expand_set("a-c"), vec!['a', 'b', 'c']);
    }
}
