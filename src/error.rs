//! Error classes, exit codes, and how a failure is shown.
//!
//! Every module has its own typed errors (thiserror) whose fields carry the path, URL, package or
//! member concerned. Each of those types says which [`ExitClass`] it belongs to through
//! [`Classify`], and converts into a [`Failure`], the one error type commands return. `main`
//! renders a failure as
//!
//! ```text
//! error: <what failed, naming its object>
//! caused by: <each underlying cause, outermost first>
//! hint: <the obvious next step, when there is one>
//! ```
//!
//! and exits with the class's code. The table of codes is the user-facing contract (README).
//!
//! Paths and names in messages are shown by [`shown_bytes`]: escaped, and when long (a member
//! name or a path may be 4 KiB) their start and end kept with the middle elided. As a last
//! guard, no line of a failure is longer than [`MAX_LINE`] characters.

use std::error::Error as StdError;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Longest line of a failure, in characters: the middle of a longer one is elided.
pub const MAX_LINE: usize = 1024;

/// `bytes` (a path or a name) for a message: escaped (`debian::escape`), and when longer than
/// `keep` bytes, its first and last `keep / 2` bytes with `...` between and the length after.
pub fn shown_bytes(bytes: &[u8], keep: usize) -> String {
    if bytes.len() <= keep {
        return crate::debian::escape(bytes);
    }
    let half = keep / 2;
    format!(
        "{}...{} ({} bytes)",
        crate::debian::escape(&bytes[..half]),
        crate::debian::escape(&bytes[bytes.len() - half..]),
        bytes.len()
    )
}

/// A host path for a message, as [`shown_bytes`] shows it (256 bytes kept).
pub fn shown_path(path: &std::path::Path) -> String {
    shown_bytes(
        std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()),
        256,
    )
}

/// `text` with each of its lines cut to [`MAX_LINE`] characters, keeping their start and end (a
/// message may hold several lines, a script's output: each is bounded, none is dropped).
fn bounded(text: String) -> String {
    if text.len() <= MAX_LINE {
        return text;
    }
    let bound = |line: &str| {
        let count = line.chars().count();
        if count <= MAX_LINE {
            return line.to_owned();
        }
        let half = (MAX_LINE - 3) / 2;
        let start: String = line.chars().take(half).collect();
        let end: String = line.chars().skip(count - half).collect();
        format!("{start}...{end}")
    };
    text.split('\n').map(bound).collect::<Vec<_>>().join("\n")
}

/// The documented exit codes (DESIGN §1, README).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExitClass {
    /// 1: a comparison found differences (`diff`, `verify`, `lock --check`), like diff(1).
    Differs,
    /// 2: bad command line, profile or value.
    Usage,
    /// 3: the package set cannot be resolved.
    Resolution,
    /// 4: a signature or trust check failed.
    Trust,
    /// 5: a hash or size did not match signed metadata.
    Integrity,
    /// 6: the network failed.
    Network,
    /// 7: an archive is malformed or carries unsafe content.
    Archive,
    /// 8: a maintainer script or a hook failed.
    Script,
    /// 9: writing the output or another local I/O operation failed.
    Output,
    /// 130: interrupted by a signal.
    Interrupted,
}

impl ExitClass {
    /// The class whose code is `code` (143, SIGTERM's, is `Interrupted` too).
    pub fn from_code(code: i32) -> Option<ExitClass> {
        if code == 143 {
            return Some(ExitClass::Interrupted);
        }
        ExitClass::ALL
            .into_iter()
            .find(|class| i32::from(class.code()) == code)
    }

    /// Every class, in code order (for the README table and its test).
    pub const ALL: [ExitClass; 10] = [
        ExitClass::Differs,
        ExitClass::Usage,
        ExitClass::Resolution,
        ExitClass::Trust,
        ExitClass::Integrity,
        ExitClass::Network,
        ExitClass::Archive,
        ExitClass::Script,
        ExitClass::Output,
        ExitClass::Interrupted,
    ];

    pub fn code(self) -> u8 {
        match self {
            ExitClass::Differs => 1,
            ExitClass::Usage => 2,
            ExitClass::Resolution => 3,
            ExitClass::Trust => 4,
            ExitClass::Integrity => 5,
            ExitClass::Network => 6,
            ExitClass::Archive => 7,
            ExitClass::Script => 8,
            ExitClass::Output => 9,
            ExitClass::Interrupted => 130,
        }
    }

    /// One line for the README's table.
    pub fn meaning(self) -> &'static str {
        match self {
            ExitClass::Differs => "differences found (`diff`, `verify`, `lock --check`)",
            ExitClass::Usage => "usage, profile or value error",
            ExitClass::Resolution => "the package set cannot be resolved",
            ExitClass::Trust => "signature or trust failure",
            ExitClass::Integrity => "hash or size mismatch against signed metadata",
            ExitClass::Network => "network failure",
            ExitClass::Archive => "malformed archive or unsafe content",
            ExitClass::Script => "maintainer script or hook failed",
            ExitClass::Output => "output or local I/O failure",
            ExitClass::Interrupted => "interrupted",
        }
    }
}

/// Implemented by every module error: which exit class it belongs to, and an optional hint.
pub trait Classify: StdError + Send + Sync + 'static {
    fn class(&self) -> ExitClass;

    fn hint(&self) -> Option<String> {
        None
    }
}

/// A local operation on a path that failed: `cannot ACTION `PATH``, caused by the system's (or
/// a decoder's) error. Exit 9. Made by [`io_at`], so that the path is attached where the
/// operation is written, and cannot be lost on the way up.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} `{}`", shown_path(path))]
pub struct IoError {
    /// What was done, in the words that follow "cannot": `write`, `read lockfile`, `create a
    /// work directory in`.
    pub action: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: Box<dyn StdError + Send + Sync>,
}

impl Classify for IoError {
    fn class(&self) -> ExitClass {
        ExitClass::Output
    }
}

impl IoError {
    /// The kind of the system's error (`Other` when the cause is not one).
    pub fn kind(&self) -> std::io::ErrorKind {
        self.source
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| {
                self.source
                    .downcast_ref::<rustix::io::Errno>()
                    .map(|e| std::io::Error::from(*e).kind())
            })
            .unwrap_or(std::io::ErrorKind::Other)
    }

    /// As an `io::Error` of the same kind, for code whose interface is `io::Result` (a tree
    /// walk's visitor): the message keeps the action and the path.
    pub fn into_io(self) -> std::io::Error {
        std::io::Error::new(self.kind(), self)
    }
}

/// A path of the root given as bytes (a member name, a walk's relative path), for [`io_at`].
pub fn bytes_path(bytes: &[u8]) -> &Path {
    Path::new(std::ffi::OsStr::from_bytes(bytes))
}

/// `.map_err(io_at("write", &path))`: the error of an operation on `path`, as an [`IoError`].
pub fn io_at<'a, E: StdError + Send + Sync + 'static>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(E) -> IoError + 'a {
    move |source| IoError {
        action,
        path: path.to_path_buf(),
        source: Box::new(source),
    }
}

/// A local operation on no path that failed (the current directory, stdout, a child process):
/// `cannot ACTION`, caused by the system's error. Exit 9.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action}")]
pub struct LocalError {
    pub action: &'static str,
    #[source]
    pub source: Box<dyn StdError + Send + Sync>,
}

impl Classify for LocalError {
    fn class(&self) -> ExitClass {
        ExitClass::Output
    }
}

/// `.map_err(local("write to stdout"))`: the error of an operation on no path.
pub fn local<E: StdError + Send + Sync + 'static>(
    action: &'static str,
) -> impl FnOnce(E) -> LocalError {
    move |source| LocalError {
        action,
        source: Box::new(source),
    }
}

/// A classified error with the context commands added on the way up.
pub struct Failure {
    class: ExitClass,
    /// Context messages, outermost first.
    context: Vec<String>,
    error: Box<dyn StdError + Send + Sync>,
    hint: Option<String>,
    /// Already shown to the user (by a debroot child process): exit with the class, print
    /// nothing more.
    reported: bool,
}

/// An error that is only a message (for commands that detect a condition themselves).
#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Message {}

impl Failure {
    /// A failure from an error of the given class. Private: every error reaches a failure
    /// through its own [`Classify`] (`?`, `From`), so that no call site picks a class.
    fn new(class: ExitClass, error: impl StdError + Send + Sync + 'static) -> Self {
        Failure {
            class,
            context: Vec::new(),
            error: Box::new(error),
            hint: None,
            reported: false,
        }
    }

    /// A failure a debroot child already reported on stderr, with its exit class.
    pub fn reported(class: ExitClass) -> Self {
        Failure {
            reported: true,
            ..Failure::message(class, "reported by a debroot child process")
        }
    }

    pub fn is_reported(&self) -> bool {
        self.reported
    }

    /// A failure that is only a message (see [`Failure::new`]).
    fn message(class: ExitClass, message: impl Into<String>) -> Self {
        Failure::new(class, Message(message.into()))
    }

    /// Adds a context line above what is already there.
    pub fn context(mut self, message: impl Into<String>) -> Self {
        self.context.insert(0, message.into());
        self
    }

    /// Sets (or replaces) the hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn class(&self) -> ExitClass {
        self.class
    }

    /// The lines of the message without prefixes: the headline, then each cause.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = self.context.clone();
        lines.push(self.error.to_string());
        let mut source = self.error.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            // Some errors repeat their source in their own message; say it once.
            if lines.last().is_none_or(|last| !last.ends_with(&text)) {
                lines.push(text);
            }
            source = cause.source();
        }
        lines.into_iter().map(bounded).collect()
    }

    pub fn hint_text(&self) -> Option<&str> {
        self.hint.as_deref()
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Failure")
            .field("class", &self.class)
            .field("lines", &self.lines())
            .field("hint", &self.hint)
            .finish()
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, line) in self.lines().iter().enumerate() {
            if i == 0 {
                write!(f, "error: {line}")?;
            } else {
                write!(f, "\ncaused by: {line}")?;
            }
        }
        if let Some(hint) = &self.hint {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

impl<E: Classify> From<E> for Failure {
    fn from(error: E) -> Self {
        let class = error.class();
        let hint = error.hint();
        Failure {
            class,
            context: Vec::new(),
            error: Box::new(error),
            hint,
            reported: false,
        }
    }
}

/// Adds context to results on the way up, keeping the class of the underlying error.
pub trait ResultExt<T> {
    fn context<M: Into<String>>(self, message: impl FnOnce() -> M) -> Result<T, Failure>;
}

impl<T, E: Into<Failure>> ResultExt<T> for Result<T, E> {
    fn context<M: Into<String>>(self, message: impl FnOnce() -> M) -> Result<T, Failure> {
        self.map_err(|error| error.into().context(message()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_paths_keep_their_start_and_end() {
        let long = format!("/work/{}the-end", "a/".repeat(2000));
        let shown = shown_path(std::path::Path::new(&long));
        assert!(shown.starts_with("/work/a/a/"), "{shown}");
        assert!(shown.ends_with("a/the-end (4013 bytes)"), "{shown}");
        assert!(shown.len() < 300, "{shown}");
        assert_eq!(shown_bytes(b"short\n", 256), "short\\n");
        let failure = Failure::message(ExitClass::Output, format!("cannot read `{long}`"));
        let lines = failure.lines();
        assert!(lines[0].chars().count() <= MAX_LINE, "{}", lines[0]);
        assert!(lines[0].starts_with("cannot read `/work/a/"));
        assert!(lines[0].ends_with("/the-end`"));
        // A message of several lines (a script's output) keeps every line.
        let output: String = (0..100)
            .map(|i| format!("line {i} {}\n", "x".repeat(40)))
            .collect();
        let failure = Failure::message(ExitClass::Script, format!("postinst failed\n{output}"));
        assert_eq!(failure.lines()[0].lines().count(), 101);
    }

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read `/x/profile.toml`")]
    struct ReadError(#[source] std::io::Error);

    impl Classify for ReadError {
        fn class(&self) -> ExitClass {
            ExitClass::Usage
        }
        fn hint(&self) -> Option<String> {
            Some("check the path".into())
        }
    }

    #[test]
    fn renders_error_causes_and_hint() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let result: Result<(), ReadError> = Err(ReadError(io));
        let failure = result.context(|| "loading profile").unwrap_err();
        assert_eq!(failure.class().code(), 2);
        assert_eq!(
            failure.to_string(),
            "error: loading profile\ncaused by: cannot read `/x/profile.toml`\ncaused by: No such file or directory\nhint: check the path"
        );
    }

    #[test]
    fn codes_are_distinct() {
        let mut codes: Vec<u8> = ExitClass::ALL.iter().map(|c| c.code()).collect();
        codes.dedup();
        assert_eq!(codes.len(), ExitClass::ALL.len());
    }
}
