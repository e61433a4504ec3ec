//! `debroot fetch`: every package of a lock into the content-addressed cache.

use std::time::Instant;

use super::{Env, Outcome};
use crate::cli::FetchArgs;
use crate::error::{ExitClass, Failure, ResultExt};
use crate::fetch::{self, Wanted};
use crate::lock::Lock;
use crate::repo::source::{Archive, Sources};

pub fn run(env: &Env<'_>, args: &FetchArgs) -> Result<Outcome, Failure> {
    let (lock, profile) = if args.target.extension().is_some_and(|e| e == "lock") {
        let text = std::fs::read_to_string(&args.target).map_err(|e| {
            Failure::new(ExitClass::Usage, e)
                .context(format!("cannot read lockfile `{}`", args.target.display()))
        })?;
        let lock = Lock::parse(&text)
            .context(|| format!("cannot use lockfile `{}`", args.target.display()))?;
        // The profile beside the lock says which mirror to use, when it is there.
        let beside = args.target.with_extension("toml");
        let profile = beside
            .exists()
            .then(|| super::load_profile(env, &beside))
            .transpose()?;
        (lock, profile)
    } else {
        let profile = super::load_profile(env, &args.target)?;
        (
            super::current_lock(env, &profile, &args.repo)?,
            Some(profile),
        )
    };
    let snapshot = super::snapshot(&args.repo, lock.snapshot)?;
    let mirror = profile.as_ref().and_then(|p| p.source.mirror.as_ref());
    let sources = super::choose_sources(env, mirror, snapshot, &args.repo)?;
    let wanted = wanted(&lock, &sources)?;
    let cache = super::open_cache(env)?;
    let fetcher = super::fetcher(env, &args.repo)?;
    let report = download(env, &fetcher, &cache, &wanted, args.repo.jobs)?;
    env.printer.status(
        "Fetched",
        &format!(
            "{} packages: {} downloaded ({} bytes), {} already in the cache",
            wanted.len(),
            report.downloaded,
            report.bytes,
            report.cached
        ),
    );
    Ok(Outcome::Success)
}

/// Every package of `lock`, with the URL it is fetched from.
pub fn wanted(lock: &Lock, sources: &Sources) -> Result<Vec<Wanted>, Failure> {
    lock.packages
        .iter()
        .map(|package| {
            let archive = match lock.suites.iter().find(|s| s.name == package.suite) {
                Some(suite) if suite.archive == "debian-security" => Archive::Security,
                Some(_) => Archive::Main,
                None => {
                    return Err(Failure::message(
                        ExitClass::Usage,
                        format!(
                            "lockfile names suite `{}` for `{}` but does not list it",
                            package.suite, package.name
                        ),
                    ));
                }
            };
            let url = sources
                .base_for(archive)
                .join(&package.filename)
                .map_err(|e| {
                    Failure::message(ExitClass::Usage, format!("`{}`: {e}", package.filename))
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
    let progress = env.printer.progress("Fetching", total, wanted.len() as u64);
    let result =
        super::runtime()?.block_on(fetch::fetch_all(fetcher, cache, wanted, jobs, &progress));
    progress.finish();
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
