//! The operation log: the overlay's row changes, appended once per operation and folded into
//! the SQLite tables in batches.
//!
//! A view operation used to cost one SQLite transaction (B-tree pages written to the WAL,
//! checksummed and indexed). An append of one small record costs one `write(2)`, and
//! survives a crash of the daemon the same way (it is in the OS page cache when the call
//! returns). The tables plus the records after them are the overlay; [`Db::load_overlay`]
//! reads both, and [`Db::barrier`] makes both durable.
//!
//! **Consistency rule:** a record applies only on top of the exact table state it followed.
//! Each record carries the log's generation and a sequence number; the tables remember the
//! generation and the last sequence number folded into them (`kv` key `oplog`). Replay takes
//! the records of the tables' generation that continue their sequence without a gap, and
//! stops at the first record that does not (a torn tail, a stale record from before a
//! truncation, a checksum mismatch). Replacing the whole overlay starts a new generation, so
//! records written after it can never be replayed over the tables before it, whatever order
//! a power loss leaves the two files in. The log is truncated only after the tables hold its
//! records durably (folding ends with a barrier) or after a new generation began.
//!
//! Record: `len: u32 | gen: u64 | seq: u64 | rows (len bytes) | blake3(gen, seq, rows)[..16]`,
//! integers little-endian; rows are tagged (see [`Row`]).
//!
//! [`Db::load_overlay`]: super::Db::load_overlay
//! [`Db::barrier`]: super::Db::barrier

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Bytes of a record's header (length, generation, sequence number).
const HEADER: usize = 4 + 8 + 8;
/// Bytes of a record's checksum.
const CHECK: usize = 16;
/// The largest record accepted when reading (anything longer is a torn or foreign tail).
const MAX_RECORD: usize = 64 << 20;

/// One change of an overlay table row; `None` bodies delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    /// An inode row; deleting it also deletes the entries of the directory it was.
    Node { ino: u64, body: Option<Vec<u8>> },
    /// A directory entry.
    Dentry {
        dir: u64,
        name: Vec<u8>,
        body: Option<Vec<u8>>,
    },
    /// The next inode number the overlay may hand out.
    NextIno(u64),
}

const TAG_NODE_PUT: u8 = 1;
const TAG_NODE_DEL: u8 = 2;
const TAG_DENTRY_PUT: u8 = 3;
const TAG_DENTRY_DEL: u8 = 4;
const TAG_NEXT_INO: u8 = 5;

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

fn encode_rows(rows: &[Row], out: &mut Vec<u8>) {
    for row in rows {
        match row {
            Row::Node { ino, body: Some(b) } => {
                out.push(TAG_NODE_PUT);
                out.extend_from_slice(&ino.to_le_bytes());
                put_bytes(out, b);
            }
            Row::Node { ino, body: None } => {
                out.push(TAG_NODE_DEL);
                out.extend_from_slice(&ino.to_le_bytes());
            }
            Row::Dentry {
                dir,
                name,
                body: Some(b),
            } => {
                out.push(TAG_DENTRY_PUT);
                out.extend_from_slice(&dir.to_le_bytes());
                put_bytes(out, name);
                put_bytes(out, b);
            }
            Row::Dentry {
                dir,
                name,
                body: None,
            } => {
                out.push(TAG_DENTRY_DEL);
                out.extend_from_slice(&dir.to_le_bytes());
                put_bytes(out, name);
            }
            Row::NextIno(n) => {
                out.push(TAG_NEXT_INO);
                out.extend_from_slice(&n.to_le_bytes());
            }
        }
    }
}

/// A cursor over a record's rows; every read is bounds-checked (`None` = malformed).
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn bytes(&mut self) -> Option<Vec<u8>> {
        let n = u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize;
        Some(self.take(n)?.to_vec())
    }
}

fn decode_rows(mut b: &[u8]) -> Option<Vec<Row>> {
    let mut rows = Vec::new();
    while let Some((&tag, rest)) = b.split_first() {
        let mut c = Cursor(rest);
        rows.push(match tag {
            TAG_NODE_PUT => Row::Node {
                ino: c.u64()?,
                body: Some(c.bytes()?),
            },
            TAG_NODE_DEL => Row::Node {
                ino: c.u64()?,
                body: None,
            },
            TAG_DENTRY_PUT => Row::Dentry {
                dir: c.u64()?,
                name: c.bytes()?,
                body: Some(c.bytes()?),
            },
            TAG_DENTRY_DEL => Row::Dentry {
                dir: c.u64()?,
                name: c.bytes()?,
                body: None,
            },
            TAG_NEXT_INO => Row::NextIno(c.u64()?),
            _ => return None,
        });
        b = c.0;
    }
    Some(rows)
}

/// Fills `buf` from `r`; `false` if the stream ends first (a torn tail).
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    match r.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

fn checksum(gen_: u64, seq: u64, rows: &[u8]) -> [u8; CHECK] {
    let mut h = blake3::Hasher::new();
    h.update(&gen_.to_le_bytes());
    h.update(&seq.to_le_bytes());
    h.update(rows);
    let mut out = [0u8; CHECK];
    out.copy_from_slice(&h.finalize().as_bytes()[..CHECK]);
    out
}

/// Where the tables stand: the generation and the last sequence number folded into them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Folded {
    pub generation: u64,
    pub seq: u64,
}

impl Folded {
    /// The `kv` value that stores this position.
    pub fn to_kv(self) -> String {
        format!("{} {}", self.generation, self.seq)
    }

    /// Parses a `kv` value written by [`Folded::to_kv`].
    pub fn from_kv(s: &str) -> Option<Folded> {
        let (g, s) = s.split_once(' ')?;
        Some(Folded {
            generation: g.parse().ok()?,
            seq: s.parse().ok()?,
        })
    }
}

/// The operation log file of one store.
#[derive(Debug)]
pub struct OpLog {
    path: PathBuf,
    file: Option<File>,
    /// Where the next record goes: the end of the valid records.
    end: u64,
    /// The generation and sequence number of the last valid record (or of the tables).
    last: Folded,
    /// Whether the file may hold bytes not yet fsynced.
    unsynced: bool,
}

impl OpLog {
    /// A handle on the log at `path` that has not read it: it must be replaced by
    /// [`OpLog::open`] before any use.
    pub fn unread(path: &Path) -> OpLog {
        OpLog {
            path: path.to_owned(),
            file: None,
            end: 0,
            last: Folded::default(),
            unsynced: false,
        }
    }

    /// The log at `path` on top of tables at `folded`; hands the rows of its valid records to
    /// `each`, in order, one whole record at a time. Reads the file as a stream and writes
    /// nothing (a reader such as `fsck` may open the log of a live daemon).
    pub fn open(path: &Path, folded: Folded, mut each: impl FnMut(Row)) -> io::Result<OpLog> {
        let mut log = OpLog {
            last: folded,
            ..OpLog::unread(path)
        };
        let mut r = match File::open(path) {
            Ok(f) => BufReader::with_capacity(1 << 16, f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(log),
            Err(e) => return Err(e),
        };
        let mut buf = Vec::new();
        while let Some(rows) = log.next_record(&mut r, &mut buf)? {
            rows.into_iter().for_each(&mut each);
            log.last.seq += 1;
            log.end += (HEADER + buf.len()) as u64;
        }
        Ok(log)
    }

    /// Reads the next record into `buf` (its rows and checksum) and returns its rows, if it
    /// is whole, valid and continues the sequence.
    fn next_record(&self, r: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<Option<Vec<Row>>> {
        let mut header = [0u8; HEADER];
        if !read_full(r, &mut header)? {
            return Ok(None);
        }
        let mut c = Cursor(&header);
        let (Some(len), Some(gen_), Some(seq)) = (
            c.take(4)
                .and_then(|b| Some(u32::from_le_bytes(b.try_into().ok()?) as usize)),
            c.u64(),
            c.u64(),
        ) else {
            return Ok(None);
        };
        if len > MAX_RECORD || gen_ != self.last.generation || seq != self.last.seq + 1 {
            return Ok(None);
        }
        buf.resize(len + CHECK, 0);
        if !read_full(r, buf)? {
            return Ok(None);
        }
        let (rows, check) = buf.split_at(len);
        if check != checksum(gen_, seq, rows) {
            return Ok(None);
        }
        Ok(decode_rows(rows))
    }

    /// The generation and sequence number of the last record (what folding it all reaches).
    pub fn last(&self) -> Folded {
        self.last
    }

    /// The bytes of valid records.
    pub fn bytes(&self) -> u64 {
        self.end
    }

    fn writer(&mut self) -> io::Result<&File> {
        if self.file.is_none() {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&self.path)?;
            // Whatever lies past the valid records (a torn tail) goes before the first append.
            if f.metadata()?.len() != self.end {
                f.set_len(self.end)?;
            }
            self.file = Some(f);
        }
        Ok(self.file.as_ref().expect("opened above"))
    }

    /// Appends one record holding `rows`, with one write. On failure the log is as before.
    pub fn append(&mut self, rows: &[Row]) -> io::Result<()> {
        let seq = self.last.seq + 1;
        let mut rec = vec![0u8; HEADER];
        encode_rows(rows, &mut rec);
        let len = rec.len() - HEADER;
        rec[..4].copy_from_slice(&(len as u32).to_le_bytes());
        rec[4..12].copy_from_slice(&self.last.generation.to_le_bytes());
        rec[12..20].copy_from_slice(&seq.to_le_bytes());
        let check = checksum(self.last.generation, seq, &rec[HEADER..]);
        rec.extend_from_slice(&check);
        let end = self.end;
        let f = self.writer()?;
        if let Err(e) = f.write_all_at(&rec, end) {
            // A partial record would be ignored by replay, but the next one must not follow it.
            let _ = f.set_len(end);
            return Err(e);
        }
        self.end += rec.len() as u64;
        self.last.seq = seq;
        self.unsynced = true;
        Ok(())
    }

    /// Makes every record appended so far survive a power loss.
    pub fn sync(&mut self) -> io::Result<()> {
        if self.unsynced {
            if let Some(f) = &self.file {
                f.sync_data()?;
            }
            self.unsynced = false;
        }
        Ok(())
    }

    /// Empties the log; the next record continues from `folded`.
    pub fn reset(&mut self, folded: Folded) -> io::Result<()> {
        if self.end != 0 || self.file.is_some() {
            self.writer()?.set_len(0)?;
        }
        self.end = 0;
        self.last = folded;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: u64) -> Vec<Row> {
        vec![
            Row::Node {
                ino: n,
                body: Some(format!("node {n}").into_bytes()),
            },
            Row::Dentry {
                dir: 1,
                name: format!("f{n}").into_bytes(),
                body: Some(b"entry".to_vec()),
            },
            Row::Dentry {
                dir: 1,
                name: b"gone".to_vec(),
                body: None,
            },
            Row::Node { ino: 7, body: None },
            Row::NextIno(n + 100),
        ]
    }

    fn start() -> Folded {
        Folded {
            generation: 3,
            seq: 10,
        }
    }

    /// The log at `p` over tables at `folded`, and all the rows it replays.
    fn read(p: &Path, folded: Folded) -> (OpLog, Vec<Row>) {
        let mut got = Vec::new();
        let log = OpLog::open(p, folded, |r| got.push(r)).expect("open");
        (log, got)
    }

    /// A log in a temporary directory holding the records `rows(1..=n)`.
    fn log_with(n: u64) -> (tempfile::TempDir, PathBuf, OpLog) {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("log");
        let (mut log, got) = read(&p, start());
        assert!(got.is_empty());
        for i in 1..=n {
            log.append(&rows(i)).expect("append");
        }
        (d, p, log)
    }

    #[test]
    fn appended_records_read_back_in_order() {
        let (_d, p, mut log) = log_with(5);
        log.sync().expect("sync");
        let (again, got) = read(&p, start());
        assert_eq!(got, (1..=5).flat_map(rows).collect::<Vec<_>>());
        assert_eq!(
            again.last(),
            Folded {
                generation: 3,
                seq: 15
            }
        );
        assert_eq!(again.bytes(), log.bytes());
    }

    #[test]
    fn replay_skips_what_does_not_continue_the_tables() {
        let (_d, p, _log) = log_with(2);
        // Tables of another generation, or already past these records, or before a gap.
        for folded in [
            Folded {
                generation: 4,
                seq: 10,
            },
            Folded {
                generation: 3,
                seq: 11,
            },
            Folded {
                generation: 3,
                seq: 9,
            },
        ] {
            let (l, got) = read(&p, folded);
            assert!(got.is_empty(), "{folded:?}");
            assert_eq!(l.bytes(), 0);
        }
    }

    #[test]
    fn a_torn_or_corrupt_tail_ends_the_log_and_is_overwritten() {
        let (_d, p, mut log) = log_with(1);
        let one = log.bytes();
        log.append(&rows(2)).expect("append");
        let full = std::fs::read(&p).expect("read");
        for cut in [one as usize + 3, full.len() - 1] {
            std::fs::write(&p, &full[..cut]).expect("write");
            let (_, got) = read(&p, start());
            assert_eq!(got, rows(1), "cut at {cut}");
        }
        let mut bad = full.clone();
        bad[one as usize + HEADER + 2] ^= 0xff;
        std::fs::write(&p, &bad).expect("write");
        let (mut log, got) = read(&p, start());
        assert_eq!(got, rows(1));
        // The next append replaces the bad record.
        log.append(&rows(3)).expect("append");
        let (_, got) = read(&p, start());
        assert_eq!(got, [rows(1), rows(3)].concat());
    }

    #[test]
    fn reset_starts_over_from_the_given_position() {
        let (_d, p, mut log) = log_with(1);
        let next = Folded {
            generation: 4,
            seq: 0,
        };
        log.reset(next).expect("reset");
        assert_eq!(log.bytes(), 0);
        log.append(&rows(2)).expect("append");
        let (_, got) = read(&p, next);
        assert_eq!(got, rows(2));
        let (_, got) = read(&p, start());
        assert!(got.is_empty());
    }

    #[test]
    fn folded_position_round_trips_through_kv() {
        let f = Folded {
            generation: 9,
            seq: 123_456,
        };
        assert_eq!(Folded::from_kv(&f.to_kv()), Some(f));
        assert_eq!(Folded::from_kv("nonsense"), None);
    }
}
