//! What a container does to the host through its bind mounts.
//!
//! `docker run -v ~/src:/w IMAGE rm -rf /w` deletes the host's `~/src`: the container's
//! command is judged with each mounted container path written as the host path it reaches,
//! and only what it does to a mounted host path the view cannot undo counts (the rest of the
//! container's filesystem is its own).

use crate::args::{Spec, parse};
use crate::cmd::Cmd;
use crate::field::Field;
use crate::state::{Io, Scope, Stream};

/// Options of `docker run`/`podman run`/`create` that take a value.
const RUN_VALUED: &[&str] = &[
    "volume",
    "mount",
    "env",
    "env-file",
    "workdir",
    "name",
    "publish",
    "network",
    "entrypoint",
    "user",
    "label",
    "platform",
    "hostname",
    "cpus",
    "memory",
    "gpus",
    "restart",
    "add-host",
    "device",
    "cap-add",
    "cap-drop",
    "security-opt",
    "tmpfs",
    "ulimit",
    "pull",
    "log-driver",
    "log-opt",
    "shm-size",
    "ipc",
    "pid",
    "runtime",
    "attach",
    "dns",
    "expose",
    "stop-signal",
    "health-cmd",
    "volumes-from",
    "cidfile",
];

/// `docker run ... IMAGE CMD...` (after the `run` word): judges CMD on the host paths the
/// bind mounts expose.
pub(crate) fn run(c: &mut Cmd<'_, '_>, args: &[Field]) {
    // `-i` is `--interactive`, a flag: the container's command reads our stdin.
    let a = parse(args, Spec::wrapper("vewpulhmac", RUN_VALUED));
    let interactive = a.has('i', "interactive");
    let mut mounts: Vec<(String, String)> = Vec::new();
    for v in a.values('v', "volume") {
        let mut parts = v.text.split(':');
        if let (Some(host), Some(ctr)) = (parts.next(), parts.next()) {
            mounts.push((host.to_owned(), ctr.to_owned()));
        }
    }
    for m in a.values('\0', "mount") {
        let get = |k: &str| {
            m.text
                .split(',')
                .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('='))
        };
        if let (Some(host), Some(ctr)) = (
            get("source").or(get("src")),
            get("target").or(get("destination")).or(get("dst")),
        ) {
            mounts.push((host.to_owned(), ctr.to_owned()));
        }
    }
    // Only host directories the view cannot undo matter; a name is a volume, not a path.
    let exposed: Vec<(String, String)> = mounts
        .into_iter()
        .filter(|(h, ctr)| {
            (h.contains('/') || h.starts_with('~')) && ctr.starts_with('/') && ctr.len() > 1
        })
        .map(|(h, ctr)| (c.abs(&Field::lit(&h)), ctr))
        .filter(|(h, _)| c.an.paths.classify_abs(h, false).precious())
        .collect();
    if exposed.is_empty() || a.operands.len() < 2 {
        return;
    }
    let argv: Vec<Field> = a.operands[1..]
        .iter()
        .map(|f| Field {
            text: on_host(&f.text, &exposed),
            ..f.clone()
        })
        .collect();
    let start = c.an.hits.len();
    let mut s: Scope = c.scope.clone();
    s.wrappers.push("container".into());
    s.depth += 1;
    s.cwd = None;
    let stdin = Stream {
        text: c.io.stdin.text.as_deref().map(|t| on_host(t, &exposed)),
        ..c.io.stdin.clone()
    };
    let io = if interactive {
        Io {
            stdin,
            ..Io::default()
        }
    } else {
        Io::default()
    };
    c.an.dispatch(argv, &io, &mut s);
    // What the container does to its own files stays in the container.
    let mut i = start;
    while i < c.an.hits.len() {
        let h = &c.an.hits[i];
        // A secret read from a mount leaves through whatever the container sends.
        let touches = h.rule.starts_with("exfil.")
            || exposed.iter().any(|(host, _)| {
                h.command.contains(host.as_str())
                    || h.detail.as_ref().is_some_and(|d| d.contains(host.as_str()))
            });
        if touches {
            i += 1;
        } else {
            c.an.hits.remove(i);
        }
    }
}

/// `text` with every mounted container path (at a word start, followed by `/`, a blank, a
/// quote or the end) written as the host path it reaches.
fn on_host(text: &str, exposed: &[(String, String)]) -> String {
    let mut out = text.to_owned();
    for (host, ctr) in exposed {
        let mut next = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(i) = rest.find(ctr.as_str()) {
            let before = rest[..i].chars().next_back();
            let after = rest[i + ctr.len()..].chars().next();
            let starts = before.is_none_or(|b| matches!(b, ' ' | '\'' | '"' | '=' | ':'));
            let ends = after.is_none_or(|a| matches!(a, '/' | ' ' | '\'' | '"' | ';' | '*'));
            next.push_str(&rest[..i]);
            next.push_str(if starts && ends { host } else { ctr });
            rest = &rest[i + ctr.len()..];
        }
        next.push_str(rest);
        out = next;
    }
    out
}
