//! `profx top URL`: a live terminal view of a running program's monitoring server, read from
//! its `/api/dashboard` every `--interval`: the agents by total time with their rate, success,
//! percentiles, self time and bottlenecks; sparklines of executions per second and resident
//! memory; one agent's phases on Enter. It keeps drawing when the server goes away ("disconnected,
//! retrying") and polls on until it comes back, and follows the terminal's size.

mod feed;
mod view;

use std::io::{self, IsTerminal};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

use feed::{Client, State};
use view::Sort;

/// What the keys change.
pub struct App {
    pub url: String,
    pub sort: Sort,
    pub filter: String,
    /// Typing the filter.
    pub typing: bool,
    /// The row selected in the agents table.
    pub selected: usize,
    /// The agent whose phases are shown (`None`: the agents).
    pub open: Option<String>,
    quit: bool,
}

impl App {
    fn new(url: String) -> App {
        App {
            url,
            sort: Sort::Time,
            filter: String::new(),
            typing: false,
            selected: 0,
            open: None,
            quit: false,
        }
    }

    /// One key.
    fn key(&mut self, code: KeyCode, ctrl: bool, state: &State) {
        if ctrl && code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        if self.typing {
            match code {
                KeyCode::Enter => self.typing = false,
                KeyCode::Esc => {
                    self.typing = false;
                    self.filter.clear();
                }
                KeyCode::Backspace => {
                    self.filter.pop();
                }
                KeyCode::Char(c) => self.filter.push(c),
                _ => {}
            }
            self.selected = 0;
            return;
        }
        if self.open.is_some() {
            match code {
                KeyCode::Esc | KeyCode::Left | KeyCode::Backspace => self.open = None,
                KeyCode::Char('q') => self.quit = true,
                _ => {}
            }
            return;
        }
        let shown = view::agents(self, state);
        match code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('s') => self.sort = self.sort.next(),
            KeyCode::Char('/') => self.typing = true,
            KeyCode::Esc => self.filter.clear(),
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(shown.len().saturating_sub(1));
            }
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Enter | KeyCode::Right => {
                if let Some(a) = shown.get(self.selected.min(shown.len().saturating_sub(1))) {
                    self.open = Some(a.name.clone());
                }
            }
            _ => {}
        }
    }
}

/// The base URL, checked: `http://host:port` (a path after it is kept; `https` is refused: the
/// server speaks plain HTTP).
fn base_url(url: &str) -> Result<String> {
    let url = url.trim();
    if url.starts_with("https://") {
        bail!("{url:?}: the monitoring server speaks plain HTTP; use http://HOST:PORT");
    }
    let with_scheme = if url.starts_with("http://") {
        url.to_owned()
    } else if url.contains("://") {
        bail!(
            "{url:?}: expected http://HOST:PORT (the server's address, e.g. http://127.0.0.1:9090)"
        );
    } else {
        format!("http://{url}")
    };
    let host = &with_scheme["http://".len()..];
    if host.is_empty() || host.starts_with('/') {
        bail!("{url:?}: no host; expected http://HOST:PORT, e.g. http://127.0.0.1:9090");
    }
    Ok(with_scheme.trim_end_matches('/').to_owned())
}

/// Runs the view until `q` (or Ctrl-C). Refuses to start without a terminal.
pub fn run(url: &str, token: Option<String>, interval: Duration) -> Result<()> {
    let base = base_url(url)?;
    if !io::stdout().is_terminal() {
        bail!("profx top draws on a terminal, and standard output is not one (for the figures as JSON: curl {base}/api/dashboard)");
    }
    let client = Client::new(&base, token, interval.max(Duration::from_secs(2)));
    let mut app = App::new(client.url().to_owned());
    let (tx, rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let poller = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("profx-top-poll".to_owned())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    if tx.send((client.get(), Instant::now())).is_err() {
                        return;
                    }
                    let left = interval.saturating_sub(started.elapsed());
                    // Sleep in short steps, so that quitting is not held up by a long interval.
                    let until = Instant::now() + left;
                    while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(50).min(left));
                    }
                }
            })?
    };
    let _screen = Screen::enter()?;
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    let mut state = State::default();
    let result = (|| -> Result<()> {
        while !app.quit {
            while let Ok((got, at)) = rx.try_recv() {
                match got {
                    Ok(feed) => state.update(feed, at),
                    Err(e) => state.failed(e),
                }
            }
            terminal.draw(|f| view::draw(f, &app, &state))?;
            if event::poll(Duration::from_millis(100))? {
                match event::read()? {
                    Event::Key(k) if k.kind != KeyEventKind::Release => {
                        app.key(k.code, k.modifiers.contains(KeyModifiers::CONTROL), &state);
                    }
                    // The next draw takes the new size.
                    Event::Resize(..) => terminal.autoresize()?,
                    _ => {}
                }
            }
        }
        Ok(())
    })();
    stop.store(true, Ordering::Relaxed);
    drop(rx);
    let _ = poller.join();
    result
}

/// The raw mode and the alternate screen, given back however the view ends (a panic too).
struct Screen;

impl Screen {
    fn enter() -> Result<Screen> {
        enable_raw_mode()?;
        execute!(io::stdout(), EnterAlternateScreen)?;
        Ok(Screen)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = execute!(io::stdout(), LeaveAlternateScreen);
        let _ = disable_raw_mode();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_with_a_message() {
        assert_eq!(base_url("127.0.0.1:9090").unwrap(), "http://127.0.0.1:9090");
        assert_eq!(
            base_url("http://localhost:9090/").unwrap(),
            "http://localhost:9090"
        );
        for bad in ["https://x:1", "ftp://x", "http://", ""] {
            let e = base_url(bad).unwrap_err().to_string();
            assert!(e.contains("http://"), "{bad}: {e}");
        }
    }

    #[test]
    fn keys_sort_filter_select_and_open() {
        let mut state = State::default();
        state.update(
            serde_json::from_value(serde_json::json!({
                "agents": [
                    { "name": "alpha", "executions": 5, "total_seconds": 1.0, "p99_seconds": 0.3 },
                    { "name": "beta", "executions": 9, "total_seconds": 4.0, "p99_seconds": 0.1 },
                ]
            }))
            .unwrap(),
            Instant::now(),
        );
        let mut app = App::new("u".into());
        let names = |app: &App, state: &State| {
            view::agents(app, state)
                .iter()
                .map(|a| a.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&app, &state), ["beta", "alpha"], "by total time");
        app.key(KeyCode::Char('s'), false, &state);
        app.key(KeyCode::Char('s'), false, &state);
        assert_eq!(app.sort, Sort::P99);
        assert_eq!(names(&app, &state), ["alpha", "beta"]);
        app.key(KeyCode::Char('/'), false, &state);
        for c in "bet".chars() {
            app.key(KeyCode::Char(c), false, &state);
        }
        app.key(KeyCode::Enter, false, &state);
        assert_eq!(names(&app, &state), ["beta"]);
        app.key(KeyCode::Down, false, &state);
        assert_eq!(app.selected, 0, "one row: the selection stays on it");
        app.key(KeyCode::Enter, false, &state);
        assert_eq!(app.open.as_deref(), Some("beta"));
        app.key(KeyCode::Char('s'), false, &state);
        assert_eq!(
            app.sort,
            Sort::P99,
            "keys of the agents view do nothing here"
        );
        app.key(KeyCode::Esc, false, &state);
        assert_eq!(app.open, None);
        app.key(KeyCode::Char('q'), false, &state);
        assert!(app.quit);
    }
}
