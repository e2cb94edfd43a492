//! How a failed command ends: its exit status, its one `error:` line on stderr, and, with
//! `--json`, one JSON object on stdout with a stable `code`.
//!
//! The exit statuses and the codes are a public interface, listed in `docs/CLI.md`; add to
//! them, never renumber or rename.

use std::io;

use super::output::{self, paint, style};

/// Exit status: a command failed.
pub const EXIT_ERROR: i32 = 1;
/// Exit status: the command line itself is wrong (clap's usage errors).
pub const EXIT_USAGE: i32 = 2;

/// An error that knows its stable `code`.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Coded {
    /// The stable, machine-readable code (`not_mounted`, `conflict`, ...).
    pub code: &'static str,
    /// The human message.
    pub message: String,
}

/// An [`anyhow::Error`] carrying `code`.
pub fn coded(code: &'static str, message: impl Into<String>) -> anyhow::Error {
    Coded {
        code,
        message: message.into(),
    }
    .into()
}

/// The stable code of a message the daemon sent back instead of a result.
pub fn daemon_code(message: &str) -> &'static str {
    const KNOWN: [(&str, &str); 7] = [
        ("uncommitted changes", "uncommitted_changes"),
        ("changed outside the view", "conflict"),
        ("no space left", "no_space"),
        ("no checkpoint", "not_found"),
        ("resource busy", "busy"),
        ("fusermount3 -u failed", "busy"),
        ("not supported", "unsupported"),
    ];
    KNOWN
        .iter()
        .find(|(needle, _)| message.contains(needle))
        .map_or("daemon", |(_, code)| code)
}

/// The stable code of `err`: the first cause in its chain that names one.
pub fn code_of(err: &anyhow::Error) -> &'static str {
    for cause in err.chain() {
        if let Some(c) = cause.downcast_ref::<Coded>() {
            return c.code;
        }
        if cause.is::<crate::gate::GateError>() {
            return "policy";
        }
        if cause.is::<crate::confine::ConfineError>() {
            return "confinement";
        }
        if let Some(e) = cause.downcast_ref::<io::Error>() {
            return io_code(e);
        }
    }
    "failed"
}

fn io_code(e: &io::Error) -> &'static str {
    match (e.raw_os_error(), e.kind()) {
        (Some(libc::ENOSPC), _) => "no_space",
        (Some(libc::EBUSY), _) => "busy",
        (_, io::ErrorKind::NotFound) => "not_found",
        (_, io::ErrorKind::PermissionDenied) => "permission_denied",
        _ => "io",
    }
}

/// Joins an error and its causes into one line, as every command promises.
pub fn one_line(err: &anyhow::Error) -> String {
    err.chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
        .replace('\n', " ")
}

/// Whether `err` only says that standard output's reader went away.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Prints a failure: `error: ...` on stderr, and with `--json` also
/// `{"error": ..., "code": ..., "exit_code": ...}` on one line of stdout (unless the command
/// already wrote its JSON result there, which then says what went wrong).
pub fn render(message: &str, code: &str, exit_code: i32, json: bool) {
    if json && !output::json_written() {
        let doc = serde_json::json!({ "error": message, "code": code, "exit_code": exit_code });
        let _ = output::outln!("{doc}");
    }
    anstream::eprintln!("{} {message}", paint(style::ERROR, "error:"));
}

/// A clap error: help and version go to stdout with status 0; usage errors keep clap's
/// text on stderr and status 2, plus the JSON object with `--json`.
pub fn clap_error(err: &clap::Error, json: bool) -> i32 {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                EXIT_USAGE
            } else {
                0
            }
        }
        _ => {
            if json {
                let rendered = err.render().to_string();
                let first = rendered.lines().next().unwrap_or_default();
                let message = first.strip_prefix("error: ").unwrap_or(first);
                let doc = serde_json::json!({ "error": message, "code": "usage", "exit_code": EXIT_USAGE });
                let _ = output::outln!("{doc}");
            }
            let _ = err.print();
            EXIT_USAGE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_come_from_the_first_cause_that_names_one() {
        let e = anyhow::Error::from(io::Error::from_raw_os_error(libc::ENOSPC)).context("writing");
        assert_eq!(code_of(&e), "no_space");
        let e = coded("not_mounted", "no daemon").context("status");
        assert_eq!(code_of(&e), "not_mounted");
        assert_eq!(code_of(&anyhow::anyhow!("something")), "failed");
    }

    #[test]
    fn daemon_refusals_have_codes() {
        assert_eq!(
            daemon_code("3 uncommitted changes; commit or abort them"),
            "uncommitted_changes"
        );
        assert_eq!(
            daemon_code("no checkpoint 9 (see `ftsb-fs log`)"),
            "not_found"
        );
        assert_eq!(daemon_code("something new"), "daemon");
    }
}
