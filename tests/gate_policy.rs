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

mod policy_files {
    use std::io::Write;
    use std::path::PathBuf;

    use ftsb_fs::gate::{Context, Decision, Gate};

    fn ctx() -> Context {
        Context {
            cwd: PathBuf::from("/home/dev/project"),
            workspace: Some(PathBuf::from("/home/dev/project")),
            home: Some(PathBuf::from("/home/dev")),
        }
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(text.as_bytes()).expect("write policy");
        f
    }

    #[test]
    fn a_file_overrides_a_builtin_decision() {
        let f = file(
            "[[rule]]\nid = \"git.discard_changes\"\ndecision = \"ask\"\nmatch = [\"git -C ../other reset --hard\"]\n",
        );
        let gate = Gate::load(Some(f.path())).expect("policy loads");
        let v = gate.judge("git -C ../other reset --hard", &ctx());
        assert_eq!(v.decision, Decision::Ask);
        assert_eq!(v.rule.as_deref(), Some("git.discard_changes"));
    }

    #[test]
    fn a_file_adds_a_rule_checked_by_its_examples() {
        let f = file(concat!(
            "[[rule]]\n",
            "id = \"supply.npm_publish\"\n",
            "category = \"supply_chain\"\n",
            "decision = \"deny\"\n",
            "reason = \"publishing needs a human\"\n",
            "programs = [\"npm\", \"pnpm\"]\n",
            "args = [\"publish\"]\n",
            "match = [\"npm publish\", \"sudo env X=1 pnpm publish --tag next\"]\n",
            "not_match = [\"npm pack\"]\n",
        ));
        let gate = Gate::load(Some(f.path())).expect("policy loads");
        let v = gate.judge("bash -c 'npm publish'", &ctx());
        assert_eq!(v.decision, Decision::Deny);
        assert_eq!(v.category.as_deref(), Some("supply_chain"));
        assert_eq!(v.wrappers, vec!["bash -c".to_string()]);
    }

    #[test]
    fn an_allow_rule_makes_an_exception_for_trusted_programs_only() {
        let f = file(concat!(
            "[[rule]]\n",
            "id = \"local.volumes\"\n",
            "category = \"infra\"\n",
            "decision = \"allow\"\n",
            "reason = \"this project recreates its volumes\"\n",
            "programs = [\"docker\"]\n",
            "args = [\"volume\", \"rm\"]\n",
        ));
        let gate = Gate::load(Some(f.path())).expect("policy loads");
        assert_eq!(
            gate.judge("docker volume rm pgdata", &ctx()).decision,
            Decision::Allow
        );
        assert_eq!(
            gate.judge("./docker volume rm pgdata", &ctx()).decision,
            Decision::Deny
        );
    }

    #[test]
    fn ask_can_be_mapped_but_fail_closed_asks_never_allow() {
        let f = file("[settings]\nask = \"allow\"\n");
        let gate = Gate::load(Some(f.path())).expect("policy loads");
        assert_eq!(gate.judge("killall node", &ctx()).decision, Decision::Allow);
        assert_eq!(gate.judge("$CMD x", &ctx()).decision, Decision::Ask);
        let f = file("[settings]\nask = \"deny\"\n");
        let gate = Gate::load(Some(f.path())).expect("policy loads");
        assert_eq!(gate.judge("$CMD x", &ctx()).decision, Decision::Deny);
    }

    #[test]
    fn a_syntax_error_names_file_and_line() {
        let f = file("[settings]\nask = \"ask\"\n\n[[rule]\nid = 1\n");
        let err = Gate::load(Some(f.path()))
            .expect_err("bad toml")
            .to_string();
        let name = f.path().display().to_string();
        assert!(err.starts_with(&format!("{name}:4:")), "{err}");
    }

    #[test]
    fn a_failing_example_names_file_and_line() {
        let f = file("[[rule]]\nid = \"git.force_push\"\nmatch = [\n  \"git push\",\n]\n");
        let err = Gate::load(Some(f.path()))
            .expect_err("example must fail")
            .to_string();
        let name = f.path().display().to_string();
        assert!(err.starts_with(&format!("{name}:4:")), "{err}");
        assert!(err.contains("git push"), "{err}");
    }

    #[test]
    fn unknown_ids_and_fields_are_errors() {
        let f = file("[[rule]]\nid = \"no.such\"\ndecision = \"deny\"\n");
        assert!(Gate::load(Some(f.path())).is_err());
        let f = file("[[rule]]\nid = \"git.force_push\"\ndecisoin = \"deny\"\n");
        assert!(Gate::load(Some(f.path())).is_err());
        let f = file("[[rule]]\nid = \"git.force_push\"\ndecision = \"maybe\"\n");
        let err = Gate::load(Some(f.path()))
            .expect_err("bad decision")
            .to_string();
        assert!(err.contains(":2:"), "{err}");
    }
}
