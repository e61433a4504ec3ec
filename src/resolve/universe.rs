//! The universe: every package of every suite read, seen as apt sees it.
//!
//! Packages are grouped by key, `(name, architecture)`, with `Architecture: all` packages under
//! the native architecture (dpkg and apt treat them as native). Within a key, versions are
//! ordered as apt orders candidates: highest pin priority first (500 by default, 100 for
//! Debian's backports, a repository's own `priority`), then highest version, and for the same
//! version a local `.deb` first (apt makes it the candidate), then the earlier suite (SUITE
//! before SUITE-updates before SUITE-security). The first is the *candidate*, the only version
//! apt installs unless asked for another (`name=version`, `name/suite`).
//!
//! Relation fields are parsed when first needed, except `Provides`, which the universe needs to
//! know who provides what.

use std::cell::OnceCell;
use std::collections::BTreeMap;

use indexmap::IndexMap;

use crate::debian::relation::{self, Dependency, FieldKind, Relation};
use crate::debian::{Architecture, PackageName, Version};
use crate::debian::{MultiArch, Priority};
use crate::repo::packages::{PackageRecord, PackagesIndex, Rejected};

/// `(name, architecture)`; `all` packages are keyed under the native architecture.
pub type Key = (PackageName, Architecture);

/// One suite's index, as the universe is built from it.
#[derive(Debug, Clone)]
pub struct Part {
    pub suite: String,
    /// `None`: the Debian archive (`debian`, `debian-security`); otherwise a
    /// `[[source.repository]]`'s name.
    pub repository: Option<String>,
    /// apt's pin priority of the suite's packages: the candidate of a package is its version of
    /// highest priority, then highest version. Below 0: never installed.
    pub priority: i32,
    pub index: PackagesIndex,
}

impl Part {
    /// A part of the Debian archive at apt's default priority.
    pub fn debian(suite: String, index: PackagesIndex) -> Self {
        Part {
            suite,
            repository: None,
            priority: DEFAULT_PRIORITY,
            index,
        }
    }
}

/// apt's default pin priority.
pub const DEFAULT_PRIORITY: i32 = 500;

/// One package version of one suite.
#[derive(Debug, Clone)]
pub struct Entry {
    pub record: PackageRecord,
    pub suite: String,
    /// The `[[source.repository]]` of the suite; `None` for the Debian archive.
    pub repository: Option<String>,
    /// The suite's pin priority.
    pub priority: i32,
    /// Position of the suite in the profile's order (0: the profile's suite).
    pub suite_rank: usize,
    /// `record.architecture`, with `all` read as the native architecture.
    pub arch: Architecture,
    /// `Provides`, parsed: (virtual name, provided version).
    pub provides: Vec<(PackageName, Option<Version>)>,
}

/// apt's candidate order of two versions of one package (`pkgPolicy::GetCandidateVer`):
/// higher pin priority first, then higher version, then the earlier suite.
pub fn candidate_order(a: &Entry, b: &Entry) -> std::cmp::Ordering {
    // A local `.deb` is apt's forced candidate: of the same version, it comes first.
    let repository = |e: &Entry| e.suite != crate::lock::LOCAL_SUITE;
    b.priority
        .cmp(&a.priority)
        .then(b.record.version.cmp(&a.record.version))
        .then(repository(a).cmp(&repository(b)))
        .then(a.suite_rank.cmp(&b.suite_rank))
}

/// The relation fields of an entry the resolver follows.
#[derive(Debug, Clone, Default)]
pub struct Relations {
    pub pre_depends: Vec<Relation>,
    pub depends: Vec<Relation>,
    pub recommends: Vec<Relation>,
    pub conflicts: Vec<Dependency>,
    pub breaks: Vec<Dependency>,
}

/// All packages of all suites.
pub struct Universe {
    native: Architecture,
    architectures: Vec<Architecture>,
    suites: Vec<String>,
    entries: Vec<Entry>,
    by_key: IndexMap<Key, Vec<usize>>,
    /// Virtual name to the entries that provide it, in two parts: the entries before the
    /// split of [`Universe::from_parts`] and those after it, each built on its own thread.
    providers: [IndexMap<PackageName, Vec<usize>>; 2],
    rejected: BTreeMap<String, Vec<(String, Rejected)>>,
    relations: Vec<OnceCell<Result<Relations, String>>>,
}

fn parse_field(kind: FieldKind, text: &Option<Box<str>>) -> Result<Vec<Relation>, String> {
    match text {
        None => Ok(Vec::new()),
        Some(text) => relation::parse(kind, text).map_err(|e| e.to_string()),
    }
}

/// Every version of a key together, candidate first (ties, which a well-formed archive does
/// not have, keep the order the entries were read in: the sort is stable). The map is looked
/// up by key, so the ~70,000 entries of a suite are grouped by hashing their keys rather than
/// by sorting them by name (names such as `librust-*` share long prefixes); its own order,
/// which [`Universe::names`] lists, is the entries' order.
fn key_map(entries: &[Entry]) -> IndexMap<Key, Vec<usize>> {
    let mut by_key: IndexMap<Key, Vec<usize>> = IndexMap::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        by_key
            .entry((entry.record.name.clone(), entry.arch.clone()))
            .or_default()
            .push(index);
    }
    for versions in by_key.values_mut() {
        if versions.len() > 1 {
            versions.sort_by(|a, b| {
                let (a, b) = (&entries[*a], &entries[*b]);
                candidate_order(a, b).then_with(|| a.record.filename.cmp(&b.record.filename))
            });
        }
    }
    by_key
}

/// Each entry's `Provides`, parsed: (virtual name, provided version). A malformed `Provides`
/// makes the package provide nothing; its other relations are checked when the resolver
/// reaches it.
fn parse_provides(entries: &[Entry]) -> Vec<Vec<(PackageName, Option<Version>)>> {
    entries
        .iter()
        .map(|entry| {
            entry
                .record
                .relations
                .provides
                .as_deref()
                .map(|text| relation::parse(FieldKind::Provides, text))
                .and_then(Result::ok)
                .map(single)
                .unwrap_or_default()
                .into_iter()
                .map(|d| (d.name, d.constraint.map(|c| c.version)))
                .collect()
        })
        .collect()
}

/// Where to split `entries` so that the first part holds about 55% of the `Provides` text.
fn provides_split(entries: &[Entry]) -> usize {
    let length = |entry: &Entry| {
        entry
            .record
            .relations
            .provides
            .as_deref()
            .map_or(0, str::len)
    };
    let total: usize = entries.iter().map(length).sum();
    let mut sum = 0;
    entries
        .iter()
        .position(|entry| {
            sum += length(entry);
            sum * 20 >= total * 11
        })
        .map_or(entries.len(), |last| last + 1)
}

/// The parsed `Provides` of a run of entries starting at entry `offset`, and the entries of the
/// run providing each virtual name, in entry order (a hash map, as [`key_map`]).
#[allow(clippy::type_complexity)]
fn provides_part(
    entries: &[Entry],
    offset: usize,
) -> (
    Vec<Vec<(PackageName, Option<Version>)>>,
    IndexMap<PackageName, Vec<usize>>,
) {
    let provides = parse_provides(entries);
    let mut providers: IndexMap<PackageName, Vec<usize>> =
        IndexMap::with_capacity(provides.iter().map(Vec::len).sum());
    for (index, provided) in provides.iter().enumerate() {
        for (name, _) in provided {
            providers
                .entry(name.clone())
                .or_default()
                .push(offset + index);
        }
    }
    (provides, providers)
}

fn single(relations: Vec<Relation>) -> Vec<Dependency> {
    relations.into_iter().flat_map(|r| r.alternatives).collect()
}

impl Universe {
    /// Builds the universe from `(suite, index)` pairs of the Debian archive, in the profile's
    /// suite order, all at the default priority. `architectures` lists the native architecture
    /// first.
    pub fn new(architectures: &[Architecture], suites: Vec<(String, PackagesIndex)>) -> Self {
        let parts = suites
            .into_iter()
            .map(|(suite, index)| Part::debian(suite, index))
            .collect();
        Self::from_parts(architectures, parts)
    }

    /// Builds the universe from suites in the profile's order (the Debian archive's first), each
    /// with its repository and priority. Versions of negative priority are left out, as apt
    /// never installs them.
    ///
    /// The ~70,000 records of a suite make this the largest step of a `lock` after reading the
    /// indexes, so it is built in bulk and on both cores: the entries in order, then the key map
    /// ([`key_map`]) and the `Provides` of some of the entries on this thread while a second
    /// one parses those of the others ([`provides_split`]), each part with its provider map.
    pub fn from_parts(architectures: &[Architecture], parts: Vec<Part>) -> Self {
        let native = architectures
            .first()
            .cloned()
            .unwrap_or_else(Architecture::build_default);
        let mut suites: Vec<String> = Vec::new();
        let mut entries: Vec<Entry> =
            Vec::with_capacity(parts.iter().map(|p| p.index.packages.len()).sum());
        let mut rejected: BTreeMap<String, Vec<(String, Rejected)>> = BTreeMap::new();
        for (suite_rank, part) in parts.into_iter().enumerate() {
            let Part {
                suite,
                repository,
                priority,
                index,
            } = part;
            if priority < 0 {
                continue;
            }
            if !suites.contains(&suite) {
                suites.push(suite.clone());
            }
            for stanza in index.rejected {
                let name = stanza.package.clone().unwrap_or_default();
                rejected
                    .entry(name)
                    .or_default()
                    .push((suite.clone(), stanza));
            }
            for record in index.packages {
                let arch = if record.architecture.is_all() {
                    native.clone()
                } else {
                    record.architecture.clone()
                };
                if !architectures.contains(&arch) {
                    continue;
                }
                entries.push(Entry {
                    record,
                    suite: suite.clone(),
                    repository: repository.clone(),
                    priority,
                    suite_rank,
                    arch,
                    provides: Vec::new(),
                });
            }
        }
        // The `Provides` fields are parsed on a second thread while this one groups the keys
        // and parses the rest. They are far from evenly spread (most are the `librust-*`
        // packages' feature lists), so the entries are split by the fields' length: the second
        // thread takes a little more than half, this one also has the keys to group.
        let (first, second) = entries.split_at(provides_split(&entries));
        let (by_key, provides, providers) = std::thread::scope(|scope| {
            let parsing = std::thread::Builder::new()
                .name("provides".into())
                .spawn_scoped(scope, || provides_part(first, 0));
            let by_key = key_map(&entries);
            let (second, second_map) = provides_part(second, first.len());
            // No thread to spare (or it failed): the first part is done here.
            let (mut provides, first_map) = parsing
                .ok()
                .and_then(|handle| handle.join().ok())
                .unwrap_or_else(|| provides_part(first, 0));
            provides.extend(second);
            (by_key, provides, [first_map, second_map])
        });
        for (entry, provided) in entries.iter_mut().zip(provides) {
            entry.provides = provided;
        }
        let relations = (0..entries.len()).map(|_| OnceCell::new()).collect();
        Universe {
            native,
            architectures: architectures.to_vec(),
            suites,
            entries,
            by_key,
            providers,
            rejected,
            relations,
        }
    }

    pub fn native(&self) -> &Architecture {
        &self.native
    }

    pub fn architectures(&self) -> &[Architecture] {
        &self.architectures
    }

    pub fn suites(&self) -> &[String] {
        &self.suites
    }

    pub fn entry(&self, index: usize) -> &Entry {
        &self.entries[index]
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every version of a key, candidate first.
    pub fn versions(&self, key: &Key) -> &[usize] {
        self.by_key.get(key).map_or(&[], Vec::as_slice)
    }

    /// The entries providing the virtual `name`, in entry order.
    pub fn providers<'a>(&'a self, name: &'a PackageName) -> impl Iterator<Item = usize> + 'a {
        self.providers
            .iter()
            .flat_map(move |part| part.get(name).map_or(&[][..], Vec::as_slice))
            .copied()
    }

    /// Whether `name` exists at all, as a package (any architecture) or a virtual.
    pub fn knows(&self, name: &PackageName) -> bool {
        self.architectures
            .iter()
            .any(|arch| self.by_key.contains_key(&(name.clone(), arch.clone())))
            || self.providers.iter().any(|part| part.contains_key(name))
    }

    /// Index stanzas rejected for `name`, with their suite.
    pub fn rejected(&self, name: &str) -> &[(String, Rejected)] {
        self.rejected.get(name).map_or(&[], Vec::as_slice)
    }

    /// Every package and virtual name, in the entries' order (for suggestions, which sort).
    pub fn names(&self) -> impl Iterator<Item = &PackageName> {
        self.by_key
            .keys()
            .map(|(name, _)| name)
            .chain(self.providers.iter().flat_map(IndexMap::keys))
    }

    /// The relations of an entry, parsed on first use.
    pub fn relations(&self, index: usize) -> Result<&Relations, &str> {
        self.relations[index]
            .get_or_init(|| {
                let texts = &self.entries[index].record.relations;
                Ok(Relations {
                    pre_depends: parse_field(FieldKind::PreDepends, &texts.pre_depends)?,
                    depends: parse_field(FieldKind::Depends, &texts.depends)?,
                    recommends: parse_field(FieldKind::Recommends, &texts.recommends)?,
                    conflicts: single(parse_field(FieldKind::Conflicts, &texts.conflicts)?),
                    breaks: single(parse_field(FieldKind::Breaks, &texts.breaks)?),
                })
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// Names of the packages of the profile's suite, native architecture, that `select` picks
    /// (by any of their versions in that suite), sorted.
    pub fn names_in_main_suite(&self, select: impl Fn(&Entry) -> bool) -> Vec<PackageName> {
        let mut names: Vec<PackageName> = self
            .entries
            .iter()
            .filter(|e| e.suite_rank == 0 && e.arch == self.native && select(e))
            .map(|e| e.record.name.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// A provider's preference rank (smaller is preferred): Essential, then better Priority,
    /// then the native architecture, then name. apt's `CompareProviders` orders by Essential,
    /// `Important`, native architecture and Priority; its last resort is the package ID, which
    /// depends on cache building order, so debroot ends with the name instead.
    pub fn provider_rank(&self, index: usize) -> (bool, u8, bool, PackageName) {
        let entry = &self.entries[index];
        let priority = match entry.record.priority {
            Priority::Required => 1,
            Priority::Important => 2,
            Priority::Standard => 3,
            Priority::Optional => 4,
            Priority::Extra => 5,
            Priority::Other => 6,
        };
        (
            !entry.record.essential,
            priority,
            entry.arch != self.native,
            entry.record.name.clone(),
        )
    }

    /// Whether `entry` satisfies the alternative `dependency` written by a package of
    /// architecture `depending_arch` (dpkg's `deparchsatisfied` for real packages and for
    /// provided names).
    pub fn satisfies(
        &self,
        index: usize,
        dependency: &Dependency,
        depending_arch: &Architecture,
    ) -> bool {
        let entry = &self.entries[index];
        let arch_ok = |rule: ArchRule| rule.admits(entry.record.multi_arch);
        if entry.record.name == dependency.name {
            let rule = arch_rule(dependency, depending_arch, &entry.arch, &self.native);
            if rule.is_some_and(arch_ok)
                && dependency
                    .constraint
                    .as_ref()
                    .is_none_or(|c| c.admits(&entry.record.version))
            {
                return true;
            }
        }
        entry.provides.iter().any(|(name, provided)| {
            name == &dependency.name
                && arch_rule(dependency, depending_arch, &entry.arch, &self.native)
                    .is_some_and(arch_ok)
                && match (&dependency.constraint, provided) {
                    (None, _) => true,
                    (Some(c), Some(version)) => c.admits(version),
                    // An unversioned Provides never satisfies a versioned dependency.
                    (Some(_), None) => false,
                }
        })
    }
}

/// What a target's `Multi-Arch` must be for a dependency across architectures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ArchRule {
    /// Same architecture (or an explicit one): any `Multi-Arch`.
    Any,
    /// Another architecture, unqualified dependency: the target must be `Multi-Arch: foreign`.
    Foreign,
    /// `:any`: the target must be `Multi-Arch: allowed`.
    Allowed,
}

impl ArchRule {
    pub fn admits(self, multi_arch: MultiArch) -> bool {
        match self {
            ArchRule::Any => true,
            ArchRule::Foreign => multi_arch == MultiArch::Foreign,
            ArchRule::Allowed => multi_arch == MultiArch::Allowed,
        }
    }
}

/// The rule for a target of architecture `target_arch` (`all` already read as native), or
/// `None` when that architecture cannot satisfy the dependency at all.
pub fn arch_rule(
    dependency: &Dependency,
    depending_arch: &Architecture,
    target_arch: &Architecture,
    native: &Architecture,
) -> Option<ArchRule> {
    use crate::debian::relation::ArchQualifier;
    match &dependency.arch {
        None if target_arch == depending_arch => Some(ArchRule::Any),
        None => Some(ArchRule::Foreign),
        Some(ArchQualifier::Any) => Some(ArchRule::Allowed),
        Some(ArchQualifier::Native) => (target_arch == native).then_some(ArchRule::Any),
        Some(ArchQualifier::Arch(arch)) => (target_arch == arch).then_some(ArchRule::Any),
    }
}
