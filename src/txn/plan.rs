//! The commit plan: what the overlay wants the workspace to become, as an ordered list of steps.
//!
//! Owns the plan types, their serde encoding (paths and other byte strings are stored as text,
//! with `%XX` escapes for `%` and for bytes that are not UTF-8, so the journal stays readable
//! and lossless), and the static validation of a plan ([`Plan::layout`]), which also answers
//! "which pre-commit object will be at this path at this step" ([`Layout::locate`]).
//!
//! Invariants a valid plan satisfies (checked by [`Plan::layout`], refused as
//! [`TxnError::InvalidPlan`] otherwise): every path is relative, without empty, `.` or `..`
//! components and without NUL; all `Stash` steps come first, descendants before ancestors,
//! with distinct slots; every phase-2 target is placed once, after its placed ancestors;
//! every `Unstash` names a stashed slot, once; the root is only ever the target of `SetMeta`;
//! no path uses the reserved stash name.
//!
//! Deliberately not here: touching the file system (see `apply` and `check`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{HashMap, HashSet};

use super::TxnError;
use crate::store::BlobId;

pub use crate::sys::STASH_PREFIX;
pub use crate::sys::path::RelPath;
pub(crate) use crate::sys::path::{
    decode_text, encode_text, is_ancestor, prefix_ends, split, text_bytes,
};

mod text_xattrs {
    use super::*;

    type Xattrs = Option<Vec<(Vec<u8>, Vec<u8>)>>;

    pub fn serialize<S: Serializer>(x: &Xattrs, s: S) -> Result<S::Ok, S::Error> {
        let text: Option<Vec<(String, String)>> = x.as_ref().map(|v| {
            v.iter()
                .map(|(n, v)| (encode_text(n), encode_text(v)))
                .collect()
        });
        text.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Xattrs, D::Error> {
        let text = Option::<Vec<(String, String)>>::deserialize(d)?;
        text.map(|v| {
            v.into_iter()
                .map(|(n, v)| Ok((decode_text(&n)?, decode_text(&v)?)))
                .collect::<Result<Vec<_>, String>>()
        })
        .transpose()
        .map_err(serde::de::Error::custom)
    }
}

/// Metadata to give an object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Permission bits including setuid, setgid and sticky (`0o7777`); ignored for symlinks.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// (seconds, nanoseconds) since the epoch.
    pub atime: (i64, u32),
    pub mtime: (i64, u32),
    /// The complete set of extended attributes afterwards (names in the `system.` namespace
    /// that are not listed are left alone); `None` leaves them as they are.
    #[serde(with = "text_xattrs", default)]
    pub xattrs: Option<Vec<(Vec<u8>, Vec<u8>)>>,
}

/// What the overlay saw of a workspace object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub ino: u64,
    pub size: u64,
    pub mtime: (i64, u32),
    pub ctime: (i64, u32),
    /// The content hash, when the overlay took one because the stamp was ambiguous (the
    /// object's ctime fell in the clock tick the stamp was read in): equal fields then
    /// prove nothing, and the content must match too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<BlobId>,
}

/// What the overlay expects to find at a path before the commit touches it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Expect {
    /// No expectation.
    Nothing,
    /// The very object the overlay saw, unchanged.
    Stamp(Stamp),
    /// The object and, for a directory, nothing in its subtree has a ctime at or after this
    /// reading of the file system's clock (`Lower::ctime_boundary`, or the coarse clock
    /// for an object last changed before its current tick).
    UnchangedSince((i64, u32)),
    /// Nothing is at the path.
    Absent,
}

/// The kind of a special file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SpecialKind {
    Fifo,
    Socket,
    Char,
    Block,
}

/// One step of a plan. See `docs/COMMIT.md` for what each does and how it is undone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    /// Phase 1: move the object at `path` (if any) into the commit's stash, as `slot`.
    Stash {
        path: RelPath,
        slot: u32,
        expect: Expect,
    },
    /// Phase 2: the object stashed as `slot` lands at `path`.
    Unstash { slot: u32, path: RelPath },
    /// Phase 2: a new directory (its metadata is applied after all other phase-2 steps).
    Mkdir { path: RelPath, meta: Meta },
    /// Phase 2: a new regular file with the content of `blob`.
    File {
        path: RelPath,
        blob: BlobId,
        meta: Meta,
    },
    /// Phase 2: a new symbolic link.
    Symlink {
        path: RelPath,
        #[serde(with = "text_bytes")]
        target: Vec<u8>,
        meta: Meta,
    },
    /// Phase 2: a new name for the object at `to`.
    Hardlink { path: RelPath, to: RelPath },
    /// Phase 2: a new fifo, socket or device node (`rdev` only for devices).
    Special {
        path: RelPath,
        kind: SpecialKind,
        rdev: u64,
        meta: Meta,
    },
    /// Phase 2: an object that stays (or was unstashed) changes metadata only.
    SetMeta {
        path: RelPath,
        meta: Meta,
        expect: Expect,
    },
}

impl Step {
    /// The path this step acts on (for `Unstash`, where the object lands).
    pub fn path(&self) -> &RelPath {
        match self {
            Step::Stash { path, .. }
            | Step::Unstash { path, .. }
            | Step::Mkdir { path, .. }
            | Step::File { path, .. }
            | Step::Symlink { path, .. }
            | Step::Hardlink { path, .. }
            | Step::Special { path, .. }
            | Step::SetMeta { path, .. } => path,
        }
    }

    /// Whether this step puts an object at a free path in phase 2.
    pub fn places(&self) -> bool {
        !matches!(self, Step::Stash { .. } | Step::SetMeta { .. })
    }
}

/// A commit plan: phase 1 (`Stash` steps) then phase 2, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub steps: Vec<Step>,
}

/// Where the object at a path during phase 2 comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Loc {
    /// A new object (created by this plan, or inside a new directory).
    New,
    /// The pre-commit object is moved away by phase 1: the path is free.
    Free,
    /// The object that was at this pre-commit path (if anything was).
    Pre(RelPath),
}

/// A validated plan with its indexes.
#[derive(Debug)]
pub(crate) struct Layout<'p> {
    pub plan: &'p Plan,
    /// slot -> index of its `Stash` step.
    pub slots: HashMap<u32, usize>,
    stash_paths: HashSet<&'p [u8]>,
    /// phase-2 target path -> index of the step that places it.
    targets: HashMap<&'p [u8], usize>,
}

fn invalid(step: usize, reason: impl Into<String>) -> TxnError {
    TxnError::InvalidPlan {
        step,
        reason: reason.into(),
    }
}

fn check_path(k: usize, path: &RelPath, root_ok: bool) -> Result<(), TxnError> {
    let p = &path.0;
    if p.is_empty() {
        return if root_ok {
            Ok(())
        } else {
            Err(invalid(k, "this step cannot act on the workspace root"))
        };
    }
    if p.contains(&0) {
        return Err(invalid(k, format!("path {path} contains a NUL byte")));
    }
    for c in p.split(|&b| b == b'/') {
        if c.is_empty() || c == b"." || c == b".." {
            return Err(invalid(
                k,
                format!("path {path} is not a clean relative path"),
            ));
        }
    }
    let first = p.split(|&b| b == b'/').next().unwrap_or_default();
    if first.starts_with(STASH_PREFIX.as_bytes()) {
        return Err(invalid(
            k,
            format!("path {path} uses the reserved name {STASH_PREFIX}*"),
        ));
    }
    Ok(())
}

impl Plan {
    /// Validates the plan and indexes it. See the module doc for the rules.
    pub(crate) fn layout(&self) -> Result<Layout<'_>, TxnError> {
        let mut slots = HashMap::new();
        let mut stash_paths: HashSet<&[u8]> = HashSet::new();
        let mut targets: HashMap<&[u8], usize> = HashMap::new();
        let mut unstashed = HashSet::new();
        let mut in_phase2 = false;
        for (k, step) in self.steps.iter().enumerate() {
            match step {
                Step::Stash { path, slot, .. } => {
                    if in_phase2 {
                        return Err(invalid(k, "a stash step after phase 2 began"));
                    }
                    check_path(k, path, false)?;
                    if slots.insert(*slot, k).is_some() {
                        return Err(invalid(k, format!("slot {slot} is used twice")));
                    }
                    // An ancestor stashed earlier, looked up by prefix: a scan of every stash
                    // so far is quadratic (fifty million comparisons for 10,000 stashes).
                    if prefix_ends(&path.0)
                        .skip(1)
                        .any(|e| stash_paths.contains(&path.0[..e]))
                    {
                        return Err(invalid(k, format!("{path} is stashed after a descendant")));
                    }
                    if !stash_paths.insert(&path.0) {
                        return Err(invalid(k, format!("{path} is stashed twice")));
                    }
                }
                _ => {
                    in_phase2 = true;
                    check_path(k, step.path(), !step.places())?;
                    if let Step::Unstash { slot, .. } = step {
                        if !slots.contains_key(slot) {
                            return Err(invalid(k, format!("slot {slot} was never stashed")));
                        }
                        if !unstashed.insert(*slot) {
                            return Err(invalid(k, format!("slot {slot} is unstashed twice")));
                        }
                    }
                    if let Step::Hardlink { to, .. } = step {
                        check_path(k, to, false)?;
                    }
                    if let Step::Special { kind, rdev, .. } = step
                        && matches!(kind, SpecialKind::Fifo | SpecialKind::Socket)
                        && *rdev != 0
                    {
                        return Err(invalid(k, "a fifo or socket has no device number"));
                    }
                    if step.places() && targets.insert(&step.path().0, k).is_some() {
                        return Err(invalid(k, format!("{} is placed twice", step.path())));
                    }
                }
            }
        }
        let layout = Layout {
            plan: self,
            slots,
            stash_paths,
            targets,
        };
        // Parents before children: a placed ancestor must come earlier. Stash steps name
        // pre-commit paths and all run before any placement, so a path that phase 2 fills
        // anew may well have had a descendant stashed (`mv d/x x; rm -r d; mkdir d`).
        for (k, step) in self.steps.iter().enumerate() {
            if matches!(step, Step::Stash { .. }) {
                continue;
            }
            let path = &step.path().0;
            for end in prefix_ends(path).skip(1) {
                if let Some(&a) = layout.targets.get(&path[..end])
                    && a > k
                {
                    return Err(invalid(
                        k,
                        format!("{} comes before its placed parent", step.path()),
                    ));
                }
            }
            if let Step::SetMeta { path, .. } = step
                && layout.locate(&path.0, k, true) == Loc::Free
            {
                return Err(invalid(k, format!("{path} is removed by this plan")));
            }
        }
        Ok(layout)
    }
}

impl Layout<'_> {
    /// The index of the first phase-2 step.
    pub fn first_build(&self) -> usize {
        self.plan
            .steps
            .iter()
            .position(|s| !matches!(s, Step::Stash { .. }))
            .unwrap_or(self.plan.steps.len())
    }

    /// The pre-commit path of the stash step of `slot`.
    pub fn slot_path(&self, slot: u32) -> Option<&RelPath> {
        let k = *self.slots.get(&slot)?;
        Some(self.plan.steps[k].path())
    }

    /// Which object is at `path` when step `step` runs (for `include_self`, including what
    /// earlier steps placed exactly at `path`; otherwise only what their ancestors bring).
    pub fn locate(&self, path: &[u8], step: usize, include_self: bool) -> Loc {
        for end in prefix_ends(path) {
            if end == path.len() && !include_self {
                continue;
            }
            let Some(&k) = self.targets.get(&path[..end]) else {
                continue;
            };
            if k >= step {
                continue;
            }
            return match &self.plan.steps[k] {
                Step::Unstash { slot, .. } => {
                    let Some(src) = self.slot_path(*slot) else {
                        return Loc::New;
                    };
                    let mut q = src.0.clone();
                    q.extend_from_slice(&path[end..]);
                    // Anything below the slot's source that was stashed on its own is not in the slot.
                    let moved_out = prefix_ends(&q)
                        .filter(|&e| e > src.0.len())
                        .any(|e| self.stash_paths.contains(&q[..e]));
                    if moved_out {
                        Loc::Free
                    } else {
                        Loc::Pre(RelPath(q))
                    }
                }
                Step::Hardlink { to, .. } if end == path.len() => self.locate(&to.0, k, true),
                _ => Loc::New,
            };
        }
        if prefix_ends(path).any(|e| self.stash_paths.contains(&path[..e])) {
            Loc::Free
        } else {
            Loc::Pre(RelPath(path.to_vec()))
        }
    }
}
