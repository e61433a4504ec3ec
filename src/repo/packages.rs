//! `Packages` indexes: one record per binary package, validated field by field.
//!
//! Pure. The index bytes given here were already checked against the size and SHA-256 of the
//! signed `Release`. Even so, a stanza is only trusted as far as its fields are valid
//! (docs/THREATS.md A7): a package name that is not a Debian name, a `Filename` that is absolute,
//! has `..` or a URL scheme, a `Version` that is not a version, a missing `Size` or `SHA256`, a
//! duplicate field (a smuggled second `Package:`) each reject the stanza, recorded with its line so
//! that asking for that package later names the reason. A stanza whose `Architecture` is neither
//! the index's nor `all` rejects the whole index (A5: mix-and-match). `Status` and any other field
//! debroot does not use are ignored; nothing from an index is ever written into a dpkg database.
//!
//! Relation fields are kept as text and parsed when the resolver first looks at the package: a
//! resolution touches a few thousand of the 65,000 packages of a suite.

use std::fmt;

use crate::debian::deb822::{self, Paragraph};
use crate::debian::fields::{self, MultiArch, Priority};
use crate::debian::{Architecture, PackageName, Version};
use crate::digest::Sha256Digest;

/// The relation fields of a package, as written (continuation lines folded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelationTexts {
    pub pre_depends: Option<Box<str>>,
    pub depends: Option<Box<str>>,
    pub recommends: Option<Box<str>>,
    pub conflicts: Option<Box<str>>,
    pub breaks: Option<Box<str>>,
    pub replaces: Option<Box<str>>,
    pub provides: Option<Box<str>>,
}

/// One binary package of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRecord {
    pub name: PackageName,
    pub version: Version,
    pub architecture: Architecture,
    pub multi_arch: MultiArch,
    pub essential: bool,
    pub priority: Priority,
    /// Pool path relative to the archive root, e.g. `pool/main/h/hello/hello_2.10-3_amd64.deb`.
    pub filename: Box<str>,
    pub size: u64,
    pub sha256: Sha256Digest,
    pub relations: RelationTexts,
    /// Line of the stanza in its index, for messages.
    pub line: usize,
}

/// A stanza that was not accepted, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub line: usize,
    /// The `Package` field, when there was one (escaped for display).
    pub package: Option<String>,
    pub reason: String,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.package {
            Some(name) => write!(f, "line {}: package `{name}`: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// A parsed index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackagesIndex {
    pub packages: Vec<PackageRecord>,
    pub rejected: Vec<Rejected>,
}

/// Why a whole index is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackagesError {
    #[error(
        "line {line}: package `{package}` has Architecture `{found}` in the index of `{expected}`"
    )]
    Architecture {
        line: usize,
        package: String,
        found: String,
        expected: String,
    },
}

fn required<'a>(paragraph: &'a Paragraph<'_>, field: &str) -> Result<&'a str, String> {
    let value = paragraph
        .get(field)
        .ok_or_else(|| format!("no `{field}` field"))?;
    std::str::from_utf8(value).map_err(|_| format!("`{field}` is not UTF-8"))
}

/// A pool path that stays inside the archive: relative, no `..`, no empty component, no URL
/// scheme, no control characters or spaces. Checked for every package of every index read (and
/// again when the compact form is decoded), so in one pass over the bytes.
pub(crate) fn valid_filename(path: &str) -> bool {
    fn component_ok(component: &[u8]) -> bool {
        !component.is_empty() && component != b"." && component != b".."
    }
    let bytes = path.as_bytes();
    // A leading `/` makes an empty first component.
    let mut start = 0;
    for (at, &b) in bytes.iter().enumerate() {
        match b {
            b'/' => {
                if !component_ok(&bytes[start..at]) {
                    return false;
                }
                start = at + 1;
            }
            b':' if bytes[at + 1..].starts_with(b"//") => return false,
            b'\\' => return false,
            _ if !b.is_ascii_graphic() => return false,
            _ => {}
        }
    }
    component_ok(&bytes[start..])
}

fn relation_text(paragraph: &Paragraph<'_>, field: &str) -> Result<Option<Box<str>>, String> {
    paragraph
        .get(field)
        .map(|value| {
            let folded = deb822::folded(value);
            std::str::from_utf8(&folded)
                .map(Into::into)
                .map_err(|_| format!("`{field}` is not UTF-8"))
        })
        .transpose()
}

fn record(paragraph: &Paragraph<'_>) -> Result<PackageRecord, String> {
    let filename = required(paragraph, "Filename")?;
    if !valid_filename(filename) {
        return Err(format!(
            "unsafe `Filename` `{}`",
            crate::debian::escape(filename.as_bytes())
        ));
    }
    let size_text =
        required(paragraph, "Size").map_err(|e| format!("{e} (no Size information)"))?;
    let size: u64 = size_text
        .parse()
        .ok()
        .filter(|_| size_text.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            format!(
                "invalid `Size` `{}`",
                crate::debian::escape(size_text.as_bytes())
            )
        })?;
    let sha256 = Sha256Digest::parse(required(paragraph, "SHA256")?).map_err(|e| e.to_string())?;
    record_of(paragraph, filename, size, sha256)
}

/// The record of a stanza whose file is `filename`, `size` bytes with `sha256`.
fn record_of(
    paragraph: &Paragraph<'_>,
    filename: &str,
    size: u64,
    sha256: Sha256Digest,
) -> Result<PackageRecord, String> {
    let name = PackageName::parse(required(paragraph, "Package")?).map_err(|e| e.to_string())?;
    let version = Version::parse(required(paragraph, "Version")?).map_err(|e| e.to_string())?;
    let architecture =
        Architecture::parse(required(paragraph, "Architecture")?).map_err(|e| e.to_string())?;
    let multi_arch = MultiArch::parse(paragraph.get("Multi-Arch")).map_err(|e| e.to_string())?;
    let essential =
        fields::parse_essential(paragraph.get("Essential")).map_err(|e| e.to_string())?;
    let priority = Priority::parse(paragraph.get("Priority"));
    Ok(PackageRecord {
        name,
        version,
        architecture,
        multi_arch,
        essential,
        priority,
        filename: filename.into(),
        size,
        sha256,
        relations: RelationTexts {
            pre_depends: relation_text(paragraph, "Pre-Depends")?,
            depends: relation_text(paragraph, "Depends")?,
            recommends: relation_text(paragraph, "Recommends")?,
            conflicts: relation_text(paragraph, "Conflicts")?,
            breaks: relation_text(paragraph, "Breaks")?,
            replaces: relation_text(paragraph, "Replaces")?,
            provides: relation_text(paragraph, "Provides")?,
        },
        line: paragraph.line,
    })
}

/// The record of a local `.deb` from its `control` file, as apt's `debDebPkgFileIndex` makes a
/// `Packages` stanza of it: the control fields, with `Filename` (here the name the profile
/// gives the file), `Size` and `SHA256` of the file itself.
pub fn local_record(
    control: &[u8],
    filename: &str,
    size: u64,
    sha256: Sha256Digest,
) -> Result<PackageRecord, String> {
    let paragraphs = deb822::parse(control).map_err(|e| format!("`control`: {e}"))?;
    let [paragraph] = paragraphs.as_slice() else {
        return Err("`control` must hold exactly one paragraph".into());
    };
    record_of(paragraph, filename, size, sha256)
}

/// Parses a `Packages` index of `arch` (`all` packages are accepted in any index).
pub fn parse(input: &[u8], arch: &Architecture) -> Result<PackagesIndex, PackagesError> {
    let mut index = PackagesIndex::default();
    for paragraph in deb822::paragraphs_recovering(input) {
        let paragraph = match paragraph {
            Ok(paragraph) => paragraph,
            Err(error) => {
                index.rejected.push(Rejected {
                    line: error.line,
                    package: None,
                    reason: error.kind.to_string(),
                });
                continue;
            }
        };
        match record(&paragraph) {
            Ok(record) => {
                if !record.architecture.is_all() && record.architecture != *arch {
                    return Err(PackagesError::Architecture {
                        line: record.line,
                        package: record.name.to_string(),
                        found: record.architecture.to_string(),
                        expected: arch.to_string(),
                    });
                }
                index.packages.push(record);
            }
            Err(reason) => index.rejected.push(Rejected {
                line: paragraph.line,
                package: paragraph.get("Package").map(crate::debian::escape),
                reason,
            }),
        }
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn stanza(extra: &str) -> String {
        format!(
            "Package: hello\nVersion: 2.10-3\nArchitecture: amd64\nFilename: pool/main/h/hello/hello_2.10-3_amd64.deb\nSize: 100\nSHA256: {HASH}\n{extra}"
        )
    }

    fn amd64() -> Architecture {
        Architecture::parse("amd64").unwrap()
    }

    proptest::proptest! {
        /// The byte-wise check says what the first, `str`-pattern one said, on paths made of the
        /// characters that matter (`/`, `.`, `:`, `\`, space, a control byte, non-ASCII).
        #[test]
        fn filename_check_is_the_pattern_check(path in "[a/.:\\\\ \\x01é]{0,12}") {
            let by_patterns = !path.is_empty()
                && !path.starts_with('/')
                && !path.contains("://")
                && path
                    .split('/')
                    .all(|c| !c.is_empty() && c != "." && c != "..")
                && path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
            proptest::prop_assert_eq!(valid_filename(&path), by_patterns);
        }
    }

    #[test]
    fn a_local_record_takes_its_file_from_the_caller() {
        let control = b"Package: app\nVersion: 1.2\nArchitecture: amd64\nDepends: libc6\nPriority: optional\n";
        let sha = Sha256Digest::of(b"deb");
        let record = local_record(control, "./vendor/app.deb", 3, sha).unwrap();
        assert_eq!(record.name.as_str(), "app");
        assert_eq!(&*record.filename, "./vendor/app.deb");
        assert_eq!((record.size, record.sha256), (3, sha));
        assert_eq!(record.relations.depends.as_deref(), Some("libc6"));
        let error =
            local_record(b"Package: app\nArchitecture: amd64\n", "./a.deb", 0, sha).unwrap_err();
        assert!(error.contains("Version"), "{error}");
        assert!(local_record(b"Package: a\n\nPackage: b\n", "./a.deb", 0, sha).is_err());
    }

    #[test]
    fn parses_a_record() {
        let text = stanza(
            "Depends: libc6 (>= 2.34),\n libfoo\nMulti-Arch: foreign\nEssential: yes\nPriority: required\nStatus: install ok installed\n",
        );
        let index = parse(text.as_bytes(), &amd64()).unwrap();
        assert!(index.rejected.is_empty(), "{:?}", index.rejected);
        let record = &index.packages[0];
        assert_eq!(record.name.as_str(), "hello");
        assert_eq!(record.multi_arch, MultiArch::Foreign);
        assert!(record.essential);
        assert_eq!(record.priority, Priority::Required);
        assert_eq!(
            record.relations.depends.as_deref(),
            Some("libc6 (>= 2.34), libfoo")
        );
    }

    #[test]
    fn hostile_stanzas_are_rejected_with_their_line() {
        let cases = [
            stanza("").replace(
                "pool/main/h/hello/hello_2.10-3_amd64.deb",
                "../../../../host_sentinel/x",
            ),
            stanza("").replace(
                "pool/main/h/hello/hello_2.10-3_amd64.deb",
                "http://evil/x.deb",
            ),
            stanza("").replace("pool/main/h/hello/hello_2.10-3_amd64.deb", "/etc/passwd"),
            stanza("").replace("Package: hello", "Package: ../../evil"),
            stanza("").replace("Package: hello", "Package: Foo/Bar"),
            stanza("").replace("Version: 2.10-3", "Version: 1/../../x"),
            stanza("").replace("Size: 100\n", ""),
            stanza("").replace(&format!("SHA256: {HASH}\n"), ""),
            stanza("").replace("Size: 100", "Size: -1"),
            stanza("Package: injected\n"),
            stanza("Multi-Arch: sometimes\n"),
        ];
        let mut text = String::new();
        for case in &cases {
            text.push_str(case);
            text.push('\n');
        }
        text.push_str(&stanza("").replace("hello", "good"));
        let index = parse(text.as_bytes(), &amd64()).unwrap();
        assert_eq!(index.packages.len(), 1, "{:#?}", index.packages);
        assert_eq!(index.packages[0].name.as_str(), "good");
        assert_eq!(index.rejected.len(), cases.len(), "{:#?}", index.rejected);
        assert_eq!(index.rejected[0].line, 1);
        assert!(index.rejected[0].reason.contains("unsafe `Filename`"));
        assert!(index.rejected[6].reason.contains("no Size information"));
    }

    #[test]
    fn foreign_architecture_rejects_the_index() {
        let text = stanza("").replace("Architecture: amd64", "Architecture: arm64");
        assert!(matches!(
            parse(text.as_bytes(), &amd64()),
            Err(PackagesError::Architecture { .. })
        ));
        let all = stanza("").replace("Architecture: amd64", "Architecture: all");
        assert_eq!(parse(all.as_bytes(), &amd64()).unwrap().packages.len(), 1);
    }
}
