//! The overlay's vocabulary: inode numbers, times, attributes, nodes and directory entries.
//!
//! These types are what the overlay persists (as JSON bodies of `meta` rows and inside
//! checkpoint snapshots), so a change here is a change of the on-disk format.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::store::BlobId;

/// An inode number of the view. Stable while mounted: a workspace object keeps its own
/// `st_ino`, also after it is copied up; objects created through the view get numbers from
/// [`FIRST_NEW_INO`] on, which no local filesystem hands out in practice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Ino(pub u64);

/// The root directory of the view (FUSE's root id).
pub const ROOT: Ino = Ino(1);
/// The first inode number handed to objects created through the view.
pub const FIRST_NEW_INO: u64 = 1 << 48;

/// A timestamp with nanoseconds, as `struct timespec`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub struct Time {
    pub sec: i64,
    pub nsec: u32,
}

impl Time {
    /// A time from the seconds and nanoseconds fields of a `struct stat`.
    pub fn from_parts(sec: i64, nsec: u64) -> Time {
        Time {
            sec,
            nsec: nsec as u32,
        }
    }

    /// The coarse clock local file systems stamp changes with (`CLOCK_REALTIME_COARSE`):
    /// every change made after this reading gets a ctime at or after it, but a change made
    /// before may have a finer stamp after it (multigrain timestamps, Linux 6.13+); see
    /// [`super::Lower::ctime_boundary`] for a reading that separates the two.
    pub fn coarse_now() -> Time {
        let (sec, nsec) = crate::sys::coarse_realtime();
        Time { sec, nsec }
    }

    /// The current wall-clock time.
    pub fn now() -> Time {
        // The system clock before 1970 would be a broken machine: show it as the epoch.
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Time {
            sec: since.as_secs() as i64,
            nsec: since.subsec_nanos(),
        }
    }
}

/// The type of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    CharDev,
    BlockDev,
}

impl Kind {
    /// The kind encoded in a `st_mode`, if it is one we serve.
    pub fn from_mode(mode: u32) -> Option<Kind> {
        Some(match mode & libc::S_IFMT {
            libc::S_IFREG => Kind::File,
            libc::S_IFDIR => Kind::Dir,
            libc::S_IFLNK => Kind::Symlink,
            libc::S_IFIFO => Kind::Fifo,
            libc::S_IFSOCK => Kind::Socket,
            libc::S_IFCHR => Kind::CharDev,
            libc::S_IFBLK => Kind::BlockDev,
            _ => return None,
        })
    }

    /// The `S_IFMT` bits of this kind, as in `st_mode`.
    pub fn mode_bits(self) -> u32 {
        match self {
            Kind::File => libc::S_IFREG,
            Kind::Dir => libc::S_IFDIR,
            Kind::Symlink => libc::S_IFLNK,
            Kind::Fifo => libc::S_IFIFO,
            Kind::Socket => libc::S_IFSOCK,
            Kind::CharDev => libc::S_IFCHR,
            Kind::BlockDev => libc::S_IFBLK,
        }
    }
}

/// The attributes the view reports for an inode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attr {
    pub ino: Ino,
    pub kind: Kind,
    /// Permission bits including setuid, setgid and sticky (`0o7777`).
    pub perm: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub blocks: u64,
    pub atime: Time,
    pub mtime: Time,
    pub ctime: Time,
    pub rdev: u64,
    pub nlink: u32,
    /// Which incarnation of the inode number the kernel is shown: raised when a rollback or
    /// abort revokes the handles open on it (see `Overlay::restore`). Not persisted: a new
    /// daemon starts a new kernel session.
    #[serde(skip)]
    pub generation: u64,
}

pub use crate::sys::RelPath;

/// What the overlay saw of a workspace object when it started to depend on it; commit
/// compares it with the workspace to detect changes made outside the view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub ino: u64,
    pub size: u64,
    pub mtime: Time,
    pub ctime: Time,
    /// The content's hash, taken only when the stamp is ambiguous: the file's ctime fell in
    /// the clock tick the stamp was read in, so a change later in that same tick could leave
    /// every other field as it is (see [`crate::overlay::stamp_at`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<BlobId>,
}

/// The workspace object an overlay node was copied up from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub path: RelPath,
    pub stamp: Stamp,
}

/// Where the bytes of a regular file are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Data {
    /// Not a regular file.
    None,
    /// Unchanged: the bytes of this workspace file.
    Lower(RelPath),
    /// Sealed: the bytes of this blob (copied to a working file on the next write).
    Blob(BlobId),
    /// Changed: the working file named after the inode.
    Work,
}

/// An inode of the overlay: anything created, changed, moved or linked through the view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub attr: Attr,
    /// Directory entries of the overlay that name this node.
    pub links: u32,
    pub data: Data,
    /// The target of a symlink.
    pub target: Option<Vec<u8>>,
    /// For a directory: the workspace directory whose entries show through (none: opaque).
    pub merge: Option<RelPath>,
    pub origin: Option<Origin>,
    /// Extended attributes; `None` means "those of the origin, unchanged".
    #[serde(with = "xattr_pairs")]
    pub xattrs: Option<BTreeMap<Vec<u8>, Vec<u8>>>,
    /// For `Data::Work`: the blob the working file equals, if unchanged since it was sealed.
    pub sealed: Option<BlobId>,
}

/// An entry of an overlay directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dentry {
    /// The name refers to this overlay node.
    Child(Ino),
    /// The name is deleted: the workspace entry of that name is hidden. `at` is when, on the
    /// file system's own clock (see `whiteout_time`), so commit can tell whether the
    /// workspace changed the hidden object afterwards.
    Whiteout { at: Time },
}

/// An entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub name: Vec<u8>,
    pub ino: Ino,
    pub kind: Kind,
}

/// How `rename` treats an existing target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenameMode {
    /// Replace the target (POSIX rename).
    Replace,
    /// Fail with EEXIST if the target exists (`RENAME_NOREPLACE`).
    NoReplace,
    /// Swap source and target, which must both exist (`RENAME_EXCHANGE`).
    Exchange,
}

/// A time to set: a given one, or the current time (`UTIME_NOW`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetTime {
    At(Time),
    Now,
}

/// The changes of a `setattr`; `None` fields are left alone (`UTIME_OMIT`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetAttr {
    pub perm: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub atime: Option<SetTime>,
    pub mtime: Option<SetTime>,
    pub ctime: Option<Time>,
}

/// Filesystem statistics, as `statvfs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsStats {
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub bsize: u32,
    pub namelen: u32,
    pub frsize: u32,
}

/// Extended attributes as a list of (name, value) pairs: JSON maps only take string keys, and
/// attribute names are bytes.
mod xattr_pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    type Xattrs = Option<BTreeMap<Vec<u8>, Vec<u8>>>;

    pub fn serialize<S: Serializer>(x: &Xattrs, s: S) -> Result<S::Ok, S::Error> {
        x.as_ref()
            .map(|m| m.iter().collect::<Vec<_>>())
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Xattrs, D::Error> {
        let pairs: Option<Vec<(Vec<u8>, Vec<u8>)>> = Option::deserialize(d)?;
        Ok(pairs.map(|p| p.into_iter().collect()))
    }
}
