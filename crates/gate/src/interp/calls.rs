//! What interpreter code calls, as data: per language, the calls that run processes,
//! delete, write, reach the network, run code, or build a callee at run time.

use super::Lang;

pub(crate) fn process_calls(lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::Python => &[
            "os.system",
            ".system(",
            "subprocess",
            "popen",
            "os.exec",
            "spawn",
            "pty.",
            "getoutput",
            "getstatusoutput",
        ],
        Lang::Perl => &["system", "exec", "qx", "`exec(", "open(", "open "],
        Lang::Ruby => &[
            "system", "exec", "spawn", "%x", "popen", "Open3", "`exec(", "Kernel.",
        ],
        Lang::Js => &[
            "child_process",
            "execSync",
            "spawnSync",
            "exec(",
            "spawn(",
            "execFile",
            "Deno.Command",
            "Deno.run",
            "Bun.spawn",
            "$`",
            "`exec(",
        ],
        Lang::Php => &[
            "system(",
            "exec(",
            "shell_exec",
            "passthru",
            "popen",
            "proc_open",
            "`exec(",
        ],
        Lang::Lua => &["os.execute", "io.popen"],
        // `print ... | CMD` is judged with what it prints (`awk::redirections`).
        Lang::Awk => &["system(", "| getline", "|getline"],
        Lang::R => &["system(", "system2(", "shell("],
        Lang::AppleScript => &["do shell script"],
    }
}

pub(crate) const DELETE_CALLS: &[&str] = &[
    "rmtree",
    "os.remove",
    "os.unlink",
    ".unlink(",
    "os.rmdir",
    "removedirs",
    ".rmdir(",
    "rm_rf",
    "rm_r(",
    "rm_r ",
    "FileUtils.rm",
    "remove_dir",
    "remove_entry",
    "File.delete",
    "Dir.rmdir",
    "File.unlink",
    "rmSync",
    "rmdirSync",
    "unlinkSync",
    "fs.rm(",
    ".rm(",
    "rmdir(",
    "unlink(",
    "unlink ",
    // Perl's bare `unlink` deletes `$_` (`find(sub { unlink }, DIR)`).
    "unlink}",
    "unlink;",
    "Deno.remove",
    "remove_tree",
    "os.remove(",
    "file.remove",
    "delete_file",
];

pub(crate) const WRITE_CALLS: &[&str] = &[
    "open(",
    ".write_text(",
    ".write_bytes(",
    "shutil.copy",
    "shutil.move",
    "os.rename",
    "os.replace",
    "File.write",
    "File.open",
    "IO.write",
    "FileUtils.mv",
    "FileUtils.cp",
    "writeFileSync",
    "appendFileSync",
    "writeFile(",
    "appendFile(",
    "createWriteStream",
    "renameSync",
    "copyFileSync",
    "Deno.writeTextFile",
    "Deno.writeFile",
    "file_put_contents",
    "fopen(",
    // Changing a file's mode or owner is writing it.
    "os.chmod",
    "chmod(",
    "chmod ",
    "chmodSync(",
    "chown(",
    "chown ",
    "os.chown(",
    "chownSync(",
    "io.open(",
    // Truncating a file is writing it.
    "truncate(",
    "truncate ",
    "File.truncate",
    "print >",
    "print>",
    "printf >",
];

pub(crate) const EXEC_TOKENS: &[&str] = &[
    "exec(",
    "eval(",
    "eval ",
    "compile(",
    "instance_eval",
    "new Function",
    "vm.run",
    "loadstring(",
    "load(",
    "dofile(",
    "assert(",
    "Function(",
];

pub(crate) const HOME_TOKENS: &[&str] = &[
    "expanduser",
    "Path.home",
    "home()",
    "Dir.home",
    "homedir",
    "$HOME",
    "ENV{HOME}",
    "getenv",
    "environ",
    "env.get",
    "ENV[",
    "HOME",
];

/// Calls that open network connections or send requests (a module merely imported, a
/// version string or a status table is not network use).
const NET_CALLS: &[&str] = &[
    "urllib.request.urlopen",
    "urlopen(",
    "urlretrieve(",
    "urllib2",
    "requests.get(",
    "requests.post(",
    "requests.put(",
    "requests.patch(",
    "requests.delete(",
    "requests.head(",
    "requests.request(",
    "requests.Session(",
    "requests.session(",
    "http.client.HTTP",
    "HTTPConnection(",
    "HTTPSConnection(",
    ".connect((",
    ".sendto(",
    "socket.create_connection(",
    "socket.getaddrinfo(",
    "TCPSocket.new",
    "IO::Socket::INET",
    "httpx.",
    "aiohttp.",
    "ftplib.",
    "smtplib.",
    "paramiko.",
    "LWP",
    "IO::Socket",
    "HTTP::Tiny",
    "Net::",
    "open-uri",
    "URI.open",
    "TCPSocket",
    "Faraday",
    "HTTParty",
    "Net::HTTP",
    "http.request(",
    "https.get(",
    "https.request(",
    "http.get(",
    "fetch(",
    "net.connect(",
    "net.createConnection(",
    "dgram.",
    "axios",
    "curl_",
    "fsockopen",
    "download.file",
    "url(",
    "WebSocket(",
    "XMLHttpRequest",
];

/// Network calls that mean it only in one language (`socket(` in Perl opens a socket; in
/// Python `socket.socket()` alone, e.g. to find a free port, talks to nobody).
const LANG_NET_CALLS: &[(Lang, &str)] = &[
    (Lang::Perl, "socket("),
    (Lang::Perl, "connect("),
    (Lang::Perl, "Socket"),
    (Lang::Ruby, "Socket."),
    (Lang::Php, "socket_connect("),
    (Lang::Php, "stream_socket_client("),
    (Lang::Lua, "socket."),
    (Lang::Awk, "/inet/"),
];

/// True when `token` occurs as a call of its own: a token that starts with a name must not
/// be the tail of a longer name or a method of something else (`ENV.fetch(`).
fn called(code: &str, token: &str) -> bool {
    let named = token.starts_with(|c: char| c.is_alphabetic());
    code.match_indices(token).any(|(i, _)| {
        let before = code[..i].chars().next_back();
        !named || !before.is_some_and(|b| b.is_alphanumeric() || b == '_' || b == '.')
    })
}

/// `require('https').request(...)`: a network module called through its literal name.
fn node_module_call(code: &str, lits: &[String]) -> bool {
    let module = lits.iter().any(|l| {
        matches!(
            l.as_str(),
            "http" | "https" | "net" | "dgram" | "tls" | "node:http" | "node:https" | "node:net"
        )
    });
    let call = [
        ".request(",
        ".get(",
        ".connect(",
        ".createConnection(",
        ".send(",
    ]
    .iter()
    .any(|t| code.contains(t));
    module && call
}

/// True when the code makes a network call to somewhere other than this machine.
pub(crate) fn uses_network(code: &str, lits: &[String], lang: Lang) -> bool {
    let urls: Vec<&String> = lits
        .iter()
        .filter(|l| l.starts_with("http://") || l.starts_with("https://") || l.starts_with("ws"))
        .collect();
    let remote_url = urls.iter().any(|u| !crate::urls::this_machine(u));
    let only_local = !urls.is_empty() && !remote_url;
    let calls = NET_CALLS.iter().any(|t| called(code, t))
        || LANG_NET_CALLS
            .iter()
            .any(|(l, t)| *l == lang && code.contains(t))
        || lits.iter().any(|l| l.starts_with("/inet/"))
        || node_module_call(code, lits);
    remote_url || calls && !only_local
}

/// What code may read or send besides the literal request it makes: files, the
/// environment, input, processes, sockets, request bodies and credentials.
const SENDS_OR_READS: &[&str] = &[
    "open(",
    "File",
    "Path",
    "home",
    "environ",
    "getenv",
    "env",
    "ENV",
    "argv",
    "stdin",
    "input(",
    "listdir",
    "glob",
    "walk",
    "subprocess",
    "popen",
    "system",
    "exec",
    "spawn",
    "socket",
    "post",
    "put(",
    "patch(",
    "delete",
    "data",
    "files",
    "body",
    "method",
    "send",
    "write",
    "upload",
    "json=",
    "headers",
    "auth",
    "cookie",
    "token",
    "key",
    "secret",
    "password",
    "require(\"fs",
    "require('fs",
    "stream",
    "pipe",
    "eval",
    "import(",
];

/// Python or JavaScript code that only fetches literal URLs and prints what comes back
/// (`requests.get('https://pypi.org/...').json()`): what `curl URL` does.
pub(crate) fn only_fetches(code: &str, lang: Lang) -> bool {
    // Each request names its URL as a literal (`urlopen(url)` may be anything).
    let literal_urls = NET_CALLS.iter().all(|t| {
        code.match_indices(t).all(|(i, _)| {
            let args = code[i + t.len()..].trim_start();
            let args = args.strip_prefix('(').unwrap_or(args).trim_start();
            args.starts_with(super::LIT)
        })
    });
    matches!(lang, Lang::Python | Lang::Js)
        && literal_urls
        && !SENDS_OR_READS
            .iter()
            .any(|t| called(code, t) || !t.ends_with('(') && code.contains(t))
}

/// Calls that run code given as a value: their argument must be a literal the gate reads.
pub(crate) const EVAL_CALLS: &[&str] = &[
    "exec(",
    "eval(",
    "eval ",
    "compile(",
    "execfile(",
    "instance_eval",
    "class_eval",
    "module_eval",
    "Function(",
    "vm.runIn",
    "runInNewContext(",
    "runInThisContext(",
    "loadstring(",
    "load(",
    "dofile(",
    "create_function(",
    ".runInThisContext(",
    ".runInNewContext(",
    ".runInContext(",
];

/// Ways to reach a callee or module by a name computed at run time, and the language
/// they mean that in (`None`: any).
pub(crate) const DYNAMIC_CALLEES: &[(&str, Option<Lang>)] = &[
    ("getattr(", Some(Lang::Python)),
    ("__import__(", Some(Lang::Python)),
    ("import_module(", Some(Lang::Python)),
    ("__builtins__", Some(Lang::Python)),
    ("globals()[", Some(Lang::Python)),
    ("locals()[", Some(Lang::Python)),
    ("__dict__", Some(Lang::Python)),
    ("vars(", Some(Lang::Python)),
    ("__getattribute__(", Some(Lang::Python)),
    ("methodcaller(", Some(Lang::Python)),
    ("attrgetter(", Some(Lang::Python)),
    ("runpy.run_", Some(Lang::Python)),
    // A console that reads the code it runs from stdin.
    ("code.interact", Some(Lang::Python)),
    ("InteractiveConsole", Some(Lang::Python)),
    ("pickle.loads(", Some(Lang::Python)),
    ("marshal.loads(", Some(Lang::Python)),
    ("ctypes.", Some(Lang::Python)),
    ("require(", Some(Lang::Js)),
    ("import(", Some(Lang::Js)),
    ("globalThis[", Some(Lang::Js)),
    ("global[", Some(Lang::Js)),
    ("process.binding", Some(Lang::Js)),
    ("process.dlopen(", Some(Lang::Js)),
    ("Reflect.", Some(Lang::Js)),
    (".send(", Some(Lang::Ruby)),
    (".public_send(", Some(Lang::Ruby)),
    (".__send__(", Some(Lang::Ruby)),
    ("const_get(", Some(Lang::Ruby)),
    ("method(", Some(Lang::Ruby)),
    ("call_user_func", Some(Lang::Php)),
    ("&{", Some(Lang::Perl)),
    ("&$", Some(Lang::Perl)),
    ("->$", None),
    ("::$", Some(Lang::Php)),
];

/// Calls that signal processes, change permissions or truncate files: with arguments the
/// gate cannot read, their targets are unknown.
pub(crate) const TARGETED_CALLS: &[&str] = &[
    "os.kill(",
    "os.killpg(",
    "signal.pthread_kill(",
    "process.kill(",
    "posix_kill(",
    "Process.kill(",
    "kill(",
    "kill ",
    "os.chmod(",
    "os.chown(",
    "os.lchmod(",
    "shutil.chown(",
    "chmodSync(",
    "chownSync(",
    "fs.chmod(",
    "File.chmod(",
    "FileUtils.chmod",
    "chmod(",
    "chmod ",
    "chown(",
    "chown ",
    "truncate(",
    "truncate ",
    "os.truncate(",
    "ftruncate(",
    "unlink ",
    "unlink(",
];

/// The process's own id or its parent's: signalling it stops only this work.
pub(crate) const SELF_PIDS: &[&str] = &[
    "process.pid",
    "process.ppid",
    "os.getpid()",
    "os.getppid()",
    "Process.pid",
    "Process.ppid",
    "getmypid()",
    "$$",
];

/// Code that makes something run at every login or boot, and the rule it fires.
pub(crate) const PERSIST_TOKENS: &[(&str, &str)] = &[
    ("login item", "persist.systemd"),
    ("LaunchAgents", "persist.systemd"),
    ("LaunchDaemons", "persist.systemd"),
    ("launchctl", "persist.systemd"),
    ("autostart", "persist.systemd"),
    ("crontab", "persist.cron"),
    ("shut down", "power.off"),
    ("restart", "power.off"),
    ("log out", "power.off"),
];
