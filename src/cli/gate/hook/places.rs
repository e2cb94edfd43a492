//! Where a path leads and what kind of place it is, for the hook's judgement of files: the
//! kernel's walk of symlinks and `..`, the home's start-up files, and temp directories.

use std::path::{Component, Path, PathBuf};

/// `p` without `.` and `..` components (lexically; `..` of the root stays the root).
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// Where `p` leads, as the kernel walks it: every symlink replaced by its target (dangling
/// ones too, so a link inside the workspace cannot hide a target outside it), and each `..`
/// taken after the links before it (`link/..` is the link target's parent).
pub fn resolve_links(p: &Path) -> PathBuf {
    let names = |p: &Path| {
        p.components()
            .rev()
            .map(|c| c.as_os_str().to_owned())
            .collect::<Vec<_>>()
    };
    let mut todo = names(&std::path::absolute(p).unwrap_or_else(|_| p.to_owned()));
    let mut out = PathBuf::from("/");
    let mut links = 0;
    while let Some(name) = todo.pop() {
        if name == "/" {
            out = PathBuf::from("/");
        } else if name == ".." {
            out.pop();
        } else if name != "." {
            let next = out.join(&name);
            match std::fs::read_link(&next) {
                // 40 is the kernel's own limit on the links in one path.
                Ok(target) if links < 40 => {
                    links += 1;
                    todo.extend(names(&target));
                }
                _ => out = next,
            }
        }
    }
    out
}

/// Whether `p` is in the directory the `core.hooksPath` of its repository names: git runs
/// what is there at the user's next commit or checkout, like `.git/hooks`. Only the
/// repository's own `.git/config` is read (not its includes, nor a worktree's).
pub fn in_hooks_path(p: &Path) -> bool {
    let Some(top) = p.ancestors().skip(1).find(|d| d.join(".git").exists()) else {
        return false;
    };
    let Ok(config) = std::fs::read_to_string(top.join(".git/config")) else {
        return false;
    };
    hooks_path(&config).is_some_and(|h| p.starts_with(normalize(&top.join(h))))
}

/// The `core.hooksPath` a git config text sets last, if any (section and key ignore case).
fn hooks_path(config: &str) -> Option<PathBuf> {
    ftsb_gate::git_config_value(config, "core.hookspath").map(PathBuf::from)
}

/// Temp directories: writes there need no one's opinion.
pub fn is_scratch(p: &Path) -> bool {
    let mut dirs = vec![PathBuf::from("/tmp"), PathBuf::from("/var/tmp")];
    if let Some(t) = std::env::var_os("TMPDIR").filter(|t| !t.is_empty()) {
        dirs.push(normalize(Path::new(&t)));
    }
    dirs.iter().any(|d| p.starts_with(d) && p != d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_drops_dots() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("/../..")), PathBuf::from("/"));
    }

    #[test]
    fn resolve_links_takes_dot_dot_after_the_link() {
        let d = tempfile::tempdir().expect("tempdir");
        let root = d.path().canonicalize().expect("canonical");
        std::fs::create_dir_all(root.join("a/b")).expect("dirs");
        std::os::unix::fs::symlink(root.join("a/b"), root.join("link")).expect("link");
        std::os::unix::fs::symlink("../gone", root.join("a/dangling")).expect("link");
        assert_eq!(resolve_links(&root.join("link/../x")), root.join("a/x"));
        assert_eq!(
            resolve_links(&root.join("a/dangling/y")),
            root.join("gone/y")
        );
        assert_eq!(
            resolve_links(&root.join("new/./file")),
            root.join("new/file")
        );
    }

    #[test]
    fn hooks_path_is_read_from_the_core_section() {
        let cfg = "[core]\n\tbare = false\n[remote \"o\"]\n\thooksPath = no\n[Core]\n\tHooksPath = \".githooks\"\n";
        assert_eq!(hooks_path(cfg), Some(PathBuf::from(".githooks")));
        assert_eq!(hooks_path("[core]\n\tbare = false\n"), None);
    }
}
