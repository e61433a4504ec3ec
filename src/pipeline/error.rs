//! What can stop a build before or between its phases, each failure with its exit class and
//! the path, package or value it concerns. The phases' modules (`repo`, `fetch`, `unpack`,
//! `install`, `output` ...) have their own errors; these are the pipeline's own checks.

use std::path::PathBuf;

use crate::error::{Classify, ExitClass};

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot write the {format} image")]
    Image {
        format: &'static str,
        #[source]
        source: crate::image::ImageError,
    },
    #[error("cannot make the dm-verity hash tree of `{}`", .path.display())]
    Verity {
        path: PathBuf,
        #[source]
        source: crate::image::verity::VerityError,
    },
    #[error("`root` mode needs uid 0")]
    RootNeedsRoot,
    #[error("output `{}` has no file name", .0.display())]
    OutputHasNoName(PathBuf),
    #[error("the output's folder `{}` does not exist", .path.display())]
    OutputFolderMissing {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write to the output's folder `{}`", .0.display())]
    OutputFolderReadOnly(PathBuf),
    #[error("output `{}` is inside the cache `{}`", .output.display(), .cache.display())]
    OutputInCache { output: PathBuf, cache: PathBuf },
    #[error("output directory `{}` exists and is not empty", .0.display())]
    OutputNotEmpty(PathBuf),
    #[error("output `{}` exists and is no OCI image layout (no `oci-layout` file)", .0.display())]
    OutputNotLayout(PathBuf),
    #[error("output `{}` is a directory; a {format} needs a file name", .output.display())]
    OutputIsFolder {
        output: PathBuf,
        format: &'static str,
    },
    #[error("output `{}` exists and is {kind}; debroot replaces only a regular file", .output.display())]
    OutputNotRegular { output: PathBuf, kind: &'static str },
    #[error("output `{}` is {what} of this build (`{}`)", .output.display(), .input.display())]
    OutputIsInput {
        output: PathBuf,
        what: String,
        input: PathBuf,
    },
    #[error("no cache directory: HOME is not set")]
    NoCacheDirectory,
    #[error("cannot read keyring `{}`", .path.display())]
    KeyringUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot use keyring `{}`", .path.display())]
    KeyringUnusable {
        path: PathBuf,
        #[source]
        source: crate::repo::signature::KeyringError,
    },
    #[error("--snapshot: {0}")]
    Snapshot(String),
    #[error("snapshot `{0}` is in the future")]
    SnapshotInFuture(String),
    #[error("--snapshot-server: `{0}` is not an http(s) URL")]
    SnapshotServer(String),
    #[error("`{}` does not exist", .0.display())]
    NoLock(PathBuf),
    #[error("`{}` is out of date: {}", .0.display(), .1)]
    LockDoesNotMatch(PathBuf, String),
    #[error("`{}` would change (--locked)", .0.display())]
    LockWouldChange(PathBuf),
    #[error("lockfile names suite `{suite}` for `{package}` but does not list it")]
    LockUnlistedSuite { suite: String, package: String },
    #[error(
        "lockfile takes `{package}` from repository `{repository}`, which the profile does not define"
    )]
    LockUnknownRepository { repository: String, package: String },
    #[error(
        "repository `{repository}` is a snapshot archive (`archive = \"{archive}\"`), but no snapshot is pinned"
    )]
    RepositoryNeedsSnapshot { repository: String, archive: String },
    #[error("`{filename}`: {reason}")]
    LockFilename { filename: String, reason: String },
    #[error("{package}: sha256:{sha256} was not fetched")]
    NotFetched { package: String, sha256: String },
    #[error("{package}: cannot read its build time: {reason}")]
    BuildTime { package: String, reason: String },
    #[error(
        "the lock's epoch {lock} is not the one its packages give ({derived}, the newest build time of its packages)"
    )]
    EpochMismatch { lock: i64, derived: i64 },
    #[error("local package `{}`: {reason}", .path.display())]
    LocalPackage { path: PathBuf, reason: String },
    #[error(
        "local package `{name}` (`{}`) is not the file the lock records (sha256:{sha256})", .path.display()
    )]
    LocalPackageChanged {
        path: PathBuf,
        name: String,
        sha256: String,
    },
    #[error("cannot use the packages handed over by the parent debroot: {0}")]
    HandedOver(String),
}

impl Classify for BuildError {
    fn class(&self) -> ExitClass {
        use BuildError::*;
        match self {
            RootNeedsRoot
            | OutputHasNoName(_)
            | OutputInCache { .. }
            | OutputNotEmpty(_)
            | OutputNotLayout(_)
            | OutputIsFolder { .. }
            | OutputNotRegular { .. }
            | OutputIsInput { .. }
            | NoCacheDirectory
            | KeyringUnreadable { .. }
            | KeyringUnusable { .. }
            | Snapshot(_)
            | SnapshotInFuture(_)
            | SnapshotServer(_)
            | NoLock(_)
            | LockDoesNotMatch(..)
            | LockUnlistedSuite { .. }
            | LockUnknownRepository { .. }
            | RepositoryNeedsSnapshot { .. }
            | LockFilename { .. }
            | LocalPackage { .. } => ExitClass::Usage,
            OutputFolderMissing { .. }
            | OutputFolderReadOnly(_)
            | HandedOver(_)
            | Image { .. }
            | Verity { .. } => ExitClass::Output,
            LockWouldChange(_) => ExitClass::Differs,
            NotFetched { .. } | EpochMismatch { .. } | LocalPackageChanged { .. } => {
                ExitClass::Integrity
            }
            BuildTime { .. } => ExitClass::Archive,
        }
    }

    fn hint(&self) -> Option<String> {
        use BuildError::*;
        let hint = match self {
            RootNeedsRoot => "run as root, or use `--mode unshare` or `--mode extract`",
            OutputNotRegular { .. } => "remove it, or write the output somewhere else",
            OutputNotLayout(_) => {
                "debroot replaces only an empty folder or an OCI image layout; remove it, or write the output somewhere else"
            }
            OutputIsInput { .. } => "write the output somewhere else",
            NoCacheDirectory => "pass --cache-dir DIR",
            KeyringUnreadable { .. } => {
                "set `source.keyring` to an OpenPGP keyring; Debian's is in the debian-archive-keyring package"
            }
            NoLock(_) => "run `debroot lock PROFILE` first",
            LockUnknownRepository { .. } => {
                "fetch with the profile (`debroot fetch PROFILE`), whose `[[source.repository]]` says where the repository is"
            }
            RepositoryNeedsSnapshot { .. } => {
                "pin `source.snapshot` or pass --snapshot, or give the repository a `url`"
            }
            LockDoesNotMatch(..) => {
                "run `debroot lock PROFILE` (with the same --snapshot) to update it"
            }
            LockWouldChange(_) => "run `debroot lock --update PROFILE` and review the change",
            LocalPackage { .. } => {
                "fix the path in `packages.include` (relative to the profile's folder), or put the `.deb` there"
            }
            LocalPackageChanged { .. } => {
                "the file changed during the build; run the build again, which locks the new file"
            }
            EpochMismatch { .. } => {
                "lock again (`debroot lock --update PROFILE`), or set the epoch with SOURCE_DATE_EPOCH or `build.epoch`"
            }
            _ => return None,
        };
        Some(hint.to_owned())
    }
}
