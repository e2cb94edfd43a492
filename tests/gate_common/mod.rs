//! Shared helpers for the gate's table-driven tests.

#![allow(dead_code)] // reason: each test file uses a different subset of the helpers

use std::path::PathBuf;
use std::sync::OnceLock;

use ftsb_fs::gate::{Context, Decision, Gate};

/// What a line must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Exactly deny.
    Deny,
    /// Deny or ask: the line never runs headless.
    Block,
    /// Exactly ask.
    Ask,
    /// Allow.
    Allow,
}

pub use Expect::{Allow, Ask, Block, Deny};

/// The default gate, loaded once per test binary.
pub fn gate() -> &'static Gate {
    static GATE: OnceLock<Gate> = OnceLock::new();
    GATE.get_or_init(|| Gate::load(None).expect("default policy loads"))
}

/// A project at the root of an ordinary user's home.
pub fn ctx() -> Context {
    Context {
        cwd: PathBuf::from("/home/dev/project"),
        workspace: Some(PathBuf::from("/home/dev/project")),
        home: Some(PathBuf::from("/home/dev")),
    }
}

/// Judges every line and fails listing every line that does not get what it must.
pub fn check(cases: &[(Expect, &str)]) {
    let gate = gate();
    let ctx = ctx();
    let mut wrong = Vec::new();
    for (expect, line) in cases {
        let v = gate.judge(line, &ctx);
        let ok = match expect {
            Deny => v.decision == Decision::Deny,
            Block => v.decision != Decision::Allow,
            Ask => v.decision == Decision::Ask,
            Allow => v.decision == Decision::Allow,
        };
        if !ok {
            wrong.push(format!(
                "{expect:?} expected, got {:?} ({}: {}) for: {line}",
                v.decision,
                v.rule.as_deref().unwrap_or("-"),
                v.reason
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong verdicts:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
