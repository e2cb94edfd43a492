//! Confinement against real processes: each test builds a fake home with secrets, a view, a
//! scratch dir and a fake store in a temp dir, runs a confined command, and checks both the
//! command's failure (exit code, EACCES/EPERM) and the absence of its effects.
//!
//! Network and abstract-socket probes re-execute this test binary as the child
//! (`child_helper`, driven by `FTSB_CONFINE_CHILD`), so no python or netcat is needed.
//! Tests that need `FTSB_FS_LANDLOCK=off` also run in a child: setting a variable in this
//! process would leak into the tests running beside it.
//!
//! Everything sits in `mod confine` so that `cargo test confine` selects these tests by name.

mod common;

mod confine {
    use crate::common::open_pty;
    use std::net::{TcpListener, TcpStream};
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output, Stdio};

    use ftsb_fs::confine::{self, Net, Report, Spec, Status};

    const CHILD_ENV: &str = "FTSB_CONFINE_CHILD";
    const SECRET: &str = "SECRET-KEY-MATERIAL";

    /// Exit codes of the child helper. None is 0, so that a child whose harness ran no test
    /// (a wrong filter) cannot pass for one that connected.
    const OK: i32 = 10;
    const DENIED: i32 = 13;
    const OTHER: i32 = 1;

    struct Fixture {
        _tmp: tempfile::TempDir,
        home: PathBuf,
        view: PathBuf,
        scratch: PathBuf,
        other: PathBuf,
        /// A store in the default place, under the fake home.
        store: PathBuf,
        /// A store given with `--store`, elsewhere.
        custom_store: PathBuf,
    }

    fn fixture() -> Fixture {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().to_path_buf();
        let home = root.join("home");
        let view = home.join("work/project");
        let scratch = root.join("scratch");
        let other = root.join("other-project");
        let store = home.join(".local/state/ftsb-fs/ws1");
        let custom_store = root.join("custom-store");
        for d in [
            &view,
            &scratch,
            &other,
            &store,
            &custom_store,
            &home.join(".ssh"),
        ] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        std::fs::write(home.join(".ssh/id_ed25519"), SECRET).expect("write key");
        std::fs::write(home.join(".profile"), "original\n").expect("write profile");
        std::fs::write(other.join("main.rs"), "original\n").expect("write other");
        std::fs::write(store.join("meta.db"), SECRET).expect("write store");
        std::fs::write(custom_store.join("meta.db"), SECRET).expect("write store");
        Fixture {
            _tmp: tmp,
            home,
            view,
            scratch,
            other,
            store,
            custom_store,
        }
    }

    impl Fixture {
        fn spec(&self) -> Spec {
            Spec::for_view(
                &self.view,
                &self.scratch,
                Some(&self.home),
                std::slice::from_ref(&self.custom_store),
            )
        }

        fn sh(&self, script: &str) -> Command {
            let mut cmd = Command::new("/bin/sh");
            cmd.arg("-c")
                .arg(script)
                .env_clear()
                .env("HOME", &self.home)
                .env("PATH", "/usr/local/bin:/usr/bin:/bin")
                .current_dir(&self.view);
            cmd
        }

        /// Runs `script` confined by `spec`, requiring full confinement.
        fn run(&self, spec: &Spec, script: &str) -> (Report, Output) {
            let mut cmd = self.sh(script);
            let report = confine::confine_command(&mut cmd, spec, true).expect("confine");
            let out = cmd.output().expect("spawn");
            (report, out)
        }
    }

    fn stderr(out: &Output) -> String {
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn assert_denied(out: &Output) {
        assert!(!out.status.success(), "command succeeded: {out:?}");
        let err = stderr(out);
        assert!(
            err.contains("Permission denied") || err.contains("Operation not permitted"),
            "not a denial: {err}"
        );
    }

    fn assert_original(path: &Path) {
        let now = std::fs::read_to_string(path).expect("read");
        assert_eq!(now, "original\n", "{} was modified", path.display());
    }

    #[test]
    fn cannot_write_in_home_outside_the_view() {
        let f = fixture();
        let (report, out) = f.run(&f.spec(), "echo evil > \"$HOME/.bashrc\"");
        assert_eq!(report.status, Status::Full, "{report:?}");
        assert_denied(&out);
        assert!(!f.home.join(".bashrc").exists());

        let (_, out) = f.run(&f.spec(), "echo evil >> \"$HOME/.profile\"");
        assert_denied(&out);
        let (_, out) = f.run(&f.spec(), "rm -f \"$HOME/.profile\"");
        assert_denied(&out);
        assert_original(&f.home.join(".profile"));
    }

    #[test]
    fn cannot_write_another_directory() {
        let f = fixture();
        let script = format!("echo evil > '{}/new.rs'", f.other.display());
        let (_, out) = f.run(&f.spec(), &script);
        assert_denied(&out);
        assert!(!f.other.join("new.rs").exists());
        let script = format!("echo evil > '{}/main.rs'", f.other.display());
        let (_, out) = f.run(&f.spec(), &script);
        assert_denied(&out);
        assert_original(&f.other.join("main.rs"));
    }

    #[test]
    fn cannot_write_etc_even_as_root() {
        let f = fixture();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos();
        let target = PathBuf::from(format!(
            "/etc/ftsb-confine-test-{}-{nanos}",
            std::process::id()
        ));
        let (_, out) = f.run(&f.spec(), &format!("echo evil > '{}'", target.display()));
        let existed = target.exists();
        if existed {
            std::fs::remove_file(&target).expect("clean up");
        }
        assert_denied(&out);
        assert!(!existed, "{} was created", target.display());
    }

    #[test]
    fn cannot_make_device_nodes_even_as_root() {
        let f = fixture();
        // With capabilities kept, only Landlock stands between root and a raw disk node.
        let mut spec = f.spec();
        spec.drop_capabilities = false;
        for dir in [&f.scratch, &f.view] {
            let node = dir.join("disk");
            let (_, out) = f.run(&spec, &format!("mknod '{}' b 254 0", node.display()));
            let made = node.symlink_metadata().is_ok();
            assert_denied(&out);
            assert!(!made, "{} was created", node.display());
        }
    }

    #[test]
    fn a_root_command_runs_without_capabilities() {
        let f = fixture();
        let (report, out) = f.run(&f.spec(), "grep -E '^Cap(Eff|Bnd|Amb)' /proc/self/status");
        assert!(out.status.success(), "{}", stderr(&out));
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        assert_eq!(report.capabilities_dropped, root);
        if root {
            let caps = String::from_utf8_lossy(&out.stdout).into_owned();
            assert_eq!(caps.matches("0000000000000000").count(), 3, "{caps}");
        }
    }

    #[test]
    fn cannot_read_ssh_key_even_through_proc_self_root() {
        let f = fixture();
        for path in [
            f.home.join(".ssh/id_ed25519"),
            Path::new("/proc/self/root").join(
                f.home
                    .join(".ssh/id_ed25519")
                    .strip_prefix("/")
                    .expect("absolute"),
            ),
        ] {
            let (_, out) = f.run(&f.spec(), &format!("cat '{}'", path.display()));
            assert_denied(&out);
            assert!(!String::from_utf8_lossy(&out.stdout).contains(SECRET));
        }
        let (_, out) = f.run(&f.spec(), "ls \"$HOME/.ssh\"");
        assert_denied(&out);
    }

    #[test]
    fn cannot_read_or_write_the_store() {
        let f = fixture();
        for store in [&f.store, &f.custom_store] {
            let (_, out) = f.run(&f.spec(), &format!("cat '{}/meta.db'", store.display()));
            assert_denied(&out);
            assert!(!String::from_utf8_lossy(&out.stdout).contains(SECRET));
            let (_, out) = f.run(&f.spec(), &format!("ls '{}'", store.display()));
            assert_denied(&out);
            let (_, out) = f.run(
                &f.spec(),
                &format!("echo evil > '{}/journal'", store.display()),
            );
            assert_denied(&out);
            assert!(!store.join("journal").exists());
            let (_, out) = f.run(&f.spec(), &format!("rm -f '{}/meta.db'", store.display()));
            assert_denied(&out);
            assert!(store.join("meta.db").exists());
        }
    }

    #[test]
    fn cannot_read_the_store_through_a_parent_fd_in_proc() {
        let f = fixture();
        // The daemon holds the store open; a command must not reach it via /proc/<pid>/fd.
        let held = std::fs::File::open(f.custom_store.join("meta.db")).expect("open store");
        let fd = std::os::fd::AsRawFd::as_raw_fd(&held);
        let path = format!("/proc/{}/fd/{fd}", std::process::id());
        let (_, out) = f.run(&f.spec(), &format!("cat '{path}'"));
        assert!(!out.status.success(), "{out:?}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains(SECRET));
        drop(held);
    }

    #[test]
    fn a_grant_containing_a_deny_root_is_narrowed() {
        let f = fixture();
        let mut spec = f.spec();
        // The custom store's parent holds the other project too; granting it must not expose the store.
        let parent = f.custom_store.parent().expect("parent").to_path_buf();
        spec.add_writable(&parent);
        assert!(
            spec.notes.iter().any(|n| n.starts_with("narrowed grant")),
            "{:?}",
            spec.notes
        );
        let (report, out) = f.run(
            &spec,
            &format!("cat '{}/meta.db'", f.custom_store.display()),
        );
        assert!(
            report
                .warnings
                .iter()
                .any(|w| w.starts_with("narrowed grant"))
        );
        assert_denied(&out);
        let (_, out) = f.run(&spec, &format!("echo ok > '{}/new.rs'", f.other.display()));
        assert!(out.status.success(), "{}", stderr(&out));
    }

    /// This test binary, set up to run only `child_helper` in `mode`.
    fn child_cmd(mode: &str) -> Command {
        let exe = std::env::current_exe().expect("current exe");
        let mut cmd = Command::new(&exe);
        cmd.args([
            "--exact",
            "confine::child_helper",
            "--nocapture",
            "--test-threads=1",
        ])
        .arg("-q")
        .env(CHILD_ENV, mode)
        .stdin(Stdio::null());
        cmd
    }

    /// Checks that `spec`, which covers all of HOME, was narrowed with a note and still keeps
    /// the key and the store unreadable and unwritable, while `allowed` runs.
    fn assert_home_grant_hides_secrets(f: &Fixture, spec: &Spec, allowed: &str) {
        let noted = spec.notes.iter().any(|n| n.contains(".ssh"));
        assert!(noted, "{:?}", spec.notes);
        let (_, out) = f.run(spec, allowed);
        assert!(out.status.success(), "{}", stderr(&out));
        for secret in [f.home.join(".ssh/id_ed25519"), f.store.join("meta.db")] {
            let (_, out) = f.run(spec, &format!("cat '{}'", secret.display()));
            assert_denied(&out);
            assert!(!String::from_utf8_lossy(&out.stdout).contains(SECRET));
            let (_, out) = f.run(spec, &format!("echo evil > '{}'", secret.display()));
            assert_denied(&out);
            assert_eq!(std::fs::read_to_string(&secret).expect("read"), SECRET);
        }
    }

    #[test]
    fn a_policy_granting_all_of_home_still_hides_secrets_and_store() {
        let f = fixture();
        let mut spec = f.spec();
        spec.add_readable(&f.home);
        assert_home_grant_hides_secrets(&f, &spec, "cat \"$HOME/.profile\"");
    }

    #[test]
    fn a_view_that_is_all_of_home_is_narrowed_around_secrets_and_store() {
        let f = fixture();
        let spec = Spec::for_view(&f.home, &f.scratch, Some(&f.home), &[]);
        assert_home_grant_hides_secrets(&f, &spec, "echo more >> \"$HOME/.profile\"");
    }

    #[test]
    fn links_and_renames_cannot_pull_secrets_into_the_view() {
        let f = fixture();
        let key = f.home.join(".ssh/id_ed25519");
        let ssh = f.home.join(".ssh");
        for script in [
            format!("ln '{}' k1 && cat k1", key.display()),
            format!("ln -s '{}' k2 && cat k2", key.display()),
            format!("mv '{}' k3 && cat k3", key.display()),
            format!("mv '{}' k4 && cat k4/id_ed25519", ssh.display()),
        ] {
            let (_, out) = f.run(&f.spec(), &script);
            assert!(!out.status.success(), "{script} succeeded");
            // Landlock answers a link or rename that would widen access with EXDEV, so that
            // tools fall back to copying, which then fails to read the source.
            let err = stderr(&out);
            assert!(
                err.contains("Permission denied") || err.contains("Invalid cross-device link"),
                "{script}: {err}"
            );
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(!stdout.contains(SECRET), "{script}");
        }
        assert_eq!(std::fs::read_to_string(&key).expect("key"), SECRET);
    }

    #[test]
    fn cannot_read_another_process_environment() {
        let f = fixture();
        let path = format!("/proc/{}/environ", std::process::id());
        let (_, out) = f.run(&f.spec(), &format!("cat '{path}'"));
        assert_denied(&out);
        assert!(out.stdout.is_empty());
    }

    /// Runs this test binary as a child in `mode`, confined by `spec` when given.
    fn run_child(mode: &str, spec: Option<&Spec>) -> Output {
        let mut cmd = child_cmd(mode);
        if let Some(spec) = spec {
            let mut spec = spec.clone();
            spec.add_readable(std::env::current_exe().expect("current exe"));
            confine::confine_command(&mut cmd, &spec, true).expect("confine");
        }
        cmd.output().expect("spawn child")
    }

    /// The child side of the probes; a no-op in a normal test run.
    #[test]
    fn child_helper() {
        let Ok(mode) = std::env::var(CHILD_ENV) else {
            return;
        };
        let code = match mode.split_once(':') {
            Some(("abstract", name)) => {
                let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("addr");
                code_of(UnixStream::connect_addr(&addr).map(drop))
            }
            Some(("tcp", port)) => code_of(
                TcpStream::connect(("127.0.0.1", port.parse::<u16>().expect("port"))).map(drop),
            ),
            Some(("unix", path)) => code_of(UnixStream::connect(path).map(drop)),
            Some(("socket", args)) => make_socket(args),
            Some(("open", path)) => code_of(
                std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(path)
                    .map(drop),
            ),
            Some(("tiocsti", text)) => code_of(inject(text, 0)),
            // The kernel takes the request as 32 bits: set bits above them must not matter.
            Some(("tiocsti-wide", text)) => code_of(inject(text, 1 << 32)),
            Some(("fallback", home)) => fallback(Path::new(home)),
            _ => OTHER,
        };
        std::process::exit(code);
    }

    /// `socket(DOMAIN, TYPE, PROTOCOL)` from `"DOMAIN:TYPE:PROTOCOL"`, or `socketpair` for
    /// `"pair:DOMAIN"`.
    fn make_socket(args: &str) -> i32 {
        let n: Vec<i32> = args.split(':').filter_map(|a| a.parse().ok()).collect();
        let mut fds = [-1; 2];
        let rc = match (args.starts_with("pair:"), n.as_slice()) {
            // SAFETY: socketpair writes two fds into `fds`.
            (true, [domain]) => unsafe {
                libc::socketpair(*domain, libc::SOCK_STREAM, 0, fds.as_mut_ptr())
            },
            // SAFETY: socket takes integers only.
            (false, [domain, ty, proto]) => unsafe { libc::socket(*domain, *ty, *proto) },
            _ => return OTHER,
        };
        code_of(if rc < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        })
    }

    /// `ioctl(1, TIOCSTI | high, c)` for each byte of `text`: pushes it into the input of the
    /// terminal that is our stdout.
    fn inject(text: &str, high: u64) -> std::io::Result<()> {
        for c in text.bytes() {
            // SAFETY: TIOCSTI reads one byte from the pointer, which lives across the call.
            let rc =
                unsafe { libc::syscall(libc::SYS_ioctl, 1, libc::TIOCSTI | high, &c as *const u8) };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }

    fn code_of(r: std::io::Result<()>) -> i32 {
        match r {
            Ok(()) => OK,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EPERM)) => DENIED,
            Err(e) => {
                eprintln!("child: {e}");
                OTHER
            }
        }
    }

    #[test]
    fn cannot_connect_to_an_abstract_unix_socket_outside() {
        let f = fixture();
        let name = format!(
            "ftsb-fs.test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        );
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("addr");
        let listener = UnixListener::bind_addr(&addr).expect("bind abstract");
        listener.set_nonblocking(true).expect("nonblocking");
        // Control: unconfined, the same child reaches the socket, so the probe can tell.
        let out = run_child(&format!("abstract:{name}"), None);
        assert_eq!(
            out.status.code(),
            Some(OK),
            "control failed: {}",
            stderr(&out)
        );
        let out = run_child(&format!("abstract:{name}"), Some(&f.spec()));
        assert_eq!(out.status.code(), Some(DENIED), "{}", stderr(&out));
    }

    /// Landlock does not govern connect() to a pathname unix socket; the connect broker does:
    /// a socket outside the view and `TMPDIR` (here an ssh-agent's, in a directory the command
    /// cannot read) is refused, one in the view connects.
    #[test]
    fn pathname_unix_sockets_connect_only_in_the_view_and_tmpdir() {
        let f = fixture();
        let sock = f.home.join(".ssh/agent.sock");
        let _listener = UnixListener::bind(&sock).expect("bind");
        let out = run_child(&format!("unix:{}", sock.display()), None);
        assert_eq!(out.status.code(), Some(OK), "control: {}", stderr(&out));
        let out = run_child(&format!("unix:{}", sock.display()), Some(&f.spec()));
        assert_eq!(out.status.code(), Some(DENIED), "{}", stderr(&out));
        let inside = f.view.join("own.sock");
        let _own = UnixListener::bind(&inside).expect("bind");
        let out = run_child(&format!("unix:{}", inside.display()), Some(&f.spec()));
        assert_eq!(out.status.code(), Some(OK), "{}", stderr(&out));
    }

    #[test]
    fn cannot_signal_a_process_outside() {
        let f = fixture();
        let mut victim = Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let (report, out) = f.run(&f.spec(), &format!("kill -TERM {}", victim.id()));
        let alive = victim.try_wait().expect("try_wait").is_none();
        victim.kill().expect("kill victim");
        victim.wait().expect("reap");
        assert!(report.signals_scoped);
        assert_denied(&out);
        assert!(
            alive,
            "the confined command killed a process outside its domain"
        );
    }

    #[test]
    fn net_deny_blocks_tcp_and_allow_ports_opens_one() {
        let f = fixture();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mode = format!("tcp:{port}");

        let mut spec = f.spec();
        let out = run_child(&mode, Some(&spec));
        assert_eq!(
            out.status.code(),
            Some(OK),
            "allow failed: {}",
            stderr(&out)
        );

        spec.net = Net::Deny;
        let out = run_child(&mode, Some(&spec));
        assert_eq!(out.status.code(), Some(DENIED), "{}", stderr(&out));

        spec.net = Net::AllowPorts(vec![port]);
        let out = run_child(&mode, Some(&spec));
        assert_eq!(out.status.code(), Some(OK), "{}", stderr(&out));

        spec.net = Net::AllowPorts(vec![port.wrapping_add(1).max(1)]);
        let out = run_child(&mode, Some(&spec));
        assert_eq!(out.status.code(), Some(DENIED), "{}", stderr(&out));
    }

    /// Socket families and protocols Landlock has no rules for are refused by the seccomp filter
    /// under `deny` and `allow-ports`, and all work under `allow`.
    #[test]
    fn sockets_landlock_cannot_see_are_filtered_unless_net_allow() {
        let f = fixture();
        const MPTCP: i32 = 262;
        const NETLINK_AUDIT: i32 = 9;
        let (inet, inet6, stream, dgram) = (
            libc::AF_INET,
            libc::AF_INET6,
            libc::SOCK_STREAM,
            libc::SOCK_DGRAM,
        );
        let filtered = [
            ("mptcp", format!("{inet}:{stream}:{MPTCP}")),
            ("mptcp6", format!("{inet6}:{stream}:{MPTCP}")),
            ("udp", format!("{inet}:{dgram}:0")),
            ("udp6", format!("{inet6}:{dgram}:0")),
            (
                "udp nonblocking",
                format!(
                    "{inet}:{}:0",
                    dgram | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC
                ),
            ),
            (
                "netlink audit",
                format!("{}:{dgram}:{NETLINK_AUDIT}", libc::AF_NETLINK),
            ),
        ];
        let kept = [
            ("tcp", format!("{inet}:{stream}:0")),
            (
                "tcp cloexec",
                format!(
                    "{inet6}:{}:{}",
                    stream | libc::SOCK_CLOEXEC,
                    libc::IPPROTO_TCP
                ),
            ),
            ("unix", format!("{}:{dgram}:0", libc::AF_UNIX)),
            (
                "netlink route",
                format!("{}:{dgram}:{}", libc::AF_NETLINK, libc::NETLINK_ROUTE),
            ),
            ("unix pair", format!("pair:{}", libc::AF_UNIX)),
        ];
        let mut spec = f.spec();
        for (what, args) in filtered.iter().chain(&kept) {
            let out = run_child(&format!("socket:{args}"), Some(&spec));
            assert_eq!(
                out.status.code(),
                Some(OK),
                "{what} under allow: {}",
                stderr(&out)
            );
        }
        for net in [Net::Deny, Net::AllowPorts(vec![443])] {
            spec.net = net.clone();
            for (what, args) in &filtered {
                let out = run_child(&format!("socket:{args}"), Some(&spec));
                assert_eq!(
                    out.status.code(),
                    Some(DENIED),
                    "{what} under {net:?}: {}",
                    stderr(&out)
                );
            }
            for (what, args) in &kept {
                let out = run_child(&format!("socket:{args}"), Some(&spec));
                assert_eq!(
                    out.status.code(),
                    Some(OK),
                    "{what} under {net:?}: {}",
                    stderr(&out)
                );
            }
        }
    }

    /// A pty pair opened here: the confined command cannot open its slave by path.
    #[test]
    fn cannot_open_another_terminal_by_path() {
        let f = fixture();
        let (_master, slave, path) = open_pty();
        drop(slave);
        let mode = format!("open:{}", path.display());
        let out = run_child(&mode, None);
        assert_eq!(out.status.code(), Some(OK), "control: {}", stderr(&out));
        let out = run_child(&mode, Some(&f.spec()));
        assert_eq!(out.status.code(), Some(DENIED), "{}", stderr(&out));
        let out = run_child("open:/dev/ptmx", Some(&f.spec()));
        assert_eq!(out.status.code(), Some(DENIED), "{}", stderr(&out));
    }

    /// TIOCSTI on a terminal fd the command inherited fails. As root with capabilities kept
    /// (CAP_SYS_ADMIN allows TIOCSTI on any terminal) only the seccomp filter stops it.
    #[test]
    fn tiocsti_on_an_inherited_terminal_fails() {
        let f = fixture();
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            assert!(
                std::env::var_os("CI").is_none(),
                "this test must run as root under CI"
            );
            eprintln!(
                "SKIP: TIOCSTI on a terminal that is not ours needs root to succeed unconfined"
            );
            return;
        }
        let (master, slave, _) = open_pty();
        let run = |mode: &str, spec: Option<&Spec>| {
            let mut cmd = child_cmd(mode);
            cmd.stdout(slave.try_clone().expect("dup"));
            if let Some(spec) = spec {
                let mut spec = spec.clone();
                spec.add_readable(std::env::current_exe().expect("current exe"));
                confine::confine_command(&mut cmd, &spec, true).expect("confine");
            }
            let out = cmd.output().expect("spawn");
            // The master stays open until here: without it, writes to the slave fail.
            let _ = &master;
            out
        };
        let mut spec = f.spec();
        spec.drop_capabilities = false;
        for mode in ["tiocsti:x", "tiocsti-wide:x"] {
            let out = run(mode, None);
            assert_eq!(
                out.status.code(),
                Some(OK),
                "control {mode}: {}",
                stderr(&out)
            );
            let out = run(mode, Some(&spec));
            assert_eq!(out.status.code(), Some(DENIED), "{mode}: {}", stderr(&out));
        }
    }

    #[test]
    fn can_write_the_view_and_tmpdir() {
        let f = fixture();
        let (report, out) = f.run(
            &f.spec(),
            "set -e; echo hi > a.txt; mkdir -p d/e; mv a.txt d/e/b.txt; echo t > \"$TMPDIR/t\"; \
         mv \"$TMPDIR/t\" t.txt; echo x > /dev/null; head -c 4 /dev/urandom > /dev/null",
        );
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        assert_eq!(
            std::fs::read_to_string(f.view.join("d/e/b.txt")).expect("read"),
            "hi\n"
        );
        assert_eq!(
            std::fs::read_to_string(f.view.join("t.txt")).expect("read"),
            "t\n"
        );
    }

    #[test]
    fn git_init_and_commit_in_the_view() {
        let f = fixture();
        let (_, out) = f.run(
            &f.spec(),
            "set -e; git init -q; echo hello > README; git add README; \
         git -c user.name=agent -c user.email=agent@example.invalid commit -qm first; \
         git log --oneline",
        );
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("first"));
        assert!(f.view.join(".git/HEAD").exists());
    }

    /// A toolchain home from `var`, or `$HOME/default` as rustup lays it out.
    fn tool_home(var: &str, default: &str) -> PathBuf {
        std::env::var_os(var)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(default))
    }

    fn cargo_home() -> PathBuf {
        tool_home("CARGO_HOME", ".cargo")
    }

    fn rustup_home() -> PathBuf {
        tool_home("RUSTUP_HOME", ".rustup")
    }

    #[test]
    fn cargo_builds_a_tiny_crate_in_the_view() {
        let f = fixture();
        std::fs::create_dir_all(f.view.join("src")).expect("mkdir");
        std::fs::write(
            f.view.join("Cargo.toml"),
            "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        )
        .expect("write");
        std::fs::write(
            f.view.join("src/main.rs"),
            "fn main() { println!(\"tiny ok\"); }\n",
        )
        .expect("write");
        let mut spec = f.spec();
        spec.add_cargo_home(&cargo_home());
        spec.add_readable(rustup_home());
        let mut cmd = f.sh("set -e; cargo build --offline -q; ./target/debug/tiny");
        let path = format!(
            "{}/bin:/usr/local/bin:/usr/bin:/bin",
            cargo_home().display()
        );
        cmd.env("PATH", path)
            .env("CARGO_HOME", cargo_home())
            .env("RUSTUP_HOME", rustup_home());
        confine::confine_command(&mut cmd, &spec, true).expect("confine");
        let out = cmd.output().expect("spawn");
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "tiny ok\n");
    }

    /// Child side of the fallback test: confines with Landlock forced off and prints what happened.
    fn fallback(home: &Path) -> i32 {
        let view = home.join("view");
        let spec = Spec::for_view(&view, &home.join("tmp"), Some(home), &[]);
        let script = format!("echo evil > '{}/.bashrc'", home.display());
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(&script);
        let report = confine::confine_command(&mut cmd, &spec, false).expect("no require");
        println!("REPORT {}", serde_json::to_string(&report).expect("json"));
        let ran = cmd.status().map(|s| s.success()).unwrap_or(false);
        println!("RAN {ran}");
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(&script);
        match confine::confine_command(&mut cmd, &spec, true) {
            Ok(_) => println!("REQUIRE accepted"),
            Err(e) => println!("REQUIRE {e}"),
        }
        println!(
            "PROBE {}",
            serde_json::to_string(&confine::probe()).expect("json")
        );
        OK
    }

    #[test]
    fn landlock_off_warns_and_require_refuses() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = child_cmd(&format!("fallback:{}", tmp.path().display()))
            .env(confine::DISABLE_ENV, "off")
            .output()
            .expect("spawn");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(OK), "{stdout}{}", stderr(&out));
        let line = |tag: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(tag))
                .unwrap_or_else(|| panic!("no {tag} in {stdout}"))
                .to_string()
        };
        let report: serde_json::Value = serde_json::from_str(&line("REPORT ")).expect("json");
        assert_eq!(report["status"], "none");
        assert_eq!(report["filesystem"], false);
        let first = report["warnings"][0].as_str().expect("warning");
        assert!(
            first.contains("FTSB_FS_LANDLOCK=off") && first.contains("unconfined"),
            "{first}"
        );
        // Unconfined, as reported: the write outside succeeds.
        assert_eq!(line("RAN "), "true");
        assert!(tmp.path().join(".bashrc").exists());
        let refusal = line("REQUIRE ");
        assert!(refusal.starts_with("confinement required"), "{refusal}");
        assert!(refusal.contains("FTSB_FS_LANDLOCK=off") && refusal.contains("filesystem rules"));
        let probe: serde_json::Value = serde_json::from_str(&line("PROBE ")).expect("json");
        assert_eq!(probe["status"], "none");
    }

    #[test]
    fn probe_reports_full_on_abi_6_and_later() {
        let report = confine::probe();
        assert!(report.abi >= 1, "this suite needs Landlock: {report:?}");
        if report.abi >= 6 {
            assert_eq!(report.status, Status::Full, "{report:?}");
            assert!(report.filesystem && report.network && report.abstract_unix_scoped);
        } else {
            assert_eq!(report.status, Status::Partial);
        }
    }
}
