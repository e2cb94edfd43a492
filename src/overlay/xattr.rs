//! Extended attributes. A node's attributes are copied up from its origin on the first change.

use std::collections::BTreeMap;

use super::types::*;
use super::{FsError, Overlay, lower_err};

/// `XATTR_CREATE`: fail if the attribute exists.
const XATTR_CREATE: i32 = 1;
/// `XATTR_REPLACE`: fail if the attribute does not exist.
const XATTR_REPLACE: i32 = 2;

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
