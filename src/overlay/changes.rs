//! The list of changes against the workspace (status, diff, commit), and which of them gain
//! privileges the workspace object did not have.
//!
//! The walk reads the overlay's node and entry tables and the workspace beneath them; it
//! changes nothing.

use std::collections::HashMap;

use serde::Serialize;

use super::types::*;
use super::{FsError, Overlay, ROOT, lower_err};

/// How a path of the view differs from the workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Modified,
    /// Only metadata (mode, owner, times, xattrs) changed.
    Metadata,
    Deleted,
    /// Moved here from `from` (possibly also changed).
    Renamed {
        from: String,
    },
}

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub path: String,
    #[serde(skip)]
    pub raw_path: RelPath,
    pub change: ChangeKind,
    pub kind: Option<Kind>,
    /// The workspace object this path showed before (deleted, renamed or changed in place);
    /// for an added path, where the workspace may hold an object the new one replaces (not
    /// checked: it may not exist).
    #[serde(skip)]
    pub origin: Option<RelPath>,
    #[serde(skip)]
    pub ino: Option<Ino>,
}

impl Overlay {
    /// Every path where the view differs from the workspace, parents before children.
    pub fn changes(&self) -> Result<Vec<Change>, FsError> {
        let mut out = Vec::new();
        let mut seen_links: HashMap<Ino, usize> = HashMap::new();
        self.walk_changes(ROOT, &RelPath::default(), false, &mut out, &mut seen_links)?;
        Ok(out)
    }

    fn walk_changes(
        &self,
        dir: Ino,
        at: &RelPath,
        all_new: bool,
        out: &mut Vec<Change>,
        seen: &mut HashMap<Ino, usize>,
    ) -> Result<(), FsError> {
        let Some(entries) = self.dirs.get(&dir) else {
            return Ok(());
        };
        let merge = self.nodes.get(&dir).and_then(|n| n.merge.clone());
        for (name, d) in entries {
            let path = at.join(name);
            let origin = match d {
                Dentry::Whiteout { .. } => merge.as_ref().map(|m| m.join(name)),
                Dentry::Child(ino) => self
                    .nodes
                    .get(ino)
                    .and_then(|n| n.origin.as_ref().map(|o| o.path.clone())),
            };
            let change = |change: ChangeKind, kind: Option<Kind>, ino: Option<Ino>| Change {
                path: path.display(),
                raw_path: path.clone(),
                change,
                kind,
                origin: origin.clone(),
                ino,
            };
            match d {
                Dentry::Whiteout { .. } => {
                    if !all_new {
                        out.push(change(ChangeKind::Deleted, None, None));
                    }
                }
                Dentry::Child(ino) => {
                    let Some(node) = self.nodes.get(ino) else {
                        continue;
                    };
                    let kind = Some(node.attr.kind);
                    let count = seen.entry(*ino).or_insert(0);
                    *count += 1;
                    let what = match &node.origin {
                        _ if *count > 1 => Some(ChangeKind::Added),
                        Some(o) if o.path == path && !all_new => {
                            self.compare_in_place(node, &path)?
                        }
                        Some(o) => Some(ChangeKind::Renamed {
                            from: o.path.display(),
                        }),
                        None => Some(ChangeKind::Added),
                    };
                    let opaque_new = node.origin.is_none() || all_new;
                    if let Some(what) = what {
                        let mut c = change(what, kind, Some(*ino));
                        if c.change == ChangeKind::Added {
                            c.origin = merge.as_ref().map(|m| m.join(name));
                        }
                        out.push(c);
                    }
                    if node.attr.kind == Kind::Dir && *count == 1 {
                        self.walk_changes(*ino, &path, opaque_new, out, seen)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// How a node copied up from `path` and still named `path` differs from the workspace.
    fn compare_in_place(&self, node: &Node, path: &RelPath) -> Result<Option<ChangeKind>, FsError> {
        if matches!(node.data, Data::Work | Data::Blob(_)) {
            return Ok(Some(ChangeKind::Modified));
        }
        if node.attr.kind == Kind::Symlink {
            let now = self.lower.read_link(path).ok();
            if now.as_ref() != node.target.as_ref() {
                return Ok(Some(ChangeKind::Modified));
            }
        }
        let Some(st) = self.lower.stat(path).map_err(lower_err("stat", path))? else {
            return Ok(Some(ChangeKind::Added));
        };
        let lower = super::attr_of(&st, node.attr.ino);
        let a = &node.attr;
        let meta_differs = a.perm != lower.perm
            || a.uid != lower.uid
            || a.gid != lower.gid
            || (a.kind != Kind::Dir && a.mtime != lower.mtime)
            || node.xattrs.is_some();
        Ok(meta_differs.then_some(ChangeKind::Metadata))
    }

    /// The paths among `changes` whose object would reach the workspace more privileged than
    /// the workspace object it came from: a non-directory that gained setuid, setgid or sticky,
    /// or a file capability (`security.capability`), or whose content changed while it keeps
    /// one of them (the privilege would then apply to new code). Directories are left out:
    /// setgid on a directory is inherited by every `mkdir` below it and grants nothing.
    pub fn gained_privileges(&self, changes: &[Change]) -> Result<Vec<String>, FsError> {
        const CAP: &[u8] = b"security.capability";
        let mut out = Vec::new();
        for c in changes {
            let Some(node) = c.ino.and_then(|i| self.nodes.get(&i)) else {
                continue;
            };
            if node.attr.kind == Kind::Dir {
                continue;
            }
            let origin = node.origin.as_ref().map(|o| &o.path);
            let old = match origin {
                Some(p) => self.lower.stat(p).map_err(lower_err("stat", p))?,
                None => None,
            };
            let old_bits = old.as_ref().map_or(0, |st| st.st_mode & 0o7000);
            let bits = node.attr.perm & 0o7000;
            let rewritten = matches!(node.data, Data::Work | Data::Blob(_));
            let mut gained = bits & !old_bits != 0 || (bits != 0 && rewritten);
            // The workspace object's capability, read only where it can decide (one
            // getxattr per changed workspace file at most).
            let old_cap = || match (origin, &old) {
                (Some(p), Some(_)) => self.lower.xattr(p, CAP).map_err(lower_err("getxattr", p)),
                _ => Ok(None),
            };
            match node.xattrs.as_ref().map(|x| x.get(CAP)) {
                // The overlay's own xattrs: a capability it set or kept.
                Some(Some(cap)) => {
                    gained |= rewritten || old_cap()?.as_ref() != Some(cap);
                }
                Some(None) => {}
                // The workspace's xattrs show through: new code under its capability.
                None => gained |= rewritten && old_cap()?.is_some(),
            }
            if gained {
                out.push(c.path.clone());
            }
        }
        Ok(out)
    }
}
