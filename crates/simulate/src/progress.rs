//! A progress bar on the terminal while a simulation runs; nothing when stderr is not a TTY
//! (CI logs, pipes, tests).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress of a run in simulated seconds.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar over `total_secs` simulated seconds, drawn only on a terminal.
    pub fn new(total_secs: u64) -> Self {
        let bar = ProgressBar::with_draw_target(Some(total_secs), draw_target());
        let style = ProgressStyle::with_template(
            "{spinner} simulating [{bar:40}] {percent:>3}% {msg} ({elapsed})",
        )
        .map(|s| s.progress_chars("=> "));
        if let Ok(style) = style {
            bar.set_style(style);
        }
        Self { bar }
    }

    /// A progress that draws nothing.
    pub fn hidden() -> Self {
        Self {
            bar: ProgressBar::hidden(),
        }
    }

    /// Sets the position (simulated seconds done) and a short message such as the clock time.
    pub fn update(&self, done_secs: u64, message: &str) {
        self.bar.set_position(done_secs);
        self.bar.set_message(message.to_owned());
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn draw_target() -> ProgressDrawTarget {
    if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr_with_hz(10)
    } else {
        ProgressDrawTarget::hidden()
    }
}
