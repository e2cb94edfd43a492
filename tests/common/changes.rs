//! The seeded generator of a "before" tree on disk and of a change set over it.
//!
//! The generator picks changes on disjoint parts of the tree (each change locks its subject
//! and the directories it changes), so the expected "after" tree is the "before" tree with
//! every change applied independently, and the plan is the union of the changes' steps in
//! protocol order: stashes deepest first, placements parents first, hard links, metadata.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ftsb_fs::store::BlobStore;
use ftsb_fs::txn::{Expect, Meta, Plan, RelPath, SpecialKind, Stamp, Step};

use super::Rng;
use super::tree::{Entry, Kind, Tree, full, is_root, join, mknod, parent, scan, set_time, under};

/// How big a trial is.
#[derive(Clone, Copy, Debug)]
pub struct Size {
    pub files: usize,
    pub changes: usize,
    /// Percent chance of a multi-MiB file in the tree and of one among the changes.
    pub large_percent: u64,
}

impl Default for Size {
    fn default() -> Size {
        Size {
            files: 14,
            changes: 8,
            large_percent: 25,
        }
    }
}

/// Builds the seeded "before" tree in `ws` (which must exist and be empty).
pub fn build_before(ws: &Path, rng: &mut Rng, size: Size) {
    let mut dirs: Vec<Vec<u8>> = vec![Vec::new()];
    for i in 0..rng.below(5) + 3 {
        let p = join(
            rng.pick(&dirs).expect("root").clone().as_slice(),
            format!("d{i}").as_bytes(),
        );
        std::fs::create_dir(full(ws, &p)).expect("mkdir");
        dirs.push(p);
    }
    let mut files: Vec<Vec<u8>> = Vec::new();
    let modes = [0o644, 0o600, 0o755, 0o640, 0o4755, 0o2750];
    for i in 0..size.files {
        let p = join(rng.pick(&dirs).expect("dir"), format!("f{i}").as_bytes());
        let n = if i == 0 && rng.chance(size.large_percent) {
            3 << 20
        } else {
            rng.below(3000)
        };
        let fp = full(ws, &p);
        std::fs::write(&fp, rng.bytes(n)).expect("write");
        let mode = *rng.pick(&modes).expect("mode");
        std::fs::set_permissions(&fp, std::fs::Permissions::from_mode(mode)).expect("chmod");
        if rng.chance(20) {
            super::set_xattr(&fp, "user.origin", &rng.bytes(8));
        }
        files.push(p);
    }
    for i in 0..rng.below(3) + 1 {
        let to = rng.pick(&files).expect("file").clone();
        let p = join(rng.pick(&dirs).expect("dir"), format!("h{i}").as_bytes());
        std::fs::hard_link(full(ws, &to), full(ws, &p)).expect("link");
    }
    for i in 0..rng.below(3) + 1 {
        let p = join(rng.pick(&dirs).expect("dir"), format!("l{i}").as_bytes());
        let target = if rng.chance(50) {
            format!("../f{i}")
        } else {
            format!("nowhere/{i}")
        };
        std::os::unix::fs::symlink(target, full(ws, &p)).expect("symlink");
    }
    let p = join(rng.pick(&dirs).expect("dir"), b"fifo");
    mknod(&full(ws, &p), libc::S_IFIFO | 0o644, 0);
    if rng.chance(50) {
        let p = join(rng.pick(&dirs).expect("dir"), b"sock");
        mknod(&full(ws, &p), libc::S_IFSOCK | 0o755, 0);
    }
    if is_root() && rng.chance(50) {
        let p = join(rng.pick(&dirs).expect("dir"), b"null");
        mknod(&full(ws, &p), libc::S_IFCHR | 0o666, libc::makedev(1, 3));
    }
    // Times last, deepest first, so that creating entries does not move them again.
    let mut all: Vec<Vec<u8>> = scan(ws).into_keys().collect();
    all.sort_by_key(|p| {
        std::cmp::Reverse(p.iter().filter(|&&b| b == b'/').count() + usize::from(!p.is_empty()))
    });
    for (i, p) in all.iter().enumerate() {
        if !p.is_empty()
            && rng.chance(25)
            && std::fs::symlink_metadata(full(ws, p)).is_ok_and(|m| m.is_dir())
        {
            let mode = *rng.pick(&[0o700, 0o750, 0o1777]).expect("mode");
            std::fs::set_permissions(full(ws, p), std::fs::Permissions::from_mode(mode))
                .expect("chmod");
        }
        set_time(
            &full(ws, p),
            (1_500_000_000 + i as i64 * 1000, 123 * i as u32),
        );
    }
}

/// A generated change set: the plan, the blobs it needs, and the expected tree after it.
pub struct Change {
    pub plan: Plan,
    pub after: Tree,
}

struct Gen<'a> {
    rng: &'a mut Rng,
    blobs: &'a BlobStore,
    before: &'a Tree,
    after: Tree,
    excl: Vec<Vec<u8>>,
    shared: BTreeSet<Vec<u8>>,
    stashes: Vec<(Vec<u8>, Expect)>,
    unstash: Vec<(Vec<u8>, Vec<u8>)>,
    places: Vec<(Vec<u8>, Step)>,
    links: Vec<Step>,
    setmeta: Vec<Step>,
    touched: BTreeSet<Vec<u8>>,
    dir_modes: BTreeMap<Vec<u8>, u32>,
    counter: usize,
    fake_ino: u64,
    newest_ctime: (i64, u32),
    uid: u32,
    gid: u32,
}

impl Gen<'_> {
    fn locked(&self, p: &[u8]) -> bool {
        self.excl.iter().any(|x| under(x, p) || under(p, x)) || self.shared.contains(p)
    }

    fn lock_shared(&mut self, p: &[u8]) {
        let mut cur = p.to_vec();
        loop {
            self.shared.insert(cur.clone());
            if cur.is_empty() {
                break;
            }
            cur = parent(&cur);
        }
    }

    /// A random existing object (not the root) satisfying `pred` that no other change involves.
    fn subject(&mut self, pred: impl Fn(&Entry) -> bool) -> Option<Vec<u8>> {
        let cands: Vec<Vec<u8>> = self
            .before
            .iter()
            .filter(|(p, e)| {
                !p.is_empty()
                    && pred(e)
                    && !self.locked(p)
                    && !self.excl.iter().any(|x| under(x, &parent(p)))
            })
            .map(|(p, _)| p.clone())
            .collect();
        let p = self.rng.pick(&cands)?.clone();
        self.excl.push(p.clone());
        self.lock_shared(&parent(&p));
        Some(p)
    }

    /// A random existing directory no change removes or moves, to put something new in.
    fn host(&mut self) -> Option<Vec<u8>> {
        let cands: Vec<Vec<u8>> = self
            .before
            .iter()
            .filter(|(p, e)| e.kind == Kind::Dir && !self.excl.iter().any(|x| under(x, p)))
            .map(|(p, _)| p.clone())
            .collect();
        let d = self.rng.pick(&cands)?.clone();
        self.lock_shared(&d);
        Some(d)
    }

    fn fresh(&mut self, dir: &[u8]) -> Vec<u8> {
        self.counter += 1;
        let p = join(dir, format!("n{}", self.counter).as_bytes());
        self.excl.push(p.clone());
        p
    }

    fn meta(&mut self, mode: u32) -> Meta {
        let t = self.rng.time();
        Meta {
            mode,
            uid: self.uid,
            gid: self.gid,
            atime: t,
            mtime: t,
            xattrs: None,
        }
    }

    fn entry(&mut self, kind: Kind, meta: &Meta) -> Entry {
        self.fake_ino += 1;
        Entry {
            kind,
            mode: meta.mode,
            uid: meta.uid,
            gid: meta.gid,
            mtime: meta.mtime,
            xattrs: meta.xattrs.clone().unwrap_or_default(),
            stamp: Stamp {
                ino: self.fake_ino,
                size: 0,
                mtime: meta.mtime,
                ctime: (0, 0),
                hash: None,
            },
        }
    }

    fn expect_for(&mut self, p: &[u8]) -> Expect {
        let e = &self.before[p];
        match self.rng.below(3) {
            0 => Expect::Nothing,
            _ if e.kind == Kind::Dir => Expect::UnchangedSince(self.newest_ctime),
            1 => Expect::UnchangedSince(self.newest_ctime),
            _ => Expect::Stamp(e.stamp),
        }
    }

    fn new_file(&mut self, path: Vec<u8>, large: bool) {
        let n = if large {
            (2 << 20) + self.rng.below(1 << 20)
        } else {
            self.rng.below(5000)
        };
        let content = self.rng.bytes(n);
        let blob = self.blobs.put_bytes(&content).expect("put blob");
        let mode = *self.rng.pick(&[0o644, 0o600, 0o755, 0o4750]).expect("mode");
        let meta = self.meta(mode);
        let e = self.entry(
            Kind::File {
                hash: blake3::hash(&content).to_hex().to_string(),
                size: n as u64,
            },
            &meta,
        );
        self.after.insert(path.clone(), e);
        self.places.push((
            path.clone(),
            Step::File {
                path: RelPath(path),
                blob,
                meta,
            },
        ));
    }

    fn remove_subtree(&mut self, p: &[u8]) -> Vec<(Vec<u8>, Entry)> {
        let keys: Vec<Vec<u8>> = self.after.keys().filter(|k| under(p, k)).cloned().collect();
        keys.into_iter()
            .map(|k| {
                let e = self.after.remove(&k).expect("present");
                (k, e)
            })
            .collect()
    }

    fn change(&mut self, large: bool) {
        match self.rng.below(11) {
            0 => {
                if let Some(d) = self.host() {
                    let p = self.fresh(&d);
                    self.new_file(p, large);
                    self.touched.insert(d);
                }
            }
            1 => {
                if let Some(f) = self.subject(|e| matches!(e.kind, Kind::File { .. })) {
                    let expect = self.expect_for(&f);
                    self.stashes.push((f.clone(), expect));
                    self.new_file(f.clone(), large);
                    self.touched.insert(parent(&f));
                }
            }
            2 | 3 => {
                if let Some(x) = self.subject(|_| true) {
                    let expect = self.expect_for(&x);
                    self.stashes.push((x.clone(), expect));
                    self.remove_subtree(&x);
                    self.touched.insert(parent(&x));
                }
            }
            4 => {
                if let Some(d) = self.host() {
                    let nd = self.fresh(&d);
                    let mode = *self.rng.pick(&[0o755, 0o700, 0o2775]).expect("mode");
                    let meta = self.meta(mode);
                    let e = self.entry(Kind::Dir, &meta);
                    self.after.insert(nd.clone(), e);
                    self.places.push((
                        nd.clone(),
                        Step::Mkdir {
                            path: RelPath(nd.clone()),
                            meta,
                        },
                    ));
                    for i in 0..self.rng.below(4) {
                        self.new_file(join(&nd, format!("c{i}").as_bytes()), false);
                    }
                    if self.rng.chance(50) {
                        let sub = join(&nd, b"sub");
                        let meta = self.meta(0o750);
                        let e = self.entry(Kind::Dir, &meta);
                        self.after.insert(sub.clone(), e);
                        self.places.push((
                            sub.clone(),
                            Step::Mkdir {
                                path: RelPath(sub.clone()),
                                meta,
                            },
                        ));
                        self.new_file(join(&sub, b"deep"), false);
                    }
                    self.touched.insert(d);
                }
            }
            5 | 6 => {
                let Some(x) = self.subject(|_| true) else {
                    return;
                };
                let Some(d) = self.host() else { return };
                if under(&x, &d) {
                    return;
                }
                // Sometimes over an existing regular file, else to a fresh name.
                let over = if self.rng.chance(30) {
                    self.subject(|e| matches!(e.kind, Kind::File { .. }))
                        .filter(|y| !under(&x, y) && !under(y, &x))
                } else {
                    None
                };
                let to = match over {
                    Some(y) => {
                        let expect = self.expect_for(&y);
                        self.stashes.push((y.clone(), expect));
                        self.remove_subtree(&y);
                        self.touched.insert(parent(&y));
                        y
                    }
                    None => {
                        let to = self.fresh(&d);
                        self.touched.insert(d);
                        to
                    }
                };
                let expect = self.expect_for(&x);
                self.stashes.push((x.clone(), expect));
                for (k, e) in self.remove_subtree(&x) {
                    let mut nk = to.clone();
                    nk.extend_from_slice(&k[x.len()..]);
                    self.after.insert(nk, e);
                }
                self.unstash.push((x.clone(), to.clone()));
                self.touched.insert(parent(&x));
            }
            7 => {
                // chmod and/or touch, or set an xattr.
                let Some(x) = self.subject(|e| !matches!(e.kind, Kind::Symlink(_))) else {
                    return;
                };
                let is_dir = self.before[&x].kind == Kind::Dir;
                let mode = *self
                    .rng
                    .pick(&[0o600, 0o755, 0o640, 0o1755, 0o444])
                    .expect("mode");
                if is_dir {
                    self.dir_modes.insert(x.clone(), mode & 0o1777 | 0o700);
                    self.touched.insert(x);
                    return;
                }
                let ino = self.before[&x].stamp.ino;
                let mut meta = self.meta(mode);
                if self.rng.chance(30) {
                    meta.xattrs = Some(vec![(b"user.test".to_vec(), self.rng.bytes(5))]);
                }
                let expect = self.expect_for(&x);
                for e in self.after.values_mut() {
                    if e.stamp.ino == ino && !matches!(e.kind, Kind::Dir) {
                        e.mode = meta.mode;
                        e.mtime = meta.mtime;
                        if let Some(x) = &meta.xattrs {
                            e.xattrs = x.clone();
                        }
                    }
                }
                // Every other name of the inode is locked too, so no other change touches it.
                let names: Vec<Vec<u8>> = self
                    .before
                    .iter()
                    .filter(|(_, e)| e.stamp.ino == ino)
                    .map(|(p, _)| p.clone())
                    .collect();
                for n in names {
                    self.excl.push(n.clone());
                    self.lock_shared(&parent(&n));
                }
                self.setmeta.push(Step::SetMeta {
                    path: RelPath(x),
                    meta,
                    expect,
                });
            }
            8 => {
                let Some(d) = self.host() else { return };
                let p = self.fresh(&d);
                let target = format!("../target{}", self.counter).into_bytes();
                let meta = self.meta(0o777);
                let mut e = self.entry(Kind::Symlink(target.clone()), &meta);
                e.mode = 0;
                self.after.insert(p.clone(), e);
                self.places.push((
                    p.clone(),
                    Step::Symlink {
                        path: RelPath(p),
                        target,
                        meta,
                    },
                ));
                self.touched.insert(d);
            }
            9 => {
                let Some(t) = self.subject(|e| matches!(e.kind, Kind::File { .. })) else {
                    return;
                };
                let Some(d) = self.host() else { return };
                let p = self.fresh(&d);
                let e = self.after[&t].clone();
                self.after.insert(p.clone(), e);
                self.links.push(Step::Hardlink {
                    path: RelPath(p),
                    to: RelPath(t),
                });
                self.touched.insert(d);
            }
            _ => {
                let Some(d) = self.host() else { return };
                let p = self.fresh(&d);
                let (kind, k, rdev) = match self.rng.below(3) {
                    0 => (Kind::Fifo, SpecialKind::Fifo, 0),
                    1 if is_root() => (
                        Kind::Char(libc::makedev(1, 3)),
                        SpecialKind::Char,
                        libc::makedev(1, 3),
                    ),
                    _ => (Kind::Socket, SpecialKind::Socket, 0),
                };
                let meta = self.meta(0o640);
                let e = self.entry(kind, &meta);
                self.after.insert(p.clone(), e);
                self.places.push((
                    p.clone(),
                    Step::Special {
                        path: RelPath(p),
                        kind: k,
                        rdev,
                        meta,
                    },
                ));
                self.touched.insert(d);
            }
        }
    }

    fn finish(mut self) -> Change {
        let mut steps = Vec::new();
        let mut stashes = std::mem::take(&mut self.stashes);
        stashes.sort_by_key(|(p, _)| std::cmp::Reverse(p.iter().filter(|&&b| b == b'/').count()));
        let mut slot_of = BTreeMap::new();
        for (slot, (p, expect)) in stashes.into_iter().enumerate() {
            slot_of.insert(p.clone(), slot as u32);
            steps.push(Step::Stash {
                path: RelPath(p),
                slot: slot as u32,
                expect,
            });
        }
        let mut places = std::mem::take(&mut self.places);
        for (from, to) in std::mem::take(&mut self.unstash) {
            places.push((
                to.clone(),
                Step::Unstash {
                    slot: slot_of[&from],
                    path: RelPath(to),
                },
            ));
        }
        places.sort_by(|a, b| a.0.cmp(&b.0));
        steps.extend(places.into_iter().map(|(_, s)| s));
        steps.append(&mut self.links);
        steps.append(&mut self.setmeta);
        // Every directory whose entries change gets its final times (and mode) explicitly.
        for d in std::mem::take(&mut self.touched) {
            let Some(e) = self.after.get(&d).cloned() else {
                continue;
            };
            if e.kind != Kind::Dir {
                continue;
            }
            let mode = self.dir_modes.get(&d).copied().unwrap_or(e.mode);
            let meta = self.meta(mode);
            let entry = self.after.get_mut(&d).expect("present");
            entry.mode = mode;
            entry.mtime = meta.mtime;
            let expect = if self.before.contains_key(&d) && self.rng.chance(30) {
                Expect::Stamp(self.before[&d].stamp)
            } else {
                Expect::Nothing
            };
            steps.push(Step::SetMeta {
                path: RelPath(d),
                meta,
                expect,
            });
        }
        Change {
            plan: Plan { steps },
            after: self.after,
        }
    }
}

/// A random change set over `before` (as scanned), with its blobs stored in `blobs`.
pub fn gen_change(rng: &mut Rng, blobs: &BlobStore, before: &Tree, size: Size) -> Change {
    // A clock reading just after the newest change (the check counts a ctime equal to the
    // reading as a change after it).
    let newest_ctime = before
        .values()
        .map(|e| e.stamp.ctime)
        .max()
        .map(|(s, ns)| {
            if ns >= 999_999_999 {
                (s + 1, 0)
            } else {
                (s, ns + 1)
            }
        })
        .unwrap_or((0, 0));
    let root = &before[&Vec::new()];
    let mut g = Gen {
        uid: root.uid,
        gid: root.gid,
        rng,
        blobs,
        before,
        after: before.clone(),
        excl: Vec::new(),
        shared: BTreeSet::new(),
        stashes: Vec::new(),
        unstash: Vec::new(),
        places: Vec::new(),
        links: Vec::new(),
        setmeta: Vec::new(),
        touched: BTreeSet::new(),
        dir_modes: BTreeMap::new(),
        counter: 0,
        fake_ino: 1 << 60,
        newest_ctime,
    };
    let large_at = if g.rng.chance(size.large_percent) {
        g.rng.below(size.changes)
    } else {
        usize::MAX
    };
    for i in 0..size.changes {
        g.change(i == large_at);
    }
    g.finish()
}

/// A trial's directories: a workspace and a store side by side under one temp dir.
pub struct Trial {
    pub _dir: tempfile::TempDir,
    pub ws: PathBuf,
    pub store: PathBuf,
    pub before: Tree,
    pub change: Change,
}

/// Where trials live: `FTSB_CRASH_DIR` if set, else the system temp dir.
pub fn base_dir() -> PathBuf {
    std::env::var_os("FTSB_CRASH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

/// Builds trial `seed`: its before tree on disk, its plan and blobs, its expected after tree.
pub fn trial(seed: u64, size: Size) -> Trial {
    trial_in(&base_dir(), seed, size)
}

/// [`trial`] in a fresh directory under `base`.
pub fn trial_in(base: &Path, seed: u64, size: Size) -> Trial {
    let dir = tempfile::Builder::new()
        .prefix("ftsb-crash-")
        .tempdir_in(base)
        .expect("tempdir");
    let ws = dir.path().join("ws");
    let store = dir.path().join("store");
    std::fs::create_dir(&ws).expect("ws");
    std::fs::create_dir(&store).expect("store");
    let mut rng = Rng::new(seed);
    build_before(&ws, &mut rng, size);
    let before = scan(&ws);
    let blobs = BlobStore::open(&store.join("blobs")).expect("blobs");
    let change = gen_change(&mut rng, &blobs, &before, size);
    Trial {
        _dir: dir,
        ws,
        store,
        before,
        change,
    }
}
