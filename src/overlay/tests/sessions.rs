//! The property test of per-session rollback: random operations by a session and by another
//! writer (the user) after the session's checkpoint, the touches noted as the file system
//! layer notes them, then the session rolled back alone.
//!
//! Properties, for every path of the view before or after:
//! - a path under a reverted one shows its state at the checkpoint;
//! - every other path shows exactly what it showed before the rollback (nothing of the
//!   other writer's, nor anything untouched, changes);
//! - no path the other writer touched changes.

use std::collections::{BTreeMap, HashSet};

use proptest::prelude::*;

use super::harness::*;
use crate::overlay::*;
use crate::txn::writers::{Touch, Writer, Writers};

/// The files the operations name; `d` is a directory of the workspace.
const PATHS: [&str; 6] = ["a", "b", "c", "d/x", "d/y", "n"];

#[derive(Debug, Clone)]
enum Op {
    Write { file: usize, byte: u8 },
    Create { file: usize },
    Unlink { file: usize },
    Rename { from: usize, to: usize },
}

/// One operation by the session (`true`) or the user.
type Step = (bool, Op);

fn op_strategy() -> impl Strategy<Value = Op> {
    let i = || 0..PATHS.len();
    prop_oneof![
        3 => (i(), any::<u8>()).prop_map(|(file, byte)| Op::Write { file, byte }),
        2 => i().prop_map(|file| Op::Create { file }),
        2 => i().prop_map(|file| Op::Unlink { file }),
        2 => (i(), i()).prop_map(|(from, to)| Op::Rename { from, to }),
    ]
}

/// Every path of the view with what it holds.
fn dump(fx: &mut Fx) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![String::new()];
    while let Some(dir) = todo.pop() {
        for name in fx.names(&dir) {
            let path = join(&dir, &name);
            let what = match fx.attr(&path).kind {
                Kind::Dir => {
                    todo.push(path.clone());
                    "dir".to_owned()
                }
                _ => format!("{:?}", fx.read(&path)),
            };
            out.insert(path, what);
        }
    }
    out
}

/// Applies `op` as `who`, noting its touches in `rec` as the view does (before the
/// operation, and the name of what it creates after); returns the paths it touched.
fn apply(fx: &mut Fx, op: &Op, rec: &Writers, who: Writer) -> Vec<String> {
    let entry = |fx: &mut Fx, p: &str| {
        let (dir, name) = fx.parent(p);
        rec.note_as(who, Touch::Entry(dir, name));
    };
    match op {
        Op::Write { file, byte } => {
            let p = PATHS[*file];
            if !fx.exists(p) {
                // No request reaches the view: nothing is noted, nothing named.
                return Vec::new();
            }
            rec.note_as(who, Touch::Node(fx.ino(p)));
            fx.write(p, 0, &[*byte; 3]);
            vec![p.to_owned()]
        }
        Op::Create { file } => {
            let p = PATHS[*file];
            entry(fx, p);
            if let Ok(a) = fx.make(p, Kind::File, None) {
                let (dir, name) = fx.parent(p);
                rec.note_name(a.ino, dir, &name);
            }
            vec![p.to_owned()]
        }
        Op::Unlink { file } => {
            let p = PATHS[*file];
            entry(fx, p);
            let (dir, name) = fx.parent(p);
            if let Ok(a) = fx.ov().entry_attr(dir, &name) {
                rec.note_name(a.ino, dir, &name);
            }
            let _ = fx.ov().unlink(dir, &name);
            vec![p.to_owned()]
        }
        Op::Rename { from, to } => {
            let (p, q) = (PATHS[*from], PATHS[*to]);
            entry(fx, p);
            entry(fx, q);
            let (d1, n1) = fx.parent(p);
            let (d2, n2) = fx.parent(q);
            let moved = fx.ov().entry_attr(d1, &n1).ok().map(|a| a.ino);
            if let Ok(a) = fx.ov().entry_attr(d2, &n2) {
                rec.note_name(a.ino, d2, &n2);
            }
            if let Some(i) = moved {
                rec.note_name(i, d1, &n1);
            }
            if fx
                .ov()
                .rename(d1, &n1, d2, &n2, RenameMode::Replace)
                .is_ok()
                && let Some(i) = moved
            {
                rec.note_name(i, d2, &n2);
            }
            vec![p.to_owned(), q.to_owned()]
        }
    }
}

fn under(path: &str, root: &str) -> bool {
    path == root || path.strip_prefix(root).is_some_and(|r| r.starts_with('/'))
}

fn run(before: &[Op], during: &[Step]) {
    let mut fx = Fx::new(|ws| {
        for f in ["a", "b", "c"] {
            std::fs::write(ws.join(f), f).expect("write");
        }
        std::fs::create_dir(ws.join("d")).expect("mkdir");
        std::fs::write(ws.join("d/x"), "x").expect("write");
    });
    // What the user changed before the session: the checkpoint holds it.
    let rec = Writers::default();
    for op in before {
        apply(&mut fx, op, &rec, Writer::User);
    }
    // The session begins before its checkpoint, as the daemon begins it.
    rec.begin(1, None, None, None);
    let cp = crate::txn::checkpoint(fx.ov(), "exec", "", None).expect("checkpoint");
    rec.rekey(1, cp);
    let at_checkpoint = dump(&mut fx);
    let mut others_named = HashSet::new();
    for (session, op) in during {
        if *session {
            apply(&mut fx, op, &rec, Writer::Session(cp));
        } else {
            others_named.extend(apply(&mut fx, op, &rec, Writer::User));
        }
    }
    let live = dump(&mut fx);
    let (own, others) = rec.touched_since(cp);
    let done = crate::txn::rollback_session(fx.ov(), cp, &own, &others).expect("rollback");
    let after = dump(&mut fx);
    // What another writer touched is left exactly as it is.
    for o in &others_named {
        for p in live.keys().chain(after.keys()).filter(|p| under(p, o)) {
            assert_eq!(
                after.get(p),
                live.get(p),
                "{p}, which the user touched, changed: {done:?}"
            );
        }
        assert_eq!(
            after.get(o),
            live.get(o),
            "{o}, which the user touched, changed: {done:?}"
        );
    }
    let paths: std::collections::BTreeSet<&String> = at_checkpoint
        .keys()
        .chain(live.keys())
        .chain(after.keys())
        .collect();
    for p in paths {
        let reverted = done.reverted.iter().any(|r| under(p, r));
        let want = if reverted {
            at_checkpoint.get(p)
        } else {
            live.get(p)
        };
        assert_eq!(
            after.get(p),
            want,
            "{p} (reverted: {reverted}) after the rollback: {done:?}\nat checkpoint {at_checkpoint:?}\nlive {live:?}\nafter {after:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// A session rollback reverts the session's paths to the checkpoint and nothing else.
    #[test]
    fn a_session_rollback_reverts_its_paths_and_nothing_else(
        before in proptest::collection::vec(op_strategy(), 0..6),
        during in proptest::collection::vec((any::<bool>(), op_strategy()), 1..16),
    ) {
        run(&before, &during);
    }
}
