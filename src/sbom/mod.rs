//! Software bills of materials beside every output: SPDX 2.3 ([`spdx`]) and CycloneDX 1.5
//! ([`cyclonedx`]), both JSON, both reproducible (no clock, no random identifier, no output
//! path: times come from the epoch, identifiers from the output's digest).
//!
//! What they say comes from the lock and the packages' own control data, the same in every
//! mode: each package's name, version, architecture and `.deb` SHA256 (the lock), its source
//! package and its `Pre-Depends`/`Depends` resolved against the set (the control data), and
//! its declared license from its machine-readable `/usr/share/doc/NAME/copyright` in the tree
//! ([`licenses`]). [`collect`] gathers these in the root phases (the only part that reads the
//! tree); the writers are pure.

pub mod cyclonedx;
pub mod licenses;
pub mod spdx;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::unpack::batch::Package;

/// The largest `copyright` file read (a few are hundreds of KiB).
const MAX_COPYRIGHT_BYTES: u64 = 8 << 20;

/// What the SBOMs describe, gathered from the built tree and the packages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contents {
    /// The system's `VERSION_ID` (`13`) and `VERSION_CODENAME` (`trixie`) from its
    /// `os-release`, for the `distro` qualifier of the packages' purls.
    pub distro_version: Option<String>,
    pub distro_codename: Option<String>,
    /// Every package of the lock, in the lock's order.
    pub packages: Vec<Facts>,
}

/// One package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    pub name: String,
    pub version: String,
    pub architecture: String,
    /// The `.deb`'s SHA256, hex.
    pub sha256: String,
    /// The source package and its version (`Source: name (version)`, else the package's).
    pub source: String,
    pub source_version: String,
    /// The SPDX expression its machine-readable copyright file declares.
    pub license: Option<String>,
    /// The packages of the set it depends on (`Pre-Depends` and `Depends`, each relation's
    /// first alternative the set satisfies), as [`Facts::key`]s, sorted.
    pub depends: Vec<String>,
}

impl Facts {
    /// `name:architecture`: unique in a lock.
    pub fn key(&self) -> String {
        format!("{}:{}", self.name, self.architecture)
    }

    /// The package URL: `pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=debian-13`.
    pub fn purl(&self, contents: &Contents) -> String {
        purl(
            &self.name,
            &self.version,
            &self.architecture,
            contents.distro().as_deref(),
        )
    }
}

/// A Debian package's purl, `pkg:deb/debian/NAME@VERSION?arch=ARCH[&distro=DISTRO]`, encoded
/// as the purl specification says: `+` is `%2B`, an epoch's `:` stays as it is.
pub fn purl(name: &str, version: &str, architecture: &str, distro: Option<&str>) -> String {
    let mut purl = format!(
        "pkg:deb/debian/{}@{}?arch={}",
        purl_escape(name),
        purl_escape(version),
        purl_escape(architecture)
    );
    if let Some(distro) = distro {
        purl.push_str("&distro=");
        purl.push_str(&purl_escape(distro));
    }
    purl
}

impl Contents {
    /// `debian-13`, else `debian-trixie` (unstable has no `VERSION_ID`).
    pub fn distro(&self) -> Option<String> {
        self.distro_version
            .as_ref()
            .or(self.distro_codename.as_ref())
            .map(|v| format!("debian-{v}"))
    }
}

/// Percent-encodes what a purl component may not hold as it is (`+` becomes `%2B`; letters,
/// digits, `-._~` and an epoch's `:` stay, as packageurl's reference libraries write them).
fn purl_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~:".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Gathers the SBOMs' facts: the packages' from their control data, the licenses from the
/// tree at `root` (read confined to it: a symlink in the tree resolves inside the tree).
pub fn collect(root: &Path, packages: &[Package]) -> Contents {
    let read = |relative: &str, cap: u64| {
        crate::confine::read_file(root, relative, cap)
            .ok()
            .flatten()
    };
    let os_release =
        read("etc/os-release", 64 << 10).or_else(|| read("usr/lib/os-release", 64 << 10));
    contents(
        packages,
        &mut |name| {
            read(
                &format!("usr/share/doc/{name}/copyright"),
                MAX_COPYRIGHT_BYTES,
            )
        },
        os_release.as_deref(),
    )
}

/// [`collect`] without the tree: `copyright` reads a package's copyright file.
pub fn contents(
    packages: &[Package],
    copyright: &mut dyn FnMut(&str) -> Option<Vec<u8>>,
    os_release: Option<&[u8]>,
) -> Contents {
    let (distro_version, distro_codename) = os_release.map(os_release_fields).unwrap_or_default();
    let depends = depends_within(packages);
    let facts = packages
        .iter()
        .zip(depends)
        .map(|(package, depends)| {
            let name = package.locked.name.clone();
            let (source, source_version) = source_of(package);
            let license = copyright(&name)
                .and_then(|bytes| licenses::declared(&bytes))
                .map(|license| license.expression);
            Facts {
                name,
                version: package.locked.version.clone(),
                architecture: package.locked.architecture.clone(),
                sha256: package.locked.sha256.hex(),
                source,
                source_version,
                license,
                depends,
            }
        })
        .collect();
    Contents {
        distro_version,
        distro_codename,
        packages: facts,
    }
}

/// `VERSION_ID` and `VERSION_CODENAME` of an os-release file.
fn os_release_fields(text: &[u8]) -> (Option<String>, Option<String>) {
    let text = String::from_utf8_lossy(text);
    let value = |key: &str| {
        text.lines().find_map(|line| {
            let rest = line.strip_prefix(key)?.strip_prefix('=')?;
            let value = rest.trim().trim_matches('"').trim_matches('\'');
            let valid = !value.is_empty()
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            valid.then(|| value.to_owned())
        })
    };
    (value("VERSION_ID"), value("VERSION_CODENAME"))
}

/// `Source: name (version)` of the control data, else the package's own name and version.
fn source_of(package: &Package) -> (String, String) {
    let own = (package.locked.name.clone(), package.locked.version.clone());
    let Some(Ok(paragraph)) = crate::debian::deb822::paragraphs(&package.control.text).next()
    else {
        return own;
    };
    let Some(value) = paragraph.get("Source") else {
        return own;
    };
    let value = String::from_utf8_lossy(value);
    let value = value.trim();
    match value.split_once('(') {
        Some((name, version)) => (
            name.trim().to_owned(),
            version.trim_end_matches(')').trim().to_owned(),
        ),
        None if !value.is_empty() => (value.to_owned(), own.1),
        None => own,
    }
}

/// For each package, the packages of the set its `Pre-Depends` and `Depends` lead to: for
/// each relation, the first alternative that a package of the set (or what it provides, of
/// an applicable architecture) satisfies, as dpkg would see it.
fn depends_within(packages: &[Package]) -> Vec<Vec<String>> {
    // name -> (key, version, architecture, provided?) for real packages and provides.
    let mut by_name: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut provided: BTreeMap<String, Vec<(usize, Option<crate::debian::version::Version>)>> =
        BTreeMap::new();
    for (index, package) in packages.iter().enumerate() {
        by_name
            .entry(package.control.package.as_str().to_owned())
            .or_default()
            .push(index);
        for provide in &package.control.provides {
            provided
                .entry(provide.name.as_str().to_owned())
                .or_default()
                .push((
                    index,
                    provide
                        .constraint
                        .as_ref()
                        .filter(|c| c.op == crate::debian::relation::Op::Equal)
                        .map(|c| c.version.clone()),
                ));
        }
    }
    let key = |index: usize| {
        let p = &packages[index];
        format!("{}:{}", p.locked.name, p.locked.architecture)
    };
    packages
        .iter()
        .enumerate()
        .map(|(me, package)| {
            let arch = &package.control.architecture;
            let mut found: BTreeSet<String> = BTreeSet::new();
            for relation in package
                .control
                .pre_depends
                .iter()
                .chain(&package.control.depends)
            {
                let applicable = relation.alternatives.iter().filter(|alternative| {
                    alternative
                        .arch_restriction
                        .as_ref()
                        .is_none_or(|r| r.applies_to(arch))
                });
                for alternative in applicable {
                    let name = alternative.name.as_str();
                    let real = by_name.get(name).into_iter().flatten().copied().find(|&i| {
                        alternative
                            .constraint
                            .as_ref()
                            .is_none_or(|c| c.admits(&packages[i].control.version))
                    });
                    let by_provide =
                        || {
                            provided.get(name).into_iter().flatten().find_map(
                                |(i, version)| match (&alternative.constraint, version) {
                                    (None, _) => Some(*i),
                                    (Some(c), Some(v)) if c.admits(v) => Some(*i),
                                    _ => None,
                                },
                            )
                        };
                    if let Some(target) = real.or_else(by_provide) {
                        if target != me {
                            found.insert(key(target));
                        }
                        break;
                    }
                }
            }
            found.into_iter().collect()
        })
        .collect()
}

/// What the SBOMs say of the output itself. Not its file name: the same output written under
/// another name has the same SBOMs, byte for byte.
pub struct Subject<'a> {
    /// The profile's name (`kiosk-chromium`).
    pub profile: &'a str,
    /// The output's SHA256.
    pub sha256: &'a crate::digest::Sha256Digest,
    pub epoch: i64,
}

/// A UUID (version 4 layout, variant 1) made from a digest: a fixed identifier for a
/// document about a fixed output.
pub fn uuid_of(digest: &crate::digest::Sha256Digest, purpose: &str) -> String {
    let mut hasher = crate::digest::Hasher::new();
    hasher.update(purpose.as_bytes());
    hasher.update(&digest.0);
    let mut b = hasher.finish().0;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b[..16].iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A JSON document as written: pretty, with a final newline.
pub(crate) fn to_text(value: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_escape_what_a_purl_may_not_hold() {
        let contents = Contents {
            distro_version: Some("13".into()),
            distro_codename: Some("trixie".into()),
            packages: vec![],
        };
        let facts = Facts {
            name: "libstdc++6".into(),
            version: "1:14.2.0-19".into(),
            architecture: "amd64".into(),
            sha256: String::new(),
            source: "gcc-14".into(),
            source_version: "14.2.0-19".into(),
            license: None,
            depends: vec![],
        };
        assert_eq!(
            facts.purl(&contents),
            "pkg:deb/debian/libstdc%2B%2B6@1:14.2.0-19?arch=amd64&distro=debian-13"
        );
        let sid = Contents {
            distro_version: None,
            ..contents
        };
        assert!(facts.purl(&sid).ends_with("&distro=debian-trixie"));
    }

    #[test]
    fn os_release_fields_are_read_and_checked() {
        let text = b"PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nVERSION_ID=\"13\"\nVERSION_CODENAME=trixie\n";
        assert_eq!(
            os_release_fields(text),
            (Some("13".into()), Some("trixie".into()))
        );
        assert_eq!(os_release_fields(b"VERSION_ID=\"1&3\"\n"), (None, None));
    }

    #[test]
    fn uuids_are_fixed_per_digest_and_purpose() {
        let digest = crate::digest::Sha256Digest::of(b"x");
        let a = uuid_of(&digest, "spdx");
        assert_eq!(a, uuid_of(&digest, "spdx"));
        assert_ne!(a, uuid_of(&digest, "cyclonedx"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }
}
