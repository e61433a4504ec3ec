//! `debroot lock`: resolve the profile and write `PROFILE.lock` beside it.

use std::collections::BTreeMap;

use serde_json::json;

use super::{Outcome, repo_options};
use crate::cli::{Format, LockArgs};
use crate::error::{Failure, io_at, local};
use crate::lock::Lock;
use crate::pipeline::{Env, locking};

pub fn run(env: &Env<'_>, args: &LockArgs) -> Result<Outcome, Failure> {
    let profile = super::load_profile(env, &args.profile)?;
    let path = profile.lock_path();
    let name = profile.file_name();
    let existing = locking::read_lock(&profile)?;
    let repo = repo_options(&args.repo);
    let stale = match &existing {
        Some(lock) => locking::stale_reason(lock, &profile, &repo)?,
        None => Some("there is no lock".to_owned()),
    };
    if stale.is_none() && !args.update {
        let lock = existing.as_ref().expect("checked above");
        if args.print {
            write_data(env, &lock.to_toml(&name))?;
        }
        env.printer.status(
            "Locked",
            &format!(
                "`{}` is up to date ({} packages)",
                path.display(),
                lock.packages.len()
            ),
        );
        summary(env, args, &path, lock, &Changes::default(), false, false)?;
        return Ok(Outcome::Success);
    }
    if let (Some(reason), Some(_)) = (&stale, &existing) {
        env.printer
            .status("Relocking", &format!("`{}`: {reason}", path.display()));
    }
    if args.check && !args.update && existing.is_none() {
        env.printer.status(
            "Outdated",
            &format!("`{}` would change: there is no lock", path.display()),
        );
        return Ok(Outcome::Differs);
    }
    let lock = locking::resolve_lock(env, &profile, &repo, existing.as_ref())?;
    let text = lock.to_toml(&name);
    let changes = existing
        .as_ref()
        .map(|old| Changes::between(old, &lock))
        .unwrap_or_default();
    let old_text = existing.as_ref().map(|old| old.to_toml(&name));
    let changed = old_text.as_deref() != Some(text.as_str());
    let packages_changed = existing
        .as_ref()
        .is_none_or(|old| !old.same_packages(&lock));
    for line in changes.lines() {
        env.printer.status("Updating", &line);
    }
    if changed
        && let Some(old) = &existing
        && !packages_changed
        && old.epoch == lock.epoch
    {
        // A re-signed suite (a new `Date`) with nothing else new: an output is the same bytes.
        env.printer.status(
            "Unchanged",
            "the packages and the epoch are the same: only the suites' `Date` or signature changed, and an output built from either lock is the same",
        );
    }
    if args.check {
        if changed {
            env.printer
                .status("Outdated", &format!("`{}` would change", path.display()));
            summary(env, args, &path, &lock, &changes, true, packages_changed)?;
            return Ok(Outcome::Differs);
        }
        summary(env, args, &path, &lock, &changes, false, packages_changed)?;
        return Ok(Outcome::Success);
    }
    if args.print {
        write_data(env, &text)?;
    } else if changed {
        crate::atomic::write(&path, text.as_bytes(), 0o644)
            .map_err(|e| Failure::from(io_at("write lockfile", &path)(e)))?;
        env.printer.status(
            "Locked",
            &format!("{} packages in `{}`", lock.packages.len(), path.display()),
        );
    } else {
        env.printer.status(
            "Locked",
            &format!(
                "`{}` is unchanged ({} packages)",
                path.display(),
                lock.packages.len()
            ),
        );
    }
    summary(env, args, &path, &lock, &changes, changed, packages_changed)?;
    Ok(Outcome::Success)
}

fn write_data(env: &Env<'_>, text: &str) -> Result<(), Failure> {
    env.printer
        .data(text)
        .map_err(|e| local("write to stdout")(e).into())
}

/// Differences between two locks, by package.
#[derive(Debug, Default)]
struct Changes {
    added: Vec<String>,
    removed: Vec<String>,
    updated: Vec<(String, String, String)>,
}

impl Changes {
    fn between(old: &Lock, new: &Lock) -> Self {
        let index = |lock: &Lock| -> BTreeMap<(String, String), String> {
            lock.packages
                .iter()
                .map(|p| ((p.name.clone(), p.architecture.clone()), p.version.clone()))
                .collect()
        };
        let (old, new) = (index(old), index(new));
        let mut changes = Changes::default();
        for (key, version) in &new {
            match old.get(key) {
                None => changes.added.push(format!("{} {version}", key.0)),
                Some(previous) if previous != version => {
                    changes
                        .updated
                        .push((key.0.clone(), previous.clone(), version.clone()));
                }
                _ => {}
            }
        }
        for (key, version) in &old {
            if !new.contains_key(key) {
                changes.removed.push(format!("{} {version}", key.0));
            }
        }
        changes
    }

    fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.added.iter().map(|p| format!("+ {p}")).collect();
        lines.extend(self.removed.iter().map(|p| format!("- {p}")));
        lines.extend(
            self.updated
                .iter()
                .map(|(n, a, b)| format!("{n} {a} -> {b}")),
        );
        lines
    }
}

fn summary(
    env: &Env<'_>,
    args: &LockArgs,
    path: &std::path::Path,
    lock: &Lock,
    changes: &Changes,
    changed: bool,
    packages_changed: bool,
) -> Result<(), Failure> {
    if args.format != Format::Json || args.print {
        return Ok(());
    }
    let document = json!({
        "lockfile": path.display().to_string(),
        "changed": changed,
        "packages": lock.packages.len(),
        "epoch": lock.epoch,
        "epoch_from": lock.epoch_from.as_str(),
        "packages_changed": packages_changed,
        "added": changes.added,
        "removed": changes.removed,
        "updated": changes.updated.iter().map(|(n, a, b)| json!({"name": n, "from": a, "to": b})).collect::<Vec<_>>(),
    });
    write_data(
        env,
        &format!(
            "{}\n",
            serde_json::to_string_pretty(&document).unwrap_or_default()
        ),
    )
}
