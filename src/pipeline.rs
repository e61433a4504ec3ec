//! The build pipeline: the only place that knows the order of the phases.
//!
//! ```text
//! setup -> lock -> fetch -> extract -> [extract hooks] -> essential -> [essential hooks]
//!       -> install -> [customize hooks] -> cleanup -> output
//! ```
//!
//! - **setup**: the output path is checked before anything is downloaded (THREATS E3); a private
//!   0700 work directory is made beside it.
//! - **lock**: the profile's lock (written when absent, `--locked`: refused if it would change,
//!   `--frozen`: used as it is, no index read).
//! - **fetch**: every package into the content-addressed cache.
//! - **extract**: the packages' control data read and checked against the lock; in `extract`
//!   mode every package's files, otherwise the Essential set's, unpacked by debroot.
//! - **essential** and **install** (`root` and `unshare` modes): see `install`.
//! - **cleanup**: `cleanup` (the documented list), then every mtime clamped to the epoch.
//! - **output**: the tree written (directory or tarball) and its manifest.
//!
//! A failure at any phase removes the work directory (unless `--keep-failed`) and leaves the
//! previous output untouched.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cache::Cache;
use crate::digest::Sha256Digest;
use crate::error::{ExitClass, Failure, ResultExt};
use crate::lock::Lock;
use crate::profile::{Mode, OutputFormat};

/// How the lock may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockPolicy {
    /// Use the lock; write it when absent or out of date.
    Normal,
    /// Fail if the lock would change.
    Locked,
    /// Use the lock as it is, read no index, resolve nothing.
    Frozen,
}

/// Where time went, phase by phase.
#[derive(Debug, Clone, Default)]
pub struct Timings(pub Vec<(&'static str, Duration)>);

impl Timings {
    pub fn record(&mut self, phase: &'static str, since: Instant) {
        self.0.push((phase, since.elapsed()));
    }
}

/// A package of the build: lock entry, cache path, control data.
pub struct Package {
    pub locked: crate::lock::LockedPackage,
    pub deb: PathBuf,
    pub control: crate::unpack::Control,
}

/// What the build produced.
#[derive(Debug, Clone)]
pub struct Report {
    pub output: PathBuf,
    pub format: OutputFormat,
    pub sha256: Sha256Digest,
    pub bytes: u64,
    pub packages: usize,
    pub mode: Mode,
    pub epoch: i64,
    pub timings: Timings,
}

/// Checks the output path before anything is downloaded (THREATS E3).
pub fn preflight(output: &Path, format: OutputFormat, cache: &Path) -> Result<PathBuf, Failure> {
    let usage = |message: String| Failure::message(ExitClass::Usage, message);
    let name = output
        .file_name()
        .ok_or_else(|| usage(format!("output `{}` has no file name", output.display())))?;
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let parent = std::fs::canonicalize(&parent).map_err(|e| {
        Failure::new(ExitClass::Output, e).context(format!(
            "the output's folder `{}` does not exist",
            parent.display()
        ))
    })?;
    let output = parent.join(name);
    if rustix::fs::access(&parent, rustix::fs::Access::WRITE_OK).is_err() {
        return Err(Failure::message(
            ExitClass::Output,
            format!("cannot write to the output's folder `{}`", parent.display()),
        ));
    }
    if let Ok(cache) = std::fs::canonicalize(cache)
        && output.starts_with(&cache)
    {
        return Err(usage(format!(
            "output `{}` is inside the cache `{}`",
            output.display(),
            cache.display()
        )));
    }
    match std::fs::symlink_metadata(&output) {
        Ok(meta) if format == OutputFormat::Dir => {
            let empty = meta.is_dir()
                && std::fs::read_dir(&output)
                    .map(|mut d| d.next().is_none())
                    .unwrap_or(false);
            if !empty {
                return Err(usage(format!(
                    "output directory `{}` exists and is not empty",
                    output.display()
                )));
            }
        }
        Ok(meta) if meta.is_dir() => {
            return Err(usage(format!(
                "output `{}` is a directory; a {} needs a file name",
                output.display(),
                format.as_str()
            )));
        }
        _ => {}
    }
    Ok(output)
}

/// The mode a build runs in: `auto` is `root` as uid 0, else `unshare`.
pub fn effective_mode(mode: Mode) -> Mode {
    match mode {
        Mode::Auto if rustix::process::geteuid().is_root() => Mode::Root,
        Mode::Auto => Mode::Unshare,
        other => other,
    }
}

/// Reads the control data of every package (in parallel) and checks it against the lock.
pub fn read_controls(lock: &Lock, cache: &Cache) -> Result<Vec<Package>, Failure> {
    let jobs: Vec<(usize, &crate::lock::LockedPackage)> =
        lock.packages.iter().enumerate().collect();
    let results = std::sync::Mutex::new(Vec::with_capacity(jobs.len()));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((index, locked)) = jobs.get(i) else {
                        break;
                    };
                    let deb = cache.path(&locked.sha256);
                    let result = crate::unpack::read_control(&deb)
                        .and_then(|control| {
                            crate::unpack::check_identity(
                                &control,
                                &locked.name,
                                &locked.version,
                                &locked.architecture,
                            )
                            .map(|()| control)
                        })
                        .map(|control| Package {
                            locked: (*locked).clone(),
                            deb,
                            control,
                        })
                        .map_err(|kind| crate::unpack::UnpackError {
                            package: format!("{} {}", locked.name, locked.version),
                            kind,
                        });
                    results.lock().expect("results lock").push((*index, result));
                }
            });
        }
    });
    let mut results = results.into_inner().expect("results lock");
    results.sort_by_key(|(index, _)| *index);
    let mut packages = Vec::with_capacity(results.len());
    for (_, result) in results {
        packages.push(result?);
    }
    Ok(packages)
}

/// What the cache keeps of a package for the next build: its decompressed `data.tar`,
/// recompressed with zstd at this level (fast to write, about 2 GB/s to read back).
const DATA_KIND: &str = "data-tar-zst";
const DATA_LEVEL: i32 = 1;

/// Unpacks one package: from the cache's decompressed copy of its `data.tar` when there is
/// one (the same bytes xz would give, verified by their digest), else from the `.deb`, keeping
/// such a copy for next time. Failing to keep the copy is not an error.
fn unpack_one(
    target: &crate::unpack::extract::Target,
    claimant: usize,
    package: &Package,
    diversions: &crate::unpack::extract::Diversions,
    for_dpkg: bool,
    cache: &Cache,
) -> Result<crate::unpack::extract::Unpacked, crate::unpack::UnpackErrorKind> {
    let source = &package.locked.sha256;
    if let Some(file) = cache.open_derived(DATA_KIND, source) {
        let decoder = crate::compression::Compression::Zstd
            .decoder(std::io::BufReader::with_capacity(1 << 16, file))
            .map_err(|source| {
                crate::unpack::UnpackErrorKind::Deb(crate::unpack::deb::DebError::Decompress {
                    member: "data.tar (cached copy)".into(),
                    source,
                })
            })?;
        return crate::unpack::unpack_tar(
            target,
            claimant,
            decoder,
            &package.control,
            diversions,
            for_dpkg,
        );
    }
    let mut copy = cache
        .begin_derived()
        .ok()
        .and_then(|pending| zstd::stream::write::Encoder::new(pending, DATA_LEVEL).ok());
    let (unpacked, copy_error) = crate::unpack::unpack_data(
        target,
        claimant,
        &package.deb,
        &package.control,
        diversions,
        for_dpkg,
        copy.as_mut().map(|c| c as &mut dyn std::io::Write),
    )?;
    if let (Some(encoder), None) = (copy, copy_error)
        && let Ok(pending) = encoder.finish()
        && let Ok((digest, size)) = pending.commit_derived()
    {
        let _ = cache.set_derived(DATA_KIND, source, &digest, size);
    }
    Ok(unpacked)
}

/// Unpacks `order` (indexes into `packages`) in parallel into `target`. Returns each package's
/// unpacked file list, by index.
pub fn unpack_all(
    target: &crate::unpack::extract::Target,
    packages: &[Package],
    order: &[usize],
    first_order: usize,
    diversions: &crate::unpack::extract::Diversions,
    for_dpkg: bool,
    cache: &Cache,
) -> Result<Vec<(usize, crate::unpack::extract::Unpacked)>, Failure> {
    let claimants: Vec<(usize, usize)> = order
        .iter()
        .enumerate()
        .map(|(position, &index)| {
            let control = &packages[index].control;
            let claimant = target.register(crate::unpack::extract::Claimant {
                order: first_order + position,
                name: control.package.to_string(),
                version: control.version.clone(),
                replaces: control.replaces.clone(),
            });
            (index, claimant)
        })
        .collect();
    // The largest packages first keeps both cores busy to the end.
    let mut queue = claimants.clone();
    queue.sort_by_key(|(index, _)| std::cmp::Reverse(packages[*index].locked.size));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::atomic::AtomicBool::new(false);
    let results = std::sync::Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    if failed.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&(index, claimant)) = queue.get(i) else {
                        break;
                    };
                    let package = &packages[index];
                    let result = unpack_one(target, claimant, package, diversions, for_dpkg, cache)
                        .map_err(|kind| {
                            // A conflict is told from the later package's side, whichever of the
                            // two found it.
                            let named = match &kind {
                                crate::unpack::UnpackErrorKind::Extract(
                                    crate::unpack::extract::ExtractError::Conflict {
                                        package, ..
                                    },
                                ) => packages
                                    .iter()
                                    .find(|p| p.control.package.as_str() == package),
                                _ => None,
                            }
                            .unwrap_or(package);
                            crate::unpack::UnpackError {
                                package: format!("{} {}", named.locked.name, named.locked.version),
                                kind,
                            }
                        });
                    if result.is_err() {
                        failed.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    results.lock().expect("results lock").push((index, result));
                }
            });
        }
    });
    target.remove_scratch();
    let mut results = results.into_inner().expect("results lock");
    // Report the first failure in plan order, not in finishing order.
    results.sort_by_key(|(index, _)| order.iter().position(|o| o == index).unwrap_or(usize::MAX));
    let mut unpacked = Vec::new();
    for (index, result) in results {
        unpacked.push((index, result?));
    }
    Ok(unpacked)
}

/// Sets every mtime newer than `epoch` to `epoch` (files, directories and symlinks themselves).
pub fn clamp_mtimes(root: &Path, epoch: i64) -> Result<(), Failure> {
    use std::os::unix::fs::MetadataExt;
    let time = rustix::fs::Timespec {
        tv_sec: epoch,
        tv_nsec: 0,
    };
    let stamps = rustix::fs::Timestamps {
        last_access: time,
        last_modification: time,
    };
    let mut stack = vec![root.to_path_buf()];
    let mut directories = Vec::new();
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| {
            Failure::new(ExitClass::Output, e).context(format!("cannot read `{}`", dir.display()))
        })?;
        for entry in entries {
            let entry = entry.map_err(|e| {
                Failure::new(ExitClass::Output, e)
                    .context(format!("cannot read `{}`", dir.display()))
            })?;
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).map_err(|e| {
                Failure::new(ExitClass::Output, e)
                    .context(format!("cannot stat `{}`", path.display()))
            })?;
            if meta.is_dir() {
                stack.push(path.clone());
                directories.push((path, meta.mtime()));
            } else if meta.mtime() > epoch || meta.mtime_nsec() != 0 {
                let new = if meta.mtime() > epoch {
                    time
                } else {
                    rustix::fs::Timespec {
                        tv_sec: meta.mtime(),
                        tv_nsec: 0,
                    }
                };
                rustix::fs::utimensat(
                    rustix::fs::CWD,
                    &path,
                    &rustix::fs::Timestamps {
                        last_access: new,
                        last_modification: new,
                    },
                    rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(|e| {
                    Failure::new(ExitClass::Output, std::io::Error::from(e))
                        .context(format!("cannot set the time of `{}`", path.display()))
                })?;
            }
        }
    }
    // Directories last: setting their children's times does not touch them, but be explicit.
    directories.push((root.to_path_buf(), i64::MAX));
    for (path, mtime) in directories {
        if mtime > epoch {
            rustix::fs::utimensat(
                rustix::fs::CWD,
                &path,
                &stamps,
                rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(|e| {
                Failure::new(ExitClass::Output, std::io::Error::from(e))
                    .context(format!("cannot set the time of `{}`", path.display()))
            })?;
        }
    }
    Ok(())
}

/// Writes the tree at `root` as `format` to `output` (beside it, then renamed into place).
pub fn write_output(
    root: &Path,
    output: &Path,
    format: OutputFormat,
    epoch: i64,
    owners: &dyn crate::output::Owners,
) -> Result<(Sha256Digest, u64), Failure> {
    let nodes = crate::output::walk(root, owners)?;
    if format == OutputFormat::Dir {
        // The digest of a directory output is that of its uncompressed tarball.
        let (digest, size) =
            crate::output::write_tarball(root, &nodes, OutputFormat::Tar, std::io::sink())?;
        if output.exists() {
            std::fs::remove_dir(output).map_err(|e| {
                Failure::new(ExitClass::Output, e)
                    .context(format!("cannot replace `{}`", output.display()))
            })?;
        }
        std::fs::rename(root, output).map_err(|e| {
            Failure::new(ExitClass::Output, e)
                .context(format!("cannot move the tree to `{}`", output.display()))
        })?;
        return Ok((digest, size));
    }
    let nodes = crate::output::with_static_dev(nodes, epoch);
    let mut temporary = crate::atomic::Temporary::beside(output, 0o644).map_err(|e| {
        Failure::new(ExitClass::Output, e).context(format!(
            "cannot create a temporary file beside `{}`",
            output.display()
        ))
    })?;
    crate::workdir::register(temporary.path());
    let temporary_path = temporary.path().to_path_buf();
    let file = temporary.file().try_clone().map_err(|e| {
        Failure::new(ExitClass::Output, e)
            .context(format!("cannot write `{}`", temporary_path.display()))
    })?;
    let mut writer = crate::output::Pipelined::new(file);
    let result = crate::output::write_tarball(root, &nodes, format, &mut writer)
        .and_then(|done| {
            writer
                .finish()
                .map(|()| done)
                .map_err(|source| crate::output::OutputError::Write {
                    path: temporary_path.clone(),
                    source,
                })
        })
        .context(|| format!("cannot write `{}`", output.display()));
    let (digest, size) = match result {
        Ok(done) => done,
        Err(failure) => {
            crate::workdir::unregister(&temporary_path);
            return Err(failure);
        }
    };
    temporary.persist().map_err(|e| {
        Failure::new(ExitClass::Output, e)
            .context(format!("cannot move the tarball to `{}`", output.display()))
    })?;
    crate::workdir::unregister(&temporary_path);
    Ok((digest, size))
}

/// The manifest written beside an output.
pub fn manifest(
    report: &Report,
    profile_digest: &Sha256Digest,
    lock_digest: &Sha256Digest,
    lock: &Lock,
) -> String {
    let packages: Vec<serde_json::Value> = lock
        .packages
        .iter()
        .map(|p| {
            serde_json::json!({
                "name": p.name,
                "version": p.version,
                "architecture": p.architecture,
                "sha256": p.sha256.hex(),
            })
        })
        .collect();
    let document = serde_json::json!({
        "debroot": env!("CARGO_PKG_VERSION"),
        "format": report.format.as_str(),
        "mode": report.mode.as_str(),
        "epoch": report.epoch,
        "profile_digest": profile_digest.hex(),
        "lock_digest": lock_digest.hex(),
        "output_sha256": report.sha256.hex(),
        "output_bytes": report.bytes,
        "packages": packages,
    });
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}
