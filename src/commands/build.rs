//! `debroot build`: the pipeline, wired to the command line.

use std::time::Instant;

use super::{Env, Outcome};
use crate::cli::{BuildArgs, ModeArg, OutputFormatArg};
use crate::error::{ExitClass, Failure, ResultExt};
use crate::pipeline::{self, LockPolicy, Report, Timings};
use crate::profile::{Mode, OutputFormat};

/// Removes the work directory when dropped, unless told to keep it.
struct WorkDir {
    path: std::path::PathBuf,
    keep_on_failure: bool,
    succeeded: bool,
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.succeeded || !self.keep_on_failure {
            let _ = crate::workdir::remove(&self.path);
        } else {
            crate::workdir::unregister(&self.path);
            eprintln!(
                "note: the failed build's work directory is kept at `{}`",
                self.path.display()
            );
        }
    }
}

pub fn run(env: &Env<'_>, args: &BuildArgs) -> Result<Outcome, Failure> {
    crate::workdir::install_signal_handler();
    let started = Instant::now();
    let mut timings = Timings::default();
    let profile = super::load_profile(env, &args.profile)?;

    // setup: the output is checked before anything else (THREATS E3).
    let phase = Instant::now();
    let format = match args.format {
        Some(OutputFormatArg::Dir) => OutputFormat::Dir,
        Some(OutputFormatArg::Tar) => OutputFormat::Tar,
        Some(OutputFormatArg::TarGz) => OutputFormat::TarGz,
        Some(OutputFormatArg::TarXz) => OutputFormat::TarXz,
        Some(OutputFormatArg::TarZst) => OutputFormat::TarZst,
        None => crate::output::format_of(&args.output)
            .or(profile.output.format)
            .unwrap_or(OutputFormat::Dir),
    };
    let mode = pipeline::effective_mode(match args.mode {
        Some(ModeArg::Auto) => Mode::Auto,
        Some(ModeArg::Root) => Mode::Root,
        Some(ModeArg::Unshare) => Mode::Unshare,
        Some(ModeArg::Extract) => Mode::Extract,
        None => profile.build.mode,
    });
    if mode == Mode::Root && !rustix::process::geteuid().is_root() {
        return Err(
            Failure::message(ExitClass::Usage, "`root` mode needs uid 0")
                .hint("run as root, or use `--mode unshare` or `--mode extract`"),
        );
    }
    let cache = super::open_cache(env)?;
    let output = pipeline::preflight(&args.output, format, cache.root())?;
    let parent = output
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .to_path_buf();
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut work = WorkDir {
        path: crate::workdir::create(&parent, &name).map_err(|e| {
            Failure::new(ExitClass::Output, e).context(format!(
                "cannot create a work directory in `{}`",
                parent.display()
            ))
        })?,
        keep_on_failure: args.keep_failed,
        succeeded: false,
    };
    let root = work.path.join("root");
    std::fs::create_dir(&root).map_err(|e| {
        Failure::new(ExitClass::Output, e).context(format!("cannot create `{}`", root.display()))
    })?;
    std::fs::set_permissions(&root, std::os::unix::fs::PermissionsExt::from_mode(0o755)).map_err(
        |e| {
            Failure::new(ExitClass::Output, e)
                .context(format!("cannot set the mode of `{}`", root.display()))
        },
    )?;
    timings.record("setup", phase);

    // lock
    let phase = Instant::now();
    let policy = if args.frozen {
        LockPolicy::Frozen
    } else if args.locked {
        LockPolicy::Locked
    } else {
        LockPolicy::Normal
    };
    let lock = match policy {
        LockPolicy::Normal => super::current_lock(env, &profile, &args.repo)?,
        LockPolicy::Frozen | LockPolicy::Locked => {
            let existing = super::read_lock(&profile)?.ok_or_else(|| {
                Failure::message(
                    ExitClass::Usage,
                    format!("`{}` does not exist", profile.lock_path().display()),
                )
                .hint("run `debroot lock PROFILE` first")
            })?;
            if existing.profile_digest != profile.resolution_digest() {
                return Err(Failure::message(
                    ExitClass::Usage,
                    format!(
                        "`{}` does not match the profile",
                        profile.lock_path().display()
                    ),
                )
                .hint("run `debroot lock PROFILE` to update it"));
            }
            if policy == LockPolicy::Locked {
                let fresh = super::resolve_lock(env, &profile, &args.repo, Some(&existing))?;
                let name = profile.file_name();
                if fresh.to_toml(&name) != existing.to_toml(&name) {
                    return Err(Failure::message(
                        ExitClass::Differs,
                        format!(
                            "`{}` would change (--locked)",
                            profile.lock_path().display()
                        ),
                    )
                    .hint("run `debroot lock --update PROFILE` and review the change"));
                }
            }
            existing
        }
    };
    let epoch = env.context.source_date_epoch()?.unwrap_or(lock.epoch);
    timings.record("lock", phase);

    // fetch
    let phase = Instant::now();
    let snapshot = super::snapshot(&args.repo, lock.snapshot)?;
    let sources = super::choose_sources(env, profile.source.mirror.as_ref(), snapshot, &args.repo)?;
    let wanted = super::fetch::wanted(&lock, &sources)?;
    let fetcher = super::fetcher(env, &args.repo)?;
    let report = super::fetch::download(env, &fetcher, &cache, &wanted, args.repo.jobs)?;
    env.printer.status(
        "Fetched",
        &format!(
            "{} packages ({} downloaded)",
            wanted.len(),
            report.downloaded
        ),
    );
    timings.record("fetch", phase);

    // extract (and, with scripts, essential + install)
    let phase = Instant::now();
    let packages = pipeline::read_controls(&lock, &cache)?;
    for package in &packages {
        for warning in &package.control.warnings {
            env.printer
                .warn(&format!("package `{}`: {warning}", package.locked.name));
        }
    }
    let nodes: Vec<crate::install::plan::Node> = packages
        .iter()
        .map(|p| crate::install::plan::Node {
            name: p.control.package.clone(),
            version: p.control.version.clone(),
            essential: p.control.essential,
            pre_depends: p.control.pre_depends.clone(),
            depends: p.control.depends.clone(),
            provides: p.control.provides.clone(),
        })
        .collect();
    let plan = crate::install::plan::plan(&nodes);
    let owners: Box<dyn crate::output::Owners> = match mode {
        Mode::Extract => {
            let chown = rustix::process::geteuid().is_root();
            let target = crate::unpack::extract::Target::open(&root, chown).map_err(|e| {
                Failure::new(ExitClass::Output, e)
                    .context(format!("cannot open `{}`", root.display()))
            })?;
            let mut order = plan.essential.clone();
            order.extend(plan.batches.iter().flatten().copied());
            pipeline::unpack_all(&target, &packages, &order, 0, &Default::default(), false)?;
            target
                .apply_directory_attributes()
                .context(|| "cannot set directory attributes")?;
            env.printer.status(
                "Extracted",
                &format!("{} packages (no scripts: extract mode)", packages.len()),
            );
            timings.record("extract", phase);
            if chown {
                Box::new(crate::output::OnDisk)
            } else {
                Box::new(crate::output::Recorded(target.recorded_owners()))
            }
        }
        Mode::Root | Mode::Unshare | Mode::Auto => {
            crate::install::install(
                env,
                &root,
                &profile,
                &packages,
                &plan,
                epoch,
                mode,
                &mut timings,
            )?;
            Box::new(crate::output::OnDisk)
        }
    };

    // cleanup
    let phase = Instant::now();
    crate::install::cleanup::run(&root, &profile, mode)?;
    pipeline::clamp_mtimes(&root, epoch)?;
    timings.record("cleanup", phase);

    // output
    let phase = Instant::now();
    let (sha256, bytes) = pipeline::write_output(&root, &output, format, epoch, owners.as_ref())?;
    timings.record("write", phase);
    let report = Report {
        output: output.clone(),
        format,
        sha256,
        bytes,
        packages: packages.len(),
        mode,
        epoch,
        timings,
    };
    let manifest = pipeline::manifest(
        &report,
        &profile.resolution_digest(),
        &lock.digest(&profile.file_name()),
        &lock,
    );
    let manifest_path = {
        let mut name = output.as_os_str().to_owned();
        name.push(".manifest.json");
        std::path::PathBuf::from(name)
    };
    crate::atomic::write(&manifest_path, manifest.as_bytes(), 0o644).map_err(|e| {
        Failure::new(ExitClass::Output, e)
            .context(format!("cannot write `{}`", manifest_path.display()))
    })?;
    work.succeeded = true;
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
            output.display(),
            format.as_str(),
            report.packages,
            sha256,
            started.elapsed().as_secs_f64()
        ),
    );
    env.printer
        .detail(&format!("phases: {}", breakdown.join(", ")));
    Ok(Outcome::Success)
}
