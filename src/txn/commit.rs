//! Commit: turns the overlay into a [`Plan`], applies it with the journaled engine, and
//! clears the overlay once the workspace durably holds it.
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

use std::collections::{BTreeMap, HashMap, HashSet};

use super::Host;
use super::{Expect, Meta, Plan, RelPath, SpecialKind, Stamp, Step, Workspace};
use crate::meta::LogRow;
use crate::meta::keys::{self, TXN_STARTED};
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

/// Errors of a commit.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("commit refused: {} path(s) changed in the workspace outside the view: {}; nothing was written (use --force to overwrite them)", .0.len(), .0.iter().map(|c| format!("{} ({})", c.path, c.reason)).collect::<Vec<_>>().join(", "))]
    Conflicts(Vec<super::Conflict>),
    /// The paths of a partial commit select nothing, or its record is unreadable.
    #[error("{0}")]
    Select(String),
    #[error(transparent)]
    Txn(#[from] super::TxnError),
    #[error(transparent)]
    Fs(#[from] crate::overlay::FsError),
    #[error(transparent)]
    Meta(#[from] crate::meta::MetaError),
}

/// What a commit did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CommitOutcome {
    pub journal: u64,
    pub changes: usize,
    pub steps: usize,
    pub bytes: u64,
    /// What the kernel must forget (not serialized).
    #[serde(skip)]
    pub invalidation: crate::overlay::Invalidation,
}

pub(super) fn since(ov: &dyn Host) -> Result<Time, crate::meta::MetaError> {
    let ns: i64 = ov
        .store()
        .db
        .kv_get(TXN_STARTED)?
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(Time {
        sec: ns.div_euclid(1_000_000_000),
        nsec: ns.rem_euclid(1_000_000_000) as u32,
    })
}

/// Records that a transaction begins now, on the workspace file system's clock, and strictly
/// after every change made before (a commit's own placements included): the coarse clock
/// stamps a whole tick alike, so this waits for the next tick (a few milliseconds at most).
pub(super) fn mark_started(ov: &dyn Host) -> Result<(), crate::meta::MetaError> {
    let before = Time::coarse_now();
    let mut now = before;
    while now <= before {
        std::thread::sleep(std::time::Duration::from_micros(500));
        now = Time::coarse_now();
    }
    ov.store().db.kv_set(
        TXN_STARTED,
        &(now.sec * 1_000_000_000 + i64::from(now.nsec)).to_string(),
    )
}

/// Publishes the whole overlay into the workspace `ws`, atomically and durably, and clears
/// the overlay. On a conflict (and without `force`) nothing is written and the overlay stays.
///
/// After a crash at any point, [`recover_at_mount`] leaves the workspace exactly as before or
/// exactly as committed; the overlay is cleared only once the workspace durably holds it.
pub fn commit(
    ov: &mut dyn Host,
    ws: &Workspace,
    message: &str,
    force: bool,
) -> Result<CommitOutcome, CommitError> {
    if ov.store().db.kv_get(TXN_STARTED)?.is_none() {
        mark_started(ov)?;
    }
    let changes = ov.changes()?.len();
    let snap = ov.seal()?;
    let (plan, relinked) = plan_with_links(&snap, ov.workspace(), since(ov)?);
    let applied = match super::apply(ws, ov.store().blobs, ov.store().db, &plan, force) {
        Ok(a) => a,
        Err(super::TxnError::Conflicts(list)) => return Err(CommitError::Conflicts(list)),
        Err(e) => return Err(e.into()),
    };
    drop(plan);
    let mut invalidation = clear(ov, &snap, applied.journal_id)?;
    invalidation.entries.extend(relinked);
    log_commit(ov, message, changes, applied.journal_id)?;
    super::finish(ws, ov.store().db, applied.journal_id)?;
    // Finish changed the workspace too (it removed the stash): the next transaction begins
    // after it, so nothing the commit did is taken for an outside change.
    mark_started(ov)?;
    Ok(CommitOutcome {
        journal: applied.journal_id,
        changes,
        steps: applied.steps,
        bytes: applied.bytes,
        invalidation,
    })
}

/// Records commit `journal` of `changes` changes in the log.
pub(super) fn log_commit(
    ov: &dyn Host,
    message: &str,
    changes: usize,
    journal: u64,
) -> Result<(), crate::meta::MetaError> {
    ov.store().db.add_log(&LogRow {
        id: 0,
        kind: "commit".into(),
        created_ns: now_ns(),
        message: message.to_owned(),
        command: None,
        exit_code: None,
        snapshot: String::new(),
        entries: changes as u64,
        epoch: journal,
    })?;
    Ok(())
}

/// What a commit now would refuse for: workspace objects changed outside the view since the
/// overlay copied, replaced or deleted them. Read-only for the workspace and the store: the
/// plan is built from the overlay's shape ([`Host::peek`]), so nothing is hashed or sealed
/// and it costs the same after gigabytes of writes as after none.
pub fn conflicts(ov: &dyn Host, ws: &Workspace) -> Result<Vec<super::Conflict>, CommitError> {
    let snap = ov.peek();
    let plan = plan(&snap, ov.workspace(), since(ov)?);
    Ok(super::check(ws, &plan))
}

/// Clears the overlay after commit `journal` reached the workspace: the view now shows the
/// workspace, the kernel's references follow their objects to their new paths, and a new
/// transaction (epoch) begins.
fn clear(
    ov: &mut dyn Host,
    snap: &Snapshot,
    journal: u64,
) -> Result<crate::overlay::Invalidation, CommitError> {
    let placed = placements(snap);
    let inval = ov.reset_after_commit(&Snapshot::default(), &placed)?;
    ov.store().db.kv_set(keys::EPOCH, &journal.to_string())?;
    mark_started(ov)?;
    Ok(inval)
}

/// Where each node of `snap` is in the workspace after the commit: (inode, parent, name, path).
pub(super) fn placements(snap: &Snapshot) -> Vec<(Ino, Ino, Vec<u8>, RelPath)> {
    let mut dirs: HashMap<Ino, Vec<(&Vec<u8>, Ino)>> = HashMap::new();
    for (dir, name, d) in &snap.dentries {
        if let Dentry::Child(ino) = d {
            dirs.entry(*dir).or_default().push((name, *ino));
        }
    }
    let mut out = Vec::new();
    let mut stack = vec![(ROOT, RelPath::default())];
    while let Some((dir, at)) = stack.pop() {
        for (name, ino) in dirs.get(&dir).map(Vec::as_slice).unwrap_or(&[]) {
            let path = at.join(name);
            out.push((*ino, dir, name.to_vec(), path.clone()));
            if dirs.contains_key(ino) {
                stack.push((*ino, path));
            }
        }
    }
    out
}

/// Runs recovery for the daemon at mount, before the overlay is loaded: an interrupted
/// commit is undone (the overlay stays) or finished (the overlay is cleared). Returns what
/// happened, for the log.
pub fn recover_at_mount(
    parts: &crate::overlay::Parts,
    ws_path: &std::path::Path,
) -> Result<super::Recovery, super::TxnError> {
    let ws = workspace_of(&parts.lower, ws_path)?;
    super::recover(&ws, &parts.db)
}

/// The engine's view of the workspace the overlay reads, through the same directory fd (the
/// path may be covered by the view).
pub fn workspace_of(lower: &Lower, path: &std::path::Path) -> Result<Workspace, super::TxnError> {
    let owned =
        lower
            .root()
            .try_clone_to_owned()
            .map_err(|source| super::TxnError::OpenWorkspace {
                path: path.to_owned(),
                source,
            })?;
    Workspace::from_fd(owned, path)
}

/// `ftsb-fs recover` without a daemon: recovery on the store at `store`, and the overlay
/// cleared if the interrupted commit turned out complete.
pub fn recover_store(
    workspace: &std::path::Path,
    store: &std::path::Path,
) -> Result<String, CommitError> {
    let parts = crate::overlay::open_parts(workspace, store)?;
    let outcome = recover_at_mount(&parts, workspace)?;
    let mut ov = crate::overlay::Overlay::open(parts)?;
    after_recovery(&mut ov, &outcome)?;
    Ok(match outcome {
        super::Recovery::Nothing => "nothing to recover".to_owned(),
        super::Recovery::UndoneCommit { id } => {
            format!(
                "commit {id} was interrupted and is undone: the workspace is as before it, the changes are still in the overlay"
            )
        }
        super::Recovery::FinishedCommit { id } => {
            format!("commit {id} had reached the workspace and is finished")
        }
    })
}

/// After recovery finished a commit, the overlay it published is cleared (or, for a partial
/// commit, replaced by what stays); runs at every mount.
pub fn after_recovery(ov: &mut dyn Host, outcome: &super::Recovery) -> Result<(), CommitError> {
    let finished = match outcome {
        super::Recovery::FinishedCommit { id }
            if ov.store().db.kv_get(keys::EPOCH)?.as_deref() != Some(&id.to_string()) =>
        {
            Some(*id)
        }
        _ => None,
    };
    if !super::partial::after_recovery(ov, finished)?
        && let Some(id) = finished
    {
        let snap = ov.seal()?;
        clear(ov, &snap, id)?;
    }
    // The transaction of a store mounted for the first time begins now: a workspace object
    // the view replaces without copying it (a file saved by renaming a new one over it) is
    // a conflict only if it changed after this.
    if ov.store().db.kv_get(TXN_STARTED)?.is_none() {
        mark_started(ov)?;
    }
    Ok(())
}

fn now_ns() -> i64 {
    let t = Time::now();
    t.sec * 1_000_000_000 + i64::from(t.nsec)
}
