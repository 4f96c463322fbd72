//! Progress display for long loops: an `indicatif` bar on a terminal, plain lines otherwise
//! (CI logs, files), so the output stays readable wherever it goes.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Instant;

/// A progress bar for `total` steps labelled `prefix`, or a quiet stand-in that prints a plain
/// line at 25 %, 50 %, 75 % and 100 % when standard error is not a terminal.
pub struct Progress {
    bar: ProgressBar,
    total: u64,
    prefix: String,
    plain: bool,
    next_plain_quarter: u64,
    start: Instant,
}

impl Progress {
    /// Start a display for `total` steps. `enabled = false` shows nothing at all.
    pub fn new(prefix: impl Into<String>, total: u64, enabled: bool) -> Self {
        let prefix = prefix.into();
        let terminal = enabled && std::io::stderr().is_terminal();
        let bar = if terminal {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30.cyan/blue}] {pos}/{len} {msg} ETA {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(prefix.clone());
            bar
        } else {
            ProgressBar::hidden()
        };
        Progress {
            bar,
            total,
            prefix,
            plain: enabled && !terminal,
            next_plain_quarter: 1,
            start: Instant::now(),
        }
    }

    /// Advance by one step and show `message` (e.g. the running loss).
    pub fn step(&mut self, message: impl Into<String>) {
        self.bar.inc(1);
        let message = message.into();
        let position = self.bar.position();
        if self.plain && self.total > 0 && position * 4 >= self.next_plain_quarter * self.total {
            eprintln!(
                "{} {}/{} {} ({:.0} s)",
                self.prefix,
                position,
                self.total,
                message,
                self.start.elapsed().as_secs_f64()
            );
            while self.next_plain_quarter * self.total <= position * 4 {
                self.next_plain_quarter += 1;
            }
        }
        self.bar.set_message(message);
    }

    /// Print a line of text above the bar (or as a plain line), when the display is enabled.
    pub fn note(&self, text: &str) {
        if self.plain {
            eprintln!("{text}");
        } else {
            self.bar.println(text);
        }
    }

    /// Seconds since the display started.
    pub fn elapsed_seconds(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Remove the bar (its final line stays on screen).
    pub fn finish(&self) {
        self.bar.finish();
    }
}
