//! `mount.ftsb WS DIR [-o OPTS]`: placeholder until the daemon exists.
fn main() {}
