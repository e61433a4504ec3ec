//! The universe as a `resolvo` dependency provider.
//!
//! Modelling (see `resolve` for the reasons):
//! - a resolvo *name* is a key, `name:arch`; its solvables are that key's versions, and every
//!   version but the candidate (or the version asked for) is excluded with a reason, so apt's
//!   strict pinning holds and errors can still name the versions that were not eligible;
//! - a Debian or-group is one requirement: the union, in order, of each alternative's real
//!   package (same architecture first) and then its providers by rank. resolvo tries the union's
//!   candidates in that order, which is apt's "first alternative that can be installed, the real
//!   package before a virtual's providers";
//! - a version set always belongs to one real key (resolvo requires all candidates of a set to
//!   share a name), so a virtual name is expanded into one set per providing key;
//! - `Conflicts` and `Breaks` are `constrains` on the complement; `Multi-Arch: same` packages
//!   constrain their other-architecture copies to the same version.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::{self, Display};

use resolvo::utils::{Pool, VersionSet};
use resolvo::{
    Candidates, Condition, ConditionId, ConditionalRequirement, Dependencies, DependencyProvider,
    HintDependenciesAvailable, Interner, KnownDependencies, NameId, Requirement, SolvableId,
    SolverCache, StringId, VersionSetId, VersionSetUnionId,
};

use super::universe::{ArchRule, Key, Universe, arch_rule};
use crate::debian::MultiArch;
use crate::debian::relation::{Constraint, Dependency, Op};
use crate::debian::{Architecture, PackageName, Version};

/// A set of versions of one key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Spec {
    /// Versions of the key itself satisfying the constraint.
    Real {
        constraint: Option<Constraint>,
        rule: ArchRule,
    },
    /// Versions of the key that provide `name` (with a version satisfying the constraint).
    Provides {
        name: PackageName,
        constraint: Option<Constraint>,
        rule: ArchRule,
    },
    /// Every version not in the inner set (for `Conflicts` and `Breaks`).
    Not(Box<Spec>),
}

fn constraint_text(constraint: &Option<Constraint>) -> String {
    constraint
        .as_ref()
        .map(|c| format!(" ({} {})", c.op.as_str(), c.version))
        .unwrap_or_default()
}

impl Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Spec::Real { constraint, rule } => {
                let mut parts: Vec<String> = Vec::new();
                let text = constraint_text(constraint);
                if !text.is_empty() {
                    parts.push(text.trim_start().to_owned());
                }
                match rule {
                    ArchRule::Any => {}
                    ArchRule::Foreign => parts.push("[Multi-Arch: foreign]".into()),
                    ArchRule::Allowed => parts.push("[Multi-Arch: allowed]".into()),
                }
                f.write_str(&parts.join(" "))
            }
            Spec::Provides {
                name, constraint, ..
            } => write!(f, "providing {name}{}", constraint_text(constraint)),
            Spec::Not(inner) => match inner.as_ref() {
                Spec::Real {
                    constraint: None, ..
                } => f.write_str("(conflicting, any version)"),
                inner => write!(f, "not {inner}"),
            },
        }
    }
}

/// A solvable: an entry of the universe.
#[derive(Debug, Clone)]
pub struct Record {
    pub entry: usize,
    pub version: Version,
}

impl Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.version)
    }
}

impl VersionSet for Spec {
    type V = Record;
}

/// The provider. Interning is lazy: only keys the solver reaches are touched.
pub struct Provider<'u> {
    pub universe: &'u Universe,
    pub pool: Pool<Spec, String>,
    /// Key of each interned name.
    keys: RefCell<BTreeMap<NameId, Key>>,
    solvables: RefCell<BTreeMap<NameId, Vec<SolvableId>>>,
    /// Versions asked for explicitly (`name=version`, or the stage-1 set), per key.
    pinned: BTreeMap<Key, Version>,
    /// Keys excluded by the profile.
    excluded: Vec<PackageName>,
    /// Solvables locked from an earlier stage.
    locked: BTreeMap<Key, Version>,
    /// Suites asked for by name (`name/suite`): their versions stay possible for every package,
    /// after its candidate, as apt's `SetCandidateRelease` switches dependencies to the release
    /// asked for where they need it.
    asked_suites: Vec<String>,
    excluded_reason: StringId,
}

impl<'u> Provider<'u> {
    pub fn new(
        universe: &'u Universe,
        pinned: BTreeMap<Key, Version>,
        excluded: Vec<PackageName>,
    ) -> Self {
        let pool = Pool::new();
        let excluded_reason = pool.intern_string("the profile excludes it (`packages.exclude`)");
        Provider {
            universe,
            pool,
            keys: RefCell::new(BTreeMap::new()),
            solvables: RefCell::new(BTreeMap::new()),
            pinned,
            excluded,
            locked: BTreeMap::new(),
            asked_suites: Vec::new(),
            excluded_reason,
        }
    }

    /// Lets versions of `suites` be chosen where a candidate does not do (`name/suite`).
    pub fn allow_suites(&mut self, suites: Vec<String>) {
        self.asked_suites = suites;
    }

    /// Locks keys to versions (the first stage's result).
    pub fn lock(&mut self, locked: BTreeMap<Key, Version>) {
        self.locked = locked;
    }

    pub fn name_of(&self, key: &Key) -> NameId {
        let id = self
            .pool
            .intern_package_name(format!("{}:{}", key.0, key.1));
        self.keys
            .borrow_mut()
            .entry(id)
            .or_insert_with(|| key.clone());
        id
    }

    pub fn key_of(&self, name: NameId) -> Key {
        // Every name is interned through `name_of`, which records its key.
        self.keys
            .borrow()
            .get(&name)
            .cloned()
            .expect("names are interned only by `name_of`")
    }

    /// The entry of a solvable.
    pub fn entry_of(&self, solvable: SolvableId) -> usize {
        self.pool.resolve_solvable(solvable).record.entry
    }

    /// The version sets that satisfy the alternative `dependency` of a package of
    /// `depending_arch`, in preference order.
    fn alternative_sets(
        &self,
        dependency: &Dependency,
        depending_arch: &Architecture,
    ) -> Vec<VersionSetId> {
        let universe = self.universe;
        let mut sets = Vec::new();
        // The real package: the depending architecture first, then the others in profile order.
        let mut arches: Vec<&Architecture> = vec![depending_arch];
        arches.extend(
            universe
                .architectures()
                .iter()
                .filter(|a| *a != depending_arch),
        );
        for arch in arches {
            let Some(rule) = arch_rule(dependency, depending_arch, arch, universe.native()) else {
                continue;
            };
            let key = (dependency.name.clone(), arch.clone());
            if universe.versions(&key).is_empty() {
                continue;
            }
            let name = self.name_of(&key);
            sets.push(self.pool.intern_version_set(
                name,
                Spec::Real {
                    constraint: dependency.constraint.clone(),
                    rule,
                },
            ));
        }
        // Then the providers, best first, one set per providing key.
        let mut providers: Vec<(_, Key, ArchRule)> = Vec::new();
        for index in universe.providers(&dependency.name) {
            let entry = universe.entry(index);
            let Some(rule) = arch_rule(dependency, depending_arch, &entry.arch, universe.native())
            else {
                continue;
            };
            let key = (entry.record.name.clone(), entry.arch.clone());
            if providers.iter().any(|(_, k, r)| *k == key && *r == rule) {
                continue;
            }
            let candidate = universe.versions(&key).first().copied().unwrap_or(index);
            providers.push((universe.provider_rank(candidate), key, rule));
        }
        providers.sort();
        for (_, key, rule) in providers {
            let name = self.name_of(&key);
            sets.push(self.pool.intern_version_set(
                name,
                Spec::Provides {
                    name: dependency.name.clone(),
                    constraint: dependency.constraint.clone(),
                    rule,
                },
            ));
        }
        sets
    }

    /// One or-group as one requirement. An or-group nothing can satisfy becomes a requirement on
    /// the first alternative's (empty) key, so the explanation says "no candidates".
    pub fn requirement(
        &self,
        alternatives: &[Dependency],
        depending_arch: &Architecture,
    ) -> ConditionalRequirement {
        let mut sets: Vec<VersionSetId> = Vec::new();
        for alternative in alternatives {
            for set in self.alternative_sets(alternative, depending_arch) {
                if !sets.contains(&set) {
                    sets.push(set);
                }
            }
        }
        if sets.is_empty() {
            let first = &alternatives[0];
            let arch = match &first.arch {
                Some(crate::debian::relation::ArchQualifier::Arch(arch)) => arch.clone(),
                _ => depending_arch.clone(),
            };
            let name = self.name_of(&(first.name.clone(), arch));
            sets.push(self.pool.intern_version_set(
                name,
                Spec::Real {
                    constraint: first.constraint.clone(),
                    rule: ArchRule::Any,
                },
            ));
        }
        if sets.len() == 1 {
            sets[0].into()
        } else {
            let union = self
                .pool
                .intern_version_set_union(sets[0], sets[1..].iter().copied());
            Requirement::Union(union).into()
        }
    }

    /// A requirement on exactly `version` of `key`.
    pub fn exact(&self, key: &Key, version: &Version) -> ConditionalRequirement {
        let name = self.name_of(key);
        self.pool
            .intern_version_set(
                name,
                Spec::Real {
                    constraint: Some(Constraint {
                        op: Op::Equal,
                        version: version.clone(),
                    }),
                    rule: ArchRule::Any,
                },
            )
            .into()
    }

    fn matches(&self, spec: &Spec, entry: usize) -> bool {
        let entry_data = self.universe.entry(entry);
        match spec {
            Spec::Real { constraint, rule } => {
                rule.admits(entry_data.record.multi_arch)
                    && constraint
                        .as_ref()
                        .is_none_or(|c| c.admits(&entry_data.record.version))
            }
            Spec::Provides {
                name,
                constraint,
                rule,
            } => {
                rule.admits(entry_data.record.multi_arch)
                    && entry_data.provides.iter().any(|(provided, version)| {
                        provided == name
                            && match (constraint, version) {
                                (None, _) => true,
                                (Some(c), Some(v)) => c.admits(v),
                                (Some(_), None) => false,
                            }
                    })
            }
            Spec::Not(inner) => !self.matches(inner, entry),
        }
    }

    fn display_key(&self, key: &Key) -> String {
        if key.1 == *self.universe.native() {
            key.0.to_string()
        } else {
            format!("{}:{}", key.0, key.1)
        }
    }
}

impl Interner for Provider<'_> {
    type NameId = NameId;
    type SolvableId = SolvableId;

    fn display_solvable(&self, solvable: SolvableId) -> impl Display + '_ {
        let solvable = self.pool.resolve_solvable(solvable);
        format!(
            "{} {}",
            self.display_key(&self.key_of(solvable.name)),
            solvable.record
        )
    }

    fn display_merged_solvables(&self, solvables: &[SolvableId]) -> impl Display + '_ {
        let Some(&first) = solvables.first() else {
            return String::new();
        };
        let mut versions: Vec<&Version> = solvables
            .iter()
            .map(|&s| &self.pool.resolve_solvable(s).record.version)
            .collect();
        versions.sort();
        versions.dedup();
        let versions: Vec<String> = versions.iter().map(ToString::to_string).collect();
        format!(
            "{} {}",
            self.display_key(&self.key_of(self.pool.resolve_solvable(first).name)),
            versions.join(" | ")
        )
    }

    fn display_name(&self, name: NameId) -> impl Display + '_ {
        self.display_key(&self.key_of(name))
    }

    fn display_version_set(&self, version_set: VersionSetId) -> impl Display + '_ {
        self.pool.resolve_version_set(version_set).to_string()
    }

    fn display_string(&self, string: StringId) -> impl Display + '_ {
        self.pool.resolve_string(string).to_owned()
    }

    fn version_set_name(&self, version_set: VersionSetId) -> NameId {
        self.pool.resolve_version_set_package_name(version_set)
    }

    fn solvable_name(&self, solvable: SolvableId) -> NameId {
        self.pool.resolve_solvable(solvable).name
    }

    fn version_sets_in_union(
        &self,
        union: VersionSetUnionId,
    ) -> impl Iterator<Item = VersionSetId> {
        self.pool.resolve_version_set_union(union)
    }

    fn resolve_condition(&self, condition: ConditionId) -> Condition {
        self.pool.resolve_condition(condition).clone()
    }
}

impl DependencyProvider for Provider<'_> {
    async fn filter_candidates(
        &self,
        candidates: &[SolvableId],
        version_set: VersionSetId,
        inverse: bool,
    ) -> Vec<SolvableId> {
        let spec = self.pool.resolve_version_set(version_set);
        candidates
            .iter()
            .copied()
            .filter(|&s| self.matches(spec, self.entry_of(s)) != inverse)
            .collect()
    }

    async fn get_candidates(&self, name: NameId) -> Option<Candidates> {
        let key = self.key_of(name);
        let versions = self.universe.versions(&key);
        if versions.is_empty() {
            return None;
        }
        let solvables: Vec<SolvableId> = {
            let mut interned = self.solvables.borrow_mut();
            interned
                .entry(name)
                .or_insert_with(|| {
                    versions
                        .iter()
                        .map(|&entry| {
                            self.pool.intern_solvable(
                                name,
                                Record {
                                    entry,
                                    version: self.universe.entry(entry).record.version.clone(),
                                },
                            )
                        })
                        .collect()
                })
                .clone()
        };
        let wanted = self
            .locked
            .get(&key)
            .or_else(|| self.pinned.get(&key))
            .cloned()
            .unwrap_or_else(|| self.universe.entry(versions[0]).record.version.clone());
        // The candidate: the first entry with the wanted version (highest, earliest suite).
        let chosen = solvables
            .iter()
            .copied()
            .find(|&s| self.pool.resolve_solvable(s).record.version == wanted);
        let mut excluded = Vec::new();
        let is_excluded = self.excluded.contains(&key.0);
        let fixed = self.locked.contains_key(&key) || self.pinned.contains_key(&key);
        for &solvable in &solvables {
            if is_excluded {
                excluded.push((solvable, self.excluded_reason));
            } else if !fixed
                && self
                    .asked_suites
                    .contains(&self.universe.entry(self.entry_of(solvable)).suite)
            {
                // A version of a suite asked for by name: possible, after the candidate.
            } else if Some(solvable) != chosen {
                let record = &self.pool.resolve_solvable(solvable).record;
                let reason = if record.version == wanted {
                    format!(
                        "the same version from `{}` is used instead",
                        self.universe
                            .entry(chosen.map_or(versions[0], |c| self.entry_of(c)))
                            .suite
                    )
                } else {
                    format!("it is not the candidate version ({wanted} is)")
                };
                excluded.push((solvable, self.pool.intern_string(reason)));
            }
        }
        Some(Candidates {
            candidates: solvables,
            favored: None,
            locked: self.locked.get(&key).and(chosen),
            hint_dependencies_available: HintDependenciesAvailable::All,
            excluded,
            ..Candidates::default()
        })
    }

    async fn sort_candidates(&self, _cache: &SolverCache<Self>, solvables: &mut [SolvableId]) {
        // The universe already orders a key's versions: candidate first.
        let universe = self.universe;
        solvables.sort_by(|&a, &b| {
            let (a, b) = (
                universe.entry(self.entry_of(a)),
                universe.entry(self.entry_of(b)),
            );
            super::universe::candidate_order(a, b)
        });
    }

    async fn get_dependencies(&self, solvable: SolvableId) -> Dependencies {
        let index = self.entry_of(solvable);
        let me = self.pool.resolve_solvable(solvable).name;
        let my_key = self.key_of(me);
        let universe = self.universe;
        let entry = universe.entry(index);
        let relations = match universe.relations(index) {
            Ok(relations) => relations,
            Err(reason) => {
                let reason = format!("its relations do not parse: {reason}");
                return Dependencies::Unknown(self.pool.intern_string(reason));
            }
        };
        let mut dependencies = KnownDependencies::default();
        for relation in relations.pre_depends.iter().chain(&relations.depends) {
            dependencies
                .requirements
                .push(self.requirement(&relation.alternatives, &entry.arch));
        }
        for conflict in relations.conflicts.iter().chain(&relations.breaks) {
            // Conflicts and Breaks apply to every architecture of the named package (dpkg's
            // implicit `:any`), and to every provider of the name, but never to oneself.
            for arch in universe.architectures() {
                let key = (conflict.name.clone(), arch.clone());
                if key == my_key || universe.versions(&key).is_empty() {
                    continue;
                }
                if let Some(crate::debian::relation::ArchQualifier::Arch(only)) = &conflict.arch
                    && only != arch
                {
                    continue;
                }
                let name = self.name_of(&key);
                dependencies.constrains.push(self.pool.intern_version_set(
                    name,
                    Spec::Not(Box::new(Spec::Real {
                        constraint: conflict.constraint.clone(),
                        rule: ArchRule::Any,
                    })),
                ));
            }
            let mut seen: Vec<Key> = Vec::new();
            for provider in universe.providers(&conflict.name) {
                let provider_entry = universe.entry(provider);
                let key = (
                    provider_entry.record.name.clone(),
                    provider_entry.arch.clone(),
                );
                if key == my_key || seen.contains(&key) {
                    continue;
                }
                seen.push(key.clone());
                let name = self.name_of(&key);
                dependencies.constrains.push(self.pool.intern_version_set(
                    name,
                    Spec::Not(Box::new(Spec::Provides {
                        name: conflict.name.clone(),
                        constraint: conflict.constraint.clone(),
                        rule: ArchRule::Any,
                    })),
                ));
            }
        }
        if entry.record.multi_arch == MultiArch::Same {
            for arch in universe.architectures() {
                let key = (entry.record.name.clone(), arch.clone());
                if key == my_key || universe.versions(&key).is_empty() {
                    continue;
                }
                let name = self.name_of(&key);
                dependencies.constrains.push(self.pool.intern_version_set(
                    name,
                    Spec::Real {
                        constraint: Some(Constraint {
                            op: Op::Equal,
                            version: entry.record.version.clone(),
                        }),
                        rule: ArchRule::Any,
                    },
                ));
            }
        }
        Dependencies::Known(dependencies)
    }
}
