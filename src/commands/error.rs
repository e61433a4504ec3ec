//! The commands' own failures: what the command line asked for that cannot be done, each with
//! its exit class (the pipeline's and the modules' errors have theirs).

use std::path::PathBuf;

use crate::error::{Classify, ExitClass};

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("output `{}`: debroot writes no `.{extension}` format", .output.display())]
    UnknownExtension { output: PathBuf, extension: String },
    #[error("cannot read lockfile `{}`", .path.display())]
    LockfileUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{package}` is not in the package set of `{}`", .profile.display())]
    NotInPackageSet { package: String, profile: PathBuf },
    #[error(
        "no root: `debroot hook` runs inside a hook (which sets `DEBROOT_ROOT`), or give `--root DIR`"
    )]
    NoHookRoot,
    #[error("the root `{}` is not a directory", .0.display())]
    RootNotADirectory(PathBuf),
    #[error("no command to run")]
    NoCommand,
    #[error("`{command}` failed in `{}`: {status}", .root.display())]
    CommandFailed {
        command: String,
        root: PathBuf,
        status: String,
    },
    #[error("cannot confine `{command}` to `{}`", .root.display())]
    CannotConfine {
        command: String,
        root: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`--expect {0}` is neither a SHA256 nor a readable file")]
    ExpectUnreadable(String, #[source] std::io::Error),
    #[error("`{0}` holds no SHA256 (a sha256sum line or a debroot manifest)")]
    ExpectHoldsNoDigest(String),
    /// `verify --expect`: an output is not the recorded one (exit 1).
    #[error("the output is not the expected one: expected sha256:{expected}{}, got {got}", .from.as_ref().map(|f| format!(" (`{f}`)")).unwrap_or_default())]
    NotExpected {
        expected: String,
        /// The file the digest came from.
        from: Option<String>,
        /// The runs' digests (`sha256:X`, or `sha256:X (run 1), sha256:Y (run 2)`).
        got: String,
        /// Whether `--expect` named a manifest (then its diff was shown).
        manifest: bool,
        /// Where the outputs are kept, if they are.
        kept: Option<PathBuf>,
    },
    #[error("`--runs` must be at least 2: one build proves nothing")]
    TooFewRuns,
    #[error("`verify` compares files: choose a tarball format")]
    VerifyNeedsFiles,
    /// A run of `debroot verify` failed: its class is the build's.
    #[error("run {number} of `{}` failed ({mode} mode); its log is `{}`:\n{tail}", .profile.display(), .log.display())]
    RunFailed {
        class: ExitClass,
        number: usize,
        profile: PathBuf,
        mode: String,
        log: PathBuf,
        tail: String,
    },
    #[error("a reader thread panicked")]
    ReaderPanicked,
    #[error("`-o -` writes a tarball to stdout, not a folder")]
    FolderToStdout,
    /// A disk image to stdout: it is several files (the disk and its update bundle).
    #[error("a disk image cannot go to stdout: it is the disk and its update bundle folder")]
    DiskToStdout,
    #[error("stdout is a terminal: debroot does not write a tarball to it")]
    TarballToTerminal,
    /// `--verity` with a format that is no filesystem image, or to stdout.
    #[error("--verity needs an image output (squashfs, erofs or ext4) written to a file, not {0}")]
    VerityNeedsImage(String),
    #[error("there is no built-in profile `{0}`")]
    UnknownBuiltin(String),
    /// Neither `XDG_STATE_HOME` nor `HOME` is an absolute path.
    #[error(
        "no state folder for the lock of {0}: neither XDG_STATE_HOME nor HOME is set to an absolute path"
    )]
    NoStateDirectory(String),
}

impl Classify for CommandError {
    fn class(&self) -> ExitClass {
        use CommandError::*;
        match self {
            UnknownExtension { .. }
            | LockfileUnreadable { .. }
            | NoHookRoot
            | RootNotADirectory(_)
            | NoCommand
            | ExpectUnreadable(..)
            | ExpectHoldsNoDigest(_)
            | TooFewRuns
            | VerifyNeedsFiles
            | FolderToStdout
            | DiskToStdout
            | TarballToTerminal
            | VerityNeedsImage(_)
            | NoStateDirectory(_)
            | UnknownBuiltin(_) => ExitClass::Usage,
            NotInPackageSet { .. } => ExitClass::Resolution,
            CommandFailed { .. } | CannotConfine { .. } => ExitClass::Script,
            RunFailed { class, .. } => *class,
            NotExpected { .. } => ExitClass::Differs,
            ReaderPanicked => ExitClass::Output,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            CommandError::UnknownExtension { .. } => Some(format!(
                "name the output .tar, .tar.gz, .tar.xz or .tar.zst, or a folder (no extension), or choose with --format ({})",
                crate::output::FORMAT_NAMES.join(", ")
            )),
            CommandError::UnknownBuiltin(_) => Some(format!(
                "the built-in profiles are {} (`debroot profile list`)",
                crate::builtin::names().collect::<Vec<_>>().join(", ")
            )),
            CommandError::DiskToStdout => Some("write it to a file: `-o kiosk.img`".into()),
            CommandError::FolderToStdout => Some(
                "choose a tarball format (--format tar, tar.gz, tar.xz, tar.zst, oci-archive)"
                    .into(),
            ),
            CommandError::VerityNeedsImage(_) => Some(
                "name an image (`-o rootfs.squashfs`, `.erofs`, `.ext4`) or give --format".into(),
            ),
            CommandError::TarballToTerminal => {
                Some("redirect it (`-o - > rootfs.tar`, `| tar -t`), or name an output file".into())
            }
            CommandError::NotInPackageSet { .. } => {
                Some("`debroot lock --print PROFILE` lists the set".into())
            }
            CommandError::NotExpected { manifest, kept, .. } => {
                let compare = if *manifest {
                    "the `debroot diff` above compares the expected manifest with run 1's (packages, profile and lock digests, epoch)"
                } else {
                    "give `--expect` the manifest of the expected build (OUTPUT.manifest.json) to see which packages and fields differ"
                };
                let keep = match kept {
                    Some(dir) => format!("the outputs are in `{}`", dir.display()),
                    None => "`--keep` keeps the outputs to compare them with `debroot diff`".into(),
                };
                Some(format!("{compare}; {keep}"))
            }
            CommandError::CannotConfine { source, .. }
                if source.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                Some("`debroot hook chroot` needs root: `root` or `unshare` mode".into())
            }
            _ => None,
        }
    }
}
