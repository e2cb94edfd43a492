//! The one path type of the project: a path relative to the workspace root, as raw bytes.
//!
//! Both the overlay (which names the workspace objects it shows) and the commit engine (which
//! changes them) speak of workspace paths in this type. Its serde form is text: UTF-8 passes
//! through, `%` and every byte that is not UTF-8 become `%XX`, so journals and overlay rows stay
//! readable and lossless; the older form, an array of byte values, is still read.
//!
//! Deliberately not here: resolving a path on disk (see the parent module).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A path relative to the workspace root, as raw bytes (no leading '/', never "..", "" = the root).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RelPath(pub Vec<u8>);

impl RelPath {
    /// The path of `text`'s bytes.
    pub fn new(text: impl AsRef<[u8]>) -> RelPath {
        RelPath(text.as_ref().to_vec())
    }

    /// Whether this is the workspace root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The parent directory and the last component; `None` for the root.
    pub fn split(&self) -> Option<(RelPath, &[u8])> {
        split(&self.0).map(|(p, n)| (RelPath(p.to_vec()), n))
    }

    /// `self/name`.
    pub fn join(&self, name: &[u8]) -> RelPath {
        RelPath(join(&self.0, name))
    }

    /// The components of the path (none for the root).
    pub fn components(&self) -> impl Iterator<Item = &[u8]> {
        self.0.split(|&b| b == b'/').filter(|c| !c.is_empty())
    }

    /// How many components the path has (0 for the root).
    pub fn depth(&self) -> usize {
        self.components().count()
    }

    /// The path for messages: `.` for the root, bytes that are not UTF-8 replaced.
    pub fn display(&self) -> String {
        if self.0.is_empty() {
            ".".to_owned()
        } else {
            String::from_utf8_lossy(&self.0).into_owned()
        }
    }

    /// Whether `self` is `other` or lies inside it.
    pub fn starts_with(&self, other: &RelPath) -> bool {
        other.0.is_empty()
            || self.0 == other.0
            || (self.0.starts_with(&other.0) && self.0.get(other.0.len()) == Some(&b'/'))
    }
}

pub(crate) fn split(path: &[u8]) -> Option<(&[u8], &[u8])> {
    if path.is_empty() {
        return None;
    }
    Some(match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[][..], path),
    })
}

pub(crate) fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(dir.len() + 1 + name.len());
    out.extend_from_slice(dir);
    if !dir.is_empty() {
        out.push(b'/');
    }
    out.extend_from_slice(name);
    out
}

/// Whether `anc` is a proper ancestor of `path` (the root is everyone's ancestor but its own).
pub(crate) fn is_ancestor(anc: &[u8], path: &[u8]) -> bool {
    if anc.is_empty() {
        return !path.is_empty();
    }
    path.len() > anc.len() && path.starts_with(anc) && path[anc.len()] == b'/'
}

/// The ends of every prefix of `path` that is a whole path, longest first (`path` itself first).
pub(crate) fn prefix_ends(path: &[u8]) -> impl Iterator<Item = usize> + '_ {
    std::iter::once(path.len()).chain(
        path.iter()
            .enumerate()
            .rev()
            .filter(|(_, b)| **b == b'/')
            .map(|(i, _)| i),
    )
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str(".")
        } else {
            f.write_str(&encode_text(&self.0))
        }
    }
}

impl fmt::Debug for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", encode_text(&self.0))
    }
}

impl Serialize for RelPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        text_bytes::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for RelPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RelPath, D::Error> {
        d.deserialize_any(PathVisitor)
    }
}

/// Reads the text form and, from overlay rows written before there was one path type, the
/// array of byte values.
struct PathVisitor;

impl<'de> serde::de::Visitor<'de> for PathVisitor {
    type Value = RelPath;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a path as escaped text or as an array of bytes")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<RelPath, E> {
        decode_text(text).map(RelPath).map_err(E::custom)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<RelPath, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(b) = seq.next_element::<u8>()? {
            out.push(b);
        }
        Ok(RelPath(out))
    }
}

/// Bytes as text: UTF-8 passes through, `%` and every byte that is not UTF-8 become `%XX`.
pub(crate) fn encode_text(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '%' {
                out.push_str("%25");
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The inverse of [`encode_text`].
pub(crate) fn decode_text(text: &str) -> Result<Vec<u8>, String> {
    let raw = text.as_bytes();
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let hex = raw
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad escape at byte {i} of {text:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    Ok(out)
}

pub(crate) mod text_bytes {
    use super::*;

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode_text(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        decode_text(&s).map_err(serde::de::Error::custom)
    }
}
