//! Splitting a sealed snapshot by paths, for a partial commit or abort and a session's
//! rollback.
//!
//! The overlay's sealed [`Snapshot`] is split in two: `sel`, the workspace plus the selected
//! changes (what the commit plan is built from), and `rest`, the overlay that stays (what the
//! view still differs by afterwards). The unit of selection is one overlay entry (a path the
//! view changed), closed under what a change needs so that neither half is left dangling:
//!
//! - Entries that depend on each other's workspace objects go together: both ends of a rename
//!   (the new name and whatever now stands at the old one), every name of a hard-linked node,
//!   an entry with anything that moves away a workspace object it reads (a directory's
//!   rename or deletion takes the renames out of it), and an entry with anything that moves
//!   away another name of its workspace file (which changes the file's link count).
//! - A selected directory that the view created or moved takes its whole subtree.
//! - For a commit, the directories on the way to a selected entry are published too: a
//!   directory the view created is made (with only the selected entries in it; the rest stays
//!   in the overlay, which now merges the new workspace directory), one it renamed is selected
//!   with everything it takes; a directory that stayed in place keeps its workspace metadata
//!   unless it is selected itself.
//!
//! Pure: it reads the snapshot and the workspace (for hard links), and changes neither.

use std::collections::{HashMap, HashSet};

use super::filter::Filter;
use super::plan::prefix_ends;
use crate::overlay::{Data, Dentry, Ino, Kind, Lower, Node, ROOT, RelPath, Snapshot, Time};

/// One entry of the overlay: a path where the view differs from the workspace.
pub(super) struct Unit {
    /// The entry's key in the snapshot.
    pub(super) key: (Ino, Vec<u8>),
    /// The path in the view.
    pub(super) path: RelPath,
    pub(super) ino: Option<Ino>,
    /// The unit of the directory entry that holds it (none: the root).
    parent: Option<usize>,
    kind: UnitKind,
    /// Workspace paths a commit of this entry moves away (stashes).
    moves: Vec<RelPath>,
    /// Workspace paths the entry reads (origin, unchanged bytes, merged directory).
    reads: Vec<RelPath>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UnitKind {
    Whiteout,
    /// A directory that stays where the workspace has it (only its metadata may differ).
    DirInPlace,
    /// A directory the view created.
    DirNew,
    /// A directory the view moved here.
    DirMoved,
    Other,
}

/// What a partial commit or abort does with the overlay.
#[derive(Debug, Clone)]
pub struct Split {
    /// The workspace with the selected changes.
    pub sel: Snapshot,
    /// The overlay that stays.
    pub rest: Snapshot,
    /// The view paths whose changes go (selected entries and directories made for them).
    pub paths: HashSet<RelPath>,
    /// Directories the view created that a commit makes and that keep unselected entries:
    /// afterwards the overlay merges the new workspace directory (inode, path).
    pub made_dirs: Vec<(Ino, RelPath)>,
}

/// Whether the split is for a commit (directories on the way are published) or an abort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Commit,
    Abort,
}

/// The entries of `snap`, each with its path in the view.
pub(super) fn units(snap: &Snapshot) -> Vec<Unit> {
    let nodes: HashMap<Ino, &Node> = snap.nodes.iter().map(|(i, n)| (*i, n)).collect();
    let mut dirs: HashMap<Ino, Vec<(&Vec<u8>, &Dentry)>> = HashMap::new();
    for (dir, name, d) in &snap.dentries {
        dirs.entry(*dir).or_default().push((name, d));
    }
    let mut out: Vec<Unit> = Vec::new();
    let root_merge = nodes.get(&ROOT).and_then(|n| n.merge.clone());
    let mut stack = vec![(ROOT, RelPath::default(), root_merge, None::<usize>)];
    while let Some((dir, at, merge, parent)) = stack.pop() {
        for (name, d) in dirs.get(&dir).map(Vec::as_slice).unwrap_or(&[]) {
            let path = at.join(name);
            let pre = merge.as_ref().map(|m| m.join(name));
            let key = (dir, (*name).clone());
            match d {
                Dentry::Whiteout { .. } => out.push(Unit {
                    key,
                    path,
                    ino: None,
                    parent,
                    kind: UnitKind::Whiteout,
                    moves: pre.into_iter().collect(),
                    reads: Vec::new(),
                }),
                Dentry::Child(ino) => {
                    let Some(node) = nodes.get(ino) else { continue };
                    let origin = node.origin.as_ref().map(|o| o.path.clone());
                    let in_place = origin.is_some() && origin == pre;
                    let kind = match (node.attr.kind, in_place, &origin) {
                        (Kind::Dir, true, _) => UnitKind::DirInPlace,
                        (Kind::Dir, false, None) => UnitKind::DirNew,
                        (Kind::Dir, false, Some(_)) => UnitKind::DirMoved,
                        _ => UnitKind::Other,
                    };
                    let mut moves: Vec<RelPath> = Vec::new();
                    let mut reads: Vec<RelPath> = Vec::new();
                    if kind != UnitKind::DirInPlace {
                        moves.extend(pre.clone());
                        moves.extend(origin.clone());
                    }
                    reads.extend(origin);
                    if let Data::Lower(p) = &node.data {
                        reads.push(p.clone());
                    }
                    reads.extend(node.merge.clone());
                    out.push(Unit {
                        key,
                        path: path.clone(),
                        ino: Some(*ino),
                        parent,
                        kind,
                        moves,
                        reads,
                    });
                    if node.attr.kind == Kind::Dir {
                        stack.push((*ino, path, node.merge.clone(), Some(out.len() - 1)));
                    }
                }
            }
        }
    }
    out
}

struct Groups(Vec<usize>);

impl Groups {
    fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]];
            x = self.0[x];
        }
        x
    }
    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.0[a] = b;
        }
    }
}

/// Splits `snap` by `filter`. Fails, naming them, when a pattern matches no change.
pub fn split(
    snap: &Snapshot,
    lower: &Lower,
    filter: &Filter,
    purpose: Purpose,
) -> Result<Split, String> {
    let units = units(snap);
    let n = units.len();
    let paths: Vec<&RelPath> = units.iter().map(|u| &u.path).collect();
    let unmatched = filter.unmatched(&paths);
    if !unmatched.is_empty() {
        return Err(format!(
            "no change in the view matches {}",
            unmatched
                .iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    // Entries that must go together.
    let mut groups = Groups((0..n).collect());
    let mut by_ino: HashMap<Ino, usize> = HashMap::new();
    let mut movers: HashMap<&[u8], Vec<usize>> = HashMap::new();
    for (i, u) in units.iter().enumerate() {
        if let Some(ino) = u.ino
            && let Some(j) = by_ino.insert(ino, i)
        {
            groups.union(i, j);
        }
        for m in &u.moves {
            movers.entry(&m.0).or_default().push(i);
        }
    }
    for (i, u) in units.iter().enumerate() {
        for p in u.reads.iter().chain(&u.moves) {
            for end in prefix_ends(&p.0) {
                for &j in movers.get(&p.0[..end]).map(Vec::as_slice).unwrap_or(&[]) {
                    groups.union(i, j);
                }
            }
        }
    }
    // Names of one workspace file (hard links) go together too: moving one name away
    // changes the link count, and ctime, of the others.
    let mut linked: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, u) in units.iter().enumerate() {
        for m in &u.moves {
            linked_inodes(lower, m, &mut |ino| linked.entry(ino).or_default().push(i));
        }
    }
    if !linked.is_empty() {
        // Entries that move away names of one file go together (two deletions of a pair).
        for list in linked.values() {
            for w in list.windows(2) {
                groups.union(w[0], w[1]);
            }
        }
        for (i, u) in units.iter().enumerate() {
            let origin = u
                .ino
                .and_then(|ino| snap.nodes.iter().find(|(n, _)| *n == ino))
                .and_then(|(_, n)| n.origin.as_ref());
            if let Some(o) = origin {
                for &j in linked.get(&o.stamp.ino).map(Vec::as_slice).unwrap_or(&[]) {
                    groups.union(i, j);
                }
            }
        }
    }
    let mut members: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in 0..n {
        let g = groups.find(i);
        members.entry(g).or_default().push(i);
    }
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, u) in units.iter().enumerate() {
        if let Some(p) = u.parent {
            children[p].push(i);
        }
    }
    // Selection to a fixpoint: groups, subtrees of selected directories, and (for a commit)
    // directories on the way.
    let mut selected = vec![false; n];
    let mut container = vec![false; n];
    let mut todo: Vec<usize> = (0..n).filter(|i| filter.matches(&units[*i].path)).collect();
    while let Some(i) = todo.pop() {
        if selected[i] {
            continue;
        }
        selected[i] = true;
        let g = groups.find(i);
        todo.extend(members[&g].iter().copied().filter(|j| !selected[*j]));
        if units[i].kind != UnitKind::DirInPlace || filter.matches(&units[i].path) {
            // A moved directory goes whole; a new or unmoved one leaves excluded entries.
            let whole = units[i].kind == UnitKind::DirMoved || purpose == Purpose::Abort;
            todo.extend(
                children[i]
                    .iter()
                    .copied()
                    .filter(|j| !selected[*j] && (whole || !filter.excluded(&units[*j].path.0))),
            );
        }
        if purpose == Purpose::Commit {
            let mut up = units[i].parent;
            while let Some(p) = up {
                match units[p].kind {
                    UnitKind::DirMoved => todo.push(p),
                    _ => container[p] = true,
                }
                up = units[p].parent;
            }
        }
    }
    // A new directory that keeps entries in the overlay is made, and merged afterwards.
    if purpose == Purpose::Commit {
        for i in 0..n {
            if selected[i]
                && units[i].kind == UnitKind::DirNew
                && children[i].iter().any(|j| !selected[*j])
            {
                selected[i] = false;
                container[i] = true;
            }
        }
    }
    // A directory selected only because something in it was: publish its workspace metadata.
    let keep_sel: HashSet<(Ino, &[u8])> = units
        .iter()
        .enumerate()
        .filter(|(i, _)| selected[*i] || container[*i])
        .map(|(_, u)| (u.key.0, u.key.1.as_slice()))
        .collect();
    let mut sel_nodes = snap.nodes.clone();
    for (ino, node) in sel_nodes.iter_mut() {
        let unit = units.iter().position(|u| u.ino == Some(*ino));
        let as_is = match unit {
            Some(i) => selected[i] || units[i].kind != UnitKind::DirInPlace,
            None => *ino != ROOT,
        };
        if !as_is
            && let Some(o) = &node.origin
            && let Ok(Some(st)) = lower.stat(&o.path)
        {
            node.attr.perm = st.st_mode & 0o7777;
            node.attr.uid = st.st_uid;
            node.attr.gid = st.st_gid;
            node.attr.atime = Time::from_parts(st.st_atime, st.st_atime_nsec);
            node.attr.mtime = Time::from_parts(st.st_mtime, st.st_mtime_nsec);
            node.xattrs = None;
        }
    }
    let named: HashSet<Ino> = snap
        .dentries
        .iter()
        .filter_map(|(_, _, d)| match d {
            Dentry::Child(i) => Some(*i),
            Dentry::Whiteout { .. } => None,
        })
        .collect();
    let moved_away: HashSet<&[u8]> = units
        .iter()
        .enumerate()
        .filter(|(i, _)| selected[*i] || container[*i])
        .flat_map(|(_, u)| u.moves.iter().map(|m| m.0.as_slice()))
        .collect();
    // Only nodes the selected entries name, and the nodes no entry names whose workspace
    // names the commit moves away (they leave the overlay with it, below): a node the commit
    // does not take must not reach the plan through the workspace names it shows by (a hard
    // link's other names).
    let sel_named: HashSet<Ino> = snap
        .dentries
        .iter()
        .filter(|(d, name, _)| keep_sel.contains(&(*d, name.as_slice())))
        .filter_map(|(_, _, d)| match d {
            Dentry::Child(i) => Some(*i),
            Dentry::Whiteout { .. } => None,
        })
        .collect();
    sel_nodes.retain(|(ino, n)| {
        *ino == ROOT
            || sel_named.contains(ino)
            || (!named.contains(ino) && reads_moved(n, &moved_away))
    });
    let sel = Snapshot {
        nodes: sel_nodes,
        dentries: snap
            .dentries
            .iter()
            .filter(|(d, name, _)| keep_sel.contains(&(*d, name.as_slice())))
            .cloned()
            .collect(),
        next_ino: snap.next_ino,
    };
    // What stays: every entry not selected, and the nodes they name. A node no entry names
    // (say, one that keeps the link count of a workspace file whose other name the view
    // deleted) stays unless it reads a workspace path that the commit moves away.
    let gone: HashSet<(Ino, &[u8])> = units
        .iter()
        .enumerate()
        .filter(|(i, _)| selected[*i])
        .map(|(_, u)| (u.key.0, u.key.1.as_slice()))
        .collect();
    let dentries: Vec<(Ino, Vec<u8>, Dentry)> = snap
        .dentries
        .iter()
        .filter(|(d, name, _)| !gone.contains(&(*d, name.as_slice())))
        .cloned()
        .collect();
    let kept: HashSet<Ino> = dentries
        .iter()
        .filter_map(|(_, _, d)| match d {
            Dentry::Child(i) => Some(*i),
            Dentry::Whiteout { .. } => None,
        })
        .collect();
    let rest = Snapshot {
        nodes: snap
            .nodes
            .iter()
            .filter(|(i, n)| {
                *i == ROOT
                    || kept.contains(i)
                    || (!named.contains(i) && !reads_moved(n, &moved_away))
            })
            .cloned()
            .collect(),
        dentries,
        next_ino: snap.next_ino,
    };
    let made_dirs = units
        .iter()
        .enumerate()
        .filter(|(i, u)| container[*i] && !selected[*i] && u.kind == UnitKind::DirNew)
        .filter_map(|(_, u)| u.ino.map(|ino| (ino, u.path.clone())))
        .collect();
    let paths = units
        .iter()
        .enumerate()
        .filter(|(i, u)| selected[*i] || (container[*i] && u.kind == UnitKind::DirNew))
        .map(|(_, u)| u.path.clone())
        .collect();
    Ok(Split {
        sel,
        rest,
        paths,
        made_dirs,
    })
}

/// Calls `found` with the inode of every workspace file at or under `path` that has more
/// than one name.
fn linked_inodes(lower: &Lower, path: &RelPath, found: &mut dyn FnMut(u64)) {
    let Ok(Some(st)) = lower.stat(path) else {
        return;
    };
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        for (name, _, _) in lower.read_dir(path).unwrap_or_default() {
            linked_inodes(lower, &path.join(&name), found);
        }
    } else if st.st_nlink > 1 {
        found(st.st_ino);
    }
}

/// Whether `node` reads a workspace path at or under one of `moved`.
fn reads_moved(node: &Node, moved: &HashSet<&[u8]>) -> bool {
    let lower = match &node.data {
        Data::Lower(p) => Some(p),
        _ => None,
    };
    node.origin
        .as_ref()
        .map(|o| &o.path)
        .into_iter()
        .chain(lower)
        .chain(node.merge.as_ref())
        .any(|p| prefix_ends(&p.0).any(|end| moved.contains(&p.0[..end])))
}
