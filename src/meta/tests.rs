//! Tests of the metadata database.

use super::*;

fn db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(&dir.path().join("meta.db"), Path::new("/ws")).expect("open");
    (dir, db)
}

#[test]
fn overlay_rows_round_trip_and_replace() {
    let (_d, db) = db();
    db.put_node(1, b"root").expect("node");
    db.put_node(7, b"seven").expect("node");
    db.put_dentry(1, b"a", b"child 7").expect("dentry");
    db.del_node(7).expect("del");
    let (nodes, dentries) = db.load_overlay().expect("load");
    assert_eq!(
        nodes,
        vec![NodeRow {
            ino: 1,
            body: b"root".to_vec()
        }]
    );
    assert_eq!(dentries.len(), 1);
    db.replace_overlay(&[], &[]).expect("replace");
    let (nodes, dentries) = db.load_overlay().expect("load");
    assert!(nodes.is_empty() && dentries.is_empty());
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
    assert!(db.load_overlay().expect("load").0.is_empty());
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
