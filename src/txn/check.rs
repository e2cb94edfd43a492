//! Conflict detection: does the workspace still hold what the overlay saw?
//!
//! Owns the read-only evaluation of every [`Expect`] of a plan, plus the two implicit
//! expectations every plan carries: a path phase 2 places something at must be free once
//! phase 1 ran (nobody created it outside the view), and an object a step moves, links or
//! re-labels must still exist. Never writes anything.
//!
//! Deliberately not here: deciding what to do about a conflict (`apply` refuses, or with
//! `force` stashes the occupant so that it is replaced).

use std::fmt;
use std::io;
use std::os::fd::AsFd;

use super::plan::{Expect, Layout, Loc, Plan, RelPath, Step};
use super::{IoCtx, TxnError, Workspace};
use crate::store::BlobId;
use crate::sys;

/// A path where the workspace no longer matches what the overlay saw.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Conflict {
    pub path: RelPath,
    pub reason: String,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

/// A conflict and, when it is "something occupies a path the plan places at", the
/// pre-commit path of the occupant (which `force` stashes).
pub(crate) struct Found {
    pub conflict: Conflict,
    pub occupant: Option<RelPath>,
}

/// Every expectation of `plan` that the workspace does not meet; empty when the commit may
/// go ahead. Read-only. An invalid plan yields one conflict describing why.
pub fn check(ws: &Workspace, plan: &Plan) -> Vec<Conflict> {
    match plan.layout() {
        Ok(layout) => find(ws, &layout).into_iter().map(|f| f.conflict).collect(),
        Err(e) => vec![Conflict {
            path: RelPath::default(),
            reason: e.to_string(),
        }],
    }
}

pub(crate) fn find(ws: &Workspace, layout: &Layout<'_>) -> Vec<Found> {
    let mut out = Vec::new();
    let mut push = |path: &RelPath, reason: String, occupant: Option<RelPath>| {
        out.push(Found {
            conflict: Conflict {
                path: path.clone(),
                reason,
            },
            occupant,
        })
    };
    for (k, step) in layout.plan.steps.iter().enumerate() {
        match step {
            Step::Stash { path, expect, .. } => {
                if let Some(why) = violated(ws, path, expect) {
                    push(path, why, None);
                }
            }
            Step::SetMeta { path, expect, .. } => {
                if let Loc::Pre(q) = layout.locate(&path.0, k, true) {
                    match exists(ws, &q) {
                        Ok(true) => {
                            if let Some(why) = violated(ws, &q, expect) {
                                push(path, why, None);
                            }
                        }
                        Ok(false) => push(path, "was removed outside the view".into(), None),
                        Err(e) => push(path, format!("cannot inspect it: {e}"), None),
                    }
                }
            }
            _ => {
                if let Loc::Pre(q) = layout.locate(&step.path().0, k, false) {
                    match exists(ws, &q) {
                        Ok(false) => {}
                        Ok(true) => push(
                            step.path(),
                            "was created outside the view (the commit would replace it)".into(),
                            Some(q),
                        ),
                        Err(e) => push(step.path(), format!("cannot inspect it: {e}"), None),
                    }
                }
                let source = match step {
                    Step::Unstash { slot, .. } => layout.slot_path(*slot).cloned(),
                    Step::Hardlink { to, .. } => match layout.locate(&to.0, k, true) {
                        Loc::Pre(q) => Some(q),
                        _ => None,
                    },
                    _ => None,
                };
                if let Some(src) = source
                    && matches!(exists(ws, &src), Ok(false))
                {
                    push(
                        step.path(),
                        format!("its source {src} was removed outside the view"),
                        None,
                    );
                }
            }
        }
    }
    out
}

fn exists(ws: &Workspace, path: &RelPath) -> Result<bool, TxnError> {
    Ok(stat(ws, path)?.is_some())
}

/// `lstat` of a workspace path; `None` when nothing (or a non-directory parent) is there.
pub(crate) fn stat(ws: &Workspace, path: &RelPath) -> Result<Option<sys::Stat>, TxnError> {
    let Some((parent, name)) = split_open(ws, path)? else {
        return Ok(None);
    };
    sys::lstat(parent.as_fd(), name).ctx("stat", path)
}

/// Opens the parent of `path` ("" = the root itself, with an empty name); `None` if a parent
/// component is missing or not a directory.
pub(crate) fn split_open<'p>(
    ws: &Workspace,
    path: &'p RelPath,
) -> Result<Option<(std::os::fd::OwnedFd, &'p [u8])>, TxnError> {
    let r = if path.is_root() {
        sys::open_dir(ws.root(), b"", false).map(|fd| (fd, &[][..]))
    } else {
        sys::open_parent(ws.root(), &path.0)
    };
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if missing(&e) => Ok(None),
        Err(e) => Err(TxnError::io("open parent of", path, e)),
    }
}

/// Whether `e` means "not there" (a missing component, or one that is not a directory).
pub(crate) fn missing(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOENT) | Some(libc::ENOTDIR) | Some(libc::ELOOP)
    )
}

fn ts_ctime(st: &sys::Stat) -> (i64, u32) {
    (st.st_ctime, st.st_ctime_nsec as u32)
}

/// Why `expect` does not hold at `path`, if it does not.
fn violated(ws: &Workspace, path: &RelPath, expect: &Expect) -> Option<String> {
    let st = match stat(ws, path) {
        Ok(st) => st,
        Err(e) => return Some(format!("cannot inspect it: {e}")),
    };
    match (expect, st) {
        (Expect::Nothing, _) => None,
        (Expect::Absent, None) => None,
        (Expect::Absent, Some(_)) => Some("was created outside the view".into()),
        (Expect::Stamp(_) | Expect::UnchangedSince(_), None) => {
            Some("was removed outside the view".into())
        }
        (Expect::Stamp(s), Some(st)) => {
            let now = (
                st.st_ino,
                st.st_size as u64,
                (st.st_mtime, st.st_mtime_nsec as u32),
                ts_ctime(&st),
            );
            if now != (s.ino, s.size, s.mtime, s.ctime) {
                return Some("was changed outside the view since the overlay read it".into());
            }
            // Equal fields are ambiguous when the overlay read them in the tick the file
            // last changed in: the content decides.
            let want = s.hash?;
            match content_id(ws, path) {
                Ok(id) if id == want => None,
                Ok(_) => Some(
                    "was changed outside the view within the clock tick the overlay read it in (its content differs)"
                        .into(),
                ),
                Err(e) => Some(format!("cannot inspect it: {e}")),
            }
        }
        (Expect::UnchangedSince(t), Some(st)) => {
            // `t` is a reading of the clock the file system stamps ctimes with, taken when the
            // view changed the object: a change after it has a ctime at or after it (in the
            // same tick: equal). One within the same tick before it is reported too: an
            // ambiguous ctime is a conflict, never a silent overwrite.
            if ts_ctime(&st) >= *t {
                return Some("was changed outside the view since the overlay read it".into());
            }
            if sys::file_type(&st) != libc::S_IFDIR {
                return None;
            }
            match newer_below(ws, path, *t) {
                Ok(None) => None,
                Ok(Some(p)) => Some(format!("{p} below it was changed outside the view")),
                Err(e) => Some(format!("cannot inspect it: {e}")),
            }
        }
    }
}

/// The content hash of the workspace file at `path`.
fn content_id(ws: &Workspace, path: &RelPath) -> Result<BlobId, TxnError> {
    let Some((parent, name)) = split_open(ws, path)? else {
        return Err(TxnError::io(
            "open",
            path,
            io::Error::from_raw_os_error(libc::ENOENT),
        ));
    };
    let fd = sys::open_at(parent.as_fd(), name, sys::Open::RDONLY, 0).ctx("open", path)?;
    BlobId::of_file(&std::fs::File::from(fd)).ctx("read", path)
}

/// The first path below directory `dir` with a ctime at or after `t`.
fn newer_below(ws: &Workspace, dir: &RelPath, t: (i64, u32)) -> Result<Option<RelPath>, TxnError> {
    let mut todo = vec![dir.clone()];
    while let Some(d) = todo.pop() {
        let fd = sys::open_dir(ws.root(), &d.0, false).ctx("open", &d)?;
        for name in sys::read_names(fd.as_fd()).ctx("read", &d)? {
            let child = d.join(&name);
            let Some(st) = sys::lstat(fd.as_fd(), &name).ctx("stat", &child)? else {
                continue;
            };
            if ts_ctime(&st) >= t {
                return Ok(Some(child));
            }
            if sys::file_type(&st) == libc::S_IFDIR {
                todo.push(child);
            }
        }
    }
    Ok(None)
}
