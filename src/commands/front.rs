//! mmdebstrap's command line as a front door (README "Coming from mmdebstrap"):
//! `debroot build [OPTIONS] SUITE OUTPUT [MIRROR]` builds the profile the options imply, and the
//! same options override a profile's values when a profile is given.
//!
//! The options become TOML ([`toml::Table`]) that is loaded through [`crate::profile::load`] from
//! a virtual file, so that a value given on the command line is validated exactly as the same
//! value written in a profile. A profile given with options is shown as TOML
//! ([`Profile::to_toml`]), the options applied to that text, and loaded again.

use std::path::{Path, PathBuf};

use toml::{Table, Value};

use crate::cli::FrontArgs;
use crate::error::{Classify, ExitClass, Failure, local};
use crate::pipeline::Env;
use crate::profile::{Mode, OutputFormat, Profile, ProfileError};
use crate::timestamp::Timestamp;

/// Whether the first positional argument of `build` names a profile (else it is a SUITE): it
/// ends in `.toml`, holds a `/`, starts with `builtin:`, is an existing file, or is a built-in
/// profile's name (`minbase`, `kiosk-chromium`).
pub fn names_profile(text: &str) -> bool {
    text.ends_with(".toml")
        || text.contains('/')
        || text.starts_with(crate::builtin::PREFIX)
        || Path::new(text).is_file()
        || crate::builtin::exists(text)
}

/// The name of the virtual file the command line's values are read from (in error messages).
const VIRTUAL: &str = "<command line>";

/// What is wrong with an mmdebstrap-style command line. All are usage errors (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum FrontError {
    #[error("mmdebstrap's `{option}` is not supported by debroot: {reason}")]
    Unsupported {
        option: &'static str,
        reason: &'static str,
        instead: &'static str,
    },
    #[error("`--mode={mode}` is not supported by debroot: {reason}")]
    UnsupportedMode { mode: String, reason: &'static str },
    #[error("`--mode={0}` is no mode")]
    UnknownMode(String),
    #[error("`--variant={0}` is no variant")]
    UnknownVariant(String),
    #[error("`--format={format}` is not supported by debroot: {reason}")]
    UnsupportedFormat {
        format: String,
        reason: &'static str,
        instead: &'static str,
    },
    #[error("`--format={0}` is no output format")]
    UnknownFormat(String),
    #[error(
        "`--dpkgopt={0}` is not supported by debroot: it takes only path-exclude and path-include"
    )]
    Dpkgopt(String),
    #[error(
        "`--aptopt={0}` is not supported by debroot: it takes only Apt::Install-Recommends \"true\" or \"false\""
    )]
    Aptopt(String),
    #[error("`--include={0}`: apt patterns are not supported by debroot")]
    Pattern(String),
    #[error("debroot reads one --keyring, not {0}")]
    Keyrings(usize),
    #[error("{} mirrors given ({}): debroot reads one mirror here", .0.len(), .0.join(", "))]
    Mirrors(Vec<String>),
    #[error(
        "MIRROR `{0}` is not a mirror URL: debroot takes a URL or `host` here, no sources line or file"
    )]
    NotAMirror(String),
    #[error("`{0}` is neither a profile nor a suite")]
    NotASuite(String),
    #[error("`debroot build {0}` needs an OUTPUT")]
    NoOutput(String),
    #[error("{option}: {message}")]
    Invalid {
        option: String,
        key: String,
        message: String,
    },
}

impl Classify for FrontError {
    fn class(&self) -> ExitClass {
        ExitClass::Usage
    }

    fn hint(&self) -> Option<String> {
        use FrontError::*;
        Some(match self {
            Unsupported { instead, .. } | UnsupportedFormat { instead, .. } => (*instead).into(),
            UnsupportedMode { .. } | UnknownMode(_) => {
                "debroot's modes: auto (root as root, else unshare), root, unshare (a normal user with /etc/subuid ranges), extract (unpack only)".into()
            }
            UnknownVariant(_) => format!(
                "the variants are mmdebstrap's: {}",
                VARIANTS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            ),
            UnknownFormat(_) => {
                "the formats: auto, directory (dir), tar, tar.gz, tar.xz, tar.zst, squashfs, erofs, ext4, null".into()
            }
            Dpkgopt(_) => "`--dpkgopt path-exclude=GLOB` (packages.path-exclude) and `path-include=GLOB`; other dpkg settings of the image: a customize hook writing /etc/dpkg/dpkg.cfg.d/".into(),
            Aptopt(_) => "apt settings of the image: a customize hook writing /etc/apt/apt.conf.d/".into(),
            Pattern(_) => "name the packages (`--include=less,vim`); `--variant` chooses packages by priority".into(),
            Keyrings(_) => "more repositories, each with its own keyring: `[[source.repository]]` tables in a profile".into(),
            Mirrors(_) | NotAMirror(_) => "more repositories, or sources lines, go in a profile's `[[source.repository]]` tables: `debroot profile show --from-args [OPTIONS] SUITE > my.toml`, then edit it".into(),
            NotASuite(_) => "a profile is a `.toml` file, a path (`./NAME`) or `builtin:NAME`; a suite is a codename or suite such as `trixie` or `stable`".into(),
            NoOutput(suite) => format!("`debroot build {suite} rootfs.tar`, or `-o rootfs.tar`"),
            Invalid { key, .. } => format!(
                "`debroot profile show --from-args [OPTIONS] SUITE` prints the profile the command line makes (this is its `{key}`)"
            ),
        })
    }
}

/// The variant names mmdebstrap takes, and what they are in a profile.
const VARIANTS: &[(&str, &str)] = &[
    ("extract", "extract"),
    ("custom", "custom"),
    ("essential", "essential"),
    ("apt", "apt"),
    ("required", "minbase"),
    ("minbase", "minbase"),
    ("buildd", "buildd"),
    ("important", "important"),
    ("debootstrap", "important"),
    ("-", "important"),
    ("standard", "standard"),
];

/// `--mode`: mmdebstrap's names; the ones debroot does not have say why.
pub fn mode_of(text: &str) -> Result<Mode, FrontError> {
    if let Some(mode) = Mode::parse(text) {
        return Ok(mode);
    }
    let reason = match text {
        "sudo" => "debroot never runs sudo; run `sudo debroot build --mode root ...`",
        "fakeroot" | "fakechroot" => {
            "fake root environments cannot run maintainer scripts reliably or reproducibly; unshare mode runs them as a normal user"
        }
        "proot" => "proot is not supported; unshare mode runs scripts as a normal user",
        "chrootless" => {
            "maintainer scripts would run on the build machine, outside the root; extract mode unpacks without running any"
        }
        _ => return Err(FrontError::UnknownMode(text.to_owned())),
    };
    Err(FrontError::UnsupportedMode {
        mode: text.to_owned(),
        reason,
    })
}

/// `--format`: mmdebstrap's names and debroot's; `None` for `auto` (from the output's name).
pub fn format_of(text: &str) -> Result<Option<OutputFormat>, FrontError> {
    match text {
        "auto" => Ok(None),
        "directory" => Ok(Some(OutputFormat::Dir)),
        "sqfs" => Ok(Some(OutputFormat::Squashfs)),
        "ext2" => Err(FrontError::UnsupportedFormat {
            format: text.to_owned(),
            reason: "debroot writes ext4 images, not ext2",
            instead: "`--format ext4` (or an output named `.ext4`)",
        }),
        _ => OutputFormat::parse(text)
            .map(Some)
            .ok_or_else(|| FrontError::UnknownFormat(text.to_owned())),
    }
}

/// Refuses the mmdebstrap options debroot does not take, saying why.
pub fn check_unsupported(args: &FrontArgs) -> Result<(), FrontError> {
    let u = &args.unsupported;
    let refuse = |option, reason, instead| {
        Err(FrontError::Unsupported {
            option,
            reason,
            instead,
        })
    };
    if u.simulate {
        return refuse(
            "--simulate",
            "debroot has no dry run",
            "`debroot lock --print PROFILE` shows the package set without building",
        );
    }
    if !u.skip.is_empty() {
        return refuse(
            "--skip",
            "debroot's stages and checks are what make the output reproducible",
            "undo what you do not want in a customize hook (`--customize-hook`)",
        );
    }
    if u.logfile.is_some() {
        return refuse(
            "--logfile",
            "debroot writes its messages to stderr only",
            "redirect stderr (`2> build.log`); a failed script's log is kept with --keep-failed",
        );
    }
    if u.debug {
        return refuse("--debug", "debroot's debugging output is -vv", "use `-vv`");
    }
    if u.man {
        return refuse(
            "--man",
            "debroot's manual is its --help and README",
            "`debroot build --help`",
        );
    }
    Ok(())
}

/// Splits a list option as mmdebstrap does: comma or whitespace separated, repeatable,
/// duplicates dropped; an `--include` argument that starts with a path (`/`, `./`, `../`) is
/// one item.
fn items(values: &[String], paths: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in values {
        let whole = paths
            && (value.starts_with('/') || value.starts_with("./") || value.starts_with("../"));
        let parts: Vec<&str> = if whole {
            vec![value.as_str()]
        } else {
            value
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .collect()
        };
        for part in parts {
            if !out.iter().any(|o| o == part) {
                out.push(part.to_owned());
            }
        }
    }
    out
}

/// The values the options set, checked where the profile cannot check them, paths made
/// absolute (relative to the current directory, as mmdebstrap takes them).
#[derive(Debug, Default)]
struct Values {
    variant: Option<&'static str>,
    include: Vec<String>,
    exclude: Vec<String>,
    components: Vec<String>,
    architectures: Vec<String>,
    keyring: Option<PathBuf>,
    path_exclude: Vec<String>,
    path_include: Vec<String>,
    recommends: Option<bool>,
    hooks: Vec<PathBuf>,
    mirror: Option<String>,
}

impl Values {
    fn of(args: &FrontArgs, mirrors: &[String], current_dir: &Path) -> Result<Values, FrontError> {
        check_unsupported(args)?;
        let mut values = Values {
            variant: match &args.variant {
                None => None,
                Some(text) => Some(
                    VARIANTS
                        .iter()
                        .find(|(name, _)| name == text)
                        .map(|(_, variant)| *variant)
                        .ok_or_else(|| FrontError::UnknownVariant(text.clone()))?,
                ),
            },
            components: items(&args.components, false),
            architectures: items(&args.architectures, false),
            ..Values::default()
        };
        for item in items(&args.include, true) {
            if item.starts_with(['?', '~', '!', '(']) {
                return Err(FrontError::Pattern(item));
            }
            if item.starts_with("./") || item.starts_with("../") {
                values
                    .include
                    .push(current_dir.join(&item).display().to_string());
            } else if let Some(name) = item.strip_suffix('-').filter(|_| !item.starts_with('/')) {
                // apt's `pkg-`: not installed.
                values.exclude.push(name.to_owned());
            } else {
                values.include.push(item);
            }
        }
        for item in items(&args.exclude, false) {
            if !values.exclude.contains(&item) {
                values.exclude.push(item);
            }
        }
        match args.keyring.as_slice() {
            [] => {}
            [one] => values.keyring = Some(current_dir.join(one)),
            more => return Err(FrontError::Keyrings(more.len())),
        }
        for option in &args.dpkgopt {
            // dpkg.cfg's form, or the command line's (`--path-exclude=...`).
            let setting = option.strip_prefix("--").unwrap_or(option);
            if let Some(glob) = setting.strip_prefix("path-exclude=") {
                values.path_exclude.push(glob.to_owned());
            } else if let Some(glob) = setting.strip_prefix("path-include=") {
                values.path_include.push(glob.to_owned());
            } else {
                return Err(FrontError::Dpkgopt(option.clone()));
            }
        }
        for option in &args.aptopt {
            values.recommends = Some(recommends_of(option)?);
        }
        values.hooks = args
            .hook_directory
            .iter()
            .map(|dir| current_dir.join(dir))
            .collect();
        match mirrors {
            [] => {}
            [one] => {
                if one == "-"
                    || one.starts_with("deb ")
                    || one.starts_with("deb-src ")
                    || one.contains(char::is_whitespace)
                    || (!one.contains("://") && one != "host")
                {
                    return Err(FrontError::NotAMirror(one.clone()));
                }
                values.mirror = Some(one.clone());
            }
            more => return Err(FrontError::Mirrors(more.to_vec())),
        }
        Ok(values)
    }

    /// Whether any value of the profile changes.
    fn is_empty(&self) -> bool {
        self.variant.is_none()
            && self.include.is_empty()
            && self.exclude.is_empty()
            && self.components.is_empty()
            && self.architectures.is_empty()
            && self.keyring.is_none()
            && self.path_exclude.is_empty()
            && self.path_include.is_empty()
            && self.recommends.is_none()
            && self.hooks.is_empty()
            && self.mirror.is_none()
    }

    /// Writes the values into a profile's table: lists are appended to (`components` and
    /// `architectures`, which replace), single values replaced.
    fn apply(&self, table: &mut Table) {
        let strings = |items: &[String]| items.to_vec();
        let paths = |items: &[PathBuf]| {
            items
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
        };
        if let Some(variant) = self.variant {
            set(table, "packages", "variant", Value::from(variant));
        }
        append(table, "packages", "include", strings(&self.include));
        append(table, "packages", "exclude", strings(&self.exclude));
        if !self.components.is_empty() {
            set(table, "source", "components", list(&self.components));
        }
        if !self.architectures.is_empty() {
            set(table, "source", "architectures", list(&self.architectures));
        }
        if let Some(keyring) = &self.keyring {
            set(
                table,
                "source",
                "keyring",
                Value::from(keyring.display().to_string()),
            );
        }
        append(
            table,
            "packages",
            "path-exclude",
            strings(&self.path_exclude),
        );
        append(
            table,
            "packages",
            "path-include",
            strings(&self.path_include),
        );
        if let Some(recommends) = self.recommends {
            set(table, "packages", "recommends", Value::from(recommends));
        }
        append(table, "build", "hooks", paths(&self.hooks));
        if let Some(mirror) = &self.mirror {
            set(table, "source", "mirror", Value::from(mirror.as_str()));
        }
    }
}

/// `--aptopt`: only `Apt::Install-Recommends "true"|"false"` (any case, `;` optional).
fn recommends_of(option: &str) -> Result<bool, FrontError> {
    let refuse = || FrontError::Aptopt(option.to_owned());
    let text = option.trim().trim_end_matches(';').trim();
    let (key, value) = text.split_once(char::is_whitespace).ok_or_else(refuse)?;
    if !key.eq_ignore_ascii_case("apt::install-recommends") {
        return Err(refuse());
    }
    match value.trim().trim_matches('"').to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(refuse()),
    }
}

fn list(items: &[String]) -> Value {
    Value::Array(items.iter().map(|s| Value::from(s.as_str())).collect())
}

fn section<'a>(table: &'a mut Table, name: &str) -> &'a mut Table {
    let entry = table
        .entry(name.to_owned())
        .or_insert_with(|| Value::Table(Table::new()));
    if !entry.is_table() {
        *entry = Value::Table(Table::new());
    }
    match entry {
        Value::Table(table) => table,
        _ => unreachable!("made a table above"),
    }
}

fn set(table: &mut Table, name: &str, key: &str, value: Value) {
    section(table, name).insert(key.to_owned(), value);
}

fn append(table: &mut Table, name: &str, key: &str, items: Vec<String>) {
    if items.is_empty() {
        return;
    }
    let section = section(table, name);
    let mut all: Vec<Value> = match section.remove(key) {
        Some(Value::Array(existing)) => existing,
        _ => Vec::new(),
    };
    for item in items {
        let value = Value::from(item);
        if !all.contains(&value) {
            all.push(value);
        }
    }
    section.insert(key.to_owned(), Value::Array(all));
}

/// A suite or codename as `source.suite` takes one on the command line: a word.
fn is_suite_word(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}

/// The option that sets a profile key, for messages.
fn option_of(key: &str) -> String {
    const OPTIONS: &[(&str, &str)] = &[
        ("source.suite", "SUITE"),
        ("source.components", "--components"),
        ("source.architectures", "--architectures"),
        ("source.keyring", "--keyring"),
        ("source.mirror", "MIRROR"),
        ("packages.variant", "--variant"),
        ("packages.include", "--include"),
        ("packages.exclude", "--exclude"),
        ("packages.recommends", "--aptopt"),
        ("packages.path-exclude", "--dpkgopt path-exclude"),
        ("packages.path-include", "--dpkgopt path-include"),
        ("build.hooks", "--hook-directory"),
        ("build.mode", "--mode"),
        ("output.format", "--format"),
    ];
    OPTIONS
        .iter()
        .find(|(k, _)| key.starts_with(k))
        .map_or_else(|| key.to_owned(), |(_, o)| (*o).to_owned())
}

/// Loads `text` as the profile file `path` (which nothing else is read for).
fn load_text(env: &Env<'_>, path: &Path, text: &str) -> Result<Profile, Failure> {
    let mut read = |asked: &Path| -> std::io::Result<Vec<u8>> {
        if asked == path {
            Ok(text.as_bytes().to_vec())
        } else {
            Err(std::io::Error::from(std::io::ErrorKind::NotFound))
        }
    };
    let folder = path.parent().unwrap_or(Path::new("/"));
    crate::profile::load(
        path,
        crate::profile::LoadOptions {
            current_dir: folder,
            now: Timestamp::from_system(env.context.now()),
            read: &mut read,
            // The text is a whole profile: it extends nothing.
            builtins: &mut || Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
        },
    )
    .map_err(|error| match error {
        ProfileError::Invalid { at, key, message } if at.file == path => FrontError::Invalid {
            option: option_of(&key),
            key,
            message,
        }
        .into(),
        other => other.into(),
    })
}

/// The first 16 hex digits of the profile's resolution digest: different package sets never
/// share a lock.
fn short_digest(profile: &Profile) -> String {
    profile.resolution_digest().hex().chars().take(16).collect()
}

fn current_dir() -> Result<PathBuf, Failure> {
    std::env::current_dir()
        .map_err(|error| Failure::from(local("determine the current directory")(error)))
}

/// The profile an mmdebstrap-style command line implies: SUITE, the options, MIRROR (else
/// `host`), everything else debroot's defaults. Its lock is
/// `$XDG_STATE_HOME/debroot/locks/SUITE-VARIANT-DIGEST.lock`.
pub fn implied_profile(
    env: &Env<'_>,
    suite: &str,
    args: &FrontArgs,
    mirrors: &[String],
) -> Result<Profile, Failure> {
    let mut profile = implied(env, suite, args, mirrors)?;
    let stem = format!(
        "{suite}-{}-{}",
        profile.packages.variant.as_str(),
        short_digest(&profile)
    );
    profile.lock_file = super::state_lock_file(env, &stem, "the command line's profile")?;
    Ok(profile)
}

/// The TOML of [`implied_profile`], complete, with no header (`profile show --from-args`).
pub fn implied_profile_text(
    env: &Env<'_>,
    suite: &str,
    args: &FrontArgs,
    mirrors: &[String],
) -> Result<String, Failure> {
    Ok(implied(env, suite, args, mirrors)?.toml_body())
}

fn implied(
    env: &Env<'_>,
    suite: &str,
    args: &FrontArgs,
    mirrors: &[String],
) -> Result<Profile, Failure> {
    if !is_suite_word(suite) {
        return Err(FrontError::NotASuite(suite.to_owned()).into());
    }
    let current_dir = current_dir()?;
    let values = Values::of(args, mirrors, &current_dir)?;
    let mut table = Table::new();
    set(&mut table, "source", "suite", Value::from(suite));
    set(&mut table, "source", "mirror", Value::from("host"));
    set(&mut table, "packages", "variant", Value::from("important"));
    values.apply(&mut table);
    if let Some(text) = &args.mode {
        set(
            &mut table,
            "build",
            "mode",
            Value::from(mode_of(text)?.as_str()),
        );
    }
    if let Some(format) = args.format.as_deref().map(format_of).transpose()?.flatten() {
        set(&mut table, "output", "format", Value::from(format.as_str()));
    }
    let text = toml::to_string(&table).map_err(local("render the command line's profile"))?;
    load_text(env, &current_dir.join(VIRTUAL), &text)
}

/// `profile` with the options' values: unchanged when they set none. When they change the
/// package set, the lock goes to the state folder (`STEM-DIGEST.lock`), never over the
/// profile's own.
pub fn override_profile(
    env: &Env<'_>,
    profile: Profile,
    args: &FrontArgs,
    mirrors: &[String],
) -> Result<Profile, Failure> {
    let values = Values::of(args, mirrors, &current_dir()?)?;
    if values.is_empty() {
        return Ok(profile);
    }
    let shown = profile.toml_body();
    let mut table: Table = shown
        .parse()
        .map_err(local("read back the profile as TOML"))?;
    values.apply(&mut table);
    let text = toml::to_string(&table).map_err(local("render the profile"))?;
    let virtual_path = profile.folder().join(VIRTUAL);
    let mut changed = load_text(env, &virtual_path, &text)?;
    changed.path = profile.path.clone();
    changed.files = profile.files.clone();
    changed.lock_file = profile.lock_file.clone();
    if changed.resolution_digest() != profile.resolution_digest() {
        let stem = profile
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().replace(':', "-"))
            .unwrap_or_else(|| "profile".into());
        let stem = format!("{stem}-{}", short_digest(&changed));
        changed.lock_file = super::state_lock_file(env, &stem, "the profile with options")?;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_split_as_mmdebstrap_splits_them() {
        let given = vec![
            "pkg1/stable pkg2=1.0 pkg3-".to_owned(),
            "pkg1/stable,,pkg4".to_owned(),
            "./a dir/x,y.deb".to_owned(),
        ];
        assert_eq!(
            items(&given, true),
            [
                "pkg1/stable",
                "pkg2=1.0",
                "pkg3-",
                "pkg4",
                "./a dir/x,y.deb"
            ]
        );
        assert_eq!(
            items(&["main contrib,main".into()], false),
            ["main", "contrib"]
        );
    }

    #[test]
    fn the_first_argument_is_a_profile_or_a_suite() {
        assert!(names_profile("minbase.toml"));
        assert!(names_profile("profiles/minbase"));
        assert!(names_profile("builtin:minbase"));
        assert!(names_profile("kiosk-chromium"));
        assert!(!names_profile("trixie"));
        assert!(is_suite_word("trixie"));
        assert!(is_suite_word("stable-backports"));
        assert!(!is_suite_word("Trixie"));
        assert!(!is_suite_word(""));
    }

    #[test]
    fn modes_formats_and_apt_options() {
        assert_eq!(mode_of("unshare").ok(), Some(Mode::Unshare));
        assert!(matches!(
            mode_of("fakeroot"),
            Err(FrontError::UnsupportedMode { .. })
        ));
        assert!(matches!(mode_of("x"), Err(FrontError::UnknownMode(_))));
        assert_eq!(format_of("auto").ok(), Some(None));
        assert_eq!(format_of("directory").ok(), Some(Some(OutputFormat::Dir)));
        assert!(format_of("ext2").is_err());
        assert_eq!(
            recommends_of("Apt::Install-Recommends \"true\"").ok(),
            Some(true)
        );
        assert_eq!(
            recommends_of("APT::Install-Recommends \"0\";").ok(),
            Some(false)
        );
        assert!(recommends_of("Acquire::Languages \"none\"").is_err());
    }
}
