//! Escape by daemon: a confined command (under `exec`) or agent (under `run`) asks a process
//! outside its cgroup leaf to do what it cannot, so that the work outlives the transaction and
//! writes outside the view. Each channel is tried with its real client against a server outside
//! the view: a daemon's own socket (by path, through a symlink in the view, through
//! `/proc/self/fd`), `tmux` and `screen` servers, a D-Bus bus, `systemd-run` (user and system),
//! the Docker API socket, an ssh-agent, `at` and `crontab`, and the kernel's objects shared by
//! the user's processes (SysV IPC, keyrings, message queues, another process's memory). Each test first shows that the same
//! attack works unconfined, so a refusal inside is the confinement's doing.
//!
//! The attack scripts are files in the view (`sh FILE`): the gate does not read them, so what
//! stops them here is the kernel confinement and its connect broker, not the gate.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod common;

use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use common::procs::{Killed, ssh_agent_with_key, wait_for};
use common::*;

/// Where the attack runs.
#[derive(Debug, Clone, Copy)]
enum Under {
    /// `ftsb-fs exec WS -- sh FILE`: the strict layer.
    Exec,
    /// `ftsb-fs run WS -- sh FILE`: the agent's layer.
    Run,
    /// `ftsb-fs run WS -- ftsb-fs exec WS -- sh FILE`: a command the agent's hook routed
    /// through `exec`, whose broker is `run`'s (a filter chain has one listener).
    RunExec,
}

const BOTH: [Under; 3] = [Under::Exec, Under::Run, Under::RunExec];

/// A mounted workspace, a fake `$HOME` and a directory outside the view (neither readable nor
/// writable from inside) where the servers live.
struct Setup {
    m: Mounted,
    home: PathBuf,
    out: PathBuf,
}

fn setup() -> Setup {
    let m = Mounted::at(sample_tree);
    let home = m.root.path().join("home");
    let out = m.root.path().join("outside");
    std::fs::create_dir(&home).unwrap();
    std::fs::create_dir(&out).unwrap();
    Setup { m, home, out }
}

/// Runs `script` from a file in the view, under `under`, with `$OUT` set in the script.
fn attack(s: &Setup, under: Under, script: &str) -> Output {
    attack_with(s, under, &[], script)
}

/// [`attack`], with more options for `run` (`run_args`, ignored under `exec`).
fn attack_with(s: &Setup, under: Under, run_args: &[&str], script: &str) -> Output {
    let file = s.m.v(&format!("attack-{under:?}.sh"));
    let body = format!("OUT='{}'\n{script}\n", s.out.display());
    std::fs::write(&file, body).unwrap();
    let mut c = s.m.cmd();
    c.env("HOME", &s.home).stdin(Stdio::null());
    match under {
        Under::Exec => c.arg("exec").arg(&s.m.ws),
        Under::Run => c.arg("run").args(run_args).arg(&s.m.ws),
        Under::RunExec => c
            .arg("run")
            .args(run_args)
            .arg(&s.m.ws)
            .args(["--", BIN, "exec"])
            .arg(&s.m.ws),
    };
    c.arg("--").arg("sh").arg(&file);
    output(&mut c)
}

/// Runs `script` unconfined (the control), with `$OUT` set.
fn unconfined(s: &Setup, script: &str) -> Output {
    let script = format!("OUT='{}'\n{script}\n", s.out.display());
    output(
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("HOME", &s.home),
    )
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A socket outside the view that counts the connections it gets (and closes each at once).
struct Trap {
    hits: Arc<AtomicUsize>,
}

impl Trap {
    fn at(path: &Path) -> Trap {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let listener = UnixListener::bind(path).unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(conn);
            }
        });
        Trap { hits }
    }

    fn take(&self) -> usize {
        self.hits.swap(0, Ordering::SeqCst)
    }
}

/// The user's own daemon listens on a socket outside the view. The attacker knows its path
/// and tries it directly, relative to the view, through a symlink it plants in the view, and
/// through `/proc/self/fd` of an `O_PATH` fd (which Landlock does not check).
#[test]
fn a_daemon_socket_outside_the_view_is_unreachable() {
    if !have("python3") {
        return;
    }
    let s = setup();
    let sock = s.out.join("daemon.sock");
    let trap = Trap::at(&sock);
    let probe = s.m.v("probe.py");
    std::fs::write(
        &probe,
        r#"
import os, socket, sys
sock = sys.argv[1]
def attempt(what, path):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        print("reached", what)
    except OSError as e:
        print("blocked", what, e)
attempt("absolute", sock)
attempt("relative", os.path.relpath(sock))
link = os.path.join(os.getcwd(), "link-%d.sock" % os.getpid())
try:
    os.symlink(sock, link)
    attempt("symlink", link)
finally:
    if os.path.lexists(link):
        os.unlink(link)
try:
    fd = os.open(sock, os.O_PATH)
    attempt("o_path", "/proc/self/fd/%d" % fd)
except OSError as e:
    print("blocked o_path open", e)
"#,
    )
    .unwrap();
    let script = format!(
        "cd '{}' && python3 '{}' \"$OUT/daemon.sock\"",
        s.m.view.display(),
        probe.display()
    );
    let control = unconfined(&s, &script);
    assert_eq!(
        text(&control).matches("reached").count(),
        4,
        "{}",
        text(&control)
    );
    // The trap's thread counts a connection when it accepts it, which may be after the
    // client saw it connected.
    wait_for("the daemon counted the control's connections", || {
        trap.hits.load(Ordering::SeqCst) >= 4
    });
    assert_eq!(trap.take(), 4);
    for under in BOTH {
        let out = attack(&s, under, &script);
        assert!(!text(&out).contains("reached"), "{under:?}: {}", text(&out));
        assert_eq!(
            text(&out).matches("blocked").count(),
            4,
            "{under:?}: {}",
            text(&out)
        );
        assert_eq!(trap.take(), 0, "{under:?}: the daemon got a connection");
    }
    // Each refusal reaches the audit log, on the entry of the exec (or, for an exec inside
    // run, whose broker is run's, of the run session).
    let log: serde_json::Value = serde_json::from_str(&s.m.ok(&["--json", "log"])).unwrap();
    let refused = |e: &serde_json::Value| {
        e["denials"].as_array().is_some_and(|d| {
            d.iter().any(|d| {
                d.as_str()
                    .is_some_and(|d| d.contains("outside/daemon.sock") && d.contains("refused"))
            })
        })
    };
    let entries = log.as_array().unwrap();
    let exec = entries
        .iter()
        .filter(|e| e["kind"] == "exec")
        .filter(|e| refused(e));
    let run = entries
        .iter()
        .filter(|e| e["kind"] == "run")
        .filter(|e| refused(e));
    assert_eq!((exec.count(), run.count()), (1, 2), "{log}");
    let text = s.m.ok(&["log"]);
    assert!(text.contains("denied="), "{text}");
    s.m.abort();
}

/// A socket inside the view (or the command's `TMPDIR`) still works: builds and test suites
/// start servers of their own.
#[test]
fn sockets_in_the_view_and_tmpdir_still_connect() {
    if !have("python3") {
        return;
    }
    let s = setup();
    let probe = s.m.v("own.py");
    std::fs::write(
        &probe,
        r#"
import os, socket, tempfile
for base in (os.getcwd(), tempfile.gettempdir()):
    path = os.path.join(base, "own-%d.sock" % os.getpid())
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(1)
    cli = socket.socket(socket.AF_UNIX)
    cli.connect(os.path.relpath(path))
    conn, _ = srv.accept()
    cli.sendall(b"ping")
    print("own", conn.recv(4).decode())
    os.unlink(path)
"#,
    )
    .unwrap();
    let script = format!(
        "cd '{}' && python3 '{}'",
        s.m.view.display(),
        probe.display()
    );
    for under in BOTH {
        let out = attack(&s, under, &script);
        assert_eq!(
            text(&out).matches("own ping").count(),
            2,
            "{under:?}: {}",
            text(&out)
        );
    }
    s.m.abort();
}

/// A `tmux` server started outside before the session: `run-shell` through it would run a
/// command outside every confinement, `new-window` would leave one running.
#[test]
fn a_tmux_server_outside_cannot_be_driven() {
    if !have("tmux") {
        return;
    }
    let s = setup();
    let sock = s.out.join("tmux.sock");
    run_ok(
        Command::new("tmux")
            .args(["-f", "/dev/null", "-S"])
            .arg(&sock)
            .args(["new-session", "-d", "-s", "outside", "sleep 600"]),
    );
    let kill = || {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&sock)
            .arg("kill-server")
            .output();
    };
    let script = |marker: &str| {
        format!(
            "tmux -S \"$OUT/tmux.sock\" run-shell \"touch '$OUT/{marker}'\" && echo reached\n\
             tmux -S \"$OUT/tmux.sock\" new-window -d 'sleep 600' && echo reached"
        )
    };
    let control = unconfined(&s, &script("control"));
    assert!(s.out.join("control").exists(), "{}", text(&control));
    for under in BOTH {
        let out = attack(&s, under, &script("escaped"));
        assert!(!text(&out).contains("reached"), "{under:?}: {}", text(&out));
        assert!(!s.out.join("escaped").exists(), "{under:?}: {}", text(&out));
    }
    kill();
    s.m.abort();
}

/// A `screen` session started outside: `-X screen CMD` opens a window running CMD in it.
#[test]
fn a_screen_session_outside_cannot_be_driven() {
    if !have("screen") {
        return;
    }
    let s = setup();
    let dir = s.out.join("screens");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let _server = Killed(
        Command::new("screen")
            .args(["-D", "-m", "-S", "outside", "sleep", "600"])
            .env("SCREENDIR", &dir)
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the screen session listens", || {
        std::fs::read_dir(&dir).unwrap().next().is_some()
    });
    let script = |marker: &str| {
        format!(
            "SCREENDIR=\"$OUT/screens\" screen -S outside -X screen sh -c \"touch '$OUT/{marker}'\" && echo reached"
        )
    };
    for under in BOTH {
        let out = attack(&s, under, &script("escaped"));
        assert!(!text(&out).contains("reached"), "{under:?}: {}", text(&out));
    }
    // The server handles commands in order: once the control's window ran, an attack that had
    // got through would have run too.
    let control = unconfined(&s, &script("control"));
    wait_for("the control reaches the screen session", || {
        s.out.join("control").exists()
    });
    assert!(text(&control).contains("reached"));
    assert!(!s.out.join("escaped").exists());
    s.m.abort();
}

/// A D-Bus bus outside (started here as a session bus): any method call on it is refused from
/// inside, since connecting is.
#[test]
fn a_dbus_bus_outside_is_unreachable() {
    if !have("dbus-daemon") || !have("dbus-send") {
        return;
    }
    let s = setup();
    let bus = s.out.join("bus");
    let _server = Killed(
        Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile"])
            .arg(format!("--address=unix:path={}", bus.display()))
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the bus listens", || bus.exists());
    let script = "dbus-send --bus=\"unix:path=$OUT/bus\" --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.ListNames && echo reached";
    let control = unconfined(&s, script);
    assert!(text(&control).contains("reached"), "{}", text(&control));
    for under in BOTH {
        let out = attack(&s, under, script);
        assert!(!text(&out).contains("reached"), "{under:?}: {}", text(&out));
    }
    s.m.abort();
}

/// `systemd-run` (and `--user`) asks systemd over D-Bus or its private socket to start a
/// transient unit outside every cgroup of ours. Stand-in buses at the addresses it is pointed
/// at count its connections.
#[test]
fn systemd_run_cannot_reach_systemd() {
    if !have("systemd-run") {
        return;
    }
    let s = setup();
    let user_bus = Trap::at(&s.out.join("xdg/bus"));
    let user_private = Trap::at(&s.out.join("xdg/systemd/private"));
    let system_bus = Trap::at(&s.out.join("system_bus"));
    let script = "export XDG_RUNTIME_DIR=\"$OUT/xdg\" DBUS_SESSION_BUS_ADDRESS=\"unix:path=$OUT/xdg/bus\" DBUS_SYSTEM_BUS_ADDRESS=\"unix:path=$OUT/system_bus\"\n\
                  systemd-run --user --no-block touch \"$OUT/escaped\"\n\
                  systemd-run --no-block touch \"$OUT/escaped\"\n\
                  true";
    let hits = |traps: &[&Trap]| traps.iter().map(|t| t.take()).sum::<usize>();
    let all = [&user_bus, &user_private, &system_bus];
    let control = unconfined(&s, script);
    assert!(hits(&all) >= 1, "{}", text(&control));
    for under in BOTH {
        let out = attack(&s, under, script);
        assert_eq!(
            hits(&all),
            0,
            "{under:?}: systemd-run reached a bus: {}",
            text(&out)
        );
    }
    s.m.abort();
}

/// `docker run -d` (or its API over curl) talks to the Docker socket, whose daemon would run a
/// container outside everything: a stand-in socket counts the connections.
#[test]
fn the_docker_socket_is_unreachable() {
    let client = if std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("docker").is_file()))
    {
        "DOCKER_HOST=\"unix://$OUT/docker.sock\" docker run -d alpine sleep 600"
    } else if have("curl") {
        "curl -s --unix-socket \"$OUT/docker.sock\" -X POST http://localhost/v1.41/containers/create"
    } else {
        return;
    };
    let s = setup();
    let trap = Trap::at(&s.out.join("docker.sock"));
    let control = unconfined(&s, client);
    assert!(trap.take() >= 1, "{}", text(&control));
    for under in BOTH {
        let out = attack(&s, under, client);
        assert_eq!(trap.take(), 0, "{under:?}: {}", text(&out));
    }
    s.m.abort();
}

/// An ssh-agent holding a key: `ssh` to any host (localhost included) would sign with it.
/// Named explicitly, the agent is still out of reach.
#[test]
fn an_ssh_agent_outside_cannot_sign() {
    for tool in ["ssh-agent", "ssh-keygen", "ssh-add"] {
        if !have(tool) {
            return;
        }
    }
    let s = setup();
    let (_agent, _) = ssh_agent_with_key(&s.out, "escape-test-key");
    let script = "SSH_AUTH_SOCK=\"$OUT/agent.sock\" ssh-add -l";
    let control = unconfined(&s, script);
    assert!(
        text(&control).contains("escape-test-key"),
        "{}",
        text(&control)
    );
    for under in BOTH {
        let out = attack(&s, under, script);
        assert!(
            !text(&out).contains("escape-test-key"),
            "{under:?}: {}",
            text(&out)
        );
    }
    s.m.abort();
}

/// `at now` and `crontab` hand a command to `atd` and `cron`, which would run it later,
/// outside: the job must never be queued. (No unconfined control: it would queue a real job.)
#[test]
fn at_and_crontab_queue_nothing() {
    if !have("at") || !have("atq") || !have("crontab") {
        return;
    }
    let s = setup();
    let queued = || {
        let atq = output(&mut Command::new("atq"));
        let cron = output(Command::new("crontab").arg("-l"));
        format!("{}{}", text(&atq), text(&cron))
    };
    let before = queued();
    let marker = "ftsb-fs-escape-marker";
    let script = format!(
        "echo 'touch \"$OUT/{marker}\"' | at now + 10 minutes && echo reached\n\
         echo 'touch \"$OUT/{marker}\"' | batch && echo reached\n\
         echo '* * * * * touch \"$OUT/{marker}\"' | crontab - && echo reached"
    );
    for under in BOTH {
        let out = attack(&s, under, &script);
        assert!(!text(&out).contains("reached"), "{under:?}: {}", text(&out));
        let after = queued();
        assert!(!after.contains(marker), "{under:?}: {after}");
        assert_eq!(
            after.lines().count(),
            before.lines().count(),
            "{under:?}: {after}"
        );
    }
    s.m.abort();
}

/// What the network attack prints, one `what result` line each.
const NET_ATTACK: &str = r#"
import ctypes, os, socket, struct, sys
hp, up, log, hostip = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
# A host service the session does not own answers as if nothing listened (ECONNREFUSED).
def res(e):
    return "denied" if e.errno in (1, 13, 111) else "err%d" % e.errno
def tcp(host, port):
    try:
        socket.create_connection((host, port), timeout=5).close()
        return "open"
    except OSError as e:
        return res(e)
def send(kind, how, dest):
    fam = socket.AF_UNIX if kind == "unix" else socket.AF_INET6 if ":" in dest[0] else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    try:
        if how == "sendto":
            s.sendto(b"x", dest)
        else:
            s.sendmsg([b"x"], [], 0, dest)
        return "sent"
    except OSError as e:
        return res(e)
for t in ["127.0.0.1", "0.0.0.0", "::1", "::ffff:127.0.0.1"] + ([hostip] if hostip else []):
    print("host-tcp", t, tcp(t, hp))
fo = socket.socket()
try:
    fo.sendto(b"x", socket.MSG_FASTOPEN, ("127.0.0.1", hp))
    print("host-tfo open")
except OSError as e:
    print("host-tfo", res(e))
for how in ("sendto", "sendmsg"):
    print("host-udp", how, send("udp", how, ("127.0.0.1", up)))
    print("outside-unix-dgram", how, send("unix", how, log))
class Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
class Msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                ("iov", ctypes.POINTER(Iovec)), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]
class Mmsghdr(ctypes.Structure):
    _fields_ = [("hdr", Msghdr), ("len", ctypes.c_uint)]
libc = ctypes.CDLL(None, use_errno=True)
# Two datagrams of two bytes to an IPv4 destination in one sendmmsg; "sent" when the kernel
# says both went, each whole.
def sendmmsg(dest):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sa = struct.pack("=H", socket.AF_INET) + struct.pack(">H", dest[1]) + socket.inet_aton(dest[0]) + bytes(8)
    name = ctypes.create_string_buffer(sa, len(sa))
    data = ctypes.create_string_buffer(b"mm", 2)
    iov = Iovec(ctypes.cast(data, ctypes.c_void_p), 2)
    msgs = (Mmsghdr * 2)()
    for m in msgs:
        m.hdr.name, m.hdr.namelen = ctypes.cast(name, ctypes.c_void_p), len(sa)
        m.hdr.iov, m.hdr.iovlen = ctypes.pointer(iov), 1
    n = libc.sendmmsg(s.fileno(), msgs, 2, 0)
    if n < 0:
        return res(OSError(ctypes.get_errno(), "sendmmsg"))
    return "sent" if n == 2 and all(m.len == 2 for m in msgs) else "short%d" % n
print("host-udp sendmmsg", sendmmsg(("127.0.0.1", up)))
own = socket.socket()
own.bind(("127.0.0.1", 0))
own.listen(1)
print("own-tcp", tcp("127.0.0.1", own.getsockname()[1]))
ownu = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
ownu.bind(("127.0.0.1", 0))
for how in ("sendto", "sendmsg"):
    print("own-udp", how, send("udp", how, ("127.0.0.1", ownu.getsockname()[1])))
sent = sendmmsg(("127.0.0.1", ownu.getsockname()[1]))
ownu.settimeout(5)
try:
    got = [ownu.recv(16) for _ in range(4)][2:]
    print("own-udp sendmmsg", sent if got == [b"mm", b"mm"] else "lost")
except OSError as e:
    print("own-udp sendmmsg lost", res(e))
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    l = socket.socket()
    l.bind(("127.0.0.1", 0))
    l.listen(1)
    os.write(w, str(l.getsockname()[1]).encode())
    l.accept()
    os._exit(0)
print("child-tcp", tcp("127.0.0.1", int(os.read(r, 16))))
os.waitpid(pid, 0)
a, b = socket.socketpair()
r, w = os.pipe()
socket.send_fds(a, [b"f"], [w])
fds = socket.recv_fds(b, 1, 1)[1]
os.write(fds[0], b"ok")
print("pass-fd", "sent" if os.read(r, 2) == b"ok" else "broken")
try:
    ns = [l.split()[1] for l in open("/etc/resolv.conf") if l.startswith("nameserver")]
except OSError as e:
    ns = []
    print("dns-config", res(e))
if ns:
    print("dns", send("udp", "sendto", (ns[0], 53)))
"#;

/// A local address of this host that is not loopback, if it has a route out.
fn host_address() -> String {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|u| u.connect("192.0.2.1:9").and(u.local_addr()))
        .map(|a| a.ip().to_string())
        .ok()
        .filter(|ip| ip != "0.0.0.0")
        .unwrap_or_default()
}

/// Services of the host, outside the session: a TCP server on every address, a UDP one and a
/// pathname datagram socket (as journald or syslog have), each counting what reaches it.
struct HostServices {
    tcp_port: u16,
    udp_port: u16,
    log: PathBuf,
    hits: Arc<AtomicUsize>,
}

impl HostServices {
    fn start(out: &Path) -> HostServices {
        let hits = Arc::new(AtomicUsize::new(0));
        let tcp = std::net::TcpListener::bind("[::]:0")
            .or_else(|_| std::net::TcpListener::bind("0.0.0.0:0"))
            .unwrap();
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let log = out.join("log.sock");
        let dgram = std::os::unix::net::UnixDatagram::bind(&log).unwrap();
        let (tcp_port, udp_port) = (
            tcp.local_addr().unwrap().port(),
            udp.local_addr().unwrap().port(),
        );
        let h = Arc::clone(&hits);
        std::thread::spawn(move || {
            for c in tcp.incoming() {
                h.fetch_add(1, Ordering::SeqCst);
                drop(c);
            }
        });
        let h = Arc::clone(&hits);
        std::thread::spawn(move || {
            let mut buf = [0u8; 16];
            while udp.recv(&mut buf).is_ok() {
                h.fetch_add(1, Ordering::SeqCst);
            }
        });
        let h = Arc::clone(&hits);
        std::thread::spawn(move || {
            let mut buf = [0u8; 16];
            while dgram.recv(&mut buf).is_ok() {
                h.fetch_add(1, Ordering::SeqCst);
            }
        });
        HostServices {
            tcp_port,
            udp_port,
            log,
            hits,
        }
    }

    /// The attack's command line, for `sh`.
    fn script(&self, s: &Setup) -> String {
        let py = s.m.v("net.py");
        std::fs::write(&py, NET_ATTACK).unwrap();
        format!(
            "python3 '{}' {} {} '{}' '{}'",
            py.display(),
            self.tcp_port,
            self.udp_port,
            self.log.display(),
            host_address()
        )
    }

    /// What reached the services since the last call (after letting datagrams land).
    fn take(&self) -> usize {
        std::thread::sleep(std::time::Duration::from_millis(200));
        self.hits.swap(0, Ordering::SeqCst)
    }
}

/// The result lines of the attack whose first word is `what`.
fn results<'a>(out: &'a str, what: &str) -> Vec<&'a str> {
    out.lines()
        .filter(|l| l.split_whitespace().next() == Some(what))
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect()
}

/// The agent reaches for services of the host with the network allowed: TCP to loopback, to
/// the unspecified address and to the host's own address (v4 and v6), a TCP Fast Open
/// `sendto` (which connects without `connect`), UDP with `sendto`, `sendmsg` and `sendmmsg`,
/// and a pathname datagram socket outside the view. Under `run` none of it arrives, while the
/// session's own listeners (its own, a child's), fd passing and DNS to the configured
/// resolver still work; `--allow-host-services` opens the host again. Under `exec` (no such policy), only the
/// datagram socket outside the view is refused.
#[test]
fn host_services_are_out_of_reach_of_the_agent() {
    if !have("python3") {
        return;
    }
    let s = setup();
    let host = HostServices::start(&s.out);
    let script = host.script(&s);
    let free = text(&unconfined(&s, &script));
    for what in [
        "host-tcp",
        "host-tfo",
        "host-udp",
        "outside-unix-dgram",
        "own-tcp",
        "own-udp",
        "child-tcp",
        "pass-fd",
    ] {
        let got = results(&free, what);
        assert!(
            !got.is_empty() && got.iter().all(|r| *r == "open" || *r == "sent"),
            "the control does not reach {what}: {free}"
        );
    }
    assert!(host.take() >= 9, "the control reached nothing: {free}");
    let dns_works = results(&free, "dns") == ["sent"];
    for under in [Under::Run, Under::RunExec] {
        let out = text(&attack(&s, under, &script));
        for what in ["host-tcp", "host-tfo", "host-udp", "outside-unix-dgram"] {
            let got = results(&out, what);
            assert!(
                !got.is_empty() && got.iter().all(|r| *r == "denied"),
                "{under:?}: {what} was not refused: {out}"
            );
        }
        for what in ["own-tcp", "own-udp", "child-tcp", "pass-fd"] {
            let got = results(&out, what);
            assert!(
                !got.is_empty() && got.iter().all(|r| *r == "open" || *r == "sent"),
                "{under:?}: the session's own {what} failed: {out}"
            );
        }
        if dns_works {
            assert_eq!(
                results(&out, "dns"),
                ["sent"],
                "{under:?}: DNS broke: {out}"
            );
        }
        assert_eq!(
            host.take(),
            0,
            "{under:?}: a host service was reached: {out}"
        );
        let open = text(&attack_with(&s, under, &["--allow-host-services"], &script));
        assert!(
            results(&open, "host-tcp").iter().all(|r| *r == "open")
                && results(&open, "host-udp").iter().all(|r| *r == "sent"),
            "{under:?} --allow-host-services: {open}"
        );
        assert!(
            results(&open, "outside-unix-dgram")
                .iter()
                .all(|r| *r == "denied"),
            "{under:?} --allow-host-services opened a socket outside the view: {open}"
        );
        host.take();
    }
    let out = text(&attack(&s, Under::Exec, &script));
    assert!(
        results(&out, "outside-unix-dgram")
            .iter()
            .all(|r| *r == "denied")
            && results(&out, "host-tcp").iter().all(|r| *r == "open"),
        "exec: {out}"
    );
    s.m.abort();
}

/// What the port attack prints: the session shares a host service's port through
/// `SO_REUSEPORT` and sends to it (`shared-udp`) or connects to it (`shared`, non-blocking
/// connects), then closes its own
/// listener while a connect to it waits (its backlog is full, so the connection is retried a
/// second later), and the host binds the port in between (`swap`, a blocking connect).
const PORT_ATTACK: &str = r#"
import os, socket, sys, threading, time
shared, swapfile, shared_udp = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
def res(e):
    return "denied" if e.errno in (1, 13, 111) else "err%d" % e.errno
ownu = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
ownu.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
ownu.bind(("127.0.0.1", shared_udp))
for i in range(8):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.sendto(b"leak", ("127.0.0.1", shared_udp))
        print("shared-udp sent")
    except OSError as e:
        print("shared-udp", res(e))
own = socket.socket()
own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
own.bind(("127.0.0.1", shared))
own.listen(16)
for i in range(8):
    try:
        c = socket.create_connection(("127.0.0.1", shared), timeout=5)
        c.sendall(b"leak")
        c.close()
        print("shared open")
    except OSError as e:
        print("shared", res(e))
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(0)
port = l.getsockname()[1]
filler = socket.create_connection(("127.0.0.1", port), timeout=5)
print("own-backlog open")
def swap():
    time.sleep(0.3)
    l.close()
    with open(swapfile + ".tmp", "w") as f:
        f.write(str(port))
    os.rename(swapfile + ".tmp", swapfile)
threading.Thread(target=swap).start()
c = socket.socket()
try:
    c.connect(("127.0.0.1", port))
    c.sendall(b"leak")
    print("swap open")
except OSError as e:
    print("swap", res(e))
"#;

/// Adds the bytes each connection `listener` accepts sends to `leaked`, in the background.
fn count_bytes(listener: std::net::TcpListener, leaked: &Arc<AtomicUsize>) {
    let leaked = Arc::clone(leaked);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let leaked = Arc::clone(&leaked);
            std::thread::spawn(move || {
                let mut conn = conn;
                let mut buf = Vec::new();
                conn.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                    .unwrap();
                let _ = std::io::Read::read_to_end(&mut conn, &mut buf);
                leaked.fetch_add(buf.len(), Ordering::SeqCst);
            });
        }
    });
}

/// A host socket of type `kind` bound to `127.0.0.1` with `SO_REUSEPORT` (listening, for
/// TCP), which a socket of the same user can share.
fn reuseport(kind: libc::c_int) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a new fd, with a zeroed sockaddr_in filled here and an int
    // option, both living across the calls; the fd is owned once bound.
    unsafe {
        let fd = libc::socket(libc::AF_INET, kind | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket");
        let one: libc::c_int = 1;
        let mut sin: libc::sockaddr_in = std::mem::zeroed();
        sin.sin_family = libc::AF_INET as libc::sa_family_t;
        sin.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        let ok = libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEPORT,
            (&raw const one).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        ) == 0
            && libc::bind(
                fd,
                (&raw const sin).cast(),
                size_of::<libc::sockaddr_in>() as libc::socklen_t,
            ) == 0
            && (kind != libc::SOCK_STREAM || libc::listen(fd, 16) == 0);
        assert!(ok, "reuseport socket: {}", std::io::Error::last_os_error());
        std::os::fd::OwnedFd::from_raw_fd(fd)
    }
}

/// A host service shares a TCP or UDP port with the session (`SO_REUSEPORT`), or binds the
/// port of the session's listener once the session closed it while its connect was on the way: under
/// `run` the connects fail and no byte reaches the host (the broker refuses a port that is not
/// only the session's, and breaks a connection whose other end is not the session's), while
/// the session's own listener still takes connections. Unconfined, both attacks get through.
#[test]
fn a_host_service_sharing_or_taking_over_a_session_port_is_not_reached() {
    if !have("python3") {
        return;
    }
    let s = setup();
    let shared = std::net::TcpListener::from(reuseport(libc::SOCK_STREAM));
    let port = shared.local_addr().unwrap().port();
    let leaked = Arc::new(AtomicUsize::new(0));
    count_bytes(shared, &leaked);
    let shared_udp = std::net::UdpSocket::from(reuseport(libc::SOCK_DGRAM));
    let udp_port = shared_udp.local_addr().unwrap().port();
    let l = Arc::clone(&leaked);
    std::thread::spawn(move || {
        let mut buf = [0u8; 16];
        while let Ok(n) = shared_udp.recv(&mut buf) {
            l.fetch_add(n, Ordering::SeqCst);
        }
    });
    let py = s.m.v("port.py");
    std::fs::write(&py, PORT_ATTACK).unwrap();
    let mut round = 0;
    let mut attack_under = |under: Option<Under>| {
        round += 1;
        let swapfile = s.m.v(&format!("swap-{round}.port"));
        let host = {
            let (swapfile, leaked) = (swapfile.clone(), Arc::clone(&leaked));
            std::thread::spawn(move || {
                wait_for("the session closed its listener", || swapfile.exists());
                let port = std::fs::read_to_string(&swapfile).unwrap();
                let taken = std::net::TcpListener::bind(format!("127.0.0.1:{port}")).unwrap();
                count_bytes(taken, &leaked);
            })
        };
        let script = format!(
            "python3 '{}' {port} '{}' {udp_port}",
            py.display(),
            swapfile.display()
        );
        let out = text(&match under {
            Some(under) => attack(&s, under, &script),
            None => unconfined(&s, &script),
        });
        host.join().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        (out, leaked.swap(0, Ordering::SeqCst))
    };
    let (free, bytes) = attack_under(None);
    assert!(
        results(&free, "shared").iter().all(|r| *r == "open")
            && results(&free, "shared-udp").iter().all(|r| *r == "sent")
            && results(&free, "swap") == ["open"]
            && bytes >= 4,
        "the control does not reach the host ({bytes} bytes): {free}"
    );
    for under in [Under::Run, Under::RunExec] {
        let (out, bytes) = attack_under(Some(under));
        let shared_udp = results(&out, "shared-udp");
        assert!(
            shared_udp.len() == 8 && shared_udp.iter().all(|r| *r == "denied"),
            "{under:?}: a shared UDP port was reached: {out}"
        );
        let shared = results(&out, "shared");
        assert!(
            shared.len() == 8 && shared.iter().all(|r| *r == "denied"),
            "{under:?}: a shared port was reached: {out}"
        );
        assert_eq!(results(&out, "swap"), ["denied"], "{under:?}: {out}");
        assert_eq!(results(&out, "own-backlog"), ["open"], "{under:?}: {out}");
        assert_eq!(bytes, 0, "{under:?}: bytes reached the host: {out}");
    }
    s.m.abort();
}

/// What the group attack prints: datagrams to a multicast group and broadcast addresses, by
/// `sendto`, `sendmsg` and `connect` then `send`.
const GROUP_ATTACK: &str = r#"
import socket, sys
port, targets = int(sys.argv[1]), sys.argv[2:]
def res(e):
    return "denied" if e.errno in (1, 13, 111) else "err%d" % e.errno
for t in targets:
    for how in ("sendto", "sendmsg", "connect"):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        try:
            if how == "sendto":
                s.sendto(b"x", (t, port))
            elif how == "sendmsg":
                s.sendmsg([b"x"], [], 0, (t, port))
            else:
                s.connect((t, port))
                s.send(b"x")
            print("group", t, how, "sent")
        except OSError as e:
            print("group", t, how, res(e))
"#;

/// The broadcast address of the host's first IPv4 network, if `ip` says it has one.
fn subnet_broadcast() -> Option<String> {
    let out = Command::new("ip")
        .args(["-4", "-o", "addr"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let words: Vec<&str> = text.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "brd")?;
    words.get(at + 1).map(|w| (*w).to_owned())
}

/// A host service listens on every address and joined a multicast group (as an mDNS
/// responder does); the agent sends to the group, to the limited broadcast address and to its
/// network's broadcast address. Unconfined they all arrive; under `run` every send is refused
/// and nothing arrives, unless `--allow-host-services`.
#[test]
fn broadcast_and_multicast_count_as_host_services() {
    if !have("python3") {
        return;
    }
    let s = setup();
    let group = std::net::Ipv4Addr::new(239, 255, 77, 77);
    let host = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    host.join_multicast_v4(&group, &std::net::Ipv4Addr::UNSPECIFIED)
        .unwrap();
    let port = host.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = Arc::clone(&hits);
    std::thread::spawn(move || {
        let mut buf = [0u8; 16];
        while host.recv(&mut buf).is_ok() {
            h.fetch_add(1, Ordering::SeqCst);
        }
    });
    let take = || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        hits.swap(0, Ordering::SeqCst)
    };
    let targets: Vec<String> = [group.to_string(), "255.255.255.255".into()]
        .into_iter()
        .chain(subnet_broadcast())
        .collect();
    let py = s.m.v("group.py");
    std::fs::write(&py, GROUP_ATTACK).unwrap();
    let script = format!("python3 '{}' {port} {}", py.display(), targets.join(" "));
    let free = text(&unconfined(&s, &script));
    let sent = results(&free, "group");
    assert!(
        sent.len() == 3 * targets.len() && sent.iter().all(|r| *r == "sent"),
        "the control could not send: {free}"
    );
    assert_eq!(
        take(),
        sent.len(),
        "the control did not reach the host: {free}"
    );
    for under in [Under::Run, Under::RunExec] {
        let out = text(&attack(&s, under, &script));
        let got = results(&out, "group");
        assert!(
            got.len() == 3 * targets.len() && got.iter().all(|r| *r == "denied"),
            "{under:?}: a group send was not refused: {out}"
        );
        assert_eq!(take(), 0, "{under:?}: the host got a datagram: {out}");
        let open = text(&attack_with(&s, under, &["--allow-host-services"], &script));
        assert!(
            results(&open, "group").iter().all(|r| *r == "sent"),
            "{under:?} --allow-host-services: {open}"
        );
        take();
    }
    s.m.abort();
}

/// As root, `/etc` is granted around its secrets. A command reads what every tool needs from
/// it (the resolver's configuration, the user database, the CA certificates) under `exec`, as
/// the agent under `run`, and through `exec` inside `run` (the path the agent's hooks take,
/// where the inner confinement narrows `/etc` again below the agent's); `/etc/shadow` stays
/// unreadable in all three.
#[test]
fn root_reads_etc_but_not_its_secrets() {
    if !require(is_root(), "the /etc carve-out test", "needs root") {
        return;
    }
    let s = setup();
    let script = r#"
for f in /etc/resolv.conf /etc/passwd /etc/shadow; do
    if cat "$f" >/dev/null 2>&1; then echo "read $f"; else echo "denied $f"; fi
done
if ls /etc/ssl/certs >/dev/null 2>&1; then echo "read /etc/ssl/certs"; else echo "denied /etc/ssl/certs"; fi
"#;
    let free = text(&unconfined(&s, script));
    let wanted = ["/etc/resolv.conf", "/etc/passwd", "/etc/ssl/certs"];
    for path in wanted.iter().chain(&["/etc/shadow"]) {
        assert!(
            free.contains(&format!("read {path}")),
            "the control cannot read {path}: {free}"
        );
    }
    for under in BOTH {
        let out = text(&attack(&s, under, script));
        for path in wanted {
            assert!(
                out.contains(&format!("read {path}")),
                "{under:?}: {path} is unreadable: {out}"
            );
        }
        assert!(
            out.contains("denied /etc/shadow"),
            "{under:?}: /etc/shadow was read: {out}"
        );
    }
    s.m.abort();
}

/// What the kernel-object attack prints, one `what result` line each: SysV IPC and keyrings
/// (which Landlock does not govern), POSIX message queues, and the ptrace-class calls on a
/// process outside (`$1` its pid, `$2` the address of its buffer, `$3` its SysV segment,
/// `$4` its key, `$5` its message queue). Whatever it creates it removes again, so the control
/// leaves nothing; it names the queue it tries to create (`mq-name`).
const KERNEL_ATTACK: &str = r#"
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.shmat.restype = ctypes.c_void_p
pid, addr, shmid, key = (int(a, 0) for a in sys.argv[1:5])
victim_queue = sys.argv[5].encode()
NR = dict(shmget=29, shmctl=31, msgget=68, msgctl=71, semget=64, semctl=66, add_key=248,
          keyctl=250, ptrace=101, process_vm_writev=311, pidfd_open=434, pidfd_getfd=438)
if os.uname().machine == "aarch64":
    NR = dict(shmget=194, shmctl=195, msgget=186, msgctl=187, semget=190, semctl=191,
              add_key=217, keyctl=219, ptrace=117, process_vm_writev=270, pidfd_open=434,
              pidfd_getfd=438)
def call(name, *args):
    ret = libc.syscall(ctypes.c_long(NR[name]), *(a if isinstance(a, ctypes._SimpleCData)
        or not isinstance(a, int) else ctypes.c_long(a) for a in args))
    return ret, ctypes.get_errno()
def say(what, ret, err):
    print(what, "ok" if ret >= 0 else "denied" if err in (1, 13) else "err%d" % err)
    return ret
p = libc.shmat(ctypes.c_int(shmid), None, 0)
if p in (None, ctypes.c_void_p(-1).value):
    say("shm-write", -1, ctypes.get_errno())
else:
    ctypes.memmove(p, b"PWNED", 5)
    libc.shmdt(ctypes.c_void_p(p))
    print("shm-write ok")
for what, name, args, rm in (("shm-create", "shmget", (0, 4096, 0o1600), ("shmctl", 0)),
                             ("msg-create", "msgget", (0, 0o1600), ("msgctl", 0)),
                             ("sem-create", "semget", (0, 1, 0o1600), ("semctl", 0, 0))):
    ret = say(what, *call(name, *args))
    if ret >= 0:
        call(rm[0], ret, *rm[1:], 0)  # IPC_RMID
buf = ctypes.create_string_buffer(64)
ret, err = call("keyctl", 11, key, buf, 64)  # KEYCTL_READ
say("key-read", ret, err)
print("key-data", buf.value.decode() or "-")
ret = say("key-plant", *call("add_key", b"user", b"ftsb-escape-plant", b"x", 1, -4))
if ret >= 0:
    call("keyctl", 21, ret)  # KEYCTL_INVALIDATE
rt = ctypes.CDLL("librt.so.1", use_errno=True)
# One small message, so the user's message queue limit is not what refuses it.
attr = (ctypes.c_long * 8)(0, 1, 16)
queue = b"/ftsb-escape-%d" % os.getpid()
print("mq-name", queue.decode())
say("mq-create", rt.mq_open(queue, os.O_CREAT | os.O_RDWR, 0o600, attr), ctypes.get_errno())
rt.mq_unlink(queue)
say("mq-unlink", rt.mq_unlink(victim_queue), ctypes.get_errno())
class Iov(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
src = ctypes.create_string_buffer(b"PWNED")
local, remote = Iov(ctypes.addressof(src), 5), Iov(addr, 5)
say("vm-write", *call("process_vm_writev", pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0))
say("ptrace-seize", *call("ptrace", 0x4206, pid, 0, 0))  # PTRACE_SEIZE: does not stop it
fd, err = call("pidfd_open", pid, 0)
say("pidfd-getfd", *((fd, err) if fd < 0 else call("pidfd_getfd", fd, 0, 0)))
"#;

/// A SysV shared memory segment, a key in the user's keyring and a POSIX message queue, made
/// by the test process (a process of the user outside the session); removed on drop.
struct KernelObjects {
    shmid: libc::c_int,
    mem: *mut u8,
    key: libc::c_long,
    queue: std::ffi::CString,
}

impl KernelObjects {
    const CLEAN: &[u8; 5] = b"clean";
    const SECRET: &str = "ftsb-escape-secret";

    fn make() -> KernelObjects {
        // SAFETY: plain syscalls; the segment is attached once and sized for what is written.
        unsafe {
            let shmid = libc::shmget(libc::IPC_PRIVATE, 4096, 0o600);
            assert!(shmid >= 0, "shmget: {}", std::io::Error::last_os_error());
            let mem = libc::shmat(shmid, std::ptr::null(), 0).cast::<u8>();
            assert!(!mem.is_null() && mem as isize != -1, "shmat");
            let key = libc::syscall(
                libc::SYS_add_key,
                c"user".as_ptr(),
                c"ftsb-escape-key".as_ptr(),
                Self::SECRET.as_ptr(),
                Self::SECRET.len(),
                libc::c_long::from(-4), // KEY_SPEC_USER_KEYRING
            );
            assert!(key >= 0, "add_key: {}", std::io::Error::last_os_error());
            let queue =
                std::ffi::CString::new(format!("/ftsb-escape-queue-{}", std::process::id()))
                    .unwrap();
            let objects = KernelObjects {
                shmid,
                mem,
                key,
                queue,
            };
            objects.reset();
            objects
        }
    }

    /// Creates the message queue, unless it exists.
    fn make_queue(&self) {
        // SAFETY: `attr` is a plain struct of integers; the descriptor is closed at once.
        unsafe {
            let mut attr: libc::mq_attr = std::mem::zeroed();
            attr.mq_maxmsg = 1;
            attr.mq_msgsize = 16;
            let flags = libc::O_CREAT | libc::O_RDWR;
            let q = libc::mq_open(self.queue.as_ptr(), flags, 0o600, &raw mut attr);
            assert!(q >= 0, "mq_open: {}", std::io::Error::last_os_error());
            libc::mq_close(q);
        }
    }

    /// Puts `CLEAN` back into the segment.
    fn reset(&self) {
        // SAFETY: `mem` is the attached 4096-byte segment.
        unsafe { std::ptr::copy_nonoverlapping(Self::CLEAN.as_ptr(), self.mem, 5) };
    }

    /// What the segment holds now.
    fn content(&self) -> Vec<u8> {
        // SAFETY: as in `reset`.
        unsafe { std::slice::from_raw_parts(self.mem, 5).to_vec() }
    }
}

impl Drop for KernelObjects {
    fn drop(&mut self) {
        // SAFETY: plain syscalls on what `make` created.
        unsafe {
            libc::shmdt(self.mem.cast());
            libc::shmctl(self.shmid, libc::IPC_RMID, std::ptr::null_mut());
            libc::syscall(libc::SYS_keyctl, 21, self.key); // KEYCTL_INVALIDATE
            libc::mq_unlink(self.queue.as_ptr());
        }
    }
}

/// Memory of the test process that the attack tries to write with `process_vm_writev`.
static TARGET: [AtomicU8; 5] = [const { AtomicU8::new(0) }; 5];

fn set_target(bytes: &[u8; 5]) {
    for (cell, b) in TARGET.iter().zip(bytes) {
        cell.store(*b, Ordering::SeqCst);
    }
}

fn target() -> [u8; 5] {
    TARGET.each_ref().map(|c| c.load(Ordering::SeqCst))
}

/// The agent reaches for the kernel's objects of the user: a SysV shared memory segment of
/// another process (writing into it drives that process), new SysV segments, queues and
/// semaphores and a POSIX message queue (all of them outlive the session), the user's
/// keyring (reading a key, planting one for another program), and the memory and fds of a
/// process outside (`process_vm_writev`, `ptrace`, `pidfd_getfd`). Unconfined every attempt
/// works; under `exec`, `run` and `run` then `exec` each one is refused and the segment and
/// the process's memory stay as they were.
#[test]
fn kernel_objects_of_the_user_are_out_of_reach() {
    if !have("python3") {
        return;
    }
    let s = setup();
    let objects = KernelObjects::make();
    objects.make_queue();
    set_target(b"clean");
    let py = s.m.v("kernel.py");
    std::fs::write(&py, KERNEL_ATTACK).unwrap();
    let script = format!(
        "python3 '{}' {} {:#x} {} {} '{}'",
        py.display(),
        std::process::id(),
        TARGET.as_ptr() as usize,
        objects.shmid,
        objects.key,
        objects.queue.to_str().unwrap()
    );
    let attempts = [
        "shm-write",
        "shm-create",
        "msg-create",
        "sem-create",
        "key-read",
        "key-plant",
        "mq-create",
        "mq-unlink",
        "vm-write",
        "ptrace-seize",
        "pidfd-getfd",
    ];
    let free = text(&unconfined(&s, &script));
    for what in attempts {
        assert_eq!(results(&free, what), ["ok"], "the control: {free}");
    }
    assert_eq!(
        results(&free, "key-data"),
        [KernelObjects::SECRET],
        "{free}"
    );
    assert_eq!(objects.content(), b"PWNED", "the control: {free}");
    assert_eq!(target(), *b"PWNED", "the control: {free}");
    objects.reset();
    objects.make_queue();
    set_target(b"clean");
    for under in BOTH {
        let out = text(&attack(&s, under, &script));
        for what in attempts {
            assert_eq!(results(&out, what), ["denied"], "{under:?}: {what}: {out}");
        }
        assert_eq!(results(&out, "key-data"), ["-"], "{under:?}: {out}");
        assert_eq!(objects.content(), KernelObjects::CLEAN, "{under:?}: {out}");
        assert_eq!(target(), *b"clean", "{under:?}: {out}");
        // A queue the attack made would outlive it: removing it must fail (and cleans up).
        let made = std::ffi::CString::new(results(&out, "mq-name").concat()).unwrap();
        // SAFETY: a plain syscall on a C string.
        let left = unsafe { libc::mq_unlink(made.as_ptr()) } == 0;
        assert!(
            !left,
            "{under:?}: a message queue outlived the attack: {out}"
        );
    }
    // The user's queue is still there: removing it succeeds.
    // SAFETY: as above.
    assert_eq!(unsafe { libc::mq_unlink(objects.queue.as_ptr()) }, 0);
    s.m.abort();
}

/// What the leaf attack prints: the answers to an `ExecBegin` naming the cgroup leaf `$1` and
/// to its `ExecEnd` (which the daemon answers once the leaf it adopted is empty), sent over the
/// session socket.
const LEAF_ATTACK: &str = r#"
import json, os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(os.environ["FTSB_FS_CONTROL"])
answers = s.makefile()
v = int(sys.argv[2])
for req in ({"v": v, "op": "exec_begin", "command": "true", "cgroup": sys.argv[1]},
            {"v": v, "op": "exec_end", "exit_code": 0, "rollback": False}):
    s.sendall((json.dumps(req) + "\n").encode())
    print("answer", json.loads(answers.readline())["ok"])
"#;

/// A command of the user runs in an exec cgroup leaf beside the session's (both under the
/// cgroup `run` started in). The agent names that leaf in an `ExecBegin` of its own over the
/// session socket and ends it: the daemon must not empty that leaf, since the agent cannot
/// signal the command itself.
#[test]
fn the_agent_cannot_have_the_daemon_kill_another_leaf() {
    if !have("python3") {
        return;
    }
    let Ok(leaf) = ftsb_fs::confine::cgroup::Leaf::create() else {
        skip("the leaf attack", "no writable cgroup v2 hierarchy");
        return;
    };
    let s = setup();
    let mut victim = Command::new("sleep");
    victim.arg("300");
    leaf.join_on_exec(&mut victim).unwrap();
    let victim = Killed(victim.spawn().unwrap());
    let py = s.m.v("leaf.py");
    std::fs::write(&py, LEAF_ATTACK).unwrap();
    let script = format!(
        "python3 '{}' '{}' {}",
        py.display(),
        leaf.path().display(),
        ftsb_fs::control::PROTOCOL
    );
    for under in [Under::Run, Under::RunExec] {
        let out = text(&attack(&s, under, &script));
        assert_eq!(
            results(&out, "answer"),
            ["True", "True"],
            "{under:?}: {out}"
        );
        assert!(
            common::procs::alive(victim.0.id() as i32),
            "{under:?}: the daemon killed the user's command: {out}"
        );
    }
    drop(victim);
    leaf.kill_and_wait(std::time::Duration::from_secs(10));
    leaf.remove().unwrap();
    s.m.abort();
}

/// A program of the user outside the view, which its other users may run: made set-user-id
/// (or set-group-id), it would run as the user for whoever starts it; as root, for every
/// system binary. Landlock does not govern mode changes, so under `exec`, `run` and `run` then
/// `exec` the filter refuses every set-id mode (`chmod` of a path outside, `fchmod` of a file
/// open in the view), while an ordinary `chmod` in the view still works.
#[test]
fn no_file_can_be_made_set_id() {
    if !have("python3") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let s = setup();
    let tool = s.out.join("tool");
    std::fs::write(&tool, "#!/bin/sh\n").unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    let reset = || std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    reset();
    let script = r#"
chmod 4755 "$OUT/tool" && echo setuid ok
chmod g+s "$OUT/tool" && echo setgid ok
echo x > mine && python3 -c 'import os; fd = os.open("mine", os.O_RDONLY); os.fchmod(fd, 0o4755)' && echo fchmod ok
chmod 700 mine && echo plain ok
"#;
    let free = text(&unconfined(
        &s,
        &format!("cd '{}'\n{script}", s.m.view.display()),
    ));
    for what in ["setuid", "setgid", "fchmod", "plain"] {
        assert_eq!(results(&free, what), ["ok"], "the control: {free}");
    }
    assert_eq!(mode(&tool), 0o6755, "the control: {free}");
    reset();
    for under in BOTH {
        let out = text(&attack(&s, under, script));
        for what in ["setuid", "setgid", "fchmod"] {
            assert!(results(&out, what).is_empty(), "{under:?}: {what}: {out}");
        }
        assert_eq!(results(&out, "plain"), ["ok"], "{under:?}: {out}");
        assert_eq!(mode(&tool), 0o755, "{under:?}: {out}");
        assert_eq!(mode(&s.m.v("mine")), 0o700, "{under:?}: {out}");
    }
    s.m.abort();
}

/// The agent changes the metadata of a file outside the view: its mode (by path, through a
/// symlink in the view, relative to a directory fd), its owner, an extended attribute and its
/// ACL. Landlock does not govern these calls, so the broker makes them, and only on what lies
/// in the command's writable roots, with the command's capabilities: under `exec`, `run` and
/// `run` then `exec` each is refused and the file keeps its mode, owner and attributes, while
/// the same calls in the view work.
#[test]
fn metadata_outside_the_view_cannot_change() {
    if !have("python3") {
        return;
    }
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let s = setup();
    let key = s.out.join("key");
    let meta = |p: &Path| {
        let m = std::fs::symlink_metadata(p).unwrap();
        (m.permissions().mode() & 0o7777, m.uid(), m.gid())
    };
    let reset = || {
        let _ = std::fs::remove_file(&key);
        std::fs::write(&key, "secret\n").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    let script = r#"
cat > meta.py <<'PY'
import os, struct, sys
key = sys.argv[1] + "/key"
acl = struct.pack("<IHHIHHIHHI", 2, 1, 6, 0xFFFFFFFF, 4, 4, 0xFFFFFFFF, 0x20, 4, 0xFFFFFFFF)
def t(what, f):
    try:
        f()
        print(what, "ok")
    except OSError as e:
        print(what, "refused", e.errno)
if os.path.lexists("link"):
    os.remove("link")
os.symlink(key, "link")
t("chmod", lambda: os.chmod(key, 0o644))
t("chmod-link", lambda: os.chmod("link", 0o666))
d = os.open(sys.argv[1], os.O_PATH)
t("fchmodat", lambda: os.chmod("key", 0o640, dir_fd=d))
t("chown", lambda: os.chown(key, 1, 1))
t("lchown", lambda: os.lchown(key, 2, 2))
t("setxattr", lambda: os.setxattr(key, "user.x", b"1"))
t("acl", lambda: os.setxattr(key, "system.posix_acl_access", acl))
with open("mine", "w") as f:
    f.write("x")
t("in-chmod", lambda: os.chmod("mine", 0o755))
t("in-setxattr", lambda: os.setxattr("mine", "user.x", b"1"))
fd = os.open("mine", os.O_RDONLY)
t("in-fchmod", lambda: os.fchmod(fd, 0o700))
t("in-fsetxattr", lambda: os.setxattr(fd, "user.y", b"2"))
t("in-chown", lambda: os.chown("mine", 1, 1))
t("in-chown-own", lambda: os.chown("mine", os.getuid(), os.getgid()))
if os.path.lexists("in-link"):
    os.remove("in-link")
os.symlink("mine", "in-link")
t("in-lchown-own", lambda: os.lchown("in-link", os.getuid(), os.getgid()))
t("in-removexattr", lambda: os.removexattr("mine", "user.x"))
t("in-proc-self", lambda: os.chmod("/proc/self/fd/%d" % os.open("mine", os.O_PATH), 0o700))
PY
python3 meta.py "$OUT"
"#;
    reset();
    let before = meta(&key);
    let free = text(&unconfined(
        &s,
        &format!("cd '{}'\n{script}", s.m.view.display()),
    ));
    for what in [
        "chmod",
        "chmod-link",
        "fchmodat",
        "chown",
        "lchown",
        "in-chmod",
    ] {
        assert_eq!(results(&free, what), ["ok"], "the control: {free}");
    }
    // Extended attributes and ACLs depend on the file system; what it refuses is not tried.
    let xattrs: Vec<&str> = [
        "setxattr",
        "acl",
        "in-setxattr",
        "in-fsetxattr",
        "in-removexattr",
    ]
    .into_iter()
    .filter(|what| results(&free, what) == ["ok"])
    .collect();
    if xattrs.len() < 5 {
        skip(
            "the extended attribute and ACL part of metadata_outside_the_view_cannot_change",
            &format!("the file system refuses some: {free}"),
        );
    }
    reset();
    std::fs::remove_file(s.m.v("mine")).unwrap();
    for under in BOTH {
        let out = text(&attack(&s, under, script));
        // The broker changes nothing with more privilege than the command has: as root, it
        // holds no capabilities, so it cannot give a file away (`in-chown`).
        for what in [
            "chmod",
            "chmod-link",
            "fchmodat",
            "chown",
            "lchown",
            "setxattr",
            "acl",
            "in-chown",
        ] {
            assert!(results(&out, what) != ["ok"], "{under:?}: {what}: {out}");
        }
        for what in [
            "in-chmod",
            "in-fchmod",
            "in-chown-own",
            "in-lchown-own",
            "in-proc-self",
        ]
        .into_iter()
        .chain(xattrs.iter().copied().filter(|w| w.starts_with("in-")))
        {
            assert_eq!(results(&out, what), ["ok"], "{under:?}: {what}: {out}");
        }
        assert_eq!(meta(&key), before, "{under:?}: {out}");
        let names = xattr_names(&key);
        assert!(names.is_empty(), "{under:?}: {names:?}: {out}");
        assert_eq!(meta(&s.m.v("mine")).0, 0o700, "{under:?}: {out}");
    }
    s.m.abort();
}

/// The extended attribute names of `path`.
fn xattr_names(path: &Path) -> Vec<String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import os, sys; print(' '.join(os.listxattr(sys.argv[1])))",
        ])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}
