//! Where repository bytes come from: the one seam between "which archive" and "which URL".
//!
//! A [`Source`] is the base URL of an archive (`http`, `https` or `file`), for the main archive
//! and for the security archive. Which one is used follows DESIGN §3, first match wins:
//!
//! 1. `--mirror URL|host`
//! 2. `DEBROOT_MIRROR`
//! 3. the profile's `source.mirror`
//! 4. with `source.snapshot` (or `--snapshot`) set: `SERVER/archive/debian/TS/` and
//!    `SERVER/archive/debian-security/TS/`, SERVER being `https://snapshot.debian.org` unless
//!    `--snapshot-server` says otherwise
//! 5. the host's apt sources (`/etc/apt/sources.list.d/*.sources`, `/etc/apt/sources.list`)
//! 6. otherwise an error.
//!
//! `host` reads the first Debian archive URI of the host's apt configuration and, for
//! `SUITE-security`, the URI of its security entry. For an explicit mirror URL whose path ends in
//! `/debian`, the security archive is the sibling `/debian-security`; any other URL serves every
//! suite itself. The parsing here is pure; [`read_host_sources`] is the only function that reads
//! files.

use std::fmt;
use std::path::{Path, PathBuf};

use url::Url;

use crate::debian::deb822;
use crate::profile::Mirror;
use crate::redact::{redact, redact_text};
use crate::timestamp::Timestamp;

/// The snapshot server debroot knows by default: the only host name in the code.
pub const DEFAULT_SNAPSHOT_SERVER: &str = "https://snapshot.debian.org";

/// Which part of Debian an archive URL serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Archive {
    /// `debian`: SUITE and SUITE-updates.
    Main,
    /// `debian-security`: SUITE-security.
    Security,
}

/// How the archive URLs were chosen, for messages and the index summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    CommandLine,
    Environment,
    Profile,
    Snapshot(Timestamp),
    Host,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::CommandLine => f.write_str("--mirror"),
            Origin::Environment => f.write_str("DEBROOT_MIRROR"),
            Origin::Profile => f.write_str("the profile's mirror"),
            Origin::Snapshot(at) => write!(f, "snapshot {}", at.snapshot_form()),
            Origin::Host => f.write_str("the host's apt sources"),
        }
    }
}

/// The archive base URLs a build reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    pub main: Url,
    pub security: Url,
    pub origin: Origin,
    /// Each `[[source.repository]]`'s base URL, by name.
    pub extra: std::collections::BTreeMap<String, Url>,
}

/// The Debian URIs found in the host's apt configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostSources {
    /// The first Debian archive URI that is not a security archive.
    pub main: Option<Url>,
    /// The URI of the first entry whose suites end in `-security`.
    pub security: Option<Url>,
    /// The files that were read, for messages.
    pub files: Vec<PathBuf>,
}

/// Why no source could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("invalid mirror `{text}`: {reason}")]
    Mirror { text: String, reason: String },
    #[error("`mirror = \"host\"`, but the host's apt sources ({files}) list no Debian archive")]
    NoHostArchive { files: String },
    #[error(
        "no mirror: the profile sets neither `mirror` nor `snapshot`, and the host's apt sources list no Debian archive"
    )]
    NoMirror,
}

impl crate::error::Classify for SourceError {
    fn class(&self) -> crate::error::ExitClass {
        crate::error::ExitClass::Usage
    }

    fn hint(&self) -> Option<String> {
        Some("set `source.mirror` to a Debian mirror URL, pass --mirror URL, or pin `source.snapshot`".into())
    }
}

/// Parses the host's sources: `.sources` files in deb822 form and one-line `sources.list`
/// files, in the order given. Entries that are disabled, not `deb`, or malformed are skipped:
/// apt's configuration is the host's business, debroot only looks for an archive URI in it.
pub fn parse_host_sources(files: &[(PathBuf, Vec<u8>)]) -> HostSources {
    let mut host = HostSources::default();
    let mut consider = |uri: &str, suites: &[&str]| {
        let Ok(url) = Url::parse(uri) else {
            return;
        };
        if !matches!(url.scheme(), "http" | "https" | "file") {
            return;
        }
        let security = suites
            .iter()
            .any(|s| s.ends_with("-security") || s.ends_with("/updates"))
            || url
                .path()
                .trim_end_matches('/')
                .ends_with("debian-security");
        let slot = if security {
            &mut host.security
        } else {
            &mut host.main
        };
        if slot.is_none() {
            *slot = Some(with_trailing_slash(url));
        }
    };
    for (path, bytes) in files {
        host.files.push(path.clone());
        let is_deb822 = path.extension().is_some_and(|e| e == "sources");
        if is_deb822 {
            for paragraph in deb822::paragraphs_recovering(bytes).flatten() {
                let field = |name| {
                    paragraph
                        .get(name)
                        .map(|v| String::from_utf8_lossy(&deb822::folded(v)).into_owned())
                };
                if field("Enabled").is_some_and(|v| v.eq_ignore_ascii_case("no")) {
                    continue;
                }
                let types = field("Types").unwrap_or_default();
                if !types.split_ascii_whitespace().any(|t| t == "deb") {
                    continue;
                }
                let suites = field("Suites").unwrap_or_default();
                let suites: Vec<&str> = suites.split_ascii_whitespace().collect();
                if let Some(uris) = field("URIs")
                    && let Some(uri) = uris.split_ascii_whitespace().next()
                {
                    consider(uri, &suites);
                }
            }
        } else {
            for line in String::from_utf8_lossy(bytes).lines() {
                let line = line.split('#').next().unwrap_or("").trim();
                let mut words = line.split_ascii_whitespace().peekable();
                if words.next() != Some("deb") {
                    continue;
                }
                // Options: `[arch=amd64 signed-by=...]`, possibly spanning several words.
                if words.peek().is_some_and(|w| w.starts_with('[')) {
                    for word in words.by_ref() {
                        if word.ends_with(']') {
                            break;
                        }
                    }
                }
                let Some(uri) = words.next() else {
                    continue;
                };
                let suites: Vec<&str> = words.take(1).collect();
                consider(uri, &suites);
            }
        }
    }
    host
}

/// Reads the host's apt sources: `/etc/apt/sources.list` then `sources.list.d/*.list` and
/// `*.sources` in byte order of their names, as apt reads them. Unreadable files are skipped.
pub fn read_host_sources(etc_apt: &Path) -> HostSources {
    let mut files = Vec::new();
    let list = etc_apt.join("sources.list");
    if let Ok(bytes) = std::fs::read(&list) {
        files.push((list, bytes));
    }
    let mut parts: Vec<PathBuf> = std::fs::read_dir(etc_apt.join("sources.list.d"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|p| p.extension().is_some_and(|e| e == "list" || e == "sources"))
                .collect()
        })
        .unwrap_or_default();
    parts.sort_by(|a, b| {
        a.as_os_str()
            .as_encoded_bytes()
            .cmp(b.as_os_str().as_encoded_bytes())
    });
    for path in parts {
        if let Ok(bytes) = std::fs::read(&path) {
            files.push((path, bytes));
        }
    }
    parse_host_sources(&files)
}

/// The URL of `archive` at time `at` on a server with snapshot.debian.org's layout
/// (`SERVER/archive/ARCHIVE/YYYYMMDDTHHMMSSZ/`); `server` defaults to
/// [`DEFAULT_SNAPSHOT_SERVER`].
pub fn snapshot_archive(
    server: Option<&Url>,
    archive: &str,
    at: Timestamp,
) -> Result<Url, SourceError> {
    let server = with_trailing_slash(
        server
            .cloned()
            .unwrap_or_else(|| Url::parse(DEFAULT_SNAPSHOT_SERVER).expect("constant URL parses")),
    );
    server
        .join(&format!("archive/{archive}/{}/", at.snapshot_form()))
        .map_err(|e| SourceError::Mirror {
            text: redact(&server),
            reason: e.to_string(),
        })
}

/// `url` with a `/` at the end of its path, so that joining a relative path appends to it.
pub fn with_trailing_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

/// The security archive next to a main archive URL: `.../debian/` → `.../debian-security/`;
/// any other URL serves the security suite itself.
fn security_sibling(main: &Url) -> Url {
    let path = main.path().trim_end_matches('/');
    match path.strip_suffix("/debian") {
        Some(parent) => {
            let mut url = main.clone();
            url.set_path(&format!("{parent}/debian-security/"));
            url
        }
        None => main.clone(),
    }
}

/// Parses a mirror given on the command line or in `DEBROOT_MIRROR`: `host` or a URL, which may
/// carry credentials (they are redacted whenever the URL is shown).
pub fn parse_mirror_override(text: &str) -> Result<Mirror, SourceError> {
    if text == "host" {
        return Ok(Mirror::Host);
    }
    let url = Url::parse(text).map_err(|e| SourceError::Mirror {
        text: redact_text(text),
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https" | "file") {
        return Err(SourceError::Mirror {
            text: redact(&url),
            reason: "use an http, https or file URL".into(),
        });
    }
    Ok(Mirror::Url(url))
}

/// What decides the sources, in precedence order.
#[derive(Debug, Clone, Default)]
pub struct Choice {
    pub command_line: Option<Mirror>,
    pub environment: Option<Mirror>,
    pub profile: Option<Mirror>,
    pub snapshot: Option<Timestamp>,
    pub snapshot_server: Option<Url>,
}

/// Chooses the archive URLs (see the module docs for the order).
pub fn choose(choice: &Choice, host: &HostSources) -> Result<Sources, SourceError> {
    let from_mirror = |mirror: &Mirror, origin: Origin| -> Result<Sources, SourceError> {
        match mirror {
            Mirror::Host => {
                let main = host
                    .main
                    .clone()
                    .ok_or_else(|| SourceError::NoHostArchive {
                        files: host
                            .files
                            .iter()
                            .map(|f| f.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })?;
                let security = host
                    .security
                    .clone()
                    .unwrap_or_else(|| security_sibling(&main));
                Ok(Sources {
                    main,
                    security,
                    extra: Default::default(),
                    origin: if origin == Origin::Profile {
                        Origin::Host
                    } else {
                        origin
                    },
                })
            }
            Mirror::Url(url) => {
                let main = with_trailing_slash(url.clone());
                Ok(Sources {
                    security: security_sibling(&main),
                    main,
                    origin,
                    extra: Default::default(),
                })
            }
        }
    };
    if let Some(mirror) = &choice.command_line {
        return from_mirror(mirror, Origin::CommandLine);
    }
    if let Some(mirror) = &choice.environment {
        return from_mirror(mirror, Origin::Environment);
    }
    if let Some(mirror) = &choice.profile {
        return from_mirror(mirror, Origin::Profile);
    }
    if let Some(at) = choice.snapshot {
        let server = choice.snapshot_server.as_ref();
        return Ok(Sources {
            main: snapshot_archive(server, "debian", at)?,
            security: snapshot_archive(server, "debian-security", at)?,
            origin: Origin::Snapshot(at),
            extra: Default::default(),
        });
    }
    if host.main.is_some() {
        return from_mirror(&Mirror::Host, Origin::Host);
    }
    Err(SourceError::NoMirror)
}

impl Sources {
    /// The base URL serving `suite`.
    pub fn base_for(&self, archive: Archive) -> &Url {
        match archive {
            Archive::Main => &self.main,
            Archive::Security => &self.security,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn reads_deb822_and_one_line_sources() {
        let deb822 = b"Types: deb-src\nURIs: http://src.example/debian\nSuites: trixie\n\nTypes: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n".to_vec();
        let host = parse_host_sources(&[(
            PathBuf::from("/etc/apt/sources.list.d/debian.sources"),
            deb822,
        )]);
        assert_eq!(host.main, Some(url("http://mirror.example/debian/")));
        assert_eq!(
            host.security,
            Some(url("http://mirror.example/debian-security/"))
        );

        let list = b"# comment\ndeb-src http://x/debian trixie main\ndeb [arch=amd64 signed-by=/k.gpg] https://one.example/debian trixie main\ndeb https://one.example/debian-security trixie-security main\n".to_vec();
        let host = parse_host_sources(&[(PathBuf::from("/etc/apt/sources.list"), list)]);
        assert_eq!(host.main, Some(url("https://one.example/debian/")));
        assert_eq!(
            host.security,
            Some(url("https://one.example/debian-security/"))
        );
    }

    #[test]
    fn precedence() {
        let host = HostSources {
            main: Some(url("http://host.example/debian/")),
            security: Some(url("http://host.example/debian-security/")),
            files: vec![],
        };
        let at = Timestamp::parse_snapshot("20261120T000000Z").unwrap();
        let mut choice = Choice {
            command_line: Some(Mirror::Url(url("http://cli.example/debian"))),
            environment: Some(Mirror::Url(url("http://env.example/debian"))),
            profile: Some(Mirror::Url(url("http://profile.example/mirror"))),
            snapshot: Some(at),
            snapshot_server: Some(url("http://127.0.0.1:8080")),
        };
        let chosen = choose(&choice, &host).unwrap();
        assert_eq!(chosen.main, url("http://cli.example/debian/"));
        assert_eq!(chosen.security, url("http://cli.example/debian-security/"));
        choice.command_line = None;
        assert_eq!(
            choose(&choice, &host).unwrap().main,
            url("http://env.example/debian/")
        );
        choice.environment = None;
        let chosen = choose(&choice, &host).unwrap();
        assert_eq!(chosen.main, url("http://profile.example/mirror/"));
        assert_eq!(chosen.security, url("http://profile.example/mirror/"));
        choice.profile = None;
        let chosen = choose(&choice, &host).unwrap();
        assert_eq!(
            chosen.main,
            url("http://127.0.0.1:8080/archive/debian/20261120T000000Z/")
        );
        assert_eq!(
            chosen.security,
            url("http://127.0.0.1:8080/archive/debian-security/20261120T000000Z/")
        );
        choice.snapshot_server = None;
        assert_eq!(
            choose(&choice, &host).unwrap().main,
            url("https://snapshot.debian.org/archive/debian/20261120T000000Z/")
        );
        choice.snapshot = None;
        let chosen = choose(&choice, &host).unwrap();
        assert_eq!(chosen.main, url("http://host.example/debian/"));
        assert_eq!(chosen.origin, Origin::Host);
        assert_eq!(
            choose(&choice, &HostSources::default()),
            Err(SourceError::NoMirror)
        );
        choice.profile = Some(Mirror::Host);
        assert!(matches!(
            choose(&choice, &HostSources::default()),
            Err(SourceError::NoHostArchive { .. })
        ));
    }

    #[test]
    fn credentials_are_redacted() {
        let error = parse_mirror_override("gopher://u:p@x/debian").unwrap_err();
        assert!(!error.to_string().contains("p@"), "{error}");
    }
}
