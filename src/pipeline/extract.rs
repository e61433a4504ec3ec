//! The extract phase: every package's control data read (in parallel) and checked against the
//! lock, the install plan made, and in `extract` mode every package's files unpacked by debroot
//! with no script run.

use crate::error::{Failure, ResultExt, io_at};
use crate::install::plan::{self, Plan};
use crate::unpack::batch::{self, Package};

use super::{Env, RootJob};

/// The packages of the lock, their control data read from their verified `.deb`s, warnings
/// about them said.
pub fn read_packages(
    env: &Env<'_>,
    lock: &crate::lock::Lock,
    blobs: &crate::cache::Blobs,
) -> Result<Vec<Package>, Failure> {
    let packages = batch::read_controls(lock, blobs)?;
    for package in &packages {
        for warning in &package.control.warnings {
            env.printer
                .warn(&format!("package `{}`: {warning}", package.locked.name));
        }
    }
    Ok(packages)
}

/// The install plan of `packages` (pure: see [`crate::install::plan`]).
pub fn plan(packages: &[Package]) -> Plan {
    let nodes: Vec<plan::Node> = packages
        .iter()
        .map(|p| plan::Node {
            name: p.control.package.clone(),
            version: p.control.version.clone(),
            essential: p.control.essential,
            pre_depends: p.control.pre_depends.clone(),
            depends: p.control.depends.clone(),
            provides: p.control.provides.clone(),
        })
        .collect();
    plan::plan(&nodes)
}

/// `extract` mode: every package unpacked in plan order, in one batch, no script run. Returns
/// who owns the files (the files themselves as root, else the owners the packages recorded)
/// and how many members the path filters left out.
pub fn extract_all(
    env: &Env<'_>,
    job: &RootJob<'_>,
    packages: &[Package],
    plan: &Plan,
) -> Result<(Box<dyn crate::output::Owners>, u64), Failure> {
    let chown = rustix::process::geteuid().is_root();
    let mut target =
        crate::unpack::extract::Target::open(job.root, chown).map_err(io_at("open", job.root))?;
    let filter = job.profile.packages.path_filter();
    target.set_filter(filter.clone());
    let mut order = plan.essential.clone();
    order.extend(plan.batches.iter().flatten().copied());
    let step = env.printer.step(
        "Extracting",
        &format!("{} packages", order.len()),
        crate::printer::Unit::Items,
        order.len() as u64,
        order.len() as u64,
    );
    let unpacked = batch::unpack_all(
        &target,
        packages,
        &order,
        0,
        &Default::default(),
        false,
        job.cache,
        &|name| step.item(name),
    )?;
    target
        .apply_directory_attributes()
        .context(|| "cannot set directory attributes")?;
    // Through descriptors, not a chroot: extract mode may run without privilege.
    crate::install::dpkgdb::write_filter_config(job.root, &filter)?;
    step.finish(
        "Extracted",
        &format!("{} packages (no scripts: extract mode)", packages.len()),
    );
    let owners: Box<dyn crate::output::Owners> = if chown {
        Box::new(crate::output::OnDisk)
    } else {
        Box::new(crate::output::Recorded(target.recorded_owners()))
    };
    Ok((owners, crate::install::count_filtered(&unpacked)))
}
