//! Named crash points of the commit protocol (compiled in for tests and the `failpoints` feature).
//!
//! Every numbered step of `apply`, `finish` and the undo calls [`hit`] with its name (listed in
//! `docs/COMMIT.md`). When the environment variable `FTSB_FS_FAILPOINT` names that point, or is
//! `@N` and this is the N-th point hit by the process (counting from 1), the process sends
//! itself SIGKILL: the crash is real, nothing of the process runs after it. When
//! `FTSB_FS_FAILPOINT_TRACE` names a file, every point hit is appended to it, one per line, so a
//! test can first learn the points of a plan and then crash at each.
//!
//! Without the feature, [`hit`] is an empty inline function and the names are never formatted.

#[cfg(any(test, feature = "failpoints"))]
mod imp {
    use std::io::Write;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};

    enum Spec {
        Name(String),
        Nth(u64),
    }

    struct Config {
        spec: Option<Spec>,
        trace: Option<std::path::PathBuf>,
    }

    static CONFIG: OnceLock<Config> = OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);

    fn config() -> &'static Config {
        CONFIG.get_or_init(|| {
            let spec = std::env::var("FTSB_FS_FAILPOINT")
                .ok()
                .filter(|s| !s.is_empty())
                .map(|s| match s.strip_prefix('@').and_then(|n| n.parse().ok()) {
                    Some(n) => Spec::Nth(n),
                    None => Spec::Name(s),
                });
            let trace = std::env::var_os("FTSB_FS_FAILPOINT_TRACE").map(Into::into);
            Config { spec, trace }
        })
    }

    pub fn hit(name: impl FnOnce() -> String) {
        let cfg = config();
        if cfg.spec.is_none() && cfg.trace.is_none() {
            return;
        }
        let name = name();
        let n = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(path) = &cfg.trace
            && let Ok(mut f) = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(path)
        {
            // One write per line: points hit on several threads (phase 2) must not interleave.
            let _ = f.write_all(format!("{name}\n").as_bytes());
        }
        let fire = match &cfg.spec {
            Some(Spec::Name(s)) => *s == name,
            Some(Spec::Nth(k)) => *k == n,
            None => false,
        };
        if fire {
            // SAFETY: sending a signal to our own process has no memory-safety preconditions.
            unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
            // SIGKILL to oneself is delivered before kill() returns; never go on regardless.
            loop {
                std::thread::park();
            }
        }
    }
}

/// Crash here if the environment asks for it (see the module doc).
#[cfg(any(test, feature = "failpoints"))]
#[inline]
pub(crate) fn hit(name: impl FnOnce() -> String) {
    imp::hit(name)
}

/// Crash points are compiled out: nothing happens.
#[cfg(not(any(test, feature = "failpoints")))]
#[inline(always)]
pub(crate) fn hit(_name: impl FnOnce() -> String) {}
