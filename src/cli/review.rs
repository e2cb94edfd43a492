//! `review`: the terminal loop around `crate::review`: terminal events in, daemon calls out.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, bail};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind};

use super::{WsArg, call, resolve_workspace};
use crate::control::{Request, reply};
use crate::review::{Effect, Key, State, render};

pub fn review(a: WsArg, json: bool) -> anyhow::Result<i32> {
    if json {
        bail!("review is interactive; use `log --json` and `diff --json` for machine output");
    }
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        bail!("review needs a terminal; use `log` and `diff` instead");
    }
    let ws = resolve_workspace(a.workspace.as_deref())?;
    run_tui(&ws)?;
    Ok(0)
}

/// Runs the review of `ws` until the user quits; the terminal is restored however it ends.
pub fn run_tui(ws: &Path) -> anyhow::Result<()> {
    // Fails early, before the screen is taken, when no daemon serves the workspace.
    call::<reply::Info>(ws, &Request::Info)?;
    let mut terminal = ratatui::init();
    let result = event_loop(&mut terminal, ws);
    ratatui::restore();
    result
}

fn event_loop(terminal: &mut ratatui::DefaultTerminal, ws: &Path) -> anyhow::Result<()> {
    let mut state = State::new(ws.display().to_string());
    let mut next = Some(Effect::Reload);
    loop {
        while let Some(effect) = next.take() {
            if effect == Effect::Quit {
                return Ok(());
            }
            next = carry_out(&mut state, ws, effect);
        }
        terminal
            .draw(|frame| render(&state, frame))
            .context("draw the review")?;
        if let Event::Key(k) = event::read().context("read the terminal")?
            && k.kind == KeyEventKind::Press
        {
            let key = match k.code {
                KeyCode::Up => Key::Up,
                KeyCode::Down => Key::Down,
                KeyCode::PageUp => Key::PageUp,
                KeyCode::PageDown => Key::PageDown,
                KeyCode::Tab => Key::Tab,
                KeyCode::Esc => Key::Esc,
                KeyCode::Char(c) => Key::Char(c),
                _ => continue,
            };
            next = state.handle(key);
        }
    }
}

/// Carries out one effect against the daemon; errors become the status message.
fn carry_out(state: &mut State, ws: &Path, effect: Effect) -> Option<Effect> {
    let done = |state: &mut State, what: String| {
        state.message = what;
        Some(Effect::Reload)
    };
    let result = match effect {
        Effect::Quit => return Some(Effect::Quit),
        Effect::Reload => reload(state, ws),
        Effect::LoadFiles { from, to } => call(
            ws,
            &Request::Diff {
                from: Some(from),
                to,
                binary: false,
            },
        )
        .map(|files: reply::Diff| {
            state.set_files(files);
            None
        }),
        Effect::Rollback(to) => call::<reply::RolledBack>(ws, &Request::Rollback { to })
            .map(|_| done(state, format!("rolled back to checkpoint {to}"))),
        Effect::Commit(paths) => {
            let what = match paths.len() {
                0 => "committed".to_string(),
                n => format!("committed {n} paths"),
            };
            call::<reply::Commit>(
                ws,
                &Request::Commit {
                    message: "review".into(),
                    paths,
                    force: false,
                    allow_setid: false,
                    dry_run: false,
                    exclude: vec![],
                },
            )
            .map(|_| done(state, what))
        }
        Effect::Abort => {
            call::<reply::Aborted>(ws, &Request::Abort).map(|_| done(state, "aborted".into()))
        }
    };
    result.unwrap_or_else(|e| {
        state.message = format!("error: {e:#}");
        None
    })
}

fn reload(state: &mut State, ws: &Path) -> anyhow::Result<Option<Effect>> {
    let log: Vec<reply::LogEntry> = call(ws, &Request::Log)?;
    Ok(state.set_log(&log))
}
