//! Which paths a partial commit or abort (and a session's rollback) acts on: exact paths or
//! shell-style globs relative to the workspace root, with paths to leave out.
//!
//! Pure: it matches path bytes and touches neither the overlay nor the workspace.

use crate::overlay::RelPath;

/// Which paths a partial commit or abort acts on: exact paths (a path and everything under
/// it) or globs (`*` and `?` within one component, `**` across components), relative to the
/// workspace root.
#[derive(Debug, Clone)]
pub struct Filter {
    /// None: every change.
    patterns: Vec<Vec<u8>>,
    /// Paths (and what is under them) a pattern does not select (`commit --exclude-ignored`).
    exclude: Vec<Vec<u8>>,
    /// The patterns are paths, never globs (a name may hold `*` or `?`).
    literal: bool,
}

impl Filter {
    /// Parses the patterns (none: every change); refuses absolute paths and `..`.
    pub fn new(patterns: &[String]) -> Result<Filter, String> {
        let mut out = Vec::new();
        for p in patterns {
            let mut t = p.as_str();
            while let Some(s) = t.strip_prefix("./") {
                t = s;
            }
            let t = t.trim_end_matches('/');
            if p.starts_with('/') {
                return Err(format!(
                    "path {p:?} is absolute: name paths relative to the workspace root"
                ));
            }
            if t.split('/').any(|c| c == "..") {
                return Err(format!("path {p:?} leaves the workspace"));
            }
            if t.is_empty() || t == "." {
                return Err(format!(
                    "path {p:?} names the whole workspace: leave it out"
                ));
            }
            out.push(t.as_bytes().to_vec());
        }
        Ok(Filter {
            patterns: out,
            exclude: Vec::new(),
            literal: false,
        })
    }

    /// Selects exactly these paths (and what is under them), taken as they are: for a
    /// session rollback, whose paths come from the overlay, not from a user.
    pub(super) fn literal(paths: Vec<Vec<u8>>) -> Filter {
        Filter {
            patterns: paths,
            exclude: Vec::new(),
            literal: true,
        }
    }

    /// The same filter, selecting nothing at or under `paths` by itself (a change that a
    /// selected one needs still goes along).
    pub fn excluding(mut self, paths: &[String]) -> Filter {
        self.exclude = paths.iter().map(|p| p.as_bytes().to_vec()).collect();
        self
    }

    pub(super) fn excluded(&self, path: &[u8]) -> bool {
        self.exclude
            .iter()
            .any(|e| path == e || (path.starts_with(e) && path.get(e.len()) == Some(&b'/')))
    }

    fn matches_one(&self, pattern: &[u8], path: &[u8]) -> bool {
        if self.literal || !pattern.iter().any(|b| matches!(b, b'*' | b'?')) {
            return path == pattern
                || (path.starts_with(pattern) && path.get(pattern.len()) == Some(&b'/'));
        }
        // A glob matches the path or one of its ancestors (`src/*` takes `src/a/b`).
        glob(pattern, path)
            || path
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'/')
                .any(|(i, _)| glob(pattern, &path[..i]))
    }

    /// Which patterns match nothing among `paths`.
    pub(super) fn unmatched<'a>(&'a self, paths: &[&RelPath]) -> Vec<&'a [u8]> {
        self.patterns
            .iter()
            .filter(|p| !paths.iter().any(|q| self.matches_one(p, &q.0)))
            .map(Vec::as_slice)
            .collect()
    }

    pub(super) fn matches(&self, path: &RelPath) -> bool {
        self.matches_bytes(&path.0)
    }

    /// Whether `path` (relative to the workspace root) is selected.
    pub fn matches_bytes(&self, path: &[u8]) -> bool {
        (self.patterns.is_empty() || self.patterns.iter().any(|p| self.matches_one(p, path)))
            && !self.excluded(path)
    }
}

/// Shell-style matching of a whole path: `*`/`?` stop at `/`, `**` crosses it.
fn glob(pat: &[u8], s: &[u8]) -> bool {
    match pat.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) if rest.first() == Some(&b'*') => {
            let rest = &rest[1..];
            let rest = rest.strip_prefix(b"/").unwrap_or(rest);
            (0..=s.len()).any(|i| glob(rest, &s[i..]))
        }
        Some((b'*', rest)) => {
            let mut i = 0;
            loop {
                if glob(rest, &s[i..]) {
                    return true;
                }
                if i == s.len() || s[i] == b'/' {
                    return false;
                }
                i += 1;
            }
        }
        Some((b'?', rest)) => s.first().is_some_and(|c| *c != b'/') && glob(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && glob(rest, &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_stay_in_their_component_unless_doubled() {
        assert!(glob(b"src/*.rs", b"src/a.rs"));
        assert!(!glob(b"src/*.rs", b"src/x/a.rs"));
        assert!(glob(b"src/**/*.rs", b"src/x/y/a.rs"));
        assert!(glob(b"src/**/*.rs", b"src/a.rs"));
        assert!(glob(b"?.txt", b"a.txt"));
        assert!(!glob(b"?.txt", b"/.txt"));
        assert!(!glob(b"*", b"a/b"));
    }

    #[test]
    fn a_path_takes_its_subtree_and_a_glob_its_matches_descendants() {
        let f = Filter::new(&["src".into(), "docs/*.md".into()]).expect("valid patterns");
        assert!(f.matches(&RelPath(b"src".to_vec())));
        assert!(f.matches(&RelPath(b"src/a/b".to_vec())));
        assert!(!f.matches(&RelPath(b"srcx".to_vec())));
        assert!(f.matches(&RelPath(b"docs/a.md".to_vec())));
        assert!(!f.matches(&RelPath(b"docs/a.txt".to_vec())));
        assert!(Filter::new(&["/etc".into()]).is_err());
        assert!(Filter::new(&["a/../b".into()]).is_err());
        assert!(Filter::new(&[".".into()]).is_err());
    }
}
