//! `.deb` files: their control data, and their files written safely into a root.
//!
//! - [`deb`]: the ar container, read strictly;
//! - the tar members, read strictly by [`crate::tar::read`];
//! - [`extract`]: writing members inside the root (paths resolved in the root, files made `O_EXCL`
//!   in a private scratch folder and renamed into place, symlinks last; packages decoded in
//!   parallel and placed in plan order);
//! - [`batch`]: many packages at once, decoded in parallel and placed in plan order;
//! - [`claims`]: which package holds each location, decided as dpkg decides it (plan order,
//!   `Replaces`, directories never replaced by symlinks but for merged /usr); pure.
//!
//! Every package read here was verified against the SHA256 of the lock when it left the cache;
//! it is still treated as hostile (docs/THREATS.md §1 rule 7).

pub mod batch;
pub mod claims;
pub mod deb;
pub mod extract;

use crate::tar::read as tar;

use std::collections::BTreeSet;
use std::io::{Read, Write};

use crate::debian::deb822;
use crate::debian::fields::{self, MultiArch};
use crate::debian::relation::{self, Dependency, FieldKind, Relation};
use crate::debian::{Architecture, PackageName, Version};
use crate::error::{Classify, ExitClass};

/// Control-file fields dpkg only writes itself; a package that ships them is refused.
const FORBIDDEN_FIELDS: [&str; 4] = ["Status", "Config-Version", "Conffiles", "Triggers-Pending"];

/// A control member other than `control` (maintainer scripts, `md5sums`, `conffiles`...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlMember {
    pub name: String,
    pub data: Vec<u8>,
    pub mode: u32,
    pub mtime: i64,
}

/// A conffile declared by a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conffile {
    /// Relative path (no leading `/`).
    pub path: Vec<u8>,
    pub remove_on_upgrade: bool,
}

/// What a package's `control.tar` says.
#[derive(Debug, Clone)]
pub struct Control {
    /// The `control` file as shipped.
    pub text: Vec<u8>,
    pub package: PackageName,
    pub version: Version,
    pub architecture: Architecture,
    pub multi_arch: MultiArch,
    pub essential: bool,
    pub pre_depends: Vec<Relation>,
    pub depends: Vec<Relation>,
    pub provides: Vec<Dependency>,
    pub replaces: Vec<Dependency>,
    pub conffiles: Vec<Conffile>,
    /// `Installed-Size`, in KiB.
    pub installed_size: Option<u64>,
    /// Every member but `control`.
    pub members: Vec<ControlMember>,
    /// Things worth a warning (a duplicate conffile line).
    pub warnings: Vec<String>,
}

impl Control {
    pub fn member(&self, name: &str) -> Option<&ControlMember> {
        self.members.iter().find(|m| m.name == name)
    }

    /// The relative paths of the conffiles installed.
    pub fn conffile_paths(&self) -> BTreeSet<Vec<u8>> {
        self.conffiles
            .iter()
            .filter(|c| !c.remove_on_upgrade)
            .map(|c| c.path.clone())
            .collect()
    }
}

/// Why a package cannot be used, naming it. Shown on one line with every reason on the way
/// down (``package `x 1.0`: `data.tar`: member 1 `../x` at byte 512: unsafe path: ...``), so
/// that the `error:` line names the package, the member and the reason; an underlying I/O error
/// stays its cause.
#[derive(Debug)]
pub struct UnpackError {
    pub package: String,
    pub kind: UnpackErrorKind,
}

impl UnpackError {
    /// The errors below `kind` down to (not including) the first I/O error, and that one.
    fn chain(&self) -> (Vec<String>, Option<&(dyn std::error::Error + 'static)>) {
        let mut reasons = vec![self.kind.to_string()];
        let mut source = std::error::Error::source(&self.kind);
        while let Some(error) = source {
            if error.is::<std::io::Error>() {
                return (reasons, Some(error));
            }
            let text = error.to_string();
            // Some errors repeat their source in their own message; say it once.
            if reasons.last().is_none_or(|last| !last.ends_with(&text)) {
                reasons.push(text);
            }
            source = error.source();
        }
        (reasons, None)
    }
}

impl std::fmt::Display for UnpackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "package `{}`: {}",
            self.package,
            self.chain().0.join(": ")
        )
    }
}

impl std::error::Error for UnpackError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.chain().1
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UnpackErrorKind {
    #[error(transparent)]
    Deb(#[from] deb::DebError),
    #[error("`control.tar`")]
    ControlTar(#[source] tar::TarError),
    #[error("invalid control data: {0}")]
    Control(String),
    #[error("control/index mismatch: the package says {found}, the lock says {expected}")]
    Mismatch { found: String, expected: String },
    #[error("`data.tar`")]
    Extract(#[from] extract::ExtractError),
    #[error("cannot use the cached package: {0}")]
    Cache(String),
}

impl Classify for UnpackError {
    fn class(&self) -> ExitClass {
        match &self.kind {
            UnpackErrorKind::Mismatch { .. } | UnpackErrorKind::Cache(_) => ExitClass::Integrity,
            UnpackErrorKind::Extract(error @ extract::ExtractError::Io(_))
            | UnpackErrorKind::Extract(error @ extract::ExtractError::Interrupted { .. })
            | UnpackErrorKind::Extract(error @ extract::ExtractError::FilteredLinkTarget { .. }) => {
                error.class()
            }
            _ => ExitClass::Archive,
        }
    }

    fn hint(&self) -> Option<String> {
        match &self.kind {
            UnpackErrorKind::Extract(error) => error.hint(),
            _ => None,
        }
    }
}

fn control_error(reason: impl Into<String>) -> UnpackErrorKind {
    UnpackErrorKind::Control(reason.into())
}

/// Reads the members of a decompressed `control.tar`.
pub fn parse_control_tar(bytes: &[u8]) -> Result<Control, UnpackErrorKind> {
    let mut reader = tar::TarReader::new(bytes);
    let mut control_text: Option<Vec<u8>> = None;
    let mut members: Vec<ControlMember> = Vec::new();
    while let Some(entry) = reader.next_entry().map_err(UnpackErrorKind::ControlTar)? {
        if entry.path.is_empty() && entry.kind == tar::Kind::Dir {
            continue;
        }
        let name = String::from_utf8(entry.path.clone())
            .ok()
            .filter(|n| {
                !n.contains('/')
                    && n.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.+".contains(&b))
            })
            .ok_or_else(|| {
                control_error(format!(
                    "unexpected control member `{}`",
                    crate::debian::escape(&entry.path)
                ))
            })?;
        if entry.kind != tar::Kind::File {
            return Err(control_error(format!(
                "control member `{name}` is not a regular file"
            )));
        }
        if entry.size > deb::MAX_CONTROL {
            return Err(control_error(format!(
                "control member `{name}` is too large"
            )));
        }
        let mut data = vec![0u8; entry.size as usize];
        let mut filled = 0;
        while filled < data.len() {
            let n = reader
                .read(&mut data[filled..])
                .map_err(UnpackErrorKind::ControlTar)?;
            filled += n;
        }
        if members.iter().any(|m| m.name == name) || (name == "control" && control_text.is_some()) {
            return Err(control_error(format!("duplicate control member `{name}`")));
        }
        if name == "control" {
            control_text = Some(data);
        } else {
            members.push(ControlMember {
                name,
                data,
                mode: entry.mode,
                mtime: entry.mtime,
            });
        }
    }
    let text = control_text.ok_or_else(|| control_error("no `control` file"))?;
    let paragraphs = deb822::parse(&text).map_err(|e| control_error(format!("`control`: {e}")))?;
    let [paragraph] = paragraphs.as_slice() else {
        return Err(control_error("`control` must hold exactly one paragraph"));
    };
    for field in FORBIDDEN_FIELDS {
        if paragraph.get(field).is_some() {
            return Err(control_error(format!(
                "`control` contains the field `{field}`, which only dpkg writes"
            )));
        }
    }
    let field = |name: &str| -> Result<String, UnpackErrorKind> {
        let value = paragraph
            .get(name)
            .ok_or_else(|| control_error(format!("`control` has no `{name}`")))?;
        String::from_utf8(value.to_vec())
            .map_err(|_| control_error(format!("`{name}` is not UTF-8")))
    };
    let relations = |name: &str, kind: FieldKind| -> Result<Vec<Relation>, UnpackErrorKind> {
        match paragraph.get(name) {
            None => Ok(Vec::new()),
            Some(value) => {
                let folded = deb822::folded(value);
                let text = std::str::from_utf8(&folded)
                    .map_err(|_| control_error(format!("`{name}` is not UTF-8")))?;
                relation::parse(kind, text).map_err(|e| control_error(e.to_string()))
            }
        }
    };
    let package =
        PackageName::parse(&field("Package")?).map_err(|e| control_error(e.to_string()))?;
    let version = Version::parse(&field("Version")?).map_err(|e| control_error(e.to_string()))?;
    let architecture =
        Architecture::parse(&field("Architecture")?).map_err(|e| control_error(e.to_string()))?;
    let multi_arch =
        MultiArch::parse(paragraph.get("Multi-Arch")).map_err(|e| control_error(e.to_string()))?;
    let installed_size = match paragraph.get("Installed-Size") {
        None => None,
        Some(value) => Some(
            std::str::from_utf8(value)
                .ok()
                .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|t| t.parse::<u64>().ok())
                .ok_or_else(|| {
                    control_error(format!(
                        "invalid `Installed-Size` `{}`",
                        crate::debian::escape(value)
                    ))
                })?,
        ),
    };
    let mut warnings = Vec::new();
    let mut conffiles: Vec<Conffile> = Vec::new();
    if let Some(member) = members.iter().find(|m| m.name == "conffiles") {
        for line in member.data.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let (remove_on_upgrade, path) = match line.strip_prefix(b"remove-on-upgrade ") {
                Some(path) => (true, path),
                None => (false, line),
            };
            let path = path.strip_prefix(b"/").ok_or_else(|| {
                control_error(format!(
                    "conffile `{}` is not an absolute path",
                    crate::debian::escape(path)
                ))
            })?;
            let normalized = tar::normalize(path).map_err(|reason| {
                control_error(format!(
                    "conffile `/{}`: {reason}",
                    crate::debian::escape(path)
                ))
            })?;
            if normalized.is_empty() {
                return Err(control_error("conffile `/` is not a file"));
            }
            if conffiles.iter().any(|c| c.path == normalized) {
                warnings.push(format!(
                    "duplicate conffile `/{}`",
                    crate::debian::escape(&normalized)
                ));
                continue;
            }
            conffiles.push(Conffile {
                path: normalized,
                remove_on_upgrade,
            });
        }
    }
    Ok(Control {
        // Lenient where the index is strict: only `yes` counts, any other word is `no`.
        essential: fields::parse_essential(paragraph.get("Essential")) == Ok(true),
        pre_depends: relations("Pre-Depends", FieldKind::PreDepends)?,
        depends: relations("Depends", FieldKind::Depends)?,
        provides: relations("Provides", FieldKind::Provides)?
            .into_iter()
            .flat_map(|r| r.alternatives)
            .collect(),
        replaces: relations("Replaces", FieldKind::Replaces)?
            .into_iter()
            .flat_map(|r| r.alternatives)
            .collect(),
        text: text.clone(),
        package,
        version,
        architecture,
        multi_arch,
        conffiles,
        installed_size,
        members,
        warnings,
    })
}

/// Reads the control data of the `.deb` read from `deb` (a verified blob of the cache), and
/// checks the container to its end (the members after `control.tar`, from their headers), so
/// that a malformed `.deb` is refused before any package's files are written.
pub fn read_control(deb: impl Read + std::io::Seek) -> Result<Control, UnpackErrorKind> {
    let mut reader = deb::DebReader::open(deb)?;
    let control = reader.control_tar()?;
    let control = parse_control_tar(&control)?;
    reader.check_members()?;
    Ok(control)
}

/// Checks that the package is what the lock says (docs/THREATS.md C10a).
pub fn check_identity(
    control: &Control,
    name: &str,
    version: &str,
    architecture: &str,
) -> Result<(), UnpackErrorKind> {
    let found = format!(
        "{} {} {}",
        control.package, control.version, control.architecture
    );
    let expected = format!("{name} {version} {architecture}");
    let same_version = Version::parse(version).is_ok_and(|v| v == control.version);
    if control.package.as_str() != name
        || !same_version
        || control.architecture.as_str() != architecture
    {
        return Err(UnpackErrorKind::Mismatch { found, expected });
    }
    Ok(())
}

/// Most bytes of file data a package may unpack: twice its `Installed-Size` plus 16 MiB (dpkg
/// computes `Installed-Size` as the sum of its files' sizes rounded up to KiB, so a package
/// built by dpkg never comes near), else [`extract::MAX_BYTES`]. A 20 GiB stream of zeros in a
/// package that says it installs 4 KiB stops at the cap (docs/THREATS.md C8c).
pub fn data_cap(installed_size: Option<u64>) -> u64 {
    installed_size
        .map(|kib| kib.saturating_mul(2048).saturating_add(16 << 20))
        .unwrap_or(extract::MAX_BYTES)
        .min(extract::MAX_BYTES)
}

/// Unpacks the data of the `.deb` read from `deb` (a verified blob of the cache) into `target`. With `for_dpkg`, conffiles wait
/// under `.dpkg-new` and MD5s are kept for the dpkg database; without, files land in place.
/// With `copy`, every byte of the decompressed `data.tar` is also written there (the cache keeps
/// it, recompressed, so that the next build need not decompress xz again); a failure to write
/// the copy stops the copying, not the unpacking, and is returned beside the result.
pub fn unpack_data(
    target: &extract::Target,
    claimant: usize,
    deb: impl Read + 'static,
    control: &Control,
    diversions: &extract::Diversions,
    for_dpkg: bool,
    copy: Option<&mut dyn Write>,
) -> Result<(extract::Unpacked, Option<std::io::Error>), UnpackErrorKind> {
    let mut reader = deb::DebReader::open(std::io::BufReader::new(deb))?;
    reader.control_tar()?;
    let (_, data) = reader.data_tar()?;
    let mut tee = Tee {
        inner: data,
        copy,
        error: None,
    };
    let unpacked = unpack_tar(target, claimant, &mut tee, control, diversions, for_dpkg)?;
    Ok((unpacked, tee.error))
}

/// Unpacks a package's decompressed `data.tar`, read from `data`, into `target`; see
/// [`unpack_data`].
pub fn unpack_tar(
    target: &extract::Target,
    claimant: usize,
    data: impl Read,
    control: &Control,
    diversions: &extract::Diversions,
    for_dpkg: bool,
) -> Result<extract::Unpacked, UnpackErrorKind> {
    let tar = tar::TarReader::new(data);
    let options = extract::Options {
        conffiles: control.conffile_paths(),
        conffiles_in_place: !for_dpkg,
        md5_all: for_dpkg && control.member("md5sums").is_none(),
        max_bytes: data_cap(control.installed_size),
        ..Default::default()
    };
    let unpacked = target.unpack(
        claimant,
        tar,
        &options,
        diversions,
        control.package.as_str(),
    )?;
    // `remove-on-upgrade` names a conffile the package no longer ships.
    for conffile in control.conffiles.iter().filter(|c| c.remove_on_upgrade) {
        if unpacked
            .paths
            .iter()
            .any(|(path, _)| *path == conffile.path)
        {
            return Err(control_error(format!(
                "conffile `/{}` is marked remove-on-upgrade but shipped",
                crate::debian::escape(&conffile.path)
            )));
        }
    }
    Ok(unpacked)
}

/// A reader that copies what it reads to `copy`, until the copy fails.
struct Tee<'a, R> {
    inner: R,
    copy: Option<&'a mut dyn Write>,
    error: Option<std::io::Error>,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(copy) = self.copy.as_mut()
            && let Err(error) = copy.write_all(&buf[..n])
        {
            self.error = Some(error);
            self.copy = None;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_cap_follows_installed_size() {
        assert_eq!(data_cap(Some(4)), 8192 + (16 << 20));
        assert_eq!(data_cap(None), extract::MAX_BYTES);
        assert_eq!(data_cap(Some(u64::MAX)), extract::MAX_BYTES);
    }

    #[test]
    fn installed_size_must_be_a_number() {
        let control = |size: &str| {
            let text =
                format!("Package: pk\nVersion: 1.0\nArchitecture: amd64\nInstalled-Size: {size}\n");
            let mut tar = vec![0u8; 512];
            tar[..9].copy_from_slice(b"./control");
            tar[100..108].copy_from_slice(b"0000644\0");
            tar[108..116].copy_from_slice(b"0000000\0");
            tar[116..124].copy_from_slice(b"0000000\0");
            tar[124..136].copy_from_slice(format!("{:011o}\0", text.len()).as_bytes());
            tar[136..148].copy_from_slice(b"14000000000\0");
            tar[156] = b'0';
            tar[257..265].copy_from_slice(b"ustar\x0000");
            tar[148..156].copy_from_slice(b"        ");
            let sum: u64 = tar.iter().map(|&b| u64::from(b)).sum();
            tar[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
            tar.extend_from_slice(text.as_bytes());
            tar.resize(tar.len().div_ceil(512) * 512 + 1024, 0);
            parse_control_tar(&tar)
        };
        assert_eq!(control("42").unwrap().installed_size, Some(42));
        let error = control("4 KiB").unwrap_err().to_string();
        assert!(
            error.contains("invalid `Installed-Size` `4 KiB`"),
            "{error}"
        );
    }

    #[test]
    fn an_unpack_error_is_one_line_down_to_its_io_cause() {
        let error = UnpackError {
            package: "evil 1.0".into(),
            kind: UnpackErrorKind::Extract(extract::ExtractError::Tar(tar::TarError::Invalid {
                index: 1,
                name: Some("../x".into()),
                offset: 512,
                reason: "unsafe path: `..` path component".into(),
            })),
        };
        assert_eq!(
            error.to_string(),
            "package `evil 1.0`: `data.tar`: member 1 `../x` at byte 512: unsafe path: `..` path component"
        );
        assert!(std::error::Error::source(&error).is_none());
        let error = UnpackError {
            package: "full 1.0".into(),
            kind: UnpackErrorKind::Extract(extract::ExtractError::Io(crate::error::io_at(
                "write the file of member",
                std::path::Path::new("usr/bin/x"),
            )(
                std::io::Error::from_raw_os_error(28),
            ))),
        };
        assert_eq!(
            error.to_string(),
            "package `full 1.0`: `data.tar`: cannot write the file of member `usr/bin/x`"
        );
        let cause = std::error::Error::source(&error).unwrap().to_string();
        assert!(cause.contains("No space left on device"), "{cause}");
        assert_eq!(
            crate::error::Failure::from(error).lines().len(),
            2,
            "the headline, then the I/O error as its cause"
        );
    }
}
