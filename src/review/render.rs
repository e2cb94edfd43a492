//! Drawing the review: a pure function of the [`State`].

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::{Focus, State, Step};

const HELP: &str = "j/k move  tab files  space mark  pgup/pgdn scroll  r roll back here  c commit  a abort  q quit";

/// Draws `state` over the whole frame.
pub fn render(state: &State, frame: &mut Frame) {
    let [main, message, help] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let [timeline, right] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(main);
    let [files, diff] =
        Layout::vertical([Constraint::Percentage(35), Constraint::Percentage(65)]).areas(right);
    render_timeline(state, frame, timeline);
    render_files(state, frame, files);
    render_diff(state, frame, diff);
    let style = if state.pending.is_some() {
        Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    };
    frame.render_widget(Paragraph::new(state.message.as_str()).style(style), message);
    frame.render_widget(
        Paragraph::new(HELP).style(Style::new().add_modifier(Modifier::DIM)),
        help,
    );
}

fn block(title: String, focused: bool) -> Block<'static> {
    let style = if focused {
        Style::new().fg(Color::Cyan)
    } else {
        Style::new()
    };
    Block::new()
        .borders(Borders::ALL)
        .border_style(style)
        .title(title)
}

/// The rows of `items` that fit in `height` with `selected` visible, with their indexes.
fn window<T>(items: &[T], selected: usize, height: u16) -> impl Iterator<Item = (usize, &T)> {
    let rows = usize::from(height.max(1));
    items
        .iter()
        .enumerate()
        .skip(selected.saturating_sub(rows - 1))
        .take(rows)
}

fn render_timeline(state: &State, frame: &mut Frame, area: Rect) {
    let b = block(
        format!(" {} (newest first) ", state.title),
        state.focus == Focus::Timeline,
    );
    let inner = b.inner(area);
    let lines: Vec<Line> = window(&state.steps, state.selected, inner.height)
        .map(|(i, s)| step_line(s, i == state.selected))
        .collect();
    let empty = lines.is_empty();
    frame.render_widget(b, area);
    if empty {
        frame.render_widget(Paragraph::new("nothing recorded yet"), inner);
    } else {
        frame.render_widget(Paragraph::new(lines), inner);
    }
}

/// One timeline row: marker, id, time, kind, outcome, diffstat, command.
fn step_line(s: &Step, selected: bool) -> Line<'static> {
    let id = s.id.map_or("-".to_string(), |i| i.to_string());
    let time = s.time.get(11..19).unwrap_or(&s.time).to_string();
    let (outcome, color) = outcome(s);
    let mut spans = vec![
        Span::raw(format!(
            "{}{id:>4} {time} ",
            if selected { ">" } else { " " }
        )),
        Span::styled(format!("{:<10}", s.kind), Style::new().fg(Color::Blue)),
        Span::styled(outcome, Style::new().fg(color)),
    ];
    if let Some(ms) = s.duration_ms {
        spans.push(Span::raw(format!(" {}", super::format_ms(ms))));
    }
    if let Some((a, m, d)) = s.changes {
        spans.push(Span::raw(format!(" +{a}~{m}-{d}")));
    }
    spans.push(Span::raw(format!(" {}", s.what)));
    let line = Line::from(spans);
    if selected {
        line.style(Style::new().add_modifier(Modifier::REVERSED))
    } else {
        line
    }
}

/// The outcome column and its color.
fn outcome(s: &Step) -> (String, Color) {
    if let Some(v) = &s.verdict {
        return (v.clone(), Color::Red);
    }
    match (s.kind.as_str(), s.exit_code) {
        (_, _) if s.rolled_back => (
            format!(
                "exit={} rolled back",
                s.exit_code.map_or("?".into(), |c| c.to_string())
            ),
            Color::Yellow,
        ),
        ("exec" | "run", Some(0)) => ("ok".into(), Color::Green),
        ("exec" | "run", Some(c)) => (format!("exit={c}"), Color::Red),
        ("exec", None) => ("killed".into(), Color::Red),
        _ => (String::new(), Color::Reset),
    }
}

fn render_files(state: &State, frame: &mut Frame, area: Rect) {
    let title = match state.current() {
        Some(s) => match s.id {
            Some(id) if s.restorable => format!(" step {id}: changed files "),
            _ => " step: no state ".to_string(),
        },
        None => " files ".to_string(),
    };
    let b = block(title, state.focus == Focus::Files);
    let inner = b.inner(area);
    let lines: Vec<Line> = window(&state.files, state.file_selected, inner.height)
        .map(|(i, f)| {
            let (mark, color) = match f.change.as_str() {
                "added" => ("A", Color::Green),
                "deleted" => ("D", Color::Red),
                _ => ("M", Color::Yellow),
            };
            let chosen = if state.marked.contains(&f.path) {
                "*"
            } else {
                " "
            };
            let line = Line::from(vec![
                Span::raw(chosen),
                Span::styled(format!("{mark} "), Style::new().fg(color)),
                Span::raw(f.path.clone()),
            ]);
            if i == state.file_selected && state.focus == Focus::Files {
                line.style(Style::new().add_modifier(Modifier::REVERSED))
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(b, area);
    frame.render_widget(Paragraph::new(lines), inner);
}

fn render_diff(state: &State, frame: &mut Frame, area: Rect) {
    let file = state.current_file();
    let title = match file {
        Some(f) => format!(" {}: this step ", f.path),
        None => " diff ".to_string(),
    };
    let b = block(title, false);
    let inner = b.inner(area);
    let text = match file {
        Some(f) => f
            .diff
            .clone()
            .unwrap_or_else(|| format!("{} (no text diff)", f.change)),
        None => String::new(),
    };
    let lines: Vec<Line> = text
        .lines()
        .map(|l| {
            let color = if l.starts_with("+++") || l.starts_with("---") {
                Color::Reset
            } else if l.starts_with('+') {
                Color::Green
            } else if l.starts_with('-') {
                Color::Red
            } else if l.starts_with("@@") {
                Color::Cyan
            } else {
                Color::Reset
            };
            Line::styled(l.to_string(), Style::new().fg(color))
        })
        .collect();
    frame.render_widget(b, area);
    frame.render_widget(Paragraph::new(lines).scroll((state.diff_scroll, 0)), inner);
}
