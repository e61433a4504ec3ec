//! Installing packages into a root: the plan (pure), the namespace runner, the dpkg database,
//! and the runner that executes the plan.
//!
//! debroot unpacks every package itself (in parallel, safely, see `unpack`) and writes the dpkg
//! database as `dpkg --no-triggers --unpack` would; dpkg then does what only it should do: run
//! maintainer scripts and triggers, in `dpkg --configure --pending`. In order:
//!
//! 1. The **Essential set** is unpacked, registered in the database, and `policy-rc.d` (answering
//!    101) and a no-op `start-stop-daemon` are put in place; its `preinst` scripts run (after
//!    unpack: there is no shell before), then dpkg configures the set.
//! 2. Each **batch** of the plan: `preinst` scripts first (their `Pre-Depends` are configured,
//!    and a diversion they add decides where the batch's files land), then unpack and register,
//!    then the trigger activations the unpack caused are handed to `dpkg-trigger`, then dpkg
//!    configures the batch's packages, by name, without running triggers (as apt does).
//! 3. The triggers pending after the last batch run once (`dpkg --configure --pending`).
//!
//! Every command runs in the sealed namespace of `sandbox`. A script that fails names the
//! package, the script, its exit status and its last lines of output (exit 8).

pub mod cleanup;
pub mod dpkgdb;
pub mod plan;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::cache::Cache;
use crate::confine;
use crate::error::{Classify, ExitClass, Failure, ResultExt, io_at};
use crate::printer::Printer;
use crate::profile::Profile;
use crate::sandbox;
use crate::unpack::batch::{Package, unpack_all};
use crate::unpack::extract::{Target, Unpacked};

/// A maintainer script or dpkg run that failed.
#[derive(Debug, thiserror::Error)]
#[error("{what} failed: {status}\n{output}")]
pub struct ScriptError {
    pub what: String,
    /// How it ended: `exit status N`, `killed by signal N (NAME)`.
    pub status: String,
    pub output: String,
    /// What it printed says the disk is full (`No space left on device`): a local I/O
    /// failure (exit 9) rather than the package's (docs/THREATS.md E1).
    pub disk_full: bool,
}

/// The words of ENOSPC in the C library's messages, which dpkg and shell tools print.
const DISK_FULL: &str = "No space left on device";

/// What dpkg said failed, from its output: the package, the maintainer script, and how the
/// script ended (`dpkg: error processing package NAME (--configure):` and the line after it).
/// `None` when the output names no script (a dependency problem, dpkg's own error).
pub fn dpkg_failure(output: &str) -> Option<(String, &'static str, String)> {
    let lines: Vec<&str> = output.lines().collect();
    let at = lines
        .iter()
        .rposition(|l| l.starts_with("dpkg: error processing package "))?;
    let package = lines[at]
        .strip_prefix("dpkg: error processing package ")?
        .split(' ')
        .next()?
        .to_owned();
    let reason = lines.get(at + 1)?.trim();
    let script = [
        ("pre-installation script", "preinst"),
        ("post-installation script", "postinst"),
        ("pre-removal script", "prerm"),
        ("post-removal script", "postrm"),
    ]
    .into_iter()
    .find(|(words, _)| reason.contains(words))?
    .1;
    let status = if let Some(code) = reason.split("returned error exit status ").nth(1) {
        format!("exit status {}", code.trim())
    } else if let Some(signal) = reason.split("was killed by signal (").nth(1) {
        let name = signal
            .trim_end_matches(')')
            .trim_end_matches(", core dumped");
        let name = name.split(')').next().unwrap_or(name);
        let number = [
            ("Hangup", 1),
            ("Interrupt", 2),
            ("Quit", 3),
            ("Illegal instruction", 4),
            ("Trace/breakpoint trap", 5),
            ("Aborted", 6),
            ("Bus error", 7),
            ("Floating point exception", 8),
            ("Killed", 9),
            ("Segmentation fault", 11),
            ("Broken pipe", 13),
            ("Alarm clock", 14),
            ("Terminated", 15),
        ]
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, number)| number);
        match number {
            Some(number) => format!("killed by signal {number} ({name})"),
            None => format!("killed by signal ({name})"),
        }
    } else {
        reason.to_owned()
    };
    Some((package, script, status))
}

impl Classify for ScriptError {
    fn class(&self) -> ExitClass {
        if self.disk_full {
            ExitClass::Output
        } else {
            ExitClass::Script
        }
    }

    fn hint(&self) -> Option<String> {
        if self.disk_full {
            return Some(
                "the build root is beside the output: free space (or inodes) on its filesystem"
                    .into(),
            );
        }
        Some("`--keep-failed` keeps the work directory for inspection".into())
    }
}

/// Lines of output shown with a failure.
const SHOWN_LINES: usize = 25;

fn sandbox_of(root: &Path, profile: &Profile, epoch: i64) -> sandbox::Sandbox {
    sandbox::Sandbox {
        root: root.to_path_buf(),
        hostname: profile
            .build
            .hostname
            .clone()
            .unwrap_or_else(|| "localhost".into()),
        env: sandbox::Sandbox::default_env(epoch),
        binds: Vec::new(),
        helper: None,
        // Not for a root under emulation: QEMU's own threads sleep to wait.
        instant_sleep: crate::binfmt::runs_natively(
            crate::debian::Architecture::build_default().as_str(),
            profile.source.native_architecture().as_str(),
        ),
    }
}

/// Runs a shell script in the namespace; a failure names `what`, or the step a `debroot: ...`
/// marker line named last, or the maintainer script dpkg reported (with its version from
/// `packages`).
fn run_script(
    printer: &Printer,
    box_: &sandbox::Sandbox,
    script: &str,
    what: &str,
    packages: &[Package],
    step: Option<&crate::printer::Step<'_>>,
) -> Result<(), Failure> {
    let started = Instant::now();
    let outcome = match step {
        // dpkg says `Setting up NAME (VERSION) ...` as it starts configuring each package.
        Some(step) => box_.run_watching(&["/bin/sh", "-c", script], &mut |line| {
            if let Some(name) = setting_up(line) {
                step.item(name);
            }
        })?,
        None => box_.run(&["/bin/sh", "-c", script])?,
    };
    printer.debug(&format!(
        "{what}: {:.2}s in the namespace",
        started.elapsed().as_secs_f64()
    ));
    if outcome.status.success() {
        return Ok(());
    }
    // The driver scripts echo `debroot: NAME` before each step, so the last one is the culprit.
    let text = String::from_utf8_lossy(&outcome.output).into_owned();
    let mut culprit = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("debroot: "))
        .map(str::to_owned)
        .unwrap_or_else(|| what.to_owned());
    let mut status = outcome.status.to_string();
    // dpkg's own report names the script, even when a script printed so much that the marker
    // line is no longer in the kept output; dpkg writes it to stderr, kept apart too.
    let errors = String::from_utf8_lossy(&outcome.errors);
    if let Some((package, script_name, how)) = dpkg_failure(&text).or_else(|| dpkg_failure(&errors))
    {
        let bare = package.split(':').next().unwrap_or(&package);
        culprit = match packages.iter().find(|p| p.control.package.as_str() == bare) {
            Some(p) => format!("{script_name} of {package} ({})", p.control.version),
            None => format!("{script_name} of {package}"),
        };
        status = how;
    }
    let output: String = outcome
        .last_lines(SHOWN_LINES)
        .lines()
        .filter(|l| !l.starts_with("debroot: "))
        .map(|l| format!("  | {l}\n"))
        .collect();
    let disk_full = text.contains(DISK_FULL) || errors.contains(DISK_FULL);
    if disk_full {
        status.push_str(": No space left on device");
    }
    Err(ScriptError {
        what: culprit,
        status,
        output: output.trim_end().to_owned(),
        disk_full,
    }
    .into())
}

/// The package dpkg starts to configure, from its line `Setting up NAME[:ARCH] (VERSION) ...`.
fn setting_up(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("Setting up ")?;
    let (name, version) = rest.split_once(' ')?;
    (version.starts_with('(') && !name.is_empty()).then_some(name)
}

/// Prepares `var/lib/dpkg/debroot-ci/NAME/` with each package's control members, and returns
/// the shell snippet that runs `preinst install` of each as dpkg does: from
/// `/var/lib/dpkg/tmp.ci/` (where debconf reads the package's `control`), with dpkg's
/// environment.
fn preinst_script(
    root: &Path,
    packages: &[&Package],
    dpkg_version: &str,
) -> Result<String, Failure> {
    let staging = dpkgdb::admin_dir(root).join("debroot-ci");
    let mut script = String::from("set -e\n");
    for package in packages {
        if package.control.member("preinst").is_none() {
            continue;
        }
        let name = dpkgdb::db_name(&package.control);
        let dir = staging.join(&name);
        let write = |path: &Path, data: &[u8], mode: u32| {
            std::fs::create_dir_all(path.parent().unwrap_or(Path::new("/")))
                .and_then(|()| std::fs::write(path, data))
                .and_then(|()| {
                    std::fs::set_permissions(
                        path,
                        std::os::unix::fs::PermissionsExt::from_mode(mode & 0o7777),
                    )
                })
                .map_err(io_at("write", path))
        };
        write(&dir.join("control"), &package.control.text, 0o644)?;
        for member in &package.control.members {
            write(&dir.join(&member.name), &member.data, member.mode)?;
        }
        let version = &package.control.version;
        script.push_str(&format!(
            "echo 'debroot: preinst of {name} ({version})'\n\
             rm -rf /var/lib/dpkg/tmp.ci && mv '/var/lib/dpkg/debroot-ci/{name}' /var/lib/dpkg/tmp.ci\n\
             DPKG_MAINTSCRIPT_PACKAGE='{}' DPKG_MAINTSCRIPT_ARCH='{}' DPKG_MAINTSCRIPT_NAME=preinst \
             DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT=1 DPKG_MAINTSCRIPT_DEBUG=0 DPKG_RUNNING_VERSION='{dpkg_version}' \
             DPKG_ADMINDIR=/var/lib/dpkg DPKG_ROOT= DPKG_FORCE=security-mac,downgrade \
             /var/lib/dpkg/tmp.ci/preinst install\n\
             rm -rf /var/lib/dpkg/tmp.ci\n",
            package.control.package, package.control.architecture
        ));
    }
    Ok(script)
}

/// Removes what `preinst_script` staged (left over when a package has no preinst, or a
/// preinst failed), from debroot's side: the root may have no `rmdir`.
fn remove_staging(root: &Path) -> Result<(), Failure> {
    confine::in_root(root, |root| {
        let staging = dpkgdb::admin_dir(root).join("debroot-ci");
        crate::workdir::remove(&staging).map_err(io_at("remove", &staging))?;
        Ok(())
    })
}

const CONFIGURE: &str = "echo 'debroot: dpkg --configure'\n\
    dpkg --force-unsafe-io --force-confdef --force-confold --configure --pending\n";

/// Configures the packages of a batch by name without running triggers, as apt drives dpkg:
/// a trigger that several batches activate (ldconfig, the MIME and icon caches) then runs once,
/// at the end ([`CONFIGURE`], whose `--pending` processes what is pending). Named, because
/// `--pending` selects the packages with pending triggers too, and runs them.
fn configure_batch(members: &[&Package]) -> String {
    let names: Vec<String> = members
        .iter()
        .map(|p| format!("'{}'", dpkgdb::db_name(&p.control)))
        .collect();
    format!(
        "echo 'debroot: dpkg --configure'\n\
         dpkg --force-unsafe-io --force-confdef --force-confold --no-triggers --configure {}\n",
        names.join(" ")
    )
}

/// How many members the path filters left out of `unpacked`.
pub fn count_filtered(unpacked: &[(usize, Unpacked)]) -> u64 {
    unpacked.iter().map(|(_, u)| u.filtered.len() as u64).sum()
}

/// Installs packages into a root following a plan, as root (of the host, or of the user
/// namespace of an `unshare` build), in the three steps the pipeline calls with its hooks
/// between them: [`Installer::unpack_essential`], [`Installer::configure_essential`],
/// [`Installer::install_batches`].
pub struct Installer<'a> {
    printer: &'a Printer,
    root: &'a Path,
    profile: &'a Profile,
    packages: &'a [Package],
    plan: &'a plan::Plan,
    epoch: i64,
    cache: &'a Cache,
    box_: sandbox::Sandbox,
    dpkg_version: String,
    target: Target,
    /// The plan position of the next package to unpack.
    order_base: usize,
    /// Time spent unpacking and registering the batches after the Essential set.
    pub unpack_time: Duration,
    /// Time spent in maintainer scripts and dpkg's configure runs.
    pub configure_time: Duration,
    /// Members the path filters left out, in every package so far.
    pub filtered: u64,
}

impl<'a> Installer<'a> {
    /// Starts the dpkg database of `root` and opens it for unpacking.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        printer: &'a Printer,
        root: &'a Path,
        profile: &'a Profile,
        packages: &'a [Package],
        plan: &'a plan::Plan,
        epoch: i64,
        cache: &'a Cache,
    ) -> Result<Self, Failure> {
        let dpkg_version = packages
            .iter()
            .find(|p| p.control.package.as_str() == "dpkg")
            .map(|p| p.control.version.to_string())
            .unwrap_or_default();
        let archs = &profile.source.architectures;
        confine::in_root(root, |root| Ok(dpkgdb::init(root, archs)?))?;
        let mut target = Target::open(root, true).map_err(io_at("open", root))?;
        target.set_filter(profile.packages.path_filter());
        Ok(Installer {
            printer,
            root,
            profile,
            packages,
            plan,
            epoch,
            cache,
            box_: sandbox_of(root, profile, epoch),
            dpkg_version,
            target,
            order_base: 0,
            unpack_time: Duration::ZERO,
            configure_time: Duration::ZERO,
            filtered: 0,
        })
    }

    /// Unpacks the Essential set and registers it in the dpkg database (no script runs: there
    /// is no shell before).
    pub fn unpack_essential(&mut self) -> Result<(), Failure> {
        let (root, packages, plan) = (self.root, self.packages, self.plan);
        let count = plan.essential.len();
        let step = self.printer.step(
            "Unpacking",
            &format!("the Essential set ({count} packages)"),
            crate::printer::Unit::Items,
            count as u64,
            count as u64,
        );
        let unpacked = unpack_all(
            &self.target,
            packages,
            &plan.essential,
            self.order_base,
            &Default::default(),
            true,
            self.cache,
            &|name| step.item(name),
        )?;
        self.order_base += plan.essential.len();
        self.filtered += count_filtered(&unpacked);
        let target = &self.target;
        let filter = self.profile.packages.path_filter();
        confine::in_root(root, |root| {
            register(
                root,
                target,
                packages,
                &plan.essential,
                &unpacked,
                &Default::default(),
            )?;
            Ok(dpkgdb::write_filter_config(root, &filter)?)
        })?;
        clamp_directories(root, &unpacked, self.epoch);
        step.finish(
            "Unpacked",
            &format!("the Essential set ({count} packages; no script has run yet)"),
        );
        Ok(())
    }

    /// Puts the guards in place (`policy-rc.d`, a no-op `start-stop-daemon`), runs the Essential
    /// set's `preinst` scripts, and configures it.
    pub fn configure_essential(&mut self) -> Result<(), Failure> {
        let started = Instant::now();
        let essential: Vec<&Package> = self
            .plan
            .essential
            .iter()
            .map(|&i| &self.packages[i])
            .collect();
        let step = self.printer.step(
            "Configuring",
            &format!("the Essential set ({} packages)", essential.len()),
            crate::printer::Unit::Items,
            essential.len() as u64,
            essential.len() as u64,
        );
        step.working_on("preinst scripts");
        let dpkg_version = &self.dpkg_version;
        let mut script = confine::in_root(self.root, |root| {
            cleanup::install_guards(root)?;
            preinst_script(root, &essential, dpkg_version)
        })?;
        script.push_str(CONFIGURE);
        run_script(
            self.printer,
            &self.box_,
            &script,
            "configuring the Essential set",
            self.packages,
            Some(&step),
        )?;
        remove_staging(self.root)?;
        step.finish(
            "Configured",
            &format!(
                "the Essential set ({} packages: preinst scripts, then dpkg --configure)",
                essential.len()
            ),
        );
        self.configure_time += started.elapsed();
        Ok(())
    }

    /// Installs each batch of the plan (`preinst` scripts, unpack, register, trigger
    /// activations, configure), runs the triggers left pending once, writes apt's record of
    /// automatic installs, and checks the result with `dpkg --audit`.
    pub fn install_batches(&mut self) -> Result<(), Failure> {
        let (root, packages, plan, printer) = (self.root, self.packages, self.plan, self.printer);
        let total: usize = plan.batches.iter().map(Vec::len).sum();
        let batches = plan.batches.len();
        let owned = (total > 0).then(|| {
            printer.step(
                "Installing",
                &format!(
                    "{total} {} beyond the Essential set ({batches} {})",
                    plural(total, "package", "packages"),
                    plural(batches, "batch", "batches")
                ),
                crate::printer::Unit::Items,
                total as u64,
                total as u64,
            )
        });
        let progress = owned.as_ref();
        for (number, batch) in plan.batches.iter().enumerate() {
            if let Some(progress) = progress {
                progress.working_on(&format!(
                    "batch {}/{batches}: unpacking {}",
                    number + 1,
                    batch.len()
                ));
            }
            refresh_ids(&mut self.target)?;
            let members: Vec<&Package> = batch.iter().map(|&i| &packages[i]).collect();
            let started = Instant::now();
            // preinst scripts run before the batch's files exist.
            if members
                .iter()
                .any(|p| p.control.member("preinst").is_some())
            {
                let dpkg_version = &self.dpkg_version;
                let preinsts =
                    confine::in_root(root, |root| preinst_script(root, &members, dpkg_version))?;
                run_script(
                    printer,
                    &self.box_,
                    &preinsts,
                    "a preinst script",
                    packages,
                    None,
                )?;
                remove_staging(root)?;
                refresh_ids(&mut self.target)?;
            }
            self.configure_time += started.elapsed();
            let started = Instant::now();
            let diversions = confine::in_root(root, |root| Ok(dpkgdb::read_diversions(root)?))?;
            let unpacked = unpack_all(
                &self.target,
                packages,
                batch,
                self.order_base,
                &diversions,
                true,
                self.cache,
                &|_| {},
            )?;
            self.order_base += batch.len();
            self.filtered += count_filtered(&unpacked);
            let target = &self.target;
            confine::in_root(root, |root| {
                register(root, target, packages, batch, &unpacked, &diversions)
            })?;
            clamp_directories(root, &unpacked, self.epoch);
            let batch_pairs: Vec<(&crate::unpack::Control, &Unpacked)> = unpacked
                .iter()
                .map(|(index, unpacked)| (&packages[*index].control, unpacked))
                .collect();
            let activations = confine::in_root(root, |root| {
                Ok(dpkgdb::activations(root, &batch_pairs, &diversions)?)
            })?;
            self.unpack_time += started.elapsed();
            let started = Instant::now();
            let mut script = String::from("set -e\n");
            script.push_str(&dpkgdb::trigger_commands(&activations));
            script.push_str(&configure_batch(&members));
            run_script(
                printer,
                &self.box_,
                &script,
                "configuring packages",
                packages,
                progress,
            )?;
            self.configure_time += started.elapsed();
            printer.detail(&format!(
                "batch {}/{batches}: {} {} unpacked and configured",
                number + 1,
                batch.len(),
                plural(batch.len(), "package", "packages")
            ));
        }
        if !plan.batches.is_empty() {
            let started = Instant::now();
            if let Some(progress) = progress {
                progress.working_on("processing triggers");
            }
            let script = format!("set -e\n{CONFIGURE}");
            run_script(
                printer,
                &self.box_,
                &script,
                "processing triggers",
                packages,
                None,
            )?;
            self.configure_time += started.elapsed();
        }
        let native = self.profile.source.native_architecture().to_string();
        confine::in_root(root, |root| {
            write_extended_states(root, packages, plan, &native)
        })?;
        let audit = self.box_.run(&["dpkg", "--audit"])?;
        if !audit.status.success() || !audit.output.is_empty() {
            return Err(ScriptError {
                what: "`dpkg --audit` after installing".into(),
                status: audit.status.to_string(),
                output: audit.last_lines(SHOWN_LINES),
                disk_full: false,
            }
            .into());
        }
        if let Some(progress) = owned {
            progress.finish(
                "Installed",
                &format!(
                    "{total} {} beyond the Essential set ({batches} {}: each unpacked, then configured by dpkg; then the triggers)",
                    plural(total, "package", "packages"),
                    plural(batches, "batch", "batches")
                ),
            );
        }
        Ok(())
    }
}

/// `one` or `many`, as `count` asks.
fn plural(count: usize, one: &'static str, many: &'static str) -> &'static str {
    if count == 1 { one } else { many }
}

/// apt's record of automatically installed packages: those the install phase pulled in as
/// dependencies (the Essential set is installed by dpkg alone, as mmdebstrap does, so apt has
/// no record of it), sorted by name. Only written when apt is installed.
fn write_extended_states(
    root: &Path,
    packages: &[Package],
    plan: &plan::Plan,
    native: &str,
) -> Result<(), Failure> {
    let dir = root.join("var/lib/apt");
    if !dir.is_dir() {
        return Ok(());
    }
    let mut auto: Vec<(&str, &str)> = plan
        .batches
        .iter()
        .flatten()
        .map(|&i| &packages[i].locked)
        .filter(|p| matches!(p.why, crate::lock::Why::RequiredBy { .. }))
        .map(|p| {
            (
                p.name.as_str(),
                if p.architecture == "all" {
                    native
                } else {
                    p.architecture.as_str()
                },
            )
        })
        .collect();
    auto.sort();
    let mut text = String::new();
    for (name, arch) in auto {
        text.push_str(&format!(
            "Package: {name}\nArchitecture: {arch}\nAuto-Installed: 1\n\n"
        ));
    }
    let path = dir.join("extended_states");
    std::fs::write(&path, text).map_err(io_at("write", &path))?;
    Ok(())
}

/// Sets the mtime of every directory the unpacked packages put entries in to at most the
/// epoch, before maintainer scripts see them. Tools that key caches on directory mtimes read
/// `SOURCE_DATE_EPOCH` and record at most the epoch (fontconfig's `fc-cache` does, and then
/// deletes as stale the caches of directories changed after it): with the clamp their caches
/// stay valid, in the build and in the image, whose mtimes are clamped the same way.
/// Best effort: a directory that cannot be opened in the root keeps its mtime until the final
/// clamp.
fn clamp_directories(root: &Path, unpacked: &[(usize, Unpacked)], epoch: i64) {
    use rustix::fs::{Mode as FsMode, OFlags, ResolveFlags, Timespec, Timestamps};
    let mut dirs: std::collections::BTreeSet<&[u8]> = std::collections::BTreeSet::new();
    for (_, unpacked) in unpacked {
        for (path, _) in &unpacked.paths {
            let mut rest: &[u8] = path;
            while let Some(slash) = rest.iter().rposition(|&b| b == b'/') {
                rest = &rest[..slash];
                if !dirs.insert(rest) {
                    break;
                }
            }
        }
    }
    dirs.insert(b".");
    let Ok(root_fd) = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        FsMode::empty(),
    ) else {
        return;
    };
    let epoch_time = Timespec {
        tv_sec: epoch,
        tv_nsec: 0,
    };
    for dir in dirs {
        let Ok(fd) = rustix::fs::openat2(
            &root_fd,
            std::os::unix::ffi::OsStrExt::from_bytes(dir) as &std::ffi::OsStr,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            FsMode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        ) else {
            continue;
        };
        if let Ok(stat) = rustix::fs::fstat(&fd)
            && (stat.st_mtime > epoch || (stat.st_mtime == epoch && stat.st_mtime_nsec != 0))
        {
            let _ = rustix::fs::futimens(
                &fd,
                &Timestamps {
                    last_access: epoch_time,
                    last_modification: epoch_time,
                },
            );
        }
    }
}

/// Re-reads the user and group names of the root before a batch (a script may have added some).
fn refresh_ids(target: &mut Target) -> Result<(), Failure> {
    target.refresh_ids().map_err(Failure::from)
}

/// Registers unpacked packages in the dpkg database, in plan order.
fn register(
    root: &Path,
    target: &Target,
    packages: &[Package],
    order: &[usize],
    unpacked: &[(usize, Unpacked)],
    diversions: &crate::unpack::extract::Diversions,
) -> Result<(), Failure> {
    let by_index: BTreeMap<usize, &Unpacked> = unpacked.iter().map(|(i, u)| (*i, u)).collect();
    let owners = target.owners_by_path();
    let mut stanzas = Vec::new();
    let mut controls = Vec::new();
    for &index in order {
        let package = &packages[index];
        let Some(unpacked) = by_index.get(&index) else {
            continue;
        };
        let name = package.control.package.to_string();
        // A path is taken when another package holds the location it landed at.
        let taken = |path: &[u8]| {
            let written = match diversions.get(path) {
                Some((to, by)) if *by != name => to.strip_prefix(b"/").unwrap_or(to).to_vec(),
                _ => path.to_vec(),
            };
            let location = unpacked.locations.get(&written).unwrap_or(&written);
            let location = target.current_location(location);
            owners.get(&location).is_some_and(|owner| *owner != name)
        };
        stanzas.push(dpkgdb::write_package(
            root,
            &package.control,
            unpacked,
            &taken,
        )?);
        controls.push(&package.control);
    }
    dpkgdb::append_status(root, &stanzas)?;
    dpkgdb::register_interests(root, &controls)?;
    target
        .apply_directory_attributes()
        .context(|| "cannot set directory attributes")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setting_up_lines_name_the_package_being_configured() {
        assert_eq!(
            setting_up("Setting up libc6:amd64 (2.41-12) ..."),
            Some("libc6:amd64")
        );
        assert_eq!(setting_up("Setting up dpkg (1.22.21) ..."), Some("dpkg"));
        for other in [
            "Processing triggers for libc-bin (2.41-12) ...",
            "Setting up",
            "Setting up  (1.0) ...",
            "debroot: dpkg --configure",
            "  Setting up x (1) ...",
        ] {
            assert_eq!(setting_up(other), None, "{other}");
        }
    }

    #[test]
    fn dpkg_failures_name_package_script_and_status() {
        // As dpkg 1.22 prints them.
        let exit = "Setting up t-fail (1.0) ...\nboom\n\
            dpkg: error processing package t-fail (--configure):\n \
            installed t-fail package post-installation script subprocess returned error exit status 3\n\
            Errors were encountered while processing:\n t-fail\n";
        assert_eq!(
            dpkg_failure(exit),
            Some(("t-fail".into(), "postinst", "exit status 3".into()))
        );
        let signal = "dpkg: error processing package t-seg:amd64 (--configure):\n \
            installed t-seg:amd64 package post-installation script subprocess was killed by signal (Segmentation fault), core dumped\n";
        assert_eq!(
            dpkg_failure(signal),
            Some((
                "t-seg:amd64".into(),
                "postinst",
                "killed by signal 11 (Segmentation fault)".into()
            ))
        );
        let depends = "dpkg: error processing package t-dep (--configure):\n \
            dependency problems - leaving unconfigured\n";
        assert_eq!(dpkg_failure(depends), None);
        assert_eq!(dpkg_failure("nothing to see"), None);
    }
}
