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
            if let Err(error) = crate::workdir::remove_anywhere(&self.path) {
                eprintln!(
                    "warning: cannot remove the work directory `{}`: {error}",
                    self.path.display()
                );
            }
        } else {
            crate::workdir::unregister(&self.path);
            eprintln!(
                "note: the failed build's work directory is kept at `{}`",
                self.path.display()
            );
        }
    }
}

/// The output format: `--format`, else the output's name, else the profile's. A name whose
/// extension debroot does not know (`x.squashfs`, `x.tar.bz2`) is an error without `--format`,
/// never silently a tarball.
fn format_of(args: &BuildArgs, profile: &crate::profile::Profile) -> Result<OutputFormat, Failure> {
    Ok(match args.format {
        Some(OutputFormatArg::Dir) => OutputFormat::Dir,
        Some(OutputFormatArg::Tar) => OutputFormat::Tar,
        Some(OutputFormatArg::TarGz) => OutputFormat::TarGz,
        Some(OutputFormatArg::TarXz) => OutputFormat::TarXz,
        Some(OutputFormatArg::TarZst) => OutputFormat::TarZst,
        None => match crate::output::format_of(&args.output) {
            Some(format) => format,
            None => {
                if let Some(extension) = crate::output::unknown_extension(&args.output) {
                    return Err(Failure::message(
                        ExitClass::Usage,
                        format!(
                            "output `{}`: debroot writes no `.{extension}` format",
                            args.output.display()
                        ),
                    )
                    .hint(format!(
                        "name the output .tar, .tar.gz, .tar.xz or .tar.zst, or a folder (no extension), or choose with --format ({})",
                        crate::output::FORMAT_NAMES.join(", ")
                    )));
                }
                profile.output.format.unwrap_or(OutputFormat::Dir)
            }
        },
    })
}

/// The build's hooks: the profile's folders', then the command line's.
fn hooks_of(
    args: &BuildArgs,
    profile: &crate::profile::Profile,
) -> Result<Vec<crate::hooks::Hook>, Failure> {
    use crate::hooks::Phase;
    let mut cli = Vec::new();
    for (phase, texts) in [
        (Phase::Setup, &args.setup_hook),
        (Phase::Extract, &args.extract_hook),
        (Phase::Essential, &args.essential_hook),
        (Phase::Customize, &args.customize_hook),
    ] {
        cli.extend(texts.iter().map(|text| (phase, text.clone())));
    }
    Ok(crate::hooks::discover(&profile.build.hooks, &cli)?)
}

/// What the root phases need to run hooks.
struct HookPlan {
    hooks: Vec<crate::hooks::Hook>,
    timeout: std::time::Duration,
    /// Host variables passed by name (`build.pass-env`) that are set.
    passed: Vec<(String, String)>,
}

fn hook_plan(
    env: &Env<'_>,
    args: &BuildArgs,
    profile: &crate::profile::Profile,
) -> Result<HookPlan, Failure> {
    let passed = profile
        .build
        .pass_env
        .iter()
        .filter_map(|name| {
            env.context
                .passthrough(name)
                .map(|value| (name.clone(), value.to_string_lossy().into_owned()))
        })
        .collect();
    Ok(HookPlan {
        hooks: hooks_of(args, profile)?,
        timeout: std::time::Duration::from_secs(
            args.hook_timeout.unwrap_or(profile.build.hook_timeout),
        ),
        passed,
    })
}

/// The runner of a build's hooks on `root`.
fn hook_runner<'a>(
    plan: &'a HookPlan,
    profile: &crate::profile::Profile,
    root: &std::path::Path,
    mode: Mode,
    epoch: i64,
) -> Result<crate::hooks::Runner<'a>, Failure> {
    let cwd = std::env::current_dir().map_err(|e| {
        Failure::new(ExitClass::Output, e).context("cannot determine the current directory")
    })?;
    // `chroot "$1" CMD` in a hook confined as `debroot hook chroot` is: the shim, in the work
    // directory beside the root.
    let shim_dir = match root.parent() {
        Some(work) if !plan.hooks.is_empty() => {
            let dir = work.join("hook-bin");
            crate::hooks::install_shim(&dir).map_err(|e| {
                Failure::new(ExitClass::Output, e).context(format!(
                    "cannot make the hooks' `chroot` in `{}`",
                    dir.display()
                ))
            })?;
            Some(dir)
        }
        _ => None,
    };
    Ok(crate::hooks::Runner {
        hooks: &plan.hooks,
        contract: crate::hooks::Contract {
            mode: mode.as_str().to_owned(),
            suite: profile.source.suite.clone(),
            arch: profile.source.native_architecture().to_string(),
            profile: profile.path.clone(),
            root: root.to_path_buf(),
            epoch,
            settings: profile.build.env.clone(),
            passed: plan.passed.clone(),
            helper_dir: std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(std::path::Path::to_path_buf)),
            shim_dir,
        },
        timeout: plan.timeout,
        hostname: profile
            .build
            .hostname
            .clone()
            .unwrap_or_else(|| "localhost".into()),
        cwd,
        sandboxed: rustix::process::geteuid().is_root(),
    })
}

/// Runs the hooks of `phase`, saying so.
pub(crate) fn run_hooks(
    env: &Env<'_>,
    runner: &crate::hooks::Runner<'_>,
    phase: crate::hooks::Phase,
) -> Result<(), Failure> {
    runner.run(phase, &mut |hook, output, elapsed| {
        env.printer.detail(&format!(
            "hook {} ({}) done in {:.2}s",
            hook.name,
            phase.as_str(),
            elapsed.as_secs_f64()
        ));
        for line in output.lines() {
            env.printer.debug(&format!("  {line}"));
        }
    })
}

pub fn run(env: &Env<'_>, args: &BuildArgs) -> Result<Outcome, Failure> {
    crate::workdir::install_signal_handler();
    // The caller's umask must not reach the tree: the folders debroot makes, the files dpkg
    // and maintainer scripts write, get the modes Debian's tools assume (`debroot verify`
    // builds once with 0077 to prove it).
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
    if let Some(work) = &args.inner {
        return inner(env, args, work);
    }
    let started = Instant::now();
    let mut timings = Timings::default();
    let profile = super::load_profile(env, &args.profile)?;

    // setup: the output is checked before anything else (docs/THREATS.md E3).
    let phase = Instant::now();
    let format = format_of(args, &profile)?;
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
    // unshare mode as root is root mode in a user namespace of root's: not needed.
    let namespace = if mode == Mode::Unshare && !rustix::process::geteuid().is_root() {
        let maps = crate::userns::preflight()?;
        crate::workdir::use_namespace(maps.0, maps.1);
        Some(maps)
    } else {
        None
    };
    let cache = super::open_cache(env)?;
    let output = pipeline::preflight(&args.output, format, cache.dir())?;
    let lock_path = profile.lock_path();
    let mut inputs: Vec<(&str, &std::path::Path)> = profile
        .files
        .iter()
        .map(|file| ("the profile", file.as_path()))
        .collect();
    inputs.push(("the lock", &lock_path));
    inputs.push(("the keyring", &profile.source.keyring));
    pipeline::refuse_inputs(&output, &inputs)?;
    // Hook files are checked before anything is downloaded too.
    let hook_plan = hook_plan(env, args, &profile)?;
    if mode == Mode::Extract
        && hook_plan
            .hooks
            .iter()
            .any(|h| h.phase == crate::hooks::Phase::Essential)
    {
        env.printer
            .warn("essential hooks do not run in extract mode: no Essential set is configured");
    }
    let parent = output
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .to_path_buf();
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for (path, pid, error) in crate::workdir::remove_stale(&parent, &name) {
        let what = if path.to_string_lossy().ends_with(".tmp") {
            "stale temporary output"
        } else {
            "stale work directory"
        };
        match error {
            None => env.printer.warn(&format!(
                "removed the {what} `{}` of debroot process {pid}, which is gone",
                path.display()
            )),
            Some(error) => env.printer.warn(&format!(
                "cannot remove the {what} `{}` of debroot process {pid}: {error}",
                path.display()
            )),
        }
    }
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
    let (epoch, epoch_from) = match env.context.source_date_epoch()? {
        Some(epoch) => (epoch, crate::lock::EpochFrom::Environment),
        None => (lock.epoch, lock.epoch_from),
    };
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
    // The lock's epoch is the one its packages give, or it is not used (exit 5).
    pipeline::check_packages_epoch(&lock, &report.blobs)?;
    timings.record("fetch", phase);

    let built = match namespace {
        Some((uids, gids)) => in_namespace(
            &work.path,
            &lock,
            &profile,
            epoch,
            &report.blobs,
            uids,
            gids,
            &mut timings,
        )?,
        None => build_tree(
            env,
            &profile,
            &lock,
            &cache,
            &report.blobs,
            &root,
            &output,
            format,
            mode,
            epoch,
            &hook_plan,
            // Without root, extract mode (unshare mode as a user runs in the namespace).
            !rustix::process::geteuid().is_root(),
            &mut timings,
        )?,
    };
    // The verified `.deb`s stay open (and the cache locked) until here.
    drop(report);
    let Built {
        sha256,
        bytes,
        packages,
    } = built;
    let report = Report {
        output: output.clone(),
        format,
        sha256,
        bytes,
        packages,
        mode,
        epoch,
        epoch_from,
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

/// What the root phases produced.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Built {
    sha256: crate::digest::Sha256Digest,
    bytes: u64,
    packages: usize,
}

/// The root phases: extract, essential + install (with scripts), cleanup, output. The `.deb`s
/// are `blobs`, open and verified by the fetch (handed over by the parent, in the child in a
/// user namespace). `private`: built without root, so a directory output is made private (see
/// `pipeline::write_output`).
#[allow(clippy::too_many_arguments)]
fn build_tree(
    env: &Env<'_>,
    profile: &crate::profile::Profile,
    lock: &crate::lock::Lock,
    cache: &crate::cache::Cache,
    blobs: &pipeline::Blobs,
    root: &std::path::Path,
    output: &std::path::Path,
    format: OutputFormat,
    mode: Mode,
    epoch: i64,
    hook_plan: &HookPlan,
    private: bool,
    timings: &mut Timings,
) -> Result<Built, Failure> {
    use crate::hooks::Phase;
    let hooks = hook_runner(hook_plan, profile, root, mode, epoch)?;
    let mut hook_time = std::time::Duration::ZERO;
    let mut hook_phase = |phase: Phase| -> Result<(), Failure> {
        let started = Instant::now();
        run_hooks(env, &hooks, phase)?;
        hook_time += started.elapsed();
        Ok(())
    };
    hook_phase(Phase::Setup)?;
    // extract (and, with scripts, essential + install)
    let phase = Instant::now();
    let packages = pipeline::read_controls(lock, blobs)?;
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
            let target = crate::unpack::extract::Target::open(root, chown).map_err(|e| {
                Failure::new(ExitClass::Output, e)
                    .context(format!("cannot open `{}`", root.display()))
            })?;
            let mut order = plan.essential.clone();
            order.extend(plan.batches.iter().flatten().copied());
            pipeline::unpack_all(
                &target,
                &packages,
                &order,
                0,
                &Default::default(),
                false,
                cache,
            )?;
            target
                .apply_directory_attributes()
                .context(|| "cannot set directory attributes")?;
            env.printer.status(
                "Extracted",
                &format!("{} packages (no scripts: extract mode)", packages.len()),
            );
            timings.record("extract", phase);
            hook_phase(Phase::Extract)?;
            if chown {
                Box::new(crate::output::OnDisk)
            } else {
                Box::new(crate::output::Recorded(target.recorded_owners()))
            }
        }
        Mode::Root | Mode::Unshare | Mode::Auto => {
            crate::install::install(
                env,
                root,
                profile,
                &packages,
                &plan,
                epoch,
                cache,
                timings,
                &mut hook_phase,
            )?;
            Box::new(crate::output::OnDisk)
        }
    };
    hook_phase(Phase::Customize)?;
    timings.0.push(("hooks", hook_time));

    // cleanup
    let phase = Instant::now();
    crate::install::cleanup::run(root, profile, mode)?;
    pipeline::clamp_mtimes(root, epoch)?;
    timings.record("cleanup", phase);

    // output
    let phase = Instant::now();
    let written = pipeline::write_output(root, output, format, epoch, owners.as_ref(), private)?;
    if private && format == OutputFormat::Dir {
        env.printer.status(
            "Private",
            &format!(
                "`{}` is mode 0700: built without root, its files are yours (or your subordinate ids')",
                output.display()
            ),
        );
        if written.set_id > 0 {
            env.printer.warn(&format!(
                "`{}` holds {} setuid or setgid files owned by you or your subordinate ids; keep it mode 0700 (other users could run them as you), or build a tarball",
                output.display(),
                written.set_id
            ));
        }
    }
    let (sha256, bytes) = (written.sha256, written.bytes);
    timings.record("write", phase);
    Ok(Built {
        sha256,
        bytes,
        packages: packages.len(),
    })
}

/// What the parent of an `unshare` build hands to its child in the user namespace
/// (`WORKDIR/inner.json`); the child answers in `WORKDIR/built.json`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct InnerSpec {
    /// The lock, as its TOML text.
    lock: String,
    epoch: i64,
    /// The `.deb`s the parent fetched and verified, as descriptors the child inherits: SHA256
    /// (hex) and descriptor number. The child reads them, and no path of the cache.
    blobs: Vec<(String, i32)>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct InnerReport {
    built: Built,
    /// Phase name and seconds.
    timings: Vec<(String, f64)>,
}

/// Runs the root phases in a debroot child that is root of a user namespace, handing it the
/// verified `.deb`s (`blobs`) as inherited descriptors.
#[allow(clippy::too_many_arguments)]
fn in_namespace(
    work: &std::path::Path,
    lock: &crate::lock::Lock,
    profile: &crate::profile::Profile,
    epoch: i64,
    blobs: &pipeline::Blobs,
    uids: crate::userns::IdMap,
    gids: crate::userns::IdMap,
    timings: &mut Timings,
) -> Result<Built, Failure> {
    let io = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |e: std::io::Error| {
            Failure::new(ExitClass::Output, e).context(format!("cannot use `{}`", path.display()))
        }
    };
    use std::os::fd::{AsFd, AsRawFd};
    let spec = InnerSpec {
        lock: lock.to_toml(&profile.file_name()),
        epoch,
        blobs: blobs
            .iter()
            .map(|(digest, blob)| (digest.hex(), blob.as_fd().as_raw_fd()))
            .collect(),
    };
    let spec_path = work.join("inner.json");
    let text = serde_json::to_string(&spec).unwrap_or_default();
    std::fs::write(&spec_path, text).map_err(io(&spec_path))?;
    let mut args: Vec<std::ffi::OsString> = vec!["cli".into()];
    args.extend(std::env::args_os().skip(1));
    args.push("--inner".into());
    args.push(work.as_os_str().to_owned());
    let inherit: Vec<std::os::fd::BorrowedFd<'_>> = blobs.values().map(AsFd::as_fd).collect();
    let mut child = crate::userns::Namespaced::spawn_with(&args, uids, gids, &inherit)?.child;
    crate::workdir::track_child(child.id(), true);
    let status = child.wait();
    crate::workdir::track_child(child.id(), false);
    let status = status
        .map_err(|e| Failure::new(ExitClass::Output, e).context("cannot wait for debroot"))?;
    if !status.success() {
        use std::os::unix::process::ExitStatusExt;
        let class =
            status
                .code()
                .and_then(ExitClass::from_code)
                .unwrap_or(if status.signal().is_some() {
                    ExitClass::Interrupted
                } else {
                    ExitClass::Output
                });
        return Err(Failure::reported(class));
    }
    let report_path = work.join("built.json");
    let text = std::fs::read_to_string(&report_path).map_err(io(&report_path))?;
    let report: InnerReport = serde_json::from_str(&text).map_err(|e| {
        Failure::new(ExitClass::Output, e)
            .context(format!("cannot read `{}`", report_path.display()))
    })?;
    for (phase, seconds) in report.timings {
        let name: &'static str = match phase.as_str() {
            "extract" => "extract",
            "install-unpack" => "install-unpack",
            "configure" => "configure",
            "cleanup" => "cleanup",
            "hooks" => "hooks",
            "write" => "write",
            _ => "other",
        };
        timings
            .0
            .push((name, std::time::Duration::from_secs_f64(seconds.max(0.0))));
    }
    Ok(report.built)
}

/// `build --inner WORKDIR`: the root phases, as root of the user namespace `__userns` made.
fn inner(env: &Env<'_>, args: &BuildArgs, work: &std::path::Path) -> Result<Outcome, Failure> {
    let profile = super::load_profile(env, &args.profile)?;
    let format = format_of(args, &profile)?;
    let cache = super::open_cache(env)?;
    let output = pipeline::preflight(&args.output, format, cache.dir())?;
    let spec_path = work.join("inner.json");
    let text = std::fs::read_to_string(&spec_path).map_err(|e| {
        Failure::new(ExitClass::Output, e).context(format!("cannot read `{}`", spec_path.display()))
    })?;
    let spec: InnerSpec = serde_json::from_str(&text).map_err(|e| {
        Failure::new(ExitClass::Output, e).context(format!("cannot read `{}`", spec_path.display()))
    })?;
    let lock = crate::lock::Lock::parse(&spec.lock).context(|| "cannot read the lock")?;
    let blobs = adopt_blobs(&spec, &lock)?;
    let hook_plan = hook_plan(env, args, &profile)?;
    let root = work.join("root");
    crate::workdir::register(&root);
    let mut timings = Timings::default();
    let built = build_tree(
        env,
        &profile,
        &lock,
        &cache,
        &blobs,
        &root,
        &output,
        format,
        Mode::Unshare,
        spec.epoch,
        &hook_plan,
        // The user's build, as root of its user namespace.
        true,
        &mut timings,
    );
    let built = match built {
        Ok(built) => built,
        Err(failure) => {
            // Only root of the namespace can remove what the build made; the parent removes
            // the rest.
            if !args.keep_failed {
                let _ = crate::workdir::remove(&root);
            }
            crate::workdir::unregister(&root);
            return Err(failure);
        }
    };
    crate::workdir::unregister(&root);
    let report = InnerReport {
        built,
        timings: timings
            .0
            .iter()
            .map(|(phase, time)| ((*phase).to_owned(), time.as_secs_f64()))
            .collect(),
    };
    let report_path = work.join("built.json");
    let text = serde_json::to_string(&report).unwrap_or_default();
    std::fs::write(&report_path, text).map_err(|e| {
        Failure::new(ExitClass::Output, e)
            .context(format!("cannot write `{}`", report_path.display()))
    })?;
    Ok(Outcome::Success)
}

/// The `.deb`s the parent handed over (see [`InnerSpec::blobs`]): one per package of the lock,
/// each a regular file of the size the lock says.
fn adopt_blobs(spec: &InnerSpec, lock: &crate::lock::Lock) -> Result<pipeline::Blobs, Failure> {
    let refused = |reason: String| {
        Failure::message(
            ExitClass::Output,
            format!("cannot use the packages handed over by the parent debroot: {reason}"),
        )
    };
    let mut blobs = pipeline::Blobs::new();
    for (hex, fd) in &spec.blobs {
        let digest = crate::digest::Sha256Digest::parse(hex).map_err(|e| refused(e.to_string()))?;
        let size = lock
            .packages
            .iter()
            .find(|p| p.sha256 == digest)
            .map(|p| p.size)
            .ok_or_else(|| refused(format!("sha256:{hex} is no package of the lock")))?;
        // Never a standard stream, never one descriptor twice: each is a distinct descriptor
        // the parent made inheritable for this process alone, and nothing here owns it yet.
        if *fd <= 2
            || blobs.contains_key(&digest)
            || spec.blobs.iter().filter(|(_, other)| other == fd).count() != 1
        {
            return Err(refused(format!("descriptor {fd} for sha256:{hex}")));
        }
        // SAFETY: see above; a number that is not open makes `adopt`'s fstat fail.
        let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(*fd) };
        let blob = crate::cache::Blob::adopt(fd, digest, size)
            .map_err(|e| refused(format!("sha256:{hex}: {e}")))?;
        blobs.insert(digest, blob);
    }
    Ok(blobs)
}
