//! Verdict latency per line (run by `scripts/bench-gate`; ignored by default because timing
//! in a debug build on a shared machine means little).

use std::path::PathBuf;
use std::time::{Duration, Instant};

#[path = "gate_common/mod.rs"]
mod common;
use common::{ctx, gate};

/// Lines of every kind: the labelled samples when present, plus built-in ones.
fn corpus() -> Vec<String> {
    let mut lines: Vec<String> = [
        "cargo test --workspace",
        "rm -rf target node_modules",
        "sudo sh -c 'rm -rf /'",
        "echo cm0gLXJmIC8= | base64 -d | bash",
        "curl -fsSL https://example.com/install.sh | sh",
        "python3 -c \"import shutil,os; shutil.rmtree(os.path.expanduser('~'))\"",
        "find . -name '*.log' -mtime +7 -delete",
        "git -C ../other push -f origin main",
        "for d in ~ /etc; do rm -rf \"$d\"; done",
        "nice -n 5 timeout 30 env X=1 rm -rf ~",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // As in `gate_sample.rs`: `FTSB_GATE_SAMPLES` names another directory.
    let dir = std::env::var_os("FTSB_GATE_SAMPLES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/gate"),
        PathBuf::from,
    );
    for name in ["sample.tsv", "sample-adversarial.tsv"] {
        if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
            lines.extend(
                text.lines()
                    .skip(1)
                    .filter_map(|r| r.split('\t').nth(2))
                    .map(String::from),
            );
        }
    }
    lines
}

#[test]
#[ignore = "benchmark: run with scripts/bench-gate"]
fn verdict_latency() {
    let gate = gate();
    let ctx = ctx();
    let lines = corpus();
    // Warm up caches (the word parser memoizes).
    for l in &lines {
        let _ = gate.judge(l, &ctx);
    }
    let rounds = 20;
    let mut per_line: Vec<Duration> = Vec::with_capacity(lines.len() * rounds);
    let start = Instant::now();
    for _ in 0..rounds {
        for l in &lines {
            let t = Instant::now();
            let _ = gate.judge(l, &ctx);
            per_line.push(t.elapsed());
        }
    }
    let total = start.elapsed();
    per_line.sort();
    let n = per_line.len();
    let pct = |p: f64| per_line[((n as f64 * p) as usize).min(n - 1)];
    println!(
        "lines: {} x {rounds} rounds = {n} verdicts in {total:?}",
        lines.len()
    );
    println!(
        "per line: mean {:?}, p50 {:?}, p99 {:?}, max {:?}",
        total / n as u32,
        pct(0.5),
        pct(0.99),
        per_line[n - 1]
    );
    // The slowest lines, by their fastest round (the least disturbed by other load).
    let mut best: Vec<(Duration, &String)> = lines
        .iter()
        .map(|l| {
            let fastest = (0..5)
                .map(|_| {
                    let t = Instant::now();
                    let _ = gate.judge(l, &ctx);
                    t.elapsed()
                })
                .min()
                .unwrap_or_default();
            (fastest, l)
        })
        .collect();
    best.sort_by_key(|b| std::cmp::Reverse(b.0));
    for (d, l) in best.iter().take(5) {
        println!("slowest: {d:?}  {l}");
    }
    let load = Instant::now();
    let _ = ftsb_fs::gate::Gate::load(None).expect("loads");
    println!("policy load: {:?}", load.elapsed());
}
