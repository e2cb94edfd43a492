//! The audit log: `log` shows every command run through `exec` with its verdict, exit status,
//! duration, rollback and diffstat, and the gate's refusals, with timestamps; `gc` prunes
//! restorable states but keeps this history.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use serde_json::Value;

use common::*;

fn exec(m: &Mounted, script: &str) -> std::process::Output {
    output(
        m.cmd()
            .arg("exec")
            .arg(&m.ws)
            .args(["--", "sh", "-c", script])
            .current_dir(&m.view),
    )
}

fn log(m: &Mounted) -> Vec<Value> {
    let out = m.ok(&["--json", "log"]);
    serde_json::from_str::<Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn find<'a>(log: &'a [Value], kind: &str, command: &str) -> &'a Value {
    log.iter()
        .find(|e| e["kind"] == kind && e["command"].as_str() == Some(command))
        .unwrap_or_else(|| panic!("no {kind} entry for `{command}` in {log:#?}"))
}

fn is_utc_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20 && b[4] == b'-' && b[10] == b'T' && b[19] == b'Z' && s.starts_with("20")
}

#[test]
fn log_records_commands_refusals_and_survives_gc() {
    let m = Mounted::at(|ws| std::fs::write(ws.join("base"), "base\n").unwrap());
    assert!(exec(&m, "echo a > a && echo more >> base").status.success());
    assert_eq!(exec(&m, "echo b > b; exit 3").status.code(), Some(3));
    let refused = output(
        m.cmd()
            .arg("exec")
            .arg(&m.ws)
            .args(["--", "rm", "-rf", "/"])
            .current_dir(&m.view),
    );
    assert_eq!(refused.status.code(), Some(3), "{refused:?}");
    m.ok(&["checkpoint", "-m", "after the commands"]);

    let entries = log(&m);
    for e in &entries {
        assert!(is_utc_time(e["time"].as_str().unwrap()), "{e}");
    }
    let ok = find(&entries, "exec", "sh -c 'echo a > a && echo more >> base'");
    assert_eq!(ok["exit_code"], 0);
    assert_eq!(ok["verdict"], "allow");
    assert_eq!(ok["rolled_back"], false);
    assert!(ok["duration_ms"].is_u64(), "{ok}");
    assert_eq!(
        ok["changes"],
        serde_json::json!({"added": 1, "modified": 1, "deleted": 0}),
        "the step's diffstat is what its command changed"
    );
    let failed = find(&entries, "exec", "sh -c 'echo b > b; exit 3'");
    assert_eq!(failed["exit_code"], 3);
    assert_eq!(failed["rolled_back"], true);
    assert_eq!(
        failed["changes"],
        serde_json::json!({"added": 1, "modified": 0, "deleted": 0}),
        "a rolled-back step still shows what it did"
    );
    // The step's text diff: what the command changed, from its checkpoint to the next state.
    let id = ok["id"].as_u64().unwrap().to_string();
    let next = (ok["id"].as_u64().unwrap() + 1).to_string();
    let step: Value =
        serde_json::from_str(&m.ok(&["--json", "diff", "--from", &id, "--to", &next])).unwrap();
    let base = step
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "base")
        .unwrap();
    assert_eq!(base["change"], "modified");
    assert_eq!(base["insertions"], 1);
    assert!(
        base["diff"].as_str().unwrap().contains("\n base\n+more\n"),
        "{base}"
    );
    let denied = find(&entries, "refused", "rm -rf /");
    assert_eq!(denied["verdict"], "deny");
    assert!(
        denied["rule"].as_str().unwrap().starts_with("fs."),
        "{denied}"
    );
    assert!(denied["id"].is_null());

    // Newest first.
    let times: Vec<i64> = entries
        .iter()
        .map(|e| e["created_ns"].as_i64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");

    let text = m.ok(&["log"]);
    assert!(text.contains("rolled-back"), "{text}");
    assert!(text.contains("exit=3"), "{text}");
    assert!(text.contains("+1 ~1 -0"), "{text}");
    assert!(text.contains("deny (fs."), "{text}");

    // gc drops restorable states, not history.
    m.commit();
    m.ok(&["gc"]);
    let after = log(&m);
    assert!(
        after.iter().all(|e| e["restorable"] == false),
        "gc dropped the states of the committed transaction: {after:#?}"
    );
    let ok = find(&after, "exec", "sh -c 'echo a > a && echo more >> base'");
    assert_eq!(ok["exit_code"], 0);
    assert!(ok["duration_ms"].is_u64());
    assert_eq!(
        find(&after, "exec", "sh -c 'echo b > b; exit 3'")["rolled_back"],
        true
    );
    assert_eq!(find(&after, "refused", "rm -rf /")["verdict"], "deny");
}
