//! Shared tools of the overlay tests: a workspace and store in a temporary directory, path
//! walks through the view as the kernel makes them, a dump of the whole view, and a
//! fingerprint of the workspace that changes if anything in it changes (invariant 1).

use std::collections::BTreeMap;
use std::fs;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::overlay::*;

/// A workspace, a store and the overlay opened over them.
pub struct Fx {
    _tmp: tempfile::TempDir,
    pub ws: PathBuf,
    pub store: PathBuf,
    ov: Option<Overlay>,
}

impl Fx {
    /// A workspace built by `build` and a fresh store beside it.
    pub fn new(build: impl FnOnce(&Path)) -> Fx {
        let tmp = tempfile::tempdir().expect("tempdir");
        let ws = tmp.path().join("ws");
        let store = tmp.path().join("store");
        fs::create_dir(&ws).expect("mkdir ws");
        fs::set_permissions(&ws, fs::Permissions::from_mode(0o755)).expect("chmod ws");
        build(&ws);
        let ov = Overlay::open(open_parts(&ws, &store).expect("open parts")).expect("open overlay");
        Fx {
            _tmp: tmp,
            ws,
            store,
            ov: Some(ov),
        }
    }

    pub fn ov(&mut self) -> &mut Overlay {
        self.ov.as_mut().expect("the overlay is open between calls")
    }

    /// Flushes, drops the overlay and opens a new one on the same store (a daemon restart).
    pub fn reopen(&mut self) {
        self.ov().flush().expect("flush");
        drop(self.ov.take());
        let parts = open_parts(&self.ws, &self.store).expect("open parts");
        self.ov = Some(Overlay::open(parts).expect("reopen overlay"));
    }

    /// Drops the overlay without flushing anything and opens a new one on the same store: a
    /// daemon killed between two requests.
    pub fn crash(&mut self) {
        drop(self.ov.take());
        let parts = open_parts(&self.ws, &self.store).expect("open parts");
        self.ov = Some(Overlay::open(parts).expect("reopen overlay after a crash"));
    }

    /// The inode of `path` (`""` is the root), looked up component by component; every lookup
    /// stays counted, as when the kernel keeps its dentries.
    pub fn ino(&mut self, path: &str) -> Ino {
        walk(self.ov(), path, &mut Vec::new()).unwrap_or_else(|e| panic!("lookup {path}: {e}"))
    }

    /// The attributes of `path`.
    pub fn attr(&mut self, path: &str) -> Attr {
        let ino = self.ino(path);
        self.ov().getattr(ino).expect("getattr")
    }

    /// Whether `path` resolves in the view.
    pub fn exists(&mut self, path: &str) -> bool {
        match walk(self.ov(), path, &mut Vec::new()) {
            Ok(_) => true,
            Err(FsError::NotFound) => false,
            Err(e) => panic!("lookup {path}: {e}"),
        }
    }

    /// The bytes of `path` as the view serves them.
    pub fn read(&mut self, path: &str) -> Vec<u8> {
        let ino = self.ino(path);
        read_ino(self.ov(), ino)
    }

    /// Writes `data` at `offset` of `path` through an open handle, as `pwrite` does.
    pub fn write(&mut self, path: &str, offset: u64, data: &[u8]) {
        let ino = self.ino(path);
        let ov = self.ov();
        ov.open_handle(ino).expect("open");
        ov.write(ino, offset, data).expect("write");
        ov.release_handle(ino, Handle::CACHED).expect("release");
    }

    /// The parent's inode and the last name of `path`.
    pub fn parent(&mut self, path: &str) -> (Ino, Vec<u8>) {
        let (dir, name) = split(path);
        (self.ino(dir), name.as_bytes().to_vec())
    }

    /// Creates `path` of `kind` (a symlink to `target`).
    pub fn make(&mut self, path: &str, kind: Kind, target: Option<&str>) -> Result<Attr, FsError> {
        let (dir, name) = self.parent(path);
        self.ov().make(dir, &name, new_node(kind, target))
    }

    /// The names in directory `path`, without `.` and `..`.
    pub fn names(&mut self, path: &str) -> Vec<String> {
        let ino = self.ino(path);
        let mut names: Vec<String> = self
            .ov()
            .readdir(ino, ino)
            .expect("readdir")
            .into_iter()
            .skip(2)
            .map(|e| String::from_utf8(e.name).expect("utf-8 names"))
            .collect();
        names.sort();
        names
    }

    /// The fingerprint of the workspace now.
    pub fn ws_state(&self) -> BTreeMap<String, String> {
        ws_state(&self.ws)
    }
}

/// What `make` needs for a node of `kind`, owned by root.
pub fn new_node(kind: Kind, target: Option<&str>) -> NewNode {
    NewNode {
        kind,
        perm: if kind == Kind::Dir { 0o755 } else { 0o644 },
        uid: 0,
        gid: 0,
        rdev: 0,
        target: target.map(|t| t.as_bytes().to_vec()),
    }
}

/// `("a/b", "c")` of `"a/b/c"`, `("", "c")` of `"c"`.
pub fn split(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

/// `dir/name`, or `name` in the root.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// Looks `path` up from the root, pushing every inode looked up (one kernel reference each)
/// onto `held`.
pub fn walk(ov: &mut Overlay, path: &str, held: &mut Vec<Ino>) -> Result<Ino, FsError> {
    let mut ino = ROOT;
    for part in path.split('/').filter(|p| !p.is_empty()) {
        ino = ov.lookup(ino, part.as_bytes())?.ino;
        held.push(ino);
    }
    Ok(ino)
}

/// Forgets the kernel references in `held`.
pub fn release(ov: &mut Overlay, held: Vec<Ino>) {
    for ino in held {
        ov.forget(ino, 1);
    }
}

/// Every byte `ino`'s backing file holds (to its end, whatever the size attribute says).
pub fn read_ino(ov: &mut Overlay, ino: Ino) -> Vec<u8> {
    read_file(&ov.backing(ino).expect("backing"))
}

/// All bytes of `file`, read at offsets (its position untouched).
pub fn read_file(file: &fs::File) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = file.read_at(&mut buf, out.len() as u64).expect("read_at");
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// The parent directory of `path`, open, and the last component.
fn parent_of(path: &Path) -> (std::os::fd::OwnedFd, Vec<u8>) {
    let parent = path.parent().expect("test paths have a parent");
    let name = path.file_name().expect("test paths have a name");
    let dir = crate::sys::open_dir_path(parent)
        .unwrap_or_else(|e| panic!("open {}: {e}", parent.display()));
    (dir, name.as_encoded_bytes().to_vec())
}

/// The `user.` extended attributes of `path` (not following a symlink).
pub fn lxattrs(path: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let (dir, name) = parent_of(path);
    let mut all = crate::sys::xattrs(dir.as_fd(), &name)
        .unwrap_or_else(|e| panic!("xattrs of {}: {e}", path.display()));
    all.retain(|n, _| n.starts_with(b"user."));
    all
}

/// Sets the extended attribute `name` of the workspace file `path`.
pub fn set_lxattr(path: &Path, name: &str, value: &[u8]) {
    let (dir, file) = parent_of(path);
    crate::sys::set_xattr(dir.as_fd(), &file, name.as_bytes(), value)
        .unwrap_or_else(|e| panic!("lsetxattr {}: {e}", path.display()));
}

/// A fingerprint of the tree at `root`: per path, its type, mode, owner, size, mtime, ctime,
/// link count, hard-link group, content or target, and `user.` xattrs. Anything the view could
/// change in the workspace changes it (atime aside: reading is allowed).
pub fn ws_state(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut groups: BTreeMap<(u64, u64), String> = BTreeMap::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    let mut all = Vec::new();
    while let Some((path, rel)) = stack.pop() {
        let md = fs::symlink_metadata(&path).expect("lstat");
        if md.is_dir() {
            for e in fs::read_dir(&path).expect("read_dir") {
                let e = e.expect("entry");
                let name = e.file_name().to_string_lossy().into_owned();
                stack.push((e.path(), join(&rel, &name)));
            }
        }
        all.push((rel, path, md));
    }
    all.sort_by(|a, b| a.0.cmp(&b.0));
    for (rel, path, md) in all {
        let ft = md.file_type();
        let body = if ft.is_symlink() {
            format!(
                "symlink -> {:?}",
                fs::read_link(&path).expect("readlink").as_os_str()
            )
        } else if ft.is_dir() {
            "dir".to_owned()
        } else {
            let group = groups
                .entry((md.dev(), md.ino()))
                .or_insert_with(|| rel.clone())
                .clone();
            format!(
                "file {:?} group={group}",
                String::from_utf8_lossy(&fs::read(&path).expect("read"))
            )
        };
        let xattrs = if ft.is_symlink() {
            BTreeMap::new()
        } else {
            lxattrs(&path)
        };
        out.insert(
            rel,
            format!(
                "{body} mode={:o} uid={} gid={} size={} nlink={} mtime={}.{} ctime={}.{} xattrs={xattrs:?}",
                md.mode(),
                md.uid(),
                md.gid(),
                md.size(),
                md.nlink(),
                md.mtime(),
                md.mtime_nsec(),
                md.ctime(),
                md.ctime_nsec(),
            ),
        );
    }
    out
}
