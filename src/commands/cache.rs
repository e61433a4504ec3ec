//! `debroot cache info` and `debroot cache gc`.

use std::collections::BTreeSet;

use super::Outcome;
use super::error::CommandError;
use crate::cli::CacheCommand;
use crate::error::{Failure, ResultExt, local};
use crate::lock::Lock;
use crate::pipeline::{Env, locking};

pub fn run(env: &Env<'_>, command: &CacheCommand) -> Result<Outcome, Failure> {
    match command {
        CacheCommand::Info => {
            let cache = locking::open_cache(env)?;
            let usage = cache.usage()?;
            env.printer
                .data(&format!(
                    "path  {}\nblobs {}\nbytes {}\n",
                    cache.root().display(),
                    usage.blobs,
                    usage.bytes
                ))
                .map_err(local("write to stdout"))?;
        }
        CacheCommand::Gc { keep } => {
            let mut digests = BTreeSet::new();
            for path in keep {
                let text = std::fs::read_to_string(path).map_err(|source| {
                    CommandError::LockfileUnreadable {
                        path: path.clone(),
                        source,
                    }
                })?;
                let lock = Lock::parse(&text)
                    .context(|| format!("cannot use lockfile `{}`", path.display()))?;
                digests.extend(lock.packages.iter().map(|p| p.sha256));
                digests.extend(lock.suites.iter().map(|s| s.inrelease_sha256));
            }
            // Exclusive: no build or fetch is using a blob this removes (they hold the lock
            // shared while they run); wait for them, and say so.
            let dir = locking::cache_dir(env)?;
            let cache = crate::cache::Cache::open_exclusive(&dir, &mut || {
                env.printer.status(
                    "Waiting",
                    &format!(
                        "for the debroot builds and fetches using `{}` to finish",
                        dir.display()
                    ),
                )
            })?;
            let removed = cache.remove_except(&digests)?;
            let left = cache.usage()?;
            env.printer.status(
                "Removed",
                &format!(
                    "{} blobs ({} bytes); {} blobs ({} bytes) kept",
                    removed.blobs, removed.bytes, left.blobs, left.bytes
                ),
            );
        }
    }
    Ok(Outcome::Success)
}
