//! The lock phase, and what reading a repository needs: the archives chosen (command line,
//! environment, profile, host: DESIGN §3), the keyring, the indexes read and verified, the
//! resolution, and the lock read, checked, or written. `lock`, `why`, `fetch` and `index` use
//! the same steps as the build.

use std::path::Path;

use crate::cache::Cache;
use crate::error::{Failure, ResultExt, io_at, local};
use crate::fetch::{FetchOptions, Fetcher};
use crate::profile::Profile;
use crate::repo::release::TimeCheck;
use crate::repo::signature::Keyring;
use crate::repo::source::{self, Sources};
use crate::timestamp::Timestamp;

use super::error::BuildError;
use super::{BuildSpec, Env, LockPolicy, fetching, local};

/// How the repository is reached: the command line's choices, as plain values.
#[derive(Debug, Clone, Default)]
pub struct RepoOptions {
    /// A mirror URL, or `host`: overrides `DEBROOT_MIRROR` and the profile.
    pub mirror: Option<String>,
    /// A snapshot time (`YYYYMMDDTHHMMSSZ`), overriding the profile's and the lock's.
    pub snapshot: Option<String>,
    /// A server with snapshot.debian.org's URL layout.
    pub snapshot_server: Option<String>,
    /// The cache only, no network request.
    pub offline: bool,
    /// Downloads at a time.
    pub jobs: usize,
    /// Seconds a transfer may make no progress before it is retried.
    pub timeout: u64,
    /// Retries of a transient network failure.
    pub retries: u32,
}

/// The async runtime for commands that use the network: two workers, like the machine.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| local("start the async runtime")(e).into())
}

/// The cache, its lock held shared (as long as the process runs): `--cache-dir`, else
/// `$XDG_CACHE_HOME/debroot`, else `~/.cache/debroot`.
pub fn open_cache(env: &Env<'_>) -> Result<Cache, Failure> {
    let dir = cache_dir(env)?;
    Ok(Cache::open_with(
        &dir,
        crate::cache::Access::Shared,
        &mut || {
            env.printer.status(
                "Waiting",
                &format!("for `debroot cache gc` to finish with `{}`", dir.display()),
            )
        },
    )?)
}

/// The cache directory: `--cache-dir`, else `$XDG_CACHE_HOME/debroot`, else `~/.cache/debroot`.
pub fn cache_dir(env: &Env<'_>) -> Result<std::path::PathBuf, Failure> {
    Ok(match &env.cache_dir {
        Some(dir) => dir.clone(),
        None => env
            .context
            .cache_home()
            .map(|home| home.join("debroot"))
            .ok_or(BuildError::NoCacheDirectory)?,
    })
}

/// Reads the profile's keyring: missing, empty or secret-bearing keyrings are usage errors.
pub fn load_keyring(path: &Path) -> Result<Keyring, Failure> {
    let bytes = std::fs::read(path).map_err(|source| BuildError::KeyringUnreadable {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(
        Keyring::parse(&bytes).map_err(|source| BuildError::KeyringUnusable {
            path: path.to_path_buf(),
            source,
        })?,
    )
}

/// What reading indexes needs: the chosen archives, the keyrings, the time to judge against.
pub struct Repo {
    pub sources: Sources,
    /// The keys trusted for the Debian archive (`source.keyring`).
    pub keyring: Keyring,
    /// The keys trusted for each `[[source.repository]]`, in the profile's order: a key is
    /// trusted for its own repository only (apt's `Signed-By`).
    pub keyrings: Vec<Keyring>,
    pub time: TimeCheck,
    pub fetcher: Fetcher,
    pub cache: Cache,
}

/// The downloader configured by the command line (`--offline`, `--timeout`, `--retries`).
pub fn fetcher(env: &Env<'_>, args: &RepoOptions) -> Result<Fetcher, Failure> {
    let timeout = std::time::Duration::from_secs(args.timeout.max(1));
    let options = FetchOptions {
        retries: args.retries,
        connect_timeout: timeout,
        read_timeout: timeout,
        low_speed_window: timeout.max(std::time::Duration::from_secs(10)),
        offline: args.offline,
        ..FetchOptions::default()
    };
    Ok(Fetcher::new(env.context, options)?)
}

/// A `--snapshot` time.
fn parse_snapshot(text: &str) -> Result<Timestamp, BuildError> {
    Timestamp::parse_snapshot(text).map_err(|e| BuildError::Snapshot(e.to_string()))
}

/// The snapshot time: `--snapshot`, else the one given (profile or lock).
pub fn snapshot(
    args: &RepoOptions,
    pinned: Option<Timestamp>,
) -> Result<Option<Timestamp>, Failure> {
    match &args.snapshot {
        Some(text) => Ok(Some(parse_snapshot(text)?)),
        None => Ok(pinned),
    }
}

/// Chooses the archive URLs by DESIGN §3's precedence, and those of the profile's
/// `[[source.repository]]` tables (`profile` is `None` for a lock used without its profile).
pub fn choose_sources(
    env: &Env<'_>,
    profile: Option<&crate::profile::Source>,
    snapshot: Option<Timestamp>,
    args: &RepoOptions,
) -> Result<Sources, Failure> {
    use crate::profile::{Mirror, RepositoryLocation};
    let profile_mirror = profile.and_then(|p| p.mirror.as_ref());
    let command_line = args
        .mirror
        .as_deref()
        .map(source::parse_mirror_override)
        .transpose()
        .context(|| "--mirror")?;
    let environment = env
        .context
        .mirror_override()
        .map(source::parse_mirror_override)
        .transpose()
        .context(|| "DEBROOT_MIRROR")?;
    let now = Timestamp::from_system(env.context.now());
    if let Some(at) = snapshot
        && at > now
    {
        return Err(BuildError::SnapshotInFuture(at.snapshot_form()).into());
    }
    let snapshot_server = args
        .snapshot_server
        .as_deref()
        .map(|text| {
            url::Url::parse(text)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https" | "file"))
                .ok_or_else(|| BuildError::SnapshotServer(text.to_owned()))
        })
        .transpose()?;
    let chosen = command_line
        .as_ref()
        .or(environment.as_ref())
        .or(profile_mirror);
    let needs_host =
        matches!(chosen, Some(Mirror::Host)) || (chosen.is_none() && snapshot.is_none());
    let host = if needs_host {
        source::read_host_sources(Path::new("/etc/apt"))
    } else {
        source::HostSources::default()
    };
    let mut sources = source::choose(
        &source::Choice {
            command_line,
            environment,
            profile: profile_mirror.cloned(),
            snapshot,
            snapshot_server: snapshot_server.clone(),
        },
        &host,
    )?;
    for repository in profile.map_or(&[][..], |p| &p.repositories) {
        let base = match &repository.location {
            RepositoryLocation::Url(url) => source::with_trailing_slash(url.clone()),
            RepositoryLocation::Archive(archive) => {
                let at = snapshot.ok_or_else(|| BuildError::RepositoryNeedsSnapshot {
                    repository: repository.name.clone(),
                    archive: archive.clone(),
                })?;
                source::snapshot_archive(snapshot_server.as_ref(), archive, at)?
            }
        };
        sources.extra.insert(repository.name.clone(), base);
    }
    Ok(sources)
}

/// Chooses sources and opens what reading a profile's indexes needs.
pub fn open_repo(env: &Env<'_>, profile: &Profile, args: &RepoOptions) -> Result<Repo, Failure> {
    let snapshot = snapshot(args, profile.source.snapshot)?;
    let sources = choose_sources(env, Some(&profile.source), snapshot, args)?;
    let keyring = load_keyring(&profile.source.keyring)?;
    let keyrings = profile
        .source
        .repositories
        .iter()
        .map(|repository| load_keyring(&repository.keyring))
        .collect::<Result<Vec<_>, _>>()?;
    let time = match snapshot {
        Some(at) => TimeCheck::Snapshot { at },
        None => TimeCheck::Live {
            now: Timestamp::from_system(env.context.now()),
        },
    };
    Ok(Repo {
        sources,
        keyring,
        keyrings,
        time,
        fetcher: fetcher(env, args)?,
        cache: open_cache(env)?,
    })
}

/// Writes a profile's lock ([`Profile::lock_file`]), atomically.
pub fn write_lock(profile: &Profile, lock: &crate::lock::Lock) -> Result<(), Failure> {
    let path = profile.lock_path();
    // A lock in the state folder (a built-in or command-line profile's) may be its first.
    if let Some(folder) = path.parent()
        && !folder.as_os_str().is_empty()
        && !folder.is_dir()
    {
        std::fs::create_dir_all(folder).map_err(io_at("create the folder of lockfile", &path))?;
    }
    crate::atomic::write(&path, lock.to_toml(&profile.file_name()).as_bytes(), 0o644)
        .map_err(io_at("write lockfile", &path))?;
    Ok(())
}

/// Why `lock` no longer answers what the profile and the command line ask for, or `None` when it
/// does: the profile's resolution inputs changed (its digest: suite, architectures, packages,
/// the profile's own snapshot...), a local `.deb` is not the file the lock records, or `--snapshot` asks for another state of the archive than
/// the one the lock was resolved at. A pin given on the command line is never silently
/// replaced by the lock's.
pub fn stale_reason(
    lock: &crate::lock::Lock,
    profile: &Profile,
    args: &RepoOptions,
) -> Result<Option<String>, Failure> {
    if lock.profile_digest != profile.resolution_digest() {
        return Ok(Some(
            "the profile changed since the lock was written".into(),
        ));
    }
    if let Some(reason) = local::changed(lock, profile.folder()) {
        return Ok(Some(reason));
    }
    if let Some(text) = &args.snapshot {
        let asked = parse_snapshot(text)?;
        if lock.snapshot != Some(asked) {
            return Ok(Some(match lock.snapshot {
                Some(pinned) => format!(
                    "--snapshot {} asks for another state of the archive than the lock's snapshot {}",
                    asked.snapshot_form(),
                    pinned.snapshot_form()
                ),
                None => format!(
                    "--snapshot {} asks for a snapshot; the lock was resolved from a mirror",
                    asked.snapshot_form()
                ),
            }));
        }
    }
    Ok(None)
}

/// The profile's lock when it answers the profile and `args` ([`stale_reason`]); otherwise a
/// fresh resolution, written, saying why.
pub fn current_lock(
    env: &Env<'_>,
    profile: &Profile,
    args: &RepoOptions,
) -> Result<crate::lock::Lock, Failure> {
    let existing = read_lock(profile)?;
    if let Some(lock) = &existing {
        match stale_reason(lock, profile, args)? {
            None => return Ok(existing.expect("checked above")),
            Some(reason) => env.printer.status(
                "Relocking",
                &format!("`{}`: {reason}", profile.lock_path().display()),
            ),
        }
    }
    let lock = resolve_lock(env, profile, args, existing.as_ref())?;
    write_lock(profile, &lock)?;
    env.printer.status(
        "Locked",
        &format!(
            "{} packages in `{}`",
            lock.packages.len(),
            profile.lock_path().display()
        ),
    );
    Ok(lock)
}

/// A verified suite, with the repository it belongs to and its pin priority.
pub struct ReadSuite {
    /// `None`: the Debian archive; otherwise the `[[source.repository]]`'s name.
    pub repository: Option<String>,
    /// The repository's `priority`, else the one its `Release` gives (500, or 100 for
    /// Debian's backports).
    pub priority: i32,
    pub suite: crate::repo::indexes::Suite,
}

impl ReadSuite {
    /// The name the lock gives the suite's archive: `debian`, `debian-security` or the
    /// repository's name.
    pub fn archive_name(&self) -> String {
        match (&self.repository, self.suite.request.archive) {
            (Some(name), _) => name.clone(),
            (None, crate::repo::source::Archive::Main) => "debian".into(),
            (None, crate::repo::source::Archive::Security) => "debian-security".into(),
        }
    }
}

/// Reads and verifies every suite of the profile: the Debian archive's with `source.keyring`,
/// each `[[source.repository]]`'s with its own keyring only, all at once. Rejected stanzas are
/// warned about.
pub fn load_suites(
    env: &Env<'_>,
    profile: &Profile,
    repo: &Repo,
) -> Result<Vec<ReadSuite>, Failure> {
    use crate::repo::indexes::{self, SuiteRequest};
    use crate::repo::source::Archive;
    let debian_suites = indexes::suites_of(&profile.source);
    let repositories = &profile.source.repositories;
    // Each repository is read as an archive of its own, at its own URL.
    let extra_sources: Vec<Sources> = repositories
        .iter()
        .map(|repository| {
            let base = repo
                .sources
                .extra
                .get(&repository.name)
                .cloned()
                .ok_or_else(|| {
                    local("choose the repositories")(std::io::Error::other(format!(
                        "repository `{}` has no URL",
                        repository.name
                    )))
                })?;
            Ok(Sources {
                main: base.clone(),
                security: base,
                origin: repo.sources.origin.clone(),
                extra: Default::default(),
            })
        })
        .collect::<Result<_, Failure>>()?;
    let extra_suites: Vec<Vec<SuiteRequest>> = repositories
        .iter()
        .map(|repository| {
            repository
                .suites
                .iter()
                .map(|suite| SuiteRequest {
                    suite: suite.clone(),
                    archive: Archive::Main,
                    optional: false,
                })
                .collect()
        })
        .collect();
    let mut requests = vec![indexes::Request {
        sources: &repo.sources,
        keyring: &repo.keyring,
        suites: &debian_suites,
        architectures: &profile.source.architectures,
        components: &profile.source.components,
        time: repo.time,
    }];
    for (index, repository) in repositories.iter().enumerate() {
        requests.push(indexes::Request {
            sources: &extra_sources[index],
            keyring: &repo.keyrings[index],
            suites: &extra_suites[index],
            architectures: &profile.source.architectures,
            components: &repository.components,
            time: repo.time,
        });
    }
    let loads = requests
        .iter()
        .map(|request| indexes::load(&repo.fetcher, &repo.cache, request));
    let results = runtime()?.block_on(futures_util::future::join_all(loads));
    let mut read = Vec::new();
    for (index, result) in results.into_iter().enumerate() {
        let repository = index.checked_sub(1).map(|i| &repositories[i]);
        // The index error names the URL: it is the first line the user reads.
        let suites = result?;
        if repository.is_none() {
            report_skipped(env, &debian_suites, &suites);
        }
        for suite in suites {
            for index in &suite.indexes {
                for rejected in &index.packages.rejected {
                    env.printer.warn(&format!(
                        "`{}` of `{}`: rejected stanza at {rejected}",
                        index.path, suite.request.suite
                    ));
                }
            }
            read.push(ReadSuite {
                repository: repository.map(|r| r.name.clone()),
                priority: repository
                    .and_then(|r| r.priority)
                    .unwrap_or_else(|| suite.release.default_priority()),
                suite,
            });
        }
    }
    Ok(read)
}

/// Reads and verifies the profile's suites ([`load_suites`]), saying from where.
pub fn read_indexes(
    env: &Env<'_>,
    profile: &Profile,
    repo: &Repo,
) -> Result<Vec<ReadSuite>, Failure> {
    let count = crate::repo::indexes::suites_of(&profile.source).len();
    let mut from = format!(
        "{count} suites from {} ({})",
        crate::redact::redact(&repo.sources.main),
        repo.sources.origin
    );
    for repository in &profile.source.repositories {
        if let Some(base) = repo.sources.extra.get(&repository.name) {
            from.push_str(&format!(
                ", {} from `{}` ({})",
                repository.suites.len(),
                repository.name,
                crate::redact::redact(base)
            ));
        }
    }
    env.printer.status("Reading", &from);
    load_suites(env, profile, repo)
}

/// Says which optional suites (SUITE-updates, SUITE-security) the archive does not have, and
/// were left out.
pub fn report_skipped(
    env: &Env<'_>,
    requested: &[crate::repo::indexes::SuiteRequest],
    loaded: &[crate::repo::indexes::Suite],
) {
    for missing in crate::repo::indexes::skipped(requested, loaded) {
        env.printer.status(
            "Skipping",
            &format!(
                "`{}`: the archive does not have it (`dists/{}/InRelease` and `Release`: 404)",
                missing.suite, missing.suite
            ),
        );
    }
}

/// The universe of the loaded suites, in the profile's suite order, each at its priority,
/// then the local `.deb`s. The indexes' packages move into it (a copy of the ~69,000 records
/// of a suite cost a tenth of a `lock`); the suites keep the rest.
pub fn universe(
    profile: &Profile,
    suites: &mut [ReadSuite],
    local: &[local::LocalDeb],
) -> crate::resolve::Universe {
    let mut parts = Vec::new();
    for read in suites {
        for index in &mut read.suite.indexes {
            parts.push(crate::resolve::Part {
                suite: read.suite.request.suite.clone(),
                repository: read.repository.clone(),
                priority: read.priority,
                index: std::mem::take(&mut index.packages),
            });
        }
    }
    if !local.is_empty() {
        parts.push(crate::resolve::Part {
            suite: crate::lock::LOCAL_SUITE.to_owned(),
            repository: None,
            priority: crate::resolve::universe::DEFAULT_PRIORITY,
            index: local::index(local),
        });
    }
    crate::resolve::Universe::from_parts(&profile.source.architectures, parts)
}

/// The resolution request of a profile, its local `.deb`s read.
pub fn request(profile: &Profile, local: &[local::LocalDeb]) -> crate::resolve::Request {
    crate::resolve::Request {
        variant: profile.packages.variant,
        include: profile
            .packages
            .include
            .iter()
            .map(|spec| crate::resolve::Requested {
                spec: spec.value.clone(),
                origin: format!("`packages.include` at {}", spec.at),
            })
            .chain(local::requests(profile, local))
            .collect(),
        exclude: profile
            .packages
            .exclude
            .iter()
            .map(|e| e.value.clone())
            .collect(),
        recommends: profile.packages.recommends,
    }
}

/// The lock beside the profile, if there is one.
pub fn read_lock(profile: &Profile) -> Result<Option<crate::lock::Lock>, Failure> {
    let path = profile.lock_path();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io_at("read lockfile", &path)(error).into()),
    };
    let lock = crate::lock::Lock::parse(&text)
        .context(|| format!("cannot use lockfile `{}`", path.display()))?;
    Ok(Some(lock))
}

/// Resolves the profile against fresh indexes and builds its lock, its epoch included
/// (nothing is written).
pub fn resolve_lock(
    env: &Env<'_>,
    profile: &Profile,
    args: &RepoOptions,
    previous: Option<&crate::lock::Lock>,
) -> Result<crate::lock::Lock, Failure> {
    let (mut lock, repo) = resolve_packages(env, profile, args, previous)?;
    if lock.epoch_from == crate::lock::EpochFrom::Packages {
        lock.epoch = match previous {
            // The same packages have the same epoch: nothing to download to know it.
            Some(previous)
                if previous.version == lock.version
                    && previous.epoch_from == lock.epoch_from
                    && previous.same_packages(&lock) =>
            {
                previous.epoch
            }
            _ => packages_epoch_of(env, &repo, args, profile, &lock)?,
        };
    }
    Ok(lock)
}

/// Resolves the profile against fresh indexes: a lock whose epoch is 0 when the packages give
/// it (`resolve_lock` finds it), for commands that only read the package set (`why`).
pub fn resolve_packages(
    env: &Env<'_>,
    profile: &Profile,
    args: &RepoOptions,
    previous: Option<&crate::lock::Lock>,
) -> Result<(crate::lock::Lock, Repo), Failure> {
    use crate::lock::{self, LockedSuite};
    // Local files first: a wrong path is found before any download.
    let local = local::read(profile)?;
    let repo = open_repo(env, profile, args)?;
    let mut suites = read_indexes(env, profile, &repo)?;
    let locked_suites: Vec<LockedSuite> = suites
        .iter()
        .map(|read| LockedSuite {
            name: read.suite.request.suite.clone(),
            archive: read.archive_name(),
            date: read.suite.release.date,
            inrelease_sha256: read.suite.inrelease_sha256,
        })
        .collect();
    if let Some(previous) = previous {
        lock::check_rollback(&previous.suites, &locked_suites)?;
    }
    let snapshot = match &args.snapshot {
        Some(text) => Some(parse_snapshot(text)?),
        None => profile.source.snapshot,
    };
    let started = std::time::Instant::now();
    let universe = universe(profile, &mut suites, &local);
    drop(suites);
    let resolution =
        crate::resolve::resolve(&universe, &request(profile, &local)).context(|| {
            // At a snapshot, a package may simply not exist yet: say which state was searched.
            let at = snapshot.map_or(String::new(), |t| {
                format!(" at snapshot {}", t.snapshot_form())
            });
            format!(
                "cannot resolve the packages of `{}`{at}",
                profile.path.display()
            )
        })?;
    for warning in &resolution.warnings {
        env.printer.warn(warning);
    }
    env.printer.status(
        "Resolved",
        &format!(
            "{} packages in {:.2}s",
            resolution.packages.len(),
            started.elapsed().as_secs_f64()
        ),
    );
    let (epoch, epoch_from) =
        lock::epoch_source(env.context.source_date_epoch()?, profile.build.epoch);
    let lock = lock::from_resolution(
        &universe,
        &resolution,
        lock::Anchor {
            profile_digest: profile.resolution_digest(),
            epoch: epoch.unwrap_or(0),
            epoch_from,
            snapshot,
            suites: locked_suites,
        },
    );
    // Freeing the universe (hundreds of thousands of allocations) took a sixth of a `lock`:
    // another thread does it while the lock is written, and the process's exit does not wait.
    std::thread::spawn(move || drop(universe));
    Ok((lock, repo))
}

/// The epoch of a new lock's packages: each `.deb` is fetched into the cache (the build needs
/// them anyway) and its build time read from the verified bytes.
fn packages_epoch_of(
    env: &Env<'_>,
    repo: &Repo,
    args: &RepoOptions,
    profile: &Profile,
    lock: &crate::lock::Lock,
) -> Result<i64, Failure> {
    let wanted = fetching::wanted(lock, &repo.sources)?;
    let started = std::time::Instant::now();
    let mut report = fetching::download(env, &repo.fetcher, &repo.cache, &wanted, args.jobs)?;
    report
        .blobs
        .extend(local::store(lock, profile.folder(), &repo.cache)?);
    env.printer.status(
        "Fetched",
        &format!(
            "{} packages ({} downloaded) to read their build times, in {:.2}s",
            wanted.len(),
            report.downloaded,
            started.elapsed().as_secs_f64()
        ),
    );
    let epoch = fetching::packages_epoch(lock, &report.blobs)?;
    env.printer.status(
        "Dated",
        &format!(
            "epoch {} ({}): the newest build time of the {} packages",
            epoch,
            Timestamp(epoch).rfc3339(),
            lock.packages.len()
        ),
    );
    Ok(epoch)
}

/// The build's lock, by its policy: the profile's lock, resolved again when it no longer
/// matches the profile (and written); with `--frozen` or `--locked` it must exist and match, and
/// `--locked` refuses a lock that fresh indexes would change.
pub fn lock_for_build(env: &Env<'_>, spec: &BuildSpec) -> Result<crate::lock::Lock, Failure> {
    let profile = &spec.profile;
    if spec.lock == LockPolicy::Normal {
        return current_lock(env, profile, &spec.repo);
    }
    let existing = read_lock(profile)?.ok_or_else(|| BuildError::NoLock(profile.lock_path()))?;
    if let Some(reason) = stale_reason(&existing, profile, &spec.repo)? {
        return Err(BuildError::LockDoesNotMatch(profile.lock_path(), reason).into());
    }
    if spec.lock == LockPolicy::Locked {
        let fresh = resolve_lock(env, profile, &spec.repo, Some(&existing))?;
        let name = profile.file_name();
        if fresh.to_toml(&name) != existing.to_toml(&name) {
            return Err(BuildError::LockWouldChange(profile.lock_path()).into());
        }
    }
    Ok(existing)
}
