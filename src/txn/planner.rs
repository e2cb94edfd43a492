//! From a sealed snapshot to the [`Plan`] that makes the workspace equal its view.
//!
//! The plan is built from a sealed [`Snapshot`] (every changed file is a blob by then) and
//! the workspace as it is now. Phase 1 stashes every workspace object that goes away, is
//! replaced, or moves (deepest paths first); phase 2 builds the new state top-down: stashed
//! objects land at their new places, new files come from blobs, hard links follow the name
//! they link to, and directories' metadata comes last.
//!
//! A workspace file with several names (a hard-link group) is one node of the view, but only
//! the names the view touched are overlay entries; the others show through from the
//! workspace. When such a node gets new content (a new inode at commit), the plan finds its
//! other workspace names (one scan of the workspace's directory entries, only then) and, for
//! each name the view still shows, stashes the old name and links it to the new file, so the
//! group stays one inode.
//!
//! Pure with respect to the store: it reads the snapshot and the workspace, and writes
//! nothing.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{Expect, Meta, Plan, RelPath, SpecialKind, Stamp, Step};
use crate::overlay::{Data, Dentry, Ino, Kind, Lower, Node, ROOT, Snapshot, Time};

/// Builds the plan that makes the workspace equal the view of `snap`. `since` is when the
/// transaction began: a workspace object the overlay replaces without having copied it up
/// must not have changed after that (or commit reports a conflict).
pub fn plan(snap: &Snapshot, lower: &Lower, since: Time) -> Plan {
    plan_with_links(snap, lower, since).0
}

/// [`plan`], and the entries (view directory, name) of workspace hard links the plan
/// re-links to a new inode: the view's caches of them must be dropped after the commit.
pub(super) fn plan_with_links(
    snap: &Snapshot,
    lower: &Lower,
    since: Time,
) -> (Plan, Vec<(Ino, Vec<u8>)>) {
    let nodes: HashMap<Ino, &Node> = snap.nodes.iter().map(|(i, n)| (*i, n)).collect();
    let mut dirs: HashMap<Ino, BTreeMap<&[u8], &Dentry>> = HashMap::new();
    for (dir, name, d) in &snap.dentries {
        dirs.entry(*dir).or_default().insert(name.as_slice(), d);
    }
    let mut b = Builder {
        nodes: &nodes,
        dirs: &dirs,
        lower,
        since,
        stash: Vec::new(),
        slots: HashMap::new(),
        build: Vec::new(),
        links: Vec::new(),
        dir_meta: Vec::new(),
        placed: HashMap::new(),
        shown: HashMap::new(),
        relinked: Vec::new(),
    };
    if let Some(root) = nodes.get(&ROOT) {
        b.set_dir_meta(root, &RelPath(Vec::new()));
    }
    b.walk(ROOT, &RelPath(Vec::new()));
    b.link_groups(snap);
    let relinked = std::mem::take(&mut b.relinked);
    (b.finish(), relinked)
}

struct Builder<'a> {
    nodes: &'a HashMap<Ino, &'a Node>,
    dirs: &'a HashMap<Ino, BTreeMap<&'a [u8], &'a Dentry>>,
    lower: &'a Lower,
    since: Time,
    /// Phase 1: pre-commit path, slot, expectation.
    stash: Vec<(RelPath, u32, Expect)>,
    slots: HashMap<RelPath, u32>,
    build: Vec<Step>,
    links: Vec<Step>,
    dir_meta: Vec<Step>,
    /// Where a node with several names was placed first.
    placed: HashMap<Ino, RelPath>,
    /// Workspace directory -> the view directory (and its path) its entries show through.
    shown: HashMap<Vec<u8>, (Ino, RelPath)>,
    /// View entries of workspace hard links that the plan handles (see [`plan_with_links`]).
    relinked: Vec<(Ino, Vec<u8>)>,
}

fn t(time: Time) -> (i64, u32) {
    (time.sec, time.nsec)
}

fn rel(p: &RelPath) -> RelPath {
    RelPath(p.0.clone())
}

fn split_lower(p: &RelPath) -> Option<(&[u8], &[u8])> {
    super::plan::split(&p.0)
}

/// Every workspace name whose entry's inode number is one of `want`'s, found from directory
/// entries alone (no stat per file). The stash directories of the root are skipped.
fn scan_names<T>(lower: &Lower, want: &HashMap<u64, T>) -> Vec<RelPath> {
    let mut out = Vec::new();
    let mut todo = vec![RelPath::default()];
    let mut seen: HashSet<u64> = HashSet::new();
    while let Some(dir) = todo.pop() {
        let Ok(entries) = lower.read_dir(&dir) else {
            continue;
        };
        for (name, ino, ty) in entries {
            if dir.0.is_empty() && name.starts_with(super::STASH_PREFIX.as_bytes()) {
                continue;
            }
            let path = dir.join(&name);
            let is_dir = match ty {
                crate::sys::FileType::Directory => true,
                crate::sys::FileType::Unknown => lower
                    .stat(&path)
                    .ok()
                    .flatten()
                    .is_some_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR),
                _ => false,
            };
            if is_dir {
                if seen.insert(ino) {
                    todo.push(path);
                }
            } else if want.contains_key(&ino) {
                out.push(path);
            }
        }
    }
    out
}

fn meta(n: &Node) -> Meta {
    Meta {
        mode: n.attr.perm,
        uid: n.attr.uid,
        gid: n.attr.gid,
        atime: t(n.attr.atime),
        mtime: t(n.attr.mtime),
        xattrs: n
            .xattrs
            .as_ref()
            .map(|x| x.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
    }
}

fn stamp(n: &Node) -> Expect {
    match &n.origin {
        Some(o) => Expect::Stamp(Stamp {
            ino: o.stamp.ino,
            size: o.stamp.size,
            mtime: t(o.stamp.mtime),
            ctime: t(o.stamp.ctime),
            hash: o.stamp.hash,
        }),
        None => Expect::Nothing,
    }
}

impl Builder<'_> {
    /// Moves the workspace object at `path` (pre-commit) into the stash; returns its slot.
    fn stash(&mut self, path: &RelPath, expect: Expect) -> u32 {
        if let Some(slot) = self.slots.get(path) {
            return *slot;
        }
        let slot = self.stash.len() as u32;
        self.stash.push((path.clone(), slot, expect));
        self.slots.insert(path.clone(), slot);
        slot
    }

    fn lower_has(&self, path: &RelPath) -> bool {
        self.lower.stat(path).ok().flatten().is_some()
    }

    /// Directory `dir` of the view sits at `at` after the commit.
    fn walk(&mut self, dir: Ino, at: &RelPath) {
        let merge = self.nodes.get(&dir).and_then(|n| n.merge.clone());
        if let Some(m) = &merge {
            self.shown.insert(m.0.clone(), (dir, at.clone()));
        }
        let Some(entries) = self.dirs.get(&dir) else {
            return;
        };
        for (name, d) in entries {
            let path = at.join(name);
            // The workspace object this name held before the commit (through the directory's
            // merged workspace directory), if any.
            let pre = merge.as_ref().map(|m| m.join(name));
            match d {
                Dentry::Whiteout { at: when } => {
                    if let Some(pre) = pre {
                        self.stash(&pre, Expect::UnchangedSince(t(*when)));
                    }
                }
                Dentry::Child(ino) => self.entry(*ino, &path, pre.as_ref()),
            }
        }
    }

    fn entry(&mut self, ino: Ino, path: &RelPath, pre: Option<&RelPath>) {
        let Some(node) = self.nodes.get(&ino).copied() else {
            return;
        };
        if let Some(first) = self.placed.get(&ino).cloned() {
            // Another name of a node placed already: a hard link. What the name held before goes.
            if let Some(pre) = pre
                && node.origin.as_ref().map(|o| &o.path) != Some(pre)
                && self.lower_has(pre)
            {
                self.stash(pre, Expect::UnchangedSince(t(self.since)));
            }
            self.links.push(Step::Hardlink {
                path: path.clone(),
                to: first,
            });
            return;
        }
        if node.links > 1 {
            self.placed.insert(ino, path.clone());
        }
        let origin = node.origin.as_ref().map(|o| o.path.clone());
        let in_place = origin.is_some() && origin.as_ref() == pre;
        if !in_place
            && let Some(pre) = pre
            && self.lower_has(pre)
        {
            // Something else held this name: it goes (it was replaced through the view).
            self.stash(pre, Expect::UnchangedSince(t(self.since)));
        }
        let content_changed = matches!(node.data, Data::Blob(_) | Data::Work);
        match (node.attr.kind, in_place, &origin) {
            (Kind::Dir, true, _) => {
                self.set_dir_meta(node, path);
                self.walk(ino, path);
            }
            (Kind::Dir, false, Some(from)) => {
                let slot = self.stash(from, stamp(node));
                self.build.push(Step::Unstash {
                    slot,
                    path: path.clone(),
                });
                self.set_dir_meta(node, path);
                self.walk(ino, path);
            }
            (Kind::Dir, false, None) => {
                self.build.push(Step::Mkdir {
                    path: path.clone(),
                    meta: meta(node),
                });
                self.walk(ino, path);
            }
            (_, true, Some(from)) if content_changed => {
                self.stash(from, stamp(node));
                self.place_new(node, path);
            }
            (_, true, _) => {
                self.build.push(Step::SetMeta {
                    path: path.clone(),
                    meta: meta(node),
                    expect: stamp(node),
                });
            }
            (_, false, Some(from)) if !content_changed => {
                let slot = self.stash(from, stamp(node));
                self.build.push(Step::Unstash {
                    slot,
                    path: path.clone(),
                });
                self.build.push(Step::SetMeta {
                    path: path.clone(),
                    meta: meta(node),
                    expect: Expect::Nothing,
                });
            }
            (_, false, from) => {
                if let Some(from) = from {
                    self.stash(from, stamp(node));
                }
                self.place_new(node, path);
            }
        }
    }

    /// A new object with the node's content and metadata at `path`.
    fn place_new(&mut self, node: &Node, path: &RelPath) {
        let m = meta(node);
        let step = match node.attr.kind {
            Kind::File => match &node.data {
                Data::Blob(blob) => Step::File {
                    path: path.clone(),
                    blob: *blob,
                    meta: m,
                },
                // A sealed snapshot holds no working files; an unchanged file moved here
                // keeps its workspace bytes through the stash.
                Data::Work | Data::Lower(_) | Data::None => return,
            },
            Kind::Symlink => Step::Symlink {
                path: path.clone(),
                target: node.target.clone().unwrap_or_default(),
                meta: m,
            },
            Kind::Fifo => Step::Special {
                path: path.clone(),
                kind: SpecialKind::Fifo,
                rdev: 0,
                meta: m,
            },
            Kind::Socket => Step::Special {
                path: path.clone(),
                kind: SpecialKind::Socket,
                rdev: 0,
                meta: m,
            },
            Kind::CharDev => Step::Special {
                path: path.clone(),
                kind: SpecialKind::Char,
                rdev: node.attr.rdev,
                meta: m,
            },
            Kind::BlockDev => Step::Special {
                path: path.clone(),
                kind: SpecialKind::Block,
                rdev: node.attr.rdev,
                meta: m,
            },
            Kind::Dir => Step::Mkdir {
                path: path.clone(),
                meta: m,
            },
        };
        self.build.push(step);
    }

    fn set_dir_meta(&mut self, node: &Node, path: &RelPath) {
        self.dir_meta.push(Step::SetMeta {
            path: path.clone(),
            meta: meta(node),
            expect: Expect::Nothing,
        });
    }

    /// Keeps workspace hard-link groups whole: every workspace file node with names the view
    /// shows only through the workspace (its link count exceeds its overlay entries) and new
    /// content (or no overlay entry at all) gets those names re-linked to what the plan
    /// places. Finds the names by one scan of the workspace's entries, only when needed.
    fn link_groups(&mut self, snap: &Snapshot) {
        let mut named: HashMap<Ino, u32> = HashMap::new();
        for (_, _, d) in &snap.dentries {
            if let Dentry::Child(ino) = d {
                *named.entry(*ino).or_default() += 1;
            }
        }
        let mut want: HashMap<u64, Ino> = HashMap::new();
        for (ino, node) in &snap.nodes {
            let Some(origin) = &node.origin else { continue };
            let fresh = matches!(node.data, Data::Blob(_) | Data::Work);
            let shown_only = node.links > named.get(ino).copied().unwrap_or(0);
            if node.attr.kind != Kind::Dir
                && shown_only
                && (fresh || !self.placed.contains_key(ino))
            {
                want.insert(origin.stamp.ino, *ino);
            }
        }
        if want.is_empty() {
            return;
        }
        let mut names: Vec<(RelPath, RelPath, Ino, Vec<u8>, Ino)> = Vec::new();
        for path in scan_names(self.lower, &want) {
            let Some((parent, name)) = split_lower(&path) else {
                continue;
            };
            let Some((dir, at)) = self.shown_dir(parent) else {
                continue;
            };
            if self.dirs.get(&dir).is_some_and(|e| e.contains_key(name)) {
                continue; // an overlay entry masks this workspace name
            }
            let Some(st) = self.lower.stat(&path).ok().flatten() else {
                continue;
            };
            let Some(ino) = want.get(&st.st_ino) else {
                continue;
            };
            names.push((at.join(name), path.clone(), dir, name.to_vec(), *ino));
        }
        names.sort();
        for (at, pre, view_dir, name, ino) in names {
            let Some(node) = self.nodes.get(&ino).copied() else {
                continue;
            };
            let fresh = matches!(node.data, Data::Blob(_) | Data::Work);
            match self.placed.get(&ino).cloned() {
                Some(first) if fresh => {
                    self.stash(&pre, stamp(node));
                    self.links.push(Step::Hardlink {
                        path: at,
                        to: first,
                    });
                }
                Some(_) => continue,
                None => {
                    self.placed.insert(ino, at.clone());
                    if fresh {
                        self.stash(&pre, stamp(node));
                        self.place_new(node, &at);
                    } else {
                        self.build.push(Step::SetMeta {
                            path: at,
                            meta: meta(node),
                            expect: stamp(node),
                        });
                    }
                }
            }
            self.relinked.push((view_dir, name));
        }
    }

    /// The view directory (an overlay node, or the workspace directory itself, by its inode)
    /// through which the entries of workspace directory `lower` show, and its view path;
    /// `None` when the view hides that directory.
    fn shown_dir(&self, lower: &[u8]) -> Option<(Ino, RelPath)> {
        if let Some((ino, at)) = self.shown.get(lower) {
            return Some((*ino, at.clone()));
        }
        let (parent, name) =
            split_lower(&RelPath(lower.to_vec())).map(|(p, n)| (p.to_vec(), n.to_vec()))?;
        let (dir, at) = self.shown_dir(&parent)?;
        if self
            .dirs
            .get(&dir)
            .is_some_and(|e| e.contains_key(name.as_slice()))
            || (parent.is_empty() && name.starts_with(super::STASH_PREFIX.as_bytes()))
        {
            return None;
        }
        let st = self.lower.stat(&RelPath(lower.to_vec())).ok().flatten()?;
        Some((Ino(st.st_ino), at.join(&name)))
    }

    fn finish(mut self) -> Plan {
        // Deepest first, so an object inside a stashed directory is taken out before it.
        self.stash.sort_by_key(|(p, _, _)| {
            std::cmp::Reverse(
                p.0.iter().filter(|b| **b == b'/').count() + usize::from(!p.0.is_empty()),
            )
        });
        let mut steps: Vec<Step> = self
            .stash
            .into_iter()
            .map(|(p, slot, expect)| Step::Stash {
                path: rel(&p),
                slot,
                expect,
            })
            .collect();
        steps.extend(self.build);
        steps.extend(self.links);
        self.dir_meta.reverse();
        steps.extend(self.dir_meta);
        Plan { steps }
    }
}
