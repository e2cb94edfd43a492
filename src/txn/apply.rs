//! Applying a plan: the forward half of the commit protocol (steps 1 to 10 of `docs/COMMIT.md`).
//!
//! Owns [`apply`]. Invariants: nothing in the workspace changes before the journal is durable;
//! phase 1 only renames objects into the stash, and its durable marker is written only once
//! every one of those renames is fsynced; phase 2 only places objects at paths that are free
//! (every placement uses `RENAME_NOREPLACE`, `O_EXCL` or fails with `EEXIST`); the journal is
//! marked applied only once everything phase 2 did is durable (one syncfs). On an error after the journal
//! began, the commit is undone before `apply` returns.
//!
//! Deliberately not here: undo, finish and recovery (see `undo`), conflict rules (see `check`).

use std::collections::BTreeSet;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use super::attrs;
use super::check::{self, split_open};
use super::durable::{flush_below, sync_dir};
use super::failpoint::hit;
use super::journal::{self, Journal};
use super::phases::Phases;
use super::plan::{Layout, Plan, RelPath, SpecialKind, Step, split};
use super::temps::{self, Temps};
use super::undo;
use super::{IoCtx, TxnError, Unstored, Workspace, stash_name};
use crate::meta::{Db, JournalState, keys};
use crate::store::{BlobStore, StoreError, batch};
use crate::sys;

/// A commit whose every step is durable in the workspace (journal state `Applied`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    /// The journal to pass to [`super::finish`] once the overlay is cleared.
    pub journal_id: u64,
    /// Steps applied (with the stashes `force` added).
    pub steps: usize,
    /// Bytes of file content written.
    pub bytes: u64,
}

/// Applies `plan` durably and atomically.
///
/// Refuses with [`TxnError::Conflicts`] before touching anything if [`super::check`] finds a
/// conflict, unless `force`, which overwrites: expectations are ignored and an object found at
/// a path the plan places at is stashed (and so replaced). Refuses with
/// [`TxnError::Pending`] while an interrupted commit awaits [`super::recover`].
///
/// After a crash: before the journal is durable, nothing was touched and nothing is open;
/// after, [`super::recover`] undoes the commit (until the journal says `Applied`) or finishes
/// it. On `Ok` the journal is `Applied`: the workspace durably holds the plan, the stash still
/// holds what it replaced; the caller clears its overlay, then calls [`super::finish`]. On an
/// error after the journal began, the commit is undone and the workspace is as before (or, if
/// the undo fails too, [`TxnError::UndoFailed`] and the journal stays open for recovery).
pub fn apply(
    ws: &Workspace,
    blobs: &BlobStore,
    db: &Db,
    plan: &Plan,
    force: bool,
) -> Result<Applied, TxnError> {
    let contents = Contents {
        blobs,
        unstored: &Unstored::new(),
    };
    apply_from(ws, contents, db, plan, force)
}

/// Where phase 2 reads the bytes of each `File` step: the file `unstored` names for its blob
/// id, else the blob in the store. Either way the bytes are hashed as they are copied and
/// refused if they do not hash to the id ([`TxnError::CorruptBlob`], nothing placed).
#[derive(Clone, Copy)]
pub struct Contents<'a> {
    pub blobs: &'a BlobStore,
    pub unstored: &'a Unstored,
}

/// [`apply`], with file contents read from `contents` (a commit's working files that were
/// hashed but not stored). The journal never needs a file's bytes again once phase 2 copied
/// them: recovery only removes what phase 2 placed, or keeps it.
pub fn apply_from(
    ws: &Workspace,
    contents: Contents<'_>,
    db: &Db,
    plan: &Plan,
    force: bool,
) -> Result<Applied, TxnError> {
    let mut phases = Phases::start();
    let mut layout = plan.layout()?;
    if let Some(open) = db.journal_open()? {
        return Err(TxnError::Pending { id: open.id });
    }
    if ws.removed() {
        return Err(TxnError::Removed(ws.path().to_owned()));
    }
    let found = check::find(ws, &layout);
    let forced: Plan;
    if !found.is_empty() {
        if !force {
            return Err(TxnError::Conflicts(
                found.into_iter().map(|f| f.conflict).collect(),
            ));
        }
        forced = with_forced_stashes(plan, found.into_iter().filter_map(|f| f.occupant));
        layout = forced.layout()?;
    }
    for step in &layout.plan.steps {
        if let Step::File { blob, .. } = step
            && !contents.unstored.contains_key(blob)
            && !contents.blobs.contains(*blob)
        {
            return Err(StoreError::Missing { id: *blob }.into());
        }
    }
    phases.end("check");
    let journal = Journal::prepare(ws, &layout)?;
    hit(|| "commit.checked".into());
    let id = db.journal_begin(&journal.encode())?;
    hit(|| "commit.journaled".into());
    phases.end("journal");
    let mut run = Run {
        ws,
        contents,
        db,
        id,
        layout: &layout,
        stash: None,
        done: layout.first_build(),
        bytes: 0,
        touched: false,
        phases,
    };
    match run.forward(&journal) {
        Ok(()) => {
            tracing::debug!(journal = id, "apply took {}", run.phases);
            Ok(Applied {
                journal_id: id,
                steps: layout.plan.steps.len(),
                bytes: run.bytes,
            })
        }
        Err(cause) => {
            drop(run.stash.take());
            Err(match run.abandon(&journal) {
                Ok(()) => cause,
                Err(undo) => TxnError::UndoFailed {
                    cause: Box::new(cause),
                    undo: Box::new(undo),
                },
            })
        }
    }
}

/// `plan` with a `Stash` of every occupant `force` must move out of the way, in a fresh slot,
/// the stashes re-sorted deepest first (stable, so the plan's own order among equals stays).
fn with_forced_stashes(plan: &Plan, occupants: impl Iterator<Item = RelPath>) -> Plan {
    let mut stashes: Vec<Step> = Vec::new();
    let mut rest: Vec<Step> = Vec::new();
    for step in &plan.steps {
        match step {
            Step::Stash { .. } => stashes.push(step.clone()),
            _ => rest.push(step.clone()),
        }
    }
    let mut next = stashes
        .iter()
        .filter_map(|s| match s {
            Step::Stash { slot, .. } => Some(*slot),
            _ => None,
        })
        .max()
        .map_or(0, |m| m + 1);
    let mut seen = BTreeSet::new();
    for path in occupants {
        if seen.insert(path.clone()) {
            stashes.push(Step::Stash {
                path,
                slot: next,
                expect: super::Expect::Nothing,
            });
            next += 1;
        }
    }
    stashes.sort_by_key(|s| std::cmp::Reverse(s.path().depth()));
    stashes.extend(rest);
    Plan { steps: stashes }
}

struct Run<'a> {
    ws: &'a Workspace,
    contents: Contents<'a>,
    db: &'a Db,
    id: u64,
    layout: &'a Layout<'a>,
    stash: Option<OwnedFd>,
    /// Phase-2 steps before this index are complete.
    done: usize,
    bytes: u64,
    /// Whether the workspace may have been changed (the stash directory was created).
    touched: bool,
    phases: Phases,
}

/// Opens `path`'s parent, mapping errors to `op`.
fn parent_of<'p>(ws: &Workspace, path: &'p RelPath) -> Result<(OwnedFd, &'p [u8]), TxnError> {
    sys::open_parent(ws.root(), &path.0).ctx("open parent of", path)
}

/// The parent directory phase 2 last placed into, kept open: consecutive steps mostly place
/// into one directory, and opening it walks the path component by component. Phase 2 never
/// removes or replaces anything, so a directory opened at a path stays the one at that path.
#[derive(Default)]
struct Parents {
    path: Vec<u8>,
    fd: Option<OwnedFd>,
}

impl Parents {
    /// `path`'s parent (opened, or the one already open) and its last component.
    fn open<'p>(
        &mut self,
        ws: &Workspace,
        path: &'p RelPath,
    ) -> Result<(BorrowedFd<'_>, &'p [u8]), TxnError> {
        let (dir, name) = split(&path.0).ok_or_else(|| {
            TxnError::io(
                "open parent of",
                path,
                io::Error::from_raw_os_error(libc::EINVAL),
            )
        })?;
        if self.fd.is_none() || self.path != dir {
            self.fd = None;
            let fd = sys::open_dir(ws.root(), dir, false).ctx("open parent of", path)?;
            self.path = dir.to_vec();
            self.fd = Some(fd);
        }
        let fd = self.fd.as_ref().expect("opened above");
        Ok((fd.as_fd(), name))
    }
}

impl Run<'_> {
    fn stash(&self) -> Result<&OwnedFd, TxnError> {
        self.stash.as_ref().ok_or_else(|| {
            TxnError::io(
                "open",
                &RelPath(stash_name(self.id)),
                io::Error::from_raw_os_error(libc::EBADF),
            )
        })
    }

    fn forward(&mut self, journal: &Journal<'_>) -> Result<(), TxnError> {
        let ws = self.ws;
        let steps = &self.layout.plan.steps;
        let first_build = self.layout.first_build();
        let stash_rel = RelPath(stash_name(self.id));

        // Step 3: the stash directory.
        sys::mkdir(ws.root(), &stash_rel.0, 0o700).ctx("create", &stash_rel)?;
        self.touched = true;
        self.stash = Some(sys::open_dir(ws.root(), &stash_rel.0, true).ctx("open", &stash_rel)?);
        hit(|| "commit.stash_dir".into());

        // Step 4: phase 1, stash. A directory that lost an entry is fsynced before it or an
        // ancestor moves (descendants come first, so it is still at its path), the rest at the end.
        let mut pending: BTreeSet<RelPath> = BTreeSet::new();
        pending.insert(RelPath::default());
        for (k, step) in steps.iter().enumerate().take(first_build) {
            let Step::Stash { path, slot, .. } = step else {
                continue;
            };
            flush_below(ws, &mut pending, path)?;
            let (parent, name) = match sys::open_parent(ws.root(), &path.0) {
                Ok(v) => v,
                Err(e) if check::missing(&e) => continue,
                Err(e) => return Err(TxnError::io("open parent of", path, e)),
            };
            let slot_name = slot.to_string().into_bytes();
            match sys::rename_noreplace(parent.as_fd(), name, self.stash()?.as_fd(), &slot_name) {
                Ok(()) => {
                    pending.insert(path.split().map(|(p, _)| p).unwrap_or_default());
                }
                Err(e) if sys::is_enoent(&e) => {}
                Err(e) => return Err(TxnError::io("stash", path, e)),
            }
            hit(|| format!("commit.stash.{k}"));
        }
        // Step 5: everything phase 1 changed.
        for dir in &pending {
            sync_dir(ws, dir)?;
        }
        sys::fsync(self.stash()?.as_fd()).ctx("fsync", &stash_rel)?;
        hit(|| "commit.stash_synced".into());

        // Step 6: the durable phase marker.
        self.db.kv_set(&keys::txn_stashed(self.id), "1")?;
        self.db.barrier()?;
        hit(|| "commit.stashed".into());
        self.phases.end("stash");

        // Step 7: phase 2, build. The contents of `File` steps are written into their
        // temporaries by a few threads ahead of this one; every step is still placed here,
        // in plan order, so only the steps before `done` ever placed anything.
        let files: Vec<usize> = (first_build..steps.len())
            .filter(|&k| matches!(steps[k], Step::File { .. }))
            .collect();
        let temps = Temps {
            contents: self.contents,
            stash: self.stash()?.as_fd(),
            id: self.id,
            steps,
        };
        let (mut done, mut bytes) = (first_build, 0);
        let mut parents = Parents::default();
        let built = batch::ordered(
            files.len(),
            |i| temps.write(files[i]),
            |written| -> Result<(), TxnError> {
                for (k, step) in steps.iter().enumerate().skip(first_build) {
                    if let Step::File { path, .. } = step {
                        let n = written.next().ok_or_else(|| {
                            TxnError::io(
                                "write",
                                path,
                                io::Error::other("a writing thread panicked"),
                            )
                        })??;
                        self.place(k, path, &mut parents)?;
                        bytes += n;
                    } else {
                        self.build(k, &mut parents)?;
                    }
                    done = k + 1;
                    hit(|| format!("commit.build.{k}"));
                }
                Ok(())
            },
        );
        self.done = done;
        self.bytes = bytes;
        built?;

        // Step 8: directory metadata last, since placing entries moved their times.
        for step in &steps[first_build..] {
            match step {
                Step::Mkdir { path, meta } => {
                    let (parent, name) = parent_of(ws, path)?;
                    attrs::set_meta(parent.as_fd(), name, meta).ctx("set metadata of", path)?;
                }
                Step::SetMeta { path, meta, .. } => {
                    let Some((parent, name)) = split_open(ws, path)? else {
                        continue;
                    };
                    let is_dir = sys::lstat(parent.as_fd(), name)
                        .ctx("stat", path)?
                        .is_some_and(|st| sys::file_type(&st) == libc::S_IFDIR);
                    if is_dir {
                        sys::set_times(parent.as_fd(), name, meta.atime, meta.mtime)
                            .ctx("set times of", path)?;
                    }
                }
                _ => {}
            }
        }
        hit(|| "commit.built".into());
        self.phases.end("build");

        // Step 9: make phase 2 durable, all of it at once: file contents, metadata, entries.
        // One syncfs of the workspace's file system (assumption 1: it is one) costs one
        // journal commit, where an fsync per object cost one each.
        crate::store::syncfs(ws.root()).ctx("syncfs", &RelPath::default())?;
        hit(|| "commit.synced".into());
        self.phases.end("sync");

        // Step 10: the root's final times (finish restores them after removing the stash),
        // then the journal says applied, durably.
        let root_times = self.final_root_times(journal)?;
        self.db.kv_set(
            &keys::txn_root_times(self.id),
            &serde_json::to_string(&root_times).expect("plain numbers serialize"),
        )?;
        self.db.journal_set_state(self.id, JournalState::Applied)?;
        hit(|| "commit.applied".into());
        self.phases.end("applied");
        Ok(())
    }

    /// What the root's times should be once the stash is gone: the plan's if it sets them,
    /// now's if the plan changed the root's entries, else the pre-commit ones.
    fn final_root_times(&self, journal: &Journal<'_>) -> Result<journal::Times, TxnError> {
        let steps = &self.layout.plan.steps;
        if let Some(meta) = steps.iter().rev().find_map(|s| match s {
            Step::SetMeta { path, meta, .. } if path.is_root() => Some(meta),
            _ => None,
        }) {
            return Ok((meta.atime, meta.mtime));
        }
        let touches_root = steps
            .iter()
            .any(|s| !matches!(s, Step::SetMeta { .. }) && s.path().depth() == 1);
        let pre = journal.dir_times.get(&RelPath::default()).copied();
        match pre {
            Some(t) if !touches_root => Ok(t),
            _ => {
                let st = check::stat(self.ws, &RelPath::default())?.ok_or_else(|| {
                    TxnError::io(
                        "stat",
                        &RelPath::default(),
                        io::Error::from_raw_os_error(libc::ENOENT),
                    )
                })?;
                Ok(journal::times(&st))
            }
        }
    }

    /// Phase-2 step `k`, but for the placement of a `File` (see [`Run::place`]).
    fn build(&self, k: usize, parents: &mut Parents) -> Result<(), TxnError> {
        let ws = self.ws;
        let step = &self.layout.plan.steps[k];
        let path = step.path();
        match step {
            Step::Stash { .. } => Ok(()),
            Step::SetMeta { path, meta, .. } => {
                let (parent, name) = split_open(ws, path)?.ok_or_else(|| {
                    TxnError::io(
                        "set metadata of",
                        path,
                        io::Error::from_raw_os_error(libc::ENOENT),
                    )
                })?;
                attrs::set_meta(parent.as_fd(), name, meta).ctx("set metadata of", path)
            }
            Step::Unstash { slot, .. } => {
                let (parent, name) = parents.open(ws, path)?;
                let slot_name = slot.to_string().into_bytes();
                sys::rename_noreplace(self.stash()?.as_fd(), &slot_name, parent, name)
                    .ctx("move into place", path)
            }
            Step::Mkdir { .. } => {
                let (parent, name) = parents.open(ws, path)?;
                sys::mkdir(parent, name, 0o700).ctx("create directory", path)
            }
            Step::File { .. } => unreachable!("apply places File steps itself"),
            Step::Symlink { target, meta, .. } => {
                let (parent, name) = parents.open(ws, path)?;
                sys::symlink(target, parent, name).ctx("create symlink", path)?;
                attrs::set_meta(parent, name, meta).ctx("set metadata of", path)
            }
            Step::Hardlink { to, .. } => {
                let (parent, name) = parents.open(ws, path)?;
                let (tp, tn) = parent_of(ws, to)?;
                sys::link(tp.as_fd(), tn, parent, name).ctx("link", path)
            }
            Step::Special {
                kind, rdev, meta, ..
            } => {
                let (parent, name) = parents.open(ws, path)?;
                let ty = match kind {
                    SpecialKind::Fifo => libc::S_IFIFO,
                    SpecialKind::Socket => libc::S_IFSOCK,
                    SpecialKind::Char => libc::S_IFCHR,
                    SpecialKind::Block => libc::S_IFBLK,
                };
                sys::mknod(parent, name, ty | 0o600, *rdev).ctx("create", path)?;
                attrs::set_meta(parent, name, meta).ctx("set metadata of", path)
            }
        }
    }

    /// Places the written temporary of `File` step `k` at `path`, without replacing anything.
    fn place(&self, k: usize, path: &RelPath, parents: &mut Parents) -> Result<(), TxnError> {
        let stash = self.stash()?.as_fd();
        let tmp = temps::name(k);
        let (parent, name) = parents.open(self.ws, path)?;
        let placed = sys::rename_noreplace(stash, &tmp, parent, name).ctx("move into place", path);
        if placed.is_err() {
            let _ = sys::unlink(stash, &tmp, false);
        }
        placed
    }

    /// After an error: undo what this run did, exactly as recovery would.
    fn abandon(&self, journal: &Journal<'_>) -> Result<(), TxnError> {
        if !self.touched {
            // The stash directory could not even be created: nothing was changed.
            self.db.journal_set_state(self.id, JournalState::Undone)?;
            return journal::clear_markers(self.db, self.id);
        }
        // Only phase-2 steps before `done` placed anything; say so durably first, so a
        // recovery that interrupts this undo does not remove what the failed step found there.
        self.db
            .kv_set(&keys::txn_failed_at(self.id), &self.done.to_string())?;
        self.db.barrier()?;
        undo::undo(self.ws, self.db, self.id, journal)
    }
}
