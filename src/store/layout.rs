//! A store directory's identity: the marker file that says "this directory is an ftsb-fs
//! store", and the checks that keep a `--store` argument from pointing the daemon at a
//! directory it would damage.
//!
//! Opening a store removes leftovers (`blobs/tmp/*`, unowned files in `work/`), so it must
//! only ever open a directory that is a store. A directory is one when it holds the marker
//! ([`MARKER`], written with the format version when the store is created), or, for stores
//! created before the marker existed, an ftsb-fs database (`meta.db` whose SQLite header
//! carries our application id); such a store gets its marker the first time it is opened.
//! An absent or empty directory becomes a store. Anything else is refused before a byte of it
//! is touched.
//!
//! Deliberately not here: whether the database inside is healthy (`meta` checks that when it
//! opens it).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::{StoreError, fsync_dir, io_err};

/// The marker file's name inside a store directory.
pub const MARKER: &str = "ftsb-fs-store";
/// The store format this build writes and reads.
pub const FORMAT: u32 = 1;

/// What a would-be store directory holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// Nothing there yet.
    Absent,
    /// An empty directory (or one holding only a daemon log left by a failed first start).
    Empty,
    /// A store with a marker of this format version.
    Marked(u32),
    /// A store written before markers existed: an ftsb-fs database, no marker.
    Unmarked,
    /// Anything else: not ours to touch.
    Foreign,
}

/// SQLite's file header magic, and where the header keeps the application id.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
const APP_ID_OFFSET: usize = 68;
/// The application id `meta` gives its database ("FTSB").
const APP_ID: u32 = 0x4654_5342;

/// Looks at `dir` without changing it.
pub fn identify(dir: &Path) -> Result<StoreKind, StoreError> {
    let meta = match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(StoreKind::Absent),
        Err(e) => return Err(io_err("stat", dir)(e)),
        Ok(m) => m,
    };
    if !meta.is_dir() {
        return Ok(StoreKind::Foreign);
    }
    let marker = dir.join(MARKER);
    match fs::read_to_string(&marker) {
        Ok(text) => {
            return Ok(match parse_marker(&text) {
                Some(v) => StoreKind::Marked(v),
                None => StoreKind::Foreign,
            });
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("read", &marker)(e)),
    }
    if is_our_database(dir)? {
        return Ok(StoreKind::Unmarked);
    }
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err("read", dir))? {
        names.push(entry.map_err(io_err("read", dir))?.file_name());
    }
    Ok(if names.iter().all(|n| n == "daemon.log") {
        StoreKind::Empty
    } else {
        StoreKind::Foreign
    })
}

fn parse_marker(text: &str) -> Option<u32> {
    let mut lines = text.lines();
    (lines.next()? == "ftsb-fs store").then_some(())?;
    lines.next()?.strip_prefix("format ")?.trim().parse().ok()
}

/// Whether `dir/meta.db` is an ftsb-fs database: SQLite, with our application id, or (a
/// database whose header the write-ahead log has not reached yet) beside a blob directory.
fn is_our_database(dir: &Path) -> Result<bool, StoreError> {
    let path = dir.join("meta.db");
    let mut header = [0u8; 100];
    let mut file = match File::open(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io_err("open", &path)(e)),
        Ok(f) => f,
    };
    if file.read_exact(&mut header).is_err() || &header[..16] != SQLITE_MAGIC {
        return Ok(false);
    }
    let app = u32::from_be_bytes(
        header[APP_ID_OFFSET..APP_ID_OFFSET + 4]
            .try_into()
            .expect("a four-byte slice"),
    );
    Ok(app == APP_ID || (app == 0 && dir.join("blobs").is_dir() && dir.join("work").is_dir()))
}

/// Makes `dir` a store for `mount`: creates it (absent or empty) with its marker, adds the
/// marker to a store written before markers existed, accepts a marked store of this format.
/// Refuses anything else, leaving it exactly as it was.
pub fn claim(dir: &Path) -> Result<(), StoreError> {
    match identify(dir)? {
        StoreKind::Absent | StoreKind::Empty => {
            fs::create_dir_all(dir).map_err(io_err("create", dir))?;
            write_marker(dir)
        }
        StoreKind::Unmarked => write_marker(dir),
        kind => check_marked(dir, kind),
    }
}

/// Checks that `dir` is an existing store, for commands that repair or inspect one (`recover`,
/// `fsck`): an absent or empty directory is refused too. An unmarked store gets its marker.
pub fn require(dir: &Path) -> Result<(), StoreError> {
    match identify(dir)? {
        StoreKind::Unmarked => write_marker(dir),
        StoreKind::Absent | StoreKind::Empty => Err(StoreError::NoStore {
            path: dir.to_owned(),
        }),
        kind => check_marked(dir, kind),
    }
}

fn check_marked(dir: &Path, kind: StoreKind) -> Result<(), StoreError> {
    match kind {
        StoreKind::Marked(FORMAT) => Ok(()),
        StoreKind::Marked(format) => Err(StoreError::Format {
            path: dir.to_owned(),
            format,
        }),
        _ => Err(StoreError::NotAStore {
            path: dir.to_owned(),
        }),
    }
}

/// Writes the marker durably (file and directory entry fsynced).
fn write_marker(dir: &Path) -> Result<(), StoreError> {
    let path = dir.join(MARKER);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .map_err(io_err("create", &path))?;
    f.write_all(format!("ftsb-fs store\nformat {FORMAT}\n").as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(io_err("write", &path))?;
    fsync_dir(dir)
}

/// Refuses store locations that could never be right, whatever the directory holds: the root
/// directory, the home directory `home`, the workspace or anything inside it, and a directory
/// that holds the workspace. Paths are compared after resolving symbolic links.
pub fn check_location(
    store: &Path,
    workspace: &Path,
    home: Option<&Path>,
) -> Result<(), StoreError> {
    let store_real = resolve(store);
    let ws = resolve(workspace);
    let refuse = |why: String| {
        Err(StoreError::Location {
            path: store.to_owned(),
            why,
        })
    };
    if store_real == Path::new("/") {
        return refuse("is the root directory".into());
    }
    if let Some(home) = home
        && store_real == resolve(home)
    {
        return refuse("is the home directory".into());
    }
    if store_real.starts_with(&ws) {
        return refuse(format!("lies inside the workspace {}", workspace.display()));
    }
    if ws.starts_with(&store_real) {
        return refuse(format!("holds the workspace {}", workspace.display()));
    }
    Ok(())
}

/// `path` with symbolic links resolved as far as it exists (the rest appended as given).
fn resolve(path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut cur = path;
    loop {
        if let Ok(real) = cur.canonicalize() {
            let mut out = real;
            out.extend(rest.iter().rev());
            return out;
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                cur = parent;
            }
            _ => return path.to_owned(),
        }
    }
}
