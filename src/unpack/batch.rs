//! Unpacking many packages at once: their control data read in parallel, then each batch
//! decoded in parallel and placed in plan order (see [`super::extract`]), so that the tree never
//! depends on which package is decoded first. Used by every mode: `extract` mode unpacks every
//! package in one batch, `install` one batch of its plan at a time.

use crate::cache::{Blobs, Cache};
use crate::error::{Classify, ExitClass, Failure, ResultExt};

/// A batch that did not finish as planned: debroot's own fault, not a package's (exit 9).
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("the thread placing the packages' files panicked")]
    PlacerPanicked,
    #[error("package `{0}` was not unpacked")]
    NotUnpacked(String),
    #[error("package `{0}` was not placed")]
    NotPlaced(String),
}

impl Classify for BatchError {
    fn class(&self) -> ExitClass {
        ExitClass::Output
    }
}
use crate::lock::Lock;

/// A package of the build: lock entry, the `.deb` (open and verified), control data.
pub struct Package {
    pub locked: crate::lock::LockedPackage,
    pub deb: crate::cache::Blob,
    pub control: crate::unpack::Control,
    /// The cache's copy of its decompressed `data.tar`, verified ahead of the unpack
    /// ([`verify_ahead`]) or by it.
    data: DataSlot,
}

/// A package's cached `data.tar` copy: looked up and verified once (whoever comes first, the
/// other waits for it), then handed to the unpack and closed with it. A copy verified ahead
/// stays open until then, which is why the build reserves two descriptors per package.
#[derive(Default)]
struct DataSlot(std::sync::Mutex<DataState>);

#[derive(Default)]
enum DataState {
    #[default]
    Unknown,
    Verified(Option<crate::cache::Blob>),
    Taken,
}

impl DataSlot {
    /// Looks the copy up (hashing it) unless that was done: for [`verify_ahead`].
    fn verify(&self, cache: &Cache, source: &crate::digest::Sha256Digest) {
        let mut state = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if matches!(*state, DataState::Unknown) {
            *state = DataState::Verified(cache.open_derived(DATA_KIND, source));
        }
    }

    /// The verified copy, looked up now unless that was done ahead; `None` when the cache has
    /// none (or a corrupt one, now removed).
    fn take(
        &self,
        cache: &Cache,
        source: &crate::digest::Sha256Digest,
    ) -> Option<crate::cache::Blob> {
        let mut state = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match std::mem::replace(&mut *state, DataState::Taken) {
            DataState::Verified(blob) => blob,
            DataState::Unknown | DataState::Taken => cache.open_derived(DATA_KIND, source),
        }
    }
}

/// Verifies the cached `data.tar` copies of `order`'s packages (indexes into `packages`, in
/// the order they will be unpacked) ahead of their unpack, one at a time, until `stop` is set.
/// A build spends most of its time in maintainer scripts, one process at a time; this moves
/// the hashing of the copies (some 450 MB for the kiosk set, about 0.45 s of CPU) onto the
/// core they leave idle. What is unpacked does not change: the same blob, verified the same
/// way, only earlier.
pub fn verify_ahead(
    packages: &[Package],
    order: &[usize],
    cache: &Cache,
    stop: &std::sync::atomic::AtomicBool,
) {
    for &index in order {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        if let Some(package) = packages.get(index) {
            package.data.verify(cache, &package.locked.sha256);
        }
    }
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
                            data: DataSlot::default(),
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
    if let Some(blob) = package.data.take(cache, source) {
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
/// error is the first failure in plan order, the same on every run. `done` is told each package
/// decoded (for progress only: from the workers, in no fixed order).
#[allow(clippy::too_many_arguments)]
pub fn unpack_all(
    target: &crate::unpack::extract::Target,
    packages: &[Package],
    order: &[usize],
    first_order: usize,
    diversions: &crate::unpack::extract::Diversions,
    for_dpkg: bool,
    cache: &Cache,
    done: &(dyn Fn(&str) + Sync),
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
                multi_arch_same: control.multi_arch == crate::debian::MultiArch::Same,
            });
            (index, claimant)
        })
        .collect();
    target.begin_batch().context(|| "cannot begin unpacking")?;
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
                    } else {
                        done(packages[index].control.package.as_str());
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
        return Err(BatchError::PlacerPanicked.into());
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
                return Err(BatchError::NotUnpacked(package.locked.name.to_string()).into());
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
                return Err(BatchError::NotPlaced(package.locked.name.to_string()).into());
            }
        }
    }
    Ok(unpacked)
}
