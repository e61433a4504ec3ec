//! The `Release` file of a suite (the verified text of its `InRelease`), and the checks that
//! decide whether it is the suite we asked for, at the time we asked for it.
//!
//! Pure: text in, typed values and verdicts out. The checks follow apt (`debReleaseIndex::Load`,
//! `VerifyVendor`) and debootstrap (`validate_suite`), and are stricter where they only warn:
//!
//! - only the `SHA256` section is trusted; a file without one has insufficient hash information;
//! - `Suite` or `Codename` must equal the suite asked for; every architecture and component asked
//!   for must be listed (a security archive's `updates/main` counts as `main`);
//! - live mode: `Date` not more than 10 s in the future (apt's `Max-FutureTime`), `Valid-Until`
//!   not passed;
//! - snapshot mode at time T: `Valid-Until` not before T, `Date` not after T (+10 s) and not more
//!   than [`MAX_SNAPSHOT_AGE`] before T: a server that answers with a newer or an ancient state
//!   is not serving the snapshot asked for.

use std::collections::BTreeMap;

use crate::debian::Architecture;
use crate::debian::deb822;
use crate::digest::Sha256Digest;
use crate::timestamp::Timestamp;

/// apt's `Acquire::Max-FutureTime`: how far in the future a `Date` may be.
pub const MAX_FUTURE_SECONDS: i64 = 10;
/// How much older than the snapshot time a `Release` may be. Stable suites change only at point
/// releases (every two to three months) and an old stable's last one may be older still.
pub const MAX_SNAPSHOT_AGE: i64 = 400 * 86_400;

/// Size and SHA-256 of a file listed in a `Release`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileEntry {
    pub size: u64,
    pub sha256: Sha256Digest,
}

/// A parsed `Release`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub origin: Option<String>,
    pub label: Option<String>,
    pub suite: Option<String>,
    pub codename: Option<String>,
    pub version: Option<String>,
    pub date: Timestamp,
    pub valid_until: Option<Timestamp>,
    pub architectures: Vec<String>,
    pub components: Vec<String>,
    pub acquire_by_hash: bool,
    /// `No-Support-for-Architecture-all: Packages`: `all` packages are in each `binary-ARCH`.
    pub all_in_arch_indexes: bool,
    /// `NotAutomatic: yes`: apt installs from this suite only when asked (priority 1).
    pub not_automatic: bool,
    /// `ButAutomaticUpgrades: yes` (with `NotAutomatic`): priority 100, as Debian's backports.
    pub but_automatic_upgrades: bool,
    /// The `SHA256` section: path (relative to the suite's folder) to size and digest.
    pub files: BTreeMap<String, FileEntry>,
}

/// Why a `Release` cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    #[error("malformed Release: {0}")]
    Syntax(#[from] deb822::Deb822Error),
    #[error("Release holds {0} paragraphs, expected one")]
    Paragraphs(usize),
    #[error("Release has no `{0}` field")]
    Missing(&'static str),
    #[error("Release field `{field}` is not valid: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error(
        "insufficient hash information: Release has no SHA256 section (MD5Sum and SHA1 are not trusted)"
    )]
    NoSha256,
    #[error("Release `SHA256` line {line} is malformed: `{text}`")]
    HashLine { line: usize, text: String },
}

/// What the caller expects of a `Release`.
#[derive(Debug, Clone)]
pub struct Expectation<'a> {
    pub suite: &'a str,
    pub architectures: &'a [Architecture],
    pub components: &'a [String],
    /// Now (live mirror) or the snapshot time.
    pub time: TimeCheck,
}

/// Against which time `Date` and `Valid-Until` are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeCheck {
    Live { now: Timestamp },
    Snapshot { at: Timestamp },
}

/// Why a `Release` is not the one asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error(
        "asked for suite `{expected}`, but the Release says Suite `{suite}`, Codename `{codename}`"
    )]
    Suite {
        expected: String,
        suite: String,
        codename: String,
    },
    #[error("architecture `{expected}` is not in the Release's Architectures ({listed})")]
    Architecture { expected: String, listed: String },
    #[error("component `{expected}` is not in the Release's Components ({listed})")]
    Component { expected: String, listed: String },
    #[error("Release is expired (invalid since {valid_until}, now is {now})")]
    Expired {
        valid_until: Timestamp,
        now: Timestamp,
    },
    #[error("Release is not valid yet (Date {date} is in the future, now is {now})")]
    Future { date: Timestamp, now: Timestamp },
    #[error("Release expired before the snapshot time (Valid-Until {valid_until}, snapshot {at})")]
    ExpiredAtSnapshot {
        valid_until: Timestamp,
        at: Timestamp,
    },
    #[error(
        "Release is newer than the snapshot (Date {date}, snapshot {at}): the server does not serve that snapshot"
    )]
    NewerThanSnapshot { date: Timestamp, at: Timestamp },
    #[error(
        "Release is much older than the snapshot (Date {date}, snapshot {at}): the server serves an ancient state"
    )]
    AncientForSnapshot { date: Timestamp, at: Timestamp },
}

fn text(value: &[u8], field: &'static str) -> Result<String, ReleaseError> {
    String::from_utf8(value.to_vec()).map_err(|_| ReleaseError::Invalid {
        field,
        reason: "not UTF-8".into(),
    })
}

/// Parses the verified text of an `InRelease` (or a `Release`).
pub fn parse(input: &[u8]) -> Result<Release, ReleaseError> {
    let paragraphs = deb822::parse(input)?;
    if paragraphs.len() != 1 {
        return Err(ReleaseError::Paragraphs(paragraphs.len()));
    }
    let paragraph = &paragraphs[0];
    let optional = |field: &'static str| -> Result<Option<String>, ReleaseError> {
        paragraph.get(field).map(|v| text(v, field)).transpose()
    };
    let date_text = optional("Date")?.ok_or(ReleaseError::Missing("Date"))?;
    let date = Timestamp::parse_release_date(&date_text).map_err(|e| ReleaseError::Invalid {
        field: "Date",
        reason: e.to_string(),
    })?;
    let valid_until = optional("Valid-Until")?
        .map(|v| {
            Timestamp::parse_release_date(&v).map_err(|e| ReleaseError::Invalid {
                field: "Valid-Until",
                reason: e.to_string(),
            })
        })
        .transpose()?;
    let words = |field: &'static str| -> Result<Vec<String>, ReleaseError> {
        Ok(optional(field)?
            .map(|v| v.split_ascii_whitespace().map(str::to_owned).collect())
            .unwrap_or_default())
    };
    let sha256 = paragraph.field("SHA256").ok_or(ReleaseError::NoSha256)?;
    let mut files = BTreeMap::new();
    for (offset, line) in deb822::lines(&sha256.value).enumerate() {
        // The section starts on the line after `SHA256:`.
        let line_number = sha256.line + 1 + offset;
        let malformed = || ReleaseError::HashLine {
            line: line_number,
            text: crate::debian::escape(line),
        };
        let line = std::str::from_utf8(line).map_err(|_| malformed())?;
        let parts: Vec<&str> = line.split_ascii_whitespace().collect();
        let [digest, size, path] = parts[..] else {
            return Err(malformed());
        };
        let sha256 = Sha256Digest::parse(digest).map_err(|_| malformed())?;
        let size: u64 = size.parse().map_err(|_| malformed())?;
        if path.starts_with('/') || path.split('/').any(|c| c == ".." || c.is_empty()) {
            return Err(malformed());
        }
        files.insert(path.to_owned(), FileEntry { size, sha256 });
    }
    if files.is_empty() {
        return Err(ReleaseError::NoSha256);
    }
    Ok(Release {
        origin: optional("Origin")?,
        label: optional("Label")?,
        suite: optional("Suite")?,
        codename: optional("Codename")?,
        version: optional("Version")?,
        date,
        valid_until,
        architectures: words("Architectures")?,
        components: words("Components")?,
        acquire_by_hash: optional("Acquire-By-Hash")?.as_deref() == Some("yes"),
        all_in_arch_indexes: words("No-Support-for-Architecture-all")?
            .iter()
            .any(|w| w == "Packages"),
        not_automatic: optional("NotAutomatic")?.as_deref() == Some("yes"),
        but_automatic_upgrades: optional("ButAutomaticUpgrades")?.as_deref() == Some("yes"),
        files,
    })
}

impl Release {
    /// apt's default pin priority of this suite's packages (`debmetaindex.cc`): 100 with
    /// `NotAutomatic` and `ButAutomaticUpgrades` (Debian's backports), 1 with `NotAutomatic`
    /// alone (experimental), 500 otherwise.
    pub fn default_priority(&self) -> i32 {
        match (self.not_automatic, self.but_automatic_upgrades) {
            (true, true) => 100,
            (true, false) => 1,
            (false, _) => 500,
        }
    }

    /// Checks that this is the suite, architectures, components and time asked for.
    pub fn check(&self, expected: &Expectation<'_>) -> Result<(), CheckError> {
        let names_suite = [&self.suite, &self.codename]
            .iter()
            .any(|name| name.as_deref() == Some(expected.suite));
        if !names_suite {
            return Err(CheckError::Suite {
                expected: expected.suite.to_owned(),
                suite: self.suite.clone().unwrap_or_default(),
                codename: self.codename.clone().unwrap_or_default(),
            });
        }
        for arch in expected.architectures {
            if !self.architectures.iter().any(|a| a == arch.as_str()) {
                return Err(CheckError::Architecture {
                    expected: arch.to_string(),
                    listed: self.architectures.join(" "),
                });
            }
        }
        for component in expected.components {
            if !self.has_component(component) {
                return Err(CheckError::Component {
                    expected: component.clone(),
                    listed: self.components.join(" "),
                });
            }
        }
        match expected.time {
            TimeCheck::Live { now } => {
                if self.date.0 > now.0 + MAX_FUTURE_SECONDS {
                    return Err(CheckError::Future {
                        date: self.date,
                        now,
                    });
                }
                if let Some(valid_until) = self.valid_until
                    && valid_until < now
                {
                    return Err(CheckError::Expired { valid_until, now });
                }
            }
            TimeCheck::Snapshot { at } => {
                if let Some(valid_until) = self.valid_until
                    && valid_until < at
                {
                    return Err(CheckError::ExpiredAtSnapshot { valid_until, at });
                }
                if self.date.0 > at.0 + MAX_FUTURE_SECONDS {
                    return Err(CheckError::NewerThanSnapshot {
                        date: self.date,
                        at,
                    });
                }
                if self.date.0 < at.0 - MAX_SNAPSHOT_AGE {
                    return Err(CheckError::AncientForSnapshot {
                        date: self.date,
                        at,
                    });
                }
            }
        }
        Ok(())
    }

    /// Whether `component` is listed, directly or as a security archive's `updates/COMPONENT`.
    pub fn has_component(&self, component: &str) -> bool {
        self.components
            .iter()
            .any(|c| c == component || c.strip_prefix("updates/") == Some(component))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELEASE: &str = "Origin: Debian\nLabel: Debian\nSuite: stable\nCodename: trixie\nDate: Sat, 21 Nov 2026 09:15:44 UTC\nValid-Until: Sat, 28 Nov 2026 09:15:44 UTC\nAcquire-By-Hash: yes\nNo-Support-for-Architecture-all: Packages\nArchitectures: all amd64 arm64\nComponents: main contrib\nMD5Sum:\n d41d8cd98f00b204e9800998ecf8427e 0 main/binary-amd64/Packages\nSHA256:\n e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0 main/binary-amd64/Packages\n e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0 main/binary-amd64/Packages.xz\n";

    fn date(text: &str) -> Timestamp {
        Timestamp::parse_release_date(text).unwrap()
    }

    fn expectation<'a>(
        suite: &'a str,
        architectures: &'a [Architecture],
        components: &'a [String],
        time: TimeCheck,
    ) -> Expectation<'a> {
        Expectation {
            suite,
            architectures,
            components,
            time,
        }
    }

    #[test]
    fn parses_the_fields() {
        let release = parse(RELEASE.as_bytes()).unwrap();
        assert_eq!(release.codename.as_deref(), Some("trixie"));
        assert!(release.acquire_by_hash);
        assert!(release.all_in_arch_indexes);
        assert_eq!(release.files.len(), 2);
        assert_eq!(release.files["main/binary-amd64/Packages.xz"].size, 0);
        assert_eq!(release.date, date("Sat, 21 Nov 2026 09:15:44 UTC"));
    }

    #[test]
    fn checks_suite_architecture_component_and_time() {
        let release = parse(RELEASE.as_bytes()).unwrap();
        let amd64 = [Architecture::parse("amd64").unwrap()];
        let main = ["main".to_owned()];
        let now = TimeCheck::Live {
            now: date("Sun, 22 Nov 2026 00:00:00 UTC"),
        };
        assert!(
            release
                .check(&expectation("trixie", &amd64, &main, now))
                .is_ok()
        );
        assert!(
            release
                .check(&expectation("stable", &amd64, &main, now))
                .is_ok()
        );
        assert!(matches!(
            release.check(&expectation("bookworm", &amd64, &main, now)),
            Err(CheckError::Suite { .. })
        ));
        let riscv = [Architecture::parse("riscv64").unwrap()];
        assert!(matches!(
            release.check(&expectation("trixie", &riscv, &main, now)),
            Err(CheckError::Architecture { .. })
        ));
        let free = ["non-free".to_owned()];
        assert!(matches!(
            release.check(&expectation("trixie", &amd64, &free, now)),
            Err(CheckError::Component { .. })
        ));
        let later = TimeCheck::Live {
            now: date("Sun, 29 Nov 2026 00:00:00 UTC"),
        };
        assert!(matches!(
            release.check(&expectation("trixie", &amd64, &main, later)),
            Err(CheckError::Expired { .. })
        ));
        let earlier = TimeCheck::Live {
            now: date("Fri, 20 Nov 2026 00:00:00 UTC"),
        };
        assert!(matches!(
            release.check(&expectation("trixie", &amd64, &main, earlier)),
            Err(CheckError::Future { .. })
        ));
    }

    #[test]
    fn snapshot_time_replaces_the_clock() {
        let release = parse(RELEASE.as_bytes()).unwrap();
        let amd64 = [Architecture::parse("amd64").unwrap()];
        let main = ["main".to_owned()];
        let at = |text| TimeCheck::Snapshot { at: date(text) };
        // Long expired today, valid at the snapshot time: accepted.
        assert!(
            release
                .check(&expectation(
                    "trixie",
                    &amd64,
                    &main,
                    at("Mon, 23 Nov 2026 00:00:00 UTC")
                ))
                .is_ok()
        );
        assert!(matches!(
            release.check(&expectation(
                "trixie",
                &amd64,
                &main,
                at("Mon, 30 Nov 2026 00:00:00 UTC")
            )),
            Err(CheckError::ExpiredAtSnapshot { .. })
        ));
        assert!(matches!(
            release.check(&expectation(
                "trixie",
                &amd64,
                &main,
                at("Fri, 20 Nov 2026 00:00:00 UTC")
            )),
            Err(CheckError::NewerThanSnapshot { .. })
        ));
        let mut old = release.clone();
        old.valid_until = None;
        old.date = date("Mon, 01 Jan 2024 00:00:00 UTC");
        assert!(matches!(
            old.check(&expectation(
                "trixie",
                &amd64,
                &main,
                at("Mon, 23 Nov 2026 00:00:00 UTC")
            )),
            Err(CheckError::AncientForSnapshot { .. })
        ));
    }

    #[test]
    fn security_components_and_malformed_files() {
        let security = RELEASE.replace("Components: main contrib", "Components: updates/main");
        assert!(parse(security.as_bytes()).unwrap().has_component("main"));
        let weak = RELEASE.split("SHA256:").next().unwrap().to_owned();
        assert_eq!(parse(weak.as_bytes()), Err(ReleaseError::NoSha256));
        let no_date = RELEASE.replace("Date: Sat, 21 Nov 2026 09:15:44 UTC\n", "");
        assert_eq!(
            parse(no_date.as_bytes()),
            Err(ReleaseError::Missing("Date"))
        );
        let zone = RELEASE.replace("09:15:44 UTC\nValid", "09:15:44 CET\nValid");
        assert!(matches!(
            parse(zone.as_bytes()),
            Err(ReleaseError::Invalid { field: "Date", .. })
        ));
        let traversal = RELEASE.replace("0 main/binary-amd64/Packages.xz", "0 ../../etc/passwd");
        assert!(matches!(
            parse(traversal.as_bytes()),
            Err(ReleaseError::HashLine { .. })
        ));
    }
}
