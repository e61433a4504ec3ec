//! `debroot why`: the chain of relations that pulled a package into a profile's set.

use serde_json::json;

use super::error::CommandError;
use super::{Outcome, repo_options};
use crate::cli::{Format, WhyArgs};
use crate::error::{Failure, local};
use crate::lock::{Lock, LockedPackage, Why};
use crate::pipeline::{Env, locking};

pub fn run(env: &Env<'_>, args: &WhyArgs) -> Result<Outcome, Failure> {
    let profile = super::load_profile(env, &args.profile)?;
    // The lock answers when it matches the profile; otherwise resolve (and write nothing).
    let lock = match locking::read_lock(&profile)? {
        Some(lock) if lock.profile_digest == profile.resolution_digest() => lock,
        existing => {
            locking::resolve_packages(env, &profile, &repo_options(&args.repo), existing.as_ref())?
                .0
        }
    };
    let native = profile.source.native_architecture().to_string();
    let find = |name: &str| -> Option<&LockedPackage> {
        lock.packages
            .iter()
            .find(|p| p.display_name(&native) == name || p.name == name)
    };
    let Some(package) = find(&args.package) else {
        return Err(CommandError::NotInPackageSet {
            package: args.package.clone(),
            profile: profile.path.clone(),
        }
        .into());
    };
    let chain = chain(&lock, package, &native);
    let text = match args.format {
        Format::Text => {
            let mut out = String::new();
            for (i, (package, why)) in chain.iter().enumerate() {
                let indent = "  ".repeat(i);
                out.push_str(&format!(
                    "{indent}{} {} ({})\n",
                    package.display_name(&native),
                    package.version,
                    package.architecture
                ));
                match why {
                    Why::Requested(what) => out.push_str(&format!("{indent}  requested: {what}\n")),
                    Why::RequiredBy { parent, via } => {
                        out.push_str(&format!("{indent}  required by {parent}: {via}\n"));
                    }
                }
            }
            out
        }
        Format::Json => {
            let links: Vec<_> = chain
                .iter()
                .map(|(package, why)| {
                    let mut link = json!({
                        "name": package.name,
                        "version": package.version,
                        "architecture": package.architecture,
                    });
                    match why {
                        Why::Requested(what) => link["requested"] = json!(what),
                        Why::RequiredBy { parent, via } => {
                            link["required_by"] = json!(parent);
                            link["via"] = json!(via);
                        }
                    }
                    link
                })
                .collect();
            format!(
                "{}\n",
                serde_json::to_string_pretty(&json!({ "chain": links })).unwrap_or_default()
            )
        }
    };
    env.printer.data(&text).map_err(local("write to stdout"))?;
    Ok(Outcome::Success)
}

/// From the package up to what requested it.
fn chain<'a>(
    lock: &'a Lock,
    start: &'a LockedPackage,
    native: &str,
) -> Vec<(&'a LockedPackage, Why)> {
    let mut chain = Vec::new();
    let mut current = start;
    // A chain is at most as long as the lock; the bound also stops a hand-edited cycle.
    for _ in 0..=lock.packages.len() {
        chain.push((current, current.why.clone()));
        let Why::RequiredBy { parent, .. } = &current.why else {
            break;
        };
        match lock
            .packages
            .iter()
            .find(|p| &p.display_name(native) == parent)
        {
            Some(next) => current = next,
            None => break,
        }
    }
    chain
}
