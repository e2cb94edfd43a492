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

/// (inode, link count, content) of a workspace or view path.
fn inode(p: &std::path::Path) -> (u64, u64, String) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(p).unwrap();
    (m.ino(), m.nlink(), std::fs::read_to_string(p).unwrap())
}

/// The workspace pair `h1` = `dir/h2` written through `h1` in the view: the view shows the new
/// bytes through both names (one inode), and after the commit the workspace names are still
/// one inode, with the new bytes.
#[test]
fn a_workspace_link_pair_written_through_one_name_stays_one_inode() {
    let m = Mounted::at(sample_tree);
    std::fs::write(m.v("h1"), "rewritten\n").unwrap();
    let (v1, v2) = (inode(&m.v("h1")), inode(&m.v("dir/h2")));
    assert_eq!(
        v1, v2,
        "the view shows the pair as one file before the commit"
    );
    assert_eq!(v1.2, "rewritten\n");
    m.ok(&["commit", "-m", "pair"]);
    let (w1, w2) = (inode(&m.w("h1")), inode(&m.w("dir/h2")));
    assert_eq!(w1.0, w2.0, "the commit broke the workspace link pair");
    assert_eq!((w1.1, w1.2.as_str()), (2, "rewritten\n"));
    assert_eq!(w2.2, "rewritten\n");
    // The view after the commit shows the workspace as it is now.
    let (v1, v2) = (inode(&m.v("h1")), inode(&m.v("dir/h2")));
    assert_eq!((v1.0, v1.2.as_str()), (v2.0, "rewritten\n"));
    assert_eq!(v2.2, "rewritten\n");
    // Written again, through the other name this time.
    std::fs::write(m.v("dir/h2"), "again\n").unwrap();
    m.ok(&["commit", "-m", "pair again"]);
    let (w1, w2) = (inode(&m.w("h1")), inode(&m.w("dir/h2")));
    assert_eq!((w1.0, w1.1, w1.2.as_str()), (w2.0, 2, "again\n"));
}

/// A pair whose other name lies in a directory the view renamed, or that the view removed:
/// the commit links what the view shows, and only that.
#[test]
fn a_link_pair_follows_renamed_directories_and_removed_names() {
    let m = Mounted::at(sample_tree);
    std::fs::rename(m.v("dir"), m.v("moved")).unwrap();
    std::fs::write(m.v("h1"), "through a moved directory\n").unwrap();
    assert_eq!(inode(&m.v("moved/h2")).2, "through a moved directory\n");
    m.ok(&["commit"]);
    assert!(!m.w("dir").exists());
    let (w1, w2) = (inode(&m.w("h1")), inode(&m.w("moved/h2")));
    assert_eq!(
        (w1.0, w1.1),
        (w2.0, 2),
        "the pair broke across a renamed directory"
    );
    assert_eq!(w2.2, "through a moved directory\n");

    std::fs::remove_file(m.v("moved/h2")).unwrap();
    std::fs::write(m.v("h1"), "alone\n").unwrap();
    m.ok(&["commit"]);
    assert!(!m.w("moved/h2").exists(), "a removed name came back");
    assert_eq!(inode(&m.w("h1")).1, 1);
    assert_eq!(inode(&m.w("h1")).2, "alone\n");
}

/// Links made in the view are published as links: of a workspace file, of a new file, and a
/// third name of a workspace pair.
#[test]
fn links_made_in_the_view_are_published_as_links() {
    let m = Mounted::at(sample_tree);
    std::fs::hard_link(m.v("a.txt"), m.v("dir/a-link")).unwrap();
    std::fs::write(m.v("new.txt"), "new\n").unwrap();
    std::fs::hard_link(m.v("new.txt"), m.v("new-link")).unwrap();
    std::fs::hard_link(m.v("h1"), m.v("h3")).unwrap();
    std::fs::write(m.v("h3"), "three names\n").unwrap();
    m.ok(&["commit"]);
    let (a, al) = (inode(&m.w("a.txt")), inode(&m.w("dir/a-link")));
    assert_eq!(
        (a.0, a.1),
        (al.0, 2),
        "a link to a workspace file was not published as one"
    );
    let (n, nl) = (inode(&m.w("new.txt")), inode(&m.w("new-link")));
    assert_eq!(
        (n.0, n.1),
        (nl.0, 2),
        "a link to a new file was not published as one"
    );
    let names = [m.w("h1"), m.w("dir/h2"), m.w("h3")].map(|p| inode(&p));
    for n in &names {
        assert_eq!(
            (n.0, n.1, n.2.as_str()),
            (names[0].0, 3, "three names\n"),
            "{names:?}"
        );
    }
}

/// A partial commit naming one name of a workspace pair publishes the new bytes under both
/// names, as one inode, and leaves the other changes in the view.
#[test]
fn a_partial_commit_of_one_name_of_a_pair_keeps_the_pair() {
    let m = Mounted::at(sample_tree);
    std::fs::write(m.v("h1"), "partly\n").unwrap();
    std::fs::write(m.v("b.txt"), "stays in the view\n").unwrap();
    std::fs::hard_link(m.v("a.txt"), m.v("a-link")).unwrap();
    let mut c = m.cmd();
    c.arg("commit").arg(&m.ws).arg("h1");
    run_ok(&mut c);
    let (w1, w2) = (inode(&m.w("h1")), inode(&m.w("dir/h2")));
    assert_eq!((w1.0, w1.1, w1.2.as_str()), (w2.0, 2, "partly\n"));
    assert_eq!(std::fs::read_to_string(m.w("b.txt")).unwrap(), "bravo\n");
    assert!(!m.w("a-link").exists(), "an unnamed link was published");
    assert_eq!(inode(&m.w("a.txt")).1, 1);
    assert_eq!(
        std::fs::read_to_string(m.v("b.txt")).unwrap(),
        "stays in the view\n"
    );
    assert_eq!(inode(&m.v("a-link")).0, inode(&m.v("a.txt")).0);
    m.ok(&["commit"]);
    assert_eq!(inode(&m.w("a-link")).0, inode(&m.w("a.txt")).0);
    assert_eq!(
        std::fs::read_to_string(m.w("b.txt")).unwrap(),
        "stays in the view\n"
    );
}
