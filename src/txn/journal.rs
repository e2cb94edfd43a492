//! What a commit writes to its journal, and the durable markers beside it.
//!
//! Owns the journal body (the plan as applied, plus everything undo needs that the plan does
//! not say: the old metadata of every object a `SetMeta` changes and the old times of every
//! directory whose entries the commit changes), its JSON encoding, and the names of the
//! durable markers kept in the store's key-value table while a commit is open.
//!
//! Deliberately not here: writing or syncing anything (the `meta` calls do that).

use std::collections::BTreeMap;

use super::attrs;
use super::check::{split_open, stat};
use super::plan::{Layout, Loc, Meta, Plan, RelPath, Step, split};
use super::{IoCtx, TxnError, Workspace};
use crate::meta::{Db, keys};
use crate::sys;

/// The journal body of a commit.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Journal<'p> {
    pub version: u32,
    /// The plan as applied (with the stashes `force` added): borrowed while a commit runs
    /// (the plan is not copied), owned when read back.
    pub plan: std::borrow::Cow<'p, Plan>,
    /// Step index -> metadata of the object before its `SetMeta` (xattrs when the step sets them).
    pub old_meta: BTreeMap<usize, Meta>,
    /// Pre-commit path -> (atime, mtime) of every directory whose entries the commit changes
    /// (always including the root, where the stash directory comes and goes).
    pub dir_times: BTreeMap<RelPath, Times>,
}

pub(crate) const VERSION: u32 = 1;

/// The first bytes of a compressed journal body (a JSON body starts with `{`).
pub(crate) const COMPRESSED: &[u8] = b"zjson1\n";

/// How much JSON [`Journal::encode`] gathers before handing it to the compressor.
const ENCODE_BUFFER: usize = 64 * 1024;

/// (atime, mtime), each as (seconds, nanoseconds).
pub(crate) type Times = ((i64, u32), (i64, u32));

/// Removes every marker of commit `id`.
pub(crate) fn clear_markers(db: &Db, id: u64) -> Result<(), TxnError> {
    for key in keys::txn_markers(id) {
        db.kv_del(&key)?;
    }
    Ok(())
}

impl<'p> Journal<'p> {
    /// Reads what undo will need, before anything is touched.
    pub fn prepare(ws: &Workspace, layout: &Layout<'p>) -> Result<Journal<'p>, TxnError> {
        let plan = layout.plan;
        let mut old_meta = BTreeMap::new();
        let mut dirs: Vec<RelPath> = vec![RelPath::default()];
        for (k, step) in plan.steps.iter().enumerate() {
            match step {
                Step::Stash { path, .. } => {
                    if let Some((parent, _)) = path.split() {
                        dirs.push(parent);
                    }
                    dirs.push(path.clone());
                }
                Step::SetMeta { path, meta, .. } => {
                    if let Loc::Pre(q) = layout.locate(&path.0, k, true) {
                        if let Some(m) = read_meta(ws, &q, meta.xattrs.is_some())? {
                            old_meta.insert(k, m);
                        }
                        dirs.push(q);
                    }
                }
                _ => {
                    let parent = split(&step.path().0).map(|(p, _)| p).unwrap_or_default();
                    if let Loc::Pre(q) = layout.locate(parent, k, true) {
                        dirs.push(q);
                    }
                }
            }
        }
        let mut dir_times = BTreeMap::new();
        for d in dirs {
            if dir_times.contains_key(&d) {
                continue;
            }
            if let Some(st) = stat(ws, &d)?
                && sys::file_type(&st) == libc::S_IFDIR
            {
                dir_times.insert(d, times(&st));
            }
        }
        Ok(Journal {
            version: VERSION,
            plan: std::borrow::Cow::Borrowed(plan),
            old_meta,
            dir_times,
        })
    }

    /// The body as stored: the JSON, zlib-compressed behind [`COMPRESSED`]. Streamed through
    /// the compressor, so a commit of ten thousand files never holds its JSON text at once
    /// (the compressed body is a fifth of it, and so is what the database copies).
    pub fn encode(&self) -> Vec<u8> {
        let z = flate2::write::ZlibEncoder::new(COMPRESSED.to_vec(), flate2::Compression::fast());
        // The serializer writes a few bytes at a time, and each write into the compressor
        // costs a call into zlib: buffered, a journal of ten thousand steps encodes about
        // ten times faster.
        let mut w = std::io::BufWriter::with_capacity(ENCODE_BUFFER, z);
        serde_json::to_writer(&mut w, self).expect("a journal is plain data and always serializes");
        w.into_inner()
            .map_err(|e| e.into_error())
            .and_then(|z| z.finish())
            .expect("compressing into memory cannot fail")
    }

    pub fn decode(id: u64, body: &[u8]) -> Result<Journal<'static>, TxnError> {
        let parsed = match body.strip_prefix(COMPRESSED) {
            Some(z) => serde_json::from_reader(flate2::read::ZlibDecoder::new(z)),
            // Journals written before the body was compressed are plain JSON.
            None => serde_json::from_slice(body),
        };
        let j: Journal<'static> = parsed.map_err(|e| TxnError::Journal {
            id,
            reason: e.to_string(),
        })?;
        if j.version != VERSION {
            return Err(TxnError::Journal {
                id,
                reason: format!("unknown journal version {}", j.version),
            });
        }
        Ok(j)
    }
}

/// (atime, mtime) of a `stat`.
pub(crate) fn times(st: &sys::Stat) -> Times {
    (
        (st.st_atime, st.st_atime_nsec as u32),
        (st.st_mtime, st.st_mtime_nsec as u32),
    )
}

fn read_meta(ws: &Workspace, path: &RelPath, xattrs: bool) -> Result<Option<Meta>, TxnError> {
    use std::os::fd::AsFd;
    let Some((parent, name)) = split_open(ws, path)? else {
        return Ok(None);
    };
    Ok(attrs::read_meta(parent.as_fd(), name, xattrs)
        .ctx("read metadata of", path)?
        .map(|(m, _)| m))
}
