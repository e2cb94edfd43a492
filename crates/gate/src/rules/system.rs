//! The machine and the infrastructure around it: processes, power, services, scheduled
//! jobs, disks, accounts, kernel settings, packages, containers, clusters, clouds and
//! databases.
//!
//! Owns one small judgement per tool, by its arguments (`kill -9 1` vs `kill 1234`,
//! `systemctl status` vs `systemctl enable`, `docker image prune` vs `docker system prune -a`).
//! Tools whose danger is one subcommand or flag are rows of [`crate::tables::DESTRUCTIVE`]
//! instead.

use crate::args::{Spec, parse};
use crate::cmd::Cmd;
use crate::decision::Decision;
use crate::field::Field;
use crate::paths::Class;
use crate::state::{Hit, Io};

/// True when a process pattern can match a daemon: it names one as a word (`sshd`,
/// `^/usr/lib/systemd`), or a program under a system directory.
fn hits_daemon(pattern: &str) -> bool {
    let system_path = ["/usr/", "/sbin/", "/lib/", "/bin/", "/opt/", "/etc/"]
        .iter()
        .any(|p| pattern.contains(p));
    system_path
        || pattern
            .split(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'))
            .any(|w| crate::tables::DAEMONS.contains(&w))
}

/// Packages whose removal breaks the system.
const ESSENTIAL: &[&str] = &[
    "glibc",
    "libc6",
    "libc-bin",
    "systemd",
    "bash",
    "coreutils",
    "sudo",
    "openssh-server",
    "openssh",
    "linux-image",
    "kernel",
    "python3",
    "apt",
    "dpkg",
    "rpm",
    "dnf",
    "yum",
    "grub",
    "grub2",
    "util-linux",
    "login",
    "passwd",
    "base-files",
    "init",
];

/// One tool as a family handler sees it: its normalized name, arguments and their texts.
struct Tool<'t> {
    name: &'t str,
    args: &'t [Field],
    words: Vec<&'t str>,
}

impl Tool<'_> {
    fn has(&self, w: &str) -> bool {
        self.words.contains(&w)
    }
}

/// A family handler: judges one tool of its family.
type Handler = fn(&mut Cmd<'_, '_>, &Tool<'_>);

/// One row per family: the program names it covers and the handler that judges them.
const FAMILIES: &[(&[&str], Handler)] = &[
    (&["kill"], |c, t| kill(c, t.args)),
    (&["pkill", "killall", "killall5", "skill"], pkill),
    (
        &[
            "shutdown",
            "reboot",
            "poweroff",
            "halt",
            "suspend",
            "hibernate",
        ],
        shutdown,
    ),
    (&["init", "telinit"], init),
    (
        &["systemctl", "service", "rc-service", "launchctl"],
        |c, t| systemctl(c, t.name, t.args),
    ),
    (&["crontab"], crontab),
    (&["at", "batch"], at),
    (&["systemd-run"], systemd_run),
    (
        &[
            "mkfs",
            "mkswap",
            "wipefs",
            "blkdiscard",
            "sgdisk",
            "gdisk",
            "sfdisk",
            "cfdisk",
            "mkntfs",
            "mkdosfs",
            "badblocks",
            "zerofree",
        ],
        mkfs,
    ),
    (&["fdisk"], fdisk),
    (&["parted"], parted),
    (
        &[
            "passwd", "chpasswd", "usermod", "useradd", "userdel", "adduser", "deluser",
            "groupadd", "groupdel", "gpasswd", "visudo", "chsh", "vipw", "newusers",
        ],
        passwd,
    ),
    (&["setcap"], setcap),
    (
        &["fallocate", "truncate", "xfs_mkfile", "mkfile"],
        fallocate,
    ),
    (&["rclone", "s3cmd", "azcopy", "b2"], |c, t| {
        upload_secrets(c, t.args)
    }),
    (&["sysctl"], sysctl),
    (&["insmod", "rmmod", "modprobe", "kexec"], insmod),
    (&["mount", "umount", "swapoff", "swapon"], mount),
    (
        &[
            "rpm", "dpkg", "apt", "apt-get", "yum", "dnf", "zypper", "pacman", "apk", "snap",
            "brew", "port",
        ],
        |c, t| packages(c, t.name, &t.words),
    ),
    (&["docker", "podman", "nerdctl"], |c, t| docker(c, &t.words)),
    (&["kubectl", "oc", "helm"], kubectl),
    (
        &[
            "terraform",
            "tofu",
            "terragrunt",
            "pulumi",
            "cdk",
            "cdktf",
            "serverless",
            "sls",
        ],
        terraform,
    ),
    (
        &[
            "aws",
            "az",
            "gcloud",
            "gsutil",
            "doctl",
            "heroku",
            "flyctl",
            "fly",
            "vercel",
            "netlify",
            "linode-cli",
            "hcloud",
            "oci",
            "ibmcloud",
            "firebase",
            "supabase",
        ],
        aws,
    ),
    (
        &[
            "mysql",
            "mariadb",
            "psql",
            "sqlite3",
            "mongo",
            "mongosh",
            "cqlsh",
            "clickhouse-client",
            "sqlcmd",
            "cockroach",
            "duckdb",
        ],
        mysql,
    ),
    (&["dropdb", "dropuser", "mongorestore"], dropdb),
    (&["redis-cli", "valkey-cli", "keydb-cli"], redis_cli),
];

/// True when a family of [`FAMILIES`] judges `name`.
pub(crate) fn knows(name: &str) -> bool {
    FAMILIES.iter().any(|(names, _)| names.contains(&name)) || name.starts_with("kafka-")
}

/// System tools, judged by the family their name belongs to (`FAMILIES`); `kafka-*` tools
/// by their prefix.
pub(crate) fn system(c: &mut Cmd<'_, '_>) {
    let name = c.prog.name.clone();
    let args: Vec<Field> = c.args().to_vec();
    let t = Tool {
        name: &name,
        args: &args,
        words: args.iter().map(|a| a.text.as_str()).collect(),
    };
    if let Some((_, handler)) = FAMILIES.iter().find(|(names, _)| names.contains(&t.name)) {
        handler(c, &t);
    } else if name.starts_with("kafka-") {
        kafka(c, &t);
    }
}

/// `pkill`, `killall`, `killall5`, `skill`.
fn pkill(c: &mut Cmd<'_, '_>, t: &Tool<'_>) {
    let name = t.name;
    let args = t.args;
    let a = parse(
        args,
        Spec::new(
            "sugtPGUnoc",
            &[
                "signal",
                "user",
                "group",
                "pgroup",
                "session",
                "parent",
                "uid",
                "euid",
                "terminal",
                "ns",
                "older-than",
                "younger-than",
            ],
        ),
    );
    // A pattern like `.` matches every process (pkill -f matches whole command lines).
    let broad = a
        .operands
        .iter()
        .any(|o| matches!(o.text.as_str(), "." | ".*" | "" | "^" | ".+"));
    // Selecting by user, session, group, parent or terminal alone reaches every process of
    // it (`pkill -u root`, `pkill -P 1`, `pkill -s 0`); with a pattern, only those it names.
    let selector = |f: char, long: &str| a.value(f, long).is_some();
    let whole = selector('u', "user")
        || selector('U', "uid")
        || selector('P', "parent")
        || selector('s', "session")
        || selector('g', "pgroup")
        || selector('G', "group")
        || selector('t', "terminal");
    // `-v` inverts the pattern: every process but the few it names.
    let inverse = a.has('v', "inverse");
    let everyone = whole && a.operands.is_empty() || name == "killall5" || broad || inverse;
    let daemon = a.operands.iter().any(|o| !o.known || hits_daemon(&o.text));
    if a.has('l', "list") && name == "killall" {
        return;
    }
    // With root, a pattern reaches every user's processes.
    if everyone || daemon || c.scope.privileged {
        c.hit("kill.system", None);
    } else if name == "killall" && a.has('r', "regexp") {
        // A name kills the user's own processes of that name, like pkill; a regular
        // expression reaches any of them.
        c.hit("kill.by_name", None);
    }
}

/// Processes a command selects by name and prints the ids of, as the `pkill` that would
/// select the same ones: `pgrep ARGS` is `pkill ARGS`, `pidof NAME` and `cat /run/NAME.pid`
/// are `pkill -x NAME`. `Some(true)` when that `pkill` is `kill.system`, `Some(false)` when
/// it is ordinary, `None` when the command selects nothing by name (or `pkill` would ask).
pub(crate) fn selected_pids(c: &mut Cmd<'_, '_>) -> Option<bool> {
    let args = c.args();
    let exact = |n: &Field| vec![Field::lit("pkill"), Field::lit("-x"), n.clone()];
    let argvs: Vec<Vec<Field>> = match c.prog.name.as_str() {
        "pgrep" => vec![
            [Field::lit("pkill")]
                .into_iter()
                .chain(args.iter().cloned())
                .collect(),
        ],
        "pidof" => args
            .iter()
            .filter(|a| !a.text.starts_with('-'))
            .map(exact)
            .collect(),
        "cat" => args
            .iter()
            .filter_map(|a| run_pid_file(c, a))
            .map(|n| exact(&n))
            .collect(),
        _ => return None,
    };
    if argvs.is_empty() {
        return None;
    }
    let start = c.an.hits.len();
    for argv in argvs {
        // Selecting is a read; whether the kill runs as root is the kill's own business.
        let mut s = c.scope.clone();
        s.depth += 1;
        s.privileged = false;
        c.an.dispatch(argv, &Io::default(), &mut s);
    }
    let new: Vec<Hit> = c.an.hits.drain(start..).collect();
    let system = new.iter().any(|h| h.rule == "kill.system");
    let asked = new.iter().any(|h| h.decision != Decision::Allow);
    // A system pid file of a process that is not a daemon is still not this work's own.
    let own = !asked && c.prog.name != "cat";
    (system || own).then_some(system)
}

/// `kill -0 PID` and `kill -s 0 PID` only test that a process exists.
fn signal_zero(args: &[Field]) -> bool {
    let first = args.iter().position(|a| a.text.starts_with('-'));
    first.is_some_and(|i| {
        args[i].is("-0") || args[i].is("-s") && args.get(i + 1).is_some_and(|s| s.is("0"))
    })
}

/// The daemon a pid file under a system directory belongs to (`/run/sshd.pid` is sshd's).
fn run_pid_file(c: &Cmd<'_, '_>, f: &Field) -> Option<Field> {
    let abs = c.abs(f);
    let stem = abs.strip_suffix(".pid")?.rsplit('/').next()?;
    let system = matches!(c.class(f), Class::System | Class::Root);
    (f.known && system && !stem.is_empty()).then(|| Field::lit(stem))
}

/// `shutdown`, `reboot`, `poweroff`, `halt`, `suspend`, `hibernate`.
fn shutdown(c: &mut Cmd<'_, '_>, t: &Tool<'_>) {
    let name = t.name;
    let has = |w: &str| t.has(w);
    if has("--help") || has("-c") || name == "shutdown" && has("-k") {
        return;
    }
    c.hit("power.off", None);
}

/// `init`, `telinit`.
fn init(c: &mut Cmd<'_, '_>, t: &Tool<'_>) {
    let words = &t.words;
    if !(words
        .iter()
        .any(|w| matches!(*w, "0" | "1" | "6" | "s" | "S" | "q" | "u")))
    {
        return;
    }
    c.hit("power.off", None);
}

/// `crontab`.
fn crontab(c: &mut Cmd<'_, '_>, t: &Tool<'_>) {
    let args = t.args;
    let a = parse(args, Spec::new("uT", &[]));
    if a.has('r', "") {
        c.hit("persist.cron_remove", None);
    } else if !a.has('l', "") {
        c.hit("persist.cron", Some("installs or edits a crontab".into()));
    }
}

/// `at`, `batch`.
fn at(c: &mut Cmd<'_, '_>, t: &Tool<'_>) {
    let has = |w: &str| t.has(w);
    if !(!has("-l") && !has("-c")) {
        return;
    }
    c.hit("persist.at", None);
}

/// `systemd-run`.
fn systemd_run(c: &mut Cmd<'_, '_>, t: &Tool<'_>) {
    let args = t.args;
    let a = parse(
        args,
        Spec::wrapper(
            "pEuMH",
            &[
                "unit",
                "property",
                "description",
                "slice",
                "on-active",
                "on-boot",
                "on-startup",
                "on-unit-active",
                "on-unit-inactive",
                "on-calendar",
                "timer-property",
                "setenv",
                "uid",
                "gid",
                "working-directory",
                "nice",
                "machine",
                "host",
            ],
        ),
    );
    let timer = a.longs.iter().any(|(l, _)| l.starts_with("on-"));
    if timer {
        c.hit(
            "persist.systemd",
            Some("schedules a command to run later".into()),
        );
    }
    // `--shell` runs the user's shell, which reads its commands from stdin.
    let shell = a.has('S', "shell") && a.operands.is_empty();
    if !a.operands.is_empty() || shell {
        let inner: Vec<Field> = if shell {
            vec![Field::lit("sh")]
        } else {
            a.operands.clone()
        };
        // The command reads our stdin (`--pipe`, `--pty`, `--scope`); without them it gets
        // none, but the gate does not bet on which it is.
        let io = crate::state::Io {
            stdin: c.io.stdin.clone(),
            ..crate::state::Io::default()
        };
        let mut s = c.scope.clone();
        s.wrappers.push("systemd-run".into());
        s.depth += 1;
        c.an.dispatch(inner, &io, &mut s);
    }
}

/// `mkfs`, `mkswap`, `wipefs`, `blkdiscard`, `sgdisk`, `gdisk`, `sfdisk`, `cfdisk`, `mkntfs`,
/// `mkdosfs`, `badblocks`, `zerofree`.
fn mkfs(c: &mut Cmd<'_, '_>, t: &Tool<'_>) {
    let name = t.name;
    let args = t.args;
    let has = |w: &str| t.has(w);
    if !(!has("--help")
        && !has("--version")
        && !(name == "sfdisk" && (has("-l") || has("--list")))
        && !(name == "sgdisk" && (has("-p") || has("--print")))
        && !on_image_files(c, args))
    {
        return;
    }
    c.hit("disk.format", None);
}

/// `fdisk`.
fn fdisk(c: &mut Cmd<'_, '_>, t: &Tool<'_>) {
    let args = t.args;
    let has = |w: &str| t.has(w);
    if !(!has("-l") && !has("--list") && !on_image_files(c, args)) {
        return;
    }
    c.hit("disk.format", None);
}

/// `parted`.
fn parted(c: &mut Cmd<'_, '_>, t: &Tool<'_>) {
    let words = &t.words;
    let readonly = words
        .iter()
        .any(|w| matches!(*w, "-l" | "--list" | "print" | "p"))
        && !words
            .iter()
            .any(|w| matches!(*w, "rm" | "mklabel" | "mkpart" | "resizepart" | "mkfs"));
    if !readonly {
        c.hit("disk.format", None);
    }
}

/// `passwd`, `chpasswd`, `usermod`, `useradd`, `userdel`, `adduser`, `deluser`, `groupadd`,
/// `groupdel`, `gpasswd`, `visudo`, `chsh`, `vipw`, `newusers`.
fn passwd(c: &mut Cmd<'_, '_>, t: &Tool<'_>) {
    let name = t.name;
    let has = |w: &str| t.has(w);
    if name == "passwd" && (has("-S") || has("--status")) {
        return;
    }
    c.hit("privesc.account", None);
}

/// `setcap`.
fn setcap(c: &mut Cmd<'_, '_>, t: &Tool<'_>) {
    let has = |w: &str| t.has(w);
    if !(!has("-r") && !has("-v")) {
        return;
    }
    c.hit("privesc.setuid", Some("grants file capabilities".into()))
}

/// `fallocate`, `truncate`, `xfs_mkfile`, `mkfile`.
fn fallocate(c: &mut Cmd<'_, '_>, t: &Tool<'_>) {
    let words = &t.words;
    if !(huge_size(words)) {
        return;
    }
    c.hit("resource.fill_disk", Some("allocates a huge file".into()))
}

/// `sysctl`.
fn sysctl(c: &mut Cmd<'_, '_>, t: &Tool<'_>) {
    let words = &t.words;
    let has = |w: &str| t.has(w);
    if !(has("-w")
        || has("--write")
        || words.iter().any(|w| w.contains('=') && !w.starts_with('-'))
        || has("-p")
        || has("--load"))
    {
        return;
    }
    c.hit("syswrite.kernel", None);
}

/// `insmod`, `rmmod`, `modprobe`, `kexec`.
fn insmod(c: &mut Cmd<'_, '_>, t: &Tool<'_>) {
    let name = t.name;
    let has = |w: &str| t.has(w);
    if name == "modprobe" && (has("-n") || has("--dry-run") || has("-c")) {
        return;
    }
    c.hit("syswrite.kernel", None);
}

/// `mount`, `umount`, `swapoff`, `swapon`.
fn mount(c: &mut Cmd<'_, '_>, t: &Tool<'_>) {
    let words = &t.words;
    let has = |w: &str| t.has(w);
    if !(!words.is_empty() && !has("-l")) {
        return;
    }
    c.hit("syswrite.mount", None);
}

/// `kubectl`, `oc`, `helm`.
fn kubectl(c: &mut Cmd<'_, '_>, t: &Tool<'_>) {
    let words = &t.words;
    let destructive = words
        .iter()
        .any(|w| matches!(*w, "delete" | "drain" | "uninstall" | "cordon" | "replace"))
        && !words.iter().any(|w| w.starts_with("--dry-run"));
    if destructive {
        let wide = words.iter().any(|w| {
            matches!(
                *w,
                "--all"
                    | "-A"
                    | "--all-namespaces"
                    | "namespace"
                    | "ns"
                    | "all"
                    | "node"
                    | "nodes"
                    | "pv"
                    | "pvc"
                    | "crd"
            )
        }) || words.iter().any(|w| w.starts_with("namespace/"));
        c.hit(
            if wide {
                "infra.k8s_delete_all"
            } else {
                "infra.k8s_delete"
            },
            None,
        );
    }
}

/// `terraform`, `tofu`, `terragrunt`, `pulumi`, `cdk`, `cdktf`, `serverless`, `sls`.
fn terraform(c: &mut Cmd<'_, '_>, t: &Tool<'_>) {
    let words = &t.words;
    // `plan -destroy` only shows what a destroy would do.
    let planning = words.first() == Some(&"plan");
    let destroy = words.iter().any(|w| matches!(*w, "destroy" | "remove"))
        || words.contains(&"-destroy") && !planning
        || words.contains(&"stack") && words.iter().any(|w| matches!(*w, "rm" | "remove"));
    let auto = words
        .iter()
        .any(|w| w.contains("auto-approve") || *w == "--yes" || *w == "-y" || *w == "--force");
    let apply = words
        .first()
        .is_some_and(|w| matches!(*w, "apply" | "up" | "deploy" | "import" | "taint" | "state"));
    if destroy {
        c.hit("infra.iac_destroy", None);
    } else if apply
        && (auto
            || words.first() == Some(&"state")
                && words.get(1).is_some_and(|w| matches!(*w, "rm" | "push")))
    {
        c.hit("infra.iac_apply", None);
    }
}

/// `aws`, `az`, `gcloud`, `gsutil`, `doctl`, `heroku`, `flyctl`, `fly`, `vercel`, `netlify`,
/// `linode-cli`, `hcloud`, `oci`, `ibmcloud`, `firebase`, `supabase`.
fn aws(c: &mut Cmd<'_, '_>, t: &Tool<'_>) {
    let args = t.args;
    let words = &t.words;
    let destructive = words.iter().any(|w| {
        let w = w.to_ascii_lowercase();
        matches!(
            w.as_str(),
            "delete" | "destroy" | "rb" | "rm" | "terminate" | "purge" | "remove" | "deprovision"
        ) || w.starts_with("delete-")
            || w.starts_with("terminate-")
            || w.starts_with("remove-")
            || w.starts_with("deregister")
            || w.contains("destroy")
            || w.contains("-deletion")
            || w.ends_with(":delete")
            || w.ends_with(":remove")
    });
    if destructive {
        c.hit("infra.cloud_delete", None);
    }
    upload_secrets(c, args);
}

/// `mysql`, `mariadb`, `psql`, `sqlite3`, `mongo`, `mongosh`, `cqlsh`, `clickhouse-client`,
/// `sqlcmd`, `cockroach`, `duckdb`.
fn mysql(c: &mut Cmd<'_, '_>, t: &Tool<'_>) {
    let args = t.args;
    let mut texts: Vec<String> = args
        .iter()
        .filter(|a| a.known)
        .map(|a| a.text.clone())
        .collect();
    if let Some(t) = &c.io.stdin.text {
        texts.push(t.clone());
    }
    // A script file the line wrote (`psql -f q.sql`, `sqlite3 -init x.sql`).
    for a in args.iter().filter(|a| a.known) {
        let abs = c.abs(a);
        texts.extend(c.an.written_at(&abs).and_then(|w| w.text));
    }
    if texts.iter().any(|t| destructive_sql(t)) {
        c.hit("infra.db_drop", None);
    }
    for cmd in texts.iter().flat_map(|t| sql_commands(t)) {
        c.nested("SQL shell command", &Field::lit(&cmd));
    }
}

/// SQL that runs shell commands on the database host, which is this machine for a local
/// server: the quoted command after each of these words.
const SQL_COMMANDS: &[&str] = &[
    "PROGRAM",
    "XP_CMDSHELL",
    "SYS_EXEC(",
    "SYS_EVAL(",
    "EXECUTABLE(",
];

/// The commands that SQL text runs (`COPY t TO PROGRAM 'CMD'`).
fn sql_commands(text: &str) -> Vec<String> {
    let upper = text.to_ascii_uppercase();
    let mut out = Vec::new();
    for word in SQL_COMMANDS {
        for (i, _) in upper.match_indices(word) {
            let rest = text[i + word.len()..].trim_start();
            let Some(q) = rest.chars().next().filter(|q| *q == '\'' || *q == '"') else {
                continue;
            };
            if let Some(end) = rest[1..].find(q) {
                out.push(rest[1..1 + end].to_owned());
            }
        }
    }
    out
}

/// `dropdb`, `dropuser`, `mongorestore`.
fn dropdb(c: &mut Cmd<'_, '_>, t: &Tool<'_>) {
    let name = t.name;
    let has = |w: &str| t.has(w);
    if !(name != "mongorestore" || has("--drop")) {
        return;
    }
    c.hit("infra.db_drop", None)
}

/// `redis-cli`, `valkey-cli`, `keydb-cli`.
fn redis_cli(c: &mut Cmd<'_, '_>, t: &Tool<'_>) {
    let words = &t.words;
    let mut texts: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
    if let Some(t) = &c.io.stdin.text {
        texts.extend(t.split_whitespace().map(|w| w.to_ascii_lowercase()));
    }
    if texts.iter().any(|w| {
        matches!(
            w.as_str(),
            "flushall" | "flushdb" | "shutdown" | "debug" | "config"
        )
    }) {
        c.hit("infra.db_drop", None);
    }
}

/// `kafka-*`.
fn kafka(c: &mut Cmd<'_, '_>, t: &Tool<'_>) {
    let words = &t.words;
    if !(words
        .iter()
        .any(|w| matches!(*w, "--delete" | "--delete-offsets" | "--reset-offsets")))
    {
        return;
    }
    c.hit("infra.db_drop", None);
}

/// Cloud and sync tools that upload files: credentials among them leave the machine.
pub(crate) fn upload_secrets(c: &mut Cmd<'_, '_>, args: &[Field]) {
    for a in args.iter().filter(|a| a.known) {
        let abs = c.abs(a);
        if c.an.secret_file(&abs) || c.class(a) == Class::HomeSensitive {
            c.hit("exfil.upload_secret", Some(format!("uploads {}", a.text)));
        }
    }
}

/// A size argument of 10 GB or more (`-l 1000G`, `-s 2T`).
pub(crate) fn huge_size(words: &[&str]) -> bool {
    words.iter().any(|w| {
        let w = w.trim_start_matches(['-', 'l', 's', '=', '+']);
        let digits: String = w.chars().take_while(|c| c.is_ascii_digit()).collect();
        let unit = w[digits.len()..].to_ascii_uppercase();
        let n: u64 = digits.parse().unwrap_or(0);
        match unit.chars().next() {
            Some('G') => n >= 10,
            Some('T' | 'P' | 'E') => n >= 1,
            _ => false,
        }
    })
}

/// Disk tools pointed only at image files in the workspace or scratch space harm nothing.
fn on_image_files(c: &Cmd<'_, '_>, args: &[Field]) -> bool {
    let ops: Vec<&Field> = args.iter().filter(|a| !a.text.starts_with('-')).collect();
    !ops.is_empty()
        && ops
            .iter()
            .any(|a| a.text.contains('.') || a.text.contains('/'))
        && ops.iter().all(|a| {
            a.known
                && !c.abs(a).starts_with("/dev/")
                && (matches!(c.class(a), Class::Workspace | Class::Build | Class::Tmp)
                    || !a.text.contains(['/', '.']))
        })
}

/// SQL that drops or empties data.
fn destructive_sql(text: &str) -> bool {
    let t = text.to_ascii_uppercase();
    let t: String = t.split_whitespace().collect::<Vec<_>>().join(" ");
    [
        "DROP DATABASE",
        "DROP TABLE",
        "DROP SCHEMA",
        "DROP USER",
        "DROP INDEX",
        "DROP COLLECTION",
        "TRUNCATE ",
        "DROPDATABASE(",
        ".DROP(",
        "DELETEMANY({})",
        "FLUSHALL",
    ]
    .iter()
    .any(|k| t.contains(k))
        || t.split(';').any(|s| {
            let s = s.trim();
            (s.starts_with("DELETE FROM") || s.starts_with("UPDATE ")) && !s.contains(" WHERE ")
        })
}

fn kill(c: &mut Cmd<'_, '_>, args: &[Field]) {
    let mut strong = false;
    let mut targets: Vec<&Field> = Vec::new();
    let mut seen = false;
    let mut i = 0;
    while i < args.len() {
        let t = args[i].text.as_str();
        if t == "-s" || t == "-n" {
            strong |= args.get(i + 1).is_some_and(|s| {
                matches!(
                    s.text.to_ascii_uppercase().trim_start_matches("SIG"),
                    "KILL" | "9"
                )
            });
            seen = true;
            i += 2;
            continue;
        }
        if t == "-l" || t == "-L" {
            return;
        }
        if t == "--" {
            targets.extend(args[i + 1..].iter());
            break;
        }
        match t.strip_prefix('-') {
            // The first dash word is the signal (`-9`, `-KILL`, `-SEGV`); later ones are pids.
            Some(sig) if !sig.is_empty() && !seen => {
                strong |= matches!(
                    sig.to_ascii_uppercase().trim_start_matches("SIG"),
                    "KILL" | "9"
                );
            }
            _ => targets.push(&args[i]),
        }
        seen = true;
        i += 1;
    }
    let probe = !strong && signal_zero(args);
    for t in targets {
        if t.taint.system_pids {
            c.hit("kill.system", Some("pids of a system process".into()));
        } else if !t.known && !t.taint.pids && !probe {
            // A process the line cannot show is its own (`kill $(ps ...)`, a system pid file).
            c.hit(
                "kill.dynamic",
                Some("pids not known before the command runs".into()),
            );
        }
        if !t.known {
            continue;
        }
        if matches!(t.text.as_str(), "1" | "-1" | "0") {
            c.hit("kill.system", Some(format!("kill {}", t.text)));
        }
    }
}

fn systemctl(c: &mut Cmd<'_, '_>, name: &str, args: &[Field]) {
    let a = parse(
        args,
        Spec::new(
            "tpHMsn",
            &[
                "type", "property", "host", "machine", "signal", "lines", "output", "root",
            ],
        ),
    );
    let user = a.has_long("user");
    let ops: Vec<&str> = a.operands.iter().map(|o| o.text.as_str()).collect();
    // `service NAME stop` puts the verb second.
    let (verb, units): (&str, Vec<&str>) = if name == "service" || name == "rc-service" {
        (
            ops.get(1).copied().unwrap_or(""),
            ops.first().copied().into_iter().collect(),
        )
    } else {
        (
            ops.first().copied().unwrap_or(""),
            ops.iter().skip(1).copied().collect(),
        )
    };
    match verb {
        "reboot"
        | "poweroff"
        | "halt"
        | "hibernate"
        | "suspend"
        | "hybrid-sleep"
        | "kexec"
        | "rescue"
        | "emergency"
        | "soft-reboot"
        | "suspend-then-hibernate" => c.hit("power.off", None),
        "isolate" | "default" => c.hit("power.off", None),
        "enable" | "link" | "preset" | "set-default" | "add-wants" | "add-requires" | "edit"
        | "load" | "bootstrap" => c.hit("persist.systemd", Some(format!("systemctl {verb}"))),
        "stop" | "disable" | "mask" | "kill" | "unload" | "bootout" | "remove" => {
            if user {
                c.hit("kill.user_service", None);
            } else {
                c.hit("kill.service", Some(format!("{verb} {}", units.join(" "))));
            }
        }
        _ => {}
    }
}

fn packages(c: &mut Cmd<'_, '_>, name: &str, words: &[&str]) {
    let removing = match name {
        "rpm" => words
            .iter()
            .any(|w| *w == "-e" || *w == "--erase" || w.starts_with("-e")),
        "dpkg" => words
            .iter()
            .any(|w| matches!(*w, "-r" | "-P" | "--remove" | "--purge")),
        "pacman" => words.iter().any(|w| w.starts_with("-R")),
        _ => words.iter().any(|w| {
            matches!(
                *w,
                "remove" | "purge" | "autoremove" | "erase" | "del" | "uninstall"
            )
        }),
    };
    if !removing {
        return;
    }
    let forced = words.iter().any(|w| {
        matches!(
            *w,
            "--nodeps"
                | "--force-all"
                | "--force-depends"
                | "--force-remove-essential"
                | "-dd"
                | "--allow-remove-essential"
                | "-Rdd"
        )
    });
    let essential = words.iter().any(|w| {
        ESSENTIAL
            .iter()
            .any(|e| w == e || w.starts_with(&format!("{e}-")) || w.starts_with(&format!("{e}*")))
    });
    if forced || essential {
        c.hit("syswrite.pkg_remove", None);
    } else {
        c.hit("syswrite.pkg_remove_other", None);
    }
}

fn docker(c: &mut Cmd<'_, '_>, words: &[&str]) {
    let sub: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| !w.starts_with('-'))
        .take(2)
        .collect();
    let first = sub.first().copied().unwrap_or("");
    let second = sub.get(1).copied().unwrap_or("");
    if matches!(first, "run" | "create" | "exec")
        || first == "container" && matches!(second, "run" | "create")
    {
        let escape = words.iter().any(|w| {
            *w == "--privileged"
                || w.starts_with("--pid=host")
                || w.starts_with("--cap-add=ALL")
                || w.starts_with("--cap-add=SYS_ADMIN")
                || w.starts_with("--userns=host")
                || w.contains("docker.sock")
                || w.starts_with("/:/")
                || w.starts_with("--volume=/:")
                || w.starts_with("--mount") && w.contains("source=/,")
        }) || words.windows(2).any(|p| {
            matches!(p[0], "-v" | "--volume")
                && (p[1].starts_with("/:")
                    || p[1].starts_with("/etc:")
                    || p[1].contains("docker.sock"))
                || p[0] == "--pid" && p[1] == "host"
        });
        if escape {
            c.hit("privesc.container", None);
        }
        if first != "exec" {
            let args = c.args().to_vec();
            let at = args
                .iter()
                .position(|a| a.is("run") || a.is("create"))
                .map_or(args.len(), |i| i + 1);
            super::container::run(c, &args[at..]);
        }
        return;
    }
    let all = words
        .iter()
        .any(|w| matches!(*w, "-a" | "--all" | "-af" | "-fa" | "--volumes"));
    match (first, second) {
        ("system", "prune") if all => c.hit("infra.container_prune", None),
        ("volume", "rm" | "prune" | "remove") => c.hit("infra.container_volume", None),
        ("image", "prune") | ("container", "prune") | ("builder", "prune")
            if all && words.contains(&"--volumes") =>
        {
            c.hit("infra.container_prune", None)
        }
        ("rm", _) | ("rmi", _) if words.iter().any(|w| *w == "-v" || *w == "--volumes") => {
            c.hit("infra.container_volume", None)
        }
        ("rm" | "rmi", _) if c.args().iter().any(|a| !a.known && !a.taint.pids) => {
            c.hit("infra.container_rm_dynamic", None)
        }
        _ => {}
    }
}
