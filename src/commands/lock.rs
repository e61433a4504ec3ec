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
    let native = profile.source.native_architecture().to_string();
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
    let lock = locking::resolve_lock(env, &profile, &repo, existing.as_ref())?;
    if args.check && !args.update && existing.is_none() {
        let changes = Changes::between(&Lock::empty_like(&lock), &lock, &native);
        env.printer.status(
            "Outdated",
            &format!(
                "`{}` would change: there is no lock ({})",
                path.display(),
                changes.counts()
            ),
        );
        if args.format == Format::Text {
            write_data(env, &changes.table())?;
        }
        summary(env, args, &path, &lock, &changes, true, true)?;
        return Ok(Outcome::Differs);
    }
    let text = lock.to_toml(&name);
    let changes = existing
        .as_ref()
        .map(|old| Changes::between(old, &lock, &native))
        .unwrap_or_default();
    let old_text = existing.as_ref().map(|old| old.to_toml(&name));
    let changed = old_text.as_deref() != Some(text.as_str());
    let packages_changed = existing
        .as_ref()
        .is_none_or(|old| !old.same_packages(&lock));
    if !args.check {
        for line in changes.lines() {
            env.printer.status("Updating", &line);
        }
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
            let what = if changes.is_empty() {
                "the same packages; the suites' state or the epoch".to_owned()
            } else {
                changes.counts()
            };
            env.printer.status(
                "Outdated",
                &format!("`{}` would change: {what}", path.display()),
            );
            if args.format == Format::Text && !changes.is_empty() {
                write_data(env, &changes.table())?;
            }
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

/// How one package differs between two locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Added,
    Removed,
    Upgraded,
    Downgraded,
    /// The same version with other bytes (another SHA256), or from another repository.
    Replaced,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Added => "added",
            Kind::Removed => "removed",
            Kind::Upgraded => "upgraded",
            Kind::Downgraded => "downgraded",
            Kind::Replaced => "replaced",
        }
    }
}

/// One package's change.
#[derive(Debug, Clone)]
struct Change {
    kind: Kind,
    /// `name`, or `name:arch` for another architecture than the native one.
    package: String,
    from: Option<String>,
    to: Option<String>,
    /// Where the new version comes from: the suite, and the repository when not Debian's.
    origin: Option<String>,
}

/// Differences between two locks, by package, in name order.
#[derive(Debug, Default)]
struct Changes {
    changes: Vec<Change>,
}

impl Changes {
    /// `native`: the profile's native architecture, whose packages are named without it.
    fn between(old: &Lock, new: &Lock, native: &str) -> Self {
        use crate::lock::LockedPackage;
        let index = |lock: &'_ Lock| -> BTreeMap<(String, String), LockedPackage> {
            lock.packages
                .iter()
                .map(|p| ((p.name.clone(), p.architecture.clone()), p.clone()))
                .collect()
        };
        let origin = |p: &LockedPackage| match &p.repository {
            Some(repository) => format!("{} ({repository})", p.suite),
            None => p.suite.clone(),
        };
        let (old, new) = (index(old), index(new));
        let mut changes = Vec::new();
        for (key, package) in &new {
            let kind = match old.get(key) {
                None => Kind::Added,
                Some(previous) => {
                    let ordering = crate::debian::Version::parse(&package.version)
                        .ok()
                        .zip(crate::debian::Version::parse(&previous.version).ok())
                        .map(|(now, before)| now.cmp(&before));
                    match ordering {
                        Some(std::cmp::Ordering::Greater) => Kind::Upgraded,
                        Some(std::cmp::Ordering::Less) => Kind::Downgraded,
                        _ if previous.version != package.version => Kind::Replaced,
                        _ if previous.sha256 != package.sha256
                            || previous.repository != package.repository =>
                        {
                            Kind::Replaced
                        }
                        _ => continue,
                    }
                }
            };
            changes.push(Change {
                kind,
                package: package.display_name(native),
                from: old.get(key).map(|p| p.version.clone()),
                to: Some(package.version.clone()),
                origin: Some(origin(package)),
            });
        }
        for (key, package) in &old {
            if !new.contains_key(key) {
                changes.push(Change {
                    kind: Kind::Removed,
                    package: package.display_name(native),
                    from: Some(package.version.clone()),
                    to: None,
                    origin: None,
                });
            }
        }
        changes.sort_by(|a, b| (&a.package, a.kind).cmp(&(&b.package, b.kind)));
        Changes { changes }
    }

    fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// `2 added, 1 upgraded`: the kinds that occur, in a fixed order.
    fn counts(&self) -> String {
        let kinds = [
            Kind::Added,
            Kind::Removed,
            Kind::Upgraded,
            Kind::Downgraded,
            Kind::Replaced,
        ];
        let parts: Vec<String> = kinds
            .iter()
            .filter_map(|&kind| {
                let n = self.changes.iter().filter(|c| c.kind == kind).count();
                (n > 0).then(|| format!("{n} {}", kind.as_str()))
            })
            .collect();
        if parts.is_empty() {
            "no package changes".to_owned()
        } else {
            format!("packages {}", parts.join(", "))
        }
    }

    /// One status line per change, for `lock` as it writes.
    fn lines(&self) -> Vec<String> {
        self.changes
            .iter()
            .map(|c| match (c.kind, &c.from, &c.to) {
                (Kind::Added, _, Some(to)) => format!("+ {} {to}", c.package),
                (Kind::Removed, Some(from), _) => format!("- {} {from}", c.package),
                (_, Some(from), Some(to)) if from == to => {
                    format!("{} {to} (other bytes or repository)", c.package)
                }
                (_, from, to) => format!(
                    "{} {} -> {}",
                    c.package,
                    from.as_deref().unwrap_or("-"),
                    to.as_deref().unwrap_or("-")
                ),
            })
            .collect()
    }

    /// The changes as an aligned table: change, package, from, to, where from.
    fn table(&self) -> String {
        let rows: Vec<[String; 5]> = std::iter::once([
            "CHANGE".to_owned(),
            "PACKAGE".to_owned(),
            "FROM".to_owned(),
            "TO".to_owned(),
            "SUITE".to_owned(),
        ])
        .chain(self.changes.iter().map(|c| {
            [
                c.kind.as_str().to_owned(),
                c.package.clone(),
                c.from.clone().unwrap_or_else(|| "-".into()),
                c.to.clone().unwrap_or_else(|| "-".into()),
                c.origin.clone().unwrap_or_else(|| "-".into()),
            ]
        }))
        .collect();
        let mut widths = [0usize; 5];
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in &rows {
            let mut line = String::new();
            for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<width$}  "));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    fn json(&self, kind: Kind) -> Vec<serde_json::Value> {
        self.changes
            .iter()
            .filter(|c| c.kind == kind)
            .map(|c| json!({"name": c.package, "from": c.from, "to": c.to, "suite": c.origin}))
            .collect()
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
        "added": changes.json(Kind::Added),
        "removed": changes.json(Kind::Removed),
        "upgraded": changes.json(Kind::Upgraded),
        "downgraded": changes.json(Kind::Downgraded),
        "replaced": changes.json(Kind::Replaced),
    });
    write_data(
        env,
        &format!(
            "{}\n",
            serde_json::to_string_pretty(&document).unwrap_or_default()
        ),
    )
}
