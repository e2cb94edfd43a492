//! Extended attributes. A node's attributes are copied up from its origin on the first change.

use std::collections::BTreeMap;

use super::types::*;
use super::{FsError, Overlay, lower_err};

/// `XATTR_CREATE`: fail if the attribute exists.
const XATTR_CREATE: i32 = 1;
/// `XATTR_REPLACE`: fail if the attribute does not exist.
const XATTR_REPLACE: i32 = 2;

/// The access ACL's attribute name.
pub const ACL_ACCESS: &[u8] = b"system.posix_acl_access";

/// The permission bits an access ACL (`posix_acl_xattr` form: a version, then tag, perm and
/// id per entry) gives the mode: owner, mask (or owning group without one), others; and
/// whether it holds nothing else (owner, owning group and others only). `None` if malformed.
fn acl_mode(value: &[u8]) -> Option<(u32, bool)> {
    const USER_OBJ: u16 = 0x01;
    const GROUP_OBJ: u16 = 0x04;
    const MASK: u16 = 0x10;
    const OTHER: u16 = 0x20;
    let (version, entries) = value.split_first_chunk::<4>()?;
    if u32::from_le_bytes(*version) != 2 || entries.is_empty() || entries.len() % 8 != 0 {
        return None;
    }
    let (mut user, mut group, mut mask, mut other) = (None, None, None, None);
    let mut minimal = true;
    for e in entries.chunks_exact(8) {
        let tag = u16::from_le_bytes([e[0], e[1]]);
        let perm = u32::from(u16::from_le_bytes([e[2], e[3]]) & 0o7);
        match tag {
            USER_OBJ => user = Some(perm),
            GROUP_OBJ => group = Some(perm),
            OTHER => other = Some(perm),
            MASK => (mask, minimal) = (Some(perm), false),
            _ => minimal = false,
        }
    }
    let bits = user? << 6 | mask.or(group)? << 3 | other?;
    Some((bits, minimal))
}

impl Overlay {
    /// All extended attributes of `ino`.
    pub fn xattrs(&self, ino: Ino) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, FsError> {
        let path = match self.nodes.get(&ino) {
            Some(node) => match (&node.xattrs, &node.origin) {
                (Some(x), _) => return Ok(x.clone()),
                (None, Some(origin)) => origin.path.clone(),
                (None, None) => return Ok(BTreeMap::new()),
            },
            None => self.refs.get(&ino).ok_or(FsError::Stale)?.path.clone(),
        };
        match self.lower.xattrs(&path) {
            Ok(x) => Ok(x),
            // An origin that vanished from the workspace had, for the view, no attributes.
            Err(e) if super::is_absent(&e) => Ok(BTreeMap::new()),
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => Ok(BTreeMap::new()),
            Err(e) => Err(lower_err("listxattr", &path)(e)),
        }
    }

    /// One extended attribute of `ino`.
    pub fn getxattr(&self, ino: Ino, name: &[u8]) -> Result<Vec<u8>, FsError> {
        self.xattrs(ino)?.remove(name).ok_or(FsError::NoAttr)
    }

    /// Sets one extended attribute of `ino` (`flags` as `setxattr(2)`).
    pub fn setxattr(
        &mut self,
        ino: Ino,
        name: &[u8],
        value: &[u8],
        flags: i32,
    ) -> Result<(), FsError> {
        let mut all = self.xattrs(ino)?;
        let exists = all.contains_key(name);
        if flags & XATTR_CREATE != 0 && exists {
            return Err(FsError::Exists);
        }
        if flags & XATTR_REPLACE != 0 && !exists {
            return Err(FsError::NoAttr);
        }
        if name == ACL_ACCESS {
            // An access ACL holds the mode's permission bits, as on every Linux filesystem
            // (`posix_acl_update_mode`): `cp -p` sets a copy's mode this way. One that says no
            // more than the mode is not kept.
            let (bits, minimal) = acl_mode(value).ok_or(FsError::Invalid)?;
            let perm = self.getattr(ino)?.perm & !0o777 | bits;
            self.setattr(
                ino,
                SetAttr {
                    perm: Some(perm),
                    ..SetAttr::default()
                },
            )?;
            if minimal {
                if all.remove(name).is_none() {
                    return Ok(());
                }
                return self.put_xattrs(ino, all);
            }
        }
        all.insert(name.to_vec(), value.to_vec());
        self.put_xattrs(ino, all)
    }

    /// Removes one extended attribute of `ino`.
    pub fn removexattr(&mut self, ino: Ino, name: &[u8]) -> Result<(), FsError> {
        let mut all = self.xattrs(ino)?;
        if all.remove(name).is_none() {
            return Err(FsError::NoAttr);
        }
        self.put_xattrs(ino, all)
    }

    fn put_xattrs(&mut self, ino: Ino, all: BTreeMap<Vec<u8>, Vec<u8>>) -> Result<(), FsError> {
        self.copy_up(ino)?;
        let node = self.nodes.get_mut(&ino).ok_or(FsError::Stale)?;
        node.xattrs = Some(all);
        node.attr.ctime = Time::now();
        self.touch_node(ino);
        self.write_pending()
    }
}
