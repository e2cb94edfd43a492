//! The default policy's own examples, all listed at once when any fails.

use ftsb_fs::gate::Gate;

#[test]
fn default_policy_examples_hold() {
    let gate = Gate::load_unchecked(None).expect("default policy parses");
    let failures = gate.example_failures();
    for f in &failures {
        println!("{f}");
    }
    assert!(failures.is_empty(), "{} failing examples", failures.len());
}
