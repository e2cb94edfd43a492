//! Sparse files: copying and hashing only the data regions a file has (`SEEK_DATA`,
//! `SEEK_HOLE`), so a hole stays a hole through sealing, restore and commit, and costs neither
//! disk space nor reads.
//!
//! A filesystem without `SEEK_DATA` is treated as having one data region, the whole file.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

const CHUNK: usize = 1 << 20;
/// What a hole reads as, fed to the hasher in pieces of this size.
static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// Which side of a [`hash_copy`] failed.
#[derive(Debug)]
pub enum CopyError {
    /// Reading the source.
    Read(io::Error),
    /// Writing the destination (a full disk is reported here).
    Write(io::Error),
}

impl From<CopyError> for io::Error {
    fn from(e: CopyError) -> io::Error {
        match e {
            CopyError::Read(e) | CopyError::Write(e) => e,
        }
    }
}

/// Hashes all of `src` (holes as the zeros they read as) and, when `dst` is given, copies its
/// data regions to the same offsets of `dst` and gives `dst` the same length, so `dst` has
/// the same holes. Returns the number of data bytes copied. Reads with `pread` only: the
/// file's offset is left alone.
pub fn hash_copy(
    src: &File,
    dst: Option<&File>,
    hasher: &mut blake3::Hasher,
) -> Result<u64, CopyError> {
    use CopyError::{Read, Write};
    let mut len = src.metadata().map_err(Read)?.len();
    // No bigger than the file: a commit of ten thousand small files must not zero a MiB each.
    let mut buf = vec![0u8; len.min(CHUNK as u64) as usize];
    // Every byte before `pos` is hashed (and, if data, copied).
    let mut pos = 0u64;
    let mut copied = 0u64;
    'regions: while pos < len {
        let Some((start, end)) = data_region(src, pos, len).map_err(Read)? else {
            break;
        };
        hash_zeros(hasher, start - pos);
        pos = start;
        while pos < end {
            let want = ((end - pos) as usize).min(CHUNK);
            let n = match src.read_at(&mut buf[..want], pos) {
                Ok(0) => {
                    // The file shrank under us: it ends here.
                    len = pos;
                    break 'regions;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Read(e)),
            };
            hasher.update(&buf[..n]);
            if let Some(dst) = dst {
                dst.write_all_at(&buf[..n], pos).map_err(Write)?;
            }
            pos += n as u64;
            copied += n as u64;
        }
    }
    // A trailing hole.
    hash_zeros(hasher, len - pos.min(len));
    if let Some(dst) = dst {
        dst.set_len(len).map_err(Write)?;
    }
    Ok(copied)
}

fn hash_zeros(hasher: &mut blake3::Hasher, mut n: u64) {
    while n > 0 {
        let k = n.min(ZEROS.len() as u64) as usize;
        hasher.update(&ZEROS[..k]);
        n -= k as u64;
    }
}

/// Copies all of `src` into `dst` (kernel-side where the filesystems allow it), copying only
/// the data regions so the holes of a sparse file stay holes.
pub fn copy_all(src: &File, dst: &File) -> io::Result<()> {
    let len = src.metadata()?.len();
    let mut off: u64 = 0;
    while off < len {
        let (start, end) = match data_region(src, off, len)? {
            Some(r) => r,
            None => break,
        };
        copy_range(src, dst, start, end)?;
        off = end;
    }
    // A trailing hole has no data to copy: give the copy its full length.
    dst.set_len(len)
}

pub use crate::sys::data_region;

/// Copies bytes `start..end` of `src` to the same offsets of `dst`.
fn copy_range(src: &File, dst: &File, start: u64, end: u64) -> io::Result<()> {
    let mut off_in = start;
    let mut off_out = start;
    while off_in < end {
        let want = (end - off_in).min(1 << 30) as usize;
        let n = match crate::sys::copy_range(src, &mut off_in, dst, &mut off_out, want) {
            Ok(n) => n,
            Err(err)
                if matches!(
                    err.raw_os_error(),
                    Some(libc::EXDEV) | Some(libc::ENOSYS) | Some(libc::EINVAL)
                ) =>
            {
                return copy_by_reading(src, dst, off_in, end);
            }
            Err(err) => return Err(err),
        };
        if n == 0 {
            break;
        }
    }
    Ok(())
}

fn copy_by_reading(src: &File, dst: &File, mut off: u64, len: u64) -> io::Result<()> {
    let mut buf = vec![0u8; 1 << 20];
    while off < len {
        let n = src.read_at(&mut buf, off)?;
        if n == 0 {
            break;
        }
        dst.write_all_at(&buf[..n], off)?;
        off += n as u64;
    }
    Ok(())
}
