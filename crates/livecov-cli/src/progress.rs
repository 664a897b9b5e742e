//! The command line's [`Reporter`]: progress bars on a terminal, plain lines elsewhere;
//! diagnostics as `warning: …` / `error: …` lines on stderr, never on stdout.

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use livecov_model::Severity;
use livecov_ops::Reporter;

/// Progress and diagnostics on stderr.
pub struct TermReporter {
    terminal: bool,
    bar: Mutex<Option<(ProgressBar, String)>>,
}

impl TermReporter {
    /// A reporter for this process's stderr: bars when it is a terminal.
    pub fn new() -> TermReporter {
        TermReporter {
            terminal: std::io::stderr().is_terminal(),
            bar: Mutex::new(None),
        }
    }

    /// Prints a line above the bar (or plainly, without one). Control characters from
    /// untrusted names (an escape sequence in a directory name) are shown escaped, never
    /// sent to the terminal.
    fn line(&self, text: &str) {
        let escaped;
        let text = if text.chars().any(char::is_control) {
            escaped = text
                .chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_debug().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect::<String>();
            escaped.as_str()
        } else {
            text
        };
        match &*self.bar.lock().expect("progress lock") {
            Some((bar, _)) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }
}

impl Default for TermReporter {
    fn default() -> TermReporter {
        TermReporter::new()
    }
}

impl Reporter for TermReporter {
    fn diagnostic(&self, severity: Severity, message: &str) {
        let tag = match severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        self.line(&format!("{tag}: {message}"));
    }

    fn note(&self, message: &str) {
        self.line(message);
    }

    fn start(&self, phase: &str, total: Option<u64>) {
        if !self.terminal {
            return;
        }
        let bar = match total {
            Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr())
                .with_style(
                    ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                ),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template("{prefix} {spinner} {pos} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_prefix(phase.to_owned());
        *self.bar.lock().expect("progress lock") = Some((bar, phase.to_owned()));
    }

    fn advance(&self, n: u64, item: &str) {
        if let Some((bar, _)) = &*self.bar.lock().expect("progress lock") {
            bar.inc(n);
            bar.set_message(item.to_owned());
        }
    }

    fn finish(&self) {
        if let Some((bar, _)) = self.bar.lock().expect("progress lock").take() {
            bar.finish_and_clear();
        }
    }
}
