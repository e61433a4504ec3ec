//! The lockfile: everything a build needs to get the same packages again, and nothing that
//! depends on where they come from.
//!
//! # Design goals
//!
//! - **Complete.** A build from a lock reads no index and resolves nothing (`build --frozen`):
//!   every package is named with its version, architecture, suite, pool path, size and SHA256.
//! - **Location-free.** No mirror URL: packages are addressed by SHA256 and pool path, so a
//!   snapshot server, the host's mirror or a local copy can serve them.
//! - **Anchored in time.** Each suite's `InRelease` SHA256 and `Date`, the snapshot time when
//!   pinned, and the epoch (`SOURCE_DATE_EPOCH` of every build from this lock) are recorded;
//!   a repository that serves an older state than the lock records is refused (rollback).
//! - **Same packages, same epoch.** Unless the environment or the profile sets it, the epoch is
//!   the newest build time of the locked packages ([`packages_epoch`]), so two locks of the same
//!   packages build the same bytes whatever the suites' `Date`s or the snapshot time.
//! - **Reviewable.** Sorted, byte-stable TOML, one package per table, with the reason each
//!   package is in, so a lock diff reads as a list of changes.
//!
//! # Format
//!
//! TOML with an `@generated` header; top-level `version`, `profile-digest`, `epoch`,
//! `epoch-from`, optional `snapshot`; `[[suite]]` tables in the profile's suite order;
//! `[[package]]` tables sorted by name then architecture. debroot writes the bytes itself
//! (not through a TOML library's formatter), so the same lock is the same bytes whichever
//! library version built debroot.
//!
//! # Compatibility policy
//!
//! `version = 3` adds `repository = "NAME"` to a package of a `[[source.repository]]` (and a
//! suite's `archive` may then be that name); a lock without one is written as `version = 2`,
//! the same bytes as before. Version 1 differed from 2 only in where the default epoch came from
//! (`epoch-from = "release-date"` or `"snapshot"`: the newest suite `Date` or the snapshot
//! time). A debroot reads every lock version it knows and refuses a newer one with a hint to
//! upgrade. A version 1 lock is used as it is, its epoch included, and written back as version 1
//! until it is resolved again. Unknown keys are errors, never ignored, so a field is only
//! ever added together with a version increase. Within a version the meaning of a field never
//! changes. A debroot that can read an older version may write it back in the newest format
//! only when the lock is rewritten anyway (`lock --update` or a profile change).

use std::fmt::Write as _;

use serde::Deserialize;

use crate::digest::Sha256Digest;
use crate::error::{Classify, ExitClass};
use crate::timestamp::Timestamp;

/// The newest format written and read. A lock is written in the oldest version that holds
/// it: version 3 only when it uses what version 3 added (`repository`), so that a lock of the
/// Debian archive alone stays readable by a debroot that knows version 2.
pub const VERSION: u32 = 3;

/// The version of a lock without extra repositories.
const VERSION_DEBIAN_ONLY: u32 = 2;

/// Where the epoch came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochFrom {
    /// The newest build time of the locked packages ([`packages_epoch`]): the default.
    Packages,
    /// `build.epoch` of the profile.
    Profile,
    /// `SOURCE_DATE_EPOCH` of the environment that wrote the lock.
    Environment,
    /// Version 1 only: the snapshot time of a pinned profile.
    Snapshot,
    /// Version 1 only: the newest `Date` of the suites.
    ReleaseDate,
}

impl EpochFrom {
    /// The value of `epoch-from`, also said by `lock --check` and the build manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            EpochFrom::Packages => "packages",
            EpochFrom::Profile => "profile",
            EpochFrom::Environment => "SOURCE_DATE_EPOCH",
            EpochFrom::Snapshot => "snapshot",
            EpochFrom::ReleaseDate => "release-date",
        }
    }

    /// The sources a lock of `version` may name.
    fn parse(version: u32, text: &str) -> Option<Self> {
        match (version, text) {
            (_, "SOURCE_DATE_EPOCH") => Some(EpochFrom::Environment),
            (1, "snapshot") => Some(EpochFrom::Snapshot),
            (1, "release-date") => Some(EpochFrom::ReleaseDate),
            (2 | 3, "packages") => Some(EpochFrom::Packages),
            (2 | 3, "profile") => Some(EpochFrom::Profile),
            _ => None,
        }
    }
}

/// The suite of a local `.deb` named in `packages.include`: its `filename` is its path relative
/// to the profile's folder, its `size` and `sha256` those of the file. No `[[suite]]` lists it.
pub const LOCAL_SUITE: &str = "local";

/// A suite the lock was resolved from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedSuite {
    pub name: String,
    /// `debian` or `debian-security`, or the name of a `[[source.repository]]`.
    pub archive: String,
    pub date: Timestamp,
    pub inrelease_sha256: Sha256Digest,
}

/// Why a package is in the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// Asked for: `Essential: yes`, `Priority: required`, `include`...
    Requested(String),
    /// Pulled in by another package of the lock.
    RequiredBy { parent: String, via: String },
}

/// A locked package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedPackage {
    pub name: String,
    pub version: String,
    pub architecture: String,
    pub suite: String,
    /// The `[[source.repository]]` it came from; `None`: the Debian archive.
    pub repository: Option<String>,
    pub filename: String,
    pub size: u64,
    pub sha256: Sha256Digest,
    pub essential: bool,
    pub why: Why,
}

impl LockedPackage {
    /// `name` or `name:arch` when the architecture is not `native`.
    pub fn display_name(&self, native: &str) -> String {
        if self.architecture == native || self.architecture == "all" {
            self.name.clone()
        } else {
            format!("{}:{}", self.name, self.architecture)
        }
    }
}

/// A lockfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    /// The format version: [`VERSION`] for a lock resolved by this debroot, 1 for an older lock
    /// read and kept as it is.
    pub version: u32,
    pub profile_digest: Sha256Digest,
    pub epoch: i64,
    pub epoch_from: EpochFrom,
    pub snapshot: Option<Timestamp>,
    pub suites: Vec<LockedSuite>,
    pub packages: Vec<LockedPackage>,
}

/// Why a lockfile cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("lockfile is not valid TOML or not a debroot lock: {0}")]
    Syntax(String),
    #[error("lockfile has version {found}; this debroot reads versions up to {VERSION}")]
    Newer { found: u32 },
    #[error("lockfile value is invalid: {0}")]
    Invalid(String),
}

impl Classify for LockError {
    fn class(&self) -> ExitClass {
        ExitClass::Usage
    }

    fn hint(&self) -> Option<String> {
        match self {
            LockError::Newer { .. } => Some(
                "upgrade debroot, or lock again with this one (`debroot lock --update`)".into(),
            ),
            _ => Some("lock again with `debroot lock --update PROFILE`".into()),
        }
    }
}

/// TOML basic string with the escapes TOML requires.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Lock {
    /// A lock like `self` without packages or suites: what "no lock" compares as.
    pub fn empty_like(&self) -> Lock {
        Lock {
            suites: Vec::new(),
            packages: Vec::new(),
            ..self.clone()
        }
    }

    /// Sorts packages by name then architecture (the canonical order).
    pub fn sort(&mut self) {
        self.packages
            .sort_by(|a, b| (&a.name, &a.architecture).cmp(&(&b.name, &b.architecture)));
    }

    /// The canonical bytes.
    pub fn to_toml(&self, profile_name: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# This file is @generated by debroot from {}. Do not edit it by hand:",
            quote(profile_name)
        );
        out.push_str(
            "# `debroot lock --update` rewrites it; `debroot why` explains each package.\n",
        );
        let _ = writeln!(out, "version = {}", self.version);
        let _ = writeln!(
            out,
            "profile-digest = {}",
            quote(&format!("sha256:{}", self.profile_digest))
        );
        let _ = writeln!(out, "epoch = {}", self.epoch);
        let _ = writeln!(out, "epoch-from = {}", quote(self.epoch_from.as_str()));
        if let Some(snapshot) = self.snapshot {
            let _ = writeln!(out, "snapshot = {}", quote(&snapshot.snapshot_form()));
        }
        for suite in &self.suites {
            out.push_str("\n[[suite]]\n");
            let _ = writeln!(out, "name = {}", quote(&suite.name));
            let _ = writeln!(out, "archive = {}", quote(&suite.archive));
            let _ = writeln!(out, "date = {}", quote(&suite.date.rfc3339()));
            let _ = writeln!(
                out,
                "inrelease-sha256 = {}",
                quote(&suite.inrelease_sha256.hex())
            );
        }
        for package in &self.packages {
            out.push_str("\n[[package]]\n");
            let _ = writeln!(out, "name = {}", quote(&package.name));
            let _ = writeln!(out, "version = {}", quote(&package.version));
            let _ = writeln!(out, "architecture = {}", quote(&package.architecture));
            let _ = writeln!(out, "suite = {}", quote(&package.suite));
            if let Some(repository) = &package.repository {
                let _ = writeln!(out, "repository = {}", quote(repository));
            }
            let _ = writeln!(out, "filename = {}", quote(&package.filename));
            let _ = writeln!(out, "size = {}", package.size);
            let _ = writeln!(out, "sha256 = {}", quote(&package.sha256.hex()));
            let _ = writeln!(out, "essential = {}", package.essential);
            match &package.why {
                Why::Requested(what) => {
                    let _ = writeln!(out, "requested = {}", quote(what));
                }
                Why::RequiredBy { parent, via } => {
                    let _ = writeln!(out, "required-by = {}", quote(parent));
                    let _ = writeln!(out, "via = {}", quote(via));
                }
            }
        }
        out
    }

    /// Parses a lockfile.
    pub fn parse(text: &str) -> Result<Self, LockError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        struct RawLock {
            version: u32,
            profile_digest: String,
            epoch: i64,
            epoch_from: String,
            snapshot: Option<String>,
            #[serde(default)]
            suite: Vec<RawSuite>,
            #[serde(default)]
            package: Vec<RawPackage>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        struct RawSuite {
            name: String,
            archive: String,
            date: String,
            inrelease_sha256: String,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        struct RawPackage {
            name: String,
            version: String,
            architecture: String,
            suite: String,
            repository: Option<String>,
            filename: String,
            size: u64,
            sha256: String,
            essential: bool,
            requested: Option<String>,
            required_by: Option<String>,
            via: Option<String>,
        }
        // Read the version first, so a newer lock is refused for being newer, not for its keys.
        if let Ok(table) = text.parse::<toml::Table>()
            && let Some(version) = table.get("version").and_then(toml::Value::as_integer)
            && version > i64::from(VERSION)
        {
            return Err(LockError::Newer {
                found: u32::try_from(version).unwrap_or(u32::MAX),
            });
        }
        let raw: RawLock = toml::from_str(text).map_err(|e| LockError::Syntax(e.to_string()))?;
        if !(1..=VERSION).contains(&raw.version) {
            return Err(LockError::Invalid(format!(
                "unknown version {}",
                raw.version
            )));
        }
        let digest =
            |text: &str| Sha256Digest::parse(text).map_err(|e| LockError::Invalid(e.to_string()));
        let profile_digest =
            digest(raw.profile_digest.strip_prefix("sha256:").ok_or_else(|| {
                LockError::Invalid("`profile-digest` must start with `sha256:`".into())
            })?)?;
        let epoch_from = EpochFrom::parse(raw.version, &raw.epoch_from).ok_or_else(|| {
            LockError::Invalid(format!(
                "unknown `epoch-from` `{}` in a version {} lock",
                raw.epoch_from, raw.version
            ))
        })?;
        let snapshot = raw
            .snapshot
            .map(|s| Timestamp::parse_snapshot(&s).map_err(|e| LockError::Invalid(e.to_string())))
            .transpose()?;
        let suites = raw
            .suite
            .into_iter()
            .map(|s| {
                Ok(LockedSuite {
                    date: parse_rfc3339(&s.date)?,
                    inrelease_sha256: digest(&s.inrelease_sha256)?,
                    name: s.name,
                    archive: s.archive,
                })
            })
            .collect::<Result<Vec<_>, LockError>>()?;
        let packages = raw
            .package
            .into_iter()
            .map(|p| {
                let why = match (p.requested, p.required_by, p.via) {
                    (Some(what), None, None) => Why::Requested(what),
                    (None, Some(parent), Some(via)) => Why::RequiredBy { parent, via },
                    _ => {
                        return Err(LockError::Invalid(format!(
                            "package `{}` needs either `requested` or `required-by` with `via`",
                            p.name
                        )));
                    }
                };
                crate::debian::PackageName::parse(&p.name)
                    .map_err(|e| LockError::Invalid(e.to_string()))?;
                crate::debian::Version::parse(&p.version)
                    .map_err(|e| LockError::Invalid(e.to_string()))?;
                let unsafe_name = if p.suite == LOCAL_SUITE {
                    // A path relative to the profile's folder, as the profile names it.
                    !(p.filename.starts_with("./") || p.filename.starts_with("../"))
                        || !p.filename.ends_with(".deb")
                        || p.filename.chars().any(char::is_control)
                } else {
                    p.filename.starts_with('/')
                        || p.filename.split('/').any(|c| c == ".." || c.is_empty())
                };
                if unsafe_name {
                    return Err(LockError::Invalid(format!(
                        "unsafe filename `{}`",
                        p.filename
                    )));
                }
                if p.repository.is_some() && raw.version < 3 {
                    return Err(LockError::Invalid(format!(
                        "package `{}` names a `repository`, which a version {} lock cannot hold",
                        p.name, raw.version
                    )));
                }
                Ok(LockedPackage {
                    sha256: digest(&p.sha256)?,
                    name: p.name,
                    version: p.version,
                    architecture: p.architecture,
                    suite: p.suite,
                    repository: p.repository,
                    filename: p.filename,
                    size: p.size,
                    essential: p.essential,
                    why,
                })
            })
            .collect::<Result<Vec<_>, LockError>>()?;
        Ok(Lock {
            version: raw.version,
            profile_digest,
            epoch: raw.epoch,
            epoch_from,
            snapshot,
            suites,
            packages,
        })
    }

    /// Whether `other` locks the same packages: the same names, architectures, versions and
    /// SHA256s, whatever the suites, the reasons or the epoch.
    pub fn same_packages(&self, other: &Lock) -> bool {
        fn key(p: &LockedPackage) -> (&str, &str, &str, Sha256Digest) {
            (&p.name, &p.architecture, &p.version, p.sha256)
        }
        self.packages.len() == other.packages.len()
            && self
                .packages
                .iter()
                .map(key)
                .eq(other.packages.iter().map(key))
    }

    /// The digest of the lock's bytes (recorded in build manifests).
    pub fn digest(&self, profile_name: &str) -> Sha256Digest {
        Sha256Digest::of(self.to_toml(profile_name).as_bytes())
    }
}

/// `2026-11-21T09:15:44Z`.
fn parse_rfc3339(text: &str) -> Result<Timestamp, LockError> {
    let compact: String = text.chars().filter(|c| *c != '-' && *c != ':').collect();
    Timestamp::parse_snapshot(&compact)
        .map_err(|_| LockError::Invalid(format!("invalid date `{text}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Lock {
        Lock {
            version: VERSION_DEBIAN_ONLY,
            profile_digest: Sha256Digest::of(b"profile"),
            epoch: 1_763_716_544,
            epoch_from: EpochFrom::Packages,
            snapshot: None,
            suites: vec![LockedSuite {
                name: "trixie".into(),
                archive: "debian".into(),
                date: Timestamp(1_763_716_544),
                inrelease_sha256: Sha256Digest::of(b"inrelease"),
            }],
            packages: vec![
                LockedPackage {
                    name: "libc6".into(),
                    version: "2.41-12".into(),
                    architecture: "amd64".into(),
                    suite: "trixie".into(),
                    repository: None,
                    filename: "pool/main/g/glibc/libc6_2.41-12_amd64.deb".into(),
                    size: 2_800_000,
                    sha256: Sha256Digest::of(b"libc6"),
                    essential: false,
                    why: Why::RequiredBy {
                        parent: "base-files".into(),
                        via: "Pre-Depends: libc6 (>= 2.34) | \"x\"".into(),
                    },
                },
                LockedPackage {
                    name: "base-files".into(),
                    version: "13.8".into(),
                    architecture: "amd64".into(),
                    suite: "trixie".into(),
                    repository: None,
                    filename: "pool/main/b/base-files/base-files_13.8_amd64.deb".into(),
                    size: 70_000,
                    sha256: Sha256Digest::of(b"base-files"),
                    essential: true,
                    why: Why::Requested("Essential: yes".into()),
                },
            ],
        }
    }

    #[test]
    fn a_local_package_is_named_relative_to_the_profile() {
        let mut lock = sample();
        lock.packages[0].suite = LOCAL_SUITE.into();
        for (filename, valid) in [
            ("./vendor/app_1.0_amd64.deb", true),
            ("../debs/app.deb", true),
            ("/opt/app.deb", false),
            ("./vendor/app.tar", false),
            ("pool/main/a/app.deb", false),
        ] {
            lock.packages[0].filename = filename.into();
            let parsed = Lock::parse(&lock.to_toml("p.toml"));
            assert_eq!(parsed.is_ok(), valid, "{filename}: {parsed:?}");
        }
        // A repository package may not leave the archive.
        lock.packages[0].suite = "trixie".into();
        lock.packages[0].filename = "../debs/app.deb".into();
        assert!(Lock::parse(&lock.to_toml("p.toml")).is_err());
    }

    #[test]
    fn round_trips_byte_for_byte() {
        let mut lock = sample();
        lock.sort();
        assert_eq!(lock.packages[0].name, "base-files");
        let text = lock.to_toml("minbase.toml");
        assert!(text.starts_with("# This file is @generated by debroot"));
        let parsed = Lock::parse(&text).unwrap();
        assert_eq!(parsed, lock);
        assert_eq!(parsed.to_toml("minbase.toml"), text);
        assert!(!text.contains("http"), "no URL in a lock");
    }

    #[test]
    fn a_version_1_lock_is_read_and_kept_as_it_is() {
        let text = sample()
            .to_toml("p.toml")
            .replace("version = 2\n", "version = 1\n")
            .replace("epoch-from = \"packages\"", "epoch-from = \"release-date\"");
        let lock = Lock::parse(&text).unwrap();
        assert_eq!((lock.version, lock.epoch_from), (1, EpochFrom::ReleaseDate));
        assert_eq!(lock.to_toml("p.toml"), text, "written back as it was read");
        // Each version names only its own sources.
        let mixed = text.replace("release-date", "packages");
        assert!(matches!(Lock::parse(&mixed), Err(LockError::Invalid(_))));
        let mixed = sample()
            .to_toml("p.toml")
            .replace("epoch-from = \"packages\"", "epoch-from = \"snapshot\"");
        assert!(matches!(Lock::parse(&mixed), Err(LockError::Invalid(_))));
    }

    #[test]
    fn the_epoch_of_packages_is_the_newest_build_time() {
        assert_eq!(packages_epoch([Some(5), None, Some(9), Some(-4)]), 9);
        assert_eq!(packages_epoch([None, Some(-1)]), 0);
        assert_eq!(packages_epoch(std::iter::empty()), 0);
        assert_eq!(
            epoch_source(Some(1), Some(2)),
            (Some(1), EpochFrom::Environment)
        );
        assert_eq!(epoch_source(None, Some(2)), (Some(2), EpochFrom::Profile));
        assert_eq!(epoch_source(None, None), (None, EpochFrom::Packages));
    }

    #[test]
    fn same_packages_ignores_suites_reasons_and_epoch() {
        let a = sample();
        let mut b = sample();
        b.epoch += 1;
        b.suites[0].date = Timestamp(1);
        b.packages[0].why = Why::Requested("packages.include".into());
        assert!(a.same_packages(&b));
        b.packages[1].sha256 = Sha256Digest::of(b"other bytes");
        assert!(!a.same_packages(&b));
        b.packages.pop();
        assert!(!a.same_packages(&b));
    }

    #[test]
    fn refuses_newer_versions_unknown_keys_and_unsafe_paths() {
        let text = sample().to_toml("p.toml");
        let newer = text.replace("version = 2\n", "version = 4\n");
        assert!(matches!(
            Lock::parse(&newer),
            Err(LockError::Newer { found: 4 })
        ));
        // `repository` is a version 3 field.
        let with_repository = text.replace(
            "suite = \"trixie\"\n",
            "suite = \"trixie\"\nrepository = \"vendor\"\n",
        );
        assert!(matches!(
            Lock::parse(&with_repository),
            Err(LockError::Invalid(_))
        ));
        let v3 = with_repository.replace("version = 2\n", "version = 3\n");
        let parsed = Lock::parse(&v3).unwrap();
        assert_eq!(parsed.packages[0].repository.as_deref(), Some("vendor"));
        assert_eq!(parsed.to_toml("p.toml"), v3);
        let unknown = text.replace("essential = true\n", "essential = true\nmirror = \"x\"\n");
        assert!(matches!(Lock::parse(&unknown), Err(LockError::Syntax(_))));
        let unsafe_path = text.replace("pool/main/b/base-files/", "../../");
        assert!(matches!(
            Lock::parse(&unsafe_path),
            Err(LockError::Invalid(_))
        ));
    }
}

/// Builds the lock of a resolution.
pub fn from_resolution(
    universe: &crate::resolve::Universe,
    resolution: &crate::resolve::Resolution,
    anchor: Anchor,
) -> Lock {
    use crate::resolve::Reason;
    let native = universe.native().clone();
    let display = |key: &crate::resolve::Key| {
        if key.1 == native {
            key.0.to_string()
        } else {
            format!("{}:{}", key.0, key.1)
        }
    };
    let packages = resolution
        .packages
        .iter()
        .map(|selected| {
            let entry = universe.entry(selected.entry);
            let record = &entry.record;
            let why = match &selected.reason {
                Reason::Essential => Why::Requested("Essential: yes".into()),
                Reason::Priority(priority) => Why::Requested(format!("Priority: {priority}")),
                Reason::Variant(variant) => Why::Requested(format!("variant: {variant}")),
                // A local `.deb` says which file (the place in the profile would tie the lock
                // to the checkout's folder).
                Reason::Include(_) if entry.suite == LOCAL_SUITE => {
                    Why::Requested(format!("packages.include: {}", record.filename))
                }
                Reason::Include(_) => Why::Requested("packages.include".into()),
                Reason::Dependency {
                    parent,
                    field,
                    relation,
                } => Why::RequiredBy {
                    parent: display(parent),
                    via: format!("{field}: {relation}"),
                },
            };
            LockedPackage {
                name: record.name.to_string(),
                version: record.version.to_string(),
                architecture: record.architecture.to_string(),
                suite: entry.suite.clone(),
                repository: entry.repository.clone(),
                filename: record.filename.to_string(),
                size: record.size,
                sha256: record.sha256,
                essential: record.essential,
                why,
            }
        })
        .collect();
    let packages: Vec<LockedPackage> = packages;
    let extra = packages.iter().any(|p| p.repository.is_some())
        || anchor
            .suites
            .iter()
            .any(|s| s.archive != "debian" && s.archive != "debian-security");
    let mut lock = Lock {
        version: if extra { VERSION } else { VERSION_DEBIAN_ONLY },
        profile_digest: anchor.profile_digest,
        epoch: anchor.epoch,
        epoch_from: anchor.epoch_from,
        snapshot: anchor.snapshot,
        suites: anchor.suites,
        packages,
    };
    lock.sort();
    lock
}

/// What anchors a lock besides its packages.
#[derive(Debug, Clone)]
pub struct Anchor {
    pub profile_digest: Sha256Digest,
    pub epoch: i64,
    pub epoch_from: EpochFrom,
    pub snapshot: Option<Timestamp>,
    pub suites: Vec<LockedSuite>,
}

/// Where a new lock's epoch comes from: `SOURCE_DATE_EPOCH` when set, else the profile's
/// `build.epoch`, else the packages ([`packages_epoch`], known once they are fetched). Never
/// the clock, the suites' `Date`s or the snapshot time: suites are re-signed every day whether
/// or not a package changed, and two snapshots may hold the same packages.
pub fn epoch_source(environment: Option<i64>, profile: Option<i64>) -> (Option<i64>, EpochFrom) {
    match (environment, profile) {
        (Some(epoch), _) => (Some(epoch), EpochFrom::Environment),
        (None, Some(epoch)) => (Some(epoch), EpochFrom::Profile),
        (None, None) => (None, EpochFrom::Packages),
    }
}

/// The epoch of a package set: the newest build time of its packages (the mtime of each
/// `.deb`'s `control.tar` ar member, which dpkg-deb sets to the package's `SOURCE_DATE_EPOCH`,
/// the date of its changelog entry). Unknown or negative times count as 0; an empty set is 0.
/// This rule is part of every output's identity: it must never change.
pub fn packages_epoch(build_times: impl IntoIterator<Item = Option<i64>>) -> i64 {
    build_times
        .into_iter()
        .map(|time| time.unwrap_or(0).max(0))
        .max()
        .unwrap_or(0)
}

/// A repository state older than the lock records: a rollback (docs/THREATS.md A4).
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "repository state older than locked for `{suite}`: the mirror serves a Release of {served}, the lock records {locked}"
)]
pub struct RollbackError {
    pub suite: String,
    pub served: Timestamp,
    pub locked: Timestamp,
}

impl Classify for RollbackError {
    fn class(&self) -> ExitClass {
        ExitClass::Trust
    }

    fn hint(&self) -> Option<String> {
        Some(
            "the mirror is stale or replays an old state; use another mirror or pin a snapshot"
                .into(),
        )
    }
}

/// Refuses suites older than the lock records (same suite name).
pub fn check_rollback(locked: &[LockedSuite], served: &[LockedSuite]) -> Result<(), RollbackError> {
    for suite in served {
        if let Some(old) = locked
            .iter()
            .find(|l| l.name == suite.name && l.archive == suite.archive)
            && suite.date < old.date
        {
            return Err(RollbackError {
                suite: suite.name.clone(),
                served: suite.date,
                locked: old.date,
            });
        }
    }
    Ok(())
}
