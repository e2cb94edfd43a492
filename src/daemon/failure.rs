//! What a failure inside the daemon answers: the control protocol's error, with the stable
//! code of the first cause in the error's chain that names one.

use std::io;

use crate::control::{Code, Error};
use crate::txn;

/// A failure inside the daemon, with the code of the first cause in its chain that names one
/// (a conflict, a missing checkpoint, a full disk...), else `daemon`.
pub(super) fn failure(e: impl std::error::Error + 'static) -> Error {
    Error::new(code_of(&e), e.to_string())
}

fn code_of(e: &(dyn std::error::Error + 'static)) -> Code {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if let Some(code) = named_code(c) {
            return code;
        }
        cause = c.source();
    }
    Code::Daemon
}

/// The code `e` itself names, looking through the variants that only wrap another error
/// (`#[error(transparent)]`: their `source()` skips the wrapped error itself).
fn named_code(e: &(dyn std::error::Error + 'static)) -> Option<Code> {
    use crate::overlay::FsError;
    use txn::{CheckpointError, CommitError, TxnError};
    if let Some(e) = e.downcast_ref::<CommitError>() {
        return match e {
            CommitError::Conflicts(_) => Some(Code::Conflict),
            CommitError::Select(_) => Some(Code::NotFound),
            CommitError::Txn(t) => named_code(t),
            CommitError::Fs(f) => named_code(f),
            _ => None,
        };
    }
    if let Some(e) = e.downcast_ref::<TxnError>() {
        return match e {
            TxnError::Conflicts(_) => Some(Code::Conflict),
            TxnError::NoSpace { .. } => Some(Code::NoSpace),
            _ => None,
        };
    }
    if let Some(e) = e.downcast_ref::<CheckpointError>() {
        return match e {
            CheckpointError::NoSuch { .. } | CheckpointError::Select(_) => Some(Code::NotFound),
            CheckpointError::Fs(f) => named_code(f),
            _ => None,
        };
    }
    if let Some(FsError::NotSupported) = e.downcast_ref::<FsError>() {
        return Some(Code::Unsupported);
    }
    if let Some(e) = e.downcast_ref::<io::Error>() {
        // A file missing deep inside an operation is the daemon's failure, not the user's
        // "not found"; a full disk, a busy mount or a refused access mean what they say.
        return match Code::of_io(e) {
            code @ (Code::NoSpace | Code::Busy | Code::PermissionDenied) => Some(code),
            _ => None,
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::overlay::FsError;
    use txn::{CheckpointError, CommitError, TxnError};

    #[test]
    fn failures_take_the_code_of_what_they_wrap() {
        let no_space = CommitError::Txn(TxnError::NoSpace {
            op: "write",
            path: txn::RelPath::new("f"),
        });
        assert_eq!(failure(no_space).code, Code::NoSpace);
        assert_eq!(
            failure(CommitError::Conflicts(Vec::new())).code,
            Code::Conflict
        );
        assert_eq!(
            failure(CheckpointError::NoSuch { id: 9 }).code,
            Code::NotFound
        );
        assert_eq!(
            failure(CheckpointError::Fs(FsError::NotSupported)).code,
            Code::Unsupported
        );
        let full = FsError::Work {
            ino: 1,
            source: io::Error::from_raw_os_error(libc::ENOSPC),
        };
        assert_eq!(failure(CheckpointError::Fs(full)).code, Code::NoSpace);
        let missing = FsError::Work {
            ino: 1,
            source: io::Error::from_raw_os_error(libc::ENOENT),
        };
        let e = failure(missing);
        assert_eq!(e.code, Code::Daemon);
        assert!(e.message.starts_with("working file of inode 1"), "{e}");
    }
}
