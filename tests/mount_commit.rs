//! Commit while processes keep writing through the view: each write lands either in the
//! committed state or in the next transaction, never lost and never half in.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::*;

#[test]
fn writes_during_commits_land_whole_in_one_transaction_or_the_next() {
    let m = Mounted::at(sample_tree);
    let log = m.v("appended.log");
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (log, done) = (log.clone(), done.clone());
        std::thread::spawn(move || {
            let mut n = 0u32;
            // Each line is one write of a whole line, closed at once, like a logger.
            while !done.load(Ordering::Relaxed) || n < 200 {
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .unwrap();
                f.write_all(format!("line {n:06}\n").as_bytes()).unwrap();
                n += 1;
            }
            n
        })
    };
    let mut committed = Vec::new();
    for _ in 0..5 {
        std::thread::sleep(std::time::Duration::from_millis(30));
        m.ok(&["commit", "-m", "while writing"]);
        // What the workspace holds right after a commit: whole lines, in order, a prefix
        // of what the writer wrote.
        committed.push(std::fs::read_to_string(m.ws.join("appended.log")).unwrap_or_default());
    }
    done.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    let expected: String = (0..written).map(|n| format!("line {n:06}\n")).collect();
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        expected,
        "the view lost or mixed writes"
    );
    let mut last = 0;
    for c in &committed {
        assert!(
            expected.starts_with(c.as_str()),
            "a commit holds a torn or foreign line: {c:?}"
        );
        assert!(
            c.is_empty() || c.ends_with('\n'),
            "a commit holds half a line"
        );
        assert!(
            c.len() >= last,
            "a later commit holds less than an earlier one"
        );
        last = c.len();
    }
    m.ok(&["commit", "-m", "the rest"]);
    assert_eq!(
        std::fs::read_to_string(m.ws.join("appended.log")).unwrap(),
        expected
    );
}
