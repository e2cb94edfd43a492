//! Scanning a directory tree into a comparable form, and small file system helpers.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use ftsb_fs::txn::Stamp;

use super::cpath;

/// What a scan sees of one object; compared through [`Entry::key`], which leaves out what a
/// commit may legitimately change (inode numbers, ctimes, atimes).
#[derive(Clone, Debug)]
pub struct Entry {
    pub kind: Kind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: (i64, u32),
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    pub stamp: Stamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    File { hash: String, size: u64 },
    Dir,
    Symlink(Vec<u8>),
    Fifo,
    Socket,
    Char(u64),
    Block(u64),
}

pub type Tree = BTreeMap<Vec<u8>, Entry>;

impl Entry {
    fn key(&self, link: &Option<Vec<u8>>) -> String {
        format!(
            "{:?} mode={:o} owner={}:{} mtime={:?} xattrs={:?} link={:?}",
            self.kind,
            self.mode,
            self.uid,
            self.gid,
            self.mtime,
            self.xattrs,
            link.as_ref()
                .map(|l| String::from_utf8_lossy(l).into_owned())
        )
    }
}

/// The comparable form of a tree: path -> description, hard links as "same inode as the
/// first path of the group".
pub fn canon(tree: &Tree) -> BTreeMap<String, String> {
    let mut groups: BTreeMap<u64, Vec<Vec<u8>>> = BTreeMap::new();
    for (p, e) in tree {
        if matches!(e.kind, Kind::File { .. }) {
            groups.entry(e.stamp.ino).or_default().push(p.clone());
        }
    }
    tree.iter()
        .map(|(p, e)| {
            let link = match e.kind {
                Kind::File { .. } => groups
                    .get(&e.stamp.ino)
                    .filter(|g| g.len() > 1)
                    .map(|g| g[0].clone()),
                _ => None,
            };
            (String::from_utf8_lossy(p).into_owned(), e.key(&link))
        })
        .collect()
}

/// The differences between two trees, for assertion messages (empty when equal).
pub fn diff(a: &Tree, b: &Tree) -> Vec<String> {
    let (ca, cb) = (canon(a), canon(b));
    let mut out = Vec::new();
    for (p, d) in &ca {
        match cb.get(p) {
            None => out.push(format!("only in first: {p:?} {d}")),
            Some(e) if e != d => out.push(format!("{p:?}:\n   {d}\n   {e}")),
            _ => {}
        }
    }
    for (p, d) in &cb {
        if !ca.contains_key(p) {
            out.push(format!("only in second: {p:?} {d}"));
        }
    }
    out
}

/// The xattrs of `p` outside `system.*` (ACLs and the like are the file system's business).
fn xattrs_of(p: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    super::xattrs(p)
        .into_iter()
        .filter(|(name, _)| !name.starts_with("system."))
        .map(|(name, value)| (name.into_bytes(), value))
        .collect()
}

/// Scans the tree under `root` (the root itself is the entry "").
pub fn scan(root: &Path) -> Tree {
    let mut tree = Tree::new();
    let mut todo = vec![Vec::<u8>::new()];
    while let Some(rel) = todo.pop() {
        let full = if rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(std::ffi::OsStr::from_bytes(&rel))
        };
        let md = std::fs::symlink_metadata(&full).expect("scan: stat");
        let ft = md.file_type();
        use std::os::unix::fs::FileTypeExt;
        let kind = if ft.is_dir() {
            let mut names: Vec<Vec<u8>> = std::fs::read_dir(&full)
                .expect("scan: read_dir")
                .map(|e| e.expect("scan: entry").file_name().as_bytes().to_vec())
                .collect();
            names.sort();
            for n in names {
                let mut child = rel.clone();
                if !child.is_empty() {
                    child.push(b'/');
                }
                child.extend_from_slice(&n);
                todo.push(child);
            }
            Kind::Dir
        } else if ft.is_file() {
            let bytes = std::fs::read(&full).expect("scan: read");
            Kind::File {
                hash: blake3::hash(&bytes).to_hex().to_string(),
                size: bytes.len() as u64,
            }
        } else if ft.is_symlink() {
            Kind::Symlink(
                std::fs::read_link(&full)
                    .expect("readlink")
                    .as_os_str()
                    .as_bytes()
                    .to_vec(),
            )
        } else if ft.is_fifo() {
            Kind::Fifo
        } else if ft.is_socket() {
            Kind::Socket
        } else if ft.is_char_device() {
            Kind::Char(md.rdev())
        } else {
            Kind::Block(md.rdev())
        };
        let entry = Entry {
            mode: if ft.is_symlink() {
                0
            } else {
                md.mode() & 0o7777
            },
            uid: md.uid(),
            gid: md.gid(),
            mtime: (md.mtime(), md.mtime_nsec() as u32),
            xattrs: if ft.is_symlink() {
                Vec::new()
            } else {
                xattrs_of(&full)
            },
            stamp: Stamp {
                ino: md.ino(),
                size: md.size(),
                mtime: (md.mtime(), md.mtime_nsec() as u32),
                ctime: (md.ctime(), md.ctime_nsec() as u32),
                hash: None,
            },
            kind,
        };
        tree.insert(rel, entry);
    }
    tree
}

pub(crate) fn set_time(p: &Path, t: (i64, u32)) {
    let c = cpath(p);
    let ts = [
        libc::timespec {
            tv_sec: t.0,
            tv_nsec: t.1 as i64,
        },
        libc::timespec {
            tv_sec: t.0,
            tv_nsec: t.1 as i64,
        },
    ];
    // SAFETY: `c` is NUL-terminated and `ts` holds the two timespecs utimensat reads.
    let r = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            ts.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    assert_eq!(r, 0, "utimensat {}", p.display());
}

pub(crate) fn mknod(p: &Path, mode: u32, rdev: u64) {
    let c = cpath(p);
    // SAFETY: `c` is a valid NUL-terminated path.
    let r = unsafe { libc::mknod(c.as_ptr(), mode, rdev as libc::dev_t) };
    assert_eq!(
        r,
        0,
        "mknod {}: {}",
        p.display(),
        std::io::Error::last_os_error()
    );
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

pub(crate) fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = dir.to_vec();
    if !out.is_empty() {
        out.push(b'/');
    }
    out.extend_from_slice(name);
    out
}

pub(crate) fn parent(p: &[u8]) -> Vec<u8> {
    match p.iter().rposition(|&b| b == b'/') {
        Some(i) => p[..i].to_vec(),
        None => Vec::new(),
    }
}

pub(crate) fn under(anc: &[u8], p: &[u8]) -> bool {
    anc.is_empty() || p == anc || (p.starts_with(anc) && p.get(anc.len()) == Some(&b'/'))
}

pub(crate) fn full(ws: &Path, rel: &[u8]) -> PathBuf {
    ws.join(std::ffi::OsStr::from_bytes(rel))
}
