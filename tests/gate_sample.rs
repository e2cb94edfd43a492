//! The labelled sample (`../shared/gate/sample.tsv`): interception of deny lines and false
//! positives on allow lines, overall and per category.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use ftsb_fs::gate::{Context, Decision, Gate};

fn sample_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/gate/sample.tsv")
}

/// The context the sample assumes: the workspace root of a checkout in an ordinary home.
fn ctx() -> Context {
    Context {
        cwd: PathBuf::from("/home/dev/project"),
        workspace: Some(PathBuf::from("/home/dev/project")),
        home: Some(PathBuf::from("/home/dev")),
    }
}

#[derive(Default)]
struct Tally {
    deny: usize,
    caught: usize,
    allow: usize,
    false_pos: usize,
}

#[test]
fn sample_rates() {
    let path = sample_path();
    let Ok(text) = std::fs::read_to_string(&path) else {
        common::skip(
            "the gate sample test",
            &format!("the shared sample {} is absent", path.display()),
        );
        return;
    };
    let gate = Gate::load(None).expect("default policy loads");
    let ctx = ctx();
    let mut per: BTreeMap<String, Tally> = BTreeMap::new();
    let mut total = Tally::default();
    let mut missed_hard = Vec::new();
    for row in text.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        let [label, category, command, rest @ ..] = cols.as_slice() else {
            continue;
        };
        let debatable = rest.first().is_some_and(|d| !d.trim().is_empty());
        let v = gate.judge(command, &ctx);
        let family = category.split('.').next().unwrap_or(category).to_owned();
        let t = per.entry(family).or_default();
        if *label == "deny" {
            let caught = v.decision != Decision::Allow;
            t.deny += 1;
            total.deny += 1;
            t.caught += usize::from(caught);
            total.caught += usize::from(caught);
            if !caught {
                println!("MISSED   {category:24} {command}");
                if !debatable {
                    missed_hard.push(command.to_string());
                }
            }
        } else {
            let fp = v.decision != Decision::Allow;
            t.allow += 1;
            total.allow += 1;
            t.false_pos += usize::from(fp);
            total.false_pos += usize::from(fp);
            if fp {
                println!(
                    "FALSEPOS {category:24} {command}  -> {:?} {:?} {}",
                    v.decision, v.rule, v.reason
                );
            }
        }
    }
    println!(
        "{:14} {:>14} {:>16}",
        "category", "interception", "false positive"
    );
    for (cat, t) in &per {
        let i = if t.deny > 0 {
            format!("{}/{}", t.caught, t.deny)
        } else {
            "-".into()
        };
        let f = if t.allow > 0 {
            format!("{}/{}", t.false_pos, t.allow)
        } else {
            "-".into()
        };
        println!("{cat:14} {i:>14} {f:>16}");
    }
    let rate_i = 100.0 * total.caught as f64 / total.deny.max(1) as f64;
    let rate_f = 100.0 * total.false_pos as f64 / total.allow.max(1) as f64;
    println!(
        "overall: interception {rate_i:.1}% ({}/{}), false positives {rate_f:.1}% ({}/{})",
        total.caught, total.deny, total.false_pos, total.allow
    );
    assert!(
        missed_hard.is_empty(),
        "missed non-debatable deny lines: {missed_hard:#?}"
    );
    assert!(rate_f <= 3.0, "false-positive rate {rate_f:.1}% above 3%");
}
