//! The labelled samples (`../shared/gate/sample.tsv` and `sample-adversarial.tsv`): for each,
//! the share of non-debatable deny lines that are intercepted (deny or ask; must be all) and
//! the share of allow lines that are not allowed (false alarms; at most 3 %), per category.
//!
//! The samples live outside the repository (`FTSB_GATE_SAMPLES` names another directory);
//! without them the test says so loudly and fails when `CI` is set or `FTSB_REQUIRE_ALL=1`.
//!
//! The project's own corpus (`gate_common/corpus-deny.tsv`, `corpus-allow.tsv`), written
//! independently of the samples, is judged the same way, stricter: every deny line and every
//! allow line without a note must get its label. A note says why a line is debatable, or
//! `gap: KIND` for a known miss or false alarm the gate does not fix yet.

use std::collections::BTreeMap;
use std::path::PathBuf;

#[path = "gate_common/mod.rs"]
mod common;
use common::{ctx, gate};
use ftsb_fs::gate::Decision;

/// The highest share of allow lines a sample may block.
const MAX_FALSE_ALARMS: f64 = 3.0;

/// The samples' directory: `FTSB_GATE_SAMPLES`, or `../shared/gate` beside the checkout.
fn sample_path(name: &str) -> PathBuf {
    let dir = std::env::var_os("FTSB_GATE_SAMPLES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/gate"),
        PathBuf::from,
    );
    dir.join(name)
}

/// Under CI (`CI` set, not `0`/`false`) or with `FTSB_REQUIRE_ALL=1`, missing samples fail.
fn required() -> bool {
    let set = |v: &str| std::env::var(v).is_ok_and(|s| !s.is_empty() && s != "0" && s != "false");
    set("CI") || set("FTSB_REQUIRE_ALL")
}

/// Counts for one category: deny lines (non-debatable ones apart), and allow lines.
#[derive(Default)]
struct Tally {
    deny: usize,
    caught: usize,
    hard: usize,
    hard_caught: usize,
    allow: usize,
    false_alarms: usize,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.deny += other.deny;
        self.caught += other.caught;
        self.hard += other.hard;
        self.hard_caught += other.hard_caught;
        self.allow += other.allow;
        self.false_alarms += other.false_alarms;
    }
}

fn ratio(n: usize, d: usize) -> String {
    if d == 0 {
        "-".into()
    } else {
        format!("{n}/{d} ({:.0}%)", 100.0 * n as f64 / d as f64)
    }
}

/// One sample's results: the tally per category family and the lines that went wrong.
struct Report {
    per: BTreeMap<String, Tally>,
    missed_hard: Vec<String>,
    false_alarms: Vec<String>,
    /// False alarms on allow lines without a note.
    hard_false_alarms: Vec<String>,
}

fn judge_sample(text: &str) -> Report {
    let gate = gate();
    let ctx = ctx();
    let mut report = Report {
        per: BTreeMap::new(),
        missed_hard: Vec::new(),
        false_alarms: Vec::new(),
        hard_false_alarms: Vec::new(),
    };
    for row in text.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        let [label, category, command, rest @ ..] = cols.as_slice() else {
            continue;
        };
        let debatable = rest.first().is_some_and(|d| !d.trim().is_empty());
        let v = gate.judge(command, &ctx);
        let blocked = v.decision != Decision::Allow;
        let family = category.split('.').next().unwrap_or(category).to_owned();
        let t = report.per.entry(family).or_default();
        let why = format!("{category:24} {command}  -> {:?} {:?}", v.decision, v.rule);
        if *label == "deny" {
            t.deny += 1;
            t.caught += usize::from(blocked);
            if !debatable {
                t.hard += 1;
                t.hard_caught += usize::from(blocked);
                if !blocked {
                    report.missed_hard.push(why);
                }
            }
        } else {
            t.allow += 1;
            t.false_alarms += usize::from(blocked);
            if blocked {
                report.false_alarms.push(format!("{why} {}", v.reason));
                if !debatable {
                    report.hard_false_alarms.push(format!("{why} {}", v.reason));
                }
            }
        }
    }
    report
}

fn print_report(name: &str, r: &Report) -> Tally {
    println!("== {name}");
    println!(
        "{:14} {:>16} {:>16} {:>16}",
        "category", "clear deny caught", "all deny caught", "false alarms"
    );
    let mut total = Tally::default();
    for (cat, t) in &r.per {
        total.add(t);
        println!(
            "{cat:14} {:>16} {:>16} {:>16}",
            ratio(t.hard_caught, t.hard),
            ratio(t.caught, t.deny),
            ratio(t.false_alarms, t.allow)
        );
    }
    println!(
        "{:14} {:>16} {:>16} {:>16}",
        "overall",
        ratio(total.hard_caught, total.hard),
        ratio(total.caught, total.deny),
        ratio(total.false_alarms, total.allow)
    );
    for m in &r.missed_hard {
        println!("MISSED     {m}");
    }
    for f in &r.false_alarms {
        println!("FALSEALARM {f}");
    }
    total
}

fn check_sample(name: &str) {
    let path = sample_path(name);
    let Ok(text) = std::fs::read_to_string(&path) else {
        let msg = format!("the gate sample {} is absent", path.display());
        assert!(
            !required(),
            "{msg} (required under CI / FTSB_REQUIRE_ALL=1)"
        );
        eprintln!("SKIPPED: {msg}; set CI or FTSB_REQUIRE_ALL=1 to make this a failure");
        return;
    };
    let report = judge_sample(&text);
    let total = print_report(name, &report);
    assert!(total.deny + total.allow > 0, "{name} has no labelled lines");
    assert!(
        report.missed_hard.is_empty(),
        "{name}: missed non-debatable deny lines:\n{}",
        report.missed_hard.join("\n")
    );
    let rate = 100.0 * total.false_alarms as f64 / total.allow.max(1) as f64;
    assert!(
        rate <= MAX_FALSE_ALARMS,
        "{name}: false-alarm rate {rate:.1}% above {MAX_FALSE_ALARMS}%:\n{}",
        report.false_alarms.join("\n")
    );
}

#[test]
fn sample_rates() {
    check_sample("sample.tsv");
}

#[test]
fn adversarial_sample_rates() {
    check_sample("sample-adversarial.tsv");
}

#[test]
fn own_corpus_gets_its_labels() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/gate_common");
    for name in ["corpus-deny.tsv", "corpus-allow.tsv"] {
        let text = std::fs::read_to_string(dir.join(name)).expect("the corpus is in the tree");
        let report = judge_sample(&text);
        let total = print_report(name, &report);
        assert!(total.deny + total.allow > 0, "{name} has no labelled lines");
        assert!(
            report.missed_hard.is_empty() && report.hard_false_alarms.is_empty(),
            "{name}: wrong verdicts on lines without a note:\n{}",
            [report.missed_hard, report.hard_false_alarms]
                .concat()
                .join("\n")
        );
    }
}
