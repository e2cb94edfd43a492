//! The gate's modules form layers: a module imports only modules in layers below its own.
//!
//! The order is the `Layers` list at the top of `src/lib.rs`; this test reads that list and
//! every source file, resolves each `crate::`/`super::` path to the top-level module it names,
//! and fails on an import that points up (or sideways within a layer) unless it is one of the
//! known edges in [`KNOWN_UPWARD`], which is a ratchet: an edge that no longer occurs must be
//! removed from it, so the list only shrinks.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Upward imports that exist today, as (importer, imported); each is a cycle still to be cut.
/// Empty: the modules form a strict order.
const KNOWN_UPWARD: &[(&str, &str)] = &[];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The layer list from `lib.rs`: lines `//! N. `a`, `b``, lowest first; module name to rank.
fn layers(lib: &str) -> BTreeMap<String, usize> {
    let mut ranks = BTreeMap::new();
    let mut in_list = false;
    for line in lib.lines() {
        let Some(doc) = line.strip_prefix("//!") else {
            continue;
        };
        let doc = doc.trim();
        if doc.starts_with("Layers") {
            in_list = true;
            continue;
        }
        if !in_list {
            continue;
        }
        let Some((num, rest)) = doc.split_once(". ") else {
            if !ranks.is_empty() {
                break;
            }
            continue;
        };
        let Ok(rank) = num.parse::<usize>() else {
            break;
        };
        for name in rest.split(',') {
            let name = name.trim().trim_matches('`');
            if !name.is_empty() {
                ranks.insert(name.to_string(), rank);
            }
        }
    }
    ranks
}

/// Every `.rs` file under `dir` with its module path (`lib.rs` is `[]`, `a/mod.rs` is `[a]`).
fn files(dir: &Path, prefix: &[String], out: &mut Vec<(Vec<String>, String)>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("read src dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p
            .file_stem()
            .expect("file name")
            .to_string_lossy()
            .to_string();
        if p.is_dir() {
            let mut next = prefix.to_vec();
            next.push(name);
            files(&p, &next, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            let mut module = prefix.to_vec();
            if name != "mod" && !(prefix.is_empty() && name == "lib") {
                module.push(name);
            }
            out.push((module, fs::read_to_string(&p).expect("read source")));
        }
    }
}

/// The code of a file: comments dropped, unit tests (from `#[cfg(test)]\nmod`) cut off.
fn code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|n| n.trim_start().starts_with("mod "))
        {
            break;
        }
        let line = line.split("//").next().unwrap_or("");
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The top-level modules (or `lib` for the crate root's own items) a file's paths name.
fn imports(module: &[String], text: &str, known: &BTreeSet<Vec<String>>) -> BTreeSet<String> {
    let group = |path: &[String]| path.first().cloned().unwrap_or_else(|| "lib".to_string());
    let mut out = BTreeSet::new();
    let code = code(text);
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let starts_path = (rest.starts_with("crate::") || rest.starts_with("super::"))
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'));
        if !starts_path {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        }
        let mut base: Vec<String> = module.to_vec();
        let mut tail = rest;
        if let Some(t) = tail.strip_prefix("crate::") {
            base.clear();
            tail = t;
        }
        while let Some(t) = tail.strip_prefix("super::") {
            base.pop();
            tail = t;
        }
        let names: Vec<&str> = match tail.strip_prefix('{') {
            Some(list) => {
                let list = &list[..list.find('}').unwrap_or(list.len())];
                list.split(',').map(|item| ident(item.trim())).collect()
            }
            None => vec![ident(tail)],
        };
        for name in names {
            let mut path = base.clone();
            path.push(name.to_string());
            out.insert(if known.contains(&path) {
                group(&path)
            } else {
                group(&base)
            });
        }
        i += rest.len() - tail.len();
    }
    out.remove(&group(module));
    out
}

#[test]
fn modules_import_only_lower_layers() {
    let root = src();
    let lib = fs::read_to_string(root.join("lib.rs")).expect("read lib.rs");
    let ranks = layers(&lib);
    assert!(
        ranks.len() > 5,
        "no layer list at the top of lib.rs: {ranks:?}"
    );
    let mut all = Vec::new();
    files(&root, &[], &mut all);
    let known: BTreeSet<Vec<String>> = all.iter().map(|(m, _)| m.clone()).collect();
    let mut upward = BTreeSet::new();
    let mut problems = Vec::new();
    for (module, text) in &all {
        let from = module.first().cloned().unwrap_or_else(|| "lib".to_string());
        let Some(&rank) = ranks.get(&from) else {
            problems.push(format!(
                "module {from} is missing from the layer list in lib.rs"
            ));
            continue;
        };
        for to in imports(module, text, &known) {
            let Some(&to_rank) = ranks.get(&to) else {
                problems.push(format!(
                    "{from} imports {to}, which is not in the layer list"
                ));
                continue;
            };
            if to_rank >= rank {
                upward.insert((from.clone(), to));
            }
        }
    }
    for (from, to) in &upward {
        if !KNOWN_UPWARD.contains(&(from.as_str(), to.as_str())) {
            problems.push(format!(
                "{from} imports {to}, which is not in a lower layer"
            ));
        }
    }
    for (from, to) in KNOWN_UPWARD {
        if !upward.contains(&(from.to_string(), to.to_string())) {
            problems.push(format!(
                "{from} no longer imports {to}: remove the edge from KNOWN_UPWARD"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_sees_an_upward_import() {
    let known: BTreeSet<Vec<String>> = [vec!["words".to_string()], vec!["walk".to_string()]]
        .into_iter()
        .collect();
    let text = "use super::{walk::Scope, Context};\nfn f() { crate::walk::MAX; }\n\
                // use crate::hidden::X;\n#[cfg(test)]\nmod tests { use crate::other; }\n";
    let got = imports(&["words".to_string()], text, &known);
    let want: BTreeSet<String> = ["walk", "lib"].iter().map(|s| s.to_string()).collect();
    assert_eq!(got, want);
    let lib = "//! Layers, lowest first:\n//! 1. `text`, `tables`\n//! 2. `words`\n//!\nmod x;\n";
    let ranks = layers(lib);
    assert_eq!(ranks.get("tables"), Some(&1));
    assert_eq!(ranks.get("words"), Some(&2));
    assert_eq!(ranks.len(), 3);
}
