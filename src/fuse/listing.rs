//! A directory listing with stable offsets.
//!
//! The offset the kernel sends back to resume a listing is a cookie derived from the entry's
//! name, and a listing is kept in cookie order, so resuming at a cookie means "the entries
//! after this name" in any listing of the directory, not "the n-th entry" of one listing.
//! That matters because the kernel may serve the start of a stream from its own kept
//! listing and ask the daemon for the rest: the handle's listing is then taken after changes
//! the kept one predates, and a position counted in entries would skip or repeat names that
//! never changed. With cookies every name that stays is listed exactly once (POSIX leaves
//! only names added or removed meanwhile unspecified).
//!
//! Two names of one directory with the same 62-bit cookie would confuse a resume between
//! them; the chance is about n²/2⁶³ for n names.

use crate::overlay::DirEntry;

/// A directory's entries in cookie order, each with its cookie.
#[derive(Debug)]
pub(super) struct Listing(Vec<(u64, DirEntry)>);

impl Listing {
    pub(super) fn new(entries: Vec<DirEntry>) -> Listing {
        let mut all: Vec<(u64, DirEntry)> =
            entries.into_iter().map(|e| (cookie(&e.name), e)).collect();
        all.sort_by_key(|(c, _)| *c);
        Listing(all)
    }

    /// The entries after `offset` (0: from the start), each with the offset that resumes
    /// after it.
    pub(super) fn after(&self, offset: u64) -> impl Iterator<Item = (u64, &DirEntry)> {
        let start = self.0.partition_point(|(c, _)| *c <= offset);
        self.0[start..].iter().map(|(c, e)| (*c, e))
    }
}

/// `.` and `..` first, then every other name by its hash: positive as a signed offset, and
/// never 0 (the start).
fn cookie(name: &[u8]) -> u64 {
    match name {
        b"." => 1,
        b".." => 2,
        _ => {
            let hash = blake3::hash(name);
            let head: [u8; 8] = hash.as_bytes()[..8].try_into().unwrap_or_default();
            3 + (u64::from_le_bytes(head) >> 2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::overlay::{Ino, Kind};

    fn entry(name: &str) -> DirEntry {
        DirEntry {
            name: name.as_bytes().to_vec(),
            ino: Ino(7),
            kind: Kind::File,
        }
    }

    fn names(l: &Listing, offset: u64) -> Vec<String> {
        l.after(offset)
            .map(|(_, e)| String::from_utf8_lossy(&e.name).into_owned())
            .collect()
    }

    #[test]
    fn resuming_in_a_changed_listing_lists_every_kept_name_once() {
        let old: Vec<String> = (0..200).map(|i| format!("f{i}")).collect();
        let first = Listing::new(
            [".", ".."]
                .iter()
                .map(|n| entry(n))
                .chain(old.iter().map(|n| entry(n)))
                .collect(),
        );
        // Read 80 entries of the first listing, then change the directory.
        let read: Vec<(u64, String)> = first
            .after(0)
            .take(80)
            .map(|(c, e)| (c, String::from_utf8_lossy(&e.name).into_owned()))
            .collect();
        let resume = read.last().map(|(c, _)| *c).unwrap_or(0);
        let kept: Vec<&String> = old
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 3 != 0)
            .map(|(_, n)| n)
            .collect();
        let added: Vec<String> = (0..50).map(|i| format!("new{i}")).collect();
        let second = Listing::new(
            kept.iter()
                .map(|n| entry(n))
                .chain(added.iter().map(|n| entry(n)))
                .collect(),
        );
        let mut seen: Vec<String> = read.into_iter().map(|(_, n)| n).collect();
        seen.extend(names(&second, resume));
        for name in kept {
            assert_eq!(seen.iter().filter(|s| *s == name).count(), 1, "{name}");
        }
        assert_eq!(&names(&first, 0)[..2], [".", ".."]);
    }

    #[test]
    fn cookies_are_positive_offsets_and_never_the_start() {
        for i in 0..10_000 {
            let c = cookie(format!("name-{i}").as_bytes());
            assert!(c > 2 && c < i64::MAX as u64);
        }
    }
}
