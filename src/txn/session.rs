//! Rolling one `exec` session back without undoing anyone else: the paths it wrote return
//! to its checkpoint, the rest of the view stays as it is.
//!
//! Owns [`rollback_session`]. The unit is a path of the view, found from what the session
//! touched ([`Touch`], recorded by [`super::writers`]) in the current overlay and in the
//! checkpoint's. The selection machinery is the partial abort's ([`super::split::split`]):
//! the paths to revert are removed from the current overlay as a partial abort would remove
//! them (closed under what must go together: both ends of a rename, every name of a node, a
//! new directory's subtree), and the checkpoint's entries at those paths, split off the same
//! way, are put back.
//!
//! Invariants:
//! - A path that another writer (another session, or the user) touched since the checkpoint
//!   is never reverted: it is a conflict, reported and left as it is. So is a path whose
//!   revert would take along (by the closure above, in either state) a path another writer
//!   touched.
//! - Nodes outside the reverted paths keep their live state, working files and open handles
//!   included ([`super::Host::restore_scoped`]).
//! - The state before is kept as a `rollback` checkpoint, as a full rollback keeps it, so the
//!   session rollback itself can be rolled back.
//!
//! Deliberately not done here: deciding who wrote what (that is [`super::writers`] and the
//! file system layer), or killing the session's processes first (the daemon does, before
//! calling this).

use std::collections::{BTreeSet, HashMap, HashSet};

use super::Host;
use super::filter::Filter;
use super::split::{Purpose, Unit, split, units};
use super::writers::Touch;
use super::{CheckpointError, checkpoint, load};
use crate::overlay::{Dentry, Ino, Invalidation, Node, ROOT, RelPath, Snapshot};

/// What [`rollback_session`] did.
#[derive(Debug, Default)]
pub struct SessionRollback {
    /// The paths returned to the checkpoint.
    pub reverted: Vec<String>,
    /// The paths the session wrote that another writer also wrote since the checkpoint:
    /// left as they are.
    pub conflicts: Vec<String>,
    /// What the kernel must forget.
    pub invalidation: Invalidation,
}

/// Returns the paths session `own` touched to their state at checkpoint `to`, except those
/// that `others` touched too (see the module's invariants).
pub fn rollback_session(
    ov: &mut dyn Host,
    to: u64,
    own: &HashSet<Touch>,
    others: &HashSet<Touch>,
) -> Result<SessionRollback, CheckpointError> {
    let old = if to == 0 {
        Snapshot::default()
    } else {
        load(ov, to)?
    };
    let cur = ov.seal()?;
    let (cur_units, old_units) = (units(&cur), units(&old));
    let paths_of = |touches: &HashSet<Touch>| -> BTreeSet<RelPath> {
        let mut out = BTreeSet::new();
        for (units, snap) in [(&cur_units, &cur), (&old_units, &old)] {
            for t in touches {
                out.extend(touch_paths(units, snap, t));
            }
        }
        out
    };
    let own_paths = paths_of(own);
    let other_paths = paths_of(others);
    let mut conflicts: BTreeSet<RelPath> = own_paths.intersection(&other_paths).cloned().collect();
    // A node another writer wrote that has no name any more lost it to a rename or unlink
    // whose path is not known from the node: every name the session changed may be where
    // that writer's data was, so none of them is reverted.
    let nameless = others.iter().any(|t| match t {
        Touch::Node(ino) => !cur_units.iter().any(|u| u.ino == Some(*ino)),
        Touch::Entry(..) => false,
    });
    if nameless {
        for t in own.iter().filter(|t| matches!(t, Touch::Entry(..))) {
            for (units, snap) in [(&cur_units, &cur), (&old_units, &old)] {
                conflicts.extend(touch_paths(units, snap, t));
            }
        }
    }
    // What reverting each path takes along, in either state (`None`: it cannot be split off).
    // What reverting `p` takes along, to a fixpoint: what goes with it in either state, and
    // every current name of a node the checkpoint puts back (the same node wherever it is).
    let closure = |p: &RelPath| -> Option<BTreeSet<RelPath>> {
        let mut out = BTreeSet::from([p.clone()]);
        loop {
            let list: Vec<RelPath> = out.iter().cloned().collect();
            let mut next = out.clone();
            for (units, snap) in [(&cur_units, &cur), (&old_units, &old)] {
                if let Some(f) = matching(units, &list) {
                    next.extend(split(snap, ov.workspace(), &f, Purpose::Abort).ok()?.paths);
                }
            }
            let back: HashSet<Ino> = old_units
                .iter()
                .filter(|u| next.iter().any(|r| under(&u.path, r)))
                .filter_map(|u| u.ino)
                .collect();
            next.extend(
                cur_units
                    .iter()
                    .filter(|u| u.ino.is_some_and(|i| back.contains(&i)))
                    .map(|u| u.path.clone()),
            );
            if next == out {
                return Some(out);
            }
            out = next;
        }
    };
    let closures: HashMap<RelPath, Option<BTreeSet<RelPath>>> = own_paths
        .difference(&conflicts)
        .map(|p| (p.clone(), closure(p)))
        .collect();
    // A path is a conflict when its revert would take along another writer's path or a
    // conflict: to a fixpoint, since each new conflict may catch more.
    loop {
        let caught: Vec<RelPath> = closures
            .iter()
            .filter(|(p, _)| !conflicts.contains(*p))
            .filter(|(p, c)| match c {
                None => true,
                Some(c) => c
                    .iter()
                    .any(|q| other_paths.contains(q) || (q != *p && conflicts.contains(q))),
            })
            .map(|(p, _)| p.clone())
            .collect();
        if caught.is_empty() {
            break;
        }
        conflicts.extend(caught);
    }
    let revert: Vec<RelPath> = closures
        .keys()
        .filter(|p| !conflicts.contains(*p))
        .cloned()
        .collect();
    let reverted_paths: Vec<RelPath> = revert
        .iter()
        .filter_map(|p| closures.get(p).and_then(Option::as_ref))
        .flatten()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .cloned()
        .collect();
    let mut result = SessionRollback {
        reverted: reverted_paths.iter().map(RelPath::display).collect(),
        conflicts: conflicts.iter().map(RelPath::display).collect(),
        invalidation: Invalidation::default(),
    };
    // The whole closure goes, in both states, so the checkpoint's side of every path taken
    // along comes back too.
    let revert: Vec<RelPath> = reverted_paths.clone();
    let rest_cur = match matching(&cur_units, &revert) {
        Some(f) => {
            split(&cur, ov.workspace(), &f, Purpose::Abort)
                .map_err(CheckpointError::Select)?
                .rest
        }
        None => cur.clone(),
    };
    let back = match matching(&old_units, &revert) {
        Some(f) => {
            let rest_old = split(&old, ov.workspace(), &f, Purpose::Abort)
                .map_err(CheckpointError::Select)?
                .rest;
            difference(&old, &rest_old)
        }
        None => Snapshot::default(),
    };
    let merged = merge(&rest_cur, &back, &old);
    let scope = changed_nodes(&cur, &merged);
    if scope.is_empty() && merged.dentries == cur.dentries {
        return Ok(result);
    }
    checkpoint(
        ov,
        "rollback",
        &format!("state before rolling back the session of checkpoint {to}"),
        None,
    )?;
    result.invalidation = ov.restore_scoped(&merged, &scope)?;
    Ok(result)
}

/// Whether `path` is `root` or below it.
fn under(path: &RelPath, root: &RelPath) -> bool {
    path.0 == root.0 || (path.0.starts_with(&root.0) && path.0.get(root.0.len()) == Some(&b'/'))
}

/// The paths a touch names in one state of the overlay: for a node, its names and the
/// workspace path it was copied up from (a node whose names are all gone still counts there).
fn touch_paths(units: &[Unit], snap: &Snapshot, t: &Touch) -> Vec<RelPath> {
    match t {
        Touch::Node(ino) => units
            .iter()
            .filter(|u| u.ino == Some(*ino))
            .map(|u| u.path.clone())
            .chain(
                snap.nodes
                    .iter()
                    .filter(|(i, _)| i == ino)
                    .filter_map(|(_, n)| n.origin.as_ref().map(|o| o.path.clone())),
            )
            .collect(),
        Touch::Entry(dir, name) => {
            if let Some(u) = units.iter().find(|u| u.key.0 == *dir && &u.key.1 == name) {
                return vec![u.path.clone()];
            }
            if *dir == ROOT {
                return vec![RelPath(name.clone())];
            }
            units
                .iter()
                .filter(|u| u.ino == Some(*dir))
                .map(|u| u.path.join(name))
                .collect()
        }
    }
}

/// A literal filter of those of `paths` that have an entry (at or below them) among `units`;
/// `None` when none has.
fn matching(units: &[Unit], paths: &[RelPath]) -> Option<Filter> {
    let kept: Vec<Vec<u8>> = paths
        .iter()
        .filter(|p| {
            units.iter().any(|u| {
                u.path.0 == p.0
                    || (u.path.0.starts_with(&p.0) && u.path.0.get(p.0.len()) == Some(&b'/'))
            })
        })
        .map(|p| p.0.clone())
        .collect();
    (!kept.is_empty()).then(|| Filter::literal(kept))
}

/// What `all` has that `rest` (a split of it) does not: the entries split off and the nodes
/// only they name.
fn difference(all: &Snapshot, rest: &Snapshot) -> Snapshot {
    let kept_entries: HashSet<(Ino, &[u8])> = rest
        .dentries
        .iter()
        .map(|(d, n, _)| (*d, n.as_slice()))
        .collect();
    let kept_nodes: HashSet<Ino> = rest.nodes.iter().map(|(i, _)| *i).collect();
    Snapshot {
        nodes: all
            .nodes
            .iter()
            .filter(|(i, _)| !kept_nodes.contains(i))
            .cloned()
            .collect(),
        dentries: all
            .dentries
            .iter()
            .filter(|(d, n, _)| !kept_entries.contains(&(*d, n.as_slice())))
            .cloned()
            .collect(),
        next_ino: all.next_ino,
    }
}

/// `rest` with the entries and nodes of `back` put back; a directory `back` needs that
/// `rest` lacks comes from `old` with the entry naming it.
fn merge(rest: &Snapshot, back: &Snapshot, old: &Snapshot) -> Snapshot {
    let mut nodes: HashMap<Ino, Node> = rest.nodes.iter().cloned().collect();
    let mut entries: HashMap<(Ino, Vec<u8>), Dentry> = rest
        .dentries
        .iter()
        .map(|(d, n, e)| ((*d, n.clone()), e.clone()))
        .collect();
    for (ino, node) in &back.nodes {
        nodes.insert(*ino, node.clone());
    }
    for (d, n, e) in &back.dentries {
        entries.insert((*d, n.clone()), e.clone());
    }
    let old_nodes: HashMap<Ino, &Node> = old.nodes.iter().map(|(i, n)| (*i, n)).collect();
    let mut todo: Vec<Ino> = back.dentries.iter().map(|(d, _, _)| *d).collect();
    while let Some(dir) = todo.pop() {
        if dir == ROOT || nodes.contains_key(&dir) {
            continue;
        }
        let Some(node) = old_nodes.get(&dir) else {
            continue;
        };
        nodes.insert(dir, (*node).clone());
        if let Some((p, n, e)) = old
            .dentries
            .iter()
            .find(|(_, _, e)| *e == Dentry::Child(dir))
        {
            entries.entry((*p, n.clone())).or_insert_with(|| e.clone());
            todo.push(*p);
        }
    }
    let mut nodes: Vec<(Ino, Node)> = nodes.into_iter().collect();
    nodes.sort_by_key(|(i, _)| *i);
    let mut dentries: Vec<(Ino, Vec<u8>, Dentry)> =
        entries.into_iter().map(|((d, n), e)| (d, n, e)).collect();
    dentries.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    Snapshot {
        nodes,
        dentries,
        next_ino: rest.next_ino.max(back.next_ino).max(old.next_ino),
    }
}

/// The nodes whose state differs between `a` and `b` (or that only one has).
fn changed_nodes(a: &Snapshot, b: &Snapshot) -> HashSet<Ino> {
    let am: HashMap<Ino, &Node> = a.nodes.iter().map(|(i, n)| (*i, n)).collect();
    let bm: HashMap<Ino, &Node> = b.nodes.iter().map(|(i, n)| (*i, n)).collect();
    am.keys()
        .chain(bm.keys())
        .filter(|i| am.get(i) != bm.get(i))
        .copied()
        .collect()
}
