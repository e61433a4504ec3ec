//! Fixture Debian archives: pools of synthetic `.deb`s, `Packages` indexes, a `Release` and an
//! `InRelease` signed by the test keys, written in the plain mirror layout and the
//! snapshot.debian.org layout, for the loopback server to serve.

use std::fs;
use std::path::{Path, PathBuf};

use pgp::composed::SignedSecretKey;
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::SignatureType;
use sha2::{Digest, Sha256};

use super::deb::{self, Package};
use super::keys::{self, SignWith};

/// 2026-11-01T00:00:00Z: the default `Date` of fixture suites.
pub const FIXTURE_DATE: u32 = 1_793_491_200;

/// Which test key signs, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signer {
    Trusted,
    Untrusted,
    Expired,
    Revoked,
    Rsa,
}

impl Signer {
    pub fn key(self) -> &'static SignedSecretKey {
        let keys = keys::keys();
        match self {
            Signer::Trusted => &keys.trusted,
            Signer::Untrusted => &keys.untrusted,
            Signer::Expired => &keys.expired,
            Signer::Revoked => &keys.revoked,
            Signer::Rsa => &keys.rsa,
        }
    }
}

/// One signature of a suite's `InRelease`.
#[derive(Debug, Clone, Copy)]
pub struct Signature {
    pub signer: Signer,
    pub hash: HashAlgorithm,
    /// Signature creation time; `None` means the suite's `Date`.
    pub time: Option<u32>,
    pub binary: bool,
    pub corrupt: bool,
}

impl Signature {
    pub fn by(signer: Signer) -> Self {
        Signature {
            signer,
            hash: HashAlgorithm::Sha256,
            time: None,
            binary: false,
            corrupt: false,
        }
    }
}

/// Which archive a suite belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archive {
    Debian,
    Security,
    /// A third-party repository (`[[source.repository]]`), served at `/vendor/`.
    Vendor,
}

impl Archive {
    pub fn folder(self) -> &'static str {
        match self {
            Archive::Debian => "debian",
            Archive::Security => "debian-security",
            Archive::Vendor => "vendor",
        }
    }
}

/// A suite of a fixture archive.
#[derive(Debug, Clone)]
pub struct Suite {
    /// The folder under `dists/` (what a client asks for).
    pub name: String,
    pub archive: Archive,
    pub suite_field: String,
    pub codename: String,
    pub components: Vec<String>,
    pub architectures: Vec<String>,
    pub packages: Vec<Package>,
    pub date: u32,
    pub valid_until: Option<u32>,
    pub by_hash: bool,
    pub signatures: Vec<Signature>,
    /// Extra stanzas appended verbatim to every `Packages` (hostile input).
    pub raw_stanzas: Vec<String>,
    /// Extra `Release` fields (`NotAutomatic: yes`); a `-backports` suite has Debian's.
    pub release_fields: Vec<String>,
}

impl Suite {
    pub fn new(name: &str, packages: Vec<Package>) -> Self {
        let archive = if name.ends_with("-security") {
            Archive::Security
        } else {
            Archive::Debian
        };
        let components = if archive == Archive::Security {
            vec!["updates/main".to_owned()]
        } else {
            vec!["main".to_owned()]
        };
        Suite {
            name: name.to_owned(),
            archive,
            suite_field: name.replace("trixie", "stable"),
            codename: name.to_owned(),
            components,
            architectures: vec!["all".into(), "amd64".into()],
            packages,
            date: FIXTURE_DATE,
            valid_until: None,
            by_hash: true,
            signatures: vec![Signature::by(Signer::Trusted)],
            raw_stanzas: Vec::new(),
            release_fields: if name.ends_with("-backports") {
                vec![
                    "NotAutomatic: yes".into(),
                    "ButAutomaticUpgrades: yes".into(),
                ]
            } else {
                Vec::new()
            },
        }
    }
}

/// The three suites of a profile on `trixie`, with `packages` in the main suite.
pub fn trixie(packages: Vec<Package>) -> Vec<Suite> {
    vec![
        Suite::new("trixie", packages),
        Suite::new("trixie-updates", vec![]),
        Suite::new("trixie-security", vec![]),
    ]
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

/// What was written.
pub struct Written {
    /// The folder served as the server root.
    pub root: PathBuf,
    /// `(suite name, InRelease path)`.
    pub inreleases: Vec<(String, PathBuf)>,
    /// `(package name, pool path, .deb bytes)`.
    pub debs: Vec<(String, String, Vec<u8>)>,
}

impl Written {
    pub fn inrelease(&self, suite: &str) -> &Path {
        &self
            .inreleases
            .iter()
            .find(|(name, _)| name == suite)
            .expect("suite written")
            .1
    }
}

/// The `Release` text of `suite` for the index files in `files` (path, bytes).
fn release_text(suite: &Suite, files: &[(String, Vec<u8>)]) -> String {
    let date = timestamp_release_form(suite.date);
    let mut text = format!(
        "Origin: Debian\nLabel: Debian\nSuite: {}\nCodename: {}\nDate: {date}\n",
        suite.suite_field, suite.codename
    );
    if let Some(valid_until) = suite.valid_until {
        text.push_str(&format!(
            "Valid-Until: {}\n",
            timestamp_release_form(valid_until)
        ));
    }
    if suite.by_hash {
        text.push_str("Acquire-By-Hash: yes\n");
    }
    for field in &suite.release_fields {
        text.push_str(&format!("{field}\n"));
    }
    text.push_str("No-Support-for-Architecture-all: Packages\n");
    text.push_str(&format!(
        "Architectures: {}\nComponents: {}\nDescription: debroot fixture\nSHA256:\n",
        suite.architectures.join(" "),
        suite.components.join(" ")
    ));
    for (path, bytes) in files {
        text.push_str(&format!(
            " {} {:>8} {path}\n",
            sha256_hex(bytes),
            bytes.len()
        ));
    }
    text
}

pub fn timestamp_release_form(seconds: u32) -> String {
    debroot::timestamp::Timestamp(i64::from(seconds)).release_form()
}

/// The `Packages` stanza of `package` at `pool` with `deb` bytes.
pub fn stanza(package: &Package, pool: &str, deb: &[u8]) -> String {
    format!(
        "{}Filename: {pool}\nSize: {}\nSHA256: {}\n",
        package.control(),
        deb.len(),
        sha256_hex(deb)
    )
}

/// Signs `release` for `suite` as its `signatures` say.
pub fn sign(suite: &Suite, release: &str) -> String {
    let withs: Vec<SignWith<'_>> = suite
        .signatures
        .iter()
        .map(|s| SignWith {
            key: s.signer.key(),
            hash: s.hash,
            time: s.time.unwrap_or(suite.date),
            kind: if s.binary {
                SignatureType::Binary
            } else {
                SignatureType::Text
            },
            corrupt: s.corrupt,
        })
        .collect();
    keys::clearsign(release, &withs)
}

/// Writes `suites` under `root/debian` and `root/debian-security` (the test server also serves
/// them in the snapshot layout, `/archive/debian/TIMESTAMP/`).
pub fn write_archive(root: &Path, suites: &[Suite]) -> Written {
    let mut written = Written {
        root: root.to_path_buf(),
        inreleases: Vec::new(),
        debs: Vec::new(),
    };
    for suite in suites {
        let archive = root.join(suite.archive.folder());
        let dists = archive.join("dists").join(&suite.name);
        let mut files = Vec::new();
        for component in &suite.components {
            let directory = component.strip_prefix("updates/").unwrap_or(component);
            for arch in suite.architectures.iter().filter(|a| *a != "all") {
                let mut packages = String::new();
                for package in &suite.packages {
                    if package.arch != *arch && package.arch != "all" {
                        continue;
                    }
                    let pool = package.pool_path(directory);
                    let deb = package.deb();
                    write(&archive.join(&pool), &deb);
                    if !packages.is_empty() {
                        packages.push('\n');
                    }
                    packages.push_str(&stanza(package, &pool, &deb));
                    written.debs.push((package.name.clone(), pool, deb));
                }
                for raw in &suite.raw_stanzas {
                    if !packages.is_empty() {
                        packages.push('\n');
                    }
                    packages.push_str(raw);
                }
                let base = format!("{directory}/binary-{arch}/Packages");
                let plain = packages.into_bytes();
                let compressed = deb::xz(&plain);
                let gzipped = deb::gz(&plain);
                for (path, bytes) in [
                    (base.clone(), plain),
                    (format!("{base}.xz"), compressed),
                    (format!("{base}.gz"), gzipped),
                ] {
                    write(&dists.join(&path), &bytes);
                    if suite.by_hash {
                        let folder = Path::new(&path).parent().unwrap();
                        write(
                            &dists
                                .join(folder)
                                .join("by-hash/SHA256")
                                .join(sha256_hex(&bytes)),
                            &bytes,
                        );
                    }
                    files.push((path, bytes));
                }
            }
        }
        let release = release_text(suite, &files);
        write(&dists.join("Release"), release.as_bytes());
        let inrelease = sign(suite, &release);
        write(&dists.join("InRelease"), inrelease.as_bytes());
        written
            .inreleases
            .push((suite.name.clone(), dists.join("InRelease")));
    }
    written
}

/// A profile for the fixture archive at `mirror`.
pub fn profile(extra_source: &str, extra: &str) -> String {
    format!(
        "[source]\nsuite = \"trixie\"\narchitectures = [\"amd64\"]\nkeyring = \"keyring.gpg\"\n{extra_source}\n{extra}\n"
    )
}

/// Writes the trusted keyring next to the profiles in `dir`.
pub fn write_keyring(dir: &Path) {
    let keys = keys::keys();
    fs::write(dir.join("keyring.gpg"), keys::keyring(&[&keys.trusted])).unwrap();
}
