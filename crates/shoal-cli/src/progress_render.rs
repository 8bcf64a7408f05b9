//! Writing progress messages the way docker's `jsonmessage.DisplayJSONMessagesStream` does:
//! on a terminal each line is redrawn in place (cursor up, clear, rewrite, cursor down);
//! elsewhere bars are left out and a line is printed only when its text changes.

use std::collections::HashMap;

use crate::progress::Msg;

/// docker's `JSONProgress.String()` for a state bar out of 9: `[=====>   ] ` when the terminal
/// is wider than 110 columns, else nothing.
pub(crate) fn bar_text(current: i64, width: usize) -> String {
    if width <= 110 || current <= 0 {
        return String::new();
    }
    let pct = (((current as f64 / 9.0) * 100.0) as i64 / 2).min(50) as usize;
    format!("[{}>{}] ", "=".repeat(pct), " ".repeat(50 - pct))
}

/// Writes messages the way docker's `DisplayJSONMessagesStream` does.
#[derive(Debug, Default)]
pub struct Renderer {
    tty: bool,
    width: usize,
    /// Terminal: line index of each progress ID since the last plain message.
    lines: HashMap<String, usize>,
    /// Elsewhere: the last text printed for each ID.
    last: HashMap<String, String>,
}

impl Renderer {
    pub fn new(tty: bool, width: usize) -> Renderer {
        Renderer {
            tty,
            width,
            ..Default::default()
        }
    }

    /// The bytes to write for `m`.
    pub fn render(&mut self, m: &Msg) -> String {
        if self.tty {
            self.render_tty(m)
        } else {
            self.render_plain(m)
        }
    }

    fn render_plain(&mut self, m: &Msg) -> String {
        if m.bar.is_some_and(|b| b > 0) {
            return String::new(); // docker hides progress bars off a terminal
        }
        let line = if m.id.is_empty() {
            m.text.clone()
        } else {
            format!("{}: {}", m.id, m.text)
        };
        if m.progress && self.last.get(&m.id) == Some(&line) {
            return String::new();
        }
        self.last.insert(m.id.clone(), line.clone());
        line + "\n"
    }

    fn render_tty(&mut self, m: &Msg) -> String {
        let mut o = String::new();
        let mut diff = 0;
        if m.progress && !m.id.is_empty() {
            let n = self.lines.len();
            let line = *self.lines.entry(m.id.clone()).or_insert_with(|| {
                o.push('\n');
                n
            });
            diff = self.lines.len() - line;
            if diff > 0 {
                o += &format!("\x1b[{diff}A");
            }
        } else {
            self.lines.clear();
        }
        if m.progress {
            o += "\x1b[2K\r";
        }
        if !m.id.is_empty() {
            o += &format!("{}: ", m.id);
        }
        if m.progress {
            o += &format!("{} {}\r", m.text, bar_text(m.bar.unwrap_or(0), self.width));
        } else {
            o += &format!("{}\n", m.text);
        }
        if !m.id.is_empty() && diff > 0 {
            o += &format!("\x1b[{diff}B");
        }
        o
    }

    /// What to write once the display ends (a terminal's cursor sits on the last line).
    pub fn finish(&self) -> &'static str {
        if self.tty && !self.lines.is_empty() {
            "\n"
        } else {
            ""
        }
    }
}

/// The terminal's width in columns, when stdout is one.
pub fn terminal_width() -> Option<usize> {
    use std::io::IsTerminal;
    let stdout = std::io::stdout();
    if !stdout.is_terminal() {
        return None;
    }
    let ws = rustix::termios::tcgetwinsize(&stdout).ok();
    Some(ws.map_or(200, |w| w.ws_col as usize).max(1))
}
