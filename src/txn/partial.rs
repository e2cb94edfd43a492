//! Partial commit and abort: publishing or discarding only the changes under some paths.
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
//! Crash safety is the full commit's: the plan goes through the same journaled engine, and
//! the overlay that stays is recorded durably before the workspace is touched, so recovery
//! that finishes an interrupted partial commit installs it instead of clearing the overlay.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::Host;
use super::commit::{CommitError, CommitOutcome, log_commit, mark_started, placements, since};
use super::plan::prefix_ends;
use crate::overlay::{
    Change, Data, Dentry, Ino, Invalidation, Kind, Lower, Node, Origin, ROOT, RelPath, Snapshot,
    Time, stamp_at, stamp_of,
};

/// The key-value entry that holds the overlay a partial commit in flight leaves behind.
use crate::meta::keys::{self, PARTIAL_REST};

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

    fn excluded(&self, path: &[u8]) -> bool {
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
    fn unmatched<'a>(&'a self, paths: &[&RelPath]) -> Vec<&'a [u8]> {
        self.patterns
            .iter()
            .filter(|p| !paths.iter().any(|q| self.matches_one(p, &q.0)))
            .map(Vec::as_slice)
            .collect()
    }

    fn matches(&self, path: &RelPath) -> bool {
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

/// What stays in the overlay after a partial commit, recorded before the workspace changes.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    rest: Snapshot,
    made_dirs: Vec<(Ino, RelPath)>,
    /// Workspace paths the commit changes (the objects its steps act on and their
    /// directories): what stays in the overlay takes their new stamps, so the commit's own
    /// changes are not taken for outside ones by the next commit.
    #[serde(default)]
    touched: Vec<RelPath>,
}

/// The changes a partial commit or abort of `filter` would take, without doing it.
pub fn preview(ov: &dyn Host, filter: &Filter, purpose: Purpose) -> Result<Vec<Change>, String> {
    let snap = ov.peek();
    let split = split(&snap, ov.workspace(), filter, purpose)?;
    let changes = ov.changes().map_err(|e| e.to_string())?;
    Ok(changes
        .into_iter()
        .filter(|c| split.paths.contains(&c.raw_path))
        .collect())
}

/// Publishes the changes `filter` selects into the workspace `ws`, atomically and durably
/// like [`super::commit`]; the rest stays in the overlay. Returns the outcome and the changes
/// that went.
pub fn commit_paths(
    ov: &mut dyn Host,
    ws: &super::Workspace,
    message: &str,
    force: bool,
    filter: &Filter,
) -> Result<(CommitOutcome, Vec<Change>), CommitError> {
    if ov.store().db.kv_get(keys::TXN_STARTED)?.is_none() {
        mark_started(ov)?;
    }
    let all = ov.changes()?;
    let snap = ov.seal()?;
    let split =
        split(&snap, ov.workspace(), filter, Purpose::Commit).map_err(CommitError::Select)?;
    let went: Vec<Change> = all
        .into_iter()
        .filter(|c| split.paths.contains(&c.raw_path))
        .collect();
    let (plan, relinked) = super::planner::plan_with_links(&split.sel, ov.workspace(), since(ov)?);
    let mut touched: HashSet<RelPath> = HashSet::new();
    for step in &plan.steps {
        let mut add = |p: &super::RelPath| {
            touched.insert(RelPath(p.0.clone()));
            if let Some((parent, _)) = p.split() {
                touched.insert(RelPath(parent.0));
            }
        };
        add(step.path());
        if let super::Step::Hardlink { to, .. } = step {
            add(to);
        }
    }
    let pending = Pending {
        rest: split.rest,
        made_dirs: split.made_dirs,
        touched: touched.into_iter().collect(),
    };
    ov.store().db.kv_set(
        PARTIAL_REST,
        &serde_json::to_string(&pending).expect("snapshots are plain data"),
    )?;
    let applied = match super::apply(ws, ov.store().blobs, ov.store().db, &plan, force) {
        Ok(a) => a,
        Err(e) => {
            ov.store().db.kv_del(PARTIAL_REST)?;
            return Err(match e {
                super::TxnError::Conflicts(list) => CommitError::Conflicts(list),
                e => e.into(),
            });
        }
    };
    drop(plan);
    let placed: Vec<_> = placements(&split.sel);
    let mut invalidation = install(ov, pending, &placed, applied.journal_id)?;
    invalidation.entries.extend(relinked);
    log_commit(ov, message, went.len(), applied.journal_id)?;
    super::finish(ws, ov.store().db, applied.journal_id)?;
    // Finish changed the workspace too (it removed the stash): the next transaction begins
    // after it, so nothing the commit did is taken for an outside change.
    mark_started(ov)?;
    Ok((
        CommitOutcome {
            journal: applied.journal_id,
            changes: went.len(),
            steps: applied.steps,
            bytes: applied.bytes,
            invalidation,
        },
        went,
    ))
}

/// Makes what stays the overlay once commit `journal` reached the workspace: directories
/// made for selected entries now merge their workspace directory.
fn install(
    ov: &mut dyn Host,
    mut pending: Pending,
    placed: &[(Ino, Ino, Vec<u8>, RelPath)],
    journal: u64,
) -> Result<Invalidation, CommitError> {
    for (ino, path) in &pending.made_dirs {
        let st = ov
            .workspace()
            .stat(path)
            .map_err(|e| CommitError::Select(format!("stat {}: {e}", path.display())))?;
        let Some(st) = st else { continue };
        if let Some((_, node)) = pending.rest.nodes.iter_mut().find(|(i, _)| i == ino) {
            node.origin = Some(Origin {
                path: path.clone(),
                stamp: stamp_of(&st),
            });
            node.merge = Some(path.clone());
            node.xattrs = None;
        }
    }
    let touched: HashSet<&RelPath> = pending.touched.iter().collect();
    for (_, node) in pending.rest.nodes.iter_mut() {
        if let Some(o) = &mut node.origin
            && touched.contains(&o.path)
            && let Ok(Some(st)) = ov.workspace().stat(&o.path)
            && st.st_ino == o.stamp.ino
        {
            o.stamp = stamp_at(ov.workspace(), &o.path, &st);
        }
    }
    let inval = ov.reset_after_commit(&pending.rest, placed)?;
    ov.store().db.kv_set(keys::EPOCH, &journal.to_string())?;
    ov.store().db.kv_del(PARTIAL_REST)?;
    Ok(inval)
}

/// After recovery: a partial commit that recovery finished (`finished`: its journal, when
/// the overlay does not reflect it yet) leaves its recorded rest as the overlay (returns
/// true); one it undid, or one whose rest is installed already, leaves the overlay as it is.
/// Either way the record goes.
pub fn after_recovery(ov: &mut dyn Host, finished: Option<u64>) -> Result<bool, CommitError> {
    let Some(text) = ov.store().db.kv_get(PARTIAL_REST)? else {
        return Ok(false);
    };
    let pending: Pending = serde_json::from_str(&text).map_err(|e| {
        CommitError::Select(format!("the partial commit record is unreadable: {e}"))
    })?;
    match finished {
        Some(id) => {
            install(ov, pending, &[], id)?;
            Ok(true)
        }
        _ => {
            ov.store().db.kv_del(PARTIAL_REST)?;
            Ok(false)
        }
    }
}

/// Discards the changes `filter` selects; the rest stays. The state before is kept as an
/// `abort` checkpoint. Returns what the kernel must forget and the changes discarded.
pub fn abort_paths(
    ov: &mut dyn Host,
    filter: &Filter,
) -> Result<(Invalidation, Vec<Change>), super::CheckpointError> {
    let select = |e: String| super::CheckpointError::Select(e);
    let went = preview(ov, filter, Purpose::Abort).map_err(select)?;
    super::checkpoint(ov, "abort", "state before a partial abort", None)?;
    let snap = ov.seal()?;
    let split = split(&snap, ov.workspace(), filter, Purpose::Abort).map_err(select)?;
    Ok((ov.restore(&split.rest)?, went))
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
