//! Configuration files: precedence, where each value comes from, the store root and the
//! policy they set, and that what runs in the view cannot change its own workspace's
//! configuration.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// A policy that denies `true`, which the built-in policy allows.
const DENY_TRUE: &str = r#"
[[rule]]
id = "local.no_true"
category = "infra"
decision = "deny"
reason = "true is forbidden here"
programs = ["true"]
match = ["true"]
not_match = ["ls"]
"#;

/// `ftsb-fs --json config [WS]`.
fn config_json(c: &mut Command, ws: Option<&Path>) -> serde_json::Value {
    c.arg("--json").arg("config");
    if let Some(ws) = ws {
        c.arg(ws);
    }
    let out = run_ok(c);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_workspace_file_beats_the_users_and_each_value_says_where_it_is_from() {
    let t = tempfile::tempdir().unwrap();
    let xdg = t.path().join("xdg");
    let ws = t.path().join("ws");
    std::fs::create_dir_all(xdg.join("ftsb-fs")).unwrap();
    std::fs::create_dir(&ws).unwrap();
    let user = xdg.join("ftsb-fs/config.toml");
    std::fs::write(
        &user,
        "net = \"deny\"\nlinger = \"5s\"\npolicy = \"user-policy.toml\"\nstore_root = \"~/stores\"\n",
    )
    .unwrap();
    std::fs::write(ws.join(".ftsb-fs.toml"), "net = \"allow\"\n").unwrap();
    let mut c = Command::new(BIN);
    c.env("XDG_CONFIG_HOME", &xdg).env("HOME", t.path());
    let v = config_json(&mut c, Some(&ws));
    // Without an argument, the current directory is the workspace.
    let mut c = Command::new(BIN);
    c.env("XDG_CONFIG_HOME", &xdg)
        .env("HOME", t.path())
        .current_dir(&ws);
    assert_eq!(config_json(&mut c, None), v);
    let src = |k: &str| v[k]["source"].as_str().unwrap().to_owned();
    let val = |k: &str| v[k]["value"].clone();
    assert_eq!(val("net"), "allow", "{v}");
    assert_eq!(src("net"), ws.join(".ftsb-fs.toml").display().to_string());
    assert_eq!(val("linger"), "5s");
    assert_eq!(src("linger"), user.display().to_string());
    assert_eq!(
        val("policy"),
        xdg.join("ftsb-fs/user-policy.toml").display().to_string(),
        "relative to the file"
    );
    assert_eq!(
        val("store_root"),
        t.path().join("stores").display().to_string(),
        "~ is the home"
    );
    // Nothing configured: built-in defaults.
    let mut c = Command::new(BIN);
    c.env("XDG_CONFIG_HOME", t.path().join("none"))
        .env("XDG_STATE_HOME", t.path().join("state"))
        .current_dir(t.path());
    let v = config_json(&mut c, None);
    assert_eq!(v["net"]["value"], serde_json::Value::Null);
    assert_eq!(v["policy"]["source"], "default");
    assert_eq!(
        v["store_root"]["value"],
        t.path().join("state/ftsb-fs").display().to_string()
    );
}

#[test]
fn a_broken_file_is_a_config_error_naming_its_line() {
    let t = tempfile::tempdir().unwrap();
    let ws = t.path().join("ws");
    std::fs::create_dir(&ws).unwrap();
    std::fs::write(ws.join(".ftsb-fs.toml"), "net = \"deny\"\npolcy = \"x\"\n").unwrap();
    let out = output(
        Command::new(BIN)
            .env("XDG_CONFIG_HOME", t.path())
            .args(["--json", "config"])
            .arg(&ws),
    );
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["code"], "config", "{v}");
    let msg = v["error"].as_str().unwrap();
    assert!(msg.contains(".ftsb-fs.toml:2:"), "{msg}");
    // A mount refuses it before anything is mounted.
    let view = t.path().join("view");
    std::fs::create_dir(&view).unwrap();
    let out = output(
        Command::new(BIN)
            .env("XDG_CONFIG_HOME", t.path())
            .env("XDG_STATE_HOME", t.path().join("state"))
            .arg("mount")
            .arg(&ws)
            .arg("--at")
            .arg(&view),
    );
    assert!(!out.status.success());
    assert!(!is_mounted(&view));
}

#[test]
fn the_configured_store_root_and_policy_are_used() {
    let t = tempfile::tempdir().unwrap();
    let xdg = t.path().join("xdg");
    std::fs::create_dir_all(xdg.join("ftsb-fs")).unwrap();
    std::fs::write(xdg.join("ftsb-fs/deny-true.toml"), DENY_TRUE).unwrap();
    std::fs::write(
        xdg.join("ftsb-fs/config.toml"),
        "store_root = \"stores\"\npolicy = \"deny-true.toml\"\n",
    )
    .unwrap();
    // gate check: the configured policy, unless --policy says otherwise.
    let gate = |extra: &[&str]| {
        let out = output(
            Command::new(BIN)
                .env("XDG_CONFIG_HOME", &xdg)
                .current_dir(t.path())
                .args(["gate", "check"])
                .args(extra)
                .args(["--", "true"]),
        );
        out.status.code()
    };
    assert_eq!(gate(&[]), Some(3));
    let empty = t.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    assert_eq!(gate(&["--policy", empty.to_str().unwrap()]), Some(0));
    // mount: the store goes under the configured root.
    let mut m = Mounted::at(sample_tree);
    m.unmount_abort();
    let out = run_ok(
        m.cmd()
            .env("XDG_CONFIG_HOME", &xdg)
            .args(["--json", "mount"])
            .arg(&m.ws)
            .arg("--at")
            .arg(&m.view),
    );
    let v = m.adopt(&out);
    let store = Path::new(v["store"].as_str().unwrap());
    assert!(store.starts_with(xdg.join("ftsb-fs/stores")), "{v}");
    assert!(store.join("meta.db").exists());
    // exec: the configured policy.
    let out = output(
        m.cmd()
            .env("XDG_CONFIG_HOME", &xdg)
            .arg("exec")
            .arg(&m.ws)
            .args(["--no-confine", "--", "true"]),
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
}

#[test]
fn the_view_cannot_change_its_own_workspaces_configuration() {
    let mut m = Mounted::in_place(|ws| {
        std::fs::write(ws.join(".ftsb-fs.toml"), "policy = \"policy.toml\"\n").unwrap();
        std::fs::write(ws.join("policy.toml"), DENY_TRUE).unwrap();
    });
    let xdg = m.root.path().join("no-user-config");
    let exec_true = |m: &Mounted| {
        output(
            m.cmd()
                .env("XDG_CONFIG_HOME", &xdg)
                .arg("exec")
                .arg(&m.ws)
                .args(["--no-confine", "--", "true"]),
        )
        .status
        .code()
    };
    assert_eq!(exec_true(&m), Some(3));
    // Inside the view, something rewrites both files to let `true` through.
    std::fs::write(m.v("policy.toml"), "").unwrap();
    std::fs::write(m.v(".ftsb-fs.toml"), "net = \"allow\"\n").unwrap();
    assert_eq!(exec_true(&m), Some(3), "the view changed its own policy");
    let v = config_json(
        m.cmd().env("XDG_CONFIG_HOME", &xdg).current_dir(&m.view),
        None,
    );
    assert_eq!(v["net"]["value"], serde_json::Value::Null, "{v}");
    assert!(
        v["policy"]["value"]
            .as_str()
            .unwrap()
            .starts_with(m.store.to_str().unwrap()),
        "{v}"
    );
    // Committed and mounted again, the new files apply.
    m.commit();
    m.unmount_abort();
    m.mount();
    assert_eq!(exec_true(&m), Some(0));
}

/// `net` and `linger` in the workspace file are `exec`'s defaults, as `config` shows them: a
/// user who wrote `net = "deny"` must not get a command that reaches the network.
#[test]
fn the_configured_net_and_linger_are_execs_defaults() {
    if !require(
        ftsb_fs::confine::probe().abi >= 4,
        "the configured --net test",
        "this kernel lacks Landlock ABI 4 (TCP rules)",
    ) || !have("python3")
    {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let m = Mounted::in_place(|ws| {
        std::fs::write(
            ws.join(".ftsb-fs.toml"),
            "net = \"deny\"\nlinger = \"wait\"\n",
        )
        .unwrap();
        std::fs::write(
            ws.join("probe.py"),
            format!(
                "import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}))\n    print('CONNECTED')\nexcept OSError as e:\n    print('REFUSED', e)\n"
            ),
        )
        .unwrap();
    });
    let xdg = m.root.path().join("no-user-config");
    let exec = |extra: &[&str], cmd: &[&str]| {
        let out = output(
            m.cmd()
                .env("XDG_CONFIG_HOME", &xdg)
                .arg("exec")
                .args(extra)
                .arg(&m.ws)
                .arg("--")
                .args(cmd),
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let probe = exec(&[], &["python3", "probe.py"]);
    assert!(probe.contains("REFUSED"), "net = \"deny\" ignored: {probe}");
    // A flag still beats the file.
    let probe = exec(&["--net", "allow"], &["python3", "probe.py"]);
    assert!(probe.contains("CONNECTED"), "{probe}");
    // linger = "wait": what the command leaves running finishes its work.
    exec(
        &[],
        &["sh", "-c", "(sleep 1; echo late > late.txt) & exit 0"],
    );
    assert_eq!(
        std::fs::read_to_string(m.v("late.txt")).ok().as_deref(),
        Some("late\n"),
        "linger = \"wait\" ignored"
    );
    drop(listener);
}
