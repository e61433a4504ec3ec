//! Local `.deb` files named in `packages.include` (`./vendor/app_1.2_amd64.deb`), as apt's
//! `apt install ./x.deb` treats them: the `control` stanza of each file joins the universe as a
//! `Packages` entry of the suite `local` ([`crate::lock::LOCAL_SUITE`]) whose `Filename` is the
//! path relative to the profile's folder, with the file's `Size` and `SHA256`; the package is
//! requested at exactly that version (apt makes it the candidate), and its dependencies resolve
//! from the repositories like any other.
//!
//! The lock records each file's SHA256: a file that changed (or went missing) makes the lock
//! stale ([`changed`]); the fetch phase copies the file into the content-addressed cache after
//! checking it against the lock ([`store`]), so the rest of the build reads it like a download.
//! Every error names the file.

use std::collections::BTreeMap;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use crate::cache::{Blob, Cache};
use crate::digest::{Hasher, Sha256Digest};
use crate::error::Failure;
use crate::lock::{LOCAL_SUITE, Lock};
use crate::profile::{PackageSpec, Profile};
use crate::repo::packages::{PackageRecord, PackagesIndex};

use super::error::BuildError;

/// Largest local `.deb`: 4 GiB (Debian's largest packages are a few hundred MiB).
pub const MAX_LOCAL_DEB: u64 = 4 << 30;

/// One local `.deb`, read.
#[derive(Debug, Clone)]
pub struct LocalDeb {
    /// The absolute path.
    pub path: PathBuf,
    /// Where the profile names it (`file:line:column`).
    pub at: String,
    /// Its stanza: `Filename` is the path relative to the profile's folder.
    pub record: PackageRecord,
}

fn error(path: &Path, reason: impl Into<String>) -> Failure {
    BuildError::LocalPackage {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
    .into()
}

/// Opens a local `.deb`: a regular file of at most [`MAX_LOCAL_DEB`] bytes.
fn open(path: &Path) -> Result<(std::fs::File, u64), Failure> {
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => error(path, "the file does not exist"),
        _ => error(path, format!("cannot read it: {e}")),
    })?;
    let meta = file
        .metadata()
        .map_err(|e| error(path, format!("cannot read it: {e}")))?;
    if !meta.is_file() {
        return Err(error(path, "not a regular file"));
    }
    if meta.len() > MAX_LOCAL_DEB {
        return Err(error(
            path,
            format!("larger than {MAX_LOCAL_DEB} bytes ({} bytes)", meta.len()),
        ));
    }
    Ok((file, meta.len()))
}

/// The SHA256 and size of what `reader` gives, at most [`MAX_LOCAL_DEB`] bytes.
fn hash(path: &Path, reader: &mut impl Read) -> Result<(Sha256Digest, u64), Failure> {
    let mut hasher = Hasher::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = reader
            .read(&mut buffer)
            .map_err(|e| error(path, format!("cannot read it: {e}")))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        if hasher.len() > MAX_LOCAL_DEB {
            return Err(error(path, format!("larger than {MAX_LOCAL_DEB} bytes")));
        }
    }
    let size = hasher.len();
    Ok((hasher.finish(), size))
}

/// Reads every local `.deb` of the profile: its control stanza, size and SHA256.
pub fn read(profile: &Profile) -> Result<Vec<LocalDeb>, Failure> {
    let mut debs = Vec::with_capacity(profile.packages.local.len());
    for local in &profile.packages.local {
        let path = &local.value;
        let (mut file, _) = open(path)?;
        let (sha256, size) = hash(path, &mut file)?;
        file.rewind()
            .map_err(|e| error(path, format!("cannot read it: {e}")))?;
        let control = crate::unpack::read_control(std::io::BufReader::new(&mut file))
            .map_err(|e| error(path, error_chain(&e)))?;
        let name = profile.local_name(path);
        let record = crate::repo::packages::local_record(&control.text, &name, size, sha256)
            .map_err(|reason| error(path, reason))?;
        let arch = &record.architecture;
        if !arch.is_all() && !profile.source.architectures.contains(arch) {
            return Err(error(
                path,
                format!(
                    "the package is for architecture `{arch}`, which is not in `source.architectures`"
                ),
            ));
        }
        debs.push(LocalDeb {
            path: path.clone(),
            at: local.at.to_string(),
            record,
        });
    }
    Ok(debs)
}

/// The error and its causes on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The universe part of the local `.deb`s (read after the repositories' suites).
pub fn index(debs: &[LocalDeb]) -> PackagesIndex {
    PackagesIndex {
        packages: debs.iter().map(|d| d.record.clone()).collect(),
        rejected: Vec::new(),
    }
}

/// The requests of the local `.deb`s: each package at exactly its version, as apt forces the
/// local file's version to be the candidate.
pub fn requests(profile: &Profile, debs: &[LocalDeb]) -> Vec<crate::resolve::Requested> {
    debs.iter()
        .map(|deb| {
            let record = &deb.record;
            let native = profile.source.native_architecture();
            let arch = (!record.architecture.is_all() && record.architecture != *native)
                .then(|| record.architecture.clone());
            crate::resolve::Requested {
                spec: PackageSpec {
                    name: record.name.clone(),
                    arch,
                    version: Some(record.version.clone()),
                    suite: None,
                },
                origin: format!("{} (`{}`)", deb.at, record.filename),
            }
        })
        .collect()
}

/// The absolute path of a locked local package: its name resolved against `folder` (the
/// profile's), lexically.
fn path_of(folder: &Path, filename: &str) -> PathBuf {
    crate::profile::normalize(folder, Path::new(filename))
}

/// Why the lock's local packages are not the files in `folder` any more, or `None`: the first
/// file missing or whose SHA256 differs from the lock's.
pub fn changed(lock: &Lock, folder: &Path) -> Option<String> {
    for package in lock.packages.iter().filter(|p| p.suite == LOCAL_SUITE) {
        let path = path_of(folder, &package.filename);
        let same = open(&path)
            .and_then(|(mut file, _)| hash(&path, &mut file))
            .is_ok_and(|(sha256, size)| sha256 == package.sha256 && size == package.size);
        if !same {
            return Some(format!(
                "`{}` changed since the lock was written",
                package.filename
            ));
        }
    }
    None
}

/// Copies the lock's local packages from `folder` into the cache, each checked against the
/// lock's SHA256 and size: the blobs, by digest, as a download would give them.
pub fn store(
    lock: &Lock,
    folder: &Path,
    cache: &Cache,
) -> Result<BTreeMap<Sha256Digest, Blob>, Failure> {
    let mut blobs = BTreeMap::new();
    for package in lock.packages.iter().filter(|p| p.suite == LOCAL_SUITE) {
        let path = path_of(folder, &package.filename);
        if let crate::cache::Lookup::Hit(blob) = cache
            .open_blob_verified(&package.sha256, package.size)
            .map_err(Failure::from)?
        {
            // The file must still be the one the lock names, even when the cache has it.
            let (mut file, _) = open(&path)?;
            let (sha256, size) = hash(&path, &mut file)?;
            if (sha256, size) != (package.sha256, package.size) {
                return Err(mismatch(&path, package));
            }
            blobs.insert(package.sha256, blob);
            continue;
        }
        let (mut file, _) = open(&path)?;
        let mut pending = cache
            .begin(package.sha256, package.size)
            .map_err(Failure::from)?;
        let mut buffer = vec![0u8; 1 << 16];
        loop {
            let n = file
                .read(&mut buffer)
                .map_err(|e| error(&path, format!("cannot read it: {e}")))?;
            if n == 0 {
                break;
            }
            if pending.written() + n as u64 > package.size {
                return Err(mismatch(&path, package));
            }
            pending.write(&buffer[..n]).map_err(Failure::from)?;
        }
        let (sha256, size) = pending.current();
        if (sha256, size) != (package.sha256, package.size) {
            return Err(mismatch(&path, package));
        }
        blobs.insert(
            package.sha256,
            pending.commit_blob().map_err(Failure::from)?,
        );
    }
    Ok(blobs)
}

fn mismatch(path: &Path, package: &crate::lock::LockedPackage) -> Failure {
    BuildError::LocalPackageChanged {
        path: path.to_path_buf(),
        name: package.filename.clone(),
        sha256: package.sha256.hex(),
    }
    .into()
}
