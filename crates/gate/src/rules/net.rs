//! Network tools: downloads (tracked so running them later on the line is caught), uploads
//! of secrets, secrets in arguments, and reverse shells.
//!
//! Owns curl, wget, nc/ncat, socat, telnet and httpie. What a download writes to stdout is
//! tainted as network data, which [`super::super::unwrap`] refuses to feed to a shell.

use crate::args::{Spec, parse};
use crate::cmd::Cmd;
use crate::field::{Field, UNKNOWN};
use crate::paths::Class;
use crate::urls::{other_host, this_machine};

pub(crate) fn net(c: &mut Cmd<'_, '_>) {
    leaks(c);
    match c.prog.name.as_str() {
        "curl" => curl(c),
        "wget" => wget(c),
        "nc" | "ncat" | "netcat" => {
            let a = parse(
                c.args(),
                Spec::new(
                    "eciIOpPqsTwWxX",
                    &["exec", "sh-exec", "lua-exec", "proxy", "source"],
                ),
            );
            if a.value('e', "exec").is_some()
                || a.value('c', "sh-exec").is_some()
                || a.value('\0', "lua-exec").is_some()
            {
                c.hit(
                    "rce.revshell",
                    Some("network connection wired to a program".into()),
                );
            }
        }
        "socat"
            if c.args().iter().any(|a| {
                let t = a.text.to_ascii_uppercase();
                t.contains("EXEC:") || t.contains("SYSTEM:")
            }) =>
        {
            c.hit(
                "rce.revshell",
                Some("socat wires a connection to a program".into()),
            );
        }
        "http" | "https" | "xh" => {
            let files: Vec<Field> = c
                .args()
                .iter()
                .filter_map(|a| {
                    a.text.split_once('@').map(|(_, f)| Field {
                        text: f.to_owned(),
                        ..a.clone()
                    })
                })
                .filter(|f| !f.text.is_empty())
                .collect();
            for f in files {
                upload(c, &f);
            }
        }
        _ => {}
    }
}

/// Hosts of the services whose tokens agents routinely hold.
const API_HOSTS: &[&str] = &[
    "api.github.com",
    "uploads.github.com",
    "github.com",
    "gitlab.com",
    "api.openai.com",
    "api.anthropic.com",
    "registry.npmjs.org",
    "huggingface.co",
    "api.stripe.com",
    "slack.com",
    "hooks.slack.com",
    "api.vercel.com",
    "api.cloudflare.com",
    "amazonaws.com",
    "googleapis.com",
    "azure.com",
];

/// Options and variables that send a request for this machine elsewhere (a proxy, another
/// address for the name).
const REROUTES: &[&str] = &[
    "-x",
    "--proxy",
    "--preproxy",
    "--resolve",
    "--connect-to",
    "--socks4",
    "--socks4a",
    "--socks5",
    "--socks5-hostname",
    "-e",
    "--execute",
];
const PROXY_VARS: &[&str] = &[
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
];

/// True when the command may send its request for this machine elsewhere ([`REROUTES`]).
fn rerouted(c: &Cmd<'_, '_>) -> bool {
    let opt = |t: &str| {
        REROUTES.iter().any(|r| {
            t.strip_prefix(r)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('=') || r.len() == 2)
        })
    };
    c.args().iter().any(|a| opt(&a.text))
        || PROXY_VARS.iter().any(|v| c.scope.vars.contains_key(*v))
}

/// True when the URL is of this machine (local development, unless `rerouted`), or its host
/// is (below) one of [`API_HOSTS`].
fn token_destination(url: &str, rerouted: bool) -> bool {
    let host = crate::urls::host(url);
    crate::urls::this_machine(url) && !rerouted
        || API_HOSTS
            .iter()
            .any(|a| host == *a || host.ends_with(&format!(".{a}")))
}

/// A file sent by an upload flag.
fn upload(c: &mut Cmd<'_, '_>, f: &Field) {
    if f.text == "-" {
        return;
    }
    let abs = c.abs(f);
    let class = c.class(f);
    if c.an.secret_file(&abs) || class == Class::HomeSensitive {
        c.hit(
            "exfil.upload_secret",
            Some(format!("uploads {}", super::fs::shown(f))),
        );
    } else if matches!(
        class,
        Class::Home
            | Class::HomeChild
            | Class::System
            | Class::Root
            | Class::Outside
            | Class::Unknown
    ) && !f.known
        || matches!(class, Class::Home | Class::System | Class::Root)
    {
        c.hit(
            "exfil.upload_outside",
            Some(format!("uploads {}", super::fs::shown(f))),
        );
    }
}

/// What any network tool leaks: secrets in its arguments (unless every destination is the
/// API such a token is made for), an interactive shell or secret data on its stdin.
fn leaks(c: &mut Cmd<'_, '_>) {
    // Secrets expanded into the arguments (headers, URLs, form fields) leave the machine,
    // unless every destination is this machine or a well-known API that such tokens are
    // made for; a destination is any word shaped like a URL, with or without a scheme, or
    // starting with what the line cannot show.
    let own_api = {
        let url = |t: &str| {
            t.contains("://") || t.starts_with(UNKNOWN) || this_machine(t) || other_host(t)
        };
        let urls: Vec<&Field> = c.args().iter().filter(|a| url(&a.text)).collect();
        let rerouted = rerouted(c);
        !urls.is_empty()
            && urls
                .iter()
                .all(|u| !u.taint.secret && token_destination(&u.text, rerouted))
    };
    // A stored secret (a key file, `gh auth token`) goes to no host at all.
    let own_api = own_api && !c.args().iter().any(|a| a.taint.stored);
    if let Some(f) = c
        .args()
        .iter()
        .find(|a| a.taint.secret)
        .filter(|_| !own_api)
    {
        let shown = super::fs::shown(f);
        c.hit("exfil.secret_arg", Some(shown));
    }
    if c.io.stdin.from_shell {
        c.hit(
            "rce.revshell",
            Some("an interactive shell is piped into a network tool".into()),
        );
    }
    if c.io.stdin.taint.secret {
        c.hit(
            "exfil.upload_secret",
            Some("secret data piped into a network tool".into()),
        );
    }
}

/// curl's long options that take a value.
const CURL_VALUED: &[&str] = &[
    "output",
    "data",
    "data-binary",
    "data-raw",
    "data-urlencode",
    "data-ascii",
    "form",
    "form-string",
    "header",
    "upload-file",
    "user",
    "user-agent",
    "request",
    "referer",
    "cookie",
    "cookie-jar",
    "config",
    "proxy",
    "json",
    "url",
    "write-out",
    "max-time",
    "connect-timeout",
    "retry",
    "cacert",
    "cert",
    "key",
    "resolve",
    "range",
    "output-dir",
];

fn curl(c: &mut Cmd<'_, '_>) {
    let a = parse(c.args(), Spec::new("odFHTuAXeEKbcDrmwxyzQ", CURL_VALUED));
    let mut files: Vec<Field> = Vec::new();
    for long in [
        "data",
        "data-binary",
        "data-urlencode",
        "data-ascii",
        "json",
    ] {
        for v in a.values(if long == "data" { 'd' } else { '\0' }, long) {
            if let Some(f) = v.text.strip_prefix('@') {
                files.push(Field {
                    text: f.to_owned(),
                    ..v.clone()
                });
            }
        }
    }
    for v in a.values('F', "form") {
        if let Some((_, f)) = v.text.split_once(['@', '<']) {
            let f = f.split(';').next().unwrap_or(f);
            files.push(Field {
                text: f.to_owned(),
                ..v.clone()
            });
        }
    }
    for v in a.values('T', "upload-file") {
        files.push(v.clone());
    }
    for f in &files {
        upload(c, f);
    }
    for v in a.values('o', "output") {
        if v.text != "-" {
            let abs = c.abs(v);
            crate::cmd::check_write(c.an, c.scope, v, "curl -o");
            c.an.fetched.push(abs);
        }
    }
    if a.has('O', "remote-name") {
        for u in &a.operands {
            fetched_name(c, u);
        }
    }
    let outs: Vec<String> = c.io.stdout_files.clone();
    c.an.fetched.extend(outs);
}

fn wget(c: &mut Cmd<'_, '_>) {
    let a = parse(
        c.args(),
        Spec::new(
            "OoaPeUtTwQlAR",
            &[
                "output-document",
                "output-file",
                "append-output",
                "directory-prefix",
                "execute",
                "user-agent",
                "tries",
                "timeout",
                "wait",
                "quota",
                "level",
                "accept",
                "reject",
                "post-data",
                "post-file",
                "body-file",
                "body-data",
                "header",
                "method",
                "user",
                "password",
            ],
        ),
    );
    for v in a
        .values('\0', "post-file")
        .into_iter()
        .chain(a.values('\0', "body-file"))
    {
        let v = v.clone();
        upload(c, &v);
    }
    match a.value('O', "output-document") {
        Some(v) if v.text == "-" => {}
        Some(v) => {
            let v = v.clone();
            crate::cmd::check_write(c.an, c.scope, &v, "wget -O");
            let abs = c.abs(&v);
            c.an.fetched.push(abs);
        }
        None => {
            for u in a.operands.clone() {
                fetched_name(c, &u);
            }
        }
    }
    let outs: Vec<String> = c.io.stdout_files.clone();
    c.an.fetched.extend(outs);
}

/// The file a download names after its URL.
fn fetched_name(c: &mut Cmd<'_, '_>, url: &Field) {
    let path = url.text.split(['?', '#']).next().unwrap_or("");
    if let Some(name) = path
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty() && !n.contains(':'))
    {
        let abs = c.an.paths.abs(name, c.scope);
        c.an.fetched.push(abs);
    }
}

/// True when the download tool writes the body to stdout.
pub(crate) fn to_stdout(name: &str, fields: &[Field]) -> bool {
    let args = &fields[1..];
    match name {
        "curl" => {
            let a = parse(
                args,
                Spec::new(
                    "odFHTuAXeEKbcDrmwxyzQ",
                    &[
                        "output",
                        "data",
                        "form",
                        "header",
                        "upload-file",
                        "user",
                        "request",
                        "config",
                        "url",
                        "write-out",
                    ],
                ),
            );
            a.values('o', "output").iter().all(|v| v.text == "-") && !a.has('O', "remote-name")
        }
        "wget" => {
            let a = parse(
                args,
                Spec::new("OoaPeUtTwQlAR", &["output-document", "output-file"]),
            );
            a.value('O', "output-document")
                .is_some_and(|v| v.text == "-")
        }
        _ => true,
    }
}
