//! Tests of the metadata database.

use super::*;

fn db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(&dir.path().join("meta.db"), Path::new("/ws")).expect("open");
    (dir, db)
}

fn node(ino: u64, body: &str) -> Row {
    Row::Node {
        ino,
        body: Some(body.as_bytes().to_vec()),
    }
}

fn dentry(dir: u64, name: &str, body: &str) -> Row {
    Row::Dentry {
        dir,
        name: name.as_bytes().to_vec(),
        body: Some(body.as_bytes().to_vec()),
    }
}

fn names(rows: &OverlayRows) -> (Vec<u64>, Vec<(u64, String)>) {
    (
        rows.nodes.iter().map(|n| n.ino).collect(),
        rows.dentries
            .iter()
            .map(|d| (d.dir, String::from_utf8_lossy(&d.name).into_owned()))
            .collect(),
    )
}

#[test]
fn recorded_rows_load_back_and_a_deleted_directory_takes_its_entries() {
    let (_d, db) = db();
    db.record(&[node(1, "root"), node(7, "dir"), dentry(1, "d", "7")])
        .expect("record");
    db.record(&[dentry(7, "x", "8"), node(8, "x"), Row::NextIno(4242)])
        .expect("record");
    // Folded into the tables, then more records on top.
    db.fold().expect("fold");
    db.record(&[dentry(7, "y", "9"), node(9, "y")])
        .expect("record");
    db.record(&[
        Row::Node { ino: 7, body: None },
        Row::Dentry {
            dir: 1,
            name: b"d".to_vec(),
            body: None,
        },
    ])
    .expect("record");
    let rows = db.load_overlay().expect("load");
    assert_eq!(names(&rows), (vec![1, 8, 9], vec![]));
    assert_eq!(rows.next_ino, Some(4242));
    assert_eq!(rows.nodes[0].body, b"root");
}

#[test]
fn records_survive_a_reopen_and_folding_keeps_the_overlay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("meta.db");
    let db = Db::open(&path, Path::new("/ws")).expect("open");
    for i in 2..50 {
        db.record(&[node(i, "n"), dentry(1, &format!("f{i}"), "e")])
            .expect("record");
    }
    let before = db.load_overlay().expect("load");
    assert_eq!(before.nodes.len(), 48);
    drop(db);
    let db = Db::open(&path, Path::new("/ws")).expect("reopen");
    assert_eq!(db.load_overlay().expect("load"), before);
    db.fold().expect("fold");
    assert_eq!(std::fs::metadata(log_path(&path)).expect("log").len(), 0);
    assert_eq!(db.load_overlay().expect("load"), before);
    db.record(&[node(99, "late")]).expect("record");
    drop(db);
    let db = Db::open(&path, Path::new("/ws")).expect("reopen");
    assert_eq!(db.load_overlay().expect("load").nodes.len(), 49);
}

#[test]
fn replacing_the_overlay_outdates_every_earlier_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("meta.db");
    let db = Db::open(&path, Path::new("/ws")).expect("open");
    db.record(&[node(5, "old"), dentry(1, "old", "5")])
        .expect("record");
    let stale = std::fs::read(log_path(&path)).expect("log");
    db.replace_overlay(
        &[NodeRow {
            ino: 1,
            body: b"root".to_vec(),
        }],
        &[],
    )
    .expect("replace");
    db.record(&[node(6, "new")]).expect("record");
    assert_eq!(names(&db.load_overlay().expect("load")).0, vec![1, 6]);
    // A power loss may keep the log from before the replacement: its records are not
    // replayed over the new generation.
    drop(db);
    std::fs::write(log_path(&path), stale).expect("stale log");
    let db = Db::open(&path, Path::new("/ws")).expect("reopen");
    assert_eq!(names(&db.load_overlay().expect("load")), (vec![1], vec![]));
}

#[test]
fn a_failed_transaction_leaves_nothing() {
    let (_d, db) = db();
    let r: Result<(), MetaError> = db.transaction(|db| {
        db.put_node(3, b"x")?;
        Err(MetaError::Foreign {
            path: "boom".into(),
        })
    });
    assert!(r.is_err());
    assert!(db.load_overlay().expect("load").nodes.is_empty());
}

#[test]
fn journal_tracks_the_open_commit() {
    let (_d, db) = db();
    assert!(db.journal_open().expect("open").is_none());
    let id = db.journal_begin(b"plan").expect("begin");
    assert_eq!(
        db.journal_open().expect("open").map(|j| j.state),
        Some(JournalState::Applying)
    );
    db.journal_set_state(id, JournalState::Applied)
        .expect("state");
    assert_eq!(
        db.journal_open().expect("open").map(|j| j.state),
        Some(JournalState::Applied)
    );
    db.journal_set_state(id, JournalState::Done).expect("state");
    assert!(db.journal_open().expect("open").is_none());
}

#[test]
fn log_is_newest_first() {
    let (_d, db) = db();
    let row = |kind: &str| LogRow {
        id: 0,
        kind: kind.into(),
        created_ns: 1,
        message: String::new(),
        command: None,
        exit_code: None,
        snapshot: String::new(),
        entries: 0,
        epoch: 0,
    };
    let a = db.add_log(&row("checkpoint")).expect("add");
    let b = db.add_log(&row("commit")).expect("add");
    db.set_log_outcome(a, "make", Some(2)).expect("outcome");
    let log = db.log().expect("log");
    assert_eq!(log.iter().map(|r| r.id).collect::<Vec<_>>(), vec![b, a]);
    assert_eq!(log[1].exit_code, Some(2));
}

#[test]
fn foreign_files_and_other_workspaces_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let foreign = dir.path().join("foreign.db");
    std::fs::write(
        &foreign,
        b"this is not sqlite at all, just text that is long enough",
    )
    .expect("write");
    let err = Db::open(&foreign, Path::new("/ws")).expect_err("foreign");
    assert!(matches!(err, MetaError::Foreign { .. }), "{err}");

    let other = dir.path().join("other.db");
    let conn = Connection::open(&other).expect("sqlite");
    conn.execute_batch("CREATE TABLE t (x)").expect("table");
    drop(conn);
    assert!(matches!(
        Db::open(&other, Path::new("/ws")),
        Err(MetaError::Foreign { .. })
    ));

    let ours = dir.path().join("ours.db");
    drop(Db::open(&ours, Path::new("/ws")).expect("open"));
    let err = Db::open(&ours, Path::new("/elsewhere")).expect_err("other workspace");
    assert!(matches!(err, MetaError::OtherWorkspace { .. }), "{err}");
}

#[test]
fn kv_del_removes_a_key_and_ignores_a_missing_one() {
    let (_d, db) = db();
    db.kv_set("txn.1.stashed", "1").expect("set");
    db.kv_del("txn.1.stashed").expect("del");
    assert_eq!(db.kv_get("txn.1.stashed").expect("get"), None);
    db.kv_del("never.there").expect("del missing");
}

#[test]
fn every_barrier_changes_the_database() {
    // A barrier that rewrote an identical row would commit no page, so SQLite would skip the
    // WAL sync that makes everything before it durable.
    let (_d, db) = db();
    db.barrier().expect("barrier");
    let first = db.kv_get("barrier").expect("get");
    db.barrier().expect("barrier");
    let second = db.kv_get("barrier").expect("get");
    assert!(
        first.is_some() && first != second,
        "{first:?} then {second:?}"
    );
}

#[test]
fn kv_keys_are_distinct_and_commit_markers_name_their_commit() {
    let fixed = [
        keys::WORKSPACE,
        keys::NEXT_INO,
        keys::EPOCH,
        keys::TXN_STARTED,
        keys::PARTIAL_REST,
        keys::OPLOG_FOLDED,
        keys::BARRIER,
    ];
    let mut all: Vec<String> = fixed.iter().map(|k| k.to_string()).collect();
    all.extend(keys::txn_markers(1));
    all.extend(keys::txn_markers(11));
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n, "two kv entries share a key");
    assert!(keys::txn_markers(1).iter().all(|k| k.starts_with("txn.1.")));
}
