//! What the command line prints, and how: standard output (or a pager) that a closed pipe
//! cannot crash, colour that follows the user's wishes, and logging for the command line.
//!
//! Every line of a command's result goes through `outln!` (or [`out`]): a reader that goes
//! away (`ftsb-fs diff | head`) makes later writes no-ops instead of a panic or an error, so
//! the command still ends with its own exit status (a gate verdict stays 3 or 4).
//! Colour is written as ANSI styles and stripped by `anstream` where it does not belong: it
//! follows `--color`, then `NO_COLOR`, `CLICOLOR_FORCE`, `CLICOLOR`, and whether the stream
//! is a terminal. Logs (tracing) carry escape codes only when stderr is a terminal, so the
//! daemon's log file never holds any.
//!
//! This module does not decide what a command prints, only where it goes.

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard};

use anstream::{AutoStream, ColorChoice};
use anstyle::{AnsiColor, Style};

/// Writes one formatted line of a command's result to standard output (or the pager).
///
/// Evaluates to `io::Result<()>`; a closed pipe is not an error (see [`out`]).
macro_rules! outln {
    () => {
        $crate::cli::output::out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::out(format_args!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use outln;

/// `--color`: whether to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorWhen {
    /// Colour on a terminal, unless NO_COLOR is set or CLICOLOR=0 (CLICOLOR_FORCE forces it).
    #[default]
    Auto,
    /// Always colour, even into a pipe or a file.
    Always,
    /// Never colour.
    Never,
}

impl ColorWhen {
    /// The same choice for clap's help and errors.
    pub fn for_clap(self) -> clap::ColorChoice {
        match self {
            ColorWhen::Auto => clap::ColorChoice::Auto,
            ColorWhen::Always => clap::ColorChoice::Always,
            ColorWhen::Never => clap::ColorChoice::Never,
        }
    }
}

/// How chatty the command line is: `-q` is 0, the default 1, each `-v` one more.
static VERBOSITY: AtomicU8 = AtomicU8::new(1);
/// Set once standard output's reader has gone away: later writes are dropped.
static CLOSED: AtomicBool = AtomicBool::new(false);
/// Set once a JSON document went to standard output (an error then adds none).
static JSON_WRITTEN: AtomicBool = AtomicBool::new(false);
/// The first error writing standard output other than a closed pipe (a full disk under a
/// redirect): the command then fails, even where its printing ignored the error.
static WRITE_ERROR: Mutex<Option<io::Error>> = Mutex::new(None);
/// Where results go: standard output, or a pager's input.
static SINK: Mutex<Option<Sink>> = Mutex::new(None);

struct Sink {
    stream: AutoStream<Box<dyn Write + Send>>,
    pager: Option<Child>,
}

fn sink() -> MutexGuard<'static, Option<Sink>> {
    // A panic while printing leaves nothing half-updated that matters: keep going.
    SINK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Applies `--color` and the verbosity for the rest of the process.
pub fn init(color: ColorWhen, verbosity: u8) {
    let choice = match color {
        ColorWhen::Auto => ColorChoice::Auto,
        ColorWhen::Always => ColorChoice::Always,
        ColorWhen::Never => ColorChoice::Never,
    };
    choice.write_global();
    VERBOSITY.store(verbosity, Ordering::Relaxed);
}

/// Whether `-q` asked for nothing but results and errors.
pub fn quiet() -> bool {
    VERBOSITY.load(Ordering::Relaxed) == 0
}

/// Whether standard output's reader went away.
pub fn stdout_closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}

/// Writes `args` to standard output (or the pager).
///
/// A reader that went away (EPIPE) is not an error: this and every later write are dropped,
/// so the command finishes with its own status. Other write errors (a full disk under a
/// redirect) are returned.
pub fn out(args: fmt::Arguments<'_>) -> io::Result<()> {
    if stdout_closed() {
        return Ok(());
    }
    let mut guard = sink();
    let s = guard.get_or_insert_with(|| {
        let choice = AutoStream::choice(&io::stdout());
        Sink {
            stream: AutoStream::new(Box::new(io::stdout()), choice),
            pager: None,
        }
    });
    let r = s.stream.write_fmt(args);
    match r {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => {
            record(io::Error::new(e.kind(), e.to_string()));
            Err(e)
        }
        Ok(()) => Ok(()),
    }
}

fn record(e: io::Error) {
    WRITE_ERROR
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get_or_insert(e);
}

/// The first failure writing standard output (other than a closed pipe), if any.
pub fn take_write_error() -> Option<io::Error> {
    WRITE_ERROR
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
}

/// Prints `v` as pretty JSON (the whole result of a command).
pub fn json(v: &serde_json::Value) -> io::Result<()> {
    JSON_WRITTEN.store(true, Ordering::Relaxed);
    outln!(
        "{}",
        serde_json::to_string_pretty(v).expect("JSON values always serialize")
    )
}

/// Whether a JSON document already went to standard output.
pub fn json_written() -> bool {
    JSON_WRITTEN.load(Ordering::Relaxed)
}

/// Sends the rest of the output through a pager, when standard output is a terminal.
///
/// The pager is `$PAGER` (run by `sh -c`), or `less -FRX` (which exits at once when the text
/// fits on the screen); an empty `$PAGER` or `cat` means none. Nothing happens in a pipe, with
/// `--no-pager`, or when the pager cannot start. Call it only once the text is ready, so an
/// error never lands inside the pager.
pub fn page(allowed: bool) {
    if !allowed || !io::stdout().is_terminal() {
        return;
    }
    let pager = std::env::var("PAGER").unwrap_or_else(|_| "less -FRX".to_owned());
    let pager = pager.trim();
    if pager.is_empty() || pager == "cat" {
        return;
    }
    // Colour is decided for the terminal the pager draws on, not for the pipe into it.
    let choice = AutoStream::choice(&io::stdout());
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(pager).stdin(Stdio::piped());
    if std::env::var_os("LESS").is_none() {
        cmd.env("LESS", "FRX");
    }
    let Ok(mut child) = cmd.spawn() else {
        return;
    };
    let Some(stdin) = child.stdin.take() else {
        return;
    };
    let mut guard = sink();
    if let Some(old) = guard.as_mut() {
        let _ = old.stream.flush();
    }
    *guard = Some(Sink {
        stream: AutoStream::new(Box::new(stdin), choice),
        pager: Some(child),
    });
}

/// Flushes what is pending and waits for the pager, if one runs; call before exiting.
pub fn finish() {
    let mut guard = sink();
    if let Some(mut s) = guard.take() {
        match s.stream.flush() {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                CLOSED.store(true, Ordering::Relaxed);
            }
            Err(e) => record(e),
            Ok(()) => {}
        }
        if let Some(mut child) = s.pager.take() {
            // Closing its input tells the pager the text is complete.
            drop(s);
            let _ = child.wait();
        }
    }
}

/// Runs `work`; if it takes over 300 ms and stderr is a terminal, a spinner with `what` and the
/// time taken shows meanwhile (and is cleared after). Never in pipes, logs or with `-q`.
pub fn progress<T>(what: &str, work: impl FnOnce() -> T) -> T {
    use std::sync::{Arc, Condvar};
    use std::time::Duration;
    if quiet() || !io::stderr().is_terminal() {
        return work();
    }
    let bar = indicatif::ProgressBar::hidden();
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.set_message(what.to_owned());
    let done = Arc::new((Mutex::new(false), Condvar::new()));
    let shower = {
        let (bar, done) = (bar.clone(), done.clone());
        std::thread::spawn(move || {
            let (lock, cvar) = &*done;
            let guard = lock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let (finished, _) = cvar
                .wait_timeout_while(guard, Duration::from_millis(300), |d| !*d)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !*finished {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                bar.enable_steady_tick(Duration::from_millis(100));
            }
        })
    };
    let result = work();
    {
        let (lock, cvar) = &*done;
        *lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = true;
        cvar.notify_all();
    }
    let _ = shower.join();
    bar.finish_and_clear();
    result
}

/// Styles for the few things worth colouring.
pub mod style {
    use super::{AnsiColor, Style};

    pub const ERROR: Style = AnsiColor::Red.on_default().bold();
    pub const WARNING: Style = AnsiColor::Yellow.on_default().bold();
    pub const HINT: Style = AnsiColor::Cyan.on_default();
    pub const ADDED: Style = AnsiColor::Green.on_default();
    pub const REMOVED: Style = AnsiColor::Red.on_default();
    pub const HUNK: Style = AnsiColor::Cyan.on_default();
    pub const HEADER: Style = Style::new().bold();
    pub const ID: Style = AnsiColor::Yellow.on_default();
    pub const LABEL: Style = Style::new().bold();
}

/// `text` wrapped in `style` (stripped again where colour is off).
pub fn paint(style: Style, text: &str) -> String {
    if text.is_empty() {
        return String::new();
    }
    format!("{}{text}{}", style.render(), style.render_reset())
}

/// Colours one line of a unified diff by its first character.
pub fn diff_line(line: &str) -> String {
    let style = if line.starts_with("+++") || line.starts_with("---") {
        style::HEADER
    } else if line.starts_with('+') {
        style::ADDED
    } else if line.starts_with('-') {
        style::REMOVED
    } else if line.starts_with("@@") {
        style::HUNK
    } else {
        return line.to_owned();
    };
    paint(style, line)
}

/// Writes a patch: coloured line by line where colour is on (or into the pager), byte for
/// byte otherwise, so `diff | git apply` gets exactly the text the daemon made (colour stripping
/// would also strip escape sequences that are part of a file's content).
pub fn patch(text: &str) -> io::Result<()> {
    let paged = sink().as_ref().is_some_and(|s| s.pager.is_some());
    if paged || AutoStream::choice(&io::stdout()) != ColorChoice::Never {
        for line in text.split_inclusive('\n') {
            let (body, end) = line.split_at(line.trim_end_matches('\n').len());
            out(format_args!("{}{end}", diff_line(body)))?;
        }
        return Ok(());
    }
    if stdout_closed() {
        return Ok(());
    }
    if let Some(s) = sink().as_mut() {
        s.stream.flush()?;
    }
    match io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => {
            record(io::Error::new(e.kind(), e.to_string()));
            Err(e)
        }
        Ok(()) => Ok(()),
    }
}

/// A warning on stderr (`warning: ...`), unless `-q`.
pub fn warn(msg: &str) {
    if !quiet() {
        anstream::eprintln!("{} {msg}", paint(style::WARNING, "warning:"));
    }
}

/// A hint on stderr (`hint: ...`), unless `-q`.
pub fn hint(msg: &str) {
    if !quiet() {
        anstream::eprintln!("{} {msg}", paint(style::HINT, "hint:"));
    }
}

/// `n` and the noun, singular or plural as `n` wants: `1 change`, `2 changes`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Starts logging to stderr for this process: `RUST_LOG` if set, else `default` raised by each
/// `-v` (`-q`: errors only). Escape codes only when stderr is a terminal and colour is on, so
/// a log redirected to a file (the daemon's) stays plain text.
pub fn init_tracing(default: &str) {
    const LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];
    let level = match VERBOSITY.load(Ordering::Relaxed) {
        0 => "error",
        v => {
            let base = LEVELS.iter().position(|l| *l == default).unwrap_or(1);
            LEVELS[(base + usize::from(v) - 1).min(LEVELS.len() - 1)]
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let stderr = io::stderr();
    let ansi = stderr.is_terminal() && AutoStream::choice(&stderr) != ColorChoice::Never;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(ansi)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_with_their_number() {
        assert_eq!(count(0, "change", "changes"), "0 changes");
        assert_eq!(count(1, "change", "changes"), "1 change");
        assert_eq!(count(2, "byte", "bytes"), "2 bytes");
    }

    #[test]
    fn diff_lines_keep_their_text() {
        for l in [
            "+added",
            "-removed",
            "@@ -1 +1 @@",
            "--- a/x",
            "+++ b/x",
            " same",
        ] {
            let painted = diff_line(l);
            assert!(painted.contains(l), "{painted:?}");
        }
        assert_eq!(diff_line(" same"), " same");
        assert_ne!(diff_line("+added"), "+added");
    }
}
