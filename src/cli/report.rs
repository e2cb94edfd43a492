//! How a failed command ends: its exit status, its one `error:` line on stderr, and, with
//! `--json`, one JSON object on stdout with a stable `code`.
//!
//! The codes are `control::Code`, the same enum the daemon answers with, and the exit status
//! of each comes from `Code::exit_status`. Both are a public interface, listed in
//! `docs/CLI.md`; add to them, never renumber or rename.

use std::io;

use super::output::{self, paint, style};
pub use crate::control::{Code, EXIT_ERROR};

/// An [`anyhow::Error`] carrying `code`.
pub fn coded(code: Code, message: impl Into<String>) -> anyhow::Error {
    crate::control::Error::new(code, message).into()
}

/// The stable code of `err`: the first cause in its chain that names one.
pub fn code_of(err: &anyhow::Error) -> Code {
    for cause in err.chain() {
        if let Some(c) = cause.downcast_ref::<crate::control::Error>() {
            return c.code;
        }
        if cause.is::<crate::gate::GateError>() {
            return Code::Policy;
        }
        if cause.is::<crate::confine::ConfineError>() {
            return Code::Confinement;
        }
        if let Some(e) = cause.downcast_ref::<io::Error>() {
            return Code::of_io(e);
        }
    }
    Code::Failed
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

/// Prints a failure with `code`: `error: ...` on stderr, and with `--json` also
/// `{"error": ..., "code": ..., "exit_code": ...}` on one line of stdout (unless the command
/// already wrote its JSON result there, which then says what went wrong). Returns the exit
/// status, which the code decides.
pub fn render(message: &str, code: Code, json: bool) -> i32 {
    let exit_code = code.exit_status();
    if json && !output::json_written() {
        let _ = output::outln!("{}", json_error(message, code));
    }
    anstream::eprintln!("{} {message}", paint(style::ERROR, "error:"));
    exit_code
}

/// The one-line JSON object of a failure.
fn json_error(message: &str, code: Code) -> String {
    /// The failure as `--json` prints it (keys sorted, as for every JSON document printed).
    #[derive(serde::Serialize)]
    struct Doc<'a> {
        code: Code,
        error: &'a str,
        exit_code: i32,
    }
    serde_json::to_string(&Doc {
        code,
        error: message,
        exit_code: code.exit_status(),
    })
    .unwrap_or_else(|_| format!(r#"{{"code":"{code}","error":"","exit_code":1}}"#))
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
                Code::Usage.exit_status()
            } else {
                0
            }
        }
        _ => {
            if json {
                let rendered = err.render().to_string();
                let first = rendered.lines().next().unwrap_or_default();
                let message = first.strip_prefix("error: ").unwrap_or(first);
                let _ = output::outln!("{}", json_error(message, Code::Usage));
            }
            let _ = err.print();
            Code::Usage.exit_status()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_come_from_the_first_cause_that_names_one() {
        let e = anyhow::Error::from(io::Error::from_raw_os_error(libc::ENOSPC)).context("writing");
        assert_eq!(code_of(&e), Code::NoSpace);
        let e = coded(Code::NotMounted, "no daemon").context("status");
        assert_eq!(code_of(&e), Code::NotMounted);
        assert_eq!(code_of(&anyhow::anyhow!("something")), Code::Failed);
    }

    #[test]
    fn the_json_error_has_sorted_keys_and_the_code_s_exit_status() {
        assert_eq!(
            json_error("no \"daemon\"", Code::NotMounted),
            r#"{"code":"not_mounted","error":"no \"daemon\"","exit_code":1}"#
        );
        assert_eq!(
            json_error("bad flag", Code::Usage),
            r#"{"code":"usage","error":"bad flag","exit_code":2}"#
        );
    }
}
