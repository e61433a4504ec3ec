//! The build pipeline: the only place that knows the order of the phases. [`build`] runs them,
//! one call per phase, in the order this outline gives:
//!
//! ```text
//! setup -> lock -> fetch -> [setup hooks] -> extract -> [extract hooks] -> essential
//!       -> [essential hooks] -> install -> [customize hooks] -> cleanup -> output -> manifest
//! ```
//!
//! 1. **setup** ([`setup`]): the output path, the build's inputs, the mode and the hooks are
//!    checked before anything is downloaded (docs/THREATS.md E3), and that the host runs the
//!    native architecture's programs, natively or through qemu-user ([`crate::binfmt`]; before
//!    the lock, which may download `.deb`s to date the epoch); a private 0700 work directory is
//!    made beside the output.
//! 2. **lock** ([`locking`]): the profile's lock (written when absent or out of date;
//!    `--locked`: refused if it would change; `--frozen`: used as it is, no index read).
//! 3. **fetch** ([`fetching`]): every package into the content-addressed cache, verified and
//!    kept open; the lock's epoch checked against them.
//! 4. The **root phases** ([`build_root`]), here, or as root of a user namespace in a child
//!    debroot for an `unshare` build without root ([`namespace`]):
//!    - **extract**: the packages' control data read and checked against the lock; in `extract`
//!      mode every package's files unpacked ([`extract`]), otherwise the Essential set's
//!      ([`crate::install::Installer`]);
//!    - **essential** and **install** (`root` and `unshare` modes): the Essential set
//!      configured, then the plan's batches installed by dpkg in the sandbox;
//!    - the hooks of each phase ([`hook_plan`]) between them;
//!    - **cleanup**: the documented list ([`crate::install::cleanup`]), then every mtime
//!      clamped to the epoch ([`write::clamp_mtimes`]);
//!    - **output**: the tree written as a directory, a tarball or an image
//!      ([`write::write_output`]).
//! 5. **manifest** ([`write::write_manifest`]) and provenance ([`provenance`]) beside the output.
//!
//! A failure at any phase removes the work directory (unless `--keep-failed`) and leaves the
//! previous output untouched.
//!
//! [`BuildSpec`] is all a build is told: the command line and the profile, as plain values.
//! `debroot build` makes one (`commands::build`); `debroot verify` runs `debroot build` under
//! each of its conditions, which runs this same driver.

pub mod error;
pub mod extract;
pub mod fetching;
pub mod hook_plan;
pub mod local;
pub mod locking;
pub mod namespace;
pub mod provenance;
pub mod scratch;
pub mod setup;
pub mod write;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cache::{Blobs, Cache};
use crate::context::Context;
use crate::digest::Sha256Digest;
use crate::error::Failure;
use crate::hooks::Phase;
use crate::lock::Lock;
use crate::printer::Printer;
use crate::profile::{Mode, OutputFormat, Profile};

pub use locking::RepoOptions;

/// What a command may use: the process's environment and clock, the printer, `--cache-dir`.
pub struct Env<'a> {
    pub context: &'a Context,
    pub printer: &'a Printer,
    /// `--cache-dir`.
    pub cache_dir: Option<PathBuf>,
}

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

/// Everything a build is told: the profile and the command line's choices, as plain values.
#[derive(Debug)]
pub struct BuildSpec {
    pub profile: Profile,
    /// The output path, as given (`-` with `stdout`).
    pub output: PathBuf,
    /// `-o -`: the tarball (or, `null`, the manifest) goes to stdout; no file is written.
    pub stdout: bool,
    pub format: OutputFormat,
    /// The mode asked for (`auto` is decided in setup).
    pub mode: Mode,
    pub lock: LockPolicy,
    pub repo: RepoOptions,
    /// The command line's hooks (`--customize-hook` ...), run after the profile's.
    pub hooks: Vec<(Phase, String)>,
    /// `--hook-timeout`, overriding the profile's.
    pub hook_timeout: Option<u64>,
    /// `--keep-failed`: a failed build's work directory is kept.
    pub keep_failed: bool,
    /// A dm-verity hash tree beside the image (only with an image format, to a file).
    pub verity: bool,
}

/// Where time went, phase by phase.
#[derive(Debug, Clone, Default)]
pub struct Timings(pub Vec<(&'static str, Duration)>);

impl Timings {
    pub fn record(&mut self, phase: &'static str, since: Instant) {
        self.0.push((phase, since.elapsed()));
    }
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
    /// Where the epoch came from: the lock's source, or `SOURCE_DATE_EPOCH` of the build.
    pub epoch_from: crate::lock::EpochFrom,
    /// An image's tree digest and hash tree.
    pub image: Option<write::ImageInfo>,
    /// The profile's path filters, in the order they apply.
    pub path_filter: crate::pathfilter::PathFilter,
    /// Package members the path filters left out (counted once per package and path).
    pub filtered: u64,
    pub timings: Timings,
}

/// What the root phases produced.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Built {
    pub sha256: Sha256Digest,
    pub bytes: u64,
    pub packages: usize,
    /// An image's tree digest and hash tree.
    pub image: Option<write::ImageInfo>,
    /// Package members the path filters left out.
    #[serde(default)]
    pub filtered: u64,
    /// What the SBOMs describe (gathered while the tree is there).
    #[serde(default)]
    pub contents: crate::sbom::Contents,
}

/// Builds what `spec` says: the driver of the whole build, phase by phase.
pub fn build(env: &Env<'_>, spec: &BuildSpec) -> Result<Report, Failure> {
    let started = Instant::now();
    let mut timings = Timings::default();

    let phase = Instant::now();
    let mut ready = setup::prepare(env, spec)?;
    timings.record("setup", phase);

    let phase = Instant::now();
    let lock = locking::lock_for_build(env, spec)?;
    let (epoch, epoch_from) = match env.context.source_date_epoch()? {
        Some(epoch) => (epoch, crate::lock::EpochFrom::Environment),
        None => (lock.epoch, lock.epoch_from),
    };
    timings.record("lock", phase);

    let phase = Instant::now();
    let fetched = fetching::fetch_for_build(env, spec, &lock, &ready.cache)?;
    timings.record("fetch", phase);

    let built = match ready.namespace {
        Some((uids, gids)) => namespace::in_namespace(
            env,
            &ready.work.path,
            &lock,
            &spec.profile,
            epoch,
            &fetched.blobs,
            uids,
            gids,
            &mut timings,
        )?,
        None => build_root(
            env,
            &RootJob {
                profile: &spec.profile,
                lock: &lock,
                cache: &ready.cache,
                blobs: &fetched.blobs,
                root: &ready.work.root(),
                output: &ready.written,
                format: spec.format,
                verity: spec.verity,
                mode: ready.mode,
                epoch,
                hook_plan: &ready.hook_plan,
                // Without root, extract mode (unshare mode as a user runs in the namespace).
                private: !rustix::process::geteuid().is_root(),
                keep_failed: spec.keep_failed,
            },
            &mut timings,
        )?,
    };
    // The verified `.deb`s stay open (and the cache locked) until here.
    drop(fetched);
    if !spec.profile.packages.path_filter().is_empty() {
        env.printer.status(
            "Filtered",
            &format!(
                "{} package paths left out by `packages.path-exclude` (written to `/{}`)",
                built.filtered,
                crate::install::dpkgdb::FILTER_CONFIG
            ),
        );
    }

    let built_contents = built.contents;
    let report = Report {
        output: ready.output.clone(),
        format: spec.format,
        sha256: built.sha256,
        bytes: built.bytes,
        packages: built.packages,
        mode: ready.mode,
        epoch,
        epoch_from,
        image: built.image,
        path_filter: spec.profile.packages.path_filter(),
        filtered: built.filtered,
        timings,
    };
    if spec.stdout {
        write::to_stdout(env, &report, &ready.written, &spec.profile, &lock)?;
    } else {
        write::write_manifest(&report, &spec.profile, &lock)?;
        write::write_sboms(&report, &spec.profile, &built_contents)?;
    }
    ready.work.succeeded = true;
    print_built(env, &report, started);
    Ok(report)
}

/// What the root phases work on.
pub struct RootJob<'a> {
    pub profile: &'a Profile,
    pub lock: &'a Lock,
    pub cache: &'a Cache,
    /// The `.deb`s, open and verified by the fetch (handed over by the parent, in the child in
    /// a user namespace).
    pub blobs: &'a Blobs,
    pub root: &'a Path,
    pub output: &'a Path,
    pub format: OutputFormat,
    /// A dm-verity hash tree beside an image output.
    pub verity: bool,
    pub mode: Mode,
    pub epoch: i64,
    pub hook_plan: &'a hook_plan::HookPlan,
    /// Built without root, so a directory output is made private (see
    /// [`write::write_output`]).
    pub private: bool,
    /// `--keep-failed`: the tree is built beside the output, never in memory
    /// ([`scratch`]).
    pub keep_failed: bool,
}

/// The root phases, in order: extract, essential and install (with scripts), the hooks between
/// them, cleanup, output.
pub fn build_root(
    env: &Env<'_>,
    job: &RootJob<'_>,
    timings: &mut Timings,
) -> Result<Built, Failure> {
    let reading = Instant::now();
    let packages = extract::read_packages(env, job.lock, job.blobs)?;
    let plan = extract::plan(&packages);
    let read_time = reading.elapsed();
    // Before anything is written in the root, the setup hooks' files included; dropped
    // (unmounted) when the root phases end, whatever way they end.
    let _scratch = in_memory(env, job, &packages);

    let runner = hook_plan::hook_runner(job.hook_plan, job.profile, job.root, job.mode, job.epoch)?;
    let mut hooks = hook_plan::Hooks::new(env, runner);
    hooks.run(Phase::Setup)?;

    // The packages' reading counts in the extract phase, as it did.
    let phase = Instant::now()
        .checked_sub(read_time)
        .unwrap_or_else(Instant::now);
    let (owners, filtered): (Box<dyn crate::output::Owners>, u64) = match job.mode {
        Mode::Extract => {
            let (owners, filtered) = extract::extract_all(env, job, &packages, &plan)?;
            timings.record("extract", phase);
            hooks.run(Phase::Extract)?;
            (owners, filtered)
        }
        Mode::Root | Mode::Unshare | Mode::Auto => {
            // The batches' cached data verified while the Essential set's scripts run, and
            // the next batches' while this one's do (`verify_ahead`); stopped when the install
            // ends, whichever way. Each copy verified ahead stays open until its package is
            // unpacked: two descriptors per package.
            crate::cache::reserve_open_files(2 * packages.len());
            let stop = std::sync::atomic::AtomicBool::new(false);
            let later: Vec<usize> = plan.batches.iter().flatten().copied().collect();
            std::thread::scope(|scope| {
                let installed = (|| {
                    let mut installer = crate::install::Installer::new(
                        env.printer,
                        job.root,
                        job.profile,
                        &packages,
                        &plan,
                        job.epoch,
                        job.cache,
                    )?;
                    installer.unpack_essential()?;
                    // Not before: that unpack keeps both cores busy.
                    scope.spawn(|| {
                        crate::unpack::batch::verify_ahead(&packages, &later, job.cache, &stop)
                    });
                    timings.record("extract", phase);
                    hooks.run(Phase::Extract)?;
                    installer.configure_essential()?;
                    hooks.run(Phase::Essential)?;
                    installer.install_batches()?;
                    timings.0.push(("install-unpack", installer.unpack_time));
                    timings.0.push(("configure", installer.configure_time));
                    Ok::<_, Failure>((
                        Box::new(crate::output::OnDisk) as Box<dyn crate::output::Owners>,
                        installer.filtered,
                    ))
                })();
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                installed
            })?
        }
    };
    hooks.run(Phase::Customize)?;
    timings.0.push(("hooks", hooks.time));

    let phase = Instant::now();
    crate::install::cleanup::run(job.root, job.profile, job.mode)?;
    write::clamp_mtimes(job.root, job.epoch)?;
    let contents = crate::sbom::collect(job.root, &packages);
    timings.record("cleanup", phase);

    let phase = Instant::now();
    let step = env.printer.step(
        "Writing",
        &format!("the {} output", job.format.as_str()),
        crate::printer::Unit::Written,
        0,
        0,
    );
    let oci = job.format.is_oci().then(|| {
        crate::output::oci::Spec::new(
            job.profile,
            job.lock,
            &job.lock.digest(&job.profile.file_name()),
            job.epoch,
        )
    });
    let written = write::write_output(
        job.root,
        job.output,
        job.format,
        job.verity,
        job.epoch,
        owners.as_ref(),
        job.private,
        &|count| step.inc(count),
        oci.as_ref(),
    )?;
    let size = crate::printer::bytes(written.bytes);
    step.finish(
        "Wrote",
        &match job.format {
            // Their digest is that of the tarball the same build writes.
            OutputFormat::Dir | OutputFormat::Null => format!(
                "the {} output (its digest over the {size} tarball of the tree)",
                job.format.as_str()
            ),
            _ => format!("the {} output ({size})", job.format.as_str()),
        },
    );
    write::tell_private(env, job, &written);
    write::tell_image(env, job, &written);
    timings.record("write", phase);
    Ok(Built {
        sha256: written.sha256,
        bytes: written.bytes,
        packages: packages.len(),
        image: written.image,
        filtered,
        contents,
    })
}

/// `Built ...` and the phases' times.
fn print_built(env: &Env<'_>, report: &Report, started: Instant) {
    let breakdown: Vec<String> = report
        .timings
        .0
        .iter()
        .map(|(phase, time)| format!("{phase} {:.2}s", time.as_secs_f64()))
        .collect();
    env.printer.status(
        "Built",
        &format!(
            "`{}` ({}, {} packages, sha256:{}) in {:.2}s",
            report.output.display(),
            report.format.as_str(),
            report.packages,
            report.sha256,
            started.elapsed().as_secs_f64()
        ),
    );
    if let Some(verity) = report.image.as_ref().and_then(|i| i.verity.as_ref()) {
        env.printer.status(
            "Verity",
            &format!(
                "root hash {} (hash tree `{}`)",
                verity.root_hash.hex(),
                verity.file
            ),
        );
    }
    env.printer
        .detail(&format!("phases: {}", breakdown.join(", ")));
}

/// Mounts the work tree's `tmpfs` when [`scratch`] says it may, and says which it chose.
fn in_memory(
    env: &Env<'_>,
    job: &RootJob<'_>,
    packages: &[crate::unpack::batch::Package],
) -> Option<scratch::Scratch> {
    let needed = scratch::needed(packages);
    let available = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| scratch::mem_available(&text));
    let can_mount = rustix::process::geteuid().is_root();
    if let Some(why) = scratch::refusal(job.format, job.keep_failed, can_mount, needed, available) {
        env.printer.detail(&format!(
            "the work tree is on disk, beside the output: {why}"
        ));
        return None;
    }
    match scratch::mount(job.root, needed) {
        Ok(scratch) => {
            env.printer.detail(&format!(
                "the work tree is in memory (a private tmpfs of at most {} MiB)",
                scratch.size >> 20
            ));
            Some(scratch)
        }
        Err(error) => {
            env.printer.detail(&format!(
                "the work tree is on disk, beside the output: cannot mount a tmpfs on `{}`: {error}",
                job.root.display()
            ));
            None
        }
    }
}
