//! `debroot fetch`: every package of a lock into the content-addressed cache.

use super::error::CommandError;
use super::{Outcome, repo_options};
use crate::cli::FetchArgs;
use crate::error::{Failure, ResultExt};
use crate::lock::Lock;
use crate::pipeline::{Env, fetching, locking};

pub fn run(env: &Env<'_>, args: &FetchArgs) -> Result<Outcome, Failure> {
    let (lock, profile) = if args.target.extension().is_some_and(|e| e == "lock") {
        let text = std::fs::read_to_string(&args.target).map_err(|source| {
            CommandError::LockfileUnreadable {
                path: args.target.clone(),
                source,
            }
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
            locking::current_lock(env, &profile, &repo_options(&args.repo))?,
            Some(profile),
        )
    };
    let snapshot = locking::snapshot(&repo_options(&args.repo), lock.snapshot)?;
    let source = profile.as_ref().map(|p| &p.source);
    let sources = locking::choose_sources(env, source, snapshot, &repo_options(&args.repo))?;
    let wanted = fetching::wanted(&lock, &sources)?;
    let cache = locking::open_cache(env)?;
    let fetcher = locking::fetcher(env, &repo_options(&args.repo))?;
    let report = fetching::download(env, &fetcher, &cache, &wanted, args.repo.jobs)?;
    // Local `.deb`s are beside the profile, named relative to its (and the lock's) folder.
    let folder = match &profile {
        Some(profile) => profile.folder().to_path_buf(),
        None => {
            let folder = match args.target.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => std::path::Path::new("."),
            };
            std::path::absolute(folder)
                .map_err(|e| Failure::from(crate::error::io_at("read", folder)(e)))?
        }
    };
    let stored = crate::pipeline::local::store(&lock, &folder, &cache)?;
    env.printer.status(
        "Fetched",
        &format!(
            "{} packages: {} downloaded ({} bytes), {} already in the cache",
            wanted.len() + stored.len(),
            report.downloaded,
            report.bytes,
            report.cached
        ),
    );
    Ok(Outcome::Success)
}
