//! `review`: a terminal UI over a session, as state plus pure functions.
//!
//! Owns: the review's [`State`] (the timeline of checkpoints, commands and refusals, the
//! selected step's changed files, the diff shown, a pending confirmation), what each [`Key`]
//! does to it ([`State::handle`], which returns the [`Effect`] the caller must carry out), and
//! drawing it ([`render`], in `render.rs`), which reads the state only.
//!
//! Invariants:
//! - Nothing here talks to the daemon or the terminal: the command line's loop turns terminal
//!   events into [`Key`]s, carries out [`Effect`]s, and feeds answers back with
//!   [`State::set_log`] and [`State::set_files`]. So every screen is testable with ratatui's
//!   `TestBackend`.
//! - A destructive effect (rollback, commit, abort) is only returned after a confirmation key
//!   (`y`) following its request: one stray key never changes the view.
//!
//! Deliberately not done here: computing diffs (the daemon does: a step's files and their text
//! diffs are `diff --from STEP --to NEXT`).

mod render;

use std::collections::BTreeSet;

use crate::control::reply::{self, LogEntry};

pub use render::render;

/// One entry of the timeline (a `log` entry).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    /// The checkpoint id; `None` for a refusal or an event whose state `gc` dropped.
    pub id: Option<u64>,
    /// `checkpoint`, `exec`, `refused`, `rollback`, `abort`, `commit`, `run`.
    pub kind: String,
    /// UTC time, `YYYY-MM-DDTHH:MM:SSZ`.
    pub time: String,
    /// The command, or the message.
    pub what: String,
    /// The gate's verdict and rule, when not a plain allow.
    pub verdict: Option<String>,
    pub exit_code: Option<i64>,
    pub duration_ms: Option<u64>,
    pub rolled_back: bool,
    /// Files added, modified, deleted in this step.
    pub changes: Option<(u64, u64, u64)>,
    /// Its state can be rolled back to.
    pub restorable: bool,
}

impl Step {
    fn from_entry(e: &LogEntry) -> Step {
        let verdict = e
            .audit
            .verdict
            .as_deref()
            .filter(|v| *v != "allow")
            .map(|v| match &e.audit.rule {
                Some(rule) => format!("{v} ({rule})"),
                None => v.to_string(),
            });
        Step {
            id: e.id,
            kind: e.kind.clone(),
            time: e.time.clone(),
            what: e.command.clone().unwrap_or_else(|| e.message.clone()),
            verdict,
            exit_code: e.exit_code.map(i64::from),
            duration_ms: e.audit.duration_ms,
            rolled_back: e.audit.rolled_back == Some(true),
            changes: e.changes.map(|c| (c.added, c.modified, c.deleted)),
            restorable: e.restorable,
        }
    }
}

/// One changed file of the selected step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: String,
    /// `added`, `modified` or `deleted`.
    pub change: String,
    /// What the step changed in it, as a unified diff (none for a directory, a symlink or a
    /// large file).
    pub diff: Option<String>,
}

/// Which pane the arrow keys move in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Timeline,
    Files,
}

/// What the user can press (mapped from terminal events by the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Up,
    Down,
    PageUp,
    PageDown,
    Tab,
    Char(char),
    Esc,
}

/// What the caller must do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Load the files changed between state `from` and state `to` (`None`: now) and give them
    /// to [`State::set_files`].
    LoadFiles { from: u64, to: Option<u64> },
    /// Roll the view back to this checkpoint, then reload.
    Rollback(u64),
    /// Commit these paths (every change when empty), then reload.
    Commit(Vec<String>),
    /// Discard everything, then reload.
    Abort,
    /// Reload the log and the diff.
    Reload,
    /// Leave the review.
    Quit,
}

/// A destructive request waiting for `y`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    Rollback(u64),
    /// Commit these paths (every change when empty).
    Commit(Vec<String>),
    Abort,
}

/// Everything the screen shows.
#[derive(Debug, Clone)]
pub struct State {
    /// What is reviewed (the workspace path), for the title.
    pub title: String,
    /// Newest first.
    pub steps: Vec<Step>,
    pub selected: usize,
    pub files: Vec<FileChange>,
    pub file_selected: usize,
    /// Paths marked (space, in the files pane) for a partial commit.
    pub marked: BTreeSet<String>,
    pub focus: Focus,
    pub diff_scroll: u16,
    pub pending: Option<Pending>,
    /// The last message (an outcome or an error).
    pub message: String,
}

impl State {
    /// An empty review of `title`.
    pub fn new(title: impl Into<String>) -> State {
        State {
            title: title.into(),
            steps: Vec::new(),
            selected: 0,
            files: Vec::new(),
            file_selected: 0,
            marked: BTreeSet::new(),
            focus: Focus::Timeline,
            diff_scroll: 0,
            pending: None,
            message: String::new(),
        }
    }

    /// Takes a `log` answer; keeps the selection in range. Returns the effect that loads
    /// the selected step's files.
    pub fn set_log(&mut self, log: &[LogEntry]) -> Option<Effect> {
        self.steps = log.iter().map(Step::from_entry).collect();
        self.selected = self.selected.min(self.steps.len().saturating_sub(1));
        self.marked.clear();
        self.files.clear();
        self.file_selected = 0;
        self.load_selected()
    }

    /// Takes the files of a `LoadFiles` effect (a range `diff` answer).
    pub fn set_files(&mut self, files: reply::Diff) {
        self.files = match files {
            reply::Diff::Range(entries) => entries
                .into_iter()
                .map(|e| FileChange {
                    path: e.path,
                    change: e.change.as_str().to_owned(),
                    diff: e.diff,
                })
                .collect(),
            reply::Diff::Working(entries) => entries
                .into_iter()
                .map(|e| FileChange {
                    path: e.change.path,
                    change: e.change.change.as_str().to_owned(),
                    diff: Some(e.diff),
                })
                .collect(),
        };
        self.file_selected = 0;
        self.diff_scroll = 0;
    }

    /// The step under the cursor.
    pub fn current(&self) -> Option<&Step> {
        self.steps.get(self.selected)
    }

    /// The file under the cursor in the files pane.
    pub fn current_file(&self) -> Option<&FileChange> {
        self.files.get(self.file_selected)
    }

    /// The effect that loads the selected step's files: from its state to the next
    /// restorable state after it (newer steps come first), or to now.
    fn load_selected(&self) -> Option<Effect> {
        let step = self.current()?;
        let from = step.id.filter(|_| step.restorable)?;
        let to = self.steps[..self.selected]
            .iter()
            .rev()
            .find(|s| s.restorable)
            .and_then(|s| s.id);
        Some(Effect::LoadFiles { from, to })
    }

    /// Applies `key`; returns what the caller must do.
    pub fn handle(&mut self, key: Key) -> Option<Effect> {
        if let Some(pending) = self.pending.take() {
            return match key {
                Key::Char('y') => Some(match pending {
                    Pending::Rollback(id) => Effect::Rollback(id),
                    Pending::Commit(paths) => Effect::Commit(paths),
                    Pending::Abort => Effect::Abort,
                }),
                _ => {
                    self.message = "cancelled".into();
                    None
                }
            };
        }
        match key {
            Key::Char('q') | Key::Esc => Some(Effect::Quit),
            Key::Tab => {
                self.focus = match self.focus {
                    Focus::Timeline if !self.files.is_empty() => Focus::Files,
                    _ => Focus::Timeline,
                };
                None
            }
            Key::Up | Key::Char('k') => self.move_by(-1),
            Key::Down | Key::Char('j') => self.move_by(1),
            Key::Char(' ') if self.focus == Focus::Files => {
                if let Some(path) = self.current_file().map(|f| f.path.clone())
                    && !self.marked.remove(&path)
                {
                    self.marked.insert(path);
                }
                None
            }
            Key::PageDown | Key::Char(' ') => {
                self.diff_scroll = self.diff_scroll.saturating_add(10);
                None
            }
            Key::PageUp => {
                self.diff_scroll = self.diff_scroll.saturating_sub(10);
                None
            }
            Key::Char('g') => Some(Effect::Reload),
            Key::Char('r') => {
                match self.current() {
                    Some(Step {
                        id: Some(id),
                        restorable: true,
                        ..
                    }) => {
                        let id = *id;
                        self.pending = Some(Pending::Rollback(id));
                        self.message = format!("roll the view back to checkpoint {id}? (y/n)");
                    }
                    _ => self.message = "this step holds no state to roll back to".into(),
                }
                None
            }
            Key::Char('c') => {
                let paths: Vec<String> = self.marked.iter().cloned().collect();
                self.message = match paths.len() {
                    0 => "commit every change to the workspace? (y/n)".into(),
                    n => format!("commit the {n} marked paths to the workspace? (y/n)"),
                };
                self.pending = Some(Pending::Commit(paths));
                None
            }
            Key::Char('a') => {
                self.pending = Some(Pending::Abort);
                self.message = "discard every change (undoable with rollback)? (y/n)".into();
                None
            }
            _ => None,
        }
    }

    fn move_by(&mut self, delta: isize) -> Option<Effect> {
        match self.focus {
            Focus::Timeline => {
                let next = self.selected.saturating_add_signed(delta);
                if next >= self.steps.len() || next == self.selected {
                    return None;
                }
                self.selected = next;
                self.files.clear();
                self.file_selected = 0;
                self.diff_scroll = 0;
                self.load_selected()
            }
            Focus::Files => {
                let next = self.file_selected.saturating_add_signed(delta);
                if next < self.files.len() {
                    self.file_selected = next;
                    self.diff_scroll = 0;
                }
                None
            }
        }
    }
}

/// A duration for people: `850ms`, `12.3s`, `4m05s`.
pub fn format_ms(ms: u64) -> String {
    match ms {
        0..1000 => format!("{ms}ms"),
        1000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        _ => format!("{}m{:02}s", ms / 60_000, ms % 60_000 / 1000),
    }
}

#[cfg(test)]
mod tests;
