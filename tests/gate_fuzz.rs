//! Arbitrary input never panics the gate and never takes longer than its bound.

use std::time::{Duration, Instant};

use proptest::prelude::*;

#[path = "gate_common/mod.rs"]
mod common;
use common::{ctx, gate};

/// Well above the gate's own 200 ms bound, to absorb a loaded CI machine.
const LIMIT: Duration = Duration::from_secs(2);

fn judge_in_time(line: &str) {
    let start = Instant::now();
    let _ = gate().judge(line, &ctx());
    let took = start.elapsed();
    assert!(took < LIMIT, "took {took:?} on {line:?}");
}

/// Shell-flavoured fragments, so random lines reach deep into the parser and the rules.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("rm -rf ".to_string()),
        Just("sudo ".to_string()),
        Just("bash -c '".to_string()),
        Just("$(".to_string()),
        Just(")".to_string()),
        Just("`".to_string()),
        Just("'".to_string()),
        Just("\"".to_string()),
        Just(" | ".to_string()),
        Just(" && ".to_string()),
        Just(" & ".to_string()),
        Just("; ".to_string()),
        Just("{a,b}".to_string()),
        Just("${x:1}".to_string()),
        Just("$'\\x2f'".to_string()),
        Just("<(".to_string()),
        Just("<<< ".to_string()),
        Just("eval ".to_string()),
        Just("xargs ".to_string()),
        Just("find . -exec ".to_string()),
        Just(" {} +".to_string()),
        Just("python3 -c '".to_string()),
        Just("os.system(\"".to_string()),
        Just("~".to_string()),
        Just("/".to_string()),
        Just("*".to_string()),
        Just("(".to_string()),
        Just("for i in 1 2; do ".to_string()),
        Just("; done".to_string()),
        Just("f(){ ".to_string()),
        Just(" }".to_string()),
        "[a-z/.-]{1,6}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(line in any::<String>()) {
        judge_in_time(&line);
    }

    #[test]
    fn shell_like_text_never_panics(parts in prop::collection::vec(fragment(), 0..24)) {
        judge_in_time(&parts.concat());
    }
}

#[test]
fn pathological_inputs_stay_bounded() {
    let nested = format!("{}true{}", "bash -c '".repeat(40), "'".repeat(40));
    judge_in_time(&nested);
    let subst = format!("{}x{}", "$(".repeat(200), ")".repeat(200));
    judge_in_time(&subst);
    let braces = "{a,b}".repeat(30);
    judge_in_time(&format!("echo {braces}"));
    let pipes = vec!["cat"; 2000].join(" | ");
    judge_in_time(&pipes);
    let evals = format!("{}true", "eval ".repeat(500));
    judge_in_time(&evals);
}

#[test]
fn deep_keyword_nesting_stays_bounded() {
    let ifs = format!("{}true{}", "if true; then ".repeat(300), "; fi".repeat(300));
    judge_in_time(&ifs);
    let loops = format!(
        "{}true{}",
        "while true; do ".repeat(300),
        "; done".repeat(300)
    );
    judge_in_time(&loops);
    let bangs = format!("{}true", "! ".repeat(3000));
    judge_in_time(&bangs);
    let quotes = format!("echo {}", "\"$(echo ".repeat(60));
    judge_in_time(&quotes);
}
