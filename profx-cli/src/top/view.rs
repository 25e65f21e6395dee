//! What `profx top` draws: a header (where, live or not, the sort and filter), sparklines of
//! executions per second and of resident memory, the agents by total time (or one agent's
//! phases by self time), and the keys. Narrow terminals drop the less needed columns.

use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Sparkline, Table, TableState};
use ratatui::Frame;

use super::feed::{Agent, State};
use super::App;

/// How the agents are ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    /// Executions x average duration, the most first.
    Time,
    /// Executions per second, the most first.
    Rate,
    /// P99, the slowest first.
    P99,
    /// By name.
    Name,
}

impl Sort {
    pub fn next(self) -> Sort {
        match self {
            Sort::Time => Sort::Rate,
            Sort::Rate => Sort::P99,
            Sort::P99 => Sort::Name,
            Sort::Name => Sort::Time,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Sort::Time => "total time",
            Sort::Rate => "exec/s",
            Sort::P99 => "p99",
            Sort::Name => "name",
        }
    }
}

/// The agents the table shows, in its order: those whose name contains the filter.
pub fn agents<'a>(app: &App, state: &'a State) -> Vec<&'a Agent> {
    let Some(feed) = &state.feed else {
        return Vec::new();
    };
    let filter = app.filter.to_lowercase();
    let mut v: Vec<&Agent> = feed
        .agents
        .iter()
        .filter(|a| a.name.to_lowercase().contains(&filter))
        .collect();
    let rate = |a: &Agent| state.rates.get(&a.name).copied().unwrap_or(0.0);
    match app.sort {
        Sort::Time => v.sort_by(|a, b| b.total_seconds.total_cmp(&a.total_seconds)),
        Sort::Rate => v.sort_by(|a, b| rate(b).total_cmp(&rate(a))),
        Sort::P99 => v.sort_by(|a, b| b.p99_seconds.total_cmp(&a.p99_seconds)),
        Sort::Name => v.sort_by(|a, b| a.name.cmp(&b.name)),
    }
    v
}

/// A duration in seconds, as people read it: `850µs`, `12.3ms`, `1.50s`.
pub fn secs(s: f64) -> String {
    if s <= 0.0 {
        "0".to_owned()
    } else if s < 1e-6 {
        format!("{:.0}ns", s * 1e9)
    } else if s < 1e-3 {
        format!("{:.0}µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1}ms", s * 1e3)
    } else {
        format!("{s:.2}s")
    }
}

fn bytes(b: u64) -> String {
    let mib = b as f64 / (1024.0 * 1024.0);
    if mib >= 1024.0 {
        format!("{:.1} GiB", mib / 1024.0)
    } else {
        format!("{mib:.1} MiB")
    }
}

fn percent(x: Option<f64>) -> String {
    x.map_or_else(|| "n/a".to_owned(), |p| format!("{p:.1}%"))
}

/// A busy share: whole percents (a sync call's 100%), a tenth under 10% (an I/O-bound
/// agent's 0.2% is not 0%), `-` when not known.
fn busy(x: Option<f64>) -> String {
    match x {
        None => "-".to_owned(),
        Some(p) if p < 9.95 => format!("{p:.1}%"),
        Some(p) => format!("{p:.0}%"),
    }
}

pub fn draw(f: &mut Frame, app: &App, state: &State) {
    let area = f.area();
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Length(if area.height >= 16 { 5 } else { 0 }),
            Constraint::Min(3),
            Constraint::Length(1),
        ])
        .split(area);
    header(f, rows[0], app, state);
    if rows[1].height > 0 {
        sparklines(f, rows[1], state);
    }
    match &app.open {
        Some(agent) => phases(f, rows[2], app, state, agent),
        None => agents_table(f, rows[2], app, state),
    }
    footer(f, rows[3], app);
}

fn header(f: &mut Frame, area: Rect, app: &App, state: &State) {
    let status = match &state.error {
        None if state.feed.is_some() => {
            Span::styled(" live ", Style::new().fg(Color::Black).bg(Color::Green))
        }
        None => Span::styled(
            " connecting ",
            Style::new().fg(Color::Black).bg(Color::Yellow),
        ),
        Some(_) => Span::styled(
            " disconnected, retrying ",
            Style::new().fg(Color::White).bg(Color::Red),
        ),
    };
    let mut spans = vec![
        Span::styled("profx top ", Style::new().add_modifier(Modifier::BOLD)),
        status,
        Span::raw(format!(" {}", app.url)),
    ];
    if let Some(feed) = &state.feed {
        spans.push(Span::raw(format!("  up {}", secs(feed.uptime_seconds))));
    }
    spans.push(Span::raw(format!("  sort: {}", app.sort.label())));
    if !app.filter.is_empty() || app.typing {
        spans.push(Span::raw(format!(
            "  filter: {}{}",
            app.filter,
            if app.typing { "_" } else { "" }
        )));
    }
    if let Some(e) = &state.error {
        spans.push(Span::styled(
            format!("  ({e})"),
            Style::new().fg(Color::Red),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn sparklines(f: &mut Frame, area: Rect, state: &State) {
    let cols = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Percentage(50), Constraint::Percentage(50)])
        .split(area);
    let rate: Vec<u64> = state.rate_history.iter().copied().collect();
    let now = rate.last().copied().unwrap_or(0);
    f.render_widget(
        Sparkline::default()
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(format!("executions/s: {now}")),
            )
            .data(&rate)
            .style(Style::new().fg(Color::Cyan)),
        cols[0],
    );
    let mem: Vec<u64> = state.memory_history.iter().copied().collect();
    let title = mem.last().map_or_else(
        || "resident memory".to_owned(),
        |&b| format!("resident memory: {}", bytes(b)),
    );
    f.render_widget(
        Sparkline::default()
            .block(Block::default().borders(Borders::ALL).title(title))
            .data(&mem)
            .style(Style::new().fg(Color::Magenta)),
        cols[1],
    );
}

/// Columns: (header, width, shown from this terminal width on).
const AGENT_COLUMNS: [(&str, u16, u16); 11] = [
    ("Agent", 20, 0),
    ("Exec/s", 8, 0),
    ("Execs", 7, 60),
    ("Success", 8, 0),
    ("P50", 8, 90),
    ("P95", 8, 72),
    ("P99", 8, 0),
    ("Total", 8, 100),
    ("Self", 6, 110),
    ("Busy", 6, 80),
    ("Bottleneck", 10, 50),
];
/// The bottleneck badge's column in [`AGENT_COLUMNS`].
const BOTTLENECK: usize = 10;

fn agents_table(f: &mut Frame, area: Rect, app: &App, state: &State) {
    let width = area.width;
    let shown: Vec<usize> = (0..AGENT_COLUMNS.len())
        .filter(|&i| width >= AGENT_COLUMNS[i].2)
        .collect();
    let list = agents(app, state);
    let feed = state.feed.as_ref();
    let rows: Vec<Row> = list
        .iter()
        .map(|a| {
            let rate = state.rates.get(&a.name).copied().unwrap_or(0.0);
            let own = if a.phases.is_empty() || a.total_seconds <= 0.0 {
                "-".to_owned()
            } else {
                format!("{:.0}%", 100.0 * a.self_seconds / a.total_seconds)
            };
            let sev = feed.and_then(|f| f.severity(&a.name)).unwrap_or("");
            let all = [
                a.name.clone(),
                format!("{rate:.1}"),
                a.executions.to_string(),
                percent(a.success_rate_percent),
                secs(a.p50_seconds),
                secs(a.p95_seconds),
                secs(a.p99_seconds),
                secs(a.total_seconds),
                own,
                busy(a.busy_percent),
                sev.to_owned(),
            ];
            let sev_style = match sev {
                "critical" => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
                "high" => Style::new().fg(Color::Red),
                "medium" => Style::new().fg(Color::Yellow),
                _ => Style::new(),
            };
            Row::new(shown.iter().map(|&i| {
                let c = Cell::from(all[i].clone());
                if i == BOTTLENECK {
                    c.style(sev_style)
                } else {
                    c
                }
            }))
        })
        .collect();
    let empty = rows.is_empty();
    let header = Row::new(shown.iter().map(|&i| AGENT_COLUMNS[i].0))
        .style(Style::new().add_modifier(Modifier::BOLD));
    let widths: Vec<Constraint> = shown
        .iter()
        .map(|&i| {
            if i == 0 {
                Constraint::Min(AGENT_COLUMNS[i].1.min(width / 3))
            } else {
                Constraint::Length(AGENT_COLUMNS[i].1)
            }
        })
        .collect();
    let title = if empty && state.feed.is_some() {
        if app.filter.is_empty() {
            " Agents: no execution completed yet ".to_owned()
        } else {
            format!(" Agents: none matches {:?} ", app.filter)
        }
    } else {
        format!(" Agents ({}) ", list.len())
    };
    let table = Table::new(rows, widths)
        .header(header)
        .block(Block::default().borders(Borders::ALL).title(title))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut ts = TableState::default();
    if !empty {
        ts.select(Some(app.selected.min(list.len() - 1)));
    }
    f.render_stateful_widget(table, area, &mut ts);
}

fn phases(f: &mut Frame, area: Rect, app: &App, state: &State, agent: &str) {
    let a = state
        .feed
        .as_ref()
        .and_then(|f| f.agents.iter().find(|a| a.name == agent));
    let wide = area.width >= 80;
    let rows: Vec<Row> = a
        .map(|a| {
            a.phases
                .iter()
                .map(|p| {
                    let share = if a.total_seconds > 0.0 {
                        format!("{:.1}%", 100.0 * p.self_seconds / a.total_seconds)
                    } else {
                        "-".to_owned()
                    };
                    let mut cells = vec![
                        p.name.clone(),
                        p.calls.to_string(),
                        secs(p.self_seconds),
                        share,
                        secs(p.p99_seconds),
                    ];
                    if wide {
                        cells.extend([
                            p.failures.to_string(),
                            secs(p.avg_seconds),
                            secs(p.total_seconds),
                            busy(p.busy_percent),
                        ]);
                    }
                    Row::new(cells)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut header = vec!["Phase", "Calls", "Self", "Self %", "P99"];
    let mut widths = vec![
        Constraint::Min(20),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(7),
        Constraint::Length(9),
    ];
    if wide {
        header.extend(["Failures", "Avg", "Total", "Busy"]);
        widths.extend([
            Constraint::Length(8),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(6),
        ]);
    }
    let title = match a {
        Some(a) if a.phases.is_empty() => format!(" {agent}: no phases recorded "),
        Some(_) => format!(" {agent}: phases by self time (Esc: back) "),
        None => format!(" {agent}: not in the feed any more (Esc: back) "),
    };
    let _ = app;
    f.render_widget(
        Table::new(rows, widths)
            .header(Row::new(header).style(Style::new().add_modifier(Modifier::BOLD)))
            .block(Block::default().borders(Borders::ALL).title(title)),
        area,
    );
}

fn footer(f: &mut Frame, area: Rect, app: &App) {
    let keys = if app.typing {
        "type a name part · Enter: keep · Esc: clear"
    } else if app.open.is_some() {
        "Esc/←: back · q: quit"
    } else if area.width >= 70 {
        "q: quit · s: sort · /: filter · ↑↓: select · Enter/→: phases"
    } else {
        "q quit · s sort · / filter · ⏎ phases"
    };
    f.render_widget(
        Paragraph::new(keys).style(Style::new().fg(Color::DarkGray)),
        area,
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn busy_shares_keep_a_tenth_when_small() {
        assert_eq!(super::busy(None), "-");
        assert_eq!(super::busy(Some(0.21)), "0.2%");
        assert_eq!(super::busy(Some(9.96)), "10%");
        assert_eq!(super::busy(Some(100.0)), "100%");
    }
}
