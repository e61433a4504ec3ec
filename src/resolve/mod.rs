//! Resolution: the whole package set, in one pass, before anything is downloaded.
//!
//! `resolve(universe, request)` is pure: it sees every suite's index at once (a package in
//! SUITE-updates or SUITE-security competes by version, as apt sees it), the native and foreign
//! architectures, and returns the set with the reason each package is in, or an explanation.
//!
//! The set is the one mmdebstrap installs for the same variant, computed the way mmdebstrap
//! computes it:
//!
//! 1. *Stage 1*, the Essential set: every package with `Essential: yes` in the profile's suite
//!    and native architecture (for the `apt` variant, plus `apt`), with the closure of their
//!    `Pre-Depends` and `Depends`.
//! 2. *Stage 2*, with stage 1 installed: the variant's priorities (`required`; plus `important`;
//!    plus `standard`; `buildd` adds `build-essential` and `apt`), then `include`.
//!
//! The solver is resolvo (CDCL). It only ever chooses a package's candidate version (the highest
//! pin priority, then the highest version, over all suites; or the one asked for with
//! `name=version` or `name/suite`, whose suite may then serve dependencies that need it), as apt
//! does. Among alternatives it tries the first alternative first, a real package before the
//! providers of a virtual name, and providers by rank (Essential, then Priority, then native
//! architecture, then name). Its input is put in a canonical order, so the answer does not
//! depend on the order of the indexes.

mod provider;
pub mod universe;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use resolvo::{ConditionalRequirement, Problem, SolvableId, Solver, UnsolvableOrCancelled};

use crate::debian::Priority;
use crate::debian::relation::Dependency;
use crate::debian::{PackageName, Version};
use crate::error::{Classify, ExitClass};
use crate::profile::{PackageSpec, Variant};
use provider::Provider;
pub use universe::{Key, Part, Universe};

/// A package the profile asks for, with where it asks.
#[derive(Debug, Clone)]
pub struct Requested {
    pub spec: PackageSpec,
    /// `file:line:column` of the `include` entry, for messages.
    pub origin: String,
}

/// What to resolve.
#[derive(Debug, Clone)]
pub struct Request {
    pub variant: Variant,
    pub include: Vec<Requested>,
    pub exclude: Vec<PackageName>,
    pub recommends: bool,
}

/// Why a package is in the set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// `Essential: yes` (stage 1).
    Essential,
    /// The variant's `Priority` (stage 2).
    Priority(&'static str),
    /// Named by the variant itself (`apt` for `apt` and `buildd`, `build-essential`).
    Variant(&'static str),
    /// `packages.include`, at this place.
    Include(String),
    /// A relation of another selected package.
    Dependency {
        parent: Key,
        field: &'static str,
        relation: String,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Essential => f.write_str("Essential: yes"),
            Reason::Priority(priority) => write!(f, "Priority: {priority}"),
            Reason::Variant(variant) => write!(f, "the `{variant}` variant"),
            Reason::Include(origin) => write!(f, "`packages.include` at {origin}"),
            Reason::Dependency {
                parent,
                field,
                relation,
            } => write!(f, "{}: {field}: {relation}", parent.0),
        }
    }
}

/// One package of the resolution.
#[derive(Debug, Clone)]
pub struct Selected {
    /// Index into the universe.
    pub entry: usize,
    pub key: Key,
    pub reason: Reason,
}

/// The resolved set, sorted by key.
#[derive(Debug, Clone)]
pub struct Resolution {
    pub packages: Vec<Selected>,
    /// Things worth saying that are not errors (an `exclude` naming an unknown package).
    pub warnings: Vec<String>,
}

/// Why no set could be resolved (exit 3).
#[derive(Debug, Clone, thiserror::Error)]
pub enum ResolveError {
    #[error("unable to locate package `{name}` (asked for by {origin}) in {searched}")]
    Unknown {
        name: String,
        origin: String,
        searched: String,
        suggestions: Vec<String>,
    },
    #[error(
        "package `{name}` (asked for by {origin}) is in the index but its stanza was rejected: {reason}"
    )]
    Rejected {
        name: String,
        origin: String,
        reason: String,
    },
    #[error("version `{version}` of `{name}` (asked for by {origin}) is not available; available: {}", .available.join(", "))]
    NoVersion {
        name: String,
        version: String,
        origin: String,
        available: Vec<String>,
    },
    #[error("`{name}` (asked for by {origin}) is not in suite `{suite}`; available: {}", .available.join(", "))]
    NotInSuite {
        name: String,
        suite: String,
        origin: String,
        available: Vec<String>,
    },
    #[error("`{name}` (asked for by {origin}) is a virtual package provided by {}; name one of them", .providers.join(", "))]
    Virtual {
        name: String,
        origin: String,
        providers: Vec<String>,
    },
    #[error("the {stage} cannot be installed:\n{explanation}")]
    Unsatisfiable {
        stage: &'static str,
        explanation: String,
    },
    /// Several `include` entries fail on their own, each said at once (as apt does).
    #[error("{} requested packages cannot be found as asked:{}", .0.len(), .0.iter().map(|e| format!("\n  {e}")).collect::<String>())]
    Requests(Vec<ResolveError>),
}

impl ResolveError {
    /// The package name an error of one request is about.
    fn subject(&self) -> Option<&str> {
        match self {
            ResolveError::Unknown { name, .. }
            | ResolveError::Rejected { name, .. }
            | ResolveError::NoVersion { name, .. }
            | ResolveError::NotInSuite { name, .. }
            | ResolveError::Virtual { name, .. } => Some(name),
            ResolveError::Unsatisfiable { .. } | ResolveError::Requests(_) => None,
        }
    }
}

impl Classify for ResolveError {
    fn class(&self) -> ExitClass {
        ExitClass::Resolution
    }

    fn hint(&self) -> Option<String> {
        match self {
            ResolveError::Unknown { suggestions, .. } if !suggestions.is_empty() => Some(format!(
                "did you mean {}?",
                suggestions
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            ResolveError::Unknown { .. } => Some(
                "check the name, `source.components` and `source.architectures` of the profile"
                    .into(),
            ),
            ResolveError::Unsatisfiable { .. } => Some(
                "`debroot why PROFILE PACKAGE` shows why a package is wanted; `packages.exclude` and `name=version` in `packages.include` change the set".into(),
            ),
            ResolveError::Requests(errors) => {
                let hints: Vec<String> = errors
                    .iter()
                    .filter_map(|e| Some(format!("for `{}`, {}", e.subject()?, e.hint()?)))
                    .collect();
                (!hints.is_empty()).then(|| hints.join("; "))
            }
            _ => None,
        }
    }
}

fn suggestions(universe: &Universe, name: &str) -> Vec<String> {
    let mut scored: Vec<(usize, String)> = universe
        .names()
        .map(PackageName::as_str)
        .filter_map(|candidate| {
            let d = crate::debian::distance(name, candidate);
            let close = d <= 2 || (name.len() >= 4 && candidate.starts_with(name));
            close.then(|| (d, candidate.to_owned()))
        })
        .collect();
    scored.sort();
    scored.dedup();
    scored.into_iter().take(5).map(|(_, name)| name).collect()
}

/// What was searched, for "unable to locate" messages.
fn searched(universe: &Universe) -> String {
    let arches: Vec<&str> = universe
        .architectures()
        .iter()
        .map(|a| a.as_str())
        .collect();
    format!("{} for {}", universe.suites().join(", "), arches.join(", "))
}

/// A root: a key to install and why.
struct Root {
    key: Key,
    version: Option<Version>,
    reason: Reason,
}

/// Checks one `include` entry and turns it into a root.
fn include_root(universe: &Universe, requested: &Requested) -> Result<Root, ResolveError> {
    let spec = &requested.spec;
    let arch = spec
        .arch
        .clone()
        .unwrap_or_else(|| universe.native().clone());
    let key = (spec.name.clone(), arch.clone());
    if !universe.knows(&spec.name) {
        if let Some((suite, rejected)) = universe.rejected(spec.name.as_str()).first() {
            return Err(ResolveError::Rejected {
                name: spec.name.to_string(),
                origin: requested.origin.clone(),
                reason: format!("`{suite}` {rejected}"),
            });
        }
        return Err(ResolveError::Unknown {
            name: spec.to_string(),
            origin: requested.origin.clone(),
            searched: searched(universe),
            suggestions: suggestions(universe, spec.name.as_str()),
        });
    }
    let versions = universe.versions(&key);
    if versions.is_empty() {
        // A virtual name: apt installs its provider when there is exactly one.
        let mut providers: Vec<Key> = universe
            .providers(&spec.name)
            .map(|i| universe.entry(i))
            .filter(|e| e.arch == arch)
            .map(|e| (e.record.name.clone(), e.arch.clone()))
            .collect();
        providers.sort();
        providers.dedup();
        match providers.as_slice() {
            [only] if spec.version.is_none() => {
                return Ok(Root {
                    key: only.clone(),
                    version: None,
                    reason: Reason::Include(requested.origin.clone()),
                });
            }
            [] => {
                return Err(ResolveError::Unknown {
                    name: spec.to_string(),
                    origin: requested.origin.clone(),
                    searched: searched(universe),
                    suggestions: suggestions(universe, spec.name.as_str()),
                });
            }
            several => {
                return Err(ResolveError::Virtual {
                    name: spec.name.to_string(),
                    origin: requested.origin.clone(),
                    providers: several.iter().map(|k| format!("`{}`", k.0)).collect(),
                });
            }
        }
    }
    if let Some(version) = &spec.version {
        let available: Vec<&Version> = versions
            .iter()
            .map(|&i| &universe.entry(i).record.version)
            .collect();
        if !available.contains(&version) {
            return Err(ResolveError::NoVersion {
                name: spec.name.to_string(),
                version: version.to_string(),
                origin: requested.origin.clone(),
                available: available.iter().map(ToString::to_string).collect(),
            });
        }
    }
    if let Some(suite) = &spec.suite {
        // `name/suite`: that suite's version, whatever the candidate (apt's `-t`/`/suite`).
        let Some(&entry) = versions
            .iter()
            .find(|&&i| &universe.entry(i).suite == suite)
        else {
            return Err(ResolveError::NotInSuite {
                name: spec.name.to_string(),
                suite: suite.clone(),
                origin: requested.origin.clone(),
                available: versions
                    .iter()
                    .map(|&i| {
                        let e = universe.entry(i);
                        format!("{} ({})", e.record.version, e.suite)
                    })
                    .collect(),
            });
        };
        return Ok(Root {
            key,
            version: Some(universe.entry(entry).record.version.clone()),
            reason: Reason::Include(requested.origin.clone()),
        });
    }
    Ok(Root {
        key,
        version: spec.version.clone(),
        reason: Reason::Include(requested.origin.clone()),
    })
}

/// A root named by the variant (apt, build-essential).
fn variant_root(
    universe: &Universe,
    name: &str,
    variant: &'static str,
) -> Result<Root, ResolveError> {
    let requested = Requested {
        spec: PackageSpec {
            name: PackageName::parse(name).map_err(|e| ResolveError::Unknown {
                name: name.to_owned(),
                origin: format!("the `{variant}` variant"),
                searched: e.to_string(),
                suggestions: Vec::new(),
            })?,
            arch: None,
            version: None,
            suite: None,
        },
        origin: format!("the `{variant}` variant"),
    };
    let mut root = include_root(universe, &requested)?;
    root.reason = Reason::Variant(variant);
    Ok(root)
}

fn priority_root(universe: &Universe, names: Vec<PackageName>, reason: Reason) -> Vec<Root> {
    names
        .into_iter()
        .map(|name| Root {
            key: (name, universe.native().clone()),
            version: None,
            reason: reason.clone(),
        })
        .collect()
}

/// Runs resolvo once; returns the selected entries.
fn solve(
    provider: Provider<'_>,
    requirements: Vec<ConditionalRequirement>,
    soft: Vec<SolvableId>,
    stage: &'static str,
) -> Result<Vec<usize>, ResolveError> {
    let mut solver = Solver::new(provider);
    let problem = Problem::new()
        .requirements(requirements)
        .soft_requirements(soft);
    match solver.solve(problem) {
        Ok(solvables) => {
            let provider = solver.provider();
            let mut entries: Vec<usize> = solvables.iter().map(|&s| provider.entry_of(s)).collect();
            entries.sort();
            Ok(entries)
        }
        Err(UnsolvableOrCancelled::Unsolvable(conflict)) => {
            let text = bounded_text(&conflict.display_user_friendly(&solver));
            Err(ResolveError::Unsatisfiable {
                stage,
                explanation: annotate(solver.provider().universe, &text),
            })
        }
        Err(UnsolvableOrCancelled::Cancelled(_)) => Err(ResolveError::Unsatisfiable {
            stage,
            explanation: "the solver was cancelled".into(),
        }),
    }
}

/// The longest explanation shown; resolvo's rendering of a conflict graph can grow without
/// bound (it walks every path of a shared sub-graph again), so it is cut here.
const MAX_EXPLANATION: usize = 16 * 1024;

/// Renders `display` up to [`MAX_EXPLANATION`] bytes, stopping the rendering there.
fn bounded_text(display: &dyn std::fmt::Display) -> String {
    struct Bounded {
        text: String,
        full: bool,
    }
    impl std::fmt::Write for Bounded {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            if self.text.len() + s.len() > MAX_EXPLANATION {
                self.full = true;
                return Err(std::fmt::Error);
            }
            self.text.push_str(s);
            Ok(())
        }
    }
    let mut out = Bounded {
        text: String::new(),
        full: false,
    };
    let _ = std::fmt::write(&mut out, format_args!("{display}"));
    if out.full {
        // Whole lines only.
        if let Some(end) = out.text.rfind('\n') {
            out.text.truncate(end + 1);
        }
        out.text
            .push_str("(the rest of the explanation is cut: it repeats the branches above)\n");
    }
    out.text
}

/// resolvo says "for which no candidates were found" when no version satisfies a relation; say
/// which versions the indexes do have, so "too old" and "does not exist" read differently.
fn annotate(universe: &Universe, explanation: &str) -> String {
    const NONE: &str = ", for which no candidates were found.";
    let mut out = String::new();
    for line in explanation.lines() {
        out.push_str(line);
        if let Some(head) = line.strip_suffix(NONE) {
            let subject = head.rsplit("─ ").next().unwrap_or(head).trim();
            let token = subject.split_whitespace().next().unwrap_or("");
            let (name, arch) = token
                .split_once(':')
                .unwrap_or((token, universe.native().as_str()));
            if let (Ok(name), Ok(arch)) = (
                PackageName::parse(name),
                crate::debian::Architecture::parse(arch),
            ) {
                let versions: Vec<String> = universe
                    .versions(&(name.clone(), arch))
                    .iter()
                    .map(|&i| universe.entry(i).record.version.to_string())
                    .collect();
                if versions.is_empty() && !universe.knows(&name) {
                    out.push_str(&format!(" No index has `{name}`."));
                } else if !versions.is_empty() {
                    out.push_str(&format!(
                        " The indexes have {name} {}, which does not match.",
                        versions.join(", ")
                    ));
                }
            }
        }
        out.push('\n');
    }
    out.trim_end().to_owned()
}

/// Resolves `request` against `universe`.
pub fn resolve(universe: &Universe, request: &Request) -> Result<Resolution, ResolveError> {
    let mut warnings = Vec::new();
    for name in &request.exclude {
        if !universe.knows(name) {
            warnings.push(format!(
                "`packages.exclude` names `{name}`, which is in no index read"
            ));
        }
    }
    let excluded = |name: &PackageName| request.exclude.contains(name);
    let mut includes: Vec<Root> = Vec::new();
    let mut failures: Vec<ResolveError> = Vec::new();
    for requested in &request.include {
        match include_root(universe, requested) {
            Ok(root) => includes.push(root),
            Err(error) => failures.push(error),
        }
    }
    if failures.len() > 1 {
        return Err(ResolveError::Requests(failures));
    }
    if let Some(error) = failures.pop() {
        return Err(error);
    }
    let pinned: BTreeMap<Key, Version> = includes
        .iter()
        .filter_map(|r| r.version.clone().map(|v| (r.key.clone(), v)))
        .collect();
    let mut asked_suites: Vec<String> = request
        .include
        .iter()
        .filter_map(|r| r.spec.suite.clone())
        .collect();
    asked_suites.sort();
    asked_suites.dedup();

    let with_scripts = !matches!(request.variant, Variant::Extract | Variant::Custom);
    let mut stage1: Vec<Root> = Vec::new();
    let mut stage2: Vec<Root> = Vec::new();
    if with_scripts {
        let essential = universe.names_in_main_suite(|e| e.record.essential);
        stage1 = priority_root(
            universe,
            essential.into_iter().filter(|n| !excluded(n)).collect(),
            Reason::Essential,
        );
        if request.variant == Variant::Apt {
            stage1.push(variant_root(universe, "apt", "apt")?);
        }
        let priorities: &[(Priority, &'static str)] = match request.variant {
            Variant::Minbase | Variant::Buildd => &[(Priority::Required, "required")],
            Variant::Important => &[
                (Priority::Required, "required"),
                (Priority::Important, "important"),
            ],
            Variant::Standard => &[
                (Priority::Required, "required"),
                (Priority::Important, "important"),
                (Priority::Standard, "standard"),
            ],
            _ => &[],
        };
        for (priority, label) in priorities {
            let names = universe
                .names_in_main_suite(|e| e.record.priority == *priority && !e.record.essential);
            stage2.extend(priority_root(
                universe,
                names.into_iter().filter(|n| !excluded(n)).collect(),
                Reason::Priority(label),
            ));
        }
        if request.variant == Variant::Buildd {
            stage2.push(variant_root(universe, "build-essential", "buildd")?);
            stage2.push(variant_root(universe, "apt", "buildd")?);
        }
        stage2.extend(includes);
    } else {
        stage1.extend(includes);
    }

    // Stage 1 alone, then everything with stage 1 locked.
    let mut locked: BTreeMap<Key, Version> = BTreeMap::new();
    let mut selected: Vec<usize> = Vec::new();
    if !stage1.is_empty() {
        let mut provider = Provider::new(universe, pinned.clone(), request.exclude.clone());
        provider.allow_suites(asked_suites.clone());
        let requirements = root_requirements(&provider, &stage1);
        let stage = if with_scripts {
            "Essential set"
        } else {
            "requested set"
        };
        selected = solve(provider, requirements, Vec::new(), stage)?;
        for &entry in &selected {
            let e = universe.entry(entry);
            locked.insert(
                (e.record.name.clone(), e.arch.clone()),
                e.record.version.clone(),
            );
        }
    }
    if !stage2.is_empty() || request.recommends {
        let mut soft_keys: Vec<Key> = Vec::new();
        for _round in 0..16 {
            let mut provider = Provider::new(universe, pinned.clone(), request.exclude.clone());
            provider.allow_suites(asked_suites.clone());
            provider.lock(locked.clone());
            let mut requirements: Vec<ConditionalRequirement> = locked
                .iter()
                .map(|(key, version)| provider.exact(key, version))
                .collect();
            requirements.extend(root_requirements(&provider, &stage2));
            let soft = candidate_solvables(&provider, &soft_keys);
            selected = solve(provider, requirements, soft, "requested set")?;
            if !request.recommends {
                break;
            }
            // Recommends of what was just selected, tried as soft requirements until no new
            // ones appear (apt installs Recommends of Recommends too).
            let new: Vec<Key> = recommended_keys(universe, &selected, &request.exclude)
                .into_iter()
                .filter(|k| !soft_keys.contains(k))
                .collect();
            if new.is_empty() {
                break;
            }
            soft_keys.extend(new);
        }
    }

    let mut roots: Vec<Root> = stage1;
    roots.extend(stage2);
    let packages = reasons(universe, &selected, &roots, request.recommends);
    Ok(Resolution { packages, warnings })
}

fn root_requirements(provider: &Provider<'_>, roots: &[Root]) -> Vec<ConditionalRequirement> {
    roots
        .iter()
        .map(|root| match &root.version {
            Some(version) => provider.exact(&root.key, version),
            None => provider.requirement(
                &[Dependency {
                    name: root.key.0.clone(),
                    arch: Some(crate::debian::relation::ArchQualifier::Arch(
                        root.key.1.clone(),
                    )),
                    constraint: None,
                    arch_restriction: None,
                    profile_restriction: Vec::new(),
                }],
                &root.key.1,
            ),
        })
        .collect()
}

/// The candidate solvable of each key (for soft requirements).
fn candidate_solvables(provider: &Provider<'_>, keys: &[Key]) -> Vec<SolvableId> {
    let mut out = Vec::new();
    for key in keys {
        let name = provider.name_of(key);
        let candidates = futures_util::FutureExt::now_or_never(
            resolvo::DependencyProvider::get_candidates(provider, name),
        )
        .flatten();
        if let Some(candidates) = candidates
            && let Some(&first) = candidates
                .candidates
                .iter()
                .find(|s| !candidates.excluded.iter().any(|(e, _)| e == *s))
        {
            out.push(first);
        }
    }
    out
}

/// Keys that `Recommends` of the selection ask for and that nothing selected satisfies: the
/// first alternative that exists, as apt picks it.
fn recommended_keys(universe: &Universe, selected: &[usize], excluded: &[PackageName]) -> Vec<Key> {
    let mut keys = Vec::new();
    for &index in selected {
        let Ok(relations) = universe.relations(index) else {
            continue;
        };
        let arch = &universe.entry(index).arch;
        for relation in &relations.recommends {
            let satisfied = relation.alternatives.iter().any(|alternative| {
                selected
                    .iter()
                    .any(|&s| universe.satisfies(s, alternative, arch))
            });
            if satisfied {
                continue;
            }
            let pick = relation.alternatives.iter().find_map(|alternative| {
                let key = (alternative.name.clone(), arch.clone());
                if excluded.contains(&key.0) {
                    return None;
                }
                if !universe.versions(&key).is_empty() {
                    return Some(key);
                }
                let mut providers: Vec<_> = universe
                    .providers(&alternative.name)
                    .filter(|&p| universe.satisfies(p, alternative, arch))
                    .map(|p| (universe.provider_rank(p), universe.entry(p)))
                    .collect();
                providers.sort_by(|a, b| a.0.cmp(&b.0));
                providers
                    .first()
                    .map(|(_, e)| (e.record.name.clone(), e.arch.clone()))
            });
            if let Some(key) = pick
                && !keys.contains(&key)
            {
                keys.push(key);
            }
        }
    }
    keys
}

/// Why each selected package is in: a breadth-first walk from the roots, in their order, over
/// the relations that pulled packages in (the first selected package satisfying an or-group).
fn reasons(
    universe: &Universe,
    selected: &[usize],
    roots: &[Root],
    recommends: bool,
) -> Vec<Selected> {
    let by_key: BTreeMap<Key, usize> = selected
        .iter()
        .map(|&i| {
            let e = universe.entry(i);
            ((e.record.name.clone(), e.arch.clone()), i)
        })
        .collect();
    let mut reason: BTreeMap<Key, Reason> = BTreeMap::new();
    let mut queue: VecDeque<Key> = VecDeque::new();
    for root in roots {
        if by_key.contains_key(&root.key) && !reason.contains_key(&root.key) {
            reason.insert(root.key.clone(), root.reason.clone());
            queue.push_back(root.key.clone());
        }
    }
    let selected_set: BTreeSet<usize> = selected.iter().copied().collect();
    while let Some(key) = queue.pop_front() {
        let index = by_key[&key];
        let Ok(relations) = universe.relations(index) else {
            continue;
        };
        let arch = universe.entry(index).arch.clone();
        let mut fields: Vec<(&'static str, &Vec<crate::debian::Relation>)> = vec![
            ("Pre-Depends", &relations.pre_depends),
            ("Depends", &relations.depends),
        ];
        if recommends {
            fields.push(("Recommends", &relations.recommends));
        }
        for (field, list) in fields {
            for relation in list {
                let satisfier = relation.alternatives.iter().find_map(|alternative| {
                    selected_set
                        .iter()
                        .copied()
                        .find(|&s| universe.satisfies(s, alternative, &arch))
                });
                let Some(child) = satisfier else {
                    continue;
                };
                let child_entry = universe.entry(child);
                let child_key = (child_entry.record.name.clone(), child_entry.arch.clone());
                if reason.contains_key(&child_key) {
                    continue;
                }
                reason.insert(
                    child_key.clone(),
                    Reason::Dependency {
                        parent: key.clone(),
                        field,
                        relation: relation.to_string(),
                    },
                );
                queue.push_back(child_key);
            }
        }
    }
    by_key
        .into_iter()
        .map(|(key, entry)| Selected {
            entry,
            reason: reason.remove(&key).unwrap_or(Reason::Dependency {
                parent: key.clone(),
                field: "Depends",
                relation: "(kept with the Essential set)".into(),
            }),
            key,
        })
        .collect()
}

#[cfg(test)]
mod tests {

    /// A rendering that would never end is cut at the bound, on a line end, and says so.
    #[test]
    fn explanations_are_bounded() {
        struct Endless;
        impl std::fmt::Display for Endless {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                loop {
                    f.write_str("├─ a branch that repeats\n")?;
                }
            }
        }
        let text = bounded_text(&Endless);
        assert!(text.len() <= MAX_EXPLANATION + 100, "{}", text.len());
        assert!(
            text.ends_with("(the rest of the explanation is cut: it repeats the branches above)\n")
        );
        assert_eq!(bounded_text(&"short\n"), "short\n");
    }

    use super::{MAX_EXPLANATION, bounded_text};
    use crate::debian::distance;

    #[test]
    fn edit_distance() {
        assert_eq!(distance("vim", "vim"), 0);
        assert_eq!(distance("vmi", "vim"), 2);
        assert_eq!(distance("doesnotexist", "vim"), 11);
    }
}
