//! Every function of the gate is short enough to read: at most [`MAX_LINES`] lines from its
//! `fn` line to its closing brace, unless a `// long: REASON` comment above it says why.

use std::fs;
use std::path::{Path, PathBuf};

/// The longest a function may be without a written reason.
const MAX_LINES: usize = 80;

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .expect("read src dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The name of the function a line starts, with the line's indentation.
fn fn_start(line: &str) -> Option<(&str, &str)> {
    let body = line.trim_start();
    let indent = &line[..line.len() - body.len()];
    let mut rest = body;
    for prefix in [
        "pub(crate) ",
        "pub(super) ",
        "pub ",
        "const ",
        "async ",
        "unsafe ",
    ] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    let rest = rest.strip_prefix("fn ")?;
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    Some((indent, &rest[..end]))
}

/// True when the comments and attributes right above line `at` give a `// long:` reason.
fn has_reason(lines: &[&str], at: usize) -> bool {
    lines[..at]
        .iter()
        .rev()
        .map(|l| l.trim_start())
        .take_while(|l| l.starts_with("//") || l.starts_with("#["))
        .any(|l| l.starts_with("// long:") && l.len() > "// long:".len() + 3)
}

/// Functions over the limit without a reason, as `name (N lines)`.
fn too_long(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some((indent, name)) = fn_start(line) else {
            continue;
        };
        // A declaration without a body (`fn f();` in a trait) ends on its own line.
        if line.trim_end().ends_with(';') {
            continue;
        }
        let close = format!("{indent}}}");
        let Some(end) = lines[i..].iter().position(|l| *l == close) else {
            continue;
        };
        let count = end + 1;
        if count > MAX_LINES && !has_reason(&lines, i) {
            out.push(format!("{name} ({count} lines)"));
        }
    }
    out
}

#[test]
fn functions_are_short_or_say_why() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    assert!(
        files.len() > 10,
        "no sources found under {}",
        root.display()
    );
    let mut problems = Vec::new();
    for f in &files {
        let text = fs::read_to_string(f).expect("read source");
        for p in too_long(&text) {
            problems.push(format!("{}: {p}", f.display()));
        }
    }
    assert!(
        problems.is_empty(),
        "functions over {MAX_LINES} lines without a `// long:` reason above them:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_check_counts_a_long_function() {
    let body = "    let x = 1;\n".repeat(MAX_LINES);
    let long = format!("/// Doc.\nfn long() {{\n{body}}}\n");
    assert_eq!(
        too_long(&long),
        vec![format!("long ({} lines)", MAX_LINES + 2)]
    );
    let reasoned =
        format!("/// Doc.\n// long: a parser whose states share locals.\nfn long() {{\n{body}}}\n");
    assert!(too_long(&reasoned).is_empty());
    let nested = format!("impl X {{\n    pub(crate) fn m(&self) {{\n{body}    }}\n}}\n");
    assert_eq!(
        too_long(&nested),
        vec![format!("m ({} lines)", MAX_LINES + 2)]
    );
    let short = "fn short() {\n    1;\n}\n";
    assert!(too_long(short).is_empty());
}
