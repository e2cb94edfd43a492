//! Git's extended patch format, as `diff` prints it: file headers, modes, renames with their
//! similarity, unified text hunks, and binary patches (`GIT binary patch`, zlib and base85)
//! that `git apply` takes; names quoted as git quotes them.
//!
//! Pure text: it renders bytes it is given and reads neither the overlay nor the workspace.

/// Files larger than this are reported as changed without a text diff.
pub(super) const MAX_DIFF_BYTES: u64 = 4 << 20;

/// One side of a file-level patch: git's mode and the bytes (a symlink's target), `None`
/// when too large to read.
pub(super) struct Side {
    pub(super) mode: u32,
    pub(super) bytes: Option<Vec<u8>>,
}

/// The mode git records: symlinks are 120000 whatever their permission bits.
pub(super) fn git_mode(mode: u32) -> u32 {
    if mode & libc::S_IFMT == libc::S_IFLNK {
        0o120000
    } else {
        mode
    }
}

/// Appends one file's patch in git's extended format; returns (insertions, deletions).
pub(super) fn file_patch(
    text: &mut String,
    a_path: &[u8],
    b_path: &[u8],
    old: Option<&Side>,
    new: Option<&Side>,
    renamed: bool,
    binary: bool,
) -> (usize, usize) {
    let (a_name, b_name) = (prefixed(b"a/", a_path), prefixed(b"b/", b_path));
    text.push_str(&format!("diff --git {a_name} {b_name}\n"));
    match (old, new) {
        (None, Some(n)) => text.push_str(&format!("new file mode {:06o}\n", n.mode)),
        (Some(o), None) => text.push_str(&format!("deleted file mode {:06o}\n", o.mode)),
        (Some(o), Some(n)) if o.mode != n.mode => {
            text.push_str(&format!(
                "old mode {:06o}\nnew mode {:06o}\n",
                o.mode, n.mode
            ));
        }
        _ => {}
    }
    let empty = Vec::new();
    let old_bytes = old.map(|s| s.bytes.as_ref());
    let new_bytes = new.map(|s| s.bytes.as_ref());
    if renamed {
        let similarity = match (old_bytes.flatten(), new_bytes.flatten()) {
            (Some(o), Some(n)) => similarity(o, n),
            _ => 100,
        };
        text.push_str(&format!(
            "similarity index {similarity}%\nrename from {}\nrename to {}\n",
            quote(a_path),
            quote(b_path)
        ));
    }
    let (Some(o), Some(n)) = (
        old_bytes.unwrap_or(Some(&empty)),
        new_bytes.unwrap_or(Some(&empty)),
    ) else {
        text.push_str(&format!(
            "Files {a_name} and {b_name} differ (larger than {} MiB)\n",
            MAX_DIFF_BYTES >> 20
        ));
        return (0, 0);
    };
    if o == n {
        return (0, 0);
    }
    // As git: a side that has no object is /dev/null.
    let a = if old.is_some() {
        a_name
    } else {
        "/dev/null".into()
    };
    let b = if new.is_some() {
        b_name
    } else {
        "/dev/null".into()
    };
    if is_binary(o) || is_binary(n) {
        if binary {
            let zero = "0".repeat(40);
            let id = |side: Option<&Side>, bytes: &[u8]| match side {
                Some(_) => git_blob_id(bytes),
                None => zero.clone(),
            };
            text.push_str(&format!(
                "index {}..{}\nGIT binary patch\n{}\n{}\n",
                id(old, o),
                id(new, n),
                literal(n),
                literal(o)
            ));
        } else {
            text.push_str(&format!("Binary files {a} and {b} differ\n"));
        }
        return (0, 0);
    }
    let (ins, del, body) = unified(&a, &b, o, n);
    text.push_str(&body);
    (ins, del)
}

/// Git's similarity of two contents, in percent: the share of the larger one that both keep.
pub(super) fn similarity(old: &[u8], new: &[u8]) -> usize {
    if old == new {
        return 100;
    }
    let larger = old.len().max(new.len());
    if larger == 0 {
        return 100;
    }
    let (old_text, new_text) = (String::from_utf8_lossy(old), String::from_utf8_lossy(new));
    let diff = similar::TextDiff::from_lines(old_text.as_ref(), new_text.as_ref());
    let kept: usize = diff
        .iter_all_changes()
        .filter(|c| c.tag() == similar::ChangeTag::Equal)
        .map(|c| c.value().len())
        .sum();
    (kept * 100 / larger).min(99)
}

/// As git decides: a NUL byte in the first 8000 bytes makes content binary; so, here,
/// does content that is not UTF-8 (the text diff works on text).
fn is_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(8000)].contains(&0) || std::str::from_utf8(bytes).is_err()
}

/// Git's object id of a blob with these bytes (SHA-1 of `blob LEN\0BYTES`).
fn git_blob_id(bytes: &[u8]) -> String {
    let mut h = sha1_smol::Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    h.digest().to_string()
}

/// A `literal` hunk of a git binary patch: the zlib-deflated bytes in base85 lines of up to
/// 52 bytes, each led by its length (`A`-`Z` for 1-26, `a`-`z` for 27-52).
fn literal(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(bytes).expect("writing to memory cannot fail");
    let packed = z.finish().expect("writing to memory cannot fail");
    let mut out = format!("literal {}\n", bytes.len());
    for chunk in packed.chunks(52) {
        let n = chunk.len() as u8;
        out.push(if n <= 26 {
            (b'A' + n - 1) as char
        } else {
            (b'a' + n - 27) as char
        });
        out.push_str(&base85(chunk));
        out.push('\n');
    }
    out
}

/// Git's base85 (the alphabet of `base85.c`), 5 characters per 4 bytes, zero-padded.
fn base85(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 85] =
        b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~";
    let mut out = String::new();
    for group in bytes.chunks(4) {
        let mut word = [0u8; 4];
        word[..group.len()].copy_from_slice(group);
        let mut acc = u32::from_be_bytes(word);
        let mut five = [0u8; 5];
        for slot in five.iter_mut().rev() {
            *slot = ALPHABET[(acc % 85) as usize];
            acc /= 85;
        }
        out.extend(five.iter().map(|b| *b as char));
    }
    out
}

/// Standard base64, for names that are not UTF-8 in JSON.
pub(super) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for group in bytes.chunks(3) {
        let mut word = [0u8; 3];
        word[..group.len()].copy_from_slice(group);
        let acc = u32::from_be_bytes([0, word[0], word[1], word[2]]);
        for i in 0..4 {
            if i <= group.len() {
                out.push(ALPHABET[((acc >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `prefix` + `path`, quoted as git quotes names (see [`quote`]).
fn prefixed(prefix: &[u8], path: &[u8]) -> String {
    let mut full = prefix.to_vec();
    full.extend_from_slice(path);
    quote(&full)
}

/// A name as git prints it: as is when plain, else in double quotes with C escapes for
/// control characters, `"` and `\`, and octal escapes for bytes from 0x80 (`core.quotePath`).
pub(super) fn quote(name: &[u8]) -> String {
    let plain = |b: u8| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\';
    if name.iter().all(|b| plain(*b)) {
        return String::from_utf8_lossy(name).into_owned();
    }
    let mut out = String::from("\"");
    for &b in name {
        match b {
            b'\x07' => out.push_str("\\a"),
            b'\x08' => out.push_str("\\b"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\x0b' => out.push_str("\\v"),
            b'\x0c' => out.push_str("\\f"),
            b'\r' => out.push_str("\\r"),
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b if plain(b) => out.push(b as char),
            b => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out.push('"');
    out
}

/// Counts changed lines and renders a unified diff of two texts (not binary: see
/// [`is_binary`]).
pub(super) fn unified(a: &str, b: &str, old: &[u8], new: &[u8]) -> (usize, usize, String) {
    let old = String::from_utf8_lossy(old);
    let new = String::from_utf8_lossy(new);
    let diff = similar::TextDiff::from_lines(old.as_ref(), new.as_ref());
    let mut ins = 0;
    let mut del = 0;
    for op in diff.iter_all_changes() {
        match op.tag() {
            similar::ChangeTag::Insert => ins += 1,
            similar::ChangeTag::Delete => del += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(a, b)
        .to_string();
    (ins, del, text)
}
