//! Where output goes: data to stdout, everything else to stderr.
//!
//! stdout carries only what a command produces as data (a profile, a lockfile with `--print`, a
//! diff, JSON), so it can be piped. Progress, status, warnings and errors go to stderr through
//! this printer, which applies `-q`/`-v`, `--color` and `NO_COLOR`. Off a terminal there are no
//! colours and no progress bars.

use std::io::{self, IsTerminal, Write};

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
        }
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
        let _ = writeln!(io::stderr().lock(), "{line}");
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
            let verb = format!("{verb:>12}");
            self.stderr_line(&format!("{} {message}", self.paint(BOLD_GREEN, &verb)));
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
        let _ = io::stderr().lock().write_all(out.as_bytes());
    }
}

/// A progress display for one phase: a bar of bytes and items on a terminal, nothing off it
/// (the phase's status line says what happened when it ends).
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    items: std::sync::atomic::AtomicU64,
    total_items: u64,
}

impl Printer {
    /// A progress display for `total_items` items of `total_bytes` bytes in all.
    pub fn progress(&self, verb: &str, total_bytes: u64, total_items: u64) -> Progress {
        let bar = self.progress_enabled().then(|| {
            let bar = indicatif::ProgressBar::new(total_bytes);
            let style = indicatif::ProgressStyle::with_template(
                "{prefix:>12.bold.cyan} [{bar:30}] {bytes}/{total_bytes} {msg} ({bytes_per_sec}, {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(verb.to_owned());
            bar.set_message(format!("0/{total_items}"));
            bar
        });
        Progress {
            bar,
            items: std::sync::atomic::AtomicU64::new(0),
            total_items,
        }
    }
}

impl Progress {
    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl crate::fetch::Observer for Progress {
    fn bytes(&self, count: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(count);
        }
    }

    fn bytes_lost(&self, count: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(bar.position().saturating_sub(count));
        }
    }

    fn done(&self, _label: &str) {
        let done = self
            .items
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{done}/{} packages", self.total_items));
        }
    }
}
