//! The build pipeline: the only place that knows the order of the phases.
//!
//! ```text
//! setup -> lock -> fetch -> extract -> [extract hooks] -> essential -> [essential hooks]
//!       -> install -> [customize hooks] -> cleanup -> output
//! ```
//!
//! - **setup**: the output path is checked before anything is downloaded (docs/THREATS.md E3); a
//!   private 0700 work directory is made beside it.
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

use std::os::unix::fs::FileTypeExt;
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

/// A package of the build: lock entry, the `.deb` (open and verified), control data.
pub struct Package {
    pub locked: crate::lock::LockedPackage,
    pub deb: crate::cache::Blob,
    pub control: crate::unpack::Control,
}

/// The `.deb`s of a lock, open and verified, by digest ([`crate::fetch::Report::blobs`]).
pub type Blobs = std::collections::BTreeMap<Sha256Digest, crate::cache::Blob>;

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
    /// Where the epoch came from: the lock's source, or `SOURCE_DATE_EPOCH` of the build.
    pub epoch_from: crate::lock::EpochFrom,
    pub timings: Timings,
}

/// Checks the output path before anything is downloaded (docs/THREATS.md E3).
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
        // Replaced only when it is a regular file: `-o /dev/null` as root must not turn the
        // host's device into a file, nor a symlink send the output elsewhere.
        Ok(meta) if !meta.is_file() => {
            let kind = match meta.file_type() {
                t if t.is_symlink() => "a symbolic link",
                t if t.is_char_device() => "a character device",
                t if t.is_block_device() => "a block device",
                t if t.is_fifo() => "a FIFO",
                t if t.is_socket() => "a socket",
                _ => "not a regular file",
            };
            return Err(usage(format!(
                "output `{}` exists and is {kind}; debroot replaces only a regular file",
                output.display()
            ))
            .hint("remove it, or write the output somewhere else"));
        }
        _ => {}
    }
    Ok(output)
}

/// Refuses an output that would replace one of the build's inputs (docs/THREATS.md E3): `-o p.lock
/// --format tar` must not turn the lock into a tarball. `output` is what [`preflight`] returned;
/// `inputs` are `(what, path)`, an input that does not exist is skipped. An input is matched by
/// its resolved path and by its own name in its resolved folder (a symlinked profile included).
pub fn refuse_inputs(output: &Path, inputs: &[(&str, &Path)]) -> Result<(), Failure> {
    for (what, input) in inputs {
        let resolved = std::fs::canonicalize(input).ok();
        let named = input.file_name().and_then(|name| {
            let parent = match input.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            Some(std::fs::canonicalize(parent).ok()?.join(name))
        });
        if resolved.as_deref() == Some(output) || named.as_deref() == Some(output) {
            return Err(Failure::message(
                ExitClass::Usage,
                format!(
                    "output `{}` is {what} of this build (`{}`)",
                    output.display(),
                    input.display()
                ),
            )
            .hint("write the output somewhere else"));
        }
    }
    Ok(())
}

/// The mode a build runs in: `auto` is `root` as uid 0, else `unshare`.
pub fn effective_mode(mode: Mode) -> Mode {
    match mode {
        Mode::Auto if rustix::process::geteuid().is_root() => Mode::Root,
        Mode::Auto => Mode::Unshare,
        other => other,
    }
}

/// The epoch the packages of `lock` give ([`crate::lock::packages_epoch`]), read from their
/// verified `.deb`s: each one's first few hundred bytes.
pub fn packages_epoch(lock: &Lock, blobs: &Blobs) -> Result<i64, Failure> {
    let mut times = Vec::with_capacity(lock.packages.len());
    for locked in &lock.packages {
        // Named as the build names a package it cannot read, the reason on the same line.
        let package = format!("package `{} {}`", locked.name, locked.version);
        let blob = blobs.get(&locked.sha256).ok_or_else(|| {
            Failure::message(
                ExitClass::Integrity,
                format!("{package}: sha256:{} was not fetched", locked.sha256),
            )
        })?;
        let time = crate::unpack::deb::DebReader::open(std::io::BufReader::new(blob.reader()))
            .and_then(|mut deb| deb.build_time())
            .map_err(|e| {
                Failure::message(
                    ExitClass::Archive,
                    format!("{package}: cannot read its build time: {e}"),
                )
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
    Err(Failure::message(
        ExitClass::Integrity,
        format!(
            "the lock's epoch {} is not the one its packages give ({derived}, the newest build time of its packages)",
            lock.epoch
        ),
    )
    .hint("lock again (`debroot lock --update PROFILE`), or set the epoch with SOURCE_DATE_EPOCH or `build.epoch`"))
}

/// Reads the control data of every package (in parallel, each `.deb` from `blobs`) and checks
/// it against the lock.
pub fn read_controls(lock: &Lock, blobs: &Blobs) -> Result<Vec<Package>, Failure> {
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
                    let result = blobs
                        .get(&locked.sha256)
                        .cloned()
                        .ok_or_else(|| {
                            crate::unpack::UnpackErrorKind::Cache(format!(
                                "sha256:{} was not fetched",
                                locked.sha256
                            ))
                        })
                        .and_then(|deb| {
                            let control =
                                crate::unpack::read_control(std::io::BufReader::new(deb.reader()))?;
                            Ok((deb, control))
                        })
                        .and_then(|(deb, control)| {
                            crate::unpack::check_identity(
                                &control,
                                &locked.name,
                                &locked.version,
                                &locked.architecture,
                            )
                            .map(|()| (deb, control))
                        })
                        .map(|(deb, control)| Package {
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
    if let Some(blob) = cache.open_derived(DATA_KIND, source) {
        let decoder = crate::compression::Compression::Zstd
            .decoder(std::io::BufReader::with_capacity(1 << 16, blob.reader()))
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
        package.deb.reader(),
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

/// Unpacks `order` (indexes into `packages`, in plan order) into `target`, as one batch: the
/// packages are decoded in parallel (the largest first, which keeps both cores busy to the end)
/// and placed in plan order by a placer thread (`unpack::extract`), so the result never depends
/// on which package is decoded first. Returns each package's unpacked file list, by index; the
/// error is the first failure in plan order, the same on every run.
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
    target.begin_batch().map_err(|e| {
        Failure::new(crate::error::Classify::class(&e), e).context("cannot begin unpacking")
    })?;
    let plan: Vec<usize> = claimants.iter().map(|&(_, claimant)| claimant).collect();
    let mut queue = claimants.clone();
    queue.sort_by_key(|(index, _)| std::cmp::Reverse(packages[*index].locked.size));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let decoded = std::sync::Mutex::new(std::collections::BTreeMap::new());
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    let placed = std::thread::scope(|scope| {
        let placer = scope.spawn(|| target.place(&plan));
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&(index, claimant)) = queue.get(i) else {
                        break;
                    };
                    // A package after a failure in plan order would never be used.
                    if target.stopped_before(claimant) {
                        continue;
                    }
                    let result = unpack_one(
                        target,
                        claimant,
                        &packages[index],
                        diversions,
                        for_dpkg,
                        cache,
                    );
                    if result.is_err() {
                        // Also when it failed before or after decoding its data.
                        target.fail(claimant);
                    }
                    decoded
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(index, result);
                }
            });
        }
        placer.join()
    });
    target.finish_batch();
    let Ok(placed) = placed else {
        return Err(Failure::message(
            ExitClass::Output,
            "the thread placing the packages' files panicked",
        ));
    };
    let mut placed: std::collections::BTreeMap<usize, _> = placed.into_iter().collect();
    let mut decoded = decoded
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut unpacked = Vec::new();
    for &(index, claimant) in &claimants {
        let package = &packages[index];
        let failed = |kind: crate::unpack::UnpackErrorKind| {
            // A conflict is told from the later package's side (the one being placed).
            let named = match &kind {
                crate::unpack::UnpackErrorKind::Extract(
                    crate::unpack::extract::ExtractError::Conflict { package, .. },
                ) => packages
                    .iter()
                    .find(|p| p.control.package.as_str() == package),
                _ => None,
            }
            .unwrap_or(package);
            Failure::from(crate::unpack::UnpackError {
                package: format!("{} {}", named.locked.name, named.locked.version),
                kind,
            })
        };
        let result = match decoded.remove(&index) {
            Some(Ok(result)) => result,
            Some(Err(kind)) => return Err(failed(kind)),
            None => {
                return Err(Failure::message(
                    ExitClass::Output,
                    format!("package `{}` was not unpacked", package.locked.name),
                ));
            }
        };
        match placed.remove(&claimant) {
            Some(Ok(where_)) => {
                let mut result = result;
                result.locations = where_.locations;
                unpacked.push((index, result));
            }
            Some(Err(error)) => return Err(failed(error.into())),
            None => {
                return Err(Failure::message(
                    ExitClass::Output,
                    format!("package `{}` was not placed", package.locked.name),
                ));
            }
        }
    }
    Ok(unpacked)
}

/// Sets every mtime newer than `epoch` to `epoch` (files, directories and symlinks themselves),
/// and drops the sub-second part of older ones. Walks the tree by descriptors (`fdwalk`), so
/// that a tree of any depth is clamped within a small descriptor limit and no path grows longer
/// than the kernel takes.
pub fn clamp_mtimes(root: &Path, epoch: i64) -> Result<(), Failure> {
    use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timespec, Timestamps};
    struct Clamp {
        epoch: i64,
    }
    fn stamps(seconds: i64) -> Timestamps {
        let time = Timespec {
            tv_sec: seconds,
            tv_nsec: 0,
        };
        Timestamps {
            last_access: time,
            last_modification: time,
        }
    }
    impl crate::fdwalk::Visitor for Clamp {
        fn entry(
            &mut self,
            dir: &std::os::fd::OwnedFd,
            path: &[u8],
            name: &[u8],
            _kind: FileType,
        ) -> std::io::Result<bool> {
            let name = std::ffi::OsStr::from_bytes(name);
            let stat = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
            if FileType::from_raw_mode(stat.st_mode) == FileType::Directory {
                return Ok(true);
            }
            if stat.st_mtime > self.epoch || stat.st_mtime_nsec != 0 {
                let seconds = stat.st_mtime.min(self.epoch);
                rustix::fs::utimensat(dir, name, &stamps(seconds), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| {
                        std::io::Error::new(
                            std::io::Error::from(e).kind(),
                            format!(
                                "cannot set the time of `{}` in the root: {e}",
                                crate::error::shown_bytes(
                                    &[path, b"/", name.as_bytes()].concat(),
                                    256
                                )
                            ),
                        )
                    })?;
            }
            Ok(false)
        }

        fn leave(
            &mut self,
            _parent: &std::os::fd::OwnedFd,
            _name: &[u8],
            dir: &std::os::fd::OwnedFd,
            path: &[u8],
        ) -> std::io::Result<()> {
            // Directories once their entries are done (setting an entry's time does not touch
            // its directory).
            if rustix::fs::fstat(dir)?.st_mtime > self.epoch {
                rustix::fs::futimens(dir, &stamps(self.epoch)).map_err(|e| {
                    std::io::Error::new(
                        std::io::Error::from(e).kind(),
                        format!(
                            "cannot set the time of `{}` in the root: {e}",
                            crate::error::shown_bytes(path, 256)
                        ),
                    )
                })?;
            }
            Ok(())
        }
    }
    use std::os::unix::ffi::OsStrExt;
    let failed = |e: std::io::Error| {
        Failure::new(ExitClass::Output, e).context(format!(
            "cannot clamp the times of `{}`",
            crate::error::shown_path(root)
        ))
    };
    let open = || {
        rustix::fs::open(
            root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| failed(e.into()))
    };
    crate::fdwalk::walk(open()?, false, &mut Clamp { epoch }).map_err(failed)?;
    rustix::fs::futimens(&open()?, &stamps(epoch)).map_err(|e| failed(e.into()))?;
    Ok(())
}

/// What [`write_output`] wrote.
pub struct Written {
    pub sha256: Sha256Digest,
    pub bytes: u64,
    /// Setuid and setgid files in a private directory output (see [`write_output`]).
    pub set_id: usize,
}

/// Writes the tree at `root` as `format` to `output` (beside it, then renamed into place).
///
/// With `private` (a build without root: its files belong to the user, or to the user's
/// subordinate ids in `unshare` mode, so a setuid-root program of the image is a setuid program
/// of the user's on the host, and a setgid `shadow` one runs with a subordinate gid), a
/// directory output's top directory is mode 0700 (docs/THREATS.md rule 11 and G6): no other user
/// can reach what it holds, and every mode inside stays exact. Its digest is still that of the
/// tarball the same build writes (whose `./` says 0755): the tree as built, not the access
/// control of its folder on this host. A tarball carries its set-id bits inside the archive
/// and leaves no usable program on disk; it is written as any other.
pub fn write_output(
    root: &Path,
    output: &Path,
    format: OutputFormat,
    epoch: i64,
    owners: &dyn crate::output::Owners,
    private: bool,
) -> Result<Written, Failure> {
    let nodes = crate::output::walk(root, owners)?;
    if format == OutputFormat::Dir {
        // The digest of a directory output is that of its uncompressed tarball.
        let (sha256, bytes) =
            crate::output::write_tarball(root, &nodes, OutputFormat::Tar, std::io::sink())?;
        let mut set_id = 0;
        if private {
            set_id = nodes
                .iter()
                .filter(|n| {
                    matches!(n.kind, crate::output::NodeKind::File { .. }) && n.mode & 0o6000 != 0
                })
                .count();
            // Before the rename: the tree is never reachable by others at its final path.
            std::fs::set_permissions(root, std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .map_err(|e| {
                    Failure::new(ExitClass::Output, e)
                        .context(format!("cannot set the mode of `{}`", root.display()))
                })?;
        }
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
        return Ok(Written {
            sha256,
            bytes,
            set_id,
        });
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
    Ok(Written {
        sha256: digest,
        bytes: size,
        set_id: 0,
    })
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
        "epoch_from": report.epoch_from.as_str(),
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
