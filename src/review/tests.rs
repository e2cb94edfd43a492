//! The review's screens through ratatui's `TestBackend`, and what each key does.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::{Value, json};

use super::*;

/// A `log` answer written as the JSON `log --json` prints.
fn entries(v: Value) -> Vec<LogEntry> {
    serde_json::from_value(v).expect("log entries")
}

/// A range `diff` answer written as the JSON `diff --from --json` prints.
fn files(v: Value) -> reply::Diff {
    reply::Diff::Range(serde_json::from_value(v).expect("range entries"))
}

/// A session: a start checkpoint, a command that succeeded, one that failed and was rolled
/// back (with the rollback's record), and a refusal; newest first, as `log --json` answers.
fn log() -> Value {
    json!([
        {"id": null, "kind": "refused", "time": "2026-12-05T12:00:09Z", "command": "rm -rf /",
         "verdict": "deny", "rule": "fs.rm_protected", "restorable": false},
        {"id": 4, "kind": "rollback", "time": "2026-12-05T12:00:08Z",
         "message": "before rollback to 3", "restorable": true},
        {"id": 3, "kind": "exec", "time": "2026-12-05T12:00:05Z", "command": "make test",
         "exit_code": 2, "duration_ms": 2300, "rolled_back": true, "verdict": "allow",
         "changes": {"added": 1, "modified": 0, "deleted": 0}, "restorable": true},
        {"id": 2, "kind": "exec", "time": "2026-12-05T12:00:01Z", "command": "sed -i s/a/b/ f",
         "exit_code": 0, "duration_ms": 12, "rolled_back": false, "verdict": "allow",
         "changes": {"added": 0, "modified": 1, "deleted": 0}, "restorable": true},
        {"id": 1, "kind": "checkpoint", "time": "2026-12-05T12:00:00Z",
         "message": "run start: claude", "changes": {"added": 0, "modified": 0, "deleted": 0},
         "restorable": true},
    ])
}

fn screen(state: &State, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    t.draw(|f| render(state, f)).expect("draw");
    t
}

/// The screen's text, one string per row, trailing blanks trimmed.
fn text(t: &Terminal<TestBackend>) -> Vec<String> {
    let buf = t.backend().buffer();
    let width = usize::from(buf.area.width);
    buf.content()
        .chunks(width)
        .map(|row| {
            row.iter()
                .map(|c| c.symbol())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect()
}

fn session() -> State {
    let mut s = State::new("/ws");
    let load = s.set_log(&entries(log()));
    // The newest entry (a refusal) holds no state: nothing to load.
    assert_eq!(load, None);
    s
}

#[test]
fn timeline_snapshot() {
    let s = session();
    assert_eq!(
        text(&screen(&s, 100, 12)),
        [
            "┌ /ws (newest first) ─────────────────────────────────┐┌ step: no state ───────────────────────────┐",
            "│>   - 12:00:09 refused   deny (fs.rm_protected) rm -r││                                           │",
            "│    4 12:00:08 rollback   before rollback to 3       ││                                           │",
            "│    3 12:00:05 exec      exit=2 rolled back 2.3s +1~0│└───────────────────────────────────────────┘",
            "│    2 12:00:01 exec      ok 12ms +0~1-0 sed -i s/a/b/│┌ diff ─────────────────────────────────────┐",
            "│    1 12:00:00 checkpoint +0~0-0 run start: claude   ││                                           │",
            "│                                                     ││                                           │",
            "│                                                     ││                                           │",
            "│                                                     ││                                           │",
            "└─────────────────────────────────────────────────────┘└───────────────────────────────────────────┘",
            "",
            "j/k move  tab files  space mark  pgup/pgdn scroll  r roll back here  c commit  a abort  q quit",
        ]
    );
}

#[test]
fn a_step_shows_its_files_and_a_files_diff() {
    let mut s = session();
    assert_eq!(
        s.handle(Key::Down),
        Some(Effect::LoadFiles { from: 4, to: None }),
        "the newest state's files: from it to now"
    );
    let load = s.handle(Key::Down);
    // Step 3's files: from its state to the next restorable one (the rollback record, 4).
    assert_eq!(
        load,
        Some(Effect::LoadFiles {
            from: 3,
            to: Some(4)
        })
    );
    assert_eq!(
        s.handle(Key::Down),
        Some(Effect::LoadFiles {
            from: 2,
            to: Some(3)
        })
    );
    s.set_files(files(json!([{"path": "f", "change": "modified",
                          "diff": "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n"}])));
    assert_eq!(s.handle(Key::Tab), None);
    assert_eq!(s.focus, Focus::Files);
    assert_eq!(
        text(&screen(&s, 100, 14)),
        [
            "┌ /ws (newest first) ─────────────────────────────────┐┌ step 2: changed files ────────────────────┐",
            "│    - 12:00:09 refused   deny (fs.rm_protected) rm -r││ M f                                       │",
            "│    4 12:00:08 rollback   before rollback to 3       ││                                           │",
            "│    3 12:00:05 exec      exit=2 rolled back 2.3s +1~0│└───────────────────────────────────────────┘",
            "│>   2 12:00:01 exec      ok 12ms +0~1-0 sed -i s/a/b/│┌ f: this step ─────────────────────────────┐",
            "│    1 12:00:00 checkpoint +0~0-0 run start: claude   ││--- a/f                                    │",
            "│                                                     ││+++ b/f                                    │",
            "│                                                     ││@@ -1 +1 @@                                │",
            "│                                                     ││-a                                         │",
            "│                                                     ││+b                                         │",
            "│                                                     ││                                           │",
            "└─────────────────────────────────────────────────────┘└───────────────────────────────────────────┘",
            "",
            "j/k move  tab files  space mark  pgup/pgdn scroll  r roll back here  c commit  a abort  q quit",
        ]
    );
}

#[test]
fn destructive_keys_need_a_confirmation() {
    let mut s = session();
    // The refusal holds no state: r does nothing but say so.
    assert_eq!(s.handle(Key::Char('r')), None);
    assert_eq!(s.pending, None);
    assert!(s.message.contains("no state"), "{}", s.message);
    s.handle(Key::Down);
    s.handle(Key::Down);
    assert_eq!(s.handle(Key::Char('r')), None);
    assert_eq!(s.pending, Some(Pending::Rollback(3)));
    let t = screen(&s, 100, 12);
    let shown = text(&t).join("\n");
    assert!(shown.contains("roll the view back to checkpoint 3? (y/n)"));
    // Any other key cancels; nothing happens.
    assert_eq!(s.handle(Key::Char('c')), None);
    assert_eq!(s.pending, None);
    assert_eq!(s.message, "cancelled");
    assert_eq!(s.handle(Key::Char('r')), None);
    assert_eq!(s.handle(Key::Char('y')), Some(Effect::Rollback(3)));
    assert_eq!(s.handle(Key::Char('c')), None);
    assert_eq!(s.handle(Key::Char('y')), Some(Effect::Commit(vec![])));
    assert_eq!(s.handle(Key::Char('a')), None);
    assert_eq!(s.handle(Key::Esc), None, "escape cancels");
    assert_eq!(s.handle(Key::Char('a')), None);
    assert_eq!(s.handle(Key::Char('y')), Some(Effect::Abort));
    assert_eq!(s.handle(Key::Char('q')), Some(Effect::Quit));
}

#[test]
fn selection_stays_in_range_when_the_log_shrinks() {
    let mut s = session();
    for _ in 0..10 {
        s.handle(Key::Down);
    }
    assert_eq!(s.selected, 4, "stops at the oldest step");
    let load = s.set_log(&entries(
        json!([{"id": 1, "kind": "checkpoint", "restorable": true,
                                  "time": "2026-12-05T12:00:00Z"}]),
    ));
    assert_eq!(s.selected, 0);
    assert_eq!(load, Some(Effect::LoadFiles { from: 1, to: None }));
    let empty = State::new("/ws");
    let t = screen(&empty, 60, 6);
    let shown = text(&t).join("\n");
    assert!(shown.contains("nothing recorded yet"));
}

#[test]
fn a_long_timeline_scrolls_with_the_selection() {
    let steps: Vec<Value> = (1..=30)
        .rev()
        .map(|i| {
            json!({"id": i, "kind": "exec", "time": "2026-12-05T12:00:00Z",
                        "command": format!("step {i}"), "exit_code": 0, "restorable": true})
        })
        .collect();
    let mut s = State::new("/ws");
    s.set_log(&entries(Value::Array(steps)));
    for _ in 0..20 {
        s.handle(Key::Down);
    }
    let t = screen(&s, 80, 10);
    let shown = text(&t).join("\n");
    assert!(
        shown.contains(">  10 "),
        "the selected step 10 is on screen"
    );
    assert!(!shown.contains("step 30"), "the newest steps scrolled away");
}

#[test]
fn marked_files_make_a_partial_commit() {
    let mut s = session();
    s.handle(Key::Down);
    s.handle(Key::Down);
    s.set_files(files(
        json!([{"path": "a", "change": "added"}, {"path": "b", "change": "modified"}]),
    ));
    // Space scrolls in the timeline and marks in the files.
    s.handle(Key::Char(' '));
    assert!(s.marked.is_empty());
    s.handle(Key::Tab);
    s.handle(Key::Down);
    s.handle(Key::Char(' '));
    assert_eq!(s.marked.iter().collect::<Vec<_>>(), ["b"]);
    let shown = text(&screen(&s, 100, 16)).join("\n");
    assert!(shown.contains("│*M b"), "{shown}");
    assert!(shown.contains("│ A a"), "{shown}");
    assert_eq!(s.handle(Key::Char('c')), None);
    assert!(s.message.contains("the 1 marked paths"), "{}", s.message);
    assert_eq!(
        s.handle(Key::Char('y')),
        Some(Effect::Commit(vec!["b".into()]))
    );
    // Space again unmarks; a reload clears the marks.
    s.handle(Key::Char(' '));
    assert!(s.marked.is_empty());
    s.handle(Key::Char(' '));
    s.set_log(&entries(log()));
    assert!(s.marked.is_empty());
}
