//! Profiles: the TOML files that say what to build (DESIGN §2).
//!
//! This module owns the schema, `extends` merging and the validation of every value. It is pure:
//! files are read through the reader the caller passes in, so the rules here can be tested with
//! in-memory files, and the clock arrives as a value.
//!
//! Rules:
//! - Every table has `deny_unknown_fields`: a misspelt key is an error, never ignored.
//! - `extends = "base.toml"` names another profile, relative to the folder of the file that says
//!   it. The base is loaded first; the extending file's lists are appended to the base's (an entry
//!   already present is not repeated) and its scalars replace the base's. Cycles and chains deeper
//!   than [`MAX_EXTENDS_DEPTH`] are errors.
//! - Paths (`keyring`, `hooks`, `extends`, local `.deb`s in `include`) are relative to the
//!   folder of the file that sets them.
//! - An `include` entry that starts with `./`, `../` or `/` is a local `.deb` file
//!   ([`Packages::local`]), not a package name; it must end in `.deb`.
//! - Every error names `file:line:column` and the key path (`source.suite`), and exits 2. A
//!   file's errors are reported together, in file order (a TOML syntax error stops the file at
//!   the first); an unknown key names the closest known one ("did you mean `include`?").

use std::fmt;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::debian::{Architecture, PackageName, Version};
use crate::error::{Classify, ExitClass};
use crate::timestamp::Timestamp;

/// Profiles larger than this are refused before parsing (a profile is a few hundred bytes).
pub const MAX_PROFILE_BYTES: u64 = 1 << 20;
/// Longest `extends` chain.
pub const MAX_EXTENDS_DEPTH: usize = 16;
/// Debian's archive keyring, the default `source.keyring`.
pub const DEFAULT_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// Where a value was written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// A value with the place it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub at: Location,
}

/// Everything that can be wrong with a profile. All are usage errors (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read profile `{}`", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("profile `{}` is larger than {limit} bytes", .path.display())]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("{at}: profile is not valid UTF-8")]
    NotUtf8 { at: Location },
    #[error("{at}: {message}")]
    Syntax { at: Location, message: String },
    #[error("{at}: `{key}`: {message}")]
    Invalid {
        at: Location,
        key: String,
        message: String,
    },
    #[error("{at}: `extends`: cycle {}", chain_text(.chain))]
    Cycle { at: Location, chain: Vec<PathBuf> },
    #[error("{at}: `extends`: chain is deeper than {MAX_EXTENDS_DEPTH} profiles")]
    TooDeep { at: Location },
    #[error("`{}`: `{key}` is required and no profile in the chain sets it", .path.display())]
    Missing { path: PathBuf, key: &'static str },
    /// Every error of one file, in file order (more than one).
    #[error("{} errors in profile `{}`:{}", .errors.len(), .path.display(), list_text(.errors))]
    Many {
        path: PathBuf,
        errors: Vec<ProfileError>,
    },
}

fn list_text(errors: &[ProfileError]) -> String {
    errors.iter().map(|e| format!("\n  {e}")).collect()
}

impl ProfileError {
    /// `errors` of the file `path` as one error: the error itself when there is one.
    fn all(path: PathBuf, mut errors: Vec<ProfileError>) -> ProfileError {
        if errors.len() == 1 {
            errors.remove(0)
        } else {
            ProfileError::Many { path, errors }
        }
    }

    /// Where the error is, when it is at one place of a file.
    pub fn location(&self) -> Option<&Location> {
        match self {
            ProfileError::NotUtf8 { at }
            | ProfileError::Syntax { at, .. }
            | ProfileError::Invalid { at, .. }
            | ProfileError::Cycle { at, .. }
            | ProfileError::TooDeep { at } => Some(at),
            _ => None,
        }
    }
}

fn chain_text(chain: &[PathBuf]) -> String {
    chain
        .iter()
        .map(|p| format!("`{}`", p.display()))
        .collect::<Vec<_>>()
        .join(" -> ")
}

impl Classify for ProfileError {
    fn class(&self) -> ExitClass {
        ExitClass::Usage
    }

    fn hint(&self) -> Option<String> {
        match self {
            ProfileError::Missing { key, .. } => Some(format!(
                "set `{key}` in the profile (see profiles/minbase.toml for a commented example)"
            )),
            ProfileError::Read { .. } => Some(format!(
                "give the path of a profile file, or the name of a built-in profile ({}; `debroot profile list`)",
                crate::builtin::names().collect::<Vec<_>>().join(", ")
            )),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The schema as written in one file. Every leaf is spanned so errors can point at it.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawProfile {
    extends: Option<Spanned<String>>,
    source: Option<RawSource>,
    packages: Option<RawPackages>,
    build: Option<RawBuild>,
    output: Option<RawOutput>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawSource {
    suite: Option<Spanned<String>>,
    updates: Option<Spanned<bool>>,
    components: Option<Vec<Spanned<String>>>,
    architectures: Option<Vec<Spanned<String>>>,
    mirror: Option<Spanned<String>>,
    snapshot: Option<Spanned<String>>,
    keyring: Option<Spanned<String>>,
    backports: Option<Spanned<bool>>,
    repository: Option<Vec<RawRepository>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawRepository {
    name: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    archive: Option<Spanned<String>>,
    suites: Option<Spanned<Vec<Spanned<String>>>>,
    components: Option<Vec<Spanned<String>>>,
    keyring: Option<Spanned<String>>,
    priority: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawPackages {
    variant: Option<Spanned<String>>,
    include: Option<Vec<Spanned<String>>>,
    exclude: Option<Vec<Spanned<String>>>,
    recommends: Option<Spanned<bool>>,
    #[serde(rename = "path-exclude")]
    path_exclude: Option<Vec<Spanned<String>>>,
    #[serde(rename = "path-include")]
    path_include: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawBuild {
    mode: Option<Spanned<String>>,
    hooks: Option<Vec<Spanned<String>>>,
    hostname: Option<Spanned<String>>,
    #[serde(rename = "hook-timeout")]
    hook_timeout: Option<Spanned<i64>>,
    epoch: Option<Spanned<i64>>,
    #[serde(rename = "pass-env")]
    pass_env: Option<Vec<Spanned<String>>>,
    // Keys as plain strings: a spanned key would hide the key from the error path
    // (`build.env.?`); an invalid name is located at its value, on the same line.
    env: Option<std::collections::BTreeMap<String, Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawOutput {
    format: Option<Spanned<String>>,
    verity: Option<bool>,
    compression: Option<Spanned<String>>,
    sbom: Option<Vec<Spanned<String>>>,
}

// ---------------------------------------------------------------------------------------------
// Typed values.

/// The mmdebstrap variants: which packages make the base set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Variant {
    /// Only the packages of `include`, unpacked without scripts.
    Extract,
    /// Only the packages of `include`, installed.
    Custom,
    /// Packages with `Essential: yes`.
    Essential,
    /// `essential` plus apt.
    Apt,
    /// `essential` plus `Priority: required` (mmdebstrap's `required`).
    Minbase,
    /// `minbase` plus build-essential.
    Buildd,
    /// `minbase` plus `Priority: important` (mmdebstrap's `debootstrap`).
    Important,
    /// `important` plus `Priority: standard`.
    Standard,
}

impl Variant {
    const NAMES: &[(&str, Variant)] = &[
        ("extract", Variant::Extract),
        ("custom", Variant::Custom),
        ("essential", Variant::Essential),
        ("apt", Variant::Apt),
        ("minbase", Variant::Minbase),
        ("required", Variant::Minbase),
        ("buildd", Variant::Buildd),
        ("important", Variant::Important),
        ("debootstrap", Variant::Important),
        ("standard", Variant::Standard),
    ];

    pub fn as_str(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, v)| *v == self)
            .map_or("minbase", |(name, _)| name)
    }

    fn parse(text: &str) -> Option<Variant> {
        Self::NAMES
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, v)| *v)
    }
}

/// How a build runs maintainer scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mode {
    /// `root` when running as uid 0, else `unshare`.
    Auto,
    Root,
    Unshare,
    /// No scripts, no privilege: the unpacked files only.
    Extract,
}

impl Mode {
    const NAMES: &[(&str, Mode)] = &[
        ("auto", Mode::Auto),
        ("root", Mode::Root),
        ("unshare", Mode::Unshare),
        ("extract", Mode::Extract),
    ];

    pub fn as_str(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("auto", |(name, _)| name)
    }

    pub fn parse(text: &str) -> Option<Mode> {
        Self::NAMES
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, m)| *m)
    }
}

/// What a build writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OutputFormat {
    Dir,
    Tar,
    TarGz,
    TarXz,
    TarZst,
    /// Nothing but the manifest (mmdebstrap's `null`): the build runs, and the manifest records
    /// the digest of the tarball it would have written.
    Null,
    /// Filesystem images, written by debroot itself ([`crate::image`]).
    Squashfs,
    Erofs,
    Ext4,
    /// An OCI image layout folder (`index.json`, `oci-layout`, `blobs/sha256/`) holding one
    /// image of one layer ([`crate::output::oci`]).
    Oci,
    /// The same layout as a tar archive (`.oci.tar`, skopeo's `oci-archive:`).
    OciArchive,
    /// A bootable A/B disk image (`.img`, `.raw`): GPT, ESP with systemd-boot and a UKI, root
    /// slot A (squashfs and its dm-verity partition), empty slot B ([`crate::image::disk`]).
    Disk,
}

impl OutputFormat {
    pub const NAMES: &[(&str, OutputFormat)] = &[
        ("dir", OutputFormat::Dir),
        ("tar", OutputFormat::Tar),
        ("tar.gz", OutputFormat::TarGz),
        ("tar.xz", OutputFormat::TarXz),
        ("tar.zst", OutputFormat::TarZst),
        ("null", OutputFormat::Null),
        ("squashfs", OutputFormat::Squashfs),
        ("erofs", OutputFormat::Erofs),
        ("ext4", OutputFormat::Ext4),
        ("oci", OutputFormat::Oci),
        ("oci-archive", OutputFormat::OciArchive),
        ("disk", OutputFormat::Disk),
    ];

    /// An OCI image, as a layout folder or its archive.
    pub fn is_oci(self) -> bool {
        matches!(self, OutputFormat::Oci | OutputFormat::OciArchive)
    }

    /// A filesystem image (which can carry a dm-verity hash tree).
    pub fn is_image(self) -> bool {
        matches!(
            self,
            OutputFormat::Squashfs | OutputFormat::Erofs | OutputFormat::Ext4
        )
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("dir", |(name, _)| name)
    }

    pub fn parse(text: &str) -> Option<OutputFormat> {
        Self::NAMES
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, f)| *f)
    }
}

/// `output.compression`: how an OCI image's layer is compressed (with the fixed settings of
/// `.tar.gz` and `.tar.zst`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LayerCompression {
    #[default]
    Gzip,
    Zstd,
}

impl LayerCompression {
    pub const NAMES: &[(&str, LayerCompression)] = &[
        ("gzip", LayerCompression::Gzip),
        ("zstd", LayerCompression::Zstd),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LayerCompression::Gzip => "gzip",
            LayerCompression::Zstd => "zstd",
        }
    }

    /// The tarball format whose encoder compresses the layer.
    pub fn tarball(self) -> OutputFormat {
        match self {
            LayerCompression::Gzip => OutputFormat::TarGz,
            LayerCompression::Zstd => OutputFormat::TarZst,
        }
    }
}

/// `source.mirror`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mirror {
    /// The first Debian archive URI of the host's apt sources.
    Host,
    /// An `http`, `https` or `file` URL.
    Url(url::Url),
}

/// A package named in `include`: `name`, `name:arch`, `name=version` or `name/suite`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageSpec {
    pub name: PackageName,
    pub arch: Option<Architecture>,
    pub version: Option<Version>,
    /// `name/suite`: the version of that suite, as `apt install name/suite` picks it.
    pub suite: Option<String>,
}

impl fmt::Display for PackageSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)?;
        if let Some(arch) = &self.arch {
            write!(f, ":{arch}")?;
        }
        if let Some(version) = &self.version {
            write!(f, "={version}")?;
        }
        if let Some(suite) = &self.suite {
            write!(f, "/{suite}")?;
        }
        Ok(())
    }
}

impl PackageSpec {
    pub fn parse(text: &str) -> Result<Self, String> {
        // A relation (`libc6 (>= 2.36)`, `a | b`) is the mistake worth naming: it would
        // otherwise read as a name ending in ` (>` and a version ` 2.36)`.
        let relation = text.contains(['|', ','])
            || text
                .split('(')
                .skip(1)
                .any(|after| after.trim_start().starts_with(['<', '>', '=']));
        if relation {
            return Err(format!(
                "`{}` is not a package: write `NAME`, `NAME:ARCH`, `NAME=VERSION` (an exact version; relations such as `(>= 1.0)` are not accepted here) or `NAME/SUITE`",
                text.escape_debug()
            ));
        }
        let (text, suite) = match text.split_once('/') {
            Some((_, suite)) if text.contains('=') => {
                return Err(format!(
                    "`{}` names both a version and a suite `{suite}`: write one of them",
                    text.escape_debug()
                ));
            }
            Some((rest, suite)) if is_debian_word(suite) => (rest, Some(suite.to_owned())),
            // Not `name/suite`: the name check below says what is wrong.
            Some(_) | None => (text, None),
        };
        let (rest, version) = match text.split_once('=') {
            Some((rest, version)) => (
                rest,
                Some(Version::parse(version).map_err(|e| e.to_string())?),
            ),
            None => (text, None),
        };
        let (name, arch) = match rest.split_once(':') {
            Some((name, arch)) => (
                name,
                Some(Architecture::parse(arch).map_err(|e| e.to_string())?),
            ),
            None => (rest, None),
        };
        let name = PackageName::parse(name).map_err(|e| e.to_string())?;
        Ok(PackageSpec {
            name,
            arch,
            version,
            suite,
        })
    }
}

/// `[source]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub suite: String,
    pub updates: bool,
    pub components: Vec<String>,
    /// Never empty; the first is the native architecture.
    pub architectures: Vec<Architecture>,
    pub mirror: Option<Mirror>,
    pub snapshot: Option<Timestamp>,
    pub keyring: PathBuf,
    /// `source.backports`: Debian's `SUITE-backports` too, at its own priority (100).
    pub backports: bool,
    /// `[[source.repository]]`: more repositories, each trusted with its own keyring only.
    pub repositories: Vec<Repository>,
}

/// Where a `[[source.repository]]` is served from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepositoryLocation {
    /// `url = "..."`: the repository's own URL (`http`, `https` or `file`).
    Url(url::Url),
    /// `archive = "NAME"`: an archive of the snapshot server (`ARCHIVE/NAME/TIME/`), at the
    /// profile's snapshot.
    Archive(String),
}

/// A `[[source.repository]]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// The repository's identity in the lock (`repository = "NAME"`).
    pub name: String,
    pub location: RepositoryLocation,
    pub suites: Vec<String>,
    pub components: Vec<String>,
    /// The only keys trusted for this repository (apt's `Signed-By`).
    pub keyring: PathBuf,
    /// apt's pin priority of every suite of the repository; `None`: from its `Release`
    /// (500, or 100/1 for `NotAutomatic`).
    pub priority: Option<i32>,
    pub at: Location,
}

/// Suites that never have `-updates` or `-security` suites (mmdebstrap's rule): Debian's
/// unstable gets its fixes by new uploads, experimental is not a release.
pub const WITHOUT_UPDATES: [&str; 4] = ["unstable", "sid", "experimental", "rc-buggy"];

/// Whether `updates = true` adds SUITE-updates and SUITE-security to `suite`.
pub fn has_updates(suite: &str) -> bool {
    !WITHOUT_UPDATES.contains(&suite)
}

/// Names a repository cannot take: the Debian archives' and local packages'.
pub const RESERVED_REPOSITORY_NAMES: &[&str] = &["debian", "debian-security", "local"];

impl Source {
    /// The suites of the Debian archive this source reads: SUITE, with `updates`
    /// SUITE-updates and SUITE-security, with `backports` SUITE-backports.
    pub fn debian_suites(&self) -> Vec<String> {
        let mut suites = vec![self.suite.clone()];
        if self.updates && has_updates(&self.suite) {
            suites.push(format!("{}-updates", self.suite));
            suites.push(format!("{}-security", self.suite));
        }
        if self.backports {
            suites.push(format!("{}-backports", self.suite));
        }
        suites
    }

    pub fn native_architecture(&self) -> &Architecture {
        // `load` refuses an empty list.
        &self.architectures[0]
    }
}

/// `[packages]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packages {
    pub variant: Variant,
    pub include: Vec<Located<PackageSpec>>,
    /// Local `.deb` files named in `include` (`./vendor/app_1.2_amd64.deb`): absolute,
    /// normalized paths, in the order written (the base's first).
    pub local: Vec<Located<PathBuf>>,
    pub exclude: Vec<Located<PackageName>>,
    pub recommends: bool,
    /// `path-exclude`: dpkg `--path-exclude` patterns, base profile first.
    pub path_exclude: Vec<Located<String>>,
    /// `path-include`: dpkg `--path-include` patterns, base profile first.
    pub path_include: Vec<Located<String>>,
}

impl Packages {
    /// The path filters in the order they apply: every exclude, then every include.
    pub fn path_filter(&self) -> crate::pathfilter::PathFilter {
        crate::pathfilter::PathFilter::new(
            self.path_exclude.iter().map(|p| p.value.clone()),
            self.path_include.iter().map(|p| p.value.clone()),
        )
    }
}

/// `[build]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub mode: Mode,
    pub hooks: Vec<PathBuf>,
    pub hostname: Option<String>,
    /// How long one hook may run, in seconds.
    pub hook_timeout: u64,
    /// `build.epoch`: the epoch of every build, instead of the one the packages give.
    pub epoch: Option<i64>,
    /// Host environment variables hooks may see, by name.
    pub pass_env: Vec<String>,
    /// Settings handed to hooks as environment variables (`KIOSK_URL = "..."`).
    pub env: std::collections::BTreeMap<String, String>,
}

/// The latest `build.epoch`: 9999-12-31T23:59:59Z, as `SOURCE_DATE_EPOCH` allows.
const MAX_EPOCH: i64 = 253_402_300_799;

/// The default of `build.hook-timeout`: ten minutes.
pub const DEFAULT_HOOK_TIMEOUT: u64 = 600;

/// Variables of the hook environment a profile cannot set or pass: debroot's own contract.
const RESERVED_ENV: &[&str] = &[
    "PATH",
    "LC_ALL",
    "LANG",
    "HOME",
    "TZ",
    "SOURCE_DATE_EPOCH",
    "DEBIAN_FRONTEND",
    "DEBCONF_NONINTERACTIVE_SEEN",
];

/// Checks a variable name of `build.env` or `build.pass-env`: `[A-Za-z_][A-Za-z0-9_]*`, not
/// `DEBROOT_*` and not one of the fixed variables.
fn check_env_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "`{}` is not a variable name (letters, digits and `_`, not starting with a digit)",
            crate::debian::escape(name.as_bytes())
        ));
    }
    if name.starts_with("DEBROOT_") || RESERVED_ENV.contains(&name) {
        return Err(format!("`{name}` is set by debroot itself"));
    }
    Ok(())
}

/// `[output]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub format: Option<OutputFormat>,
    /// `output.verity`: a dm-verity hash tree beside an image output.
    pub verity: bool,
    /// `output.compression`: an OCI image's layer compression (gzip unless said).
    pub compression: LayerCompression,
    /// `output.sbom`: the SBOMs written beside the output (default: SPDX).
    pub sbom: Vec<SbomFormat>,
}

/// A bill-of-materials format `output.sbom` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SbomFormat {
    /// SPDX 2.3 JSON, `OUTPUT.spdx.json`.
    Spdx,
    /// CycloneDX 1.5 JSON, `OUTPUT.cdx.json`.
    CycloneDx,
}

impl SbomFormat {
    pub const NAMES: &[(&str, SbomFormat)] = &[
        ("spdx", SbomFormat::Spdx),
        ("cyclonedx", SbomFormat::CycloneDx),
    ];
    /// Without `output.sbom`: SPDX.
    pub const DEFAULT: &[SbomFormat] = &[SbomFormat::Spdx];

    pub fn as_str(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("spdx", |(name, _)| name)
    }

    /// What is appended to the output's name.
    pub fn suffix(self) -> &'static str {
        match self {
            SbomFormat::Spdx => ".spdx.json",
            SbomFormat::CycloneDx => ".cdx.json",
        }
    }
}

/// A profile after `extends`, validated, with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The profile that was asked for.
    pub path: PathBuf,
    /// Where its lock is read and written: `minbase.toml` → `minbase.lock` beside the profile
    /// for a profile file; a command may put it elsewhere (a built-in profile's, or the one a
    /// command line implies, goes to the state folder, never inside an installed binary's
    /// source).
    pub lock_file: PathBuf,
    /// Every file merged, the base first and `path` last.
    pub files: Vec<PathBuf>,
    /// The SHA256 of those files' bytes as read, the base first, one after the other
    /// (`cat base.toml top.toml | sha256sum`; of one file, its `sha256sum`): what the
    /// provenance names as the profile, whether it came from a file, a built-in profile or a
    /// command line.
    pub files_sha256: crate::digest::Sha256Digest,
    pub source: Source,
    pub packages: Packages,
    pub build: Build,
    pub output: Output,
}

// ---------------------------------------------------------------------------------------------
// Loading.

/// Everything `load` needs from outside.
pub struct LoadOptions<'a> {
    /// The directory relative profile paths are relative to.
    pub current_dir: &'a Path,
    /// Now, to refuse snapshot times in the future.
    pub now: Timestamp,
    /// Reads a file, at most [`MAX_PROFILE_BYTES`] + 1 bytes of it.
    pub read: &'a mut dyn FnMut(&Path) -> std::io::Result<Vec<u8>>,
    /// The folder the built-in profiles are in (`crate::builtin::materialize`), asked for only
    /// when a profile says `extends = "builtin:NAME"`.
    pub builtins: &'a mut dyn FnMut() -> std::io::Result<PathBuf>,
}

/// Normalizes `path` lexically (`.` and `..` removed) against `base`. Cycle detection and
/// messages use these names; no symlink is resolved, so no file is touched.
pub fn normalize(base: &Path, path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    };
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// One file's values, validated, before merging.
#[derive(Default)]
struct Layer {
    suite: Option<Located<String>>,
    updates: Option<bool>,
    components: Vec<Located<String>>,
    architectures: Vec<Located<Architecture>>,
    mirror: Option<Mirror>,
    snapshot: Option<Located<Timestamp>>,
    keyring: Option<PathBuf>,
    backports: Option<bool>,
    repositories: Vec<Repository>,
    variant: Option<Variant>,
    include: Vec<Located<PackageSpec>>,
    local: Vec<Located<PathBuf>>,
    exclude: Vec<Located<PackageName>>,
    recommends: Option<bool>,
    path_exclude: Vec<Located<String>>,
    path_include: Vec<Located<String>>,
    mode: Option<Mode>,
    hooks: Vec<PathBuf>,
    hostname: Option<String>,
    hook_timeout: Option<u64>,
    epoch: Option<i64>,
    pass_env: Vec<Located<String>>,
    env: std::collections::BTreeMap<String, String>,
    format: Option<OutputFormat>,
    verity: Option<bool>,
    compression: Option<LayerCompression>,
    sbom: Option<Vec<SbomFormat>>,
}

/// A file's text and name, for turning spans into locations.
struct FileText<'a> {
    path: &'a Path,
    text: &'a str,
}

impl FileText<'_> {
    fn location(&self, span: Range<usize>) -> Location {
        let start = span.start.min(self.text.len());
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Location {
            file: self.path.to_path_buf(),
            line,
            column: self.text[line_start..start].chars().count() + 1,
        }
    }

    fn invalid(&self, span: Range<usize>, key: &str, message: impl Into<String>) -> ProfileError {
        ProfileError::Invalid {
            at: self.location(span),
            key: key.to_owned(),
            message: message.into(),
        }
    }

    fn located<T>(&self, span: Range<usize>, value: T) -> Located<T> {
        Located {
            value,
            at: self.location(span),
        }
    }
}

/// Loads the profile at `path` with everything it extends.
pub fn load(path: &Path, options: LoadOptions<'_>) -> Result<Profile, ProfileError> {
    let top = normalize(options.current_dir, path);
    let mut chain: Vec<PathBuf> = Vec::new();
    let mut layers: Vec<Layer> = Vec::new();
    let mut texts: Vec<Vec<u8>> = Vec::new();
    let mut next: Option<(PathBuf, Option<Location>)> = Some((top.clone(), None));
    while let Some((file, extended_at)) = next.take() {
        if let Some(at) = &extended_at {
            if chain.contains(&file) {
                let mut cycle = chain.clone();
                cycle.push(file);
                return Err(ProfileError::Cycle {
                    at: at.clone(),
                    chain: cycle,
                });
            }
            if chain.len() >= MAX_EXTENDS_DEPTH {
                return Err(ProfileError::TooDeep { at: at.clone() });
            }
        }
        let bytes = (options.read)(&file).map_err(|source| ProfileError::Read {
            path: file.clone(),
            source,
        })?;
        if bytes.len() as u64 > MAX_PROFILE_BYTES {
            return Err(ProfileError::TooLarge {
                path: file,
                limit: MAX_PROFILE_BYTES,
            });
        }
        let text = match std::str::from_utf8(&bytes) {
            Ok(text) => text,
            Err(error) => {
                let valid = std::str::from_utf8(&bytes[..error.valid_up_to()]).unwrap_or("");
                let at = FileText {
                    path: &file,
                    text: valid,
                }
                .location(valid.len()..valid.len());
                return Err(ProfileError::NotUtf8 { at });
            }
        };
        let source = FileText { path: &file, text };
        let mut errors = Vec::new();
        let raw = parse_raw(&source, &mut errors);
        let folder = file.parent().unwrap_or(Path::new("/")).to_path_buf();
        if let Some(raw) = raw {
            if let Some(extends) = &raw.extends {
                let target = match extends.get_ref().strip_prefix(crate::builtin::PREFIX) {
                    Some(name) => {
                        match builtin_path(&source, extends.span(), name, options.builtins) {
                            Ok(path) => Some(path),
                            Err(error) => {
                                errors.push(error);
                                None
                            }
                        }
                    }
                    None => Some(normalize(&folder, Path::new(extends.get_ref()))),
                };
                if let Some(target) = target {
                    next = Some((target, Some(source.location(extends.span()))));
                }
            }
            layers.push(validate_layer(
                &source,
                &folder,
                raw,
                options.now,
                &mut errors,
            ));
        }
        if !errors.is_empty() {
            // Reported in file order. The bases this file extends are not loaded: their errors
            // come once this file's are fixed.
            errors.sort_by(|a, b| a.location().cmp(&b.location()));
            return Err(ProfileError::all(file, errors));
        }
        texts.push(bytes.clone());
        chain.push(file);
    }
    // Layers were collected from the top down; merge from the base up.
    layers.reverse();
    chain.reverse();
    texts.reverse();
    let mut profile = merge(top, chain, layers)?;
    let mut hasher = crate::digest::Hasher::new();
    for text in &texts {
        hasher.update(text);
    }
    profile.files_sha256 = hasher.finish();
    Ok(profile)
}

/// `extends = "builtin:NAME"`: the built-in profile's file, in the folder they are written to.
fn builtin_path(
    source: &FileText<'_>,
    span: Range<usize>,
    name: &str,
    builtins: &mut dyn FnMut() -> std::io::Result<PathBuf>,
) -> Result<PathBuf, ProfileError> {
    if !crate::builtin::exists(name) {
        let known: Vec<&str> = crate::builtin::names().collect();
        return Err(source.invalid(
            span,
            "extends",
            format!(
                "there is no built-in profile `{name}` (built-in: {})",
                known.join(", ")
            ),
        ));
    }
    let folder = builtins().map_err(|source| ProfileError::Read {
        path: PathBuf::from(format!("{}{name}", crate::builtin::PREFIX)),
        source,
    })?;
    Ok(folder.join(crate::builtin::profile_path(name)))
}

/// Parses one file. A TOML syntax error stops there (one error); otherwise every key is checked
/// against the schema ([`TOP`]) first, so that all unknown keys and wrong types of the file are
/// reported together, and the keys in error are left out of the values returned.
fn parse_raw(source: &FileText<'_>, errors: &mut Vec<ProfileError>) -> Option<RawProfile> {
    let mut root = match toml::de::DeTable::parse(source.text) {
        Ok(root) => root,
        Err(error) => {
            errors.push(ProfileError::Syntax {
                at: source.location(error.span().unwrap_or(0..0)),
                message: error.message().to_owned(),
            });
            return None;
        }
    };
    check_table(source, root.get_mut(), TOP, "", errors);
    let deserializer = toml::de::Deserializer::from(root);
    match serde_path_to_error::deserialize(deserializer) {
        Ok(raw) => Some(raw),
        // The schema check catches what serde would refuse; this is its safety net.
        Err(error) => {
            let key = error
                .path()
                .to_string()
                .replace(".$__serde_spanned_private_value", "");
            let inner = error.inner();
            let key = if key == "." {
                "(top level)".to_owned()
            } else {
                key
            };
            errors.push(source.invalid(inner.span().unwrap_or(0..0), &key, inner.message()));
            None
        }
    }
}

/// What a key of a profile holds, for the schema check of [`parse_raw`].
#[derive(Debug, Clone, Copy)]
enum Kind {
    Str,
    Bool,
    Int,
    StrList,
    /// A table of strings under any keys (`build.env`).
    StrMap,
    Table(&'static [(&'static str, Kind)]),
    TableList(&'static [(&'static str, Kind)]),
}

impl Kind {
    fn expected(self) -> &'static str {
        match self {
            Kind::Str => "a string",
            Kind::Bool => "a boolean (`true` or `false`)",
            Kind::Int => "an integer",
            Kind::StrList => "an array of strings",
            Kind::StrMap => "a table of strings",
            Kind::Table(_) => "a table",
            Kind::TableList(_) => "an array of tables (`[[...]]`)",
        }
    }
}

// The schema, key by key: it must say what the `Raw*` structs say (a test compares it with
// serde's list of each table's fields, another loads the commented reference profile).
const REPOSITORY: &[(&str, Kind)] = &[
    ("name", Kind::Str),
    ("url", Kind::Str),
    ("archive", Kind::Str),
    ("suites", Kind::StrList),
    ("components", Kind::StrList),
    ("keyring", Kind::Str),
    ("priority", Kind::Int),
];
const SOURCE: &[(&str, Kind)] = &[
    ("suite", Kind::Str),
    ("updates", Kind::Bool),
    ("components", Kind::StrList),
    ("architectures", Kind::StrList),
    ("mirror", Kind::Str),
    ("snapshot", Kind::Str),
    ("keyring", Kind::Str),
    ("backports", Kind::Bool),
    ("repository", Kind::TableList(REPOSITORY)),
];
const PACKAGES: &[(&str, Kind)] = &[
    ("variant", Kind::Str),
    ("include", Kind::StrList),
    ("exclude", Kind::StrList),
    ("recommends", Kind::Bool),
    ("path-exclude", Kind::StrList),
    ("path-include", Kind::StrList),
];
const BUILD: &[(&str, Kind)] = &[
    ("mode", Kind::Str),
    ("hooks", Kind::StrList),
    ("hostname", Kind::Str),
    ("hook-timeout", Kind::Int),
    ("epoch", Kind::Int),
    ("pass-env", Kind::StrList),
    ("env", Kind::StrMap),
];
const OUTPUT: &[(&str, Kind)] = &[
    ("format", Kind::Str),
    ("verity", Kind::Bool),
    ("compression", Kind::Str),
    ("sbom", Kind::StrList),
];
const TOP: &[(&str, Kind)] = &[
    ("extends", Kind::Str),
    ("source", Kind::Table(SOURCE)),
    ("packages", Kind::Table(PACKAGES)),
    ("build", Kind::Table(BUILD)),
    ("output", Kind::Table(OUTPUT)),
];

/// The closest known key to a misspelt one, if it is close enough to be a typo.
fn closest_key(name: &str, fields: &[(&'static str, Kind)]) -> Option<&'static str> {
    let folded = name.to_ascii_lowercase().replace('_', "-");
    fields
        .iter()
        .map(|(key, _)| (crate::debian::distance(&folded, key), *key))
        .filter(|(d, key)| *d <= 2 && *d < key.len().min(folded.len().max(1)))
        .min()
        .map(|(_, key)| key)
}

/// A value as an error names it: its type, and a scalar's text.
fn describe(value: &toml::de::DeValue<'_>) -> String {
    use toml::de::DeValue;
    let text = match value {
        DeValue::String(s) => format!("\"{}\"", crate::debian::escape(s.as_bytes())),
        DeValue::Integer(i) => format!("`{}`", i.as_str()),
        DeValue::Float(f) => format!("`{}`", f.as_str()),
        DeValue::Boolean(b) => format!("`{b}`"),
        DeValue::Datetime(d) => format!("`{d}`"),
        DeValue::Array(_) => return "an array".into(),
        DeValue::Table(_) => return "a table".into(),
    };
    let text = crate::error::shown_bytes(text.as_bytes(), 64);
    format!("{} {text}", value.type_str())
}

/// Checks the keys of one table against `fields`, reporting every unknown key (with the closest
/// known one) and every value of the wrong type; the keys in error are removed from `table`.
fn check_table(
    source: &FileText<'_>,
    table: &mut toml::de::DeTable<'_>,
    fields: &[(&'static str, Kind)],
    prefix: &str,
    errors: &mut Vec<ProfileError>,
) {
    let mut dropped: Vec<String> = Vec::new();
    for (key, value) in table.iter_mut() {
        let name: &str = key.get_ref();
        let path = if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}.{name}")
        };
        let Some((_, kind)) = fields.iter().find(|(field, _)| *field == name) else {
            let shown = crate::debian::escape(name.as_bytes());
            let message = match closest_key(name, fields) {
                Some(near) => format!("unknown field `{shown}`; did you mean `{near}`?"),
                None => format!("unknown field `{shown}`; expected one of {}", names(fields)),
            };
            errors.push(source.invalid(key.span(), &path, message));
            dropped.push(name.to_owned());
            continue;
        };
        if !check_value(source, value, *kind, &path, errors) {
            dropped.push(name.to_owned());
        }
    }
    for key in &dropped {
        table.remove(key.as_str());
    }
}

/// Checks one value against its kind; `false` when it must be left out.
fn check_value(
    source: &FileText<'_>,
    value: &mut Spanned<toml::de::DeValue<'_>>,
    kind: Kind,
    path: &str,
    errors: &mut Vec<ProfileError>,
) -> bool {
    use toml::de::DeValue;
    let span = value.span();
    let wrong = |value: &DeValue<'_>, span, path: &str, expected: &str| {
        source.invalid(
            span,
            path,
            format!("invalid type: {}, expected {expected}", describe(value)),
        )
    };
    match (kind, value.get_mut()) {
        (Kind::Str, DeValue::String(_))
        | (Kind::Bool, DeValue::Boolean(_))
        | (Kind::Int, DeValue::Integer(_)) => true,
        (Kind::StrList, DeValue::Array(items)) => {
            let mut good = true;
            for (i, item) in items.iter().enumerate() {
                if !matches!(item.get_ref(), DeValue::String(_)) {
                    let at = format!("{path}[{i}]");
                    errors.push(wrong(item.get_ref(), item.span(), &at, "a string"));
                    good = false;
                }
            }
            good
        }
        (Kind::StrMap, DeValue::Table(table)) => {
            let mut dropped: Vec<String> = Vec::new();
            for (key, item) in table.iter() {
                if !matches!(item.get_ref(), DeValue::String(_)) {
                    let at = format!("{path}.{}", key.get_ref());
                    errors.push(wrong(item.get_ref(), item.span(), &at, "a string"));
                    dropped.push(key.get_ref().to_string());
                }
            }
            for key in &dropped {
                table.remove(key.as_str());
            }
            true
        }
        (Kind::Table(fields), DeValue::Table(table)) => {
            check_table(source, table, fields, path, errors);
            true
        }
        (Kind::TableList(fields), DeValue::Array(items)) => {
            let mut good = true;
            for item in items.iter_mut() {
                let item_span = item.span();
                match item.get_mut() {
                    DeValue::Table(table) => check_table(source, table, fields, path, errors),
                    other => {
                        errors.push(wrong(other, item_span, path, "a table"));
                        good = false;
                    }
                }
            }
            good
        }
        (kind, other) => {
            errors.push(wrong(other, span, path, kind.expected()));
            false
        }
    }
}

/// An `include` entry that names a local file rather than a package: apt's rule for
/// `apt install ./x.deb` (a path starts with `/`, `./` or `../`).
fn is_local_path(text: &str) -> bool {
    text.starts_with('/') || text.starts_with("./") || text.starts_with("../")
}

fn is_debian_word(text: &str) -> bool {
    let b = text.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"+-.".contains(&c))
}

fn is_hostname(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn names<T>(table: &[(&str, T)]) -> String {
    table
        .iter()
        .map(|(name, _)| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks one file's values and resolves its paths.
fn validate_layer(
    source: &FileText<'_>,
    folder: &Path,
    raw: RawProfile,
    now: Timestamp,
    errors: &mut Vec<ProfileError>,
) -> Layer {
    let mut layer = Layer::default();
    let src = raw.source.unwrap_or_default();
    if let Some(suite) = src.suite {
        check(errors, || {
            if !is_debian_word(suite.get_ref()) {
                return Err(source.invalid(
                    suite.span(),
                    "source.suite",
                    format!(
                        "invalid suite `{}`: lowercase letters, digits, `+`, `-` and `.` only",
                        crate::debian::escape(suite.get_ref().as_bytes())
                    ),
                ));
            }
            layer.suite = Some(source.located(suite.span(), suite.into_inner()));
            Ok(())
        });
    }
    layer.updates = src.updates.map(Spanned::into_inner);
    for component in src.components.unwrap_or_default() {
        check(errors, || {
            if !is_debian_word(component.get_ref()) {
                return Err(source.invalid(
                    component.span(),
                    "source.components",
                    format!(
                        "invalid component `{}`",
                        crate::debian::escape(component.get_ref().as_bytes())
                    ),
                ));
            }
            layer
                .components
                .push(source.located(component.span(), component.into_inner()));
            Ok(())
        });
    }
    for arch in src.architectures.unwrap_or_default() {
        check(errors, || {
            let parsed = Architecture::parse(arch.get_ref())
                .map_err(|e| source.invalid(arch.span(), "source.architectures", e.to_string()))?;
            if parsed.is_all() {
                return Err(source.invalid(
                arch.span(),
                "source.architectures",
                "`all` is not an architecture a system runs; packages of `all` come with every architecture",
            ));
            }
            layer
                .architectures
                .push(source.located(arch.span(), parsed));
            Ok(())
        });
    }
    if let Some(mirror) = src.mirror {
        match parse_mirror(mirror.get_ref()) {
            Ok(parsed) => layer.mirror = Some(parsed),
            Err(message) => errors.push(source.invalid(mirror.span(), "source.mirror", message)),
        }
    }
    if let Some(snapshot) = src.snapshot {
        check(errors, || {
            let time = Timestamp::parse_snapshot(snapshot.get_ref())
                .map_err(|e| source.invalid(snapshot.span(), "source.snapshot", e.to_string()))?;
            if time > now {
                return Err(source.invalid(
                    snapshot.span(),
                    "source.snapshot",
                    format!("snapshot `{}` is in the future", snapshot.get_ref()),
                ));
            }
            layer.snapshot = Some(source.located(snapshot.span(), time));
            Ok(())
        });
    }
    if let Some(keyring) = src.keyring {
        if keyring.get_ref().is_empty() {
            errors.push(source.invalid(keyring.span(), "source.keyring", "empty path"));
        } else {
            layer.keyring = Some(normalize(folder, Path::new(keyring.get_ref())));
        }
    }
    layer.backports = src.backports.map(Spanned::into_inner);
    for raw in src.repository.unwrap_or_default() {
        let repository = match validate_repository(source, folder, raw) {
            Ok(repository) => repository,
            Err(error) => {
                errors.push(error);
                continue;
            }
        };
        if let Some(first) = layer
            .repositories
            .iter()
            .find(|r| r.name == repository.name)
        {
            errors.push(ProfileError::Invalid {
                at: repository.at.clone(),
                key: "source.repository.name".into(),
                message: format!(
                    "repository `{}` is already defined at {}",
                    repository.name, first.at
                ),
            });
            continue;
        }
        layer.repositories.push(repository);
    }

    let packages = raw.packages.unwrap_or_default();
    if let Some(variant) = packages.variant {
        check(errors, || {
            layer.variant = Some(Variant::parse(variant.get_ref()).ok_or_else(|| {
                source.invalid(
                    variant.span(),
                    "packages.variant",
                    format!(
                        "unknown variant `{}`; expected one of {}",
                        crate::debian::escape(variant.get_ref().as_bytes()),
                        names(Variant::NAMES)
                    ),
                )
            })?);
            Ok(())
        });
    }
    for spec in packages.include.unwrap_or_default() {
        check(errors, || {
            if is_local_path(spec.get_ref()) {
                if !spec.get_ref().ends_with(".deb") {
                    return Err(source.invalid(
                        spec.span(),
                        "packages.include",
                        format!(
                            "`{}` is a path, and a local package must be a `.deb` file",
                            crate::debian::escape(spec.get_ref().as_bytes())
                        ),
                    ));
                }
                let path = normalize(folder, Path::new(spec.get_ref()));
                layer.local.push(source.located(spec.span(), path));
                return Ok(());
            }
            let parsed = PackageSpec::parse(spec.get_ref())
                .map_err(|message| source.invalid(spec.span(), "packages.include", message))?;
            layer.include.push(source.located(spec.span(), parsed));
            Ok(())
        });
    }
    for name in packages.exclude.unwrap_or_default() {
        match PackageName::parse(name.get_ref()) {
            Ok(parsed) => layer.exclude.push(source.located(name.span(), parsed)),
            Err(e) => errors.push(source.invalid(name.span(), "packages.exclude", e.to_string())),
        }
    }
    layer.recommends = packages.recommends.map(Spanned::into_inner);
    for (key, patterns, list) in [
        (
            "packages.path-exclude",
            packages.path_exclude,
            &mut layer.path_exclude,
        ),
        (
            "packages.path-include",
            packages.path_include,
            &mut layer.path_include,
        ),
    ] {
        for pattern in patterns.unwrap_or_default() {
            match crate::pathfilter::check_pattern(pattern.get_ref()) {
                Ok(()) => list.push(source.located(pattern.span(), pattern.get_ref().clone())),
                Err(message) => errors.push(source.invalid(pattern.span(), key, message)),
            }
        }
    }

    let build = raw.build.unwrap_or_default();
    if let Some(mode) = build.mode {
        check(errors, || {
            layer.mode = Some(Mode::parse(mode.get_ref()).ok_or_else(|| {
                source.invalid(
                    mode.span(),
                    "build.mode",
                    format!(
                        "unknown mode `{}`; expected one of {}",
                        crate::debian::escape(mode.get_ref().as_bytes()),
                        names(Mode::NAMES)
                    ),
                )
            })?);
            Ok(())
        });
    }
    for hook in build.hooks.unwrap_or_default() {
        if hook.get_ref().is_empty() {
            errors.push(source.invalid(hook.span(), "build.hooks", "empty path"));
            continue;
        }
        layer
            .hooks
            .push(normalize(folder, Path::new(hook.get_ref())));
    }
    if let Some(hostname) = build.hostname {
        check(errors, || {
            if !is_hostname(hostname.get_ref()) {
                return Err(source.invalid(
                    hostname.span(),
                    "build.hostname",
                    format!(
                        "invalid host name `{}`: letters, digits and `-` in dot-separated labels",
                        crate::debian::escape(hostname.get_ref().as_bytes())
                    ),
                ));
            }
            layer.hostname = Some(hostname.into_inner());
            Ok(())
        });
    }
    if let Some(timeout) = build.hook_timeout {
        check(errors, || {
            let seconds = *timeout.get_ref();
            if !(1..=86_400).contains(&seconds) {
                return Err(source.invalid(
                    timeout.span(),
                    "build.hook-timeout",
                    format!("{seconds} is not a number of seconds from 1 to 86400"),
                ));
            }
            layer.hook_timeout = Some(seconds.unsigned_abs());
            Ok(())
        });
    }
    if let Some(epoch) = build.epoch {
        check(errors, || {
            let seconds = *epoch.get_ref();
            if !(0..=MAX_EPOCH).contains(&seconds) {
                return Err(source.invalid(
                    epoch.span(),
                    "build.epoch",
                    format!("{seconds} is not a time from 0 (1970) to {MAX_EPOCH} (9999-12-31)"),
                ));
            }
            layer.epoch = Some(seconds);
            Ok(())
        });
    }
    for name in build.pass_env.unwrap_or_default() {
        match check_env_name(name.get_ref()) {
            Ok(()) => layer
                .pass_env
                .push(source.located(name.span(), name.into_inner())),
            Err(message) => errors.push(source.invalid(name.span(), "build.pass-env", message)),
        }
    }
    for (name, value) in build.env.unwrap_or_default() {
        check(errors, || {
            let key = format!("build.env.{name}");
            check_env_name(&name).map_err(|message| source.invalid(value.span(), &key, message))?;
            if value.get_ref().contains('\0') {
                return Err(source.invalid(value.span(), &key, "a value cannot hold a NUL byte"));
            }
            layer.env.insert(name, value.into_inner());
            Ok(())
        });
    }

    let output = raw.output.unwrap_or_default();
    layer.verity = output.verity;
    if let Some(compression) = output.compression {
        check(errors, || {
            layer.compression = Some(
                LayerCompression::NAMES
                    .iter()
                    .find(|(name, _)| *name == compression.get_ref())
                    .map(|(_, c)| *c)
                    .ok_or_else(|| {
                        source.invalid(
                            compression.span(),
                            "output.compression",
                            format!(
                                "unknown compression `{}`; expected one of {}",
                                crate::debian::escape(compression.get_ref().as_bytes()),
                                names(LayerCompression::NAMES)
                            ),
                        )
                    })?,
            );
            Ok(())
        });
    }
    if let Some(names) = output.sbom {
        let mut formats = Vec::new();
        for name in names {
            let known = SbomFormat::NAMES
                .iter()
                .find(|(known, _)| *known == name.get_ref())
                .map(|(_, format)| *format);
            match known {
                Some(format) if !formats.contains(&format) => formats.push(format),
                Some(_) => {}
                None => errors.push(source.invalid(
                    name.span(),
                    "output.sbom",
                    format!(
                        "unknown SBOM format `{}` (known: {})",
                        name.get_ref(),
                        SbomFormat::NAMES
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
            }
        }
        formats.sort();
        layer.sbom = Some(formats);
    }
    if let Some(format) = output.format {
        check(errors, || {
            layer.format = Some(OutputFormat::parse(format.get_ref()).ok_or_else(|| {
                source.invalid(
                    format.span(),
                    "output.format",
                    format!(
                        "unknown format `{}`; expected one of {}",
                        crate::debian::escape(format.get_ref().as_bytes()),
                        names(OutputFormat::NAMES)
                    ),
                )
            })?);
            Ok(())
        });
    }
    layer
}

/// Runs one check of a layer, keeping its error (if any) with the file's others: a profile
/// reports every error it has, not only the first.
fn check(errors: &mut Vec<ProfileError>, run: impl FnOnce() -> Result<(), ProfileError>) {
    if let Err(error) = run() {
        errors.push(error);
    }
}

/// Checks one `[[source.repository]]` table.
fn validate_repository(
    source: &FileText<'_>,
    folder: &Path,
    raw: RawRepository,
) -> Result<Repository, ProfileError> {
    const KEY: &str = "source.repository";
    let Some(name) = raw.name else {
        let span = [
            raw.url.as_ref().map(Spanned::span),
            raw.archive.as_ref().map(Spanned::span),
            raw.suites.as_ref().map(Spanned::span),
        ]
        .into_iter()
        .flatten()
        .next()
        .unwrap_or(0..0);
        return Err(source.invalid(
            span,
            KEY,
            "a repository needs a `name` (its identity in the lock)",
        ));
    };
    let at = source.location(name.span());
    let valid_name = {
        let b = name.get_ref().as_bytes();
        !b.is_empty()
            && b.len() <= 64
            && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
            && b.iter()
                .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    };
    if !valid_name {
        return Err(source.invalid(
            name.span(),
            "source.repository.name",
            format!(
                "invalid repository name `{}`: lowercase letters, digits and `-`",
                crate::debian::escape(name.get_ref().as_bytes())
            ),
        ));
    }
    if RESERVED_REPOSITORY_NAMES.contains(&name.get_ref().as_str()) {
        return Err(source.invalid(
            name.span(),
            "source.repository.name",
            format!(
                "`{}` is the name of debroot's own source; choose another name",
                name.get_ref()
            ),
        ));
    }
    let location = match (raw.url, raw.archive) {
        (Some(url), None) => match parse_mirror(url.get_ref()) {
            Ok(Mirror::Url(url)) => RepositoryLocation::Url(url),
            Ok(Mirror::Host) => {
                return Err(source.invalid(
                    url.span(),
                    "source.repository.url",
                    "`host` is the Debian archive of `source.mirror`; a repository needs its own URL",
                ));
            }
            Err(message) => {
                return Err(source.invalid(url.span(), "source.repository.url", message));
            }
        },
        (None, Some(archive)) => {
            if !is_debian_word(archive.get_ref()) {
                return Err(source.invalid(
                    archive.span(),
                    "source.repository.archive",
                    format!(
                        "invalid archive name `{}`",
                        crate::debian::escape(archive.get_ref().as_bytes())
                    ),
                ));
            }
            RepositoryLocation::Archive(archive.into_inner())
        }
        (Some(url), Some(_)) => {
            return Err(source.invalid(
                url.span(),
                KEY,
                "set either `url` or `archive` (a snapshot archive name), not both",
            ));
        }
        (None, None) => {
            return Err(source.invalid(
                name.span(),
                KEY,
                format!(
                    "repository `{}` needs `url` or `archive` (a snapshot archive name)",
                    name.get_ref()
                ),
            ));
        }
    };
    let Some(suites) = raw.suites.filter(|s| !s.get_ref().is_empty()) else {
        return Err(source.invalid(
            name.span(),
            KEY,
            format!("repository `{}` needs `suites`", name.get_ref()),
        ));
    };
    let mut suite_names = Vec::new();
    for suite in suites.into_inner() {
        if !is_debian_word(suite.get_ref()) {
            return Err(source.invalid(
                suite.span(),
                "source.repository.suites",
                format!(
                    "invalid suite `{}`: lowercase letters, digits, `+`, `-` and `.` only",
                    crate::debian::escape(suite.get_ref().as_bytes())
                ),
            ));
        }
        if !suite_names.contains(suite.get_ref()) {
            suite_names.push(suite.into_inner());
        }
    }
    let mut components = Vec::new();
    for component in raw.components.unwrap_or_default() {
        if !is_debian_word(component.get_ref()) {
            return Err(source.invalid(
                component.span(),
                "source.repository.components",
                format!(
                    "invalid component `{}`",
                    crate::debian::escape(component.get_ref().as_bytes())
                ),
            ));
        }
        if !components.contains(component.get_ref()) {
            components.push(component.into_inner());
        }
    }
    if components.is_empty() {
        components.push("main".to_owned());
    }
    let keyring = match (raw.keyring, &location) {
        (Some(keyring), _) if keyring.get_ref().is_empty() => {
            return Err(source.invalid(keyring.span(), "source.repository.keyring", "empty path"));
        }
        (Some(keyring), _) => normalize(folder, Path::new(keyring.get_ref())),
        // An archive of Debian's snapshot server is signed by Debian's keys.
        (None, RepositoryLocation::Archive(_)) => PathBuf::from(DEFAULT_KEYRING),
        (None, RepositoryLocation::Url(_)) => {
            return Err(source.invalid(
                name.span(),
                KEY,
                format!(
                    "repository `{}` needs `keyring`: the keys trusted for it, and for nothing else",
                    name.get_ref()
                ),
            ));
        }
    };
    let priority = match raw.priority {
        None => None,
        Some(priority) => {
            let value = *priority.get_ref();
            match i32::try_from(value) {
                Ok(value) if value != 0 && (-32768..=32767).contains(&value) => Some(value),
                _ => {
                    return Err(source.invalid(
                        priority.span(),
                        "source.repository.priority",
                        format!(
                            "{value} is not a pin priority: a number from -32768 to 32767 other than 0 (500 is the default, 100 Debian's backports, below 0 never installed)"
                        ),
                    ));
                }
            }
        }
    };
    Ok(Repository {
        name: name.into_inner(),
        location,
        suites: suite_names,
        components,
        keyring,
        priority,
        at,
    })
}

/// Parses `source.mirror`: `host` or an `http`, `https` or `file` URL without credentials.
pub fn parse_mirror(text: &str) -> Result<Mirror, String> {
    if text == "host" {
        return Ok(Mirror::Host);
    }
    let url = url::Url::parse(text).map_err(|e| {
        format!(
            "`{}` is neither `host` nor a URL: {e}",
            crate::debian::escape(text.as_bytes())
        )
    })?;
    if !matches!(url.scheme(), "http" | "https" | "file") {
        return Err(format!(
            "unsupported URL scheme `{}`; use `http`, `https` or `file`",
            url.scheme()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "credentials do not belong in a profile; pass them with --mirror or DEBROOT_MIRROR"
                .into(),
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("a mirror URL takes no query or fragment".into());
    }
    Ok(Mirror::Url(url))
}

/// Appends `items` to `list`, skipping entries already present (by value).
fn append_unique<T: PartialEq>(list: &mut Vec<Located<T>>, items: Vec<Located<T>>) {
    for item in items {
        if !list.iter().any(|existing| existing.value == item.value) {
            list.push(item);
        }
    }
}

fn merge(top: PathBuf, files: Vec<PathBuf>, layers: Vec<Layer>) -> Result<Profile, ProfileError> {
    let mut merged = Layer::default();
    for layer in layers {
        merged.suite = layer.suite.or(merged.suite);
        merged.updates = layer.updates.or(merged.updates);
        append_unique(&mut merged.components, layer.components);
        append_unique(&mut merged.architectures, layer.architectures);
        merged.mirror = layer.mirror.or(merged.mirror);
        merged.snapshot = layer.snapshot.or(merged.snapshot);
        merged.keyring = layer.keyring.or(merged.keyring);
        merged.backports = layer.backports.or(merged.backports);
        // A repository of the same name in an extending profile replaces the base's.
        for repository in layer.repositories {
            match merged
                .repositories
                .iter_mut()
                .find(|r| r.name == repository.name)
            {
                Some(existing) => *existing = repository,
                None => merged.repositories.push(repository),
            }
        }
        merged.variant = layer.variant.or(merged.variant);
        append_unique(&mut merged.include, layer.include);
        append_unique(&mut merged.local, layer.local);
        append_unique(&mut merged.exclude, layer.exclude);
        merged.recommends = layer.recommends.or(merged.recommends);
        append_unique(&mut merged.path_exclude, layer.path_exclude);
        append_unique(&mut merged.path_include, layer.path_include);
        merged.mode = layer.mode.or(merged.mode);
        for hook in layer.hooks {
            if !merged.hooks.contains(&hook) {
                merged.hooks.push(hook);
            }
        }
        merged.hostname = layer.hostname.or(merged.hostname);
        merged.hook_timeout = layer.hook_timeout.or(merged.hook_timeout);
        merged.epoch = layer.epoch.or(merged.epoch);
        append_unique(&mut merged.pass_env, layer.pass_env);
        merged.env.extend(layer.env);
        merged.format = layer.format.or(merged.format);
        merged.verity = layer.verity.or(merged.verity);
        merged.compression = layer.compression.or(merged.compression);
        merged.sbom = layer.sbom.or(merged.sbom);
    }

    let suite = merged.suite.ok_or_else(|| ProfileError::Missing {
        path: top.clone(),
        key: "source.suite",
    })?;
    let mut architectures: Vec<Architecture> = merged
        .architectures
        .iter()
        .map(|a| a.value.clone())
        .collect();
    if architectures.is_empty() {
        architectures.push(Architecture::build_default());
    }
    let mut components: Vec<String> = merged.components.into_iter().map(|c| c.value).collect();
    if components.is_empty() {
        components.push("main".to_owned());
    }
    // An include may name only an architecture the profile installs.
    for spec in &merged.include {
        if let Some(arch) = &spec.value.arch
            && !architectures.contains(arch)
        {
            return Err(ProfileError::Invalid {
                at: spec.at.clone(),
                key: "packages.include".into(),
                message: format!(
                    "`{}` names architecture `{arch}`, which is not in `source.architectures`",
                    spec.value
                ),
            });
        }
    }
    for excluded in &merged.exclude {
        if let Some(spec) = merged
            .include
            .iter()
            .find(|spec| spec.value.name == excluded.value)
        {
            return Err(ProfileError::Invalid {
                at: excluded.at.clone(),
                key: "packages.exclude".into(),
                message: format!(
                    "`{}` is both excluded and included (at {})",
                    excluded.value, spec.at
                ),
            });
        }
    }
    let _ = suite.at;
    let source = Source {
        suite: suite.value,
        updates: merged.updates.unwrap_or(true),
        components,
        architectures,
        mirror: merged.mirror,
        snapshot: merged.snapshot.map(|s| s.value),
        keyring: merged
            .keyring
            .unwrap_or_else(|| PathBuf::from(DEFAULT_KEYRING)),
        backports: merged.backports.unwrap_or(false),
        repositories: merged.repositories,
    };
    // `name/suite` may name only a suite the profile reads.
    let mut known_suites = source.debian_suites();
    for repository in &source.repositories {
        known_suites.extend(repository.suites.iter().cloned());
    }
    for spec in &merged.include {
        if let Some(suite) = &spec.value.suite
            && !known_suites.contains(suite)
        {
            return Err(ProfileError::Invalid {
                at: spec.at.clone(),
                key: "packages.include".into(),
                message: format!(
                    "`{}` names suite `{suite}`, which the profile does not read (it reads {}); for Debian's backports set `source.backports = true`",
                    spec.value,
                    known_suites
                        .iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }
    Ok(Profile {
        lock_file: top.with_extension("lock"),
        path: top,
        files,
        files_sha256: crate::digest::Sha256Digest([0; 32]),
        source,
        packages: Packages {
            variant: merged.variant.unwrap_or(Variant::Important),
            include: merged.include,
            local: merged.local,
            exclude: merged.exclude,
            recommends: merged.recommends.unwrap_or(false),
            path_exclude: merged.path_exclude,
            path_include: merged.path_include,
        },
        build: Build {
            mode: merged.mode.unwrap_or(Mode::Auto),
            hooks: merged.hooks,
            hostname: merged.hostname,
            hook_timeout: merged.hook_timeout.unwrap_or(DEFAULT_HOOK_TIMEOUT),
            epoch: merged.epoch,
            pass_env: merged.pass_env.into_iter().map(|n| n.value).collect(),
            env: merged.env,
        },
        output: Output {
            format: merged.format,
            verity: merged.verity.unwrap_or(false),
            compression: merged.compression.unwrap_or_default(),
            sbom: merged.sbom.unwrap_or_else(|| SbomFormat::DEFAULT.to_vec()),
        },
    })
}

// ---------------------------------------------------------------------------------------------
// Identity.

impl Profile {
    /// The digest of everything that decides the resolution: suite, updates, components,
    /// architectures, snapshot, variant, include, exclude, recommends. Not the mirror (any mirror
    /// serves the same packages), the keyring's path, build or output settings, or where the
    /// files are: a lock stays valid when a profile moves or is built on another machine.
    pub fn resolution_digest(&self) -> crate::digest::Sha256Digest {
        let list = |items: Vec<String>| items.join(",");
        let mut text = format!(
            "suite={}\nupdates={}\ncomponents={}\narchitectures={}\nsnapshot={}\nvariant={}\ninclude={}\nexclude={}\nrecommends={}\n",
            self.source.suite,
            self.source.updates,
            list(self.source.components.clone()),
            list(
                self.source
                    .architectures
                    .iter()
                    .map(ToString::to_string)
                    .collect()
            ),
            self.source
                .snapshot
                .map(Timestamp::snapshot_form)
                .unwrap_or_default(),
            self.packages.variant.as_str(),
            list(
                self.packages
                    .include
                    .iter()
                    .map(|s| s.value.to_string())
                    .collect()
            ),
            list(
                self.packages
                    .exclude
                    .iter()
                    .map(|s| s.value.to_string())
                    .collect()
            ),
            self.packages.recommends,
        );
        // Only when set, so that the digest of every profile without it stays what it was.
        if let Some(epoch) = self.build.epoch {
            text.push_str(&format!("epoch={epoch}\n"));
        }
        if self.source.backports {
            text.push_str("backports=true\n");
        }
        // A repository is identified by its name, its kind of location, suites, components
        // and priority: not by its URL, so that a mirror of it keeps the lock valid.
        for repository in &self.source.repositories {
            let location = match &repository.location {
                RepositoryLocation::Url(_) => "url".to_owned(),
                RepositoryLocation::Archive(name) => format!("archive:{name}"),
            };
            text.push_str(&format!(
                "repository={};{location};{};{};{}\n",
                repository.name,
                repository.suites.join(","),
                repository.components.join(","),
                repository
                    .priority
                    .map_or_else(|| "release".to_owned(), |p| p.to_string()),
            ));
        }
        // Local `.deb`s by their name relative to the profile's folder (a moved checkout keeps
        // its lock); their content is checked by SHA256 against the lock, not here.
        if !self.packages.local.is_empty() {
            let names: Vec<String> = self
                .packages
                .local
                .iter()
                .map(|p| self.local_name(&p.value))
                .collect();
            text.push_str(&format!("local={}\n", list(names)));
        }
        crate::digest::Sha256Digest::of(text.as_bytes())
    }

    /// The folder of the profile (and of its lock): what local `.deb` names are relative to.
    pub fn folder(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("/"))
    }

    /// The name of a local `.deb` (an absolute path of [`Packages::local`]) in the lock and the
    /// resolution digest: its path relative to the profile's folder, `./vendor/app.deb` or
    /// `../debs/app.deb`, whatever folder the checkout is in.
    pub fn local_name(&self, path: &Path) -> String {
        relative_name(self.folder(), path)
    }

    /// Where the lock is: [`Profile::lock_file`].
    pub fn lock_path(&self) -> PathBuf {
        self.lock_file.clone()
    }

    /// The profile's file name, for the lock's header.
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// `path` relative to `folder` (both absolute and normalized), lexically, always starting with
/// `./` or `../`.
pub fn relative_name(folder: &Path, path: &Path) -> String {
    let from: Vec<Component<'_>> = folder.components().collect();
    let to: Vec<Component<'_>> = path.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = Vec::new();
    if common == from.len() {
        parts.push(".".into());
    }
    parts.extend(std::iter::repeat_n("..".to_owned(), from.len() - common));
    parts.extend(
        to[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

// ---------------------------------------------------------------------------------------------
// Showing.

#[derive(serde::Serialize)]
struct ShowProfile<'a> {
    source: ShowSource<'a>,
    packages: ShowPackages,
    build: ShowBuild<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<ShowOutput>,
}

#[derive(serde::Serialize)]
struct ShowSource<'a> {
    suite: &'a str,
    updates: bool,
    components: &'a [String],
    architectures: &'a [Architecture],
    #[serde(skip_serializing_if = "Option::is_none")]
    mirror: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    snapshot: Option<String>,
    keyring: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    backports: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    repository: Vec<ShowRepository>,
}

#[derive(serde::Serialize)]
struct ShowRepository {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    archive: Option<String>,
    suites: Vec<String>,
    components: Vec<String>,
    keyring: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<i32>,
}

#[derive(serde::Serialize)]
struct ShowPackages {
    variant: &'static str,
    include: Vec<String>,
    exclude: Vec<String>,
    recommends: bool,
    #[serde(rename = "path-exclude", skip_serializing_if = "Vec::is_empty")]
    path_exclude: Vec<String>,
    #[serde(rename = "path-include", skip_serializing_if = "Vec::is_empty")]
    path_include: Vec<String>,
}

#[derive(serde::Serialize)]
struct ShowBuild<'a> {
    mode: &'static str,
    hooks: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<&'a str>,
    #[serde(rename = "hook-timeout")]
    hook_timeout: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    epoch: Option<i64>,
    #[serde(rename = "pass-env")]
    pass_env: &'a [String],
    env: &'a std::collections::BTreeMap<String, String>,
}

#[derive(serde::Serialize)]
struct ShowOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<&'static str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    verity: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    compression: Option<&'static str>,
    sbom: Option<Vec<&'static str>>,
}

impl Profile {
    /// The merged profile as TOML, defaults included: a complete profile with no `extends` that
    /// loads to the same values.
    pub fn to_toml(&self) -> String {
        let files: Vec<String> = self
            .files
            .iter()
            .map(|f| format!("#   {}\n", f.display()))
            .collect();
        format!(
            "# The profile `{}` after `extends`, with defaults filled in.\n# Merged from (base first):\n{}\n{}",
            self.path.display(),
            files.concat(),
            self.toml_body()
        )
    }

    /// [`Profile::to_toml`] without its header comment.
    pub fn toml_body(&self) -> String {
        let show = ShowProfile {
            source: ShowSource {
                suite: &self.source.suite,
                updates: self.source.updates,
                components: &self.source.components,
                architectures: &self.source.architectures,
                mirror: self.source.mirror.as_ref().map(|m| match m {
                    Mirror::Host => "host".to_owned(),
                    Mirror::Url(url) => url.to_string(),
                }),
                snapshot: self.source.snapshot.map(Timestamp::snapshot_form),
                keyring: self.source.keyring.display().to_string(),
                backports: self.source.backports,
                repository: self
                    .source
                    .repositories
                    .iter()
                    .map(|r| ShowRepository {
                        name: r.name.clone(),
                        url: match &r.location {
                            RepositoryLocation::Url(url) => Some(url.to_string()),
                            RepositoryLocation::Archive(_) => None,
                        },
                        archive: match &r.location {
                            RepositoryLocation::Archive(name) => Some(name.clone()),
                            RepositoryLocation::Url(_) => None,
                        },
                        suites: r.suites.clone(),
                        components: r.components.clone(),
                        keyring: r.keyring.display().to_string(),
                        priority: r.priority,
                    })
                    .collect(),
            },
            packages: ShowPackages {
                variant: self.packages.variant.as_str(),
                include: self
                    .packages
                    .include
                    .iter()
                    .map(|s| s.value.to_string())
                    .chain(
                        self.packages
                            .local
                            .iter()
                            .map(|p| p.value.display().to_string()),
                    )
                    .collect(),
                exclude: self
                    .packages
                    .exclude
                    .iter()
                    .map(|s| s.value.to_string())
                    .collect(),
                recommends: self.packages.recommends,
                path_exclude: self
                    .packages
                    .path_exclude
                    .iter()
                    .map(|p| p.value.clone())
                    .collect(),
                path_include: self
                    .packages
                    .path_include
                    .iter()
                    .map(|p| p.value.clone())
                    .collect(),
            },
            build: ShowBuild {
                mode: self.build.mode.as_str(),
                hooks: self
                    .build
                    .hooks
                    .iter()
                    .map(|h| h.display().to_string())
                    .collect(),
                hostname: self.build.hostname.as_deref(),
                hook_timeout: self.build.hook_timeout,
                epoch: self.build.epoch,
                pass_env: &self.build.pass_env,
                env: &self.build.env,
            },
            output: (self.output.format.is_some()
                || self.output.verity
                || self.output.compression != LayerCompression::Gzip
                || self.output.sbom != SbomFormat::DEFAULT)
                .then(|| ShowOutput {
                    format: self.output.format.map(OutputFormat::as_str),
                    verity: self.output.verity,
                    compression: (self.output.compression != LayerCompression::Gzip)
                        .then(|| self.output.compression.as_str()),
                    sbom: (self.output.sbom != SbomFormat::DEFAULT)
                        .then(|| self.output.sbom.iter().map(|f| f.as_str()).collect()),
                }),
        };
        toml::to_string_pretty(&show)
            .unwrap_or_else(|e| format!("# cannot render the profile as TOML: {e}\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const NOW: Timestamp = Timestamp(1_790_000_000); // 2026-09-21

    fn load_from(files: &[(&str, &str)], path: &str) -> Result<Profile, ProfileError> {
        let files: BTreeMap<PathBuf, Vec<u8>> = files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.as_bytes().to_vec()))
            .collect();
        let mut read = |p: &Path| {
            files
                .get(p)
                .cloned()
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "not found"))
        };
        load(
            Path::new(path),
            LoadOptions {
                current_dir: Path::new("/p"),
                now: NOW,
                read: &mut read,
                builtins: &mut || Ok(PathBuf::from("/builtin")),
            },
        )
    }

    fn error_text(files: &[(&str, &str)], path: &str) -> String {
        load_from(files, path).unwrap_err().to_string()
    }

    #[test]
    fn extends_a_builtin_profile_reads_it_from_the_builtin_folder() {
        let base = "[source]\nsuite = \"trixie\"\n[build]\nhooks = [\"../hooks/kiosk-sway\"]\n";
        let child = "extends = \"builtin:kiosk-sway\"\n[packages]\ninclude = [\"less\"]\n";
        let profile = load_from(
            &[
                ("/builtin/profiles/kiosk-sway.toml", base),
                ("/p/mine.toml", child),
            ],
            "mine.toml",
        )
        .unwrap();
        assert_eq!(
            profile.files,
            [
                PathBuf::from("/builtin/profiles/kiosk-sway.toml"),
                PathBuf::from("/p/mine.toml")
            ]
        );
        assert_eq!(
            profile.build.hooks,
            [PathBuf::from("/builtin/hooks/kiosk-sway")]
        );
        assert_eq!(profile.lock_path(), Path::new("/p/mine.lock"));
        let text = error_text(
            &[("/p/mine.toml", "extends = \"builtin:kiosk\"\n")],
            "mine.toml",
        );
        assert_eq!(
            text,
            "/p/mine.toml:1:11: `extends`: there is no built-in profile `kiosk` (built-in: minbase, kiosk-sway, kiosk-wayvnc, kiosk-chromium, kiosk-machine)"
        );
    }

    #[test]
    fn path_filters_append_through_extends_and_apply_excludes_first() {
        let base = "[source]\nsuite = \"trixie\"\n[packages]\npath-exclude = [\"/usr/share/doc/*\"]\npath-include = [\"/usr/share/doc/*/copyright\"]\n";
        let child = "extends = \"base.toml\"\n[packages]\npath-exclude = [\"/usr/share/man/*\", \"/usr/share/doc/*\"]\n";
        let profile = load_from(&[("/p/base.toml", base), ("/p/c.toml", child)], "c.toml").unwrap();
        let filter = profile.packages.path_filter();
        let rules: Vec<String> = filter
            .rules
            .iter()
            .map(|r| format!("{}={}", r.option(), r.pattern))
            .collect();
        assert_eq!(
            rules,
            [
                "path-exclude=/usr/share/doc/*",
                "path-exclude=/usr/share/man/*",
                "path-include=/usr/share/doc/*/copyright"
            ]
        );
        assert_eq!(
            profile.packages.path_exclude[1].at.to_string(),
            "/p/c.toml:3:17"
        );
        let shown = profile.to_toml();
        assert!(
            shown.contains(
                "path-exclude = [\n    \"/usr/share/doc/*\",\n    \"/usr/share/man/*\",\n]"
            ),
            "{shown}"
        );
        // Not part of the resolution: the lock stays valid.
        let plain =
            load_from(&[("/p/a.toml", "[source]\nsuite = \"trixie\"\n")], "a.toml").unwrap();
        let filtered = load_from(&[("/p/a.toml", base)], "a.toml").unwrap();
        assert_eq!(plain.resolution_digest(), filtered.resolution_digest());
        assert!(plain.packages.path_filter().is_empty());
    }

    #[test]
    fn extends_appends_lists_and_overrides_scalars() {
        let base = "[source]\nsuite = \"trixie\"\ncomponents = [\"main\"]\nkeyring = \"keys/a.gpg\"\n[packages]\nvariant = \"minbase\"\ninclude = [\"systemd-sysv\"]\n[build]\nhooks = [\"../hooks/common\"]\n";
        let child = "extends = \"base/minbase.toml\"\n[source]\nsuite = \"bookworm\"\ncomponents = [\"main\", \"contrib\"]\n[packages]\ninclude = [\"sway\", \"systemd-sysv\"]\n[build]\nhooks = [\"hooks/kiosk\"]\n";
        let profile = load_from(
            &[("/p/base/minbase.toml", base), ("/p/kiosk.toml", child)],
            "kiosk.toml",
        )
        .unwrap();
        assert_eq!(profile.source.suite, "bookworm");
        assert_eq!(profile.source.components, vec!["main", "contrib"]);
        assert_eq!(profile.source.keyring, PathBuf::from("/p/base/keys/a.gpg"));
        let include: Vec<String> = profile
            .packages
            .include
            .iter()
            .map(|s| s.value.to_string())
            .collect();
        assert_eq!(include, vec!["systemd-sysv", "sway"]);
        assert_eq!(
            profile.build.hooks,
            vec![
                PathBuf::from("/p/hooks/common"),
                PathBuf::from("/p/hooks/kiosk")
            ]
        );
        assert_eq!(
            profile.files,
            vec![
                PathBuf::from("/p/base/minbase.toml"),
                PathBuf::from("/p/kiosk.toml")
            ]
        );
        assert_eq!(
            profile.packages.include[1].at.to_string(),
            "/p/kiosk.toml:6:12"
        );
    }

    #[test]
    fn defaults() {
        let profile =
            load_from(&[("/p/a.toml", "[source]\nsuite = \"trixie\"\n")], "a.toml").unwrap();
        assert!(profile.source.updates);
        assert_eq!(profile.source.components, vec!["main"]);
        assert_eq!(
            profile.source.architectures,
            vec![Architecture::build_default()]
        );
        assert_eq!(profile.source.keyring, PathBuf::from(DEFAULT_KEYRING));
        assert_eq!(profile.packages.variant, Variant::Important);
        assert_eq!(profile.build.mode, Mode::Auto);
        assert!(!profile.packages.recommends);
    }

    #[test]
    fn unknown_key_names_file_line_column_and_key() {
        let text = error_text(
            &[(
                "/p/a.toml",
                "[source]\nsuite = \"trixie\"\n\n[packages]\npakages = [\"vim\"]\n",
            )],
            "a.toml",
        );
        assert!(
            text.starts_with("/p/a.toml:5:1: `packages.pakages`: unknown field `pakages`"),
            "{text}"
        );
    }

    #[test]
    fn wrong_type_names_the_key() {
        let text = error_text(
            &[(
                "/p/a.toml",
                "[source]\nsuite = \"trixie\"\n[packages]\ninclude = \"vim\"\n",
            )],
            "a.toml",
        );
        assert!(text.starts_with("/p/a.toml:4:11: `packages.include`: invalid type: string \"vim\", expected an array of strings"), "{text}");
        let text = error_text(
            &[(
                "/p/a.toml",
                "[source]\nsuite = \"trixie\"\ncomponents = [\"main\", 3]\n",
            )],
            "a.toml",
        );
        assert!(
            text.starts_with("/p/a.toml:3:23: `source.components[1]`"),
            "{text}"
        );
        let text = error_text(
            &[(
                "/p/a.toml",
                "[source]\nsuite = \"trixie\"\n[source.repository]\nname = \"x\"\n",
            )],
            "a.toml",
        );
        assert_eq!(
            text,
            "/p/a.toml:3:1: `source.repository`: invalid type: a table, expected an array of tables (`[[...]]`)"
        );
        let text = error_text(&[("/p/a.toml", "packages = \"vim\"\n")], "a.toml");
        assert!(
            text.starts_with("/p/a.toml:1:12: `packages`: invalid type"),
            "{text}"
        );
    }

    #[test]
    fn every_error_of_a_file_is_reported_in_file_order() {
        let text = error_text(
            &[(
                "/p/a.toml",
                "[sourse]\nsuite = \"trixie\"\n\n[packages]\ninclde = [\"vim\"]\nvariant = \"tiny\"\nexclude = [\"Bad Name\"]\n[build]\nhook-timeout = \"10\"\nhostname = \"-x\"\nPass_Env = [\"HOME\"]\n",
            )],
            "a.toml",
        );
        assert_eq!(
            text,
            "7 errors in profile `/p/a.toml`:\n  \
             /p/a.toml:1:2: `sourse`: unknown field `sourse`; did you mean `source`?\n  \
             /p/a.toml:5:1: `packages.inclde`: unknown field `inclde`; did you mean `include`?\n  \
             /p/a.toml:6:11: `packages.variant`: unknown variant `tiny`; expected one of `extract`, `custom`, `essential`, `apt`, `minbase`, `required`, `buildd`, `important`, `debootstrap`, `standard`\n  \
             /p/a.toml:7:12: `packages.exclude`: invalid package name `Bad Name`: must start with a lowercase letter or a digit\n  \
             /p/a.toml:9:16: `build.hook-timeout`: invalid type: string \"10\", expected an integer\n  \
             /p/a.toml:10:12: `build.hostname`: invalid host name `-x`: letters, digits and `-` in dot-separated labels\n  \
             /p/a.toml:11:1: `build.Pass_Env`: unknown field `Pass_Env`; did you mean `pass-env`?"
        );
    }

    #[test]
    fn unknown_keys_get_the_closest_known_key() {
        let text = error_text(
            &[(
                "/p/a.toml",
                "[source]\nsuite = \"trixie\"\npath_exclude = 1\n[build]\npass_env = [\"HOME\"]\nzzz = 1\n",
            )],
            "a.toml",
        );
        assert!(
            text.contains("/p/a.toml:5:1: `build.pass_env`: unknown field `pass_env`; did you mean `pass-env`?"),
            "{text}"
        );
        assert!(
            text.contains("/p/a.toml:6:1: `build.zzz`: unknown field `zzz`; expected one of `mode`, `hooks`, `hostname`, `hook-timeout`, `epoch`, `pass-env`, `env`"),
            "{text}"
        );
        assert!(
            text.contains("/p/a.toml:3:1: `source.path_exclude`: unknown field `path_exclude`; expected one of"),
            "{text}"
        );
        // Wrong types deeper down: array elements, env values, repository tables.
        let text = error_text(
            &[(
                "/p/a.toml",
                "[source]\nsuite = \"trixie\"\n[[source.repository]]\nname = \"x\"\nurl = 3\nsuits = [\"a\"]\n[build.env]\nA = 1\nB = \"b\"\n",
            )],
            "a.toml",
        );
        // (The repository whose `url` is wrong is also reported as having none.)
        assert!(text.starts_with("4 errors in profile `/p/a.toml`:\n  /p/a.toml:4:8: `source.repository`: repository `x` needs `url` or `archive` (a snapshot archive name)\n  /p/a.toml:5:7: `source.repository.url`: invalid type: integer `3`, expected a string\n  /p/a.toml:6:1: `source.repository.suits`: unknown field `suits`; did you mean `suites`?\n  /p/a.toml:8:5: `build.env.A`: invalid type: integer `1`, expected a string"), "{text}");
    }

    /// The schema of the check ([`TOP`]) names the keys the `Raw*` structs take, table by table:
    /// serde's own "expected one of" list of each table is compared with it.
    #[test]
    fn the_schema_check_knows_every_key_serde_knows() {
        let tables: [(&str, &[(&str, Kind)]); 6] = [
            ("", TOP),
            ("[source]\n", SOURCE),
            ("[[source.repository]]\n", REPOSITORY),
            ("[packages]\n", PACKAGES),
            ("[build]\n", BUILD),
            ("[output]\n", OUTPUT),
        ];
        for (header, fields) in tables {
            let text = format!("{header}zzz = 1\n");
            let error = toml::from_str::<RawProfile>(&text).unwrap_err();
            let message = error.message();
            // "expected one of `a`, `b`, `c`" or "expected `a` or `b`".
            let list = message
                .split_once("expected ")
                .map(|(_, list)| list.trim_start_matches("one of ").replace(" or ", ", "))
                .unwrap_or_default();
            let serde_keys: Vec<&str> = list.split(", ").map(|k| k.trim_matches('`')).collect();
            let schema_keys: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
            assert_eq!(serde_keys, schema_keys, "{header}: {message}");
        }
    }

    #[test]
    fn the_schema_check_accepts_the_reference_profile() {
        let text = include_str!("../profiles/minbase.toml");
        let profile = load_from(
            &[("/p/profiles/minbase.toml", text)],
            "profiles/minbase.toml",
        );
        assert!(profile.is_ok(), "{:?}", profile.err());
    }

    #[test]
    fn syntax_errors() {
        let text = error_text(&[("/p/a.toml", "[source]\nsuite = \"trixie\n")], "a.toml");
        assert!(text.starts_with("/p/a.toml:2:"), "{text}");
        let text = error_text(
            &[("/p/a.toml", "[source]\nsuite = \"a\"\nsuite = \"b\"\n")],
            "a.toml",
        );
        assert!(text.starts_with("/p/a.toml:3:1: duplicate key"), "{text}");
        let text = error_text(
            &[("/p/a.toml", "[source]\nsuite = \"tr\u{0}\"\n")],
            "a.toml",
        );
        assert!(text.starts_with("/p/a.toml:2:"), "{text}");
    }

    #[test]
    fn invalid_utf8_and_size() {
        let mut bytes = b"[source]\nsuite = \"tr".to_vec();
        bytes.push(0xff);
        let mut read = |_: &Path| Ok(bytes.clone());
        let error = load(
            Path::new("/p/a.toml"),
            LoadOptions {
                current_dir: Path::new("/"),
                now: NOW,
                read: &mut read,
                builtins: &mut || Ok(PathBuf::from("/builtin")),
            },
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "/p/a.toml:2:12: profile is not valid UTF-8"
        );
        let big = vec![b'#'; MAX_PROFILE_BYTES as usize + 1];
        let mut read = |_: &Path| Ok(big.clone());
        let error = load(
            Path::new("/p/a.toml"),
            LoadOptions {
                current_dir: Path::new("/"),
                now: NOW,
                read: &mut read,
                builtins: &mut || Ok(PathBuf::from("/builtin")),
            },
        )
        .unwrap_err();
        assert!(matches!(error, ProfileError::TooLarge { .. }));
    }

    #[test]
    fn extends_cycle_is_detected() {
        let text = error_text(
            &[
                ("/p/a.toml", "extends = \"b.toml\"\n"),
                ("/p/b.toml", "extends = \"./sub/../a.toml\"\n"),
            ],
            "a.toml",
        );
        assert_eq!(
            text,
            "/p/b.toml:1:11: `extends`: cycle `/p/a.toml` -> `/p/b.toml` -> `/p/a.toml`"
        );
        let text = error_text(&[("/p/a.toml", "extends = \"a.toml\"\n")], "a.toml");
        assert!(text.contains("cycle"), "{text}");
    }

    #[test]
    fn missing_base_and_missing_suite() {
        let error = load_from(&[("/p/a.toml", "extends = \"nope.toml\"\n")], "a.toml").unwrap_err();
        assert!(
            matches!(&error, ProfileError::Read { path, .. } if path == Path::new("/p/nope.toml"))
        );
        let error = load_from(
            &[("/p/a.toml", "[packages]\nvariant = \"apt\"\n")],
            "a.toml",
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "`/p/a.toml`: `source.suite` is required and no profile in the chain sets it"
        );
    }

    #[test]
    fn repositories_are_validated() {
        let repo =
            |body: &str| format!("[source]\nsuite = \"trixie\"\n[[source.repository]]\n{body}\n");
        let cases = [
            (
                repo("url = \"http://x/\"\nsuites = [\"s\"]\nkeyring = \"k\""),
                "a repository needs a `name`",
            ),
            (
                repo("name = \"Vendor\"\nurl = \"http://x/\"\nsuites = [\"s\"]"),
                "invalid repository name `Vendor`",
            ),
            (
                repo("name = \"debian\"\nurl = \"http://x/\"\nsuites = [\"s\"]"),
                "`debian` is the name of debroot's own source",
            ),
            (
                repo("name = \"v\"\nsuites = [\"s\"]"),
                "needs `url` or `archive`",
            ),
            (
                repo("name = \"v\"\nurl = \"http://x/\"\narchive = \"a\"\nsuites = [\"s\"]"),
                "either `url` or `archive`",
            ),
            (
                repo("name = \"v\"\nurl = \"http://x/\"\nsuites = []\nkeyring = \"k\""),
                "needs `suites`",
            ),
            (
                repo("name = \"v\"\nurl = \"http://x/\"\nsuites = [\"s\"]"),
                "needs `keyring`",
            ),
            (
                repo("name = \"v\"\nurl = \"http://u:p@x/\"\nsuites = [\"s\"]\nkeyring = \"k\""),
                "credentials do not belong in a profile",
            ),
            (
                repo(
                    "name = \"v\"\nurl = \"http://x/\"\nsuites = [\"s\"]\nkeyring = \"k\"\npriority = 0",
                ),
                "0 is not a pin priority",
            ),
            (
                repo(
                    "name = \"v\"\nurl = \"http://x/\"\nsuites = [\"s\"]\nkeyring = \"k\"\nmirror = \"x\"",
                ),
                "unknown field `mirror`",
            ),
            (
                format!(
                    "{}[[source.repository]]\nname = \"v\"\nurl = \"http://y/\"\nsuites = [\"s\"]\nkeyring = \"k\"\n",
                    repo("name = \"v\"\nurl = \"http://x/\"\nsuites = [\"s\"]\nkeyring = \"k\"")
                ),
                "repository `v` is already defined at /p/a.toml:4:8",
            ),
            (
                "[source]\nsuite = \"trixie\"\n[packages]\ninclude = [\"foot/trixie-backports\"]\n"
                    .to_owned(),
                "names suite `trixie-backports`, which the profile does not read",
            ),
            (
                "[source]\nsuite = \"trixie\"\n[packages]\ninclude = [\"foot=1/trixie\"]\n"
                    .to_owned(),
                "names both a version and a suite",
            ),
        ];
        for (text, expected) in cases {
            let got = error_text(&[("/p/a.toml", &text)], "a.toml");
            assert!(
                got.contains(expected),
                "for {text:?}\n got: {got}\nwant: {expected}"
            );
            assert!(got.starts_with("/p/a.toml:"), "located: {got}");
        }
        // A valid one, its keyring relative to the file, and the identity in the digest
        // without its URL.
        let text = repo(
            "name = \"v\"\nurl = \"http://x/debian\"\nsuites = [\"s\"]\nkeyring = \"keys/v.gpg\"\npriority = 100",
        );
        let profile = load_from(&[("/p/a.toml", &text)], "a.toml").unwrap();
        let repository = &profile.source.repositories[0];
        assert_eq!(repository.keyring, PathBuf::from("/p/keys/v.gpg"));
        assert_eq!(repository.components, ["main"]);
        assert_eq!(repository.priority, Some(100));
        let moved = text.replace("http://x/debian", "https://mirror.example/v");
        let other = load_from(&[("/p/a.toml", &moved)], "a.toml").unwrap();
        assert_eq!(profile.resolution_digest(), other.resolution_digest());
        let reprioritized = text.replace("priority = 100", "priority = 600");
        let other = load_from(&[("/p/a.toml", &reprioritized)], "a.toml").unwrap();
        assert_ne!(profile.resolution_digest(), other.resolution_digest());
        // `name/suite` of a suite the profile reads, and the round trip through `show`.
        let text = "[source]\nsuite = \"trixie\"\nbackports = true\n[packages]\ninclude = [\"foot/trixie-backports\"]\n";
        let profile = load_from(&[("/p/a.toml", text)], "a.toml").unwrap();
        assert_eq!(
            profile.packages.include[0].value.suite.as_deref(),
            Some("trixie-backports")
        );
        assert!(profile.to_toml().contains("backports = true"));
    }

    #[test]
    fn values_are_validated() {
        let cases = [
            (
                "[source]\nsuite = \"Tri xie\"\n",
                "/p/a.toml:2:9: `source.suite`: invalid suite",
            ),
            (
                "[source]\nsuite = \"trixie\"\narchitectures = [\"amd64;rm -rf /\"]\n",
                "/p/a.toml:3:18: `source.architectures`: invalid architecture",
            ),
            (
                "[source]\nsuite = \"trixie\"\narchitectures = [\"all\"]\n",
                "/p/a.toml:3:18: `source.architectures`: `all`",
            ),
            (
                "[source]\nsuite = \"trixie\"\nsnapshot = \"2024-13-45\"\n",
                "/p/a.toml:3:12: `source.snapshot`: invalid snapshot timestamp",
            ),
            (
                "[source]\nsuite = \"trixie\"\nsnapshot = \"20991231T000000Z\"\n",
                "/p/a.toml:3:12: `source.snapshot`: snapshot `20991231T000000Z` is in the future",
            ),
            (
                "[source]\nsuite = \"trixie\"\nmirror = \"ftp://x/debian\"\n",
                "/p/a.toml:3:10: `source.mirror`: unsupported URL scheme `ftp`",
            ),
            (
                "[source]\nsuite = \"trixie\"\nmirror = \"https://u:p@x/debian\"\n",
                "/p/a.toml:3:10: `source.mirror`: credentials",
            ),
            (
                "[source]\nsuite = \"trixie\"\nmirror = \"not a url\"\n",
                "/p/a.toml:3:10: `source.mirror`: `not a url` is neither",
            ),
            (
                "[source]\nsuite = \"trixie\"\n[packages]\nvariant = \"tiny\"\n",
                "/p/a.toml:4:11: `packages.variant`: unknown variant `tiny`",
            ),
            (
                "[source]\nsuite = \"trixie\"\n[packages]\ninclude = [\"$(touch /tmp/x)\"]\n",
                "/p/a.toml:4:12: `packages.include`: invalid package name",
            ),
            (
                "[source]\nsuite = \"trixie\"\n[packages]\ninclude = [\"vim:arm64\"]\n",
                "/p/a.toml:4:12: `packages.include`: `vim:arm64` names architecture `arm64`",
            ),
            (
                "[source]\nsuite = \"trixie\"\n[packages]\ninclude = [\"vim\"]\nexclude = [\"vim\"]\n",
                "/p/a.toml:5:12: `packages.exclude`: `vim` is both excluded and included",
            ),
            (
                "[source]\nsuite = \"trixie\"\n[packages]\npath-exclude = [\"usr/share/doc/*\"]\n",
                "/p/a.toml:4:17: `packages.path-exclude`: `usr/share/doc/*` must start with `/`",
            ),
            (
                "[source]\nsuite = \"trixie\"\n[packages]\npath-include = [\"/a\", \"/b\\n\"]\n",
                "/p/a.toml:4:23: `packages.path-include`: `/b\\n` holds a control character",
            ),
            (
                "[source]\nsuite = \"trixie\"\n[packages]\npath-include = \"/usr/share/doc/*\"\n",
                "/p/a.toml:4:16: `packages.path-include`: invalid type: string",
            ),
            (
                "[source]\nsuite = \"trixie\"\n[packages]\ninclude = [\"foo/../../bar\"]\n",
                "/p/a.toml:4:12: `packages.include`: invalid package name",
            ),
            (
                "[source]\nsuite = \"trixie\"\n[build]\nmode = \"chroot\"\n",
                "/p/a.toml:4:8: `build.mode`: unknown mode `chroot`",
            ),
            (
                "[source]\nsuite = \"trixie\"\n[build]\nhostname = \"-bad\"\n",
                "/p/a.toml:4:12: `build.hostname`: invalid host name",
            ),
            (
                "[source]\nsuite = \"trixie\"\n[output]\nformat = \"zip\"\n",
                "/p/a.toml:4:10: `output.format`: unknown format `zip`",
            ),
            (
                "[source]\nsuite = \"trixie\"\nkeyring = \"\"\n",
                "/p/a.toml:3:11: `source.keyring`: empty path",
            ),
        ];
        for (text, expected) in cases {
            let got = error_text(&[("/p/a.toml", text)], "a.toml");
            assert!(
                got.starts_with(expected),
                "for {text:?}\n got: {got}\nwant: {expected}"
            );
        }
    }

    #[test]
    fn include_specs() {
        let profile = load_from(
            &[("/p/a.toml", "[source]\nsuite = \"trixie\"\narchitectures = [\"amd64\", \"i386\"]\n[packages]\ninclude = [\"libc6:i386\", \"hello=2.10-3\"]\n")],
            "a.toml",
        )
        .unwrap();
        assert_eq!(
            profile.packages.include[0]
                .value
                .arch
                .as_ref()
                .unwrap()
                .as_str(),
            "i386"
        );
        assert_eq!(
            profile.packages.include[1]
                .value
                .version
                .as_ref()
                .unwrap()
                .as_str(),
            "2.10-3"
        );
        assert_eq!(profile.source.native_architecture().as_str(), "amd64");
    }

    #[test]
    fn local_debs_are_paths_relative_to_the_file_that_names_them() {
        let base = "[source]\nsuite = \"trixie\"\n[packages]\ninclude = [\"./vendor/a_1_amd64.deb\", \"hello\"]\n";
        let child = "extends = \"base/b.toml\"\n[packages]\ninclude = [\"../debs/c.deb\", \"/opt/d.deb\", \"./base/vendor/a_1_amd64.deb\"]\n";
        let profile = load_from(
            &[("/p/k/base/b.toml", base), ("/p/k/kiosk.toml", child)],
            "k/kiosk.toml",
        )
        .unwrap();
        let local: Vec<&Path> = profile
            .packages
            .local
            .iter()
            .map(|l| l.value.as_path())
            .collect();
        assert_eq!(
            local,
            vec![
                Path::new("/p/k/base/vendor/a_1_amd64.deb"),
                Path::new("/p/debs/c.deb"),
                Path::new("/opt/d.deb")
            ]
        );
        assert_eq!(profile.packages.include.len(), 1);
        assert_eq!(
            profile.packages.local[1].at.to_string(),
            "/p/k/kiosk.toml:3:12"
        );
        let names: Vec<String> = local.iter().map(|p| profile.local_name(p)).collect();
        assert_eq!(
            names,
            vec![
                "./base/vendor/a_1_amd64.deb",
                "../debs/c.deb",
                "../../opt/d.deb"
            ]
        );
    }

    #[test]
    fn a_local_path_must_end_in_deb() {
        let text = error_text(
            &[(
                "/p/a.toml",
                "[source]\nsuite = \"trixie\"\n[packages]\ninclude = [\"./app.tar\"]\n",
            )],
            "a.toml",
        );
        assert_eq!(
            text,
            "/p/a.toml:4:12: `packages.include`: `./app.tar` is a path, and a local package must be a `.deb` file"
        );
    }

    #[test]
    fn the_digest_names_local_debs_relative_to_the_profile() {
        let text = "[source]\nsuite = \"trixie\"\n[packages]\ninclude = [\"./v/a.deb\"]\n";
        let here = load_from(&[("/p/a.toml", text)], "a.toml").unwrap();
        let moved = load_from(&[("/q/r/a.toml", text)], "/q/r/a.toml").unwrap();
        assert_eq!(here.resolution_digest(), moved.resolution_digest());
        let other = text.replace("./v/a.deb", "./v/b.deb");
        let other = load_from(&[("/p/a.toml", &other)], "a.toml").unwrap();
        assert_ne!(here.resolution_digest(), other.resolution_digest());
        let none = load_from(&[("/p/a.toml", "[source]\nsuite = \"trixie\"\n")], "a.toml");
        assert_ne!(none.unwrap().resolution_digest(), here.resolution_digest());
    }

    #[test]
    fn a_relation_in_include_is_named_as_such() {
        for entry in ["libc6 (>= 2.36)", "a | b", "libc6(>=2)"] {
            let text =
                format!("[source]\nsuite = \"trixie\"\n[packages]\ninclude = [\"{entry}\"]\n");
            let error = load_from(&[("/p/a.toml", &text)], "a.toml").unwrap_err();
            let message = error.to_string();
            assert!(message.contains("/p/a.toml:4:"), "{message}");
            assert!(message.contains("`packages.include`"), "{message}");
            assert!(
                message.contains(&format!(
                    "`{entry}` is not a package: write `NAME`, `NAME:ARCH`, `NAME=VERSION`"
                )),
                "{message}"
            );
        }
    }

    #[test]
    fn shown_profile_loads_to_the_same_values() {
        let base = "[source]\nsuite = \"trixie\"\nmirror = \"host\"\nsnapshot = \"20260101T000000Z\"\n[packages]\nvariant = \"minbase\"\ninclude = [\"sway\"]\n[build]\nhostname = \"kiosk\"\n[output]\nformat = \"tar.zst\"\n";
        let first = load_from(&[("/p/a.toml", base)], "a.toml").unwrap();
        let shown = first.to_toml();
        let second = load_from(&[("/p/b.toml", &shown)], "b.toml").unwrap();
        assert_eq!(first.source, second.source);
        assert_eq!(first.build, second.build);
        assert_eq!(first.output, second.output);
        assert_eq!(first.packages.variant, second.packages.variant);
        assert_eq!(second.to_toml().replace("/p/b.toml", "/p/a.toml"), shown);
    }
}
