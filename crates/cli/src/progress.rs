//! Progress of long work on stderr (indicatif): a bar or a spinner on a terminal. Elsewhere (a pipe, a CI
//! log) indicatif draws nothing, so each phase is said once in a plain line instead.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::Duration;

pub struct Progress {
    bar: ProgressBar,
    phase: String,
}

impl Progress {
    /// A bar of `total` steps, in phases named by [`Self::set_phase`].
    pub fn bar(total: u64) -> Self {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{prefix:>10} [{bar:30}] {percent:>3}% {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("#>-"),
        );
        Self {
            bar,
            phase: String::new(),
        }
    }

    /// A spinner with the elapsed time for a phase of unknown size, said once when no spinner is drawn.
    #[cfg_attr(not(feature = "sandbox"), allow(dead_code))]
    pub fn phase(phase: &str) -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        let mut progress = Self {
            bar,
            phase: String::new(),
        };
        progress.bar.set_message(phase.to_owned());
        progress.say(phase);
        progress
    }

    /// Names the current phase (a new one is said once when no bar is drawn).
    pub fn set_phase(&mut self, phase: &str) {
        if self.phase != phase {
            self.bar.set_prefix(phase.to_owned());
            self.say(phase);
        }
    }

    fn say(&mut self, phase: &str) {
        self.phase = phase.to_owned();
        if self.bar.is_hidden() {
            eprintln!("{phase}…");
        }
    }

    /// `done` of `total` steps, with a note after the bar.
    pub fn update(&self, done: u64, total: u64, note: String) {
        self.bar.set_length(total);
        self.bar.set_position(done);
        self.bar.set_message(note);
    }

    /// One more step.
    #[cfg_attr(not(feature = "sandbox"), allow(dead_code))]
    pub fn inc(&self) {
        self.bar.inc(1);
    }

    /// Whether nothing is drawn (stderr is not a terminal).
    #[cfg_attr(not(feature = "sandbox"), allow(dead_code))]
    pub fn is_hidden(&self) -> bool {
        self.bar.is_hidden()
    }

    /// Removes the bar (the caller says how it ended).
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}
