//! The fetch phase: every package of the lock into the content-addressed cache, verified by
//! SHA256, handed on open (a [`Blobs`] map), and the lock's epoch checked against them.

use std::time::Instant;

use crate::cache::Blobs;
use crate::error::Failure;
use crate::fetch::{self, Wanted};
use crate::lock::Lock;
use crate::repo::source::{Archive, Sources};

use super::error::BuildError;
use super::{BuildSpec, Env, locking};

/// The build's fetch: every package of `lock` from the archives the lock was made from (or the
/// ones chosen now), into `cache`; the lock's epoch must be the one its packages give (exit 5).
pub fn fetch_for_build(
    env: &Env<'_>,
    spec: &BuildSpec,
    lock: &Lock,
    cache: &crate::cache::Cache,
) -> Result<fetch::Report, Failure> {
    let snapshot = locking::snapshot(&spec.repo, lock.snapshot)?;
    let sources = locking::choose_sources(env, Some(&spec.profile.source), snapshot, &spec.repo)?;
    let wanted = wanted(lock, &sources)?;
    let fetcher = locking::fetcher(env, &spec.repo)?;
    let started = Instant::now();
    let mut report = download(env, &fetcher, cache, &wanted, spec.repo.jobs)?;
    report
        .blobs
        .extend(super::local::store(lock, spec.profile.folder(), cache)?);
    env.printer.status(
        "Fetched",
        &format!(
            "{} packages ({} downloaded) in {:.2}s",
            lock.packages.len(),
            report.downloaded,
            started.elapsed().as_secs_f64()
        ),
    );
    check_packages_epoch(lock, &report.blobs)?;
    Ok(report)
}

/// Every package of `lock` but the local `.deb`s ([`super::local::store`]), with the URL it is
/// fetched from.
pub fn wanted(lock: &Lock, sources: &Sources) -> Result<Vec<Wanted>, Failure> {
    lock.packages
        .iter()
        .filter(|package| package.suite != crate::lock::LOCAL_SUITE)
        .map(|package| {
            let base = match &package.repository {
                Some(repository) => sources.extra.get(repository).ok_or_else(|| {
                    BuildError::LockUnknownRepository {
                        repository: repository.clone(),
                        package: package.name.to_string(),
                    }
                })?,
                None => {
                    let archive = match lock.suites.iter().find(|s| {
                        s.name == package.suite
                            && (s.archive == "debian" || s.archive == "debian-security")
                    }) {
                        Some(suite) if suite.archive == "debian-security" => Archive::Security,
                        Some(_) => Archive::Main,
                        None => {
                            return Err(BuildError::LockUnlistedSuite {
                                suite: package.suite.clone(),
                                package: package.name.to_string(),
                            }
                            .into());
                        }
                    };
                    sources.base_for(archive)
                }
            };
            let url = base
                .join(&package.filename)
                .map_err(|e| BuildError::LockFilename {
                    filename: package.filename.clone(),
                    reason: e.to_string(),
                })?;
            Ok(Wanted {
                url,
                sha256: package.sha256,
                size: package.size,
                label: format!(
                    "{} {} {}",
                    package.name, package.version, package.architecture
                ),
            })
        })
        .collect()
}

/// Downloads with a progress bar on a terminal, warning about repaired cache entries.
pub fn download(
    env: &Env<'_>,
    fetcher: &crate::fetch::Fetcher,
    cache: &crate::cache::Cache,
    wanted: &[Wanted],
    jobs: usize,
) -> Result<fetch::Report, Failure> {
    let total: u64 = wanted.iter().map(|w| w.size).sum();
    let started = Instant::now();
    let progress = env.printer.step(
        "Fetching",
        &format!(
            "{} {} ({})",
            wanted.len(),
            if wanted.len() == 1 {
                "package"
            } else {
                "packages"
            },
            crate::printer::bytes(total)
        ),
        crate::printer::Unit::Bytes,
        total,
        wanted.len() as u64,
    );
    let result =
        locking::runtime()?.block_on(fetch::fetch_all(fetcher, cache, wanted, jobs, &progress));
    progress.clear();
    let report = result?;
    for repaired in &report.repaired {
        env.printer.warn(&format!(
            "cached package {repaired} was corrupt; removed it and downloaded it again"
        ));
    }
    env.printer.detail(&format!(
        "fetch took {:.2}s",
        started.elapsed().as_secs_f64()
    ));
    Ok(report)
}

/// The epoch the packages of `lock` give ([`crate::lock::packages_epoch`]), read from their
/// verified `.deb`s: each one's first few hundred bytes.
pub fn packages_epoch(lock: &Lock, blobs: &Blobs) -> Result<i64, Failure> {
    let mut times = Vec::with_capacity(lock.packages.len());
    for locked in &lock.packages {
        // Named as the build names a package it cannot read, the reason on the same line.
        let package = format!("package `{} {}`", locked.name, locked.version);
        let blob = blobs
            .get(&locked.sha256)
            .ok_or_else(|| BuildError::NotFetched {
                package: package.clone(),
                sha256: locked.sha256.to_string(),
            })?;
        let time = crate::unpack::deb::DebReader::open(std::io::BufReader::new(blob.reader()))
            .and_then(|mut deb| deb.build_time())
            .map_err(|e| BuildError::BuildTime {
                package,
                reason: e.to_string(),
            })?;
        times.push(time);
    }
    Ok(crate::lock::packages_epoch(times))
}

/// Refuses a lock whose epoch is not the one its packages give (an edited lock, or one written
/// by a debroot with another rule): the epoch is part of the output's identity.
pub fn check_packages_epoch(lock: &Lock, blobs: &Blobs) -> Result<(), Failure> {
    if lock.epoch_from != crate::lock::EpochFrom::Packages {
        return Ok(());
    }
    let derived = packages_epoch(lock, blobs)?;
    if derived == lock.epoch {
        return Ok(());
    }
    Err(BuildError::EpochMismatch {
        lock: lock.epoch,
        derived,
    }
    .into())
}
