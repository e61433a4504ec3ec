//! Where output goes: data to stdout, everything else to stderr.
//!
//! stdout carries only what a command produces as data (a profile, a lockfile with `--print`, a
//! diff, JSON), so it can be piped. Progress, status, warnings and errors go to stderr through
//! this printer, which applies `-q`/`-v`, `--color` and `NO_COLOR`. Off a terminal (or with
//! `TERM=dumb`) there are no colours and no progress bars: a build's phases ([`Step`]) print a
//! plain line when they start and when they end.

use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::context::Context;
use crate::error::Failure;

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when stderr is a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    Always,
    Never,
}

/// How much to say on stderr: -2 and below silent but errors, -1 (`-q`) no progress or status,
/// 0 default, 1 (`-v`) details, 2 (`-vv`) debugging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Verbosity(pub i8);

/// The one printer of a run.
#[derive(Debug, Clone)]
pub struct Printer {
    verbosity: Verbosity,
    color: bool,
    /// Colour for data on stdout (a diff): as `color`, judged on stdout.
    stdout_color: bool,
    stderr_is_terminal: bool,
    /// When the build began, for the elapsed time the progress display shows (a child of an
    /// `unshare` build is told the time its parent had already spent).
    origin: Instant,
    /// The bar drawn now, if any: lines printed meanwhile are written above it.
    active: Arc<Mutex<Option<(u64, indicatif::ProgressBar)>>>,
}

const RESET: &str = "\x1b[0m";
const BOLD_RED: &str = "\x1b[1;31m";
const BOLD_YELLOW: &str = "\x1b[1;33m";
const BOLD_CYAN: &str = "\x1b[1;36m";
const BOLD_GREEN: &str = "\x1b[1;32m";
const DIM: &str = "\x1b[2m";

impl Printer {
    pub fn new(quiet: u8, verbose: u8, color: ColorChoice, context: &Context) -> Self {
        let level = i16::from(verbose) - i16::from(quiet);
        let verbosity = Verbosity(level.clamp(-8, 8) as i8);
        let stderr_is_terminal = io::stderr().is_terminal() && !context.dumb_terminal();
        let color_choice = color;
        let color = match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => stderr_is_terminal && !context.no_color(),
        };
        let stdout_color = match color_choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                io::stdout().is_terminal() && !context.dumb_terminal() && !context.no_color()
            }
        };
        Printer {
            verbosity,
            color,
            stdout_color,
            stderr_is_terminal,
            origin: Instant::now(),
            active: Arc::new(Mutex::new(None)),
        }
    }

    /// This printer, counting the build's elapsed time as if it began `elapsed` ago.
    pub fn started_before(&self, elapsed: Duration) -> Printer {
        let mut printer = self.clone();
        printer.origin = Instant::now().checked_sub(elapsed).unwrap_or(self.origin);
        printer
    }

    /// Time since the build began.
    pub fn elapsed(&self) -> Duration {
        self.origin.elapsed()
    }

    /// Whether data written to stdout (a diff) may be coloured.
    pub fn stdout_color(&self) -> bool {
        self.stdout_color
    }

    pub fn verbosity(&self) -> Verbosity {
        self.verbosity
    }

    /// Whether progress bars may be drawn: stderr is a terminal and `-q` was not given.
    pub fn progress_enabled(&self) -> bool {
        self.stderr_is_terminal && self.verbosity >= Verbosity(0)
    }

    fn paint(&self, style: &str, text: &str) -> String {
        if self.color {
            format!("{style}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    fn stderr_line(&self, line: &str) {
        // Nothing sensible can be done when stderr itself is gone.
        let write = || {
            let _ = writeln!(io::stderr().lock(), "{line}");
        };
        let active = self
            .active
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match active {
            // Above the bar, which is drawn again after.
            Some((_, bar)) => bar.suspend(write),
            None => write(),
        }
    }

    /// Writes data to stdout. A closed pipe (`debroot ... | head`) is not an error.
    pub fn data(&self, text: &str) -> io::Result<()> {
        let mut stdout = io::stdout().lock();
        match stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            other => other,
        }
    }

    /// A phase or result line (`   Resolved 142 packages in 0.31s`), hidden by `-q`.
    pub fn status(&self, verb: &str, message: &str) {
        if self.verbosity >= Verbosity(0) {
            let line = status_line(verb, message, None);
            let (verb, message) = line.split_at(line.len() - message.len());
            let verb = verb.strip_suffix(' ').unwrap_or(verb);
            self.stderr_line(&format!("{} {message}", self.paint(BOLD_GREEN, verb)));
        }
    }

    /// Details shown with `-v`.
    pub fn detail(&self, message: &str) {
        if self.verbosity >= Verbosity(1) {
            self.stderr_line(&self.paint(DIM, message));
        }
    }

    /// Debugging output shown with `-vv`.
    pub fn debug(&self, message: &str) {
        if self.verbosity >= Verbosity(2) {
            self.stderr_line(&self.paint(DIM, &format!("debug: {message}")));
        }
    }

    /// A warning, hidden only by `-qq`.
    pub fn warn(&self, message: &str) {
        if self.verbosity >= Verbosity(-1) {
            self.stderr_line(&format!(
                "{} {message}",
                self.paint(BOLD_YELLOW, "warning:")
            ));
        }
    }

    /// An error with its causes and hint; always shown.
    pub fn error(&self, failure: &Failure) {
        if failure.is_reported() {
            return;
        }
        let lines = failure.lines();
        let mut out = String::new();
        for (i, line) in lines.iter().enumerate() {
            let label = if i == 0 {
                self.paint(BOLD_RED, "error:")
            } else {
                self.paint(BOLD_RED, "caused by:")
            };
            out.push_str(&format!("{label} {line}\n"));
        }
        if let Some(hint) = failure.hint_text() {
            out.push_str(&format!("{} {hint}\n", self.paint(BOLD_CYAN, "hint:")));
        }
        self.clear_bar();
        let _ = io::stderr().lock().write_all(out.as_bytes());
    }

    /// Removes the bar drawn now, if any.
    fn clear_bar(&self) {
        let bar = self
            .active
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some((_, bar)) = bar {
            bar.finish_and_clear();
        }
    }
}

/// What a step's bar counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Packages (or other items), `n/N`.
    Items,
    /// Bytes against a known total, with the items done in the message (a download).
    Bytes,
    /// Bytes of an output as it is written: no total known.
    Written,
}

/// One phase of the build as the progress display shows it. On a terminal, the build's one bar:
/// the phase, a bar with its counts, the item being worked on, the elapsed time of the whole
/// build. Off a terminal (or with `TERM=dumb`), a plain line when the phase starts and one when
/// it ends, with its count and duration, and nothing between. `-q`: nothing at all.
///
/// A step only observes: what it counts is told to it, it never reads the tree or the output.
pub struct Step<'p> {
    printer: &'p Printer,
    bar: Option<indicatif::ProgressBar>,
    started: Instant,
    items: AtomicU64,
    total_items: u64,
    unit: Unit,
    /// Which step the printer's active bar belongs to.
    id: u64,
}

/// A size for people: `512 B`, `12.3 KiB`, `4.0 MiB`.
pub fn bytes(count: u64) -> String {
    indicatif::HumanBytes(count).to_string()
}

/// A status line as the printer writes it (without colour): the verb right-aligned in 12
/// columns, the message, and the duration when there is one (`   Extracted 3 packages in
/// 0.05s`).
pub fn status_line(verb: &str, message: &str, took: Option<Duration>) -> String {
    match took {
        Some(took) => format!("{verb:>12} {message} in {:.2}s", took.as_secs_f64()),
        None => format!("{verb:>12} {message}"),
    }
}

impl Printer {
    /// Starts a step of the build: `verb` (`Fetching`) and `what` (`3 packages`) name it;
    /// the bar counts `total` of `unit` (items, or bytes with `total_items` items).
    pub fn step(
        &self,
        verb: &str,
        what: &str,
        unit: Unit,
        total: u64,
        total_items: u64,
    ) -> Step<'_> {
        if self.verbosity >= Verbosity(0) && !self.stderr_is_terminal {
            self.status(verb, what);
        }
        static STEPS: AtomicU64 = AtomicU64::new(0);
        let id = STEPS.fetch_add(1, Ordering::Relaxed);
        let bar = self.progress_enabled().then(|| {
            let counts = match unit {
                Unit::Items => "[{bar:25}] {pos}/{len}",
                Unit::Bytes => "[{bar:25}] {bytes}/{total_bytes}",
                Unit::Written => "{spinner} {bytes}",
            };
            let prefix = if self.color {
                "{prefix:>12.bold.cyan}"
            } else {
                "{prefix:>12}"
            };
            let template = format!("{prefix} {counts} {{wide_msg}} {{elapsed:>4}}");
            let style = indicatif::ProgressStyle::with_template(&template)
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> ");
            let bar = match unit {
                Unit::Written => indicatif::ProgressBar::no_length(),
                _ => indicatif::ProgressBar::new(total),
            }
            .with_elapsed(self.origin.elapsed())
            .with_style(style)
            .with_prefix(verb.to_owned());
            // Items: the bar's count says it; the message names the item.
            if unit == Unit::Written {
                bar.set_message(what.to_owned());
            }
            if unit == Unit::Bytes {
                bar.set_message(format!("0/{total_items} packages"));
            }
            // The elapsed time moves while a long script runs; indicatif limits the redraws.
            bar.enable_steady_tick(Duration::from_millis(200));
            self.clear_bar();
            *self.active.lock().unwrap_or_else(PoisonError::into_inner) = Some((id, bar.clone()));
            bar
        });
        Step {
            printer: self,
            bar,
            started: Instant::now(),
            items: AtomicU64::new(0),
            total_items,
            unit,
            id,
        }
    }
}

impl Step<'_> {
    /// `count` more of the step's unit done.
    pub fn inc(&self, count: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(count);
        }
    }

    /// One more item done (`name`: the one done, or the one now being worked on).
    pub fn item(&self, name: &str) {
        let done = self.items.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(bar) = &self.bar {
            match self.unit {
                Unit::Items => {
                    bar.inc(1);
                    bar.set_message(name.to_owned());
                }
                Unit::Bytes => bar.set_message(format!("{done}/{} packages", self.total_items)),
                Unit::Written => bar.set_message(name.to_owned()),
            }
        }
    }

    /// What is being worked on now, without counting it.
    pub fn working_on(&self, name: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(name.to_owned());
        }
    }

    /// How many items were counted.
    pub fn items(&self) -> u64 {
        self.items.load(Ordering::Relaxed)
    }

    /// Time since the step started.
    pub fn took(&self) -> Duration {
        self.started.elapsed()
    }

    /// Ends the step: the bar goes, and `verb message in N.NNs` stays.
    pub fn finish(self, verb: &str, message: &str) {
        self.clear();
        self.printer.status(
            verb,
            &format!("{message} in {:.2}s", self.took().as_secs_f64()),
        );
    }

    /// Ends the step with no line (the caller says what happened).
    pub fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
            let mut active = self
                .printer
                .active
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if active.as_ref().is_some_and(|(id, _)| *id == self.id) {
                *active = None;
            }
        }
    }
}

impl Drop for Step<'_> {
    /// A step left by a failure takes its bar with it.
    fn drop(&mut self) {
        self.clear();
    }
}

impl crate::fetch::Observer for Step<'_> {
    fn bytes(&self, count: u64) {
        self.inc(count);
    }

    fn bytes_lost(&self, count: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(bar.position().saturating_sub(count));
        }
    }

    fn done(&self, label: &str) {
        self.item(label);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_align_the_verb_and_end_with_the_duration() {
        assert_eq!(
            status_line(
                "Fetched",
                "3 packages (3 downloaded)",
                Some(Duration::from_millis(1234))
            ),
            "     Fetched 3 packages (3 downloaded) in 1.23s"
        );
        assert_eq!(
            status_line("Configuring", "the Essential set (45 packages)", None),
            " Configuring the Essential set (45 packages)"
        );
        assert_eq!(
            status_line("Reproducible", "2 runs", Some(Duration::ZERO)),
            "Reproducible 2 runs in 0.00s"
        );
        // Never a control character: the lines are for logs.
        let line = status_line(
            "Wrote",
            "`out.tar` (10240 bytes)",
            Some(Duration::from_secs(61)),
        );
        assert!(line.chars().all(|c| !c.is_control()), "{line}");
        assert!(line.ends_with(" in 61.00s"));
    }
}
