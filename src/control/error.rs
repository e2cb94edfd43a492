//! The errors of the control protocol and of the command line: one enum of stable codes.
//!
//! A failure is an [`Error`]: a [`Code`] that programs match on and a one-line message for
//! people. The daemon sends both in its error frames; the command line prints the message as
//! `error: ...` and, with `--json`, the code too. Codes are a public interface (listed in
//! `docs/CLI.md`, checked by a test): add to them, never rename one.
//!
//! Deliberately not done here: deciding which failure gets which code from a module's own
//! error types. The daemon and the command line do that where the error is made; this module
//! only classifies operating-system errors ([`Code::of_io`]), which mean the same everywhere.

use std::fmt;
use std::io;

use serde::{Deserialize, Serialize};

/// The stable code of a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// The command line itself is wrong.
    Usage,
    /// No daemon serves the workspace, or the current directory is in no mounted workspace.
    NotMounted,
    /// `unmount` refused: the overlay holds changes.
    UncommittedChanges,
    /// `commit` refused: the workspace changed outside the view.
    Conflict,
    /// `commit` refused: files would reach the workspace with setuid, setgid, sticky or a file
    /// capability they did not have there.
    GainedPrivileges,
    /// The view is in use.
    Busy,
    /// A checkpoint, path, file or store that does not exist.
    NotFound,
    /// A disk is full.
    NoSpace,
    /// The operating system refused access.
    PermissionDenied,
    /// A gate policy file cannot be read or has an error.
    Policy,
    /// A configuration file cannot be read or has an error.
    Config,
    /// The kernel cannot enforce the confinement asked for.
    Confinement,
    /// The daemon does not support what was asked.
    Unsupported,
    /// The request is not allowed from inside an agent session.
    RefusedBySession,
    /// The daemon could not make sense of the request.
    BadRequest,
    /// The command line and the daemon speak different versions of the protocol.
    VersionMismatch,
    /// Any other failure inside the daemon.
    Daemon,
    /// Any other input/output error.
    Io,
    /// Anything else (also a code this version does not know yet).
    #[serde(other)]
    Failed,
}

impl Code {
    /// Every code, in the order `docs/CLI.md` lists them.
    pub const ALL: [Code; 19] = [
        Code::Usage,
        Code::NotMounted,
        Code::UncommittedChanges,
        Code::Conflict,
        Code::GainedPrivileges,
        Code::Busy,
        Code::NotFound,
        Code::NoSpace,
        Code::PermissionDenied,
        Code::Policy,
        Code::Config,
        Code::Confinement,
        Code::Unsupported,
        Code::RefusedBySession,
        Code::BadRequest,
        Code::VersionMismatch,
        Code::Daemon,
        Code::Io,
        Code::Failed,
    ];

    /// The code as it is written on the wire and in `--json` errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Usage => "usage",
            Code::NotMounted => "not_mounted",
            Code::UncommittedChanges => "uncommitted_changes",
            Code::Conflict => "conflict",
            Code::GainedPrivileges => "gained_privileges",
            Code::Busy => "busy",
            Code::NotFound => "not_found",
            Code::NoSpace => "no_space",
            Code::PermissionDenied => "permission_denied",
            Code::Policy => "policy",
            Code::Config => "config",
            Code::Confinement => "confinement",
            Code::Unsupported => "unsupported",
            Code::RefusedBySession => "refused_by_session",
            Code::BadRequest => "bad_request",
            Code::VersionMismatch => "version_mismatch",
            Code::Daemon => "daemon",
            Code::Io => "io",
            Code::Failed => "failed",
        }
    }

    /// The exit status of a command that fails with this code: the one place it is decided.
    pub fn exit_status(self) -> i32 {
        match self {
            Code::Usage => EXIT_USAGE,
            _ => EXIT_ERROR,
        }
    }

    /// The code of an operating-system error.
    pub fn of_io(e: &io::Error) -> Code {
        match (e.raw_os_error(), e.kind()) {
            (Some(libc::ENOSPC), _) => Code::NoSpace,
            (Some(libc::EBUSY), _) | (_, io::ErrorKind::ResourceBusy) => Code::Busy,
            (_, io::ErrorKind::NotFound) => Code::NotFound,
            (_, io::ErrorKind::PermissionDenied) => Code::PermissionDenied,
            _ => Code::Io,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Exit status: a command failed.
pub const EXIT_ERROR: i32 = 1;
/// Exit status: the command line itself is wrong (clap's usage errors).
pub const EXIT_USAGE: i32 = 2;

/// A failure with its stable code and a one-line, lowercase message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub code: Code,
    pub message: String,
}

impl Error {
    /// A failure with `code`; line breaks in `message` become spaces, so it stays one line.
    pub fn new(code: Code, message: impl Into<String>) -> Error {
        let message: String = message.into();
        Error {
            code,
            message: if message.contains('\n') {
                message.replace('\n', " ")
            } else {
                message
            },
        }
    }

    /// An operating-system error, classified by [`Code::of_io`], after `context`.
    pub fn io(context: impl fmt::Display, e: &io::Error) -> Error {
        Error::new(Code::of_io(e), format!("{context}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_written_as_serde_writes_them_and_read_back() {
        for code in Code::ALL {
            let wire = serde_json::to_value(code).expect("codes serialize");
            assert_eq!(wire, code.as_str(), "{code:?}");
            let back: Code = serde_json::from_value(wire).expect("codes deserialize");
            assert_eq!(back, code);
        }
        let mut names: Vec<_> = Code::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Code::ALL.len(), "a code is listed twice");
    }

    #[test]
    fn an_unknown_code_reads_as_failed_and_exit_statuses_follow_the_code() {
        let c: Code = serde_json::from_str("\"from_the_future\"").expect("unknown code");
        assert_eq!(c, Code::Failed);
        assert_eq!(Code::Usage.exit_status(), 2);
        for code in Code::ALL.into_iter().filter(|c| *c != Code::Usage) {
            assert_eq!(code.exit_status(), 1, "{code:?}");
        }
    }

    #[test]
    fn os_errors_get_their_codes_and_messages_stay_one_line() {
        let e = Error::io("write x", &io::Error::from_raw_os_error(libc::ENOSPC));
        assert_eq!(e.code, Code::NoSpace);
        assert!(e.message.starts_with("write x: "), "{e}");
        assert_eq!(
            Code::of_io(&io::Error::from_raw_os_error(libc::EBUSY)),
            Code::Busy
        );
        assert_eq!(
            Code::of_io(&io::Error::from_raw_os_error(libc::ENOENT)),
            Code::NotFound
        );
        assert_eq!(
            Code::of_io(&io::Error::from_raw_os_error(libc::EACCES)),
            Code::PermissionDenied
        );
        assert_eq!(Code::of_io(&io::Error::other("x")), Code::Io);
        let helper = io::Error::new(io::ErrorKind::ResourceBusy, "fusermount3 -u failed");
        assert_eq!(Code::of_io(&helper), Code::Busy);
        assert_eq!(Error::new(Code::Io, "a\nb").message, "a b");
    }
}
